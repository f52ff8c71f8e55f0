"""How a change of corosync.conf applies to a running cluster: reload, a rolling restart, or refused."""
from __future__ import annotations

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._corosync_conf import (
    CLUSTER, NONE, RELOAD, ROLLING, CorosyncConfError, classify, parse,
)

BASE = """# Managed by xenha.datacenter.cluster
totem {
    version: 2
    cluster_name: xenha
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
    token: 3000
}

nodelist {
    node {
        name: node1
        nodeid: 1
        ring0_addr: 10.0.0.1
    }
    node {
        name: node2
        nodeid: 2
        ring0_addr: 10.0.0.2
    }
}

quorum {
    provider: corosync_votequorum
    two_node: 1
    wait_for_all: 1
}

logging {
    to_syslog: yes
}
"""

THIRD = """    node {
        name: node3
        nodeid: 3
        ring0_addr: 10.0.0.3
    }
}

quorum"""


def test_parse_keys_members_by_name():
    conf = parse(BASE)
    assert conf['totem.token'] == '3000'
    assert conf['nodelist.node[node2].ring0_addr'] == '10.0.0.2'
    assert conf['quorum.two_node'] == '1'


def test_nothing_changed():
    assert classify(BASE, BASE) == (NONE, [])
    assert classify(BASE, BASE.replace('    token', '\n    # a comment\n    token')) == (NONE, [])


def test_the_token_and_logging_reload():
    assert classify(BASE, BASE.replace('token: 3000', 'token: 5000')) == (RELOAD, ['totem.token'])
    assert classify(BASE, BASE.replace('to_syslog: yes', 'to_syslog: no'))[0] == RELOAD


def test_a_member_added_reloads():
    way, keys = classify(BASE, BASE.replace('}\n\nquorum', THIRD, 1))
    assert way == RELOAD and 'nodelist.node[node3].ring0_addr' in keys


def test_quorum_and_a_members_address_restart_one_member_at_a_time():
    assert classify(BASE, BASE.replace('    wait_for_all: 1\n', ''))[0] == ROLLING
    assert classify(BASE, BASE.replace('ring0_addr: 10.0.0.2', 'ring0_addr: 10.0.1.2'))[0] == ROLLING


@pytest.mark.parametrize('old, new', [
    ('cluster_name: xenha', 'cluster_name: other'),
    ('crypto_cipher: aes256', 'crypto_cipher: aes128'),
    ('transport: knet', 'transport: udpu'),
    ('nodeid: 2', 'nodeid: 7'),
])
def test_what_members_must_agree_on_needs_the_whole_cluster(old, new):
    way, keys = classify(BASE, BASE.replace(old, new))
    assert way == CLUSTER and len(keys) == 1


def test_the_strongest_way_wins():
    new = BASE.replace('token: 3000', 'token: 5000').replace('cluster_name: xenha', 'cluster_name: other')
    assert classify(BASE, new) == (CLUSTER, ['totem.cluster_name', 'totem.token'])


@pytest.mark.parametrize('text', ['totem {\n token: 1\n', '}\n', 'totem {\n token\n}\n', 'nodelist {\n node {\n nodeid: 1\n }\n}\n'])
def test_a_broken_file_is_an_error(text):
    with pytest.raises(CorosyncConfError):
        parse(text)
