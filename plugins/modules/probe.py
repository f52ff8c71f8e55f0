#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: probe
short_description: Probe guest services the way a user would
version_added: 0.1.0
description:
  - Runs a user-side probe against each service of each target, from wherever the module runs (run it on a
    client of the guest network; in the lab, the C(client) host, inside the lab's client namespace).
  - Probes by kind - V(ssh) banner, V(http) status 200 (and which node served the page), V(stream) Ogg bytes
    flowing, V(rdp) X.224 connection confirm, V(bzflag) server protocol reply, V(dhcp) an offer from the guest
    (a DISCOVER only; no lease is taken), V(tcp) connect, V(udp) no port-unreachable.
  - Never changes anything. Fails only on bad input, or with O(fail_on_down=true) when a service does not answer.
attributes:
  check_mode:
    support: full
    description: Probes only read.
  diff_mode:
    support: none
    description: Nothing changes.
  platform:
    support: full
    platforms: posix
    description: Any host on the guest network, with Python 3.
options:
  targets:
    description: What to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The guest's name, for the report.
        type: str
        required: true
      address:
        description: The guest's address, as the client reaches it.
        type: str
        required: true
      services:
        description: Catalogue names (see the guest module's O(xenha.datacenter.guest#module:services)) or dicts
          overriding C(port) or C(probe), or defining a custom service with both.
        type: list
        elements: raw
        required: true
  timeout:
    description: Seconds each probe may take to connect and answer.
    type: float
    default: 5
  stream_seconds:
    description: How long bytes must keep flowing for a V(stream) probe.
    type: float
    default: 2
  stream_path:
    description: The Icecast mount a V(stream) probe listens to.
    type: str
    default: /radio.ogg
  http_path:
    description: The page an V(http) probe asks for (e.g. the drill's C(/xenha-node.html), which names the node).
    type: str
    default: /
  dhcp_interface:
    description: Interface to broadcast the DHCP DISCOVER on (needed when there is no default route).
    type: str
  fail_on_down:
    description: Fail the task when any service does not answer.
    type: bool
    default: false
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Every service of the guests answers, seen from the client
  xenha.datacenter.probe:
    targets:
      - {name: x0, address: 10.0.0.10, services: [dhcp, http, icecast, ssh]}
      - {name: x1, address: 10.0.0.11, services: [nx, bzflag, ssh]}
    dhcp_interface: lab0
    fail_on_down: true
  delegate_to: client
"""

RETURN = r"""
results:
  description: One result per probed service.
  returned: always
  type: list
  elements: dict
  sample:
    - {target: x0, service: http, probe: http, address: 10.0.0.10, port: 80, ok: true, seconds: 0.021,
       detail: "HTTP 200, served from node1"}
all_ok:
  description: Whether every service answered.
  returned: always
  type: bool
down:
  description: C(target/service) of each service that did not answer.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenha.datacenter.plugins.module_utils._probe import run_probe
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError, target_services


def probe_targets(params):
    results = []
    for target, service in target_services(params['targets']):
        options = {}
        if service.probe == 'stream':
            options = {'path': params['stream_path'], 'seconds': params['stream_seconds']}
        elif service.probe == 'dhcp':
            options = {'interface': params['dhcp_interface']}
        elif service.probe == 'http':
            options = {'path': params['http_path']}
        result = run_probe(service.name, service.probe, target['address'], service.port, params['timeout'],
                           **options).as_dict()
        result['target'] = target['name']
        results.append(result)
    return results


def main():
    module = AnsibleModule(argument_spec=dict(
        targets=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            address=dict(type='str', required=True),
            services=dict(type='list', elements='raw', required=True),
        )),
        timeout=dict(type='float', default=5),
        stream_seconds=dict(type='float', default=2),
        stream_path=dict(type='str', default='/radio.ogg'),
        http_path=dict(type='str', default='/'),
        dhcp_interface=dict(type='str'),
        fail_on_down=dict(type='bool', default=False),
    ), supports_check_mode=True)
    try:
        results = probe_targets(module.params)
    except SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    down = ['%s/%s' % (r['target'], r['service']) for r in results if not r['ok']]
    outcome = dict(changed=False, results=results, all_ok=not down, down=down)
    if down and module.params['fail_on_down']:
        module.fail_json(msg='not answering: %s' % ', '.join(down), **outcome)
    module.exit_json(**outcome)


if __name__ == '__main__':
    main()
