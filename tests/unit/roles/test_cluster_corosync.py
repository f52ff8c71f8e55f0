"""The cluster role's corosync.conf (templates/corosync.conf.j2), rendered by Ansible with the role's defaults:
the quorum section for two members, three members, and two members with a quorum arbiter."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'cluster'))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')


def render(tmp_path, members, others=(), **overrides):
    """Render the template on localhost with an inventory of the members (and other hosts) at 10.0.0.N."""
    hosts = {name: {'cluster_ip': '10.0.0.%d' % n} for n, name in enumerate(list(members) + list(others), 1)}
    hosts['localhost'] = {'ansible_connection': 'local'}
    (tmp_path / 'inventory.json').write_text(json.dumps({'all': {'hosts': hosts}}))
    (tmp_path / 'vars.json').write_text(json.dumps(dict(cluster_members=list(members), **overrides)))
    playbook = tmp_path / 'render.yml'
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          vars_files: [%s/defaults/main.yml, %s/vars.json]
          tasks:
            - ansible.builtin.copy:
                content: "{{ lookup('ansible.builtin.template', '%s/templates/corosync.conf.j2') }}"
                dest: %s/corosync.conf
                mode: "0644"
        """ % (ROLE, tmp_path, ROLE, tmp_path)))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false')
    run = subprocess.run([PLAYBOOK, '-i', str(tmp_path / 'inventory.json'), str(playbook)],
                         capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    text = (tmp_path / 'corosync.conf').read_text()
    return text[text.index('quorum {'):text.index('logging {')]


def test_two_members_use_two_node_and_wait_for_all(tmp_path):
    quorum = render(tmp_path, ['node1', 'node2'])
    assert 'two_node: 1' in quorum and 'wait_for_all: 1' in quorum and 'device' not in quorum


def test_three_members_use_plain_majority(tmp_path):
    quorum = render(tmp_path, ['node1', 'node2', 'node3'])
    assert 'two_node:' not in quorum and 'wait_for_all:' not in quorum and 'device' not in quorum


def test_an_arbiter_replaces_two_node(tmp_path):
    quorum = render(tmp_path, ['node1', 'node2'], others=['arbiter'], cluster_qdevice_host='arbiter')
    assert 'two_node:' not in quorum and 'wait_for_all:' not in quorum
    lines = [line.strip() for line in quorum.splitlines()]
    assert ['model: net', 'votes: 1', 'net {', 'host: 10.0.0.3', 'algorithm: ffsplit', 'tls: on'] == \
        [line for line in lines if line.startswith(('model', 'votes', 'net {', 'host', 'algorithm', 'tls'))]
    quorum = render(tmp_path, ['node1', 'node2'], others=['arbiter'], cluster_qdevice_host='arbiter',
                    cluster_qdevice_algorithm='lms')
    assert 'algorithm: lms' in quorum
