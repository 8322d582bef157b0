"""Print a fresh .env for local use: DEBUG on, new SECRET_KEY, credentials key and audit key."""

import secrets

from cryptography.fernet import Fernet

print("# Written by `make run`; local development only. Never commit this file.")
print("DEBUG=1")
print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"CRIER_FIELD_KEYS={Fernet.generate_key().decode()}")
print(f"CRIER_AUDIT_KEY=k1:{secrets.token_urlsafe(32)}")
