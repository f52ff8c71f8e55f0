# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""(pure) The inventory's inputs to site.yml, checked before anything changes: one line per problem, each
naming the host, the variable and the fix. `read(host, name)` returns a host's variable, MISSING when it is not
set, or raises ValueError with the reason it cannot be read (an undefined vault variable, say)."""

from __future__ import annotations

import ipaddress

MISSING = object()


def _ipv4(value):
    try:
        ipaddress.IPv4Address(str(value).split('/', maxsplit=1)[0])
        return True
    except ValueError:
        return False


def _get(read, host, name, problems):
    try:
        return read(host, name)
    except ValueError as exc:
        problems.append('%s: %s cannot be read (%s)' % (host, name, exc))
        return None


def node_problems(read, node, fencing=True):
    """What a cluster node needs: its cluster address, its BMC for fencing, the shared disk's path."""
    problems = []
    address = _get(read, node, 'cluster_ip', problems)
    if address is MISSING:
        problems.append('%s: cluster_ip is not set; give the node its IPv4 address on the cluster network' % node)
    elif address is not None and not _ipv4(address):
        problems.append('%s: cluster_ip %r is not an IPv4 address' % (node, address))
    if fencing:
        bmc = _get(read, node, 'cluster_fence_ipmi', problems)
        if bmc is MISSING or (bmc is not None and not isinstance(bmc, dict)):
            problems.append('%s: cluster_fence_ipmi is not set; give the node its BMC (address, user, password from '
                            'a vault)' % node)
        elif bmc is not None:
            for key in ('address', 'user', 'password'):
                if bmc.get(key) in (None, ''):
                    problems.append('%s: cluster_fence_ipmi.%s is empty' % (node, key))
    device = _get(read, node, 'shared_storage_device', problems)
    if device is not None and (device is MISSING or not str(device).startswith('/dev/')):
        problems.append('%s: shared_storage_device must be the shared disk\'s stable path under /dev (e.g. '
                        '/dev/disk/by-id/...), got %r' % (node, None if device is MISSING else device))
    return problems


def guest_problems(read, guest, nodes):
    """What a guest needs: its address, sizes, and a preferred node that is a cluster node."""
    problems = []
    address = _get(read, guest, 'guest_ip', problems)
    if address is MISSING or (address is not None and not _ipv4(address)):
        problems.append('%s: guest_ip must be a plain IPv4 address, e.g. 10.0.0.10 (got %r)'
                        % (guest, None if address is MISSING else address))
    for name, example in (('guest_memory', '256M'), ('guest_root_size', '2G'), ('guest_swap_size', '512M')):
        if _get(read, guest, name, problems) is MISSING:
            problems.append('%s: %s is not set, e.g. %s' % (guest, name, example))
    preferred = _get(read, guest, 'guest_preferred_node', problems)
    if preferred is not MISSING and preferred is not None and preferred not in nodes:
        problems.append('%s: guest_preferred_node %r is not one of the cluster nodes (%s)'
                        % (guest, preferred, ', '.join(nodes)))
    return problems


def inventory_problems(read, nodes, guests, fencing=True):
    """Every problem of the inventory's cluster nodes and guests."""
    problems = []
    if len(nodes) < 2:
        problems.append('xen_nodes: a cluster needs at least two nodes, the inventory has %d' % len(nodes))
    for node in nodes:
        problems += node_problems(read, node, fencing)
    for guest in guests:
        problems += guest_problems(read, guest, nodes)
    return problems
