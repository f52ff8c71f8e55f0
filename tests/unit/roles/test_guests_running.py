"""The guests role waits, at its end, until the cluster runs every guest, and names the ones it did not start
(run with a stand-in crm_mon that answers as Pacemaker 2.1 does)."""
from __future__ import annotations

import json
import os
import stat
import subprocess

import yaml
from role_template import PLAYBOOK, ROLES, _role_vars_files

# crm_mon --one-shot --output-as=xml, counting its calls in $STATE/looks. A guest listed in $RUNNING_AFTER
# (guest_NAME=N) runs from the Nth call on; before, it is shown as Pacemaker shows a start under way: active
# on node1 (where `crm_resource --locate` says it runs), with the start pending.
FAKE_CRM_MON = r"""#!/bin/sh
looks=$(( $(cat "$STATE/looks" 2>/dev/null || echo 0) + 1 ))
echo $looks > "$STATE/looks"
echo '<pacemaker-result api-version="2.25" request="crm_mon --one-shot --output-as=xml">'
echo '<summary><current_dc present="true" name="node1" id="1" with_quorum="true"/></summary>'
echo '<nodes><node name="node1" id="1" online="true" standby="false" standby_onfail="false" maintenance="false"/></nodes>'
echo '<resources>'
history=''
for entry in $RUNNING_AFTER; do
  guest=${entry%%=*}
  if [ "$looks" -ge "${entry#*=}" ]; then
    echo "<resource id=\"$guest\" role=\"Started\" active=\"true\" failed=\"false\"><node name=\"node1\" id=\"1\"/></resource>"
  else
    echo "<resource id=\"$guest\" role=\"Started\" active=\"true\" failed=\"false\" pending=\"Starting\"><node name=\"node1\" id=\"1\"/></resource>"
    history="$history<resource_history id=\"$guest\"><operation_history call=\"-1\" task=\"start\" rc=\"193\"/></resource_history>"
  fi
done
echo "</resources><node_history><node name=\"node1\">$history</node></node_history></pacemaker-result>"
"""


def wait_for_guests(tmp_path, running_after, timeout=3):
    bin_dir, state = tmp_path / 'bin', tmp_path / 'state'
    bin_dir.mkdir()
    state.mkdir()
    fake = bin_dir / 'crm_mon'
    fake.write_text(FAKE_CRM_MON)
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
    return run, int((state / 'looks').read_text())


def test_the_role_waits_for_a_guest_the_cluster_is_still_starting(tmp_path):
    run, looks = wait_for_guests(tmp_path, {'x0': 1, 'x1': 3})
    assert run.returncode == 0, run.stdout + run.stderr
    assert looks == 3           # x0 at the first look, x1 (its start under way until then) at the third


def test_a_guest_the_cluster_does_not_start_is_named_with_the_timeout(tmp_path):
    run, looks = wait_for_guests(tmp_path, {'x0': 1, 'x1': 99}, timeout=2)
    assert run.returncode != 0
    assert 'guests: the cluster did not start x1 within guests_running_timeout (2 s)' in run.stdout
    assert 'crm_mon --one-shot --failcounts' in run.stdout
    assert looks == 4           # x0's look, then x1's first look and its two retries
