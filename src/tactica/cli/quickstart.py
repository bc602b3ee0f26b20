"""``tactica quickstart``: build the demo workspace and show what Tactica does."""

from __future__ import annotations

from rich.table import Table

from tactica.cli._common import console, open_store
from tactica.cli.customers import import_progress
from tactica.cli.segments import print_profile
from tactica.config import get_settings
from tactica.services import segments


def quickstart() -> None:
    """Create a workspace, import a real bank's customers, segment them and show the result."""
    from tactica.services.demo import build  # the demo pulls in the importer: load on use

    settings = get_settings()
    home = settings.ensure_home()
    store = open_store()
    console.rule("[bold]Tactica quickstart")
    console.print(f"Workspace: [bold]{home}[/]  database: {store.engine.url.render_as_string()}")
    with import_progress() as progress:
        result = build(store, home, progress)

    b, c = result.bank, result.contacts
    console.print(
        f"\n[bold]1. Customers[/]: imported the bank file — {b.rows_read:,} rows, "
        f"{b.inserted:,} new, {b.updated - b.unchanged:,} changed, {b.unchanged:,} unchanged, "
        f"{b.rejected} rejected, "
        f"in {b.elapsed:.1f} s."
    )
    console.print(
        f"   Added contact points, consents and regions from a second file — "
        f"{c.inserted:,} new, {c.updated - c.unchanged:,} changed, {c.unchanged:,} unchanged "
        "(upsert by id)."
    )
    console.print(
        f"\n[bold]2. Special lists[/]: {result.opted_out} customers on opt_out for SMS "
        "(they replied STOP)."
    )
    t = Table("segment", "customers", "rule", title="3. Segments")
    for seg in result.segments:
        t.add_row(seg["name"], f"{seg['size']:,}", seg["rule"])
    console.print(t)
    console.print(f"[bold]4. Offers[/]: {', '.join(result.offers)} (see `tactica offers list`).\n")
    with store.session() as s:
        prof = segments.profile(store, s, "young-savers", top=6)
        ov = segments.overlap(s, "young-savers", "reachable-by-sms")
    console.rule("Profile of young-savers")
    print_profile(prof)
    console.print(
        f"\nOverlap young-savers × reachable-by-sms: {ov['both']:,} in both, "
        f"{ov['only_a']:,} young savers we cannot text."
    )
    console.print(
        '\nNext: [bold]tactica segments create NAME --rule "..."[/], '
        "[bold]tactica users create admin --role admin[/], then [bold]tactica serve[/] "
        "and open http://127.0.0.1:8000/docs"
    )
