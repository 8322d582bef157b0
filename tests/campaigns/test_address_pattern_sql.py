"""A provider's ``address_pattern`` translated for PostgreSQL (``rules.address_check_sql``)
accepts exactly the addresses Python's ``fullmatch`` accepts: planning and the skip sample
check addresses in SQL with it (docs/architecture.md, *Planning*)."""

from __future__ import annotations

import pytest
from django.db import connection

from campaigns.audiences.rules import address_check_sql, address_matches

CORPUS = [
    "",
    "a",
    "Z",
    "0",
    "9",
    "_",
    "jg_ok",
    "user.name|x",
    "a@b!c#d$e&f*g+h=i",
    "¥",
    "u¥1",
    "¥" * 64,
    "¥" * 65,
    "a" * 64,
    "a" * 65,
    "A" * 63 + "¥",
    "bad-id",
    "-",
    "with space",
    " lead",
    "trail ",
    "tab\t",
    "nl\n",
    "a\nb",
    "é",
    "ä1",
    "中文",
    "ａ",
    "Ⅸ",
    "٣",
    "[",
    "]",
    "\\",
    "^",
    "`",
    "{",
    "}",
    "~",
    "%",
    "'",
    '"',
    "/",
    ":",
    ";",
    "<",
    ">",
    "?",
    ",",
    "(",
    ")",
    "[:alpha:]",
    "[=a=]",
    "$",
    "a$",
    "^a",
    "ß",
    "İ",
    "k",
    "K",
    "ſ",
    "\u200b",
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL regular expression")
@pytest.mark.django_db
def test_the_jiguang_pattern_agrees_with_python_on_every_id_of_the_corpus():
    check = address_check_sql("jiguang", "v.address")
    assert check is not None
    sql, params = check
    with connection.cursor() as cursor:
        for value in CORPUS:
            cursor.execute(f"SELECT {sql} FROM (SELECT %s::text AS address) v", [*params, value])
            assert cursor.fetchone()[0] is address_matches("jiguang", value), repr(value)
    # The corpus holds both answers, at the length bound too.
    assert address_matches("jiguang", "¥" * 64) and not address_matches("jiguang", "¥" * 65)
    assert not address_matches("jiguang", "") and not address_matches("jiguang", "nl\n")


def test_no_rule_or_a_rule_of_another_form_is_not_translated(monkeypatch):
    from providers.jiguang import JiguangProvider

    assert address_check_sql("alipayplus", "a") is None  # no pattern at all
    for pattern in (
        r"[\w]{1,64}",
        r"[^a]{1,3}",
        r"[a-z]+",
        r"[[:alpha:]]{1,3}",
        r"(a|b){1,2}",
        r"[a-z]{1,3}x",
        r"[a-z]{1,3}|x",
    ):
        monkeypatch.setattr(JiguangProvider, "address_pattern", pattern)
        assert address_check_sql("jiguang", "a") is None, pattern
