from django.apps import AppConfig


class BotAdminConfig(AppConfig):
    name = "botadmin"
    verbose_name = "IRC bot"
