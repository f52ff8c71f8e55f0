"""The drill's two watcher scripts (roles/drill/files): parsing, failover-watch end to end on a growing event log
with a stand-in for crm_attribute, and placement-watch end to end with a stand-in for ssh and xl."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

from lab_script import load_role_script

FILES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'drill', 'files')


def load(name):
    return load_role_script('drill', name)


# Lines as Pacemaker's file alert agent writes them with the cluster role's timestamp-format (%s.%06N).
BEFORE = [
    "1764600000.000001: Resource operation 'start' for 'guest_x1' on 'node2': ok",
    "1764600001.000001: Fencing Operation reboot of node1 by node2 for stonith_admin.1@node2: OK (ref=old)",
]
FAILOVER = [
    "1764600100.250000: Node 'node1' is now 'lost'",
    "1764600101.000000: Resource operation 'monitor (120000)' for 'guest_x1' on 'node2': ok",
    # the agents run side by side: this one wrote before the fencing it follows
    "1764600190.500000: Resource operation 'start' for 'guest_x0' on 'node2': ok",
    "1764600160.000000: Fencing Operation reboot of node1 by node2 for pacemaker-controld.812@node2: OK (ref=a1)",
    "1764600150.000000: Fencing Operation reboot of node1 by node2 for pacemaker-controld.812@node2: Timer expired"
    " (ref=a0)",
    "1764600195.000000: Resource operation 'start' for 'guest_x1' on 'node2': ok",
]


CRM_MON = """<pacemaker-result><resources>
  <resource id="guest_x0" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" active="true" nodes_running_on="1">
    <node name="node1" id="1" cached="true"/>
  </resource>
  <resource id="guest_x1" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" active="true" nodes_running_on="1">
    <node name="node2" id="2" cached="true"/>
  </resource>
  <resource id="guest_x2" resource_agent="ocf:heartbeat:VirtualDomain" role="Stopped" active="false" nodes_running_on="0"/>
</resources></pacemaker-result>"""


def test_failover_watch_knows_which_guests_already_run_on_the_survivor():
    watch = load('failover-watch')
    assert watch.running_on(CRM_MON, 'node2') == {'x1'}
    assert watch.running_on(CRM_MON, 'node1') == {'x0'}


def test_failover_watch_parses_pacemakers_file_agent():
    watch = load('failover-watch')
    assert watch.parse_event(FAILOVER[0]) == (1764600100.25, 'node', {'node': 'node1', 'state': 'lost'})
    assert watch.parse_event(FAILOVER[3]) == (1764600160.0, 'fenced', {'node': 'node1'})
    assert watch.parse_event(FAILOVER[4]) is None  # a fencing that failed
    assert watch.parse_event(FAILOVER[2]) == (1764600190.5, 'resource', {'task': 'start', 'resource': 'guest_x0',
                                                                         'node': 'node2', 'ok': True})
    assert watch.parse_event("1764600190.5: Resource operation 'start' for 'guest_x0' on 'node2': error")[2]['ok'] \
        is False
    assert watch.parse_event("1764600190.5: Attribute 'standby' on node 'node1' was updated to 'on'") is None
    assert watch.parse_event('garbage') is None


def test_failover_watch_counts_only_what_follows_the_loss_in_any_order():
    watch = load('failover-watch')
    failover = watch.Failover('node1', 'node2', ['x0', 'x1'])
    assert [failover.see(watch.parse_event(line)) for line in BEFORE] == [False, False]
    assert failover.result['detected_at'] is None and not failover.done()
    holds = [failover.see(event) for event in map(watch.parse_event, FAILOVER) if event]
    assert holds == [True, False, False, False, False]
    assert failover.done()
    assert failover.result == {'detected_at': 1764600100.25, 'fenced_at': 1764600160.0, 'restarted_at': 1764600195.0,
                               'guests': {'x0': 1764600190.5, 'x1': 1764600195.0}}


def test_failover_watch_is_not_done_without_fencing():
    watch = load('failover-watch')
    failover = watch.Failover('node1', 'node2', ['x0'])
    for line in (FAILOVER[0], FAILOVER[2]):  # and FAILOVER[4], a fencing that failed: no event
        failover.see(watch.parse_event(line))
    assert failover.result['guests'] == {'x0': 1764600190.5} and not failover.done()


def test_failover_watch_follows_the_log_and_holds_the_lost_node(tmp_path):
    log = tmp_path / 'cluster-events.log'
    log.write_text('\n'.join(BEFORE) + '\n')
    calls = tmp_path / 'calls'
    fake = tmp_path / 'crm_attribute'
    fake.write_text('#!/bin/sh\necho "$@" >> %s\n' % calls)
    mon = tmp_path / 'crm_mon'
    mon.write_text("#!/bin/sh\ncat <<'XML'\n%s\nXML\n" % CRM_MON)
    for path in (fake, mon):
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH='%s:%s' % (tmp_path, os.environ['PATH']))
    ready = tmp_path / 'watch.ready'
    proc = subprocess.Popen([sys.executable, os.path.join(FILES, 'failover-watch'), '--ready', str(ready), str(log),
                             'node1', 'node2', '30', 'x0', 'x1', 'x2'], env=env, stdout=subprocess.PIPE, text=True)
    # the drill powers the node off only once the watch says it reads the log
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ready.read_text() == '%d\n' % proc.pid
    with open(log, 'a', encoding='utf-8') as handle:
        handle.write(FAILOVER[0] + '\n' + FAILOVER[1][:20])  # the agent is still writing the second line
        handle.flush()
        time.sleep(2.5)
        assert calls.read_text() == '--node node1 --name standby --update on\n'
        # x1 already ran on node2 and is not waited for; x0 and the stopped x2 start there
        handle.write(FAILOVER[1][20:] + '\n' + '\n'.join(FAILOVER[2:5]) + '\n')
        handle.write("1764600199.000000: Resource operation 'start' for 'guest_x2' on 'node2': ok\n")
    out, _err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert json.loads(out) == {'detected_at': 1764600100.25, 'fenced_at': 1764600160.0, 'restarted_at': 1764600199.0,
                               'guests': {'x0': 1764600190.5, 'x2': 1764600199.0}}
    assert calls.read_text().count('standby') == 1
    assert not ready.exists()


def test_failover_watch_without_an_event_log_says_how_to_get_one(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(FILES, 'failover-watch'), str(tmp_path / 'missing.log'),
                           'node1', 'node2', '1', 'x0'], capture_output=True, text=True, timeout=15, check=False)
    assert proc.returncode == 1 and proc.stdout == ''
    assert 'missing.log' in proc.stderr and 'cluster_event_log' in proc.stderr


def test_failover_watch_gives_up_at_its_timeout(tmp_path):
    log = tmp_path / 'cluster-events.log'
    log.write_text('')
    mon = tmp_path / 'crm_mon'
    mon.write_text("#!/bin/sh\ncat <<'XML'\n%s\nXML\n" % CRM_MON)
    mon.chmod(mon.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH='%s:%s' % (tmp_path, os.environ['PATH']))
    proc = subprocess.run([sys.executable, os.path.join(FILES, 'failover-watch'), str(log), 'node1', 'node2', '1',
                           'x0'], capture_output=True, text=True, timeout=15, check=False, env=env)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)['restarted_at'] is None


def test_placement_watch_parses_xl_list():
    watch = load('placement-watch')
    text = ('Name ID Mem VCPUs State Time(s)\n'
            'Domain-0 0 1024 1 r----- 10.0\n'
            'x0 3 256 1 -b---- 1.0\n'
            'x1 4 512 1 --p--- 0.0\n')
    assert watch.parse_xl_list(text) == (['x0'], ['x1'])


def test_placement_watch_records_each_report_until_the_stop_file(tmp_path):
    xl = tmp_path / 'xl'
    xl.write_text("#!/bin/sh\nprintf 'Name ID Mem VCPUs State Time(s)\\nDomain-0 0 1024 1 r----- 1.0\\n"
                  "x0 3 256 1 -b---- 1.0\\n'\n")
    ssh = tmp_path / 'fake-ssh'
    ssh.write_text('#!/bin/sh\nfor last; do :; done\nexec sh -c "$last"\n')  # options ignored, runs the loop
    for path in (xl, ssh):
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    output, stop = tmp_path / 'placements.jsonl', tmp_path / 'stop'
    env = dict(os.environ, PATH='%s:%s' % (tmp_path, os.environ['PATH']))
    proc = subprocess.Popen([sys.executable, os.path.join(FILES, 'placement-watch'), str(output), str(stop),
                             'node1=fake-ssh -p 22 root@node1'], env=env)
    time.sleep(2)
    stop.touch()
    assert proc.wait(timeout=15) == 0
    reports = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(reports) >= 2
    assert all(r['node'] == 'node1' and r['running'] == ['x0'] and r['paused'] == [] for r in reports)
