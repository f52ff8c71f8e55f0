"""The failover drill powers nodes off through their BMCs: against an inventory that does not allow it (the
example inventory for real servers), it stops at its first task and sends nothing to any BMC."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest
import yaml
from role_template import PLAYBOOK

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def run_drill(inventory, cwd, playbook='failover-drill.yml', *extra):
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'))
    return subprocess.run([PLAYBOOK, '-i', str(inventory), os.path.join(REPO, 'playbooks', playbook)] + list(extra),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_example_inventory_does_not_allow_the_drill():
    run = run_drill(os.path.join(REPO, 'inventories', 'example', 'hosts.yml'), REPO)
    assert run.returncode != 0
    assert 'drill: not started' in run.stdout and 'drill_may_power_off_nodes: true' in run.stdout
    assert 'failed=1' in run.stdout and 'changed=0' in run.stdout


def test_without_the_opt_in_no_bmc_hears_from_the_drill(tmp_path):
    bmc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bmc.bind(('127.0.0.1', 0))
    bmc.settimeout(0.5)
    port = bmc.getsockname()[1]
    node = {'drill_bmc': {'address': '127.0.0.1', 'port': port, 'user': 'admin', 'password': 'not-a-secret'},
            'ansible_connection': 'local'}
    inventory = {'all': {'children': {
        'xen_nodes': {'hosts': {'node1': dict(node), 'node2': dict(node)}},
        'guests': {'hosts': {'x0': {'guest_ip': '127.0.0.1', 'guest_services': ['ssh']}}},
        'clients': {'hosts': {'client': {'ansible_connection': 'local'}}}}}}
    (tmp_path / 'hosts.yml').write_text(yaml.safe_dump(inventory))
    run = run_drill(tmp_path / 'hosts.yml', tmp_path)
    assert run.returncode != 0 and 'drill: not started' in run.stdout
    with pytest.raises(socket.timeout):
        bmc.recvfrom(512)
    bmc.close()
    assert not (tmp_path / 'drill').exists()


def test_the_faults_need_the_same_opt_in():
    run = run_drill(os.path.join(REPO, 'inventories', 'example', 'hosts.yml'), REPO, 'faults.yml')
    assert run.returncode != 0 and 'drill: not started' in run.stdout and 'changed=0' in run.stdout


def test_an_unknown_fault_is_refused_before_anything_runs():
    run = run_drill(os.path.join(REPO, 'inventories', 'lab', 'hosts.yml'), REPO, 'faults.yml',
                    '-e', '{"faults": ["guest_crash", "disk_on_fire"]}')
    text = ' '.join(run.stdout.split())
    assert run.returncode != 0 and 'faults: a list of faults to inject, from guest_crash' in text, text
    assert "got ['guest_crash', 'disk_on_fire']" in text and 'Nothing was injected' in text
    assert 'drill: not started' not in text and 'changed=0' in text


@pytest.mark.parametrize('b_passed', [True, False])
def test_the_faults_verdict_passes_when_every_fault_passed_and_names_each_that_missed(tmp_path, b_passed):
    with open(os.path.join(REPO, 'playbooks', 'faults.yml'), encoding='utf-8') as handle:
        tasks = yaml.safe_load(handle)[0]['tasks']
    verdict = [task for task in tasks if task['name'] == 'Fail when a fault missed a criterion']
    missed = [] if b_passed else ['x0/http answered again after 700 s (budget 600 s)']
    reports = {'a': {'passed': True, 'failures': []}, 'b': {'passed': b_passed, 'failures': missed}}
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False,
                                                        'vars': {'faults': ['a', 'b'], '__faults_reports': reports},
                                                        'tasks': verdict}]))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1')
    run = subprocess.run([PLAYBOOK, '-i', 'localhost,', '-c', 'local', 'play.yml'], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    if b_passed:
        assert run.returncode == 0, run.stdout + run.stderr
    else:
        assert run.returncode != 0
        assert 'faults that missed: b: x0/http answered again after 700 s (budget 600 s)' in run.stdout
