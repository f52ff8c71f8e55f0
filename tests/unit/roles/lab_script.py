"""The lab's control script (roles/lab/files/labctl.py, not a package module), loaded for unit tests."""
from __future__ import annotations

import importlib.util
import os
from importlib.machinery import SourceFileLoader

LABCTL = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'lab', 'files', 'labctl.py')


def load_labctl():
    loader = SourceFileLoader('labctl', LABCTL)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module
