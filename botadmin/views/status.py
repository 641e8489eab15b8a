"""The running bot's connection status per network, from its heartbeat (WorkerStatus)."""

from __future__ import annotations

from appliance.models import WorkerStatus

STATUS_FIELDS = ("connected", "nick", "last_error", "lag", "channels")


def bot_status() -> dict:
    """Return {"running": bool, "networks": {name: {connected, nick, last_error, lag, channels}}}.

    Shards of ``runbot`` each report their own networks; a worker that stopped beating
    reports nothing, so its networks show as not connected rather than as stale "up".
    """
    networks: dict[str, dict] = {}
    running = False
    for worker in WorkerStatus.objects.filter(kind="bot").order_by("last_seen"):
        if not worker.is_alive:
            continue
        running = True
        reported = (worker.details or {}).get("networks") or {}
        for name, state in reported.items():
            if isinstance(state, dict):
                networks[name] = {key: state.get(key) for key in STATUS_FIELDS}
    return {"running": running, "networks": networks}
