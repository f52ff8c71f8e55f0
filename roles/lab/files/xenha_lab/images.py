# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node images: Debian 12 built with debootstrap, assembled into a bootable disk with GRUB, cached by recipe."""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import subprocess
import tempfile
import time

from xenha_lab import payload_cache
from xenha_lab.common import out, run, write


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
    recipe = (inspect.getsource(build_rootfs) + inspect.getsource(assemble_disk) + FIRSTBOOT + FIRSTBOOT_UNIT
              + inspect.getsource(payload_cache))
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
    # Emulated CPUs make recompiling each task's Ansible payload cost seconds per task (payload_cache).
    dist_packages = os.path.join(root, 'usr/lib/python3/dist-packages')
    write(os.path.join(dist_packages, 'xenha_lab_payload_cache.py'), inspect.getsource(payload_cache))
    write(os.path.join(dist_packages, 'xenha-lab-payload-cache.pth'),
          'import xenha_lab_payload_cache; xenha_lab_payload_cache.install()\n')
    # Set after the image's own initramfs (built for any hardware): the node's later builds, for a kernel
    # upgrade, take only the drivers of the emulated hardware it runs on; Debian's default (most) runs a
    # process per module, which on emulated CPUs made a kernel upgrade the longest step of a roll.
    write(os.path.join(root, 'etc/initramfs-tools/conf.d/xenha-lab-modules'), 'MODULES=dep\n')
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
    keep = images_in_use(args.dir) | {image}
    for name in os.listdir(images):  # older builds of this flavour
        path = os.path.join(images, name)
        if name.startswith(args.flavour + '-') and path not in keep:
            os.unlink(path)
    return out(changed=True, image=image, seconds=round(time.monotonic() - started, 1))


def images_in_use(lab_dir):
    """The images under node disks: the lab's (lab.json), whose nodes' overlays need it at their next
    power-on, and each saved lab's (`labctl.py save`), so that a newer build deletes neither."""
    found = set()
    saved = os.path.join(lab_dir, 'cache', 'saved')
    names = sorted(os.listdir(saved)) if os.path.isdir(saved) else []
    for config in [os.path.join(lab_dir, 'lab.json')] + [os.path.join(saved, n, 'lab.json') for n in names]:
        try:
            with open(config, encoding='utf-8') as handle:
                found.add(json.load(handle).get('image'))
        except (OSError, ValueError):
            pass
    return found - {None}


def cmd_mirrors(args):
    """The controller's Debian mirrors, for the guests' image (the guest_image role builds it)."""
    return out(changed=False, main=args.mirror, security=args.security_mirror)
