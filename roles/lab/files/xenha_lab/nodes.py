# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nodes: their QEMU command line, QMP, power, the host priority of their emulated CPUs, their cluster link."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

from xenha_lab.common import out, pid_alive, run
from xenha_lab.network import plug_tap, tap_name


# No XSAVE, hence none of the AVX family (QEMU keeps advertising those without XSAVE, and the kernel
# then dies on their instructions): with XSAVE, dom0's register state was corrupted once a guest
# shared the emulated CPU (sshd signatures failed, daemons crashed, the node got fenced).
CPU = 'max,xsave=off,avx=off,avx2=off,fma=off,f16c=off,vaes=off,vpclmulqdq=off'


def config_path(lab):
    return os.path.join(lab, 'lab.json')


def load_config(lab):
    with open(config_path(lab), encoding='utf-8') as handle:
        return json.load(handle)


def node_dir(lab, name):
    return os.path.join(lab, 'nodes', name)


# A small disk every node sees, apart from the guests' volume group, for the cluster role's optional second
# fencing level (SBD). Unused unless the inventory names it; attached in both shared-disk transports.
SBD_DISK = 'sbd.img'
SBD_DISK_MIB = 8


def ensure_sbd_disk(lab):
    """Create the SBD disk if this lab has none yet (a lab made before it existed gets it at a power-on)."""
    path = os.path.join(lab, SBD_DISK)
    if not os.path.exists(path):
        with open(path, 'wb') as handle:
            handle.truncate(SBD_DISK_MIB * 1024 * 1024)
    return path


def qemu_argv(lab, config, node):
    index = node['index']
    ndir = node_dir(lab, node['name'])
    fw = os.path.join(ndir, 'fw')
    argv = [
        'qemu-system-x86_64', '-name', node['name'],
        '-accel', 'tcg,thread=multi,tb-size=256', '-cpu', CPU,
        '-m', str(config['memory_mib']), '-smp', str(config['vcpus']),
        # The node's own disk boots first; the shared disk is only data.
        '-drive', 'file=%s,if=none,id=root,format=qcow2,cache=unsafe' % os.path.join(ndir, 'disk.qcow2'),
        '-device', 'virtio-blk-pci,drive=root,bootindex=0',
    ]
    if config.get('shared_disk_transport', 'virtio') == 'virtio':
        argv += [
            '-drive', 'file=%s,if=none,id=shared,format=raw,cache=none,file.locking=off'
            % os.path.join(lab, 'shared.img'),
            '-device', 'virtio-blk-pci,drive=shared,share-rw=on,serial=xenha-shared',
        ]
    argv += [
        '-drive', 'file=%s,if=none,id=sbd,format=raw,cache=none,file.locking=off' % os.path.join(lab, SBD_DISK),
        '-device', 'virtio-blk-pci,drive=sbd,share-rw=on,serial=xenha-sbd',
        '-netdev', 'user,id=mgmt,hostfwd=tcp:127.0.0.1:%d-:22' % node['ssh_port'],
        '-device', 'virtio-net-pci,netdev=mgmt,romfile=,mac=52:54:00:00:01:%02x' % index,
        # QEMU creates the tap in the host's namespace; power_on moves it onto the lab's switch.
        '-netdev', 'tap,id=cluster,ifname=%s,script=no,downscript=no,vnet_hdr=on' % tap_name(node['name']),
        '-device', 'virtio-net-pci,netdev=cluster,romfile=,mac=52:54:00:00:02:%02x' % index,
        '-display', 'none', '-serial', 'file:%s' % os.path.join(ndir, 'console.log'),
        '-qmp', 'unix:%s,server=on,wait=off' % os.path.join(ndir, 'qmp.sock'),
        '-pidfile', os.path.join(ndir, 'qemu.pid'), '-daemonize',
    ]
    for name in sorted(os.listdir(fw)):
        argv += ['-fw_cfg', 'name=opt/xenha/%s,file=%s' % (name, os.path.join(fw, name))]
    return argv


def qmp(sock_path, command, arguments=None, timeout=5.0):
    """One QMP command; async events in the stream are skipped."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(sock_path)
    reader = sock.makefile('r', encoding='utf-8')

    def reply():
        while True:
            line = reader.readline()
            if not line:
                raise ConnectionError('QMP closed')
            message = json.loads(line)
            if 'return' in message or 'error' in message:
                return message

    try:
        reader.readline()  # greeting
        sock.sendall(b'{"execute": "qmp_capabilities"}\n')
        reply()
        request = {'execute': command}
        if arguments:
            request['arguments'] = arguments
        sock.sendall(json.dumps(request).encode() + b'\n')
        try:
            return reply()
        except ConnectionError:
            if command == 'quit':
                return {'return': {}}
            raise
    finally:
        reader.close()
        sock.close()


def guest_cpu_threads(cpus):
    """Host thread ids of a node's emulated CPUs after the first (QMP query-cpus-fast). The first CPU is
    dom0's own (dom0_vcpus_pin, one dom0 vCPU); the guests run on the others (guests_cpuset)."""
    return [cpu['thread-id'] for cpu in sorted(cpus, key=lambda cpu: cpu['cpu-index']) if cpu['cpu-index'] > 0]


def thread_nice(pid, tid):
    """A host thread's nice, from /proc (field 19 of stat; the command name before it may hold spaces)."""
    with open('/proc/%d/task/%d/stat' % (pid, tid), encoding='ascii') as handle:
        return int(handle.read().rsplit(')', 1)[1].split()[16])


def set_thread_nice(thread_ids, nice):
    """On real hardware dom0's CPU is its own; here every emulated CPU is a host thread sharing two cores, and
    a busy guest took host time from dom0 until Pacemaker's daemons stopped answering. A higher host nice on
    the guests' CPUs hands dom0's CPU the host first, as a dedicated core would."""
    for tid in thread_ids:
        os.setpriority(os.PRIO_PROCESS, tid, nice)


class Node:
    """Power control of one node, shared by the BMC and the lab commands."""

    def __init__(self, lab, name):
        self.lab = lab
        self.config = load_config(lab)
        self.node = next(n for n in self.config['nodes'] if n['name'] == name)
        self.dir = node_dir(lab, name)
        self.pidfile = os.path.join(self.dir, 'qemu.pid')
        self.qmp_sock = os.path.join(self.dir, 'qmp.sock')
        # A cut cluster link is a cut cable: it stays cut while the node is off and after its next power-on.
        self.link_cut_file = os.path.join(self.dir, 'link-cut')

    def is_on(self):
        return bool(pid_alive(self.pidfile))

    def power_on(self):
        if self.is_on():
            return False
        ensure_sbd_disk(self.lab)
        run(qemu_argv(self.lab, self.config, self.node), stdout=subprocess.DEVNULL)
        plug_tap(tap_name(self.node['name']))
        if self.link_is_cut():
            qmp(self.qmp_sock, 'set_link', {'name': 'cluster', 'up': False})
        nice = self.config.get('guest_cpu_nice', 0)
        if nice:
            set_thread_nice(guest_cpu_threads(qmp(self.qmp_sock, 'query-cpus-fast')['return']), nice)
        return True

    def power_off(self, grace=3.0):
        """Hard power off, like pulling the plug: QMP quit, SIGKILL if QEMU lingers."""
        pid = pid_alive(self.pidfile)
        if not pid:
            return False
        try:
            qmp(self.qmp_sock, 'quit')
        except OSError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_alive(self.pidfile):
            time.sleep(0.05)
        if pid_alive(self.pidfile):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        return True

    def reset(self):
        qmp(self.qmp_sock, 'system_reset')

    def soft_off(self):
        qmp(self.qmp_sock, 'system_powerdown')

    def link_is_cut(self):
        return os.path.exists(self.link_cut_file)

    def set_link(self, up):
        """Cut or restore the node's cluster link, whether the node is on or off (a fenced node is off when the
        link comes back); a node that is off gets the link's state at its next power-on."""
        changed = self.link_is_cut() == bool(up)
        if up and self.link_is_cut():
            os.unlink(self.link_cut_file)
        elif not up and not self.link_is_cut():
            with open(self.link_cut_file, 'w', encoding='utf-8'):
                pass
        if self.is_on():
            qmp(self.qmp_sock, 'set_link', {'name': 'cluster', 'up': bool(up)})
        return changed

    def lose_shared_disk(self):
        """The shared disk fails on this node alone: QEMU drops the drive behind the virtio disk, and every read
        and write of the node's kernel then ends in an I/O error, as when a disk's path dies. Only a new QEMU
        (the node's next power-on) has the disk again."""
        if self.config.get('shared_disk_transport', 'virtio') != 'virtio':
            raise SystemExit('labctl: disk lose needs the virtio shared disk; with the iSCSI transport cut the '
                             "node's link to the storage box instead")
        if not self.is_on():
            raise SystemExit('labctl: %s is powered off' % self.node['name'])
        reply = qmp(self.qmp_sock, 'human-monitor-command', {'command-line': 'drive_del shared'})
        # HMP answers errors as text, in a successful QMP reply.
        if reply.get('return'):
            raise SystemExit('labctl: drive_del shared on %s: %s' % (self.node['name'], reply['return'].strip()))


def cmd_power(args):
    node = Node(args.dir, args.node)
    action = {'on': node.power_on, 'off': node.power_off}.get(args.action)
    if action:
        return out(changed=action())
    if args.action == 'reset':
        node.reset()
        return out(changed=True)
    return out(changed=False, power='on' if node.is_on() else 'off')


def cmd_cpus(args):
    """Each emulated CPU of a running node: its host thread and that thread's nice."""
    node = Node(args.dir, args.node)
    pid = pid_alive(node.pidfile)
    if not pid:
        raise SystemExit('labctl: %s is powered off' % args.node)
    cpus = sorted(qmp(node.qmp_sock, 'query-cpus-fast')['return'], key=lambda cpu: cpu['cpu-index'])
    return out(changed=False, cpus=[{'index': cpu['cpu-index'], 'thread': cpu['thread-id'],
                                     'nice': thread_nice(pid, cpu['thread-id'])} for cpu in cpus])


def cmd_link(args):
    return out(changed=Node(args.dir, args.node).set_link(args.state == 'up'))


def cmd_disk(args):
    Node(args.dir, args.node).lose_shared_disk()
    return out(changed=True)
