"""One client per provider kind behind one interface (`base.ProviderClient`)."""

from providers.clients import no_redirects
from providers.clients.base import client_for

no_redirects.install()

__all__ = ["client_for"]
