"""The inventory's inputs to site.yml, judged before anything changes (pure)."""
from __future__ import annotations

from ansible_collections.xenha.datacenter.plugins.module_utils._preflight import MISSING, inventory_problems

GOOD = {
    'node1': {'cluster_ip': '10.0.0.1', 'shared_storage_device': '/dev/disk/by-id/wwn-1',
              'cluster_fence_ipmi': {'address': '192.0.2.211', 'user': 'fence', 'password': 'from-a-vault'}},
    'node2': {'cluster_ip': '10.0.0.2', 'shared_storage_device': '/dev/disk/by-id/wwn-1',
              'cluster_fence_ipmi': {'address': '192.0.2.212', 'user': 'fence', 'password': 'from-a-vault'}},
    'x0': {'guest_ip': '10.0.0.10', 'guest_memory': '256M', 'guest_root_size': '2G', 'guest_swap_size': '512M',
           'guest_preferred_node': 'node1'},
}


def reader(hosts, unreadable=()):
    def read(host, name):
        if (host, name) in unreadable:
            raise ValueError("'vault_bmc_passwords' is undefined")
        return hosts[host].get(name, MISSING)
    return read


def problems(hosts, nodes=('node1', 'node2'), guests=('x0',), **kwargs):
    return inventory_problems(reader(hosts, **kwargs), list(nodes), list(guests))


def test_a_complete_inventory_has_no_problem():
    assert problems(GOOD) == []


def test_each_problem_names_the_host_the_variable_and_the_fix():
    hosts = {name: dict(values) for name, values in GOOD.items()}
    del hosts['node2']['cluster_ip']
    hosts['node1']['cluster_fence_ipmi'] = dict(hosts['node1']['cluster_fence_ipmi'], password='')
    hosts['node1']['shared_storage_device'] = 'sdb'
    hosts['x0'].update(guest_ip='10.0.0.300', guest_preferred_node='node7')
    del hosts['x0']['guest_swap_size']
    assert problems(hosts) == [
        'node1: cluster_fence_ipmi.password is empty',
        "node1: shared_storage_device must be the shared disk's stable path under /dev (e.g. /dev/disk/by-id/...), "
        "got 'sdb'",
        'node2: cluster_ip is not set; give the node its IPv4 address on the cluster network',
        "x0: guest_ip must be a plain IPv4 address, e.g. 10.0.0.10 (got '10.0.0.300')",
        'x0: guest_swap_size is not set, e.g. 512M',
        "x0: guest_preferred_node 'node7' is not one of the cluster nodes (node1, node2)",
    ]


def test_a_variable_that_cannot_be_read_is_named_with_the_reason():
    assert problems(GOOD, unreadable={('node2', 'cluster_fence_ipmi')}) == [
        "node2: cluster_fence_ipmi cannot be read ('vault_bmc_passwords' is undefined)"]


def test_one_node_is_no_cluster_and_fencing_settings_are_not_required_without_fencing():
    assert problems(GOOD, nodes=['node1']) == ['xen_nodes: a cluster needs at least two nodes, the inventory has 1']
    hosts = {name: {k: v for k, v in values.items() if k != 'cluster_fence_ipmi'} for name, values in GOOD.items()}
    assert inventory_problems(reader(hosts), ['node1', 'node2'], ['x0'], fencing=False) == []


# ---- what the nodes show (pure: their raw reports) ----

from ansible_collections.xenha.datacenter.plugins.module_utils._preflight import (  # noqa: E402
    capacity_problems, guest_capacity_mib, nodes_problems)

NODE_VARS = {
    'node1': {'cluster_ip': '10.0.0.1', 'shared_storage_device': '/dev/disk/by-id/virtio-xenha-shared',
              'hypervisor_bridge_address': '10.0.0.1/24', 'hypervisor_bridge_interface': 'ens4',
              'cluster_fence_ipmi': {'address': '10.0.2.2', 'user': 'admin', 'password': 'x'}},
    'node2': {'cluster_ip': '10.0.0.2', 'shared_storage_device': '/dev/disk/by-id/virtio-xenha-shared',
              'hypervisor_bridge_address': '10.0.0.2/24', 'hypervisor_bridge_interface': 'ens4',
              'cluster_fence_ipmi': {'address': '10.0.2.2', 'user': 'admin', 'password': 'x'}},
}
LINKS = ('1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n'
         '2: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n'
         '3: ens4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n')
XL_LIST = ('Name                                        ID   Mem VCPUs\tState\tTime(s)\n'
           'Domain-0                                     0  1024     1     r-----     100.0\n'
           'x0                                           3   256     1     -b----      10.0\n')


def report(node, address_on=None, disk='8589934592', xl_info='', xl_list='', meminfo_kib=2048 * 1024, bmc=None):
    addresses = '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n'
    if address_on:
        addresses += '3: %s    inet %s/24 brd 10.0.0.255 scope global %s\n' % (
            address_on, NODE_VARS[node]['cluster_ip'], address_on)
    return {'addresses': addresses, 'links': LINKS, 'disk_bytes': disk + '\n' if disk else '', 'portal': '',
            'xl_info': xl_info, 'xl_list': xl_list, 'meminfo': 'MemTotal:       %d kB\n' % meminfo_kib,
            'dom0_mib': 1024, 'bmc': bmc or {'peer': 'node2' if node == 'node1' else 'node1', 'rc': 0, 'stderr': '',
                                             'tool': True}}


def node_read(overrides=None):
    hosts = {name: dict(values) for name, values in NODE_VARS.items()}
    for host, values in (overrides or {}).items():
        hosts[host].update(values)
    return reader(hosts)


GUESTS = {'x0': '256M', 'x1': '512M'}


def test_ready_nodes_before_xen_have_no_problem():
    reports = {'node1': report('node1', address_on='ens4'), 'node2': report('node2')}  # node2: the bridge puts it
    assert nodes_problems(node_read(), reports, GUESTS) == []


def test_an_address_nowhere_and_not_the_bridge_s_is_named():
    reports = {'node1': report('node1', address_on='ens4'), 'node2': report('node2')}
    found = nodes_problems(node_read({'node2': {'hypervisor_bridge_address': '10.9.9.9/24'}}), reports, GUESTS)
    assert found == ['node2: cluster_ip 10.0.0.2 is on none of its interfaces (127.0.0.1); put it there, or let the '
                     'hypervisor role do it (hypervisor_bridge_address: "{{ cluster_ip }}/24")']


def test_a_bridge_interface_the_node_lacks_is_named():
    reports = {'node1': report('node1', address_on='ens4'), 'node2': report('node2')}
    found = nodes_problems(node_read({'node2': {'hypervisor_bridge_interface': 'eno2'}}), reports, GUESTS)
    assert len(found) == 1 and found[0].startswith("node2: hypervisor_bridge_interface 'eno2'")
    assert 'ens3, ens4, lo' in found[0]


def test_a_missing_shared_disk_and_different_sizes_are_named():
    reports = {'node1': report('node1', address_on='ens4', disk=''), 'node2': report('node2', address_on='ens4')}
    assert nodes_problems(node_read(), reports, GUESTS) == [
        'node1: shared_storage_device /dev/disk/by-id/virtio-xenha-shared is not a disk on the node; attach the shared '
        'disk, or correct the path (ls -l /dev/disk/by-id/)']
    reports['node1'] = report('node1', address_on='ens4', disk='1073741824')
    assert nodes_problems(node_read(), reports, GUESTS) == [
        'shared_storage_device: the nodes see disks of different sizes (node1 1073741824, node2 8589934592 bytes): '
        'they are not one shared disk']


def test_an_iscsi_portal_that_answers_is_enough_before_the_first_login():
    reports = {name: dict(report(name, address_on='ens4', disk=''), portal='open\n') for name in NODE_VARS}
    assert nodes_problems(node_read(), reports, GUESTS) == []
    reports['node2']['portal'] = 'closed\n'
    found = nodes_problems(node_read({'node2': {'shared_storage_iscsi_portal': '192.0.2.10:3260'}}), reports, GUESTS)
    assert found == ['node2: the iSCSI portal 192.0.2.10:3260 does not answer from the node, and '
                     '/dev/disk/by-id/virtio-xenha-shared is not there']


def test_a_bmc_that_does_not_answer_names_the_bmc_s_node_and_the_asker():
    bad = {'peer': 'node2', 'rc': 1, 'tool': True,
           'stderr': 'Error: Unable to establish IPMI v2 / RMCP+ session\n'}
    reports = {'node1': report('node1', address_on='ens4', bmc=bad), 'node2': report('node2', address_on='ens4')}
    assert nodes_problems(node_read(), reports, GUESTS) == [
        'node2: the BMC of node2 (cluster_fence_ipmi.address 10.0.2.2) does not answer "power status" from node1: '
        'Error: Unable to establish IPMI v2 / RMCP+ session; check its address, port, user and password, and the BMC '
        'network']
    # No ipmitool on the asking node yet (a fresh server): not asked, not a problem (the play says so).
    reports['node1']['bmc'] = {'peer': 'node2', 'rc': 127, 'tool': False, 'stderr': ''}
    assert nodes_problems(node_read(), reports, GUESTS) == []


def test_capacity_under_xen_is_the_ram_dom0_and_xen_leave_and_before_xen_what_dom0_keeps():
    # 2047 MiB of RAM, dom0 1024, Xen's share 32: 991, whatever Xen's free memory says at the moment (a guest
    # that just migrated away leaves memory Xen is still scrubbing, out of free_memory for a while).
    for free in ('700', '400'):
        assert guest_capacity_mib(report('node1', xl_info='total_memory : 2047\nfree_memory : %s\n' % free,
                                         xl_list=XL_LIST)) == 991
    assert guest_capacity_mib(report('node1', xl_info='total_memory : 65536\nfree_memory : 100\n',
                                     xl_list=XL_LIST)) == 65536 - 1024 - 1024
    assert guest_capacity_mib(report('node1', meminfo_kib=2000 * 1024)) == 2000 - 1024
    assert guest_capacity_mib({'meminfo': ''}) is None


def test_guests_that_do_not_fit_with_one_node_down_are_named():
    reports = {'node1': report('node1', address_on='ens4', meminfo_kib=1536 * 1024),
               'node2': report('node2', address_on='ens4')}
    assert nodes_problems(node_read(), reports, GUESTS) == [
        'memory: with node2 down, the guests (x0 256 MiB, x1 512 MiB; 768 MiB in all) do not fit on node1 (node1 512 '
        'MiB for guests); add memory, lower guest_memory or hypervisor_dom0_memory_mib, or add a node']


def test_capacity_places_largest_first_like_a_drain():
    # Three nodes: with any one down, 600 + 500 + 400 must fit on the other two.
    assert capacity_problems({'a': 1000, 'b': 1000, 'c': 1000}, {'g1': 600, 'g2': 500, 'g3': 400}) == []
    found = capacity_problems({'a': 1000, 'b': 700, 'c': 700}, {'g1': 600, 'g2': 500, 'g3': 400})
    assert [line.split(',')[0] for line in found] == ['memory: with a down']
