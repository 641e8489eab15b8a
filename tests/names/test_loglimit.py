"""The filter that keeps a flood of one log message from filling the disk."""

from __future__ import annotations

import logging

from dnsadmin.names.loglimit import RepeatLimit
from tests.names.hierarchy import Clock


def records(limit: RepeatLimit, count: int, msg: str = "SERVFAIL for %s", level=logging.INFO):
    made = [
        logging.LogRecord("dnsadmin.names.recursive", level, __file__, 1, msg, (n,), None)
        for n in range(count)
    ]
    return [record.getMessage() for record in made if limit.filter(record)]


def test_the_first_few_lines_of_a_kind_pass_and_the_rest_are_counted():
    clock = Clock()
    limit = RepeatLimit(burst=3, interval=60, clock=clock)
    assert records(limit, 1000) == ["SERVFAIL for 0", "SERVFAIL for 1", "SERVFAIL for 2"]
    clock.advance(61)
    assert records(limit, 1) == ["SERVFAIL for 0 (997 more like it suppressed)"]
    assert records(limit, 1) == ["SERVFAIL for 0"]


def test_each_kind_has_its_own_allowance():
    limit = RepeatLimit(burst=2, interval=60, clock=Clock())
    assert len(records(limit, 10)) == 2
    assert len(records(limit, 10, "zone %s loaded")) == 2
    assert len(records(limit, 10, level=logging.WARNING)) == 2
