"""Make the repository importable as ansible_collections.xenha.datacenter."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.tmp', 'collections')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'xenha', 'datacenter')

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
