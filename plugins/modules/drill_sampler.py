#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: drill_sampler
short_description: Probe guest services continuously and record a timeline
version_added: 0.1.0
description:
  - The failover drill's client. Probes every service of every target over and over (each service in its own
    thread, every O(interval) seconds), keeps one Icecast stream open and records every chunk received, and reads
    each guest's witness counter (TCP O(counter_port)). Writes one JSON line per observation to O(output).
  - Runs until O(stop_file) exists or O(duration) has passed. Start it with C(async) and C(poll=0); the drill
    creates the stop file at the end. The report is made by M(xenha.datacenter.drill_report).
attributes:
  check_mode:
    support: none
    description: It only observes, but it writes its timeline.
  diff_mode:
    support: none
    description: Nothing to compare.
  platform:
    support: full
    platforms: posix
    description: A client on the guest network.
options:
  targets:
    description: The guests; each with C(name), C(address) and C(services) as for M(xenha.datacenter.probe).
    type: list
    elements: dict
    required: true
  output:
    description: The timeline file (JSON lines), replaced.
    type: path
    required: true
  stop_file:
    description: Stop when this file exists.
    type: path
    required: true
  duration:
    description: Stop after this many seconds at most.
    type: int
    default: 3600
  interval:
    description: Seconds between two probes of one service.
    type: float
    default: 0.5
  intervals:
    description:
      - Seconds between two probes, per service name (V(ssh), V(http), V(counter), ...), overriding O(interval).
      - For probes that cost the guest much more than others, e.g. SSH, where each probe makes sshd fork and exec
        a process.
    type: dict
    default: {}
  timeout:
    description: Seconds a probe may take.
    type: float
    default: 1
  timeouts:
    description:
      - Seconds a probe may take, per service name, overriding O(timeout).
      - For services that answer slowly on a loaded host while still working, e.g. an SSH banner from a guest
        whose CPU is shared; a client waits that long, so the probe does too.
    type: dict
    default: {}
  counter_port:
    description: The witness counter's port in each guest (0 to skip).
    type: int
    default: 7000
  stream_path:
    description: Icecast mount to listen to.
    type: str
    default: /radio.ogg
  http_path:
    description: The page the V(http) probes ask for.
    type: str
    default: /
  dhcp_interface:
    description: Interface for DHCP probes.
    type: str
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Start the client's probes
  xenha.datacenter.drill_sampler:
    targets: [{name: x0, address: 10.0.0.10, services: [http, icecast, ssh]}]
    output: /tmp/drill/samples.jsonl
    stop_file: /tmp/drill/stop
  async: 3600
  poll: 0
  delegate_to: client
"""

RETURN = r"""
samples:
  description: Observations written.
  returned: always
  type: int
"""

import http.client
import json
import os
import threading
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.xenha.datacenter.plugins.module_utils._probe import every, per_service_seconds, run_probe
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError, target_services


class Timeline:
    def __init__(self, path):
        self._handle = open(path, 'w')
        self._lock = threading.Lock()
        self.count = 0

    def write(self, **record):
        record['t'] = round(time.time(), 3)
        with self._lock:
            self._handle.write(json.dumps(record) + '\n')
            self._handle.flush()
            self.count += 1

    def close(self):
        self._handle.close()


def probe_loop(timeline, done, target, service, probe, port, options, interval, timeout):
    def step():
        result = run_probe(service, probe, target['address'], port, timeout, **options)
        timeline.write(target=target['name'], service=service, ok=result.ok, seconds=result.seconds,
                       detail=result.detail[:120])
    every(interval, done, step)


def stream_loop(timeline, done, target, port, params):
    """Listen like a radio listener; reconnect when the stream breaks."""
    while not done.is_set():
        conn = http.client.HTTPConnection(target['address'], port, timeout=params['timeout'])
        try:
            conn.request('GET', params['stream_path'])
            response = conn.getresponse()
            if response.status != 200:
                raise ConnectionError('HTTP %d' % response.status)
            last_report = 0.0
            while not done.is_set():
                chunk = response.read1(8192)
                if not chunk:
                    raise ConnectionError('stream ended')
                timeline.write(target=target['name'], service='icecast', bytes=len(chunk), ok=True)
                if time.monotonic() - last_report >= params['interval']:
                    timeline.write(target=target['name'], service='icecast', ok=True, detail='listening')
                    last_report = time.monotonic()
        except (OSError, http.client.HTTPException) as exc:
            timeline.write(target=target['name'], service='icecast', ok=False, detail=str(exc)[:120])
            done.wait(params['interval'])
        finally:
            conn.close()


def main():
    module = AnsibleModule(argument_spec=dict(
        targets=dict(type='list', elements='dict', required=True),
        output=dict(type='path', required=True),
        stop_file=dict(type='path', required=True),
        duration=dict(type='int', default=3600),
        interval=dict(type='float', default=0.5),
        intervals=dict(type='dict', default={}),
        timeout=dict(type='float', default=1),
        timeouts=dict(type='dict', default={}),
        counter_port=dict(type='int', default=7000),
        stream_path=dict(type='str', default='/radio.ogg'),
        http_path=dict(type='str', default='/'),
        dhcp_interface=dict(type='str'),
    ))
    params = module.params
    try:
        workers = list(target_services(params['targets']))
        interval_of = per_service_seconds(params['interval'], params['intervals'], 'intervals')
        timeout_of = per_service_seconds(params['timeout'], params['timeouts'], 'timeouts')
    except SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    timeline = Timeline(params['output'])
    done = threading.Event()
    threads = []
    for target, service in workers:
        if service.probe == 'stream':
            args = (timeline, done, target, service.port, params)
            threads.append(threading.Thread(target=stream_loop, args=args, daemon=True))
            continue
        options = ({'interface': params['dhcp_interface']} if service.probe == 'dhcp'
                   else {'path': params['http_path']} if service.probe == 'http' else {})
        args = (timeline, done, target, service.name, service.probe, service.port, options,
                interval_of(service.name), timeout_of(service.name))
        threads.append(threading.Thread(target=probe_loop, args=args, daemon=True))
    if params['counter_port']:
        for target in params['targets']:
            args = (timeline, done, target, 'counter', 'counter', params['counter_port'], {},
                    interval_of('counter'), timeout_of('counter'))
            threads.append(threading.Thread(target=probe_loop, args=args, daemon=True))
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + params['duration']
    while time.monotonic() < deadline and not os.path.exists(params['stop_file']):
        time.sleep(0.5)
    done.set()
    # Every probe in flight ends within its timeout.
    joined_by = time.monotonic() + max([params['timeout']] + [timeout_of(name) for name in params['timeouts']]) + 5
    for thread in threads:
        thread.join(max(0.0, joined_by - time.monotonic()))
    timeline.close()
    module.exit_json(changed=False, samples=timeline.count)


if __name__ == '__main__':
    main()
