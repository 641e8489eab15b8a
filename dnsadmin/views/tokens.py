"""A page to create and revoke one's own API tokens, each with a scope and an expiry."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dnsadmin import access
from dnsadmin.forms import TokenForm
from dnsadmin.models import ApiToken, Zone


@never_cache  # no-store: the page shows a new key once, and no cache may keep it
@access.signed_in
def token_list(request: HttpRequest) -> HttpResponse:
    reachable = Zone.objects.viewable_by(request.user)
    form = TokenForm(request.POST or None, zones=reachable)
    key = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _, key = ApiToken.issue(
            request.user,
            data["name"],
            scope=data["scope"],
            zones=list(data["zones"]) or None,
            expires=data["expires"],
        )
        form = TokenForm(zones=reachable)
    tokens = ApiToken.objects.filter(user=request.user).prefetch_related("zones")
    context = {"tokens": tokens, "form": form, "key": key}
    return render(request, "dnsadmin/token_list.html", context)


@require_POST
@access.signed_in
def token_delete(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("dnsadmin:token-list")
