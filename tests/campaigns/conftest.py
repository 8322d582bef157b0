"""Fixtures for the send engine (emulators, ready-to-send campaigns, real qcluster processes)
and for the campaigns API tests (an authenticated client, a draft's parts and its payload)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Audience, AudienceMember, Campaign, CampaignStatus
from providers.models import ProviderAccount
from templates_registry.selectors import current_version
from templates_registry.services import template_create
from tests.approvals import factories
from tests.providers.conftest import start_emulator  # noqa: F401  (re-exported fixture)

BASE_DIR = Path(settings.BASE_DIR)


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


_RSA_PEM: list[str] = []


def rsa_pem() -> str:
    """Return one RSA key for the whole session (generating keys is slow)."""
    if not _RSA_PEM:
        _RSA_PEM.append(_rsa_pem())
    return _RSA_PEM[0]


# kind -> (credentials stored on the account, the emulator's credentials mapping, settings)
def account_setup(kind: str) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    if kind == "binance":
        return (
            {"access_key": "ak-test", "secret_key": "sk-test-secret-0123456789abcdef0123456789"},
            {"ak-test": "sk-test-secret-0123456789abcdef0123456789"},
            {},
        )
    if kind == "alipayplus":
        pem = rsa_pem()
        return {"client_id": "client-test", "private_key": pem}, {"client-test": pem}, {}
    if kind == "mpaas":
        return (
            {"access_key_id": "akid-test", "access_key_secret": "aks-test-secret"},
            {"akid-test": "aks-test-secret"},
            {"workspace_id": "default", "delivery_type": 1, "region": "cn-hangzhou"},
        )
    if kind == "jiguang":
        return (
            {"channel_key": "ck-test", "master_secret": "ms-test-secret"},
            {"ck-test": "ms-test-secret"},
            {},
        )
    raise KeyError(kind)


@pytest.fixture
def make_account(start_emulator):  # noqa: F811
    """Return ``make(kind, **fields) -> (account, emulator_server)`` against a fresh emulator."""

    def make(kind: str, **fields: Any):
        stored, emulated, extra = account_setup(kind)
        server = start_emulator(kind, emulated)
        account = ProviderAccount(
            name=f"{kind} test {ProviderAccount.objects.count() + 1}",
            kind=kind,
            base_url=server.url,
            sandbox=True,  # an emulator (docs/providers.md §7)
            app_id=fields.pop("app_id", "app-test-1"),
            settings={**extra, **fields.pop("settings", {})},
            rate_limit=fields.pop("rate_limit", 1000),
            max_concurrency=fields.pop("max_concurrency", 10),
            timeout_seconds=fields.pop("timeout_seconds", 5),
            **fields,
        )
        account.set_credentials(stored)
        account.save()
        return account, server

    return make


@pytest.fixture
def template(db):
    return template_create(
        key="promo",
        default_language="en",
        status="active",
        variants=[
            {"language": "en", "title": "Hello ${name}", "body": "Your bonus: ${bonus}"},
            {"language": "zh-CN", "title": "你好 ${name}", "body": "奖励：${bonus}"},
            {"language": "es", "title": "Hola ${name}", "body": "Tu bono: ${bonus}"},
        ],
        provider_refs={
            "binance": "1344001",
            "alipayplus": "TP_5800000001",
            "mpaas": "promoTemplate",
            "jiguang": "1001",
        },
    )


def make_recipients(
    n: int, *, prefix: str = "u", kind: str = "alipayplus", tags: tuple[str, ...] = ()
) -> list[str]:
    """Create ``n`` recipients with an address for ``kind``; return their external ids."""
    from campaigns.audiences.recipients import recipients_bulk_upsert

    ids = [f"{prefix}{i:06d}" for i in range(n)]
    rows = (
        {"external_id": x, "language": "en", "tags": list(tags), "addresses": {kind: f"tok_{x}"}} for x in ids
    )
    report = recipients_bulk_upsert(actor=None, rows=rows)
    assert not report.errors, report.errors[:3]
    return ids


def make_audience(
    kind: str = "all", *, name: str = "", user_ids=(), suppressed=(), tags=(), segment=""
) -> Audience:
    audience = Audience.objects.create(
        name=name or f"aud-{Audience.objects.count() + 1}", kind=kind, tags=list(tags), segment=segment
    )
    AudienceMember.objects.bulk_create(
        [AudienceMember(audience=audience, external_id=x) for x in user_ids]
        + [AudienceMember(audience=audience, external_id=x, suppressed=True) for x in suppressed]
    )
    return audience


@pytest.fixture
def approved_campaign(template, make_user) -> Callable[..., Campaign]:
    """Return ``make(account, audience, **fields)``: a campaign approved at its current hash.

    The approval is set directly (status, hash, next_due_at): the approval flow itself
    is tested in tests/approvals; here it is only the precondition of a send.
    """
    author = make_user("author", "Marketing")

    def make(account: ProviderAccount, audience: Audience, *, due=None, **fields: Any) -> Campaign:
        from campaigns.snapshot import campaign_hash

        campaign = Campaign.objects.create(
            name=fields.pop("name", f"campaign {Campaign.objects.count() + 1}"),
            template=template,
            template_version=current_version(template),
            provider_account=account,
            audience=audience,
            language="en",
            parameters=fields.pop("parameters", {"name": "Ada", "bonus": "10 USDT"}),
            created_by=author,
            **fields,
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            status=CampaignStatus.APPROVED,
            approved_hash=campaign_hash(campaign),
            next_due_at=due or timezone.now(),
        )
        campaign.refresh_from_db()
        return campaign

    return make


def test_database_url() -> str:
    """Return a DATABASE_URL for the database the tests run on (for subprocesses)."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  (not a test)


class Cluster:
    """A real ``manage.py qcluster`` process against the test database."""

    def __init__(self, proc: subprocess.Popen, log: Path) -> None:
        self.proc = proc
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole cluster (main process and workers): a machine dying."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the main process only: graceful drain
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def race_ticks(n: int) -> None:
    """Run ``n`` dispatcher ticks at once, each on a thread with its own connections (a burst
    of duplicate ticker tasks racing the clusters' ticker loops for the same occurrences)."""
    from campaigns.sending.ticker import dispatcher_tick

    def tick() -> None:
        try:
            dispatcher_tick()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


_RUNNING: list[Cluster] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the logs of the test's qcluster processes to a failure report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _RUNNING:
        for i, cluster in enumerate(_RUNNING):
            report.sections.append((f"qcluster {i} log (tail)", cluster.output()[-6000:]))


@pytest.fixture
def qcluster(tmp_path) -> Iterator[Callable[..., Cluster]]:
    """Return ``start(**env) -> Cluster`` running real qcluster processes; all stop at teardown."""
    clusters: list[Cluster] = []

    def empty_queue() -> None:
        # Tasks an earlier test left in Redis (the ORM broker's queue is flushed with the
        # database) would run in this test's clusters: start and end with an empty queue.
        if settings.REDIS_URL:
            from django_q.brokers import get_broker

            get_broker().delete_queue()

    empty_queue()

    def start(**env_overrides: str) -> Cluster:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(
            CRIER_ENV_FILE="",
            DEBUG="0",
            SECRET_KEY=settings.SECRET_KEY,
            CRIER_FIELD_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
            CRIER_ALLOW_SANDBOX_ACCOUNTS="1",  # the accounts are emulators' (DEBUG is off)
            DATABASE_URL=test_database_url(),
            CRIER_DISPATCH_TICK_SECONDS="0.2",
            # Short ticker loops, so a graceful stop does not wait for a long one to end.
            CRIER_TICKER_SECONDS="3",
            CRIER_STALE_DISPATCH_SECONDS="4",
            CRIER_RETRY_BASE_SECONDS="0.05",
            CRIER_RETRY_MAX_SECONDS="0.5",
            Q_WORKERS="3",
            Q_LOG_LEVEL="INFO",
            Q_CLUSTER_NAME=settings.Q_CLUSTER["name"],
        )
        if settings.REDIS_URL:
            env["REDIS_URL"] = settings.REDIS_URL
        env.update(env_overrides)
        log = tmp_path / f"qcluster-{len(clusters)}.log"
        proc = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        cluster = Cluster(proc, log)
        clusters.append(cluster)
        _RUNNING.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()
    _RUNNING.clear()
    empty_queue()


@pytest.fixture
def far_future():
    return timezone.now() + timedelta(days=1)


# --- the campaigns API tests: a client, a draft's parts and the body that creates one ----


def client_for(user) -> APIClient:
    """Return an API client authenticated as ``user``."""
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def sale_template(db):
    return factories.make_template("sale")


@pytest.fixture
def account(db):
    return factories.make_account("alipayplus")


@pytest.fixture
def audience(db):
    return factories.make_audience("users")


@pytest.fixture
def payload(sale_template, account, audience) -> dict:
    """The body of ``POST /api/v1/campaigns/`` for a valid draft sent now."""
    return {
        "name": "Spring sale",
        "template": sale_template.pk,
        "provider_account": account.pk,
        "audience": audience.pk,
        "language": "en",
        "parameters": {"name": "Ada", "pct": "20"},
        "path": "/sale",
        "expired_seconds": 3600,
        "priority": 2,
        "test_uids": ["tester-1"],
        "provider_options": {},
        "schedule": {"kind": "now", "timezone": "Europe/Berlin"},
    }
