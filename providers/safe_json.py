"""Text Crier can keep: valid Unicode, no NUL, JSON nested to a sane depth.

JSON may escape half of a surrogate pair (``"\\ud800"``): Python reads it into a ``str``
that is not valid Unicode, so it cannot be encoded as UTF-8 later — the audit hash, the
API's answer, PostgreSQL all fail on it (docs/architecture.md, "The picture": the audit
chain hashes every change). PostgreSQL refuses NUL in text. Python's ``json`` recurses
per nesting level, so a body nested 100,000 deep raises ``RecursionError``.

:func:`loads` reads JSON and refuses all three with :class:`HostileInput` (a
``ValueError``) naming the rule and the JSON path; :func:`check` does the same for a
value already read (a form field's). Both walk without recursion. Every layer that takes
JSON from outside uses them: the API's parser (``config.parsers``), the admin's JSON
fields (:class:`SafeJSONField`) and the provider callbacks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext as _

#: Deepest nesting of arrays and objects accepted (Crier's own documents use at most 5).
MAX_DEPTH = 64

class HostileInput(ValueError):
    """JSON that Crier must not store: a lone surrogate, a NUL, or nesting too deep."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path


def loads(raw: str | bytes, **options: Any) -> Any:
    """Return the JSON value in ``raw``; raise HostileInput for a lone surrogate, a NUL or
    nesting deeper than MAX_DEPTH, and ValueError for anything that is not JSON.
    ``options`` go to ``json.loads`` (e.g. ``parse_constant``)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    try:
        value = json.loads(text, **options)
    except RecursionError as exc:  # the C decoder stops cleanly at the interpreter's limit
        raise HostileInput(too_deep()) from exc
    check(value)
    return value


def _step(path: str, key: Any) -> str:
    """Return ``path`` extended by ``key``, written in ASCII (a key may be the bad text)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = str(key)
    shown = name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else json.dumps(name)
    return f"{path}.{shown}" if path else shown


def printable(name: str) -> str:
    """Return ``name`` as it is shown in a message: as is when it is a plain identifier,
    else JSON-quoted in ASCII (a name may itself be the bad text)."""
    return _step("", name)


def _text_problem(text: str) -> str | None:
    """Return why ``text`` cannot be kept, or None."""
    if "\x00" in text:
        return _("the NUL character (\\u0000) is not allowed in text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return _("a lone surrogate (%(char)s) is not valid Unicode text") % {
            "char": json.dumps(exc.object[exc.start])
        }
    return None


def too_deep() -> str:
    """Return the rule a too deeply nested document breaks."""
    return _("JSON nested deeper than %(limit)d levels is refused") % {"limit": MAX_DEPTH}


def check(value: Any, *, path: str = "") -> None:
    """Raise HostileInput when any key or string in ``value`` is not text Crier can keep,
    or when it nests deeper than MAX_DEPTH; the message names the JSON path.

    A first walk only looks (no paths built: a 10 MB import costs a fraction of a second);
    the path is worked out by a second walk when something is wrong."""
    if not _plainly_fine(value):
        problem, where = _walk(value, path) or (too_deep(), path)
        raise HostileInput(problem, where)


def _plainly_fine(value: Any) -> bool:
    """Return whether ``value`` nests at most MAX_DEPTH deep and all its keys and strings,
    joined, are UTF-8 text without NUL (one encode for the lot: Python's encoder refuses
    every surrogate, paired or not, since a ``str`` holds code points)."""
    texts: list[str] = []
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            texts.append(item)
            continue
        if not isinstance(item, dict | list | tuple):
            continue
        if depth >= MAX_DEPTH:
            return False
        if isinstance(item, dict):
            texts.extend(key for key in item if isinstance(key, str))
            item = item.values()
        for child in item:
            if isinstance(child, str):
                texts.append(child)
            elif isinstance(child, dict | list | tuple):
                stack.append((child, depth + 1))
    joined = "".join(texts)
    if "\x00" in joined:
        return False
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(value: Any, path: str | None) -> tuple[str, str] | None:
    """Return (problem, path) of the first thing in ``value`` that cannot be kept, or None;
    paths are built only when ``path`` is not None. Iterative: any depth is safe."""
    stack: list[tuple[Any, str | None, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return problem, where or ""
            continue
        if not isinstance(item, dict | list | tuple):
            continue
        if depth >= MAX_DEPTH:
            return too_deep(), where or ""
        if isinstance(item, dict):
            for key, child in item.items():
                step = None if where is None else _step(where, key)
                problem = _text_problem(key) if isinstance(key, str) else None
                if problem:
                    return problem, step or ""
                stack.append((child, step, depth + 1))
        else:
            for number, child in enumerate(item):
                stack.append((child, None if where is None else _step(where, number), depth + 1))
    return None


def checked(label: Any, value: Any) -> Any:
    """Return ``value``, a form field's, or raise the ValidationError of :func:`refusal`."""
    try:
        check(value)
    except HostileInput as exc:
        raise ValidationError(refusal(label, exc), code="invalid") from exc
    return value


def checked_text(field: str, value: str) -> str:
    """Return ``value``, a free text posted outside a form (a reason, a comment), or raise a
    ValidationError on ``field`` naming the rule it breaks (a NUL; a lone surrogate)."""
    problem = _text_problem(value)
    if problem:
        raise ValidationError({field: [problem]}, code="invalid")
    return value


def refusal(label: Any, exc: HostileInput) -> str:
    """Return a form error for ``exc``: the field's label, the JSON path and the rule."""
    if exc.path:
        return _("%(label)s, at %(path)s: %(rule)s") % {"label": label, "path": exc.path, "rule": exc.message}
    return _("%(label)s: %(rule)s") % {"label": label, "rule": exc.message}


class SafeJSONField(forms.JSONField):
    """The admin's JSON text area: what :func:`loads` refuses is a form error naming the
    field, never stored, and a page shown again with the text as typed (never a 500)."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not self.disabled and value not in self.empty_values:
            try:
                loads(value, cls=self.decoder)
            except HostileInput as exc:
                raise ValidationError(refusal(self.label or _("value"), exc), code="invalid") from exc
            except ValueError:
                if "\x00" in value:  # JSON refuses a raw NUL as a control character: say which rule
                    raise ValidationError(
                        refusal(self.label or _("value"), HostileInput(_text_problem(value) or "")),
                        code="invalid",
                    ) from None
                # otherwise not JSON: Django's own message says so
        converted = super().to_python(value)
        try:
            check(converted)
        except HostileInput as exc:
            raise ValidationError(refusal(self.label or _("value"), exc), code="invalid") from exc
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return loads(data, cls=self.decoder)
        except ValueError:
            return InvalidJSONInput(data)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return super().has_changed(initial, data)
        except ValidationError:
            return True
