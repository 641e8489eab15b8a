"""The engines import no Django: they must stay usable and testable on their own."""

from __future__ import annotations

import pytest

from tests.conftest import run_python

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
package = importlib.import_module({package!r})
for module in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):
    if not module.name.endswith('__main__'):
        importlib.import_module(module.name)
leaked = sorted(name for name in sys.modules if name == 'django' or name.startswith('django.'))
print(','.join(leaked) or 'clean')
"""


@pytest.mark.parametrize("package", ["dnsadmin.names", "botadmin.infobot", "botadmin.plugins"])
def test_the_engine_imports_without_django(package):
    result = run_python(IMPORT_EVERY_MODULE.format(package=package))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
