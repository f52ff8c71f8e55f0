"""The GuestDomain resource agent (roles/guests/files/GuestDomain) run as Pacemaker runs it, over a stand-in for
ocf:heartbeat:VirtualDomain that records what it was asked and with which stop timeout."""
from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

AGENT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'guests', 'files',
                                     'GuestDomain'))

# The shape of VirtualDomain's meta-data in resource-agents 4.12 (Debian 12), abridged.
UPSTREAM_META = """<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="VirtualDomain" version="1.1">
<version>1.0</version>
<longdesc lang="en">Resource agent for a virtual domain</longdesc>
<shortdesc lang="en">Manages virtual domains through the libvirt virtualization framework</shortdesc>
<parameters>
<parameter name="config" unique="1" required="1">
<longdesc lang="en">Absolute path to the libvirt configuration file</longdesc>
<shortdesc lang="en">Virtual domain configuration file</shortdesc>
<content type="string" default="" />
</parameter>
<parameter name="force_stop" unique="0" required="0">
<longdesc lang="en">Always forcefully shut down</longdesc>
<shortdesc lang="en">Always force shutdown on stop</shortdesc>
<content type="boolean" default="0" />
</parameter>
</parameters>
<actions>
<action name="start" timeout="90s" />
<action name="stop" timeout="90s" />
<action name="monitor" depth="0" timeout="30s" interval="10s" />
<action name="meta-data" timeout="5s" />
</actions>
</resource-agent>
"""

FAKE_UPSTREAM = """#!/bin/sh
# Records the action, its other arguments and the stop timeout it sees; monitor answers "not running" (7).
# Like VirtualDomain's dispatcher (ocf-rarun), it knows its actions only under its own type.
if [ "$OCF_RESOURCE_TYPE" != VirtualDomain ]; then
  echo "ocf-exit-reason:$1: action not supported" >&2; exit 3
fi
echo "$* timeout=${OCF_RESKEY_CRM_meta_timeout:-unset}" >> "%(calls)s"
echo "OCF_ROOT=${OCF_ROOT:-unset}" > "%(env)s"
case "$1" in
  meta-data) cat "%(meta)s" ;;
  monitor) exit 7 ;;
esac
exit 0
"""


@pytest.fixture(name='agent')
def fixture_agent(tmp_path):
    heartbeat = tmp_path / 'ocf' / 'resource.d' / 'heartbeat'
    heartbeat.mkdir(parents=True)
    (tmp_path / 'meta.xml').write_text(UPSTREAM_META)
    upstream = heartbeat / 'VirtualDomain'
    upstream.write_text(FAKE_UPSTREAM % {'calls': tmp_path / 'calls', 'meta': tmp_path / 'meta.xml',
                                         'env': tmp_path / 'env'})
    upstream.chmod(0o755)

    def run(action, timeout_ms=None, **params):
        # What Pacemaker's executor sets for this agent.
        env = {'PATH': os.environ['PATH'], 'OCF_ROOT': str(tmp_path / 'ocf'), 'OCF_RESOURCE_TYPE': 'GuestDomain',
               'OCF_RESOURCE_PROVIDER': 'xenha', 'OCF_RA_VERSION_MAJOR': '1', 'OCF_RA_VERSION_MINOR': '1'}
        env.update(('OCF_RESKEY_' + name, str(value)) for name, value in params.items())
        if timeout_ms is not None:
            env['OCF_RESKEY_CRM_meta_timeout'] = str(timeout_ms)
        result = subprocess.run(['sh', AGENT, action], env=env, capture_output=True, text=True, check=False)
        calls = (tmp_path / 'calls').read_text().splitlines() if (tmp_path / 'calls').exists() else []
        (tmp_path / 'calls').unlink(missing_ok=True)
        return result, calls
    return run


def test_a_stop_leaves_virtualdomain_only_the_clean_shutdown_time(agent):
    # VirtualDomain waits for the clean shutdown until 5 s before the timeout it sees: 180 s here, of 300.
    result, calls = agent('stop', timeout_ms=300000, shutdown_timeout=180, config='/etc/xenha/guests/x0.xml')
    assert result.returncode == 0
    assert calls == ['stop timeout=185000']


def test_a_stop_without_room_for_the_destroy_keeps_virtualdomains_own_wait_and_says_so(agent):
    result, calls = agent('stop', timeout_ms=150000, shutdown_timeout=180)
    assert calls == ['stop timeout=150000']
    assert 'shutdown_timeout 180s leaves the destroy no time' in result.stderr


def test_without_shutdown_timeout_the_stop_is_virtualdomains(agent):
    result, calls = agent('stop', timeout_ms=300000)
    assert result.returncode == 0 and calls == ['stop timeout=300000']


def test_every_other_action_is_virtualdomains_with_its_answer(agent):
    result, calls = agent('monitor', timeout_ms=60000, shutdown_timeout=180)
    assert result.returncode == 7
    assert calls == ['monitor timeout=60000']
    result, calls = agent('migrate_to', timeout_ms=600000, shutdown_timeout=180)
    assert result.returncode == 0 and calls == ['migrate_to timeout=600000']


@pytest.mark.parametrize('value', ['abc', '0', '-5', '1.5'])
def test_a_start_with_a_bad_shutdown_timeout_is_refused_before_virtualdomain_runs(agent, value):
    result, calls = agent('start', timeout_ms=300000, shutdown_timeout=value)
    assert result.returncode == 6            # OCF_ERR_CONFIGURED: Pacemaker does not retry it anywhere
    assert "ocf-exit-reason:shutdown_timeout must be a whole number of seconds above 0 (got '%s')" % value \
        in result.stderr
    assert calls == []


def test_a_stop_with_a_bad_shutdown_timeout_still_stops(agent):
    # A stop that fails gets the node fenced: a bad value there falls back to VirtualDomain's own wait.
    result, calls = agent('stop', timeout_ms=300000, shutdown_timeout='abc')
    assert result.returncode == 0 and calls == ['stop timeout=300000']


def test_a_new_shutdown_timeout_is_reloaded_without_virtualdomain(agent):
    result, calls = agent('reload-agent', shutdown_timeout=120)
    assert result.returncode == 0 and calls == []


def test_meta_data_is_virtualdomains_with_a_reloadable_shutdown_timeout(agent):
    result, calls = agent('meta-data')
    assert result.returncode == 0 and calls == ['meta-data timeout=unset']
    root = ET.fromstring(result.stdout.split('\n', 2)[2])      # after the XML and DOCTYPE lines
    assert root.get('name') == 'GuestDomain'
    # OCF 1.1 with reload-agent: Pacemaker reloads a resource whose reloadable parameters alone changed.
    assert root.findtext('version') == '1.1'
    params = {p.get('name'): p for p in root.find('parameters')}
    assert sorted(params) == ['config', 'force_stop', 'shutdown_timeout']
    assert params['shutdown_timeout'].get('reloadable') == '1'
    assert params['shutdown_timeout'].find('content').get('type') == 'integer'
    assert params['config'].get('reloadable') is None
    assert [a.get('name') for a in root.find('actions')] == ['start', 'stop', 'monitor', 'meta-data', 'reload-agent']


def test_virtualdomain_finds_ocf_root_even_when_pacemaker_left_it_unexported(tmp_path, agent):
    # Pacemaker's meta-data query runs the agent without OCF_ROOT: the agent's default must reach VirtualDomain,
    # which finds its shell functions through it. Here OCF_ROOT is a variable of the shell, not of its environment.
    agent('monitor')                  # makes the stand-in
    script = 'OCF_ROOT=%s; . %s' % (tmp_path / 'ocf', AGENT)       # the action: the shell's $1, meta-data
    result = subprocess.run(['sh', '-c', script, 'sh', 'meta-data'],
                            env={'PATH': os.environ['PATH'], 'OCF_RESOURCE_TYPE': 'GuestDomain'},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and 'name="GuestDomain"' in result.stdout
    assert 'OCF_ROOT=%s' % (tmp_path / 'ocf') in (tmp_path / 'env').read_text()
