"""gunicorn's settings for the web process (``scripts/entrypoint.sh web``; README, "Deploying").

Read from the environment like the rest of Crier. gthread workers: the web side waits on
the database, not the CPU, and a few threads a process keep memory low.
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
# SIGTERM: finish the requests in progress for at most this long, then exit, so the
# whole stop stays inside the 10 s that `docker stop` and orchestrators give.
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "8"))
keepalive = 5
# No control socket (gunicorn 25+): nothing here uses it, and its default path in $HOME is
# shared by every gunicorn of the user (and not writable for the image's user).
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# Requests carry no secret in their line (tokens travel in headers), so the access log may keep it.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'

if os.environ.get("CRIER_LOG_FORMAT", "plain").strip().lower() == "json":
    # gunicorn's own records (start, stop, access lines) as one JSON object a line too,
    # with the formatter Django's LOGGING uses (config/settings.py, "Logging").
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
                "json_ensure_ascii": False,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


def child_exit(server, worker):
    """Let prometheus-client's multiprocess mode forget a web worker that exited (docs/metrics.md)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    multiprocess.mark_process_dead(worker.pid)
