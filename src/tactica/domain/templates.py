"""Message templates: what a contact says, written in Jinja2 and rendered in a sandbox.

A :class:`MessageTemplate` belongs to one channel and one language. Its body (and, for
e-mail, its subject) may use exactly these names:

``customer``         the customer's fields, one at a time: ``{{ customer.first_name }}``
                     (the built-ins ``id``, ``timezone`` and ``language`` plus the
                     declared schema fields);
``offer``            the offer's fields, one of :data:`OFFER_FIELDS`: ``{{ offer.name }}``;
``campaign``         the campaign's name, a string;
``unsubscribe_url``  e-mail only: the customer's unsubscribe link;
``track(url)``       a tracked link to ``url`` (``{{ track("https://shop.example/gold") }}``):
                     the caller signs it, a click is counted and redirected.

:func:`template_problems` checks a template before it is saved, statically: syntax,
unknown names and unknown fields, each with its place and line. At send time
:func:`compile_template` compiles it once and :meth:`CompiledTemplate.render` fills it in
per message. Rendering runs in Jinja's sandbox with strict undefined values: a field
the data lacks, or an attempt to reach Python internals, raises
:class:`TemplateRenderError` instead of sending a broken or unsafe message. A field whose
value is None prints as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from tactica.domain.schema import BUILTIN_FIELDS, CHANNELS

__all__ = [
    "OFFER_FIELDS",
    "CompiledTemplate",
    "MessageTemplate",
    "RenderedMessage",
    "TemplateRenderError",
    "compile_template",
    "pick_template",
    "template_problems",
]

#: The offer fields a template may read, as ``offer.<field>``.
OFFER_FIELDS: tuple[str, ...] = ("code", "name", "product", "price", "value", "description")

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")

#: The names given to a template (``unsubscribe_url`` only to e-mail templates).
_RECORDS = ("customer", "offer")
_EMAIL_NAMES = ("customer", "offer", "campaign", "unsubscribe_url")
_OTHER_NAMES = ("customer", "offer", "campaign")
#: The function a template calls to make a tracked link, on every channel.
TRACK = "track"


def _finalize(value: object) -> object:
    # A customer field that is not set is None: print nothing rather than "None".
    return "" if value is None else value


_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    finalize=_finalize,
)
# The default globals (range, dict, lipsum, cycler, joiner, namespace) are not among the
# names a template may use; removing them keeps rendering in line with the static check.
_ENV.globals.clear()


class TemplateRenderError(ValueError):
    """A template could not be compiled or rendered; the message names template and cause."""


@dataclass(frozen=True)
class MessageTemplate:
    """One message for one channel in one language (not yet checked; see template_problems).

    ``language`` is a short lower-case code such as ``en``, ``zh`` or ``pt-br``;
    ``subject`` is required for e-mail and absent (None) on every other channel.
    """

    name: str
    channel: str
    language: str
    subject: str | None
    body: str


@dataclass(frozen=True)
class RenderedMessage:
    """A template filled in for one customer: the subject (e-mail only) and the body."""

    subject: str | None
    body: str


def _describe(t: MessageTemplate) -> str:
    return f"template {t.name!r} ({t.channel}, {t.language})"


# --------------------------------------------------------------------------- checking


def _customer_example(declared: Collection[str]) -> str:
    if "first_name" in declared:
        return "first_name"
    return min(declared) if declared else "id"


def _sources(t: MessageTemplate) -> Iterator[tuple[str, str]]:
    if t.subject is not None:
        yield "subject", t.subject
    yield "body", t.body


def _record_key(node: nodes.Getattr | nodes.Getitem) -> str | None:
    """The field a ``customer.x`` / ``customer["x"]`` node reads, or None if not constant."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _source_problems(
    tree: nodes.Template,
    *,
    names: tuple[str, ...],
    customer_fields: Collection[str],
    declared: Collection[str],
) -> list[tuple[int, str]]:
    """(line, message) for every problem of one parsed source, before the place is added."""
    out: list[tuple[int, str]] = []
    known = {"customer": customer_fields, "offer": OFFER_FIELDS}
    example = {"customer": _customer_example(declared), "offer": "name"}
    # Name nodes read through as ``record.field``: every other use of a record is whole.
    read_through: set[int] = set()
    for node in tree.find_all(nodes.Expr):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue
        key = _record_key(node)
        target = node.node
        if isinstance(target, nodes.Name) and target.name in _RECORDS and target.ctx == "load":
            read_through.add(id(target))
            record = target.name
            if key is None:
                out.append(
                    (
                        node.lineno,
                        f"{record}[...] needs a field name written out, "
                        f"such as {record}.{example[record]}",
                    )
                )
            elif key not in known[record]:
                fields = ", ".join(sorted(known[record]))
                out.append(
                    (
                        node.lineno,
                        f"unknown {record} field {key!r}; {record} fields are: {fields}",
                    )
                )
        elif key is not None and key.startswith("_"):
            # The sandbox refuses these at render time too; say so before saving.
            out.append((node.lineno, f"{key!r} is private; a template cannot read it"))
    out += _track_problems(tree)
    for name in tree.find_all(nodes.Name):
        if name.name not in (*_EMAIL_NAMES, TRACK):
            continue
        if name.ctx != "load":
            out.append(
                (name.lineno, f"{name.name!r} is given to the template and cannot be assigned")
            )
        elif name.name in _RECORDS and id(name) not in read_through:
            record = name.name
            out.append(
                (
                    name.lineno,
                    f"use one {record} field, such as {record}.{example[record]}, "
                    f"not the whole {record}",
                )
            )
    first_use: dict[str, int] = {}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load":
            first_use.setdefault(name.name, name.lineno)
    allowed = ", ".join(names)
    for unknown in sorted(meta.find_undeclared_variables(tree) - {*names, TRACK}):
        hint = " (unsubscribe_url is for e-mail only)" if unknown == "unsubscribe_url" else ""
        out.append(
            (
                first_use.get(unknown, 1),
                f"unknown name {unknown!r}; a template may use {allowed}{hint}",
            )
        )
    for stmt in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        out.append((stmt.lineno, "a template cannot include, import or extend another"))
    return out


def _is_web_address(value: object) -> bool:
    if not isinstance(value, str) or value != value.strip():
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _track_problems(tree: nodes.Template) -> list[tuple[int, str]]:
    """``track`` is only called, with one web address (checked when written out)."""
    out: list[tuple[int, str]] = []
    called: set[int] = set()
    example = 'track("https://shop.example/offer")'
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name == TRACK):
            continue
        called.add(id(call.node))
        if len(call.args) != 1 or call.kwargs or call.dyn_args or call.dyn_kwargs:
            out.append((call.lineno, f"track takes one web address, such as {example}"))
            continue
        (arg,) = call.args
        # An address computed from fields is checked when the message is made.
        if isinstance(arg, nodes.Const) and not _is_web_address(arg.value):
            out.append(
                (
                    call.lineno,
                    f"track needs an http:// or https:// address, got {arg.value!r}",
                )
            )
    for name in tree.find_all(nodes.Name):
        if name.name == TRACK and name.ctx == "load" and id(name) not in called:
            out.append((name.lineno, f"track is a function: write {example}"))
    return out


def template_problems(t: MessageTemplate, customer_fields: Collection[str]) -> list[str]:
    """Every reason ``t`` cannot be saved, each with its place; empty when it can.

    ``customer_fields`` are the declared schema fields (the built-ins ``id``, ``timezone``
    and ``language`` are added here). Problems in the subject or body read like
    ``body, line 3: unknown customer field 'frist_name'; customer fields are: ...``.
    """
    out: list[str] = []
    if not t.name.strip():
        out.append("name: is required")
    if t.channel not in CHANNELS:
        out.append(f"channel: unknown channel {t.channel!r}; channels are: {', '.join(CHANNELS)}")
    if not _LANGUAGE.match(t.language):
        out.append(
            f"language: {t.language!r} must be a short lower-case code such as en, zh or pt-br"
        )
    if t.channel == "email":
        if t.subject is None:
            out.append("subject: an e-mail template needs a subject")
        elif not t.subject.strip():
            out.append("subject: is empty")
    elif t.subject is not None:
        out.append(f"subject: only e-mail has a subject; leave it out (None) for {t.channel}")
    if not t.body.strip():
        out.append("body: is empty")
    names = _EMAIL_NAMES if t.channel == "email" else _OTHER_NAMES
    fields = {*BUILTIN_FIELDS, *customer_fields}
    for place, source in _sources(t):
        try:
            tree = _ENV.parse(source)
        except TemplateSyntaxError as exc:
            out.append(f"{place}, line {exc.lineno}: {exc.message}")
            continue
        found = _source_problems(
            tree, names=names, customer_fields=fields, declared=customer_fields
        )
        out += [f"{place}, line {line}: {message}" for line, message in sorted(found)]
    return out


# --------------------------------------------------------------------------- rendering


class _Fields:
    """A read-only record a template reads as ``customer.x`` or ``customer["x"]``.

    A plain dict would not do: the sandbox looks up attributes before keys, so a field
    named ``items`` or ``values`` would print a dict method, and ``customer.clear()``
    would empty the caller's dict.
    """

    __slots__ = ("_label", "_values")

    def __init__(self, label: str, values: Mapping[str, object]) -> None:
        self._label = label
        self._values = values

    def __getattr__(self, name: str) -> object:
        # Python and Jinja probe dunder names (__html__, ...): those are not fields.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            return StrictUndefined(hint=f"{self._label} has no field {name!r}")

    def __getitem__(self, name: str) -> object:
        if name.startswith("_"):
            raise KeyError(name)
        return self.__getattr__(name)


def _tracker(make: Callable[[str], str]) -> Callable[[object], str]:
    """``track`` as a template calls it: a web address in, the caller's link out."""

    def track(url: object) -> str:
        # Also checked here: an address built from fields is only known per message.
        if not _is_web_address(url):
            raise ValueError(f"track needs an http:// or https:// address, got {url!r}")
        return make(str(url))

    return track


def _one_line(text: str) -> str:
    # A subject is one header line: a newline from a field value must not start
    # another header.
    return " ".join(text.split())


@dataclass(frozen=True)
class CompiledTemplate:
    """A template compiled once, to render many messages (thread-safe, no state)."""

    template: MessageTemplate
    subject: Template | None
    body: Template

    def render(
        self,
        customer: Mapping[str, object],
        offer: Mapping[str, object],
        campaign: str,
        unsubscribe_url: str | None = None,
        track: Callable[[str], str] | None = None,
    ) -> RenderedMessage:
        """Fill the template in for one customer and offer.

        ``unsubscribe_url`` is given to e-mail templates only; an e-mail template that
        uses it fails to render without one. ``track`` turns a web address into the
        tracked link to put in the message (the caller's: it knows the contact and signs
        the link); a template that calls ``track(...)`` fails to render without one.
        Raises :class:`TemplateRenderError` when a field is missing, the sandbox refuses
        an access, or the template fails otherwise.
        """
        context: dict[str, object] = {
            "customer": _Fields("customer", customer),
            "offer": _Fields("offer", offer),
            "campaign": campaign,
        }
        if self.template.channel == "email" and unsubscribe_url is not None:
            context["unsubscribe_url"] = unsubscribe_url
        if track is not None:
            context[TRACK] = _tracker(track)
        else:
            # Still undefined, but saying why rather than "'track' is undefined".
            context[TRACK] = StrictUndefined(
                hint="track(...) has no link maker here: tracked links are made when sending"
            )
        subject = None
        if self.subject is not None:
            subject = _one_line(self._render("subject", self.subject, context))
        return RenderedMessage(subject, self._render("body", self.body, context))

    def _render(self, place: str, template: Template, context: dict[str, object]) -> str:
        try:
            return template.render(context)
        # Whatever a template raises (sandbox, undefined, a filter's TypeError, ...) is
        # this template's failure for this message, not the caller's bug.
        except Exception as exc:
            cause = str(exc) or type(exc).__name__
            raise TemplateRenderError(
                f"{_describe(self.template)}: {place}: {type(exc).__name__}: {cause}"
            ) from exc


def compile_template(t: MessageTemplate) -> CompiledTemplate:
    """Compile ``t`` once for rendering many messages.

    Raises :class:`TemplateRenderError` on a syntax error; check templates with
    :func:`template_problems` before saving them so that this does not happen.
    """
    compiled: dict[str, Template] = {}
    for place, source in _sources(t):
        try:
            compiled[place] = _ENV.from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(
                f"{_describe(t)}: {place}, line {exc.lineno}: {exc.message}"
            ) from exc
    return CompiledTemplate(t, compiled.get("subject"), compiled["body"])


# --------------------------------------------------------------------------- choosing


def _base(language: str) -> str:
    return language.split("-", 1)[0]


def _best(candidates: Sequence[MessageTemplate], language: str) -> MessageTemplate | None:
    """The template for ``language``: exact, then its base (pt-br → pt), then a sibling."""
    language = language.strip().lower().replace("_", "-")
    base = _base(language)
    for wanted in (language, base):
        for t in candidates:
            if t.language == wanted:
                return t
    # A Portuguese customer reads pt-br better than the default language.
    for t in candidates:
        if _base(t.language) == base:
            return t
    return None


def pick_template(
    templates: Sequence[MessageTemplate],
    channel: str,
    language: str | None,
    default_language: str = "en",
) -> MessageTemplate | None:
    """The template of ``channel`` to send a customer who reads ``language``.

    Tries the customer's language (``pt-BR`` and ``pt_br`` are read as ``pt-br``), then
    its base language (``pt``), then another variant of it (``pt-pt``), then the same for
    ``default_language``, then any template of the channel. Ties go to the lowest
    language code, then name, so the choice never depends on the order given. None when
    the channel has no template.
    """
    candidates = sorted(
        (t for t in templates if t.channel == channel), key=lambda t: (t.language, t.name)
    )
    if not candidates:
        return None
    for wanted in (language, default_language):
        if wanted:
            found = _best(candidates, wanted)
            if found is not None:
                return found
    return candidates[0]
