#!/usr/bin/env python3
"""The client-seen gap of a live migration, three ways side by side, on a guest of the benchmark's own
(benchmarks/migration_guest.yml: x0's size and image, outside the cluster, so no way needs Pacemaker's
hands off or a hand-back):

  module  the `migrate` module's libvirt path, run on the guest's node (tunnelled: false)
  virsh   `virsh migrate --live --p2p --persistent --undefinesource`
  xl      `xl migrate` over a plain socket (benchmarks/plain_socket.py), not SSH

All three carry the guest's memory on a plain TCP socket between the dom0s, so they move the same bytes.
For each leg: its total time and the longest time the lab's client got no answer (HTTP, and a TCP connect
to port 22, every 0.1 s); with the floor (the guest's RAM over the node-to-node bandwidth, measured first).
The module may add at most 5 % to the median gap of `virsh migrate --live`: the exit status says.

`xl migrate` moves the guest behind libvirt's back, so the xl rounds come last; the guest is removed at the end
(`--keep-guest` leaves it, e.g. to run again at once: the next run finds it and skips its first boot).

Usage: benchmarks/migration.py [--rounds N] [--ways module,virsh,xl] [--keep-guest]
(on a lab converged with site.yml; from `make`'s environment; leaves the lab up)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from labtools import LAB_DIR, MEMBERS, ansible, inventory, node_bandwidth_mb_s, on_node, playbook

from ansible_collections.xenha.datacenter.plugins.module_utils._drill import service_gaps, split_series

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_PLAYBOOK = os.path.join(HERE, 'migration_guest.yml')
# As migration_guest.yml declares them.
GUEST, ADDRESS = 'xbench', '10.0.0.19'
PLAIN_SOCKET = '/usr/local/lib/xenha-bench/plain_socket.py'
PLAIN_SOCKET_PORT = 8002
# A TCP connect to port 22 as a service of the sampler's own (a custom one names what serves it).
SERVICES = ['http', {'name': 'tcp22', 'packages': ['openssh-server'], 'port': 22, 'probe': 'tcp'}]
TARGETS = [{'name': GUEST, 'address': ADDRESS, 'services': SERVICES}]
SAMPLER_START_TIMEOUT = 60
# The guest at rest under the client's probes before the first move: each service must answer in it.
REST_SECONDS = 15
REST_TIMEOUT = 300
HOME, AWAY = MEMBERS
# The migrate module may add at most this much to the client-seen gap of a plain `virsh migrate --live`.
MODULE_MAX_ADDED_PERCENT = 5
WAY_NAMES = {'module': 'migrate module', 'virsh': 'virsh migrate --live', 'xl': 'xl migrate'}
MIGRATE_TIMEOUT = 900


# ---------------------------------------------------------------- the plan and the verdict (pure)

def plan(ways, rounds):
    """The order of the ways: `rounds` of each, xl's last (after it libvirt no longer knows the guest)."""
    unknown = [way for way in ways if way not in WAY_NAMES]
    if unknown or 'module' not in ways:
        raise ValueError('--ways: %s; choose among %s, module included (it is what is judged)'
                         % (', '.join(unknown) or 'module missing', ', '.join(WAY_NAMES)))
    libvirt_ways = [way for way in WAY_NAMES if way in ways and way != 'xl']
    return libvirt_ways * rounds + (['xl'] * rounds if 'xl' in ways else [])


def verdict(worst_gaps):
    """From {way: [worst client-seen gap of each leg, ms]}: (median per way, lines to print, passed)."""
    medians = {way: statistics.median(gaps) for way, gaps in worst_gaps.items()}
    shown = ', '.join('%s %d ms' % (WAY_NAMES[way], value) for way, value in medians.items())
    lines = ['median worst gap: %s' % shown]
    if 'virsh' not in medians:
        return medians, lines + ['no virsh migrate --live to judge the module against'], True
    module, raw = medians['module'], medians['virsh']
    # A raw gap of 0 ms leaves no room at all: any gap of the module's is then over the target.
    added = 100.0 * (module - raw) / raw if raw else (0.0 if not module else float('inf'))
    lines.append('the module adds %+.1f%% to the gap of virsh migrate --live' % added)
    if added > MODULE_MAX_ADDED_PERCENT:
        return medians, lines + ['over target: the module adds more than %d%%' % MODULE_MAX_ADDED_PERCENT], False
    return medians, lines + ['within target: the module adds at most %d%%' % MODULE_MAX_ADDED_PERCENT], True


def xl_commands(target):
    """(on the target, on the source): `xl migrate-receive` on a plain socket, and `xl migrate` into it."""
    receive = ('nohup timeout %d python3 %s receive %d >/var/log/xenha-bench-xl-receive.log 2>&1 &'
               % (MIGRATE_TIMEOUT, PLAIN_SOCKET, PLAIN_SOCKET_PORT))
    # With an empty ssh command xl runs its last argument as the whole transport command.
    send = "xl migrate -s '' %s 'python3 %s send %s %d'" % (GUEST, PLAIN_SOCKET, target, PLAIN_SOCKET_PORT)
    return receive, send


# ---------------------------------------------------------------- the lab (world)

def running_on():
    """The nodes whose hypervisor runs the guest, whoever started it (libvirt or xl)."""
    return [node for node in MEMBERS if on_node(node, 'xl domid %s' % GUEST).returncode == 0]


def arrived(target, started):
    """End a leg: the guest runs on `target` alone, or the benchmark stops and says where it runs."""
    ended = time.time()
    for _look in range(12):  # the source's domain may still be torn down
        where = running_on()
        if where == [target]:
            break
        time.sleep(5)
    if where != [target]:
        raise SystemExit('%s runs on %s after a move to %s; nothing else was tried'
                         % (GUEST, ', '.join(where) or 'no node', target))
    return started, ended


def leg_module(source, target):
    started = time.time()
    # No `watch`: its connects from the source's dom0 would cost this way CPU time the others do not pay.
    result = ansible(source, 'xenha.datacenter.migrate', {'name': GUEST, 'target': target, 'tunnelled': False,
                                                          'timeout': MIGRATE_TIMEOUT})
    if not result['rc_ok'] or result.get('failed'):
        raise SystemExit('migrate module, %s -> %s: %s' % (source, target, result.get('msg')))
    return arrived(target, started)


def leg_virsh(source, target):
    command = ('virsh -c xen:///system migrate --live --p2p --persistent --undefinesource %s xen+ssh://%s/system'
               % (GUEST, target))
    started = time.time()
    done = on_node(source, command)
    if done.returncode != 0:
        raise SystemExit('%s on %s failed: %s' % (command, source, (done.stderr or done.stdout)[-2000:]))
    return arrived(target, started)


def leg_xl(source, target):
    receive, send = xl_commands(target)
    on_node(target, receive, check=True)
    time.sleep(2)  # the listener binds
    started = time.time()
    done = on_node(source, send)
    if done.returncode != 0:
        log = on_node(target, 'cat /var/log/xenha-bench-xl-receive.log').stdout
        output = (done.stderr or done.stdout)[-2000:]
        raise SystemExit('xl migrate %s -> %s failed: %s\n%s: %s' % (source, target, output, target, log[-2000:]))
    return arrived(target, started)


LEGS = {'module': leg_module, 'virsh': leg_virsh, 'xl': leg_xl}


def start_sampler(samples_path, stop):
    """The client's probes of the guest, in the background, until every service answers them at rest; stop
    before any move when the probes do not start or a service stays silent."""
    job = ansible('client', 'xenha.datacenter.drill_sampler',
                  {'targets': TARGETS, 'output': samples_path, 'stop_file': stop, 'interval': 0.1, 'timeout': 1,
                   'counter_port': 0}, background=True)
    deadline = time.time() + SAMPLER_START_TIMEOUT
    while not (os.path.exists(samples_path) and os.path.getsize(samples_path)):
        if time.time() > deadline:
            status = ansible('client', 'ansible.builtin.async_status', {'jid': job.get('ansible_job_id', '')})
            raise SystemExit('the client\'s probes wrote nothing within %d s; nothing was moved: %s'
                             % (SAMPLER_START_TIMEOUT, status.get('msg') or job.get('msg') or status))
        time.sleep(2)
    # A service just started on an emulated CPU can take a while to answer within the probe's timeout.
    deadline = time.time() + REST_TIMEOUT
    while True:
        time.sleep(REST_SECONDS)
        with open(samples_path) as handle:
            silent = silent_at_rest([json.loads(line) for line in handle if line.strip()])
        if not silent:
            return
        if time.time() > deadline:
            open(stop, 'w').close()
            raise SystemExit('before any move, the guest did not answer %s within %d s; a gap cannot be measured '
                             'on a service that is silent at rest, so nothing was moved' % (silent, REST_TIMEOUT))


def silent_at_rest(samples):
    """The services of the guest at rest with no answer among the last REST_SECONDS of samples, each with
    what its last probe said; '' when each one answered."""
    if not samples:
        return 'any service (no samples)'
    since = max(sample['t'] for sample in samples) - REST_SECONDS
    silent = []
    for (target, service), values in sorted(split_series(samples).items()):
        recent = [value for value in values if value['t'] >= since]
        if recent and not any(value.get('ok') for value in recent):
            silent.append('%s/%s (%s)' % (target, service, recent[-1].get('detail', 'no answer')))
    return ', '.join(silent)


def guest_ram_mib():
    out = on_node(HOME, 'xl list %s' % GUEST, check=True).stdout.splitlines()[-1].split()
    return int(out[2])


def guest(state):
    playbook('-i', inventory(), GUEST_PLAYBOOK, '-e', 'bench_guest_state=%s' % state)


def measure(order, work):
    """Run the ways in `order`, there and back each; [(way, direction, start, end)]."""
    legs = []
    for way in order:
        for source, target in ((HOME, AWAY), (AWAY, HOME)):
            start, end = LEGS[way](source, target)
            legs.append((way, '%s->%s' % (source, target), start, end))
            print('%s %s->%s: %.1f s' % (WAY_NAMES[way], source, target, end - start), flush=True)
            # Kept as they come: a later failure leaves the earlier figures to read against samples.jsonl.
            with open(os.path.join(work, 'legs.json'), 'w') as handle:
                json.dump(legs, handle)
            time.sleep(10)
    return legs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--ways', default=','.join(WAY_NAMES), help='comma-separated, of: %s' % ', '.join(WAY_NAMES))
    parser.add_argument('--keep-guest', action='store_true', help='leave the benchmark guest on the lab')
    options = parser.parse_args()
    try:
        order = plan(options.ways.split(','), options.rounds)
    except ValueError as error:
        parser.error(str(error))
    guest('present')
    where = running_on()
    if where != [HOME]:
        raise SystemExit('%s must run on %s alone; it runs on %s (remove it: ansible-playbook -i %s %s -e '
                         'bench_guest_state=absent)' % (GUEST, HOME, ', '.join(where) or 'no node', inventory(),
                                                        GUEST_PLAYBOOK))
    ram = guest_ram_mib()
    bandwidth = node_bandwidth_mb_s(HOME, AWAY)
    work = os.path.join(LAB_DIR, 'bench-migration')
    os.makedirs(work, exist_ok=True)
    samples_path, stop = os.path.join(work, 'samples.jsonl'), os.path.join(work, 'stop')
    if os.path.exists(stop):
        os.unlink(stop)
    start_sampler(samples_path, stop)
    try:
        legs = measure(order, work)
    finally:
        open(stop, 'w').close()
        time.sleep(5)
        if not options.keep_guest:
            guest('absent')
    with open(samples_path) as handle:
        series = split_series([json.loads(line) for line in handle if line.strip()])
    print('guest %s: %d MiB RAM; node-to-node bandwidth %.1f MB/s; floor (RAM / bandwidth) %.2f s'
          % (GUEST, ram, bandwidth, ram * 1.048576 / bandwidth))
    print('%-22s %-14s %8s  %s' % ('way', 'leg', 'total s', 'longest client-seen gap per service (ms)'))
    worst = {}
    for way, direction, start, end in legs:
        gaps = {key.split('/', 1)[1]: int(round(value * 1000))
                for key, value in service_gaps(series, start, end + 5).items() if key.startswith(GUEST + '/')}
        worst.setdefault(way, []).append(max(gaps.values(), default=0))
        print('%-22s %-14s %8.1f  %s' % (WAY_NAMES[way], direction, end - start,
                                         ', '.join('%s %d' % item for item in sorted(gaps.items()))))
    _medians, lines, passed = verdict(worst)
    print('\n'.join(lines))
    return 0 if passed else 1


if __name__ == '__main__':
    sys.exit(main())
