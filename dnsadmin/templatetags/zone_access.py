"""Template filters that ask `dnsadmin.access` what the reader may do with a zone."""

from __future__ import annotations

from django import template

from dnsadmin import access

register = template.Library()


@register.filter
def editable_by(zone, user) -> bool:
    """``{% if zone|editable_by:user %}``: show the editing tools only to editors."""
    return zone is not None and access.can_edit(user, zone)


@register.filter
def staff(user) -> bool:
    """``{% if user|staff %}``: staff's tools (zone deletion, the cache flush)."""
    return access.is_staff(user)
