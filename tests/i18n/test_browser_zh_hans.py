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

from approvals.services import campaign_approve, campaign_submit
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
