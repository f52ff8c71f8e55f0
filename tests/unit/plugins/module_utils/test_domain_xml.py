from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._domain_xml import (
    METADATA_NS, build_domain_xml, domain_macs, domain_uuid, parse_domain_xml,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import build_spec


def spec_for(**overrides):
    base = dict(name='x1', memory='512M', max_memory='1G', vcpus=2, kernel='/boot/vmlinuz',
                initrd='/boot/initrd.img', cmdline='root=/dev/xvda ro', storage_vg='vg_guests',
                root_disk={'size': '5G'}, swap={'size': '1G'},
                disks=[{'name': 'data', 'size': '1G', 'path': '/srv/x1-data.img'}],
                interfaces=[{'bridge': 'xenbr0', 'ip': '10.0.0.11/24'}],
                services=['nx', 'bzflag', 'ssh'], cpu_disable_features=['rdtscp'])
    base.update(overrides)
    return build_spec(base)


@pytest.mark.parametrize('guest_type', ['pvh', 'pv', 'hvm'])
def test_round_trip_keeps_every_declared_field(guest_type):
    spec = spec_for(type=guest_type)
    assert parse_domain_xml(build_domain_xml(spec)) == spec


def test_pvh_xml_is_what_libxl_expects():
    root = ET.fromstring(build_domain_xml(spec_for(), uuid='6a0f1a59-0000-4000-8000-000000000001'))
    assert root.get('type') == 'xen'
    os_type = root.find('os/type')
    assert (os_type.get('machine'), os_type.text, os_type.get('arch')) == ('xenpvh', 'xenpvh', 'x86_64')
    assert root.find('memory').text == str(1024 * 1024) and root.find('currentMemory').text == str(512 * 1024)
    assert root.find('uuid').text.endswith('0001')
    disks = root.findall('devices/disk')
    assert disks[0].find('source').get('dev') == '/dev/vg_guests/x1-root'
    assert disks[0].find('driver').get('name') == 'phy'
    assert disks[2].get('type') == 'file' and disks[2].find('source').get('file') == '/srv/x1-data.img'
    assert [f.get('name') for f in root.findall('cpu/feature')] == ['rdtscp']
    assert root.find('metadata/{%s}guest' % METADATA_NS) is not None


def test_name_has_its_own_line_for_virtualdomain():
    # ocf:heartbeat:VirtualDomain greps the name from a line of its own.
    assert '\n  <name>x1</name>\n' in build_domain_xml(spec_for())


def test_parse_libvirt_output_with_foreign_parts():
    xml = """<domain type='xen' id='3'>
  <name>old</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='xenpv'>linux</type></os>
  <bootloader>/usr/lib/xen-4.17/bin/pygrub</bootloader>
  <devices>
    <disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc'/></disk>
    <disk type='block' device='disk'><source dev='/dev/vg/old'/><target dev='xvda' bus='xen'/></disk>
    <interface type='bridge'><mac address='00:16:3E:AA:BB:CC'/><source bridge='xenbr1'/></interface>
  </devices>
</domain>"""
    spec = parse_domain_xml(xml)
    assert spec.type == 'pv' and spec.memory_mib == 256 and spec.max_memory_mib == 256
    assert spec.bootloader.endswith('pygrub')
    assert [(d.name, d.path, d.size_mib) for d in spec.disks] == [('xvda', '/dev/vg/old', 0)]
    assert spec.interfaces[0].mac == '00:16:3e:aa:bb:cc' and spec.interfaces[0].bridge == 'xenbr1'
    assert domain_uuid(xml) == '11111111-2222-3333-4444-555555555555'
    assert domain_macs(xml) == ['00:16:3e:aa:bb:cc']


def test_cpuset_goes_on_the_vcpu_element_and_round_trips():
    spec = spec_for(cpuset='1-3,^2')
    root = ET.fromstring(build_domain_xml(spec))
    assert root.find('vcpu').get('cpuset') == '1,3'
    assert parse_domain_xml(build_domain_xml(spec)) == spec
    assert ET.fromstring(build_domain_xml(spec_for())).find('vcpu').get('cpuset') is None


def test_a_guest_of_its_own_restarts_on_reboot():
    spec = build_spec(dict(name='x0', memory='128M', kernel='/boot/vmlinuz'))
    xml = build_domain_xml(spec)
    assert '<on_reboot>restart</on_reboot>' in xml and parse_domain_xml(xml).on_reboot == 'restart'
