"""BCP-47 language tags: validation, canonical case, fallbacks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from templates_registry.languages import language_fallbacks, normalize_language


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("en-us", "en-US"),
        ("zh-cn", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("sr-Latn", "sr-Latn"),
        ("de-CH-1996", "de-CH-1996"),
        ("en-US-x-Twain", "en-US-x-twain"),
        ("fil", "fil"),
    ],
)
def test_valid_tags_are_written_in_canonical_case(tag, canonical):
    assert normalize_language(tag) == canonical


@pytest.mark.parametrize("tag", ["", "e", "english-", "en-", "en--US", "zh-CN!", "12", "x-private", "en US"])
def test_malformed_tags_are_refused_with_the_value_and_examples(tag):
    with pytest.raises(ValidationError) as caught:
        normalize_language(tag)
    assert repr(tag) in caught.value.messages[0]
    assert "zh-CN" in caught.value.messages[0]


def test_tag_longer_than_the_column_is_refused():
    with pytest.raises(ValidationError):
        normalize_language("en-" + "-".join(["abcdefgh"] * 5))


@pytest.mark.parametrize(
    ("tag", "chain"),
    [
        ("en", ["en"]),
        ("en-US", ["en-US", "en"]),
        ("zh-Hant-TW", ["zh-Hant-TW", "zh-Hant", "zh"]),
        ("de-x-old", ["de-x-old", "de"]),
    ],
)
def test_fallbacks_drop_one_subtag_at_a_time(tag, chain):
    assert language_fallbacks(tag) == chain
