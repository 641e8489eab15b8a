"""The fast reader's cut of lines with quoted strings is the regular expressions' cut."""

from __future__ import annotations

import itertools
import random

import pytest

from dnsadmin import zonefast


def regex_lex(line: str) -> list[str] | None:
    """Cut a line with the reader's regular expressions alone (None: it cannot)."""
    if not zonefast.LEXABLE.fullmatch(line):
        return None
    tokens = zonefast.WORDS.findall(line)
    if tokens and tokens[-1][0] == ";":
        tokens.pop()
    return tokens


@pytest.mark.parametrize(
    "line, tokens",
    [
        ('h3 IN TXT "host 3" "second string"', ["h3", "IN", "TXT", '"host 3"', '"second string"']),
        ('h5 IN CAA 0 issue "ca.example.net"  ; a comment', ["h5", "IN", "CAA", "0", "issue", '"ca.example.net"']),
        ('\tIN TXT "a;b" ; c', ["IN", "TXT", '"a;b"']),
        ('x "a";c', ["x", '"a"']),
        ("h1 IN A 192.0.2.1 ; no quotes", ["h1", "IN", "A", "192.0.2.1"]),
        ('"lead" x', ['"lead"', "x"]),
    ],
)  # fmt: skip
def test_common_lines_are_cut_without_regular_expressions(line, tokens):
    assert zonefast.quoted_words(line) == tokens == regex_lex(line)


@pytest.mark.parametrize(
    "line",
    ['x"a"', '"a"x', '"a""b"', 'x "a', 'x "a\\"b"', 'x ("a")', 'é "a"', 'x\x0b"a"', 'x "a" ; "b'],
)
def test_other_lines_are_cut_as_the_regular_expressions_cut_them(line):
    """The fast cut may decline any of these (a speed choice) but never cut one otherwise,
    and the reader's cut is the regular expressions' (or refused with them)."""
    expected = regex_lex(line)
    assert zonefast.quoted_words(line) in (None, expected)
    if expected is None:
        with pytest.raises(zonefast.Unsupported):
            zonefast.lex(line)
    else:
        assert zonefast.lex(line) == expected


def test_every_short_line_is_cut_as_the_regular_expressions_cut_it():
    alphabet = ["a", " ", "\t", '"', ";", "(", "\\", "é", "\x0b"]
    lines = ["".join(p) for n in range(7) for p in itertools.product(alphabet[:6], repeat=n)]
    generator = random.Random(16)
    lines += [
        "".join(generator.choices(alphabet, k=generator.randint(1, 20))) for _ in range(20000)
    ]
    cut = 0
    for line in lines:
        tokens = zonefast.quoted_words(line)
        if tokens is not None:
            cut += 1
            assert tokens == regex_lex(line), line
    assert cut > len(lines) // 10  # the fast cut is taken, not always declined
