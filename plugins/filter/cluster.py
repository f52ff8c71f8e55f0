# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: guests_running_on
short_description: Whether the cluster runs every given guest on a node, and there alone
version_added: 0.2.0
description:
  - Reads C(crm_mon --output-as=xml) and says whether each guest (Pacemaker resource C(guest_<name>)) is active
    on O(node) and on no other node, without a failure recorded against it.
options:
  _input:
    description: The output of C(crm_mon --one-shot --output-as=xml).
    type: str
    required: true
  guests:
    description: The guests' names.
    type: list
    elements: str
    required: true
  node:
    description: The cluster node.
    type: str
    required: true
author:
  - xenha.datacenter contributors
"""

EXAMPLES = r"""
- name: Wait until x0 is home on node1
  ansible.builtin.command: crm_mon --one-shot --output-as=xml
  register: mon
  until: mon.stdout | xenha.datacenter.guests_running_on(['x0'], 'node1')
  retries: 60
  delay: 10
"""

RETURN = r"""
_value:
  description: True when every guest runs on the node alone.
  type: bool
"""

from xml.etree.ElementTree import ParseError

from ansible.errors import AnsibleFilterError

from ansible_collections.xenha.datacenter.plugins.module_utils._placement import RESOURCE_PREFIX, parse_crm_mon


def guests_running_on(crm_mon_xml, guests, node):
    try:
        state = parse_crm_mon(crm_mon_xml)
    except ParseError as exc:
        raise AnsibleFilterError('guests_running_on: not crm_mon XML (%s)' % exc)
    for guest in guests:
        resource = state.resources.get(RESOURCE_PREFIX + guest)
        if resource is None or resource.nodes != (node,) or resource.failed:
            return False
    return True


class FilterModule:
    def filters(self):
        return {'guests_running_on': guests_running_on}
