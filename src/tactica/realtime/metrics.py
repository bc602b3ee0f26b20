"""Decision metrics of the real-time path, for ``/metrics``.

(Placeholder: :func:`observe` is called after each committed batch of events.)
"""

from __future__ import annotations

from collections.abc import Sequence


def observe(latencies: Sequence[float]) -> None:
    """Record the seconds from receipt to committed decision of each event of a batch."""
    del latencies
