"""Two members and a quorum arbiter: the arbiter's vote over TLS, and when a member is cut off the arbiter
sides with the other (ffsplit), which keeps quorum, fences the lost member through its BMC and sees it rejoin."""
from __future__ import annotations

import re

from labtools import cut_off_until_fenced_and_back, lab_host as node, online

MEMBERS = ['node1', 'node2']
testinfra_hosts = MEMBERS


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
    fenced, rejoined = cut_off_until_fenced_and_back('node2', MEMBERS)
    print('\nnode2 cut off: fenced by node1 with the arbiter\'s vote after %.1f s, back after %.1f s'
          % (fenced, rejoined))
