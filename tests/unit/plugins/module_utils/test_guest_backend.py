"""The guest backend against libvirt's test driver, with file disks and a fake LVM."""
from __future__ import annotations

import libvirt
import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._guest import converge, list_guests
from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import Connection, GuestError
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError
from ansible_collections.xenha.datacenter.plugins.module_utils._storage import Storage

URI = 'test:///default'
WRITES = ('define', 'set_memory_live', 'set_metadata_live', 'set_autostart', 'start', 'shutdown', 'undefine')


class SpyConnection(Connection):
    """Records every write call the backend makes."""

    def __init__(self, uri):
        super().__init__(uri)
        self.calls = []

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name in WRITES:
            def record(*args, **kwargs):
                object.__getattribute__(self, 'calls').append(name)
                return attr(*args, **kwargs)
            return record
        return attr


@pytest.fixture
def conn(test_driver):
    connection = SpyConnection(URI)
    yield connection
    connection.close()


def x0(tmp_path, **overrides):
    params = dict(name='x0', state='running', memory='128M', max_memory='256M', vcpus=1, kernel='/boot/vmlinuz',
                  root_disk={'size': '2G', 'path': str(tmp_path / 'x0-root.img')},
                  swap={'size': '512M', 'path': str(tmp_path / 'x0-swap.img')},
                  interfaces=[{'bridge': 'xenbr0', 'ip': '10.0.0.10/24'}],
                  services=['dhcp', 'http', 'icecast', 'ssh'], shutdown_timeout=5)
    params.update(overrides)
    return params


def run(conn, params, lvm=None, check_mode=False):
    return converge(params, conn, Storage(lvm or (lambda args: (1, '', 'no lvm here'))), check_mode=check_mode)


def test_converge_twice_second_is_a_no_op_without_writes(conn, tmp_path):
    first = run(conn, x0(tmp_path))
    assert first['changed'] and first['guest']['state'] == 'running'
    assert (tmp_path / 'x0-root.img').stat().st_size == 2 * 1024 ** 3
    assert conn.calls == ['define', 'start']
    conn.calls.clear()
    second = run(conn, x0(tmp_path))
    assert not second['changed'] and second['changes'] == [] and conn.calls == []
    assert second['guest']['services'][2]['name'] == 'icecast'
    assert second['guest']['uuid'] == first['guest']['uuid'] and second['guest']['host']


def test_check_mode_changes_nothing_and_reports(conn, tmp_path):
    result = run(conn, x0(tmp_path), check_mode=True)
    assert result['changed'] and result['guest']['state'] == 'running'
    assert conn.calls == [] and not list(tmp_path.iterdir())
    assert conn.lookup('x0') is None
    run(conn, x0(tmp_path))
    conn.calls.clear()
    result = run(conn, x0(tmp_path, memory='200M', root_disk={'size': '3G', 'path': str(tmp_path / 'x0-root.img')}),
                 check_mode=True)
    assert result['changed'] and conn.calls == []
    assert (tmp_path / 'x0-root.img').stat().st_size == 2 * 1024 ** 3
    assert result['diff']['before']['memory'] == '128M' and result['diff']['after']['memory'] == '200M'


def test_memory_change_is_live_and_recorded(conn, tmp_path):
    run(conn, x0(tmp_path))
    result = run(conn, x0(tmp_path, memory='200M'))
    assert result['changes'] == ['memory: 128M -> 200M (live)']
    dom = conn.lookup('x0')
    assert dom.info()[2] == 200 * 1024 and dom.isActive()
    assert not run(conn, x0(tmp_path, memory='200M'))['changed']


def test_vcpus_change_waits_for_next_boot_and_never_restarts(conn, tmp_path):
    run(conn, x0(tmp_path))
    dom_id = conn.lookup('x0').ID()
    result = run(conn, x0(tmp_path, vcpus=2))
    assert result['next_boot'] == ['vcpus'] and result['guest']['restart_pending'] is True
    assert conn.lookup('x0').ID() == dom_id and 'shutdown' not in conn.calls


def test_grow_disk_and_refuse_shrink_without_changes(conn, tmp_path):
    run(conn, x0(tmp_path))
    grown = x0(tmp_path, root_disk={'size': '3G', 'path': str(tmp_path / 'x0-root.img')})
    assert run(conn, grown)['changes'][0] == 'disk root: grow 2G -> 3G'
    assert (tmp_path / 'x0-root.img').stat().st_size == 3 * 1024 ** 3
    conn.calls.clear()
    with pytest.raises(SpecError) as err:
        run(conn, x0(tmp_path, memory='200M'))   # declares 2G again: a shrink, refused before any write
    assert err.value.field == 'root_disk.size' and conn.calls == []
    assert (tmp_path / 'x0-root.img').stat().st_size == 3 * 1024 ** 3
    assert conn.lookup('x0').info()[2] == 128 * 1024


def test_mac_used_by_another_guest_is_refused(conn, tmp_path):
    first = run(conn, x0(tmp_path))
    mac = first['guest']['interfaces'][0]['mac']
    clash = x0(tmp_path, name='x9', root_disk={'size': '1G', 'path': str(tmp_path / 'x9.img')}, swap=None,
               interfaces=[{'bridge': 'xenbr0', 'mac': mac}])
    with pytest.raises(SpecError) as err:
        run(conn, clash)
    assert err.value.field == 'interfaces[0].mac' and 'x0' in str(err.value)
    assert conn.lookup('x9') is None and not (tmp_path / 'x9.img').exists()


def test_lv_disks_created_grown_and_missing_vg_refused(conn, tmp_path, lvm):
    params = x0(tmp_path, storage_vg='vg', root_disk={'size': '2G'}, swap={'size': '512M'})
    result = run(conn, params, lvm)
    assert [d['path'] for d in result['guest']['disks']] == ['/dev/vg/x0-root', '/dev/vg/x0-swap']
    assert lvm.lvs == {'vg/x0-root': 2048.0, 'vg/x0-swap': 512.0}
    lvm.writes.clear()
    assert not run(conn, params, lvm)['changed'] and lvm.writes == []
    run(conn, dict(params, swap={'size': '1G'}), lvm)
    assert lvm.writes == [['lvextend', '--size', '1024m', 'vg/x0-swap']]
    with pytest.raises(GuestError) as err:
        run(conn, x0(tmp_path, name='x5', storage_vg='vg_missing', root_disk={'size': '1G'}, swap=None, interfaces=[]),
            lvm)
    assert err.value.field == 'root_disk.vg' and conn.lookup('x5') is None


def test_a_full_volume_group_is_refused_before_any_disk_is_made(conn, tmp_path, lvm):
    lvm.vg_mib = 3 * 1024
    run(conn, x0(tmp_path, storage_vg='vg', root_disk={'size': '2G'}, swap={'size': '512M'}), lvm)
    lvm.writes.clear()
    # 512 MiB left: x1's 256M root alone would fit, and its swap would then fail with the guest half made.
    x1 = x0(tmp_path, name='x1', storage_vg='vg', root_disk={'size': '256M'}, swap={'size': '512M'}, interfaces=[])
    with pytest.raises(GuestError) as err:
        run(conn, x1, lvm)
    assert err.value.field == 'storage_vg'
    assert str(err.value).startswith("storage_vg: volume group vg has 512M free, and this guest's disks need 768M more; "
                                     "nothing was changed")
    assert lvm.writes == [] and conn.lookup('x1') is None
    # Check mode says so too, and the running x0 is untouched throughout.
    with pytest.raises(GuestError):
        run(conn, x1, lvm, check_mode=True)
    assert conn.lookup('x0').isActive() and lvm.lvs == {'vg/x0-root': 2048.0, 'vg/x0-swap': 512.0}
    # Growing counts only the growth: 512M more for the swap fits exactly.
    run(conn, x0(tmp_path, storage_vg='vg', root_disk={'size': '2G'}, swap={'size': '1G'}), lvm)
    assert lvm.writes == [['lvextend', '--size', '1024m', 'vg/x0-swap']]


def test_stopped_then_absent_with_and_without_disks(conn, tmp_path):
    run(conn, x0(tmp_path))
    assert run(conn, x0(tmp_path, state='stopped'))['guest']['state'] == 'stopped'
    assert not conn.lookup('x0').isActive()
    result = run(conn, {'name': 'x0', 'state': 'absent'})
    assert result['changed'] and conn.lookup('x0') is None
    assert (tmp_path / 'x0-root.img').exists()
    run(conn, x0(tmp_path))
    run(conn, {'name': 'x0', 'state': 'absent', 'remove_disks': True, 'shutdown_timeout': 5})
    assert not (tmp_path / 'x0-root.img').exists() and not (tmp_path / 'x0-swap.img').exists()
    assert not run(conn, {'name': 'x0', 'state': 'absent', 'remove_disks': True})['changed']


def test_state_present_leaves_running_state_alone(conn, tmp_path):
    run(conn, x0(tmp_path, state='present'))
    assert not conn.lookup('x0').isActive()
    run(conn, x0(tmp_path))
    assert not run(conn, x0(tmp_path, state='present'))['changed']
    assert conn.lookup('x0').isActive()


def test_bad_uri_names_the_field():
    with pytest.raises(GuestError) as err:
        Connection('test:///nonexistent/path.xml')
    assert err.value.field == 'uri' and 'libvirtd' in str(err.value)


def test_list_guests_shows_state_host_and_services(conn, tmp_path):
    run(conn, x0(tmp_path))
    run(conn, x0(tmp_path, name='x1', state='present', memory='512M', max_memory=None,
                 root_disk={'size': '5G', 'path': str(tmp_path / 'x1-root.img')},
                 swap={'size': '1G', 'path': str(tmp_path / 'x1-swap.img')},
                 interfaces=[{'bridge': 'xenbr0', 'ip': '10.0.0.11/24'}], services=['nx', 'bzflag', 'ssh']))
    guests = {g['name']: g for g in list_guests(conn, Storage(lambda a: (1, '', '')))}
    assert guests['x0']['state'] == 'running' and guests['x1']['state'] == 'stopped'
    assert guests['x1']['memory'] == '512M' and guests['x1']['disks'][0]['size'] == '5G'
    assert [s['name'] for s in guests['x1']['services']] == ['nx', 'bzflag', 'ssh']
    assert guests['x0']['host'] and guests['x0']['uuid']
    assert list_guests(conn, Storage(lambda a: (1, '', '')), 'nope') == []


class SlowMigration:
    """A libvirt domain whose migration outlasts the module's timeout and whose abort comes too late: the
    migration completes anyway."""

    def __init__(self, completes=True, abort_refused=True, runs_here_after=False):
        import threading
        self.completes = completes
        self.abort_refused = abort_refused
        self.runs_here_after = runs_here_after
        self.release = threading.Event()

    def name(self):
        return 'x0'

    def migrateToURI3(self, uri, params, flags):
        self.flags = flags
        self.release.wait(5)
        if not self.completes:
            raise libvirt.libvirtError('migration job: canceled by client')

    def abortJob(self):
        self.release.set()
        if self.abort_refused:
            raise libvirt.libvirtError('Requested operation is not valid: no job is active on the domain')

    def isActive(self):
        return self.runs_here_after


class NodeConn:
    def __init__(self, dom):
        self.dom = dom

    def lookupByName(self, name):
        return self.dom

    def getHostname(self):
        return 'node1'


def connection_with(dom):
    from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import Connection
    conn = object.__new__(Connection)
    conn.uri = 'xen:///system'
    conn._conn = NodeConn(dom)
    return conn


@pytest.mark.parametrize('tunnelled', [True, False])
def test_only_a_tunnelled_migration_rides_the_libvirt_connection(tunnelled):
    dom = SlowMigration(completes=True)
    dom.release.set()
    connection_with(dom).migrate_live(dom, 'xen+ssh://root@node2/system', 5, tunnelled=tunnelled)
    live = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
    assert dom.flags & live == live
    assert bool(dom.flags & libvirt.VIR_MIGRATE_TUNNELLED) is tunnelled


def test_a_migration_that_completes_as_it_is_aborted_is_not_reported_as_aborted():
    dom = SlowMigration(completes=True)
    assert connection_with(dom).migrate_live(dom, 'xen+ssh://root@node2/system', 0.1) is None


def test_an_aborted_migration_says_the_guest_keeps_running_here_only_when_it_does():
    from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import GuestError
    dom = SlowMigration(completes=False, abort_refused=False, runs_here_after=True)
    with pytest.raises(GuestError, match='it was aborted and the guest keeps running on node1') as err:
        connection_with(dom).migrate_live(dom, 'xen+ssh://root@node2/system', 0.1)
    assert err.value.field == 'timeout'
    dom = SlowMigration(completes=False, abort_refused=True, runs_here_after=False)
    with pytest.raises(GuestError, match='no longer runs on node1 \\(the abort was refused') as err:
        connection_with(dom).migrate_live(dom, 'xen+ssh://root@node2/system', 0.1)
