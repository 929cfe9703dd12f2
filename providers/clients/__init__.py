"""One client per provider kind behind one interface (`base.ProviderClient`)."""

from providers.clients.base import client_for

__all__ = ["client_for"]
