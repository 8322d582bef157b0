"""Provider status callbacks: ``/callbacks/jiguang/<account id>/`` (outside the API's auth).

Register ``https://<crier host>/callbacks/jiguang/<account id>/`` in the Jiguang UMS
console (VIP; at most five URLs, http(s) without a custom port), and pick the statuses to
receive there. A campaign may also name it per request as ``callback.url``.

* ``GET ?echostr=<random>`` — the console's URL validation: the body echoes ``echostr``
  (plain text). No credentials are needed to echo.
* ``POST`` — a JSON batch of status records (an array; an object holding one under
  ``data``/``records``/``list``, or a single record, is read too). It must carry
  ``Authorization: Basic base64(channel key:master secret)`` of that account, or it is
  answered 401 and nothing is stored. Records are stored as per-user receipts by
  ``campaigns.sending.receipts.receipts_record_jiguang`` — idempotently, since Jiguang resends a
  batch every 50 s (up to three times) until it gets a 200. The answer is 200 with the
  counts (received, stored, duplicates, unmatched, invalid); a body that is not JSON is
  400.

CSRF does not apply (the caller is Jiguang, authenticated by its own credentials).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.sending.receipts import receipts_record_jiguang
from providers.models import ProviderAccount

logger = logging.getLogger(__name__)
MAX_ECHOSTR = 256
BATCH_KEYS = ("data", "records", "list")


def jiguang_authentic(account: ProviderAccount, authorization: str) -> bool:
    """Return whether ``authorization`` is Basic with ``account``'s channel key and master secret."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "basic" or not token:
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    channel_key, sep, secret = decoded.partition(":")
    credentials = account.get_credentials()
    expected_key = credentials.get("channel_key", "")
    expected_secret = credentials.get("master_secret", "")
    if not sep or not expected_key or not expected_secret:
        return False
    same_key = hmac.compare_digest(channel_key.encode(), expected_key.encode())
    same_secret = hmac.compare_digest(secret.encode(), expected_secret.encode())
    return same_key and same_secret


def _records(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in BATCH_KEYS:
            if isinstance(data.get(key), list):
                return data[key]
        return [data]
    return [data]


@csrf_exempt
@require_http_methods(["GET", "POST"])
def jiguang_callback(request: HttpRequest, account_id: int) -> HttpResponse:
    """Answer Jiguang's URL validation (GET ``echostr``) or store a batch of status callbacks."""
    account = ProviderAccount.objects.filter(pk=account_id, kind="jiguang").first()
    if account is None:
        return JsonResponse({"detail": f"no Jiguang account {account_id}"}, status=404)
    if request.method == "GET":
        echostr = request.GET.get("echostr")
        if echostr is None or len(echostr) > MAX_ECHOSTR:
            return JsonResponse({"detail": "GET needs ?echostr= (Jiguang's URL validation)"}, status=400)
        return HttpResponse(echostr, content_type="text/plain; charset=utf-8")
    if not jiguang_authentic(account, request.headers.get("Authorization", "")):
        logger.warning("refused a Jiguang callback for account %s: wrong credentials", account.pk)
        response = JsonResponse({"detail": "authentication failed"}, status=401)
        response["WWW-Authenticate"] = 'Basic realm="crier-callbacks"'
        return response
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return JsonResponse({"detail": "the body must be a JSON batch of status records"}, status=400)
    report = receipts_record_jiguang(account=account, records=_records(data))
    return JsonResponse(report.as_dict(), status=200)
