"""Named points where a process can be made to stop, so crash tests can kill it there.

``TACTICA_FAILPOINTS=run.decided,run.persisting`` makes the process print
``failpoint <name> reached`` to stderr when it gets to one of those points and then
wait there, doing nothing, until it is killed. A test starts the real command with
it, waits for the line and sends ``SIGKILL``: the crash happens exactly there, in a
real process, with real files and connections. Unset (always, in production) a
failpoint costs one environment lookup.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "TACTICA_FAILPOINTS"


def failpoint(name: str) -> None:
    """Stop here, forever, when ``name`` is one of the failpoints the environment names."""
    spec = os.environ.get(ENV)
    if not spec or name not in spec.split(","):
        return
    print(f"failpoint {name} reached", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)
