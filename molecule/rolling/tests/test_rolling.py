"""Day 2 on the lab: a change rolled through the running datacenter, then a split of the two members
(molecule side_effect: the drill's migrate, rolling and split steps), judged from the drill's report and
the nodes themselves."""
from __future__ import annotations

import json
import os

import pytest
from labtools import LAB_DIR

REPORT = os.path.join(LAB_DIR, 'drill', 'report.json')
testinfra_hosts = ['node1', 'node2']


def report():
    with open(REPORT) as handle:
        return json.load(handle)


def test_the_drill_passed(host):
    result = report()
    with open(os.path.join(LAB_DIR, 'drill', 'report.txt')) as handle:
        print(handle.read())
    assert result['passed'], result['failures']


def test_the_rolling_change_restarted_no_guest(host):
    changes = report()['changes']
    assert len(changes) == 1 and changes[0]['restarted'] == []
    assert all(not counter['went_back'] for counter in report()['counters'].values())


def test_the_split_fenced_exactly_one_node(host):
    fenced = [event for event in report()['events'] if 'fenced' in event]
    assert len(fenced) == 1 and len(fenced[0]['fenced']) == 1
    assert report()['double_runs'] == 0


def test_the_new_token_runs_without_a_restart_of_corosync(host):
    assert host.check_output('corosync-cmapctl -g runtime.config.totem.token').split()[-1] == '12000'


def test_the_new_xen_option_runs(host):
    assert 'loglvl=info' in host.check_output('xl info | grep xen_commandline')


@pytest.mark.parametrize('path', ['/var/lib/xenha/rolling-pending'])
def test_nothing_is_left_to_roll(host, path):
    assert not host.file(path).exists
