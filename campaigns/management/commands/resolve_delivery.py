"""Resolve a delivery in state 'unknown': resend it with the same key, or close it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Delivery
from campaigns.sending.operations import DeliveryNotUnknown, delivery_resolve


class Command(BaseCommand):
    help = "Resend or close an 'unknown' delivery (the provider may or may not have acted on it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("key", help="the delivery's idempotency key (or its id)")
        parser.add_argument("action", choices=["resend", "close"])

    def handle(self, *args, key: str, action: str, **options) -> None:
        delivery = Delivery.objects.filter(idempotency_key=key).first()
        if delivery is None and key.isdigit():
            delivery = Delivery.objects.filter(pk=int(key)).first()
        if delivery is None:
            raise CommandError(f"no delivery with key or id {key!r}")
        try:
            delivery = delivery_resolve(delivery=delivery, action=action)
        except DeliveryNotUnknown as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"delivery {delivery.idempotency_key} is now {delivery.status}")
