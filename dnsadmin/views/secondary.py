"""Secondary zones in the web: creating one (staff) and "refresh now" on its page; the page
itself shows its status panel and its records read-only (views/zones.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dnsadmin import access, secondary
from dnsadmin.models import TsigKey, Zone


class SecondaryForm(forms.Form):
    origin = forms.CharField(max_length=255, help_text="The zone's name, e.g. example.org.")
    primaries = forms.CharField(
        help_text="Primary servers, tried in order: ADDR or ADDR:PORT, separated by spaces "
        "(e.g. 192.0.2.1 [2001:db8::1]:5353)."
    )
    tsig_key = forms.ModelChoiceField(
        TsigKey.objects.all(), required=False, label="TSIG key",
        help_text="Sign SOA queries and transfers with this key, and accept NOTIFY only signed "
        "with it. Empty: unsigned.",
    )  # fmt: skip


@access.staff_only
def secondary_create(request: HttpRequest) -> HttpResponse:
    form = SecondaryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        key = data["tsig_key"].name if data["tsig_key"] else None
        try:
            zone = secondary.add_secondary(data["origin"], data["primaries"].split(), key)
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Secondary zone {zone.origin} created; transfer requested.")
            return redirect("dnsadmin:zone-detail", pk=zone.pk)
    status = 400 if form.is_bound else 200
    return render(request, "dnsadmin/secondary_form.html", {"form": form}, status=status)


@require_POST
@access.zone_editor
def secondary_refresh(request: HttpRequest, zone: Zone) -> HttpResponse:
    try:
        secondary.request_refresh(zone.origin)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Refresh requested: the primaries are checked now.")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)
