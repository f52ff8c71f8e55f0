"""Faults a cluster without guests must survive, injected on the lab: a second run while one holds the
datacenter's lock, and a guest that does not fit the shared volume group."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from labtools import ROOT, ModuleFailed, inventory, node, run_module

LOCK = '/var/lib/xenha/run.lock'


def test_a_second_run_refuses_while_another_holds_the_lock_and_changes_nothing():
    holder = 'controller-b admin 2026-01-01 00:00:00 42'
    node('node2').check_output("mkdir -p %s && printf '%%s\\n' '%s' > %s/owner" % (LOCK, holder, LOCK))
    try:
        started = time.monotonic()
        env = dict(os.environ, ANSIBLE_NOCOLOR='1')
        env.pop('ANSIBLE_FORCE_COLOR', None)   # molecule's: the checks below read plain text
        run = subprocess.run(['ansible-playbook', '-i', inventory(), 'playbooks/cluster.yml'], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
    finally:
        node('node2').check_output('rm -rf %s' % LOCK)
    output = re.sub(r'\s+', ' ', run.stdout + run.stderr)
    assert run.returncode != 0, output[-3000:]
    assert 'another run holds node2' in output and holder in output and 'nothing was changed' in output, output[-3000:]
    recap = dict(re.findall(r'(node\d) : ok=\d+ changed=(\d+)', output))
    assert recap == {'node1': '0', 'node2': '0'}, output[-3000:]
    # node1's lock was taken by the refused run and given back: the next run is not blocked by it.
    assert not node('node1').file(LOCK).exists
    print('refused in %.1f s, changed=0 on both nodes' % seconds)


def test_a_guest_larger_than_the_free_volume_group_is_refused_before_any_disk():
    kernel = node('node1').check_output('ls /boot/vmlinuz-* | tail -n 1')
    args = ('{"name": "toolarge", "state": "present", "memory": "64M", "vcpus": 1, "kernel": "%s", '
            '"storage_vg": "vg_guests", "root_disk": {"size": "1T"}}' % kernel)
    with pytest.raises(ModuleFailed) as refused:
        run_module('node1', 'xenha.datacenter.guest', args)
    message = refused.value.result.get('msg', '')
    assert refused.value.result.get('field') == 'storage_vg', refused.value.result
    assert message.startswith('storage_vg: volume group vg_guests has ') and 'nothing was changed' in message, message
    assert not refused.value.result.get('changed')
    assert 'toolarge' not in node('node1').check_output('lvs --noheadings -o lv_name vg_guests')
    assert 'toolarge' not in node('node1').check_output('virsh --connect xen:///system list --all --name')
