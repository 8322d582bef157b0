"""Fixtures for review tests: a template, accounts, audiences and campaigns made by services."""

from __future__ import annotations

import pytest

from tests.approvals.factories import make_account, make_audience, make_campaign, make_template


@pytest.fixture
def template(db):
    return make_template()


@pytest.fixture
def draft(marketer, template):
    """A draft campaign by ``marketer``: Alipay+ to three listed users, sent at approval."""
    return make_campaign(marketer, template=template)


@pytest.fixture
def broadcast(marketer, template):
    """A draft campaign by ``marketer`` to everyone through Binance (needs two approvals)."""
    return make_campaign(
        marketer, template=template, provider_account=make_account("binance"), audience=make_audience("all")
    )
