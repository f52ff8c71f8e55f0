"""The drill's judgement from synthetic timelines: gaps, failovers, double runs, counters, report."""
from __future__ import annotations

import datetime

from ansible_collections.xenha.datacenter.plugins.module_utils._drill import (
    analyse, axis_step, cluster_starts, console_lines, double_runs, faults_table, latest_answers, picture,
    start_decisions, table,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._timeline import (
    byte_rate, heard_gaps, outages, stream_gaps,
)


def ups(target, service, times, down=()):
    return [{'t': t, 'target': target, 'service': service, 'ok': t not in down, 'detail': ''} for t in times]


def test_outage_runs_from_last_answer_to_next_answer():
    samples = ups('x0', 'http', [1, 2, 3, 4, 5, 6], down=(3, 4))
    assert outages(samples, 0, 10) == [(2, 5)]


def test_outage_not_over_by_the_end_stays_open():
    assert outages(ups('x0', 'http', [1, 2, 3], down=(2, 3)), 0, 10) == [(1, None)]


def test_stream_gaps_are_silences_over_a_second():
    chunks = [{'t': t, 'bytes': 100} for t in (1.0, 1.2, 1.4, 3.9, 4.1)]
    assert stream_gaps(chunks, 0.5, 4.5) == [(1.4, 3.9)]


def test_stream_silence_at_the_edges_of_a_window_counts():
    chunks = [{'t': t, 'bytes': 100} for t in (1.0, 1.2, 1.4, 3.9, 4.1)]
    # Silent from 4.1 to the window's end; a window with no chunk at all is silent throughout.
    assert stream_gaps(chunks, 0, 10) == [(1.4, 3.9), (4.1, 10)]
    assert stream_gaps(chunks, 5, 20) == [(5, 20)]
    assert stream_gaps(chunks, -3, 1.2) == [(-3, 1.0)]


def test_double_run_is_found_only_when_both_nodes_report_running_together():
    placements = [
        {'t': 10, 'node': 'node1', 'running': ['x0'], 'paused': []},
        {'t': 11, 'node': 'node2', 'running': [], 'paused': ['x0']},   # incoming migration: paused
        {'t': 12, 'node': 'node1', 'running': [], 'paused': []},
        {'t': 13, 'node': 'node2', 'running': ['x0'], 'paused': []},
    ]
    assert double_runs(placements) == []
    placements.append({'t': 14, 'node': 'node1', 'running': ['x0'], 'paused': []})
    assert double_runs(placements) == [('x0', 14, ['node1', 'node2'])]


def counter(t, count, resumed, boot):
    return {'t': t, 'target': 'x0', 'service': 'counter', 'ok': True,
            'detail': 'count=%d resumed=%d boot=%s' % (count, resumed, boot)}


def drill(samples, events, end=100, budget=30, placements=()):
    return analyse(samples, list(placements), events, end, budget)


def test_failover_within_budget_passes_and_reports_lost_counts():
    samples = ups('x0', 'http', list(range(0, 100, 2)), down=(52, 54, 56))
    samples += [counter(40, 400, 0, 'aaaa'), counter(50, 500, 0, 'aaaa'), counter(60, 488, 488, 'bbbb'),
                counter(70, 588, 488, 'bbbb')]
    events = [{'t': 0, 'name': 'start', 'kind': 'note'},
              {'t': 51, 'name': 'power off node1', 'kind': 'failover', 'detected_at': 55, 'fenced_at': 60,
               'restarted_at': 71.04}]
    report = drill(samples, events)
    assert report['passed'], report['failures']
    assert report['failovers'][0]['service_back_s'] == {'x0/http': 7.0}
    assert (report['failovers'][0]['detection_s'], report['failovers'][0]['fencing_s'],
            report['failovers'][0]['restart_s']) == (4, 9, 20.0)
    assert report['counters']['x0'] == {'highest': 588, 'went_back': False, 'restarts': 1, 'lost_counts': [12],
                                        'lost_ms': [1200], 'restarted_seen_at': [60]}


def test_a_service_whose_newest_probe_failed_before_the_last_window_does_not_answer_at_the_end():
    # Its probe takes longer than the end window to fail, so its newest (failed) result is older than it.
    samples = ups('x0', 'http', list(range(0, 101, 2))) + ups('x0', 'icecast', [10, 20, 60], down=(20, 60))
    report = drill(samples, [{'t': 0, 'name': 'start', 'kind': 'note'}])
    assert 'x0/icecast does not answer at the end of the drill' in report['failures']
    assert 'x0/http does not answer at the end of the drill' not in report['failures']


def test_service_back_too_late_fails():
    samples = ups('x0', 'http', list(range(0, 100, 2)), down=tuple(range(52, 90, 2)))
    events = [{'t': 51, 'name': 'power off node1', 'kind': 'failover'}]
    report = drill(samples, events, budget=30)
    assert not report['passed'] and 'x0/http back after 39 s (budget 30 s)' in report['failures'][0]


def test_a_failover_is_judged_up_to_the_next_migration_whose_gaps_are_its_own():
    # Back 7 s after the power-off; the live migration home at 80 pauses HTTP again for 6 s.
    samples = ups('x0', 'http', list(range(0, 100, 2)), down=(52, 54, 56, 82, 84))
    events = [{'t': 51, 'name': 'power off node1', 'kind': 'failover'},
              {'t': 70, 'name': 'every service answers', 'kind': 'note'},
              {'t': 80, 'name': 'node1 back; moving home live: x0', 'kind': 'migration', 'guest': 'x0'}]
    report = drill(samples, events, budget=30)
    assert report['passed'], report['failures']
    assert report['failovers'][0]['service_back_s'] == {'x0/http': 7.0}
    assert report['migrations'][0]['gaps_ms'] == {'x0/http': 6000}


def test_powering_the_failed_node_on_again_ends_the_failovers_window():
    # Every service back 7 s after the power-off; the node's power-on at 70 starves the survivor for 8 s.
    samples = ups('x0', 'http', list(range(0, 100, 2)), down=(52, 54, 56, 72, 74, 76, 78))
    events = [{'t': 51, 'name': 'power off node1', 'kind': 'failover'},
              {'t': 70, 'name': 'power on node1', 'kind': 'power'}]
    report = drill(samples, events, budget=30)
    assert report['passed'], report['failures']
    assert report['failovers'][0]['service_back_s'] == {'x0/http': 7.0}
    assert report['phases'][1]['gaps'] == {'x0/http': 10.0}


def test_a_service_not_back_before_the_next_migration_fails_the_failover():
    samples = ups('x0', 'http', list(range(0, 100, 2)), down=tuple(range(52, 82, 2)))
    events = [{'t': 51, 'name': 'power off node1', 'kind': 'failover'},
              {'t': 80, 'name': 'node1 back; moving home live: x0', 'kind': 'migration', 'guest': 'x0'}]
    report = drill(samples, events, budget=60)
    assert ('power off node1: x0/http not back before the next power change, migration or the end (budget 60 s)'
            in report['failures'])


def test_counter_going_back_without_a_restart_fails():
    samples = ups('x0', 'http', [0, 99]) + [counter(10, 100, 0, 'aaaa'), counter(20, 90, 0, 'aaaa')]
    report = drill(samples, [{'t': 0, 'name': 'start'}])
    assert not report['passed'] and 'went back within one boot' in report['failures'][0]


def test_two_nodes_at_once_fails():
    placements = [{'t': 10, 'node': 'node1', 'running': ['x1'], 'paused': []},
                  {'t': 11, 'node': 'node2', 'running': ['x1'], 'paused': []}]
    report = drill(ups('x0', 'http', [0, 99]), [{'t': 0, 'name': 'start'}], placements=placements)
    assert not report['passed'] and report['double_runs'] == 1


def test_migration_gaps_are_reported_in_ms_per_service_of_that_guest():
    samples = ups('x0', 'ssh', [0, 10, 10.5, 11, 11.5, 30], down=(10.5, 11))
    samples += [{'t': t / 2, 'target': 'x0', 'service': 'icecast', 'bytes': 10, 'ok': True}
                for t in list(range(0, 21)) + list(range(25, 61))]   # every 0.5 s, silent from 10 to 12.5
    samples += ups('x1', 'ssh', [0, 10, 11, 30])
    events = [{'t': 5, 'name': 'migrate x0', 'kind': 'migration', 'guest': 'x0', 'source': 'node1',
               'target': 'node2', 'seconds': 18.2}]
    report = drill(samples, events, end=30)
    assert report['migrations'] == [{'guest': 'x0', 'from': 'node1', 'to': 'node2', 'seconds': 18.2,
                                     'restarted': False, 'counter_restarted': False, 'cluster_started_on': [],
                                     'gaps_ms': {'x0/icecast': 2500, 'x0/ssh': 1500},
                                     # a stream's rate needs two full windows: this one is heard as it came
                                     'user_gaps_ms': {'x0/icecast': 2500, 'x0/ssh': 1500},
                                     'others_gaps_ms': {'x1/ssh': 0}}]


def test_a_migration_that_restarted_the_guest_is_not_live():
    samples = ups('x0', 'http', list(range(0, 100, 2)), down=(22, 24, 26))
    samples += [counter(10, 100, 0, 'aaaa'), counter(20, 200, 0, 'aaaa'), counter(30, 205, 200, 'bbbb'),
                counter(90, 805, 200, 'bbbb')]
    events = [{'t': 0, 'name': 'start', 'kind': 'note'},
              {'t': 15, 'name': 'x0 goes home', 'kind': 'migration', 'guest': 'x0', 'source': 'node1',
               'target': 'node2', 'seconds': 20},
              {'t': 60, 'name': 'migrate x0 back', 'kind': 'migration', 'guest': 'x0', 'source': 'node2',
               'target': 'node1', 'seconds': 10}]
    report = drill(samples, events)
    assert [m['restarted'] for m in report['migrations']] == [True, False]
    assert report['failures'] == ['x0 node1->node2 was not live: the guest restarted (its counter began a new boot)']
    assert 'x0     node1->node2         20 no' in table(report)


def test_table_and_picture_show_the_events():
    samples = ups('x0', 'http', list(range(0, 100, 2)), down=(52, 54))
    report = drill(samples, [{'t': 0, 'name': 'start'}, {'t': 51, 'name': 'power off node1', 'kind': 'failover'}])
    text = table(report)
    assert 'PASSED' in text and 'power off node1' in text and 'x0/http' in text
    page = picture(report)
    assert page.startswith('<!doctype html>') and '<svg' in page and 'power off node1' in page


def test_the_picture_has_a_time_axis_a_legend_and_labels_that_stay_on_the_page():
    samples = ups('x0', 'http', list(range(0, 3000, 2)))
    events = [{'t': 0, 'name': 'start'}, {'t': 2900, 'name': 'drill done'}]
    page = picture(drill(samples, events, end=3000))
    assert axis_step(3000) == 300 and axis_step(50) == 5
    assert '>0 s</text>' in page and '>2700 s</text>' in page and '>3000 s</text>' in page
    assert 'the client got an answer' in page and 'no answer' in page
    assert 'text-anchor="start">0 s start' in page and 'text-anchor="end">2900 s drill done' in page


def test_a_slow_answer_is_up_and_reported_as_the_slowest_wait():
    samples = ups('x0', 'http', list(range(0, 100, 2)))
    samples += [{'t': 30, 'target': 'x0', 'service': 'ssh', 'ok': True, 'seconds': 0.4, 'detail': ''},
                {'t': 75, 'target': 'x0', 'service': 'ssh', 'ok': True, 'seconds': 44.96, 'detail': ''},
                {'t': 90, 'target': 'x0', 'service': 'ssh', 'ok': False, 'seconds': 90.0, 'detail': 'timed out'}]
    report = drill(samples, [{'t': 0, 'name': 'start'}])
    # the timed-out probe is no answer; records without a wait (older timelines) are left out
    assert report['slowest_answer_s'] == {'x0/ssh': 45.0}
    assert 'Slowest answer per service (s): x0/ssh 45.0' in table(report)


def test_latest_answers_take_the_newest_result_since_the_wait_began():
    samples = (ups('x0', 'http', [1, 2, 3], down=(3,)) + ups('x0', 'ssh', [1, 5], down=(1,))
               + [{'t': 4, 'target': 'x0', 'service': 'icecast', 'ok': True, 'bytes': 512}])
    latest = latest_answers(samples, ['x0/http', 'x0/ssh', 'x0/icecast'], since=2)
    assert latest['x0/http']['t'] == 3 and not latest['x0/http']['ok']
    assert latest['x0/ssh']['t'] == 5 and latest['x0/ssh']['ok']
    # Stream chunks are not answers to a probe; the listener's own reports are.
    assert latest['x0/icecast'] is None


def test_latest_answers_ignore_results_from_before_the_wait_and_unexpected_services():
    samples = ups('x0', 'http', [1, 2]) + ups('x9', 'http', [5])
    assert latest_answers(samples, ['x0/http'], since=3) == {'x0/http': None}


def rolled(gap_during_change, counters=()):
    """A run with x0's live migration (HTTP silent 4 s) then a rolling change (HTTP silent as given)."""
    times = [t / 2 for t in range(0, 400)]
    down_migration = {t for t in times if 20 < t < 24}
    down_change = {t for t in times if 60 < t < 60 + gap_during_change}
    samples = ups('x0', 'http', times, down=down_migration | down_change) + list(counters)
    events = [{'t': 0, 'name': 'start', 'kind': 'note'},
              {'t': 20, 'name': 'x0 node1 -> node2', 'kind': 'migration', 'guest': 'x0', 'source': 'node1',
               'target': 'node2', 'seconds': 10},
              {'t': 40, 'name': 'x0 back', 'kind': 'note'},
              {'t': 50, 'name': 'rolling change: site.yml', 'kind': 'change'},
              {'t': 150, 'name': 'rolling change applied', 'kind': 'note'}]
    return analyse(samples, [], events, 200, 30)


def test_a_rolling_change_with_gaps_no_longer_than_a_live_migration_passes():
    report = rolled(3)
    assert report['passed'], report['failures']
    assert report['changes'] == [{'event': 'rolling change: site.yml', 'seconds': 150.0, 'restarted': [],
                                  'restarted_by_cluster': [], 'gaps_ms': {'x0/http': 3000}}]
    assert 'Rolling change: rolling change: site.yml' in table(report)


def test_a_rolling_change_silent_longer_than_a_live_migration_fails():
    report = rolled(12)
    assert not report['passed']
    assert report['failures'] == ["rolling change: site.yml: x0/http silent 12.0 s, longer than this run's "
                                  "longest live-migration gap (4.0 s)"]


def test_a_guest_restarted_by_a_rolling_change_fails():
    restart = [counter(55, 550, 0, 'aaaa'), counter(90, 300, 300, 'bbbb')]
    report = rolled(1, restart)
    assert report['changes'][0]['restarted'] == ['x0']
    assert 'rolling change: site.yml: x0 restarted (its counter began a new boot)' in report['failures']


# The nodes' cluster event logs (Pacemaker's file alert agent), as the drill reads them at its end.
CLUSTER_LOG = [
    "100.000001: Resource operation 'migrate_to' for 'guest_x0' on 'node1': ok",
    "101.500000: Resource operation 'migrate_from' for 'guest_x0' on 'node2': ok",
    "101.600000: Resource operation 'stop' for 'guest_x0' on 'node1': ok",
    "102.000000: Resource operation 'monitor (10000)' for 'guest_x0' on 'node2': ok",
    "130.250000: Resource operation 'start' for 'guest_x1' on 'node1': ok",
    "130.250000: Resource operation 'start' for 'guest_x1' on 'node1': ok",      # the same line from both logs
    "131.000000: Resource operation 'start' for 'guest_x0' on 'node2': not running (target: 0)",
    "132.000000: Resource operation 'start' for 'fence_node1' on 'node2': ok",
    "133.000000: Node 'node1' is now 'member'",
]


def test_only_the_cluster_s_successful_guest_starts_count_as_starts():
    assert cluster_starts(CLUSTER_LOG) == [{'t': 130.25, 'guest': 'x1', 'node': 'node1'}]


def test_a_rolling_change_the_cluster_restarted_a_guest_in_fails_though_its_counter_was_unreachable():
    # x1's counter never answered (its network was down): only the cluster's record shows the restart.
    samples = ups('x0', 'http', [t / 2 for t in range(0, 400)], down={t / 2 for t in range(41, 48)})
    events = [{'t': 0, 'name': 'start', 'kind': 'note'},
              {'t': 20, 'name': 'x0 node1 -> node2', 'kind': 'migration', 'guest': 'x0', 'source': 'node1',
               'target': 'node2', 'seconds': 10},
              {'t': 90, 'name': 'rolling change: site.yml', 'kind': 'change'},
              {'t': 180, 'name': 'rolling change applied', 'kind': 'note'}]
    report = analyse(samples, [], events, 200, 30, CLUSTER_LOG)
    assert report['migrations'][0]['restarted'] is False       # x0's move was live (migrate_to/from, no start)
    assert report['changes'][0]['restarted'] == ['x1'] and report['changes'][0]['restarted_by_cluster'] == ['x1']
    assert report['failures'] == ['rolling change: site.yml: x1 restarted (the cluster started it)']


def test_a_migration_the_cluster_finished_by_a_start_is_not_live():
    samples = ups('x1', 'http', [t / 2 for t in range(0, 400)])
    events = [{'t': 125, 'name': 'x1 node2 -> node1', 'kind': 'migration', 'guest': 'x1', 'source': 'node2',
               'target': 'node1', 'seconds': 9}]
    report = analyse(samples, [], events, 200, 30, CLUSTER_LOG)
    assert report['migrations'][0]['cluster_started_on'] == ['node1']
    assert report['failures'] == ['x1 node2->node1 was not live: the guest restarted (the cluster started it on node1)']


def test_a_rolling_change_without_a_live_migration_to_compare_with_fails():
    samples = ups('x0', 'http', [t / 2 for t in range(0, 100)])
    report = analyse(samples, [], [{'t': 0, 'name': 'rolling change: site.yml', 'kind': 'change'}], 60, 30)
    assert report['failures'] == ['rolling change: site.yml: no live migration in this run to compare its gaps '
                                  'with (add the migrate step)']


def faulted(restarts, failed_actions, expected=None, down=(), cluster_lines=()):
    """x0 probed every second for 200 s; a fault at 50 s, its end note with the cluster's failed actions at 150 s."""
    samples = ups('x0', 'http', list(range(0, 200)), down=down)
    samples += [counter(40, 400, 0, 'aaaa'), counter(49, 490, 0, 'aaaa'), counter(120, 485, 485, 'bbbb'),
                counter(130, 585, 485, 'bbbb')]
    events = [{'t': 0, 'name': 'start', 'kind': 'note'},
              {'t': 50, 'name': 'xl destroy x0 on node1', 'kind': 'fault', 'restarts': restarts},
              {'t': 150, 'name': 'cluster at the fault\'s end', 'kind': 'note', 'failed_actions': failed_actions,
               'expected_failures': expected or {}}]
    return analyse(samples, [], events, 200, 60, cluster_lines)


MONITOR_FAILED = {'resource': 'guest_x0', 'node': 'node1', 'operation': 'monitor', 'reason': 'not running'}


def test_a_fault_that_restarts_the_guest_it_may_passes_and_reports_what_the_counter_lost():
    report = faulted(['x0'], [MONITOR_FAILED], {'guest_x0': 'the monitor that found x0 gone'}, down=range(51, 90))
    assert report['passed'], report['failures']
    fault = report['faults'][0]
    assert fault['restarted'] == {'x0': {'lost_ms': [500], 'cluster_started_on': []}}
    assert fault['service_back_s'] == {'x0/http': 40.0}
    assert fault['failed_actions_why'] == {'guest_x0': 'the monitor that found x0 gone'}
    text = table(report)
    assert 'Fault: xl destroy x0 on node1' in text and 'x0 (lost 500 ms)' in text
    assert 'guest_x0 monitor on node1 - the monitor that found x0 gone' in text


def test_a_fault_that_restarts_a_guest_it_must_not_fails_naming_the_evidence():
    report = faulted([], [], cluster_lines=["60.5: Resource operation 'start' for 'guest_x0' on 'node2': ok"])
    assert report['failures'] == ['xl destroy x0 on node1: x0 restarted (the cluster started it on node2), which '
                                  'this fault must not cause']


def test_a_fault_whose_service_comes_back_late_or_never_fails():
    late = faulted(['x0'], [], down=range(51, 120))
    assert late['failures'] == ['xl destroy x0 on node1: x0/http answered again after 70 s (budget 60 s)']
    never = faulted(['x0'], [], down=range(51, 200))
    assert "xl destroy x0 on node1: x0/http did not answer again before the fault's end" in never['failures']


def test_failed_actions_left_without_a_reason_fail_and_an_unread_cluster_fails():
    left = faulted(['x0'], [MONITOR_FAILED])
    assert left['failures'] == ['xl destroy x0 on node1: the cluster kept failed actions: guest_x0 monitor on node1 '
                                '(not running)']
    unread = faulted(['x0'], None)
    assert unread['failures'] == ["xl destroy x0 on node1: the cluster's state at the fault's end was not read"]


def test_each_fault_is_judged_up_to_the_next_one():
    samples = ups('x0', 'http', list(range(0, 300)), down=range(160, 170))
    events = [{'t': 50, 'name': 'first', 'kind': 'fault', 'restarts': []},
              {'t': 100, 'name': 'first end', 'kind': 'note', 'failed_actions': []},
              {'t': 150, 'name': 'second', 'kind': 'fault', 'restarts': ['x0']},
              {'t': 250, 'name': 'second end', 'kind': 'note', 'failed_actions': []}]
    report = analyse(samples, [], events, 300, 60)
    assert [f['service_back_s'] for f in report['faults']] == [{'x0/http': 0.0}, {'x0/http': 20.0}]
    assert report['passed'], report['failures']


def stream(times, size=1000, target='x0'):
    return [{'t': t, 'target': target, 'service': 'icecast', 'bytes': size, 'ok': True} for t in times]


def test_the_stream_rate_is_the_median_window_neither_a_silence_nor_a_catch_up_moves_it():
    steady = [t / 2 for t in range(0, 240)]                       # 2 chunks of 1000 bytes a second for 120 s
    burst = [120 + t / 20 for t in range(0, 200)]                  # the source catching up: 20 a second for 10 s
    chunks = stream(steady) + stream(burst) + stream([t / 2 for t in range(300, 480)])   # then silent 130-150 s
    assert byte_rate(chunks) == 2000
    assert byte_rate(stream([0, 1, 2])) is None                    # too short to tell


def test_a_listener_with_a_buffer_hears_only_the_part_of_a_stall_the_buffer_does_not_cover():
    rate = 2000.0                                                  # each 1000-byte chunk is half a second of audio
    short = stream([t / 2 for t in range(0, 20)] + [13 + t / 2 for t in range(0, 20)])   # silent 9.5-13 s
    assert stream_gaps(short, 0, 22) == [(9.5, 13)]
    assert heard_gaps(short, 0, 22, 4.0, rate) == []               # 3.5 s of stall, 4 s of buffer
    long_stall = stream([t / 2 for t in range(0, 20)] + [20 + t / 2 for t in range(0, 20)])   # silent 9.5-20 s
    assert heard_gaps(long_stall, 0, 29, 4.0, rate) == [(13.5, 20)]
    # after a stall the player's buffer is empty: bursts 5 s apart, each 2 s of audio, leave 3 s of silence each
    bursts = stream([0.5 * t for t in range(0, 8)] + [10 + 5 * k + d for k in range(3) for d in (0, 0.1, 0.2, 0.3)])
    assert heard_gaps(bursts, 0, 22, 4.0, rate) == [(7.5, 10), (12.0, 15), (17.0, 20)]


def migrated(ssh_down=(), x1_down=(), stall=(), rate_windows=True):
    """x0 moves at t=100 (window up to 130); a stream on x0 with a 2000 B/s rate known from 100 s of steady data."""
    times = [t / 2 for t in range(0, 400)]
    samples = ups('x0', 'http', times, down=ssh_down) + ups('x1', 'ssh', times, down=x1_down)
    samples += stream([t for t in times if t not in stall])
    events = [{'t': 100, 'name': 'migrate x0', 'kind': 'migration', 'guest': 'x0', 'source': 'node1',
               'target': 'node2', 'seconds': 20},
              {'t': 130, 'name': 'x0 on node2', 'kind': 'note'}]
    return events, samples


def test_a_live_migration_over_its_budget_fails_for_the_moved_guest_and_for_a_guest_that_stayed():
    events, samples = migrated(ssh_down={t / 2 for t in range(210, 230)}, x1_down={t / 2 for t in range(206, 226)})
    report = analyse(samples, [], events, 200, 600, migration_budget=5)
    assert report['failures'] == ['x0 node1->node2: x0/http silent 10.5 s, over the live-migration budget (5 s)',
                                  'while x0 node1->node2 moved: x1/ssh silent 10.5 s, over the live-migration '
                                  'budget (5 s)']
    assert analyse(samples, [], events, 200, 600)['passed']       # no budget given: not judged


def test_a_stream_is_judged_by_what_its_buffered_listener_hears():
    events, samples = migrated(stall={t / 2 for t in range(210, 216)})   # 3.5 s without a chunk
    report = analyse(samples, [], events, 200, 600, listener_buffer=4, migration_budget=2)
    assert report['migrations'][0]['gaps_ms']['x0/icecast'] == 3500
    assert report['migrations'][0]['user_gaps_ms']['x0/icecast'] == 0
    assert report['passed'], report['failures']
    assert report['heard_gap_s'] == {'x0/icecast': 0}
    assert 'icecast 3500 (heard 0)' in table(report)


def test_a_failover_is_split_into_disks_domain_and_each_service_from_the_cluster_s_records():
    samples = ups('x0', 'http', list(range(0, 300, 2)), down=set(range(52, 250, 2)))
    events = [{'t': 50, 'name': 'power off node1', 'kind': 'failover', 'detected_at': 60, 'fenced_at': 80,
               'restarted_at': 120}]
    lines = ["100.5: Resource operation 'start' for 'disks_x0' on 'node2': ok",
             "120.0: Resource operation 'start' for 'guest_x0' on 'node2': ok",
             "121.0: Resource operation 'monitor (30000)' for 'guest_x0' on 'node2': ok",
             "20.0: Resource operation 'start' for 'disks_x0' on 'node1': ok"]       # before the failover
    failover = analyse(samples, [], events, 300, 600, lines)['failovers'][0]
    assert failover['parts'] == {'x0': {'node': 'node2', 'start_decided_s': None, 'disks_active_s': 50.5,
                                        'console_first_s': None, 'domain_started_s': 70.0, 'console_booted_s': None,
                                        'services_after_start_s': {'x0/http': 130.0}}}
    assert 'x0 on node2: disks active 50.5 s, domain started 70.0 s, then http +130.0 s' in table(
        analyse(samples, [], events, 300, 600, lines))


def stamp(seconds, sep=' '):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime('%Y-%m-%d' + sep + '%H:%M:%S')


def test_the_nodes_records_split_a_failover_into_the_decision_the_kernel_and_the_boot():
    # the console as the lab's x0 printed it, its getty on hvc0 timed out: the default target ends the boot
    base = 1796000000                      # the drill's clock and the nodes' share UTC epoch seconds
    samples = ups('x0', 'http', [base + t for t in range(0, 300, 2)], down={base + t for t in range(52, 250, 2)})
    events = [{'t': base + 50, 'name': 'power off node1', 'kind': 'failover', 'detected_at': base + 60,
               'fenced_at': base + 80, 'restarted_at': base + 120}]
    cluster = ["%d.5: Resource operation 'start' for 'disks_x0' on 'node2': ok" % (base + 100),
               "%d.0: Resource operation 'start' for 'guest_x0' on 'node2': ok" % (base + 120)]
    journal = [
        '%s.250000+0000 node2 pacemaker-controld[812]:  notice: Initiating start operation disks_x0:1_start_0 '
        'locally on node2' % stamp(base + 81, 'T'),                       # the disks' clone instance, as the lab's
        '%s.000000+00:00 node2 pacemaker-controld[812]:  notice: Initiating start operation guest_x0_start_0 '
        'locally on node2' % stamp(base + 101, 'T'),
        '%s.000000+0000 node1 pacemaker-controld[700]:  notice: Initiating start operation disks_x0_start_0 '
        'locally on node1' % stamp(base + 10, 'T'),                                  # x0's start before the failure
        '%s.000000+0000 node2 pacemaker-fenced[810]:  notice: Operation off of node1 by node2: OK' % stamp(base + 80, 'T')]
    consoles = ['x0: [%s] [    0.000000] Linux version 6.1.0-28-amd64' % stamp(base + 5),        # the old domain
                'x0: [%s] [    0.000000] Linux version 6.1.0-28-amd64' % stamp(base + 104),
                'x0: [%s] [  OK  ] Reached target network.target - Network.' % stamp(base + 170),
                # as systemd colours it
                'x0: [%s] \x1b[K[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mmulti-user.target\x1b[0m - '
                'Multi-User System.' % stamp(base + 196),
                'x0: [%s] Debian GNU/Linux 12 x0 hvc0' % stamp(base + 198),
                'x1: [%s] Debian GNU/Linux 12 x1 hvc0' % stamp(base + 150)]
    report = analyse(samples, [], events, base + 300, 600, cluster, journal_lines=journal, console_log=consoles)
    part = report['failovers'][0]['parts']['x0']
    assert (part['start_decided_s'], part['disks_active_s'], part['console_first_s'], part['domain_started_s'],
            part['console_booted_s']) == (31.2, 50.5, 54.0, 70.0, 146.0)
    assert report['passed'] == analyse(samples, [], events, base + 300, 600, cluster)['passed']
    assert ('x0 on node2: start decided 31.2 s, disks active 50.5 s, first console line 54.0 s, domain started '
            '70.0 s, booted 146.0 s, then http +130.0 s') in table(report)


def test_records_of_another_shape_leave_those_parts_unknown():
    assert start_decisions(['Dec 06 06:50:01 node2 pacemaker-controld[812]: notice: Initiating start operation '
                            'disks_x0_start_0 on node2', 'garbage']) == []
    assert console_lines(['x0 without a stamp', '[2026-12-06 06:51:02] no guest name']) == []
    assert console_lines(['x0: [2026-12-06 06:51:02] \x1b[K[\x1b[0;32m  OK  \x1b[0m] Started\r'])[0]['text'] == (
        '[  OK  ] Started')
    assert console_lines(['x0: [2026-12-06 06:51:02] x0 login: ']) == [
        {'t': stamp_epoch('2026-12-06 06:51:02'), 'guest': 'x0', 'text': 'x0 login: '}]


def test_a_login_prompt_ends_the_boot_when_no_target_line_came_first():
    base = 1796000000
    events = [{'t': base + 50, 'name': 'power off node1', 'kind': 'failover', 'fenced_at': base + 80}]
    cluster = ["%d.0: Resource operation 'start' for 'guest_x0' on 'node2': ok" % (base + 120)]
    consoles = ['x0: [%s] Linux version' % stamp(base + 110), 'x0: [%s] x0 login: ' % stamp(base + 150)]
    part = analyse([], [], events, base + 300, 600, cluster, console_log=consoles)['failovers'][0]['parts']['x0']
    assert (part['console_first_s'], part['console_booted_s']) == (60.0, 100.0)


def stamp_epoch(text):
    return datetime.datetime.strptime(text + '+0000', '%Y-%m-%d %H:%M:%S%z').timestamp()


def test_the_faults_table_has_a_line_per_fault_with_its_numbers_and_verdict():
    passed = faulted(['x0'], [MONITOR_FAILED], {'guest_x0': 'the monitor that found x0 gone'}, down=range(51, 90))
    passed['faults'][0]['detected_s'] = 31.0
    failed = faulted(['x0'], [], down=range(51, 200))
    text = faults_table({'guest_crash': passed, 'corosync_kill': failed}).splitlines()
    assert text[0].split() == ['fault', 'seen', '(s)', 'back', '(s)', 'longest', 'gap', 'lost', '(ms)', 'verdict']
    assert text[1].split() == ['guest_crash', '31.0', '40.0', '40.0', 's', '500', 'passed']
    assert text[2].split() == ['corosync_kill', '-', 'never', '150.0', 's', '500', 'FAILED']
