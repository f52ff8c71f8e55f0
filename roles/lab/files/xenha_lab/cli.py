# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated datacenter on one machine: QEMU (TCG) nodes booting Debian 12 from disk
with GRUB, a shared raw disk, a cluster network on a bridge in the lab's namespace (no host address), an
IPMI BMC per node on 127.0.0.1, and a client network namespace on the cluster network.
With --shared-disk-transport iscsi the shared disk is not attached to the nodes: an iSCSI
target (tgtd, CHAP) in a storage netns on the cluster network serves it instead.

Everything lives under one directory (--dir). Subcommands print one JSON line with
`changed`, so the lab role can report idempotence honestly.

Network rule: host-side traffic only goes to 127.0.0.1, to Debian's mirror (image builds
and apt inside the nodes, through QEMU user networking) and inside the lab's own netns.
"""
from __future__ import annotations

import argparse
import os

from xenha_lab import common
from xenha_lab.aptcache import cmd_apt_cache
from xenha_lab.bmc import cmd_bmc
from xenha_lab.images import cmd_image, cmd_mirrors, host_mirrors
from xenha_lab.lab import cmd_down, cmd_outage, cmd_status, cmd_up
from xenha_lab.nodes import cmd_cpus, cmd_disk, cmd_link, cmd_power
from xenha_lab.saved import cmd_restore, cmd_save


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dir', required=True, help='the lab directory')
    sub = parser.add_subparsers(dest='command', required=True)
    image = sub.add_parser('image', help='build (or reuse) a node image')
    image.add_argument('--flavour', choices=['plain', 'preloaded'], default='preloaded')
    image.add_argument('--mirror', help="Debian mirror (default: the controller's own apt source)")
    image.add_argument('--security-mirror', help="Debian security mirror (default: the controller's)")
    mirrors = sub.add_parser('mirrors', help="the controller's Debian mirrors, as the images use them")
    mirrors.add_argument('--mirror', help="Debian mirror (default: the controller's own apt source)")
    mirrors.add_argument('--security-mirror', help="Debian security mirror (default: the controller's)")
    up = sub.add_parser('up', help='start the lab')
    up.add_argument('--image', required=True)
    up.add_argument('--flavour', default='preloaded')
    up.add_argument('--nodes', type=int, default=2)
    up.add_argument('--memory', type=int, default=2048)
    up.add_argument('--vcpus', type=int, default=2, help='emulated CPUs per node')
    up.add_argument('--guest-cpu-nice', type=int, default=0, choices=range(0, 20), metavar='0-19',
                    help="host nice of every emulated CPU but the first (dom0's); 0: the same as dom0's")
    up.add_argument('--shared-disk', type=int, default=16384)
    up.add_argument('--shared-disk-transport', choices=['virtio', 'iscsi'], default='virtio',
                    help='virtio: attached to every node; iscsi: served by the lab\'s iSCSI target')
    up.add_argument('--ssh-base-port', type=int, default=22100)
    up.add_argument('--bmc-base-port', type=int, default=6230)
    up.add_argument('--wait', type=int, default=0, help='seconds to wait for SSH on every node')
    up.add_argument('--apt-cache-port', type=int, default=0,
                    help="keep the nodes' downloaded packages in cache/apt, served on 127.0.0.1:PORT (0: off)")
    apt_cache = sub.add_parser('apt-cache', help="the nodes' apt proxy (started by up)")
    apt_cache.add_argument('--port', type=int, required=True)
    apt_cache.add_argument('--allow', action='append', default=[], help='a mirror host the proxy may reach')
    down = sub.add_parser('down', help='stop the lab and remove everything but the image cache')
    down.add_argument('--purge', action='store_true', help='remove the image cache too')
    sub.add_parser('status')
    bmc = sub.add_parser('bmc')
    bmc.add_argument('node')
    bmc.add_argument('--user', default='admin')
    power = sub.add_parser('power')
    power.add_argument('node')
    power.add_argument('action', choices=['on', 'off', 'reset', 'status'])
    cpus = sub.add_parser('cpus', help="a running node's emulated CPUs: host thread and its nice")
    cpus.add_argument('node')
    link = sub.add_parser('link', help='cut or restore a node\'s cluster link')
    link.add_argument('node')
    link.add_argument('state', choices=['up', 'down'])
    disk = sub.add_parser('disk', help="the shared disk failing every I/O on one node (until its next power-on)")
    disk.add_argument('node')
    disk.add_argument('state', choices=['lose'])
    outage = sub.add_parser('outage', help="a node's power failure with its BMC (cut), or its BMC back (restore)")
    outage.add_argument('node')
    outage.add_argument('state', choices=['cut', 'restore'])
    save = sub.add_parser('save', help='keep the lab (every node off) in the image cache as NAME')
    save.add_argument('name')
    restore = sub.add_parser('restore', help='put a saved lab back in place of this one (every node off)')
    restore.add_argument('name')
    args = parser.parse_args(argv)
    # The JSON result goes to the real stdout; everything else (debootstrap, apt, QEMU) to stderr.
    common._RESULT = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    if os.geteuid() != 0 and args.command in ('image', 'up', 'down', 'save', 'restore'):
        parser.error('the lab needs root (debootstrap, chroot, network namespaces)')
    args.dir = os.path.abspath(args.dir)
    if getattr(args, 'image', None):
        args.image = os.path.abspath(args.image)
    if args.command in ('image', 'mirrors'):
        found = host_mirrors()
        args.mirror = args.mirror or found.get('main')
        args.security_mirror = args.security_mirror or found.get('security')
        if not args.mirror or not args.security_mirror:
            parser.error('no Debian mirror found in /etc/apt; give --mirror and --security-mirror')
    return {'image': cmd_image, 'mirrors': cmd_mirrors, 'up': cmd_up, 'down': cmd_down, 'status': cmd_status, 'bmc': cmd_bmc,
            'power': cmd_power, 'cpus': cmd_cpus, 'link': cmd_link, 'disk': cmd_disk, 'outage': cmd_outage,
            'apt-cache': cmd_apt_cache, 'save': cmd_save, 'restore': cmd_restore}[args.command](args)
