"""The site-wide pages: dashboard and health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from appliance.dashboard import dashboard_panels
from appliance.models import WorkerStatus


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {"panels": dashboard_panels(request), "workers": WorkerStatus.objects.all()}
    return render(request, "dashboard.html", context)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database reachability for load balancers and monitoring; no login, no details."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
