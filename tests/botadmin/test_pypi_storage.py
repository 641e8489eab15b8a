"""The pypi plugin on the database-backed Storage: what it stored outlives the bot."""

import pytest

from botadmin.bridge import DatabaseStorage
from botadmin.models import StoredValue
from tests.plugins.pypi_index import DJANGO, Bots, announced, django_index, index_settings, poll

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def index():
    with django_index() as service:
        yield service


@pytest.fixture
async def bots():
    bots = Bots()
    yield bots
    await bots.stop_all()


async def test_a_release_is_announced_once_across_a_restart_on_the_database(bots, index):
    first = await bots.start(DatabaseStorage(), index_settings(index))
    await first.say("ann", "#pub", "!pypi watch django")
    index.serve(DJANGO, "pypi_django_5.2.2.json")
    assert await poll(first) == [announced(index, "#pub", "5.2.2")]
    await first.host.stop()

    second = await bots.start(DatabaseStorage(), index_settings(index))
    assert await poll(second) == []
    assert (await second.say("ann", "#pub", "!pypi list"))[0].endswith("watching django here.")
    watches = await StoredValue.objects.aget(plugin="pypi", key="watches")
    assert watches.value == {"django": ["testnet/#pub"]}
