"""The lab's ssh_config, as OpenSSH itself reads it: each node by name, key-only, its host key pinned."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from lab_script import lab_part

lab = lab_part('lab')
NODES = [{'name': 'node1', 'ssh_port': 22101}, {'name': 'node2', 'ssh_port': 22102}]


@pytest.mark.skipif(shutil.which('ssh') is None, reason='needs the OpenSSH client to read the file')
def test_openssh_resolves_each_node_to_its_forwarded_port(tmp_path):
    config = tmp_path / 'ssh_config'
    config.write_text(lab.ssh_config(str(tmp_path), NODES))
    resolved = {}
    for node in NODES:
        out = subprocess.run(['ssh', '-G', '-F', str(config), node['name']], capture_output=True, text=True,
                             check=True).stdout
        resolved[node['name']] = dict(line.split(' ', 1) for line in out.splitlines() if ' ' in line)
    assert [resolved[n]['port'] for n in ('node1', 'node2')] == ['22101', '22102']
    for options in resolved.values():
        assert options['hostname'] == '127.0.0.1' and options['user'] == 'root'
        assert options['identityfile'] == str(tmp_path / 'secrets' / 'id_ed25519')
        assert options['userknownhostsfile'] == str(tmp_path / 'known_hosts')
        assert options['stricthostkeychecking'] == 'true' and options['batchmode'] == 'yes'
    # One master connection per node: different sockets.
    assert resolved['node1']['controlpath'] != resolved['node2']['controlpath']
