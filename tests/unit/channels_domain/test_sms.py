"""SMS length: GSM-7 or UCS-2, units, segments and the pairs a segment never splits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tactica.domain.sms import GSM7_BASIC, GSM7_EXTENSION, SmsLength, sms_length


def test_empty_text_is_one_empty_gsm_segment() -> None:
    assert sms_length("") == SmsLength("GSM-7", 0, 1, 160, 160)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [
        (1, 1, 160, 159),
        (160, 1, 160, 0),
        (161, 2, 153, 145),
        (306, 2, 153, 0),
        (307, 3, 153, 152),
        (459, 3, 153, 0),
    ],
)
def test_gsm7_boundaries(length: int, segments: int, per_segment: int, remaining: int) -> None:
    assert sms_length("a" * length) == SmsLength("GSM-7", length, segments, per_segment, remaining)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [(70, 1, 70, 0), (71, 2, 67, 63), (134, 2, 67, 0), (135, 3, 67, 66)],
)
def test_ucs2_boundaries(length: int, segments: int, per_segment: int, remaining: int) -> None:
    assert sms_length("Ж" * length) == SmsLength("UCS-2", length, segments, per_segment, remaining)


@pytest.mark.parametrize("ch", sorted(GSM7_EXTENSION))
def test_extension_characters_count_two_septets(ch: str) -> None:
    got = sms_length(ch)
    assert (got.encoding, got.units) == ("GSM-7", 2)


def test_extension_characters_fill_a_single_message_to_160() -> None:
    assert sms_length("€" * 80).segments == 1
    assert sms_length("€" * 80 + "a").segments == 2


def test_escape_pair_at_position_153_moves_to_the_next_segment() -> None:
    # 152 septets, then a 2-septet € that would straddle the segment boundary.
    text = "a" * 152 + "€" + "a" * 10
    got = sms_length(text)
    assert got.units == 164
    assert got.segments == 2
    assert got.remaining == 153 - 12  # € and 10 more letters in segment 2
    # The same length without the pair fits in 2 segments with one more septet free.
    assert sms_length("a" * 164).remaining == 153 - 11


def test_escape_pair_that_alone_needs_a_third_segment() -> None:
    # 305 septets end exactly one short of two full segments: the € cannot share it.
    assert sms_length("a" * 152 + "€").segments == 1  # 154 units: still one message
    assert sms_length("a" * 305 + "€").segments == 3
    assert sms_length("a" * 304 + "€").segments == 2


def test_gsm_basic_accents_and_greek_stay_gsm7() -> None:
    got = sms_length("Ça coûte 5 £ à Zürich — ΔΩ")
    assert got.encoding == "UCS-2"  # û and the em dash are not GSM
    got = sms_length("Ça coute 5 £ à Zürich: ΔΩ ¿¡ ñ ø å @ _ \n")
    assert got.encoding == "GSM-7"
    assert got.units == len("Ça coute 5 £ à Zürich: ΔΩ ¿¡ ñ ø å @ _ \n")


def test_lowercase_c_cedilla_is_not_gsm7() -> None:
    # GSM 03.38 has only the capital Ç (0x09).
    assert sms_length("ç").encoding == "UCS-2"


@pytest.mark.parametrize("text", ["您好", "Привет", "Hello 您好", "Привет, мир!"])
def test_chinese_and_russian_are_ucs2(text: str) -> None:
    got = sms_length(text)
    assert got.encoding == "UCS-2"
    assert got.units == len(text)
    assert got.per_segment == 70


def test_emoji_counts_two_utf16_units() -> None:
    got = sms_length("Hi 😀")
    assert (got.encoding, got.units, got.remaining) == ("UCS-2", 5, 65)


def test_extension_character_counts_one_in_ucs2() -> None:
    assert sms_length("€Ж").units == 2


def test_surrogate_pair_is_never_split() -> None:
    text = "Ж" * 66 + "😀"  # 68 units: two segments, the emoji would straddle 67
    got = sms_length(text + "Ж" * 3)
    assert got.units == 71
    assert got.segments == 2
    assert got.remaining == 67 - 5  # emoji and 3 letters in segment 2
    assert sms_length("Ж" * 133 + "😀").segments == 3  # 135 units, 133 + 2 split
    assert sms_length("Ж" * 132 + "😀").segments == 2


def test_the_alphabet_tables_have_the_standard_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes less the escape
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


_ALPHABET = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))
_TEXT = st.one_of(
    st.text(_ALPHABET, max_size=500),
    st.text(max_size=300),
    st.text(st.one_of(_ALPHABET, st.sampled_from("Ж您😀🎉")), max_size=400),
)


@given(_TEXT)
def test_segments_hold_every_unit(text: str) -> None:
    got = sms_length(text)
    assert got.segments * got.per_segment >= got.units
    assert 0 <= got.remaining < got.per_segment or (got.units == 0 and got.remaining == 160)
    expected = "GSM-7" if set(text) <= GSM7_BASIC | GSM7_EXTENSION else "UCS-2"
    assert got.encoding == expected


@given(_TEXT.filter(bool))
def test_removing_the_last_character_never_adds_segments(text: str) -> None:
    assert sms_length(text[:-1]).segments <= sms_length(text).segments
