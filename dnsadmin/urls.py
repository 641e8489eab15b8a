from django.urls import URLPattern, URLResolver

app_name = "dnsadmin"
urlpatterns: list[URLPattern | URLResolver] = []
