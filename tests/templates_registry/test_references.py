"""Provider references: one per provider kind, checked by the provider's rules."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from providers.registry import PROVIDERS
from templates_registry.references import clean_provider_refs, template_references


def test_every_provider_kind_has_a_reference_and_no_other():
    assert set(template_references()) == set(PROVIDERS)


def test_references_are_kept_as_text_in_provider_order_without_empty_ones():
    refs = clean_provider_refs(
        {"jiguang": 100231, "binance": " 1344001 ", "mpaas": "", "alipayplus": "TP_58000000010001"}
    )
    assert refs == {"binance": "1344001", "alipayplus": "TP_58000000010001", "jiguang": "100231"}
    assert list(refs) == ["binance", "alipayplus", "jiguang"]


def test_none_means_no_references():
    assert clean_provider_refs(None) == {}


@pytest.mark.parametrize(
    ("refs", "words"),
    [
        ({"alipay": "TP_1"}, "unknown provider kind 'alipay'"),
        ({"jiguang": "welcome"}, "Jiguang template_id 'welcome' must be a whole number"),
        ({"binance": True}, "must be text, got bool"),
        ({"mpaas": "x" * 129}, "129 characters long"),
        ({"mpaas": ["a"]}, "must be text, got list"),
    ],
)
def test_bad_references_name_the_provider_and_the_rule(refs, words):
    with pytest.raises(ValidationError) as caught:
        clean_provider_refs(refs)
    assert any(words in message for message in caught.value.message_dict["provider_refs"])


def test_references_must_be_a_mapping():
    with pytest.raises(ValidationError, match="must be an object"):
        clean_provider_refs(["binance"])
