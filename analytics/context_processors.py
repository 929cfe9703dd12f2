"""The open-alerts banner on every admin page, for staff who may view alerts.

Django's own admin templates come first in the template search (django.contrib.admin is listed
before our apps), so rather than overriding base_site.html the banner joins the admin's message
list: a warning line at the top of every page with the count and a link to the open alerts.
The messages the request already carries are shown as before, and consumed as before.
"""

from __future__ import annotations

from django.contrib.messages import constants, get_messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from analytics.models import Alert


class AlertBanner:
    """Looks like a message to the admin's message list."""

    level = constants.WARNING
    tags = "warning"
    extra_tags = ""

    def __init__(self, count: int, url: str):
        self.count = count
        self.url = url
        self.message = format_html(
            '{} <a href="{}">Show open alerts</a>',
            ngettext("%d alert is open.", "%d alerts are open.", count) % count,
            url,
        )

    def __str__(self) -> str:
        return self.message


class MessagesWithBanner:
    """The request's messages with the banner in front (iterating consumes them as usual)."""

    def __init__(self, banner: AlertBanner, messages):
        self.banner = banner
        self.messages = messages

    def __iter__(self):
        yield self.banner
        yield from self.messages

    def __len__(self) -> int:
        return 1 + len(self.messages)

    def __bool__(self) -> bool:
        return True


def open_alerts(request) -> dict:
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    if (
        match is None
        or "admin" not in match.namespaces
        or user is None
        or not (user.is_active and user.is_staff)
        or not user.has_perm("analytics.view_alert")
    ):
        return {}
    count = Alert.objects.filter(resolved_at__isnull=True).count()
    if not count:
        return {}
    banner = AlertBanner(count, reverse("admin:analytics_alert_changelist") + "?status=open")
    return {"open_alerts": banner, "messages": MessagesWithBanner(banner, get_messages(request))}
