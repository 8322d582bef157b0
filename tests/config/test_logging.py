"""CRIER_LOG_FORMAT=json: one JSON object a line, with the campaign and dispatch ids as keys."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import Dispatch, DispatchStatus
from campaigns.sending.run import end_without_sending
from tests.campaigns.conftest import (  # noqa: F401  (fixtures)
    approved_campaign,
    make_account,
    make_audience,
    template,
)
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

SCRIPT = r"""
import logging, django
django.setup()
log = logging.getLogger("campaigns.sending.run")
log.info("dispatch %s sent: %s", 7, "Grüße\nsecond line", extra={"dispatch_id": 7, "campaign_id": 3})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("tick failed")
logging.getLogger("django.request").warning("a warning from Django")
"""


def _run(log_format: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CRIER_ENV_FILE="",
        DEBUG="1",
        CRIER_LOG_FORMAT=log_format,
    )
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_format_writes_one_object_a_line_with_the_ids():
    out = _run("json")
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one whole JSON object
    assert len(records) == 3
    sent, failed, django_warning = records
    assert sent["message"] == "dispatch 7 sent: Grüße\nsecond line"  # the newline stays inside
    assert (sent["level"], sent["logger"]) == ("INFO", "campaigns.sending.run")
    assert (sent["dispatch_id"], sent["campaign_id"]) == (7, 3)
    assert sent["time"].endswith("+00:00")  # ISO 8601, UTC
    assert failed["level"] == "ERROR" and "ZeroDivisionError" in failed["exc_info"]
    assert django_warning["logger"] == "django.request"


def test_plain_format_stays_the_default_for_people():
    out = _run("plain")
    assert out.returncode == 0, out.stderr
    assert "INFO campaigns.sending.run dispatch 7 sent" in out.stderr
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.stderr.splitlines()[0])


def test_an_unknown_format_is_refused_at_start():
    out = _run("xml")
    assert out.returncode != 0
    assert "CRIER_LOG_FORMAT='xml' is not 'plain' or 'json'" in out.stderr


@pytest.mark.django_db
def test_the_engine_logs_a_dispatch_with_its_ids(make_account, approved_campaign, caplog):  # noqa: F811
    """A dispatch ended before sending is logged with dispatch_id and campaign_id as keys."""
    account, _ = make_account("jiguang")
    campaign = approved_campaign(account, make_audience())
    dispatch = Dispatch.objects.create(
        campaign=campaign,
        due_at=timezone.now(),
        status=DispatchStatus.RUNNING,
        claimed_by="worker-1",
        heartbeat_at=timezone.now(),
    )
    with caplog.at_level(logging.INFO, logger="campaigns.sending.run"):
        end_without_sending(dispatch, "worker-1", DispatchStatus.EXPIRED, "past its expiry")
    (record,) = [r for r in caplog.records if r.name == "campaigns.sending.run"]
    conf = dict(settings.LOGGING["formatters"]["json"])
    formatter = conf.pop("()").rsplit(".", 1)
    cls = getattr(__import__(formatter[0], fromlist=[formatter[1]]), formatter[1])
    line = cls(**conf).format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert (data["dispatch_id"], data["campaign_id"]) == (dispatch.pk, campaign.pk)
    assert data["message"] == f"dispatch {dispatch.pk} expired: past its expiry"
