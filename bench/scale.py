"""The scale scenarios of issue #21: 10,000,000 user ids, 1,000 occurrences a minute on
three clusters, and the first Alipay+ request after approval.

Kept apart from ``bench.phases`` (whose phases they follow, and whose helpers they use).
On SQLite the two large phases are skipped with the reason printed: SQLite has one
writer, so three clusters ticking and claiming at once measure its lock, not Crier, and
10,000,000 rows in one file are no deployment Crier supports (docs/queue-and-http.md,
"Scheduler with several clusters"). PostgreSQL runs them; ``--quick`` runs them small.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone

from bench import seed
from bench.phases import BenchBroken, jiguang_run, percentile, timed, wait_for_dispatches
from bench.processes import Cluster, descendants
from bench.report import Figure

if TYPE_CHECKING:
    from datetime import datetime

    from bench.run import Bench

ONE_WRITER = (
    "SQLite has one writer: {what} would measure its database lock, not Crier "
    "(run with DATABASE_URL=postgres://... for this figure)"
)


def _sqlite_skip(b: Bench, what: str) -> bool:
    """Skip a full-size phase on SQLite, saying why; True when skipped."""
    if connection.vendor == "sqlite" and b.report.mode != "quick":
        b.report.skip(ONE_WRITER.format(what=what))
        return True
    return False


# --- the first Alipay+ request after approval -------------------------------------------------


def first_request_figure(b: Bench, approved_at: datetime, emulator) -> None:
    """Add the fixed cost figure: approval's commit to the first request the emulator accepted
    (its own clock), before its records are checked and cleared."""
    first = emulator.summary()["first_at"]
    if first is None:
        raise BenchBroken("Alipay+: the emulator accepted no request")
    seconds = first - approved_at.timestamp()
    b.report.add(
        Figure(
            "alipayplus.first_request_s",
            "Alipay+ first request after approval (fixed cost)",
            seconds,
            "s",
            goal="<= 0.5 s",
            met=seconds <= 0.5,
            note="approval commit -> first request accepted, emulator's clock",
        )
    )
    b.details.setdefault("alipayplus_first_request", {})["seconds"] = round(seconds, 3)


# --- Jiguang: 10,000,000 user ids -----------------------------------------------------------


def _seed_scale(b: Bench, sizes: list[int]) -> dict[int, object]:
    from campaigns.models import Recipient

    biggest = sizes[-1]
    have = Recipient.objects.filter(external_id__startswith="jx").count()
    _, seconds = timed(lambda: seed.seed_recipients("jx", biggest - have, kind="jiguang", start=have))
    audiences = {}
    member_seconds = 0.0
    for size in sizes:
        audiences[size] = seed.make_audience(f"bench jiguang scale {size}")
        _, s = timed(lambda size=size: seed.seed_members(audiences[size].pk, "jx", size))
        member_seconds += s
    _, analyze = timed(seed.analyze)
    b.report.add(
        Figure(
            "jiguang_scale.seed_seconds",
            f"Jiguang scale seeding {biggest:,} recipients + {sum(sizes):,} members",
            seconds + member_seconds + analyze,
            "s",
            note=f"recipients {seconds:.1f} s, members {member_seconds:.1f} s, ANALYZE {analyze:.1f} s; "
            + ("COPY" if connection.vendor == "postgresql" else "executemany"),
        )
    )
    return audiences


def _scale_run(b: Bench, size: int, audience) -> dict[str, float]:
    """One fresh qcluster sends one campaign to ``audience``; return its wall time and memory."""
    return jiguang_run(b, size, audience, label="Jiguang scale", timeout=max(300, size / 1000))


def phase_jiguang10m(b: Bench) -> None:
    """10,000,000 listed user ids, 1,000 a request: wall time, worker peak RSS, and its ratio
    to the 1,000,000-id run (each on a fresh cluster)."""
    sizes = sorted(b.sizes["jiguang_scale"])
    biggest = sizes[-1]
    b.section(f"Jiguang scale: user-id audiences of {', '.join(f'{s:,}' for s in sizes)}")
    if _sqlite_skip(b, f"{biggest:,} audience members"):
        return
    scale_figures(b, sizes, _seed_scale(b, sizes))


def scale_figures(b: Bench, sizes: list[int], audiences: dict) -> None:
    """Send to each seeded audience (largest first) on a fresh cluster and add the figures."""
    small, biggest = sizes[0], sizes[-1]
    runs = {size: _scale_run(b, size, audiences[size]) for size in reversed(sizes)}
    limit = b.details.get("limits", {}).get("jiguang_raw_client", {}).get("limit_rps")
    is_goal = biggest >= 10_000_000
    for size in sizes:
        run = runs[size]
        rate = size / run["wall_s"]
        b.report.add(
            Figure(
                f"jiguang_scale.{size}.wall_seconds",
                f"Jiguang {size:,} ids, approval to last delivery (scale phase)",
                run["wall_s"],
                "s",
                ratio=rate / (limit * 1000) if limit else None,
                ratio_to="raw client" if limit else "",
                goal="<= 60 s" if size == biggest and is_goal else "",
                met=run["wall_s"] <= 60 if size == biggest and is_goal else None,
                note=f"{rate:,.0f} ids/s; planning {run['planning_s']:.1f} s, "
                f"sending {run['sending_s']:.1f} s, first request {run['first_request_s']:.1f} s",
            )
        )
        b.report.add(
            Figure(
                f"jiguang_scale.{size}.peak_rss_mb",
                f"Jiguang {size:,} ids, worker peak RSS (scale phase)",
                run["peak_rss_mb"],
                "MB",
                goal="<= 150 MB" if size == biggest and is_goal else "",
                met=run["peak_rss_mb"] <= 150 if size == biggest and is_goal else None,
                note=f"idle worker {run['idle_worker_rss_mb']:.0f} MB",
            )
        )
    ratio = runs[biggest]["peak_rss_mb"] / runs[small]["peak_rss_mb"]
    b.report.add(
        Figure(
            "jiguang_scale.rss_ratio",
            f"Jiguang peak RSS {biggest:,} / {small:,}",
            ratio,
            "x",
            goal="<= 1.1" if is_goal else "",
            met=ratio <= 1.1 if is_goal else None,
            note=f"audience {biggest // small}x larger"
            + ("" if is_goal else "; goal applies to 1,000,000 vs 10,000,000"),
        )
    )
    b.details["jiguang_scale"] = {
        str(size): {k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()}
        for size, run in runs.items()
    }


# --- 1,000 occurrences a minute, three clusters -------------------------------------------


def _start_clusters(b: Bench, count: int) -> list[Cluster]:
    """Start ``count`` clusters on one broker queue; the first runs the dispatcher ticker."""
    clusters = [b.start_cluster("qcluster-volume-0")]
    for i in range(1, count):
        cluster = Cluster(b.processes, f"qcluster-volume-{i}")
        cluster.wait_for_workers(4)
        clusters.append(cluster)
    b.say(f"{count} clusters up: pids {', '.join(str(c.process.pid) for c in clusters)}")
    return clusters


def _make_due_campaigns(b: Bench, count: int, span: int, audience) -> dict[int, datetime]:
    """Create ``count`` once campaigns, then approve them due at whole seconds over ``span`` seconds.

    The due times are part of what an approval hashes, and hashing is most of the cost
    (18-40 ms a campaign with the machine's load): the campaigns are created first, the
    hash of a sample is timed, and the first due second is chosen from that, with room.
    """
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.snapshot import campaign_hash

    later = timezone.now() + timedelta(days=1)
    made = [
        seed.make_campaign(
            name=f"bench volume {i}",
            template=b.template,
            account=b.accounts["jiguang"],
            audience=audience,
            author=b.author,
            schedule_kind="once",
            fixed_time=later,
        )
        for i in range(count)
    ]
    sample, per = timed(lambda: [campaign_hash(c) for c in made[:20]])
    per /= max(1, len(sample))
    lead = 10 + per * count * 3  # the machine's load moves it: room for three times the sample
    first = timezone.now().replace(microsecond=0) + timedelta(seconds=math.ceil(lead))
    campaigns: dict[int, datetime] = {}
    for i, campaign in enumerate(made):
        due = first + timedelta(seconds=int(i * span / count))
        campaign.fixed_time = due
        Campaign.objects.filter(pk=campaign.pk).update(
            fixed_time=due,
            status=CampaignStatus.APPROVED,
            approved_hash=campaign_hash(campaign),
            next_due_at=due,
        )
        campaigns[campaign.pk] = due
    late = (timezone.now() - first).total_seconds()
    if late > 0:
        raise BenchBroken(f"volume lateness: approving the campaigns took {late:.1f} s past the first due")
    b.say(
        f"volume lateness: {count} campaigns approved ({per * 1000:.0f} ms a hash), "
        f"first due at {first:%H:%M:%S} ({-late:.1f} s ahead)"
    )
    return campaigns


def _firsts_exactly_once(b: Bench, campaigns: dict[int, datetime]) -> dict[int, float]:
    """Return each campaign's first accepted request (emulator's clock); each must be exactly one."""
    per_campaign: Counter[int] = Counter()
    firsts: dict[int, float] = {}
    keys: Counter[str] = Counter()
    for row in b.emulators["jiguang"].log():
        campaign_id = int(row["key"].split("-")[1])
        per_campaign[campaign_id] += 1
        keys[row["key"]] += 1
        firsts[campaign_id] = min(firsts.get(campaign_id, math.inf), row["at"])
    wrong = {pk: per_campaign[pk] for pk in campaigns if per_campaign[pk] != 1}
    strays = set(per_campaign) - set(campaigns)
    twice = [k for k, n in keys.items() if n > 1]
    if wrong or strays or twice:
        raise BenchBroken(
            f"volume lateness: not exactly one request per occurrence: {len(wrong)} campaigns wrong "
            f"(e.g. {dict(list(wrong.items())[:5])}), strays {sorted(strays)[:5]}, keys twice {twice[:5]}"
        )
    b.say(f"volume lateness: the emulator accepted one request for each of {len(campaigns)} occurrences")
    return firsts


class SpreadSampler(threading.Thread):
    """Sample which worker holds each running dispatch (``claimed_by`` is host:pid:thread; it
    is cleared when the dispatch ends), to tell how the dispatches spread over the clusters."""

    def __init__(self, campaign_ids: list[int]) -> None:
        super().__init__(name="spread-sampler", daemon=True)
        self.campaign_ids = campaign_ids
        self.seen: dict[int, int] = {}  # dispatch id -> worker pid
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import connection as own

        from campaigns.models import Dispatch

        try:
            while not self.stopped.wait(0.05):
                rows = Dispatch.objects.filter(
                    campaign_id__in=self.campaign_ids, status="running"
                ).values_list("id", "claimed_by")
                for dispatch_id, claimed in rows:
                    if claimed.count(":") >= 2:
                        self.seen.setdefault(dispatch_id, int(claimed.split(":")[1]))
        finally:
            own.close()

    def per_cluster(self, clusters: list[Cluster]) -> dict[str, int]:
        owner = {}
        for i, cluster in enumerate(clusters):
            for pid in [cluster.process.pid, *descendants(cluster.process.pid)]:
                owner[pid] = f"cluster {i}"
        ran = Counter(owner.get(pid, "unknown") for pid in self.seen.values())
        return dict(sorted(ran.items()))


def _retire_volume() -> None:
    """After a broken volume phase: nothing of it stays due or pending, so the clusters of
    later phases do not spend their workers on it (this happened once: the 1,000,000-id
    dispatch waited minutes behind 300 of its occurrences)."""
    from campaigns.models import Campaign, Dispatch

    volume = Campaign.objects.filter(name__startswith="bench volume")
    volume.update(next_due_at=None)
    Dispatch.objects.filter(campaign__in=volume, status="pending").update(
        status="cancelled", detail="bench: the volume phase broke"
    )


def phase_lateness1000(b: Bench) -> None:
    """1,000 ``once`` occurrences due within one minute, three clusters on one broker queue:
    due second to the first request at the emulator (its own clock), each exactly once."""
    from campaigns.models import AudienceMember

    count, span, n_clusters = b.sizes["volume_occurrences"], b.sizes["volume_span"], 3
    b.section(f"Schedule lateness at volume: {count:,} occurrences due over {span} s, {n_clusters} clusters")
    if _sqlite_skip(b, f"{n_clusters} clusters claiming at once"):
        return
    audience = seed.make_audience("bench volume")
    AudienceMember.objects.bulk_create(
        [AudienceMember(audience=audience, external_id=f"vol{i}") for i in range(5)]
    )
    clusters = _start_clusters(b, n_clusters)
    b.emulators["jiguang"].reset()
    try:
        campaigns = _make_due_campaigns(b, count, span, audience)
    except BenchBroken:
        _retire_volume()
        raise
    sampler = SpreadSampler(list(campaigns))
    sampler.start()
    try:
        wait_for_dispatches(
            b, list(campaigns), timeout=span + 900, what="volume lateness", cluster=clusters[0]
        )
    except BenchBroken:
        _retire_volume()
        raise
    time.sleep(2)  # a second, late request of an occurrence would show up here
    sampler.stopped.set()
    sampler.join()
    spread = sampler.per_cluster(clusters)
    for cluster in reversed(clusters[1:]):
        cluster.stop(timeout=10)
    b.stop_cluster(clusters[0])
    firsts = _firsts_exactly_once(b, campaigns)
    b.emulators["jiguang"].reset()
    lateness = [firsts[pk] - due.timestamp() for pk, due in campaigns.items()]
    p50, p95, p99 = (percentile(lateness, q) for q in (50, 95, 99))
    worst = max(lateness)
    note = f"tick {b.tick_seconds:g} s; {count:,} once campaigns over {span} s; {n_clusters} clusters"
    full = count >= 1000
    b.report.add(Figure("volume.p50_s", f"Lateness at {count:,}/{span} s, p50", p50, "s", note=note))
    spread_note = (
        f"dispatches seen running per cluster (sampled): {spread}; each sent exactly once "
        "(emulator's records)"
    )
    for name, value, goal in (("p95", p95, 1), ("p99", p99, 2), ("max", worst, None)):
        b.report.add(
            Figure(
                f"volume.{name}_s",
                f"Lateness at {count:,}/{span} s, {name}",
                value,
                "s",
                goal=f"<= {goal} s" if full and goal else "",
                met=value <= goal if full and goal else None,
                note=spread_note if name == "max" else "",
            )
        )
    b.details["volume_lateness"] = {
        "occurrences": count,
        "span_s": span,
        "clusters": n_clusters,
        "per_cluster_sampled": spread,
        "sampled_dispatches": len(sampler.seen),
        "seconds": sorted(round(x, 3) for x in lateness),
        "early": sum(1 for x in lateness if x < 0),
    }
    if min(lateness) < -0.05:
        raise BenchBroken(f"volume lateness: an occurrence was sent {-min(lateness):.2f} s before it was due")
