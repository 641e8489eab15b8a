"""Import (preview, then apply) and export of BIND zone files.

A big file is imported as a background job (dnsadmin/importjobs.py): the page shows its
progress, then its preview, then how it ended.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from dnsadmin import access, importjobs
from dnsadmin.changes import ChangeError, ConflictError, ImportPlan, apply_changes, plan_import
from dnsadmin.forms import ImportForm
from dnsadmin.models import ImportJob, Zone
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
    if "job" in request.GET or "job" in request.POST:
        return job_page(request, zone)
    form = ImportForm(request.POST or None, request.FILES or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and importjobs.is_large(form.cleaned_data["text"])
    ):
        upload = form.cleaned_data.get("file")
        job = importjobs.start(
            zone, request.user, form.cleaned_data["text"],
            upload.name if upload else "pasted text", form.cleaned_data["mode"],
        )  # fmt: skip
        return redirect(job_url(zone, job))
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


def job_url(zone: Zone, job: ImportJob) -> str:
    return f"{reverse('dnsadmin:zone-import', args=[zone.pk])}?job={job.pk}"


def zone_job(request: HttpRequest, zone: Zone) -> ImportJob:
    """The job the request names, one of this zone's."""
    pk = request.POST.get("job") or request.GET.get("job")
    return get_object_or_404(ImportJob, pk=pk if str(pk).isdigit() else None, zone=zone)


def job_page(request: HttpRequest, zone: Zone) -> HttpResponse:
    """A big import's page: its progress, its preview (POST applies it), how it ended."""
    job = zone_job(request, zone)
    if request.method == "POST" and "apply" in request.POST:
        importjobs.apply(job)  # a second click finds it applying: the page shows how far
        return redirect(job_url(zone, job))
    context = {
        "zone": zone,
        "job": job,
        "progress": importjobs.progress(job),
        "preview_rows": importjobs.PREVIEW_ROWS,
    }
    return render(request, "dnsadmin/zone_import_job.html", context)


@access.zone_editor
def zone_import_progress(request: HttpRequest, zone: Zone) -> JsonResponse:
    """A big import's progress as JSON, for its page to poll (no job named: none)."""
    if "job" not in request.GET:
        return JsonResponse({"state": "none"})
    return JsonResponse(importjobs.progress(zone_job(request, zone)))


@access.zone_viewer
def zone_export(request: HttpRequest, zone: Zone) -> HttpResponse:
    # Streamed: a 100,000-record zone starts downloading at once instead of after seconds.
    response = StreamingHttpResponse(export_lines(zone), content_type="text/plain; charset=utf-8")
    # A name may hold escaped quotes or spaces; the header gets a plain file name.
    filename = re.sub(r"[^\w.-]", "_", zone.origin.rstrip(".")) or "root"
    response["Content-Disposition"] = f'attachment; filename="{filename}.zone"'
    return response
