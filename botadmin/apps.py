from django.apps import AppConfig


class BotAdminConfig(AppConfig):
    name = "botadmin"
    verbose_name = "IRC bot"

    def ready(self) -> None:
        from appliance.dashboard import register_panel
        from botadmin.views.panel import logs_panel

        register_panel(logs_panel)
