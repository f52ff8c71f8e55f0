"""Faults as code on the lab: each fault's report (molecule side_effect: playbooks/faults.yml), judged."""
from __future__ import annotations

import json
import os

import pytest
from labtools import LAB_DIR

FAULTS = ['guest_crash', 'libvirtd_kill', 'corosync_kill', 'controld_kill', 'execd_kill', 'link_cut_migrating',
          'power_and_bmc_lost', 'disk_lost']
testinfra_hosts = ['node1']


@pytest.mark.parametrize('fault', FAULTS)
def test_the_fault_passed(host, fault):
    directory = os.path.join(LAB_DIR, 'faults', fault)
    with open(os.path.join(directory, 'report.json'), encoding='utf-8') as handle:
        report = json.load(handle)
    with open(os.path.join(directory, 'report.txt'), encoding='utf-8') as handle:
        print(handle.read())
    assert report['passed'], report['failures']
    assert report['double_runs'] == 0
    assert len(report['faults']) == 1 and report['faults'][0]['failed_actions'] is not None
