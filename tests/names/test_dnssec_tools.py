"""BIND's own tools judge our signed zones: dnssec-verify the AXFR, delv a few names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.names.validators import (
    CHILD,
    ORIGIN,
    Hierarchy,
    KeySet,
    axfr_text,
    delv,
    dnssec_verify,
)  # fmt: skip
from tests.names.zones import ThreadedServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["nsec3", "nsec"])
def hierarchy(request) -> Hierarchy:
    return Hierarchy(KeySet.new(), KeySet.new(), nsec3=request.param == "nsec3")


@pytest.fixture(scope="module")
def server(hierarchy: Hierarchy) -> Iterator[ThreadedServer]:
    running = ThreadedServer(hierarchy.catalog(corrupted=False))
    running.start()
    yield running
    running.stop()


def test_dnssec_verify_accepts_the_axfr(server, tmp_path: Path):
    for origin in (ORIGIN, CHILD):
        done = dnssec_verify(tmp_path, origin, axfr_text(server.port, origin))
        assert done.returncode == 0, done.stderr
        assert "Zone fully signed" in done.stderr + done.stdout


def test_dnssec_verify_catches_a_corrupted_signature(hierarchy, tmp_path: Path):
    broken = ThreadedServer(hierarchy.catalog(corrupted=True))
    broken.start()
    try:
        done = dnssec_verify(tmp_path, ORIGIN, axfr_text(broken.port, ORIGIN))
    finally:
        broken.stop()
    assert done.returncode != 0


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("www.signed.test.", "A", "192.0.2.10"),
        ("x.wild.signed.test.", "TXT", '"wildcard"'),
        ("nx.signed.test.", "A", "nxdomain"),
        ("host.secure.signed.test.", "A", "192.0.2.77"),
    ],
)
def test_delv_validates_names(server, hierarchy, tmp_path: Path, name, rdtype, expected):
    said = delv(server.port, hierarchy.parent_keys.ds_text(ORIGIN), tmp_path, name, rdtype)
    assert "fully validated" in said, said
    assert expected in said, said
    assert "unsigned answer" not in said
