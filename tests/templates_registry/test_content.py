"""Template content: variables as the union over variants, and the variants that lack some."""

from __future__ import annotations

from templates_registry.content import content_clean, variable_warnings


def content(*bodies: tuple[str, str]):
    return content_clean(
        default_language=bodies[0][0],
        variants=[{"language": language, "body": body} for language, body in bodies],
        provider_refs={},
    )


def test_variables_are_the_union_over_all_variants_and_titles():
    checked = content_clean(
        default_language="en",
        variants=[
            {"language": "en", "title": "Hi ${name}", "body": "You won ${amount}"},
            {"language": "ja", "title": "", "body": "${amount} ${code}"},
        ],
        provider_refs={},
    )
    assert checked.variables == ["amount", "code", "name"]


def test_consistent_variants_give_no_warning():
    assert variable_warnings(content(("en", "${a} ${b}"), ("zh-CN", "${b}${a}"))) == []


def test_a_variable_that_only_some_variants_use_is_reported_with_who_lacks_it():
    warnings = variable_warnings(
        content(("en", "${name}: ${amount}"), ("es", "${name}: ${amount}"), ("zh-CN", "${amount}"))
    )
    assert warnings == ["variable 'name' is used by en, es but not by zh-CN"]


def test_each_inconsistent_variable_is_reported():
    warnings = variable_warnings(content(("en", "${a}"), ("ja", "${b}")))
    assert warnings == [
        "variable 'a' is used by en but not by ja",
        "variable 'b' is used by ja but not by en",
    ]


def test_equal_content_compares_equal_whatever_the_input_order():
    first = content(("en", "x"), ("ja", "y"))
    second = content_clean(
        default_language="en",
        variants=[{"language": "ja", "body": "y", "title": ""}, {"language": "EN", "body": "x"}],
        provider_refs={},
    )
    assert first == second
