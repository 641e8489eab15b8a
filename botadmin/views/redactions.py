"""Staff pages for redacted nicks: their lines are published as "[redacted]"."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from appliance.access import staff_required
from botadmin import policy
from botadmin.forms import RedactionForm
from botadmin.models import RedactedNick


@staff_required
@require_http_methods(["GET", "POST"])
def redactions(request: HttpRequest) -> HttpResponse:
    form = RedactionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        redaction = policy.redact_nick(
            data["network"], data["display_nick"], reason=data["reason"],
            by=request.user, via="redactions page",
        )  # fmt: skip
        messages.success(request, f"{redaction} is redacted.")
        return redirect("botadmin:redactions")
    context = {"form": form, "redactions": RedactedNick.objects.select_related("network")}
    return render(request, "botadmin/admin/redactions.html", context)


@staff_required
@require_POST
def redaction_delete(request: HttpRequest, pk: int) -> HttpResponse:
    redaction = get_object_or_404(RedactedNick.objects.select_related("network"), pk=pk)
    policy.unredact_nick(redaction, by=request.user, via="redactions page")
    messages.success(request, f"{redaction} is no longer redacted.")
    return redirect("botadmin:redactions")
