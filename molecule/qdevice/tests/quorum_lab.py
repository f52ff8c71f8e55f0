"""Shared by the quorum scenarios (qdevice, three): reach the lab's nodes, read the cluster's membership, and
cut a member off the cluster network until the others fence it and it rejoins."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import testinfra

INVENTORY = os.path.dirname(os.environ['MOLECULE_INVENTORY_FILE'])
LAB_DIR = os.environ.get('XENHA_LAB_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', '..', 'lab-state')
LABCTL = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'lab', 'files', 'labctl.py')


def node(name):
    return testinfra.get_host('ansible://%s?force_ansible=True' % name, ansible_inventory=INVENTORY)


def online(host):
    xml = host.check_output('crm_mon --one-shot --output-as=xml')
    return sorted(re.findall(r'<node name="([^"]+)"[^>]* online="true"', xml))


def qemu_pid(name):
    """The node's QEMU process, or None while it is powered off (the BMC removes the file)."""
    try:
        with open(os.path.join(LAB_DIR, 'nodes', name, 'qemu.pid'), encoding='ascii') as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def cut_off_until_fenced_and_back(lost, members, observer='node1', timeout=600):
    """Take `lost`'s cluster link down; return the seconds until its power cycle (a new QEMU, which also
    restores the link) and until `observer` sees every member online again."""
    pid_before = qemu_pid(lost)
    started = time.monotonic()
    subprocess.run([sys.executable, LABCTL, '--dir', LAB_DIR, 'link', lost, 'down'], check=True,
                   capture_output=True)
    fenced = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if qemu_pid(lost) != pid_before:
            fenced = time.monotonic() - started
            break
        time.sleep(2)
    assert fenced is not None, '%s was not fenced within %d s of losing its link' % (lost, timeout)
    survivor = node(observer).check_output('corosync-quorumtool -s')
    assert 'Quorate:          Yes' in survivor, survivor
    history = node(observer).check_output('stonith_admin --history %s' % lost)
    assert lost in history and ('successful' in history or 'was able to' in history), history
    rejoined = None
    while time.monotonic() < deadline + timeout:
        try:
            if online(node(observer)) == members:
                rejoined = time.monotonic() - started
                break
        except AssertionError:  # a busy node can fail one crm_mon call
            pass
        time.sleep(5)
    assert rejoined is not None, '%s did not rejoin by itself' % lost
    return fenced, rejoined
