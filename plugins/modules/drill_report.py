#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: drill_report
short_description: Judge a failover drill and write its report
version_added: 0.1.0
description:
  - Reads the client's timeline (M(xenha.datacenter.drill_sampler)), the nodes' placement reports and the drill's
    events, and writes C(report.json), C(report.txt) (a table) and C(report.html) (a self-contained timeline
    picture with the events marked) to O(dest).
  - 'Pass criteria: after each failover every service answers again within O(budget) seconds and keeps answering
    until the next power change, migration or failover (whose gaps are reported with it); every service
    answers at the end; no guest ever ran on two nodes at once; no witness counter ever went back within one
    boot (only the unflushed tail at a power-off may be lost, and its size is reported).'
attributes:
  check_mode:
    support: none
    description: It writes the report.
  diff_mode:
    support: none
    description: Nothing to compare.
  platform:
    support: full
    platforms: posix
    description: The controller.
options:
  samples:
    description: The client's timeline (JSON lines).
    type: path
    required: true
  placements:
    description: Placement reports from the nodes (JSON lines of C(t), C(node), C(running), C(paused)).
    type: path
    required: true
  events:
    description: The drill's steps, each with C(t) (epoch seconds), C(name), C(kind) and kind-specific fields.
    type: list
    elements: dict
    required: true
  end:
    description: Epoch seconds at which the drill ended.
    type: float
    required: true
  budget:
    description: Seconds within which every service must answer again after a failover.
    type: float
    required: true
  dest:
    description: Directory for the report files.
    type: path
    required: true
  cluster_events:
    description:
      - The lines of the nodes' cluster event logs (Pacemaker's file alert agent) over the drill. A guest the
        cluster started during a live migration or a rolling change counts as restarted, even when the client
        could not reach the guest's counter.
    type: list
    elements: str
    default: []
  listener_buffer:
    description: Seconds of audio a stream's player holds; a stream's silences are also reported (and judged, with
      O(migration_budget)) as such a listener hears them.
    type: float
    default: 4
  migration_budget:
    description: Seconds every service may be silent, as users meet it, during a live migration - the moved
      guest's and every other guest's. Not judged when omitted.
    type: float
  node_records:
    description:
      - A folder with one folder per node holding that node's records of the drill, as the drill keeps them -
        C(journal.log) (from C(journalctl -o short-iso-precise)) and C(consoles.log) (the guests' consoles as
        xenconsoled stamps them, each line led by the guest's name).
      - They split each failover further, into Pacemaker's decision to start a guest, its kernel's first console
        line and the end of its boot. They never change the judgement; a missing or unreadable file leaves those
        parts unknown.
    type: path
  fail_on_miss:
    description: Fail the task when a criterion is missed (the report is written first).
    type: bool
    default: true
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Judge the drill
  xenha.datacenter.drill_report:
    samples: /tmp/drill/samples.jsonl
    placements: /tmp/drill/placements.jsonl
    events: "{{ drill_events }}"
    end: "{{ now(utc=true).timestamp() }}"
    budget: 600
    dest: /tmp/drill
  delegate_to: localhost
"""

RETURN = r"""
report:
  description: The report (as in report.json).
  returned: always
  type: dict
table:
  description: The human summary (as in report.txt).
  returned: always
  type: str
"""

import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenha.datacenter.plugins.module_utils._drill import analyse, picture, read_records, table


def node_record_lines(folder, name):
    """Every node's lines of one record file (none when there is no such folder or file)."""
    lines = []
    for path in sorted(glob.glob(os.path.join(folder, '*', name))) if folder else ():
        try:
            with open(path, encoding='utf-8', errors='replace') as handle:
                lines.extend(handle.read().splitlines())
        except OSError:
            continue
    return lines


def main():
    module = AnsibleModule(argument_spec=dict(
        samples=dict(type='path', required=True),
        placements=dict(type='path', required=True),
        events=dict(type='list', elements='dict', required=True),
        end=dict(type='float', required=True),
        budget=dict(type='float', required=True),
        dest=dict(type='path', required=True),
        cluster_events=dict(type='list', elements='str', default=[]),
        listener_buffer=dict(type='float', default=4.0),
        migration_budget=dict(type='float'),
        node_records=dict(type='path'),
        fail_on_miss=dict(type='bool', default=True),
    ))
    params = module.params
    for field in ('listener_buffer', 'migration_budget'):
        if params[field] is not None and params[field] < 0:
            module.fail_json(msg='%s: seconds, 0 or more (got %s)' % (field, params[field]), field=field)
    for index, event in enumerate(params['events']):
        if 't' not in event or 'name' not in event:
            module.fail_json(msg='events[%d] needs t and name' % index, field='events')
        event['t'] = float(event['t'])
    # A drill stopped before its watchers wrote anything still gets a report.
    samples = read_records(params['samples']) if os.path.exists(params['samples']) else []
    placements = read_records(params['placements']) if os.path.exists(params['placements']) else []
    report = analyse(samples, placements, params['events'], params['end'], params['budget'],
                     params['cluster_events'], params['listener_buffer'], params['migration_budget'],
                     node_record_lines(params['node_records'], 'journal.log'),
                     node_record_lines(params['node_records'], 'consoles.log'))
    os.makedirs(params['dest'], exist_ok=True)
    text = table(report)
    with open(os.path.join(params['dest'], 'report.json'), 'w') as handle:
        json.dump(report, handle, indent=1)
    with open(os.path.join(params['dest'], 'report.txt'), 'w') as handle:
        handle.write(text)
    with open(os.path.join(params['dest'], 'report.html'), 'w') as handle:
        handle.write(picture(report))
    result = dict(changed=True, report=report, table=text)
    if params['fail_on_miss'] and not report['passed']:
        module.fail_json(msg='the drill missed: %s' % '; '.join(report['failures']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
