#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: drill_status
short_description: Which services the drill's client saw answering last
version_added: 0.1.0
description:
  - Reads the timeline a running M(xenha.datacenter.drill_sampler) writes and says, for each service of each
    target, whether its newest probe since O(since) answered. A service with no probe since then is down.
  - Lets the drill wait for its services without probing them a second time beside the sampler; on the lab a
    probe costs a busy guest a noticeable slice of its CPU.
  - Never changes anything.
attributes:
  check_mode:
    support: full
    description: It only reads the timeline.
  diff_mode:
    support: none
    description: Nothing changes.
  platform:
    support: full
    platforms: posix
    description: The host the sampler runs on.
options:
  samples:
    description: The sampler's timeline (its O(xenha.datacenter.drill_sampler#module:output)).
    type: path
    required: true
  targets:
    description: The guests, as given to the sampler; each with C(name) and C(services).
    type: list
    elements: dict
    required: true
  since:
    description: Seconds since the epoch; older results are ignored.
    type: float
    default: 0
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Wait until every service has answered since the step began
  xenha.datacenter.drill_status:
    samples: /var/lib/xenha-drill/samples.jsonl
    targets:
      - {name: x0, address: 10.0.0.10, services: [dhcp, http, icecast, ssh]}
      - {name: x1, address: 10.0.0.11, services: [nx, bzflag, ssh]}
    since: "{{ step_started }}"
  delegate_to: client
  register: status
  until: status.all_ok
  retries: 60
  delay: 5
"""

RETURN = r"""
all_ok:
  description: Whether every service's newest result since O(since) answered.
  returned: always
  type: bool
down:
  description: C(target/service) of each service whose newest result failed, or that has none yet.
  returned: always
  type: list
  elements: str
latest:
  description: Per C(target/service), the newest result (C(t), C(ok), C(detail)), or null.
  returned: always
  type: dict
  sample: {"x0/http": {"t": 1764370000.5, "ok": true, "detail": "HTTP 200, served from node1"}, "x0/ssh": null}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenha.datacenter.plugins.module_utils._drill import latest_answers, read_records
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError, target_services


def expected_services(targets):
    for t_index, target in enumerate(targets):
        if not isinstance(target.get('name'), str) or not target['name']:
            raise SpecError('targets[%d].name' % t_index, "each target needs its guest's name")
    return ['%s/%s' % (target['name'], service.name) for target, service in target_services(targets)]


def main():
    module = AnsibleModule(argument_spec=dict(
        samples=dict(type='path', required=True),
        targets=dict(type='list', elements='dict', required=True),
        since=dict(type='float', default=0),
    ), supports_check_mode=True)
    try:
        expected = expected_services(module.params['targets'])
    except SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    try:
        samples = read_records(module.params['samples'])
    except OSError as exc:
        module.fail_json(msg='samples: cannot read the sampler timeline %s (%s); start '
                             'xenha.datacenter.drill_sampler first' % (module.params['samples'], exc.strerror))
    latest = latest_answers(samples, expected, module.params['since'])
    down = [key for key in expected if not (latest[key] or {}).get('ok')]
    module.exit_json(changed=False, all_ok=not down, down=down,
                     latest={key: None if s is None else {'t': s['t'], 'ok': s['ok'], 'detail': s.get('detail', '')}
                             for key, s in latest.items()})


if __name__ == '__main__':
    main()
