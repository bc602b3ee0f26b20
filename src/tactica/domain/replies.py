"""Understanding replies: normalise what customers type, then classify it by rules.

Real replies are messy: ``YES!!``, ``Ｙｅｓ``, ``СТОП`` typed with a Latin ``C``,
``退訂`` in traditional characters. :func:`normalise` makes such variants meet the
rules: Unicode compatibility forms (full-width to half-width), case, surrounding
punctuation and spaces, and letters that look alike in Latin and Cyrillic (a word
mostly in one script has its look-alikes read in that script). Traditional Chinese
characters are read as simplified for the rules that ask for it.

:func:`classify` applies keyword and pattern rules per language; an opt-out rule
that matches always wins (leaving someone alone who asked is never wrong), then the
rule of highest priority. The decision keeps the rule that fired, the language and
a confidence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class ReplyOutcome(StrEnum):
    """What a reply means for the business."""

    ORDER = "order"
    INTEREST = "interest"
    OPT_OUT = "opt_out"
    OTHER = "other"


# Latin and Cyrillic letters that print alike (after case folding).
_CYR_TO_LAT = dict(zip("авесмнорстухі", "abecmhopctyxi", strict=True))
_LAT_TO_CYR = {v: k for k, v in _CYR_TO_LAT.items()}

# Traditional → simplified for the characters replies to offers use.
_T2S = dict(
    zip(
        "訂購買興資訊請電話聯繫發說謝個來們麼嗎這還要沒關閉絕對價錢辦會員幫註銷續費優惠"
        "傳簡擾詳細給騷刪除別單",
        "订购买兴资讯请电话联系发说谢个来们么吗这还要没关闭绝对价钱办会员帮注销续费优惠"
        "传简扰详细给骚删除别单",
        strict=True,
    )
)

_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
_SPACES = re.compile(r"\s+")


def _script(ch: str) -> str | None:
    if "a" <= ch <= "z":
        return "latin"
    if "\u0430" <= ch <= "\u044f" or ch in "ёі":
        return "cyrillic"
    return None


def _fix_lookalikes(word: str) -> str:
    """Read a mixed Latin/Cyrillic word's look-alike letters in its main script."""
    latin = [c for c in word if _script(c) == "latin"]
    cyrillic = [c for c in word if _script(c) == "cyrillic"]
    if not latin or not cyrillic:
        return word
    # A letter with no look-alike (п, z) tells the word's script; else the majority does.
    only_latin = any(c not in _LAT_TO_CYR for c in latin)
    only_cyrillic = any(c not in _CYR_TO_LAT for c in cyrillic)
    to_latin = len(latin) >= len(cyrillic) if only_latin == only_cyrillic else only_latin
    table = _CYR_TO_LAT if to_latin else _LAT_TO_CYR
    return "".join(table.get(c, c) for c in word)


# Every rule normalises the reply and its own keyword; a batch of replies meets the
# same keywords again and again, so both are remembered (the function is pure).
@lru_cache(maxsize=16384)
def normalise(text: str, *, simplified: bool = False) -> str:
    """The reply as rules see it: compatible forms, case-folded, trimmed, one script a word.

    ``simplified`` also reads traditional Chinese characters as simplified ones.
    """
    t = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    t = _SPACES.sub(" ", t).strip()
    t = " ".join(_fix_lookalikes(w) for w in t.split(" "))
    if simplified:
        t = "".join(_T2S.get(c, c) for c in t)
    return _EDGE.sub("", t)


def detect_language(text: str) -> str:
    """``zh`` when the reply has Chinese characters, ``ru`` when Cyrillic, else ``en``."""
    han = sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")
    cyr = sum(1 for c in text if "\u0400" <= c <= "\u04ff")
    if han:
        return "zh"
    if cyr and cyr >= sum(1 for c in text if c.isascii() and c.isalpha()):
        return "ru"
    return "en"


@dataclass(frozen=True)
class ReplyRule:
    """One classification rule.

    ``kind`` is ``keyword`` (the whole normalised reply is the keyword, or the reply
    holds it as a whole word or, for Chinese, anywhere) or ``pattern`` (a regular
    expression searched in the normalised reply). ``language`` None applies to every
    language. ``simplified`` reads traditional Chinese as simplified for this rule.
    """

    name: str
    outcome: ReplyOutcome
    kind: str
    text: str
    language: str | None = None
    priority: int = 0
    simplified: bool = False

    def problems(self) -> list[str]:
        """Every reason the rule cannot be used (empty when it can)."""
        out: list[str] = []
        if self.kind not in ("keyword", "pattern"):
            out.append(f"rule {self.name!r}: kind must be keyword or pattern, got {self.kind!r}")
        if not self.text.strip():
            out.append(f"rule {self.name!r}: text is empty")
        if self.kind == "pattern":
            try:
                re.compile(self.text)
            except re.error as e:
                out.append(f"rule {self.name!r}: pattern does not compile at {e.pos}: {e.msg}")
        return out

    def matches(self, reply: str) -> bool:
        """True when this rule fires on ``reply`` (raw text; normalised here)."""
        said = normalise(reply, simplified=self.simplified)
        if self.kind == "pattern":
            return re.search(self.text, said) is not None
        key = normalise(self.text, simplified=self.simplified)
        if not key:
            return False
        if said == key:
            return True
        if any("\u4e00" <= c <= "\u9fff" for c in key):
            # Chinese has no spaces between words: a keyword of two characters or more
            # may stand anywhere; one character (是, 要) only as the whole reply.
            if len(key) < 2:
                return False
            starts = [m.start() for m in re.finditer(re.escape(key), said)]
        else:
            starts = [m.start() for m in re.finditer(rf"(?<!\w){re.escape(key)}(?!\w)", said)]
        return any(not _negated(said, at) for at in starts)


#: Words that turn a keyword around when they come just before it ("not interested").
_NEGATIONS = re.compile(r"(?:\b(?:not|no|don'?t|never|не|нет)\s+|[不别没勿]\w?)$")


def _negated(said: str, at: int) -> bool:
    """True when the keyword found at ``at`` follows a negation."""
    return _NEGATIONS.search(said[max(0, at - 8) : at]) is not None


@dataclass(frozen=True)
class Classification:
    """What a reply was taken to mean, and why."""

    outcome: ReplyOutcome
    language: str
    rule: str | None
    confidence: float


def classify(
    text: str, rules: Sequence[ReplyRule], *, language: str | None = None
) -> Classification:
    """Classify a reply with ``rules``; ``other`` (confidence 0) when none fires.

    Rules of the reply's language (given, or detected) and language-free rules are
    tried. An opt-out that fires wins; otherwise the highest priority, then the
    longest keyword or pattern (the most specific). Confidence is 1.0 for a reply
    that is exactly a keyword, 0.8 for a keyword within a longer reply or a pattern,
    lowered to 0.6 when rules of different outcomes fired.
    """
    lang = language or detect_language(normalise(text))
    fired = [r for r in _for_language(rules, lang) if r.matches(text)]
    if not fired:
        return Classification(ReplyOutcome.OTHER, lang, None, 0.0)
    opt_outs = [r for r in fired if r.outcome is ReplyOutcome.OPT_OUT]
    pool = opt_outs or fired
    best = max(pool, key=lambda r: (r.priority, len(r.text), r.name))
    exact = best.kind == "keyword" and normalise(text, simplified=best.simplified) == normalise(
        best.text, simplified=best.simplified
    )
    confidence = 1.0 if exact else 0.8
    if len({r.outcome for r in fired}) > 1:
        confidence = min(confidence, 0.6)
    return Classification(best.outcome, lang, best.name, confidence)


def _for_language(rules: Iterable[ReplyRule], lang: str) -> list[ReplyRule]:
    return [r for r in rules if r.language in (None, lang)]


def _kw(outcome: ReplyOutcome, language: str, words: str, **kw: object) -> list[ReplyRule]:
    return [
        ReplyRule(f"{language}-{outcome.value}-{w}", outcome, "keyword", w, language, **kw)  # type: ignore[arg-type]
        for w in words.split("|")
    ]


def _pat(
    outcome: ReplyOutcome, language: str, name: str, pattern: str, *, simplified: bool = False
) -> ReplyRule:
    return ReplyRule(
        f"{language}-{outcome.value}-{name}",
        outcome,
        "pattern",
        pattern,
        language,
        simplified=simplified,
    )


_OPT, _ORD, _INT = ReplyOutcome.OPT_OUT, ReplyOutcome.ORDER, ReplyOutcome.INTEREST

#: The rules a new workspace starts with: English, Chinese and Russian.
DEFAULT_RULES: tuple[ReplyRule, ...] = (
    *_kw(_OPT, "en", "stop|unsubscribe|opt out|optout|remove me|cancel|quit|end"),
    # Common misspellings, and the ways of saying "leave me alone".
    *_kw(_OPT, "en", "stopp|unsub|unsubcribe|unsuscribe|unsubscibe|leave me alone|take me off"),
    _pat(
        _OPT,
        "en",
        "dont-contact",
        r"\b(?:don'?t|do not|never|no more)\s+(?:\w+\s+)?"
        r"(?:text|txt|messag|e-?mail|contact|call|send|sms|spam)",
    ),
    _pat(
        _OPT,
        "en",
        "remove-my",
        r"\b(?:remove|delete|take)\s+(?:me|my (?:number|e-?mail|details))\b",
    ),
    *_kw(_ORD, "en", "yes|y|yep|yeah|ok|okay|sure|i want it|sign me up|buy"),
    *_kw(_ORD, "en", "count me in|deal|go ahead|book it|confirm|absolutely"),
    _pat(_ORD, "en", "yes-drawn-out", r"\by+e+s+\b"),
    _pat(_ORD, "en", "take-it", r"\bi(?:'?ll| will) take\b"),
    _pat(_ORD, "en", "order", r"^order\b|\b(?:like to|want to|wanna|i'?ll|please)\s+order\b"),
    *_kw(_INT, "en", "tell me more|more info|info|details|call me|interested"),
    *_kw(_INT, "en", "interesting|more information|how much|price|pricing|cost|trial|terms"),
    _pat(_INT, "en", "how-it-works", r"\bhow (?:does|do) (?:it|this|that) work\b"),
    *_kw(_OPT, "zh", "退订|取消订阅|不要再发|别再发|拒收", simplified=True),
    *_kw(_OPT, "zh", "取消|停止发送|停止推送", simplified=True),
    _pat(
        _OPT, "zh", "dont-send", r"(?:别|不要|勿)再?(?:给我)?(?:发|传|打扰|骚扰)", simplified=True
    ),
    _pat(
        _OPT, "zh", "remove-me", r"(?:删除|移除)(?:我|.*号码)|把我.*(?:删除|移除)", simplified=True
    ),
    *_kw(_ORD, "zh", "是|要|好|好的|可以|我要|办理|订购|确认", simplified=True),
    *_kw(_ORD, "zh", "是的|要的|需要|下单|ok", simplified=True),
    *_kw(_INT, "zh", "了解|详情|咨询|感兴趣|请联系我|打电话给我", simplified=True),
    *_kw(
        _INT, "zh", "详细|兴趣|多少钱|收费|价格|优惠|资料|套餐|介绍一下|怎么办理", simplified=True
    ),
    *_kw(_OPT, "ru", "стоп|отписаться|отписка|отмена|не присылайте|хватит"),
    *_kw(_OPT, "ru", "отпишите|прекратите|не беспокойте|отказываюсь"),
    _pat(
        _OPT,
        "ru",
        "dont-write",
        r"\bне\s+(?:(?:надо|нужно)\s+)?(?:мне\s+)?(?:больше\s+)?"
        r"(?:пиш|пис|присыл|слат|шлите|звон|беспоко|смс|сообщ)",
    ),
    _pat(_OPT, "ru", "remove-me", r"\b(?:удалите|уберите|исключите)\s+(?:меня|мой номер)"),
    *_kw(_ORD, "ru", "да|хочу|согласен|согласна|оформите|подключите"),
    *_kw(_ORD, "ru", "ок|окей|давайте|беру|конечно|подключайте|хорошо|оформляйте|ага"),
    *_kw(_INT, "ru", "подробнее|расскажите|перезвоните|интересно"),
    *_kw(_INT, "ru", "интересует|позвоните|сколько стоит|цена|стоимость|поподробнее"),
    _pat(
        _INT,
        "ru",
        "details",
        r"подробност|информаци|скидк|услови|что входит|как подключить"
        r"|узнать (?:больше|подробнее)",
    ),
    # Whatever the language of the rest: STOP, and TD (Chinese operators' "reply TD").
    ReplyRule("any-stop", ReplyOutcome.OPT_OUT, "keyword", "stop", None, priority=10),
    ReplyRule("any-td", ReplyOutcome.OPT_OUT, "keyword", "td", None, priority=10),
)


def sender_variants(channel: str, raw: str) -> list[str]:
    """The ways a sender's address may be stored, to find the customer it belongs to.

    Gateways write numbers as ``+351912345678``, ``351912345678`` or with spaces;
    mail clients add a display name and change the case of an address.
    """
    text = raw.strip()
    if not text:
        return []
    if channel == "email":
        if "<" in text and text.endswith(">"):
            text = text[text.rindex("<") + 1 : -1].strip()
        return list(dict.fromkeys([text, text.lower()]))
    digits = "".join(c for c in text if c.isdigit())
    if not digits:
        return [text]
    out = [text, digits, f"+{digits}"]
    if digits.startswith("00"):
        out += [digits[2:], f"+{digits[2:]}"]
    return list(dict.fromkeys(out))
