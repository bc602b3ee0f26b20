"""Special lists: the kinds there are and what each one does to a decision."""

from __future__ import annotations

from enum import StrEnum

from tactica.domain.schema import CHANNELS


class ListKind(StrEnum):
    """What being on a list means."""

    OPT_OUT = "opt_out"  # asked not to be contacted: excluded (all channels or one)
    DND = "dnd"  # do not disturb for a while: excluded until the entry expires
    BLACKLIST = "blacklist"  # never contacted
    VIP = "vip"  # whitelist: always eligible
    COMPLAINT = "complaint"  # complained: excluded and reviewed

    @property
    def excludes(self) -> bool:
        """True when being on such a list keeps a customer from being contacted."""
        return self is not ListKind.VIP


ALL_CHANNELS = "all"

#: What a marketer reads when an excluding list left a customer out.
EXCLUSION_WORDS = {
    ListKind.OPT_OUT: "opted out",
    ListKind.DND: "do not disturb",
    ListKind.BLACKLIST: "blacklisted",
    ListKind.COMPLAINT: "complained",
}


def exclusion_reason(kind: str, name: str) -> str:
    """The reason a decision gives for an entry on list ``name`` of ``kind``:
    ``opted out (list 'opt_out')``; the batch engine writes the same text in SQL."""
    words = EXCLUSION_WORDS.get(ListKind(kind)) if kind in set(ListKind) else None
    return f"{words or 'on ' + kind} (list '{name}')"


def check_channel(channel: str) -> str | None:
    """Why ``channel`` is not a valid list-entry channel, or None."""
    if channel == ALL_CHANNELS or channel in CHANNELS:
        return None
    return f"channel must be 'all' or one of {', '.join(CHANNELS)}, got {channel!r}"
