# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migrate module's backend: a cluster-managed guest moves through Pacemaker (so the cluster
never fights it); any other guest through libvirt peer-to-peer live migration."""

from __future__ import annotations

import socket
import time

from ansible_collections.xenha.datacenter.plugins.module_utils._migrate import (
    RESOURCE_PREFIX, MigrationError, check_capacity, decide, memory_from_domain_xml,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._pacemaker import target_xl_info


def _checked_and_dry(result, run, domain_xml, check_mode, here):
    """Refuse a target that cannot take the guest; mark the move; True when only checking."""
    kind, memory_mib = memory_from_domain_xml(domain_xml)
    check_capacity(result['guest'], kind, memory_mib, result['target'], target_xl_info(run, result['target'], here))
    result['changed'] = True
    if check_mode:
        result['now_on'] = result['target']
    return check_mode


def migrate_with_cluster(pacemaker, run, read_file, name, target, timeout, keep=False, check_mode=False,
                         clock=time.monotonic, here=None):
    rid = RESOURCE_PREFIX + name
    decision = decide(pacemaker.state(), name, target)
    result = {'guest': name, 'source': decision.source, 'target': target, 'now_on': decision.source,
              'through': 'cluster', 'changed': False, 'seconds': 0.0}
    if decision.noop:
        return result
    if _checked_and_dry(result, run, read_file(pacemaker.parameter(rid, 'config')), check_mode,
                        here or socket.gethostname()):
        return result
    started = clock()
    pacemaker.move(rid, target)
    try:
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
    return result


def migrate_with_libvirt(conn, run, name, target, timeout, check_mode=False, clock=time.monotonic):
    dom = conn.lookup(name)
    if dom is None or not conn.is_running(dom):
        raise MigrationError('name', 'guest %s is not running on %s (this module runs on the guest\'s current '
                                     'node for guests outside the cluster)' % (name, conn.hostname()))
    source = conn.hostname()
    result = {'guest': name, 'source': source, 'target': target, 'now_on': source, 'through': 'libvirt',
              'changed': False, 'seconds': 0.0}
    if target in (source, source.split('.')[0]):
        return result
    if _checked_and_dry(result, run, conn.live_xml(dom), check_mode, source):
        return result
    started = clock()
    conn.migrate_live(dom, 'xen+ssh://root@%s/system' % target, timeout)
    result['seconds'] = round(clock() - started, 1)
    result['now_on'] = target
    return result
