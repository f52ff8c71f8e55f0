"""The modules' entry points: arguments in, JSON out, on libvirt's test driver."""
from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.xenha.datacenter.plugins.modules import drain, guest, guest_info, migrate


def call(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        module.main()
    out = json.loads(capsys.readouterr().out)
    out['rc'] = exc.value.code
    return out


def x0(tmp_path, **overrides):
    args = dict(name='x0', uri='test:///default', state='running', memory='128M', kernel='/boot/vmlinuz',
                root_disk={'size': '1G', 'path': str(tmp_path / 'x0.img')}, services=['ssh', 'http'],
                _ansible_diff=True)
    args.update(overrides)
    return args


def test_guest_module_converges_then_reports_no_change(test_driver, tmp_path, capsys):
    first = call(guest, x0(tmp_path), capsys)
    assert first['rc'] == 0 and first['changed'] and first['diff']['after']['state'] == 'running'
    second = call(guest, x0(tmp_path), capsys)
    assert second['rc'] == 0 and not second['changed']
    assert second['diff']['before'] == second['diff']['after']


def test_guest_module_check_mode(test_driver, tmp_path, capsys):
    result = call(guest, x0(tmp_path, _ansible_check_mode=True), capsys)
    assert result['changed'] and not (tmp_path / 'x0.img').exists()
    assert test_driver.listAllDomains(0) and 'x0' not in [d.name() for d in test_driver.listAllDomains(0)]


def test_guest_module_error_names_field_and_changes_nothing(test_driver, tmp_path, capsys):
    result = call(guest, x0(tmp_path, memory='12Q'), capsys)
    assert result['rc'] == 1 and result['failed'] and result['field'] == 'memory'
    assert 'memory' in result['msg'] and not (tmp_path / 'x0.img').exists()


def test_guest_module_requires_memory_unless_absent(test_driver, tmp_path, capsys):
    result = call(guest, {'name': 'x0', 'uri': 'test:///default'}, capsys)
    assert result['failed'] and 'memory' in result['msg']
    assert not call(guest, {'name': 'x0', 'uri': 'test:///default', 'state': 'absent'}, capsys)['changed']


def test_missing_libvirt_python_is_reported(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(guest, 'LIBVIRT_IMPORT_ERROR', 'ImportError: No module named libvirt')
    result = call(guest, x0(tmp_path), capsys)
    assert result['failed'] and 'libvirt-python' in result['msg']


def test_guest_info_lists_guests(test_driver, tmp_path, capsys):
    call(guest, x0(tmp_path), capsys)
    result = call(guest_info, {'uri': 'test:///default', 'name': 'x0'}, capsys)
    assert not result['changed'] and len(result['guests']) == 1
    assert result['guests'][0]['services'][1]['probe'] == 'http'
    everything = call(guest_info, {'uri': 'test:///default'}, capsys)
    assert [g['name'] for g in everything['guests']] == sorted(g['name'] for g in everything['guests'])


def test_guest_info_unreachable_libvirt(capsys):
    result = call(guest_info, {'uri': 'test:///no/such/file.xml'}, capsys)
    assert result['failed'] and result['field'] == 'uri'


@pytest.fixture
def no_cluster_tools(monkeypatch, tmp_path):
    """A host without Pacemaker or LVM: PATH holds neither (as on a machine that is no cluster node)."""
    for tool in ('crm_mon', 'vgs'):
        if any(os.path.exists(os.path.join(d, tool)) for d in ('/sbin', '/usr/sbin', '/usr/local/sbin')):
            pytest.skip('%s is installed on this machine in a directory Ansible always searches' % tool)
    empty = tmp_path / 'bin'
    empty.mkdir()
    monkeypatch.setenv('PATH', str(empty))


def test_drain_refuses_bad_parallel_and_timeout(capsys):
    result = call(drain, {'node': 'node1', 'parallel': 0}, capsys)
    assert result['failed'] and result['field'] == 'parallel' and 'parallel must be 1 or more' in result['msg']
    result = call(drain, {'node': 'node1', 'timeout': 0}, capsys)
    assert result['failed'] and result['field'] == 'timeout'


def test_drain_on_a_host_without_pacemaker_says_there_is_no_cluster(no_cluster_tools, capsys):
    result = call(drain, {'node': 'node1'}, capsys)
    assert result['failed'] and result['field'] == 'node'
    assert 'no running cluster here (crm_mon: not installed on this node' in result['msg']


def test_migrate_on_a_host_without_pacemaker_takes_the_libvirt_path(no_cluster_tools, test_driver, capsys):
    result = call(migrate, {'name': 'x9', 'target': 'node2', 'uri': 'test:///default'}, capsys)
    assert result['failed'] and result['field'] == 'name' and 'guest x9 is not running on' in result['msg']


def test_migrate_refuses_a_timeout_below_one_second_before_asking_anything(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(migrate.AnsibleModule, 'run_command', lambda self, argv, **kw: asked.append(argv))
    result = call(migrate, {'name': 'x0', 'target': 'node2', 'timeout': -5}, capsys)
    assert result['failed'] and result['field'] == 'timeout' and asked == []


def test_guest_on_a_host_without_lvm_names_the_disk_and_the_fix(no_cluster_tools, test_driver, tmp_path, capsys):
    result = call(guest, x0(tmp_path, root_disk={'size': '1G', 'vg': 'vg_guests'}), capsys)
    assert result['failed'] and result['field'] == 'root_disk.vg' and 'install lvm2' in result['msg']


def test_migrate_refuses_a_bad_watch_before_asking_anything(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(migrate.AnsibleModule, 'run_command', lambda self, argv, **kw: asked.append(argv))
    result = call(migrate, {'name': 'x0', 'target': 'node2', 'watch': ['10.0.0.10']}, capsys)
    assert result['failed'] and result['field'] == 'watch' and 'HOST:PORT' in result['msg']
    result = call(migrate, {'name': 'x0', 'target': 'node2', 'watch': ['10.0.0.10:80'], 'watch_interval': 0}, capsys)
    assert result['failed'] and result['field'] == 'watch_interval'
    assert asked == []


@pytest.mark.parametrize('memory', ['99999999G', '9999999999G', '17T'])
def test_guest_module_refuses_memory_no_node_can_hold_before_touching_anything(test_driver, tmp_path, capsys, memory):
    result = call(guest, x0(tmp_path, memory=memory), capsys)
    assert result['rc'] == 1 and result['field'] == 'memory' and not result['changed']
    assert not (tmp_path / 'x0.img').exists()
    assert 'x0' not in [d.name() for d in test_driver.listAllDomains(0)]


def test_guest_module_refuses_more_memory_than_the_node_has(test_driver, tmp_path, capsys):
    # libvirt's test driver reports a node of 3 GiB
    result = call(guest, x0(tmp_path, memory='4G'), capsys)
    assert result['rc'] == 1 and result['field'] == 'memory' and 'this node has (3G of RAM)' in result['msg']
    assert not (tmp_path / 'x0.img').exists()


def test_guest_module_refuses_a_disk_larger_than_any_it_accepts(test_driver, tmp_path, capsys):
    result = call(guest, x0(tmp_path, root_disk={'size': '20T', 'path': str(tmp_path / 'x0.img')}), capsys)
    assert result['rc'] == 1 and result['field'] == 'root_disk.size' and not (tmp_path / 'x0.img').exists()


def test_a_failure_after_a_change_reports_the_change(test_driver, tmp_path, capsys, monkeypatch):
    from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import Connection, GuestError

    def refuse(self, xml):
        raise GuestError('defining the guest failed: numerical overflow')
    monkeypatch.setattr(Connection, 'define', refuse)
    result = call(guest, x0(tmp_path), capsys)
    assert result['rc'] == 1 and result['changed'] is True
    assert result['done'] == ['create disk root (%s, 1G)' % (tmp_path / 'x0.img')]
    assert 'Already done before the failure: create disk root' in result['msg']


def test_guest_module_refuses_an_existing_file_that_is_not_a_disk(test_driver, tmp_path, capsys):
    notes = tmp_path / 'notes.txt'
    notes.write_text('hello world\n')
    result = call(guest, x0(tmp_path, root_disk={'size': '1G', 'path': str(notes)}), capsys)
    assert result['rc'] == 1 and result['field'] == 'root_disk.path' and 'not a disk image' in result['msg']
    assert notes.read_text() == 'hello world\n'
    assert 'x0' not in [d.name() for d in test_driver.listAllDomains(0)]


def test_guest_module_takes_an_existing_image_or_a_sparse_file(test_driver, tmp_path, capsys):
    image = tmp_path / 'image.img'
    with open(image, 'wb') as handle:
        handle.truncate(1024 * 1024)
        handle.seek(1080)
        handle.write(b'\x53\xef')  # ext4's magic
    assert call(guest, x0(tmp_path, root_disk={'size': '1G', 'path': str(image)}), capsys)['rc'] == 0
    sparse = tmp_path / 'sparse.img'
    with open(sparse, 'wb') as handle:
        handle.truncate(1024 * 1024)
    result = call(guest, x0(tmp_path, name='x2', root_disk={'size': '1G', 'path': str(sparse)}), capsys)
    assert result['rc'] == 0, result


def test_guest_module_refuses_a_bridge_the_node_does_not_have(test_driver, tmp_path, capsys, monkeypatch):
    from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import Connection
    monkeypatch.setattr(Connection, 'bridges', lambda self: {'xenbr0'})
    result = call(guest, x0(tmp_path, interfaces=[{'bridge': 'nosuchbr0'}]), capsys)
    assert result['rc'] == 1 and result['field'] == 'interfaces[0].bridge'
    assert 'no bridge nosuchbr0 on this node (it has xenbr0)' in result['msg']
    assert not (tmp_path / 'x0.img').exists()
    assert call(guest, x0(tmp_path, interfaces=[{'bridge': 'xenbr0'}]), capsys)['rc'] == 0


def test_bridges_are_read_from_the_node_only_for_a_local_hypervisor(tmp_path, monkeypatch):
    from ansible_collections.xenha.datacenter.plugins.module_utils import _libvirt
    (tmp_path / 'xenbr0' / 'bridge').mkdir(parents=True)
    (tmp_path / 'eth0').mkdir()
    monkeypatch.setattr(_libvirt, 'SYS_CLASS_NET', str(tmp_path))
    conn = object.__new__(_libvirt.Connection)
    for uri, bridges in [('xen:///system', {'xenbr0'}), ('test:///default', None), ('xen+ssh://node2/system', None)]:
        conn.uri = uri
        assert conn.bridges() == bridges, uri
