"""Alibaba Cloud API gateway (POP) request signatures, as pure functions.

Two schemes, both needed by the mPaaS client and its emulator:

* **RPC signature 1.0 (HMAC-SHA1)**, spoken by ``aliyun-python-sdk-core`` and by the Tea
  SDKs with ``signature_algorithm='v2'``. Every parameter of the request (query string and
  form body alike) is signed. :func:`rpc_string_to_sign` is byte-identical to
  ``aliyunsdkcore.auth.composer.rpc_signature_composer``; the tests hold it to that.
* **ACS3-HMAC-SHA256**, the default of ``alibabacloud_tea_openapi`` (and so of
  ``alibabacloud-mpaas20201028``): a canonical request over method, path, query, the
  signed headers and the SHA-256 of the body, as ``alibabacloud_tea_openapi.utils``
  builds it.

No I/O, no clock, no randomness here: callers pass the timestamp and nonce, so the
client and the emulator compute from the same code and tests can pin every input.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import quote

RPC_SIGNATURE_METHOD = "HMAC-SHA1"
RPC_SIGNATURE_VERSION = "1.0"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # ISO 8601 UTC, as both SDKs write it
ACS3_ALGORITHM = "ACS3-HMAC-SHA256"


def percent_encode(value: object) -> str:
    """Return ``value`` percent-encoded the POP way (RFC 3986 unreserved kept, UTF-8).

    ``quote`` with only ``~`` extra-safe gives exactly what the SDK reaches with
    ``urlencode`` + ``+``→``%20``, ``*``→``%2A``, ``%7E``→``~``.
    """
    return quote(str(value), safe="~", encoding="utf-8")


def rpc_canonical_query(*, params: Mapping[str, object]) -> str:
    """Return the sorted, percent-encoded ``k=v&…`` string of ``params`` (``Signature`` left out)."""
    # Sorted by the raw name in code-point order, as the SDK's ``sorted(iteritems(...))`` does.
    pairs = sorted((str(k), str(v)) for k, v in params.items() if k != "Signature")
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)


def rpc_string_to_sign(*, method: str, params: Mapping[str, object]) -> str:
    """Return the RPC 1.0 StringToSign of a request carrying ``params`` (query and body merged)."""
    canonical = rpc_canonical_query(params=params)
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_signature(*, string_to_sign: str, secret: str) -> str:
    """Return Base64(HMAC-SHA1(secret + "&", string_to_sign))."""
    key = f"{secret}&".encode()
    digest = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def rpc_common_params(
    *,
    action: str,
    version: str,
    access_key_id: str,
    timestamp: str,
    nonce: str,
    region_id: str = "",
    response_format: str = "JSON",
) -> dict[str, str]:
    """Return the common (query-string) parameters of an RPC 1.0 request, unsigned.

    ``RegionId`` and the empty ``SignatureType`` are what ``aliyun-python-sdk-core`` adds;
    they are signed like every other parameter.
    """
    params = {
        "Action": action,
        "Version": version,
        "Format": response_format,
        "AccessKeyId": access_key_id,
        "SignatureMethod": RPC_SIGNATURE_METHOD,
        "SignatureType": "",
        "SignatureVersion": RPC_SIGNATURE_VERSION,
        "SignatureNonce": nonce,
        "Timestamp": timestamp,
    }
    if region_id:
        params["RegionId"] = region_id
    return params


def form_encode(params: Mapping[str, object]) -> str:
    """Return ``params`` as a percent-encoded ``k=v&…`` string (query string or form body)."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())


# -- ACS3-HMAC-SHA256 ------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    """Return the lower-case hex SHA-256 of ``data`` (the ``x-acs-content-sha256`` value)."""
    return hashlib.sha256(data).hexdigest()


def acs3_canonical_request(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """Return the ACS3 canonical request.

    ``headers`` must hold (at least) every name in ``signed_headers``, lower-cased; the
    canonical headers are built from that list so the server side verifies exactly what
    the client said it signed.
    """
    canonical_query = "&".join(
        f"{percent_encode(k)}={percent_encode(query[k])}" for k in sorted(query) if query[k] is not None
    )
    names = sorted(name.lower() for name in signed_headers)
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in names)
    return "\n".join(
        [method.upper(), path or "/", canonical_query, canonical_headers, ";".join(names), payload_hash]
    )


def acs3_string_to_sign(canonical_request: str) -> str:
    """Return ``ACS3-HMAC-SHA256\\n`` + hex SHA-256 of the canonical request."""
    return f"{ACS3_ALGORITHM}\n{sha256_hex(canonical_request.encode('utf-8'))}"


def acs3_signature(*, string_to_sign: str, secret: str) -> str:
    """Return hex(HMAC-SHA256(secret, string_to_sign))."""
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_acs3_authorization(value: str) -> dict[str, str] | None:
    """Split ``ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…``; None if malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ACS3_ALGORITHM or not rest:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, item = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = item
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields
