"""The shared volume group: visible from every node, sanlock-locked, an LV never active on two nodes."""
from __future__ import annotations

import time

from labtools import MEMBERS, node, node_hosts

testinfra_hosts = node_hosts(MEMBERS)
VG = 'vg_guests'


def test_volume_group_visible_with_sanlock_locking(host):
    # A node that was just fenced rejoins the lockspace only when its old sanlock lease has expired.
    deadline = time.monotonic() + 300
    vgs = host.run('vgs --noheadings -o vg_name,vg_lock_type %s' % VG)
    while vgs.rc != 0 and time.monotonic() < deadline:
        time.sleep(10)
        vgs = host.run('vgs --noheadings -o vg_name,vg_lock_type %s' % VG)
    assert vgs.stdout.split() == [VG, 'sanlock'], vgs.stderr
    assert host.check_output('readlink -f /dev/disk/by-id/virtio-xenha-shared') in \
        host.check_output('pvs --noheadings -o pv_name')


def test_the_boot_s_lockspace_start_is_tried_again_when_it_failed(host):
    """Its first try can miss the lock LV's device on a busy node; the node must not stay out of the lockspace."""
    assert host.check_output('systemctl show lvmlocks -p Restart --value') == 'on-failure'
    assert host.service('lvmlocks').is_enabled


def test_an_lv_active_on_one_node_cannot_be_activated_on_the_other():
    one, two = node('node1'), node('node2')
    one.check_output('lvcreate --yes --activate ey --name locktest --size 8m %s' % VG)
    try:
        refused = two.run('lvchange --activate ey %s/locktest' % VG)
        assert refused.rc != 0, 'the LV was activated on node2 while active on node1'
        assert two.run('test -e /dev/%s/locktest' % VG).rc != 0
    finally:
        one.run('lvchange --activate n %s/locktest' % VG)
        one.run('lvremove --yes %s/locktest' % VG)
