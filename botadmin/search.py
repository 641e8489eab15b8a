"""Full-text search of the logs: SQLite FTS5 or PostgreSQL text search, same query language.

A query is words and "quoted phrases" (all must match), with an optional ``nick:NAME``
filter. The user's text never reaches the database's query syntax as syntax: every word
and phrase is passed as a quoted FTS5 string, or through PostgreSQL's plainto/phraseto
functions, so a hostile query can only fail to match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from botadmin.models import LogLine

FTS_TABLE = "botadmin_logline_fts"
# FTS5 ends a string at NUL, and no log line holds control characters worth matching.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TERM = re.compile(r'(?P<key>nick:)?(?:"(?P<quoted>[^"]*)"?|(?P<word>\S+))')


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    nick: str = ""

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases or self.nick)


def parse(text: str) -> Query:
    """Split a search box's text into words, phrases and the nick filter."""
    query = Query()
    for match in TERM.finditer(CONTROL.sub(" ", text)):
        value = match["quoted"] if match["quoted"] is not None else match["word"]
        value = value.strip()
        if not value:
            continue
        if match["key"]:
            query.nick = value
        elif match["quoted"] is not None and " " in value:
            query.phrases.append(value)
        else:
            query.words.append(value)
    return query


@dataclass(frozen=True)
class Scope:
    """Where to search: the ids of channels the reader may read, and a date range."""

    channel_ids: Iterable[int]
    since: datetime | None = None
    until: datetime | None = None


def fts5_match(query: Query) -> str:
    """Build an FTS5 MATCH expression: each term a string literal, so none is an operator."""
    terms = [*query.words, *query.phrases]
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


@dataclass(frozen=True)
class Results:
    lines: list[LogLine]
    has_more: bool


def search(query: Query, scope: Scope, limit: int = 50, offset: int = 0) -> Results:
    """Find matching lines, newest first, leaving out the lines the policy redacts.

    A redacted line is left out in the query rather than shown as the day page shows it,
    so that its text cannot be found through the words it had, nor counted: a page of
    redacted matches after this one would otherwise show an "older" link.
    """
    lines = filtered(query, scope)
    if query.words or query.phrases:
        lines = with_text(lines, query)
    rows = list(lines.order_by("-id")[offset : offset + limit + 1])
    return Results([row for row in rows[:limit] if not row.redacted], len(rows) > limit)


def filtered(query: Query, scope: Scope) -> QuerySet[LogLine]:
    lines = (
        LogLine.objects.unredacted()
        .redacted()
        .filter(channel_id__in=list(scope.channel_ids))
        .select_related("channel__network")
    )
    if query.nick:
        lines = lines.filter(nick__iexact=query.nick)
    if scope.since:
        lines = lines.filter(time__gte=scope.since)
    if scope.until:
        lines = lines.filter(time__lt=scope.until)
    return lines


def with_text(lines: QuerySet[LogLine], query: Query) -> QuerySet[LogLine]:
    vendor = connection.vendor
    if vendor == "sqlite":
        # The FTS5 result is read in rowid order, newest first, so the planner stops
        # after the first page instead of sorting every match.
        return lines.extra(
            tables=[FTS_TABLE],
            where=[f"{FTS_TABLE}.rowid = botadmin_logline.id", f"{FTS_TABLE} MATCH %s"],
            params=[fts5_match(query)],
        )
    if vendor == "postgresql":
        # The same expression as the GIN index in the migration, or the index is not used.
        tsquery = " && ".join(
            ["plainto_tsquery('simple', %s)"] * len(query.words)
            + ["phraseto_tsquery('simple', %s)"] * len(query.phrases)
        )
        return lines.extra(
            where=[f"to_tsvector('simple', botadmin_logline.text) @@ ({tsquery})"],
            params=[*query.words, *query.phrases],
        )
    for term in [*query.words, *query.phrases]:
        lines = lines.filter(text__icontains=term)
    return lines
