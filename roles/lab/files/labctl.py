#!/usr/bin/env python3
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's command (`labctl.py --dir DIR SUBCOMMAND`); its parts are in the xenha_lab package beside it."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from xenha_lab.cli import main  # noqa: E402  (the package sits beside this file, not on the path)

if __name__ == '__main__':
    sys.exit(main())
