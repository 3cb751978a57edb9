"""Job: geocode the addresses of files that were written or changed (R-25), catch-up style.

Files older than this job get their addresses marked first. Each answer is
stored in a short transaction of its own; the geocoder (network I/O) is asked
outside any transaction.
"""

from __future__ import annotations

from typing import Any

from tgd.container import build_geocoder
from tgd.jobs.runner import JobContext
from tgd.services import geocoding


def run(context: JobContext) -> dict[str, Any]:
    """Mark the never-geocoded files, then geocode everything pending."""
    with context.write() as session:
        marked = geocoding.mark_missing(session, cipher=context.cipher, clock=context.clock)
    done = geocoding.geocode_pending(
        context.sessions,
        geocoder=build_geocoder(context.settings),
        cipher=context.cipher,
        clock=context.clock,
    )
    count = marked + done.found + done.not_found
    return {
        "count": count,
        "marked": marked,
        "found": done.found,
        "not_found": done.not_found,
        "unavailable": done.unavailable,
        "superseded": done.superseded,
    }
