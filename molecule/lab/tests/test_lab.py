"""The lab as a user of it sees it: real nodes, a shared disk, a cluster network, real BMCs."""
from __future__ import annotations

import hashlib
import os
import json
import secrets
import subprocess
import sys
import time

import pytest
from labtools import LAB_DIR, LABCTL, node, node_hosts

NODES = {'node1': ('10.0.0.1', 6231), 'node2': ('10.0.0.2', 6232)}
# The lab inventory also lists the guests and the client; this scenario tests the nodes.
testinfra_hosts = node_hosts(NODES)


def cpu_nice(name):
    """The host nice of each emulated CPU of a node, by CPU index (labctl.py cpus)."""
    proc = subprocess.run([sys.executable, LABCTL, '--dir', LAB_DIR, 'cpus', name], capture_output=True, text=True,
                          check=True)
    return {cpu['index']: cpu['nice'] for cpu in json.loads(proc.stdout)['cpus']}


def guest_cpu_nice():
    with open(os.path.join(LAB_DIR, 'lab.json'), encoding='utf-8') as handle:
        return json.load(handle)['guest_cpu_nice']


def bmc_password():
    with open(os.path.join(LAB_DIR, 'secrets', 'bmc-password'), encoding='utf-8') as handle:
        return handle.read().strip()


def test_boots_debian_12_from_its_disk_with_grub(host):
    assert host.system_info.distribution == 'debian' and host.system_info.release.startswith('12')
    assert 'root=LABEL=root' in host.file('/proc/cmdline').content_string
    assert host.file('/boot/grub/grub.cfg').exists
    assert host.check_output('findmnt -no SOURCE /').startswith('/dev/vda')


def test_identity_is_the_nodes_own(host):
    name = host.backend.get_hostname()
    assert host.check_output('hostname') == name
    assert host.file('/etc/hosts').contains('10.0.0.1 node1')


def test_nodes_are_distinct_clones():
    ids = {n: node(n).file('/etc/machine-id').content_string.strip() for n in NODES}
    assert all(len(v) == 32 for v in ids.values()) and len(set(ids.values())) == len(ids)
    keys = {n: node(n).file('/etc/ssh/ssh_host_ed25519_key.pub').content_string for n in NODES}
    assert len(set(keys.values())) == len(keys)


def test_ssh_is_key_only(host):
    config = host.check_output('sshd -T')
    assert 'passwordauthentication no' in config and 'permitrootlogin without-password' in config


def test_apt_goes_through_the_labs_cache():
    """A package node1 downloads lands in the controller's cache; node2 then gets the same file from it."""
    # The image's package lists are enough to find `hello`; an `apt-get update` costs minutes under TCG.
    fetch = 'cd /tmp && rm -f hello_*.deb && apt-get -q download hello >/dev/null && sha256sum hello_*.deb'
    log = os.path.join(LAB_DIR, 'apt-cache.log')
    before = os.path.getsize(log)
    first = node('node1').check_output(fetch).split()[0]
    cached = [os.path.join(d, f) for d, _dirs, files in os.walk(os.path.join(LAB_DIR, 'cache', 'apt'))
              for f in files if f.startswith('hello_') and f.endswith('.deb')]
    assert len(cached) == 1, cached
    with open(cached[0], 'rb') as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == first
    assert node('node2').check_output(fetch).split()[0] == first
    with open(log, encoding='utf-8') as handle:
        handle.seek(before)
        served = [line for line in handle if '/hello_' in line and '" 200 ' in line]
    assert len(served) == 2


def test_cluster_network_reaches_peer_and_client(host):
    me = host.backend.get_hostname()
    for peer, (address, _port) in NODES.items():
        if peer != me:
            assert host.run('ping -c 2 -W 2 %s' % address).rc == 0
    assert host.run('ping -c 2 -W 2 10.0.0.254').rc == 0


def test_shared_disk_write_on_one_node_reads_on_the_other():
    disk = '/dev/disk/by-id/virtio-xenha-shared'
    token = secrets.token_hex(16)
    writer, reader = node('node1'), node('node2')
    assert writer.file(disk).exists and reader.file(disk).exists
    # The last MiB of the disk is the lab's scratch area; direct I/O bypasses each node's cache.
    offset = int(writer.check_output('blockdev --getsize64 %s' % disk)) // (1024 * 1024) - 1
    writer.check_output("printf '%%-4096s' %s | dd of=%s bs=4096 seek=%d oflag=direct conv=notrunc status=none"
                        % (token, disk, offset * 256))
    read = reader.check_output('dd if=%s bs=4096 skip=%d count=1 iflag=direct status=none' % (disk, offset * 256))
    assert read.strip() == token


def test_guest_cpus_give_the_host_to_dom0s_cpu():
    """dom0's emulated CPU keeps the host's priority; the guests' CPU of every node gets the lab's nice."""
    expected = guest_cpu_nice()
    assert expected > 0, 'the lab default lab_node_guest_cpu_nice is 10'
    for name in NODES:
        assert cpu_nice(name) == {0: 0, 1: expected}, name


@pytest.mark.parametrize('fencer, victim', [('node1', 'node2')])
def test_fence_ipmilan_really_power_cycles_the_peer(fencer, victim):
    """fence_ipmilan inside node1 -> node2's BMC on the host -> node2's QEMU is power-cycled."""
    _address, port = NODES[victim]
    options = 'ip=10.0.2.2\nipport=%d\nlanplus=1\nusername=admin\npassword=%s\n' % (port, bmc_password())
    fencer_host = node(fencer)
    status = fencer_host.run("printf '%%s' '%s' | fence_ipmilan" % (options + 'action=status\n'))
    assert status.rc == 0 and 'ON' in status.stdout
    boot_id = node(victim).file('/proc/sys/kernel/random/boot_id').content_string.strip()
    started = time.monotonic()
    reboot = fencer_host.run("printf '%%s' '%s' | fence_ipmilan" % (options + 'action=reboot\n'))
    assert reboot.rc == 0, reboot.stderr
    print('fence_ipmilan reboot of %s took %.1f s' % (victim, time.monotonic() - started))
    deadline = time.monotonic() + 300
    new_id = boot_id
    while time.monotonic() < deadline:
        try:
            result = node(victim).run('cat /proc/sys/kernel/random/boot_id')
        except RuntimeError:  # testinfra's SSH backend: the node does not answer yet (still booting)
            result = None
        if result is not None and result.rc == 0 and result.stdout.strip() != boot_id:
            new_id = result.stdout.strip()
            break
        time.sleep(5)
    assert new_id != boot_id, '%s did not come back with a new boot after fencing' % victim
    print('%s back on SSH %.1f s after the fence request' % (victim, time.monotonic() - started))
    # The BMC's power on starts a new QEMU: its guests' CPU yields to dom0's as the first one did.
    assert cpu_nice(victim) == {0: 0, 1: guest_cpu_nice()}
