"""The guests' golden image recipe (labctl.py build_guest_rootfs), with debootstrap and the chroot recorded
instead of run: what the initramfs loads, which units are masked, and that a change rebuilds the image."""
from __future__ import annotations

import os

from lab_script import load_labctl

labctl = load_labctl()


def build(tmp_path, monkeypatch):
    root = str(tmp_path / 'rootfs')
    os.makedirs(os.path.join(root, 'boot'))
    os.makedirs(os.path.join(root, 'etc', 'ssh'))
    open(os.path.join(root, 'boot', 'vmlinuz-6.1.0-99-amd64'), 'w').close()
    commands = []
    monkeypatch.setattr(labctl, 'run', lambda argv, **kwargs: commands.append(argv))
    monkeypatch.setattr(labctl, 'chroot', lambda where, command: commands.append(command))
    version = labctl.build_guest_rootfs(root, 'http://deb.example', 'http://security.example', str(tmp_path / 'c'))
    return root, version, commands


def test_the_initramfs_loads_both_xen_frontends_so_the_network_does_not_wait_for_udev(tmp_path, monkeypatch):
    root, version, commands = build(tmp_path, monkeypatch)
    with open(os.path.join(root, 'etc/initramfs-tools/modules')) as handle:
        modules = handle.read().split()
    assert 'xen-blkfront' in modules and 'xen-netfront' in modules
    assert version == '6.1.0-99-amd64'
    assert 'depmod 6.1.0-99-amd64 && update-initramfs -u -k 6.1.0-99-amd64' in commands


def test_units_with_nothing_to_do_in_a_guest_are_masked(tmp_path, monkeypatch):
    _image, _cached, commands = build(tmp_path, monkeypatch)
    assert 'systemctl mask e2scrub_reap.service e2scrub_all.timer' in commands


def test_a_different_module_list_makes_a_different_image(monkeypatch):
    before = labctl.guest_image_inputs('http://deb.example')
    monkeypatch.setattr(labctl, 'GUEST_INITRAMFS_MODULES', ['xen-blkfront', 'ext4'])
    assert labctl.guest_image_inputs('http://deb.example') != before
