"""A Prometheus endpoint: queries, cache, zones, workers and the bot, in the text format.

Answered only to a bearer token (``METRICS_TOKEN``) or to clients in ``METRICS_ALLOW``;
with neither set it does not exist (404). Figures come from what the workers already
write for the dashboard (per-minute query counts, heartbeats, the cache written behind),
so scraping costs the workers nothing.
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


def workers(now: datetime.datetime) -> Iterator[str]:
    fresh = list(WorkerStatus.objects.filter(last_seen__gte=now - HEARTBEAT_FRESH))
    yield from family(
        "appliance_worker_up", "gauge", "Workers with a heartbeat in the last minute.",
        (({"kind": w.kind, "host": w.host, "pid": w.pid}, 1) for w in fresh),
    )  # fmt: skip
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
