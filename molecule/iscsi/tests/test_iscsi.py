"""The shared disk over iSCSI: each node logged in with CHAP, the shared VG on the LUN, back after a reboot."""
from __future__ import annotations

import time

from labtools import lab_host as node

TARGET = 'iqn.2026-11.lab.xenha:shared'
PORTAL = '10.0.0.253:3260'
LUN = '/dev/disk/by-path/ip-%s-iscsi-%s-lun-1' % (PORTAL, TARGET)
testinfra_hosts = ['node1', 'node2']


def test_the_disk_comes_only_over_iscsi(host):
    assert not host.file('/dev/disk/by-id/virtio-xenha-shared').exists
    assert TARGET in host.check_output('iscsiadm -m session')
    assert host.file(LUN).is_symlink


def test_the_node_record_logs_in_at_boot_with_chap(host):
    record = host.check_output('iscsiadm -m node -T %s -p %s' % (TARGET, PORTAL))
    assert 'node.startup = automatic' in record
    assert 'node.session.auth.authmethod = CHAP' in record
    assert 'node.session.auth.username = xenha-lab' in record


def test_initiator_names_differ():
    names = {node(n).check_output('cat /etc/iscsi/initiatorname.iscsi') for n in testinfra_hosts}
    assert len(names) == 2


def test_the_shared_vg_lives_on_the_lun_with_sanlock(host):
    real = host.check_output('readlink -f %s' % LUN)
    pvs = host.check_output('pvs --noheadings -o pv_name,vg_name,vg_lock_type').split()
    assert pvs == [real, 'vg_guests', 'sanlock']


def test_a_rebooted_node_logs_in_and_joins_the_lockspace_by_itself():
    victim = node('node2')
    boot_id = victim.check_output('cat /proc/sys/kernel/random/boot_id')
    victim.run("systemd-run --on-active=1 systemctl reboot")
    started = time.monotonic()
    joined = None
    while time.monotonic() - started < 600:
        try:
            result = victim.run('cat /proc/sys/kernel/random/boot_id; lvmlockctl --info')
        except AssertionError:  # testinfra reports an unreachable node (still booting) this way
            result = None
        if result is not None and result.rc == 0 and boot_id not in result.stdout and 'vg_guests' in result.stdout:
            joined = time.monotonic() - started
            break
        time.sleep(5)
    assert joined is not None, 'node2 did not rejoin the vg_guests lockspace within 600 s of its reboot'
    print('node2 rebooted, logged in and joined the lockspace in %.0f s' % joined)
    assert TARGET in victim.check_output('iscsiadm -m session')
