#!/usr/bin/env python3
"""Figures of the lab on this machine: image build, warm lab up to SSH, memory per node,
host CPU of an idle lab, the cluster network's dom0-to-dom0 bandwidth both ways, lab down. Prints them; exits
non-zero only if a step fails.

Usage: benchmarks/lab.py [--flavour preloaded|plain] [--idle-seconds 30]
Runs as root; takes the lab down at the start and leaves it down at the end.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from labtools import LAB_DIR, labctl as lab_command, node_bandwidth_mb_s


def labctl(*args):
    """labctl.py's result and the seconds it took."""
    started = time.monotonic()
    try:
        result = lab_command(*args)
    except RuntimeError as error:
        raise SystemExit(str(error)) from error
    return result, time.monotonic() - started


def qemu_pids():
    pids = {}
    nodes = os.path.join(LAB_DIR, 'nodes')
    for name in sorted(os.listdir(nodes)):
        with open(os.path.join(nodes, name, 'qemu.pid'), encoding='ascii') as handle:
            pids[name] = int(handle.read().strip())
    return pids


def status_kib(pid, field):
    with open('/proc/%d/status' % pid, encoding='ascii') as handle:
        for line in handle:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
        fields = handle.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--flavour', default='preloaded', choices=['preloaded', 'plain'])
    parser.add_argument('--idle-seconds', type=int, default=30)
    args = parser.parse_args()
    labctl('down')
    image, build_s = labctl('image', '--flavour', args.flavour)
    up, up_s = labctl('up', '--image', image['image'], '--flavour', args.flavour, '--wait', '600')
    pids = qemu_pids()
    hz = os.sysconf('SC_CLK_TCK')
    before = {n: cpu_ticks(p) for n, p in pids.items()}
    time.sleep(args.idle_seconds)
    idle = sum(cpu_ticks(p) - before[n] for n, p in pids.items()) / hz / args.idle_seconds
    peak = {n: status_kib(p, 'VmHWM') // 1024 for n, p in pids.items()}
    names = sorted(pids)
    bandwidth = {(a, b): node_bandwidth_mb_s(a, b) for a, b in ((names[0], names[1]), (names[1], names[0]))}
    _down, down_s = labctl('down')
    print('image (%s): %s in %.1f s' % (args.flavour, 'built' if image['changed'] else 'cached', build_s))
    print('lab up, %d nodes booting from disk until all answer SSH: %.1f s (target < 90 s)' % (len(pids), up_s))
    for name, mib in peak.items():
        print('peak memory of %s (QEMU RSS high-water mark, after boot + %d s idle): %d MiB'
              % (name, args.idle_seconds, mib))
    print('host CPU of the idle lab just after boot: %.2f cores over %d s' % (idle, args.idle_seconds))
    for (sender, receiver), mb_s in bandwidth.items():
        print('cluster network, dom0 to dom0, %s -> %s (raw TCP, 128 MiB, no guests): %.1f MB/s'
              % (sender, receiver, mb_s))
    print('lab down: %.1f s' % down_s)
    return 0


if __name__ == '__main__':
    sys.exit(main())
