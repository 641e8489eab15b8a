"""Full-text search of the logs: SQLite FTS5 or PostgreSQL text search, same query language.

A query is words and "quoted phrases" (all must match), ``a OR b`` (either), ``-word``
(not that word), ``prefix*`` (words starting so), with an optional ``nick:NAME`` filter.
The user's text never reaches the database's query syntax as syntax: every word and
phrase is passed as a quoted FTS5 string, or through PostgreSQL's plainto/phraseto
functions, a prefix only when it is letters and digits, so a hostile query can only fail
to match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from botadmin.models import LogLine

FTS_TABLE = "botadmin_logline_fts"
# FTS5 ends a string at NUL, and no log line holds control characters worth matching.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TERM = re.compile(r'(?P<key>nick:)?(?:"(?P<quoted>[^"]*)"?|(?P<word>\S+))')


PREFIX = re.compile(r"^(\w{2,})\*$")


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    nick: str = ""
    prefixes: list[str] = field(default_factory=list)  # "asyn" for asyn*
    excluded: list[str] = field(default_factory=list)  # -word
    alternatives: list[list[str]] = field(default_factory=list)  # a OR b: each a word or phrase

    def __bool__(self) -> bool:
        return bool(self.matching or self.nick)

    @property
    def matching(self) -> bool:
        """Whether the text must match something (not only a nick, or only exclusions)."""
        return bool(self.words or self.phrases or self.prefixes or self.alternatives)


def parse(text: str) -> Query:
    """Split a search box's text into words, phrases, prefixes, alternatives, exclusions
    and the nick filter."""
    query = Query()
    groups: list[list[tuple[str, bool]]] = []  # the terms to match, each group OR'ed
    joining = False
    for match in TERM.finditer(CONTROL.sub(" ", text)):
        quoted = match["quoted"] is not None
        value = (match["quoted"] if quoted else match["word"]).strip()
        if not value:
            continue
        if match["key"]:
            query.nick = value
        elif not quoted and value == "OR" and groups:
            joining = True
        elif not quoted and value.startswith("-") and len(value) > 1:
            query.excluded.append(value[1:])
        elif joining:
            groups[-1].append((value, quoted))
            joining = False
        else:
            groups.append([(value, quoted)])
    if joining:  # a trailing OR is a word
        groups.append([("OR", False)])
    for group in groups:
        if len(group) > 1:
            query.alternatives.append([value for value, _ in group])
            continue
        value, quoted = group[0]
        if quoted and " " in value:
            query.phrases.append(value)
        elif not quoted and (prefix := PREFIX.match(value)):
            query.prefixes.append(prefix[1])
        else:
            query.words.append(value)
    return query


def terms_pattern(query: Query) -> re.Pattern | None:
    """A pattern finding what the query matched in a line's text, to highlight it."""
    literal = [*query.words, *query.phrases, *(t for group in query.alternatives for t in group)]
    parts = [re.escape(term) for term in literal if term]
    parts += [rf"\b{re.escape(stem)}\w*" for stem in query.prefixes]
    if not parts:
        return None
    return re.compile("|".join(sorted(parts, key=len, reverse=True)), re.I)


def highlight(text: str, query: Query) -> SafeString:
    """Escape text, with the query's matches in <mark>."""
    pattern = terms_pattern(query)
    if pattern is None:
        return escape(text)
    pieces, last = [], 0
    for found in pattern.finditer(text):
        if found.end() == found.start():
            continue
        pieces.append(escape(text[last : found.start()]))
        pieces.append(f"<mark>{escape(found.group())}</mark>")
        last = found.end()
    pieces.append(escape(text[last:]))
    return mark_safe("".join(pieces))


@dataclass(frozen=True)
class Scope:
    """Where to search: the ids of channels the reader may read, and a date range."""

    channel_ids: Iterable[int]
    since: datetime | None = None
    until: datetime | None = None


def fts5_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts5_match(query: Query) -> str:
    """Build an FTS5 MATCH expression: each term a string literal, so none is an operator."""
    terms = [fts5_string(term) for term in [*query.words, *query.phrases]]
    terms += [fts5_string(stem) + "*" for stem in query.prefixes]
    groups = [
        "(" + " OR ".join(fts5_string(term) for term in group) + ")" for group in query.alternatives
    ]
    # FTS5 ANDs strings side by side, but wants the AND spelled out next to a group.
    return " AND ".join(terms + groups) if groups else " ".join(terms)


@dataclass(frozen=True)
class Results:
    lines: list[LogLine]
    has_more: bool
    count: int | None = None


def search(query: Query, scope: Scope, limit: int = 50, offset: int = 0) -> Results:
    """Find matching lines, newest first, leaving out the lines the policy redacts.

    A redacted line is left out in the query rather than shown as the day page shows it,
    so that its text cannot be found through the words it had, nor counted: a page of
    redacted matches after this one would otherwise show an "older" link.
    """
    lines = matching(query, scope)
    rows = list(lines.order_by("-id")[offset : offset + limit + 1])
    found = [row for row in rows[:limit] if not row.redacted]
    return Results(found, len(rows) > limit, lines.count())


def matching(query: Query, scope: Scope) -> QuerySet[LogLine]:
    lines = filtered(query, scope)
    if query.matching:
        lines = with_text(lines, query)
    for word in query.excluded:
        lines = lines.exclude(text__icontains=word)
    return lines


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
        tsquery, params = postgres_tsquery(query)
        return lines.extra(
            where=[f"to_tsvector('simple', botadmin_logline.text) @@ ({tsquery})"],
            params=params,
        )
    for term in [*query.words, *query.phrases, *query.prefixes]:
        lines = lines.filter(text__icontains=term)
    for group in query.alternatives:
        either = Q()
        for term in group:
            either |= Q(text__icontains=term)
        lines = lines.filter(either)
    return lines


def postgres_tsquery(query: Query) -> tuple[str, list[str]]:
    """Each term through plainto/phraseto_tsquery (never parsed as syntax); a prefix, checked
    to be letters and digits, through to_tsquery as stem:*."""

    def one(term: str) -> tuple[str, str]:
        function = "phraseto_tsquery" if " " in term else "plainto_tsquery"
        return f"{function}('simple', %s)", term

    parts = [one(term) for term in [*query.words, *query.phrases]]
    parts += [("to_tsquery('simple', %s)", f"{stem}:*") for stem in query.prefixes]
    sql = [part for part, _ in parts]
    params = [param for _, param in parts]
    for group in query.alternatives:
        alternatives = [one(term) for term in group]
        sql.append("(" + " || ".join(part for part, _ in alternatives) + ")")
        params += [param for _, param in alternatives]
    return " && ".join(sql), params
