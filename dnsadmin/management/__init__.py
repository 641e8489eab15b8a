"""What the dnsadmin commands share."""

from __future__ import annotations

import dns.exception
import dns.name
from django.core.management.base import CommandError

from dnsadmin.models import Zone


def zone_named(origin: str) -> Zone:
    """Return the zone of that origin, or a CommandError an operator understands."""
    try:
        name = dns.name.from_text(origin).to_text().lower()
    except dns.exception.DNSException as error:
        raise CommandError(f"{origin!r} is not a domain name: {error}") from None
    zone = Zone.objects.filter(origin=name).first()
    if zone is None:
        raise CommandError(f"No zone {name} in the database.")
    return zone
