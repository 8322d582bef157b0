"""Production smoke test (`make prod-smoke`, run by .ci/run): Crier as the image runs it.

Outside a container (none can run where CI runs), with DEBUG=0, PostgreSQL (a database of
its own, dropped at the end) and Redis (db 14, flushed), this starts what
``scripts/entrypoint.sh`` starts in the image — ``migrate``, ``web`` (collectstatic, then
gunicorn) and ``worker`` (qcluster) — plus the provider emulators, and checks:

1. ``/admin/login/`` answers 200 with a Content-Security-Policy, and every stylesheet it
   links answers 200 as CSS under a hashed name, compressed (WhiteNoise);
2. ``/healthz`` and ``/readyz`` answer 200 over plain HTTP (exempt from the SSL redirect);
3. ``/healthz/dispatcher`` answers 200 once the worker runs;
4. an approved campaign (the demo's Alipay+ one, submitted and approved over the API by two
   people) is sent to the emulator, every request accepted;
5. ``/metrics`` answers 401 without the token and with a wrong one, and with the token shows
   the worker's deliveries of that campaign (multi-process metrics reach the web process);
6. SIGTERM stops the worker within 10 s, after which ``/healthz/dispatcher`` answers 503,
   and SIGTERM stops the web server within 10 s;
7. every line the web server and the worker logged is one JSON object (CRIER_LOG_FORMAT=json).

Exits non-zero naming the failed check, with the tails of the processes' logs. Everything it
started is stopped and its database dropped, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
ENTRYPOINT = BASE_DIR / "scripts" / "entrypoint.sh"
PG = os.environ.get("CRIER_SMOKE_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("CRIER_SMOKE_REDIS", "redis://127.0.0.1:6379/14")
STOP_BOUND = 10.0  # seconds: `docker stop` and many orchestrators SIGKILL after 10 s (issue 19)
TICKER_MAX_AGE = 15  # /healthz/dispatcher's bound here, so a stopped worker shows within seconds
CAMPAIGN = "Welcome bonus — Alipay+ VIPs"  # approvals/demo.py: a draft, due as soon as approved


class SmokeFailure(Exception):
    pass


def check(condition: Any, what: str) -> None:
    if not condition:
        raise SmokeFailure(what)


STARTED = time.monotonic()


def step(text: str) -> None:
    print(f"-- {time.monotonic() - STARTED:5.1f} s  {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Http:
    """A tiny client: plain HTTP to 127.0.0.1, never following redirects."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(self._NoRedirect)

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        data = None
        headers = {"Host": "localhost", **(headers or {})}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=15) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()

    def get(self, path: str, **kwargs) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, **kwargs)


class StylesheetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.hrefs.append(a["href"])


class Smoke:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="crier-smoke-"))
        self.db = f"crier_smoke_{os.getpid()}"
        self.procs: dict[str, subprocess.Popen] = {}
        # Failures that do not stop the later checks from running (a slow stop).
        self.failures: list[str] = []
        self.logs: dict[str, Path] = {}
        self.web_port = free_port()
        self.emulator_port = free_port()
        from cryptography.fernet import Fernet

        self.metrics_token = secrets.token_urlsafe(24)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
        for name in ("REDIS_URL", "DATABASE_URL", "STATIC_ROOT", "PROMETHEUS_MULTIPROC_DIR"):
            self.env.pop(name, None)
        (self.tmp / "prometheus").mkdir()
        self.env.update(
            PYTHON=sys.executable,
            CRIER_ENV_FILE="",
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            CRIER_FIELD_KEYS=Fernet.generate_key().decode(),
            ALLOWED_HOSTS="localhost,127.0.0.1",
            # As behind a TLS proxy: the proxy says https, the probes come in plain HTTP.
            BEHIND_TLS_PROXY="1",
            DATABASE_URL=f"{PG}/{self.db}",
            REDIS_URL=REDIS_URL,
            Q_CLUSTER_NAME=f"crier-smoke-{os.getpid()}",
            Q_WORKERS="2",
            STATIC_ROOT=str(self.tmp / "static"),
            PORT=str(self.web_port),
            HOST="127.0.0.1",
            WEB_CONCURRENCY="2",
            CRIER_LOG_FORMAT="json",
            Q_LOG_LEVEL="INFO",  # so the worker logs enough for the JSON check to read
            CRIER_TICKER_MAX_AGE_SECONDS=str(TICKER_MAX_AGE),
            CRIER_METRICS_TOKEN=self.metrics_token,
            PROMETHEUS_MULTIPROC_DIR=str(self.tmp / "prometheus"),
            CRIER_ALIPAYPLUS_PLATFORM_KEY=str(self.tmp / "alipayplus-platform-key.pem"),
            CRIER_EMULATOR_HOST="127.0.0.1",
            # The demo accounts are sandbox accounts (they send to the emulators), refused
            # with DEBUG off unless allowed (docs/providers.md, "Pinned hosts").
            CRIER_ALLOW_SANDBOX_ACCOUNTS="1",
            # Ports of this run's own: other emulators may hold the default ones.
            CRIER_EMULATOR_ALIPAYPLUS_PORT=str(self.emulator_port),
            CRIER_EMULATOR_BINANCE_PORT=str(free_port()),
            CRIER_EMULATOR_MPAAS_PORT=str(free_port()),
            CRIER_EMULATOR_JIGUANG_PORT=str(free_port()),
        )
        self.http = Http(self.web_port)

    # --- processes --------------------------------------------------------------------------
    def run(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run(
            [str(ENTRYPOINT), *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode:
            raise SmokeFailure(
                f"{' '.join(args)} exited {out.returncode}:\n{out.stdout[-3000:]}{out.stderr[-3000:]}"
            )
        return out.stdout

    def manage(self, *args: str) -> str:
        return self.run(sys.executable, "manage.py", *args)

    def start(self, name: str, *args: str, **env: str) -> None:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        self.procs[name] = subprocess.Popen(
            [str(ENTRYPOINT), *args],
            cwd=BASE_DIR,
            env={**self.env, **env},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: killed whole if it will not stop
        )

    def sigterm(self, name: str) -> float:
        """SIGTERM the process itself (as `docker stop` does to PID 1); return how long it took."""
        proc = self.procs[name]
        check(proc.poll() is None, f"{name} was no longer running before SIGTERM")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        return time.monotonic() - started

    def tails(self) -> str:
        parts = []
        for name, log in self.logs.items():
            text = log.read_text(errors="replace") if log.exists() else ""
            parts.append(f"==== {name} log (tail)\n{text[-4000:]}")
        return "\n".join(parts)

    # --- database ---------------------------------------------------------------------------
    def psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def redis_flush(self) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()

    def cleanup(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            print(f"   {name} stopped", flush=True)
        try:
            self.psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            self.redis_flush()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the checks -------------------------------------------------------------------------
    def prepare(self) -> None:
        step(f"database {self.db}, Redis {REDIS_URL}")
        self.psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{self.db}"')
        self.redis_flush()
        step("entrypoint.sh migrate")
        self.run("migrate", timeout=300)

    def start_all(self) -> None:
        step("entrypoint.sh web and worker; meanwhile the demo data, then the emulators")
        self.start("web", "web")
        self.start("worker", "worker")
        # One Django start for both: the demo, and its Alipay+ account sent to this run's emulator.
        self.manage(
            "shell",
            "-c",
            "from django.core.management import call_command; call_command('seed_demo');"
            "from providers.models import ProviderAccount as A;"
            f"A.objects.filter(name='Alipay+ demo').update(base_url='http://127.0.0.1:{self.emulator_port}')",
        )
        # The emulators read the accounts' credentials when they start: after the demo.
        self.start("emulators", "emulators")
        wait_for(lambda: self.http.get("/healthz")[0] == 200, timeout=90, what="the web server")
        emulator = Http(self.emulator_port)
        wait_for(lambda: emulator.get("/_emulator/counts")[0] == 200, timeout=30, what="the emulators")

    def static_files(self) -> None:
        step("/admin/login/ links CSS that answers 200 (hashed, compressed), under the CSP")
        https = {"X-Forwarded-Proto": "https"}
        status, headers, body = self.http.get("/admin/login/", headers=https)
        check(status == 200, f"/admin/login/ answered {status}")
        csp = headers.get("content-security-policy", "")
        check("script-src 'self'" in csp, f"/admin/login/ has no Content-Security-Policy: {csp!r}")
        parser = StylesheetLinks()
        parser.feed(body.decode())
        check(parser.hrefs, "/admin/login/ links no stylesheet")
        for href in parser.hrefs:
            check(href.startswith("/static/"), f"stylesheet {href} is not served by this origin")
            check(re.search(r"\.[0-9a-f]{12}\.css$", href), f"stylesheet {href} has no hashed name")
            status, headers, css = self.http.get(href, headers={**https, "Accept-Encoding": "gzip"})
            check(status == 200, f"{href} answered {status}")
            check(headers.get("content-type", "").startswith("text/css"), f"{href} is not CSS")
            check(headers.get("content-encoding") == "gzip" and css, f"{href} was not served compressed")
            check("immutable" in headers.get("cache-control", ""), f"{href} is not cached as immutable")
        status, headers, _ = self.http.get("/admin/login/")
        check(status == 301 and headers["location"].startswith("https://"), "plain HTTP is not redirected")

    def probes(self) -> None:
        step("/healthz and /readyz answer 200 over plain HTTP")
        for path in ("/healthz", "/readyz"):
            status, _, body = self.http.get(path)
            check(status == 200, f"{path} answered {status}: {body[:500]!r}")
        self.run("healthcheck")  # compose's health check (entrypoint.sh healthcheck) passes
        checks = json.loads(self.http.get("/readyz")[2])["checks"]
        check(checks["broker"].get("broker") == "redis", f"/readyz did not ping Redis: {checks}")
        step("/healthz/dispatcher answers 200 once the worker runs")
        wait_for(
            lambda: self.http.get("/healthz/dispatcher")[0] == 200, timeout=60, what="/healthz/dispatcher 200"
        )

    def metrics(self) -> None:
        # Scraped through the TLS proxy, as the admin is (the proxy's header says https).
        https = {"X-Forwarded-Proto": "https"}
        step("/metrics answers 401 without the token, and with it shows the worker's deliveries")
        status, _, _ = self.http.get("/metrics", headers=https)
        check(status == 401, f"/metrics without a token answered {status}")
        status, _, _ = self.http.get("/metrics", headers={**https, "Authorization": "Bearer wrong"})
        check(status == 401, f"/metrics with a wrong token answered {status}")
        bearer = {**https, "Authorization": f"Bearer {self.metrics_token}"}
        status, _, body = self.http.get("/metrics", headers=bearer)
        check(status == 200, f"/metrics with the token answered {status}")
        text = body.decode("utf-8", "replace")
        # Observed in the worker process, summed by the web process's scrape.
        check(
            re.search(r'^crier_deliveries_total\{[^}]*provider_kind="alipayplus"[^}]*\} [1-9]', text, re.M),
            "/metrics shows no Alipay+ delivery the worker recorded",
        )
        check(
            re.search(r'^crier_provider_request_seconds_count\{provider_kind="alipayplus"\} [1-9]',
                      text, re.M),
            "/metrics shows no Alipay+ request latency the worker observed",
        )

    def campaign_sent(self) -> None:
        step(f"{CAMPAIGN!r}: submitted by marketer, approved by reviewer over the API, sent")
        marketer = {"Authorization": f"Token {self.manage('issue_token', 'marketer').strip()}"}
        reviewer = {"Authorization": f"Token {self.manage('issue_token', 'reviewer').strip()}"}
        https = {"X-Forwarded-Proto": "https"}
        status, _, body = self.http.get("/api/v1/campaigns/?page_size=100", headers={**marketer, **https})
        check(status == 200, f"the campaign list answered {status}")
        found = [c for c in json.loads(body)["results"] if c["name"] == CAMPAIGN]
        check(found, f"the demo has no campaign {CAMPAIGN!r}")
        cid = found[0]["id"]
        for who, action in ((marketer, "submit"), (reviewer, "approve")):
            status, _, body = self.http.request(
                "POST",
                f"/api/v1/campaigns/{cid}/{action}/",
                headers={**who, **https},
                body={"comment": "smoke"},
            )
            check(status == 200, f"{action} answered {status}: {body[:500]!r}")

        def finished() -> dict | None:
            status, _, body = self.http.get(f"/api/v1/campaigns/{cid}/", headers={**marketer, **https})
            campaign = json.loads(body) if status == 200 else {}
            return campaign if campaign.get("status") in {"sent", "partially_failed", "failed"} else None

        campaign = wait_for(finished, timeout=60, what="the campaign to be sent")
        check(campaign["status"] == "sent", f"the campaign ended {campaign['status']}")
        emulator = Http(self.emulator_port)
        status, _, body = emulator.get("/_emulator/counts")
        check(status == 200, f"the emulator's counts answered {status}")
        by_target = json.loads(body)["by_target"]
        check(by_target, "the emulator accepted no request")
        twice = sorted(t for t, n in by_target.items() if n != 1)
        check(not twice, f"the emulator accepted these targets more than once: {twice}")
        print(f"   sent; the emulator accepted each of {len(by_target)} targets once", flush=True)

    def stops(self) -> None:
        step("SIGTERM: the worker stops within 10 s, then /healthz/dispatcher answers 503")
        took = self.sigterm("worker")
        print(f"   worker stopped in {took:.1f} s", flush=True)
        if took > STOP_BOUND:  # recorded; the checks after it still run
            self.failures.append(
                f"qcluster took {took:.1f} s to stop after SIGTERM "
                f"(bound {STOP_BOUND:.0f} s: issue 19's clean stop)"
            )
        wait_for(
            lambda: self.http.get("/healthz/dispatcher")[0] == 503,
            timeout=TICKER_MAX_AGE + 15,
            what="/healthz/dispatcher 503 after the worker stopped",
        )
        step("SIGTERM: the web server stops within 10 s")
        took = self.sigterm("web")
        print(f"   web stopped in {took:.1f} s", flush=True)
        check(
            took <= STOP_BOUND, f"gunicorn took {took:.1f} s to stop after SIGTERM (bound {STOP_BOUND:.0f} s)"
        )

    def json_logs(self) -> None:
        step("every line web and worker logged is one JSON object")
        for name in ("web", "worker"):
            lines = [
                line for line in self.logs[name].read_text(errors="replace").splitlines() if line.strip()
            ]
            check(lines, f"{name} logged nothing")
            for line in lines:
                try:
                    json.loads(line)
                except ValueError:
                    raise SmokeFailure(f"{name} logged a line that is not JSON: {line[:300]!r}") from None


def main() -> int:
    smoke = Smoke()
    try:
        smoke.prepare()
        smoke.start_all()
        smoke.static_files()
        smoke.probes()
        smoke.campaign_sent()
        smoke.metrics()
        smoke.stops()
        smoke.json_logs()
        if smoke.failures:
            raise SmokeFailure("; ".join(smoke.failures))
    except (SmokeFailure, subprocess.TimeoutExpired) as failure:
        print(f"\nprod-smoke FAILED: {failure}\n\n{smoke.tails()}", file=sys.stderr, flush=True)
        return 1
    finally:
        smoke.cleanup()
    print(f"prod-smoke passed in {time.monotonic() - STARTED:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
