"""Render a template version in a language with a campaign's parameters.

The variant is chosen by exact language, then by ever shorter forms of it (``en-US`` →
``en``; ``zh-Hant-TW`` → ``zh-Hant`` → ``zh``), then by the template's default language;
:class:`Rendered` says which one was used. Parameters must name exactly the template's
variables (the union over all its variants: a provider renders whichever language the
user reads, so every variable must travel): a missing or unknown name is an error that
lists all of them, and the output never keeps a placeholder unreplaced.

A rendered title and body together are at most ``CRIER_MAX_RENDERED_CHARS`` characters.
Their length is computed from the parsed template and the parameters' lengths before any
text is built, so a short template with a long value used many times costs nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from templates_registry.content import max_rendered_chars
from templates_registry.languages import language_fallbacks
from templates_registry.placeholders import Placeholder, PlaceholderError, Text, parse
from templates_registry.selectors import current_version

if TYPE_CHECKING:
    from templates_registry.models import MessageTemplate, TemplateVersion


@dataclass(frozen=True)
class Rendered:
    """A rendered message and the language of the variant it came from."""

    language_used: str
    title: str
    body: str


class RenderError(ValidationError):
    """Parameters that do not fit the template: ``missing``, ``unknown`` and ``invalid`` names.

    A ValidationError on the field ``parameters``, so forms and the API show it as such.
    """

    def __init__(
        self,
        *,
        missing: Sequence[str] = (),
        unknown: Sequence[str] = (),
        invalid: Mapping[str, str] | None = None,
        variables: Sequence[str] = (),
    ) -> None:
        self.missing = sorted(missing)
        self.unknown = sorted(unknown)
        self.invalid = dict(invalid or {})
        messages = []
        if self.missing:
            messages.append(
                _("missing parameters: %(missing)s (the template's variables are: %(variables)s)")
                % {"missing": ", ".join(self.missing), "variables": ", ".join(variables) or _("none")}
            )
        if self.unknown:
            messages.append(
                _("unknown parameters: %(unknown)s (not variables of the template; its variables are: "
                  "%(variables)s)")
                % {"unknown": ", ".join(self.unknown), "variables": ", ".join(variables) or _("none")}
            )
        messages.extend(
            _("parameter %(name)r: %(problem)s") % {"name": name, "problem": problem}
            for name, problem in self.invalid.items()
        )
        super().__init__({"parameters": messages})


@lru_cache(maxsize=2048)
def _parsed(text: str) -> tuple[Text | Placeholder, ...]:
    # Version texts never change, so a text parsed once stays parsed.
    return tuple(parse(text))


def _substitute(text: str, parameters: Mapping[str, str]) -> str:
    return "".join(
        parameters[part.name] if isinstance(part, Placeholder) else part.value for part in _parsed(text)
    )


def _literal_length(text: str) -> int:
    """Return the length of ``text`` without its placeholders (escapes resolved)."""
    return sum(len(part.value) for part in _parsed(text) if isinstance(part, Text))


def _check_rendered_length(
    version: TemplateVersion, variant: Mapping[str, str], parameters: Mapping[str, str]
) -> None:
    """Raise unless ``variant`` rendered with ``parameters`` fits ``max_rendered_chars()``.

    The length is summed from the parsed parts, nothing is built. When the values make it
    too long, a RenderError names the parameters whose length, times their uses, exceeds
    the cap (the longest first, as many as it takes); when the template's own text does
    (the cap was lowered after it was written), a ValidationError on ``template``.
    """
    cap = max_rendered_chars()
    texts = (variant.get("title", ""), variant["body"])
    literal = sum(_literal_length(text) for text in texts)
    uses = Counter(part.name for text in texts for part in _parsed(text) if isinstance(part, Placeholder))
    added = {name: count * len(parameters[name]) for name, count in uses.items()}
    total = literal + sum(added.values())
    if total <= cap:
        return
    language = variant["language"]
    if literal > cap:
        raise ValidationError(
            {
                "template": [
                    _(
                        "%(version)s variant %(language)s is %(length)s characters without its "
                        "variables; a rendered title and body are at most %(max)s characters"
                    )
                    % {"version": version, "language": language, "length": literal, "max": cap}
                ]
            }
        )
    invalid, excess = {}, total - cap
    for name in sorted(added, key=lambda n: (-added[n], n)):
        invalid[name] = _(
            "%(length)s characters, used %(uses)s time(s) in the %(language)s variant: the rendered "
            "title and body would be %(total)s characters; at most %(max)s are allowed"
        ) % {
            "length": len(parameters[name]),
            "uses": uses[name],
            "language": language,
            "total": total,
            "max": cap,
        }
        excess -= added[name]
        if excess <= 0:
            break
    raise RenderError(invalid=invalid, variables=version.variables)


def check_parameter_lengths(version: TemplateVersion, parameters: Mapping[str, object]) -> None:
    """Raise RenderError, with :func:`render_version`'s message, when the text values in
    ``parameters`` would make any variant of ``version`` longer than the cap.

    For writes of a draft (create, edit), which may still lack parameters: a missing or
    non-text value counts as empty here (:func:`check_parameters` reports it on submit), and
    a variant whose own text is over the cap is left to :func:`render_version` too, so an
    edit is refused only for what the edit can change, the values."""
    cap = max_rendered_chars()
    lengths: defaultdict[str, str] = defaultdict(str)
    lengths.update((name, value) for name, value in parameters.items() if isinstance(value, str))
    for variant in version.variants:
        try:
            if sum(_literal_length(variant.get(key, "")) for key in ("title", "body")) > cap:
                continue
            _check_rendered_length(version, variant, lengths)
        except PlaceholderError:
            continue  # a corrupt version: render_version names it on submit


def check_parameters(variables: Sequence[str], parameters: Mapping[str, object]) -> None:
    """Raise RenderError unless ``parameters`` supplies exactly ``variables`` as plain text."""
    expected = set(variables)
    invalid = {}
    for name, value in parameters.items():
        if name not in expected:
            continue
        if not isinstance(value, str):
            invalid[name] = _("must be text, got %(type)s %(value)r") % {
                "type": type(value).__name__, "value": value,
            }
        elif "${" in value:
            # A value is inserted as plain text, never rendered again: "${x}" in a value is
            # a mistake (a placeholder copied into a parameter) that would reach users.
            invalid[name] = _(
                "contains '${' at position %(position)s; values are plain text, not templates"
            ) % {"position": value.index("${")}
    missing = expected - parameters.keys()
    unknown = parameters.keys() - expected
    if missing or unknown or invalid:
        raise RenderError(
            missing=list(missing), unknown=list(unknown), invalid=invalid, variables=sorted(expected)
        )


def choose_variant(
    variants: Sequence[Mapping[str, str]], language: str, default_language: str
) -> Mapping[str, str]:
    """Return the variant for ``language``: exact, then shorter forms, then the default."""
    by_language = {variant["language"]: variant for variant in variants}
    candidates = language_fallbacks(language) if language else []
    for candidate in [*candidates, default_language]:
        if candidate in by_language:
            return by_language[candidate]
    raise ValidationError(
        {"language": [f"no variant for {language!r} and none for the default language {default_language!r}"]}
    )


def render_version(version: TemplateVersion, language: str, parameters: Mapping[str, str]) -> Rendered:
    """Render ``version`` for a reader of ``language`` (empty: the default language).

    Raise RenderError (a ValidationError on ``parameters``) naming every missing, unknown
    or non-text parameter and the values that make the message longer than
    ``CRIER_MAX_RENDERED_CHARS``, and ValidationError on ``language`` for a malformed tag.
    """
    check_parameters(version.variables, parameters)
    try:
        variant = choose_variant(version.variants, language, version.default_language)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise
        raise ValidationError({"language": exc.messages}) from exc
    try:
        _check_rendered_length(version, variant, parameters)
        title = _substitute(variant.get("title", ""), parameters)
        body = _substitute(variant["body"], parameters)
    except PlaceholderError as exc:  # versions are checked when created; this means a corrupt row
        raise ValidationError(
            {"template": [f"{version} variant {variant['language']} cannot be rendered: {exc}"]}
        ) from exc
    return Rendered(language_used=variant["language"], title=title, body=body)


def render(template: MessageTemplate, language: str, parameters: Mapping[str, str]) -> Rendered:
    """Render the template's current version (see :func:`render_version`)."""
    return render_version(current_version(template), language, parameters)
