#!/usr/bin/env python3
"""Converge figures on the lab: site.yml first and second run (with the changed counts), the time
from an empty cluster (the guests play starting) until every guest service answers the lab's
client, and the real-fencing time (stonith_admin on node1 power-cycles node2 through its BMC, until
node2 is back online in the cluster).

Usage: benchmarks/site.py [--keep]   (from `make`'s environment: the venv on PATH, ANSIBLE_* and
XENHA_LAB_DIR set; the lab is brought up fresh with playbooks/lab.yml and taken down at the end;
--keep skips the fencing figure and leaves the converged lab up, e.g. for the failover drill)
"""
from __future__ import annotations

import re
import sys
import time

from labtools import PLAY_STARTS, on_node, playbook, services_answer


def all_services_answer():
    """The probe module on the lab's client, against every service of x0 and x1."""
    return services_answer([{'name': 'x0', 'address': '10.0.0.10', 'services': ['dhcp', 'http', 'icecast', 'ssh']},
                            {'name': 'x1', 'address': '10.0.0.11', 'services': ['nx', 'bzflag', 'ssh']}])


def main():
    keep = '--keep' in sys.argv[1:]
    playbook('playbooks/lab.yml', '-e', 'lab_state=absent')
    up_s, _output = playbook('playbooks/lab.yml', '-e', 'lab_state=present')
    first_s, first = playbook('playbooks/site.yml')
    guests_started = PLAY_STARTS['Guests on the cluster']
    while not all_services_answer() and time.monotonic() - guests_started < 1800:
        time.sleep(5)
    services_s = time.monotonic() - guests_started if all_services_answer() else None
    second_s, second = playbook('playbooks/site.yml')
    print('lab up (cached image): %.1f s' % up_s)
    print('site.yml first converge: %.1f s, changed %s' % (first_s, first))
    print('empty cluster to every guest service answering the client: %s'
          % ('%.1f s' % services_s if services_s is not None else 'NOT within 1800 s'))
    print('site.yml second converge: %.1f s, changed %s' % (second_s, second), flush=True)
    if keep:
        return 0 if services_s is not None and not any(second.values()) else 1
    started = time.monotonic()
    fence = on_node('node1', 'stonith_admin --reboot node2 --timeout 180')
    fenced_s = time.monotonic() - started
    if fence.returncode != 0:
        raise SystemExit('fencing failed: %s' % fence.stderr)
    back_s = None
    while time.monotonic() - started < 600:
        mon = on_node('node1', 'crm_mon --one-shot --output-as=xml')
        if sorted(re.findall(r'<node name="([^"]+)"[^>]* online="true"', mon.stdout)) == ['node1', 'node2']:
            back_s = time.monotonic() - started
            break
        time.sleep(2)
    playbook('playbooks/lab.yml', '-e', 'lab_state=absent')
    print('real fencing (stonith_admin --reboot node2 from node1): %.1f s' % fenced_s)
    print('node2 back online in the cluster: %s after the request'
          % ('%.1f s' % back_s if back_s is not None else 'NOT within 600 s'))
    return 0 if back_s is not None and not any(second.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
