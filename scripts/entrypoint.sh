#!/bin/sh
# The container's entry point (Dockerfile, compose.yaml); the production smoke test
# (scripts/prod_smoke.py) runs it outside a container exactly the same way.
#
#   web        collect static files if not collected yet, then gunicorn (config/gunicorn.conf.py)
#   worker     wake the dispatcher ticker, then one django-q2 cluster (scale: run more)
#   migrate    apply migrations (one-shot, before web and worker start)
#   emulators  the four provider emulators, for a sandbox (never in production)
#   seed-demo  the demo data (a sandbox only)
#   healthcheck  GET /healthz on this container's web port (compose's healthcheck)
#   anything else is run as given (e.g. `python manage.py createsuperuser`)
#
# Each long-running command is exec'd, so SIGTERM from `docker stop` or the orchestrator
# reaches gunicorn or qcluster itself (README, "Deploying": both stop within 10 s).
set -eu

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings}"

case "${1:-web}" in
  web)
    # The image collects at build (its manifest is then present); a checkout run this way
    # collects once into STATIC_ROOT. CRIER_COLLECTSTATIC=always collects on every start.
    static_root="$("$PYTHON" -c 'import django; django.setup(); from django.conf import settings; print(settings.STATIC_ROOT)' 2>/dev/null || true)"
    if [ "${CRIER_COLLECTSTATIC:-auto}" = "always" ] || [ ! -f "${static_root:-/nonexistent}/staticfiles.json" ]; then
      "$PYTHON" manage.py collectstatic --noinput -v 0
    fi
    exec "$PYTHON" -m gunicorn config.wsgi:application -c config/gunicorn.conf.py
    ;;
  worker)
    # Start the ticker loop now rather than at django-q2's next schedule check (up to a
    # minute away); a second loop only waits for the lease and leaves (docs/architecture.md).
    # Only a head start: if it fails, the schedule starts the ticker all the same.
    "$PYTHON" -c 'import django; django.setup(); from django_q.tasks import async_task; async_task("campaigns.tasks.dispatcher_loop", task_name="dispatcher-loop")' \
      || echo "entrypoint: could not wake the ticker now; django-q2's schedule will start it" >&2
    exec "$PYTHON" manage.py qcluster
    ;;
  migrate)
    exec "$PYTHON" manage.py migrate --noinput
    ;;
  emulators)
    exec "$PYTHON" manage.py run_emulators --host "${CRIER_EMULATOR_HOST:-0.0.0.0}"
    ;;
  seed-demo)
    exec "$PYTHON" manage.py seed_demo
    ;;
  healthcheck)
    exec "$PYTHON" -c '
import os, sys, urllib.request
port = os.environ.get("PORT", "8000")
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
sys.exit(0 if urllib.request.urlopen(request, timeout=5).status == 200 else 1)
'
    ;;
  *)
    exec "$@"
    ;;
esac
