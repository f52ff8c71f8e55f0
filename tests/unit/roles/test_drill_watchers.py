"""The drill's two watcher scripts (roles/drill/files): parsing, and placement-watch end to end with a
stand-in for ssh and xl."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import importlib.util
from importlib.machinery import SourceFileLoader

FILES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'drill', 'files')


def load(name):
    loader = SourceFileLoader(name.replace('-', '_'), os.path.join(FILES, name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


CRM_MON = """<pacemaker-result><nodes>
  <node name="node1" id="1" online="false" standby="false" unclean="true" type="member"/>
  <node name="node2" id="2" online="true" standby="false" unclean="false" type="member"/>
</nodes><resources>
  <resource id="guest_x0" resource_agent="ocf:heartbeat:VirtualDomain" role="Started" active="true" nodes_running_on="1">
    <node name="node2" id="2" cached="true"/>
  </resource>
  <resource id="guest_x1" resource_agent="ocf:heartbeat:VirtualDomain" role="Stopped" active="false" nodes_running_on="0"/>
</resources></pacemaker-result>"""


def test_failover_watch_reads_nodes_and_guests():
    watch = load('failover-watch')
    assert watch.node_online(CRM_MON, 'node1') is False
    assert watch.node_online(CRM_MON, 'node2') is True
    assert watch.node_online(CRM_MON, 'node3') is None
    assert watch.started_on(CRM_MON, 'x0', 'node2')
    assert not watch.started_on(CRM_MON, 'x0', 'node1')
    assert not watch.started_on(CRM_MON, 'x1', 'node2')


def test_failover_watch_asks_at_most_a_third_of_the_time():
    watch = load('failover-watch')
    assert watch.pause_after(0.2) == 1.0
    assert watch.pause_after(3.0) == 6.0


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
