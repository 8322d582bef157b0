"""Crier's own face in a real browser: the list at 1400 px, Duplicate and bulk Withdraw, a
legible calendar in light and dark mode, the reject-needs-a-comment error by its box, and
screenshots of the main pages in both modes (tests/screenshots/face_*.png).

The data is the demo's (``manage.py seed_demo``, as ``make run`` seeds it): a draft, a
campaign in review and an approved broadcast, with the demo's users and passwords.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from approvals.services import campaign_reject
from campaigns.models import Campaign, CampaignStatus, Delivery, Dispatch, DispatchStatus
from campaigns.sending.operations import sending_stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

DRAFT = "Welcome bonus — Alipay+ VIPs"
IN_REVIEW = "Weekly digest — Jiguang beta testers"
APPROVED = "New listing — Binance broadcast"

# WCAG 2.x contrast of every text in ``selector`` against the first opaque background
# behind it (the element's own opacity and its ancestors' blend the text into it).
CONTRASTS_JS = """
(selector) => {
  const parse = (s) => {
    const p = s.match(/rgba?\\(([^)]+)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0.5) return c;
    }
    return parse(getComputedStyle(document.body).backgroundColor);
  };
  const found = [];
  for (const el of document.querySelectorAll(selector)) {
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
    if (!own || !el.getClientRects().length) continue;
    const bg = background(el);
    const text = parse(getComputedStyle(el).color);
    let opacity = text.a;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    const fg = {r: text.r * opacity + bg.r * (1 - opacity), g: text.g * opacity + bg.g * (1 - opacity),
                b: text.b * opacity + bg.b * (1 - opacity)};
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    found.push({text: own.slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05),
                color: getComputedStyle(el).color, background: `rgb(${bg.r}, ${bg.g}, ${bg.b})`});
  }
  return found;
}
"""


@pytest.fixture
def demo(db):
    """The demo, plus a past occurrence of the broadcast that partly failed (for the
    report's and the list's progress), written as the engine leaves its ledger."""
    call_command("seed_demo", stdout=io.StringIO())
    campaigns = {c.name: c for c in Campaign.objects.all()}
    due = timezone.now() - dt.timedelta(hours=3)
    dispatch = Dispatch.objects.create(
        campaign=campaigns[APPROVED], due_at=due, status=DispatchStatus.PARTIALLY_FAILED, total_requests=4,
        delivered=3, failed=1, started_at=due, finished_at=due + dt.timedelta(minutes=2),
    )
    for n, (status, code) in enumerate([("delivered", ""), ("delivered", ""), ("delivered", ""),
                                        ("failed", "-1001")], start=1):
        Delivery.objects.create(dispatch=dispatch, batch_no=n, idempotency_key=f"face-{n}", status=status,
                                attempts=1, provider_code=code, target_count=1,
                                provider_message="rate limit exceeded" if code else "")
    return campaigns


@pytest.fixture
def sign_in(live_server):
    def sign_in(tab, username: str) -> None:
        tab.context.clear_cookies()
        tab.goto(f"{live_server.url}/admin/login/?next=/admin/")
        tab.fill("#id_username", username)
        tab.fill("#id_password", f"{username}-demo")
        tab.click("input[type=submit]")
        tab.wait_for_url(f"{live_server.url}/admin/")

    return sign_in


def low_contrast(tab, selector: str, minimum: float = 4.5) -> list[dict]:
    checked = tab.evaluate(CONTRASTS_JS, selector)
    assert checked, f"no text found in {selector}"
    return [c for c in checked if c["ratio"] < minimum]


def assert_list_fits(tab) -> None:
    """Neither the page nor the list's own box scrolls sideways (nor clips the table)."""
    page_width, viewport, table_width, box_width = tab.evaluate(
        "() => { const box = document.querySelector('#result_list').parentElement;"
        " return [document.documentElement.scrollWidth, window.innerWidth,"
        " box.scrollWidth, box.clientWidth]; }"
    )
    assert page_width <= viewport, f"the page scrolls sideways: {page_width} > {viewport}"
    assert table_width <= box_width, f"the list scrolls or is clipped in its box: {table_width} > {box_width}"


def expect_message(tab, text: str) -> None:
    tab.locator(".messagelist").get_by_text(re.compile(re.escape(text))).first.wait_for()


def test_the_admin_is_crier_with_its_favicon(page, live_server, sign_in, demo):
    sign_in(page, "marketer")
    assert page.title().endswith("| Crier")
    assert page.inner_text("#site-name").strip() == "Crier"
    icon = page.get_attribute("link[rel=icon]", "href")
    assert page.request.get(f"{live_server.url}{icon}").status == 200
    assert page.request.get(f"{live_server.url}/static/crier/crier.css").status == 200
    root_icon = page.request.get(f"{live_server.url}/favicon.ico")  # follows the redirect
    assert root_icon.status == 200 and root_icon.headers["content-type"].startswith("image/svg")
    # Nothing the page loads comes from another origin (no CDN).
    sources = page.evaluate("[...document.querySelectorAll('link[href], script[src], img[src]')]"
                            ".map(e => e.href || e.src)")
    assert all(s.startswith(live_server.url) or s.startswith("data:") for s in sources), sources


def test_the_campaign_list_fits_1400_px_and_duplicates_and_withdraws_in_bulk(
    page, live_server, sign_in, screenshot, demo
):
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    assert_list_fits(page)
    assert page.locator(f"tr:has-text('{IN_REVIEW}') .crier-badge").inner_text() == "In review"
    approved = Campaign.objects.get(pk=demo[APPROVED].pk)
    assert page.inner_text(f"tr:has-text('{APPROVED}') .crier-zone") == approved.timezone
    screenshot(page, "face_campaign_list_1400")

    # Duplicate the draft: a new draft named "Copy of …", the original untouched.
    page.locator(f"tr:has-text('{DRAFT}') input.action-select").check()
    page.select_option("select[name=action]", "duplicate_selected")
    page.click("button[name=index]")
    expect_message(page, f"Duplicated as new drafts: {DRAFT}.")
    copy = Campaign.objects.get(name=f"Copy of {DRAFT}")
    assert copy.status == CampaignStatus.DRAFT and copy.created_by.username == "marketer"
    assert Campaign.objects.get(pk=demo[DRAFT].pk).status == CampaignStatus.DRAFT

    # Withdraw the campaign in review together with a draft: one withdrawn, the other refused.
    page.locator(f"tr:has-text('{IN_REVIEW}') input.action-select").check()
    page.locator(f"tr:has-text('Copy of {DRAFT}') input.action-select").check()
    page.select_option("select[name=action]", "withdraw_selected")
    page.click("button[name=index]")
    expect_message(page, f"Withdrawn from review: {IN_REVIEW}.")
    expect_message(page, f"Copy of {DRAFT}: refused:")
    assert Campaign.objects.get(pk=demo[IN_REVIEW].pk).status == CampaignStatus.DRAFT
    assert_list_fits(page)
    screenshot(page, "face_campaign_list_bulk_withdraw")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_calendar_and_the_list_are_legible(page, live_server, sign_in, screenshot, demo, scheme):
    page.emulate_media(color_scheme=scheme)
    sign_in(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/calendar/")
    assert page.locator("#calendar li.occurrence").count() >= 2  # the approved and the in-review one
    assert low_contrast(page, "#calendar li, #calendar li *, #calendar .day, .calendar-legend span") == []
    screenshot(page, f"face_calendar_{scheme}")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    assert_list_fits(page)  # at 1360 px too
    texts = "#result_list .crier-badge, #result_list td, #result_list td a, .crier-progress *"
    assert low_contrast(page, texts) == []
    assert page.inner_text(f"tr:has-text('{APPROVED}') .crier-progress .count") == "4 / 4"
    screenshot(page, f"face_campaign_list_{scheme}")


def test_reject_without_a_comment_is_said_by_the_comment_box(page, live_server, sign_in, screenshot, demo):
    sign_in(page, "reviewer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{demo[IN_REVIEW].pk}/review/")
    page.click("button[value=reject]")
    error = page.locator("#comment-error")
    error.wait_for()
    assert "a rejection must tell the author what to change" in error.inner_text()
    # The error sits right above the box, not at the top of the page.
    box = page.locator("#id_comment").bounding_box()
    said = error.bounding_box()
    assert 0 <= box["y"] - (said["y"] + said["height"]) < 40
    assert page.locator(".messagelist").count() == 0
    assert Campaign.objects.get(pk=demo[IN_REVIEW].pk).status == CampaignStatus.IN_REVIEW
    reject = page.locator("button[value=reject]")
    assert "danger" in reject.get_attribute("class")
    screenshot(page, "face_review_reject_needs_comment")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_the_main_pages(page, live_server, sign_in, screenshot, demo, scheme):
    page.emulate_media(color_scheme=scheme)
    base = live_server.url
    sign_in(page, "reviewer")
    assert low_contrast(page, ".crier-dashboard .tag, .crier-dashboard td") == []
    screenshot(page, f"face_dashboard_{scheme}")
    page.goto(f"{base}/admin/campaigns/campaign/{demo[IN_REVIEW].pk}/review/")
    assert page.locator("button[value=approve].crier-button.default").count() == 1
    screenshot(page, f"face_review_{scheme}")
    page.goto(f"{base}/admin/campaigns/campaign/{demo[APPROVED].pk}/report/")
    screenshot(page, f"face_report_{scheme}")
    page.goto(f"{base}/admin/campaigns/delivery/")
    assert page.locator("#result_list tbody tr").count() == 4  # real sends, and the campaign named
    assert APPROVED in page.inner_text("#result_list")
    screenshot(page, f"face_deliveries_{scheme}")
    # A campaign in review is read-only for a reviewer: no Save buttons.
    page.goto(f"{base}/admin/campaigns/campaign/{demo[IN_REVIEW].pk}/change/")
    assert page.locator("input[name=_save], input[name=_continue]").count() == 0
    screenshot(page, f"face_campaign_in_review_readonly_{scheme}")
    page.goto(f"{base}/admin/campaigns/dispatch/")
    sidebar = page.inner_text("#nav-sidebar")
    assert "Dispatches" in sidebar and "Dispatchs" not in sidebar


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_banners_and_the_emergency_stop_read_in_both_modes(
    page, live_server, sign_in, screenshot, demo, scheme
):
    users = get_user_model().objects
    reviewer = users.get(username="reviewer")
    campaign_reject(campaign=demo[IN_REVIEW], actor=reviewer, comment="Say which offers.")
    sending_stop(actor=users.get(username="operator"), reason="checking the provider's outage")
    page.emulate_media(color_scheme=scheme)

    sign_in(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{demo[IN_REVIEW].pk}/change/")
    assert low_contrast(page, "#rejection-banner, #rejection-banner *") == []
    screenshot(page, f"face_rejected_banner_{scheme}")

    sign_in(page, "operator")
    page.goto(f"{live_server.url}/admin/campaigns/dispatch/")
    assert "Sending is STOPPED" in page.inner_text(".crier-switch.stopped")
    assert low_contrast(page, ".crier-switch, .crier-switch *") == []
    assert_list_fits(page)
    screenshot(page, f"face_emergency_stop_{scheme}")


BADGE_LOOK_JS = """(el) => { const s = getComputedStyle(el);
  return [el.className, el.innerText, s.backgroundColor, s.color, s.borderRadius]; }"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_review_and_report_pages_show_statuses_as_the_lists_badges(
    page, live_server, sign_in, screenshot, demo, scheme
):
    page.emulate_media(color_scheme=scheme)
    base = live_server.url
    sign_in(page, "reviewer")
    page.goto(f"{base}/admin/campaigns/campaign/")
    in_list = {
        name: page.locator(f"#result_list tr:has-text('{name}') .crier-badge").evaluate(BADGE_LOOK_JS)
        for name in (IN_REVIEW, APPROVED)
    }
    page.goto(f"{base}/admin/campaigns/dispatch/")
    dispatch_in_list = page.locator("#result_list .crier-badge[data-status=partially_failed]").evaluate(
        BADGE_LOOK_JS
    )

    page.goto(f"{base}/admin/campaigns/campaign/{demo[IN_REVIEW].pk}/review/")
    assert page.locator("#content-main .crier-badge").first.evaluate(BADGE_LOOK_JS) == in_list[IN_REVIEW]
    assert low_contrast(page, "#content-main .crier-badge") == []
    page.locator("#content-main .crier-badge").first.scroll_into_view_if_needed()
    screenshot(page, f"badges_review_{scheme}")

    page.goto(f"{base}/admin/campaigns/campaign/{demo[APPROVED].pk}/report/")
    badges = page.locator("#content-main .crier-badge")
    assert badges.first.evaluate(BADGE_LOOK_JS) == in_list[APPROVED]
    looks = [badges.nth(i).evaluate(BADGE_LOOK_JS) for i in range(badges.count())]
    assert dispatch_in_list in looks[1:]  # the occurrence's status in the report's tables
    assert low_contrast(page, "#content-main .crier-badge") == []
    screenshot(page, f"badges_report_{scheme}")
