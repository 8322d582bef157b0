"""Map a provider kind to the class that speaks its API: the one list of providers.

A plain dict of dotted paths, imported lazily. Everything else about a provider (its label,
credential fields, options, template references, emulator…) is declared on its class
(``providers.base.Provider``), so adding a provider is its module, its emulator and one
line here, and no migration (``ProviderAccount.kind`` takes its choices from this dict).
Tests add a provider for their duration with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import Provider

PROVIDERS: dict[str, str] = {
    "binance": "providers.binance.BinanceProvider",
    "alipayplus": "providers.alipayplus.AlipayPlusProvider",
    "mpaas": "providers.mpaas.MpaasProvider",
    "jiguang": "providers.jiguang.JiguangProvider",
}


@cache
def provider_class(kind: str) -> type[Provider]:
    """Return the provider class registered for ``kind``; raise KeyError if unknown."""
    try:
        dotted = PROVIDERS[kind]
    except KeyError:
        raise KeyError(f"unknown provider kind {kind!r}; known: {', '.join(PROVIDERS)}") from None
    module_path, _, name = dotted.rpartition(".")
    return getattr(import_module(module_path), name)


def provider_classes() -> list[type[Provider]]:
    """Return the class of every registered provider, in registration order."""
    return [provider_class(kind) for kind in PROVIDERS]


def label(kind: str) -> str:
    """Return what users call the provider of ``kind`` (the kind itself when unknown)."""
    try:
        return provider_class(kind).label
    except KeyError:
        return kind


def kind_choices() -> list[tuple[str, str]]:
    """Return (kind, label) pairs for model and form choices."""
    return [(cls.kind, cls.label) for cls in provider_classes()]


def register(kind: str, dotted_path: str) -> Callable[[], None]:
    """Add the provider class at ``dotted_path`` as ``kind``; return the function that removes it.

    For tests: production providers are listed in :data:`PROVIDERS`. The class is imported
    at once, so a wrong path fails here rather than at the first send.
    """
    if kind in PROVIDERS:
        raise ValueError(f"provider kind {kind!r} is registered already")
    PROVIDERS[kind] = dotted_path
    provider_class.cache_clear()
    try:
        cls = provider_class(kind)
    except (ImportError, AttributeError):
        del PROVIDERS[kind]
        raise
    if cls.kind != kind:
        del PROVIDERS[kind]
        provider_class.cache_clear()
        raise ValueError(f"{dotted_path} declares kind {cls.kind!r}, not {kind!r}")

    def unregister() -> None:
        PROVIDERS.pop(kind, None)
        provider_class.cache_clear()

    return unregister
