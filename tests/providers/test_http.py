"""providers.http: one TLS context per process for every outgoing client, verifying as httpx does."""

from __future__ import annotations

import os
import ssl

import pytest

from providers import http as provider_http


def test_clients_of_one_process_share_one_verifying_context():
    first, second = provider_http.client(timeout=5), provider_http.client(timeout=5)
    try:
        context = provider_http.tls_context()
        assert context is provider_http.tls_context()
        # Nothing about what is trusted changes: certificates and host names are checked.
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert context.cert_store_stats()["x509_ca"] > 0, "the CA bundle is loaded"
    finally:
        first.close()
        second.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_makes_its_own_context():
    parent = provider_http.tls_context()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child, as a qcluster worker forked after the parent made its context
        try:
            child = provider_http.tls_context()
            own = child is not parent and child is provider_http.tls_context()
            os.write(write, b"new" if own else b"old")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.waitpid(pid, 0)
    assert answer == b"new"
