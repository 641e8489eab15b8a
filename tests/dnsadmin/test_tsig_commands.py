"""manage.py tsig and manage.py zone grant|deny|policy, as an operator types them."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from dnsadmin.models import TsigKey, UpdateRule
from tests.dnsadmin.test_update_nsupdate import manage

pytestmark = pytest.mark.django_db


def test_rules_are_listed_in_the_order_they_were_given(zone):
    manage("tsig", "add", "acme")
    manage("tsig", "add", "dhcp", "--algorithm", "hmac-sha512")
    manage("zone", "deny", "example.org", "acme", "name", "www")
    manage("zone", "grant", "example.org", "acme", "zonesub", "TXT", "A")
    manage("zone", "grant", "example.org", "dhcp", "wildcard", "*.hosts")
    manage("zone", "grant", "example.org", "dhcp", "self")
    assert manage("zone", "policy", "example.org").splitlines() == [
        "1\tdeny acme. name www.example.org.",
        "2\tgrant acme. zonesub TXT A",
        "3\tgrant dhcp. wildcard *.hosts.example.org.",
        "4\tgrant dhcp. self",
    ]
    assert "example.org.: grant acme. zonesub TXT A" in manage("tsig", "list")


def test_a_name_ending_with_the_zones_name_is_taken_as_typed(zone):
    manage("tsig", "add", "acme")
    manage("zone", "grant", "example.org", "acme", "name", "_acme-challenge.example.org", "TXT")
    manage("zone", "grant", "example.org", "acme", "subdomain", "hosts", "A")
    assert manage("zone", "policy", "example.org").splitlines() == [
        "1\tgrant acme. name _acme-challenge.example.org. TXT",
        "2\tgrant acme. subdomain hosts.example.org. A",
    ]
    with pytest.raises(CommandError, match="twice"):
        call_command("zone", "grant", "example.org", "acme", "name", "a.example.org.example.org")


@pytest.mark.parametrize(
    "words",
    [
        ("grant", "example.org", "nobody", "zonesub"),  # no such key
        ("grant", "nothere.org", "acme", "zonesub"),  # no such zone
        ("grant", "example.org", "acme", "name"),  # a name rule needs a name
        ("grant", "example.org", "acme", "wildcard", "hosts"),  # a wildcard starts with *.
        ("grant", "example.org", "acme", "zonesub", "NOTATYPE"),
    ],
)
def test_a_wrong_rule_is_an_operator_error(zone, words):
    manage("tsig", "add", "acme")
    with pytest.raises(CommandError):
        call_command("zone", *words)
    assert not UpdateRule.objects.exists()


def test_a_key_is_added_once_and_removed_with_its_rules(zone):
    manage("tsig", "add", "acme")
    with pytest.raises(CommandError, match="exists already"):
        manage("tsig", "add", "ACME.")
    manage("zone", "grant", "example.org", "acme", "zonesub")
    assert manage("tsig", "remove", "acme") == "Key acme removed.\n"
    assert not TsigKey.objects.exists() and not UpdateRule.objects.exists()
    with pytest.raises(CommandError):
        manage("tsig", "remove", "acme")
