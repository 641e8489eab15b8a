"""Settings for the test suite: production settings with a fixed key and plain HTTP."""

import os

# A developer's .env (the first `make run` writes one with DEBUG=1) must not reach the tests.
os.environ.setdefault("APPLIANCE_ENV_FILE", os.devnull)
os.environ.setdefault("SECRET_KEY", "test-only-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from appliance.settings import *  # noqa: E402,F403

# Tests talk to loopback only: parents are looked up where nothing listens unless a test says.
DNS_PARENT_RESOLVER = "127.0.0.1:9"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# A file, not memory, so that workers started by the tests (rundns, runbot, daphne)
# share the test database; one per test process, since several may run at once.
import tempfile  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"appliance-test-{os.getpid()}.sqlite3")
    }
