"""The guests' golden image recipe (roles/guest_image/files/build-guest-image), with mmdebstrap and the chroot
recorded instead of run: what the initramfs loads, which units are masked, what the image must not keep, and
that a changed recipe makes another image while the proxy does not."""
from __future__ import annotations

import os

import yaml
from lab_script import ROLES, load_role_script

builder = load_role_script('guest_image', 'build-guest-image')


def role_recipe():
    """The recipe the role hands the builder, from its defaults and internal vars."""
    with open(os.path.join(ROLES, 'guest_image', 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(ROLES, 'guest_image', 'vars', 'main.yml')) as handle:
        internal = yaml.safe_load(handle)
    return {'suite': defaults['guest_image_suite'], 'mirror': 'http://deb.example/debian',
            'security_mirror': 'http://deb.example/debian-security', 'proxy': 'http://127.0.0.1:3142',
            'packages': defaults['guest_image_packages'], 'size_mib': defaults['guest_image_size_mib'],
            'service_units': internal['__guest_image_service_units'],
            'initramfs_modules': internal['__guest_image_initramfs_modules'],
            'masked_units': internal['__guest_image_masked_units'],
            'unused_modules': internal['__guest_image_unused_modules']}


def build(tmp_path, monkeypatch):
    root = str(tmp_path / 'rootfs')
    commands = []

    def fake_mmdebstrap(argv, **_kwargs):
        commands.append(argv)
        if argv[0] == 'mmdebstrap':  # what mmdebstrap leaves: a kernel, host keys, its own apt options
            for folder in ('boot', 'etc/ssh', 'etc/apt/apt.conf.d', 'lib/modules/6.1.0-99-amd64/kernel/sound'):
                os.makedirs(os.path.join(root, folder), exist_ok=True)
            for name in ('boot/vmlinuz-6.1.0-99-amd64', 'etc/ssh/ssh_host_ed25519_key', 'etc/apt/apt.conf.d/99mmdebstrap'):
                open(os.path.join(root, name), 'w').close()

    monkeypatch.setattr(builder, 'run', fake_mmdebstrap)
    monkeypatch.setattr(builder, 'chroot', lambda where, command: commands.append(command))
    version = builder.build_rootfs(root, role_recipe())
    return root, version, commands


def test_mmdebstrap_installs_the_catalogue_from_the_mirrors_without_recommends(tmp_path, monkeypatch):
    _root, _version, commands = build(tmp_path, monkeypatch)
    mmdebstrap = commands[0]
    assert mmdebstrap[0] == 'mmdebstrap' and '--variant=minbase' in mmdebstrap
    assert '--aptopt=APT::Install-Recommends "false"' in mmdebstrap
    assert '--aptopt=Acquire::http::Proxy "http://127.0.0.1:3142"' in mmdebstrap
    included = next(a for a in mmdebstrap if a.startswith('--include=')).split('=', 1)[1].split(',')
    assert {'apache2', 'icecast2', 'xrdp', 'bzflag-server', 'isc-dhcp-server', 'openssh-server'} <= set(included)
    assert mmdebstrap[-3:] == ['deb http://deb.example/debian bookworm main',
                               'deb http://deb.example/debian bookworm-updates main',
                               'deb http://deb.example/debian-security bookworm-security main']


def test_the_initramfs_loads_both_xen_frontends_so_the_network_does_not_wait_for_udev(tmp_path, monkeypatch):
    root, version, commands = build(tmp_path, monkeypatch)
    with open(os.path.join(root, 'etc/initramfs-tools/modules')) as handle:
        modules = handle.read().split()
    assert 'xen-blkfront' in modules and 'xen-netfront' in modules
    assert version == '6.1.0-99-amd64'
    assert 'depmod 6.1.0-99-amd64 && update-initramfs -u -k 6.1.0-99-amd64' in commands
    assert not os.path.exists(os.path.join(root, 'lib/modules/6.1.0-99-amd64/kernel/sound'))


def test_services_are_off_until_declared_and_idle_units_masked(tmp_path, monkeypatch):
    _root, _version, commands = build(tmp_path, monkeypatch)
    assert 'systemctl disable isc-dhcp-server apache2 icecast2 xrdp xrdp-sesman bzflag' in commands
    assert ('systemctl mask e2scrub_reap.service e2scrub_all.timer systemd-binfmt.service '
            'proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount') in commands


def test_the_image_keeps_no_key_no_machine_id_and_no_proxy(tmp_path, monkeypatch):
    root, _version, _commands = build(tmp_path, monkeypatch)
    assert not os.path.exists(os.path.join(root, 'etc/ssh/ssh_host_ed25519_key'))
    assert not os.path.exists(os.path.join(root, 'etc/apt/apt.conf.d/99mmdebstrap'))
    with open(os.path.join(root, 'etc/machine-id')) as handle:
        assert handle.read() == ''
    with open(os.path.join(root, 'etc/ssh/sshd_config.d/xenha-guest.conf')) as handle:
        assert 'PasswordAuthentication no' in handle.read()


def test_a_changed_recipe_makes_another_image_and_the_proxy_does_not():
    recipe = role_recipe()
    before = builder.recipe_id(recipe)
    assert builder.recipe_id(dict(recipe, proxy='')) == before
    assert builder.recipe_id(dict(recipe, initramfs_modules=['xen-blkfront', 'ext4'])) != before
    assert builder.recipe_id(dict(recipe, packages=recipe['packages'] + ['htop'])) != before
