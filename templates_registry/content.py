"""The versioned content of a template, checked: default language, variants, provider refs.

Services, the admin form and the API all check content with :func:`content_clean`, so a
template that is valid in one place is valid in every other. Two contents compare equal
exactly when saving one over the other would not need a new version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from templates_registry import placeholders
from templates_registry.languages import normalize_language
from templates_registry.references import clean_provider_refs

if TYPE_CHECKING:
    from templates_registry.models import TemplateVersion

TITLE_MAX_LENGTH = 200


def max_rendered_chars() -> int:
    """Return the cap on a rendered title and body together, in characters, per language."""
    return settings.CRIER_MAX_RENDERED_CHARS


@dataclass(frozen=True)
class VariantText:
    """The title and body of a template in one language."""

    language: str
    title: str
    body: str

    def as_dict(self) -> dict[str, str]:
        return {"language": self.language, "title": self.title, "body": self.body}


@dataclass(frozen=True)
class TemplateContent:
    """Everything a version freezes; variants sorted by language."""

    default_language: str
    variants: tuple[VariantText, ...]
    provider_refs: Mapping[str, str] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return [variant.language for variant in self.variants]

    def variables_by_language(self) -> dict[str, set[str]]:
        """Return the placeholder names each variant uses (title and body)."""
        return {
            v.language: placeholders.variables(v.title) | placeholders.variables(v.body)
            for v in self.variants
        }

    @property
    def variables(self) -> list[str]:
        """Return the template's variables: the union over its variants, sorted."""
        return sorted(set().union(*self.variables_by_language().values()))


def content_clean(
    *, default_language: str, variants: Iterable[Mapping[str, object]], provider_refs: Mapping | None
) -> TemplateContent:
    """Return the checked, normalized content; raise ValidationError naming every problem.

    Languages are put in canonical case, titles and bodies are kept exactly as written
    (white space is part of a message), and each placeholder problem names the variant,
    the field and the position.
    """
    errors: dict[str, list[str]] = {}
    try:
        default = normalize_language(str(default_language or ""))
    except ValidationError as exc:
        errors["default_language"] = exc.messages
        default = ""

    cleaned: list[VariantText] = []
    variant_errors: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(variants, start=1):
        raw_language = str(raw.get("language") or "")
        try:
            language = normalize_language(raw_language)
        except ValidationError as exc:
            variant_errors.append(f"variant {index}: {exc.messages[0]}")
            continue
        if language in seen:
            variant_errors.append(f"variant {language}: the language appears more than once")
            continue
        seen.add(language)
        title, body = str(raw.get("title") or ""), str(raw.get("body") or "")
        if len(title) > TITLE_MAX_LENGTH:
            variant_errors.append(
                f"variant {language}, title: {len(title)} characters; at most {TITLE_MAX_LENGTH} are allowed"
            )
        if not body.strip():
            variant_errors.append(f"variant {language}, body: is empty; write the message text")
        literal = 0
        for field_name, text in (("title", title), ("body", body)):
            try:
                parts = placeholders.parse(text)
            except placeholders.PlaceholderError as exc:
                variant_errors.append(f"variant {language}, {field_name}: {exc}")
            else:
                literal += sum(len(part.value) for part in parts if isinstance(part, placeholders.Text))
        if literal > max_rendered_chars():
            variant_errors.append(
                _(
                    "variant %(language)s, title and body: %(length)s characters without their "
                    "variables; a rendered message is at most %(max)s characters"
                )
                % {"language": language, "length": literal, "max": max_rendered_chars()}
            )
        cleaned.append(VariantText(language, title, body))

    if not cleaned and not variant_errors:
        variant_errors.append("a template needs at least one variant")
    if default and cleaned and default not in seen:
        errors.setdefault("default_language", []).append(
            f"there is no {default} variant; add one or choose one of: {', '.join(sorted(seen))}"
        )
    if variant_errors:
        errors["variants"] = variant_errors
    try:
        refs = clean_provider_refs(provider_refs)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        refs = {}
    if errors:
        raise ValidationError(errors)
    return TemplateContent(default, tuple(sorted(cleaned, key=lambda v: v.language)), refs)


def content_of_version(version: TemplateVersion) -> TemplateContent:
    """Return the content ``version`` froze."""
    return TemplateContent(
        default_language=version.default_language,
        variants=tuple(
            VariantText(v["language"], v.get("title", ""), v["body"]) for v in version.variants
        ),
        provider_refs=dict(version.provider_refs or {}),
    )


def variable_warnings(content: TemplateContent) -> list[str]:
    """Return one line per variable that some variants use and others lack.

    Not an error: a translation may leave a name out on purpose, but it is usually an
    oversight, and every campaign must still supply the variable.
    """
    used = content.variables_by_language()
    warnings = []
    for name in content.variables:
        users = [language for language, names in used.items() if name in names]
        lacking = [language for language, names in used.items() if name not in names]
        if lacking:
            warnings.append(
                f"variable {name!r} is used by {', '.join(users)} but not by {', '.join(lacking)}"
            )
    return warnings
