"""Run the benchmarks: ``python -m bench [--quick] [--only PHASE ...] [--no-profile] [--keep-db]``.

1. Create and migrate a database of the benchmark's own (see ``bench.database``).
2. Start the Alipay+ and Jiguang emulators, each in its own process.
3. Run the phases (``bench.phases``): Alipay+ per-user throughput, Jiguang batch scale,
   schedule lateness, admin and API latency; then those of ``bench.scale`` (1,000
   occurrences a minute on three clusters, 10,000,000 Jiguang ids; skipped on SQLite
   outside ``--quick``, with the reason); then profiles of the send engine.
4. Print the table, write ``bench/results/latest.json``; stop every process and drop the
   database, also on Ctrl-C or failure.

Exit status: 0 when everything ran (missed goals included), 1 when something broke.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
import traceback
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from bench.database import BASE_DIR, VAR_DIR, BenchDatabase, bench_environment, create_database
from bench.processes import Cluster, EmulatorProcess, Processes
from bench.report import RESULTS_DIR, Report, table

FULL: dict[str, Any] = {
    "alipay_recipients": 20_000,
    "alipay_raw": 5_000,
    "alipay_capacity": 3_000,
    "jiguang_sizes": (100_000, 1_000_000),
    "jiguang_raw": 1_000,
    "jiguang_capacity": 1_000,
    "lateness_campaigns": 50,
    "lateness_span": 60,
    "admin_campaigns": 10_000,
    "admin_deliveries": 1_000_000,
    "admin_requests": 20,
    "admin_budget_s": 20,
    "profile_alipay": 5_000,
    "digest_size": 1_000_000,
    "digest_requests": 20,
    "jiguang_scale": (1_000_000, 10_000_000),
    "volume_occurrences": 1_000,
    "volume_span": 60,
}
QUICK: dict[str, Any] = {
    "alipay_recipients": 1_000,
    "alipay_raw": 500,
    "alipay_capacity": 300,
    "jiguang_sizes": (5_000, 50_000),
    "jiguang_raw": 100,
    "jiguang_capacity": 100,
    "lateness_campaigns": 8,
    "lateness_span": 8,
    "admin_campaigns": 300,
    "admin_deliveries": 20_000,
    "admin_requests": 3,
    "admin_budget_s": 5,
    "profile_alipay": 1_000,
    "digest_size": 50_000,
    "digest_requests": 3,
    "jiguang_scale": (2_000, 20_000),
    "volume_occurrences": 30,
    "volume_span": 5,
}
PHASES = ("alipayplus", "jiguang", "lateness", "admin", "digest", "lateness1000", "jiguang10m", "profiles")
CONCURRENCY = 10  # per account: docs/queue-and-http.md caps one httpx client near 10


class Bench:
    """What the phases share: database, processes, fixtures, the report, progress output."""

    def __init__(
        self, *, sizes: dict[str, Any], database: BenchDatabase, report: Report, processes: Processes
    ) -> None:
        self.sizes = sizes
        self.database = database
        self.report = report
        self.details = report.details
        self.processes = processes
        self.started = time.monotonic()
        self.concurrency = CONCURRENCY
        self.emulators: dict[str, EmulatorProcess] = {}
        self.emulator_capacity: dict[str, Any] = {}
        self.accounts: dict[str, Any] = {}
        self.results_dir = RESULTS_DIR
        self.results_dir.mkdir(parents=True, exist_ok=True)  # not in a fresh clone (gitignored)
        self.base_dir = BASE_DIR
        self.tick_seconds = 1.0
        self.jiguang_audiences: dict[int, Any] = {}

    # -- output ----------------------------------------------------------------------
    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    def section(self, title: str) -> None:
        load = [round(x, 2) for x in os.getloadavg()]
        self.details.setdefault("load_average_at_start", {})[title] = load
        print(f"\n== {title}  (load average {load[0]:.1f})", flush=True)

    # -- fixtures ------------------------------------------------------------------------
    def setup(self) -> None:
        from django.conf import settings

        from bench import seed

        self.tick_seconds = settings.CRIER_DISPATCH_TICK_SECONDS
        self.author = seed.make_user("bench-author", superuser=True)
        self.template = seed.make_template()
        merchant, platform = seed.rsa_private_pem(), seed.rsa_private_pem()
        self.emulators["alipayplus"] = EmulatorProcess(
            self.processes, "alipayplus", {"bench-client": merchant}, platform_private_key=platform
        )
        # No request bodies kept: at 10,000,000 ids they would hold every id twice.
        self.emulators["jiguang"] = EmulatorProcess(
            self.processes, "jiguang", {"bench-channel": "bench-master-secret"}, keep_payloads=False
        )
        self.accounts["alipayplus"] = seed.make_account(
            "alipayplus",
            self.emulators["alipayplus"].url,
            {
                "client_id": "bench-client",
                "private_key": merchant,
                "platform_public_key": seed.rsa_public_pem(platform),
            },
            concurrency=self.concurrency,
        )
        self.accounts["jiguang"] = seed.make_account(
            "jiguang",
            self.emulators["jiguang"].url,
            {"channel_key": "bench-channel", "master_secret": "bench-master-secret"},
            concurrency=self.concurrency,
        )
        for kind, emulator in self.emulators.items():
            self.say(f"{kind} emulator (own process, uvicorn + uvloop) on {emulator.url}")

    # -- limits --------------------------------------------------------------------------
    def raw_rate(
        self,
        kind,
        provider,
        message,
        make_batch,
        requests: int,
        concurrency: int,
        *,
        tag: str,
        distinct: int = 0,
    ):
        """Return the raw client's rate over ``requests`` batches (``distinct`` of them, cycled,
        when given: Jiguang does not deduplicate, and a million Target objects cost memory)."""
        from bench.limits import raw_client_rate

        account = self.accounts[kind]
        unique = [make_batch(f"raw{tag}", i) for i in range(min(requests, distinct or requests))]
        rate = raw_client_rate(
            provider,
            message,
            [unique[i % len(unique)] for i in range(requests)],
            concurrency=concurrency,
            rate_limit=account.rate_limit,
            timeout=account.timeout_seconds,
            warmup=[make_batch(f"warm{tag}", i) for i in range(concurrency * 2)],
        )
        if set(rate.outcomes) != {"delivered"}:
            from bench.phases import BenchBroken

            raise BenchBroken(f"{kind} raw client: not every request was delivered: {rate.outcomes}")
        self.say(f"{kind} raw client ({tag}): {rate.per_second:,.0f} req/s over {rate.requests:,} requests")
        return rate

    # -- clusters ------------------------------------------------------------------------
    def start_cluster(self, name: str) -> Cluster:
        """Start a fresh qcluster, start its dispatcher ticker, and wait until it ticks."""
        from django.utils import timezone
        from django_q.tasks import async_task

        from campaigns.models import Lease
        from campaigns.tasks import TICKER_LEASE

        Lease.objects.update_or_create(name=TICKER_LEASE, defaults={"holder": "", "expires_at": None})
        cluster = Cluster(self.processes, name)
        async_task("campaigns.tasks.dispatcher_loop", task_name="dispatcher-loop")
        deadline = time.monotonic() + 60
        while (
            not Lease.objects.filter(name=TICKER_LEASE, expires_at__gt=timezone.now())
            .exclude(holder="")
            .exists()
        ):
            if not cluster.process.alive() or time.monotonic() > deadline:
                from bench.phases import BenchBroken

                raise BenchBroken(f"{name}: the dispatcher ticker did not start:\n{cluster.process.output()}")
            time.sleep(0.1)
        self.say(f"{name}: started (pid {cluster.process.pid}), dispatcher ticking")
        return cluster

    def stop_cluster(self, cluster: Cluster) -> None:
        """Make the ticker loop end (its lease is taken away), then stop the cluster gracefully."""
        from django.utils import timezone

        from campaigns.models import Lease
        from campaigns.tasks import TICKER_LEASE

        Lease.objects.filter(name=TICKER_LEASE).update(
            holder="bench-stop", expires_at=timezone.now() + timedelta(hours=1)
        )
        time.sleep(self.tick_seconds + 0.2)
        started = time.monotonic()
        # A loop still waiting for the lease (django-q2's minute schedule starts one) may
        # wait out its time: do not wait for it, the run's data is thrown away anyway.
        cluster.stop(timeout=10)
        self.say(f"{cluster.process.name}: stopped in {time.monotonic() - started:.1f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run for CI (< 2 minutes)")
    parser.add_argument("--only", nargs="+", choices=PHASES, help="run only these phases")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profiles")
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark database (prints its URL)")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    signal.signal(signal.SIGTERM, _terminate)
    sizes = QUICK if args.quick else FULL
    phases = list(args.only or PHASES)
    if args.no_profile or (args.quick and not args.only):
        phases = [p for p in phases if p != "profiles"]

    started = time.monotonic()
    database = create_database(os.environ.get("DATABASE_URL"))
    os.environ.update(bench_environment(database))
    broker = "django-q2 ORM broker"
    if os.environ.get("REDIS_URL"):
        redis = urlparse(os.environ["REDIS_URL"])  # never print a password
        broker = f"django-q2 Redis broker on {redis.hostname}:{redis.port or 6379}{redis.path}"
    report = Report(mode="quick" if args.quick else "full", database=database.label, broker=broker)
    processes = Processes(VAR_DIR / f"logs-{os.getpid()}")
    broken = False
    print(
        f"Crier benchmarks ({report.mode}) on {database.label}; {broker}; {os.cpu_count()} cores", flush=True
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from bench import phases as scenarios
        from bench import scale

        bench = Bench(sizes=sizes, database=database, report=report, processes=processes)
        migrate_started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        # Pages render as in production: hashed static files from a collected manifest.
        call_command("collectstatic", verbosity=0, interactive=False)
        bench.say(f"migrated and collected static files in {time.perf_counter() - migrate_started:.1f} s")
        bench.setup()
        for name in phases:
            try:
                phase = getattr(scenarios, f"phase_{name}", None) or getattr(scale, f"phase_{name}")
                phase(bench)
            except scenarios.BenchBroken as exc:
                broken = True
                report.error(f"{name}: {exc}")
                for managed in list(processes.running):
                    if managed.name.startswith("qcluster"):
                        print(f"--- {managed.name} log (tail) ---\n{managed.output()}", flush=True)
                        processes.stop(managed)
    except KeyboardInterrupt:
        broken = True
        report.error("interrupted")
    except Exception:
        broken = True
        report.error(traceback.format_exc())
    finally:
        processes.stop_all()
        _forget_redis_queue()
        if args.keep_db:
            print(f"kept the benchmark database: {database.label}")  # the label holds no password
        else:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001 - Django may not even be set up
                pass
            database.drop()

    if not broken and not report.errors:
        shutil.rmtree(processes.log_dir, ignore_errors=True)
    else:
        print(f"process logs kept in {processes.log_dir.relative_to(BASE_DIR)}")
    report.details["sizes"] = {k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()}
    path = report.write()
    print(f"\n== Results ({report.mode}, {database.vendor}, {time.monotonic() - started:.0f} s)\n")
    print(table(report))
    for note in report.skipped:
        print(f"skipped: {note}")
    for error in report.errors:
        print(f"ERROR: {error.splitlines()[0] if error else error}")
    missed = [f for f in report.figures if f.goal and f.met is False]
    print(
        f"\n{len(report.figures)} figures, {len(missed)} goals missed, {len(report.errors)} errors "
        f"-> {path.relative_to(BASE_DIR)}"
    )
    return 1 if broken or report.errors else 0


def _forget_redis_queue() -> None:
    """Delete the run's own django-q2 queue from Redis, if the Redis broker was used."""
    url, name = os.environ.get("REDIS_URL"), os.environ.get("Q_CLUSTER_NAME", "")
    if not url or not name.startswith("crier-bench-"):
        return
    try:
        import redis

        redis.Redis.from_url(url).delete(f"django_q:{name}:q", name)
    except Exception:  # noqa: BLE001 - best effort
        pass


__all__ = ["Bench", "main"]
