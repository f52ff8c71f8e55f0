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
