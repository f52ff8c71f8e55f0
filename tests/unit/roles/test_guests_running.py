"""The guests role waits, at its end, until the cluster runs every guest, and names the ones it did not start
(run with a stand-in crm_resource that answers as Pacemaker 2.1 does)."""
from __future__ import annotations

import json
import os
import stat
import subprocess

import yaml
from role_template import PLAYBOOK, ROLES, _role_vars_files

FAKE_CRM_RESOURCE = """#!/bin/sh
# crm_resource --resource guest_NAME --locate; guests listed in $RUNNING_AFTER run from their Nth look on
guest=$2
count_file="$STATE/$guest"
count=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
echo $count > "$count_file"
for entry in $RUNNING_AFTER; do
  if [ "${entry%%=*}" = "$guest" ] && [ "$count" -ge "${entry#*=}" ]; then
    echo "resource $guest is running on: node1"; exit 0
  fi
done
echo "resource $guest is NOT running" >&2
exit 0
"""


def wait_for_guests(tmp_path, running_after, timeout=3):
    bin_dir, state = tmp_path / 'bin', tmp_path / 'state'
    bin_dir.mkdir()
    state.mkdir()
    fake = bin_dir / 'crm_resource'
    fake.write_text(FAKE_CRM_RESOURCE)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    role_dir = os.path.join(ROLES, 'guests')
    with open(os.path.join(role_dir, 'tasks', 'cluster.yml')) as handle:
        task = next(t for t in yaml.safe_load(handle) if t.get('name') == 'Wait until the cluster runs every guest')
    (tmp_path / 'vars.json').write_text(json.dumps({
        '__guests_leader': 'localhost', '__guests_names': ['x0', 'x1'], '__guests_running_poll': 1,
        'guests_running_timeout': timeout}))
    (tmp_path / 'inventory.json').write_text(json.dumps({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local'}}}}))
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False,
        'vars_files': _role_vars_files(role_dir) + [str(tmp_path / 'vars.json')], 'tasks': [task]}]))
    env = dict(os.environ, PATH='%s:%s' % (bin_dir, os.environ['PATH']), STATE=str(state),
               RUNNING_AFTER=' '.join('guest_%s=%d' % item for item in running_after.items()),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    run = subprocess.run([PLAYBOOK, '-i', str(tmp_path / 'inventory.json'), str(tmp_path / 'play.yml')],
                         capture_output=True, text=True, env=env, check=False)
    looks = {name: int((state / name).read_text()) for name in os.listdir(state)}
    return run, looks


def test_the_role_waits_for_a_guest_the_cluster_is_still_starting(tmp_path):
    run, looks = wait_for_guests(tmp_path, {'x0': 1, 'x1': 3})
    assert run.returncode == 0, run.stdout + run.stderr
    assert looks == {'guest_x0': 1, 'guest_x1': 3}


def test_a_guest_the_cluster_does_not_start_is_named_with_the_timeout(tmp_path):
    run, looks = wait_for_guests(tmp_path, {'x0': 1}, timeout=2)
    assert run.returncode != 0
    assert 'guests: the cluster did not start x1 within guests_running_timeout (2 s)' in run.stdout
    assert 'crm_mon --one-shot --failcounts' in run.stdout
    assert looks['guest_x1'] == 3           # the first look and its two retries
