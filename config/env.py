"""Reading the environment: the one place settings come from.

Values come from real environment variables first, then from the `.env` file (``ENV_FILE``
points elsewhere; an empty ``ENV_FILE`` reads none). Development-only secrets that are missing
are generated once into ``DATA_DIR`` (git-ignored), so a fresh clone runs without set-up but
never shares a key with another machine.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    env.read_env(_env_file)


def data_dir() -> Path:
    """Where the embedded database, generated dev keys and collected static files live."""
    path = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


# How each development secret is generated when the environment does not give one.
_DEV_SECRET_FACTORIES = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
}


def dev_secret(name: str, factory: Callable[[], str] | None = None) -> str:
    """Return the development value of secret ``name``, generating it on first use.

    Written with mode 0600 into DATA_DIR and reused from there; never used when DEBUG is off.
    """
    path = data_dir() / f"dev-{name.lower().replace('_', '-')}"
    if path.exists():
        return path.read_text().strip()
    value = (factory or _DEV_SECRET_FACTORIES[name])()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def require_production_settings(debug: bool, **values: object) -> None:
    """Refuse to start with DEBUG off while a required variable is missing; name every one."""
    if debug:
        return
    missing = sorted(name for name, value in values.items() if not value)
    if missing:
        raise ImproperlyConfigured(
            "DEBUG is off, so these environment variables are required: " + ", ".join(missing)
        )


def env_ports(name: str, default: list[int]) -> list[int]:
    """A comma-separated list of TCP port numbers (``default`` when unset, none when empty); a
    value that is not a port number stops the start with the variable named."""
    if name not in env.ENVIRON:  # the environment, with the .env file's values added
        return list(default)
    raw = env.str(name, default="")
    ports = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit() or not 1 <= int(item) <= 65535:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated port numbers (1-65535); {item!r} is not one"
            )
        ports.append(int(item))
    return ports


def env_nameservers(name: str) -> list[tuple[str, int]]:
    """A comma-separated list of DNS servers, each an IP address with an optional port
    (``127.0.0.1:5353``, ``[::1]:53``, ``9.9.9.9``; port 53 when none is given). Empty or
    unset: none. A value that is not one stops the start with the variable named."""
    servers = []
    for item in env.str(name, default="").split(","):
        item = item.strip()
        if not item:
            continue
        host, port = item, "53"
        if item.startswith("["):  # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif item.count(":") == 1:
            host, _, port = item.partition(":")
        try:
            ipaddress.ip_address(host)
            number = int(port)
        except ValueError:
            number = 0
        if not 1 <= number <= 65535:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated IP addresses, each with an optional :port; "
                f"{item!r} is not one"
            )
        servers.append((host, number))
    return servers


def with_query_defaults(url: str, **defaults: str) -> str:
    """Add query parameters to ``url`` unless it already sets them."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in defaults.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))
