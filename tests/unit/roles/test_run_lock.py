"""The datacenter's run lock (roles/run_lock) run by Ansible on this machine, two local hosts standing for two
nodes: a run takes and gives back the lock without reporting a change; a second run refuses while another
holds a node, names that run, changes nothing and leaves the other run's lock alone; a stale lock is taken over
only on request."""
from __future__ import annotations

import os
import subprocess

import yaml
from role_template import PLAYBOOK

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
OTHER = 'controller2 alice 2026-12-05 10:00:00 42\n'


def run(tmp_path, *extra):
    hosts = {name: {'ansible_connection': 'local', 'run_lock_path': str(tmp_path / name / 'run.lock'),
                    'ansible_python_interpreter': '{{ ansible_playbook_python }}'} for name in ('node1', 'node2')}
    (tmp_path / 'hosts.yml').write_text(yaml.safe_dump({'all': {'children': {'xen_nodes': {'hosts': hosts}}}}))
    plays = [
        {'hosts': 'xen_nodes', 'gather_facts': False, 'roles': [{'role': 'xenha.datacenter.run_lock'}]},
        {'hosts': 'xen_nodes', 'gather_facts': False, 'tasks': [
            {'name': 'Change something', 'ansible.builtin.copy': {
                'content': 'changed\n', 'dest': str(tmp_path) + '/{{ inventory_hostname }}/changed', 'mode': '0644'}},
            {'name': 'Give the lock back', 'ansible.builtin.include_role': {
                'name': 'xenha.datacenter.run_lock', 'tasks_from': 'release'}}]},
    ]
    (tmp_path / 'play.yml').write_text(yaml.safe_dump(plays))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_LOCALHOST_WARNING='false')
    return subprocess.run([PLAYBOOK, '-i', str(tmp_path / 'hosts.yml'), str(tmp_path / 'play.yml')] + list(extra),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def hold(tmp_path, node, owner=OTHER):
    (tmp_path / node / 'run.lock').mkdir(parents=True)
    (tmp_path / node / 'run.lock' / 'owner').write_text(owner)


def test_a_run_takes_and_gives_back_the_lock_reporting_only_its_own_change(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'node1                      : ok=' in result.stdout and 'changed=1' in result.stdout
    assert not (tmp_path / 'node1' / 'run.lock').exists() and not (tmp_path / 'node2' / 'run.lock').exists()


def test_a_second_run_refuses_names_the_holder_and_changes_nothing(tmp_path):
    hold(tmp_path, 'node2')
    result = run(tmp_path)
    out = ' '.join(result.stdout.split())
    assert result.returncode != 0
    assert 'run_lock: another run holds node2' in out and 'controller2 alice 2026-12-05 10:00:00 42' in out
    assert 'nothing was changed' in out and 'run_lock_break=true' in out
    assert not (tmp_path / 'node1' / 'changed').exists() and not (tmp_path / 'node2' / 'changed').exists()
    # node1, which this run took before it found node2 held, is given back; the other run keeps node2.
    assert not (tmp_path / 'node1' / 'run.lock').exists()
    assert (tmp_path / 'node2' / 'run.lock' / 'owner').read_text() == OTHER


def test_a_stale_lock_is_taken_over_only_on_request(tmp_path):
    hold(tmp_path, 'node1')
    result = run(tmp_path, '-e', 'run_lock_break=true')
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / 'node1' / 'changed').exists() and not (tmp_path / 'node1' / 'run.lock').exists()
