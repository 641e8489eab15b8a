from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.timesince import timesince

# Workers beat every few seconds; three missed beats means not running.
ALIVE_WITHIN = timedelta(seconds=15)


class WorkerStatus(models.Model):
    """A running worker's heartbeat, so the dashboard can show who is up."""

    kind = models.CharField(max_length=20)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "host", "pid"], name="unique_worker_process")
        ]
        ordering = ["kind", "host", "pid"]
        verbose_name_plural = "worker statuses"

    def __str__(self) -> str:
        return f"{self.kind} on {self.host} (pid {self.pid})"

    @property
    def is_alive(self) -> bool:
        return timezone.now() - self.last_seen < ALIVE_WITHIN

    @property
    def seen_ago(self) -> str:
        """Say seconds under a minute (heartbeats come every few seconds), else timesince's words."""
        seconds = int((timezone.now() - self.last_seen).total_seconds())
        return f"{max(seconds, 0)} s ago" if seconds < 60 else f"{timesince(self.last_seen)} ago"
