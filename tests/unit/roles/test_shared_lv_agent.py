"""The SharedLV resource agent (roles/guests/files/SharedLV) run as Pacemaker runs it, over a stand-in for
ocf-shellfuncs, a directory of device nodes and a `dd` that reads or fails as the case needs."""
from __future__ import annotations

import os
import subprocess

import pytest

AGENT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'guests', 'files',
                                     'SharedLV'))
OCF_SUCCESS, OCF_ERR_GENERIC, OCF_NOT_RUNNING = 0, 1, 7

# The part of resource-agents' ocf-shellfuncs that the agent uses.
SHELLFUNCS = """OCF_SUCCESS=0; OCF_ERR_GENERIC=1; OCF_ERR_CONFIGURED=6; OCF_NOT_RUNNING=7; OCF_ERR_UNIMPLEMENTED=3
ocf_exit_reason() { echo "ocf-exit-reason:$*" >&2; }
ocf_log() { echo "$*" >&2; }
ocf_run() { "$@"; }
check_binary() { :; }
"""

# Reads what it is asked, unless the device is listed in the lost file: then fails as a dead path does.
FAKE_DD = """#!/bin/sh
echo "$*" >> "%(calls)s"
for arg; do case "$arg" in if=*) dev=${arg#if=} ;; esac; done
if grep -qxF "$dev" "%(lost)s" 2>/dev/null; then
  echo "dd: error reading '$dev': Input/output error" >&2; exit 1
fi
exit 0
"""


@pytest.fixture(name='agent')
def fixture_agent(tmp_path):
    funcs = tmp_path / 'lib' / 'heartbeat'
    funcs.mkdir(parents=True)
    (funcs / 'ocf-shellfuncs').write_text(SHELLFUNCS)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'dd').write_text(FAKE_DD % {'calls': tmp_path / 'calls', 'lost': tmp_path / 'lost'})
    (bin_dir / 'dd').chmod(0o755)
    devices = tmp_path / 'mapper'
    devices.mkdir()

    def run(action, active=(), lost=()):
        for name in active:
            (devices / name).touch()
        (tmp_path / 'lost').write_text(''.join('%s\n' % (devices / name) for name in lost))
        env = {'PATH': '%s:%s' % (bin_dir, os.environ['PATH']), 'OCF_ROOT': str(tmp_path),
               'OCF_FUNCTIONS_DIR': str(funcs), 'SHAREDLV_DEV_DIR': str(devices),
               'OCF_RESKEY_vg': 'vg_guests', 'OCF_RESKEY_lvs': 'x0-root x0-swap'}
        result = subprocess.run(['sh', AGENT, action], env=env, capture_output=True, text=True, check=False)
        calls = (tmp_path / 'calls').read_text().splitlines() if (tmp_path / 'calls').exists() else []
        (tmp_path / 'calls').unlink(missing_ok=True)
        return result, calls
    return run


BOTH = ('vg_guests-x0--root', 'vg_guests-x0--swap')


def test_inactive_lvs_are_not_running_and_nothing_is_read(agent):
    result, calls = agent('monitor')
    assert result.returncode == OCF_NOT_RUNNING and calls == []


def test_active_lvs_that_read_are_running_each_read_past_the_page_cache(agent, tmp_path):
    result, calls = agent('monitor', active=BOTH)
    assert result.returncode == OCF_SUCCESS, result.stderr
    assert calls == ['if=%s of=/dev/null bs=4096 count=1 iflag=direct' % (tmp_path / 'mapper' / name)
                     for name in BOTH]


def test_an_active_lv_whose_storage_is_lost_fails_its_monitor_and_says_why(agent):
    result, calls = agent('monitor', active=BOTH, lost=BOTH[1:])
    assert result.returncode == OCF_ERR_GENERIC and len(calls) == 2
    assert ('ocf-exit-reason:reading vg_guests/x0-swap failed, its storage lost on this node: '
            "dd: error reading") in result.stderr


def test_a_partly_active_guest_fails_without_reading(agent):
    result, calls = agent('monitor', active=BOTH[:1])
    assert result.returncode == OCF_ERR_GENERIC and 'only 1 of 2 LVs active' in result.stderr
    assert calls == []
