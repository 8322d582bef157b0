"""Print a user's REST API token, creating it if the user has none.

``python manage.py issue_token marketer`` prints the key alone on one line, so a script
can read it: ``TOKEN=$(python manage.py issue_token marketer)``. ``--rotate`` replaces an
existing token (the old key stops working at once). The token is the user's credential:
it is printed because that is this command's job, and never logged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the REST API token of a user (created if missing; --rotate replaces it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="replace the user's existing token")

    def handle(self, *args: Any, username: str, rotate: bool, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist as exc:
            raise CommandError(f"no user named {username!r}; create it first (createsuperuser)") from exc
        if not user.is_active:
            raise CommandError(f"user {username!r} is inactive; a token would not authenticate")
        with transaction.atomic():
            if rotate:
                Token.objects.filter(user=user).delete()
            token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
