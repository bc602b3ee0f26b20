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


def check_channel(channel: str) -> str | None:
    """Why ``channel`` is not a valid list-entry channel, or None."""
    if channel == ALL_CHANNELS or channel in CHANNELS:
        return None
    return f"channel must be 'all' or one of {', '.join(CHANNELS)}, got {channel!r}"
