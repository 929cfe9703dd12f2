"""Building blocks of the fault benchmarks (`soak`, `db_restart`, `two_clusters`).

In the benchmark's process (no Django):
- `FaultStack`: the usual `Stack` with extra environment (PROVIDER_TIMEOUT, RECONCILE_AFTER,
  Q_WORKERS), any number of `qcluster` processes sharing one queue (as on several hosts),
  optionally a second provider account (Mailchimp Transactional on the sandbox) as the rule's
  failover, and a sandbox started by this module (`python -m bench.faults sandbox ...`): the
  stock `EspSandbox` that also counts, per correlation id, the sends it accepted
  (`GET /_sandbox/sends`) and the faults it injected.
- `OpenLoad`: an open-loop load generator. A pacer offers events at a fixed rate; posters
  retry a refused event with the same body (the API is idempotent on event_id) until it is
  accepted, so every event the returns system believes delivered is known and counted.
- `wait_drain`, `accounting`: wait until no message is queued, sending or ambiguous, then
  compare what was accepted, stored, recorded as sent and what the sandbox took.

In child processes (Django set up, as the app's own processes are):
- `python -m bench.faults sandbox PORT SMTP_PORT`: the counting sandbox.
- `python -m bench.faults mandrill SANDBOX_URL`: add a Mailchimp Transactional account to the
  refund rule's route, after the SendGrid one.
- `python -m bench.faults progress [AFTER_EPOCH]`: message counts by status (and the first
  send after AFTER_EPOCH).
- `python -m bench.faults account TMP_DIR`: the final accounting, from the files the bench
  wrote in TMP_DIR (accepted.json, sends.json).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import sys
import threading
import time
import urllib.request
from collections import Counter
from itertools import pairwise
from pathlib import Path

from bench.figures import STACK, TINY_ENV
from bench.harness import MANAGE, Stack
from bench.load import Poster, event_body, percentile, run_id

CORRELATION_KEY = "rm_correlation_id"  # providers/clients/types.py
UNFINISHED = ("queued", "sending", "ambiguous")
SENT_LIKE = ("sent", "delivered", "opened", "clicked", "bounced")
DRAIN_CAP_S = float(os.environ.get("BENCH_DRAIN_CAP", "1200"))
# No change in the unfinished counts for this long ends the wait early: retries back off at
# most 300 s and the reconciliation sweep runs every minute, so longer means stuck.
DRAIN_STALL_S = float(os.environ.get("BENCH_DRAIN_STALL", "420"))


# The figures of the parts every fault benchmark prints (FaultStack.describe, OpenLoad.figures,
# wait_drain, accounting).
FAULT_STACK_FIGURES = {
    **STACK,
    "clusters": int,
    "q_workers": int,
    "provider_timeout_s": float,
    "reconcile_after_s": str | None,
    "route": list,
}
LOAD_FIGURES = {
    "offered_events_per_s": float,
    "events_offered": int,
    "events_accepted_client": int,
    "events_abandoned": int,
    "achieved_events_per_s": float,
    "client_retries": int,
    "client_errors": dict,
    "longest_no_accept_s": float,
    "accept_p50_ms": float,
    "accept_p99_ms": float,
    "load_s": float,
}
DRAIN_FIGURES = {"drain_s": float, "drain_ended": str, "backlog_at_load_end": dict}
ACCOUNTING_FIGURES = {
    "events_accepted": int,
    "events_stored": int,
    "messages": int,
    "statuses": dict,
    "lost": int,
    "lost_detail": dict,
    "unsettled": int,
    "failed": int,
    "failed_errors": dict,
    "failed_but_taken_by_provider": int,
    "duplicates": int,
    "duplicate_sends": int,
    "duplicates_explained": dict,
    "duplicate_examples": list,
    "sends_unknown_correlation_id": int,
    "resends": int,
    "sent_by_account": dict,
    "customers_missing": int,
    "messages_with_interrupted_claims": int,
    "failed_attempts": dict,
    "sandbox_faults": dict,
    "sandbox_sends": int,
}
# A small run settles held messages (still well after the sandbox's slowest answer,
# PROVIDER_TIMEOUT + 2 s) and takes back the work of lost tasks sooner (Q_RETRY; every task of
# a small run takes seconds): its drain is otherwise minutes of waiting for those.
TINY_ENV = {**TINY_ENV, "RECONCILE_AFTER": "20", "Q_TIMEOUT": "20", "Q_RETRY": "25"}
# What a tiny run of any of them must show: everything accepted, stored, sent once, drained.
TINY_EXPECT = {
    "events_abandoned": 0,
    "drain_ended": "drained",
    "lost": 0,
    "duplicates": 0,
    "failed": 0,
    "customers_missing": 0,
}


# --- the benchmark's process ------------------------------------------------------------------
class FaultStack(Stack):
    def __init__(
        self, *, env: dict[str, str] | None = None, clusters: int = 1,
        second_account: bool = True, **kwargs,
    ):  # fmt: skip
        self.extra_env = dict(env or {})
        self.clusters = clusters
        self.second_account = second_account
        self.cluster_names: list[str] = []
        super().__init__(**kwargs)

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, argv: list[str]) -> None:
        if name == "sandbox":
            port = argv[argv.index("--port") + 1]
            smtp_port = argv[argv.index("--smtp-port") + 1]
            argv = [sys.executable, "-m", "bench.faults", "sandbox", port, smtp_port]
        super()._spawn(name, argv)

    def _start(self) -> None:
        super()._start()
        if self.second_account:
            self.child("-m", "bench.faults", "mandrill", self.sandbox)

    def worker_start(self) -> None:
        for index in range(1, self.clusters + 1):
            self.cluster_start("worker" if index == 1 else f"worker{index}")

    def cluster_start(self, name: str) -> None:
        """One more `qcluster` (its own process group), logging to TMP/NAME.log."""
        self._spawn(name, [sys.executable, MANAGE, "qcluster"])
        self.cluster_names.append(name)

    def cluster_kill(self, name: str) -> None:
        """SIGKILL the cluster's whole process group: a host lost, nothing shut down cleanly."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def sandbox_call(self, method: str, path: str, payload=None) -> dict | None:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.sandbox}/_sandbox/{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            body = response.read()
        return json.loads(body) if body else None

    def faults_on(self, faults: list[dict]) -> None:
        for fault in faults:
            self.sandbox_call("POST", "faults", {"key": "*", **fault})

    def faults_off(self) -> None:
        self.sandbox_call("DELETE", "faults")

    def log_errors(self, name: str) -> dict[str, int]:
        """Exception lines of a process's log, grouped (numbers and ids blanked)."""
        path = self.tmp / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return dict(Counter(_log_gist(m[0]) for m in _EXCEPTION.finditer(text)))

    def describe(self) -> dict:
        return {
            **super().describe(),
            "clusters": self.clusters,
            "q_workers": int(self.env.get("Q_WORKERS", "2")),
            "provider_timeout_s": float(self.env.get("PROVIDER_TIMEOUT", "10")),
            "reconcile_after_s": self.env.get("RECONCILE_AFTER"),
            "route": ["sendgrid", "mailchimp_transactional"]
            if self.second_account
            else ["sendgrid"],
        }


def stack_env(*, workers: int | None = None) -> dict[str, str]:
    """The environment every fault benchmark runs with (overridable from the shell)."""
    return {
        "PROVIDER_TIMEOUT": os.environ.get("PROVIDER_TIMEOUT", "5"),
        "RECONCILE_AFTER": os.environ.get("RECONCILE_AFTER", "60"),
        "Q_WORKERS": os.environ.get("Q_WORKERS", str(workers or 4)),
    }


class OpenLoad:
    """Offer `rate` events/s for `duration` s; every event is retried until accepted.

    A pacer puts each event on a queue at its due time; `threads` keep-alive posters take
    them. A refused event (connection error, timeout, any status but 200/202) is posted again
    with the same body after a short pause, so the offered schedule slips only while every
    poster is busy retrying (reported as the achieved rate and the longest stretch without
    an acceptance)."""

    def __init__(
        self, base_url: str, token: str, *, rate: float = 100.0, duration: float,
        threads: int = 8, give_up_after: float = 300.0,
    ):  # fmt: skip
        self.base_url, self.token = base_url, token
        self.rate, self.duration, self.threads = rate, duration, threads
        self.give_up_after = give_up_after
        self.run = run_id()
        self.total = int(rate * duration)
        self.accepted: list[str] = []
        self.accept_times: list[float] = []  # wall clock (time.time()), for event timelines
        self.latencies: list[float] = []  # due -> accepted
        self.error_times: list[tuple[float, str]] = []
        self.abandoned = 0
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._abort = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> OpenLoad:
        self.started = time.time()
        self._start_clock = time.perf_counter() + 0.2
        self._threads = [threading.Thread(target=self._pace, daemon=True)]
        self._threads += [
            threading.Thread(target=self._post, daemon=True) for _ in range(self.threads)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _pace(self) -> None:
        for n in range(self.total):
            delay = self._start_clock + n / self.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self._queue.put(n)
        self.paced_at = time.time()
        for _ in range(self.threads):
            self._queue.put(None)

    def _post(self) -> None:
        poster = Poster(self.base_url, self.token)
        while (n := self._queue.get()) is not None:
            body = event_body(self.run, n)
            due = self._start_clock + n / self.rate
            while True:
                status = poster.post("/api/v1/events", body)
                now = time.time()
                if status in (200, 202):
                    with self._lock:
                        self.accepted.append(body["event_id"])
                        self.accept_times.append(now)
                        self.latencies.append(time.perf_counter() - due)
                    break
                with self._lock:
                    self.error_times.append((now, "connection" if status == 0 else str(status)))
                if self._abort.is_set():
                    with self._lock:
                        self.abandoned += 1
                    break
                time.sleep(1.0 if status == 429 else 0.25)

    def wait(self) -> dict:
        """Wait until the schedule is offered and every event accepted (or given up)."""
        self._threads[0].join()
        deadline = time.monotonic() + self.give_up_after
        for thread in self._threads[1:]:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads[1:]):
            self._abort.set()  # posters stuck on a refusing API: stop after their next try
            for thread in self._threads[1:]:
                thread.join(60)
        self.finished = time.time()
        return self.figures()

    def first_accept_after(self, moment: float) -> float | None:
        with self._lock:
            later = [t for t in self.accept_times if t > moment]
        return min(later) if later else None

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without an acceptance between `start` and `end` (wall clock)."""
        with self._lock:
            inside = sorted(t for t in self.accept_times if start < t < end)
        edges = [start, *inside, end]
        return round(max(b - a for a, b in pairwise(edges)), 2)

    def errors_between(self, start: float, end: float) -> dict[str, int]:
        with self._lock:
            return dict(Counter(kind for t, kind in self.error_times if start <= t <= end))

    def figures(self) -> dict:
        with self._lock:
            times = sorted(self.accept_times)
            errors = Counter(kind for _, kind in self.error_times)
        edges = [self.started, *times]
        longest = max((b - a for a, b in pairwise(edges)), default=0.0)
        span = (times[-1] - self.started) if times else 0.0
        return {
            "offered_events_per_s": self.rate,
            "events_offered": self.total,
            "events_accepted_client": len(self.accepted),
            "events_abandoned": self.abandoned,
            "achieved_events_per_s": round(len(times) / span, 1) if span else 0.0,
            "client_retries": sum(errors.values()),
            "client_errors": dict(errors),
            "longest_no_accept_s": round(longest, 2),
            "accept_p50_ms": round(percentile(self.latencies, 50) * 1000, 1),
            "accept_p99_ms": round(percentile(self.latencies, 99) * 1000, 1),
            "load_s": round(self.finished - self.started, 1),
        }

    def save(self, tmp: Path) -> None:
        with self._lock:
            (tmp / "accepted.json").write_text(json.dumps(self.accepted))


def wait_drain(stack: FaultStack, *, cap: float = DRAIN_CAP_S, stall: float = DRAIN_STALL_S):
    """Poll until no message is queued, sending or ambiguous and every event's customer is
    applied; give up after `cap` s or when those counts stay the same for `stall` s."""
    started = time.monotonic()
    last, last_change, backlog = None, started, None
    while True:
        progress = stack.ask("bench.faults", "progress")
        statuses = {**progress["statuses"], "customers_pending": progress["customers_pending"]}
        unfinished = tuple(statuses.get(s, 0) for s in (*UNFINISHED, "customers_pending"))
        if backlog is None:
            backlog = dict(zip((*UNFINISHED, "customers_pending"), unfinished, strict=True))
        now = time.monotonic()
        if not any(unfinished):
            return {
                "drain_s": round(now - started, 1),
                "drain_ended": "drained",
                "backlog_at_load_end": backlog,
            }
        if unfinished != last:
            last, last_change = unfinished, now
        ended = "cap" if now - started > cap else "stalled" if now - last_change > stall else ""
        if ended:
            return {
                "drain_s": round(now - started, 1),
                "drain_ended": f"{ended} {statuses}",
                "backlog_at_load_end": backlog,
            }
        time.sleep(1)  # a query to the long-lived bench.ask process: cheap


def accounting(stack: FaultStack, load: OpenLoad) -> dict:
    """Accepted events, stored messages and the sandbox's sends compared (see `account`)."""
    load.save(stack.tmp)
    sends = stack.sandbox_call("GET", "sends")
    (stack.tmp / "sends.json").write_text(json.dumps(sends))
    figures = stack.child("-m", "bench.faults", "account", str(stack.tmp))
    figures["sandbox_faults"] = sends["faults"]
    figures["sandbox_sends"] = sum(sends["sends"].values())
    return figures


# --- child processes --------------------------------------------------------------------------
def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _correlation_ids(provider: str, path: str, body) -> list[str] | None:
    """The correlation ids of an accepted send request; None for anything else."""
    if not isinstance(body, dict):
        return None
    if provider == "sendgrid" and path == "/v3/mail/send":
        return [
            str((p.get("custom_args") or {}).get(CORRELATION_KEY, ""))
            for p in body.get("personalizations", [])
        ]
    if provider == "mandrill" and path.endswith(("/messages/send.json", "/send-template.json")):
        metadata = (body.get("message") or {}).get("metadata") or {}
        return [str(metadata.get(CORRELATION_KEY, ""))]
    return None


def serve_sandbox(port: int, smtp_port: int) -> None:
    """The stock sandbox, counting accepted sends per correlation id and injected faults."""
    _django()
    from providers.sandbox.core import SandboxResponse
    from providers.sandbox.server import EspSandbox, default_provider_apps

    class Sandbox(EspSandbox):
        def __init__(self, apps):
            super().__init__(apps)
            self.sends: Counter = Counter()
            self.fault_counts: Counter = Counter()
            self._where = threading.local()
            take = self.faults.take

            def counted(key):
                fault = take(key)
                if fault is not None:
                    kind = fault.kind if fault.kind != "slow" else f"slow_{fault.delay:g}s"
                    send = getattr(self._where, "path", "").endswith(("/mail/send", "send.json"))
                    with self.lock:
                        self.fault_counts[f"{kind} ({'send' if send else 'other'})"] += 1
                return fault

            self.faults.take = counted

        def dispatch(self, request, provider):
            self._where.path = request.path
            return super().dispatch(request, provider)

        def record(self, provider, request, *, key, **extra):
            ids = _correlation_ids(provider, request.path if request else "", extra.get("body"))
            if ids is None:
                return super().record(provider, request, key=key, **extra)
            with self.lock:
                self.sends.update(ids)
            # Keep the record small (60,000 sends): no body, no rendering.
            slim = {k: extra[k] for k in ("message_id", "sandbox_mode") if k in extra}
            return super().record(provider, request, key=key, correlation_ids=ids, **slim)

        def _control(self, request):
            if (request.method, request.path) != ("GET", "/sends"):
                return super()._control(request)
            with self.lock:
                return SandboxResponse.json(
                    200, {"sends": dict(self.sends), "faults": dict(self.fault_counts)}
                )

    Sandbox(default_provider_apps()).serve_forever("127.0.0.1", port, smtp_port)


def add_mandrill(sandbox: str) -> None:
    _django()
    from providers.models import ProviderAccount
    from returns_mail.models import RuleAccount, TriggerRule

    account = ProviderAccount.objects.create(
        name="Bench Mailchimp Transactional",
        kind="mailchimp_transactional",
        api_base_url=f"{sandbox}/mandrill",
        api_key="md-bench-key-000000000002",
        from_email="returns@bench.example",
    )
    rule = TriggerRule.objects.get(event_type="refund.processed")
    RuleAccount.objects.create(rule=rule, account=account, position=1)
    print(json.dumps({"account": account.pk}))


def progress(after: float | None) -> None:
    _django()
    from datetime import UTC, datetime

    from django.db.models import Count, Min

    from returns_mail.models import Message, ReturnEvent

    statuses = dict(Message.objects.values_list("status").annotate(n=Count("pk")))
    answer = {
        "statuses": statuses,
        "events": ReturnEvent.objects.count(),
        # Events whose customer record is not brought up to date yet (the sweep re-queues them).
        "customers_pending": ReturnEvent.objects.filter(customer_applied=False).count(),
    }
    if after is not None:
        moment = datetime.fromtimestamp(after, UTC)
        first = Message.objects.filter(sent_at__gt=moment).aggregate(first=Min("sent_at"))
        answer["first_sent_after"] = first["first"].timestamp() if first["first"] else None
    print(json.dumps(answer))


_EXCEPTION = re.compile(r"^(?:[\w.]*(?:Error|Exception)\b.*|.*\bERROR\b.*)$", re.MULTILINE)
_NOISE = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+(\.\d+)?")


def _gist(text: str) -> str:
    """An error text with its numbers and ids blanked, to group alike errors."""
    first = (text or "").strip().splitlines()[:1]
    return _NOISE.sub("#", first[0] if first else "")[:140]


def _log_gist(line: str) -> str:
    line = re.sub(r"^[\d:, -]+", "", line)  # the timestamp
    if failed := re.search(r"Failed '([\w.]+)'", line):  # a django-q task that raised
        return f"task failed: {failed[1]}"
    return _gist(line)[:100]


def _attempt_kind(outcome: str, error: str, status) -> str:
    text = (error or "").lower()
    if outcome in ("sent", "reconciled"):
        return outcome
    if "within" in text or "timed out" in text or "timeout" in text:
        cause = "timeout"
    elif status:
        cause = str(status)
    elif any(w in text for w in ("connection", "disconnect", "reset", "closed", "aborted")):
        cause = "connection lost"
    else:
        cause = _gist(error)[:60] or "?"
    return f"{outcome}({cause})"


def _explain(message, attempts) -> str:
    """A duplicate's story: its attempts in order (kind and account), its end state."""
    steps = []
    for a in attempts:
        where = a.account.kind[:8] if a.account else "?"
        step = f"{_attempt_kind(a.outcome, a.error, a.http_status)}@{where}"
        if not steps or steps[-1][0] != step:
            steps.append([step, 1])
        else:
            steps[-1][1] += 1
    path = " > ".join(s if n == 1 else f"{s} x{n}" for s, n in steps) or "no attempts"
    return f"{path}; ends {message.status}" + (
        f" ({_gist(message.error)[:80]})" if message.error else ""
    )


def account(tmp: Path) -> None:
    _django()
    from django.db.models import Count, F, Q
    from django.db.models.functions import Lower

    from returns_mail.models import Attempt, Customer, Message, ReturnEvent

    accepted = set(json.loads((tmp / "accepted.json").read_text()))
    sends: dict[str, int] = json.loads((tmp / "sends.json").read_text())["sends"]
    stored = dict(ReturnEvent.objects.values_list("idempotency_key", "pk"))
    rows = list(
        Message.objects.values_list(
            "pk", "event_id", "status", "correlation_id", "error", "resend_of_id"
        )
    )
    events_with_message = {event for _, event, *_ in rows}
    no_message = [k for k in accepted if stored.get(k) not in events_with_message]
    statuses = Counter(status for _, _, status, *_ in rows)
    unfinished = [r for r in rows if r[2] in UNFINISHED]
    sent_not_taken = [r for r in rows if r[2] in SENT_LIKE and sends.get(str(r[3]), 0) == 0]
    not_sent = [r for r in rows if r[2] not in SENT_LIKE and r[2] not in UNFINISHED]
    taken_not_sent = [r for r in not_sent if sends.get(str(r[3]), 0)]
    known = {str(r[3]) for r in rows}
    duplicate_ids = [cid for cid, n in sends.items() if n > 1]
    explanations: Counter = Counter()
    examples = []
    if duplicate_ids:
        messages = Message.objects.filter(correlation_id__in=duplicate_ids)
        by_message: dict[int, list] = {}
        for attempt in Attempt.objects.filter(message__in=messages).select_related("account"):
            by_message.setdefault(attempt.message_id, []).append(attempt)
        for message in messages:
            story = _explain(message, by_message.get(message.pk, []))
            explanations[story] += 1
            if len(examples) < 10:
                examples.append({"correlation_id": str(message.correlation_id), "story": story})
    attempts = Counter(
        _attempt_kind(o, e, s)
        for o, e, s in Attempt.objects.exclude(outcome="sent").values_list(
            "outcome", "error", "http_status"
        )
    )
    # Not messages, but also written by tasks from each accepted request: the customer
    # profiles (every event of the bench has its own customer).
    customers = set(Customer.objects.annotate(e=Lower("email")).values_list("e", flat=True))
    customers_missing = sum(
        1
        for key, email in ReturnEvent.objects.values_list("idempotency_key", "customer_email")
        if key in accepted and email.lower() not in customers
    )
    # A claim (Message.attempts + 1) that left no attempt row: the worker died or lost the
    # database between claiming the message and recording the provider's answer.
    outcomes = Count("attempt_log", filter=~Q(attempt_log__outcome="reconciled"))
    interrupted = (
        Message.objects.annotate(outcomes=outcomes).filter(attempts__gt=F("outcomes")).count()
    )
    by_account = Counter(
        Message.objects.filter(status__in=SENT_LIKE).values_list("account__kind", flat=True)
    )
    print(
        json.dumps(
            {
                "events_accepted": len(accepted),
                "events_stored": sum(1 for k in accepted if k in stored),
                "messages": len(rows),
                "statuses": dict(statuses),
                "lost": len(no_message) + len(unfinished) + len(sent_not_taken),
                "lost_detail": {
                    "accepted_without_message": len(no_message),
                    "unfinished": dict(Counter(r[2] for r in unfinished)),
                    "unfinished_errors": dict(Counter(_gist(r[4]) for r in unfinished)),
                    "recorded_sent_never_taken": len(sent_not_taken),
                },
                "unsettled": statuses.get("ambiguous", 0),
                "failed": len(not_sent),
                "failed_errors": dict(Counter(f"{r[2]}: {_gist(r[4])}" for r in not_sent)),
                "failed_but_taken_by_provider": len(taken_not_sent),
                "duplicates": len(duplicate_ids),
                "duplicate_sends": sum(sends[c] - 1 for c in duplicate_ids),
                "duplicates_explained": dict(explanations),
                "duplicate_examples": examples,
                "sends_unknown_correlation_id": sum(1 for c in sends if c not in known),
                "resends": sum(1 for r in rows if r[5]),
                "sent_by_account": dict(by_account),
                "customers_missing": customers_missing,
                "messages_with_interrupted_claims": interrupted,
                "failed_attempts": dict(attempts),
            }
        )
    )


def main(argv: list[str] | None = None) -> None:
    command, *args = sys.argv[1:] if argv is None else argv
    if command == "sandbox":
        serve_sandbox(int(args[0]), int(args[1]))
    elif command == "mandrill":
        add_mandrill(args[0])
    elif command == "progress":
        progress(float(args[0]) if args else None)
    elif command == "account":
        account(Path(args[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
