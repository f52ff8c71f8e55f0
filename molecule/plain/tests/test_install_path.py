"""The hypervisor role's install path: node1 started as plain Debian (like node2, left untouched as
the control) and now runs Xen 4.17 installed by the role, with libvirt's libxl driver answering."""
from __future__ import annotations

from labtools import node, node_hosts

testinfra_hosts = node_hosts(['node1'])


def test_the_control_node_is_plain_debian():
    control = node('node2')
    assert control.run('dpkg-query -W -f="${Status}" xen-system-amd64').stdout != 'install ok installed'
    assert control.run('command -v xl').rc != 0


def test_role_installed_xen_and_booted_into_it(host):
    assert host.package('xen-system-amd64').is_installed
    assert host.package('libvirt-daemon-driver-xen').is_installed
    info = host.check_output('xl info')
    assert 'xen_major              : 4' in info and 'xen_minor              : 17' in info
    assert 'smap=0' in info


def test_libvirt_answers_on_xen(host):
    assert host.check_output('virsh -c xen:///system uri') == 'xen:///system'
    assert 'Domain-0' in host.check_output('virsh -c xen:///system list --all')
