"""Map a provider kind to the module that speaks its API.

A plain dict of dotted paths, imported lazily, so adding a provider is one line here
and no migration (``ProviderAccount.kind`` takes its choices from this dict).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import Provider

PROVIDERS: dict[str, tuple[str, str]] = {
    "binance": ("Binance mini program", "providers.binance.BinanceProvider"),
    "alipayplus": ("Alipay+ mini program", "providers.alipayplus.AlipayPlusProvider"),
    "mpaas": ("Alibaba Cloud mPaaS push", "providers.mpaas.MpaasProvider"),
    "jiguang": ("Jiguang UMS", "providers.jiguang.JiguangProvider"),
}


def kind_choices() -> list[tuple[str, str]]:
    """Return (kind, label) pairs for model and form choices."""
    return [(kind, label) for kind, (label, _path) in PROVIDERS.items()]


@cache
def provider_class(kind: str) -> type[Provider]:
    """Return the provider class registered for ``kind``; raise KeyError if unknown."""
    try:
        dotted = PROVIDERS[kind][1]
    except KeyError:
        raise KeyError(f"unknown provider kind {kind!r}; known: {', '.join(PROVIDERS)}") from None
    module_path, _, name = dotted.rpartition(".")
    return getattr(import_module(module_path), name)
