"""Operations pages: the cache browser, the query log, and the dashboard's query statistics."""

from __future__ import annotations

import datetime

import dns.exception
import dns.name
import dns.rcode
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from appliance.access import staff_required
from appliance.dashboard import Panel
from dnsadmin import cachesync
from dnsadmin.models import RESOLVER_SOURCES, CacheEntry, QueryLogEntry, QueryStats

RCODES = [("", "any")] + [(r.name, r.name) for r in dns.rcode.Rcode if r.value < 16]


class QueryLogFilter(forms.Form):
    client = forms.GenericIPAddressField(required=False)
    name = forms.CharField(
        required=False, max_length=255, help_text="A name, or a suffix such as .example.org"
    )
    rdtype = forms.CharField(label="Type", required=False, max_length=16)
    rcode = forms.ChoiceField(choices=RCODES, required=False)
    source = forms.ChoiceField(choices=[("", "any"), *RESOLVER_SOURCES], required=False)
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def apply(self, entries: QuerySet[QueryLogEntry]) -> QuerySet[QueryLogEntry]:
        data = self.cleaned_data
        if data.get("client"):
            entries = entries.filter(client=data["client"])
        if name := data.get("name", "").strip().lower():
            absolute = name if name.endswith(".") else name + "."
            # A leading dot asks for everything under a domain, as in `.example.org`.
            lookup = "name__endswith" if absolute.startswith(".") else "name"
            entries = entries.filter(**{lookup: absolute})
        for field in ("rdtype", "rcode", "source"):
            if data.get(field):
                entries = entries.filter(
                    **{field: data[field].upper() if field != "source" else data[field]}
                )
        if data.get("since"):
            entries = entries.filter(time__gte=data["since"])
        if data.get("until"):
            entries = entries.filter(time__lte=data["until"])
        return entries


@login_required
def query_log(request: HttpRequest) -> HttpResponse:
    form = QueryLogFilter(request.GET or None)
    entries = QueryLogEntry.objects.all()
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
    periods = [("last hour", datetime.timedelta(hours=1)), ("last day", datetime.timedelta(days=1))]
    rows = [period_stats(label, now - span, span.total_seconds()) for label, span in periods]
    return Panel("DNS queries", "dnsadmin/panel_queries.html", {"periods": rows})


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
    name = forms.CharField(
        required=False, max_length=255, help_text="A name, or a suffix such as .example.org"
    )


@login_required
def cache_browser(request: HttpRequest) -> HttpResponse:
    form = CacheSearch(request.GET or None)
    entries = CacheEntry.objects.filter(expires__gt=timezone.now())
    if form.is_valid() and (name := form.cleaned_data["name"].strip().lower()):
        absolute = name if name.endswith(".") else name + "."
        lookup = "name__endswith" if absolute.startswith(".") else "name"
        entries = entries.filter(**{lookup: absolute})
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "dnsadmin/cache.html", {"form": form, "page": page, "query": query.urlencode()}
    )


@require_POST
@staff_required
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


@staff_required
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
