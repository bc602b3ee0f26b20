"""Decision metrics of the real-time path, for ``/metrics``.

(Placeholder: :func:`observe` is called after each committed batch of events.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def observe(latencies: Sequence[float], *, source: str, statuses: Mapping[str, int]) -> None:
    """Record one committed batch of events.

    ``latencies``: for each event stored, the seconds from the batch's receipt to its
    committed decision; ``source``: http, stream, lifecycle or cli; ``statuses``: how
    many events of the batch ended as each status (contacted, no_contact, no_match,
    unattributed, and duplicate / rejected for those not stored).
    """
    del latencies, source, statuses
