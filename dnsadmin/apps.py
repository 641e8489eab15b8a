from django.apps import AppConfig


class DnsAdminConfig(AppConfig):
    name = "dnsadmin"
    verbose_name = "DNS"

    def ready(self) -> None:
        from appliance.dashboard import register_panel
        from dnsadmin.operations import query_stats_panel

        register_panel(query_stats_panel)
