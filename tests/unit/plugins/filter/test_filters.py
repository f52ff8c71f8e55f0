"""The collection's filters, as Ansible calls them."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.xenha.datacenter.plugins.filter.cluster import FilterModule as ClusterFilters
from ansible_collections.xenha.datacenter.plugins.filter.corosync import FilterModule as CorosyncFilters

MON = """<pacemaker-result api-version="2.2" request="crm_mon --output-as=xml">
  <nodes>
    <node name="node1" id="1" online="true" standby="false" maintenance="false"/>
    <node name="node2" id="2" online="true" standby="false" maintenance="false"/>
  </nodes>
  <resources>
    <resource id="guest_x0" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" failed="false">
      <node name="node1" id="1" cached="true"/>
    </resource>
    <resource id="guest_x1" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" failed="%s">
      <node name="node2" id="2" cached="true"/>
    </resource>
  </resources>
</pacemaker-result>"""

running_on = ClusterFilters().filters()['guests_running_on']
on_other_agent = ClusterFilters().filters()['guests_on_other_agent']
corosync_change = CorosyncFilters().filters()['corosync_change']


def test_guests_running_on_a_node_alone():
    assert running_on(MON % 'false', ['x0'], 'node1')
    assert running_on(MON % 'false', [], 'node1')
    assert not running_on(MON % 'false', ['x0', 'x1'], 'node1')
    assert not running_on(MON % 'true', ['x1'], 'node2')
    assert not running_on(MON % 'false', ['x2'], 'node1')


def test_a_guest_whose_source_has_not_stopped_is_not_home_yet():
    """After the target's migrate_from, crm_mon shows the guest there alone while the source's stop is pending."""
    history = ('<node_history><node name="node2"><resource_history id="guest_x0">'
               '<operation_history call="38" task="monitor" rc="0"/><operation_history call="45" task="migrate_to" rc="0"/>'
               '%s</resource_history></node></node_history></pacemaker-result>')
    finishing = (MON % 'false').replace('</pacemaker-result>', history % '')
    assert not running_on(finishing, ['x0'], 'node1')
    stopped = (MON % 'false').replace('</pacemaker-result>', history % '<operation_history call="48" task="stop" rc="0"/>')
    assert running_on(stopped, ['x0'], 'node1')


def test_a_guest_whose_start_is_under_way_does_not_run_yet():
    """Pacemaker lists a guest whose start is pending as active on the node, with the start recorded without a
    call number (seen on the lab: `crm_resource --locate` said it ran for minutes before the agent did)."""
    starting = (MON % 'false').replace('role="Started" failed="false">\n      <node name="node1"',
                                       'role="Started" failed="false" pending="Starting">\n      <node name="node1"')
    assert 'pending="Starting"' in starting
    assert not running_on(starting, ['x0'], 'node1')
    assert not running_on(starting, ['x0'])
    recorded = (MON % 'false').replace('</pacemaker-result>', (
        '<node_history><node name="node1"><resource_history id="guest_x0">'
        '<operation_history call="-1" task="start" rc="193"/></resource_history></node></node_history>'
        '</pacemaker-result>'))
    assert not running_on(recorded, ['x0'])
    assert not running_on((MON % 'false').replace('role="Started" failed="false">\n      <node name="node1"',
                                                  'role="Starting" failed="false">\n      <node name="node1"'), ['x0'])
    # Its first monitor under way leaves it running.
    assert running_on(starting.replace('pending="Starting"', 'pending="Monitoring"'), ['x0'], 'node1')


def test_guests_running_on_any_one_node():
    assert running_on(MON % 'false', ['x0', 'x1'])
    assert not running_on(MON % 'true', ['x0', 'x1'])
    assert not running_on(MON % 'false', ['x2'])
    on_both = (MON % 'false').replace('<node name="node2" id="2" cached="true"/>',
                                      '<node name="node1" id="1"/><node name="node2" id="2"/>')
    assert not running_on(on_both, ['x1'])


def test_guests_running_on_refuses_what_is_not_crm_mon_xml():
    with pytest.raises(AnsibleFilterError, match='not crm_mon XML'):
        running_on('Error: cluster is not available', ['x0'], 'node1')


def test_corosync_change_names_the_way_and_the_keys():
    change = corosync_change('totem {\n token: 1\n}\n', 'totem {\n token: 2\n}\n')
    assert change == {'way': 'reload', 'keys': ['totem.token']}
    with pytest.raises(AnsibleFilterError, match='corosync_change: line 1'):
        corosync_change('}\n', 'totem {\n}\n')


HEALTHY = """<pacemaker-result api-version="2.25" request="crm_mon --one-shot --output-as=xml">
  <summary><current_dc present="true" name="node2" id="2" with_quorum="%(quorum)s"/></summary>
  <nodes>
    <node name="node1" id="1" online="true" standby="%(standby)s" standby_onfail="false" maintenance="false"/>
    <node name="node2" id="2" online="true" standby="false" standby_onfail="false" maintenance="false"/>
  </nodes>
  <resources>
    <resource id="fence_node1" resource_agent="stonith:fence_ipmilan" role="Started" failed="false">
      <node name="node2" id="2" cached="true"/>
    </resource>
    <resource id="fence_node2" resource_agent="stonith:fence_ipmilan" role="%(fence_role)s" failed="false">%(fence_node)s</resource>
    <resource id="guest_x0" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" failed="false">
      <node name="node1" id="1" cached="true"/>
    </resource>
  </resources>
  %(failures)s
</pacemaker-result>"""
XL = 'Name                                        ID   Mem VCPUs\tState\tTime(s)\nDomain-0  0  1024  1  r-----  10.0\n%s'
problems = ClusterFilters().filters()['cluster_problems']


def mon(**changes):
    values = dict(quorum='true', standby='false', fence_role='Started',
                  fence_node='<node name="node1" id="1" cached="true"/>', failures='')
    values.update(changes)
    return HEALTHY % values


def test_a_healthy_cluster_has_no_problems():
    hypervisors = {'node1': XL % 'x0  5  256  1  -b----  3.0\n', 'node2': XL % ''}
    assert problems(mon(), ['node1', 'node2'], ['x0'], hypervisors) == []


def test_every_problem_of_a_cluster_is_named():
    failures = ('<failures><failure op_key="guest_x0_monitor_120000" node="node1" exitstatus="error" '
                'exitreason="timed out" task="monitor" last-rc-change="now"/></failures>')
    found = problems(mon(quorum='false', standby='true', fence_role='Stopped', fence_node='', failures=failures),
                     ['node1', 'node2', 'node3'], ['x0', 'x9'])
    assert found == ['the cluster has no quorum', 'node1 is in standby', 'node3 is not a cluster member',
                     'fence device fence_node2 is not started', 'guest x9 is not a cluster resource',
                     'failed action: guest_x0 monitor on node1: error (timed out)']


def test_a_guest_on_two_hypervisors_or_elsewhere_than_the_cluster_says_is_a_problem():
    two = {'node1': XL % 'x0  5  256  1  -b----  3.0\n', 'node2': XL % 'x0  7  256  1  -b----  1.0\n'}
    assert problems(mon(), ['node1', 'node2'], ['x0'], two) == ['guest x0 runs on the hypervisors of node1 and node2 at once']
    elsewhere = {'node1': XL % '', 'node2': XL % 'x0  7  256  1  -b----  1.0\n'}
    assert problems(mon(), ['node1', 'node2'], ['x0'], elsewhere) == ['guest x0 runs on node2, the cluster says on node1']


def test_cluster_failures_lists_each_failed_action():
    failures = ('<failures><failure op_key="guest_x0_migrate_to_0" node="node1" exitstatus="error" '
                'exitreason="timed out" task="migrate_to" last-rc-change="now"/></failures>')
    failed = ClusterFilters().filters()['cluster_failures']
    assert failed(mon(failures=failures)) == [{'resource': 'guest_x0', 'node': 'node1', 'operation': 'migrate_to',
                                              'status': 'error', 'reason': 'timed out'}]
    assert failed(mon()) == []


def test_faults_table_takes_the_reports_by_fault_and_refuses_anything_else():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.xenha.datacenter.plugins.filter.drill import FilterModule as DrillFilters
    table = DrillFilters().filters()['faults_table']
    report = {'passed': True, 'faults': [{'detected_s': 2.0, 'service_back_s': {'x0/http': 5.0}, 'longest_gap_s': 5.0,
                                          'restarted': {}}]}
    assert table({'guest_crash': report}).splitlines()[1].split() == ['guest_crash', '2.0', '5.0', '5.0', 's', '0',
                                                                      'passed']
    with pytest.raises(AnsibleFilterError, match='expects {fault: drill report}'):
        table([report])


CIB_RESOURCES = """<resources>
  <primitive id="guest_x0" class="ocf" provider="heartbeat" type="VirtualDomain"/>
  <clone id="disks_x1_clone"><primitive id="disks_x1" class="ocf" provider="xenha" type="SharedLV"/></clone>
  <primitive id="guest_x1" class="ocf" provider="xenha" type="GuestDomain"/>
  <primitive id="fence_node1" class="stonith" type="fence_ipmilan"/>
</resources>"""


def test_guests_on_another_agent_are_the_ones_to_hand_over():
    assert on_other_agent(CIB_RESOURCES, ['x0', 'x1', 'x2'], 'ocf:xenha:GuestDomain') == ['x0']
    assert on_other_agent(CIB_RESOURCES, ['x1'], 'ocf:xenha:GuestDomain') == []
    assert on_other_agent(CIB_RESOURCES, ['x1', 'x0'], 'ocf:heartbeat:VirtualDomain') == ['x1']


def test_guests_on_other_agent_refuses_what_is_not_xml():
    with pytest.raises(AnsibleFilterError, match='guests_on_other_agent: not CIB XML'):
        on_other_agent('Connection to the CIB manager failed', ['x0'], 'ocf:xenha:GuestDomain')
