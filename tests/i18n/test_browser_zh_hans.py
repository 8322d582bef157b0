"""Crier in Simplified Chinese in a real browser (README, "Languages").

Headless Chromium with the locale ``zh-CN`` (tests/i18n/conftest.py) signs in as a reviewer
and walks dashboard -> campaign form -> review page -> report -> calendar, saving
a screenshot of each (tests/screenshots/zh_hans_*.png; Debian's fonts-noto-cjk draws the
characters). Another signs in with an English browser and switches on "My preferences".

The scan (marked ``catalogue``; tests/i18n/scan.py) reads each page's visible text, leaving out data (request
bodies, code, form values, and content an element declares to be in another language with
its ``lang`` attribute, such as the review page's English message card), and looks for the
English text of every msgid of the catalogue: any hit is a string shown untranslated (not
marked in its source, or marked but missing from the catalogue), listed by page.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from audit.services import record_event
from audit.stored_text import english
from campaigns import stored_text
from campaigns.models import Delivery, Dispatch, DispatchStatus
from campaigns.sending.operations import sending_stop
from notifications import errors
from notifications.errors import DeliveryError
from notifications.models import Notification
from tests.approvals.factories import make_campaign
from tests.i18n.scan import english_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

# The text a person reads: text nodes of visible elements, not code, data or form values,
# nor content marked as written in another language (lang="en" on a message's text: data).
VISIBLE_TEXT = """() => {
  const skip = new Set(["SCRIPT", "STYLE", "PRE", "CODE", "TEXTAREA", "NOSCRIPT", "TEMPLATE"]);
  const page = document.documentElement.lang.toLowerCase();
  const foreign = (e) => e !== document.documentElement && e.hasAttribute("lang")
    && e.getAttribute("lang").toLowerCase() !== page;
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let el = node.parentElement, hidden = false;
    for (let e = el; e; e = e.parentElement) {
      if (skip.has(e.tagName) || foreign(e)) { hidden = true; break; }
    }
    if (hidden || !el.getClientRects().length) continue;
    const text = node.textContent.trim();
    if (text) out.push(text);
  }
  return out.join("\\n");
}"""


@pytest.fixture
def campaigns(make_user):
    """A marketer's campaign approved by a reviewer, and one waiting in review."""
    marketer = make_user("marketer", "Marketing")
    reviewer = make_user("reviewer", "Reviewers")
    boss = make_user("boss", "Reviewers", superuser=True)
    approved = make_campaign(marketer, name="双十二大促")
    campaign_submit(campaign=approved, actor=marketer)
    campaign_approve(campaign=approved, actor=reviewer)
    waiting = make_campaign(marketer, name="会员周报")
    campaign_submit(campaign=waiting, actor=marketer)
    return {"approved": approved, "waiting": waiting, "boss": boss}


def walk(tab, base: str, campaigns: dict, screenshot) -> dict[str, str]:
    """Visit the five pages; return each page's visible text by name."""
    pages = {
        "dashboard": "/admin/",
        "campaign_form": "/admin/campaigns/campaign/add/",
        "review": f"/admin/campaigns/campaign/{campaigns['waiting'].pk}/review/",
        "report": f"/admin/campaigns/campaign/{campaigns['approved'].pk}/report/",
        "calendar": "/admin/campaigns/campaign/calendar/",
    }
    texts = {}
    for name, path in pages.items():
        response = tab.goto(f"{base}{path}")
        assert response.status == 200, (name, response.status)
        assert tab.locator("html").get_attribute("lang") == "zh-hans", name
        screenshot(tab, f"zh_hans_{name}")
        texts[name] = tab.evaluate(VISIBLE_TEXT)
    return texts


def test_a_reviewer_with_a_chinese_browser_gets_the_admin_in_chinese(
    zh_page, login, live_server, screenshot, campaigns
):
    login(zh_page, "boss")
    texts = walk(zh_page, live_server.url, campaigns, screenshot)
    assert "修改密码" in texts["dashboard"]  # Django's admin header, through LocaleMiddleware
    assert "双十二大促" in texts["report"]


@pytest.mark.catalogue
def test_no_english_text_of_the_catalogue_remains_on_the_five_pages(
    zh_page, login, live_server, screenshot, campaigns
):
    login(zh_page, "boss")
    texts = walk(zh_page, live_server.url, campaigns, screenshot)
    hits = {name: english_in(text) for name, text in texts.items()}
    hits = {name: found for name, found in hits.items() if found}
    assert not hits, "English text of the catalogue shown untranslated:\n" + "\n".join(
        f"{name}: {found}" for name, found in hits.items()
    )


@pytest.mark.catalogue
def test_what_the_worker_stored_in_english_reads_in_chinese_on_the_operators_pages(
    zh_page, login, live_server, screenshot, campaigns, make_user
):
    """The audit trail, a request left in flight and a failed notification: sentences stored
    in English by the worker (audit/stored_text.py), read by a Chinese browser."""
    approved = campaigns["approved"]
    event = record_event(
        campaign=approved, object_type="campaign", object_id=approved.pk, action="settle",
        reason=english(stored_text.MORE_SCHEDULED, ended=stored_text.OCCURRENCE_HELD),
    )
    dispatch = Dispatch.objects.create(campaign=approved, due_at=timezone.now(), status=DispatchStatus.SENT)
    delivery = Delivery.objects.create(
        dispatch=dispatch, batch_no=1, idempotency_key="zh-walk-1", status="unknown",
        provider_code="WORKER_LOST", provider_message=stored_text.WORKER_LOST,
    )
    operator = make_user("operator", "Operators")
    operator.email = "operator@example.com"
    operator.save(update_fields=["email"])
    sending_stop(actor=operator, reason="核对预算")  # e-mails the operators
    error = DeliveryError.saying(errors.HTTP_STATUS, platform="Slack", status=503)
    Notification.objects.update(status="failed", last_error=str(error))
    login(zh_page, "boss")
    pages = {
        "audit_event": (
            f"/admin/audit/auditevent/{event.pk}/change/",
            "发送场次已暂扣，等待审核人处理；后续还有已排期的发送场次",
        ),
        "delivery": (f"/admin/campaigns/delivery/{delivery.pk}/change/", "此请求发送中时工作进程已停止"),
        "notifications": ("/admin/notifications/notification/", "Slack 返回 HTTP 503"),
    }
    hits = {}
    for name, (path, chinese) in pages.items():
        response = zh_page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (name, response.status)
        screenshot(zh_page, f"zh_hans_{name}")
        text = zh_page.evaluate(VISIBLE_TEXT)
        assert chinese in text, name
        if found := english_in(text):
            hits[name] = found
    assert not hits, f"English text of the catalogue shown untranslated: {hits}"
