# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster network: a Linux bridge inside the lab's own network namespace (no address on the host), the
nodes' QEMU taps and the client's and the storage box's veths on it."""
from __future__ import annotations

import os
import subprocess

from xenha_lab.common import run, write


CLUSTER_NET = '10.0.0'
CLIENT_ADDRESS = CLUSTER_NET + '.254'
NETNS = 'xenha-lab-client'
# The switch: a bridge with no address, alone in its namespace, so nothing on the host routes to it.
SWITCH_NETNS = 'xenha-lab-net'
BRIDGE = 'labbr'


def netns_exists(name=NETNS):
    return name in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=False).stdout.split()


def link_exists(netns, name):
    return subprocess.run(['ip', '-n', netns, 'link', 'show', name], capture_output=True, check=False).returncode == 0


def start_switch():
    """The bridge. A tap with a vnet header keeps virtio-net's checksum and segmentation offloads, so a node
    sends 64 KiB segments; the VDE switch this replaces cost one emulated round trip per 1.5 KB frame."""
    if netns_exists(SWITCH_NETNS):
        return False
    run(['ip', 'netns', 'add', SWITCH_NETNS])
    run(['ip', '-n', SWITCH_NETNS, 'link', 'set', 'lo', 'up'])
    # No STP and no forwarding delay: a port forwards as soon as it is up (a node's reboot is not a new switch).
    run(['ip', '-n', SWITCH_NETNS, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
    run(['ip', '-n', SWITCH_NETNS, 'link', 'set', BRIDGE, 'up'])
    return True


def tap_name(node_name):
    """A node's tap, named in the host's namespace for the moment between QEMU's start and its move to the
    switch (an interface name holds at most 15 characters)."""
    return ('xenha-' + node_name)[:15]


def plug_tap(tap):
    """Moves a tap that QEMU has just created into the switch's namespace and onto the bridge. QEMU keeps its
    file descriptor, so the tap goes when QEMU goes (a power-off unplugs the node)."""
    run(['ip', 'link', 'set', tap, 'netns', SWITCH_NETNS])
    run(['ip', '-n', SWITCH_NETNS, 'link', 'set', tap, 'master', BRIDGE, 'up'])


def start_netns(name, port, address):
    """A namespace with one interface, lab0, on the switch (a veth; its peer `port` is the bridge's port)."""
    changed = False
    if not netns_exists(name):
        run(['ip', 'netns', 'add', name])
        changed = True
    if not link_exists(name, 'lab0'):
        if link_exists(SWITCH_NETNS, port):
            run(['ip', '-n', SWITCH_NETNS, 'link', 'delete', port])
        run(['ip', '-n', SWITCH_NETNS, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'lab0', 'netns', name])
        run(['ip', '-n', SWITCH_NETNS, 'link', 'set', port, 'master', BRIDGE, 'up'])
        run(['ip', '-n', name, 'link', 'set', 'lo', 'up'])
        run(['ip', '-n', name, 'addr', 'replace', address + '/24', 'dev', 'lab0'])
        run(['ip', '-n', name, 'link', 'set', 'lab0', 'up'])
        changed = True
    return changed


def start_client(lab):
    """The demo's laptop."""
    # The client's Python for Ansible: one executable path (an interpreter with arguments fails).
    write(os.path.join(lab, 'client-python'), '#!/bin/sh\nexec ip netns exec %s /usr/bin/python3 "$@"\n' % NETNS,
          0o755)
    return start_netns(NETNS, 'client', CLIENT_ADDRESS)
