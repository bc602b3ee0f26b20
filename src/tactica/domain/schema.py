"""The customer schema: which fields a customer has, of what type, with what meaning.

A field is one real, typed column of the customer table. Three kinds exist:

* ``attribute``: anything segments and rules read (age, region, tenure_months...);
* ``contact_point``: an address on a channel (``msisdn`` for sms, ``email`` for email);
* ``consent``: a boolean, whether the customer agreed to be contacted on a channel.

Built-in fields every customer has: ``id`` (text), ``timezone`` and ``language``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class FieldType(StrEnum):
    """The value type of a customer field (and of a rule-language expression)."""

    INT = "int"
    FLOAT = "float"
    TEXT = "text"
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"
    CATEGORY = "category"

    @property
    def is_numeric(self) -> bool:
        """True for int and float."""
        return self in (FieldType.INT, FieldType.FLOAT)

    @property
    def is_textual(self) -> bool:
        """True for text and category (both hold strings)."""
        return self in (FieldType.TEXT, FieldType.CATEGORY)


class FieldKind(StrEnum):
    """What a field means for contacting the customer."""

    ATTRIBUTE = "attribute"
    CONTACT_POINT = "contact_point"
    CONSENT = "consent"


#: Channels a contact point or a consent can belong to.
CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "push", "webhook", "mail")

#: Fields every customer has, whatever the declared schema.
BUILTIN_FIELDS: dict[str, FieldType] = {
    "id": FieldType.TEXT,
    "timezone": FieldType.TEXT,
    "language": FieldType.TEXT,
}

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

#: Names a field may not take: built-ins, SQL keywords the rule language uses, and
#: bookkeeping columns of the customer table.
RESERVED_NAMES = frozenset(
    {
        *BUILTIN_FIELDS,
        "created_at",
        "updated_at",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "true",
        "false",
        "like",
        "between",
        "select",
        "from",
        "where",
        "order",
        "group",
        "table",
        "user",
        "event",
        "at",
    }
)


def validate_field_name(name: str) -> str | None:
    """Return why ``name`` cannot name a customer field, or None if it can."""
    if not _NAME.match(name):
        return (
            "must start with a lower-case letter and hold only lower-case letters, "
            "digits and '_' (at most 63 characters)"
        )
    if name in RESERVED_NAMES:
        return "is a reserved word"
    return None


def normalise_field_name(raw: str) -> str:
    """Turn a file header such as ``emp.var.rate`` or ``Monthly Spend`` into a field name."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", raw.strip()).strip("_").lower()
    if not name:
        name = "column"
    if name[0].isdigit():
        name = f"c_{name}"
    if name in RESERVED_NAMES:
        name = f"{name}_"
    return name[:63]


@dataclass(frozen=True)
class FieldDef:
    """One declared customer field."""

    name: str
    type: FieldType
    kind: FieldKind = FieldKind.ATTRIBUTE
    channel: str | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""

    def problems(self) -> list[str]:
        """Every reason this definition is not acceptable (empty when it is)."""
        out: list[str] = []
        why = validate_field_name(self.name)
        if why:
            out.append(f"field name {self.name!r} {why}")
        if self.kind is FieldKind.ATTRIBUTE and self.channel:
            out.append(f"field {self.name!r}: only contact points and consents have a channel")
        if self.kind is not FieldKind.ATTRIBUTE and self.channel not in CHANNELS:
            out.append(
                f"field {self.name!r}: channel must be one of {', '.join(CHANNELS)}, "
                f"got {self.channel!r}"
            )
        if self.kind is FieldKind.CONSENT and self.type is not FieldType.BOOL:
            out.append(f"field {self.name!r}: a consent is a bool")
        if self.kind is FieldKind.CONTACT_POINT and self.type is not FieldType.TEXT:
            out.append(f"field {self.name!r}: a contact point is text")
        if self.categories and self.type is not FieldType.CATEGORY:
            out.append(f"field {self.name!r}: only category fields list categories")
        return out


@dataclass(frozen=True)
class CustomerSchema:
    """The declared fields, by name, in declaration order."""

    fields: tuple[FieldDef, ...] = ()

    def get(self, name: str) -> FieldDef | None:
        """The field called ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def types(self) -> dict[str, FieldType]:
        """Name → type for every field a rule can read, built-ins included."""
        out = dict(BUILTIN_FIELDS)
        out.update({f.name: f.type for f in self.fields})
        return out

    def contact_point(self, channel: str) -> FieldDef | None:
        """The contact-point field for a channel, if declared."""
        for f in self.fields:
            if f.kind is FieldKind.CONTACT_POINT and f.channel == channel:
                return f
        return None

    def consent(self, channel: str) -> FieldDef | None:
        """The consent field for a channel, if declared."""
        for f in self.fields:
            if f.kind is FieldKind.CONSENT and f.channel == channel:
                return f
        return None


#: Fields a new workspace starts with; more are declared or learnt from imports.
DEFAULT_FIELDS: tuple[FieldDef, ...] = (
    FieldDef("msisdn", FieldType.TEXT, FieldKind.CONTACT_POINT, "sms", description="Mobile number"),
    FieldDef(
        "email", FieldType.TEXT, FieldKind.CONTACT_POINT, "email", description="E-mail address"
    ),
    FieldDef("consent_sms", FieldType.BOOL, FieldKind.CONSENT, "sms", description="Agreed to SMS"),
    FieldDef(
        "consent_email", FieldType.BOOL, FieldKind.CONSENT, "email", description="Agreed to e-mail"
    ),
    FieldDef(
        "consent_phone", FieldType.BOOL, FieldKind.CONSENT, "phone", description="Agreed to calls"
    ),
)
