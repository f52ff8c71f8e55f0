"""The lab's nodes for the checks: plain SSH through the lab's ssh_config (`labctl.py` writes it).
A command answers in well under a second this way; run through Ansible it costs seconds of an emulated CPU.
Shared by the scenarios that check nodes (linked from their tests directories)."""
from __future__ import annotations

import os
from urllib.parse import quote

import testinfra

LAB_DIR = os.environ.get('XENHA_LAB_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', '..', 'lab-state')
SSH_CONFIG = os.path.join(LAB_DIR, 'ssh_config')
MEMBERS = ['node1', 'node2']
# A busy emulated node can take tens of seconds to accept a connection.
CONNECT_TIMEOUT = 60


def node_hosts(names):
    """testinfra_hosts for these nodes."""
    return ['ssh://%s?ssh_config=%s&timeout=%d' % (name, quote(SSH_CONFIG), CONNECT_TIMEOUT) for name in names]


def node(name):
    return testinfra.get_host('ssh://%s' % name, ssh_config=SSH_CONFIG, timeout=CONNECT_TIMEOUT)
