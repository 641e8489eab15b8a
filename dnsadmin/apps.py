from django.apps import AppConfig


class DnsAdminConfig(AppConfig):
    name = "dnsadmin"
    verbose_name = "DNS"
