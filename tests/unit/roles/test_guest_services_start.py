"""The guest_services role's start of the declared services: one `systemctl enable` for every unit not yet
enabled (each call reloads systemd, slow in a busy guest), the stopped ones started one at a time with one more
try for a failed start, a restart only for running units whose settings changed; nothing at all when everything
already runs."""
from __future__ import annotations

import os
import stat

from role_template import run_role_task

TASK = 'Run the declared services'
UNITS = ['ssh', 'xenha-counter', 'apache2', 'icecast2', 'xenha-radio']
FAKE_SYSTEMCTL = """#!/bin/sh
# is-enabled/is-active read the state files; every other call is logged. A start of a unit listed in `failing`
# fails once per line there.
state=%(state)s
case "$1" in
  is-enabled) grep -qx "$3" "$state/enabled" ;;
  is-active) grep -qx "$3" "$state/active" ;;
  start)
    echo "$*" >> "$state/calls"
    if grep -qx "$2" "$state/failing"; then
      sed -i "0,/^$2\\$/{/^$2\\$/d}" "$state/failing"
      exit 1
    fi ;;
  *) echo "$*" >> "$state/calls" ;;
esac
"""


def run(tmp_path, monkeypatch, enabled, active, changed=(), failing=(), expect_success=True):
    state = tmp_path / 'state'
    state.mkdir()
    (state / 'failing').write_text(''.join(unit + '\n' for unit in failing))
    (state / 'enabled').write_text(''.join(unit + '\n' for unit in enabled))
    (state / 'active').write_text(''.join(unit + '\n' for unit in active))
    (state / 'calls').write_text('')
    tools = tmp_path / 'bin'
    tools.mkdir()
    fake = tools / 'systemctl'
    fake.write_text(FAKE_SYSTEMCTL % {'state': state})
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', '%s:%s' % (tools, os.environ['PATH']))
    variables = {'__guest_services_units': UNITS, '__guest_services_retry': {'changed': False},
                 '__guest_services_counter_files': {'changed': 'xenha-counter' in changed},
                 '__guest_services_icecast_config': {'changed': 'icecast2' in changed}}
    output = run_role_task(tmp_path, 'guest_services', 'main.yml', TASK, variables, expect_success)
    return (state / 'calls').read_text().splitlines(), output


def test_a_new_guest_enables_its_units_in_one_call_and_starts_them_one_by_one(tmp_path, monkeypatch):
    calls, output = run(tmp_path, monkeypatch, enabled=['ssh'], active=['ssh'])
    assert calls == ['enable -q xenha-counter apache2 icecast2 xenha-radio',
                     'start xenha-counter', 'start apache2', 'start icecast2', 'start xenha-radio']
    assert 'changed: [localhost]' in output


def test_a_start_that_fails_once_is_tried_again_after_the_others(tmp_path, monkeypatch):
    calls, output = run(tmp_path, monkeypatch, enabled=UNITS, active=['ssh'], failing=['apache2'])
    assert calls == ['start xenha-counter', 'start apache2', 'start icecast2', 'start xenha-radio', 'start apache2']
    assert 'changed: [localhost]' in output


def test_a_unit_that_does_not_start_twice_fails_the_task_and_is_named(tmp_path, monkeypatch):
    calls, (status, output) = run(tmp_path, monkeypatch, enabled=UNITS, active=['ssh'], failing=['apache2', 'apache2'],
                                  expect_success=False)
    assert status != 0 and 'did not start: apache2' in output
    assert calls[-1] == 'start apache2' and calls.count('start apache2') == 2


def test_changed_settings_restart_only_those_running_units(tmp_path, monkeypatch):
    calls, output = run(tmp_path, monkeypatch, enabled=UNITS, active=UNITS, changed=['icecast2', 'xenha-counter'])
    assert calls == ['daemon-reload', 'restart xenha-counter icecast2']
    assert 'changed: [localhost]' in output


def test_everything_running_changes_nothing(tmp_path, monkeypatch):
    calls, output = run(tmp_path, monkeypatch, enabled=UNITS, active=UNITS)
    assert calls == []
    assert 'ok: [localhost]' in output
