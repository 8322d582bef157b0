"""Where a provider account may send its credentials: the one rule (docs/providers.md §7).

An account's ``base_url`` is allowed when

* the account is a **production** account, its URL is ``https`` without a user name or
  password, and its host (and port) is one its provider class declares in
  ``official_hosts`` or one the deployment adds in ``CRIER_PROVIDER_HOSTS``
  (``kind=https://host`` entries: Alipay+ has one host per wallet deployment, so it
  declares none); or
* the account is marked **sandbox** (an emulator or a provider's sandbox: any http or
  https host) and ``CRIER_ALLOW_SANDBOX_ACCOUNTS`` is on (by default only with DEBUG).

Operators choose the URL through the API and the admin; only whoever controls the
deployment's environment may widen the list of hosts. ``ProviderAccount.clean`` (so the
services, the API, the admin and the commands) refuses an account that breaks the rule,
and when an account is used ``ProviderAccount.provider_config`` withholds its credentials
and the provider module sends nothing (``Provider.endpoint_refused``): a row edited in the
database directly never reaches a foreign host either.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from providers.registry import provider_class

DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Refusal:
    """Why an account may not use its endpoint: the field to blame and the rule, in words."""

    field: str
    message: str


def sandbox_accounts_allowed() -> bool:
    """Return whether accounts marked sandbox may be saved and used here."""
    return bool(settings.CRIER_ALLOW_SANDBOX_ACCOUNTS)


def origin(url: str) -> tuple[str, str, int] | None:
    """Return (scheme, host, port) of ``url`` in lower case; None when it has no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in DEFAULT_PORTS:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme]


def configured_hosts() -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Return the hosts ``CRIER_PROVIDER_HOSTS`` adds by kind, and its entries that are malformed."""
    hosts: dict[str, list[str]] = {}
    bad: list[str] = []
    for entry in settings.CRIER_PROVIDER_HOSTS:
        kind, _sep, url = entry.partition("=")
        where = origin(url)
        if not _sep or where is None or where[0] != "https":
            bad.append(entry)
            continue
        hosts.setdefault(kind.strip(), []).append(url.strip().rstrip("/"))
    return {kind: tuple(urls) for kind, urls in hosts.items()}, bad


def allowed_hosts(kind: str) -> tuple[str, ...]:
    """Return the base URLs a production account of ``kind`` may use (declared, then configured)."""
    try:
        declared = provider_class(kind).official_hosts
    except KeyError:
        declared = ()
    return tuple(declared) + configured_hosts()[0].get(kind, ())


def refusal(*, kind: str, base_url: str, sandbox: bool) -> Refusal | None:
    """Return why an account of ``kind`` at ``base_url`` may not send there (None: it may)."""
    if sandbox:
        if not sandbox_accounts_allowed():
            return Refusal(
                "sandbox",
                _(
                    "sandbox accounts (emulators, provider sandboxes) are refused here: "
                    "CRIER_ALLOW_SANDBOX_ACCOUNTS is off (it is on by default only with DEBUG)."
                ),
            )
        if origin(base_url) is None:
            return Refusal("base_url", _("base_url must be an http or https URL with a host."))
        return None
    where = origin(base_url)
    if where is None or where[0] != "https":
        return Refusal(
            "base_url",
            _("base_url must be an https URL for a production account (mark an emulator's account sandbox)."),
        )
    parts = urlsplit(base_url.strip())
    if parts.username is not None or parts.password is not None:
        return Refusal("base_url", _("base_url may not carry a user name or password."))
    allowed = allowed_hosts(kind)
    if where in {origin(url) for url in allowed}:
        return None
    try:
        label = provider_class(kind).label
    except KeyError:
        label = kind
    return Refusal(
        "base_url",
        _(
            "base_url host %(host)s is not one Crier may send %(provider)s credentials to; "
            "allowed: %(hosts)s. Add a host with CRIER_PROVIDER_HOSTS, or mark an emulator's account sandbox."
        )
        % {
            "host": where[1] if where[2] == DEFAULT_PORTS[where[0]] else f"{where[1]}:{where[2]}",
            "provider": label,
            "hosts": ", ".join(allowed) or _("none declared"),
        },
    )
