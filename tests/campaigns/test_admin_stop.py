"""The emergency stop in the admin: operators halt and resume all sending."""

from __future__ import annotations

import pytest

from campaigns.models import SendSwitch

pytestmark = pytest.mark.django_db


def test_an_operator_stops_and_resumes_sending_from_the_dispatch_list(client, make_user):
    operator = make_user("op", "Operators")
    client.force_login(operator)
    page = client.get("/admin/campaigns/dispatch/")
    assert page.status_code == 200 and "Emergency stop" in page.content.decode()

    client.post("/admin/campaigns/dispatch/sending/stop/", {"reason": "wrong link"})
    switch = SendSwitch.objects.get(pk=1)
    assert switch.stopped and switch.reason == "wrong link" and switch.changed_by == operator
    page = client.get("/admin/campaigns/dispatch/")
    assert "Sending is STOPPED" in page.content.decode() and "Resume sending" in page.content.decode()

    client.post("/admin/campaigns/dispatch/sending/resume/")
    assert not SendSwitch.objects.get(pk=1).stopped


def test_marketing_sees_the_state_but_cannot_stop_sending(client, marketer):
    client.force_login(marketer)
    page = client.get("/admin/campaigns/dispatch/")
    assert page.status_code == 200
    assert "Sending is running" in page.content.decode()
    assert "Emergency stop" not in page.content.decode()
    assert client.post("/admin/campaigns/dispatch/sending/stop/").status_code == 403
    assert not SendSwitch.objects.filter(stopped=True).exists()
