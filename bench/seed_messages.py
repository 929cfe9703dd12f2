"""`python -m bench.seed_messages N PUBLIC_KEY`: N sent messages of the bench's SendGrid
account (which gets PUBLIC_KEY as its webhook verification key), stored directly. Prints
{"account": id, "messages": [[correlation id, recipient], ...]} as JSON."""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.utils import timezone

    from providers.models import ProviderAccount
    from returns_mail.models import ApiClient, Message, MessageStatus, ReturnEvent, TriggerRule

    count, public_key = int(sys.argv[1]), sys.argv[2]
    account = ProviderAccount.objects.get(kind="sendgrid")
    account.webhook_verification_key = public_key
    account.save()
    client, rule = ApiClient.objects.get(), TriggerRule.objects.get()
    now = timezone.now()
    events = ReturnEvent.objects.bulk_create(
        [
            ReturnEvent(
                client=client,
                idempotency_key=f"bench-{i}",
                request_digest="-",
                type=rule.event_type,
                occurred_at=now,
                return_id=f"RMA-B{i}",
                customer_email=f"customer{i}@example.com",
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    messages = Message.objects.bulk_create(
        [
            Message(
                event=event,
                rule=rule,
                recipient=event.customer_email,
                template_version=rule.template.active_version,
                send_after=now,
                status=MessageStatus.SENT,
                sent_at=now,
                account=account,
                provider_message_id=f"bench{event.pk}",
            )
            for event in events
        ],
        batch_size=2000,
    )
    print(
        json.dumps(
            {
                "account": account.pk,
                "messages": [[str(m.correlation_id), m.recipient] for m in messages],
            }
        )
    )


if __name__ == "__main__":
    main()
