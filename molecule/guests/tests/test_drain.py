"""The drain module on real Xen: node1 emptied by a live migration of x0 (the smaller guest, so the
quicker move) and put in standby, then taken back, and x0 goes home by its placement preference."""
from __future__ import annotations

import re

from labtools import GUESTS, MEMBERS, guest_placement, lab_host, run_module, wait_for

testinfra_hosts = ['node2']


def drain(host, check=False, **args):
    return run_module(host.backend.host, 'xenha.datacenter.drain', ' '.join('%s=%s' % item for item in args.items()),
                      check=check)


def standby(host, node):
    xml = host.check_output('crm_mon --one-shot --output-as=xml')
    return re.search(r'<node name="%s"[^>]* standby="true"' % node, xml) is not None


def home(host):
    placement = guest_placement(host)
    return placement if placement == {g: [pref] for g, (pref, _ip, _s) in GUESTS.items()} else None


def test_drain_node1_then_take_it_back(host):
    wait_for('each guest on its preferred node', lambda: home(host), 900)
    planned = drain(host, check=True, node='node1')
    assert planned['changed'] and [(m['guest'], m['target']) for m in planned['moves']] == [('x0', 'node2')]
    assert home(host) and not standby(host, 'node1')
    try:
        drained = drain(host, node='node1', parallel=1)
        print('drain node1: %s' % drained['moves'])
        assert drained['changed'] and drained['moves'][0]['target'] == 'node2'
        assert guest_placement(host)['x0'] == ['node2'] and standby(host, 'node1')
        assert [n for n in MEMBERS if lab_host(n).run('xl list x0').rc == 0] == ['node2']
        assert not drain(host, node='node1')['changed']
    finally:
        back = drain(host, node='node1', state='active')
    assert back['changed'] and not standby(host, 'node1')
    wait_for('x0 back on node1 by preference', lambda: home(host), 900)
    assert not drain(host, node='node1', state='active')['changed']
