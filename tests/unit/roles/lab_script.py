"""Roles' scripts (roles/<role>/files/*, not package modules), loaded as modules for unit tests."""
from __future__ import annotations

import importlib.util
import os
from importlib.machinery import SourceFileLoader

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles')


def load_role_script(role, name):
    path = os.path.join(ROLES, role, 'files', name)
    loader = SourceFileLoader(name.replace('-', '_').replace('.', '_'), path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def load_labctl():
    return load_role_script('lab', 'labctl.py')
