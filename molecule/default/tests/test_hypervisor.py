"""Every node runs Xen with the declared dom0 settings, and libvirt drives it."""
from __future__ import annotations

import shlex

from labtools import MEMBERS, node_hosts

testinfra_hosts = node_hosts(MEMBERS)


def test_node_runs_xen_with_fixed_dom0(host):
    info = host.check_output('xl info')
    assert 'xen_major              : 4' in info and 'xen_minor              : 17' in info
    assert 'dom0_mem=1024M,max:1024M' in info and 'dom0_max_vcpus=1' in info
    dom0_mib = int(host.check_output("xl list Domain-0 | awk 'NR==2 {print $3}'"))
    assert 1000 <= dom0_mib <= 1024


def test_xen_is_the_default_boot_entry(host):
    grub = host.file('/boot/grub/grub.cfg').content_string
    default = 'Debian GNU/Linux, with Xen hypervisor'
    assert 'set default="%s"' % default in grub
    assert "menuentry '%s'" % default in grub


def test_libvirt_answers_on_xen(host):
    assert host.check_output('virsh -c xen:///system uri') == 'xen:///system'
    assert 'Domain-0' in host.check_output('virsh -c xen:///system list --all')


def test_dom0_ballooning_off_and_xendomains_masked(host):
    assert host.file('/etc/xen/xl.conf').contains('^autoballoon="off"')
    assert host.service('xendomains').is_masked


def test_guest_bridge_on_the_cluster_network(host):
    bridge = host.interface('xenbr0')
    assert bridge.exists and any(a.startswith('10.0.0.') for a in bridge.addresses)
    assert 'eth1' in host.check_output('ls /sys/class/net/xenbr0/brif')


def test_migration_ssh_to_peers_with_pinned_host_keys(host):
    me = host.check_output('hostname')
    peer = 'node2' if me == 'node1' else 'node1'
    assert host.run('ssh -o BatchMode=yes %s hostname' % peer).stdout.strip() == peer
    assert host.file('/root/.ssh/known_hosts').contains(peer)
    assert host.file('/root/.ssh/authorized_keys').contains('from="10.0.0.0/24"')


# One shell run per node: a loop device on two fake backends, the first attached by the fast path,
# the second refused by Xen's script behind it.
BLOCK_HOTPLUG_CHECK = r"""
set -u
image=/var/tmp/xenha-hotplug-check.img
truncate -s 1M $image && loop=$(losetup --find --show $image) || exit 3
for domid in 9990 9991; do
    p=backend/vbd/$domid/51712
    xenstore-write $p/params $loop $p/mode w $p/frontend-id $domid $p/state 2 /local/domain/$domid/vm /vm/check-$domid
done
add() { XENBUS_TYPE=vbd XENBUS_BASE_PATH=backend XENBUS_PATH=backend/vbd/$1/51712 /etc/xen/scripts/block add; }
add 9990; echo "first rc=$?"
add 9991; echo "second rc=$?"
echo "numbers=$(cat /sys/class/block/${loop##*/}/dev)"
for key in 9990/51712/physical-device 9990/51712/hotplug-status 9991/51712/hotplug-status 9991/51712/hotplug-error; do
    echo "$key=$(xenstore-read backend/vbd/$key)"
done
for domid in 9990 9991; do xenstore-rm backend/vbd/$domid; xenstore-rm /local/domain/$domid; done
losetup -d $loop; rm -f $image
"""


def test_block_hotplug_fast_path_with_xens_script_behind_it(host):
    """The fast path attaches a free device; a device another disk uses gets Xen's own verdict."""
    assert 'diversion of /etc/xen/scripts/block to /etc/xen/scripts/block.distrib' in \
        host.check_output('dpkg-divert --list /etc/xen/scripts/block')
    out = host.run('bash -c %s' % shlex.quote(BLOCK_HOTPLUG_CHECK))
    seen = dict(line.split('=', 1) for line in out.stdout.splitlines() if '=' in line)
    major, minor = seen['numbers'].split(':')
    assert seen['first rc'] == '0' and seen['second rc'] != '0', out.stdout
    assert seen['9990/51712/physical-device'] == '%x:%x' % (int(major), int(minor))
    assert seen['9990/51712/hotplug-status'] == 'connected'
    assert seen['9991/51712/hotplug-status'] == 'busy'
    assert 'mounted in a guest domain' in seen['9991/51712/hotplug-error']


def test_guest_consoles_are_logged_in_dom0(host):
    args = host.check_output('ps -o args= -C xenconsoled')
    assert '--log=guest' in args and '--timestamp=guest' in args and '--log-dir=/var/log/xen/console' in args
    directory = host.file('/var/log/xen/console')
    assert directory.is_directory and directory.group == 'adm' and directory.mode == 0o750
    rotate = host.file('/etc/logrotate.d/xenha-guest-consoles').content_string
    assert '/var/log/xen/console/guest-*.log' in rotate and 'pkill -HUP -x xenconsoled' in rotate
    host.run_expect([0], 'logrotate --debug /etc/logrotate.d/xenha-guest-consoles')
