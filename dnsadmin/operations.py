"""Operations pages: the cache browser, the query log, and the dashboard's query statistics."""

from __future__ import annotations

import datetime
import ipaddress
import re

import dns.exception
import dns.name
import dns.rcode
from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from appliance.dashboard import TOP_RANGES, Panel, time_param, top_range
from dnsadmin import access, cachesync, rules
from dnsadmin.models import RESOLVER_SOURCES, CacheEntry, QueryLogEntry, QueryStats

RCODES = [("", "any")] + [(r.name, r.name) for r in dns.rcode.Rcode if r.value < 16]


NAME_HELP = "A name and what is under it (example.org), only under it (.example.org), or a glob (*.dev, www*)"


def name_filter(field: str, text: str) -> Q:
    """Select names as operators type them: a name and every name under it, only the names
    under a domain (a leading dot), or a glob (``*`` and ``?``)."""
    name = text.strip().lower()
    if any(char in name for char in "*?"):
        absolute = name if name.endswith((".", "*")) else name + "."
        return Q(**{f"{field}__regex": rules.glob_regex(absolute)})
    absolute = name if name.endswith(".") else name + "."
    if absolute.startswith("."):
        return Q(**{f"{field}__endswith": absolute})
    return Q(**{field: absolute}) | Q(**{f"{field}__endswith": "." + absolute})


def clean_client(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not value.strip():
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise forms.ValidationError(
            "An address or a network, e.g. 192.0.2.7 or 10.0.0.0/8."
        ) from None


def client_filter(entries: QuerySet, network: ipaddress.IPv4Network | ipaddress.IPv6Network):
    """Keep entries whose client is in network. Clients are stored as text: an IPv4 network
    becomes a regular expression on it; an IPv6 one (compressed text has no common prefix)
    is matched in Python on the entries' addresses."""
    if network.num_addresses == 1:
        return entries.filter(client=str(network.network_address))
    if network.version == 4:
        return entries.filter(client__regex=ipv4_network_regex(network))
    inside = [
        pk
        for pk, client in entries.values_list("id", "client").iterator()
        if ipaddress.ip_address(client) in network
    ]
    return entries.filter(pk__in=inside)


def ipv4_network_regex(network: ipaddress.IPv4Network) -> str:
    whole, rest = divmod(network.prefixlen, 8)
    octets = str(network.network_address).split(".")
    fixed = [re.escape(octet) + r"\." for octet in octets[:whole]]
    if rest:
        first = int(octets[whole])
        choices = "|".join(str(first + step) for step in range(2 ** (8 - rest)))
        fixed.append(f"({choices})" + (r"\." if whole < 3 else "$"))
    return "^" + "".join(fixed)


class QueryLogFilter(forms.Form):
    client = forms.CharField(
        required=False, max_length=50, help_text="An address or a network: 10.0.0.0/8"
    )
    name = forms.CharField(required=False, max_length=255, help_text=NAME_HELP)
    rdtype = forms.CharField(label="Type", required=False, max_length=16)
    rcode = forms.ChoiceField(choices=RCODES, required=False)
    source = forms.ChoiceField(choices=[("", "any"), *RESOLVER_SOURCES], required=False)
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean_client(self):
        return clean_client(self.cleaned_data["client"])

    def apply(self, entries: QuerySet[QueryLogEntry]) -> QuerySet[QueryLogEntry]:
        data = self.cleaned_data
        if name := data.get("name", "").strip():
            entries = entries.filter(name_filter("name", name))
        for field in ("rdtype", "rcode", "source"):
            if data.get(field):
                entries = entries.filter(
                    **{field: data[field].upper() if field != "source" else data[field]}
                )
        if data.get("since"):
            entries = entries.filter(time__gte=data["since"])
        if data.get("until"):
            entries = entries.filter(time__lte=data["until"])
        if data.get("client"):  # last: an IPv6 network is matched on what the rest kept
            entries = client_filter(entries, data["client"])
        return entries


@access.signed_in
def query_log(request: HttpRequest) -> HttpResponse:
    form = QueryLogFilter(request.GET or None)
    entries = access.visible_names(QueryLogEntry.objects.all(), request.user)
    if form.is_bound and form.is_valid():
        entries = form.apply(entries)
    elif form.is_bound:
        entries = entries.none()
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "dnsadmin/query_log.html", {"form": form, "page": page, "query": query.urlencode()}
    )


def query_stats_panel(request: HttpRequest) -> Panel | None:
    now = timezone.now()
    rows = [
        period_stats(f"last {name}", now - span, span.total_seconds())
        for name, span in TOP_RANGES.items()
    ]
    shown = top_range(request)
    # Names and clients say who asks for what: only about the zones the reader may view.
    logged = QueryLogEntry.objects.filter(time__gte=shown.since)
    recent = access.visible_names(logged, request.user)
    context = {
        "periods": rows,
        "charts": {name: chart_series(now, span, step) for name, span, step in CHART_RANGES},
        "top": shown,
        "top_ranges": list(TOP_RANGES),
        "top_names": top(recent, "name"),
        "top_clients": top(recent, "client"),
    }
    return Panel("DNS queries", "dnsadmin/panel_queries.html", context)


DAY = datetime.timedelta(days=1)
# Each chart: its span and the width of one point (seconds).
CHART_RANGES = [
    ("hour", datetime.timedelta(hours=1), 60),
    ("day", DAY, 600),
    ("week", datetime.timedelta(days=7), 3600),
]
TOP_SHOWN = 10


def chart_series(now: datetime.datetime, span: datetime.timedelta, step: int) -> dict:
    """Queries per second over span, one point per step, by rcode and by source, as
    uPlot takes them: the times, then one list of values per series; since: the start as
    the query log's filter reads it, for the links."""
    start = int((now - span).timestamp()) // step * step
    times = list(range(start, int(now.timestamp()) + 1, step))
    by_rcode: dict[str, list[float]] = {}
    by_source: dict[str, list[float]] = {}
    rows = QueryStats.objects.filter(minute__gte=now - span).values_list(
        "minute", "rcode", "source", "count"
    )
    for minute, rcode, source, count in rows.iterator():
        index = (int(minute.timestamp()) - start) // step
        if 0 <= index < len(times):
            for series, key in ((by_rcode, rcode), (by_source, source)):
                series.setdefault(key, [0.0] * len(times))[index] += count / step
    since = time_param(now - span)
    return {"times": times, "rcode": by_rcode, "source": by_source, "since": since}


def top(entries: QuerySet[QueryLogEntry], field: str) -> list[tuple[str, int]]:
    counted = entries.values_list(field).annotate(total=Count("id")).order_by("-total")
    return list(counted[:TOP_SHOWN])


def period_stats(label: str, since: datetime.datetime, seconds: float) -> dict:
    buckets = QueryStats.objects.filter(minute__gte=since)
    by_rcode = dict(buckets.values_list("rcode").annotate(total=Sum("count")).order_by("-total"))
    by_source = dict(buckets.values_list("source").annotate(total=Sum("count")).order_by("-total"))
    total = sum(by_rcode.values())
    return {
        "label": label,
        "total": total,
        "qps": total / seconds,
        "by_rcode": by_rcode,
        "by_source": by_source,
    }


class CacheSearch(forms.Form):
    name = forms.CharField(required=False, max_length=255, help_text=NAME_HELP)


@access.signed_in
def cache_browser(request: HttpRequest) -> HttpResponse:
    form = CacheSearch(request.GET or None)
    live = CacheEntry.objects.filter(expires__gt=timezone.now())
    entries = access.visible_names(live, request.user)
    if form.is_valid() and (name := form.cleaned_data["name"].strip()):
        entries = entries.filter(name_filter("name", name))
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "dnsadmin/cache.html", {"form": form, "page": page, "query": query.urlencode()}
    )


@require_POST
@access.staff_only
def cache_delete(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    try:
        dns.name.from_text(name)
    except (dns.exception.DNSException, ValueError):
        messages.error(request, "That is not a domain name.")
        return redirect("dnsadmin:cache")
    cachesync.delete(name, request.user)
    messages.success(request, f"{name} was removed from every DNS worker's cache.")
    return redirect("dnsadmin:cache")


@access.staff_only
def cache_flush(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST flushes every worker's cache."""
    if request.method == "POST":
        cachesync.flush(request.user)
        messages.success(request, "Every DNS worker's cache was flushed.")
        return redirect("dnsadmin:cache")
    return render(
        request,
        "dnsadmin/cache_flush.html",
        {"entries": CacheEntry.objects.filter(expires__gt=timezone.now()).count()},
    )
