"""Two members and a quorum arbiter: the arbiter's vote over TLS, and when a member is cut off the arbiter
sides with the other (ffsplit), which keeps quorum, fences the lost member through its BMC and sees it rejoin."""
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
MEMBERS = ['node1', 'node2']
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


def test_the_arbiter_votes_instead_of_two_node(host):
    conf = host.file('/etc/corosync/corosync.conf').content_string
    assert 'two_node:' not in conf and 'model: net' in conf and 'tls: on' in conf
    quorum = host.check_output('corosync-quorumtool -s')
    assert re.search(r'Expected votes:\s+3\b', quorum) and re.search(r'Total votes:\s+3\b', quorum), quorum
    assert 'Quorate:          Yes' in quorum and 'Qdevice' in quorum, quorum
    assert online(host) == MEMBERS


def test_each_member_talks_tls_to_the_arbiter(host):
    status = host.check_output('corosync-qdevice-tool -sv')
    assert re.search(r'State:\s+Connected', status), status
    assert re.search(r'TLS active:\s+Yes', status), status
    assert host.service('corosync-qdevice').is_enabled


def test_the_arbiter_serves_the_two_members():
    arbiter = node('node3')
    assert arbiter.service('corosync-qnetd').is_running and arbiter.service('corosync-qnetd').is_enabled
    clients = arbiter.check_output('corosync-qnetd-tool -lv')
    assert 'Cluster "xenha"' in clients and clients.count('Node ID') == 2, clients


def test_a_member_cut_off_is_fenced_by_the_one_the_arbiter_sides_with():
    """node2's cluster link goes down: node1 and the arbiter keep quorum (2 of 3; ffsplit's tie-breaker is
    the lowest node id) and fence node2 through its BMC; the power cycle restores the link (a new QEMU) and
    node2 rejoins by itself."""
    pid_before = qemu_pid('node2')
    started = time.monotonic()
    subprocess.run([sys.executable, LABCTL, '--dir', LAB_DIR, 'link', 'node2', 'down'], check=True,
                   capture_output=True)
    fenced = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if qemu_pid('node2') != pid_before:
            fenced = time.monotonic() - started
            break
        time.sleep(2)
    assert fenced is not None, 'node2 was not fenced within 600 s of losing its link'
    survivor = node('node1').check_output('corosync-quorumtool -s')
    assert 'Quorate:          Yes' in survivor, survivor
    history = node('node1').check_output('stonith_admin --history node2')
    assert 'node2' in history and ('successful' in history or 'was able to' in history), history
    rejoined = None
    while time.monotonic() < deadline + 600:
        try:
            if online(node('node1')) == MEMBERS:
                rejoined = time.monotonic() - started
                break
        except AssertionError:  # a busy node can fail one crm_mon call
            pass
        time.sleep(5)
    assert rejoined is not None, 'node2 did not rejoin by itself'
    print('\nnode2 cut off: fenced by node1 with the arbiter\'s vote after %.1f s, back after %.1f s'
          % (fenced, rejoined))
