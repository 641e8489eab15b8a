"""Names typed in web forms mean what the operator meant (Technitium's rule), TXT pasted with
its quotes is the text inside them, and a TTL that changes a whole RRset is said first."""

from __future__ import annotations

import re

import dns.rdata
import pytest

from dnsadmin.models import Zone
from tests.dnsadmin.test_zone_views import field_errors, rdatas, record_post, url

pytestmark = pytest.mark.django_db


def create(client, **fields):
    data = {
        "origin": "walk.test",
        "primary_ns": "ns1.walk.test",
        "contact": "hostmaster.walk.test",
        "default_ttl": "300",
        **fields,
    }
    return client.post("/dns/zones/new/", data)


@pytest.fixture
def walk(staff_client) -> Zone:
    assert create(staff_client).status_code == 302
    return Zone.objects.get(origin="walk.test.")


def test_a_zones_names_with_the_origin_are_taken_as_typed(walk):
    assert walk.primary_ns == "ns1.walk.test." and walk.contact == "hostmaster.walk.test."
    assert rdatas(walk, "@", "NS") == {"ns1.walk.test."}


def test_a_single_label_name_server_is_completed_with_the_zone(staff_client):
    create(staff_client, primary_ns="ns1", contact="hostmaster@walk.test")
    zone = Zone.objects.get()
    assert (zone.primary_ns, zone.contact) == ("ns1.walk.test.", "hostmaster.walk.test.")


@pytest.mark.parametrize(
    ("rdtype", "fields", "owner", "stored"),
    [
        ("CNAME", {"owner": "alias", "target": "example.com"}, "alias", "example.com."),
        ("CNAME", {"owner": "alias", "target": "www"}, "alias", "www.walk.test."),
        ("MX", {"preference": "20", "exchange": "mx2.example.net"}, "@", "20 mx2.example.net."),
        ("A", {"owner": "fq2.walk.test", "address": "192.0.2.1"}, "fq2", "192.0.2.1"),
        ("A", {"owner": "a.b", "address": "192.0.2.2"}, "a.b", "192.0.2.2"),
        ("A", {"owner": "Walk.Test", "address": "192.0.2.3"}, "@", "192.0.2.3"),
    ],
)
def test_record_names_follow_the_web_rule(staff_client, walk, rdtype, fields, owner, stored):
    response = staff_client.post(url(walk, f"records/add/?type={rdtype}"), record_post(**fields))
    assert response.status_code == 302, field_errors(response.content.decode(), "owner")
    assert stored in rdatas(walk, owner, rdtype)


@pytest.mark.parametrize(
    ("rdtype", "fields", "field"),
    [
        ("A", {"owner": "fq2.walk.test.walk.test", "address": "192.0.2.1"}, "owner"),
        ("CNAME", {"owner": "x", "target": "www.walk.test.walk.test"}, "target"),
    ],
)
def test_a_name_with_the_origin_twice_is_refused_with_why(
    staff_client, walk, rdtype, fields, field
):
    response = staff_client.post(url(walk, f"records/add/?type={rdtype}"), record_post(**fields))
    assert response.status_code == 400
    assert "twice" in field_errors(response.content.decode(), field)
    assert not walk.records.exclude(rdtype="NS").exists()


def test_the_record_list_shows_the_name_that_is_served(staff_client, walk):
    staff_client.post(
        url(walk, "records/add/?type=A"), record_post(owner="fq2", address="192.0.2.1")
    )
    page = staff_client.get(url(walk)).content.decode()
    assert re.search(r"fq2<span[^>]*>\.walk\.test\.</span>", page)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"origin": "bad zone!"}, "origin"),
        ({"contact": "not an email"}, "contact"),
        ({"primary_ns": "ns 1"}, "primary_ns"),
    ],
)
def test_zone_names_with_spaces_or_symbols_are_refused(staff_client, fields, field):
    response = create(staff_client, **fields)
    assert response.status_code == 400 and field_errors(response.content.decode(), field)
    assert not Zone.objects.exists()


def test_an_owner_with_spaces_is_refused(staff_client, walk):
    response = staff_client.post(
        url(walk, "records/add/?type=A"), record_post(owner="my host", address="192.0.2.1")
    )
    assert response.status_code == 400 and "no spaces" in field_errors(
        response.content.decode(), "owner"
    )


@pytest.mark.parametrize(
    ("typed", "served"),
    [
        ('"v=spf1 include:_spf.example.com ~all"', [b"v=spf1 include:_spf.example.com ~all"]),
        ('"v=DKIM1; k=rsa; " "p=MIGf"', [b"v=DKIM1; k=rsa; p=MIGf"]),
        ('say "hi"', [b'say "hi"']),
    ],
)
def test_txt_pasted_with_its_quotes_is_served_without_them(staff_client, walk, typed, served):
    staff_client.post(url(walk, "records/add/?type=TXT"), record_post(owner="@", text=typed))
    (stored,) = rdatas(walk, "@", "TXT")
    assert dns.rdata.from_text("IN", "TXT", stored).strings == tuple(served)


def add_a(client, zone, address: str, ttl: str, fingerprint: str = ""):
    fields = record_post(owner="www", address=address, ttl=ttl, fingerprint=fingerprint)
    return client.post(url(zone, "records/add/?type=A"), fields)


def shown_fingerprint(html: str) -> str:
    return re.search(r'name="fingerprint" value="(\w*)"', html).group(1)


def test_a_ttl_that_changes_the_rrset_is_said_and_needs_a_second_submit(staff_client, walk):
    assert add_a(staff_client, walk, "192.0.2.1", "600").status_code == 302
    first = add_a(staff_client, walk, "192.0.2.2", "60")
    html = first.content.decode()
    assert first.status_code == 200 and "sets all 2 to 60" in html
    assert rdatas(walk, "www", "A") == {"192.0.2.1"}
    again = add_a(staff_client, walk, "192.0.2.2", "60", shown_fingerprint(html))
    assert again.status_code == 302
    assert {r.ttl for r in walk.records.filter(owner="www")} == {60}


def test_two_people_adding_with_different_ttls_get_a_conflict(staff_client, walk):
    add_a(staff_client, walk, "192.0.2.1", "600")
    seen = shown_fingerprint(add_a(staff_client, walk, "192.0.2.2", "60").content.decode())
    add_a(staff_client, walk, "192.0.2.3", "", "")  # someone else adds, keeping the TTL
    late = add_a(staff_client, walk, "192.0.2.2", "60", seen)
    assert late.status_code == 409
    assert {r.ttl for r in walk.records.filter(owner="www")} == {600}


def test_an_empty_ttl_added_to_an_rrset_keeps_its_ttl_without_asking(staff_client, walk):
    add_a(staff_client, walk, "192.0.2.1", "600")
    assert add_a(staff_client, walk, "192.0.2.2", "").status_code == 302
    assert {r.ttl for r in walk.records.filter(owner="www")} == {600}


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("not a url", 400),
        ("letsencrypt.org", 400),
        ("mailto:security@walk.test", 302),
        ("https://walk.test/caa", 302),
    ],
)
def test_a_caa_iodef_must_be_a_url(staff_client, walk, value, status):
    fields = record_post(flags="0", tag="iodef", value=value)
    response = staff_client.post(url(walk, "records/add/?type=CAA"), fields)
    assert response.status_code == status
    if status == 400:
        assert "mailto:" in field_errors(response.content.decode(), "value")
