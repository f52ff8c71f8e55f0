# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster, as the migrate module sees it: Pacemaker's command-line tools, run through a
`run(argv) -> (rc, stdout, stderr)` callable (AnsibleModule.run_command), so tests can fake it."""

from __future__ import annotations

import time

from ansible_collections.xenha.datacenter.plugins.module_utils._placement import (
    MigrationError, guests_migrating, guests_present, parse_crm_mon, settled_on,
)


class Pacemaker:
    def __init__(self, run, clock=time.monotonic, sleep=time.sleep):
        self._run = run
        self._clock = clock
        self._sleep = sleep

    def _check(self, argv, what, field='name'):
        rc, out, err = self._run(argv)
        if rc != 0:
            raise MigrationError(field, '%s failed (%s): %s' % (what, ' '.join(argv), (err or out).strip()))
        return out

    def available(self):
        """Whether a cluster answers here; when not, `unavailable` says why (crm_mon's own words)."""
        rc, out, err = self._run(['crm_mon', '--one-shot', '--output-as=xml'])
        self.unavailable = '' if rc == 0 else ((err or out).strip().splitlines() or ['crm_mon rc %d' % rc])[-1]
        return rc == 0

    def state(self):
        return parse_crm_mon(self._check(['crm_mon', '--one-shot', '--output-as=xml'], 'reading the cluster state'))

    def parameter(self, rid, name):
        return self._check(['crm_resource', '--resource', rid, '--get-parameter', name, '--quiet'],
                           'reading %s of %s' % (name, rid)).strip()

    def move(self, rid, node):
        self._check(['crm_resource', '--move', '--resource', rid, '--node', node], 'moving %s to %s' % (rid, node))

    def clear(self, rid):
        self._check(['crm_resource', '--clear', '--resource', rid], 'clearing the move constraint of %s' % rid)

    def standby(self, node, on):
        """Standby as a permanent node attribute: it outlives a reboot of the node."""
        argv = ['crm_attribute', '--type', 'nodes', '--node', node, '--name', 'standby']
        self._check(argv + (['--update', 'on'] if on else ['--delete']),
                    '%s standby for %s' % ('setting' if on else 'clearing', node), field='node')

    def _poll(self, done, timeout, poll):
        """Read the cluster state until `done(state)` or `timeout`; return (done, last state, seconds)."""
        started = self._clock()
        while True:
            state = self.state()
            if done(state):
                return True, state, self._clock() - started
            if self._clock() - started > timeout:
                return False, state, self._clock() - started
            self._sleep(poll)

    def wait_placement(self, rid, node, timeout, poll=1.0):
        """Poll until `rid` is active on `node` alone, its source stopped; return (placed, last state, seconds)."""
        return self._poll(lambda state: settled_on(state, rid, node), timeout, poll)

    def wait_empty(self, node, timeout, poll=1.0):
        """Poll until no guest is on `node`, none still stopping there after a migration; return (empty,
        guests still there)."""
        empty, state, _seconds = self._poll(lambda state: not guests_present(state, node), timeout, poll)
        return empty, guests_present(state, node)

    def settled_state(self, timeout, poll=1.0):
        """The cluster's state once no live migration is finishing (one the cluster started itself, a guest
        going home, say); refuses after `timeout` seconds, with nothing changed."""
        settled, state, seconds = self._poll(lambda state: not guests_migrating(state), timeout, poll)
        if not settled:
            raise MigrationError('timeout', 'the cluster was still live-migrating %s after %d s; nothing was changed'
                                 % (', '.join(guests_migrating(state)), seconds))
        return state
