"""Three members: majority quorum, and a member cut off from the others is fenced by them and rejoins."""
from __future__ import annotations

import re

from labtools import cut_off_until_fenced_and_back, online

MEMBERS = ['node1', 'node2', 'node3']
testinfra_hosts = MEMBERS


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
    fenced, rejoined = cut_off_until_fenced_and_back('node3', MEMBERS)
    print('\nnode3 cut off: fenced by the majority after %.1f s, back in the cluster after %.1f s'
          % (fenced, rejoined))
