#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: guest
short_description: Declare a Xen guest and converge it through libvirt
version_added: 0.1.0
description:
  - Declares one Xen guest (domain) on a node through libvirt's libxl driver and converges it
    idempotently; memory, vCPUs, boot, disks, network interfaces and the services it runs.
  - Disks are created when missing and grown when the declared size is larger; they are never shrunk
    and never deleted unless O(state=absent) and O(remove_disks=true).
  - A changed field updates the persistent definition. Memory changes on a running guest take effect live
    when they fit under the running maximum; other changes apply at the guest's next boot (see RV(next_boot)).
    A running guest is never restarted or powered off to converge.
  - Services are recorded in the domain's libvirt metadata (namespace C(urn:xenha:datacenter:guest:1)) so that
    other plays and the failover drill can find them. Installing them inside the guest is the guests role's work.
extends_documentation_fragment:
  - xenha.datacenter.libvirt
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
  diff_mode:
    support: full
    description: Shows the guest before and after.
  platform:
    support: full
    platforms: debian
    description: Runs on a Xen dom0 (Debian 12) with libvirtd.
options:
  name:
    description: Guest name; also its hostname and the prefix of its LV names (one DNS label, lowercase).
    type: str
    required: true
  state:
    description:
      - V(present) defines the guest and leaves it running or stopped as it is.
      - V(running) defines and starts it. V(stopped) defines it and shuts it down gracefully.
      - V(absent) shuts it down gracefully and undefines it; disks stay unless O(remove_disks=true).
    type: str
    choices: [present, running, stopped, absent]
    default: present
  type:
    description: Virtualisation mode. PVH needs O(kernel); PV needs O(kernel) or O(bootloader); HVM boots its disk.
    type: str
    choices: [pvh, pv, hvm]
    default: pvh
  memory:
    description:
      - Memory at boot, like V(128M), V(1G), V(512MiB) or a whole number of MiB. Units are binary.
      - Required unless O(state=absent).
    type: raw
  max_memory:
    description: Ceiling the guest may balloon up to (default O(memory)). Must not be below O(memory).
    type: raw
  vcpus:
    description: Number of virtual CPUs (1-128).
    type: int
    default: 1
  kernel:
    description: Absolute path, on the node, of the kernel to boot directly.
    type: str
  initrd:
    description: Absolute path, on the node, of the initrd. Needs O(kernel).
    type: str
  cmdline:
    description: Kernel command line.
    type: str
  bootloader:
    description: Absolute path of a PV bootloader such as pygrub (PV guests only).
    type: str
  cpu_disable_features:
    description:
      - CPU features to hide from the guest (C(host-passthrough) minus these).
      - The emulated lab needs V([rdtscp]) for PVH guests under QEMU TCG; real hardware needs nothing.
    type: list
    elements: str
    default: []
  cpuset:
    description:
      - Physical CPUs the guest's vCPUs may run on, in libvirt's syntax (V(1-3), V(2,4), V(0-7,^0)); default any.
      - Keeping guests off the CPUs dom0 is pinned to (Xen's C(dom0_vcpus_pin)) gives dom0, which carries every
        guest's disk and network I/O and the cluster stack, CPU time of its own.
      - Written into the definition (C(<vcpu cpuset>)). libvirt's libxl driver in Debian 12 keeps it there but does
        not pin the vCPUs when it starts a guest; the P(xenha.datacenter.guests#role) role runs a per-node
        watcher that does (C(xl vcpu-pin)) for every guest that starts or arrives.
    type: str
  storage_vg:
    description:
      - Volume group for disks that give neither C(vg) nor C(path); LVs are named C(<name>-<disk>).
      - When the new or grown LVs need more than a volume group has free, the module fails before it makes any
        disk, naming the volume group and the space needed.
    type: str
  root_disk:
    description: The root disk, C(xvda).
    type: dict
    suboptions: &disk
      size:
        description: Size, like V(2G). Grown when larger than the disk; a smaller size is refused.
        type: raw
        required: true
      vg:
        description: Volume group of the LV (default O(storage_vg)).
        type: str
      lv:
        description: LV name (default C(<guest>-<disk>)).
        type: str
      path:
        description: A file (sparse, created when missing) or an existing block device under C(/dev) instead of an LV.
        type: str
  swap:
    description: The swap disk, C(xvdb). Same keys as O(root_disk).
    type: dict
    suboptions: *disk
  disks:
    description: Extra disks after root and swap, each with a C(name) and the keys of O(root_disk).
    type: list
    elements: dict
    default: []
  interfaces:
    description: Network interfaces, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      bridge:
        description: Bridge on the node.
        type: str
        default: xenbr0
      mac:
        description:
          - MAC address. When left out, a stable one in Xen's OUI C(00:16:3e) is derived from the guest name
            and the interface's position, so it never changes between runs.
          - A MAC already used by another guest on the node is refused.
        type: str
      ip:
        description: The guest's address, for information (recorded in metadata; the drill probes it).
        type: str
  services:
    description:
      - What runs inside the guest. Each item is a catalogue name (V(ssh), V(dhcp), V(http), V(icecast),
        V(nx), V(bzflag)) or a dict that overrides a catalogue entry or defines a custom service.
      - A custom service needs C(packages) (Debian packages) and C(port); C(protocol) is V(tcp) (default) or
        V(udp), and C(probe) how a client checks it - V(tcp), V(udp), V(ssh), V(http), V(stream), V(dhcp),
        V(rdp) or V(bzflag); by default V(tcp) for a TCP service (a connection) and V(udp) for a UDP one.
    type: list
    elements: raw
    default: []
  cluster_config:
    description:
      - For a guest that the cluster runs with Pacemaker's C(ocf:heartbeat:VirtualDomain), the path of the
        domain XML file the cluster creates the guest from. The module writes that file (atomically) instead of
        defining the guest in libvirt, creates and grows its disks, and applies memory changes live when the
        guest runs on this node. It never starts, stops or defines such a guest; the cluster does.
      - Run it on every node, so that each has the same file. O(state) may only be V(present) or V(absent);
        V(absent) removes the file (and with O(remove_disks=true) the disks) and is refused while the guest
        runs on this node.
      - Such a guest that reboots itself is stopped (C(on_reboot) V(destroy)) and the cluster starts it again, since
        under Xen a reboot makes a new domain, and one restarted behind the cluster raced the cluster's recovery
        (which then found the domain already there) and could have run it on a second node.
    type: path
  autostart:
    description: Start the guest when libvirtd starts. Leave false for guests the cluster manages.
    type: bool
    default: false
  remove_disks:
    description: With O(state=absent), also delete the guest's LVs and files. Block devices are never touched.
    type: bool
    default: false
  shutdown_timeout:
    description: Seconds to wait for a graceful shutdown (O(state=stopped) or V(absent)).
    type: int
    default: 120
  force:
    description: Power the guest off if it has not shut down after O(shutdown_timeout). Without it the module fails
      and leaves the guest running.
    type: bool
    default: false
seealso:
  - module: xenha.datacenter.guest_info
author:
  - xenha.datacenter contributors (@xenha)
"""

EXAMPLES = r"""
- name: A web and radio server x0, on the shared volume group
  xenha.datacenter.guest:
    name: x0
    state: running
    memory: 128M
    vcpus: 1
    kernel: /var/lib/xenha/boot/vmlinuz
    initrd: /var/lib/xenha/boot/initrd.img
    cmdline: root=/dev/xvda ro console=hvc0
    storage_vg: vg_guests
    root_disk: {size: 2G}
    swap: {size: 512M}
    interfaces:
      - bridge: xenbr0
        ip: 10.0.0.10/24
    services: [dhcp, http, icecast, ssh]

- name: A custom service next to catalogue ones
  xenha.datacenter.guest:
    name: web1
    memory: 512M
    kernel: /var/lib/xenha/boot/vmlinuz
    root_disk: {path: /var/lib/xen/images/web1.img, size: 4G}
    services:
      - ssh
      - {name: api, packages: [gunicorn], port: 8080, protocol: tcp, probe: http}

- name: A guest that Pacemaker runs (VirtualDomain config=/etc/xenha/guests/x1.xml); run on every node
  xenha.datacenter.guest:
    name: x1
    cluster_config: /etc/xenha/guests/x1.xml
    memory: 512M
    kernel: /var/lib/xenha/boot/vmlinuz
    storage_vg: vg_guests
    root_disk: {size: 5G}
    swap: {size: 1G}
    services: [nx, bzflag, ssh]

- name: Remove a guest and its disks
  xenha.datacenter.guest:
    name: web1
    state: absent
    remove_disks: true
"""

RETURN = r"""
guest:
  description: The guest after the run (in check mode, as it would be). Empty when absent.
  returned: always
  type: dict
  sample:
    name: x0
    state: running
    type: pvh
    memory: 128M
    max_memory: 128M
    vcpus: 1
    disks: [{name: root, target: xvda, path: /dev/vg_guests/x0-root, size: 2G}]
    interfaces: [{bridge: xenbr0, mac: "00:16:3e:5a:01:02", ip: 10.0.0.10/24}]
    services: [{name: ssh, packages: [openssh-server], port: 22, protocol: tcp, probe: ssh}]
    restart_pending: false
changes:
  description: One line per change made (or that would be made in check mode).
  returned: always
  type: list
  elements: str
  sample: ["memory: 128M -> 256M (live)", "disk root: grow 2G -> 3G"]
next_boot:
  description: Fields changed on a running guest that take effect at its next boot.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xenha.datacenter.plugins.module_utils._commands import runner
from ansible_collections.xenha.datacenter.plugins.module_utils._guest import converge
from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import (
    DEFAULT_URI, LIBVIRT_IMPORT_ERROR, Connection, GuestError,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError
from ansible_collections.xenha.datacenter.plugins.module_utils._storage import Storage

DISK_OPTIONS = dict(
    size=dict(type='raw', required=True),
    vg=dict(type='str'),
    lv=dict(type='str'),
    path=dict(type='str'),
)


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'running', 'stopped', 'absent']),
        uri=dict(type='str', default=DEFAULT_URI),
        type=dict(type='str', default='pvh', choices=['pvh', 'pv', 'hvm']),
        memory=dict(type='raw'),
        max_memory=dict(type='raw'),
        vcpus=dict(type='int', default=1),
        kernel=dict(type='str'),
        initrd=dict(type='str'),
        cmdline=dict(type='str'),
        bootloader=dict(type='str'),
        cpu_disable_features=dict(type='list', elements='str', default=[]),
        cpuset=dict(type='str'),
        storage_vg=dict(type='str'),
        root_disk=dict(type='dict', options=DISK_OPTIONS),
        swap=dict(type='dict', options=DISK_OPTIONS),
        disks=dict(type='list', elements='dict', default=[]),
        interfaces=dict(type='list', elements='dict', default=[], options=dict(
            bridge=dict(type='str', default='xenbr0'),
            mac=dict(type='str'),
            ip=dict(type='str'),
        )),
        services=dict(type='list', elements='raw', default=[]),
        cluster_config=dict(type='path'),
        autostart=dict(type='bool', default=False),
        remove_disks=dict(type='bool', default=False),
        shutdown_timeout=dict(type='int', default=120),
        force=dict(type='bool', default=False),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[('state', 'present', ['memory']), ('state', 'running', ['memory']),
                                        ('state', 'stopped', ['memory'])])
    if LIBVIRT_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('libvirt-python (Debian: python3-libvirt)'),
                         exception=LIBVIRT_IMPORT_ERROR)
    conn = None
    try:
        conn = Connection(module.params['uri'])
        result = converge(module.params, conn, Storage(runner(module)), check_mode=module.check_mode)
    except (SpecError, GuestError) as exc:
        # A failure after earlier actions changed the node says so, and what they did.
        done = getattr(exc, 'done', [])
        module.fail_json(msg=str(exc) + (' Already done before the failure: %s.' % '; '.join(done) if done else ''),
                         field=exc.field, changed=bool(done), done=done)
    finally:
        if conn is not None:
            conn.close()
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
