# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One IPMI BMC per node on 127.0.0.1 (pyghmi's BMC), powering the node through its QEMU."""
from __future__ import annotations

import os

from xenha_lab.nodes import Node


def cmd_bmc(args):
    """An IPMI BMC for one node on 127.0.0.1 (runs in the foreground; `up` daemonises it)."""
    from pyghmi.ipmi import bmc as pyghmi_bmc

    node = Node(args.dir, args.node)
    with open(os.path.join(args.dir, 'secrets', 'bmc-password'), encoding='utf-8') as handle:
        password = handle.read().strip()

    class NodeBmc(pyghmi_bmc.Bmc):
        def get_power_state(self):
            return 'on' if node.is_on() else 'off'

        def power_on(self):
            node.power_on()

        def power_off(self):
            node.power_off()

        def power_reset(self):
            if not node.is_on():
                return 0xd5  # not supported in present state: IPMI says so for a reset while off
            node.reset()
            return None

        def power_cycle(self):
            node.power_off()
            node.power_on()

        def power_shutdown(self):
            if node.is_on():
                node.soft_off()

        def cold_reset(self):
            pass

    server = NodeBmc({args.user: password}, port=node.node['bmc_port'], address='127.0.0.1')
    server.listen()
    return 0
