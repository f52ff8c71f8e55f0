# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: preflight_problems
short_description: What the inventory lacks for site.yml, one line per host and variable
version_added: 0.2.0
description:
  - Reads each cluster node's C(cluster_ip), C(cluster_fence_ipmi) and C(shared_storage_device), and each guest's
    C(guest_ip), C(guest_memory), C(guest_root_size), C(guest_swap_size) and C(guest_preferred_node), and lists
    what is missing or wrong, naming the host, the variable and the fix. A variable that cannot be read (an
    undefined vault variable) is a problem too. Contacts no host.
options:
  _input:
    description: C(hostvars).
    type: raw
    required: true
  nodes:
    description: The cluster nodes (the C(xen_nodes) group).
    type: list
    elements: str
    required: true
  guests:
    description: The guests (the C(guests) group).
    type: list
    elements: str
    required: true
  fencing:
    description: Whether the cluster fences (C(cluster_fencing_opt_out_i_accept_split_brain) not set).
    type: bool
    default: true
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Fail on what the inventory lacks
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems }}"
  vars:
    problems: "{{ hostvars | xenha.datacenter.preflight_problems(groups['xen_nodes'], groups['guests']) }}"
"""

RETURN = r"""
_value:
  description: One line per problem; empty when the inventory has what site.yml needs.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleError
from jinja2 import Undefined
from jinja2.exceptions import UndefinedError

from ansible_collections.xenha.datacenter.plugins.module_utils._preflight import (
    MISSING, inventory_problems, nodes_problems)


def _resolved(value):
    """The value with every template inside it rendered; an undefined variable anywhere raises."""
    if isinstance(value, Undefined):
        raise ValueError(value._undefined_message)
    if isinstance(value, Mapping):
        return {key: _resolved(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolved(item) for item in value]
    return value


def _reader(hostvars):
    def read(host, name):
        try:
            variables = hostvars[host]
            return _resolved(variables[name]) if name in variables else MISSING
        except (AnsibleError, UndefinedError) as exc:  # an undefined variable inside it, e.g. a vault one
            raise ValueError(str(exc).splitlines()[0])
    return read


def preflight_problems(hostvars, nodes, guests, fencing=True):
    return inventory_problems(_reader(hostvars), list(nodes), list(guests), fencing)


def preflight_node_problems(hostvars, reports, guests):
    read = _reader(hostvars)
    memory = {guest: read(guest, 'guest_memory') for guest in guests}
    return nodes_problems(read, dict(reports), {guest: size for guest, size in memory.items() if size is not MISSING})


class FilterModule:
    def filters(self):
        return {'preflight_problems': preflight_problems, 'preflight_node_problems': preflight_node_problems}
