"""Staff page for erasure requests: forget (or anonymise) a nick, and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from appliance.access import staff_required
from botadmin import policy
from botadmin.forms import ForgetForm
from botadmin.models import PrivacyAction

AUDIT_ROWS = 200


@staff_required
@require_http_methods(["GET", "POST"])
def privacy(request: HttpRequest) -> HttpResponse:
    form = ForgetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        since = datetime.combine(data["since"], time(), UTC) if data["since"] else None
        done = policy.forget(
            data["network"], data["nick"], since=since, anonymise=data["anonymise"],
            by=request.user, via="privacy page",
        )  # fmt: skip
        messages.success(request, summary(done))
        return redirect("botadmin:privacy")
    context = {"form": form, "actions": PrivacyAction.objects.select_related("by")[:AUDIT_ROWS]}
    return render(request, "botadmin/admin/privacy.html", context)


def summary(done: PrivacyAction) -> str:
    verb = "anonymised" if done.action == PrivacyAction.ANONYMISE else "deleted"
    return (
        f"{done.nick} on {done.network}: {done.lines} log lines {verb}, "
        f"{done.seen} seen entries removed."
    )
