from __future__ import annotations

from django.apps import AppConfig
from django.http import HttpRequest


class DnsAdminConfig(AppConfig):
    name = "dnsadmin"
    verbose_name = "DNS"

    def ready(self) -> None:
        from appliance.dashboard import register_panel

        register_panel(zones_panel)
        register_panel(query_stats_panel)


def zones_panel(request: HttpRequest):
    """Build the dashboard's DNS panel: how many zones and records there are."""
    from appliance.dashboard import Panel
    from dnsadmin.models import Record, Zone

    zones = Zone.objects.viewable_by(request.user)  # counts of the zones the reader may view
    context = {
        "zones": zones.count(),
        "disabled": zones.filter(enabled=False).count(),
        "records": Record.objects.filter(zone__in=zones).count(),
    }
    return Panel("DNS zones", "dnsadmin/panel.html", context)


def query_stats_panel(request: HttpRequest):
    """Build the dashboard's query panel (dnsadmin.operations, imported when the dashboard
    asks: with the names engine behind it, importing it at start cost every command, such
    as loadzone, a twentieth of a second)."""
    from dnsadmin import operations

    return operations.query_stats_panel(request)
