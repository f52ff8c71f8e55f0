#!/usr/bin/env python3
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated datacenter on one machine: QEMU (TCG) nodes booting Debian 12 from disk
with GRUB, a shared raw disk, a cluster network on a VDE switch (no host address), an
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
import hashlib
import http.server
import inspect
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SUITE = 'bookworm'
BASE_PACKAGES = [
    'linux-image-amd64', 'grub-pc', 'systemd-sysv', 'udev', 'openssh-server', 'python3', 'python3-apt',
    'iproute2', 'ifupdown', 'isc-dhcp-client', 'kmod', 'e2fsprogs', 'sudo', 'ca-certificates', 'gnupg',
    'iputils-ping', 'procps', 'less', 'lvm2', 'bridge-utils',
]
# What the roles would install; the preloaded flavour installs it at image build, natively.
PRELOAD_PACKAGES = [
    'xen-system-amd64', 'xen-tools', 'libvirt-daemon-system', 'libvirt-daemon-driver-xen', 'libvirt-clients',
    'python3-libvirt', 'pacemaker', 'corosync', 'crmsh', 'resource-agents', 'fence-agents',
    'lvm2-lockd', 'sanlock', 'ipmitool', 'qemu-utils',
]
IMAGE_SIZE_MIB = 8192
# No XSAVE, hence none of the AVX family (QEMU keeps advertising those without XSAVE, and the kernel
# then dies on their instructions): with XSAVE, dom0's register state was corrupted once a guest
# shared the emulated CPU (sshd signatures failed, daemons crashed, the node got fenced).
CPU = 'max,xsave=off,avx=off,avx2=off,fma=off,f16c=off,vaes=off,vpclmulqdq=off'
CLUSTER_NET = '10.0.0'
CLIENT_ADDRESS = CLUSTER_NET + '.254'
NETNS = 'xenha-lab-client'
# The storage box of the iSCSI transport: its own netns on the cluster network, not the client's.
SAN_NETNS = 'xenha-lab-san'
SAN_ADDRESS = CLUSTER_NET + '.253'
ISCSI_PORTAL = SAN_ADDRESS + ':3260'
ISCSI_TARGET = 'iqn.2026-11.lab.xenha:shared'
ISCSI_CHAP_USER = 'xenha-lab'

FIRSTBOOT = r'''#!/bin/sh
# Applies the node's identity from QEMU fw_cfg at every boot (hostname, SSH host key, the
# controller's key), adding to what roles wrote rather than replacing it; /etc/hosts and the
# cluster interface only at first boot, so that roles may change them later.
set -eu
modprobe qemu_fw_cfg 2>/dev/null || true  # built into some kernels: then there is nothing to load
fw=/sys/firmware/qemu_fw_cfg/by_name/opt/xenha
[ -d "$fw" ] || exit 0
get() { cat "$fw/$1/raw"; }
get hostname > /etc/hostname
hostname "$(cat /etc/hostname)"
install -d -m 700 /root/.ssh
touch /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
key=$(get authorized_keys)
grep -qxF "$key" /root/.ssh/authorized_keys || printf '%s\n' "$key" >> /root/.ssh/authorized_keys
get ssh_host_ed25519_key > /etc/ssh/ssh_host_ed25519_key
get ssh_host_ed25519_key.pub > /etc/ssh/ssh_host_ed25519_key.pub
chmod 600 /etc/ssh/ssh_host_ed25519_key
# The lab's apt cache on the controller (QEMU user networking maps 10.0.2.2 to its loopback).
if [ -e "$fw/apt_proxy" ]; then
  printf 'Acquire::http::Proxy "%s";\n' "$(get apt_proxy)" > /etc/apt/apt.conf.d/01xenha-lab-cache
else
  rm -f /etc/apt/apt.conf.d/01xenha-lab-cache
fi
if [ ! -e /etc/network/interfaces.d/cluster ]; then
  get hosts > /etc/hosts
  get cluster_interfaces > /etc/network/interfaces.d/cluster
fi
'''

FIRSTBOOT_UNIT = '''[Unit]
Description=Apply the lab node identity from QEMU fw_cfg
DefaultDependencies=no
After=local-fs.target
Before=network-pre.target ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/xenha-firstboot

[Install]
WantedBy=sysinit.target
'''


# The JSON result goes to the real stdout; everything else (debootstrap, apt, QEMU) to stderr.
_RESULT = sys.stdout


def out(**result):
    _RESULT.write(json.dumps(result, sort_keys=True) + '\n')
    _RESULT.flush()
    return 0


def run(args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(path, mode)


def pid_alive(pidfile):
    try:
        with open(pidfile, encoding='ascii') as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_pid(pidfile, grace=5.0):
    pid = pid_alive(pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_alive(pidfile):
            time.sleep(0.1)
        if pid_alive(pidfile):
            os.kill(pid, signal.SIGKILL)
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    return bool(pid)


# ---------------------------------------------------------------- images

def host_mirrors():
    """The controller's own Debian mirrors for SUITE and SUITE-security, from its apt sources."""
    found = {}
    paths = ['/etc/apt/sources.list']
    if os.path.isdir('/etc/apt/sources.list.d'):
        paths += sorted(os.path.join('/etc/apt/sources.list.d', n) for n in os.listdir('/etc/apt/sources.list.d')
                        if n.endswith(('.list', '.sources')))
    for path in paths:
        try:
            with open(path, encoding='utf-8') as handle:
                text = handle.read()
        except OSError:
            continue
        if path.endswith('.sources'):
            for stanza in text.split('\n\n'):
                fields = {}
                for line in stanza.splitlines():
                    if ':' in line and not line.startswith(('#', ' ')):
                        key, value = line.split(':', 1)
                        fields[key.strip().lower()] = value.split()
                for uri in fields.get('uris', []):
                    for suite in fields.get('suites', []):
                        _note_mirror(found, uri, suite)
        else:
            for line in text.splitlines():
                words = line.split()
                if len(words) >= 3 and words[0] == 'deb':
                    words = [w for w in words if not w.startswith('[')]
                    _note_mirror(found, words[1], words[2])
    return found


def _note_mirror(found, uri, suite):
    if suite == SUITE:
        found.setdefault('main', uri)
    elif suite == SUITE + '-security':
        found.setdefault('security', uri)


def image_inputs(flavour, mirror):
    """What an image depends on; a change of any of it rebuilds the image."""
    recipe = inspect.getsource(build_rootfs) + inspect.getsource(assemble_disk) + FIRSTBOOT + FIRSTBOOT_UNIT
    digest = hashlib.sha256(recipe.encode() + json.dumps([flavour, mirror, SUITE, BASE_PACKAGES, PRELOAD_PACKAGES,
                                                          IMAGE_SIZE_MIB]).encode()).hexdigest()
    return digest[:12]


def chroot(root, command):
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive', LC_ALL='C.UTF-8')
    run(['chroot', root, 'sh', '-c', command], env=env)


def build_rootfs(root, flavour, mirror, security_mirror, cache):
    os.makedirs(cache, exist_ok=True)
    run(['debootstrap', '--variant=minbase', '--cache-dir=' + cache, '--include=' + ','.join(BASE_PACKAGES),
         SUITE, root, mirror], stdout=subprocess.DEVNULL)
    write(os.path.join(root, 'etc/apt/sources.list'),
          'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n'
          % (mirror, SUITE, mirror, SUITE, security_mirror, SUITE))
    if flavour == 'preloaded':
        # Daemons must not start in the chroot, and update-grub cannot see a disk there;
        # both run for real inside the node.
        write(os.path.join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', 0o755)
        chroot(root, 'dpkg-divert --local --rename --add /usr/sbin/update-grub && ln -s /bin/true /usr/sbin/update-grub')
        run(['mount', '-t', 'proc', 'proc', os.path.join(root, 'proc')])
        try:
            chroot(root, 'apt-get update -q && apt-get install -y -q --no-install-recommends %s'
                   % ' '.join(PRELOAD_PACKAGES))
        finally:
            run(['umount', os.path.join(root, 'proc')])
        chroot(root, 'rm /usr/sbin/update-grub && dpkg-divert --local --rename --remove /usr/sbin/update-grub')
        os.unlink(os.path.join(root, 'usr/sbin/policy-rc.d'))
    chroot(root, 'apt-get clean')
    write(os.path.join(root, 'etc/fstab'), 'LABEL=root / ext4 errors=remount-ro 0 1\n')
    write(os.path.join(root, 'etc/network/interfaces'),
          'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n'
          '# management: QEMU user networking (SSH port forward, apt)\nauto eth0\niface eth0 inet dhcp\n')
    write(os.path.join(root, 'etc/default/grub'),
          'GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\nGRUB_DISTRIBUTOR=Debian\n'
          'GRUB_CMDLINE_LINUX_DEFAULT=""\nGRUB_CMDLINE_LINUX="net.ifnames=0 console=ttyS0"\n'
          'GRUB_TERMINAL=serial\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n')
    write(os.path.join(root, 'usr/local/sbin/xenha-firstboot'), FIRSTBOOT, 0o755)
    write(os.path.join(root, 'etc/systemd/system/xenha-firstboot.service'), FIRSTBOOT_UNIT)
    os.makedirs(os.path.join(root, 'etc/systemd/system/sysinit.target.wants'), exist_ok=True)
    link = os.path.join(root, 'etc/systemd/system/sysinit.target.wants/xenha-firstboot.service')
    if not os.path.lexists(link):
        os.symlink('/etc/systemd/system/xenha-firstboot.service', link)
    write(os.path.join(root, 'etc/ssh/sshd_config.d/xenha-lab.conf'),
          'HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n')
    for name in os.listdir(os.path.join(root, 'etc/ssh')):
        if name.startswith('ssh_host_'):
            os.unlink(os.path.join(root, 'etc/ssh', name))
    # Empty machine-id: systemd makes a fresh one per node (cloned dom0s need distinct ones).
    write(os.path.join(root, 'etc/machine-id'), '')
    if os.path.exists(os.path.join(root, 'var/lib/dbus/machine-id')):
        os.unlink(os.path.join(root, 'var/lib/dbus/machine-id'))
    # What grub-install would put there: the modules that update-grub's menu loads at boot.
    shutil.copytree(os.path.join(root, 'usr/lib/grub/i386-pc'), os.path.join(root, 'boot/grub/i386-pc'),
                    dirs_exist_ok=True)
    kernel = sorted(n for n in os.listdir(os.path.join(root, 'boot')) if n.startswith('vmlinuz-'))[-1]
    version = kernel[len('vmlinuz-'):]
    # First boot menu; update-grub inside the node replaces it (the hypervisor role adds Xen).
    write(os.path.join(root, 'boot/grub/grub.cfg'),
          'serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\nset timeout=1\n'
          'menuentry "Debian GNU/Linux" {\n  search --no-floppy --label --set=root root\n'
          '  linux /boot/vmlinuz-%s root=LABEL=root ro net.ifnames=0 console=ttyS0\n'
          '  initrd /boot/initrd.img-%s\n}\n' % (version, version))


def assemble_disk(root, image, workdir):
    """A bootable MBR disk without loop devices: an ext4 partition filled with mkfs -d,
    GRUB's boot.img in the MBR and a core.img in the gap before the partition."""
    part = os.path.join(workdir, 'part.img')
    with open(part, 'wb') as handle:
        handle.truncate(IMAGE_SIZE_MIB * 1024 * 1024)
    run(['mkfs.ext4', '-q', '-F', '-L', 'root', '-d', root, part])
    with open(image, 'wb') as handle:
        handle.truncate((IMAGE_SIZE_MIB + 1) * 1024 * 1024)
    run(['sfdisk', '-q', image], input=b'start=2048, type=83, bootable\n')
    run(['dd', 'if=' + part, 'of=' + image, 'bs=1M', 'seek=1', 'conv=sparse,notrunc', 'status=none'])
    os.unlink(part)
    core = os.path.join(workdir, 'core.img')
    run(['grub-mkimage', '-O', 'i386-pc', '-p', '(hd0,msdos1)/boot/grub', '-o', core,
         'biosdisk', 'part_msdos', 'ext2', 'normal', 'linux', 'multiboot2', 'configfile', 'search',
         'search_label', 'serial', 'terminal', 'echo', 'gzio', 'test'])
    run(['dd', 'if=/usr/lib/grub/i386-pc/boot.img', 'of=' + image, 'bs=440', 'count=1', 'conv=notrunc',
         'status=none'])
    run(['dd', 'if=' + core, 'of=' + image, 'bs=512', 'seek=1', 'conv=notrunc', 'status=none'])


def cmd_image(args):
    images = os.path.join(args.dir, 'cache', 'images')
    os.makedirs(images, exist_ok=True)
    image = os.path.join(images, '%s-%s.img' % (args.flavour, image_inputs(args.flavour, args.mirror)))
    if os.path.exists(image):
        return out(changed=False, image=image)
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix='build-', dir=images)
    try:
        root = os.path.join(workdir, 'rootfs')
        build_rootfs(root, args.flavour, args.mirror, args.security_mirror, os.path.join(args.dir, 'cache', 'debs'))
        assemble_disk(root, image + '.part', workdir)
        os.rename(image + '.part', image)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name in os.listdir(images):  # older builds of this flavour
        if name.startswith(args.flavour + '-') and os.path.join(images, name) != image:
            os.unlink(os.path.join(images, name))
    return out(changed=True, image=image, seconds=round(time.monotonic() - started, 1))


def cmd_mirrors(args):
    """The controller's Debian mirrors, for the guests' image (the guest_image role builds it)."""
    return out(changed=False, main=args.mirror, security=args.security_mirror)


# ---------------------------------------------------------------- nodes

def config_path(lab):
    return os.path.join(lab, 'lab.json')


def load_config(lab):
    with open(config_path(lab), encoding='utf-8') as handle:
        return json.load(handle)


def node_dir(lab, name):
    return os.path.join(lab, 'nodes', name)


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
        '-netdev', 'user,id=mgmt,hostfwd=tcp:127.0.0.1:%d-:22' % node['ssh_port'],
        '-device', 'virtio-net-pci,netdev=mgmt,romfile=,mac=52:54:00:00:01:%02x' % index,
        '-netdev', 'vde,id=cluster,sock=%s' % os.path.join(lab, 'cluster.vde'),
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

    def is_on(self):
        return bool(pid_alive(self.pidfile))

    def power_on(self):
        if self.is_on():
            return False
        run(qemu_argv(self.lab, self.config, self.node), stdout=subprocess.DEVNULL)
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

    def set_link(self, up):
        qmp(self.qmp_sock, 'set_link', {'name': 'cluster', 'up': bool(up)})


def cmd_bmc(args):
    """An IPMI BMC for one node on 127.0.0.1 (runs in the foreground; `up` daemonises it)."""
    from pyghmi.ipmi import bmc as pyghmi_bmc

    node = Node(args.dir, args.node)
    with open(os.path.join(args.dir, 'secrets', 'bmc-password'), encoding='utf-8') as handle:
        password = handle.read().strip()

    class NodeBmc(pyghmi_bmc.Bmc):
        def get_power_state(self):
            return 'on' if node.is_on() else 'off'

        def power_on(self):
            node.power_on()

        def power_off(self):
            node.power_off()

        def power_reset(self):
            if not node.is_on():
                return 0xd5  # not supported in present state: IPMI says so for a reset while off
            node.reset()
            return None

        def power_cycle(self):
            node.power_off()
            node.power_on()

        def power_shutdown(self):
            if node.is_on():
                node.soft_off()

        def cold_reset(self):
            pass

    server = NodeBmc({args.user: password}, port=node.node['bmc_port'], address='127.0.0.1')
    server.listen()
    return 0


# ---------------------------------------------------------------- apt cache

def cached_name(url):
    """Where a package file is kept in the cache, or None for what must always come from the mirror
    (indexes change; files under pool/ never do once published)."""
    parts = urllib.parse.urlsplit(url)
    segments = parts.path.split('/')
    if (parts.scheme != 'http' or parts.query or '/pool/' not in parts.path or '..' in segments
            or not parts.path.endswith(('.deb', '.udeb'))):
        return None
    return os.path.join(parts.hostname, *[seg for seg in segments if seg])


class AptCacheHandler(http.server.BaseHTTPRequestHandler):
    """An HTTP proxy for the nodes' apt: package files are kept in the lab's cache and served from it
    the next time; everything else is passed through. Only the Debian mirrors are ever contacted."""
    protocol_version = 'HTTP/1.1'
    FORWARDED = ('If-Modified-Since', 'If-None-Match', 'Range', 'If-Range')
    RELAYED = ('Content-Type', 'Last-Modified', 'ETag', 'Content-Range', 'Accept-Ranges')

    def do_GET(self):
        self.serve(send_body=True)

    def do_HEAD(self):
        self.serve(send_body=False)

    def serve(self, send_body):
        host = urllib.parse.urlsplit(self.path).hostname
        if host not in self.server.allowed:
            return self.reply(403, {}, b'the lab apt cache only reaches the Debian mirror\n', send_body)
        name = cached_name(self.path)
        if name is None:
            return self.reply(*self.upstream(self.path, forward=True), send_body=send_body)
        path = os.path.join(self.server.cache_dir, name)
        if not os.path.exists(path):
            status, headers, body = self.upstream(self.path, forward=False)
            if status != 200:
                return self.reply(status, headers, body, send_body)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), delete=False) as partial:
                partial.write(body)
            os.replace(partial.name, path)
            self.server.stats['fetched'] += 1
        else:
            self.server.stats['hits'] += 1
        with open(path, 'rb') as handle:
            body = handle.read()
        return self.reply(200, {'Content-Type': 'application/vnd.debian.binary-package'}, body, send_body)

    def upstream(self, url, forward):
        headers = {k: self.headers[k] for k in self.FORWARDED if forward and self.headers.get(k)}
        request = urllib.request.Request(url, headers=headers, method='GET')
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()
        except (OSError, ValueError) as error:
            return 502, {}, ('upstream: %s\n' % error).encode()

    def reply(self, status, headers, body, send_body):
        self.send_response(status)
        for key in self.RELAYED:
            if headers.get(key):
                self.send_header(key, headers[key])
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if send_body and status not in (204, 304):
            self.wfile.write(body)


def apt_cache_server(cache_dir, port, allowed, address='127.0.0.1'):
    server = http.server.ThreadingHTTPServer((address, port), AptCacheHandler)
    server.daemon_threads = True
    server.cache_dir, server.allowed, server.stats = cache_dir, set(allowed), {'hits': 0, 'fetched': 0}
    return server


def wait_listening(port, log, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit('labctl: nothing listens on 127.0.0.1:%d (is the port taken?); see %s' % (port, log))
            time.sleep(0.2)


def cmd_apt_cache(args):
    cache_dir = os.path.join(args.dir, 'cache', 'apt')
    os.makedirs(cache_dir, exist_ok=True)
    apt_cache_server(cache_dir, args.port, args.allow).serve_forever()


def keygen(path, comment):
    if not os.path.exists(path):
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path])


def prepare(args):
    """Write lab.json, keys, secrets, node disks and fw_cfg files. Returns True when anything changed."""
    lab = args.dir
    names = ['node%d' % i for i in range(1, args.nodes + 1)]
    config = {
        'memory_mib': args.memory, 'vcpus': args.vcpus, 'flavour': args.flavour, 'image': args.image,
        'shared_disk_mib': args.shared_disk, 'shared_disk_transport': args.shared_disk_transport,
        'apt_cache_port': args.apt_cache_port, 'guest_cpu_nice': args.guest_cpu_nice,
        'nodes': [{'name': n, 'index': i + 1, 'ssh_port': args.ssh_base_port + i + 1,
                   'bmc_port': args.bmc_base_port + i + 1, 'cluster_ip': '%s.%d' % (CLUSTER_NET, i + 1)}
                  for i, n in enumerate(names)],
    }
    changed = False
    try:
        old = load_config(lab)
    except (OSError, ValueError):
        old = None
    if old != config:
        if old is not None and any(Node(lab, n['name']).is_on() for n in old['nodes']):
            raise SystemExit('labctl: the lab runs with other settings; take it down first (lab_state=absent)')
        write(config_path(lab), json.dumps(config, indent=2, sort_keys=True) + '\n')
        changed = True
    secrets_dir = os.path.join(lab, 'secrets')
    os.makedirs(secrets_dir, mode=0o700, exist_ok=True)
    keygen(os.path.join(secrets_dir, 'id_ed25519'), 'xenha-lab-controller')
    password_file = os.path.join(secrets_dir, 'bmc-password')
    if not os.path.exists(password_file):
        write(password_file, secrets.token_urlsafe(12) + '\n', 0o600)  # IPMI 2.0 passwords: at most 20 bytes
        changed = True
    chap_file = os.path.join(secrets_dir, 'iscsi-chap-password')
    if args.shared_disk_transport == 'iscsi' and not os.path.exists(chap_file):
        write(chap_file, secrets.token_urlsafe(12) + '\n', 0o600)  # 16 characters: what most targets accept
        changed = True
    with open(os.path.join(secrets_dir, 'id_ed25519.pub'), encoding='utf-8') as handle:
        authorized = handle.read()
    shared = os.path.join(lab, 'shared.img')
    if not os.path.exists(shared):
        with open(shared, 'wb') as handle:
            handle.truncate(args.shared_disk * 1024 * 1024)
        changed = True
    hosts = '127.0.0.1 localhost\n' + ''.join('%s %s\n' % (n['cluster_ip'], n['name']) for n in config['nodes'])
    hosts += '%s client\n' % CLIENT_ADDRESS
    if args.shared_disk_transport == 'iscsi':
        hosts += '%s san\n' % SAN_ADDRESS
    known = []
    for node in config['nodes']:
        ndir = node_dir(lab, node['name'])
        fw = os.path.join(ndir, 'fw')
        os.makedirs(fw, exist_ok=True)
        keygen(os.path.join(ndir, 'ssh_host_ed25519_key'), 'root@' + node['name'])
        files = {
            'hostname': node['name'] + '\n',
            'hosts': hosts,
            'authorized_keys': authorized,
            'cluster_interfaces': '# cluster network (VDE switch)\nauto eth1\niface eth1 inet static\n'
                                  '  address %s/24\n' % node['cluster_ip'],
        }
        for key in ('ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'):
            with open(os.path.join(ndir, key), encoding='utf-8') as handle:
                files[key] = handle.read()
        apt_proxy = os.path.join(fw, 'apt_proxy')
        if args.apt_cache_port:
            files['apt_proxy'] = 'http://10.0.2.2:%d' % args.apt_cache_port
        elif os.path.exists(apt_proxy):
            os.unlink(apt_proxy)
            changed = True
        for name, text in files.items():
            path = os.path.join(fw, name)
            try:
                with open(path, encoding='utf-8') as handle:
                    same = handle.read() == text
            except OSError:
                same = False
            if not same:
                write(path, text, 0o600)
                changed = True
        disk = os.path.join(ndir, 'disk.qcow2')
        if not os.path.exists(disk):
            run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', args.image, disk])
            changed = True
        with open(os.path.join(ndir, 'ssh_host_ed25519_key.pub'), encoding='utf-8') as handle:
            known.append('[127.0.0.1]:%d %s' % (node['ssh_port'], ' '.join(handle.read().split()[:2])))
    write(os.path.join(lab, 'known_hosts'), '\n'.join(known) + '\n')
    write(os.path.join(lab, 'ssh_config'), ssh_config(lab, config['nodes']))
    return changed


def ssh_config(lab, nodes):
    """`ssh -F lab-state/ssh_config node1`: the nodes by name, key-only, host keys pinned. The checks use it
    too: one multiplexed SSH connection per node answers a command in well under a second, where a command
    run through Ansible costs seconds of an emulated CPU."""
    # %C (a hash of the connection) keeps the socket path short whatever the lab's directory.
    common = ('  HostName 127.0.0.1\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n'
              '  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n'
              '  ControlMaster auto\n  ControlPath /tmp/xenha-lab-%%C\n  ControlPersist 300\n'
              '  ServerAliveInterval 15\n  ServerAliveCountMax 8\n'
              % (os.path.join(lab, 'secrets', 'id_ed25519'), os.path.join(lab, 'known_hosts')))
    return ''.join('Host %s\n  Port %d\n%s' % (node['name'], node['ssh_port'], common) for node in nodes)


def start_daemon(pidfile, argv, logfile, env=None):
    if pid_alive(pidfile):
        return False
    with open(logfile, 'ab') as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                env=env)
    write(pidfile, '%d\n' % proc.pid)
    return True


def netns_exists(name=NETNS):
    return name in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=False).stdout.split()


def start_netns(lab, name, address, pidfile):
    """A netns whose tap (lab0) sits on the cluster network's VDE switch."""
    changed = False
    if not netns_exists(name):
        run(['ip', 'netns', 'add', name])
        changed = True
    if not pid_alive(pidfile):
        # vde_plug2tap creates the tap in the namespace it runs in.
        run(['ip', 'netns', 'exec', name, 'vde_plug2tap', '--daemon', '--pidfile', pidfile,
             '--sock', os.path.join(lab, 'cluster.vde'), 'lab0'])
        for _attempt in range(50):
            if subprocess.run(['ip', '-n', name, 'link', 'show', 'lab0'], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.1)
        run(['ip', '-n', name, 'link', 'set', 'lo', 'up'])
        run(['ip', '-n', name, 'addr', 'replace', address + '/24', 'dev', 'lab0'])
        run(['ip', '-n', name, 'link', 'set', 'lab0', 'up'])
        changed = True
    return changed


def start_client(lab):
    """The demo's laptop."""
    # The client's Python for Ansible: one executable path (an interpreter with arguments fails).
    write(os.path.join(lab, 'client-python'), '#!/bin/sh\nexec ip netns exec %s /usr/bin/python3 "$@"\n' % NETNS,
          0o755)
    return start_netns(lab, NETNS, CLIENT_ADDRESS, os.path.join(lab, 'run', 'client-plug.pid'))


def tgt_programs(lab):
    """tgtd and tgtadm: the host's, else unpacked from Debian's tgt package into the lab's cache (installing
    the package would also start a system-wide target on every interface)."""
    if os.path.exists('/usr/sbin/tgtd') and os.path.exists('/usr/sbin/tgtadm'):
        return '/usr/sbin/tgtd', '/usr/sbin/tgtadm'
    root = os.path.join(lab, 'cache', 'tgt')
    tgtd, tgtadm = os.path.join(root, 'usr/sbin/tgtd'), os.path.join(root, 'usr/sbin/tgtadm')
    if not os.path.exists(tgtd):
        with tempfile.TemporaryDirectory(dir=lab) as tmp:
            run(['apt-get', 'download', 'tgt'], cwd=tmp, stdout=subprocess.DEVNULL)
            debs = [name for name in os.listdir(tmp) if name.endswith('.deb')]
            run(['dpkg-deb', '-x', os.path.join(tmp, debs[0]), root])
    return tgtd, tgtadm


def start_san(lab):
    """The iSCSI storage box: tgtd in its own netns, one target, LUN 1 = shared.img, CHAP required."""
    changed = start_netns(lab, SAN_NETNS, SAN_ADDRESS, os.path.join(lab, 'run', 'san-plug.pid'))
    tgtd, tgtadm = tgt_programs(lab)
    # tgtd's control socket lives in the lab (its default is /run/tgtd).
    env = dict(os.environ, TGT_IPC_SOCKET=os.path.join(lab, 'run', 'tgtd'))
    started = start_daemon(os.path.join(lab, 'run', 'tgtd.pid'),
                           ['ip', 'netns', 'exec', SAN_NETNS, tgtd, '-f', '--iscsi', 'portal=' + ISCSI_PORTAL],
                           os.path.join(lab, 'tgtd.log'), env)
    if not started:
        return changed

    def tgtadm_run(*args):
        deadline = time.monotonic() + 10
        while True:
            result = subprocess.run([tgtadm, '--lld', 'iscsi'] + list(args), env=env, capture_output=True, text=True,
                                    check=False)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # tgtd is still creating its socket
        if result.returncode:
            raise SystemExit('labctl: tgtadm %s: %s; see %s/tgtd.log' % (' '.join(args[:4]), result.stderr, lab))

    with open(os.path.join(lab, 'secrets', 'iscsi-chap-password'), encoding='utf-8') as handle:
        password = handle.read().strip()
    tgtadm_run('--op', 'new', '--mode', 'target', '--tid', '1', '-T', ISCSI_TARGET)
    tgtadm_run('--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1',
               '-b', os.path.join(lab, 'shared.img'))
    tgtadm_run('--op', 'new', '--mode', 'account', '--user', ISCSI_CHAP_USER, '--password', password)
    tgtadm_run('--op', 'bind', '--mode', 'account', '--tid', '1', '--user', ISCSI_CHAP_USER)
    # Only the cluster network reaches this netns; CHAP decides who logs in.
    tgtadm_run('--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL')
    return True


def wait_ssh(lab, nodes, timeout):
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending and time.monotonic() < deadline:
        for node in list(pending):
            # No master connection: a booting node's first answer should not be kept open for later commands.
            probe = subprocess.run(
                ['ssh', '-F', os.path.join(lab, 'ssh_config'), '-o', 'ConnectTimeout=3', '-o', 'ControlMaster=no',
                 node['name'], 'true'], capture_output=True, check=False)
            if probe.returncode == 0:
                pending.remove(node)
        if pending:
            time.sleep(2)
    if pending:
        raise SystemExit('labctl: no SSH from %s after %d s; see %s/nodes/<node>/console.log'
                         % (', '.join(n['name'] for n in pending), timeout, lab))


def cmd_up(args):
    started = time.monotonic()
    lab = args.dir
    os.makedirs(os.path.join(lab, 'run'), exist_ok=True)
    changed = prepare(args)
    config = load_config(lab)
    switch_pid = os.path.join(lab, 'run', 'vde_switch.pid')
    if not pid_alive(switch_pid):
        run(['vde_switch', '--sock', os.path.join(lab, 'cluster.vde'), '--daemon', '--pidfile', switch_pid,
             '--mod', '700'])
        changed = True
    changed |= start_client(lab)
    if config.get('shared_disk_transport') == 'iscsi':
        changed |= start_san(lab)
    if config.get('apt_cache_port'):
        hosts = sorted({urllib.parse.urlsplit(uri).hostname for uri in host_mirrors().values()})
        changed |= start_daemon(os.path.join(lab, 'run', 'apt-cache.pid'),
                                [sys.executable, os.path.abspath(__file__), '--dir', lab, 'apt-cache',
                                 '--port', str(config['apt_cache_port'])] + ['--allow=' + h for h in hosts],
                                os.path.join(lab, 'apt-cache.log'))
        wait_listening(config['apt_cache_port'], os.path.join(lab, 'apt-cache.log'))
    for node in config['nodes']:
        changed |= start_daemon(os.path.join(lab, 'run', 'bmc-%s.pid' % node['name']),
                                [sys.executable, os.path.abspath(__file__), '--dir', lab, 'bmc', node['name']],
                                os.path.join(node_dir(lab, node['name']), 'bmc.log'))
    powered = [n for n in config['nodes'] if Node(lab, n['name']).power_on()]
    changed |= bool(powered)
    if args.wait:
        wait_ssh(lab, config['nodes'], args.wait)
    return out(changed=changed, powered_on=[n['name'] for n in powered],
               seconds=round(time.monotonic() - started, 1))


def cmd_down(args):
    lab = args.dir
    changed = False
    if os.path.exists(config_path(lab)):
        config = load_config(lab)
        for node in config['nodes']:
            changed |= Node(lab, node['name']).power_off()
            changed |= stop_pid(os.path.join(lab, 'run', 'bmc-%s.pid' % node['name']))
    changed |= stop_pid(os.path.join(lab, 'run', 'apt-cache.pid'))
    changed |= stop_pid(os.path.join(lab, 'run', 'tgtd.pid'))
    for plug in ('client-plug.pid', 'san-plug.pid', 'vde_switch.pid'):
        changed |= stop_pid(os.path.join(lab, 'run', plug))
    for name in (NETNS, SAN_NETNS):
        if netns_exists(name):
            run(['ip', 'netns', 'delete', name])
            changed = True
    keep = {'cache'} if not args.purge else set()
    if os.path.isdir(lab):
        for name in os.listdir(lab):
            if name not in keep:
                path = os.path.join(lab, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                changed = True
        if args.purge:
            os.rmdir(lab)
    return out(changed=changed)


def cmd_status(args):
    config = load_config(args.dir)
    nodes = {n['name']: {'power': 'on' if Node(args.dir, n['name']).is_on() else 'off',
                         'ssh_port': n['ssh_port'], 'bmc_port': n['bmc_port'], 'cluster_ip': n['cluster_ip']}
             for n in config['nodes']}
    return out(changed=False, nodes=nodes, client=netns_exists())


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
    Node(args.dir, args.node).set_link(args.state == 'up')
    return out(changed=True)


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
    args = parser.parse_args(argv)
    global _RESULT
    _RESULT = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    if os.geteuid() != 0 and args.command in ('image', 'up', 'down'):
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
            'power': cmd_power, 'cpus': cmd_cpus, 'link': cmd_link, 'apt-cache': cmd_apt_cache}[args.command](args)


if __name__ == '__main__':
    sys.exit(main())
