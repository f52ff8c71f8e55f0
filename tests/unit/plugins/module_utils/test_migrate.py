"""Live migration decisions and the cluster path, against recorded crm_mon output and a fake cluster."""
from __future__ import annotations

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._placement import (
    MigrationError, arrival, check_capacity, decide, failures_of, parse_crm_mon,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._migration import (
    drain_with_cluster, migrate_with_cluster, migrate_with_libvirt, refuse_transport_for_cluster_guest,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._hypervisor import parse_xl_info
from ansible_collections.xenha.datacenter.plugins.module_utils._pacemaker import Pacemaker

from fake_clock import Clock


def crm_mon(placement, standby=(), offline=(), failed=(), history=None, failures=''):
    """crm_mon --output-as=xml, reduced to what matters: nodes, where each guest runs, and the
    operations the cluster last ran (history: {(node, guest): [(call, task), ...]})."""
    nodes = ''.join('<node name="%s" id="%d" online="%s" standby="%s" standby_onfail="false" maintenance="false"/>'
                    % (n, i, 'false' if n in offline else 'true', 'true' if n in standby else 'false')
                    for i, n in enumerate(['node1', 'node2'], 1))
    resources = ''.join('<resource id="guest_%s" role="%s" active="%s" failed="%s">%s</resource>'
                        % (g, 'Started' if on else 'Stopped', 'true' if on else 'false',
                           'true' if g in failed else 'false', ''.join('<node name="%s" id="1"/>' % n for n in on))
                        for g, on in placement.items())
    by_node = {}
    for (node, guest), ops in (history or {}).items():
        by_node.setdefault(node, []).append(
            '<resource_history id="guest_%s" orphan="false">%s</resource_history>'
            % (guest, ''.join('<operation_history call="%d" task="%s" rc="0" rc_text="ok"/>' % op for op in ops)))
    node_history = ''.join('<node name="%s">%s</node>' % (node, ''.join(items)) for node, items in by_node.items())
    return ('<pacemaker-result><nodes>%s</nodes><resources>%s<clone id="disks_x0_clone"><group id="disks_x0:0">'
            '<resource id="lvm_x0_root" role="Started"><node name="node1" id="1"/></resource></group></clone>'
            '</resources><node_history>%s</node_history><failures>%s</failures></pacemaker-result>'
            % (nodes, resources, node_history, failures))


# As crm_mon printed them on the lab after a live migration from node2 to node1 failed and the cluster
# recovered by fencing node2 and starting the guest on node1.
RECOVERY_FAILURES = (
    '<failure op_key="guest_x0_migrate_to_0" node="node2" exitstatus="error" exitreason="" exitcode="1" call="88" '
    'status="complete" last-rc-change="2026-12-04 03:25:23 +00:00" queued="0" exec="195000" interval="0" '
    'task="migrate_to"/>'
    '<failure op_key="guest_x0_stop_0" node="node2" exitstatus="error" '
    'exitreason="Resource agent did not complete within 5m" exitcode="1" call="90" status="Timed Out" '
    'last-rc-change="2026-12-04 03:28:47 +00:00" queued="0" exec="300000" interval="0" task="stop"/>')


def test_parse_crm_mon_reads_nodes_and_guest_placement():
    state = parse_crm_mon(crm_mon({'x0': ['node1'], 'x1': []}, standby=['node2']))
    assert state.nodes['node1'].online and not state.nodes['node1'].standby and state.nodes['node2'].standby
    assert state.resources['guest_x0'].nodes == ('node1',) and state.resources['guest_x1'].nodes == ()


def test_already_on_target_is_a_no_op():
    decision = decide(parse_crm_mon(crm_mon({'x0': ['node2']})), 'x0', 'node2')
    assert decision.noop and decision.source == 'node2'


@pytest.mark.parametrize('mon, guest, target, field, words', [
    (crm_mon({'x0': ['node1']}), 'x9', 'node2', 'name', 'no resource guest_x9'),
    (crm_mon({'x0': ['node1']}), 'x0', 'node7', 'target', 'not a cluster member'),
    (crm_mon({'x0': ['node1']}, offline=['node2']), 'x0', 'node2', 'target', 'offline; guest x0 stays on node1'),
    (crm_mon({'x0': ['node1']}, standby=['node2']), 'x0', 'node2', 'target', 'standby'),
    (crm_mon({'x0': []}), 'x0', 'node2', 'name', 'not running'),
    (crm_mon({'x0': ['node1', 'node2']}), 'x0', 'node2', 'name', 'active on node1 and node2'),
])
def test_refusals_name_the_field_and_where_the_guest_is(mon, guest, target, field, words):
    with pytest.raises(MigrationError) as err:
        decide(parse_crm_mon(mon), guest, target)
    assert err.value.field == field and words in str(err.value)


XL_INFO = 'host                   : node2\nfree_memory            : 900\nvirt_caps              : pv pvh hap\n'


def test_capacity_refuses_too_little_memory_and_pv_without_shadow():
    info = parse_xl_info(XL_INFO)
    check_capacity('x1', 'pvh', 512, 'node2', info)
    with pytest.raises(MigrationError, match='900 MiB free, guest x1 needs 1024 MiB'):
        check_capacity('x1', 'pvh', 1024, 'node2', info)
    with pytest.raises(MigrationError, match='no shadow paging'):
        check_capacity('x1', 'pv', 128, 'node2', info)
    check_capacity('x1', 'pv', 128, 'node2', parse_xl_info(XL_INFO.replace('pv pvh hap', 'pv pvh hap shadow')))


def test_memory_and_type_come_from_the_one_domain_xml_parser():
    from ansible_collections.xenha.datacenter.plugins.module_utils._domain_xml import parse_domain_xml
    xml = ("<domain type='xen'><name>x0</name><memory unit='KiB'>131072</memory>"
           "<os><type arch='x86_64' machine='xenpvh'>xenpvh</type></os></domain>")
    spec = parse_domain_xml(xml)
    assert (spec.type, spec.memory_mib) == ('pvh', 128)
    spec = parse_domain_xml(xml.replace("machine='xenpvh'>xenpvh", "machine='xenpv'>linux"))
    assert (spec.type, spec.memory_mib) == ('pv', 128)


class FakeCluster:
    """crm_mon / crm_resource / ssh xl info, with guests that move when told (or not)."""

    def __init__(self, placement, arrives=True, xl_info=XL_INFO, restarts=False):
        self.placement = placement
        self.arrives = arrives
        self.restarts = restarts  # the migration fails and the cluster starts the guest on the target afresh
        self.xl_info = xl_info
        self.history = {(nodes[0], guest): [(10, 'start')] for guest, nodes in placement.items() if nodes}
        self.failures = ''
        self.calls = []

    def __call__(self, argv):
        self.calls.append(' '.join(argv))
        if argv[0] == 'crm_mon':
            return 0, crm_mon(self.placement, history=self.history, failures=self.failures), ''
        if argv[0] == 'ssh' or argv[:2] == ['xl', 'info']:
            return 0, self.xl_info, ''
        if '--get-parameter' in argv:
            return 0, '/etc/xenha/guests/x0.xml\n', ''
        if '--move' in argv and self.arrives:
            guest, node = argv[argv.index('--resource') + 1][len('guest_'):], argv[argv.index('--node') + 1]
            source = self.placement[guest][0]
            self.placement[guest] = [node]
            # what Pacemaker records on the source: the migrate_to, then its stop once the target has the guest
            self.history[(source, guest)] = [(10, 'start'), (20, 'migrate_to'), (25, 'stop')]
            if self.restarts:
                self.failures = RECOVERY_FAILURES
                self.history[(node, guest)] = self.history.get((node, guest), []) + [(30, 'start')]
            else:
                self.history[(node, guest)] = self.history.get((node, guest), []) + [(30, 'migrate_from')]
        return 0, '', ''


XML = "<domain type='xen'><name>x0</name><memory unit='KiB'>131072</memory><os><type>xenpvh</type></os></domain>"


def run(cluster, check_mode=False, keep=False, timeout=60, target='node2', here='node1', watch=None):
    clock = Clock()
    pacemaker = Pacemaker(cluster, clock=clock, sleep=clock.sleep)
    return migrate_with_cluster(pacemaker, cluster, lambda path: XML, 'x0', target, timeout, keep=keep,
                                check_mode=check_mode, clock=clock, here=here, watch=watch)


class FakeWatch:
    """Records when it was started and stopped relative to the cluster's calls."""

    def __init__(self, calls):
        self.calls = calls

    def start(self):
        self.calls.append('watch start')
        return self

    def stop(self):
        self.calls.append('watch stop')
        return {'10.0.0.10:80': 1840}


def test_watch_spans_the_move_and_its_downtime_is_returned():
    cluster = FakeCluster({'x0': ['node1']})
    result = run(cluster, watch=FakeWatch(cluster.calls))
    assert result['downtime_ms'] == {'10.0.0.10:80': 1840}
    steps = [c for c in cluster.calls if c.startswith(('watch', 'crm_resource --move', 'crm_resource --clear'))]
    assert steps == ['watch start', 'crm_resource --move --resource guest_x0 --node node2',
                     'crm_resource --clear --resource guest_x0', 'watch stop']
    # Nothing moves, nothing is watched.
    cluster = FakeCluster({'x0': ['node2']})
    assert run(cluster, watch=FakeWatch(cluster.calls))['downtime_ms'] == {} and 'watch start' not in cluster.calls
    cluster = FakeCluster({'x0': ['node1']})
    assert run(cluster, check_mode=True, watch=FakeWatch(cluster.calls))['downtime_ms'] == {}
    assert 'watch start' not in cluster.calls


def test_moves_through_the_cluster_then_clears_the_constraint():
    cluster = FakeCluster({'x0': ['node1']})
    result = run(cluster)
    assert result['changed'] and result['source'] == 'node1' and result['now_on'] == 'node2'
    moves = [c for c in cluster.calls if c.startswith('crm_resource --move') or c.startswith('crm_resource --clear')]
    assert moves == ['crm_resource --move --resource guest_x0 --node node2', 'crm_resource --clear --resource guest_x0']


def test_target_memory_read_over_ssh_or_here_when_the_module_runs_on_the_target():
    cluster = FakeCluster({'x0': ['node1']})
    run(cluster)
    assert [c for c in cluster.calls if c.endswith('xl info')] == [
        'ssh -o BatchMode=yes -o ConnectTimeout=10 node2 xl info']
    # The drill moves x0 back to node1 with the module running on node1: no SSH to itself.
    cluster = FakeCluster({'x0': ['node2']})
    result = run(cluster, target='node1', here='node1.lab')
    assert result['now_on'] == 'node1'
    assert [c for c in cluster.calls if c.endswith('xl info')] == ['xl info']


def test_arrival_is_read_from_the_last_start_or_migrate_from_on_the_target():
    state = parse_crm_mon(crm_mon({'x0': ['node1']}, history={
        ('node1', 'x0'): [(12, 'start'), (40, 'migrate_from'), (41, 'monitor')], ('node2', 'x0'): [(30, 'start')]},
        failures=RECOVERY_FAILURES))
    assert arrival(state, 'guest_x0', 'node1') == 'migrate_from'
    assert arrival(state, 'guest_x0', 'node2') == 'start'
    assert arrival(state, 'guest_x1', 'node1') is None
    later = parse_crm_mon(crm_mon({'x0': ['node1']}, history={('node1', 'x0'): [(40, 'migrate_from'), (52, 'start')]}))
    assert arrival(later, 'guest_x0', 'node1') == 'start'
    assert failures_of(state, 'guest_x0') == (
        'migrate_to on node2: error at 2026-12-04 03:25:23 +00:00; stop on node2: error (Resource agent did not '
        'complete within 5m) at 2026-12-04 03:28:47 +00:00')
    assert failures_of(state, 'guest_x1') == ''


def test_a_live_move_says_so():
    assert run(FakeCluster({'x0': ['node1']}))['live'] is True
    assert run(FakeCluster({'x0': ['node2']}))['live'] is False  # nothing moved


def test_a_guest_the_cluster_restarted_on_the_target_is_a_failure_not_a_migration():
    cluster = FakeCluster({'x0': ['node2']}, restarts=True)
    with pytest.raises(MigrationError) as err:
        run(cluster, target='node1')
    message = str(err.value)
    assert err.value.field == 'live'
    assert 'x0 runs on node1, but the cluster restarted it there instead of migrating it live' in message
    assert 'migrate_to on node2: error' in message and 'crm_resource --cleanup --resource guest_x0' in message
    # The placement rules resume all the same.
    assert cluster.calls[-1] == 'crm_resource --clear --resource guest_x0'


def test_keep_leaves_the_constraint():
    cluster = FakeCluster({'x0': ['node1']})
    run(cluster, keep=True)
    assert not any(c.startswith('crm_resource --clear') for c in cluster.calls)


def test_check_mode_checks_everything_and_moves_nothing():
    cluster = FakeCluster({'x0': ['node1']})
    result = run(cluster, check_mode=True)
    assert result['changed'] and result['now_on'] == 'node2' and cluster.placement == {'x0': ['node1']}
    assert not any(c.startswith('crm_resource --move') for c in cluster.calls)


def test_refused_for_memory_before_anything_moves():
    cluster = FakeCluster({'x0': ['node1']}, xl_info=XL_INFO.replace('900', '64'))
    with pytest.raises(MigrationError, match='64 MiB free'):
        run(cluster)
    assert not any(c.startswith('crm_resource --move') for c in cluster.calls)


def test_timeout_says_where_the_guest_runs_and_clears():
    cluster = FakeCluster({'x0': ['node1']}, arrives=False)
    with pytest.raises(MigrationError) as err:
        run(cluster, keep=True, timeout=5)
    assert err.value.field == 'timeout' and 'it runs on node1 now' in str(err.value)
    assert cluster.calls[-1] == 'crm_resource --clear --resource guest_x0'


def test_no_op_runs_nothing_but_reads():
    cluster = FakeCluster({'x0': ['node2']})
    assert not run(cluster)['changed']
    assert all(c.startswith('crm_mon') for c in cluster.calls)


class FakeConn:
    """What migrate_with_libvirt asks of a libvirt connection."""

    def __init__(self, running=True, fail=None):
        self.running = running
        self.fail = fail
        self.migrated_to = None
        self.tunnelled = None

    def lookup(self, name):
        return name if name == 'x0' else None

    def is_running(self, dom):
        return self.running

    def hostname(self):
        return 'node1'

    def live_xml(self, dom):
        return XML

    def migrate_live(self, dom, uri, timeout, tunnelled=True):
        if self.fail:
            raise MigrationError('timeout', self.fail)
        self.migrated_to = uri
        self.tunnelled = tunnelled


def ssh_only(argv):
    return 0, XL_INFO, ''


def test_libvirt_path_migrates_over_ssh_and_reports():
    conn = FakeConn()
    result = migrate_with_libvirt(conn, ssh_only, 'x0', 'node2', 60)
    assert result['changed'] and result['through'] == 'libvirt' and result['now_on'] == 'node2'
    assert conn.migrated_to == 'xen+ssh://root@node2/system' and conn.tunnelled is True


def test_libvirt_path_sends_memory_on_a_plain_socket_only_when_asked():
    conn = FakeConn()
    migrate_with_libvirt(conn, ssh_only, 'x0', 'node2', 60, tunnelled=False)
    assert conn.migrated_to == 'xen+ssh://root@node2/system' and conn.tunnelled is False


@pytest.mark.parametrize('tunnelled', [True, False])
def test_a_transport_asked_for_a_cluster_guest_is_refused(tunnelled):
    with pytest.raises(MigrationError, match='guest_x0 says .* leave tunnelled out') as err:
        refuse_transport_for_cluster_guest('x0', tunnelled)
    assert err.value.field == 'tunnelled'
    refuse_transport_for_cluster_guest('x0', None)


def test_libvirt_path_watches_the_move():
    calls = []
    result = migrate_with_libvirt(FakeConn(), ssh_only, 'x0', 'node2', 60, watch=FakeWatch(calls))
    assert calls == ['watch start', 'watch stop'] and result['downtime_ms'] == {'10.0.0.10:80': 1840}


def test_libvirt_path_no_op_and_check_mode():
    conn = FakeConn()
    assert not migrate_with_libvirt(conn, ssh_only, 'x0', 'node1', 60)['changed']
    result = migrate_with_libvirt(conn, ssh_only, 'x0', 'node2', 60, check_mode=True)
    assert result['changed'] and conn.migrated_to is None


def test_libvirt_path_refuses_a_guest_not_running_here():
    with pytest.raises(MigrationError, match='not running on node1'):
        migrate_with_libvirt(FakeConn(running=False), ssh_only, 'x0', 'node2', 60)
    with pytest.raises(MigrationError, match='not running on node1'):
        migrate_with_libvirt(FakeConn(), ssh_only, 'x9', 'node2', 60)


def members(standby=(), offline=()):
    """A cluster's state with node1 and node2, as migrate_with_libvirt gets it."""
    from ansible_collections.xenha.datacenter.plugins.module_utils._placement import ClusterState, NodeState
    return ClusterState(nodes={n: NodeState(n, n not in offline, n in standby) for n in ('node1', 'node2')})


@pytest.mark.parametrize('target, cluster, message', [
    ('node2', members(standby=['node2']), 'node node2 is in standby'),
    ('node2', members(offline=['node2']), 'node node2 is offline'),
    ('node7', members(), 'node node7 is not a cluster member'),
])
def test_libvirt_path_refuses_a_target_the_cluster_would_not_take(target, cluster, message):
    conn = FakeConn()
    for check_mode in (True, False):
        with pytest.raises(MigrationError, match=message) as err:
            migrate_with_libvirt(conn, ssh_only, 'x0', target, 60, check_mode=check_mode, cluster=cluster)
        assert err.value.field == 'target' and conn.migrated_to is None


def test_libvirt_path_takes_the_current_node_by_its_fqdn_as_no_move():
    conn = FakeConn()
    result = migrate_with_libvirt(conn, ssh_only, 'x0', 'node1.example.org', 60, cluster=members())
    assert not result['changed'] and conn.migrated_to is None


def test_a_missing_cluster_definition_file_is_a_clear_error():
    from ansible_collections.xenha.datacenter.plugins.module_utils._migration import read_file
    cluster = FakeCluster({'x0': ['node1']})
    clock = Clock()
    pacemaker = Pacemaker(cluster, clock=clock, sleep=clock.sleep)
    with pytest.raises(MigrationError, match='cannot read /etc/xenha/guests/x0.xml') as err:
        migrate_with_cluster(pacemaker, cluster, lambda path: read_file('/nonexistent' + path), 'x0', 'node2', 60,
                             clock=clock, here='node1')
    assert err.value.field == 'name' and not any('--move' in call for call in cluster.calls)
    with pytest.raises(MigrationError, match='the guests role writes it on every node'):
        drain_with_cluster(pacemaker, cluster, lambda path: read_file('/nonexistent' + path), 'node1', here='node1')
