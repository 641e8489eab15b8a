from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from appliance import metrics, views
from botadmin.views.robots import robots_txt

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("dns/", include("dnsadmin.urls")),
    path("bot/", include("botadmin.urls")),
    path("logs/", include("botadmin.log_urls")),
    path("robots.txt", robots_txt, name="robots-txt"),
]
