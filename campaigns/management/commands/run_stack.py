"""Start the web server, a qcluster worker and the provider emulators together.

Used by ``make run``. Prints the admin URL and the demo logins, then waits; Ctrl-C
(or SIGTERM) stops all three. Only the main qcluster process gets SIGTERM, which lets
it drain gracefully (a signal to its whole process group can hang it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

# Every login `seed_demo` creates (tests/campaigns/test_run_stack_banner.py checks that
# each demo user in the database is listed here with a password that signs it in).
DEMO_LOGINS = (
    "  Demo logins (user / password):\n"
    "    marketer / marketer-demo       (Marketing)\n"
    "    reviewer / reviewer-demo       (Reviewers)\n"
    "    reviewer2 / reviewer2-demo     (Reviewers)\n"
    "    compliance / compliance-demo   (Reviewers + Compliance)\n"
    "    operator / operator-demo       (Operators)\n"
    "    admin / admin-demo             (superuser)\n"
)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run web + worker + emulators in the foreground (make run)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host: str, port: int, **options) -> None:
        # SIGTERM ends this process without running `finally`: turn it into the same
        # orderly stop as Ctrl-C so the children are stopped too.
        signal.signal(signal.SIGTERM, _interrupt)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        procs: dict[str, subprocess.Popen] = {}
        specs = {
            "emulators": [*manage, "run_emulators"],
            "chat-emulators": [*manage, "run_chat_emulators"],  # notifications' team chat demo
            "worker": [*manage, "qcluster"],
            "web": [*manage, "runserver", f"{host}:{port}", "--noreload"],
        }
        try:
            for name, cmd in specs.items():
                # Own process group each, so a child that will not stop is killed whole
                # (qcluster's workers included) without touching the others.
                procs[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True)
            time.sleep(3)
            # Start the dispatcher loop now rather than at django-q2's next schedule check
            # (up to 30 s away); a second loop would only wait for the lease.
            from django_q.tasks import async_task

            async_task("campaigns.tasks.dispatcher_loop", task_name="dispatcher-loop")
            self.stdout.write(
                self.style.SUCCESS(f"\nCrier is running: http://{host}:{port}/admin/\n")
                + f"  API:  http://{host}:{port}/api/v1/   docs: http://{host}:{port}/api/docs/\n"
                + DEMO_LOGINS
                + "  Ctrl-C stops web, worker and emulators.\n"
            )
            while all(p.poll() is None for p in procs.values()):
                time.sleep(0.5)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest")
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    # qcluster drains gracefully: the ticker loop may need its full round.
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
