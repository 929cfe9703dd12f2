"""`python -m bench bulk [--scale F]`: one promotional campaign to 100,000 customers (100,000 x F)
through SendGrid (the sandbox), sent by one `qcluster` with the default worker count
(Q_WORKERS, 2).

Seeded first (bulk insert, not timed): 100,000 customers with marketing consent, a segment of
everyone, the promotional template published and pushed to a SendGrid account on the sandbox,
a draft campaign. Then the cluster is started and, once its workers are up, `campaign_start`
is called; `wall_s` runs from that call to the campaign's status being `finished` (preparing
the 100,000 recipient rows and sending the 100 chunks; `prepare_s` and `send_s` split it).

Memory: `peak_rss_mb` is the peak RSS (VmHWM) of the largest process of the qcluster's tree —
the worker that prepares and sends the campaign. For the whole cluster (the `qcluster` process,
its sentinel, monitor, pusher and workers, each a Django process of ~75 MB before any work),
`cluster_rss_mb` sums VmRSS over the tree every 0.2 s (forked processes share copy-on-write
pages, which that sum counts once per process, so it overstates) and `cluster_pss_mb` sums PSS
(/proc/<pid>/smaps_rollup: shared pages divided among their sharers).

What SendGrid received comes from the sandbox (`GET /_sandbox/summary`, see seed_campaign):
`requests` mail/send calls, `recipients` distinct addresses, `duplicates` addresses received
more than once. The sandbox renders `sandbox_render_limit` personalizations a request with
handlebars.js; `sandbox_busy_s` is its own time inside mail/send handlers and
`sandbox_peak_rss_mb` its memory: a sandbox that is not the bottleneck has busy time well below
`send_s`.

Targets: `wall_s` <= 60, `peak_rss_mb` <= 300, `requests` == 100 (and 100,000 recipients, no
duplicate).
"""

from __future__ import annotations

import math

from bench.figures import STACK, TINY_ENV, Tiny
from bench.seed_campaign import SANDBOX_FIGURES, TREE_FIGURES, CampaignStack, sandbox_figures

CUSTOMERS = 100_000
CHUNK = 1000  # recipients a mail/send request (returns_mail.services.campaign_audience.CHUNK_SIZE)

FIGURES = {
    **STACK,
    "workers": int,
    "customers": int,
    "seed_customers_s": float,
    "status": str,
    "campaign_total": int,
    "recipient_statuses": dict,
    "wall_s": float,
    "prepare_s": float,
    "send_s": float,
    **TREE_FIGURES,
    "worker_processes_idle": int,
    "idle_cluster_rss_mb": float,
    "idle_cluster_pss_mb": float,
    "requests": int,
    "personalizations": int,
    "recipients": int,
    "duplicates": int,
    "refused_429": int,
    "sandbox_rendered": int,
    **SANDBOX_FIGURES,
    "targets": dict,
    "met": dict,
}
# 1,500 customers: two chunks (1,000 and 500); the sandbox renders nothing (`peers` does).
TINY = Tiny(
    options=("--scale", "0.015"),
    env={**TINY_ENV, "BENCH_SANDBOX_RENDER_LIMIT": "0"},
    expect={
        "status": "finished",
        "campaign_total": 1500,
        "recipient_statuses": {"sent": 1500},
        "requests": 2,
        "recipients": 1500,
        "duplicates": 0,
        "refused_429": 0,
    },
)


def run(scale: float = 1.0) -> dict:
    customers = max(1, round(CUSTOMERS * scale))
    targets = {"wall_s": 60.0, "peak_rss_mb": 300.0, "requests": math.ceil(customers / CHUNK)}
    with CampaignStack(start_worker=False) as stack:
        seeded = stack.child("-m", "bench.seed_campaign", "seed", str(customers), stack.sandbox)
        before = stack.summary()["last_id"]
        stack.worker_start()
        processes = stack.worker_ready()
        idle = stack.worker_tree()
        idle.sample()
        with stack.worker_tree() as sampler:
            report = stack.child("-m", "bench.seed_campaign", "send", str(seeded["campaign"]))
        summary = stack.summary(after=before)
        figures = {
            **stack.describe(),
            "workers": int(stack.env.get("Q_WORKERS", "2")),
            "customers": customers,
            "seed_customers_s": seeded["seed_customers_s"],
            "status": report["status"],
            "campaign_total": report["total"],
            "recipient_statuses": report["recipient_statuses"],
            "wall_s": report["wall_s"],
            "prepare_s": report["prepare_s"],
            "send_s": report["send_s"],
            **sampler.figures(),
            "worker_processes_idle": processes,
            "idle_cluster_rss_mb": idle.figures()["cluster_rss_mb"],
            "idle_cluster_pss_mb": idle.figures()["cluster_pss_mb"],
            "requests": summary["requests"],
            "personalizations": summary["personalizations"],
            "recipients": summary["recipients"],
            "duplicates": summary["duplicates"],
            "refused_429": summary["refused_429"],
            "sandbox_rendered": summary["rendered"],
            **sandbox_figures(stack, summary),
        }
        if report["error"]:
            figures["campaign_error"] = report["error"]
        if report["status"] != "finished":
            figures["worker_log_tail"] = stack.log_tail("worker")
        figures["targets"] = targets
        figures["met"] = {
            "wall_s": figures["wall_s"] <= targets["wall_s"],
            "peak_rss_mb": figures["peak_rss_mb"] <= targets["peak_rss_mb"],
            "requests": figures["requests"] == targets["requests"],
            "recipients": figures["recipients"] == customers and figures["duplicates"] == 0,
        }
        return figures
