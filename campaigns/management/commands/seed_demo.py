"""Seed the demo idempotently: users and their groups, then what each app contributes.

Each app that has demo data exposes ``<app>.demo.seed(stdout)``; they run in dependency
order, and each must be safe to run again.
"""

from __future__ import annotations

from importlib import import_module

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

# username -> (password, groups, is_superuser). Demo only: printed by `make run`.
DEMO_USERS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "marketer": ("marketer-demo", ("Marketing",), False),
    "reviewer": ("reviewer-demo", ("Reviewers",), False),
    "reviewer2": ("reviewer2-demo", ("Reviewers",), False),
    "operator": ("operator-demo", ("Operators",), False),
    "admin": ("admin-demo", (), True),
}

DEMO_MODULES = [
    "providers.demo",
    "templates_registry.demo",
    "campaigns.audiences.demo",
    "notifications.demo",  # before approvals: its seeded reviews reach the demo chat groups too
    "approvals.demo",
]


def seed_users() -> dict[str, object]:
    """Create or update the demo users; return them by username."""
    User = get_user_model()
    users = {}
    for username, (password, groups, superuser) in DEMO_USERS.items():
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@crier.example"}
        )
        user.is_staff = True
        user.is_superuser = superuser
        if created:
            user.set_password(password)
        user.save()
        user.groups.set(Group.objects.filter(name__in=groups))
        users[username] = user
    return users


class Command(BaseCommand):
    help = "Create the demo users, provider accounts, templates, audiences and campaigns."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            seed_users()
        for dotted in DEMO_MODULES:
            try:
                module = import_module(dotted)
            except ModuleNotFoundError as exc:
                if exc.name != dotted:
                    raise
                continue
            with transaction.atomic():
                module.seed(self.stdout)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
