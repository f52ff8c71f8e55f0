"""The node's QEMU command line from the lab's settings: CPUs, the cluster NIC, and where the shared disk comes
from."""
from __future__ import annotations

import os

from lab_script import lab_part

nodes = lab_part('nodes')
network = lab_part('network')
NODE = {'name': 'node1', 'index': 1, 'ssh_port': 22101, 'bmc_port': 6231, 'cluster_ip': '10.0.0.1'}


def argv(tmp_path, **config):
    os.makedirs(tmp_path / 'nodes' / 'node1' / 'fw')
    (tmp_path / 'nodes' / 'node1' / 'fw' / 'hostname').write_text('node1\n')
    return nodes.qemu_argv(str(tmp_path), dict({'memory_mib': 2048, 'vcpus': 1}, **config), NODE)


def test_virtio_transport_attaches_the_shared_disk_to_the_node(tmp_path):
    line = ' '.join(argv(tmp_path, shared_disk_transport='virtio'))
    assert 'file=%s,' % (tmp_path / 'shared.img') in line and 'serial=xenha-shared' in line


def test_iscsi_transport_leaves_the_shared_disk_to_the_target(tmp_path):
    line = ' '.join(argv(tmp_path, shared_disk_transport='iscsi', vcpus=2))
    assert 'shared.img' not in line and 'xenha-shared' not in line
    assert '-smp 2' in line
    assert 'name=opt/xenha/hostname,file=' in line


def test_every_node_sees_the_small_sbd_disk_in_both_transports(tmp_path):
    for transport in ('virtio', 'iscsi'):
        line = ' '.join(argv(tmp_path / transport, shared_disk_transport=transport))
        assert 'file=%s,' % (tmp_path / transport / 'sbd.img') in line and 'serial=xenha-sbd' in line
        assert 'share-rw=on,serial=xenha-sbd' in line


def test_a_power_on_creates_the_sbd_disk_once(tmp_path):
    path = nodes.ensure_sbd_disk(str(tmp_path))
    assert os.path.getsize(path) == nodes.SBD_DISK_MIB * 1024 * 1024
    with open(path, 'r+b') as handle:
        handle.write(b'header')
    nodes.ensure_sbd_disk(str(tmp_path))
    with open(path, 'rb') as handle:
        assert handle.read(6) == b'header'


def test_the_cluster_nic_is_a_tap_with_offloads_named_apart_from_the_other_nodes(tmp_path):
    cluster = next(arg for arg in argv(tmp_path) if arg.startswith('tap,id=cluster,'))
    assert 'ifname=xenha-node1' in cluster and 'vnet_hdr=on' in cluster and 'script=no' in cluster
    names = {network.tap_name('node%d' % index) for index in range(1, 10)}
    assert len(names) == 9 and all(len(name) <= 15 for name in names)
