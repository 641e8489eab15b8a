"""A signed test zone and the real validators that judge it: Unbound (validating, the zone's
DS as its only trust anchor), delv and dnssec-verify (fixtures are in test_dnssec_validation)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdatatype

from dnsadmin.names import signer
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import Zone, zone_from_text
from tests.names.zones import wait_until_answering
from tests.services import free_port

ORIGIN = "signed.test."
CHILD = "secure.signed.test."
INSECURE = "insecure.signed.test."
DAY = 86400

SIGNED_TEST = """
$TTL 300
@        3600 IN SOA ns1 hostmaster 1 7200 900 1209600 600
@             IN NS    ns1
@             IN MX    10 mail
ns1           IN A     127.0.0.1
mail          IN A     192.0.2.25
www           IN A     192.0.2.10
www           IN AAAA  2001:db8::10
www           IN TXT   "hello"
one           IN CNAME two
two           IN CNAME www
*.wild        IN A     192.0.2.99
*.wild        IN TXT   "wildcard"
deep.wild     IN A     192.0.2.98
*.wc          IN CNAME www
a.b.c         IN A     192.0.2.5
dn            IN DNAME b.c.signed.test.
corrupt       IN TXT   "its signature is broken on purpose"
secure        IN NS    ns1
insecure      IN NS    ns1
"""

CHILD_TEXT = """
$TTL 300
@    IN SOA ns1.signed.test. hostmaster.signed.test. 1 7200 900 1209600 600
@    IN NS  ns1.signed.test.
host IN A   192.0.2.77
"""

INSECURE_TEXT = CHILD_TEXT.replace("192.0.2.77", "192.0.2.78")


@dataclass
class KeySet:
    """A zone's keys as the signer takes them, made once per test session."""

    algorithm: int = signer.ECDSAP256SHA256
    keys: list[signer.ZoneKey] = field(default_factory=list)

    @classmethod
    def new(cls, algorithm: int = signer.ECDSAP256SHA256, *, zsks: int = 1) -> KeySet:
        made = cls(algorithm)
        made.add(ksk=True)
        for _ in range(zsks):
            made.add(ksk=False)
        return made

    def add(self, *, ksk: bool, signing: bool = True) -> signer.ZoneKey:
        private = signer.new_private_key(self.algorithm)
        key = signer.ZoneKey(
            signer.make_dnskey(private, self.algorithm, ksk=ksk), private,
            ksk=ksk, zsk=not ksk, signing=signing,
        )  # fmt: skip
        self.keys.append(key)
        return key

    def ds_text(self, origin: str) -> list[str]:
        name = dns.name.from_text(origin)
        return [
            f"{origin} DS {dns.dnssec.make_ds(name, k.dnskey, 'SHA256').to_text()}"
            for k in self.keys
            if k.ksk and k.signing
        ]


def policy(*, nsec3: bool = True, now: float | None = None) -> signer.Policy:
    now = int(time.time() if now is None else now)
    return signer.Policy(now - 3600, now + 14 * DAY, nsec3=nsec3, jitter=DAY)


def signed_zone(
    text: str, origin: str, keys: KeySet, *, nsec3: bool = True, extra: str = "",
    previous: Zone | None = None, now: float | None = None,
) -> Zone:  # fmt: skip
    zone = zone_from_text(text + extra, origin, transfer_acl=["127.0.0.1/32"])
    window = policy(nsec3=nsec3, now=now)
    signer.sign_zone(zone, keys.keys, window, previous.dnssec if previous else None)
    return zone


def corrupt(zone: Zone, owner: str, rdtype: int) -> None:
    """Flip a bit of the signature of one RRset, as a damaged signer or disk would."""
    key = (owner.encode(),)
    sig = zone.dnssec.sigs[(key, rdtype)]
    broken = tuple(w[:-1] + bytes([w[-1] ^ 1]) for w in sig.wires)
    zone.dnssec.sigs[(key, rdtype)] = signer.Records(sig.rdtype, sig.ttl, broken)


@dataclass
class Hierarchy:
    """signed.test. (with a secure and an insecure child) signed, as Unbound will see it."""

    parent_keys: KeySet
    child_keys: KeySet
    nsec3: bool

    def catalog(
        self, *, extra: str = "", previous: ZoneCatalog | None = None, corrupted: bool = True
    ) -> ZoneCatalog:
        child = signed_zone(CHILD_TEXT, CHILD, self.child_keys, nsec3=self.nsec3)
        ds = "\n".join(line.replace(CHILD, "secure", 1) for line in self.child_keys.ds_text(CHILD))
        before = previous.get(dns.name.from_text(ORIGIN)) if previous else None
        parent = signed_zone(
            SIGNED_TEST, ORIGIN, self.parent_keys, nsec3=self.nsec3,
            extra=ds + "\n" + extra, previous=before,
        )  # fmt: skip
        if corrupted:
            corrupt(parent, "corrupt", dns.rdatatype.TXT)
        insecure = zone_from_text(INSECURE_TEXT, INSECURE)
        return ZoneCatalog([parent, child, insecure])


UNBOUND_CONF = """
server:
    num-threads: 1
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{directory}"
    pidfile: ""
    use-syslog: no
    logfile: "{directory}/unbound.log"
    verbosity: 1
    val-log-level: 2
    module-config: "validator iterator"
    trust-anchor-file: "{directory}/anchor"
    local-zone: "test." nodefault
    domain-insecure: ""
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    qname-minimisation: no
    aggressive-nsec: no
    cache-max-ttl: 0
    cache-max-negative-ttl: 0
    key-cache-size: 1k
"""

STUB = """
stub-zone:
    name: "{name}"
    stub-addr: 127.0.0.1@{port}
"""


class Unbound:
    """A validating Unbound whose only trust anchor is signed.test.'s DS, stubbed to our port.

    Its caches hold nothing past an answer (cache-max-ttl 0), so each question is validated
    from the DNSKEY down again, as it would be once the TTLs of the keys ran out.
    """

    def __init__(
        self, directory: Path, server_port: int, zones: tuple[str, ...] = (ORIGIN, CHILD, INSECURE)
    ) -> None:
        self.directory = directory
        self.server_port = server_port
        self.zones = zones
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, anchors: list[str]) -> None:
        self.stop()
        self.anchors = anchors
        (self.directory / "anchor").write_text("\n".join(anchors) + "\n")
        conf = UNBOUND_CONF.format(port=self.port, directory=self.directory)
        for name in self.zones:
            conf += STUB.format(name=name, port=self.server_port)
        path = self.directory / "unbound.conf"
        path.write_text(conf)
        self.process = subprocess.Popen(
            ["unbound", "-d", "-c", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        self._wait()

    def wait_ttls(self) -> None:
        """Forget every cached key set, as a rollover step's wait (RFC 7583) makes it expire."""
        self.start(self.anchors)

    def _wait(self) -> None:
        query = dns.message.make_query("version.server.", "TXT", "CH")
        wait_until_answering(self.process, self.port, query, self.log)

    def log(self) -> str:
        path = self.directory / "unbound.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def ask(self, name: str, rdtype: str = "A") -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, want_dnssec=True)
        return dns.query.udp(query, "127.0.0.1", port=self.port, timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None


def axfr_text(port: int, origin: str) -> str:
    """Return the zone as our server transfers it, in master-file text."""
    lines = []
    for message in dns.query.xfr("127.0.0.1", origin, port=port, relativize=False):
        lines.extend(rrset.to_text() for rrset in message.answer)
    return "\n".join(lines[:-1]) + "\n"  # the closing SOA once is enough


def dnssec_verify(directory: Path, origin: str, text: str) -> subprocess.CompletedProcess:
    path = directory / f"{origin}axfr"
    path.write_text(text)
    return subprocess.run(
        ["dnssec-verify", "-o", origin, str(path)], capture_output=True, text=True, timeout=60
    )


def delv(port: int, anchors: list[str], directory: Path, name: str, rdtype: str = "A") -> str:
    """Return what delv, validating from the given DS anchors, says about name."""
    entries = []
    for line in anchors:
        owner, _, tag, algorithm, digest_type, digest = line.split()
        entries.append(f'"{owner}" static-ds {tag} {algorithm} {digest_type} "{digest}";')
    path = directory / "delv.anchors"
    path.write_text("trust-anchors {\n" + "\n".join(entries) + "\n};\n")
    root = anchors[0].split()[0]
    command = [
        "delv",
        "@127.0.0.1",
        "-p",
        str(port),
        "-a",
        str(path),
        f"+root={root}",
        name,
        rdtype,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr
