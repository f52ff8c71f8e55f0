from __future__ import annotations

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._spec import (
    SERVICE_CATALOGUE, SpecError, build_spec, derive_mac, format_mib, normalise_cpuset, parse_size,
)


def params(**overrides):
    base = dict(name='x0', memory='128M', kernel='/boot/vmlinuz', storage_vg='vg_guests',
                root_disk={'size': '2G'}, swap={'size': '512M'})
    base.update(overrides)
    return base


@pytest.mark.parametrize('value, mib', [
    ('128M', 128), ('1G', 1024), ('512MiB', 512), (512, 512), ('512', 512), ('1.5G', 1536),
    ('2 GiB', 2048), ('1T', 1024 * 1024), ('2048K', 2), ('64mb', 64), ('1g', 1024),
])
def test_parse_size_accepts_common_forms(value, mib):
    assert parse_size(value, 'memory') == mib


@pytest.mark.parametrize('value', ['', 'abc', '12Q', '-1G', '0', 0, '1.3M', '100K', True, '1 G B', None])
def test_parse_size_rejects_malformed_sizes_naming_the_field(value):
    with pytest.raises(SpecError) as err:
        parse_size(value, 'root_disk.size')
    assert err.value.field == 'root_disk.size'
    assert 'root_disk.size' in str(err.value)


def test_format_mib_round_trips():
    for mib in (128, 512, 1024, 1536, 2048, 1024 * 1024):
        assert parse_size(format_mib(mib), 'x') == mib


def test_seed_x0_normalises():
    spec = build_spec(params(services=['dhcp', 'http', 'icecast', 'ssh'],
                             interfaces=[{'bridge': 'xenbr0', 'ip': '10.0.0.10/24'}]))
    assert spec.memory_mib == 128 and spec.max_memory_mib == 128 and spec.type == 'pvh'
    root, swap = spec.disks
    assert (root.name, root.size_mib, root.path, root.target) == ('root', 2048, '/dev/vg_guests/x0-root', 'xvda')
    assert (swap.name, swap.size_mib, swap.path, swap.target) == ('swap', 512, '/dev/vg_guests/x0-swap', 'xvdb')
    assert [s.name for s in spec.services] == ['dhcp', 'http', 'icecast', 'ssh']
    assert spec.services[2].port == 8000 and spec.services[2].probe == 'stream'
    assert spec.interfaces[0].ip == '10.0.0.10/24'
    assert spec.interfaces[0].mac.startswith('00:16:3e:')


def test_mac_is_stable_and_distinct_per_guest_and_interface():
    assert derive_mac('x0', 0) == derive_mac('x0', 0)
    macs = {derive_mac(n, i) for n in ('x0', 'x1', 'web') for i in range(3)}
    assert len(macs) == 9
    assert all(int(m.split(':')[3], 16) < 0x80 for m in macs)


@pytest.mark.parametrize('name', ['X0', '-x', 'x_0', 'a' * 64, '', 'x0.', 'Domain-0', None])
def test_invalid_names_are_refused(name):
    with pytest.raises(SpecError) as err:
        build_spec(params(name=name))
    assert err.value.field == 'name'


@pytest.mark.parametrize('overrides, field', [
    (dict(memory=None), 'memory'),
    (dict(memory='lots'), 'memory'),
    (dict(max_memory='64M'), 'max_memory'),
    (dict(vcpus=0), 'vcpus'),
    (dict(vcpus=999), 'vcpus'),
    (dict(type='kvm'), 'type'),
    (dict(kernel=None), 'kernel'),
    (dict(kernel='vmlinuz'), 'kernel'),
    (dict(type='pv', kernel=None), 'kernel'),
    (dict(bootloader='/usr/bin/pygrub'), 'kernel'),
    (dict(type='hvm', kernel=None, bootloader='/usr/bin/pygrub'), 'bootloader'),
    (dict(initrd='/boot/initrd', kernel=None, type='hvm'), 'initrd'),
    (dict(root_disk={'size': '2X'}), 'root_disk.size'),
    (dict(root_disk={}), 'root_disk.size'),
    (dict(root_disk={'size': '1G', 'colour': 'red'}), 'root_disk'),
    (dict(root_disk={'size': '1G', 'path': 'images/x0.img'}), 'root_disk.path'),
    (dict(root_disk={'size': '1G', 'path': '/a/x.img', 'vg': 'vg0'}), 'root_disk'),
    (dict(storage_vg=None), 'root_disk'),
    (dict(storage_vg='bad vg'), 'root_disk.vg'),
    (dict(disks=[{'size': '1G'}]), 'disks[0].name'),
    (dict(disks=[{'name': 'swap', 'size': '1G'}]), 'disks[0].name'),
    (dict(swap={'size': '1G', 'lv': 'x0-root'}), 'disks'),
    (dict(interfaces=[{'mac': 'zz:zz'}]), 'interfaces[0].mac'),
    (dict(interfaces=[{'mac': '01:00:5e:00:00:01'}]), 'interfaces[0].mac'),
    (dict(interfaces=[{'ip': '10.0.0.300'}]), 'interfaces[0].ip'),
    (dict(interfaces=[{'bridge': 'a bridge'}]), 'interfaces[0].bridge'),
    (dict(interfaces=[{'mac': '00:16:3e:00:00:01'}, {'mac': '00:16:3E:00:00:01'}]), 'interfaces'),
    (dict(interfaces=[{'vlan': 3}]), 'interfaces[0]'),
    (dict(services=['gopher']), 'services[0]'),
    (dict(services=['ssh', 'ssh']), 'services[1].name'),
    (dict(services=[{'name': 'ssh', 'port': 70000}]), 'services[0].port'),
    (dict(services=[{'name': 'ssh', 'protocol': 'sctp'}]), 'services[0].protocol'),
    (dict(services=[{'name': 'ssh', 'probe': 'ping'}]), 'services[0].probe'),
    (dict(services=[{'name': 'ssh', 'colour': 'red'}]), 'services[0]'),
    (dict(cpu_disable_features=['rdtscp; rm -rf']), 'cpu_disable_features'),
    (dict(cpuset='1;2'), 'cpuset'),
    (dict(cpuset='3-1'), 'cpuset'),
    (dict(cpuset='1,^1'), 'cpuset'),
])
def test_bad_input_names_the_field(overrides, field):
    with pytest.raises(SpecError) as err:
        build_spec(params(**overrides))
    assert err.value.field == field, str(err.value)


def test_unknown_service_lists_the_catalogue():
    with pytest.raises(SpecError) as err:
        build_spec(params(services=['gopher']))
    for known in SERVICE_CATALOGUE:
        assert known in str(err.value)


def test_custom_service_and_override():
    spec = build_spec(params(services=[{'name': 'api', 'packages': 'gunicorn', 'port': 8080, 'protocol': 'tcp',
                                        'probe': 'http'},
                                       {'name': 'ssh', 'port': 2222}]))
    api, ssh = spec.services
    assert api.packages == ('gunicorn',) and api.port == 8080
    assert ssh.port == 2222 and ssh.packages == ('openssh-server',) and ssh.probe == 'ssh'


def test_file_and_block_disks():
    spec = build_spec(params(root_disk={'size': '1G', 'path': '/var/lib/xen/x0.img'},
                             swap={'size': '256M', 'path': '/dev/sdb1'},
                             disks=[{'name': 'data', 'size': '4G', 'vg': 'vg_data'}]))
    kinds = [(d.name, d.kind, d.target) for d in spec.disks]
    assert kinds == [('root', 'file', 'xvda'), ('swap', 'block', 'xvdb'), ('data', 'lv', 'xvdc')]
    assert spec.disks[2].path == '/dev/vg_data/x0-data'


def test_pv_with_bootloader_and_hvm_without_kernel():
    assert build_spec(params(type='pv', kernel=None, bootloader='/usr/lib/xen-4.17/bin/pygrub')).bootloader
    assert build_spec(params(type='hvm', kernel=None)).type == 'hvm'


@pytest.mark.parametrize('value, canonical', [
    (None, ''), ('', ''), ('1', '1'), ('1,2,3', '1-3'), ('0-7,^0', '1-7'), ('3, 1', '1,3'), ('0-3,^1-2', '0,3'),
])
def test_cpuset_is_kept_the_way_libvirt_writes_it(value, canonical):
    assert normalise_cpuset(value) == canonical
    assert build_spec(params(cpuset=value)).cpuset == canonical


def test_zero_mib_is_written_in_mib():
    assert format_mib(0) == '0M'


def test_a_custom_service_needs_packages_and_port_only():
    spec = build_spec(params(services=[{'name': 'api', 'packages': ['gunicorn'], 'port': 8080},
                                       {'name': 'syslog', 'packages': ['rsyslog'], 'port': 514, 'protocol': 'udp'}]))
    api, syslog = spec.services
    assert (api.protocol, api.probe) == ('tcp', 'tcp') and (syslog.protocol, syslog.probe) == ('udp', 'udp')
    with pytest.raises(SpecError, match=r'packages and port .* \(missing: port\)'):
        build_spec(params(services=[{'name': 'api', 'packages': ['gunicorn']}]))


@pytest.mark.parametrize('key, size', [('memory', '99999999G'), ('max_memory', '17T')])
def test_sizes_beyond_what_xen_holds_are_refused(key, size):
    with pytest.raises(SpecError, match='more than the 16T this collection accepts') as err:
        build_spec(params(**{key: size}))
    assert err.value.field == key
