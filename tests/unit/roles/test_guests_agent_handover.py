"""Guests the cluster runs with another agent (Pacemaker's VirtualDomain, before the role ran them with its
GuestDomain) change agent without a restart (roles/guests/tasks/agent.yml), run by Ansible with stand-ins for
crm and crm_resource; and the role refuses a clean shutdown that leaves the destroy no time."""
from __future__ import annotations

import json
import os
import subprocess

import yaml
from role_template import PLAYBOOK, ROLES, run_role_task

FAKE = """#!/bin/sh
# Logs the call; `crm configure load update FILE` keeps a copy of what it loaded.
echo "$(basename "$0") $*" >> "%(state)s/calls"
if [ "$1 $2 $3" = "configure load update" ]; then
  n=$(ls "%(state)s" | grep -c '^loaded')
  cp "$4" "%(state)s/loaded$n"
fi
"""

CIB = """<resources>
  <primitive id="guest_x0" class="ocf" provider="heartbeat" type="VirtualDomain"/>
  <primitive id="guest_x1" class="ocf" provider="xenha" type="GuestDomain"/>
</resources>"""


def hand_over(tmp_path):
    state, tools = tmp_path / 'state', tmp_path / 'bin'
    state.mkdir()
    tools.mkdir()
    for name in ('crm', 'crm_resource'):
        (tools / name).write_text(FAKE % {'state': state})
        (tools / name).chmod(0o755)
    with open(os.path.join(ROLES, 'guests', 'tasks', 'cluster.yml')) as handle:
        load = next(t for t in yaml.safe_load(handle) if t.get('name') == 'Load the guests into the cluster')
    variables = {'__guests_names': ['x0', 'x1'], '__guests_leader': 'localhost', '__guests_resources': {'stdout': CIB},
                 '__guests_cib_file': str(tmp_path / 'guests.crm'), '__guests_crm': {'changed': False},
                 '__guests_config_dir': '/etc/xenha/guests', 'guests_running_timeout': 60}
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    (tmp_path / 'guests.crm').write_text('# the persistent configuration, as written before\n')
    (tmp_path / 'inventory.json').write_text(json.dumps({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local'}}}}))
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'ansible.builtin.include_role': {'name': 'guests', 'tasks_from': 'agent.yml'}}, load]}]))
    env = dict(os.environ, PATH='%s:%s' % (tools, os.environ['PATH']), ANSIBLE_ROLES_PATH=ROLES,
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1')
    # Extra vars: the role's own vars (the configuration file's path) rank above a play's.
    run = subprocess.run([PLAYBOOK, '-i', str(tmp_path / 'inventory.json'), '-e', '@%s' % (tmp_path / 'vars.json'),
                          str(tmp_path / 'play.yml')],
                         capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return state


def test_a_guest_on_another_agent_changes_agent_unmanaged_then_is_managed_again(tmp_path):
    state = hand_over(tmp_path)
    assert (state / 'calls').read_text().splitlines() == [
        'crm configure load update %s/guests.crm.unmanaged' % tmp_path,
        'crm_resource --refresh --resource guest_x0',
        'crm_resource --wait --timeout 60s',
        'crm configure load update %s/guests.crm' % tmp_path,
    ]
    unmanaged = (state / 'loaded0').read_text()
    # x0 takes the new agent unmanaged (Pacemaker restarts a managed resource whose agent changes); x1,
    # already on it, stays managed.
    x0 = unmanaged[unmanaged.index('primitive guest_x0'):unmanaged.index('order guest_x0')]
    x1 = unmanaged[unmanaged.index('primitive guest_x1'):unmanaged.index('order guest_x1')]
    assert 'ocf:xenha:GuestDomain' in x0 and 'is-managed=false' in x0
    assert 'is-managed=false' not in x1
    assert not (tmp_path / 'guests.crm.unmanaged').exists()


def validate(tmp_path, **settings):
    return run_role_task(tmp_path, 'guests', 'validate.yml', "Validate the stop's share for a clean shutdown",
                         settings, expect_success=False)


def test_the_defaults_leave_the_destroy_its_time(tmp_path):
    status, output = validate(tmp_path)
    assert status == 0, output


def test_a_destroy_given_exactly_its_minimum_is_accepted(tmp_path):
    status, output = validate(tmp_path, guests_shutdown_timeout=240, guests_stop_timeout=300)
    assert status == 0, output


def test_a_clean_shutdown_that_leaves_the_destroy_too_little_time_is_refused_naming_both_settings(tmp_path):
    # 50 s would have passed before the minimum was raised to what a busy dom0's destroy needs (docs/figures.md).
    status, output = validate(tmp_path, guests_shutdown_timeout=250, guests_stop_timeout=300)
    assert status != 0
    assert ('guests: guests_shutdown_timeout (250) must be a whole number of seconds above 0 and at least 60 less '
            'than guests_stop_timeout (300)') in ' '.join(output.split())
    assert 'lower guests_shutdown_timeout or raise guests_stop_timeout' in ' '.join(output.split())


def test_a_shutdown_timeout_that_is_not_whole_seconds_is_refused(tmp_path):
    for value in ('2m', 0):
        status, output = validate(tmp_path, guests_shutdown_timeout=value)
        assert status != 0 and 'guests_shutdown_timeout (%s) must be' % value in ' '.join(output.split())
