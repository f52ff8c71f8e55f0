"""The guest_services role's start of the declared services: one `systemctl enable` for every unit not yet
enabled (each call reloads systemd, slow in a busy guest), one start for the stopped ones, a restart only for
running units whose settings changed; nothing at all when everything already runs."""
from __future__ import annotations

import os
import stat

from role_template import run_role_task

TASK = 'Run the declared services'
UNITS = ['ssh', 'xenha-counter', 'apache2', 'icecast2', 'xenha-radio']
FAKE_SYSTEMCTL = """#!/bin/sh
# is-enabled/is-active read the state files; every other call is logged.
state=%(state)s
case "$1" in
  is-enabled) grep -qx "$3" "$state/enabled" ;;
  is-active) grep -qx "$3" "$state/active" ;;
  *) echo "$*" >> "$state/calls" ;;
esac
"""


def run(tmp_path, monkeypatch, enabled, active, changed=()):
    state = tmp_path / 'state'
    state.mkdir()
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
    output = run_role_task(tmp_path, 'guest_services', 'main.yml', TASK, variables)
    return (state / 'calls').read_text().splitlines(), output


def test_a_new_guest_enables_and_starts_its_units_in_one_call_each(tmp_path, monkeypatch):
    calls, output = run(tmp_path, monkeypatch, enabled=['ssh'], active=['ssh'])
    assert calls == ['enable -q xenha-counter apache2 icecast2 xenha-radio',
                     'start xenha-counter apache2 icecast2 xenha-radio']
    assert 'changed: [localhost]' in output


def test_changed_settings_restart_only_those_running_units(tmp_path, monkeypatch):
    calls, output = run(tmp_path, monkeypatch, enabled=UNITS, active=UNITS, changed=['icecast2', 'xenha-counter'])
    assert calls == ['daemon-reload', 'restart xenha-counter icecast2']
    assert 'changed: [localhost]' in output


def test_everything_running_changes_nothing(tmp_path, monkeypatch):
    calls, output = run(tmp_path, monkeypatch, enabled=UNITS, active=UNITS)
    assert calls == []
    assert 'ok: [localhost]' in output
