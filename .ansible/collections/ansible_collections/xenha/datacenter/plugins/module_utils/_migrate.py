# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration decisions (pure): where a guest runs, whether the target can take it, what to do.

Everything that can be refused is refused here, before the cluster or libvirt is asked to move
anything: the guest stays where it runs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError

RESOURCE_PREFIX = 'guest_'


class MigrationError(SpecError):
    """The migration is refused or failed; the message says where the guest runs now."""


@dataclass(frozen=True)
class NodeState:
    name: str
    online: bool
    standby: bool
    maintenance: bool = False


@dataclass(frozen=True)
class ResourceState:
    rid: str
    nodes: tuple          # nodes it is active on
    role: str
    failed: bool = False


@dataclass
class ClusterState:
    nodes: dict = field(default_factory=dict)       # name -> NodeState
    resources: dict = field(default_factory=dict)   # rid -> ResourceState


def _true(value):
    return value == 'true'


def parse_crm_mon(xml):
    """The parts of `crm_mon --output-as=xml` that a migration needs."""
    root = ET.fromstring(xml)
    state = ClusterState()
    for node in root.iter('node'):
        if 'online' in node.attrib:  # <nodes><node .../> entries, not resource placements
            state.nodes[node.get('name')] = NodeState(node.get('name'), _true(node.get('online')),
                                                      _true(node.get('standby')) or _true(node.get('standby_onfail')),
                                                      _true(node.get('maintenance')))
    resources = root.find('resources')
    for res in (resources.iter('resource') if resources is not None else ()):
        nodes = tuple(n.get('name') for n in res.findall('node'))
        state.resources[res.get('id')] = ResourceState(res.get('id'), nodes, res.get('role', ''),
                                                       _true(res.get('failed')))
    return state


def parse_xl_info(text):
    """`xl info` as a dict of strings."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if sep:
            info[key.strip()] = value.strip()
    return info


@dataclass(frozen=True)
class Decision:
    source: str
    target: str
    noop: bool


def decide(state, guest, target, resource_prefix=RESOURCE_PREFIX):
    """Where `guest` runs and whether moving it to `target` is allowed (cluster view)."""
    rid = resource_prefix + guest
    resource = state.resources.get(rid)
    if resource is None:
        raise MigrationError('name', 'the cluster has no resource %s for guest %s; known guests: %s'
                             % (rid, guest, ', '.join(sorted(r[len(resource_prefix):] for r in state.resources
                                                             if r.startswith(resource_prefix))) or 'none'))
    if target not in state.nodes:
        raise MigrationError('target', 'node %s is not a cluster member; members are %s'
                             % (target, ', '.join(sorted(state.nodes))))
    if len(resource.nodes) > 1:
        raise MigrationError('name', 'guest %s is active on %s at once; the cluster must settle (or fence) first'
                             % (guest, ' and '.join(resource.nodes)))
    if not resource.nodes:
        raise MigrationError('name', 'guest %s is not running; start it (crm resource start %s) before migrating it'
                             % (guest, rid))
    source = resource.nodes[0]
    if source == target:
        return Decision(source, target, True)
    node = state.nodes[target]
    if not node.online:
        raise MigrationError('target', 'node %s is offline; guest %s stays on %s' % (target, guest, source))
    if node.standby or node.maintenance:
        raise MigrationError('target', 'node %s is in %s; guest %s stays on %s'
                             % (target, 'standby' if node.standby else 'maintenance', guest, source))
    return Decision(source, target, False)


def check_capacity(guest, guest_type, memory_mib, target, xl_info):
    """Refuse a target without the memory, or a PV guest where the hypervisor cannot live-migrate PV."""
    free = int(xl_info.get('free_memory', '0'))
    if free < memory_mib:
        raise MigrationError('target', 'node %s has %d MiB free, guest %s needs %d MiB; free memory there or pick '
                             'another node' % (target, free, guest, memory_mib))
    if guest_type == 'pv' and 'shadow' not in xl_info.get('virt_caps', '').split():
        raise MigrationError('name', 'guest %s is PV and the hypervisor on %s has no shadow paging (virt_caps: %s), '
                             'so it cannot live-migrate PV guests; use PVH, or a Xen build with shadow paging'
                             % (guest, target, xl_info.get('virt_caps', '')))


def memory_from_domain_xml(xml):
    """(type, memory MiB) from a domain XML."""
    root = ET.fromstring(xml)
    machine = root.find('os/type')
    kind = 'hvm'
    if machine is not None:
        text = (machine.get('machine') or '') + ' ' + (machine.text or '')
        kind = 'pvh' if 'xenpvh' in text else ('pv' if re.search(r'xenpv|linux', text) else 'hvm')
    memory = root.find('memory')
    kib = int(memory.text) if memory is not None else 0
    unit = memory.get('unit', 'KiB') if memory is not None else 'KiB'
    factor = {'KiB': 1, 'k': 1, 'MiB': 1024, 'M': 1024, 'GiB': 1024 * 1024, 'G': 1024 * 1024}.get(unit, 1)
    return kind, kib * factor // 1024
