"""Import (preview, then apply) and export of BIND zone files."""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render

from dnsadmin import access
from dnsadmin.changes import ChangeError, ConflictError, ImportPlan, apply_changes, plan_import
from dnsadmin.forms import ImportForm
from dnsadmin.models import Zone
from dnsadmin.views.common import conflict_page
from dnsadmin.zonefile import ZoneFileError, export_lines, parse_records_for


def plan_from_form(zone: Zone, form: ImportForm) -> ImportPlan | None:
    """Parse and plan the form's zone text; errors go on the form and give None."""
    data = form.cleaned_data
    upload = data.get("file")
    filename = upload.name if upload else "pasted text"
    replace_all = data["mode"] == "replace"
    try:
        parsed = parse_records_for(zone, data["text"], filename, replace_all=replace_all)
        return plan_import(zone, parsed, replace_all=replace_all)
    except (ZoneFileError, ChangeError) as error:
        form.add_error("file" if upload else "text", str(error))
        return None


@access.zone_editor
def zone_import(request: HttpRequest, zone: Zone) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    plan = plan_from_form(zone, form) if request.method == "POST" and form.is_valid() else None
    if plan is not None and "apply" in request.POST:
        return apply_import(request, zone, form, plan)
    context = {"zone": zone, "form": form, "plan": plan}
    return render(request, "dnsadmin/zone_import.html", context, status=400 if form.errors else 200)


def apply_import(request: HttpRequest, zone: Zone, form: ImportForm, plan: ImportPlan):
    mode = form.cleaned_data["mode"]
    try:
        apply_changes(
            zone,
            plan.edits(),
            request.user,
            source="import",
            summary=f"Import ({mode}): {plan.summary}",
            expected_zone=form.cleaned_data["expected"] or plan.expected_zone,
        )
    except ConflictError as conflict:
        return conflict_page(request, zone, conflict)
    except ChangeError as error:
        form.add_error("text", str(error))
        return render(
            request, "dnsadmin/zone_import.html", {"zone": zone, "form": form}, status=400
        )
    messages.success(request, f"Imported ({mode}): {plan.summary}; serial {zone.serial}.")
    return redirect("dnsadmin:zone-detail", pk=zone.pk)


@access.zone_viewer
def zone_export(request: HttpRequest, zone: Zone) -> HttpResponse:
    # Streamed: a 100,000-record zone starts downloading at once instead of after seconds.
    response = StreamingHttpResponse(export_lines(zone), content_type="text/plain; charset=utf-8")
    # A name may hold escaped quotes or spaces; the header gets a plain file name.
    filename = re.sub(r"[^\w.-]", "_", zone.origin.rstrip(".")) or "root"
    response["Content-Disposition"] = f'attachment; filename="{filename}.zone"'
    return response
