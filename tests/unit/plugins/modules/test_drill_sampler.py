"""drill_sampler: probes of each service on their own clock, each with its own timeout."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.xenha.datacenter.plugins.modules import drill_sampler


def slow_ssh_server(delay):
    """An sshd that sends its banner `delay` seconds after each connection (a guest short of CPU)."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(8)

    def answer(conn):
        with conn:
            time.sleep(delay)
            try:
                conn.sendall(b'SSH-2.0-OpenSSH_9.2p1\r\n')
            except OSError:
                pass  # the probe gave up first

    def serve():
        while True:
            try:
                conn, _peer = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server


def sample(tmp_path, capsys, port, **options):
    output = tmp_path / 'samples.jsonl'
    args = dict(targets=[{'name': 'x0', 'address': '127.0.0.1', 'services': [{'name': 'ssh', 'port': port}]}],
                output=str(output), stop_file=str(tmp_path / 'stop'), duration=2, interval=0.2, timeout=0.3,
                counter_port=0, **options)
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        drill_sampler.main()
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0, result
    return [json.loads(line) for line in output.read_text().splitlines()]


def test_a_slow_banner_is_down_past_the_timeout_and_up_within_the_services_own(tmp_path, capsys):
    server = slow_ssh_server(0.6)
    port = server.getsockname()[1]
    try:
        impatient = sample(tmp_path, capsys, port)
        patient = sample(tmp_path, capsys, port, timeouts={'ssh': 1.5})
    finally:
        server.close()
    assert impatient and not any(s['ok'] for s in impatient)
    assert all('timed out' in s['detail'] for s in impatient)
    assert patient and all(s['ok'] for s in patient)
    # Each sample says how long its answer took, so a slow service shows as slow, not as down.
    assert all(0.5 <= s['seconds'] < 1.5 for s in patient)


def test_a_bad_timeout_is_refused_naming_the_field(tmp_path, capsys):
    args = dict(targets=[{'name': 'x0', 'address': '127.0.0.1', 'services': ['ssh']}],
                output=str(tmp_path / 'samples.jsonl'), stop_file=str(tmp_path / 'stop'), timeouts={'ssh': 'long'})
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        drill_sampler.main()
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 1 and result['field'] == 'timeouts.ssh'
    assert not (tmp_path / 'samples.jsonl').exists()
