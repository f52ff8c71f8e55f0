# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installed in the lab's node images only: keeps the bytecode of what Python imports from Ansible's payloads.

Ansible sends each task's module and its module_utils in a fresh zip, and zipimport compiles every
source it loads from a zip, every time. On a real server that costs a fraction of a second per task; on
an emulated node, seconds (ansible.module_utils.basic alone about one). The cache is keyed by the
source's hash, so a changed module is compiled again, and the code runs exactly as compiled afresh.
A `.pth` file imports this module at every interpreter start; it must never fail that start.
"""
from __future__ import annotations

import marshal
import os
import types
import zipimport

CACHE_DIR = '/var/cache/xenha-lab-pycache'
# Ansible's payload archives: <tmp>/ansible_<module>_payload_<random>/ansible_<module>_payload.zip
PAYLOAD_MARK = '_payload.zip'
_compile_source = zipimport._compile_source  # pylint: disable=protected-access


def with_filename(code, filename):
    """The code object with every nested function's file name set to this run's archive path."""
    consts = tuple(with_filename(const, filename) if isinstance(const, types.CodeType) else const
                   for const in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def cached_compile_source(pathname, source, cache_dir=CACHE_DIR):
    """zipimport's compile step, answered from the cache for Ansible's payloads."""
    if PAYLOAD_MARK not in pathname:
        return _compile_source(pathname, source)
    import hashlib  # only a payload import pays for it
    path = os.path.join(cache_dir, hashlib.sha256(source).hexdigest())
    try:
        with open(path, 'rb') as cached:
            return with_filename(marshal.load(cached), pathname)
    except (OSError, ValueError, EOFError, TypeError):
        pass
    code = _compile_source(pathname, source)
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        partial = '%s.%d' % (path, os.getpid())
        with open(partial, 'wb') as out:
            marshal.dump(code, out)
        os.replace(partial, path)  # concurrent tasks each write whole files; the last one wins
    except OSError:
        pass
    return code


def install():
    zipimport._compile_source = cached_compile_source  # pylint: disable=protected-access
