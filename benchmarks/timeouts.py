#!/usr/bin/env python3
"""How close the lab comes to the roles' default timeouts, under a load of the caller's choosing: the lab's
inventory loosens Corosync's token, the monitors' and the guests' timeouts for its emulated nodes, and this
says whether each loosening is still needed.

While LOAD runs (e.g. `make bench-timeouts LOAD='ansible-playbook playbooks/upgrade.yml'`):
  - each node records every second how long ago Corosync last received the token (the longest of ten
    readings of its stats map, benchmarks/token_sampler.py); a longer gap between two records is a dom0 stall;
  - every minute, each guest's and each disk clone's monitor is run by hand where the resource runs
    (`crm_resource --force-check`, which Pacemaker refuses for fence devices), timed on the node;
  - afterwards, each node's Pacemaker log gives every start, stop, probe and migration of the window, from
    the request to the result.
Then, per kind, the samples, the 99th percentile and the longest, beside the role's default and the lab's
setting. The samplers' records stay in lab-state/bench-timeouts/.

Usage: benchmarks/timeouts.py [--interval S] -- LOAD...   (from `make`'s environment; leaves the lab up)
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import yaml

from labtools import LAB_DIR, MEMBERS, ROOT, SSH_CONFIG, on_node

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN_LOG = '/var/tmp/xenha-bench-token.log'
TOKEN_SAMPLER = '/var/tmp/xenha-token-sampler.py'
# A regular expression that does not match the command line of the shell that runs pgrep or pkill with it.
TOKEN_SAMPLER_MATCH = "'[x]enha-token-sampler'"
PACEMAKER_LOG = '/var/log/pacemaker/pacemaker.log'
NODE_COMMAND_TIMEOUT = 120
# The timeouts each kind is held to: (role defaults file, variable).
LIMITS = {
    'corosync token silence': ('cluster', 'cluster_token_ms', 0.001),
    'dom0 stall': ('cluster', 'cluster_token_ms', 0.001),
    'guest monitor': ('guests', 'guests_monitor_timeout', 1),
    'disks monitor': ('guests', 'guests_monitor_timeout', 1),
    'guest start': ('guests', 'guests_start_timeout', 1),
    'guest stop': ('guests', 'guests_stop_timeout', 1),
    'guest migrate_to': ('guests', 'guests_migrate_timeout', 1),
    'guest migrate_from': ('guests', 'guests_migrate_timeout', 1),
    'guest probe': ('guests', 'guests_monitor_timeout', 1),
    'disks start': ('guests', 'guests_disks_start_timeout', 1),
}
REQUEST = re.compile(r'^(\w{3} \d\d \d\d:\d\d:\d\d\.\d+) \S+ pacemaker-controld.*Requesting local execution of '
                     r'(\S+) operation for (\S+) on (\S+) ')
RESULT = re.compile(r'^(\w{3} \d\d \d\d:\d\d:\d\d\.\d+) \S+ pacemaker-controld.*Result of (\S+) operation for '
                    r'(\S+) on (\S+): ')


# ---------------------------------------------------------------- records to figures (pure)

def token_samples(text):
    """From a node's token log: ([silence ms], [s between consecutive records]); records without a value
    (Corosync stopped or restarting) count for the stalls only, and a sampler's `start` (after a reboot)
    begins a new run of records, so a reboot is not a stall."""
    silences, gaps, last = [], [], None
    for line in text.splitlines():
        parts = line.split()
        if parts == ['start']:
            last = None
            continue
        try:
            stamp = float(parts[0])
        except (ValueError, IndexError):
            continue
        if last is not None:
            gaps.append(stamp - last)
        last = stamp
        if len(parts) > 1 and parts[-1].isdigit():
            silences.append(int(parts[-1]))
    return silences, gaps


def log_time(stamp, year, utc_offset_s=0):
    """A Pacemaker log stamp (no year, the node's local time) as epoch s."""
    local = datetime.datetime.strptime('%d %s' % (year, stamp), '%Y %b %d %H:%M:%S.%f')
    return local.replace(tzinfo=datetime.timezone.utc).timestamp() - utc_offset_s


def operation_kind(action, resource):
    """'guest start', 'disks probe', ... or None for a resource this benchmark does not judge."""
    for prefix, kind in (('guest_', 'guest'), ('disks_', 'disks')):
        if resource.startswith(prefix):
            return '%s %s' % (kind, action)
    return None


def operations(text, start, end, year, utc_offset_s=0):
    """From a node's Pacemaker log: {kind: [s from request to result]} for the operations requested between
    `start` and `end` (epoch s)."""
    pending, found = {}, {}
    for line in text.splitlines():
        request = REQUEST.match(line)
        if request:
            stamp, action, resource, node = request.groups()
            pending[(action, resource, node)] = log_time(stamp, year, utc_offset_s)
            continue
        result = RESULT.match(line)
        if result:
            stamp, action, resource, node = result.groups()
            asked = pending.pop((action, resource, node), None)
            kind = operation_kind(action, resource)
            if asked is not None and kind and start <= asked <= end:
                found.setdefault(kind, []).append(log_time(stamp, year, utc_offset_s) - asked)
    return found


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def table(samples, limits):
    """Lines: per kind, samples, p99, longest, the role's default and the lab's setting (s)."""
    lines = ['%-24s %7s %9s %9s %13s %11s' % ('kind (s)', 'samples', 'p99', 'longest', 'role default',
                                              'lab setting')]
    for kind in sorted(samples):
        values = samples[kind]
        default, lab = limits.get(kind, (None, None))
        lines.append('%-24s %7d %9.2f %9.2f %13s %11s' % (
            kind, len(values), percentile(values, 0.99), max(values),
            '-' if default is None else '%g' % default, '-' if lab is None else '%g' % lab))
    return lines


def limits_from(role_defaults, lab_settings):
    """{kind: (role default s, lab setting s)} from the roles' defaults and the lab's group_vars."""
    found = {}
    for kind, (role, variable, scale) in LIMITS.items():
        default = role_defaults[role].get(variable)
        lab = lab_settings.get(variable, default)
        found[kind] = (None if default is None else default * scale, None if lab is None else lab * scale)
    return found


# ---------------------------------------------------------------- the lab (world)

def start_token_samplers():
    for name in MEMBERS:
        running = on_node(name, 'pgrep -f %s >/dev/null' % TOKEN_SAMPLER_MATCH, timeout=NODE_COMMAND_TIMEOUT)
        if running.returncode == 1:  # not running (a reboot ended it); 255: the node does not answer yet
            on_node(name, 'nohup python3 %s >>%s 2>&1 </dev/null &' % (TOKEN_SAMPLER, TOKEN_LOG),
                    timeout=NODE_COMMAND_TIMEOUT)


def copy_token_sampler():
    for name in MEMBERS:
        subprocess.run(['scp', '-q', '-F', SSH_CONFIG, os.path.join(HERE, 'token_sampler.py'),
                        '%s:%s' % (name, TOKEN_SAMPLER)], stdin=subprocess.DEVNULL, check=True,
                       timeout=NODE_COMMAND_TIMEOUT)


def where_running(name):
    """The nodes running a resource, from any node that answers."""
    for node in MEMBERS:
        done = on_node(node, 'crm_resource --locate --quiet --resource %s' % name, timeout=NODE_COMMAND_TIMEOUT)
        if done.returncode == 0:
            return [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return []


def time_monitors(resources, failed):
    """[(kind, s)]: each resource's monitor, run by hand where it runs, timed on that node; a check that
    does not end in success goes to `failed` as (resource, node, what it said)."""
    timed = []
    for kind, name in resources:
        for node in where_running(name):
            done = on_node(node, 'start=$(date +%%s.%%N); crm_resource --force-check --resource %s >/dev/null 2>&1; '
                                 'echo "$? $start $(date +%%s.%%N)"' % name, timeout=NODE_COMMAND_TIMEOUT)
            parts = done.stdout.split()
            if done.returncode == 0 and len(parts) == 3 and parts[0] == '0':
                timed.append((kind, float(parts[2]) - float(parts[1])))
            else:
                failed.append((name, node, (done.stdout + done.stderr).strip()[-200:]))
    return timed


def monitored_resources():
    done = on_node(MEMBERS[0], 'crm_resource --list-raw', timeout=NODE_COMMAND_TIMEOUT)
    kinds = (('guest_', 'guest monitor'), ('disks_', 'disks monitor'))
    found = []
    for name in done.stdout.split():
        name = name.split(':')[0]
        for prefix, kind in kinds:
            if name.startswith(prefix) and (kind, name) not in found:
                found.append((kind, name))
    return found


def read_yaml(*path):
    with open(os.path.join(ROOT, *path)) as handle:
        return yaml.safe_load(handle) or {}


def collect(started, ended, monitors):
    """{kind: [s]}: the monitors timed by hand, and from each node its token records and the operations its
    Pacemaker log shows between `started` and `ended` (epoch s); the token records are kept in lab-state."""
    samples = {}
    for kind, seconds in monitors:
        samples.setdefault(kind, []).append(seconds)
    year = datetime.datetime.fromtimestamp(started, datetime.timezone.utc).year
    for name in MEMBERS:
        on_node(name, 'pkill -f %s' % TOKEN_SAMPLER_MATCH, timeout=NODE_COMMAND_TIMEOUT)
        records = on_node(name, 'cat %s' % TOKEN_LOG, timeout=NODE_COMMAND_TIMEOUT).stdout
        with open(os.path.join(LAB_DIR, 'bench-timeouts', 'token-%s.log' % name), 'w') as handle:
            handle.write(records)
        silences, gaps = token_samples(records)
        samples.setdefault('corosync token silence', []).extend(value / 1000.0 for value in silences)
        samples.setdefault('dom0 stall', []).extend(gaps)
        offset = on_node(name, 'date +%z', timeout=NODE_COMMAND_TIMEOUT).stdout.strip() or '+0000'
        offset_s = (1 if offset[0] == '+' else -1) * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60)
        log = on_node(name, 'cat %s' % PACEMAKER_LOG, timeout=NODE_COMMAND_TIMEOUT).stdout
        for kind, values in operations(log, started, ended, year, offset_s).items():
            samples.setdefault(kind, []).extend(values)
    return {kind: values for kind, values in samples.items() if values}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--interval', type=float, default=60, help='seconds between two rounds of monitors')
    parser.add_argument('load', nargs=argparse.REMAINDER, help='the command to run while measuring')
    options = parser.parse_args()
    load = options.load[1:] if options.load[:1] == ['--'] else options.load
    if not load:
        parser.error('LOAD: give the command to measure under, e.g. -- ansible-playbook playbooks/upgrade.yml')
    work = os.path.join(LAB_DIR, 'bench-timeouts')
    os.makedirs(work, exist_ok=True)
    for name in MEMBERS:
        on_node(name, 'pkill -f %s; rm -f %s' % (TOKEN_SAMPLER_MATCH, TOKEN_LOG), timeout=NODE_COMMAND_TIMEOUT)
    copy_token_sampler()
    start_token_samplers()
    resources = monitored_resources()
    started = time.time()
    # Its own stdin: SSH may have left the benchmark's non-blocking, which Ansible refuses.
    proc = subprocess.Popen(load, cwd=ROOT, stdin=subprocess.DEVNULL)
    monitors, failed = [], []
    try:
        while proc.poll() is None:
            start_token_samplers()
            monitors += time_monitors(resources, failed)
            with open(os.path.join(work, 'monitors.json'), 'w') as handle:
                json.dump(monitors, handle)
            deadline = time.time() + options.interval
            while proc.poll() is None and time.time() < deadline:
                time.sleep(1)
    except KeyboardInterrupt:  # a load stopped by hand still gets its figures
        proc.send_signal(signal.SIGINT)
        proc.wait()
    ended = time.time()
    samples = collect(started, ended, monitors)
    limits = limits_from({'cluster': read_yaml('roles', 'cluster', 'defaults', 'main.yml'),
                          'guests': read_yaml('roles', 'guests', 'defaults', 'main.yml')},
                         read_yaml('inventories', 'lab', 'group_vars', 'xen_nodes.yml'))
    outcome = 'passed' if proc.returncode == 0 else 'failed or stopped'
    print('under `%s` (%s, exit status %d), %.0f s:' % (' '.join(load), outcome, proc.returncode, ended - started))
    print('\n'.join(table(samples, limits)))
    for name, node, said in failed:
        print('a monitor run by hand did not succeed: %s on %s: %s' % (name, node, said))
    return proc.returncode


if __name__ == '__main__':
    sys.exit(main())
