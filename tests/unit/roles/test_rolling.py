"""The rolling role run by Ansible on this machine, which is no cluster node: what it does with nothing
pending, how it refuses to roll two nodes at once, and how a roll that cannot drain its node stops,
naming the node and the step and keeping the pending changes for the next run."""
from __future__ import annotations

import os
import subprocess

import yaml
from role_template import PLAYBOOK

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def roll(tmp_path, pending, serial=1, extra_play=None):
    hosts = {}
    for name, actions in pending.items():
        path = tmp_path / ('%s-pending' % name)
        if actions:
            path.write_text(''.join(action + '\n' for action in actions))
        hosts[name] = {'ansible_connection': 'local', 'rolling_pending_file': str(path),
                       'ansible_python_interpreter': '{{ ansible_playbook_python }}'}
    (tmp_path / 'hosts.yml').write_text(yaml.safe_dump({'all': {'children': {'xen_nodes': {'hosts': hosts}}}}))
    play = {'hosts': 'xen_nodes', 'gather_facts': False, 'roles': [{'role': 'xenha.datacenter.rolling'}]}
    if serial:
        play['serial'] = serial
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([play]))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_LOCALHOST_WARNING='false')
    return subprocess.run([PLAYBOOK, '-i', str(tmp_path / 'hosts.yml'), str(tmp_path / 'play.yml')], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_nothing_pending_changes_nothing(tmp_path):
    run = roll(tmp_path, {'node1': [], 'node2': []}, serial=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'changed=0' in run.stdout and 'failed=0' in run.stdout


def test_two_nodes_with_changes_never_roll_together(tmp_path):
    run = roll(tmp_path, {'node1': ['reboot'], 'node2': ['restart_corosync']}, serial=None)
    assert run.returncode != 0
    assert 'node1, node2 would restart together' in run.stdout and "serial: 1" in run.stdout
    assert (tmp_path / 'node1-pending').read_text() == 'reboot\n'


def test_a_node_that_cannot_be_drained_stops_the_roll_and_keeps_its_changes(tmp_path):
    run = roll(tmp_path, {'node1': ['restart_libvirtd'], 'node2': ['reboot']})
    assert run.returncode != 0
    out = ' '.join(run.stdout.split())
    assert 'rolling: stopped at node1 while draining its guests live to the other nodes' in out
    assert 'The nodes after it were not touched' in out and 'run the same playbook again' in out
    # node2 was never started on, and both keep what they have to do
    assert 'TASK' in out and 'node2' not in out.split('PLAY RECAP', maxsplit=1)[0].replace('node2-pending', '')
    assert (tmp_path / 'node1-pending').read_text() == 'restart_libvirtd\n'
    assert (tmp_path / 'node2-pending').read_text() == 'reboot\n'
