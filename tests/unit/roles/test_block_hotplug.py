"""The hypervisor role's block hotplug script (roles/hypervisor/files/block): what it does itself and
what it hands to Xen's own script, with stand-ins for the xenstore tools and for Xen's script.
The lab's molecule checks run it against the real xenstore."""
from __future__ import annotations

import os
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'hypervisor', 'files', 'block')
BACKEND = 'backend/vbd/7/51712'


def block_device(unmounted=True):
    """A block device of this machine that no mount uses (or one that a mount uses): its /dev node and
    major:minor, or None. Devices whose numbers read differently in hex come first."""
    mounted = set()
    with open('/proc/self/mountinfo') as mountinfo:
        for line in mountinfo:
            mounted.add(line.split()[2])
    found = []
    for name in os.listdir('/sys/class/block'):
        with open('/sys/class/block/%s/dev' % name) as dev:
            numbers = dev.read().strip()
        if os.path.exists('/dev/' + name) and (numbers not in mounted) == unmounted:
            found.append((hex_numbers(numbers) == numbers, name, numbers))
    return ('/dev/' + min(found)[1], min(found)[2]) if found else None


def hex_numbers(numbers):
    major, minor = numbers.split(':')
    return '%x:%x' % (int(major), int(minor))


@pytest.fixture
def world(tmp_path):
    """Stand-ins: xenstore-ls prints `listing`, xenstore-write and Xen's script record their calls."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'calls'
    listing = tmp_path / 'listing'
    listing.write_text('')
    for tool, body in (('xenstore-ls', 'cat %s' % listing),
                       ('xenstore-write', 'echo "xenstore-write $*" >> %s' % calls)):
        (bin_dir / tool).write_text('#!/bin/sh\n%s\n' % body)
        (bin_dir / tool).chmod(0o755)
    distrib = tmp_path / 'block.distrib'
    distrib.write_text('#!/bin/sh\necho "distrib $* $XENBUS_PATH" >> %s\n' % calls)
    distrib.chmod(0o755)

    def run(*args, path=BACKEND, keys=None, others=None):
        lines = ['%s/%s = "%s"' % (path, key, value) for key, value in (keys or {}).items()]
        lines += ['%s/physical-device = "%s"' % (other, device) for other, device in (others or {}).items()]
        listing.write_text('\n'.join(lines) + '\n')
        env = dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']), XENBUS_PATH=path,
                   XENBUS_TYPE='vbd', XENBUS_BASE_PATH='backend', XENHA_BLOCK_DISTRIB=str(distrib),
                   XENHA_BLOCK_LOCKDIR=str(tmp_path / 'locks'))
        done = subprocess.run(['bash', SCRIPT] + list(args), env=env, capture_output=True, text=True,
                              check=False)
        recorded = calls.read_text().splitlines() if calls.exists() else []
        calls.write_text('')
        assert not (tmp_path / 'locks' / 'block').exists(), 'the lock file was left behind'
        return done.returncode, recorded

    return run


def test_remove_is_xens(world):
    assert world('remove', keys={'params': '/dev/vg/x0-root', 'mode': 'w'}) == \
        (0, ['distrib remove %s' % BACKEND])


def test_other_backends_are_xens(world):
    assert world('add', path='backend/vif/7/0') == (0, ['distrib add backend/vif/7/0'])


def test_files_and_character_devices_are_xens(world, tmp_path):
    image = tmp_path / 'disk.img'
    image.write_text('')
    assert world('add', keys={'params': str(image), 'mode': 'w'}) == (0, ['distrib add %s' % BACKEND])
    assert world('add', keys={'params': '/dev/null', 'mode': 'w'}) == (0, ['distrib add %s' % BACKEND])


def test_an_attached_disk_is_left_alone(world):
    assert world('add', keys={'params': '/dev/null', 'mode': 'w', 'physical-device': 'fe:3'}) == (0, [])


@pytest.fixture
def free_device():
    found = block_device()
    if found is None:
        # Some containers expose no block device at all; the lab check in molecule/default covers this path.
        pytest.skip('this machine shows no unmounted block device to attach')
    return found


def test_a_free_block_device_is_attached_without_xens_script(world, free_device):
    path, numbers = free_device
    assert world('add', keys={'params': path, 'mode': 'w'}) == (0, [
        'xenstore-write {b}/physical-device {hex} {b}/physical-device-path {path} {b}/hotplug-status connected'
        .format(b=BACKEND, hex=hex_numbers(numbers), path=os.path.realpath(path))])


def test_a_device_another_disk_uses_is_for_xens_script_to_judge(world, free_device):
    path, numbers = free_device
    assert world('add', keys={'params': path, 'mode': 'r'}, others={'backend/vbd/3/51712': hex_numbers(numbers)}) \
        == (0, ['distrib add %s' % BACKEND])


def test_a_device_dom0_mounts_is_for_xens_script_to_judge(world):
    found = block_device(unmounted=False)
    if found is None:
        # A root on overlayfs or tmpfs mounts no block device; the lab check covers Xen's refusals.
        pytest.skip('this machine shows no mounted block device')
    assert world('add', keys={'params': found[0], 'mode': 'w'}) == (0, ['distrib add %s' % BACKEND])
