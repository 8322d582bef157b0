"""Faithful local servers for the provider APIs (see ``base.py`` for the shared knobs).

Each provider class names its emulator (``Provider.emulator``, a dotted path) and the port
``manage.py run_emulators`` serves it on (``Provider.emulator_port``).

Every emulator class takes ``credentials`` as its first argument: a mapping of the
*account identifier the client sends* to the *secret the emulator checks it with*.
One emulator serves any number of accounts; each kind's mapping is:

=============  ==============================  ============================================
kind           key                             value
=============  ==============================  ============================================
binance        ``access_key`` (JWT ``iss``)    ``secret_key`` (HS256 key)
alipayplus     ``client_id`` (``Client-Id``)   the merchant's RSA key as PEM: the private
                                               key (its public half is derived) or the
                                               public key alone
mpaas          ``access_key_id``               ``access_key_secret``
jiguang        ``channel_key``                 ``master_secret``
=============  ==============================  ============================================

The keys and values are the first two of the provider's ``credential_fields``, as
``ProviderAccount.get_credentials()`` holds them, so ``manage.py run_emulators`` builds the
mapping straight from the accounts in the database. Constructors take everything else
keyword-only (``seed=``, and per-kind options such as Binance ``ts_window``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from providers.registry import PROVIDERS, provider_class

if TYPE_CHECKING:
    from providers.emulators.base import Emulator


def emulator_kinds() -> list[str]:
    """Return the registered provider kinds that have an emulator."""
    return [kind for kind in PROVIDERS if provider_class(kind).emulator]


def emulator_class(kind: str) -> type[Emulator]:
    """Return the emulator class for ``kind``, imported on first use; raise KeyError if unknown."""
    dotted = provider_class(kind).emulator if kind in PROVIDERS else ""
    if not dotted:
        raise KeyError(f"no emulator for provider kind {kind!r}; known: {', '.join(emulator_kinds())}")
    module_path, _, name = dotted.rpartition(".")
    return getattr(import_module(module_path), name)
