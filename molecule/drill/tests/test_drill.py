"""The failover drill ran (molecule side_effect) and its report holds the pass criteria."""
from __future__ import annotations

import json
import os

from labtools import GUESTS, LAB_DIR

testinfra_hosts = ['node1']
REPORT = os.path.join(LAB_DIR, 'drill', 'report.json')


def report():
    with open(REPORT) as handle:
        return json.load(handle)


def test_the_drill_passed():
    result = report()
    print(open(os.path.join(LAB_DIR, 'drill', 'report.txt')).read())
    assert result['passed'], result['failures']


def test_no_guest_ever_ran_on_two_nodes():
    assert report()['double_runs'] == 0


def test_every_step_of_the_seed_demo_is_in_the_timeline():
    names = [phase['name'] for phase in report()['phases']]
    assert names[0] == 'all nodes powered off' and names[-1] == 'drill done'
    assert any(n.startswith('power off node1') for n in names)
    assert sum(1 for n in names if n.startswith('migrate ')) == 2


def test_failover_times_are_measured():
    failover = report()['failovers'][0]
    for key in ('detection_s', 'fencing_s', 'restart_s'):
        assert failover[key] is not None and failover[key] > 0, key
    expected = {'%s/%s' % (guest, service) for guest, (_pref, _ip, services) in GUESTS.items() for service in services}
    assert set(failover['service_back_s']) == expected


def test_live_migrations_keep_the_counter_and_report_the_stream_gap():
    result = report()
    migrations = [m for m in result['migrations'] if m['guest'] == 'x0' and m['seconds']]
    assert migrations and all('x0/icecast' in m['gaps_ms'] for m in migrations)
    for guest, counter in result['counters'].items():
        assert not counter['went_back'], guest
        assert counter['highest'] and counter['highest'] > 0


def test_the_report_has_a_picture():
    with open(os.path.join(LAB_DIR, 'drill', 'report.html')) as handle:
        page = handle.read()
    assert '<svg' in page and 'power off node1' in page
