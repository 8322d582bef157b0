"""Serve the local provider emulators until interrupted (``make run`` starts this).

Each emulator listens on 127.0.0.1 at its provider's ``emulator_port`` unless
``--<kind>-port`` or ``CRIER_EMULATOR_<KIND>_PORT`` says otherwise, and accepts the
credentials of the *enabled* provider accounts of its kind, read from the database and
decrypted in this process only (never printed). The Alipay+ emulator signs its answers
with the platform key kept at ``CRIER_ALIPAYPLUS_PLATFORM_KEY`` (default
``var/emulators/alipayplus-platform-key.pem``), the key whose public half the demo
account verifies answers with. Credentials are read once at start: restart the command
(or ``PUT /_emulator/credentials``) after adding an account.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from providers.crypto import CredentialsUnreadable
from providers.emulators import emulator_class, emulator_kinds
from providers.emulators.base import Emulator
from providers.emulators.server import serve_forever
from providers.models import ProviderAccount
from providers.registry import provider_class


def emulator_credentials(kind: str, *, warn: Any = None) -> tuple[dict[str, str], list[ProviderAccount]]:
    """Return the credentials mapping the ``kind`` emulator takes, from enabled accounts.

    The mapping is ``{first credential field: second credential field}`` of each account
    (binance ``{access_key: secret_key}``, alipayplus ``{client_id: private_key}``, mpaas
    ``{access_key_id: access_key_secret}``, jiguang ``{channel_key: master_secret}``);
    accounts whose credentials cannot be read or are incomplete are skipped, with a
    ``warn(text)`` naming the account.
    """
    identity, secret = provider_class(kind).credential_fields[:2]
    mapping: dict[str, str] = {}
    used: list[ProviderAccount] = []
    for account in ProviderAccount.objects.filter(kind=kind, enabled=True).order_by("name"):
        try:
            stored = account.get_credentials()
        except CredentialsUnreadable:
            if warn:
                warn(f"skipping {account.name!r}: its credentials cannot be decrypted with CRIER_FIELD_KEYS")
            continue
        if not stored.get(identity) or not stored.get(secret):
            if warn:
                warn(f"skipping {account.name!r}: {identity} or {secret} is not set")
            continue
        mapping[stored[identity]] = stored[secret]
        used.append(account)
    return mapping, used


class Command(BaseCommand):
    help = "Serve the provider emulators on 127.0.0.1 with the credentials of the enabled accounts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("CRIER_EMULATOR_HOST", "127.0.0.1"))
        for kind in emulator_kinds():
            env = f"CRIER_EMULATOR_{kind.upper()}_PORT"
            port = provider_class(kind).emulator_port
            parser.add_argument(
                f"--{kind}-port",
                type=int,
                default=int(os.environ.get(env) or port),
                help=f"port of the {kind} emulator (env {env}, default {port})",
            )
        parser.add_argument(
            "--only", nargs="+", choices=emulator_kinds(), help="serve only these kinds (default: all)"
        )

    def warn(self, text: str) -> None:
        self.stderr.write(f"  {text}")

    def build(self, *, host: str, ports: dict[str, int], kinds: Iterable[str]) -> dict[int, Emulator]:
        """Return the emulators to serve by port, saying which listens where."""
        apps: dict[int, Emulator] = {}
        for kind in kinds:
            try:
                cls = emulator_class(kind)
            except ImportError as exc:
                self.stderr.write(f"{kind:<11} not served: its emulator does not import ({exc})")
                continue
            credentials, accounts = emulator_credentials(kind, warn=self.warn)
            port = ports[kind]
            apps[port] = cls(credentials, **cls.serve_options())
            names = ", ".join(a.name for a in accounts) or "no enabled accounts"
            self.stdout.write(f"{kind:<11} emulator on http://{host}:{port}  ({names})")
            for account in accounts:
                target = urlsplit(account.base_url)
                if (target.hostname, target.port) not in {(host, port), ("localhost", port)}:
                    self.stdout.write(f"  note: {account.name!r} sends to {account.base_url}, not here")
        return apps

    def handle(self, *args: Any, host: str, only: list[str] | None, **options: Any) -> None:
        kinds = only or emulator_kinds()
        ports = {kind: options[f"{kind}_port"] for kind in emulator_kinds()}
        chosen = [ports[kind] for kind in kinds]
        if len(set(chosen)) != len(chosen):
            raise CommandError(f"two emulators cannot share a port: {chosen}")
        apps = self.build(host=host, ports=ports, kinds=kinds)
        if not apps:
            raise CommandError("no emulator could be started")
        self.stdout.write("Ctrl-C stops the emulators.")
        self.stdout.flush()
        try:
            serve_forever(apps, host=host)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}: {exc}") from exc
        except KeyboardInterrupt:
            self.stdout.write("emulators stopped")
