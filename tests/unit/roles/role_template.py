"""Render one of a role's templates, or run one of its tasks, the way the role would: Ansible itself,
the role's defaults and vars, given variables and an optional inventory (for templates that read
hostvars)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import yaml

ROLES = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles'))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')


def render_template(tmp_path, role, template, variables, hosts=None):
    """Return the text of roles/<role>/templates/<template> rendered on localhost; `hosts` maps inventory
    hostnames to their variables."""
    role_dir = os.path.join(ROLES, role)
    inventory = dict(hosts or {}, localhost={'ansible_connection': 'local'})
    (tmp_path / 'inventory.json').write_text(json.dumps({'all': {'hosts': inventory}}))
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    role_vars = _role_vars_files(role_dir)
    playbook = tmp_path / 'render.yml'
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          vars_files: [%s, %s/vars.json]
          tasks:
            - ansible.builtin.copy:
                content: "{{ lookup('ansible.builtin.template', '%s/templates/%s') }}"
                dest: %s/rendered
                mode: "0644"
        """ % (', '.join(role_vars), tmp_path, role_dir, template, tmp_path)))
    _run_playbook(tmp_path / 'inventory.json', playbook)
    return (tmp_path / 'rendered').read_text()


def render_expression(tmp_path, role, expression, variables):
    """Return the value of the Jinja `expression` (JSON-able) with roles/<role>'s defaults and vars and
    `variables` over them, as the role's tasks would see it on localhost."""
    role_dir = os.path.join(ROLES, role)
    (tmp_path / 'inventory.json').write_text(json.dumps({'all': {'hosts': {'localhost': {'ansible_connection': 'local'}}}}))
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    playbook = tmp_path / 'expression.yml'
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False,
        'vars_files': _role_vars_files(role_dir) + [str(tmp_path / 'vars.json')],
        'tasks': [{'ansible.builtin.copy': {'content': '{{ (%s) | to_json }}' % expression,
                                            'dest': str(tmp_path / 'value.json'), 'mode': '0644'}}]}]))
    _run_playbook(tmp_path / 'inventory.json', playbook)
    return json.loads((tmp_path / 'value.json').read_text())


def run_role_task(tmp_path, role, tasks_file, name, variables, expect_success=True):
    """Run the task called `name` of roles/<role>/tasks/<tasks_file> on localhost, with the role's
    defaults and vars and `variables` over them; returns ansible-playbook's output (and, when
    `expect_success` is false, its exit status first, whatever it is)."""
    role_dir = os.path.join(ROLES, role)
    with open(os.path.join(role_dir, 'tasks', tasks_file)) as handle:
        task = next(task for task in yaml.safe_load(handle) if task.get('name') == name)
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    (tmp_path / 'inventory.json').write_text(json.dumps({'all': {'hosts': {'localhost': {'ansible_connection': 'local'}}}}))
    playbook = tmp_path / 'task.yml'
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False,
        'vars_files': _role_vars_files(role_dir) + [str(tmp_path / 'vars.json')], 'tasks': [task]}]))
    return _run_playbook(tmp_path / 'inventory.json', playbook, expect_success)


def _role_vars_files(role_dir):
    return ['%s/%s/main.yml' % (role_dir, kind) for kind in ('defaults', 'vars')
            if os.path.exists(os.path.join(role_dir, kind, 'main.yml'))]


def _run_playbook(inventory, playbook, expect_success=True):
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ANSIBLE_NOCOLOR='1')
    run = subprocess.run([PLAYBOOK, '-i', str(inventory), str(playbook)],
                         capture_output=True, text=True, env=env, check=False)
    if not expect_success:
        return run.returncode, run.stdout + run.stderr
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout
