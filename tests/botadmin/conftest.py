"""Fixtures shared by the bot app's tests: one network, one public channel on it."""

from __future__ import annotations

import pytest

from botadmin.models import Channel, Network


@pytest.fixture
def network() -> Network:
    return Network.objects.create(name="libera", host="irc.example.org")


@pytest.fixture
def public(network) -> Channel:
    return Channel.objects.create(network=network, name="#python")
