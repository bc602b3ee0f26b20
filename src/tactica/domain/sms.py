"""SMS length and encoding, counted the way a phone or an SMS gateway counts them.

A text goes out in the GSM 7-bit alphabet (GSM 03.38) when every character is in its
basic set or its extension table, and in UCS-2 (UTF-16) otherwise: one Chinese, Russian
or emoji character switches the whole message to UCS-2.

Units are what a segment holds: septets in GSM-7, where an extension character
(``^{}\\[~]|€`` and form feed) is sent as an escape plus the character and counts 2;
UTF-16 code units in UCS-2, where a character beyond the Basic Multilingual Plane (most
emoji) is a surrogate pair and counts 2.

One message holds 160 septets or 70 units. A longer text is split into concatenated
segments, each of which loses room to the concatenation header: 153 septets or 67 units.
Handsets never split an escape pair or a surrogate pair across two segments, so a
segment can end a unit short; segments are therefore counted by filling them one
character at a time, not by dividing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SmsLength", "sms_length"]

#: The GSM 03.38 basic character set, in code order (0x00-0x7F), without the escape
#: code 0x1B, which is no character of its own.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
) - {"\x1b"}

#: The GSM 03.38 extension table: each is sent as escape + character, so counts 2.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

_GSM7_SINGLE, _GSM7_MULTI = 160, 153
_UCS2_SINGLE, _UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class SmsLength:
    """How a text goes out as SMS.

    ``encoding`` is ``"GSM-7"`` or ``"UCS-2"``; ``units`` the septets (GSM-7) or UTF-16
    code units (UCS-2) it takes; ``segments`` the messages it is sent as (billed as);
    ``per_segment`` what one of them holds (160/153 for GSM-7, 70/67 for UCS-2, the
    smaller figure once the text needs more than one); ``remaining`` the units still
    free in the last segment.
    """

    encoding: str
    units: int
    segments: int
    per_segment: int
    remaining: int


def _unit_sizes(text: str) -> tuple[str, list[int]]:
    """The encoding of ``text`` and the units each of its characters takes."""
    sizes: list[int] = []
    for ch in text:
        if ch in GSM7_BASIC:
            sizes.append(1)
        elif ch in GSM7_EXTENSION:
            sizes.append(2)
        else:
            # Not GSM-7: the whole text is UCS-2, where only astral characters
            # (surrogate pairs in UTF-16) take 2 units.
            return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]
    return "GSM-7", sizes


def sms_length(text: str) -> SmsLength:
    """Count the encoding, units and segments of ``text`` as an SMS.

    An empty text is one GSM-7 segment of 0 units.
    """
    encoding, sizes = _unit_sizes(text)
    single, multi = (
        (_GSM7_SINGLE, _GSM7_MULTI) if encoding == "GSM-7" else (_UCS2_SINGLE, _UCS2_MULTI)
    )
    units = sum(sizes)
    if units <= single:
        return SmsLength(encoding, units, 1, single, single - units)
    # Fill greedily: a character that does not fit whole starts the next segment, which
    # is how handsets keep escape and surrogate pairs together.
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return SmsLength(encoding, units, segments, multi, multi - used)
