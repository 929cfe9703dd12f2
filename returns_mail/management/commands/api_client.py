"""`manage.py api_client create|rotate|list`: API clients for automation. A token is printed once,
alone on the last line (so `... | tail -n1` captures it), and is never shown again."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from returns_mail.models import ApiClient
from returns_mail.models.api_clients import SCOPES
from returns_mail.services.api_clients import api_client_create, api_client_rotate


def _scopes(value: str) -> list[str]:
    scopes = [s.strip() for s in value.split(",") if s.strip()]
    if not scopes:
        raise CommandError(f"--scopes needs at least one of: {', '.join(SCOPES)}")
    return scopes


class Command(BaseCommand):
    help = "Create an API client (prints its token once), rotate its token, or list clients."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a client and print its token once")
        create.add_argument("name")
        create.add_argument(
            "--scopes",
            required=True,
            help=f"comma-separated, of: {', '.join(SCOPES)}",
        )
        create.add_argument(
            "--rate-limit", type=int, default=None, help="requests per minute (default 6000)"
        )
        rotate = actions.add_parser("rotate", help="replace a client's token; print the new one")
        rotate.add_argument("name")
        actions.add_parser("list", help="the clients (never their tokens)")

    def handle(self, *args, action: str, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, *, name: str, scopes: str, rate_limit: int | None, **_):
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f'an API client named "{name}" exists; rotate its token instead')
        extra = {}
        if rate_limit is not None:
            if rate_limit < 1:
                raise CommandError("--rate-limit must be at least 1")
            extra["rate_limit_per_minute"] = rate_limit
        try:
            client, token = api_client_create(name=name, scopes=_scopes(scopes), **extra)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except IntegrityError:
            raise CommandError(f'an API client named "{name}" exists') from None
        self.stdout.write(
            f'Created API client "{client.name}" (scopes: {", ".join(client.scopes)}; '
            f"{client.rate_limit_per_minute} requests/minute)."
        )
        self._print_token(token)

    def _rotate(self, *, name: str, **_):
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f'no API client named "{name}"')
        token = api_client_rotate(client=client)
        self.stdout.write(f'New token for "{client.name}"; the previous one no longer works.')
        self._print_token(token)

    def _list(self, **_):
        clients = ApiClient.objects.order_by("name")
        if not clients:
            self.stdout.write("No API clients.")
            return
        self.stdout.write("name\tactive\tscopes\trate/min\ttoken starts\tlast used")
        for c in clients:
            last_used = c.last_used_at.isoformat(timespec="seconds") if c.last_used_at else "never"
            self.stdout.write(
                f"{c.name}\t{'yes' if c.is_active else 'no'}\t{','.join(c.scopes)}\t"
                f"{c.rate_limit_per_minute}\t{c.token_prefix}…\t{last_used}"
            )

    def _print_token(self, token: str) -> None:
        self.stdout.write("Store the token now; it is not shown again:")
        self.stdout.write(token)
