"""site.yml's first play against an inventory for real servers: a missing or unreadable variable fails in
seconds, names the host and the variable, and no host is contacted (the example's addresses are TEST-NET)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import yaml
from role_template import PLAYBOOK

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
VAULT = '{"vault_bmc_passwords": {"node1": "one", "node2": "two"}}'


def site(inventory, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_LOCALHOST_WARNING='false')
    started = time.monotonic()
    run = subprocess.run([PLAYBOOK, '-i', str(inventory), os.path.join(REPO, 'playbooks', 'site.yml')] + list(extra),
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    return run, time.monotonic() - started


def recap_hosts(stdout):
    recap = stdout.split('PLAY RECAP', 1)[1]
    return sorted(line.split()[0] for line in recap.splitlines() if ' : ok=' in line)


def test_the_example_inventory_without_its_vault_stops_at_the_preflight(tmp_path):
    run, seconds = site(os.path.join(REPO, 'inventories', 'example', 'hosts.yml'))
    out = ' '.join(run.stdout.split())
    assert run.returncode != 0 and seconds < 60
    assert "node1: cluster_fence_ipmi cannot be read ('vault_bmc_passwords' is undefined)" in out
    assert recap_hosts(run.stdout) == ['localhost']


def test_one_variable_missing_is_named_and_nothing_is_contacted(tmp_path):
    shutil.copytree(os.path.join(REPO, 'inventories', 'example'), tmp_path / 'mine')
    hosts = yaml.safe_load((tmp_path / 'mine' / 'hosts.yml').read_text())
    del hosts['all']['children']['xen_nodes']['hosts']['node2']['cluster_ip']
    (tmp_path / 'mine' / 'hosts.yml').write_text(yaml.safe_dump(hosts))
    run, seconds = site(tmp_path / 'mine' / 'hosts.yml', '-e', VAULT)
    out = ' '.join(run.stdout.split())
    assert run.returncode != 0 and seconds < 60
    assert 'The inventory lacks: node2: cluster_ip is not set' in out and 'node1' not in out.split('lacks:')[1]
    assert recap_hosts(run.stdout) == ['localhost']
