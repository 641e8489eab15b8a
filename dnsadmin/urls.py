from django.urls import URLPattern, URLResolver, path

from dnsadmin import operations

app_name = "dnsadmin"
urlpatterns: list[URLPattern | URLResolver] = [
    path("queries/", operations.query_log, name="query-log"),
]
