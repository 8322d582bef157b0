"""Emergency stop: halt all dispatching at once across workers, or resume it."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from campaigns.models import SendSwitch
from campaigns.sending.operations import sending_resume, sending_stop


class Command(BaseCommand):
    help = "Halt all sending now (--resume lifts the stop and continues where it stopped)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--resume", action="store_true", help="lift the emergency stop")
        parser.add_argument("--reason", default="", help="why (shown to operators)")

    def handle(self, *args, resume: bool, reason: str, **options) -> None:
        if resume:
            n = sending_resume()
            self.stdout.write(self.style.SUCCESS(f"sending resumed; {n} pending dispatches woken"))
            return
        sending_stop(reason=reason)
        switch = SendSwitch.objects.get(pk=1)
        self.stdout.write(self.style.WARNING(f"sending STOPPED ({switch.reason or 'no reason given'})"))
