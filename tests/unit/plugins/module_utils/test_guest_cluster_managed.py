"""Cluster-managed guests: the module writes the VirtualDomain config file, never defines or starts."""
from __future__ import annotations

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._domain_xml import parse_domain_xml
from ansible_collections.xenha.datacenter.plugins.module_utils._guest import converge
from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import Connection, GuestError
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError
from ansible_collections.xenha.datacenter.plugins.module_utils._storage import Storage

URI = 'test:///default'


@pytest.fixture
def conn(test_driver):
    connection = Connection(URI)
    yield connection
    connection.close()


def x1(tmp_path, **overrides):
    params = dict(name='x1', state='present', memory='512M', max_memory='768M', vcpus=1, kernel='/boot/vmlinuz',
                  cluster_config=str(tmp_path / 'x1.xml'),
                  root_disk={'size': '5G', 'path': str(tmp_path / 'x1-root.img')},
                  swap={'size': '1G', 'path': str(tmp_path / 'x1-swap.img')},
                  interfaces=[{'bridge': 'xenbr0', 'ip': '10.0.0.11/24'}], services=['nx', 'bzflag', 'ssh'])
    params.update(overrides)
    return params


def run(conn, params, check_mode=False):
    return converge(params, conn, Storage(lambda args: (1, '', 'no lvm here')), check_mode=check_mode)


def test_writes_the_config_file_and_defines_nothing_in_libvirt(conn, tmp_path):
    result = run(conn, x1(tmp_path))
    assert result['changed'] and 'define guest x1' in result['changes']
    spec = parse_domain_xml((tmp_path / 'x1.xml').read_text())
    assert spec.name == 'x1' and spec.memory_mib == 512 and [s.name for s in spec.services] == ['nx', 'bzflag', 'ssh']
    assert '\n  <name>x1</name>\n' in (tmp_path / 'x1.xml').read_text()  # VirtualDomain greps it on its own line
    assert conn.lookup('x1') is None
    assert result['guest']['state'] == 'not running here'
    assert result['guest']['cluster_config'] == str(tmp_path / 'x1.xml')


def test_second_run_is_a_no_op_and_keeps_the_file(conn, tmp_path):
    run(conn, x1(tmp_path))
    before = (tmp_path / 'x1.xml').read_text()
    second = run(conn, x1(tmp_path))
    assert not second['changed'] and second['changes'] == []
    assert (tmp_path / 'x1.xml').read_text() == before


def test_a_change_rewrites_the_file_keeping_the_uuid(conn, tmp_path):
    first = run(conn, x1(tmp_path))
    result = run(conn, x1(tmp_path, vcpus=2, root_disk={'size': '6G', 'path': str(tmp_path / 'x1-root.img')}))
    assert result['changed'] and 'vcpus: 1 -> 2' in result['changes']
    assert (tmp_path / 'x1-root.img').stat().st_size == 6 * 1024 ** 3
    assert result['guest']['uuid'] == first['guest']['uuid'] and result['guest']['vcpus'] == 2


def test_a_guest_rebooting_itself_is_left_to_the_cluster(conn, tmp_path):
    run(conn, x1(tmp_path))
    assert '<on_reboot>destroy</on_reboot>' in (tmp_path / 'x1.xml').read_text()
    # A file written before (the hypervisor restarted the guest behind the cluster) is rewritten.
    path = tmp_path / 'x1.xml'
    path.write_text(path.read_text().replace('<on_reboot>destroy</on_reboot>', '<on_reboot>restart</on_reboot>'))
    result = run(conn, x1(tmp_path))
    assert result['changed'] and 'on_reboot: restart -> destroy' in result['changes']
    assert parse_domain_xml(path.read_text()).on_reboot == 'destroy'


def test_check_mode_writes_nothing(conn, tmp_path):
    result = run(conn, x1(tmp_path), check_mode=True)
    assert result['changed']
    assert not (tmp_path / 'x1.xml').exists() and not (tmp_path / 'x1-root.img').exists()


def test_shrink_is_refused_and_the_file_is_untouched(conn, tmp_path):
    run(conn, x1(tmp_path))
    before = (tmp_path / 'x1.xml').read_text()
    with pytest.raises(SpecError) as err:
        run(conn, x1(tmp_path, root_disk={'size': '4G', 'path': str(tmp_path / 'x1-root.img')}))
    assert err.value.field == 'root_disk.size'
    assert (tmp_path / 'x1.xml').read_text() == before


@pytest.mark.parametrize('state', ['running', 'stopped'])
def test_start_and_stop_belong_to_the_cluster(conn, tmp_path, state):
    with pytest.raises(SpecError) as err:
        run(conn, x1(tmp_path, state=state))
    assert err.value.field == 'state' and 'crm resource' in str(err.value)
    assert not (tmp_path / 'x1.xml').exists()


def test_a_guest_defined_in_libvirt_is_refused(conn, tmp_path):
    run(conn, x1(tmp_path, cluster_config=None))  # defined in libvirt the ordinary way
    with pytest.raises(GuestError) as err:
        run(conn, x1(tmp_path))
    assert err.value.field == 'cluster_config' and 'virsh undefine x1' in str(err.value)
    assert not (tmp_path / 'x1.xml').exists()


def test_a_file_of_another_guest_is_refused(conn, tmp_path):
    run(conn, x1(tmp_path))
    with pytest.raises(GuestError) as err:
        run(conn, x1(tmp_path, name='x2'))
    assert err.value.field == 'cluster_config' and 'defines guest x1' in str(err.value)


def test_running_transient_guest_gets_memory_live_and_cannot_be_removed(conn, tmp_path):
    run(conn, x1(tmp_path))
    dom = conn._conn.createXML((tmp_path / 'x1.xml').read_text(), 0)  # what VirtualDomain does: virsh create
    result = run(conn, x1(tmp_path, memory='640M'))
    assert 'memory: 512M -> 640M (live)' in result['changes']
    assert dom.info()[2] == 640 * 1024
    assert result['guest']['state'] == 'running'
    with pytest.raises(GuestError) as err:
        run(conn, x1(tmp_path, state='absent'))
    assert err.value.field == 'state' and (tmp_path / 'x1.xml').exists()
    dom.destroy()


def test_absent_removes_the_file_and_keeps_disks_unless_asked(conn, tmp_path):
    run(conn, x1(tmp_path))
    result = run(conn, x1(tmp_path, state='absent'))
    assert result['changed'] and not (tmp_path / 'x1.xml').exists()
    assert (tmp_path / 'x1-root.img').exists()
    run(conn, x1(tmp_path))
    run(conn, x1(tmp_path, state='absent', remove_disks=True))
    assert not (tmp_path / 'x1-root.img').exists() and not (tmp_path / 'x1-swap.img').exists()
