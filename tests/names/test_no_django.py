"""The DNS engine must not import Django, not even indirectly."""

from __future__ import annotations

from tests.conftest import run_python

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
import dnsadmin.names as package
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print(len(sys.modules), "django" in sys.modules)
"""


def test_every_module_of_the_engine_imports_without_django():
    result = run_python(IMPORT_EVERY_MODULE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"
