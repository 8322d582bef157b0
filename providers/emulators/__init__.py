"""Faithful local servers for the four provider APIs (see ``base.py`` for the shared knobs).

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

The keys and values are the same fields ``ProviderAccount.get_credentials()`` holds
(``providers.models.CREDENTIAL_FIELDS``), so ``manage.py run_emulators`` builds the
mapping straight from the accounts in the database. Constructors take everything else
keyword-only (``seed=``, and per-kind options such as Binance ``ts_window``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.emulators.base import Emulator

EMULATORS: dict[str, str] = {
    "binance": "providers.emulators.binance.BinanceEmulator",
    "alipayplus": "providers.emulators.alipayplus.AlipayPlusEmulator",
    "mpaas": "providers.emulators.mpaas.MpaasEmulator",
    "jiguang": "providers.emulators.jiguang.JiguangEmulator",
}

# Where ``manage.py run_emulators`` listens, and where the demo accounts point.
DEFAULT_PORTS: dict[str, int] = {"binance": 8101, "alipayplus": 8102, "mpaas": 8103, "jiguang": 8104}


def emulator_class(kind: str) -> type[Emulator]:
    """Return the emulator class for ``kind``, imported on first use; raise KeyError if unknown."""
    try:
        dotted = EMULATORS[kind]
    except KeyError:
        raise KeyError(f"no emulator for provider kind {kind!r}; known: {', '.join(EMULATORS)}") from None
    module_path, _, name = dotted.rpartition(".")
    return getattr(import_module(module_path), name)
