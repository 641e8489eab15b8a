"""robots.txt: published logs may be indexed; searches, seen and the admin may not."""

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    # Search and seen pages are endless, and the seen page is about people, not channels.
    private = [
        reverse("logs:search"),
        reverse("logs:seen"),
        reverse("botadmin:admin-home"),
        "/admin/",
        "/accounts/",
        "/dns/",
    ]
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in private), ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
