"""The send engine never sends for an account whose endpoint is refused (docs/providers.md §7).

Defence in depth for a row edited in the database directly: the account saved through the
services is fine, then its row is changed behind their back. The engine runs in-process
against the emulator over real HTTP, and the emulator must see no request at all.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from campaigns.models import DeliveryStatus, DispatchStatus
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from providers.models import ProviderAccount
from tests.campaigns.conftest import (  # noqa: F401  (fixtures)
    approved_campaign,
    make_account,
    make_audience,
    make_recipients,
    template,
)

pytestmark = pytest.mark.django_db


def run_due() -> list:
    from campaigns.models import Dispatch

    created = dispatcher_tick()
    for dispatch_id in created:
        outcome = "continue"
        while outcome == "continue":
            outcome = dispatch_run(dispatch_id)
    return list(Dispatch.objects.filter(pk__in=created))


def _refused_deliveries(dispatch) -> None:
    dispatch.refresh_from_db()
    assert dispatch.status == DispatchStatus.FAILED
    codes = {(d.status, d.provider_code) for d in dispatch.deliveries.all()}
    assert codes == {(DeliveryStatus.FAILED, "ENDPOINT_REFUSED")}


def test_an_account_whose_row_was_made_production_on_a_loopback_host_sends_nothing(
    make_account, approved_campaign  # noqa: F811
):
    account, server = make_account("alipayplus")
    make_recipients(3, kind="alipayplus")
    approved_campaign(account, make_audience("all"))
    ProviderAccount.objects.filter(pk=account.pk).update(sandbox=False)

    [dispatch] = run_due()

    _refused_deliveries(dispatch)
    assert dispatch.deliveries.count() == 3
    assert server.app.requests_seen == 0


@override_settings(CRIER_ALLOW_SANDBOX_ACCOUNTS=False)
def test_with_sandbox_accounts_off_an_emulator_account_sends_nothing(make_account, approved_campaign):  # noqa: F811
    account, server = make_account("jiguang")
    approved_campaign(account, make_audience("all"))

    [dispatch] = run_due()

    _refused_deliveries(dispatch)
    assert server.app.requests_seen == 0
