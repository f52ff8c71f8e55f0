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
corosync_change = CorosyncFilters().filters()['corosync_change']


def test_guests_running_on_a_node_alone():
    assert running_on(MON % 'false', ['x0'], 'node1')
    assert running_on(MON % 'false', [], 'node1')
    assert not running_on(MON % 'false', ['x0', 'x1'], 'node1')
    assert not running_on(MON % 'true', ['x1'], 'node2')
    assert not running_on(MON % 'false', ['x2'], 'node1')


def test_guests_running_on_refuses_what_is_not_crm_mon_xml():
    with pytest.raises(AnsibleFilterError, match='not crm_mon XML'):
        running_on('Error: cluster is not available', ['x0'], 'node1')


def test_corosync_change_names_the_way_and_the_keys():
    assert corosync_change('totem {\n token: 1\n}\n', 'totem {\n token: 2\n}\n') == {'way': 'reload',
                                                                                      'keys': ['totem.token']}
    with pytest.raises(AnsibleFilterError, match='corosync_change: line 1'):
        corosync_change('}\n', 'totem {\n}\n')
