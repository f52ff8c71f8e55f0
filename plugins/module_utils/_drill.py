# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover drill's numbers (pure): from the client's probe samples, the nodes' view of where
guests run, and the drill's events, to availability, gaps, pass criteria and a report.

Inputs are plain records:
- sample: {t, target, service, ok, detail}; stream chunks are samples with `bytes`;
- placement: {t, node, running: [guests], paused: [guests]} (what `xl list` says on a node);
- event: {t, name, kind} with kind power | migration | failover | change | fault | note, and optional fields
  (guest, source, target, seconds) for migrations; a change is a setting rolled through the running
  datacenter, which must restart no guest and silence no service longer than a live migration does; a fault
  is one injected failure (see fault_outcomes), followed by a note with the cluster's failed actions.
Times are seconds since the epoch, all from the controller's clock.
"""

from __future__ import annotations

import datetime
import html
import json
import re
from collections import defaultdict

from ansible_collections.xenha.datacenter.plugins.module_utils._timeline import (
    byte_rate, heard_gaps, longest_gap, outages, stream_gaps,
)

PLACEMENT_WINDOW = 5.0     # two nodes' reports closer than this are taken as simultaneous


def read_records(path):
    """The records of one of the drill's JSON-lines files (samples, placements); a line its writer was
    still writing, or was stopped in, is skipped."""
    records = []
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    return records


def split_series(samples):
    """{(target, service): [samples sorted by time]}; stream chunks under (target, service + ':chunks')."""
    series = defaultdict(list)
    for sample in samples:
        key = (sample['target'], sample['service'] + (':chunks' if 'bytes' in sample else ''))
        series[key].append(sample)
    for values in series.values():
        values.sort(key=lambda s: s['t'])
    return series


def service_gaps(series, start, end):
    """{target/service: longest gap in seconds} within [start, end]; the stream by its chunks."""
    gaps = {}
    for (target, service), values in sorted(series.items()):
        if service.endswith(':chunks'):
            gaps['%s/%s' % (target, service[:-7])] = longest_gap(stream_gaps(values, start, end), end)
        elif service != 'counter':
            gaps['%s/%s' % (target, service)] = longest_gap(outages(values, start, end), end)
    return gaps


def user_gaps(series, start, end, buffer_s):
    """service_gaps as users meet them: a stream by the silence a listener whose player buffers `buffer_s`
    seconds hears (where the stream's rate is known), every other service by its probes."""
    gaps = service_gaps(series, start, end)
    for (target, service), values in sorted(series.items()):
        rate = byte_rate(values) if service.endswith(':chunks') else None
        if rate:
            gaps['%s/%s' % (target, service[:-7])] = longest_gap(heard_gaps(values, start, end, buffer_s, rate), end)
    return gaps


def slowest_answers(series):
    """{target/service: the longest a probe waited for an answer that came, in seconds}, for the services
    whose samples record it: a service that answers slowly is up, but users feel it."""
    result = {}
    for (target, service), values in sorted(series.items()):
        waits = [s['seconds'] for s in values if s['ok'] and isinstance(s.get('seconds'), (int, float))]
        if waits:
            result['%s/%s' % (target, service)] = round(max(waits), 1)
    return result


def back_after(series, since, end):
    """{target/service: seconds after `since` until it answered again (0 when it never went down),
    None when it was not back by `end`}."""
    result = {}
    for (target, service), values in sorted(series.items()):
        if service.endswith(':chunks') or service == 'counter':
            continue
        spans = outages(values, since, end)
        if not spans:
            result['%s/%s' % (target, service)] = 0.0
        elif spans[-1][1] is None:
            result['%s/%s' % (target, service)] = None
        else:
            result['%s/%s' % (target, service)] = round(spans[-1][1] - since, 1)
    return result


def latest_answers(samples, expected, since):
    """{target/service: the newest probe result at or after `since`, None when there is none yet} for each
    `expected` target/service; the stream by its listener's reports, not its chunks. A result from before
    `since` says nothing about now (e.g. an answer from before a node lost power)."""
    latest = dict.fromkeys(expected)
    for sample in samples:
        key = '%s/%s' % (sample['target'], sample['service'])
        if key not in latest or 'bytes' in sample or sample['t'] < since:
            continue
        if latest[key] is None or sample['t'] >= latest[key]['t']:
            latest[key] = sample
    return latest


def double_runs(placements):
    """[(guest, t, nodes)] where two nodes reported the guest running within PLACEMENT_WINDOW."""
    latest = {}
    found = []
    for report in sorted(placements, key=lambda p: p['t']):
        latest[report['node']] = report
        for guest in report['running']:
            nodes = [n for n, r in latest.items()
                     if guest in r['running'] and report['t'] - r['t'] <= PLACEMENT_WINDOW]
            if len(nodes) > 1:
                found.append((guest, report['t'], sorted(nodes)))
    return found


_COUNTER = re.compile(r'count=(\d+) resumed=(\d+) boot=(\w+)')


def counter_report(series):
    """Per guest: highest count, whether it ever went back within one boot, and the counts lost at
    each restart (highest count seen before minus the count the new boot resumed from)."""
    report = {}
    for (target, service), values in sorted(series.items()):
        if service != 'counter':
            continue
        boots = []
        went_back = False
        previous = None
        for sample in values:
            match = _COUNTER.search(sample.get('detail', '')) if sample['ok'] else None
            if not match:
                continue
            count, resumed, boot = int(match.group(1)), int(match.group(2)), match.group(3)
            if not boots or boots[-1]['boot'] != boot:
                boots.append({'boot': boot, 'resumed': resumed, 'highest': count, 'first_t': sample['t']})
            elif previous is not None and count < previous:
                went_back = True
            boots[-1]['highest'] = max(boots[-1]['highest'], count)
            previous = count
        lost = [max(0, before['highest'] - after['resumed']) for before, after in zip(boots, boots[1:])]
        report[target] = {'highest': boots[-1]['highest'] if boots else None, 'went_back': went_back,
                          'restarts': len(boots) - 1 if boots else 0, 'lost_counts': lost,
                          'lost_ms': [n * 100 for n in lost],
                          # first sample of each new boot: when the client first saw the guest restarted
                          'restarted_seen_at': [boot['first_t'] for boot in boots[1:]]}
    return report


# One line of Pacemaker's file alert agent for a resource operation, e.g.
# "1733400000.123456: Resource operation 'start' for 'guest_x0' on 'node2': ok".
_CLUSTER_OPERATION = re.compile(r"^(\d+(?:\.\d+)?): Resource operation '([a-z_]+)[^']*' for 'guest_([^']+)' on "
                                r"'([^']+)': (\S+)")
# The same for a guest's disks (the guests role's disks_<guest> resource).
_DISKS_OPERATION = re.compile(r"^(\d+(?:\.\d+)?): Resource operation 'start' for 'disks_([^']+)' on '([^']+)': ok")


def cluster_starts(lines):
    """The guests the cluster started (a boot, never a live migration, which Pacemaker records as migrate_to,
    migrate_from and stop), from the nodes' event logs: [{'t', 'guest', 'node'}], sorted, each once."""
    found = set()
    for line in lines:
        match = _CLUSTER_OPERATION.match(line.strip())
        if match and match.group(2) == 'start' and match.group(5).lower() == 'ok':
            found.add((float(match.group(1)), match.group(3), match.group(4)))
    return [{'t': t, 'guest': guest, 'node': node} for t, guest, node in sorted(found)]


def disks_starts(lines):
    """When the cluster activated each guest's disks: [{'t', 'guest', 'node'}], sorted, each once."""
    found = {(float(m.group(1)), m.group(2), m.group(3)) for m in (_DISKS_OPERATION.match(line.strip())
                                                                   for line in lines) if m}
    return [{'t': t, 'guest': guest, 'node': node} for t, guest, node in sorted(found)]


# The nodes' own records (the drill keeps them in nodes/<node>/): Pacemaker's decision to start a guest's
# resource in the journal (journalctl -o short-iso-precise; a guest's disks are a clone, whose instance the
# journal names, disks_x0:1), and each guest's console as xenconsoled stamps
# it ("x0: [YYYY-MM-DD hh:mm:ss] text", the guest's name put first when the records are kept).
_JOURNAL_DECISION = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d:?\d\d|Z)? \S+ '
                               r'pacemaker-controld\[\d+\]: +\w+: Initiating start operation (disks|guest)_(\S+?)(?::\d+)?_start_0')
_CONSOLE_LINE = re.compile(r'^([^:\s]+): \[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] ?(.*)$')
# systemd colours its status lines on a console
_TERMINAL_CODES = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\r')
# What a guest's console shows when its boot is over: systemd's status line for its default target, or the login
# prompt (agetty's issue line, then the prompt). A busy guest's getty may never come: its console device timed out.
_CONSOLE_BOOTED = re.compile(r'Reached target (?:\S+ - )?(?:multi-user\.target|graphical\.target|Multi-User System)'
                             r'|\blogin: ?$|^Debian GNU/Linux .* hvc0\s*$')


def _epoch(stamp, zone='+0000'):
    if '.' not in stamp:
        stamp += '.0'
    zone = '+0000' if zone in (None, 'Z') else zone.replace(':', '')
    return datetime.datetime.strptime(stamp.replace(' ', 'T') + zone, '%Y-%m-%dT%H:%M:%S.%f%z').timestamp()


def start_decisions(journal_lines):
    """When Pacemaker decided to start a guest's disks or domain, from the nodes' journals:
    [{'t', 'guest', 'resource'}] sorted, resource being 'disks' or 'guest'."""
    found = set()
    for line in journal_lines:
        match = _JOURNAL_DECISION.match(line.strip())
        if match:
            found.add((_epoch(match.group(1), match.group(2)), match.group(4), match.group(3)))
    return [{'t': t, 'guest': guest, 'resource': resource} for t, guest, resource in sorted(found)]


def console_lines(lines):
    """The guests' console lines: [{'t', 'guest', 'text'}] sorted by time (whole seconds, as stamped), the text
    without its terminal codes."""
    found = []
    for line in lines:
        match = _CONSOLE_LINE.match(line.rstrip('\n'))
        if match:
            found.append({'t': _epoch(match.group(2)), 'guest': match.group(1),
                          'text': _TERMINAL_CODES.sub('', match.group(3))})
    return sorted(found, key=lambda entry: entry['t'])


def failover_parts(event, window_end, starts, disks, back, decisions=(), consoles=()):
    """A failover's restart split into its parts, per guest the cluster started in the window, in seconds from
    the failure: Pacemaker's decision to start its disks, its disks active, its kernel's first line on the
    console, its domain started, its boot over (its default target reached), then each of its services answering after the
    domain's start. A part the records do not show is None."""
    def since_failure(found):
        return round(found['t'] - event['t'], 1) if found else None

    parts = {}
    for start in starts:
        guest = start['guest']
        if not event['t'] <= start['t'] <= window_end or guest in parts:
            continue
        disk = next((d for d in disks if d['guest'] == guest and event['t'] <= d['t'] <= start['t']), None)
        decided = next((d for d in decisions if d['guest'] == guest and event['t'] <= d['t'] <= start['t']), None)
        # The new domain's console begins after its disks are active (the old one's ended at the failure).
        console_from = disk['t'] if disk else (decided['t'] if decided else event['t'])
        # whole-second stamps: the second the disks came up counts
        own = [line for line in consoles if line['guest'] == guest and console_from - 1 < line['t'] <= window_end]
        started = round(start['t'] - event['t'], 1)
        parts[guest] = {'node': start['node'], 'start_decided_s': since_failure(decided),
                        'disks_active_s': since_failure(disk),
                        'console_first_s': since_failure(own[0] if own else None),
                        'domain_started_s': started,
                        'console_booted_s': since_failure(next((line for line in own
                                                                if _CONSOLE_BOOTED.search(line['text'])), None)),
                        'services_after_start_s': {key: (None if seconds is None else round(seconds - started, 1))
                                                   for key, seconds in sorted(back.items())
                                                   if key.startswith(guest + '/')}}
    return parts


def _started_by_cluster(starts, guest, begin, end):
    return [start for start in starts if start['guest'] == guest and begin <= start['t'] <= end]


# Kinds of drill events that disturb the services; a note only marks a moment.
DISTURBANCES = ('power', 'migration', 'failover', 'change', 'fault')


def _since(event, key):
    """Seconds from the event to a moment the cluster recorded (both epoch; clocks assumed in sync)."""
    moment = event.get(key)
    return None if moment is None else round(moment - event['t'], 1)


def analyse(samples, placements, events, end, budget, cluster_lines=(), listener_buffer=4.0, migration_budget=None,
            journal_lines=(), console_log=()):
    """The drill report: per event what users saw, the failovers and migrations, pass criteria.
    `cluster_lines`: the nodes' cluster event logs over the drill: a guest the cluster started during a live
    migration or a rolling change was restarted, even when the client could not reach its counter.
    `listener_buffer`: seconds of audio a stream's player holds; `migration_budget`: seconds every service may
    be silent, as users meet it, during a live migration (None: not judged). `journal_lines`, `console_log`: the
    nodes' journals and the guests' consoles over the drill (the nodes' records), which split each failover
    into more parts; they never change the judgement."""
    starts = cluster_starts(cluster_lines)
    decisions = start_decisions(journal_lines)
    consoles = console_lines(console_log)
    series = split_series(samples)
    events = sorted(events, key=lambda e: e['t'])
    start = events[0]['t'] if events else min((s['t'] for s in samples), default=0)
    phases = []
    for index, event in enumerate(events):
        phase_end = events[index + 1]['t'] if index + 1 < len(events) else end
        phases.append({'t': round(event['t'] - start, 1), 'name': event['name'], 'kind': event.get('kind', 'note'),
                       'gaps': {k: round(v, 2) for k, v in service_gaps(series, event['t'], phase_end).items()}})
    counters = counter_report(series)
    migrations = []
    for index, event in enumerate(events):
        if event.get('kind') != 'migration':
            continue
        phase_end = events[index + 1]['t'] if index + 1 < len(events) else end
        gaps = service_gaps(series, event['t'], phase_end)
        heard = user_gaps(series, event['t'], phase_end, listener_buffer)
        mine = str(event.get('guest')) + '/'
        seen = counters.get(event.get('guest'), {}).get('restarted_seen_at', [])
        started = _started_by_cluster(starts, event.get('guest'), event['t'], phase_end)
        migrations.append({'guest': event.get('guest'), 'from': event.get('source'), 'to': event.get('target'),
                           'seconds': event.get('seconds'),
                           # a move the cluster finished by stopping and starting the guest is no live migration
                           'restarted': any(event['t'] <= t <= phase_end for t in seen) or bool(started),
                           'counter_restarted': any(event['t'] <= t <= phase_end for t in seen),
                           'cluster_started_on': [start['node'] for start in started],
                           'gaps_ms': {k: int(round(v * 1000)) for k, v in gaps.items() if k.startswith(mine)},
                           # as users meet them: a stream by what a buffered listener hears
                           'user_gaps_ms': {k: int(round(v * 1000)) for k, v in heard.items() if k.startswith(mine)},
                           'others_gaps_ms': {k: int(round(v * 1000)) for k, v in heard.items()
                                              if not k.startswith(mine)}})
    failovers = []
    for index, event in enumerate(events):
        if event.get('kind') != 'failover':
            continue
        # Judged up to the next disturbance (a node powered on or off, a migration, another failover):
        # the gaps it causes are reported with it, not counted against this failover.
        window_end = next((later['t'] for later in events[index + 1:]
                           if later.get('kind') in DISTURBANCES), end)
        back = back_after(series, event['t'], window_end)
        failovers.append({'event': event['name'], 'detection_s': _since(event, 'detected_at'),
                          'fencing_s': _since(event, 'fenced_at'), 'restart_s': _since(event, 'restarted_at'),
                          'service_back_s': back,
                          'parts': failover_parts(event, window_end, starts, disks_starts(cluster_lines), back,
                                                  decisions, consoles)})
    changes = rolling_changes(series, events, counters, end, starts)
    faults = fault_outcomes(series, events, counters, end, starts, listener_buffer)
    doubles = double_runs(placements)
    failures = (judge_changes(changes, migrations) + judge_faults(faults, budget)
                + judge_migration_gaps(migrations, migration_budget))
    for m in migrations:
        if m['restarted']:
            failures.append('%s %s->%s was not live: the guest restarted (%s)'
                            % (m['guest'], m['from'], m['to'], _restart_evidence(m)))
    for failover in failovers:
        for service, seconds in failover['service_back_s'].items():
            if seconds is None:
                failures.append('%s: %s not back before the next power change, migration or the end (budget %s s)'
                                % (failover['event'], service, budget))
            elif seconds > budget:
                failures.append('%s: %s back after %s s (budget %s s)' % (failover['event'], service, seconds, budget))
    last = back_after(series, end - 30, end) if samples else {}
    # A probe slower than that window to fail leaves no sample in it: its newest result decides.
    newest = latest_answers([s for s in samples if s['t'] <= end], list(last), float('-inf'))
    for key, sample in newest.items():
        if sample is not None and not sample['ok']:
            last[key] = None
    for service, seconds in last.items():
        if seconds is None:
            failures.append('%s does not answer at the end of the drill' % service)
    for guest, when, nodes in doubles:
        failures.append('%s ran on %s at once (t=%.1f)' % (guest, ' and '.join(nodes), when - start))
    for guest, counter in counters.items():
        if counter['went_back']:
            failures.append('%s: the counter went back within one boot (data lost without a restart)' % guest)
    for event in events:
        if event.get('failed'):
            failures.append('step failed: %s (%s)' % (event['name'], event['failed']))
    return {'passed': not failures, 'failures': failures, 'budget_s': budget, 'duration_s': round(end - start, 1),
            'phases': phases, 'migrations': migrations, 'failovers': failovers, 'changes': changes,
            'faults': faults,
            'counters': counters,
            'double_runs': len(doubles), 'slowest_answer_s': slowest_answers(series),
            'listener_buffer_s': listener_buffer, 'migration_budget_s': migration_budget,
            'heard_gap_s': {k: round(v, 1) for k, v in user_gaps(series, start, end, listener_buffer).items()
                            if k in stream_keys(series)},
            'availability': availability(series, start, end),
            # the inputs besides the samples, so that a kept run can be judged again
            'events': events, 'end': end}


def stream_keys(series):
    return {'%s/%s' % (target, service[:-7]) for target, service in series if service.endswith(':chunks')}


def judge_migration_gaps(migrations, migration_budget):
    """Every live migration keeps each service's silence, as users meet it (a stream as a buffered listener
    hears it), within the budget: the moved guest's services and those of every guest that stayed put."""
    failures = []
    if migration_budget is None:
        return failures
    for m in migrations:
        if m['restarted']:
            continue  # judged as not live already
        path = '%s %s->%s' % (m['guest'], m['from'], m['to'])
        for service, gap in sorted(m['user_gaps_ms'].items()):
            if gap > migration_budget * 1000:
                failures.append('%s: %s silent %.1f s, over the live-migration budget (%s s)'
                                % (path, service, gap / 1000.0, migration_budget))
        for service, gap in sorted(m['others_gaps_ms'].items()):
            if gap > migration_budget * 1000:
                failures.append('while %s moved: %s silent %.1f s, over the live-migration budget (%s s)'
                                % (path, service, gap / 1000.0, migration_budget))
    return failures


def _restart_evidence(migration):
    """Why a migrated guest counts as restarted: the cluster's record, the client's counter, or both."""
    said = []
    if migration['cluster_started_on']:
        said.append('the cluster started it on %s' % ', '.join(migration['cluster_started_on']))
    if migration['counter_restarted']:
        said.append('its counter began a new boot')
    return '; '.join(said)


def rolling_changes(series, events, counters, end, starts=()):
    """Per change event, up to the next disturbance: the guests that restarted (the cluster started them, or
    their counter began a new boot), and each service's longest gap."""
    changes = []
    for index, event in enumerate(events):
        if event.get('kind') != 'change':
            continue
        window_end = next((later['t'] for later in events[index + 1:] if later.get('kind') in DISTURBANCES), end)
        by_counter = {guest for guest, counter in counters.items()
                      if any(event['t'] <= t <= window_end for t in counter['restarted_seen_at'])}
        by_cluster = {start['guest'] for start in starts if event['t'] <= start['t'] <= window_end}
        restarted = sorted(by_counter | by_cluster)
        changes.append({'event': event['name'], 'seconds': round(window_end - event['t'], 1), 'restarted': restarted,
                        'restarted_by_cluster': sorted(by_cluster),
                        'gaps_ms': {k: int(round(v * 1000))
                                    for k, v in service_gaps(series, event['t'], window_end).items()}})
    return changes


def judge_changes(changes, migrations):
    """A rolling change restarts no guest, and no service is silent longer than the longest client-seen gap
    of a live migration measured in the same run (the roll moves every guest live, twice)."""
    failures = []
    live = [gap for m in migrations if not m['restarted'] for gap in m['gaps_ms'].values()]
    reference = max(live) if live else None
    for change in changes:
        for guest in change['restarted']:
            failures.append('%s: %s restarted (%s)' % (
                change['event'], guest, 'the cluster started it' if guest in change.get('restarted_by_cluster', ())
                else 'its counter began a new boot'))
        if reference is None:
            failures.append('%s: no live migration in this run to compare its gaps with (add the migrate step)'
                            % change['event'])
            continue
        for service, gap in sorted(change['gaps_ms'].items()):
            if gap > reference:
                failures.append('%s: %s silent %.1f s, longer than this run\'s longest live-migration gap (%.1f s)'
                                % (change['event'], service, gap / 1000.0, reference / 1000.0))
    return failures


def fault_outcomes(series, events, counters, end, starts=(), listener_buffer=4.0):
    """Per fault event ({kind: fault, restarts: [guests that may restart]}), up to the next fault or the end:
    the guests restarted (the cluster started them, or their counter began a new boot) with what each counter
    lost at that restart, when each service answered again, and the failed actions the cluster kept at the
    fault's end (from a later event's `failed_actions`, each {resource, node, operation, reason}, with
    `expected_failures`: {resource: why} for those the fault itself leaves)."""
    outcomes = []
    faults = [index for index, event in enumerate(events) if event.get('kind') == 'fault']
    for position, index in enumerate(faults):
        event = events[index]
        window_end = events[faults[position + 1]]['t'] if position + 1 < len(faults) else end
        restarted = {}
        for guest, counter in counters.items():
            for seen, lost in zip(counter['restarted_seen_at'], counter['lost_ms']):
                if event['t'] <= seen <= window_end:
                    restarted.setdefault(guest, {'lost_ms': [], 'cluster_started_on': []})['lost_ms'].append(lost)
        for start in starts:
            if event['t'] <= start['t'] <= window_end:
                entry = restarted.setdefault(start['guest'], {'lost_ms': [], 'cluster_started_on': []})
                entry['cluster_started_on'].append(start['node'])
        reports = [later for later in events[index + 1:] if later['t'] <= window_end and 'failed_actions' in later]
        failed = reports[-1]['failed_actions'] if reports else None
        expected = reports[-1].get('expected_failures', {}) if reports else {}
        detected = next((later['t'] for later in events[index + 1:]
                         if later['t'] <= window_end and later.get('detected')), None)
        gaps = user_gaps(series, event['t'], window_end, listener_buffer)
        outcomes.append({'event': event['name'], 'seconds': round(window_end - event['t'], 1),
                         'detected_s': None if detected is None else round(detected - event['t'], 1),
                         'longest_gap_s': round(max(gaps.values(), default=0.0), 1),
                         'restarts_allowed': sorted(event.get('restarts', [])),
                         'restarted': {guest: restarted[guest] for guest in sorted(restarted)},
                         'service_back_s': back_after(series, event['t'], window_end),
                         'failed_actions': failed,
                         'failed_actions_why': {action['resource']: expected[action['resource']]
                                                for action in failed or () if action['resource'] in expected}})
    return outcomes


def faults_table(reports):
    """One line per fault from its drill report ({fault: report}): when the cluster saw it, when every service
    answered again, the longest silence a user met, the writes lost at restarts, the verdict."""
    row = '%-20s %10s %10s %12s %10s  %s'
    lines = [row % ('fault', 'seen (s)', 'back (s)', 'longest gap', 'lost (ms)', 'verdict')]
    for name, report in reports.items():
        for fault in report.get('faults') or [{}]:
            back = list(fault.get('service_back_s', {}).values())
            lost = sum(n for r in fault.get('restarted', {}).values() for n in r['lost_ms'])
            lines.append(row % (
                name, '-' if fault.get('detected_s') is None else '%.1f' % fault['detected_s'],
                'never' if None in back else ('%.1f' % max(back) if back else '-'),
                '-' if 'longest_gap_s' not in fault else '%.1f s' % fault['longest_gap_s'], lost,
                'passed' if report.get('passed') else 'FAILED'))
    return '\n'.join(lines) + '\n'


def judge_faults(outcomes, budget):
    """A fault restarts only the guests it may, every service answers again within the budget, and the
    cluster ends it with no failed action but those the fault itself leaves (each with its reason)."""
    failures = []
    for fault in outcomes:
        for guest, restart in fault['restarted'].items():
            if guest not in fault['restarts_allowed']:
                evidence = ('the cluster started it on %s' % ', '.join(restart['cluster_started_on'])
                            if restart['cluster_started_on'] else 'its counter began a new boot')
                failures.append('%s: %s restarted (%s), which this fault must not cause'
                                % (fault['event'], guest, evidence))
        for service, seconds in sorted(fault['service_back_s'].items()):
            if seconds is None:
                failures.append('%s: %s did not answer again before the fault\'s end' % (fault['event'], service))
            elif seconds > budget:
                failures.append('%s: %s answered again after %s s (budget %s s)'
                                % (fault['event'], service, seconds, budget))
        if fault['failed_actions'] is None:
            failures.append('%s: the cluster\'s state at the fault\'s end was not read' % fault['event'])
            continue
        unexplained = [action for action in fault['failed_actions']
                       if action['resource'] not in fault['failed_actions_why']]
        if unexplained:
            failures.append('%s: the cluster kept failed actions: %s' % (fault['event'], ', '.join(
                '%s %s on %s%s' % (a['resource'], a['operation'], a['node'], ' (%s)' % a['reason'] if a['reason']
                                   else '') for a in unexplained)))
    return failures


def availability(series, start, end):
    """{target/service: [[from, to, ok]]} in seconds since the start, for the picture."""
    result = {}
    for (target, service), values in sorted(series.items()):
        if service == 'counter':
            continue
        if service.endswith(':chunks'):
            name = '%s/%s' % (target, service[:-7])
            spans = [[round(a - start, 2), round(b - start, 2), False] for a, b in stream_gaps(values, start, end)]
        else:
            name = '%s/%s' % (target, service)
            spans = [[round(a - start, 2), round((b if b is not None else end) - start, 2), False]
                     for a, b in outages(values, start, end)]
        result[name] = spans
    return result


def table(report):
    """The human summary."""
    lines = ['Failover drill: %s in %.0f s' % ('PASSED' if report['passed'] else 'FAILED', report['duration_s']), '']
    lines.append('%-8s %-44s %s' % ('t (s)', 'step', 'longest gap per service (s)'))
    for phase in report['phases']:
        worst = ', '.join('%s %.1f' % (k, v) for k, v in phase['gaps'].items() if v > 0) or 'none'
        lines.append('%-8.1f %-44s %s' % (phase['t'], phase['name'][:44], worst))
    if report['migrations']:
        header = '%-6s %-14s %8s %-5s %s' % ('guest', 'path', 'total s', 'live', 'client-seen gap (ms)')
        lines += ['', 'Live migrations', header]
        for m in report['migrations']:
            heard = m.get('user_gaps_ms', {})
            gaps = ', '.join('%s %d%s' % (k.split('/')[1], v, ' (heard %d)' % heard[k] if heard.get(k, v) != v else '')
                             for k, v in sorted(m['gaps_ms'].items()))
            lines.append('%-6s %-14s %8s %-5s %s' % (m['guest'], '%s->%s' % (m['from'], m['to']), m['seconds'],
                                                     'no' if m['restarted'] else
                                                     ('yes' if m['seconds'] is not None else 'n/a'), gaps))
    for f in report['failovers']:
        lines += ['', 'Failover: %s' % f['event'],
                  '  detection %s s, fencing %s s, guests restarted %s s' % (f['detection_s'], f['fencing_s'],
                                                                             f['restart_s'])]
        for service, seconds in sorted(f['service_back_s'].items()):
            lines.append('  %-16s back after %s s' % (service, seconds))
        for guest, part in sorted(f.get('parts', {}).items()):
            steps = [('start decided', part.get('start_decided_s')), ('disks active', part['disks_active_s']),
                     ('first console line', part.get('console_first_s')),
                     ('domain started', part['domain_started_s']), ('booted', part.get('console_booted_s'))]
            lines.append('  %s on %s: %s, then %s' % (
                guest, part['node'], ', '.join('%s %s s' % (name, seconds) for name, seconds in steps
                                               if seconds is not None),
                ', '.join('%s +%s s' % (k.split('/')[1], v) for k, v in part['services_after_start_s'].items())
                or 'no service probed'))
    for change in report.get('changes', []):
        gaps = ', '.join('%s %d' % (k, v) for k, v in sorted(change['gaps_ms'].items()) if v > 0) or 'none'
        lines += ['', 'Rolling change: %s' % change['event'],
                  '  %s s; guests restarted: %s' % (change['seconds'], ', '.join(change['restarted']) or 'none'),
                  '  longest client-seen gap (ms): %s' % gaps]
    for fault in report.get('faults', []):
        restarted = ', '.join('%s (lost %s ms)' % (guest, '+'.join(str(n) for n in r['lost_ms']) or '?')
                              for guest, r in fault['restarted'].items()) or 'none'
        back = ', '.join('%s %s' % (k, 'never' if v is None else v) for k, v in sorted(fault['service_back_s'].items())
                         if v != 0.0) or 'none went silent'
        lines += ['', 'Fault: %s' % fault['event'],
                  '  guests restarted: %s (may restart: %s)'
                  % (restarted, ', '.join(fault['restarts_allowed']) or 'none'),
                  '  services answered again after (s): %s' % back,
                  '  failed actions left: %s' % ('not read' if fault['failed_actions'] is None else ', '.join(
                      '%s %s on %s%s' % (a['resource'], a['operation'], a['node'],
                                         ' - ' + fault['failed_actions_why'][a['resource']]
                                         if a['resource'] in fault['failed_actions_why'] else '')
                      for a in fault['failed_actions']) or 'none')]
    lines += ['', 'Counters (written every 100 ms to each root disk)']
    for guest, c in sorted(report['counters'].items()):
        lines.append('  %s: highest %s, restarts %d, lost at restarts %s ms, went back without restart: %s'
                     % (guest, c['highest'], c['restarts'], c['lost_ms'] or [0], 'yes' if c['went_back'] else 'no'))
    slowest = report.get('slowest_answer_s') or {}
    if slowest:
        lines += ['', 'Slowest answer per service (s): '
                  + ', '.join('%s %.1f' % (k, v) for k, v in sorted(slowest.items()))]
    lines += ['', 'Guest on two nodes at once: %d time(s)' % report['double_runs']]
    if report['failures']:
        lines += ['', 'Missed:'] + ['  - ' + f for f in report['failures']]
    return '\n'.join(lines) + '\n'


AXIS_STEPS = (5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600)


def axis_step(duration, most=12):
    """Seconds between two labelled ticks: the smallest round step that keeps at most `most` of them."""
    return next((step for step in AXIS_STEPS if duration / step <= most), AXIS_STEPS[-1])


def picture(report):
    """A self-contained HTML page with an SVG timeline: one row per service, red where it was down, a time
    axis, a line per event with its label on the side that has room, and a legend. Hand-written SVG rather
    than a plotting library: the module then needs nothing on the controller beyond Python."""
    services = sorted(report['availability'])
    width, left, row, top = 1000, 170, 24, 44
    duration = max(report['duration_s'], 1.0)
    scale = (width - left - 20) / duration
    axis_y = top + row * len(services) + 6
    height = axis_y + 34 + 18 * len(report['phases'])
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
             'font-size="12">' % (width, height),
             '<rect x="%d" y="8" width="14" height="14" fill="#3a3"/><text x="%d" y="20">the client got an answer'
             '</text><rect x="%d" y="8" width="14" height="14" fill="#d33"/><text x="%d" y="20">no answer</text>'
             '<text x="%d" y="20">dashed: a step of the drill</text>'
             % (left, left + 20, left + 190, left + 210, left + 330)]
    for i, name in enumerate(services):
        y = top + i * row
        parts.append('<text x="4" y="%d">%s</text>' % (y + 15, html.escape(name)))
        parts.append('<rect x="%d" y="%d" width="%.1f" height="18" fill="#3a3"/>' % (left, y + 2, duration * scale))
        for begin, end, _ok in report['availability'][name]:
            parts.append('<rect x="%.1f" y="%d" width="%.1f" height="18" fill="#d33"><title>%s down %.1f-%.1f s'
                         '</title></rect>'
                         % (left + begin * scale, y + 2, max((end - begin) * scale, 1.0), html.escape(name), begin, end))
    step = axis_step(duration)
    parts.append('<line x1="%d" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>'
                 % (left, axis_y, left + duration * scale, axis_y))
    for tick in range(0, int(duration) + 1, step):
        x = left + tick * scale
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/><text x="%.1f" y="%d" '
                     'text-anchor="middle">%d s</text>' % (x, axis_y, x, axis_y + 5, x, axis_y + 18, tick))
    base = axis_y + 24
    for j, phase in enumerate(report['phases']):
        x = left + phase['t'] * scale
        # Past the middle a label goes to the left of its line, so that it stays on the page.
        right_half = x > left + (width - left) / 2
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" stroke-dasharray="3,3"/>'
                     % (x, top, x, base + 18 * j + 8))
        parts.append('<text x="%.1f" y="%d" text-anchor="%s">%.0f s %s</text>'
                     % (x - 3 if right_half else x + 3, base + 18 * j + 18, 'end' if right_half else 'start',
                        phase['t'], html.escape(phase['name'])))
    parts.append('</svg>')
    return ('<!doctype html><html><head><meta charset="utf-8"><title>xenha failover drill</title></head><body>'
            '<h1>Failover drill: %s</h1>%s<pre>%s</pre>'
            '</body></html>\n' % ('passed' if report['passed'] else 'FAILED', ''.join(parts),
                                  html.escape(table(report))))
