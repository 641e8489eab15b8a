"""version.bind in class CHAOS: the server's version, as BIND's `version` option gives it.

BIND answers `version.bind. CH TXT` with its version, or with the string configured, and
refuses the question when the option is `none`; so do we (the chain refuses it when no
version is configured, as it refuses any question for a name that is not ours).
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset

QUESTION = b"\x07version\x04bind\x00\x00\x10\x00\x03"  # version.bind. TXT CH
MAX_STRING = 255  # one TXT character-string


def asks_version(query: bytes) -> bool:
    """Tell whether query asks version.bind. TXT CH (in any case), cheaply."""
    return query[12:30].lower() == QUESTION


def version_answer(query: bytes, version: str) -> bytes | None:
    """Return the authoritative answer to a version.bind query; None if it does not parse.

    Rare enough to go through dnspython, which echoes EDNS as the query asks.
    """
    try:
        message = dns.message.from_wire(query, ignore_trailing=True)
    except dns.exception.DNSException:
        return None
    response = dns.message.make_response(message)
    response.flags |= dns.flags.AA
    text = version.encode()[:MAX_STRING].decode(errors="ignore").replace('"', '\\"')
    response.answer.append(
        dns.rrset.from_text(
            message.question[0].name, 0, dns.rdataclass.CH, dns.rdatatype.TXT, f'"{text}"'
        )
    )
    return response.to_wire()
