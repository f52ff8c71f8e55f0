#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: drain
short_description: Empty a cluster node of its guests by live migration, or take it back
version_added: 0.1.0
description:
  - With O(state=drained), live-migrates every cluster-managed guest (Pacemaker resource C(guest_<name>)) off
    O(node), at most O(parallel) at a time, then puts O(node) in standby (a permanent node attribute) so that none
    comes back, not even after a reboot. Use it before maintenance on a node.
  - Targets are chosen and checked before the first guest moves - online members not in standby or maintenance,
    the largest guest first onto the member with the most free memory (C(xl info)), a PV guest only where the
    hypervisor has shadow paging. When one guest fits nowhere, nothing moves.
  - Each guest moves through the cluster as with M(xenha.datacenter.migrate) (C(crm_resource --move), wait until
    it is active on its target alone and stopped on O(node), then C(crm_resource --clear) once the node is in
    standby), so the cluster never fights the drain.
  - A live migration the cluster is still finishing when the drain begins (a guest going home after another
    node's maintenance, say) is waited for first, within O(timeout); nothing moves before it ends.
  - When a guest does not arrive in time, the drain stops, O(node) stays active, and the module says where every
    guest runs.
  - When the cluster brought a guest to its target by restarting it (a failed live migration that Pacemaker
    recovered, or a guest that crashed as the drain began), the drain stops the same way, with field C(live) and
    the cluster's recorded failures. A guest counts as arrived only once its start or migration there has ended.
  - With O(state=active), takes O(node) out of standby; placement preferences may then bring guests back to it.
  - Guests outside the cluster are not touched; move them with M(xenha.datacenter.migrate).
attributes:
  check_mode:
    support: full
    description: Runs every check and returns the planned moves.
  diff_mode:
    support: none
    description: The planned moves are the return value.
  platform:
    support: full
    platforms: debian
    description: Any node of the cluster (a Xen dom0 that reaches the others over SSH).
options:
  node:
    description: The cluster node to empty or to take back.
    type: str
    required: true
  state:
    description: V(drained) - no guest on O(node) and O(node) in standby. V(active) - O(node) out of standby.
    type: str
    choices: [drained, active]
    default: drained
  parallel:
    description: Guests migrated at the same time. Each live migration takes the link between the nodes; on a
      slow link, one at a time keeps each guest's pause short.
    type: int
    default: 1
  timeout:
    description: Seconds to wait for each batch of O(parallel) guests to arrive.
    type: int
    default: 600
seealso:
  - module: xenha.datacenter.migrate
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Empty node1 before its maintenance, one guest at a time
  xenha.datacenter.drain:
    node: node1
  register: drained

- name: Back in service; the guests that prefer node1 return to it
  xenha.datacenter.drain:
    node: node1
    state: active
"""

RETURN = r"""
node:
  description: The node.
  returned: always
  type: str
state:
  description: The requested state.
  returned: always
  type: str
moves:
  description: The live migrations, in order (in check mode, the planned ones, with 0 seconds).
  returned: always
  type: list
  elements: dict
  contains:
    guest:
      description: The guest.
      type: str
    source:
      description: The drained node.
      type: str
    target:
      description: Where it went.
      type: str
    seconds:
      description: Time from its batch's move request until it ran on the target alone.
      type: float
  sample: [{guest: x0, source: node1, target: node2, seconds: 212.4}]
seconds:
  description: Time from the first move request until no guest ran on the node.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenha.datacenter.plugins.module_utils._commands import runner
from ansible_collections.xenha.datacenter.plugins.module_utils._migration import (
    activate_node, drain_with_cluster, read_file,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._pacemaker import Pacemaker
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError


def main():
    module = AnsibleModule(argument_spec=dict(
        node=dict(type='str', required=True),
        state=dict(type='str', choices=['drained', 'active'], default='drained'),
        parallel=dict(type='int', default=1),
        timeout=dict(type='int', default=600),
    ), supports_check_mode=True)
    params = module.params
    if params['parallel'] < 1:
        module.fail_json(msg='parallel must be 1 or more (got %d)' % params['parallel'], field='parallel')
    if params['timeout'] < 1:
        module.fail_json(msg='timeout must be 1 second or more (got %d)' % params['timeout'], field='timeout')
    run = runner(module)
    pacemaker = Pacemaker(run)
    if not pacemaker.available():
        module.fail_json(msg='no running cluster here (%s); drain empties a node of a Pacemaker cluster: run the '
                             'module on a cluster node, or move guests outside a cluster with '
                             'xenha.datacenter.migrate' % pacemaker.unavailable, field='node')
    try:
        if params['state'] == 'active':
            result = activate_node(pacemaker, params['node'], check_mode=module.check_mode)
        else:
            result = drain_with_cluster(pacemaker, run, read_file, params['node'],
                                        parallel=params['parallel'], timeout=params['timeout'],
                                        check_mode=module.check_mode)
    except SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
