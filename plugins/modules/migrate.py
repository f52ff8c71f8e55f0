#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: migrate
short_description: Live-migrate a Xen guest to another node
version_added: 0.1.0
description:
  - Moves a running guest to O(target) without stopping it.
  - A guest that the cluster runs (a Pacemaker resource C(guest_<name>), as made by the guests role) moves through
    the cluster, so that it never fights the move - C(crm_resource --move), wait until the guest is active on the
    target alone and stopped on its source, then C(crm_resource --clear) so placement rules resume. A live
    migration the cluster is still finishing (a guest going home, say) is waited for first, within O(timeout).
    Run the module on any cluster node.
  - Any other guest moves by libvirt peer-to-peer live migration, tunnelled through the SSH between dom0s (unless
    O(tunnelled=false)), persistent on the target and undefined on the source. Run the module on the node where the
    guest runs.
  - Refused before anything moves, with the guest untouched - unknown guest or node, target offline or in standby,
    not enough free memory on the target, a PV guest where the hypervisor has no shadow paging.
  - A guest already on O(target) is left alone (C(changed=false)).
  - A move can take minutes; run the task with C(async) and C(poll) to see it progress (see the examples).
  - To empty a node of all its guests, use M(xenha.datacenter.drain).
attributes:
  check_mode:
    support: full
    description: Runs every check and reports whether the guest would move.
  diff_mode:
    support: none
    description: Reports source and target instead.
  platform:
    support: full
    platforms: debian
    description: A Xen dom0 of the cluster.
options:
  name:
    description: The guest.
    type: str
    required: true
  target:
    description: Node to move it to (the cluster's node name, also the dom0's SSH name).
    type: str
    required: true
  timeout:
    description: Seconds to wait for the guest to arrive. On timeout the module fails and says where it runs.
    type: int
    default: 600
  keep:
    description:
      - Cluster-managed guests only. Leave the move constraint in place, so that the guest stays on O(target) even
        when placement rules prefer another node, until a later move or C(crm_resource --clear).
      - Without it, a guest whose preferred node is elsewhere goes back there on its own once it arrived.
    type: bool
    default: false
  uri:
    description: libvirt URI on this node (guests outside the cluster).
    type: str
    default: xen:///system
  tunnelled:
    description:
      - Guests outside the cluster only. V(true) (the default) carries the guest's memory inside the SSH
        connection between the dom0s. V(false) sends it on a plain TCP socket of libvirt's, in clear, over the
        network between the dom0s; use it only where that network is private to them.
      - A guest the cluster runs moves as its resource's C(migrate_options) say (the P(xenha.datacenter.guests#role)
        role's C(guests_migration_tunnelled)); setting this for it is refused.
    type: bool
  watch:
    description:
      - Services of the guest to watch while it moves, as C(HOST:PORT) (e.g. C(10.0.0.10:80)). The module connects
        to each every O(watch_interval) seconds from the node it runs on and returns the longest window without an
        answer as RV(downtime_ms) - the outage a client there saw. libxl reports no downtime of its own.
      - The node must reach the guest's network (in the lab, the dom0s sit on it).
    type: list
    elements: str
    default: []
  watch_interval:
    description: Seconds between two connects to a watched service (the resolution of RV(downtime_ms)).
    type: float
    default: 0.1
seealso:
  - module: xenha.datacenter.drain
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Live-migrate x0 to node2 and keep it there
  xenha.datacenter.migrate:
    name: x0
    target: node2
    keep: true
  register: moved

- name: Back home; placement rules resume; measure what a client of its web server and SSH saw
  xenha.datacenter.migrate:
    name: x0
    target: node1
    watch: [10.0.0.10:80, 10.0.0.10:22]
  register: back

- name: Show the outage
  ansible.builtin.debug:
    msg: "{{ back.seconds }} s in all; longest outage per service (ms): {{ back.downtime_ms }}"

# A move takes minutes on a busy or slow link: run it in the background and let Ansible report every 30 s
# that it is still going.
- name: Live-migrate x1 to node1, polled
  xenha.datacenter.migrate:
    name: x1
    target: node1
    timeout: 900
  async: 1020
  poll: 30
"""

RETURN = r"""
source:
  description: Node the guest ran on.
  returned: always
  type: str
target:
  description: The requested node.
  returned: always
  type: str
now_on:
  description: Where the guest runs after the module (in check mode, where it would).
  returned: always
  type: str
through:
  description: V(cluster) or V(libvirt).
  returned: always
  type: str
live:
  description:
    - Whether the guest reached the target by a live migration (false when nothing moved).
    - Through the cluster it is read from the operation Pacemaker last ran for the guest on the target,
      C(migrate_from) for a live migration. When it is C(start) the cluster recovered a failed migration by
      restarting the guest there; the module then fails (field C(live)) and names the recorded failures.
  returned: always
  type: bool
seconds:
  description: Time from the move request until the guest ran on the target alone.
  returned: always
  type: float
downtime_ms:
  description: For each O(watch) service, the longest time in ms it did not answer during the move (empty when
    nothing was watched or nothing moved).
  returned: always
  type: dict
  sample: {"10.0.0.10:80": 1840, "10.0.0.10:22": 2310}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import (
    DEFAULT_URI, LIBVIRT_IMPORT_ERROR, Connection, GuestError,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._downtime import DowntimeWatch, parse_endpoints
from ansible_collections.xenha.datacenter.plugins.module_utils._placement import RESOURCE_PREFIX
from ansible_collections.xenha.datacenter.plugins.module_utils._commands import runner
from ansible_collections.xenha.datacenter.plugins.module_utils._migration import (
    migrate_with_cluster, migrate_with_libvirt, read_file, refuse_transport_for_cluster_guest,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._pacemaker import Pacemaker
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type='str', required=True),
        target=dict(type='str', required=True),
        timeout=dict(type='int', default=600),
        keep=dict(type='bool', default=False),
        uri=dict(type='str', default=DEFAULT_URI),
        watch=dict(type='list', elements='str', default=[]),
        watch_interval=dict(type='float', default=0.1),
        tunnelled=dict(type='bool'),
    ), supports_check_mode=True)
    params = module.params
    run = runner(module)
    pacemaker = Pacemaker(run)
    try:
        if params['timeout'] < 1:
            raise SpecError('timeout', 'must be 1 second or more (got %d)' % params['timeout'])
        if params['watch_interval'] <= 0:
            raise SpecError('watch_interval', 'must be above 0 seconds (got %s)' % params['watch_interval'])
        endpoints = parse_endpoints(params['watch'])
        watch = DowntimeWatch(endpoints, interval=params['watch_interval']) if endpoints else None
        cluster = pacemaker.state() if pacemaker.available() else None
        if cluster is not None and RESOURCE_PREFIX + params['name'] in cluster.resources:
            refuse_transport_for_cluster_guest(params['name'], params['tunnelled'])
            result = migrate_with_cluster(pacemaker, run, read_file, params['name'], params['target'],
                                          params['timeout'], keep=params['keep'], check_mode=module.check_mode,
                                          watch=watch)
        else:
            if LIBVIRT_IMPORT_ERROR:
                module.fail_json(msg=missing_required_lib('libvirt-python (Debian: python3-libvirt)'),
                                 exception=LIBVIRT_IMPORT_ERROR)
            conn = Connection(params['uri'])
            try:
                result = migrate_with_libvirt(conn, run, params['name'], params['target'], params['timeout'],
                                              check_mode=module.check_mode, watch=watch, cluster=cluster,
                                              tunnelled=params['tunnelled'] is not False)
            finally:
                conn.close()
    except (SpecError, GuestError) as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
