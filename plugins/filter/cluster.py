# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that read the cluster's state (crm_mon XML) or configuration (CIB XML); documented in
guests_running_on.yml, cluster_problems.yml, cluster_failures.yml and guests_on_other_agent.yml beside this file."""
from __future__ import annotations

from xml.etree.ElementTree import ParseError

from ansible.errors import AnsibleFilterError

from ansible_collections.xenha.datacenter.plugins.module_utils._placement import (
    RESOURCE_PREFIX, guests_with_other_agent, health_problems, parse_crm_mon, settled_node, settled_on,
)


def _state(crm_mon_xml, name):
    try:
        return parse_crm_mon(crm_mon_xml)
    except ParseError as exc:
        raise AnsibleFilterError('%s: not crm_mon XML (%s)' % (name, exc))


def guests_running_on(crm_mon_xml, guests, node=None):
    state = _state(crm_mon_xml, 'guests_running_on')
    if node is None:
        return all(settled_node(state, RESOURCE_PREFIX + guest) is not None for guest in guests)
    return all(settled_on(state, RESOURCE_PREFIX + guest, node) for guest in guests)


def cluster_problems(crm_mon_xml, members, guests, hypervisors=None):
    return health_problems(_state(crm_mon_xml, 'cluster_problems'), members, guests, hypervisors)


def cluster_failures(crm_mon_xml):
    return [{'resource': f.rid, 'node': f.node, 'operation': f.task, 'status': f.status, 'reason': f.reason}
            for f in _state(crm_mon_xml, 'cluster_failures').failures]


def guests_on_other_agent(cib_resources_xml, guests, agent):
    try:
        return guests_with_other_agent(cib_resources_xml, guests, agent)
    except ParseError as exc:
        raise AnsibleFilterError('guests_on_other_agent: not CIB XML (%s)' % exc)


class FilterModule:
    def filters(self):
        return {'guests_running_on': guests_running_on, 'cluster_problems': cluster_problems,
                'cluster_failures': cluster_failures, 'guests_on_other_agent': guests_on_other_agent}
