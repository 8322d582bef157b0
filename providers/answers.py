"""What an account check may repeat of a provider's answer (docs/providers.md §7).

A check (``manage.py check_provider``, the API's ``check/``, the admin's action) says in a
fixed sentence of ours whether the account works, with the HTTP status and the provider's
code when it looks like one: never the answer's message or body, which on a sandbox
account may come from any host and must not be echoed to the operator or the logs.
"""

from __future__ import annotations

import re

# What a provider's code looks like (Binance "900002", mPaaS "InvalidTimeStamp.Expired",
# Alipay+ "INVALID_SIGNATURE", Jiguang "4005", ours "HTTP_404").
CODE_SHAPE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def check_code(code: str) -> str:
    """Return ``code`` when it looks like a provider's code, else "-"."""
    return code if CODE_SHAPE.fullmatch(code or "") else "-"
