"""The site-wide pages: dashboard and health check."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from appliance.dashboard import dashboard_panels
from appliance.models import WorkerStatus


@dataclass(frozen=True)
class WorkerRow:
    """One worker on the dashboard: its heartbeat and what it reported, spelled out.

    The details are unpacked here rather than in the template because a network
    named like a dict method ("items") would shadow it in template lookups.
    """

    worker: WorkerStatus
    zones: int | None
    port: int | None
    queries: int | None
    serials: list[tuple[str, int]]
    networks: list[dict]
    rate_limited: dict  # responses the DNS worker's rate limits dropped and slipped
    shed: int  # UDP queries it shed unanswered under overload
    upstream_dropped: int  # upstream replies dropped: late, stray or forged


def worker_row(worker: WorkerStatus) -> WorkerRow:
    details = mapping(worker.details)
    return WorkerRow(
        worker=worker,
        zones=details.get("zones"),
        port=details.get("port"),
        queries=details.get("queries"),
        serials=sorted(mapping(details.get("serials")).items()),
        networks=[
            {**state, "name": name}
            for name, state in sorted(mapping(details.get("networks")).items())
            if isinstance(state, dict)
        ],
        rate_limited=mapping(details.get("rate_limited")),
        shed=details.get("shed") or 0,
        upstream_dropped=details.get("upstream_dropped") or 0,
    )


def mapping(value: object) -> dict:
    """Read a reported value that should be a dict; take anything else (an older worker's) as empty."""
    return value if isinstance(value, dict) else {}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    workers = [worker_row(worker) for worker in WorkerStatus.objects.all()]
    context = {"panels": dashboard_panels(request), "workers": workers}
    return render(request, "dashboard.html", context)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Database reachability for load balancers and monitoring; no login, no details."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


class LogoutView(auth_views.LogoutView):
    """Log out, and say so on the page that follows (the login page)."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        stored = request.session.keys()  # a session is not iterable itself
        had_pending = any(key.startswith("dnsadmin.pending.") for key in stored)
        response = super().post(request, *args, **kwargs)
        note = " Pending zone changes that were not applied are gone." if had_pending else ""
        messages.info(request, f"You are logged out.{note}")
        return response
