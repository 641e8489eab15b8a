"""A Prometheus endpoint: queries, cache, zones, workers and the bot, in the text format.

Answered only to a bearer token (``METRICS_TOKEN``) or to clients in ``METRICS_ALLOW``;
with neither set it does not exist (404). Figures come from what the workers already
write for the dashboard (per-minute query counts, heartbeats, the cache written behind),
so scraping costs the workers nothing. Counts kept in a worker's memory (by transport,
transfers, updates, RRL, plugin errors) ride on its heartbeat and are exported per worker
(host, pid): they restart from zero with it, as Prometheus counters may.
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from appliance.models import WorkerStatus
from botadmin.models import Channel
from dnsadmin.models import CacheEntry, QueryStats, Zone
from dnsadmin.names.addresses import allowed, networks

HEARTBEAT_FRESH = datetime.timedelta(seconds=60)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def permitted(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    allow = networks(settings.METRICS_ALLOW)
    return bool(allow) and allowed(request.META.get("REMOTE_ADDR", ""), allow)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOW:
        raise Http404("Metrics are off: set METRICS_TOKEN or METRICS_ALLOW.")
    if not permitted(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse("".join(exposition()), content_type=CONTENT_TYPE)


def label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


def family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[dict, float]]
) -> Iterator[str]:
    yield f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"
    for labels, value in samples:
        inside = ",".join(f"{key}={label(val)}" for key, val in labels.items())
        # Serials are ten digits: written whole, never in exponent notation.
        shown = str(int(value)) if float(value).is_integer() else repr(float(value))
        yield f"{name}{{{inside}}} {shown}\n" if inside else f"{name} {shown}\n"


def exposition() -> Iterator[str]:
    now = timezone.now()
    queries = QueryStats.objects.values_list("rcode", "source").annotate(total=Sum("count"))
    yield from family(
        "appliance_dns_queries_total",
        "counter",
        "DNS queries answered (kept for the query log's retention), by rcode and source.",
        (({"rcode": rcode, "source": source}, total) for rcode, source, total in queries),
    )
    yield from cache_lookups(now)
    cached = CacheEntry.objects.filter(expires__gt=now).count()
    yield from family(
        "appliance_dns_cache_entries", "gauge", "Unexpired cache entries.", [({}, cached)]
    )
    zones = Zone.objects.annotate(record_count=Count("records")).values_list(
        "origin", "serial", "record_count", "enabled"
    )
    rows = list(zones)
    yield from family(
        "appliance_zone_serial", "gauge", "SOA serial of each zone.",
        (({"zone": origin}, serial) for origin, serial, _, _ in rows),
    )  # fmt: skip
    yield from family(
        "appliance_zone_records", "gauge", "Records in each zone.",
        (({"zone": origin}, count) for origin, _, count, _ in rows),
    )  # fmt: skip
    yield from family(
        "appliance_zone_enabled", "gauge", "1 when the zone is served.",
        (({"zone": origin}, int(enabled)) for origin, _, _, enabled in rows),
    )  # fmt: skip
    yield from workers(now)
    lines = Channel.objects.annotate(line_count=Count("lines")).values_list(
        "network__name", "name", "line_count"
    )
    yield from family(
        "appliance_bot_log_lines", "gauge", "Log lines kept, by channel.",
        (({"network": net, "channel": name}, count) for net, name, count in lines),
    )  # fmt: skip


def cache_lookups(now: datetime.datetime) -> Iterator[str]:
    """Yield the cache's hits (answers from the cache) and misses (answers that needed the
    forwarder or recursion), counted for every query, and their ratio over the last hour."""
    sources = dict(QueryStats.objects.values_list("source").annotate(total=Sum("count")))
    hits, misses = sources.get("cache", 0), sum(sources.get(s, 0) for s in UPSTREAM)
    yield from family(
        "appliance_dns_cache_hits_total", "counter", "Queries answered from the cache.",
        [({}, hits)],
    )  # fmt: skip
    yield from family(
        "appliance_dns_cache_misses_total", "counter",
        "Queries the cache could not answer, sent to the forwarder or resolved recursively.",
        [({}, misses)],
    )  # fmt: skip
    hour = QueryStats.objects.filter(minute__gte=now - datetime.timedelta(hours=1))
    recent = dict(hour.values_list("source").annotate(total=Sum("count")))
    looked_up = recent.get("cache", 0) + sum(recent.get(s, 0) for s in UPSTREAM)
    yield from family(
        "appliance_dns_cache_hit_ratio", "gauge",
        "Share of the last hour's cache lookups answered from the cache (0 when none).",
        [({}, recent.get("cache", 0) / looked_up if looked_up else 0)],
    )  # fmt: skip


UPSTREAM = ("forwarder", "recursive")  # the sources of answers the cache did not hold

# What the workers count since they started (their heartbeat's details): the details key,
# the worker kind, the metric, its help, and the label naming each count's key.
WORKER_COUNTERS = [
    ("by_transport", "dns", "appliance_dns_queries_by_transport_total",
     "DNS queries answered by the worker since it started, by transport.", "transport"),
    ("transfers_out", "dns", "appliance_dns_transfers_out_total",
     "Zone transfers served whole (unsigned and TSIG-signed), by type.", "type"),
    ("transfers_in", "dns", "appliance_dns_transfers_in_total",
     "Secondary zone transfers received by kind (AXFR, IXFR), and failed checks.", "kind"),
    ("updates", "dns", "appliance_dns_updates_total",
     "RFC 2136 updates: accepted (NOERROR) or refused (any other rcode).", "result"),
    ("rate_limited", "dns", "appliance_dns_rrl_responses_total",
     "Responses response rate limiting dropped or slipped (sent truncated).", "action"),
    ("plugin_errors", "bot", "appliance_bot_plugin_errors_total",
     "Exceptions caught from each bot plugin (commands, events, jobs, setup).", "plugin"),
]  # fmt: skip


# Plain counts a DNS worker reports (key in its details, metric, help).
WORKER_TOTALS = [
    ("shed", "appliance_dns_shed_total",
     "UDP queries shed unanswered from a full backlog since the worker started."),
    ("upstream_dropped", "appliance_dns_upstream_replies_dropped_total",
     "Upstream replies dropped since the worker started: late, stray, or not matching the "
     "address, port, ID and question of a query waiting (a spoofing attempt shows here)."),
]  # fmt: skip


def worker_counters(fresh: list[WorkerStatus]) -> Iterator[str]:
    for key, kind, name, help_text, label_name in WORKER_COUNTERS:
        samples = (
            ({"host": w.host, "pid": w.pid, label_name: item}, count)
            for w in fresh
            if w.kind == kind
            for item, count in sorted(reported(w, key).items())
            if isinstance(count, int | float)
        )
        yield from family(name, "counter", help_text, samples)
    for key, name, help_text in WORKER_TOTALS:
        totals = ((w, reported(w).get(key)) for w in fresh if w.kind == "dns")
        yield from family(
            name, "counter", help_text,
            (({"host": w.host, "pid": w.pid}, n) for w, n in totals if isinstance(n, int)),
        )  # fmt: skip


def reported(worker: WorkerStatus, key: str = "") -> dict:
    """Return the worker's details (or one mapping in them); anything else, as an older or
    another kind of worker may report, reads as empty."""
    value = worker.details if isinstance(worker.details, dict) else {}
    if key:
        value = value.get(key)
    return value if isinstance(value, dict) else {}


def workers(now: datetime.datetime) -> Iterator[str]:
    fresh = list(WorkerStatus.objects.filter(last_seen__gte=now - HEARTBEAT_FRESH))
    yield from family(
        "appliance_worker_up", "gauge", "Workers with a heartbeat in the last minute.",
        (({"kind": w.kind, "host": w.host, "pid": w.pid}, 1) for w in fresh),
    )  # fmt: skip
    yield from worker_counters(fresh)
    connected = {
        name: bool(state.get("connected"))
        for worker in fresh
        if worker.kind == "bot"
        for name, state in (worker.details.get("networks") or {}).items()
        if isinstance(state, dict)
    }
    yield from family(
        "appliance_bot_connected", "gauge", "1 when the bot is connected to the network.",
        (({"network": name}, int(up)) for name, up in sorted(connected.items())),
    )  # fmt: skip
