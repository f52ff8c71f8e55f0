"""benchmarks/migration.py: the order of its ways, its verdict, its xl transport, and its stop when a move leaves
the guest anywhere but on its target; benchmarks/plain_socket.py carrying bytes both ways."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest
from benchmarks_path import BENCHMARKS, import_benchmark

from ansible_collections.xenha.datacenter.plugins.module_utils._spec import target_services

bench = import_benchmark('migration')


def test_each_way_runs_its_rounds_and_xl_comes_last():
    assert bench.plan(['xl', 'virsh', 'module'], 2) == ['module', 'virsh', 'module', 'virsh', 'xl', 'xl']
    assert bench.plan(['module'], 1) == ['module']


@pytest.mark.parametrize('ways, words', [
    (['virsh', 'xl'], 'module missing'),
    (['module', 'scp'], 'scp'),
])
def test_an_unknown_way_or_no_module_is_refused(ways, words):
    with pytest.raises(ValueError, match=words):
        bench.plan(ways, 1)


@pytest.mark.parametrize('gaps, passed, words', [
    ({'module': [1000, 1040], 'virsh': [1000, 1000]}, True, r'adds \+2\.0%'),
    ({'module': [1100, 1100], 'virsh': [1000, 1000]}, False, 'more than 5%'),
    ({'module': [900], 'virsh': [1000], 'xl': [700]}, True, r'adds -10\.0%'),
    ({'module': [10], 'virsh': [0]}, False, r'adds \+inf%'),
    ({'module': [0], 'virsh': [0]}, True, r'adds \+0\.0%'),
    ({'module': [5000]}, True, 'no virsh'),
])
def test_the_verdict_judges_the_module_against_virsh_by_medians(gaps, passed, words):
    medians, lines, ok = bench.verdict(gaps)
    assert ok is passed
    assert any(re.search(words, line) for line in lines), lines
    assert set(medians) == set(gaps)


def test_xl_moves_memory_on_a_plain_socket_not_ssh():
    receive, send = bench.xl_commands('node2')
    assert "xl migrate -s '' xbench" in send and 'send node2 8002' in send
    assert 'ssh' not in send
    assert 'receive 8002' in receive and receive.rstrip().endswith('&')


def test_the_client_probes_are_what_the_sampler_accepts():
    services = [service for _target, service in target_services(bench.TARGETS)]
    assert [(service.probe, service.port) for service in services] == [('http', 80), ('tcp', 22)]


def test_probes_that_do_not_start_stop_the_benchmark_before_any_move(monkeypatch, tmp_path):
    calls = []

    def ansible(name, module, args, background=False):
        calls.append(module)
        if background:
            return {'rc_ok': True, 'ansible_job_id': 'j1'}
        return {'rc_ok': True, 'finished': 1, 'failed': True, 'msg': 'targets[0].services[1]: unknown service'}
    monkeypatch.setattr(bench, 'ansible', ansible)
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(bench.time, 'time', lambda: next(clock))
    monkeypatch.setattr(bench.time, 'sleep', lambda seconds: None)
    with pytest.raises(SystemExit, match='wrote nothing within 60 s; nothing was moved: targets.0..services.1.'):
        bench.start_sampler(str(tmp_path / 'samples.jsonl'), str(tmp_path / 'stop'))
    assert calls == ['xenha.datacenter.drill_sampler', 'ansible.builtin.async_status']


def at_rest(http_ok, seconds=20):
    """Samples of the benchmark guest at rest, a probe of each service every second."""
    return [{'target': 'xbench', 'service': service, 't': 1000.0 + second,
             'ok': http_ok if service == 'http' else True, 'detail': 'ok' if http_ok else 'TimeoutError: timed out'}
            for second in range(seconds) for service in ('http', 'tcp22')]


def write_samples(path, samples):
    path.write_text(''.join(json.dumps(sample) + '\n' for sample in samples))


def test_probes_that_answer_at_rest_let_the_benchmark_go_on(monkeypatch, tmp_path):
    samples = tmp_path / 'samples.jsonl'
    write_samples(samples, at_rest(http_ok=True))
    monkeypatch.setattr(bench, 'ansible', lambda *args, **kwargs: {'rc_ok': True, 'ansible_job_id': 'j1'})
    monkeypatch.setattr(bench.time, 'sleep', lambda seconds: None)
    bench.start_sampler(str(samples), str(tmp_path / 'stop'))
    assert not (tmp_path / 'stop').exists()


def test_the_benchmark_waits_for_a_service_that_starts_late(monkeypatch, tmp_path):
    samples = tmp_path / 'samples.jsonl'
    write_samples(samples, at_rest(http_ok=False))
    looks = []

    def sleep(seconds):
        looks.append(seconds)
        if len(looks) == 3:  # the server answers from the third look on
            write_samples(samples, at_rest(http_ok=False) + [dict(s, t=s['t'] + 20) for s in at_rest(http_ok=True)])
    monkeypatch.setattr(bench, 'ansible', lambda *args, **kwargs: {'rc_ok': True, 'ansible_job_id': 'j1'})
    monkeypatch.setattr(bench.time, 'sleep', sleep)
    bench.start_sampler(str(samples), str(tmp_path / 'stop'))
    assert len(looks) == 3 and not (tmp_path / 'stop').exists()


def test_a_service_silent_at_rest_stops_the_benchmark_before_any_move(monkeypatch, tmp_path):
    samples = tmp_path / 'samples.jsonl'
    # It answered once, long before the rest period: that does not count.
    write_samples(samples, [dict(at_rest(http_ok=True)[0], t=900.0)] + at_rest(http_ok=False))
    monkeypatch.setattr(bench, 'ansible', lambda *args, **kwargs: {'rc_ok': True, 'ansible_job_id': 'j1'})
    monkeypatch.setattr(bench.time, 'sleep', lambda seconds: None)
    clock = iter(range(0, 10000, 20))
    monkeypatch.setattr(bench.time, 'time', lambda: next(clock))
    with pytest.raises(SystemExit, match=r'did not answer xbench/http \(TimeoutError: timed out\) within 300 s; '
                                         r'.*nothing was moved'):
        bench.start_sampler(str(samples), str(tmp_path / 'stop'))
    assert (tmp_path / 'stop').exists()  # the probes are told to end


class FakeLab:
    """The nodes over SSH: where `xl domid` finds the guest; a move puts it on its target, or where `after` says."""

    def __init__(self, monkeypatch, after=None):
        self.where = ['node1']
        self.after = after
        self.commands = []
        monkeypatch.setattr(bench, 'on_node', self.on_node)
        monkeypatch.setattr(bench, 'ansible', self.ansible)
        monkeypatch.setattr(bench.time, 'sleep', lambda seconds: None)

    def moved(self, target):
        self.where = list(self.after) if self.after is not None else [target]

    def on_node(self, node, command, check=False):
        self.commands.append((node, command))
        if command.startswith('xl domid'):
            return subprocess.CompletedProcess(command, 0 if node in self.where else 1, '', '')
        if command.startswith(('virsh', 'xl migrate')):
            self.moved('node2' if node == 'node1' else 'node1')
        return subprocess.CompletedProcess(command, 0, '', '')

    def ansible(self, name, module, args, background=False):
        self.commands.append((name, module))
        assert args['tunnelled'] is False and 'watch' not in args
        self.moved(args['target'])
        return {'rc_ok': True, 'changed': True}


def test_every_way_goes_there_and_back(monkeypatch, tmp_path):
    lab = FakeLab(monkeypatch)
    legs = bench.measure(['module', 'virsh', 'xl'], str(tmp_path))
    assert [(way, direction) for way, direction, _start, _end in legs] == [
        (way, direction) for way in ('module', 'virsh', 'xl') for direction in ('node1->node2', 'node2->node1')]
    assert all(start <= end for _way, _direction, start, end in legs)
    assert ('node2', 'xenha.datacenter.migrate') in lab.commands
    # xl's listener runs on the target before the source sends.
    receive = next(i for i, (node, command) in enumerate(lab.commands) if node == 'node2' and ' receive ' in command)
    send = next(i for i, (node, command) in enumerate(lab.commands) if node == 'node1' and 'xl migrate' in command)
    assert receive < send
    assert (tmp_path / 'legs.json').exists()


@pytest.mark.parametrize('after, words', [(['node1', 'node2'], 'node1, node2'), ([], 'no node')])
def test_a_move_that_leaves_the_guest_anywhere_but_its_target_stops_the_benchmark(monkeypatch, tmp_path, after,
                                                                                  words):
    lab = FakeLab(monkeypatch, after=after)
    with pytest.raises(SystemExit, match='xbench runs on %s after a move to node2' % words):
        bench.measure(['virsh', 'module'], str(tmp_path))
    assert not any(module == 'xenha.datacenter.migrate' for _node, module in lab.commands)


def test_the_plain_socket_carries_bytes_both_ways():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    script = os.path.join(BENCHMARKS, 'plain_socket.py')
    # `cat` stands in for `xl migrate-receive`: it answers with what it got.
    receiver = subprocess.Popen([sys.executable, script, 'receive', str(port), 'cat'], stderr=subprocess.PIPE,
                                text=True)
    try:
        assert 'listening on port %d' % port in receiver.stderr.readline()
        payload = os.urandom(1 << 20)
        sent = subprocess.run([sys.executable, script, 'send', '127.0.0.1', str(port)], input=payload,
                              capture_output=True, timeout=60, check=True)
        assert sent.stdout == payload
        assert receiver.wait(timeout=30) == 0
    finally:
        receiver.kill()
        receiver.stderr.close()
