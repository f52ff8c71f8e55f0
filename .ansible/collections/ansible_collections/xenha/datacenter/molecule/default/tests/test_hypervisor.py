"""Every node runs Xen with the declared dom0 settings, and libvirt drives it."""
from __future__ import annotations

# The dom0s; the guests and the client have tests of their own.
testinfra_hosts = ['node1', 'node2']


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
