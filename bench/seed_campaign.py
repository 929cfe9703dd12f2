"""Building blocks of the campaign benchmarks (`bulk`, `peers`).

In the benchmark's process (no Django):
- `CampaignStack`: the usual `Stack`, but its ESP sandbox is the stock `EspSandbox` with two
  additions for big sends, started by this module (`python -m bench.seed_campaign sandbox ...`):
  the SendGrid `render_limit` is a parameter (the stock 100 handlebars.js renders per request
  are the sandbox's own cost, not the sender's), and a light control endpoint
  `GET /_sandbox/summary?after=ID` counts `mail/send` requests, personalizations, distinct and
  duplicate addresses and the sandbox's time and memory, where `GET /_sandbox/requests` would
  serialise every body (hundreds of MB for 100,000 personalizations).
- `TreeSampler`: peak memory of a process tree (the qcluster), sampled every 0.2 s.

In child processes (Django set up, as the app's own processes are):
- `python -m bench.seed_campaign seed N SANDBOX_URL`: N customers with marketing consent (bulk
  insert), a segment of everyone, a promotional template published (and pushed, inline) to a
  SendGrid account on the sandbox, and a draft campaign. Prints {"campaign": id, ...}.
- `python -m bench.seed_campaign send CAMPAIGN_ID`: `campaign_start`, then waits (polling the
  row every 0.1 s) until the campaign is finished; prints wall time and phase times.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.harness import Stack

OFFER_HTML = (
    "<h1>Hello {{customer.first_name}}</h1><p>{{brand.name}} has 15% off for you.</p>"
    "<p>Your last return: {{return_id}}</p>"
)
OFFER_SUBJECT = "A gift for you, {{customer.first_name}}"
API_KEY = "SG.benchkey.secret-0001"
# The peer's own key: the sandbox caps a key at 10,000 requests a minute (SendGridApp.rate_limit),
# which the peer's 10,000 one-recipient requests reach; sharing it would make the campaign that
# follows wait out the peer's window on 429s.
PEER_API_KEY = "SG.benchkey.peers-0002"
# handlebars.js under js2py costs about 60 ms a personalization (subject, html, text) here: the
# stock 100 a request would be 6 s of sandbox CPU per 1,000-recipient request, 600 s for
# 100,000 recipients, on the same cores as the workers. One rendered email a request still shows
# the stored template renders with the data sent.
RENDER_LIMIT = int(os.environ.get("BENCH_SANDBOX_RENDER_LIMIT", "1"))


# --- the benchmark's process ------------------------------------------------------------------
class CampaignStack(Stack):
    """A Stack whose sandbox renders `render_limit` personalizations a request and answers
    `GET /_sandbox/summary`."""

    def __init__(self, *, render_limit: int = RENDER_LIMIT, **kwargs):
        self.render_limit = render_limit
        super().__init__(**kwargs)

    def _spawn(self, name: str, argv: list[str]) -> None:
        if name == "sandbox":
            port = argv[argv.index("--port") + 1]
            smtp_port = argv[argv.index("--smtp-port") + 1]
            argv = [
                sys.executable, "-m", "bench.seed_campaign", "sandbox",
                port, smtp_port, str(self.render_limit),
            ]  # fmt: skip
        super()._spawn(name, argv)

    def summary(self, after: int = 0) -> dict:
        url = f"{self.sandbox}/_sandbox/summary?after={after}"
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def worker_tree(self) -> TreeSampler:
        return TreeSampler(self.processes["worker"].pid)

    def worker_ready(self, timeout: float = 60.0) -> int:
        """Wait until the cluster has forked its workers (qcluster, sentinel, monitor, pusher,
        Q_WORKERS workers) and stayed so for a second; returns the process count."""
        workers = int(self.env.get("Q_WORKERS", "2"))
        deadline = time.monotonic() + timeout
        steady = 0
        while time.monotonic() < deadline:
            count = len(process_tree(self.processes["worker"].pid))
            steady = steady + 1 if count >= workers + 3 else 0
            if steady >= 5:
                return count
            time.sleep(0.2)
        raise RuntimeError("the qcluster did not start its workers")


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """`root` and its descendants, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


TREE_FIGURES = {
    "peak_rss_mb": float,
    "cluster_rss_mb": float,
    "cluster_pss_mb": float,
    "worker_processes": int,
    "rss_samples": int,
}
SANDBOX_FIGURES = {
    "sandbox_busy_s": float,
    "sandbox_peak_rss_mb": float,
    "sandbox_render_limit": int,
}


class TreeSampler:
    """Every 0.2 s: the largest process's peak RSS (VmHWM: the kernel's own high-water mark,
    so no peak falls between samples) — `peak_rss_mb`, the memory of the worker doing the
    campaign —, VmRSS summed over the tree (shared copy-on-write pages counted once per
    process: an overstatement) and PSS summed (shared pages divided among their sharers: the
    cluster's honest total)."""

    def __init__(self, root: int, interval: float = 0.2):
        self.root, self.interval = root, interval
        self.peak_rss_kb = self.peak_pss_kb = self.peak_processes = self.samples = 0
        self.peak_single_rss_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        tree = process_tree(self.root)
        rss = [_status_kb(pid, "VmRSS") for pid in tree]
        self.peak_rss_kb = max(self.peak_rss_kb, sum(rss))
        peaks = [_status_kb(pid, "VmHWM") for pid in tree]
        self.peak_single_rss_kb = max(self.peak_single_rss_kb, max(peaks, default=0))
        self.peak_pss_kb = max(self.peak_pss_kb, sum(_pss_kb(pid) for pid in tree))
        self.peak_processes = max(self.peak_processes, len(tree))
        self.samples += 1

    def figures(self) -> dict:
        return {
            "peak_rss_mb": round(self.peak_single_rss_kb / 1024, 1),
            "cluster_rss_mb": round(self.peak_rss_kb / 1024, 1),
            "cluster_pss_mb": round(self.peak_pss_kb / 1024, 1),
            "worker_processes": self.peak_processes,
            "rss_samples": self.samples,
        }


def sandbox_figures(stack: CampaignStack, summary: dict) -> dict:
    """What the sandbox itself cost: its time inside mail/send handlers and its memory."""
    pid = stack.processes["sandbox"].pid
    return {
        "sandbox_busy_s": summary["busy_s"],
        "sandbox_peak_rss_mb": round(_status_kb(pid, "VmHWM") / 1024, 1),
        "sandbox_render_limit": stack.render_limit,
    }


# --- child processes --------------------------------------------------------------------------
def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def serve_sandbox(port: int, smtp_port: int, render_limit: int) -> None:
    """The stock sandbox (as `manage.py esp_sandbox` runs it) with the summary endpoint."""
    _django()
    from collections import Counter

    from providers.sandbox.core import SandboxResponse
    from providers.sandbox.sendgrid import SendGridApp
    from providers.sandbox.server import EspSandbox, default_provider_apps

    class Sandbox(EspSandbox):
        busy_s = 0.0
        refused_429 = 0

        def dispatch(self, request, provider):
            started = time.perf_counter()
            response = None
            try:
                response = super().dispatch(request, provider)
                return response
            finally:
                with self.lock:
                    self.busy_s += time.perf_counter() - started
                    self.refused_429 += int(getattr(response, "status", 0) == 429)

        def _control(self, request):
            if (request.method, request.path) != ("GET", "/summary"):
                return super()._control(request)
            after = int(request.query.get("after", ["0"])[0])
            sends = [r for r in self.records("sendgrid", path="/v3/mail/send") if r["id"] > after]
            addresses = Counter(
                to["email"].lower()
                for r in sends
                for p in r["body"]["personalizations"]
                for to in p["to"]
            )
            return SandboxResponse.json(
                200,
                {
                    "last_id": max((r["id"] for r in self._records), default=0),
                    "requests": len(sends),
                    "sandbox_mode": sum(1 for r in sends if r.get("sandbox_mode")),
                    "personalizations": sum(len(r["body"]["personalizations"]) for r in sends),
                    "recipients": len(addresses),
                    "duplicates": sum(1 for n in addresses.values() if n > 1),
                    "rendered": sum(
                        1 for r in sends for m in r["rendered"] if m.get("html") is not None
                    ),
                    "render_notes": sorted({n for r in sends for n in r["render_notes"]}),
                    "first_at": sends[0]["received_at"] if sends else None,
                    "last_at": sends[-1]["received_at"] if sends else None,
                    "busy_s": round(self.busy_s, 2),
                    "refused_429": self.refused_429,
                },
            )

    SendGridApp.render_limit = render_limit
    if render_limit:
        # handlebars.js loaded now rather than inside the first send: that takes seconds, on a
        # busy machine more than the client waits (the chunk would be held and reconciled).
        from providers.sandbox.rendering import render

        render("{{warm}}", {"warm": "up"})
    apps = default_provider_apps()
    Sandbox(apps).serve_forever("127.0.0.1", port, smtp_port)


def seed(count: int, sandbox: str, offset: int = 0) -> None:
    """Customers, segment, template (pushed), account and a draft campaign."""
    _django()
    from decimal import Decimal

    from django.utils import timezone

    from providers.models import ProviderAccount
    from returns_mail.models import Campaign, Customer
    from returns_mail.services.segments import segment_create
    from templates_lib.models import SyncStatus, Template, TemplateSync
    from templates_lib.services.defaults import default_layout
    from templates_lib.services.sync import template_sync_push
    from templates_lib.services.templates import template_publish, template_version_create

    started = time.perf_counter()
    now = timezone.now()
    Customer.objects.bulk_create(
        (
            Customer(
                email=f"shopper{i:06d}@bench.example",
                name=f"Shopper{i} Bench",
                locale="en",
                marketing_consent=True,
                last_return_id=f"RMA-C{i}",
                last_event_type="refund.processed",
                last_event_at=now,
                returns_count=1 + i % 3,
                total_refunded=Decimal(i % 200) + Decimal("0.50"),
                refund_currency="EUR",
                tags=["refunded"],
            )
            for i in range(offset, offset + count)
        ),
        batch_size=5000,
    )
    seeded_s = time.perf_counter() - started
    account, _ = ProviderAccount.objects.get_or_create(
        name="Bench campaigns (SendGrid)",
        defaults={
            "kind": "sendgrid",
            "purpose": "promotional",
            "api_base_url": f"{sandbox}/sendgrid",
            "api_key": API_KEY,
            "from_email": "offers@bench.example",
            "from_name": "Bench Shop",
        },
    )
    template = Template.objects.filter(slug="come-back").first()
    if template is None:
        template = Template.objects.create(
            name="Come back",
            slug="come-back",
            purpose="promotional",
            event_types=[],
            layout=default_layout(),
            subject=OFFER_SUBJECT,
            html=OFFER_HTML,
        )
        template_publish(version=template_version_create(template=template))
        template.refresh_from_db()
    # Pushed here, inline, as the queued push task would (it finds them current later).
    for sync in TemplateSync.objects.filter(template=template, account=account):
        template_sync_push(sync_id=sync.pk)
    current = TemplateSync.objects.filter(
        template=template, account=account, status=SyncStatus.CURRENT
    ).count()
    segment = segment_create(name=f"Everyone {offset}", conditions=[])
    campaign = Campaign.objects.create(
        name=f"Bench offer {offset}",
        segment=segment,
        template=template,
        account=account,
        unsubscribe_group_id=42,
    )
    print(
        json.dumps(
            {
                "campaign": campaign.pk,
                "account": account.pk,
                "template": template.pk,
                "synced_locales": current,
                "customers": Customer.objects.count(),
                "seed_customers_s": round(seeded_s, 2),
            }
        )
    )


def send(campaign_id: int, timeout: float = 1200) -> None:
    """Start the campaign and wait for it to finish (the workers do the work)."""
    _django()
    from django.db.models import Count

    from returns_mail.models import Campaign, CampaignRecipient, CampaignStatus
    from returns_mail.services.campaigns import campaign_start

    done = {CampaignStatus.FINISHED, CampaignStatus.CANCELLED, CampaignStatus.PAUSED}
    started = time.perf_counter()
    campaign_start(campaign_id=campaign_id)
    sending_at = None
    deadline = started + timeout
    while time.perf_counter() < deadline:
        status = Campaign.objects.values_list("status", flat=True).get(pk=campaign_id)
        if sending_at is None and status not in (CampaignStatus.PREPARING,):
            sending_at = time.perf_counter()
        if status in done:
            break
        time.sleep(0.1)
    wall = time.perf_counter() - started
    campaign = Campaign.objects.get(pk=campaign_id)
    counts = dict(
        CampaignRecipient.objects.filter(campaign_id=campaign_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    print(
        json.dumps(
            {
                "status": campaign.status,
                "error": campaign.error,
                "total": campaign.total,
                "excluded": campaign.excluded,
                "recipient_statuses": counts,
                "wall_s": round(wall, 2),
                "prepare_s": round((sending_at or time.perf_counter()) - started, 2),
                "send_s": round(wall - ((sending_at or started) - started), 2),
            }
        )
    )


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "sandbox":
        serve_sandbox(int(args[0]), int(args[1]), int(args[2]))
    elif command == "seed":
        seed(int(args[0]), args[1], *(int(a) for a in args[2:3]))
    elif command == "send":
        send(int(args[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")
