"""The drill role's tasks: a node or client that does not answer stops the drill through its `rescue`
and `always` (probes stopped, report written), never by ending the play (Ansible skips both for an
unreachable host unless the block ignores it and the role checks)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

TASKS = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'drill', 'tasks')


def load(name):
    with open(os.path.join(TASKS, name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def reaching_tasks_without_check(tasks):
    """Tasks that run on another host and are not followed by the answered.yml check of their result."""
    missing = []
    for index, task in enumerate(tasks):
        if 'delegate_to' not in task or 'ansible.builtin.wait_for_connection' in task:
            continue  # wait_for_connection waits through unreachable by design
        following = tasks[index + 1] if index + 1 < len(tasks) else {}
        checked = (following.get('ansible.builtin.include_tasks') == 'answered.yml'
                   and following.get('vars', {}).get('__drill_answered') == '{{ %s }}' % task.get('register'))
        if not checked:
            missing.append(task['name'])
    return missing


# Run after the judgement, for the record only: a node that does not answer is passed over, not checked.
BEST_EFFORT = {'node_records.yml'}


def test_every_step_checks_that_the_host_it_reached_answered():
    missing = {}
    for path in sorted(glob.glob(os.path.join(TASKS, '*.yml'))):
        name = os.path.basename(path)
        if name == 'main.yml' or name in BEST_EFFORT:
            continue
        found = reaching_tasks_without_check(load(name) or [])
        if found:
            missing[name] = found
    assert not missing


def test_the_demo_block_ignores_unreachable_so_always_runs():
    blocks = [task for task in load('main.yml') if 'block' in task]
    assert len(blocks) == 1 and blocks[0].get('ignore_unreachable') is True
    names = [task['name'] for task in blocks[0]['always']]
    assert 'Stop the probes and the watch' in names and 'Judge the drill and write the report' in names


def test_the_check_fails_only_for_an_unreachable_result():
    check = load('answered.yml')
    assert len(check) == 1 and 'ansible.builtin.fail' in check[0]
    assert check[0]['when'] == '__drill_answered.unreachable | default(false)'


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - block:
        - name: Reach a node that does not answer
          ansible.builtin.command: 'true'
          delegate_to: silent
          register: reached
        - ansible.builtin.include_tasks: %(answered)s
          vars:
            __drill_answered: "{{ reached }}"
            __drill_answered_host: silent
        - ansible.builtin.debug:
            msg: STEP-WENT-ON
      ignore_unreachable: true
      rescue:
        - ansible.builtin.debug:
            msg: "RESCUED {{ ansible_failed_result.msg }}"
      always:
        - ansible.builtin.debug:
            msg: ALWAYS-RAN
"""


@pytest.mark.skipif(shutil.which('ssh') is None or shutil.which('ansible-playbook') is None,
                    reason='needs ansible-playbook and the OpenSSH client')
def test_a_silent_node_stops_the_step_and_the_always_part_still_runs(tmp_path):
    (tmp_path / 'inventory.yml').write_text(
        'all:\n  hosts:\n    localhost: {ansible_connection: local}\n'
        '    silent: {ansible_host: 127.0.0.1, ansible_port: 1, ansible_ssh_common_args: "-o ConnectTimeout=2"}\n')
    (tmp_path / 'play.yml').write_text(PLAY % {'answered': os.path.abspath(os.path.join(TASKS, 'answered.yml'))})
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_CONFIG', None)
    run = subprocess.run(['ansible-playbook', '-i', 'inventory.yml', 'play.yml'], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert 'RESCUED silent did not answer' in run.stdout, run.stdout + run.stderr
    assert 'ALWAYS-RAN' in run.stdout and 'STEP-WENT-ON' not in run.stdout


def test_step_5_judges_the_services_only_once_the_guest_is_home():
    # A wait on the second node kept two guests on its one guest CPU for the whole wait.
    legs = load('migrate.yml')
    assert [(leg['vars']['__drill_move_to'], leg['vars']['__drill_move_then_wait']) for leg in legs] == [
        ('{{ __drill_second }}', False), ('{{ __drill_first }}', True)]
    waits = [task for task in load('move.yml') if task.get('ansible.builtin.include_tasks') == 'wait_services.yml']
    assert len(waits) == 1 and waits[0]['when'] == '__drill_move_then_wait'


def test_the_node_records_pass_over_a_silent_node_and_never_fail_the_drill():
    for task in load('node_records.yml'):
        if 'delegate_to' in task:
            assert task.get('ignore_unreachable') is True, task['name']
            assert task.get('failed_when') is False, task['name']


def test_the_node_records_are_kept_when_the_steps_end_and_read_by_the_report():
    always = [task for task in load('main.yml') if 'block' in task][0]['always']
    names = [task['name'] for task in always]
    records = names.index("Keep each node's record of the drill beside the report")
    judge = names.index('Judge the drill and write the report')
    # after the probes stop (the window is over), before the judgement that reads them
    assert names.index('Wait for the probes to finish') < records < judge
    assert always[records]['ansible.builtin.include_tasks'] == 'node_records.yml'
    assert always[records]['when'] == 'drill_node_records | bool'
    assert "__drill_dir ~ '/nodes'" in always[judge]['xenha.datacenter.drill_report']['node_records']


RECORDS_PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    role_path: %(role)s
    drill_nodes: [here, silent]
    __drill_started: "{{ now().timestamp() - 60 }}"
    __drill_dir: %(dir)s
    __drill_node_record_dir: %(node_dir)s
    drill_cluster_event_log: %(dir)s/events.log
    drill_guest_console_log_dir: %(dir)s/console
  tasks:
    - ansible.builtin.include_tasks: %(tasks)s
    - ansible.builtin.debug:
        msg: AFTER-RECORDS
"""


@pytest.mark.skipif(shutil.which('ssh') is None or shutil.which('ansible-playbook') is None,
                    reason='needs ansible-playbook and the OpenSSH client')
def test_the_node_records_keep_what_answers_and_name_what_did_not(tmp_path):
    report = tmp_path / 'report'
    report.mkdir()
    (report / 'events.log').write_text('%d: Node \'node1\' is now \'lost\'\n' % int(time.time()))
    (tmp_path / 'inventory.yml').write_text(
        'all:\n  hosts:\n    localhost: {ansible_connection: local, ansible_python_interpreter: %(python)s}\n'
        '    here: {ansible_connection: local, ansible_python_interpreter: %(python)s}\n'
        '    silent: {ansible_host: 127.0.0.1, ansible_port: 1, ansible_ssh_common_args: "-o ConnectTimeout=2"}\n'
        % {'python': sys.executable})
    (tmp_path / 'play.yml').write_text(RECORDS_PLAY % {
        'role': os.path.abspath(os.path.join(TASKS, '..')), 'dir': report, 'node_dir': tmp_path / 'on-node',
        'tasks': os.path.abspath(os.path.join(TASKS, 'node_records.yml'))})
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_NOCOLOR='1',
               XENHA_LIBXL_LOG=str(tmp_path / 'no-libxl.log'))
    env.pop('ANSIBLE_CONFIG', None)
    run = subprocess.run(['ansible-playbook', '-i', 'inventory.yml', 'play.yml'], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0 and 'AFTER-RECORDS' in run.stdout, run.stdout + run.stderr
    assert "Node 'node1' is now 'lost'" in (report / 'nodes' / 'here' / 'cluster-events.log').read_text()
    assert (report / 'nodes' / 'here' / 'libxl-driver.log').exists()
    assert not (report / 'nodes' / 'silent').exists()
    assert 'none from silent' in run.stdout, run.stdout


# crm_mon's answer on node2 while node1 is lost and unclean: x0 still listed on node1, x1 Started on node2.
CRM_MON_NODE1_LOST = """<pacemaker-result api-version="2.30" request="crm_mon --output-as=xml">
  <nodes>
    <node name="node1" id="1" online="false" standby="false" standby_onfail="false" maintenance="false"
          pending="false" unclean="true" shutdown="false" expected_up="true" is_dc="false" type="member"/>
    <node name="node2" id="2" online="true" standby="false" standby_onfail="false" maintenance="false"
          pending="false" unclean="false" shutdown="false" expected_up="true" is_dc="true" type="member"/>
  </nodes>
  <resources>
    <resource id="guest_x0" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" active="true"
              failed="false" nodes_running_on="1">
      <node name="node1" id="1" cached="true"/>
    </resource>
    <resource id="guest_x1" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" active="true"
              failed="false" nodes_running_on="1">
      <node name="node2" id="2" cached="true"/>
    </resource>
  </resources>
</pacemaker-result>"""


def test_the_faults_read_who_is_online_and_which_guests_run_where(tmp_path):
    from role_template import render_expression
    seen = render_expression(tmp_path, 'drill', '[__drill_online, __drill_guests_on_node, __drill_unclean]',
                             {'__drill_mon': {'stdout': CRM_MON_NODE1_LOST}, '__drill_on_node': 'node2'})
    assert seen == [['node2'], ['x1'], ['node1']]
