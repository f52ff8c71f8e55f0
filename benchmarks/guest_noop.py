#!/usr/bin/env python3
"""Cost of a no-op converge of the guest module's backend, per guest.

Converges N guests (file disks in a temporary directory) on libvirt's test driver,
then converges them all again and prints the second pass's cost per guest.
Usage: benchmarks/guest_noop.py [N]   (default 200; target: under 5 ms per guest)
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import libvirt

from ansible_collections.xenha.datacenter.plugins.module_utils._guest import converge
from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import Connection
from ansible_collections.xenha.datacenter.plugins.module_utils._storage import Storage


def params(i, directory):
    return dict(name='g%03d' % i, state='running', memory='128M', vcpus=1, kernel='/boot/vmlinuz',
                root_disk={'size': '2G', 'path': os.path.join(directory, 'g%03d-root.img' % i)},
                swap={'size': '512M', 'path': os.path.join(directory, 'g%03d-swap.img' % i)},
                interfaces=[{'bridge': 'xenbr0', 'ip': '10.0.%d.%d/16' % (i // 250, i % 250 + 1)}],
                services=['ssh', 'http'])


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    keeper = libvirt.open('test:///default')  # keeps the test driver's state alive
    conn = Connection('test:///default')
    storage = Storage(lambda args: (1, '', 'no LVM in this benchmark'))
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        for i in range(count):
            assert converge(params(i, directory), conn, storage)['changed']
        first = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(count):
            assert not converge(params(i, directory), conn, storage)['changed']
        noop = time.perf_counter() - start
    conn.close()
    keeper.close()
    print('guests: %d' % count)
    print('first converge:  %.2f ms per guest (%.2f s total)' % (first * 1000 / count, first))
    print('no-op converge:  %.2f ms per guest (%.2f s total; target < 5 ms)' % (noop * 1000 / count, noop))
    return 0 if noop * 1000 / count < 5 else 1


if __name__ == '__main__':
    sys.exit(main())
