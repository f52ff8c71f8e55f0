# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""(pure) The inventory's inputs to site.yml, checked before anything changes: one line per problem, each
naming the host, the variable and the fix. `read(host, name)` returns a host's variable, MISSING when it is not
set, or raises ValueError with the reason it cannot be read (an undefined vault variable, say)."""

from __future__ import annotations

import ipaddress

from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError, parse_size

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


# What each node reported, read without changing it (roles/preflight/tasks/nodes.yml): raw command outputs.
# 'addresses': `ip -o addr show`; 'links': `ip -o link show`; 'disk_bytes': `lsblk -dnbo SIZE DEVICE` (empty
# when the device is missing); 'portal': 'open'/'closed'/'' (iSCSI portal reachable, when one is set);
# 'xl_info', 'xl_list': Xen's view (empty when Xen does not run yet); 'meminfo': /proc/meminfo; 'dom0_mib':
# the memory dom0 is to keep;
# 'bmc': {'peer': name, 'rc': int, 'stderr': str, 'tool': bool} for the peer's BMC asked from this node.


def _ip_of(value):
    return str(value).split('/', maxsplit=1)[0]


def _xl_fields(text):
    fields = {}
    for line in (text or '').splitlines():
        key, sep, value = line.partition(':')
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def xen_reserve_mib(total_mib):
    """What Xen keeps for itself (its heap, the frame table: about 1.2 % of RAM), never given to a domain."""
    return max(32, total_mib // 64)


def guest_capacity_mib(report):
    """The MiB a node can give guests, steady whatever runs now: under Xen, its RAM minus dom0's and Xen's own
    share; before Xen, the RAM Linux sees minus what dom0 will keep. Not Xen's free memory: that moves with
    every guest started or moved, and memory a guest just left stays out of it while Xen scrubs it."""
    info = _xl_fields(report.get('xl_info'))
    if 'total_memory' in info:
        dom0 = None
        for line in (report.get('xl_list') or '').splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == 'Domain-0' and parts[2].isdigit():
                dom0 = int(parts[2])
        if dom0 is None:
            dom0 = int(report.get('dom0_mib') or 0)
        total = int(info['total_memory'])
        return total - dom0 - xen_reserve_mib(total)
    for line in (report.get('meminfo') or '').splitlines():
        if line.startswith('MemTotal:'):
            return int(line.split()[1]) // 1024 - int(report.get('dom0_mib') or 0)
    return None


def _fits(guests, capacities):
    """First fit, largest guest first, each onto the node with the most room left: the way a drain places them."""
    room = dict(capacities)
    for _name, mib in sorted(guests.items(), key=lambda item: (-item[1], item[0])):
        fitting = [node for node in sorted(room) if room[node] >= mib]
        if not fitting:
            return False
        room[max(fitting, key=lambda node: room[node])] -= mib
    return True


def capacity_problems(capacities, guests):
    """Every guest must run somewhere while any one node is down. `capacities`: node -> MiB for guests;
    `guests`: guest -> MiB."""
    problems = []
    total = sum(guests.values())
    listed = ', '.join('%s %d MiB' % (name, mib) for name, mib in sorted(guests.items()))
    for down in sorted(capacities):
        rest = {node: mib for node, mib in capacities.items() if node != down}
        if not _fits(guests, rest):
            problems.append(
                'memory: with %s down, the guests (%s; %d MiB in all) do not fit on %s (%s MiB for guests); add memory, '
                'lower guest_memory or hypervisor_dom0_memory_mib, or add a node'
                % (down, listed, total, ', '.join(sorted(rest)) or 'no other node',
                   ', '.join('%s %d' % (node, mib) for node, mib in sorted(rest.items())) or '0'))
    return problems


def node_report_problems(read, node, report):
    """What a node's own report says is wrong: its cluster address, its shared disk, its peer's BMC."""
    problems = []
    address = _ip_of(read(node, 'cluster_ip'))
    on_node = set()
    for line in (report.get('addresses') or '').splitlines():
        parts = line.split()
        if 'inet' in parts and parts.index('inet') + 1 < len(parts):
            on_node.add(_ip_of(parts[parts.index('inet') + 1]))
    if address not in on_node:
        bridge_address = read(node, 'hypervisor_bridge_address')
        interface = read(node, 'hypervisor_bridge_interface')
        links = set()
        for line in (report.get('links') or '').splitlines():
            parts = line.split(':')
            if len(parts) > 2:
                links.add(parts[1].strip().split('@')[0])
        if bridge_address is MISSING or _ip_of(bridge_address) != address:
            problems.append('%s: cluster_ip %s is on none of its interfaces (%s); put it there, or let the hypervisor '
                            'role do it (hypervisor_bridge_address: "{{ cluster_ip }}/24")'
                            % (node, address, ', '.join(sorted(on_node)) or 'none'))
        elif interface is MISSING or interface not in links:
            problems.append('%s: hypervisor_bridge_interface %r, which is to carry cluster_ip %s, is not an interface '
                            'of the node (it has %s)'
                            % (node, None if interface is MISSING else interface, address, ', '.join(sorted(links))))
    device = read(node, 'shared_storage_device')
    portal = (report.get('portal') or '').strip()
    if not str(report.get('disk_bytes') or '').strip().isdigit():
        if portal == 'open':
            pass  # the shared storage role logs in to the iSCSI portal; the disk appears then
        elif portal == 'closed':
            problems.append('%s: the iSCSI portal %s does not answer from the node, and %s is not there'
                            % (node, read(node, 'shared_storage_iscsi_portal'), device))
        else:
            problems.append('%s: shared_storage_device %s is not a disk on the node; attach the shared disk, or '
                            'correct the path (ls -l /dev/disk/by-id/)' % (node, device))
    bmc = report.get('bmc') or {}
    if bmc.get('peer') and bmc.get('tool') and bmc.get('rc') != 0:
        problems.append('%s: the BMC of %s (cluster_fence_ipmi.address %s) does not answer "power status" from %s: '
                        '%s; check its address, port, user and password, and the BMC network'
                        % (bmc['peer'], bmc['peer'], _bmc_address(read, bmc['peer']), node,
                           (bmc.get('stderr') or 'no answer').strip().splitlines()[-1][:200]))
    return problems


def _bmc_address(read, node):
    bmc = read(node, 'cluster_fence_ipmi')
    return bmc.get('address') if isinstance(bmc, dict) else None


def nodes_problems(read, reports, guests):
    """Every problem the nodes' reports show. `reports`: node -> report; `guests`: guest -> guest_memory."""
    problems = []
    for node in sorted(reports):
        problems += node_report_problems(read, node, reports[node])
    sizes = {}
    for node in sorted(reports):
        raw = (reports[node].get('disk_bytes') or '').strip()
        if raw.isdigit():
            sizes[node] = int(raw)
    if len(set(sizes.values())) > 1:
        problems.append('shared_storage_device: the nodes see disks of different sizes (%s bytes): they are not one '
                        'shared disk' % ', '.join('%s %d' % item for item in sorted(sizes.items())))
    capacities = {}
    for node in sorted(reports):
        capacity = guest_capacity_mib(reports[node])
        if capacity is not None:
            capacities[node] = capacity
    memory = {}
    for guest, size in sorted(guests.items()):
        try:
            memory[guest] = parse_size(size, '%s: guest_memory' % guest)
        except SpecError:
            continue  # reported by the inventory's check
    if len(capacities) == len(reports) and len(capacities) >= 2:
        problems += capacity_problems(capacities, memory)
    return problems
