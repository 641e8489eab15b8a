"""The appliance app: keeps the embedded database file readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def private_sqlite_files(sender, connection, **kwargs) -> None:
    """SQLite creates its file (and the WAL beside it) with the process umask, often
    world-readable: narrow them to the owner, whose processes are the only readers."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    for path in (Path(name), Path(name + "-wal"), Path(name + "-shm")):
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                os.chmod(path, stat.S_IMODE(mode) & 0o700)
        except (FileNotFoundError, PermissionError):
            continue


class ApplianceConfig(AppConfig):
    name = "appliance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(private_sqlite_files, dispatch_uid="appliance.private_sqlite")
