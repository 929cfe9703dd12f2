"""Seed a benchmark database: an API client, a SendGrid account on the sandbox, the default
templates and one rule for refund.processed. Prints {"token": ...} as JSON."""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from providers.models import ProviderAccount
    from returns_mail.models import RuleAccount, TriggerRule
    from returns_mail.services.api_clients import api_client_create
    from templates_lib.models import Template
    from templates_lib.services.defaults import defaults_install

    sandbox = sys.argv[1]
    defaults_install()  # before the account exists: nothing to push during the benchmark
    account = ProviderAccount.objects.create(
        name="Bench SendGrid",
        kind="sendgrid",
        api_base_url=f"{sandbox}/sendgrid",
        api_key="SG.bench.key-000000000001",
        from_email="returns@bench.example",
    )
    rule = TriggerRule.objects.create(
        name="Refund processed",
        event_type="refund.processed",
        template=Template.objects.get(slug="refund-processed"),
    )
    RuleAccount.objects.create(rule=rule, account=account)
    _, token = api_client_create(
        name="bench", scopes=["events:write", "messages:read"], rate_limit_per_minute=10_000_000
    )
    print(json.dumps({"token": token}))


if __name__ == "__main__":
    main()
