"""Reading results out of the benchmark's database: `python -m bench.query NAME` prints JSON."""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db.models import Max, Min

    from returns_mail.models import Message

    what = (sys.argv[1:] if argv is None else argv)[0]
    if what == "statuses":
        statuses: dict[str, int] = {}
        for status in Message.objects.values_list("status", flat=True):
            statuses[status] = statuses.get(status, 0) + 1
        print(json.dumps(statuses))
    elif what == "latencies":
        # Event accepted (stored) -> provider accepted (the send returned), per message.
        rows = Message.objects.filter(status="sent").values_list("event__received_at", "sent_at")
        print(json.dumps([(sent - received).total_seconds() for received, sent in rows]))
    elif what == "send_window":
        window = Message.objects.filter(status="sent").aggregate(
            first=Min("sent_at"), last=Max("sent_at"), claimed=Min("claimed_at")
        )
        sent = Message.objects.filter(status="sent").count()
        seconds = (window["last"] - window["claimed"]).total_seconds() if sent else 0
        print(json.dumps({"sent": sent, "seconds": seconds}))


if __name__ == "__main__":
    main()
