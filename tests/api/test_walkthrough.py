"""The whole flow over HTTP with tokens, as the README's curl walk-through does it.

An operator configures a Jiguang account pointing at the Jiguang emulator; a marketer
creates a template, recipients, an audience and a campaign and submits it; approving it
herself is refused (four-eyes, even though she holds the reviewer permission); a reviewer
approves; the dispatcher and the dispatch task run in-process (instead of a qcluster) and
the emulator receives the messages; the deliveries are read back over the API.
"""

from __future__ import annotations

import pytest

from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from tests.api.conftest import quick_user, token_client
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

CHANNEL_KEY = "walkthrough-channel"
MASTER_SECRET = "walkthrough-master-secret"
USERS = [f"user_{n:03d}" for n in range(1, 6)]


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()


def test_a_campaign_goes_from_draft_to_the_provider_over_the_api(start_emulator):  # noqa: F811
    emulator = start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET})
    operator = token_client(quick_user("olga", "Operators"))
    # The marketer also reviews, so the refusal below is the four-eyes rule, not a missing permission.
    marketer = token_client(quick_user("mia", "Marketing", "Reviewers"))
    reviewer = token_client(quick_user("rex", "Reviewers"))

    account = ok(
        operator.post(
            "/api/v1/provider-accounts/",
            {
                "name": "Jiguang (emulator)",
                "kind": "jiguang",
                "base_url": emulator.url,
                "sandbox": True,
                "rate_limit": 100,
                "enabled": True,
                "credentials": {"channel_key": CHANNEL_KEY, "master_secret": MASTER_SECRET},
            },
            format="json",
        ),
        201,
    )
    assert account["credentials_set"] == {"channel_key": True, "master_secret": True}
    assert ok(operator.post(f"/api/v1/provider-accounts/{account['id']}/check/"))["ok"] is True

    template = ok(
        marketer.post(
            "/api/v1/templates/",
            {
                "key": "welcome",
                "status": "active",
                "variants": [{"language": "en", "title": "Hi ${name}", "body": "Your bonus: ${bonus}"}],
                "provider_refs": {"jiguang": "1001"},
            },
            format="json",
        ),
        201,
    )
    rows = [{"external_id": uid, "language": "en", "addresses": {"jiguang": uid}} for uid in USERS]
    imported = ok(marketer.post("/api/v1/recipients/bulk/", rows, format="json"))
    assert imported["created"] == len(USERS) and not imported["errors"]
    audience = ok(
        marketer.post(
            "/api/v1/audiences/",
            {"name": "Early users", "kind": "users", "user_ids": USERS},
            format="json",
        ),
        201,
    )

    campaign = ok(
        marketer.post(
            "/api/v1/campaigns/",
            {
                "name": "Welcome bonus",
                "template": template["id"],
                "provider_account": account["id"],
                "audience": audience["id"],
                "language": "en",
                "parameters": {"name": "friend", "bonus": "10 USDT"},
                "schedule": {"kind": "now", "timezone": "Europe/Berlin"},
            },
            format="json",
        ),
        201,
    )
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert ok(marketer.post(f"{url}/submit/"))["status"] == "in_review"

    refused = marketer.post(f"{url}/approve/", {"comment": "looks fine to me"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("four-eyes rule: 'mia' created and submitted campaign")
    approved = ok(reviewer.post(f"{url}/approve/", {"comment": "approved"}, format="json"))
    assert approved["status"] == "approved"

    created = dispatcher_tick()
    assert len(created) == 1
    while dispatch_run(created[0]) == "continue":
        pass

    assert sorted(emulator.app.counts_by_target()) == USERS
    [dispatch] = ok(marketer.get(f"{url}/dispatches/"))["results"]
    assert dispatch["status"] == "sent"
    assert (dispatch["total_recipients"], dispatch["delivered"], dispatch["failed"]) == (5, 1, 0)
    deliveries = ok(marketer.get(f"/api/v1/dispatches/{dispatch['id']}/deliveries/"))
    assert [d["status"] for d in deliveries["results"]] == ["delivered"]
    detail = ok(marketer.get(f"/api/v1/deliveries/{deliveries['results'][0]['id']}/"))
    assert sorted(detail["targets"]) == USERS and detail["attempt_log"][0]["outcome"] == "delivered"
    assert ok(marketer.get(f"{url}/"))["status"] == "sent"
