"""benchmarks/migration.py gives the guest back to the cluster only where the hypervisors show it."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _import_benchmark():
    # tests/conftest.py has put the collection on sys.path, as `make`'s PYTHONPATH does for the benchmarks.
    sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
    try:
        return importlib.import_module('migration')
    finally:
        sys.path.remove(os.path.join(ROOT, 'benchmarks'))


bench = _import_benchmark()


class FakeLab:
    """The nodes as the benchmark sees them over SSH: where `xl domid` finds the guest, what ran."""

    def __init__(self, monkeypatch, running, failing=(), failing_once=(), located=None):
        self.running = set(running)
        # The cluster's view: nodes, or one set of nodes per --locate (the last one then stays).
        if located is None:
            self.located = self.running
        elif located and isinstance(located[0], set):
            self.located = list(located)
        else:
            self.located = set(located)
        self.failing = set(failing)
        self.failing_once = set(failing_once)
        self.commands = []
        monkeypatch.setattr(bench, 'on_node', self.on_node)
        # A clock that moves only when the benchmark sleeps: its waits end at once, deadlines included.
        self.clock = 0.0
        monkeypatch.setattr(bench.time, 'sleep', self.sleep)
        monkeypatch.setattr(bench.time, 'monotonic', lambda: self.clock)

    def sleep(self, seconds):
        self.clock += seconds

    def on_node(self, node, command, check=False):
        self.commands.append((node, command))
        if command.startswith('xl domid'):
            rc = 0 if node in self.running else 1
        elif command.startswith('crm_resource --locate'):
            where = self.located.pop(0) if isinstance(self.located, list) and len(self.located) > 1 else (
                self.located[0] if isinstance(self.located, list) else self.located)
            out = ''.join('resource guest_x0 is running on: %s\n' % node for node in sorted(where))
            return subprocess.CompletedProcess(command, 0, out, '')
        else:
            once = [prefix for prefix in self.failing_once if command.startswith(prefix)]
            self.failing_once.difference_update(once)
            rc = 1 if once or any(command.startswith(prefix) for prefix in self.failing) else 0
        if check and rc:
            raise SystemExit('%s: `%s` failed' % (node, command))
        return subprocess.CompletedProcess(command, rc, '', 'failed' if rc else '')

    def position(self, prefix):
        return next(i for i, (_when, command) in enumerate(self.commands) if command.startswith(prefix))

    def managed_again(self):
        return any('--delete-parameter is-managed' in command for _when, command in self.commands)


def test_a_round_trip_that_ends_at_home_is_handed_back(monkeypatch):
    lab = FakeLab(monkeypatch, running=['node1'])
    there, back = bench.unmanaged_round_trip('virsh migrate x0 %s')
    assert there[0] <= there[1] <= back[0] <= back[1]
    assert ('node1', 'virsh migrate x0 node2') in lab.commands
    assert ('node2', 'virsh migrate x0 node1') in lab.commands
    assert lab.managed_again()
    # The monitor's failure from while the guest was away is forgotten before the cluster may act on it.
    assert lab.position('crm_resource --refresh') < lab.position('crm_resource --resource guest_x0 --meta --delete')
    assert lab.position('crm_resource --wait') < lab.position('crm_resource --resource guest_x0 --meta --set')


def test_a_guest_the_cluster_finds_elsewhere_stays_unmanaged(monkeypatch):
    lab = FakeLab(monkeypatch, running=['node1'], located=['node2'])
    with pytest.raises(SystemExit, match=r"the cluster finds x0 on \['node2'\], expected \['node1'\]"):
        bench.unmanaged_round_trip('virsh migrate x0 %s')
    assert not lab.managed_again()


def test_a_failed_leg_with_the_guest_at_home_is_handed_back_and_still_fails(monkeypatch):
    lab = FakeLab(monkeypatch, running=['node1'], failing=['virsh migrate'])
    with pytest.raises(SystemExit, match='virsh migrate x0 node2 on node1 failed'):
        bench.unmanaged_round_trip('virsh migrate x0 %s')
    assert lab.managed_again()


@pytest.mark.parametrize('running', [['node2'], ['node1', 'node2'], []])
def test_a_guest_elsewhere_than_expected_stays_unmanaged(monkeypatch, running):
    lab = FakeLab(monkeypatch, running=running, failing=['virsh migrate'])
    with pytest.raises(SystemExit, match='left unmanaged') as raised:
        bench.unmanaged_round_trip('virsh migrate x0 %s')
    assert 'crm_resource --resource guest_x0 --meta --delete-parameter is-managed' in str(raised.value)
    assert not lab.managed_again()


def test_xl_hands_back_only_a_guest_shut_down_everywhere(monkeypatch):
    # xl moved the guest behind libvirt's back: a copy still running would be started a second time.
    lab = FakeLab(monkeypatch, running=['node1'])
    with pytest.raises(SystemExit, match=r"runs on \['node1'\], expected no node"):
        bench.unmanaged_round_trip('xl migrate x0 %s', afterwards='true', expected=())
    assert not lab.managed_again()

    lab = FakeLab(monkeypatch, running=[])
    bench.unmanaged_round_trip('xl migrate x0 %s', afterwards='xl shutdown -w x0', expected=())
    assert ('node1', 'xl shutdown -w x0') in lab.commands
    assert lab.managed_again()


def test_a_refresh_the_busy_controller_left_unanswered_is_repeated(monkeypatch):
    lab = FakeLab(monkeypatch, running=['node1'], failing_once=['crm_resource --refresh'])
    bench.unmanaged_round_trip('virsh migrate x0 %s')
    refreshes = [command for _when, command in lab.commands if command.startswith('crm_resource --refresh')]
    assert len(refreshes) == 2


def test_a_refresh_that_never_answers_fails_the_benchmark(monkeypatch):
    FakeLab(monkeypatch, running=['node1'], failing=['crm_resource --refresh'])
    with pytest.raises(SystemExit, match='crm_resource --refresh --resource guest_x0'):
        bench.unmanaged_round_trip('virsh migrate x0 %s')


def test_the_cluster_is_given_the_guest_back_once_its_probes_have_found_it(monkeypatch):
    # Right after a refresh the cluster knows the resource nowhere until the probes answer.
    lab = FakeLab(monkeypatch, running=['node1'], located=[set(), set(), {'node1'}])
    bench.unmanaged_round_trip('virsh migrate x0 %s')
    assert lab.managed_again()
