"""Three members: majority quorum, and a member cut off from the others is fenced by them and rejoins."""
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
MEMBERS = ['node1', 'node2', 'node3']
testinfra_hosts = MEMBERS


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


def test_majority_quorum_of_three(host):
    conf = host.file('/etc/corosync/corosync.conf').content_string
    assert 'two_node' not in conf and 'wait_for_all' not in conf
    quorum = host.check_output('corosync-quorumtool -s')
    assert re.search(r'Expected votes:\s+3\b', quorum) and re.search(r'Quorum:\s+2\b', quorum)
    assert 'Quorate:          Yes' in quorum
    assert online(host) == MEMBERS


def test_a_member_cut_off_is_fenced_by_the_majority_and_rejoins():
    """node3's cluster link goes down: node1 and node2 keep quorum (2 of 3) and fence node3 through its BMC;
    the power cycle restores the link (a new QEMU), and node3 rejoins by itself."""
    pid_before = qemu_pid('node3')
    started = time.monotonic()
    subprocess.run([sys.executable, LABCTL, '--dir', LAB_DIR, 'link', 'node3', 'down'], check=True,
                   capture_output=True)
    fenced = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if qemu_pid('node3') != pid_before:
            fenced = time.monotonic() - started
            break
        time.sleep(2)
    assert fenced is not None, 'node3 was not fenced within 600 s of losing its link'
    survivors = node('node1').check_output('corosync-quorumtool -s')
    assert 'Quorate:          Yes' in survivors
    history = node('node1').check_output('stonith_admin --history node3')
    assert 'node3' in history and ('successful' in history or 'was able to' in history), history
    rejoined = None
    while time.monotonic() < deadline + 600:
        try:
            if online(node('node1')) == MEMBERS:
                rejoined = time.monotonic() - started
                break
        except AssertionError:  # a busy node can fail one crm_mon call
            pass
        time.sleep(5)
    assert rejoined is not None, 'node3 did not rejoin by itself'
    print('\nnode3 cut off: fenced by the majority after %.1f s, back in the cluster after %.1f s'
          % (fenced, rejoined))
