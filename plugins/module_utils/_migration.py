# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""(world) Migration orchestration for the migrate and drain modules: a cluster-managed guest moves through
Pacemaker (so the cluster never fights it); any other guest through libvirt peer-to-peer live migration. The
decisions are _placement's, the cluster's tools _pacemaker's, the nodes' facts _hypervisor's."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

from ansible_collections.xenha.datacenter.plugins.module_utils._domain_xml import parse_domain_xml
from ansible_collections.xenha.datacenter.plugins.module_utils._hypervisor import target_xl_info
from ansible_collections.xenha.datacenter.plugins.module_utils._placement import (
    RESOURCE_PREFIX, MigrationError, arrival, check_capacity, check_member, decide, drain_targets, failures_of,
    guests_on, plan_drain,
)


def read_file(path):
    """(world) The text of a guest's cluster definition file."""
    with open(path) as handle:
        return handle.read()


def _definition(pacemaker, read_file, name):
    """The domain XML the cluster runs guest `name` from; a file missing on this node is a clear error."""
    path = pacemaker.parameter(RESOURCE_PREFIX + name, 'config')
    try:
        return read_file(path)
    except OSError as exc:
        raise MigrationError('name', 'cannot read %s, the definition the cluster runs guest %s from, on this node '
                                     '(%s); the guests role writes it on every node: run it again, or run the module '
                                     'on a node that has it' % (path, name, exc.strerror or exc))


def _checked_and_dry(result, run, domain_xml, check_mode, here):
    """Refuse a target that cannot take the guest; mark the move; True when only checking."""
    guest = parse_domain_xml(domain_xml)
    check_capacity(result['guest'], guest.type, guest.memory_mib, result['target'],
                   target_xl_info(run, result['target'], here))
    result['changed'] = True
    if check_mode:
        result['now_on'] = result['target']
    return check_mode


@contextmanager
def _watched(watch, result):
    """Run the move with `watch` (if any) probing the guest's services; its figures go into `result`."""
    if watch:
        watch.start()
    try:
        yield
    finally:
        if watch:
            result['downtime_ms'] = watch.stop()


def migrate_with_cluster(pacemaker, run, read_file, name, target, timeout, keep=False, check_mode=False,
                         clock=time.monotonic, here=None, watch=None):
    rid = RESOURCE_PREFIX + name
    decision = decide(pacemaker.settled_state(timeout), name, target)
    result = {'guest': name, 'source': decision.source, 'target': target, 'now_on': decision.source,
              'through': 'cluster', 'changed': False, 'live': False, 'seconds': 0.0, 'downtime_ms': {}}
    if decision.noop:
        return result
    if _checked_and_dry(result, run, _definition(pacemaker, read_file, name), check_mode,
                        here or socket.gethostname()):
        return result
    started = clock()
    with _watched(watch, result):
        try:
            pacemaker.move(rid, target)
            placed, state, _seconds = pacemaker.wait_placement(rid, target, timeout)
        finally:
            if not keep:
                # Placement rules resume; a preference for another node may bring the guest back.
                pacemaker.clear(rid)
    result['seconds'] = round(clock() - started, 1)
    resource = state.resources.get(rid)
    where = ' and '.join(resource.nodes) if resource and resource.nodes else 'no node'
    result['now_on'] = where
    if not placed:
        if keep:
            pacemaker.clear(rid)
        raise MigrationError('timeout', 'guest %s did not arrive on %s within %d s; it runs on %s now%s'
                             % (name, target, timeout, where,
                                ' (the cluster reports it failed)' if resource and resource.failed else ''))
    result['live'] = check_live(state, name, target) == 'migrate_from'
    return result


def check_live(state, name, target):
    """Fail when the cluster brought the guest to `target` by a fresh start, not a live migration: a
    failed migration that Pacemaker recovered by stopping the guest (or fencing its node) and starting
    it again lands it on the target too, with its running state lost. Returns how it arrived."""
    rid = RESOURCE_PREFIX + name
    how = arrival(state, rid, target)
    if how == 'start':
        raise MigrationError('live', 'guest %s runs on %s, but the cluster restarted it there instead of migrating it '
                                     'live (its running state was lost); recorded failures: %s. Clear them with '
                                     '`crm_resource --cleanup --resource %s` once the cause is fixed'
                             % (name, target, failures_of(state, rid) or 'none', rid))
    return how


def same_node(one, other):
    """Whether two names are the same node, one by its short name and the other by its FQDN included."""
    return one.split('.')[0] == other.split('.')[0]


def check_target_member(cluster, target):
    """With a cluster here, a guest outside it still moves only to a member that is online and not in standby
    or maintenance (the cluster's guests may be sent there next)."""
    check_member(cluster, target, 'target')
    node = cluster.nodes[target]
    if not node.online:
        raise MigrationError('target', 'node %s is offline' % target)
    if node.standby or node.maintenance:
        raise MigrationError('target', 'node %s is in %s' % (target, 'standby' if node.standby else 'maintenance'))


def refuse_transport_for_cluster_guest(name, tunnelled):
    """A guest the cluster runs moves as its resource says; a transport asked of the module would be ignored."""
    if tunnelled is not None:
        raise MigrationError('tunnelled', 'guest %s is run by the cluster, which moves it as its resource %s%s says '
                                          '(the guests role\'s guests_migration_tunnelled); leave tunnelled out'
                             % (name, RESOURCE_PREFIX, name))


def migrate_with_libvirt(conn, run, name, target, timeout, check_mode=False, clock=time.monotonic, watch=None,
                         cluster=None, tunnelled=True):
    """Move a guest outside the cluster; `cluster` is the cluster's state when this node has one. Not
    `tunnelled`, the memory crosses the network in clear on a socket of its own."""
    dom = conn.lookup(name)
    if dom is None or not conn.is_running(dom):
        raise MigrationError('name', 'guest %s is not running on %s (this module runs on the guest\'s current '
                                     'node for guests outside the cluster)' % (name, conn.hostname()))
    source = conn.hostname()
    result = {'guest': name, 'source': source, 'target': target, 'now_on': source, 'through': 'libvirt',
              'changed': False, 'live': False, 'seconds': 0.0, 'downtime_ms': {}}
    if same_node(target, source):
        return result
    if cluster is not None:
        check_target_member(cluster, target)
    if _checked_and_dry(result, run, conn.live_xml(dom), check_mode, source):
        return result
    started = clock()
    with _watched(watch, result):
        conn.migrate_live(dom, 'xen+ssh://root@%s/system' % target, timeout, tunnelled=tunnelled)
    result['seconds'] = round(clock() - started, 1)
    result['now_on'] = target
    result['live'] = True
    return result


def drain_with_cluster(pacemaker, run, read_file, node, parallel=1, timeout=600, check_mode=False,
                       clock=time.monotonic, here=None):
    """Live-migrate every guest off `node`, at most `parallel` at a time, then put `node` in standby so that
    none comes back. Every target is checked before the first guest moves; a failure stops the drain
    with the node still active and says where each guest runs."""
    state = pacemaker.settled_state(timeout)
    guests = guests_on(state, node)
    result = {'node': node, 'state': 'drained', 'changed': False, 'moves': [], 'seconds': 0.0}
    if not guests and state.nodes[node].standby:
        return result
    here = here or socket.gethostname()
    targets = {name: target_xl_info(run, name, here) for name in drain_targets(state, node)} if guests else {}
    specs = {guest: parse_domain_xml(_definition(pacemaker, read_file, guest)) for guest in guests}
    sizes = {guest: (spec.type, spec.memory_mib) for guest, spec in specs.items()}
    plan = plan_drain(node, sizes, targets)
    result['changed'] = True
    result['moves'] = [{'guest': move.guest, 'source': node, 'target': move.target, 'seconds': 0.0}
                       for move in plan]
    if check_mode:
        return result
    started = clock()
    constrained = []
    try:
        for first in range(0, len(plan), parallel):
            batch = result['moves'][first:first + parallel]
            batch_started = clock()
            for move in batch:
                rid = RESOURCE_PREFIX + move['guest']
                pacemaker.move(rid, move['target'])
                constrained.append(rid)
            for move in batch:
                rid = RESOURCE_PREFIX + move['guest']
                left = max(0.0, timeout - (clock() - batch_started))
                placed, state, _seconds = pacemaker.wait_placement(rid, move['target'], left)
                move['seconds'] = round(clock() - batch_started, 1)
                if not placed:
                    raise MigrationError('timeout', 'drain of %s stopped, %s stays active: guest %s did not arrive '
                                                    'on %s within %d s; now %s'
                                         % (node, node, move['guest'], move['target'], timeout,
                                            _placement(state, [m['guest'] for m in result['moves']])))
                check_live(state, move['guest'], move['target'])
        pacemaker.standby(node, True)
    finally:
        # The guests stay where they went: the standby keeps them off `node`, stickiness elsewhere.
        for rid in constrained:
            pacemaker.clear(rid)
    empty, left = pacemaker.wait_empty(node, timeout)
    result['seconds'] = round(clock() - started, 1)
    if not empty:
        raise MigrationError('timeout', '%s is in standby but guests %s still run there after %d s'
                             % (node, ', '.join(left), timeout))
    return result


def activate_node(pacemaker, node, check_mode=False):
    """Take `node` out of standby; placement rules may then bring guests back to it."""
    state = pacemaker.state()
    check_member(state, node, 'node')
    result = {'node': node, 'state': 'active', 'changed': state.nodes[node].standby, 'moves': [], 'seconds': 0.0}
    if result['changed'] and not check_mode:
        pacemaker.standby(node, False)
    return result


def _placement(state, guests):
    return ', '.join('%s on %s' % (guest, ' and '.join(state.resources[RESOURCE_PREFIX + guest].nodes) or 'no node')
                     if RESOURCE_PREFIX + guest in state.resources else '%s unknown' % guest for guest in sorted(guests))
