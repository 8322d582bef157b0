"""Profile one dispatch in a fresh process: ``python -m bench.profile_dispatch DISPATCH_ID OUT``.

Runs ``campaigns.sending.run.dispatch_run`` — the same function a qcluster worker runs for a
``run_dispatch`` task — in a new process (so its resident set starts where a worker's
does) under :class:`bench.sampler.Sampler`, writes the text report to ``OUT`` and a JSON
summary to ``OUT`` with ``.json`` appended. The benchmark's environment (database, keys)
is inherited from the parent.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

# Where the dispatch thread's wall time goes, by the functions that matter for the send path.
WATCHED = (
    "snapshot.py:campaign_hash",
    "plan.py:step",
    "stream.py:_member_pages",
    "stream.py:_recipient_pages",
    "inserts.py:_insert",
    "batches.py:read_chunk",
    "batches.py:_addresses",
    "batches.py:batch_for",
    "outcomes.py:record_outcomes",
    "finish.py:store_counts",
    "_base.py:result",
)


def main() -> None:
    import django

    django.setup()
    from bench.processes import process_memory
    from bench.sampler import Sampler
    from campaigns.models import Dispatch
    from campaigns.sending.run import dispatch_run

    dispatch_id, out = int(sys.argv[1]), Path(sys.argv[2])
    dispatch = Dispatch.objects.select_related("campaign__audience").get(pk=dispatch_id)
    idle = process_memory(os.getpid())
    sampler = Sampler(track_rss=True)
    sampler.start()
    started = time.perf_counter()
    try:
        status = dispatch_run(dispatch_id, budget_seconds=900)
    finally:
        sampler.stop()
    seconds = time.perf_counter() - started
    dispatch.refresh_from_db()
    peak = process_memory(os.getpid())["hwm_kb"] / 1024
    header = (
        f"# dispatch_run({dispatch_id}) in a fresh process: campaign {dispatch.campaign.name!r}, "
        f"audience {dispatch.campaign.audience.name!r}, {dispatch.total_requests} requests; {status} in "
        f"{seconds:.1f} s; resident set {idle['rss_kb'] / 1024:.0f} MB before, peak {peak:.0f} MB\n"
        "# wall-clock samples (a thread waiting on a socket or the database counts where it waits)\n\n"
    )
    out.write_text(header + sampler.report(top=30) + "\n" + sampler.rss_report())
    summary = {
        "status": status,
        "seconds": round(seconds, 2),
        "requests": dispatch.total_requests,
        "rss_before_mb": round(idle["rss_kb"] / 1024, 1),
        "peak_rss_mb": round(peak, 1),
        "dispatch_thread_share": sampler.top("MainThread", WATCHED),
        "rss_growth_mb_by_function": sampler.rss_top(8),
    }
    Path(f"{out}.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
