from __future__ import annotations

from django.apps import AppConfig
from django.http import HttpRequest


class DnsAdminConfig(AppConfig):
    name = "dnsadmin"
    verbose_name = "DNS"

    def ready(self) -> None:
        from appliance.dashboard import register_panel
        from dnsadmin.operations import query_stats_panel

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
