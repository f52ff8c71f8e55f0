# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement (pure): the cluster's state parsed from crm_mon, where a guest runs, whether a target can take
it, the drain plan.

Everything that can be refused is refused here, before the cluster or libvirt is asked to move
anything: the guest stays where it runs.
"""

from __future__ import annotations

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
    pending: str = ''     # the operation crm_mon shows under way on it ('Starting', 'Migrating'...), if any


@dataclass(frozen=True)
class Operation:
    call: int
    task: str


@dataclass(frozen=True)
class Failure:
    rid: str
    node: str
    task: str
    status: str     # exitstatus, e.g. "error"
    reason: str     # exitreason, e.g. "Resource agent did not complete within 5m"
    when: str


@dataclass
class ClusterState:
    nodes: dict = field(default_factory=dict)       # name -> NodeState
    resources: dict = field(default_factory=dict)   # rid -> ResourceState
    history: dict = field(default_factory=dict)     # (node, rid) -> tuple of Operation
    failures: tuple = ()                            # of Failure
    quorate: bool = False                           # the partition this node sees has quorum


def _true(value):
    return value == 'true'


def parse_crm_mon(xml):
    """The parts of `crm_mon --output-as=xml` that a migration needs."""
    root = ET.fromstring(xml)
    state = ClusterState()
    dc = root.find('summary/current_dc')
    state.quorate = dc is not None and _true(dc.get('with_quorum'))
    for node in root.iter('node'):
        if 'online' in node.attrib:  # <nodes><node .../> entries, not resource placements
            state.nodes[node.get('name')] = NodeState(node.get('name'), _true(node.get('online')),
                                                      _true(node.get('standby')) or _true(node.get('standby_onfail')),
                                                      _true(node.get('maintenance')))
    resources = root.find('resources')
    for res in (resources.iter('resource') if resources is not None else ()):
        nodes = tuple(n.get('name') for n in res.findall('node'))
        state.resources[res.get('id')] = ResourceState(res.get('id'), nodes, res.get('role', ''),
                                                       _true(res.get('failed')), res.get('pending', ''))
    history = root.find('node_history')
    for node in (history.findall('node') if history is not None else ()):
        for res in node.findall('resource_history'):
            state.history[(node.get('name'), res.get('id'))] = tuple(
                Operation(int(op.get('call', '-1')), op.get('task', '')) for op in res.findall('operation_history'))
    failures = root.find('failures')
    # op_key is <rid>_<task>_<interval>, and task may hold underscores itself (migrate_to)
    state.failures = tuple(
        Failure(f.get('op_key', '').rsplit('_%s_' % f.get('task', ''), 1)[0], f.get('node', ''), f.get('task', ''),
                f.get('exitstatus', ''), f.get('exitreason', ''), f.get('last-rc-change', ''))
        for f in (failures.findall('failure') if failures is not None else ()))
    return state


def guests_with_other_agent(cib_resources_xml, guests, agent, resource_prefix=RESOURCE_PREFIX):
    """The guests, of `guests`, whose resource in the CIB (`cibadmin --query --scope resources`) runs an agent
    other than `agent` ('class:provider:type', or 'class:type' without a provider); a guest the CIB does not
    hold yet is not listed."""
    root = ET.fromstring(cib_resources_xml)
    agents = {}
    for primitive in root.iter('primitive'):
        parts = (primitive.get('class'), primitive.get('provider'), primitive.get('type'))
        agents[primitive.get('id')] = ':'.join(part for part in parts if part)
    return [guest for guest in guests
            if resource_prefix + guest in agents and agents[resource_prefix + guest] != agent]


# How a resource comes to be active on a node: a live migration ends with migrate_from there, a
# fresh boot (a recovery after a failed migration, say) with start.
ARRIVALS = ('start', 'migrate_from')


def arrival(state, rid, node):
    """'migrate_from' or 'start', whichever the cluster ran last for `rid` on `node`; None when it
    kept no such history (cleaned up)."""
    ops = [op for op in state.history.get((node, rid), ()) if op.task in ARRIVALS and op.call >= 0]
    return max(ops, key=lambda op: op.call).task if ops else None


def migrating_from(state, rid):
    """The nodes a live migration of `rid` has not finished leaving: a migrate_to still pending there (recorded
    without a call number), or the latest operation done there is the migrate_to, because the cluster stops the
    source only after the target's migrate_from. Meanwhile crm_mon shows the guest on the target alone or on
    both nodes."""
    sources = []
    for (node, res), ops in sorted(state.history.items()):
        done = [op for op in ops if op.call >= 0]
        pending = any(op.call < 0 and op.task == 'migrate_to' for op in ops)
        if res == rid and (pending or (done and max(done, key=lambda op: op.call).task == 'migrate_to')):
            sources.append(node)
    return sources


# The operations under way (crm_mon's `pending`) that leave a resource unsettled; a first monitor
# ('Monitoring') does not.
UNSETTLING = ('Starting', 'Stopping', 'Migrating')


def arriving_on(state, rid, node):
    """Whether a start or a migrate_from of `rid` is still under way on `node`: Pacemaker may count the guest
    as running there already (`crm_resource --locate` does), although the agent has not said it runs."""
    return any(op.call < 0 and op.task in ARRIVALS for op in state.history.get((node, rid), ()))


def settled_on(state, rid, node):
    """`rid` active on `node` alone, not failed, with no start or live migration of it still finishing."""
    resource = state.resources.get(rid)
    return (resource is not None and resource.nodes == (node,) and resource.role == 'Started' and not resource.failed
            and resource.pending not in UNSETTLING
            and not arriving_on(state, rid, node) and not migrating_from(state, rid))


def settled_node(state, rid):
    """The node `rid` has settled on (see `settled_on`), or None."""
    resource = state.resources.get(rid)
    if resource is None or len(resource.nodes) != 1:
        return None
    return resource.nodes[0] if settled_on(state, rid, resource.nodes[0]) else None


def guests_migrating(state, resource_prefix=RESOURCE_PREFIX):
    """The guests whose live migration the cluster has not finished, sorted."""
    return sorted(rid[len(resource_prefix):] for rid in state.resources
                  if rid.startswith(resource_prefix) and migrating_from(state, rid))


def failures_of(state, rid):
    """The cluster's recorded failures of `rid`, as text for a message."""
    return '; '.join('%s on %s: %s%s at %s' % (f.task, f.node, f.status, ' (%s)' % f.reason if f.reason else '', f.when)
                     for f in state.failures if f.rid == rid)


@dataclass(frozen=True)
class Decision:
    source: str
    target: str
    noop: bool


def check_member(state, node, field):
    """Refuse a node the cluster does not know, naming the members."""
    if node not in state.nodes:
        raise MigrationError(field, 'node %s is not a cluster member; members are %s'
                             % (node, ', '.join(sorted(state.nodes))))


def decide(state, guest, target, resource_prefix=RESOURCE_PREFIX):
    """Where `guest` runs and whether moving it to `target` is allowed (cluster view)."""
    rid = resource_prefix + guest
    resource = state.resources.get(rid)
    if resource is None:
        raise MigrationError('name', 'the cluster has no resource %s for guest %s; known guests: %s'
                             % (rid, guest, ', '.join(sorted(r[len(resource_prefix):] for r in state.resources
                                                             if r.startswith(resource_prefix))) or 'none'))
    check_member(state, target, 'target')
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


def guests_present(state, node, resource_prefix=RESOURCE_PREFIX):
    """The cluster's guests on `node`, sorted: active there, or not yet stopped there after a live migration."""
    return sorted(rid[len(resource_prefix):] for rid, resource in state.resources.items()
                  if rid.startswith(resource_prefix)
                  and (node in resource.nodes or node in migrating_from(state, rid)))


def guests_on(state, node, resource_prefix=RESOURCE_PREFIX):
    """The cluster's guests active on `node`, sorted, in a settled cluster (`guests_migrating` empty);
    refuses an unknown node or a guest on two nodes."""
    check_member(state, node, 'node')
    guests = guests_present(state, node, resource_prefix)
    for guest in guests:
        resource = state.resources[resource_prefix + guest]
        if len(resource.nodes) > 1:
            raise MigrationError('node', 'guest %s is active on %s at once; the cluster must settle (or fence) '
                                         'first' % (guest, ' and '.join(resource.nodes)))
    return guests


def guests_in_xl_list(text):
    """The guests that `xl list` shows (its header and dom0 left out)."""
    names = [line.split()[0] for line in text.splitlines()[1:] if line.strip()]
    return [name for name in names if name != 'Domain-0']


def health_problems(state, members, guests, hypervisors=None, resource_prefix=RESOURCE_PREFIX):
    """What is wrong with a running cluster, one line each (none: healthy): quorum, every member online and
    in service, every fence device started, each guest active on exactly one node, no failed action left.
    `hypervisors` ({node: `xl list` output}) adds what each hypervisor runs: a guest on two of them, or on
    another node than the cluster says, is a problem too."""
    problems = [] if state.quorate else ['the cluster has no quorum']
    for member in members:
        node = state.nodes.get(member)
        if node is None:
            problems.append('%s is not a cluster member' % member)
        elif not node.online:
            problems.append('%s is offline' % member)
        elif node.standby or node.maintenance:
            problems.append('%s is in %s' % (member, 'standby' if node.standby else 'maintenance'))
    for rid, resource in sorted(state.resources.items()):
        if rid.startswith('fence_') and (not resource.nodes or resource.failed):
            problems.append('fence device %s is %s' % (rid, 'failed' if resource.failed else 'not started'))
    for guest in guests:
        resource = state.resources.get(resource_prefix + guest)
        if resource is None:
            problems.append('guest %s is not a cluster resource' % guest)
        elif len(resource.nodes) != 1:
            problems.append('guest %s runs on %s' % (guest, ' and '.join(resource.nodes) or 'no node'))
        elif resource.failed:
            problems.append('guest %s has failed' % guest)
    problems += ['failed action: %s %s on %s: %s%s' % (f.rid, f.task, f.node, f.status,
                                                       ' (%s)' % f.reason if f.reason else '') for f in state.failures]
    running = {node: guests_in_xl_list(text) for node, text in (hypervisors or {}).items()}
    for guest in guests:
        where = sorted(node for node, names in running.items() if guest in names)
        resource = state.resources.get(resource_prefix + guest)
        if len(where) > 1:
            problems.append('guest %s runs on the hypervisors of %s at once' % (guest, ' and '.join(where)))
        elif where and resource is not None and resource.nodes and where != list(resource.nodes):
            problems.append('guest %s runs on %s, the cluster says on %s' % (guest, where[0], ' and '.join(resource.nodes)))
    return problems


def drain_targets(state, node):
    """Members that may take guests: online, not in standby or maintenance, not `node`."""
    return sorted(name for name, member in state.nodes.items()
                  if name != node and member.online and not member.standby and not member.maintenance)


@dataclass(frozen=True)
class PlannedMove:
    guest: str
    target: str
    memory_mib: int


def plan_drain(node, guests, targets):
    """Where each guest of `node` goes: the largest guest first, each onto the target with the most memory
    left that can take it. `guests`: name -> (type, MiB); `targets`: name -> `xl info` dict.
    Refuses (nothing moved) when one guest fits nowhere."""
    if guests and not targets:
        raise MigrationError('node', 'no other member can take the guests of %s (%s): every other node is offline, '
                                     'in standby or in maintenance' % (node, ', '.join(sorted(guests))))
    free = {name: int(info.get('free_memory', '0')) for name, info in targets.items()}
    plan = []
    for guest, (kind, memory_mib) in sorted(guests.items(), key=lambda item: (-item[1][1], item[0])):
        fitting = [name for name in sorted(targets) if free[name] >= memory_mib
                   and (kind != 'pv' or 'shadow' in targets[name].get('virt_caps', '').split())]
        if not fitting:
            raise MigrationError('node', 'guest %s (%s, %d MiB) fits on no other member (free memory left after '
                                         'the larger guests: %s%s); free memory or add a node before draining %s'
                                 % (guest, kind.upper(), memory_mib,
                                    ', '.join('%s %d MiB' % (name, free[name]) for name in sorted(free)),
                                    '; a PV guest also needs shadow paging' if kind == 'pv' else '', node))
        target = max(fitting, key=lambda name: free[name])
        free[target] -= memory_mib
        plan.append(PlannedMove(guest, target, memory_mib))
    return plan
