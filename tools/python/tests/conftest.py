# conftest.py — the tests import the package from this checkout (tools/python/clae), installed or not,
# so `make test` checks the source next to the library it just built.
import os
import sys

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
