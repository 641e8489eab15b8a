"""The staff page of the pypi plugin's watches, against a local package index and the bot."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from botadmin.bridge import DatabaseStorage
from botadmin.models import Channel, Network, Plugin, PluginSetting, StoredValue
from botadmin.plugins.pypi import WATCHES, added, removed
from tests.plugins.pypi_index import (
    DJANGO,
    Bots,
    announced,
    django_index,
    index_doc,
    index_settings,
    poll,
)

PAGE = reverse("botadmin:pypi-watches")
UNWATCH = reverse("botadmin:pypi-unwatch")


@pytest.fixture
def index():
    with django_index() as service:
        yield service


@pytest.fixture
def channels(db, index) -> dict[str, Channel]:
    """Make testnet's #pub and #priv (the fake bot's channels); the plugin polls the local index."""
    network = Network.objects.create(name="testnet", host="127.0.0.1")
    PluginSetting.objects.create(plugin="pypi", config={"index_url": index.url, "timeout": 0.5})
    return {name: Channel.objects.create(network=network, name=name) for name in ("#pub", "#priv")}


def store_watches(value: dict[str, list[str]]) -> None:
    StoredValue.objects.create(plugin="pypi", key=WATCHES, value=value)


def stored(key: str = WATCHES) -> Any:
    row = StoredValue.objects.filter(plugin="pypi", key=key).first()
    return row.value if row else None


def table_rows(page: str) -> list[str]:
    """Read the watches table as text, a row per channel."""
    body = page[page.index("<tbody>") :]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def watch(client, channel: Channel, project: str):
    return client.post(PAGE, {"channel": channel.pk, "project": project}, follow=True)


def unwatch(client, endpoint: str, project: str):
    return client.post(UNWATCH, {"endpoint": endpoint, "project": project}, follow=True)


# -- who may ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method, url", [("get", PAGE), ("post", PAGE), ("post", UNWATCH)])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_signed_in_users_who_are_not_staff_are_refused_and_change_nothing(user_client, channels):
    assert user_client.get(PAGE).status_code == 403
    assert watch(user_client, channels["#pub"], "django").status_code == 403
    store_watches({"django": ["testnet/#pub"]})
    assert unwatch(user_client, "testnet/#pub", "django").status_code == 403
    assert stored() == {"django": ["testnet/#pub"]}


# -- listing ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_each_channels_watches_escaped_and_links_from_the_bot_pages(
    staff_client, channels
):
    Plugin.objects.create(name="pypi", module="botadmin.plugins.pypi")
    # The bot stores the channel as the server spelled it; a gone channel's watch stays.
    store_watches({"django": ["testnet/#Pub", "testnet/#<b>gone"], "requests": ["testnet/#Pub"]})
    page = staff_client.get(PAGE).content.decode()
    assert table_rows(page) == [
        "#priv on testnet nothing",
        "#pub on testnet django remove requests remove",
        "#<b>gone on testnet not a configured channel django remove",
    ]
    assert "#&lt;b&gt;gone on testnet" in page and "<b>gone" not in page
    assert 'value="testnet/#Pub"' in page and 'value="testnet/#&lt;b&gt;gone"' in page
    for bot_page in ("botadmin:admin-home", "botadmin:plugin-list"):
        assert f'href="{PAGE}"' in staff_client.get(reverse(bot_page)).content.decode()


# -- adding -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_watch_added_on_the_page_is_stored_with_its_baseline_as_the_command_stores_it(
    staff_client, channels
):
    response = watch(staff_client, channels["#pub"], "  Django ")
    assert response.redirect_chain == [(PAGE, 302)]
    assert "#pub on testnet now watches django (latest is 5.2.1)." in response.content.decode()
    assert stored() == {"django": ["testnet/#pub"]}
    assert stored("project:django")["newest"].startswith("2025-05-07T15:34:35")


@pytest.mark.django_db
def test_a_watch_reuses_the_bots_spelling_of_the_channel(staff_client, channels):
    store_watches({"requests": ["testnet/#Pub"]})
    watch(staff_client, channels["#pub"], "django")
    assert stored() == {"django": ["testnet/#Pub"], "requests": ["testnet/#Pub"]}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "-django", "django 5", "../x"])
def test_an_invalid_project_name_shows_an_inline_error_and_saves_nothing(
    staff_client, channels, index, name
):
    response = watch(staff_client, channels["#pub"], name)
    page = response.content.decode()
    assert response.status_code == 200 and response.redirect_chain == []
    assert "That is not a project name" in page and "has-error" in page
    assert "<script>alert" not in page
    assert not StoredValue.objects.exists()
    assert index.requests == []


@pytest.mark.django_db
def test_a_project_the_index_does_not_know_shows_an_inline_error_and_saves_nothing(
    staff_client, channels, index
):
    index.serve("/pypi/no-such-thing/json", "pypi_not_found.json", status=404)
    page = watch(staff_client, channels["#pub"], "No_Such.Thing").content.decode()
    assert "There is no project called no-such-thing on the index." in page
    assert not StoredValue.objects.exists()


@pytest.mark.django_db
def test_an_index_that_is_down_saves_nothing_and_says_so(staff_client, channels, index):
    index.fail(DJANGO, 502)
    page = watch(staff_client, channels["#pub"], "django").content.decode()
    assert "The package index is not answering right now" in page
    assert not StoredValue.objects.exists()


# -- removing -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_watch_is_removed_by_its_button_and_the_others_stay(staff_client, channels):
    store_watches({"django": ["testnet/#priv", "testnet/#pub"], "requests": ["testnet/#pub"]})
    response = unwatch(staff_client, "testnet/#pub", "django")
    assert "#pub on testnet no longer watches django." in response.content.decode()
    assert stored() == {"django": ["testnet/#priv"], "requests": ["testnet/#pub"]}
    again = unwatch(staff_client, "testnet/#pub", "django").content.decode()
    assert "#pub on testnet was not watching django." in again
    assert stored() == {"django": ["testnet/#priv"], "requests": ["testnet/#pub"]}


@pytest.mark.django_db
def test_a_tampered_removal_changes_nothing(staff_client, channels):
    store_watches({"django": ["testnet/#pub"]})
    page = unwatch(staff_client, "testnet/#pub", "<i>x</i>").content.decode()
    assert "That watch cannot be removed" in page
    assert stored() == {"django": ["testnet/#pub"]}


# -- racing the bot -----------------------------------------------------------------------


class BotWritesFirst(DatabaseStorage):
    """Just before the page's first write of the watches lands, the bot's write lands.

    So the page writes with the version it read, which is stale by then.
    """

    def __init__(self, change: Callable[[Any], Any]) -> None:
        super().__init__(in_request=True)
        self.change, self.raced = change, False

    async def put(self, plugin: str, key: str, value: Any, version: int = 0) -> int:
        if key == WATCHES and not self.raced:
            self.raced = True
            current = await self.get(plugin, key)
            await super().put(plugin, key, self.change(current.value), current.version)
        return await super().put(plugin, key, value, version)


@pytest.fixture
def bot_writes_first(monkeypatch) -> Callable[[Callable[[Any], Any]], BotWritesFirst]:
    def install(change: Callable[[Any], Any]) -> BotWritesFirst:
        storage = BotWritesFirst(change)
        monkeypatch.setattr("botadmin.views.pypi.DatabaseStorage", lambda **kw: storage)
        return storage

    return install


@pytest.mark.django_db
def test_a_watch_added_while_the_bot_changes_the_watches_loses_neither(
    staff_client, channels, bot_writes_first
):
    store_watches({"django": ["testnet/#pub"]})
    race = bot_writes_first(lambda w: added(w, "requests", "testnet/#pub"))
    watch(staff_client, channels["#priv"], "django")
    assert race.raced
    assert stored() == {"django": ["testnet/#priv", "testnet/#pub"], "requests": ["testnet/#pub"]}
    assert StoredValue.objects.get(plugin="pypi", key=WATCHES).version == 3


@pytest.mark.django_db
def test_a_watch_removed_while_the_bot_changes_the_watches_loses_neither(
    staff_client, channels, bot_writes_first
):
    store_watches({"django": ["testnet/#priv", "testnet/#pub"], "requests": ["testnet/#pub"]})
    race = bot_writes_first(lambda w: removed(w, "requests", "testnet/#pub"))
    unwatch(staff_client, "testnet/#pub", "django")
    assert race.raced
    assert stored() == {"django": ["testnet/#priv"]}
    assert StoredValue.objects.get(plugin="pypi", key=WATCHES).version == 3


# -- the running bot ----------------------------------------------------------------------


@pytest.fixture
async def bots():
    bots = Bots()
    yield bots
    await bots.stop_all()


@pytest.mark.django_db(transaction=True)
async def test_the_bot_announces_a_watch_of_the_page_at_its_next_poll_and_forgets_a_removed_one(
    bots, index, channels, staff_client
):
    bot = await bots.start(DatabaseStorage(), index_settings(index))
    await sync_to_async(watch)(staff_client, channels["#pub"], "django")
    assert await poll(bot) == []  # 5.2.1 was out when the watch began
    assert await bot.say("ann", "#pub", "!pypi list") == [
        "PRIVMSG #pub :pypi: watching django here."
    ]
    index.serve(DJANGO, "pypi_django_5.2.2.json")
    assert await poll(bot) == [announced(index, "#pub", "5.2.2")]

    await sync_to_async(unwatch)(staff_client, "testnet/#pub", "django")
    index.serve(DJANGO, index_doc("5.2.3", {"5.2.3": "2025-07-01T10:00:00"}))
    assert await poll(bot) == []
    assert (await bot.say("ann", "#pub", "!pypi list"))[0].endswith("watching nothing here.")


@pytest.mark.django_db(transaction=True)
async def test_the_command_refuses_the_names_the_page_refuses(bots, index):
    bot = await bots.start(DatabaseStorage(), index_settings(index))
    assert await bot.say("ann", "#pub", "!pypi watch ../django") == [
        "PRIVMSG #pub :pypi: that is not a project name (letters, digits, '.', '_' and '-',"
        " starting and ending with a letter or digit)."
    ]
    assert index.requests == []
    assert not await StoredValue.objects.filter(plugin="pypi").aexists()
