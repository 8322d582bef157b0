"""Benchmarks of the work Crier exists for, each figure a ratio to a limit measured in the same run.

Run ``python -m bench`` (``make bench``) or ``python -m bench --quick`` (``make bench-quick``,
small sizes, a smoke test for CI). See BENCHMARKS.md for what is measured, how, and the
latest figures. Benchmarks are not tests: a missed goal is reported, not failed; the run
exits non-zero only when something breaks (a dispatch that does not finish, a request
lost or sent twice, a page that errors, a crash).

Everything runs against a database of its own (a fresh SQLite file under ``var/bench/``,
or a throwaway PostgreSQL database next to the one ``DATABASE_URL`` names), migrated by
the run and removed at its end; emulators and ``qcluster`` processes are started on
127.0.0.1 and stopped at the end, also on Ctrl-C or failure.
"""
