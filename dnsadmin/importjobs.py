"""Web imports of big zone files, in the background, with their progress.

A file of more than ``LARGE_LINES`` lines is not read inside the request (a 100,000-record
file takes seconds, and a proxy's timeout would cut the page): the upload makes an
``ImportJob`` row and a thread of the web process reads and plans it (state ``reading``,
then ``planned`` with the preview), and, once the user applies the preview, writes it
through the change service (``applying``, then ``done`` or ``failed``). The page polls
``progress`` as JSON. Rows written so far are counted in this process's memory, since the
write is one transaction the job's row cannot show until it commits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from dnsadmin.changes import (
    BULK_RRSETS,
    Author,
    ChangeError,
    ConflictError,
    ImportPlan,
    apply_changes,
    apply_import,
    plan_import,
)
from dnsadmin.models import ImportJob, Zone
from dnsadmin.zonefile import ParsedZone, ZoneFileError, parse_records_for

logger = logging.getLogger(__name__)

LARGE_LINES = 2000  # a file longer than this is imported as a job
PREVIEW_ROWS = 100  # RRsets the preview lists; the summary counts them all
STALE = timedelta(minutes=10)  # a job not heard of for this long died with its process

# What each running job of this process is doing: stage, rows written, rows to write.
_progress: dict[int, tuple[str, int, int]] = {}
_lock = threading.Lock()


def is_large(text: str) -> bool:
    return text.count("\n") >= LARGE_LINES


def start(zone: Zone, user, text: str, filename: str, mode: str) -> ImportJob:
    """Record the upload and read and plan it in the background."""
    job = ImportJob.objects.create(
        zone=zone, user=user, text=text, filename=filename, mode=mode, state="reading"
    )
    launch(job.pk, "reading the file", plan_job)
    return job


def apply(job: ImportJob) -> bool:
    """Write a planned job's changes in the background; False if it is not planned (any
    more: applied already, or being applied)."""
    planned = ImportJob.objects.filter(pk=job.pk, state="planned")
    if not planned.update(state="applying", updated=timezone.now()):
        return False
    launch(job.pk, "reading the file again", apply_job)
    return True


def launch(pk: int, stage: str, work: Callable[[ImportJob], None]) -> None:
    report(pk, stage)
    threading.Thread(target=run, args=(pk, work), name=f"import-{pk}", daemon=True).start()


def run(pk: int, work: Callable[[ImportJob], None]) -> None:
    """Do a job's work in its thread; whatever goes wrong ends the job as failed."""
    try:
        work(ImportJob.objects.select_related("zone", "user").get(pk=pk))
    except Exception as error:
        logger.exception("import job %s failed", pk)
        finish(pk, "failed", f"The import stopped: {error}")
    finally:
        with _lock:
            _progress.pop(pk, None)
        connection.close()  # this thread's own connection


def report(pk: int, stage: str, done: int = 0, total: int = 0) -> None:
    with _lock:
        _progress[pk] = (stage, done, total)


def finish(pk: int, state: str, message: str, **fields) -> None:
    """Record where a job stands; once it has ended, its file is not kept."""
    if state in ("done", "failed"):
        fields["text"] = ""
    ImportJob.objects.filter(pk=pk).update(
        state=state, message=message, updated=timezone.now(), **fields
    )


def read(job: ImportJob) -> tuple[ParsedZone, ImportPlan] | None:
    """Parse and plan the job's file; None (and the job failed) when it is broken."""
    replace_all = job.mode == "replace"
    try:
        parsed = parse_records_for(job.zone, job.text, job.filename, replace_all=replace_all)
        report(job.pk, "comparing with the zone")
        return parsed, plan_import(job.zone, parsed, replace_all=replace_all)
    except (ZoneFileError, ChangeError) as error:
        finish(job.pk, "failed", str(error))
        return None


def plan_job(job: ImportJob) -> None:
    found = read(job)
    if found is None:
        return
    plan = found[1]
    preview = [
        {
            "action": p.action,
            "owner": p.owner,
            "rdtype": p.rdtype,
            "before": [r.as_dict() for r in p.before],
            "after": [r.as_dict() for r in p.after],
        }
        for p in plan.rrsets[:PREVIEW_ROWS]
    ]
    fields = {"summary": plan.summary, "preview": preview, "expected": plan.expected_zone}
    finish(job.pk, "planned", "", **fields)


def apply_job(job: ImportJob) -> None:
    """Apply the job's file as previewed: refused if the zone changed since."""
    found = read(job)
    if found is None:
        return
    parsed, plan = found
    if plan.expected_zone != job.expected:
        finish(job.pk, "failed", str(ConflictError(whole_zone=True)))
        return
    summary = f"Import ({job.mode}): {plan.summary}"
    report(job.pk, "writing", 0, 1)
    try:
        if len(plan.rrsets) > BULK_RRSETS:
            by = Author(job.user, "import", "")

            def written(done: int, total: int) -> None:
                report(job.pk, "writing", done, total)

            change = apply_import(job.zone, plan, parsed, by, summary, progress=written)
        else:
            change = apply_changes(
                job.zone, plan.edits(), job.user, source="import", summary=summary,
                expected_zone=job.expected,
            )  # fmt: skip
    except (ChangeError, ConflictError) as error:
        finish(job.pk, "failed", str(error))
        return
    outcome = f"Imported ({job.mode}): {plan.summary}; serial {job.zone.serial}."
    finish(job.pk, "done", outcome, change=change)


def progress(job: ImportJob) -> dict:
    """What the page shows of a job: its state, what it is doing and how far it is."""
    with _lock:
        running = _progress.get(job.pk)
    state, message = job.state, job.message
    if state in ("reading", "applying") and running is None:
        if timezone.now() - job.updated > STALE:
            state, message = "failed", "The import was interrupted (the web server restarted)."
        running = (state, 0, 0)  # running in another process, or about to start
    stage, done, total = running or (state, 0, 0)
    return {
        "state": state,
        "stage": stage,
        "done": done,
        "total": total,
        "summary": job.summary,
        "message": message,
    }
