# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest `Spec` to libvirt domain XML for the libxl driver, and back (pure).

What libvirt cannot hold natively (disk roles and declared sizes, interface IPs,
services) travels in the domain's <metadata> under our namespace, so other plays
and the failover drill read it from libvirt and nothing else.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.xenha.datacenter.plugins.module_utils._spec import (
    Disk, Interface, Service, Spec, normalise_cpuset,
)

METADATA_NS = 'urn:xenha:datacenter:guest:1'
METADATA_PREFIX = 'xenha'
HVMLOADER = '/usr/lib/xen-4.17/boot/hvmloader'

_OS_TYPES = {
    # guest type: (machine, os type)
    'pvh': ('xenpvh', 'xenpvh'),
    'pv': ('xenpv', 'linux'),
    'hvm': ('xenfv', 'hvm'),
}
_TYPE_BY_MACHINE = {machine: guest_type for guest_type, (machine, _os) in _OS_TYPES.items()}
_TYPE_BY_OS = {os_type: guest_type for guest_type, (_m, os_type) in _OS_TYPES.items()}
_TYPE_BY_OS['xen'] = 'pv'  # libvirt's older name for PV

ET.register_namespace(METADATA_PREFIX, METADATA_NS)


def _q(tag):
    return '{%s}%s' % (METADATA_NS, tag)


def _sub(parent, tag, text=None, **attrs):
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = str(text)
    return element


def metadata_element(spec):
    """The <xenha:guest> element that records what libvirt's schema has no place for."""
    root = ET.Element(_q('guest'))
    for disk in spec.disks:
        _sub(root, _q('disk'), name=disk.name, target=disk.target, size_mib=disk.size_mib, kind=disk.kind,
             vg=disk.vg, lv=disk.lv)
    for nic in spec.interfaces:
        _sub(root, _q('interface'), mac=nic.mac, ip=nic.ip)
    for service in spec.services:
        _sub(root, _q('service'), name=service.name, packages=' '.join(service.packages), port=service.port,
             protocol=service.protocol, probe=service.probe, description=service.description)
    return root


def metadata_xml(spec):
    return ET.tostring(metadata_element(spec), encoding='unicode')


def build_domain_xml(spec, uuid=None):
    """Return the domain XML for `spec`; `uuid` keeps an existing domain's identity."""
    domain = ET.Element('domain', {'type': 'xen'})
    # VirtualDomain (Pacemaker) reads the name from its own line of the XML.
    _sub(domain, 'name', spec.name)
    if uuid:
        _sub(domain, 'uuid', uuid)
    metadata = _sub(domain, 'metadata')
    metadata.append(metadata_element(spec))
    _sub(domain, 'memory', spec.max_memory_mib * 1024, unit='KiB')
    _sub(domain, 'currentMemory', spec.memory_mib * 1024, unit='KiB')
    if spec.cpuset:
        _sub(domain, 'vcpu', spec.vcpus, placement='static', cpuset=spec.cpuset)
    else:
        _sub(domain, 'vcpu', spec.vcpus, placement='static')
    if spec.bootloader:
        _sub(domain, 'bootloader', spec.bootloader)
    os_element = _sub(domain, 'os')
    machine, os_type = _OS_TYPES[spec.type]
    _sub(os_element, 'type', os_type, arch='x86_64', machine=machine)
    if spec.type == 'hvm':
        _sub(os_element, 'loader', HVMLOADER, type='rom')
    if spec.kernel:
        _sub(os_element, 'kernel', spec.kernel)
        if spec.initrd:
            _sub(os_element, 'initrd', spec.initrd)
        if spec.cmdline:
            _sub(os_element, 'cmdline', spec.cmdline)
    if spec.type == 'hvm':
        _sub(os_element, 'boot', dev='hd')
        features = _sub(domain, 'features')
        for feature in ('acpi', 'apic', 'pae'):
            _sub(features, feature)
    if spec.cpu_disable_features:
        cpu = _sub(domain, 'cpu', mode='host-passthrough')
        for feature in spec.cpu_disable_features:
            _sub(cpu, 'feature', policy='disable', name=feature)
    _sub(domain, 'on_poweroff', 'destroy')
    _sub(domain, 'on_reboot', spec.on_reboot)
    _sub(domain, 'on_crash', 'destroy')
    devices = _sub(domain, 'devices')
    for disk in spec.disks:
        if disk.kind == 'file':
            element = _sub(devices, 'disk', type='file', device='disk')
            _sub(element, 'driver', name='qemu', type='raw')
            _sub(element, 'source', file=disk.path)
        else:
            element = _sub(devices, 'disk', type='block', device='disk')
            _sub(element, 'driver', name='phy')
            _sub(element, 'source', dev=disk.path)
        _sub(element, 'target', dev=disk.target, bus='xen')
    for nic in spec.interfaces:
        element = _sub(devices, 'interface', type='bridge')
        _sub(element, 'mac', address=nic.mac)
        _sub(element, 'source', bridge=nic.bridge)
    console = _sub(devices, 'console', type='pty')
    _sub(console, 'target', type='xen', port='0')
    ET.indent(domain, '  ')
    return ET.tostring(domain, encoding='unicode')


def _text(element, path, default=''):
    found = element.find(path)
    return (found.text or '').strip() if found is not None and found.text else default


def _kib_to_mib(element, path):
    found = element.find(path)
    if found is None or not found.text:
        return 0
    value = int(found.text)
    unit = found.get('unit', 'KiB')
    factor = {'b': 1.0 / 1024, 'bytes': 1.0 / 1024, 'KiB': 1, 'k': 1, 'MiB': 1024, 'M': 1024,
              'GiB': 1024 ** 2, 'G': 1024 ** 2}.get(unit, 1)
    return int(value * factor) // 1024


def parse_domain_xml(xml):
    """Read a domain's XML back into a `Spec`, with the metadata this collection recorded.

    Disk sizes are the declared ones from metadata (0 when unknown): the storage
    layer reports real sizes.
    """
    domain = ET.fromstring(xml)
    meta = domain.find('metadata/' + _q('guest'))
    meta_disks = {}
    meta_ips = {}
    services = []
    if meta is not None:
        for element in meta.findall(_q('disk')):
            meta_disks[element.get('target')] = element
        for element in meta.findall(_q('interface')):
            meta_ips[element.get('mac')] = element.get('ip', '')
        for element in meta.findall(_q('service')):
            services.append(Service(
                name=element.get('name', ''),
                packages=tuple((element.get('packages') or '').split()),
                port=int(element.get('port') or 0),
                protocol=element.get('protocol', ''),
                probe=element.get('probe', ''),
                description=element.get('description', ''),
            ))
    type_element = domain.find('os/type')
    machine = type_element.get('machine', '') if type_element is not None else ''
    os_type = (type_element.text or '').strip() if type_element is not None else ''
    guest_type = _TYPE_BY_MACHINE.get(machine) or _TYPE_BY_OS.get(os_type, os_type)
    disks = []
    for element in domain.findall('devices/disk'):
        if element.get('device', 'disk') != 'disk':
            continue
        source = element.find('source')
        target = element.find('target')
        path = ''
        if source is not None:
            path = source.get('dev') or source.get('file') or ''
        target_dev = target.get('dev', '') if target is not None else ''
        recorded = meta_disks.get(target_dev)
        if recorded is not None:
            disks.append(Disk(recorded.get('name', target_dev), int(recorded.get('size_mib') or 0),
                              recorded.get('kind', ''), path, target_dev, recorded.get('vg', ''),
                              recorded.get('lv', '')))
        else:
            kind = 'file' if element.get('type') == 'file' else 'block'
            disks.append(Disk(target_dev, 0, kind, path, target_dev))
    interfaces = []
    for element in domain.findall('devices/interface'):
        mac_element = element.find('mac')
        source = element.find('source')
        mac = mac_element.get('address', '').lower() if mac_element is not None else ''
        bridge = source.get('bridge', '') if source is not None else ''
        interfaces.append(Interface(bridge, mac, meta_ips.get(mac, '')))
    features = tuple(f.get('name') for f in domain.findall('cpu/feature') if f.get('policy') == 'disable')
    return Spec(
        name=_text(domain, 'name'),
        type=guest_type,
        memory_mib=_kib_to_mib(domain, 'currentMemory') or _kib_to_mib(domain, 'memory'),
        max_memory_mib=_kib_to_mib(domain, 'memory'),
        vcpus=int(_text(domain, 'vcpu', '1')),
        kernel=_text(domain, 'os/kernel'),
        initrd=_text(domain, 'os/initrd'),
        cmdline=_text(domain, 'os/cmdline'),
        bootloader=_text(domain, 'bootloader'),
        cpu_disable_features=features,
        cpuset=normalise_cpuset(domain.find('vcpu').get('cpuset', '') if domain.find('vcpu') is not None else ''),
        disks=tuple(disks),
        interfaces=tuple(interfaces),
        services=tuple(services),
        on_reboot=_text(domain, 'on_reboot', 'restart'),
    )


def domain_uuid(xml):
    return _text(ET.fromstring(xml), 'uuid')


def domain_macs(xml):
    """The MAC addresses of a domain's interfaces (for clash checks against other guests)."""
    return [m.get('address', '').lower() for m in ET.fromstring(xml).findall('devices/interface/mac')]
