"""Three members: majority quorum, a member cut off from the others is fenced by them and rejoins, and a cluster
where no member has quorum stops everything and fences no one (fault 8 of the fault suite)."""
from __future__ import annotations

import re
import time

from labtools import cut_off_until_fenced_and_back, labctl, node, on_node, online, qemu_pid, wait_for

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


WITNESS = 'quorum_witness_%s'


# on_node reaches a member over its management network, still up when its cluster link is cut.
def quorate(name):
    return re.search(r'Quorate:\s+(\w+)', on_node(name, 'corosync-quorumtool -s').stdout or '')


def witness_runs_on(name):
    out = on_node(name, 'crm_resource --locate --resource %s 2>&1' % (WITNESS % name)).stdout
    return 'is running on: %s' % name in out


def fencings(name):
    """The fencing operations `name` has on record, one line each."""
    out = on_node(name, "stonith_admin --history '*' 2>/dev/null").stdout
    return [line for line in out.splitlines() if line.strip() and 'No fencing' not in line]


def test_quorum_lost_by_every_member_stops_what_each_runs_and_fences_no_one():
    """Fault 8: node2's and node3's cluster links cut, so every member is alone, node1 included (its link is up
    but reaches no one). No member has quorum: each stops what it runs (Pacemaker's no-quorum-policy, stop)
    and none fences another (fencing needs quorum). With the links back, quorum returns, everything starts
    again where it was, no member power-cycled. A guest is a resource like any other to that policy; this
    scenario runs none (three emulated nodes on two host cores), so one Dummy resource per member stands in."""
    pids = {name: qemu_pid(name) for name in MEMBERS}
    history = {name: fencings(name) for name in MEMBERS}
    try:
        for name in MEMBERS:
            witness = WITNESS % name
            # Bound to its member (inf): the cluster may start a new witness elsewhere before its location exists,
            # and a finite score no higher than the stickiness (100) left it there.
            on_node('node1', 'crm configure primitive %s ocf:pacemaker:Dummy op monitor interval=10s timeout=60s'
                    ' && crm configure location %s_home %s inf: %s' % (witness, witness, witness, name), check=True)
        wait_for('a witness running on every member', lambda: all(witness_runs_on(n) for n in MEMBERS), 600)
        started = time.monotonic()
        lost_at, stopped_at = {}, {}
        try:
            labctl('link', 'node2', 'down')
            labctl('link', 'node3', 'down')
            deadline = started + 600
            while time.monotonic() < deadline and len(stopped_at) < len(MEMBERS):
                for name in MEMBERS:
                    state = quorate(name)
                    if name not in lost_at and state and state.group(1) == 'No':
                        lost_at[name] = time.monotonic() - started
                    if name in lost_at and name not in stopped_at and not witness_runs_on(name):
                        stopped_at[name] = time.monotonic() - started
                time.sleep(5)
            assert sorted(lost_at) == MEMBERS, 'quorum lost only on %r within 600 s' % sorted(lost_at)
            assert sorted(stopped_at) == MEMBERS, (
                'a member without quorum kept its resource: stopped only on %r within 600 s' % sorted(stopped_at))
            assert {name: qemu_pid(name) for name in MEMBERS} == pids, 'a member was power-cycled without quorum'
            assert {name: fencings(name) for name in MEMBERS} == history, 'a member without quorum fenced another'
        finally:
            labctl('link', 'node2', 'up')
            labctl('link', 'node3', 'up')
        wait_for('every member online and every witness running again', lambda: (
            online(node('node1')) == MEMBERS and all(witness_runs_on(n) for n in MEMBERS)), 900)
        back_after = time.monotonic() - started
        assert {name: qemu_pid(name) for name in MEMBERS} == pids, 'a member was power-cycled when quorum returned'
        print('\nquorum lost on every member after %s s, their resources stopped after %s s, no fencing; '
              'all back after %.1f s' % (', '.join('%.1f' % lost_at[n] for n in MEMBERS),
                                         ', '.join('%.1f' % stopped_at[n] for n in MEMBERS), back_after))
    finally:
        # The witnesses leave the cluster as the scenario found it, whatever happened above.
        for name in MEMBERS:
            on_node('node1', 'crm resource stop %s; crm_resource --wait --timeout 300s; crm configure delete %s_home %s'
                    % (WITNESS % name, WITNESS % name, WITNESS % name))
