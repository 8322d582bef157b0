"""The Alibaba Cloud signers against the documented vector and the official SDKs' own code."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from aliyunsdkcore.auth.composer import rpc_signature_composer
from hypothesis import given, settings
from hypothesis import strategies as st

from providers import aliyun_signature as sig

# The SDK keeps its composer private; the test reads it on purpose, to compare byte for byte.
sdk_compose_string_to_sign = getattr(rpc_signature_composer, "__compose_string_to_sign")

VECTOR_COMMON = {
    "Action": "PushBroadcast",
    "Version": "2019-08-21",
    "Format": "JSON",
    "RegionId": "cn-hangzhou",
    "Timestamp": "2024-05-20T07:59:48Z",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureType": "",
    "SignatureVersion": "1.0",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "AccessKeyId": "testid",
}
VECTOR_BODY = {
    "AppId": "ONEX570DA89211720",
    "WorkspaceId": "test",
    "TemplateName": "broadcastTemplate",
    "TemplateKeyValue": '{"content":"This is an announcement"}',
    "DeliveryType": "1",
    "TaskName": "Python test broadcast task",
    "ExpiredSeconds": "600",
    "Msgkey": "1716191988",
}

# Names and values with what percent-encoding gets wrong most often: unicode, spaces, * and ~.
tricky = st.sampled_from(["a b", "*", "~", "a*b~c", "x+y", "%7E", "é", "名字", "a=b&c", "/path", "🙂"])
names = st.one_of(st.text(min_size=1, max_size=12), tricky).filter(lambda name: name != "Signature")
values = st.one_of(st.text(max_size=24), tricky, st.integers().map(str))
parameter_sets = st.dictionaries(names, values, min_size=1, max_size=12)


def test_signer_reproduces_the_documented_test_vector():
    string_to_sign = sig.rpc_string_to_sign(method="POST", params={**VECTOR_COMMON, **VECTOR_BODY})

    assert (
        sig.rpc_signature(string_to_sign=string_to_sign, secret="testsecret")
        == "ZwscnMAvUXVNteMAMz0KrQ4p++s="
    )


def test_common_params_are_the_ones_the_old_sdk_signs():
    common = sig.rpc_common_params(
        action="PushBroadcast",
        version="2019-08-21",
        access_key_id="testid",
        timestamp="2024-05-20T07:59:48Z",
        nonce="3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        region_id="cn-hangzhou",
    )

    assert common == VECTOR_COMMON


def test_percent_encoding_keeps_tilde_and_encodes_star_space_and_utf8():
    assert sig.percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"


@settings(max_examples=300, deadline=None)
@given(common=parameter_sets, body=parameter_sets)
def test_string_to_sign_matches_the_sdk_composer_on_random_parameters(common, body):
    merged = {**common, **body}

    ours = sig.rpc_string_to_sign(method="POST", params=merged)

    assert ours == sdk_compose_string_to_sign("POST", dict(merged))


@settings(max_examples=100, deadline=None)
@given(body=parameter_sets, secret=st.text(min_size=1, max_size=30))
def test_signature_matches_the_one_the_sdk_puts_in_its_url(body, secret):
    query = {"Action": "PushBroadcast", "Version": "2019-08-21", "RegionId": "cn-hangzhou"}
    url, sdk_string_to_sign = rpc_signature_composer.get_signed_url(
        dict(query), "testid", secret, "JSON", "POST", dict(body)
    )
    sent = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))

    string_to_sign = sig.rpc_string_to_sign(method="POST", params={**sent, **body})

    assert string_to_sign == sdk_string_to_sign
    assert sig.rpc_signature(string_to_sign=string_to_sign, secret=secret) == sent["Signature"]


header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=16).filter(
    lambda name: not name.startswith("-")
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(header_names, header_values, min_size=1, max_size=8),
    query=st.dictionaries(st.text(alphabet="ABCdef123", min_size=1, max_size=6), values, max_size=4),
    body=st.binary(max_size=200),
    secret=st.text(min_size=1, max_size=30),
)
def test_acs3_authorization_matches_the_tea_sdk(headers, query, body, secret):
    payload_hash = sig.sha256_hex(body)
    request = SimpleNamespace(pathname="/", method="POST", query=dict(query), headers=dict(headers))
    tea = TeaUtils.get_authorization(request, "ACS3-HMAC-SHA256", payload_hash, "testid", secret)

    canonical = sig.acs3_canonical_request(
        method="POST",
        path="/",
        query=query,
        headers=headers,
        signed_headers=sorted(headers),
        payload_hash=payload_hash,
    )
    ours = sig.acs3_signature(string_to_sign=sig.acs3_string_to_sign(canonical), secret=secret)

    fields = sig.parse_acs3_authorization(tea)
    assert fields == {"Credential": "testid", "SignedHeaders": ";".join(sorted(headers)), "Signature": ours}


def test_a_malformed_acs3_authorization_is_not_parsed():
    assert sig.parse_acs3_authorization("ACS3-HMAC-SHA256 Credential=a,Signature=b") is None
    assert sig.parse_acs3_authorization("HMAC-SHA1 Credential=a,SignedHeaders=b,Signature=c") is None
