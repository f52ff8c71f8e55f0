"""Draining a node: the plan (pure) and the cluster path against a fake cluster with several guests."""
from __future__ import annotations

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._placement import (
    MigrationError, drain_targets, guests_on, parse_crm_mon, plan_drain,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._migration import activate_node, drain_with_cluster
from ansible_collections.xenha.datacenter.plugins.module_utils._hypervisor import parse_xl_info
from ansible_collections.xenha.datacenter.plugins.module_utils._pacemaker import Pacemaker

from fake_clock import Clock

NODES = ('node1', 'node2', 'node3')


def crm_mon(placement, standby=(), offline=(), started=(), history=None):
    """started: (node, guest) pairs whose last arrival there was a fresh start, not a migrate_from;
    history: {(node, guest): [(call, task), ...]}, the operations recorded there otherwise."""
    nodes = ''.join('<node name="%s" id="%d" online="%s" standby="%s" standby_onfail="false" maintenance="false"/>'
                    % (n, i, 'false' if n in offline else 'true', 'true' if n in standby else 'false')
                    for i, n in enumerate(NODES, 1))
    resources = ''.join('<resource id="guest_%s" role="Started" failed="false">%s</resource>'
                        % (g, ''.join('<node name="%s" id="1"/>' % n for n in on)) for g, on in placement.items())
    ops = {pair: [(30, 'start')] for pair in started}
    ops.update(history or {})
    history = ''.join('<node name="%s"><resource_history id="guest_%s">%s</resource_history></node>'
                      % (node, guest, ''.join('<operation_history call="%d" task="%s" rc="0"/>' % op for op in done))
                      for (node, guest), done in ops.items())
    return ('<pacemaker-result><nodes>%s</nodes><resources>%s</resources><node_history>%s</node_history>'
            '</pacemaker-result>' % (nodes, resources, history))


def xl_info(free, caps='pv pvh hap'):
    return parse_xl_info('free_memory            : %d\nvirt_caps              : %s\n' % (free, caps))


def test_guests_on_a_node_and_who_can_take_them():
    state = parse_crm_mon(crm_mon({'x0': ['node1'], 'x1': ['node1'], 'x2': ['node2']}, standby=['node3']))
    assert guests_on(state, 'node1') == ['x0', 'x1']
    assert drain_targets(state, 'node1') == ['node2']
    with pytest.raises(MigrationError, match='node9 is not a cluster member'):
        guests_on(state, 'node9')
    with pytest.raises(MigrationError, match='active on node1 and node2 at once'):
        guests_on(parse_crm_mon(crm_mon({'x0': ['node1', 'node2']})), 'node1')


def test_plan_puts_the_largest_guest_first_where_most_memory_is_left():
    guests = {'x0': ('pvh', 128), 'x1': ('pvh', 512), 'x2': ('pvh', 256)}
    plan = plan_drain('node1', guests, {'node2': xl_info(700), 'node3': xl_info(600)})
    # x1 takes node2 (700 -> 188 left), x2 node3 (600 -> 344), x0 then fits best on node3.
    assert [(m.guest, m.target) for m in plan] == [('x1', 'node2'), ('x2', 'node3'), ('x0', 'node3')]


def test_plan_refuses_when_a_guest_fits_nowhere_or_no_member_is_left():
    with pytest.raises(MigrationError) as err:
        plan_drain('node1', {'x0': ('pvh', 128), 'x1': ('pvh', 512)}, {'node2': xl_info(600)})
    assert err.value.field == 'node' and 'guest x0 (PVH, 128 MiB) fits on no other member' in str(err.value)
    assert 'node2 88 MiB' in str(err.value)
    with pytest.raises(MigrationError, match='shadow paging'):
        plan_drain('node1', {'x0': ('pv', 128)}, {'node2': xl_info(600)})
    assert plan_drain('node1', {'x0': ('pv', 128)}, {'node2': xl_info(600, 'pv hap shadow')})[0].target == 'node2'
    with pytest.raises(MigrationError, match='no other member can take the guests of node1'):
        plan_drain('node1', {'x0': ('pvh', 128)}, {})
    assert plan_drain('node1', {}, {}) == []


XML = "<domain type='xen'><name>%s</name><memory unit='MiB'>%d</memory><os><type>xenpvh</type></os></domain>"
MEMORY = {'x0': 128, 'x1': 512, 'x2': 256}


class FakeCluster:
    """crm_mon, crm_resource, crm_attribute and xl info; guests move when told, unless listed as stuck."""

    def __init__(self, placement, standby=(), free=None, stuck=(), restarted=(), phased=False, moving=None):
        self.placement = placement
        # phased: a move passes through what crm_mon shows while Pacemaker migrates live, one step a read;
        # moving: {guest: (source, target)} migrations the cluster has begun itself.
        self.phased = phased
        self.history = {}
        self.steps = {guest: self.migration(guest, *way) for guest, way in (moving or {}).items()}
        self.restarted = set(restarted)  # guests whose migration fails and that the cluster starts on the target
        self.started = []
        self.standby = set(standby)
        self.free = free or {'node2': 2048, 'node3': 2048}
        self.stuck = set(stuck)
        self.calls = []

    def migration(self, guest, source, target):
        """What crm_mon shows, read after read, while the cluster migrates `guest` live (as Pacemaker 2.1 did on
        the lab): migrate_to done (both nodes), migrate_from done (the target alone, the source's stop pending),
        a transition aborted meanwhile (both again), the source stopped."""
        finishing = {(source, guest): [(38, 'monitor'), (45, 'migrate_to')], (target, guest): [(44, 'migrate_from')]}
        stopped = {**finishing, (source, guest): [(38, 'monitor'), (45, 'migrate_to'), (48, 'stop')]}
        running = {(source, guest): [(38, 'monitor'), (-1, 'migrate_to')]}   # Pacemaker records it as pending
        return iter([([source], running), ([source, target], {(source, guest): finishing[(source, guest)]}),
                     ([target], finishing), ([source, target], finishing), ([target], stopped)])

    def __call__(self, argv):
        self.calls.append(' '.join(argv))
        if argv[0] == 'crm_mon':
            for guest, steps in list(self.steps.items()):
                step = next(steps, None)
                if step is None:
                    del self.steps[guest]
                    continue
                self.placement[guest], history = step
                self.history.update(history)
            return 0, crm_mon(self.placement, standby=self.standby, started=self.started, history=self.history), ''
        if argv[0] == 'ssh':
            return 0, 'free_memory : %d\nvirt_caps : pvh hap\n' % self.free[argv[-3]], ''
        if argv[0] == 'crm_attribute':
            node = argv[argv.index('--node') + 1]
            (self.standby.add if '--update' in argv else self.standby.discard)(node)
            return 0, '', ''
        guest = argv[argv.index('--resource') + 1][len('guest_'):]
        if '--get-parameter' in argv:
            return 0, '/etc/xenha/guests/%s.xml\n' % guest, ''
        if '--move' in argv and guest not in self.stuck and self.phased:
            self.steps[guest] = self.migration(guest, self.placement[guest][0], argv[argv.index('--node') + 1])
        elif '--move' in argv and guest not in self.stuck:
            self.placement[guest] = [argv[argv.index('--node') + 1]]
            if guest in self.restarted:
                self.started.append((self.placement[guest][0], guest))
        return 0, '', ''


def drain(cluster, parallel=1, check_mode=False, timeout=60):
    clock = Clock()
    pacemaker = Pacemaker(cluster, clock=clock, sleep=clock.sleep)

    def read_file(path):
        guest = path.rsplit('/', 1)[1][:-len('.xml')]
        return XML % (guest, MEMORY[guest])
    return drain_with_cluster(pacemaker, cluster, read_file, 'node1', parallel=parallel, timeout=timeout,
                              check_mode=check_mode, clock=clock, here='node1')


def actions(cluster):
    return [c for c in cluster.calls if c.startswith(('crm_resource --move', 'crm_resource --clear', 'crm_attribute'))]


def test_drain_moves_in_batches_then_standby_then_clears():
    cluster = FakeCluster({'x0': ['node1'], 'x1': ['node1'], 'x2': ['node1']}, free={'node2': 1000, 'node3': 600})
    result = drain(cluster, parallel=2)
    assert result['changed'] and [(m['guest'], m['target']) for m in result['moves']] == [
        ('x1', 'node2'), ('x2', 'node3'), ('x0', 'node2')]
    assert actions(cluster) == [
        'crm_resource --move --resource guest_x1 --node node2',
        'crm_resource --move --resource guest_x2 --node node3',
        # the second batch starts once the first has arrived
        'crm_resource --move --resource guest_x0 --node node2',
        'crm_attribute --type nodes --node node1 --name standby --update on',
        'crm_resource --clear --resource guest_x1',
        'crm_resource --clear --resource guest_x2',
        'crm_resource --clear --resource guest_x0',
    ]
    assert cluster.placement == {'x0': ['node2'], 'x1': ['node2'], 'x2': ['node3']} and cluster.standby == {'node1'}


def test_a_move_is_done_when_the_source_has_stopped_not_when_crm_mon_first_shows_the_target():
    cluster = FakeCluster({'x0': ['node1'], 'x1': ['node1']}, free={'node2': 1000, 'node3': 600}, phased=True)
    result = drain(cluster)
    assert [(m['guest'], m['target']) for m in result['moves']] == [('x1', 'node2'), ('x0', 'node3')]
    moves = [i for i, c in enumerate(cluster.calls) if c.startswith('crm_resource --move')]
    # every step of x1's migration was read before x0 was moved
    assert len([c for c in cluster.calls[moves[0]:moves[1]] if c.startswith('crm_mon')]) >= 5
    assert cluster.placement == {'x0': ['node3'], 'x1': ['node2']} and cluster.standby == {'node1'}


def test_a_drain_begun_while_the_cluster_migrates_a_guest_waits_for_it_to_finish():
    """A guest going home (the node rolled before) is on both nodes for a while: neither a refusal nor a guest
    to move."""
    cluster = FakeCluster({'x0': ['node2'], 'x1': ['node1']}, moving={'x0': ('node1', 'node2')})
    result = drain(cluster)
    assert [m['guest'] for m in result['moves']] == ['x1'] and cluster.placement['x0'] == ['node2']
    cluster = FakeCluster({'x0': ['node1']}, moving={'x0': ('node1', 'node2')})
    cluster.steps['x0'] = iter([(['node1', 'node2'], {('node1', 'x0'): [(45, 'migrate_to')]})] * 100)
    with pytest.raises(MigrationError) as err:
        drain(cluster, timeout=5)
    assert err.value.field == 'timeout' and 'still live-migrating x0' in str(err.value)
    assert actions(cluster) == []


def test_drained_node_is_a_no_op_and_check_mode_moves_nothing():
    cluster = FakeCluster({'x0': ['node2']}, standby=['node1'])
    assert not drain(cluster)['changed'] and actions(cluster) == []
    cluster = FakeCluster({'x0': ['node1']})
    result = drain(cluster, check_mode=True)
    assert result['changed'] and result['moves'][0]['target'] == 'node2'
    assert actions(cluster) == [] and cluster.placement == {'x0': ['node1']}
    # A node without guests still needs its standby.
    cluster = FakeCluster({'x0': ['node2']})
    assert drain(cluster)['changed'] and cluster.standby == {'node1'}


def test_refusal_moves_nothing():
    cluster = FakeCluster({'x0': ['node1'], 'x1': ['node1']}, free={'node2': 300, 'node3': 300})
    with pytest.raises(MigrationError, match='guest x1 .* fits on no other member'):
        drain(cluster)
    assert actions(cluster) == []


def test_a_guest_that_does_not_arrive_stops_the_drain_and_leaves_the_node_active():
    cluster = FakeCluster({'x0': ['node1'], 'x1': ['node1']}, stuck=['x0'])
    with pytest.raises(MigrationError) as err:
        drain(cluster, timeout=5)
    assert err.value.field == 'timeout'
    assert 'node1 stays active' in str(err.value) and 'x0 on node1, x1 on node2' in str(err.value)
    assert cluster.standby == set()
    assert actions(cluster)[-2:] == ['crm_resource --clear --resource guest_x1', 'crm_resource --clear --resource guest_x0']


def test_a_guest_the_cluster_restarted_stops_the_drain_and_leaves_the_node_active():
    cluster = FakeCluster({'x0': ['node1'], 'x1': ['node1']}, restarted=['x0'])
    with pytest.raises(MigrationError) as err:
        drain(cluster)
    assert err.value.field == 'live' and 'restarted it there instead of migrating it live' in str(err.value)
    assert 'node1' not in cluster.standby
    assert not any(c.startswith('crm_attribute') for c in cluster.calls)


class StartingCluster(FakeCluster):
    """The cluster recovers x0 by a fresh start on the target (seen on the lab: the guest had crashed just before
    the drain): crm_mon shows it there alone while the start is still pending, recorded without a call number."""

    def __call__(self, argv):
        if argv[0] == 'crm_resource' and '--move' in argv and 'guest_x0' in argv:
            self.calls.append(' '.join(argv))
            pending = (['node2'], {('node2', 'x0'): [(-1, 'start')]})
            self.steps['x0'] = iter([pending, pending, (['node2'], {('node2', 'x0'): [(30, 'start')]})])
            return 0, '', ''
        return super().__call__(argv)


def test_a_restart_still_under_way_on_the_target_is_not_taken_for_an_arrival():
    cluster = StartingCluster({'x0': ['node1']})
    with pytest.raises(MigrationError) as err:
        drain(cluster)
    assert err.value.field == 'live' and 'x0 runs on node2, but the cluster restarted it there' in str(err.value)
    assert 'node1' not in cluster.standby


def test_active_takes_the_node_out_of_standby_once():
    cluster = FakeCluster({'x0': ['node2']}, standby=['node1'])
    pacemaker = Pacemaker(cluster)
    assert activate_node(pacemaker, 'node1', check_mode=True)['changed'] and cluster.standby == {'node1'}
    assert activate_node(pacemaker, 'node1')['changed'] and cluster.standby == set()
    assert actions(cluster) == ['crm_attribute --type nodes --node node1 --name standby --delete']
    assert not activate_node(pacemaker, 'node1')['changed']
    with pytest.raises(MigrationError, match='node9 is not a cluster member'):
        activate_node(pacemaker, 'node9')
