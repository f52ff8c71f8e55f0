"""The cluster role's corosync.conf (templates/corosync.conf.j2), rendered by Ansible with the role's defaults:
the quorum section for two members, three members, and two members with a quorum arbiter."""
from __future__ import annotations

from role_template import render_template


def render(tmp_path, members, others=(), **overrides):
    """The quorum section, with the members (and other hosts) in the inventory at 10.0.0.N."""
    hosts = {name: {'cluster_ip': '10.0.0.%d' % n} for n, name in enumerate(list(members) + list(others), 1)}
    text = render_template(tmp_path, 'cluster', 'corosync.conf.j2', dict(cluster_members=list(members), **overrides),
                           hosts=hosts)
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
