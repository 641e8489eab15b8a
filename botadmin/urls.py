from django.urls import URLPattern, URLResolver

app_name = "botadmin"
urlpatterns: list[URLPattern | URLResolver] = []
