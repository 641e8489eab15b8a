import base64

from botadmin.infobot.config import ChannelConfig, NetworkConfig
from botadmin.infobot.protocol import parse
from botadmin.infobot.session import Session


def make(**overrides) -> Session:
    config = dict(
        name="net", host="127.0.0.1", port=6667, tls=False, nick="bot",
        channels=[ChannelConfig("#a"), ChannelConfig("#keyed", key="sekrit")],
    ) | overrides  # fmt: skip
    session = Session(NetworkConfig(**config))
    session.start()
    return session


def feed(session: Session, *lines: str) -> list:
    events = []
    for line in lines:
        events += session.receive(parse(line))
    return events


def sent(session: Session) -> list[str]:
    return [out.line for out in session.take_output()]


def register(session: Session) -> None:
    feed(session, "CAP * LS :multi-prefix", "CAP * ACK :multi-prefix", ":srv 001 bot :Welcome")
    feed(session, ":srv 376 bot :End of MOTD")
    sent(session)


def test_it_opens_with_cap_ls_302_then_nick_and_user():
    assert sent(make()) == ["CAP LS 302", "NICK bot", "USER infobot 0 * :appliance infobot"]


def test_it_requests_the_offered_capabilities_it_wants_across_multiline_ls():
    session = make()
    sent(session)
    feed(session, "CAP * LS * :multi-prefix sasl=PLAIN foo", "CAP * LS :server-time account-tag")
    assert sent(session) == ["CAP REQ :account-tag multi-prefix server-time"]
    feed(session, "CAP * ACK :account-tag multi-prefix server-time")
    assert sent(session) == ["CAP END"]


def test_it_ends_negotiation_when_nothing_wanted_is_offered():
    session = make()
    sent(session)
    feed(session, "CAP * LS :foo bar")
    assert sent(session) == ["CAP END"]


def test_it_authenticates_with_sasl_plain_over_tls():
    session = make(tls=True, sasl_account="acct", sasl_password="pw")
    sent(session)
    feed(session, "CAP * LS :sasl=PLAIN,EXTERNAL")
    assert sent(session) == ["CAP REQ :sasl"]
    feed(session, "CAP * ACK :sasl")
    assert sent(session) == ["AUTHENTICATE PLAIN"]
    feed(session, "AUTHENTICATE +")
    payload = base64.b64encode(b"acct\0acct\0pw").decode()
    assert sent(session) == [f"AUTHENTICATE {payload}"]
    feed(session, ":srv 903 bot :SASL authentication successful")
    assert sent(session) == ["CAP END"]


def test_it_refuses_sasl_without_tls():
    session = make(sasl_account="acct", sasl_password="pw")
    sent(session)
    feed(session, "CAP * LS :sasl")
    assert sent(session) == ["CAP END"]
    assert "TLS" in session.last_error


def test_it_ends_negotiation_and_records_a_failed_sasl():
    session = make(tls=True, sasl_account="acct", sasl_password="pw")
    feed(session, "CAP * LS :sasl", "CAP * ACK :sasl", "AUTHENTICATE +")
    sent(session)
    feed(session, ":srv 904 bot :SASL authentication failed")
    assert sent(session) == ["CAP END"]
    assert "SASL failed" in session.last_error


def test_it_appends_an_underscore_when_the_nick_is_taken():
    session = make()
    sent(session)
    feed(session, ":srv 433 * bot :Nickname is already in use")
    assert sent(session) == ["NICK bot_"]
    feed(session, ":srv 001 bot_ :Welcome")
    assert session.nick == "bot_"


def test_it_sets_the_announced_bot_mode_and_joins_with_keys_after_the_motd():
    session = make()
    feed(session, ":srv 001 bot :hi", ":srv 005 bot BOT=b PREFIX=(qov)~@+ :are supported")
    sent(session)
    feed(session, ":srv 376 bot :End of MOTD")
    assert sent(session) == ["MODE bot +b", "JOIN #a", "JOIN #keyed sekrit"]


def test_it_sets_plus_b_when_the_server_lists_that_user_mode():
    session = make(channels=[])
    feed(session, ":srv 001 bot :hi", ":srv 004 bot srv ngircd-26 abBcCioqrRswx beIiklmnoPstvz")
    sent(session)
    feed(session, ":srv 422 bot :No MOTD")
    assert sent(session) == ["MODE bot +B"]


def test_it_answers_ping_with_pong():
    session = make()
    sent(session)
    feed(session, "PING :token123")
    assert sent(session) == ["PONG :token123"]


def test_it_answers_ctcp_version_and_ping():
    session = make()
    register(session)
    feed(session, ":ann!a@h PRIVMSG bot :\x01VERSION\x01", ":ann!a@h PRIVMSG bot :\x01PING 42\x01")
    replies = sent(session)
    assert replies[0].startswith("NOTICE ann :\x01VERSION appliance infobot")
    assert replies[1] == "NOTICE ann :\x01PING 42\x01"


def test_it_reports_a_ctcp_action_as_an_action_event():
    session = make()
    register(session)
    [event] = feed(session, ":ann!a@h PRIVMSG #a :\x01ACTION waves\x01")
    assert (event.kind, event.text, event.channel) == ("action", "waves", "#a")


def test_it_reports_quit_and_nick_in_every_channel_the_nick_shared():
    session = make()
    register(session)
    feed(session, ":bot!u@h JOIN #a", ":bot!u@h JOIN #b")
    feed(session, ":srv 353 bot = #a :@bot +@ann carl", ":srv 353 bot = #b :bot ann")
    [nick] = feed(session, ":ann!a@h NICK anna")
    assert (nick.kind, nick.text, set(nick.channels)) == ("nick", "anna", {"#a", "#b"})
    [quit_] = feed(session, ":anna!a@h QUIT :bye")
    assert set(quit_.channels) == {"#a", "#b"}
    [carl] = feed(session, ":carl!c@h QUIT :bye")
    assert carl.channels == ("#a",)


def test_it_forgets_members_who_part_or_are_kicked():
    session = make()
    register(session)
    feed(session, ":bot!u@h JOIN #a", ":ann!a@h JOIN #a", ":carl!c@h JOIN #a")
    feed(session, ":ann!a@h PART #a :later", ":op!o@h KICK #a carl :out")
    assert feed(session, ":ann!a@h QUIT :x")[0].channels == ()
    assert feed(session, ":carl!c@h QUIT :x")[0].channels == ()


def test_it_reports_a_kick_naming_the_victim():
    session = make()
    register(session)
    feed(session, ":bot!u@h JOIN #a")
    [kick] = feed(session, ":op!o@h KICK #a bot :behave")
    assert (kick.kind, kick.victim, kick.text) == ("kick", "bot", "bot behave")
    assert session.channels() == []


def test_it_carries_server_time_msgid_and_account_tags_into_events():
    session = make()
    register(session)
    [event] = feed(
        session, "@time=2026-03-04T05:06:07Z;msgid=m1;account=annacct :ann!a@h PRIVMSG #a :hi"
    )
    assert (event.time.year, event.msgid, event.account) == (2026, "m1", "annacct")


def test_it_makes_an_own_event_for_what_it_sends_unless_echo_message_is_on():
    session = make()
    register(session)
    own = session.own_event("PRIVMSG #a :hello")
    assert (own.kind, own.nick, own.text, own.own) == ("message", "bot", "hello", True)
    session.caps.add("echo-message")
    assert session.own_event("PRIVMSG #a :hello") is None
    [echoed] = feed(session, ":bot!u@h PRIVMSG #a :hello")
    assert echoed.own


def test_it_splits_replies_to_fit_the_512_byte_limit_with_the_server_prefix():
    session = make()
    register(session)
    feed(session, ":bot!~infobot@some.very.long.host.example JOIN #a")
    sent(session)
    session.say("#a", "x" * 1200)
    lines = sent(session)
    prefix = len(":bot!~infobot@some.very.long.host.example ")
    assert len(lines) == 3
    assert all(prefix + len(line.encode()) + 2 <= 512 for line in lines)
    assert "".join(line.split(" :", 1)[1] for line in lines) == "x" * 1200


def test_it_ignores_server_notices():
    session = make()
    assert feed(session, ":srv NOTICE * :*** Looking up your hostname") == []


def test_it_ignores_names_replies_for_channels_it_is_not_in():
    session = make()
    register(session)
    feed(session, ":srv 353 bot = #elsewhere :ann", ":ann!a@h JOIN #elsewhere")
    assert feed(session, ":ann!a@h QUIT :x")[0].channels == ()
