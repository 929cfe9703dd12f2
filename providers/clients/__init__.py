"""One client per provider kind behind one interface (`base.ProviderClient`)."""

from providers.clients import no_redirects
from providers.clients.base import (
    Capability,
    Reporting,
    account_can,
    account_reporting,
    cannot_message,
    client_for,
    kinds_reporting,
    kinds_that_can,
)

no_redirects.install()

__all__ = [
    "Capability",
    "Reporting",
    "account_can",
    "account_reporting",
    "cannot_message",
    "client_for",
    "kinds_reporting",
    "kinds_that_can",
]
