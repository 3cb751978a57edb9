"""Job: geocode the addresses of files that were written or changed (R-25), catch-up style.

Files older than this job get their addresses marked first. Each answer is
stored in a short transaction of its own; the geocoder (network I/O) is asked
outside any transaction.
"""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import geocoding


def run(context: JobContext) -> dict[str, Any]:
    """Mark the never-geocoded files, then geocode everything pending."""
    if context.geocoder is None:  # the composition root builds it: a caller forgot to pass it
        raise RuntimeError("the geocoding job needs the platform's geocoder")
    with context.write() as session:
        marked = geocoding.mark_missing(session, cipher=context.cipher, clock=context.clock)
    done = geocoding.geocode_pending(
        context.sessions,
        geocoder=context.geocoder,
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
