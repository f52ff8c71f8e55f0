"""A lab saved while its nodes are off and put back later (roles/lab/files/xenha_lab/saved.py), on files alone."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from lab_script import lab_part

saved = lab_part('saved')

pytestmark = pytest.mark.skipif(not os.path.exists('/usr/bin/qemu-img'),
                                reason='a node disk is a qcow2 overlay made by qemu-img; `make test` installs it')


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)


def read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


@pytest.fixture(name='lab_dir')
def fixture_lab_dir(tmp_path):
    """A lab that is down but keeps its files: settings, a key, a node's disk, the shared disk, the cache."""
    lab = str(tmp_path / 'lab')
    image = os.path.join(lab, 'cache', 'images', 'preloaded-0000000000aa.img')
    write(image, 'image')
    write(os.path.join(lab, 'lab.json'), json.dumps({'image': image, 'nodes': [{'name': 'node1'}]}))
    write(os.path.join(lab, 'secrets', 'bmc-password'), 'first\n')
    write(os.path.join(lab, 'shared.img'), 'guests')
    write(os.path.join(lab, 'nodes', 'node1', 'console.log'), 'boot')
    write(os.path.join(lab, 'nodes', 'node1', 'qemu.pid'), '999999999\n')  # a QEMU long gone
    write(os.path.join(lab, 'run', 'bmc-node1.pid'), '999999999\n')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image,
                    os.path.join(lab, 'nodes', 'node1', 'disk.qcow2')], check=True)
    return lab


def args(lab, name):
    return type('Args', (), {'dir': lab, 'name': name})


def test_the_saved_files_are_the_lab_s_own_without_cache_or_live_processes(lab_dir):
    assert saved.lab_files(lab_dir) == ['lab.json', 'nodes/node1/console.log', 'nodes/node1/disk.qcow2',
                                        'secrets/bmc-password', 'shared.img']


def test_a_saved_lab_comes_back_in_place_of_a_later_one(lab_dir, monkeypatch):
    monkeypatch.setattr(saved, 'out', lambda **result: result)
    assert saved.cmd_save(args(lab_dir, 'converged'))['files'] == 5
    write(os.path.join(lab_dir, 'shared.img'), 'changed by a later lab')
    write(os.path.join(lab_dir, 'secrets', 'bmc-password'), 'second\n')
    write(os.path.join(lab_dir, 'guests_known_hosts'), 'a later lab\'s guest\n')
    saved.cmd_restore(args(lab_dir, 'converged'))
    assert read(os.path.join(lab_dir, 'shared.img')) == 'guests'
    assert read(os.path.join(lab_dir, 'secrets', 'bmc-password')) == 'first\n'
    assert not os.path.exists(os.path.join(lab_dir, 'guests_known_hosts'))
    assert os.path.exists(os.path.join(lab_dir, 'cache', 'images', 'preloaded-0000000000aa.img'))


def test_a_lab_is_saved_once_under_a_name(lab_dir, monkeypatch):
    monkeypatch.setattr(saved, 'out', lambda **result: result)
    saved.cmd_save(args(lab_dir, 'converged'))
    with pytest.raises(SystemExit, match='converged is saved already'):
        saved.cmd_save(args(lab_dir, 'converged'))


@pytest.mark.parametrize('name', ['', '../elsewhere', '.hidden', 'a/b', 'x' * 65])
def test_a_name_that_is_not_a_plain_name_is_refused(lab_dir, name):
    with pytest.raises(SystemExit, match="saved lab's name"):
        saved.cmd_save(args(lab_dir, name))
    assert not os.path.exists(os.path.join(lab_dir, 'cache', 'saved'))


def test_saving_or_restoring_a_lab_whose_node_runs_is_refused(lab_dir, monkeypatch):
    monkeypatch.setattr(saved, 'out', lambda **result: result)
    saved.cmd_save(args(lab_dir, 'converged'))
    monkeypatch.setattr(saved, 'nodes_on', lambda lab: ['node1'])
    with pytest.raises(SystemExit, match='needs every node off; node1 still on'):
        saved.cmd_save(args(lab_dir, 'another'))
    write(os.path.join(lab_dir, 'shared.img'), 'in use')
    with pytest.raises(SystemExit, match='needs every node off'):
        saved.cmd_restore(args(lab_dir, 'converged'))
    assert read(os.path.join(lab_dir, 'shared.img')) == 'in use'


def test_an_unknown_saved_lab_is_named_with_those_there_are(lab_dir, monkeypatch):
    monkeypatch.setattr(saved, 'out', lambda **result: result)
    saved.cmd_save(args(lab_dir, 'converged'))
    with pytest.raises(SystemExit, match='no saved lab other; saved: converged'):
        saved.cmd_restore(args(lab_dir, 'other'))


def test_a_saved_lab_whose_node_image_is_gone_is_not_restored(lab_dir, monkeypatch):
    monkeypatch.setattr(saved, 'out', lambda **result: result)
    saved.cmd_save(args(lab_dir, 'converged'))
    os.unlink(os.path.join(lab_dir, 'cache', 'images', 'preloaded-0000000000aa.img'))
    write(os.path.join(lab_dir, 'shared.img'), 'a later lab')
    with pytest.raises(SystemExit, match='no longer has; that saved lab cannot boot'):
        saved.cmd_restore(args(lab_dir, 'converged'))
    assert read(os.path.join(lab_dir, 'shared.img')) == 'a later lab'
