"""Helpers shared by the verify tests: reach any host of the lab inventory, read the cluster."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time

import testinfra

INVENTORY = os.path.dirname(os.environ['MOLECULE_INVENTORY_FILE'])
LAB_DIR = os.environ.get('XENHA_LAB_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', '..', 'lab-state')
MEMBERS = ['node1', 'node2']
# The lab inventory's guests: preferred node, address, services.
GUESTS = {
    'x0': ('node1', '10.0.0.10', ['dhcp', 'http', 'icecast', 'ssh']),
    'x1': ('node2', '10.0.0.11', ['nx', 'bzflag', 'ssh']),
}


def lab_host(name):
    return testinfra.get_host('ansible://%s?force_ansible=True' % name, ansible_inventory=INVENTORY)


class ModuleFailed(Exception):
    """A module run that failed; `result` is what the module returned (msg, field, ...)."""

    def __init__(self, result):
        super().__init__(result.get('msg', result))
        self.result = result


def run_module(name, module, args, check=False):
    """Run one module on one host of the lab inventory through Ansible; its result, or ModuleFailed.
    testinfra's host.ansible() cannot tell a failed module from a successful one with ansible-core 2.19 (the
    result its `ansible --tree` run reads back has no "failed" key any more), so Ansible's exit status decides."""
    with tempfile.TemporaryDirectory() as tree:
        proc = subprocess.run(['ansible', '-i', INVENTORY, name, '-m', module, '-a', args, '--tree', tree]
                              + (['--check'] if check else []), capture_output=True, text=True, check=False)
        try:
            with open(os.path.join(tree, name), encoding='utf-8') as handle:
                result = json.load(handle)
        except FileNotFoundError:
            result = {'msg': proc.stdout + proc.stderr}
    if proc.returncode != 0 or result.get('failed') or result.get('unreachable'):
        raise ModuleFailed(result)
    return result


def guest_placement(host):
    """{guest: [nodes it is active on]} from crm_mon."""
    xml = host.check_output('crm_mon --one-shot --output-as=xml')
    placement = {}
    for rid, body in re.findall(r'<resource id="guest_([^"]+)"[^>]*?(?:/>|>(.*?)</resource>)', xml, re.S):
        placement[rid] = re.findall(r'<node name="([^"]+)"', body or '')
    return placement


def wait_for(what, check, timeout, interval=10):
    """Poll `check` until it returns a truthy value; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, 'timed out after %d s waiting for %s (last: %r)' % (timeout, what, value)
            return value
        time.sleep(interval)


def probe(targets, **options):
    """Run the probe module on the lab's client (the user's vantage point)."""
    # Nested guests under emulation answer slowly (seconds for an SSH banner): a generous timeout.
    options.setdefault('timeout', 15)
    args = dict(targets=targets, dhcp_interface='lab0', **options)
    return run_module('client', 'xenha.datacenter.probe', json.dumps(args))


def all_targets():
    return [{'name': g, 'address': ip, 'services': services} for g, (_pref, ip, services) in GUESTS.items()]
