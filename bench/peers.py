"""`python -m bench peers [--scale F]`: the same promotional email to the same 10,000 customers
(10,000 x F), sent two ways against the same SendGrid (the sandbox):

- `peers_s`, the way most Django projects send today: one process loops over the audience and
  sends each customer their own message through Django's email API (`EmailMultiAlternatives`
  on one reused connection) with django-anymail's SendGrid backend, the content rendered per
  recipient with Django's template engine: one mail/send request per recipient.
- `ours_s`, a campaign: `campaign_start` to `finished`, prepared and sent by one `qcluster`
  with the default worker count (Q_WORKERS, 2): one mail/send request per 1,000 recipients,
  personalised by SendGrid from the stored dynamic template.

Both send the same content: the campaign's pinned template version as we hand it to providers
(layout, inlined CSS, allowlisted HTML; `provider_content`), its Handlebars tags spelled as
Django template tags for the peer (`{{#if x}}` -> `{% if x %}`, `{{{x}}}` -> `{{ x|safe }}`;
`{{x}}` is the same syntax, HTML-escaped by both), the same per-recipient data (customer, last
return, brand), the same unsubscribe group, a tag and the campaign as metadata. Both are timed
from the first database read to the last answer, excluding process start-up; the peer's seconds
include rendering, which SendGrid does for the campaign. `ratio` = peers_s / ours_s. Request,
recipient and duplicate counts are what the sandbox received for each (`GET /_sandbox/summary`).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

from bench.figures import STACK, TINY_ENV, Tiny
from bench.seed_campaign import PEER_API_KEY, SANDBOX_FIGURES, CampaignStack, sandbox_figures

CUSTOMERS = 10_000

FIGURES = {
    **STACK,
    "workers": int,
    "customers": int,
    "peers_s": float,
    "peers_render_s": float,
    "peers_failed": int,
    "peers_requests": int,
    "peers_recipients": int,
    "peers_duplicates": int,
    "peers_sandbox_busy_s": float,
    "peers_refused_429": int,
    "ours_s": float,
    "ours_prepare_s": float,
    "ours_status": str,
    "ours_requests": int,
    "ours_recipients": int,
    "ours_duplicates": int,
    "ours_refused_429": int,
    "ours_sandbox_busy_s": float,
    "ratio": float,
    **SANDBOX_FIGURES,
}
# The sandbox renders the campaign's one request with handlebars.js, seconds of the same busy
# cores: the client waits longer for it than the default PROVIDER_TIMEOUT.
TINY = Tiny(
    options=("--scale", "0.01"),
    env={**TINY_ENV, "PROVIDER_TIMEOUT": "30"},
    expect={
        "customers": 100,
        "peers_failed": 0,
        "peers_requests": 100,
        "peers_recipients": 100,
        "peers_duplicates": 0,
        "ours_status": "finished",
        "ours_requests": 1,
        "ours_recipients": 100,
        "ours_duplicates": 0,
        "sandbox_render_limit": 1,
    },
)


def run(scale: float = 1.0) -> dict:
    customers = max(1, round(CUSTOMERS * scale))
    with CampaignStack(start_worker=False) as stack:
        seeded = stack.child("-m", "bench.seed_campaign", "seed", str(customers), stack.sandbox)
        stack.worker_start()
        stack.worker_ready()  # idle alongside the peer, as in a deployment

        before = stack.summary()["last_id"]
        peer = stack.child("-m", "bench.peers", str(seeded["campaign"]), stack.sandbox)
        peer_summary = stack.summary(after=before)

        before = peer_summary["last_id"]
        ours = stack.child("-m", "bench.seed_campaign", "send", str(seeded["campaign"]))
        our_summary = stack.summary(after=before)

        return {
            **stack.describe(),
            "workers": int(stack.env.get("Q_WORKERS", "2")),
            "customers": customers,
            "peers_s": peer["wall_s"],
            "peers_render_s": peer["render_s"],
            "peers_failed": peer["failed"],
            "peers_requests": peer_summary["requests"],
            "peers_recipients": peer_summary["recipients"],
            "peers_duplicates": peer_summary["duplicates"],
            "peers_sandbox_busy_s": peer_summary["busy_s"],
            "peers_refused_429": peer_summary["refused_429"],
            "ours_s": ours["wall_s"],
            "ours_prepare_s": ours["prepare_s"],
            "ours_status": ours["status"],
            "ours_requests": our_summary["requests"],
            "ours_recipients": our_summary["recipients"],
            "ours_duplicates": our_summary["duplicates"],
            "ours_refused_429": our_summary["refused_429"] - peer_summary["refused_429"],
            "ours_sandbox_busy_s": our_summary["busy_s"] - peer_summary["busy_s"],
            "ratio": round(peer["wall_s"] / ours["wall_s"], 1) if ours["wall_s"] else None,
            **sandbox_figures(stack, our_summary),
        }


# --- the peer, in its own process -------------------------------------------------------------
_BLOCKS = (
    (re.compile(r"\{\{\{\s*([\w.]+)\s*\}\}\}"), r"{{ \1|safe }}"),  # unescaped, both ways
    (re.compile(r"\{\{#if\s+([\w.]+)\s*\}\}"), r"{% if \1 %}"),
    (re.compile(r"\{\{#unless\s+([\w.]+)\s*\}\}"), r"{% if not \1 %}"),
    (re.compile(r"\{\{else\}\}"), "{% else %}"),
    (re.compile(r"\{\{/(?:if|unless)\}\}"), "{% endif %}"),
)


def django_template_source(handlebars: str) -> str:
    """The template's Handlebars, spelled for Django's engine (the tags it uses)."""
    source = handlebars
    for pattern, replacement in _BLOCKS:
        source = pattern.sub(replacement, source)
    leftover = re.search(r"\{\{[#^/>!&]|\{\{\{", source)
    if leftover:
        raise ValueError(f"no Django spelling for {source[leftover.start() :][:40]!r}")
    return source


def peer(campaign_id: int, sandbox: str) -> None:
    """Send the campaign's email to its audience one message at a time, as a Django project
    would with django-anymail; prints the report as JSON."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.EMAIL_BACKEND = "anymail.backends.sendgrid.EmailBackend"
    settings.ANYMAIL = {
        "SENDGRID_API_KEY": PEER_API_KEY,
        "SENDGRID_API_URL": f"{sandbox}/sendgrid/v3/",
    }

    from anymail.exceptions import AnymailError
    from django.core.mail import EmailMultiAlternatives, get_connection
    from django.template import Context, Engine

    from returns_mail.models import Campaign
    from returns_mail.selectors.segments import segment_audience
    from returns_mail.services.campaign_audience import CUSTOMER_FIELDS, recipient_data
    from templates_lib.rendering import provider_content

    campaign = Campaign.objects.select_related("segment", "template__active_version").get(
        pk=campaign_id
    )
    version = campaign.template.active_version
    content = provider_content(version, version.default_locale)
    engine = Engine(autoescape=True)
    subject = engine.from_string(django_template_source(content.subject))
    html = engine.from_string(django_template_source(content.html))
    text = engine.from_string(django_template_source(content.text))
    brand = version.layout.brand()
    sender = f"{campaign.account.from_name} <{campaign.account.from_email}>"

    started = time.perf_counter()
    render_s = 0.0
    sent = failed = 0
    with get_connection() as connection:
        customers = segment_audience(campaign.segment).recipients.order_by("pk")
        for customer in customers.values(*CUSTOMER_FIELDS).iterator(chunk_size=2000):
            rendering = time.perf_counter()
            context = Context({**recipient_data(customer), "brand": brand}, autoescape=False)
            message = EmailMultiAlternatives(
                subject=subject.render(context).strip(),
                body=text.render(context),
                from_email=sender,
                to=[f"{customer['name']} <{customer['email']}>"],
                connection=connection,
            )
            context.autoescape = True
            message.attach_alternative(html.render(context), "text/html")
            message.tags = [f"campaign-{campaign.pk}"]
            message.metadata = {"rm_campaign": str(campaign.pk)}
            message.esp_extra = {"asm": {"group_id": campaign.unsubscribe_group_id}}
            render_s += time.perf_counter() - rendering
            try:
                message.send()
                sent += 1
            except AnymailError:
                failed += 1
    wall = time.perf_counter() - started
    report = {"sent": sent, "failed": failed, "wall_s": round(wall, 2)}
    print(json.dumps({**report, "render_s": round(render_s, 2)}))


if __name__ == "__main__":
    peer(int(sys.argv[1]), sys.argv[2])
