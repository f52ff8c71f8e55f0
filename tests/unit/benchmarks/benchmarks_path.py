"""The benchmarks' scripts as modules for their unit tests, imported with benchmarks/ on the path as when they
run (tests/conftest.py has put the collection on sys.path, as `make`'s PYTHONPATH does for them)."""
from __future__ import annotations

import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BENCHMARKS = os.path.join(ROOT, 'benchmarks')


def import_benchmark(name):
    sys.path.insert(0, BENCHMARKS)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(BENCHMARKS)
