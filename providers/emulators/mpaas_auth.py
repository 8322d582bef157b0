"""The mPaaS emulator's POP gateway authentication: RPC signature 1.0 (HMAC-SHA1) and
ACS3-HMAC-SHA256, timestamps and nonces (see ``providers.emulators.mpaas``)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from providers import aliyun_signature as sig
from providers.emulators.base import EmuRequest, EmuResponse

SIGNATURE_MISMATCH_PREFIX = (
    "Specified signature is not matched with our calculation. server string to sign is:"
)
RPC_REQUIRED = (
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
)
ACS3_SIGNED_REQUIRED = (
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)


class Reject(Exception):
    """Stop handling a request and answer ``response``."""

    def __init__(self, response: EmuResponse) -> None:
        super().__init__(response.status)
        self.response = response


class PopAuthMixin:
    """Authentication checks of :class:`~providers.emulators.mpaas.MpaasEmulator`."""

    def _check_time(self, value: str, name: str) -> None:
        try:
            at = datetime.strptime(value, sig.TIMESTAMP_FORMAT).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise Reject(
                self._pop_error(
                    400,
                    "IllegalTimestamp",
                    f'The input parameter "{name}" that is mandatory for processing this request '
                    "is not supplied or its format is illegal.",
                )
            ) from None
        if abs(self.clock() - at) > self.timestamp_window:
            raise Reject(
                self._pop_error(
                    400, "InvalidTimeStamp.Expired", "Specified time stamp or date header is expired."
                )
            )

    def _secret_for(self, access_key_id: str) -> str:
        secret = self.credentials.get(access_key_id)
        if secret is None:
            raise Reject(
                self._pop_error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
            )
        return secret

    def _mismatch(self, string_to_sign: str) -> Reject:
        return Reject(
            self._pop_error(400, "SignatureDoesNotMatch", SIGNATURE_MISMATCH_PREFIX + string_to_sign)
        )

    def _use_nonce(self, nonce: str) -> None:
        now = self.clock()
        with self._state:
            horizon = now - 2 * self.timestamp_window
            for old in [n for n, at in self._nonces.items() if at < horizon]:
                del self._nonces[old]
            if nonce in self._nonces:
                raise Reject(
                    self._pop_error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
                )
            self._nonces[nonce] = now

    def _check_rpc(self, request: EmuRequest, params: Mapping[str, str]) -> None:
        for name in RPC_REQUIRED:
            if name not in params or (name != "Signature" and not params[name]):
                raise self._missing(name)
        if params["SignatureMethod"] != sig.RPC_SIGNATURE_METHOD or params["SignatureVersion"] != "1.0":
            raise Reject(
                self._pop_error(
                    400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."
                )
            )
        self._check_time(params["Timestamp"], "Timestamp")
        secret = self._secret_for(params["AccessKeyId"])
        string_to_sign = sig.rpc_string_to_sign(method=request.method, params=params)
        expected = sig.rpc_signature(string_to_sign=string_to_sign, secret=secret)
        if not hmac.compare_digest(expected, params["Signature"]):
            raise self._mismatch(string_to_sign)
        self._use_nonce(params["SignatureNonce"])

    def _check_acs3(self, request: EmuRequest, authorization: str) -> None:
        fields = sig.parse_acs3_authorization(authorization)
        if fields is None:
            raise Reject(
                self._pop_error(
                    400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."
                )
            )
        signed = [name.strip().lower() for name in fields["SignedHeaders"].split(";") if name.strip()]
        for name in ACS3_SIGNED_REQUIRED:
            if name not in request.headers:
                raise self._missing(name)
            if name not in signed:
                raise Reject(
                    self._pop_error(
                        400, "IncompleteSignature", f"The header {name} must be signed (SignedHeaders)."
                    )
                )
        self._check_time(request.headers["x-acs-date"], "x-acs-date")
        secret = self._secret_for(fields["Credential"])
        canonical = sig.acs3_canonical_request(
            method=request.method,
            path=request.path,
            query=request.query,
            headers={name: request.headers.get(name, "") for name in signed},
            signed_headers=signed,
            payload_hash=sig.sha256_hex(request.body),  # the body we got, not the header's claim
        )
        string_to_sign = sig.acs3_string_to_sign(canonical)
        expected = sig.acs3_signature(string_to_sign=string_to_sign, secret=secret)
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise self._mismatch(string_to_sign)
        self._use_nonce(request.headers["x-acs-signature-nonce"])
