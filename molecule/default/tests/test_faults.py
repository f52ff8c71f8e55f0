"""Faults a cluster without guests must survive, injected on the lab: a Pacemaker daemon killed, a second run
while one holds the datacenter's lock, and a guest that does not fit the shared volume group."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from labtools import (MEMBERS, ROOT, ModuleFailed, console_tail, inventory, labctl, node, on_node, online, qemu_pid,
                      run_module)

LOCK = '/var/lib/xenha/run.lock'


def cluster_view(name):
    """(members online, nodes unclean) as `name` sees them; None when it does not answer."""
    try:
        xml = node(name).check_output('crm_mon --one-shot --output-as=xml')
    except (AssertionError, RuntimeError):
        return None
    return online(node(name)), sorted(re.findall(r'<node name="([^"]+)"[^>]* unclean="true"', xml))


@pytest.mark.parametrize('daemon', ['pacemaker-controld', 'pacemaker-execd'])
def test_a_killed_pacemaker_daemon_is_recovered_or_its_node_fenced_never_stalled(daemon):
    """kill -9 of one Pacemaker daemon on node2: pacemakerd starts it again, or node1 fences node2 (the lab's
    fencing powers it off; it is powered on here, as its operator would). Either way the cluster is whole
    again with nothing unclean, within ten minutes."""
    pid_before = qemu_pid('node2')
    started = time.monotonic()
    node('node2').run("pkill --signal KILL --full '[/]%s( |$)'" % daemon)
    fenced = whole = off_since = None
    deadline = started + 600
    view = None
    try:
        # Whole means: both members online, nothing unclean, the daemon running on node2, and so for a minute (a
        # decision to fence can follow a first look that seemed fine).
        while time.monotonic() < deadline:
            if fenced is None and qemu_pid('node2') != pid_before:
                fenced = time.monotonic() - started
            # Powered on once it has stayed off a few seconds: the fence agent checks that the power is off
            # before it reports success, and a node already on again would fail that check.
            off_since = (off_since or time.monotonic()) if qemu_pid('node2') is None else None
            if off_since is not None and time.monotonic() - off_since >= 10:
                labctl('power', 'node2', 'on')
                off_since = None
            view = cluster_view('node1')
            # on_node, not testinfra: a node being fenced or booting fails SSH (255), which testinfra raises on.
            if view == (MEMBERS, []) and on_node('node2', 'pgrep --full "[/]%s( |$)"' % daemon).returncode == 0:
                whole = whole or time.monotonic() - started
                if time.monotonic() - started - whole >= 60:
                    break
            else:
                whole = None
            time.sleep(5)
    finally:
        # A failure here must not leave node2 off for the checks that follow.
        if qemu_pid('node2') is None:
            labctl('power', 'node2', 'on')
    fate = 'was fenced' if fenced else 'was not fenced'
    assert whole is not None and view == (MEMBERS, []), (
        'the cluster was not whole within 600 s of killing %s on node2 (node1 sees online, unclean: %r); node2 %s; '
        'the end of its console:\n%s' % (daemon, view, fate, console_tail('node2')))
    print('%s killed on node2: %s; the cluster whole again after %.1f s'
          % (daemon, 'node2 fenced after %.1f s' % fenced if fenced else 'started again, no fencing', whole))


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
