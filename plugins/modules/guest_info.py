#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: guest_info
short_description: List Xen guests, their resources, disks and services
version_added: 0.1.0
description:
  - Read-only listing of the guests defined on a node through libvirt, with their state, memory, vCPUs,
    disks (and real sizes), interfaces, the services recorded by M(xenha.datacenter.guest), and the node
    they run on.
extends_documentation_fragment:
  - xenha.datacenter.libvirt
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only; there is nothing to compare.
  platform:
    support: full
    platforms: debian
    description: A Xen dom0 (Debian 12) with libvirtd, or any host for libvirt's test driver.
options:
  name:
    description: Only this guest. An unknown name gives an empty list, not an error.
    type: str
seealso:
  - module: xenha.datacenter.guest
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: Where do the guests run?
  xenha.datacenter.guest_info:
  register: guests

- name: Show x0's services
  ansible.builtin.debug:
    msg: "{{ (guests.guests | selectattr('name', 'eq', 'x0') | first).services }}"
"""

RETURN = r"""
guests:
  description: One entry per guest, sorted by name, in the shape of the guest module's C(guest) result.
  returned: always
  type: list
  elements: dict
  sample:
    - name: x0
      state: running
      host: node1
      memory: 128M
      vcpus: 1
      disks: [{name: root, target: xvda, path: /dev/vg_guests/x0-root, size: 2G}]
      services: [{name: http, packages: [apache2], port: 80, protocol: tcp, probe: http}]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xenha.datacenter.plugins.module_utils._commands import runner
from ansible_collections.xenha.datacenter.plugins.module_utils._guest import list_guests
from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import (
    DEFAULT_URI, LIBVIRT_IMPORT_ERROR, Connection, GuestError,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._storage import Storage


def main():
    module = AnsibleModule(argument_spec=dict(uri=dict(type='str', default=DEFAULT_URI), name=dict(type='str')),
                           supports_check_mode=True)
    if LIBVIRT_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('libvirt-python (Debian: python3-libvirt)'),
                         exception=LIBVIRT_IMPORT_ERROR)
    conn = None
    try:
        conn = Connection(module.params['uri'])
        guests = list_guests(conn, Storage(runner(module)), module.params['name'])
    except GuestError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    finally:
        if conn is not None:
            conn.close()
    module.exit_json(changed=False, guests=guests)


if __name__ == '__main__':
    main()
