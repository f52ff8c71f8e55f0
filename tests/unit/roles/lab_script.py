"""Roles' scripts (roles/<role>/files/*, not package modules), loaded as modules for unit tests."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib.machinery import SourceFileLoader

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles')


def load_role_script(role, name):
    path = os.path.join(ROLES, role, 'files', name)
    loader = SourceFileLoader(name.replace('-', '_').replace('.', '_'), path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def lab_part(name):
    """One part of the lab's package (roles/lab/files/xenha_lab/NAME.py), imported as labctl.py imports it."""
    files = os.path.join(ROLES, 'lab', 'files')
    if files not in sys.path:
        sys.path.insert(0, files)
    return importlib.import_module('xenha_lab.' + name)
