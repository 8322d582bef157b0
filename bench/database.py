"""The benchmark's own database and environment (never the developer's ``db.sqlite3``).

``DATABASE_URL`` only says *which kind* of database to benchmark: for SQLite a fresh file
under ``var/bench/`` is used, for PostgreSQL a throwaway database ``crier_bench_<pid>`` on
the same server, with the same credentials. Both are removed by :meth:`BenchDatabase.drop`.

The environment set here is inherited by every process the benchmark starts (qcluster,
emulators), so they all see the same database, keys and cluster name.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var" / "bench"


@dataclass
class BenchDatabase:
    """A database created for one benchmark run."""

    url: str
    vendor: str  # "sqlite" or "postgresql"
    label: str  # what the report shows (never a password)
    _path: Path | None = None
    _admin: dict = field(default_factory=dict, repr=False)
    _name: str = ""

    def drop(self) -> None:
        """Remove the database (the SQLite file and its WAL, or the PostgreSQL database)."""
        if self._path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(**self._admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')


def create_database(base_url: str | None) -> BenchDatabase:
    """Create an empty database of the kind ``base_url`` names (SQLite when unset)."""
    if not base_url or base_url.startswith("sqlite"):
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path = VAR_DIR / f"bench-{os.getpid()}.sqlite3"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return BenchDatabase(
            url=f"sqlite:///{path}",
            vendor="sqlite",
            label=f"SQLite (WAL) {path.relative_to(BASE_DIR)}",
            _path=path,
        )
    parsed = urlparse(base_url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"DATABASE_URL scheme {parsed.scheme!r} is not supported by the benchmarks")
    import psycopg

    name = f"crier_bench_{os.getpid()}"
    admin = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "dbname": "postgres",
    }
    if parsed.password:
        admin["password"] = parsed.password
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
    url = urlunparse(parsed._replace(path=f"/{name}"))
    return BenchDatabase(
        url=url,
        vendor="postgresql",
        label=f"PostgreSQL {version} on {admin['host']}:{admin['port']}, database {name}",
        _admin=admin,
        _name=name,
    )


def bench_environment(db: BenchDatabase) -> dict[str, str]:
    """Return the environment the benchmark and its processes run with.

    Production-like (``DEBUG=0``, so Django keeps no query log), with fresh keys, no
    ``.env`` file, no TLS redirects (everything is plain HTTP on 127.0.0.1), and a cluster
    name of its own so a Redis broker queue is never shared with anything else.
    """
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": db.url,
        "CRIER_ENV_FILE": "",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "CRIER_FIELD_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "CRIER_ALLOW_SANDBOX_ACCOUNTS": "1",  # the accounts are the emulators'
        # DEBUG=0 serves hashed static files from a manifest (WhiteNoise, README "Deploying"):
        # bench/run.py collects them here first, as a production start does.
        "STATIC_ROOT": str(VAR_DIR / "static"),
        "Q_CLUSTER_NAME": f"crier-bench-{os.getpid()}",
        "Q_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
