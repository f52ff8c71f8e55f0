# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""(pure) What a change of corosync.conf takes to apply on a running cluster.

Corosync splits its options into four kinds (its wiki, "Config file values"): changeable at runtime or not,
and needing to be the same on every member or not. For a cluster that runs guests this gives three ways:
- `reload`: write the file on every member, then `corosync-cfgtool -R` once (token timings, logging, members
  added or removed);
- `rolling`: restart Corosync one member at a time, each drained first (anything not known to reload);
- `cluster`: only a restart of every member at once applies it (cluster name, transport, crypto, node IDs):
  that stops every guest, so a running cluster refuses it.
"""

from __future__ import annotations

import re

NONE, RELOAD, ROLLING, CLUSTER = 'none', 'reload', 'rolling', 'cluster'
_ORDER = (NONE, RELOAD, ROLLING, CLUSTER)

# Runtime-changeable totem timings and the whole logging section.
_RELOADABLE = re.compile(
    r'^(logging\..*|totem\.(token|token_coefficient|token_retransmit|token_retransmits_before_loss_const'
    r'|token_warning|hold|join|send_join|consensus|merge|downcheck|fail_recv_const|seqno_unchanged_const'
    r'|heartbeat_failures_allowed|max_network_delay|window_size|max_messages|miss_count_const'
    r'|knet_ping_interval|knet_ping_timeout|knet_ping_precision|knet_pong_count))$')
# Only a restart of every member at once applies these; members that disagree on them cannot talk.
_WHOLE_CLUSTER = re.compile(
    r'^totem\.(cluster_name|transport|version|secauth|crypto_cipher|crypto_hash|crypto_model|ip_version'
    r'|netmtu|link_mode)$')


class CorosyncConfError(ValueError):
    pass


def parse(text):
    """corosync.conf as a flat {dotted.key: value}; nodelist nodes are keyed by their name, so that
    adding or reordering members does not look like a change of the others."""
    flat, stack, nodes = {}, [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        if line.endswith('{'):
            stack.append(line[:-1].strip())
            if stack == ['nodelist', 'node']:
                nodes.append({})
        elif line == '}':
            if not stack:
                raise CorosyncConfError('line %d: a closing brace with no section open' % number)
            stack.pop()
        elif ':' in line:
            key, value = (part.strip() for part in line.split(':', 1))
            if stack[:2] == ['nodelist', 'node']:
                nodes[-1]['.'.join(stack[2:] + [key])] = value
            else:
                flat['.'.join(stack + [key])] = value
        else:
            raise CorosyncConfError('line %d: neither "key: value" nor a section: %r' % (number, raw))
    if stack:
        raise CorosyncConfError('section %s is never closed' % '.'.join(stack))
    for node in nodes:
        name = node.get('name') or node.get('ring0_addr')
        if not name:
            raise CorosyncConfError('a nodelist node has neither name nor ring0_addr')
        for key, value in node.items():
            flat['nodelist.node[%s].%s' % (name, key)] = value
    return flat


def _member(key):
    match = re.match(r'^nodelist\.node\[([^\]]+)\]\.', key)
    return match.group(1) if match else None


def classify(old_text, new_text):
    """Return (way, changed keys): how the change from old_text to new_text applies to a running cluster."""
    old, new = parse(old_text), parse(new_text)
    changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    old_members = {_member(key) for key in old} - {None}
    new_members = {_member(key) for key in new} - {None}
    way = NONE
    for key in changed:
        member = _member(key)
        if member is not None and (member not in old_members or member not in new_members):
            kind = RELOAD  # a member added or removed: corosync takes the new nodelist on reload
        elif key.endswith('.nodeid') or _WHOLE_CLUSTER.match(key):
            kind = CLUSTER
        elif _RELOADABLE.match(key):
            kind = RELOAD
        else:
            kind = ROLLING
        way = max(way, kind, key=_ORDER.index)
    return way, changed
