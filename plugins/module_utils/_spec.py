# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest specification: what the user declares, validated and normalised.

Pure Python: no libvirt, no Ansible. Every error names the option it is about
and says how to fix it, so the module can fail before it touches anything.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

GUEST_TYPES = ('pvh', 'pv', 'hvm')
STATES = ('present', 'running', 'stopped', 'absent')
PROBES = ('tcp', 'udp', 'ssh', 'http', 'stream', 'dhcp', 'rdp', 'bzflag')
PROTOCOLS = ('tcp', 'udp')
XEN_OUI = '00:16:3e'

# A guest name is also its hostname and part of its LV names: one DNS label.
_NAME_RE = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
_DISK_NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_-]{0,30}$')
_SERVICE_NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_-]{0,30}$')
_VG_RE = re.compile(r'^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$')
_MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_BRIDGE_RE = re.compile(r'^[A-Za-z0-9_.-]{1,15}$')
_FEATURE_RE = re.compile(r'^[a-z0-9_.-]{1,32}$')
_SIZE_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$', re.IGNORECASE)
_UNIT_KIB = {'K': 1, '': 1024, 'M': 1024, 'G': 1024 ** 2, 'T': 1024 ** 3}

MAX_VCPUS = 128
# The largest sizes accepted before anything is touched: Xen 4.17 supports hosts of up to 16 TiB of RAM, and
# ext4 (a file disk) holds files of up to 16 TiB; an LV could be larger, but a guest disk that size is a typo.
MAX_MEMORY_MIB = 16 * 1024 * 1024
MAX_DISK_MIB = 16 * 1024 * 1024


class SpecError(ValueError):
    """Invalid input. `field` is the option path, e.g. ``root_disk.size``."""

    def __init__(self, field_name, message):
        self.field = field_name
        super().__init__('%s: %s' % (field_name, message))


@dataclass(frozen=True)
class Service:
    name: str
    packages: tuple
    port: int
    protocol: str
    probe: str
    description: str = ''


# The catalogue's services, as Debian 12 packages them. `nx` keeps the 2006 demo's name for
# the remote desktop; NX itself is not in Debian, xrdp is, on a port of its own
# (x2go would ride on ssh's port and its probe could not tell the two apart).
SERVICE_CATALOGUE = {
    'ssh': Service('ssh', ('openssh-server',), 22, 'tcp', 'ssh', 'OpenSSH server'),
    'dhcp': Service('dhcp', ('isc-dhcp-server',), 67, 'udp', 'dhcp', 'ISC DHCP server'),
    'http': Service('http', ('apache2',), 80, 'tcp', 'http', 'Apache web server'),
    'icecast': Service('icecast', ('icecast2',), 8000, 'tcp', 'stream', 'Icecast2 net radio (Ogg stream)'),
    'nx': Service('nx', ('xrdp',), 3389, 'tcp', 'rdp', 'remote desktop (xrdp)'),
    'bzflag': Service('bzflag', ('bzflag-server',), 5154, 'tcp', 'bzflag', 'BZFlag game server'),
}


@dataclass(frozen=True)
class Disk:
    name: str          # root, swap, or the extra disk's name
    size_mib: int
    kind: str          # lv, file or block
    path: str          # what the guest's disk points at
    target: str        # xvda, xvdb ...
    vg: str = ''
    lv: str = ''


@dataclass(frozen=True)
class Interface:
    bridge: str
    mac: str
    ip: str = ''


@dataclass(frozen=True)
class Spec:
    name: str
    type: str = 'pvh'
    memory_mib: int = 0
    max_memory_mib: int = 0
    vcpus: int = 1
    kernel: str = ''
    initrd: str = ''
    cmdline: str = ''
    bootloader: str = ''
    cpu_disable_features: tuple = ()
    # Physical CPUs the guest's vCPUs may run on, in libvirt's canonical form ('' = any).
    cpuset: str = ''
    disks: tuple = ()
    interfaces: tuple = ()
    services: tuple = ()
    autostart: bool = field(default=False)
    # What the hypervisor does when the guest reboots itself: 'restart' it, or 'destroy' it so that only the
    # cluster starts a cluster-managed guest (a restart behind the cluster races its recovery).
    on_reboot: str = 'restart'

    @property
    def macs(self):
        return tuple(i.mac for i in self.interfaces)

    def disk(self, name):
        for disk in self.disks:
            if disk.name == name:
                return disk
        return None


def parse_size(value, field_name, maximum_mib=None):
    """Return a size in MiB from ``128M``, ``1G``, ``512MiB``, ``1.5G`` or a MiB integer.

    Units are binary (K=KiB, M=MiB, G=GiB, T=TiB) as in LVM; ``MB`` means MiB too.
    """
    if isinstance(value, bool):
        raise SpecError(field_name, 'expected a size like 512M or 2G, got %r' % (value,))
    if isinstance(value, int):
        kib = Decimal(value) * 1024
    else:
        match = _SIZE_RE.match(str(value))
        if not match:
            raise SpecError(field_name, "cannot read size %r; write it like 512M, 2G, 512MiB or a whole "
                                        "number of MiB" % (value,))
        try:
            kib = Decimal(match.group(1)) * _UNIT_KIB[match.group(2).upper()]
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            raise SpecError(field_name, 'cannot read size %r' % (value,))
    if kib <= 0:
        raise SpecError(field_name, 'size must be greater than zero, got %r' % (value,))
    if kib % 1024:
        raise SpecError(field_name, 'size %r is not a whole number of MiB; round it to a MiB' % (value,))
    if maximum_mib is not None and kib // 1024 > maximum_mib:
        raise SpecError(field_name, 'size %r is more than the %s this collection accepts; check the unit (M, G, T)'
                        % (value, format_mib(maximum_mib)))
    return int(kib // 1024)


def format_mib(mib):
    """Render MiB the way a person writes it: 512M, 2G, 1536M."""
    if mib == 0:
        return '0M'
    if mib % (1024 * 1024) == 0:
        return '%dT' % (mib // (1024 * 1024))
    if mib % 1024 == 0:
        return '%dG' % (mib // 1024)
    return '%dM' % mib


def derive_mac(guest_name, index):
    """A stable, locally unique MAC in Xen's OUI for interface `index` of a guest."""
    digest = hashlib.sha256(('%s/%d' % (guest_name, index)).encode('utf-8')).digest()
    return '%s:%02x:%02x:%02x' % (XEN_OUI, digest[0] & 0x7f, digest[1], digest[2])


def validate_name(name, field_name='name'):
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpecError(field_name, 'invalid guest name %r; use 1-63 lowercase letters, digits and hyphens, '
                                    'starting and ending with a letter or digit (it becomes the hostname)'
                        % (name,))
    return name


def _disk_target(index):
    return 'xvd' + 'abcdefghijklmnopqrstuvwxyz'[index]


def _normalise_disk(guest, disk_name, raw, index, storage_vg, field_name):
    if not isinstance(raw, dict):
        raise SpecError(field_name, 'expected a dict with size and vg, lv or path')
    unknown = set(raw) - {'name', 'size', 'vg', 'lv', 'path'}
    if unknown:
        raise SpecError(field_name, 'unknown keys %s; a disk takes size, vg, lv and path'
                        % ', '.join(sorted(unknown)))
    if raw.get('size') in (None, ''):
        raise SpecError(field_name + '.size', 'a disk needs a size, e.g. 2G')
    size = parse_size(raw['size'], field_name + '.size', MAX_DISK_MIB)
    path = raw.get('path') or ''
    vg = raw.get('vg') or ''
    lv = raw.get('lv') or ''
    if path and (vg or lv):
        raise SpecError(field_name, 'give either path (a file or block device) or vg/lv, not both')
    if path:
        if not path.startswith('/') or '/../' in path or path.endswith('/..'):
            raise SpecError(field_name + '.path', 'must be an absolute path without "..", got %r' % (path,))
        kind = 'block' if path.startswith('/dev/') else 'file'
        return Disk(disk_name, size, kind, path, _disk_target(index))
    vg = vg or storage_vg
    if not vg:
        raise SpecError(field_name, 'no storage target: set %s.vg (a volume group) or %s.path, or the '
                                    "module's storage_vg" % (field_name, field_name))
    if not _VG_RE.match(vg):
        raise SpecError(field_name + '.vg', 'invalid volume group name %r' % (vg,))
    lv = lv or '%s-%s' % (guest, disk_name)
    if not _VG_RE.match(lv) or lv.startswith('-'):
        raise SpecError(field_name + '.lv', 'invalid logical volume name %r' % (lv,))
    return Disk(disk_name, size, 'lv', '/dev/%s/%s' % (vg, lv), _disk_target(index), vg, lv)


def _normalise_disks(name, root_disk, swap, extra_disks, storage_vg):
    disks = []
    if root_disk is not None:
        disks.append(_normalise_disk(name, 'root', root_disk, len(disks), storage_vg, 'root_disk'))
    if swap is not None:
        disks.append(_normalise_disk(name, 'swap', swap, len(disks), storage_vg, 'swap'))
    for i, raw in enumerate(extra_disks or ()):
        field_name = 'disks[%d]' % i
        disk_name = raw.get('name') if isinstance(raw, dict) else None
        if not disk_name or not _DISK_NAME_RE.match(str(disk_name)) or disk_name in ('root', 'swap'):
            raise SpecError(field_name + '.name', 'each extra disk needs a name of lowercase letters, digits, '
                                                  "_ and -, other than root and swap; got %r" % (disk_name,))
        disks.append(_normalise_disk(name, disk_name, raw, len(disks), storage_vg, field_name))
    if len(disks) > 26:
        raise SpecError('disks', 'at most 26 disks (xvda to xvdz)')
    seen = {}
    for disk in disks:
        if disk.name in seen:
            raise SpecError('disks', 'disk name %r is used twice' % disk.name)
        if disk.path in seen.values():
            raise SpecError('disks', 'two disks point at %s; give each its own' % disk.path)
        seen[disk.name] = disk.path
    return tuple(disks)


def _normalise_interfaces(name, interfaces):
    result = []
    for i, raw in enumerate(interfaces or ()):
        field_name = 'interfaces[%d]' % i
        if not isinstance(raw, dict):
            raise SpecError(field_name, 'expected a dict with bridge, and optionally mac and ip')
        unknown = set(raw) - {'bridge', 'mac', 'ip'}
        if unknown:
            raise SpecError(field_name, 'unknown keys %s; an interface takes bridge, mac and ip'
                            % ', '.join(sorted(unknown)))
        bridge = raw.get('bridge') or 'xenbr0'
        if not _BRIDGE_RE.match(bridge):
            raise SpecError(field_name + '.bridge', 'invalid bridge name %r' % (bridge,))
        mac = (raw.get('mac') or derive_mac(name, i)).lower().replace('-', ':')
        if not _MAC_RE.match(mac):
            raise SpecError(field_name + '.mac', 'invalid MAC %r; write six hex pairs like 00:16:3e:12:34:56, '
                                                 'or leave it out to derive one from the guest name' % (raw['mac'],))
        if int(mac[:2], 16) & 1:
            raise SpecError(field_name + '.mac', 'MAC %s is a multicast address; the first byte must be even' % mac)
        ip = raw.get('ip') or ''
        if ip:
            try:
                ip = str(ipaddress.ip_interface(ip))
            except ValueError:
                raise SpecError(field_name + '.ip', 'invalid IP address %r; write it like 10.0.0.10/24' % (ip,))
        result.append(Interface(bridge, mac, ip))
    macs = [i.mac for i in result]
    for mac in macs:
        if macs.count(mac) > 1:
            raise SpecError('interfaces', 'MAC %s is given to two interfaces of this guest' % mac)
    return tuple(result)


def normalise_service(raw, field_name):
    """A catalogue name, or a dict that overrides a catalogue entry or defines a custom one."""
    if isinstance(raw, str):
        raw = {'name': raw}
    if not isinstance(raw, dict):
        raise SpecError(field_name, 'expected a service name or a dict')
    unknown = set(raw) - {'name', 'packages', 'port', 'protocol', 'probe', 'description'}
    if unknown:
        raise SpecError(field_name, 'unknown keys %s; a service takes name, packages, port, protocol, probe '
                                    'and description' % ', '.join(sorted(unknown)))
    name = raw.get('name')
    if not isinstance(name, str) or not _SERVICE_NAME_RE.match(name):
        raise SpecError(field_name + '.name', 'invalid service name %r' % (name,))
    base = SERVICE_CATALOGUE.get(name)
    given = {k: v for k, v in raw.items() if k != 'name' and v not in (None, '', [])}
    if base is None:
        missing = [k for k in ('packages', 'port') if k not in given]
        if missing:
            raise SpecError(field_name, 'unknown service %r; known services are %s, or give a custom one with '
                                        'packages and port (and protocol, probe when not tcp) (missing: %s)'
                            % (name, ', '.join(sorted(SERVICE_CATALOGUE)), ', '.join(missing)))
        # A custom service is TCP unless told, and probed the way its protocol allows by default.
        protocol = given.get('protocol', 'tcp')
        base = Service(name, (), 0, protocol, 'udp' if protocol == 'udp' else 'tcp')
    packages = given.get('packages', base.packages)
    if isinstance(packages, str):
        packages = [packages]
    if not isinstance(packages, (list, tuple)) or not all(isinstance(p, str) and p for p in packages):
        raise SpecError(field_name + '.packages', 'expected a list of Debian package names')
    try:
        port = int(given.get('port', base.port))
    except (TypeError, ValueError):
        raise SpecError(field_name + '.port', 'expected a port number, got %r' % (given.get('port'),))
    if not 1 <= port <= 65535:
        raise SpecError(field_name + '.port', 'port %d is outside 1-65535' % port)
    protocol = given.get('protocol', base.protocol)
    if protocol not in PROTOCOLS:
        raise SpecError(field_name + '.protocol', 'expected one of %s, got %r' % (', '.join(PROTOCOLS), protocol))
    probe = given.get('probe', base.probe)
    if probe not in PROBES:
        raise SpecError(field_name + '.probe', 'expected one of %s, got %r' % (', '.join(PROBES), probe))
    return Service(name, tuple(packages), port, protocol, probe, str(given.get('description', base.description)))


def target_services(targets):
    """(target, Service) for each service of each target ({name, address, services}), as the client's
    probes see them; errors name targets[i].services[j]."""
    for t_index, target in enumerate(targets):
        for s_index, raw in enumerate(target.get('services') or []):
            yield target, normalise_service(raw, 'targets[%d].services[%d]' % (t_index, s_index))


def _normalise_services(services):
    result = []
    for i, raw in enumerate(services or ()):
        service = normalise_service(raw, 'services[%d]' % i)
        if any(s.name == service.name for s in result):
            raise SpecError('services[%d].name' % i, 'service %r is listed twice' % service.name)
        result.append(service)
    return tuple(result)


_CPUSET_PART_RE = re.compile(r'^(\^?)(\d+)(?:-(\d+))?$')


def normalise_cpuset(value, field_name='cpuset'):
    """libvirt's cpuset syntax ('1-3', '0-7,^0', '1,3') as libvirt writes it back ('1-3', '1-7', '1,3')."""
    if value in (None, ''):
        return ''
    wanted, excluded = set(), set()
    for part in str(value).split(','):
        match = _CPUSET_PART_RE.match(part.strip())
        if not match:
            raise SpecError(field_name, "expected CPU numbers and ranges such as '1-3' or '2,4' (with ^N to leave "
                                        "one out), got %r" % (value,))
        first = int(match.group(2))
        last = int(match.group(3)) if match.group(3) else first
        if last < first:
            raise SpecError(field_name, 'range %s runs backwards in %r' % (part.strip(), value))
        (excluded if match.group(1) else wanted).update(range(first, last + 1))
    cpus = sorted(wanted - excluded)
    if not cpus:
        raise SpecError(field_name, '%r leaves no CPU to run on' % (value,))
    ranges, start = [], cpus[0]
    for previous, cpu in zip(cpus, cpus[1:] + [None]):
        if cpu != previous + 1:
            ranges.append(str(start) if start == previous else '%d-%d' % (start, previous))
            start = cpu
    return ','.join(ranges)


def build_spec(params):
    """Validate the module's parameters and return a `Spec`.

    `params` is the module's argument dict; only the guest-describing keys are read.
    """
    name = validate_name(params.get('name'))
    guest_type = params.get('type') or 'pvh'
    if guest_type not in GUEST_TYPES:
        raise SpecError('type', 'expected one of %s, got %r' % (', '.join(GUEST_TYPES), guest_type))
    if params.get('memory') in (None, ''):
        raise SpecError('memory', 'a guest needs memory, e.g. 512M')
    memory = parse_size(params['memory'], 'memory', MAX_MEMORY_MIB)
    max_memory = parse_size(params['max_memory'], 'max_memory', MAX_MEMORY_MIB) if params.get('max_memory') else memory
    if max_memory < memory:
        raise SpecError('max_memory', 'max_memory (%s) is below memory (%s); raise max_memory or lower memory'
                        % (format_mib(max_memory), format_mib(memory)))
    vcpus = params.get('vcpus')
    if vcpus is None:
        vcpus = 1
    if isinstance(vcpus, bool) or not isinstance(vcpus, int) or not 1 <= vcpus <= MAX_VCPUS:
        raise SpecError('vcpus', 'expected a whole number from 1 to %d, got %r' % (MAX_VCPUS, vcpus))
    kernel = params.get('kernel') or ''
    bootloader = params.get('bootloader') or ''
    if kernel and bootloader:
        raise SpecError('kernel', 'give either kernel (direct boot) or bootloader, not both')
    if guest_type == 'pvh' and not kernel:
        raise SpecError('kernel', 'a pvh guest boots a kernel directly; set kernel (and initrd, cmdline), '
                                  'e.g. a PVH-capable grub image')
    if guest_type == 'pv' and not (kernel or bootloader):
        raise SpecError('kernel', 'a pv guest needs kernel or bootloader (e.g. pygrub)')
    if guest_type == 'hvm' and bootloader:
        raise SpecError('bootloader', 'an hvm guest boots from its disk; remove bootloader')
    for key in ('kernel', 'initrd', 'bootloader'):
        value = params.get(key) or ''
        if value and not value.startswith('/'):
            raise SpecError(key, 'must be an absolute path on the node, got %r' % (value,))
    if params.get('initrd') and not kernel:
        raise SpecError('initrd', 'initrd needs kernel')
    features = tuple(params.get('cpu_disable_features') or ())
    for feature in features:
        if not isinstance(feature, str) or not _FEATURE_RE.match(feature):
            raise SpecError('cpu_disable_features', 'invalid CPU feature name %r' % (feature,))
    return Spec(
        name=name,
        type=guest_type,
        memory_mib=memory,
        max_memory_mib=max_memory,
        vcpus=vcpus,
        kernel=kernel,
        initrd=params.get('initrd') or '',
        cmdline=params.get('cmdline') or '',
        bootloader=bootloader,
        cpu_disable_features=features,
        cpuset=normalise_cpuset(params.get('cpuset')),
        disks=_normalise_disks(name, params.get('root_disk'), params.get('swap'), params.get('disks'),
                               params.get('storage_vg') or ''),
        interfaces=_normalise_interfaces(name, params.get('interfaces')),
        services=_normalise_services(params.get('services')),
        autostart=bool(params.get('autostart')),
    )
