from datetime import UTC, datetime

from botadmin.infobot.protocol import decode, fold, parse, server_time, split_text


def test_it_parses_tags_prefix_command_and_trailing_parameter():
    msg = parse("@time=2026-01-02T03:04:05.678Z;msgid=abc :ann!a@host PRIVMSG #chan :hi there")
    assert msg.command == "PRIVMSG"
    assert msg.params == ["#chan", "hi there"]
    assert msg.nick == "ann"
    assert msg.source.host == "host"
    assert msg.tags == {"time": "2026-01-02T03:04:05.678Z", "msgid": "abc"}


def test_it_parses_a_line_without_prefix_or_tags():
    msg = parse("PING :irc.example")
    assert (msg.command, msg.params, msg.source) == ("PING", ["irc.example"], None)


def test_it_rejects_an_empty_line():
    assert parse("") is None


def test_it_decodes_utf8_and_falls_back_to_latin1():
    assert decode("café".encode()) == "café"
    assert decode("café".encode("latin-1")) == "café"


def test_it_folds_by_rfc1459():
    assert fold("Nick[]\\~") == "nick{}|^"


def test_it_reads_server_time_and_falls_back_to_now():
    assert server_time({"time": "2026-01-02T03:04:05.678Z"}) == datetime(
        2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC
    )
    before = datetime.now(UTC)
    assert server_time({}) >= before
    assert server_time({"time": "garbage"}) >= before


def test_it_splits_long_text_at_spaces_within_the_byte_budget():
    pieces = split_text("word " * 100, 50)
    assert all(len(p.encode()) <= 50 for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 100


def test_it_never_splits_inside_a_utf8_character():
    text = "é" * 101  # two bytes each, no spaces
    pieces = split_text(text, 51)
    assert all(len(p.encode()) <= 51 for p in pieces)
    assert "".join(pieces) == text


def test_it_cuts_on_newlines_so_no_raw_line_break_is_sent():
    assert split_text("one\r\ntwo\nthree", 100) == ["one", "two", "three"]
