# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""(world) The one way the modules run a program on the node, for their backends' `run(argv)` callables."""

from __future__ import annotations

import os

# rc of a shell for a program that is not installed.
NOT_FOUND = 127


def runner(module):
    """`run(argv) -> (rc, stdout, stderr)` over AnsibleModule.run_command. A program that is not installed
    gives rc 127 and says which, so that the backend decides what that means (no cluster here, no LVM)
    instead of run_command failing the whole module with a bare "Error executing command"."""
    def run(argv):
        if not os.path.isabs(argv[0]) and module.get_bin_path(argv[0]) is None:
            return NOT_FOUND, '', '%s: not installed on this node (not found in PATH)' % argv[0]
        return module.run_command(argv)
    return run
