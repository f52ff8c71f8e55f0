# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's hypervisor facts, as `xl info` gives them: the parser (pure) and the reading, on this node or
over the dom0-to-dom0 SSH that live migration uses (world)."""

from __future__ import annotations

from ansible_collections.xenha.datacenter.plugins.module_utils._placement import MigrationError


def parse_xl_info(text):
    """`xl info` as a dict of strings."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if sep:
            info[key.strip()] = value.strip()
    return info


def target_xl_info(run, node, here):
    """`xl info` of the target dom0: read here when the module runs on it (a dom0 does not pin its own
    host key), else over the dom0-to-dom0 SSH that live migration uses."""
    if node.split('.')[0] == here.split('.')[0]:
        rc, out, err = run(['xl', 'info'])
        if rc != 0:
            raise MigrationError('target', 'cannot read xl info on %s: %s' % (node, (err or out).strip()))
        return parse_xl_info(out)
    rc, out, err = run(['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', node, 'xl', 'info'])
    if rc != 0:
        raise MigrationError('target', 'cannot read xl info on %s over SSH: %s' % (node, (err or out).strip()))
    return parse_xl_info(out)
