"""Provider status callbacks: ``/callbacks/<kind>/<account id>/`` (outside the API's auth).

A provider that declares ``receives_callbacks`` posts per-user receipts here; everything
about its wire format is the provider's (``Provider.callback_echo``,
``callback_authentic``, ``parse_callback``). For Jiguang UMS (VIP), register
``https://<crier host>/callbacks/jiguang/<account id>/`` in its console (at most five URLs,
http(s) without a custom port) and pick the statuses to receive there; a campaign may also
name it per request as ``callback.url`` (docs/providers.md §4.8).

* ``GET`` — the console's validation of the URL (Jiguang: ``?echostr=<random>``, echoed as
  plain text). No credentials are needed to echo; a GET that is no validation is 400.
* ``POST`` — a batch of status records. It must carry the account's credentials as the
  provider sends them (Jiguang: ``Authorization: Basic base64(channel key:master
  secret)``), or it is answered 401 and nothing is stored. Receipts are stored by
  ``campaigns.sending.receipts.receipts_record`` — idempotently, since providers resend a
  batch until they get a 200. The answer is 200 with the counts (received, stored,
  duplicates, unmatched, ignored, invalid); a body that is not a batch at all is 400, and
  so is one that is not text Crier can keep (a lone surrogate, a NUL, nesting deeper than
  64 levels) or holds a ``time`` no clock can hold: nothing of it is stored. A body over
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is 413, naming the limit.
* Stored credentials that cannot be decrypted (``CRIER_FIELD_KEYS`` lost a key) answer
  401 exactly as wrong credentials do, so a caller learns nothing about the account; the
  log says which account needs its credentials entered again.

An unknown kind, an account of another kind and a provider without callbacks are 404.
CSRF does not apply (the caller is the provider, authenticated by its own credentials).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.sending.receipts import receipts_record
from providers.crypto import CredentialsUnreadable
from providers.models import ProviderAccount
from providers.registry import PROVIDERS, provider_class

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def provider_callback(request: HttpRequest, kind: str, account_id: int) -> HttpResponse:
    """Answer the provider's URL validation (GET) or store a batch of status callbacks (POST)."""
    cls = provider_class(kind) if kind in PROVIDERS else None
    account = ProviderAccount.objects.filter(pk=account_id, kind=kind).first() if cls else None
    if cls is None or account is None or not cls.receives_callbacks:
        return JsonResponse(
            {"detail": _("no %(kind)s account %(id)s") % {"kind": kind, "id": account_id}}, status=404
        )
    if request.method == "GET":
        echo = cls(account.provider_config()).callback_echo(request.GET)
        if echo is None:
            detail = _("a GET is the %(provider)s console's validation of this URL; its query is missing")
            return JsonResponse({"detail": detail % {"provider": cls.label}}, status=400)
        return HttpResponse(echo, content_type="text/plain; charset=utf-8")
    try:
        body = request.body
    except RequestDataTooBig:  # JSON naming the limit, as the API answers (config/api.py)
        detail = _("the request body is larger than %(limit)s bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)")
        return JsonResponse({"detail": detail % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}}, status=413)
    try:
        provider = account.provider(with_credentials=True)
    except CredentialsUnreadable:
        logger.error(
            "refused a %s callback for account %s: its stored credentials cannot be decrypted "
            "with CRIER_FIELD_KEYS; enter them again",
            kind,
            account.pk,
        )
        return _refused(cls)
    if not provider.callback_authentic(request.headers, body):
        # An account whose endpoint is refused has no credentials to check against
        # (docs/providers.md §7): say that, not "wrong credentials", to the operator.
        problem = provider.account.endpoint_problem
        why = f"its endpoint is refused ({problem})" if problem else "wrong credentials"
        logger.warning("refused a %s callback for account %s: %s", kind, account.pk, why)
        return _refused(cls)
    try:
        batch = provider.parse_callback(body)
    except ValueError as exc:
        detail = _("the body must be a batch of status records: %(reason)s") % {"reason": exc}
        return JsonResponse({"detail": detail}, status=400)
    report = receipts_record(account=account, batch=batch)
    return JsonResponse(report.as_dict(), status=200)


def _refused(cls: type) -> JsonResponse:
    """Return the 401 of a callback that is not the account's, the same whatever the reason."""
    response = JsonResponse({"detail": _("authentication failed")}, status=401)
    if cls.callback_challenge:
        response["WWW-Authenticate"] = cls.callback_challenge
    return response
