"""drill_status: the sampler's timeline in, which services answered last out."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.xenha.datacenter.plugins.modules import drill_status

TARGETS = [{'name': 'x0', 'address': '10.0.0.10', 'services': ['http', 'ssh']}]


def call(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        drill_status.main()
    out = json.loads(capsys.readouterr().out)
    out['rc'] = exc.value.code
    return out


def timeline(tmp_path, records, torn_tail=''):
    path = tmp_path / 'samples.jsonl'
    path.write_text(''.join(json.dumps(r) + '\n' for r in records) + torn_tail)
    return str(path)


def test_a_service_is_down_until_it_has_answered_since_the_wait_began(tmp_path, capsys):
    path = timeline(tmp_path, [
        {'t': 10, 'target': 'x0', 'service': 'http', 'ok': True, 'detail': 'HTTP 200'},
        {'t': 10, 'target': 'x0', 'service': 'ssh', 'ok': True, 'detail': 'SSH-2.0'},
        {'t': 21, 'target': 'x0', 'service': 'http', 'ok': True, 'detail': 'HTTP 200'},
    ], torn_tail='{"t": 22, "target": "x0", "serv')
    result = call({'samples': path, 'targets': TARGETS, 'since': 20}, capsys)
    assert result['rc'] == 0 and not result['changed']
    assert not result['all_ok'] and result['down'] == ['x0/ssh']
    assert result['latest']['x0/http']['t'] == 21 and result['latest']['x0/ssh'] is None
    assert call({'samples': path, 'targets': TARGETS, 'since': 5}, capsys)['all_ok']


def test_a_failed_newest_result_is_down(tmp_path, capsys):
    path = timeline(tmp_path, [
        {'t': 1, 'target': 'x0', 'service': 'http', 'ok': True, 'detail': 'HTTP 200'},
        {'t': 2, 'target': 'x0', 'service': 'http', 'ok': False, 'detail': 'timed out'},
        {'t': 2, 'target': 'x0', 'service': 'ssh', 'ok': True, 'detail': 'SSH-2.0'},
    ])
    result = call({'samples': path, 'targets': TARGETS}, capsys)
    assert result['down'] == ['x0/http'] and result['latest']['x0/http']['detail'] == 'timed out'


def test_bad_input_names_the_field(tmp_path, capsys):
    path = timeline(tmp_path, [])
    result = call({'samples': path, 'targets': [{'name': 'x0', 'services': ['nosuch']}]}, capsys)
    assert result['failed'] and result['field'] == 'targets[0].services[0]'
    result = call({'samples': path, 'targets': [{'services': ['ssh']}]}, capsys)
    assert result['failed'] and result['field'] == 'targets[0].name'


def test_no_timeline_says_to_start_the_sampler(tmp_path, capsys):
    result = call({'samples': str(tmp_path / 'missing.jsonl'), 'targets': TARGETS}, capsys)
    assert result['failed'] and 'drill_sampler' in result['msg']
