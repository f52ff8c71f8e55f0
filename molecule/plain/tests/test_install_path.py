"""The hypervisor role's install path: node1 started as plain Debian (like node2, left untouched as
the control) and now runs Xen 4.17 installed by the role, with libvirt's libxl driver answering."""
from __future__ import annotations

import os
from urllib.parse import quote

import testinfra

LAB_DIR = os.environ.get('XENHA_LAB_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', '..', 'lab-state')
# Commands go over SSH with the lab's ssh_config: well under a second each, where Ansible takes seconds.
SSH_CONFIG = os.path.join(LAB_DIR, 'ssh_config')
testinfra_hosts = ['ssh://node1?ssh_config=%s&timeout=60' % quote(SSH_CONFIG)]


def lab_host(name):
    return testinfra.get_host('ssh://%s' % name, ssh_config=SSH_CONFIG, timeout=60)


def test_the_control_node_is_plain_debian():
    control = lab_host('node2')
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
