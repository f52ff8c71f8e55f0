# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: corosync_change
short_description: How a change of corosync.conf applies to a running cluster
version_added: 0.2.0
description:
  - Compares the running corosync.conf with the new one and says how the change applies without stopping a
    guest. V(none) - nothing changed. V(reload) - write the file everywhere, then C(corosync-cfgtool -R) (token
    timings, logging, members added or removed). V(rolling) - restart Corosync one drained member at a time.
    V(cluster) - only a restart of every member at once applies it (cluster name, transport, crypto, node IDs).
options:
  _input:
    description: The running corosync.conf (empty when there is none yet).
    type: str
    required: true
  new:
    description: The corosync.conf to apply.
    type: str
    required: true
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Decide how to apply the new corosync.conf
  ansible.builtin.set_fact:
    change: "{{ running_conf | xenha.datacenter.corosync_change(new_conf) }}"
"""

RETURN = r"""
_value:
  description: V(way) (none, reload, rolling or cluster) and V(keys) (the changed keys, dotted).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.xenha.datacenter.plugins.module_utils._corosync_conf import CorosyncConfError, classify


def corosync_change(running, new):
    try:
        way, keys = classify(running or '', new)
    except CorosyncConfError as exc:
        raise AnsibleFilterError('corosync_change: %s' % exc)
    return {'way': way, 'keys': keys}


class FilterModule:
    def filters(self):
        return {'corosync_change': corosync_change}
