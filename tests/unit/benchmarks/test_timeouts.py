"""benchmarks/timeouts.py: its reading of the token samplers' records and of Pacemaker's log, its table, and
the limits it reads from the roles' defaults and the lab's settings."""
from __future__ import annotations

import datetime

import pytest
from benchmarks_path import import_benchmark

bench = import_benchmark('timeouts')
YEAR = 2026


def epoch(stamp):
    return datetime.datetime.strptime('%d %s' % (YEAR, stamp), '%Y %b %d %H:%M:%S').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_token_records_give_silences_and_stalls_and_a_reboot_is_no_stall():
    records = '\n'.join(['start', '100.0 300', '101.2 2400', '105.2', '106.3 120',
                         'start', '900.0 80', '901.1 95', ''])
    silences, gaps = bench.token_samples(records)
    assert silences == [300, 2400, 120, 80, 95]
    assert [round(gap, 1) for gap in gaps] == [1.2, 4.0, 1.1, 1.1]


def controld(time, text):
    """A line of Pacemaker's log as pacemaker-controld writes it (2.1)."""
    return 'Dec 07 %s node1 pacemaker-controld  [600] (do_lrm_rsc_op) \tnotice: %s' % (time, text)


def request(time, action, resource):
    return controld(time, 'Requesting local execution of %s operation for %s on node1 | transition_key=1:2:0:abc'
                    % (action, resource))


def result(time, action, resource, said='ok'):
    return controld(time, 'Result of %s operation for %s on node1: %s | graph action confirmed; call=7 rc=0'
                    % (action, resource, said))


LOG = '\n'.join([
    request('08:00:00.000', 'start', 'guest_x0'),
    request('08:00:01.000', 'probe', 'disks_x1'),
    result('08:00:03.500', 'probe', 'disks_x1', 'not running'),
    result('08:02:30.250', 'start', 'guest_x0'),
    request('08:03:00.000', 'start', 'fence_node2'),
    result('08:03:09.000', 'start', 'fence_node2'),
    request('09:00:00.000', 'migrate_to', 'guest_x0'),
    result('09:01:00.000', 'migrate_to', 'guest_x0'),
]) + '\n'


def test_operations_are_timed_from_request_to_result_within_the_window():
    found = bench.operations(LOG, epoch('Dec 07 07:59:00'), epoch('Dec 07 08:30:00'), YEAR)
    assert found == {'guest start': [150.25], 'disks probe': [2.5]}  # a fence device's operations: not judged here


def test_a_node_in_another_time_zone_is_read_in_its_own_time():
    # The node's log says 09:00 local time at UTC+1: 08:00 UTC.
    found = bench.operations(LOG, epoch('Dec 07 07:59:00'), epoch('Dec 07 08:30:00'), YEAR, utc_offset_s=3600)
    assert found == {'guest migrate_to': [60.0]}


def test_an_operation_without_its_result_is_not_timed():
    cut = LOG.splitlines()[0] + '\n'
    assert bench.operations(cut, 0, 2e9, YEAR) == {}


def test_the_table_puts_each_kind_beside_its_default_and_the_lab_setting():
    lines = bench.table({'guest monitor': [1.0] * 99 + [70.0], 'corosync token silence': [0.3, 2.4]},
                        {'guest monitor': (60, 600), 'corosync token silence': (3.0, 10.0)})
    assert lines[0].split()[:3] == ['kind', '(s)', 'samples']
    token, monitor = lines[1].split(), lines[2].split()
    assert token[:3] == ['corosync', 'token', 'silence'] and token[3:] == ['2', '2.40', '2.40', '3', '10']
    assert monitor[2:] == ['100', '1.00', '70.00', '60', '600']


@pytest.mark.parametrize('values, fraction, expected', [
    ([5.0], 0.99, 5.0), ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0), (list(range(1, 201)), 0.99, 198),
])
def test_percentile(values, fraction, expected):
    assert bench.percentile(values, fraction) == expected


def test_limits_come_from_the_role_defaults_and_the_lab_overrides_them():
    limits = bench.limits_from({'cluster': {'cluster_token_ms': 3000, 'cluster_fence_monitor_timeout': 20},
                                'guests': {'guests_monitor_timeout': 60, 'guests_start_timeout': 300,
                                           'guests_stop_timeout': 300, 'guests_migrate_timeout': 600,
                                           'guests_disks_start_timeout': 240}},
                               {'cluster_token_ms': 10000, 'guests_start_timeout': 600})
    assert limits['corosync token silence'] == (3.0, 10.0)
    assert limits['guest start'] == (300, 600)
    assert limits['disks start'] == (240, 240)  # not loosened in the lab


def test_the_real_defaults_and_lab_settings_name_every_limit():
    limits = bench.limits_from({'cluster': bench.read_yaml('roles', 'cluster', 'defaults', 'main.yml'),
                                'guests': bench.read_yaml('roles', 'guests', 'defaults', 'main.yml')},
                               bench.read_yaml('inventories', 'lab', 'group_vars', 'xen_nodes.yml'))
    assert all(default is not None for default, _lab in limits.values()), limits
