"""The drill's node-record script: what it keeps of a node's logs is the drill's window, and nothing else."""
from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tarfile

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'drill', 'files', 'node-record')
SINCE = datetime.datetime(2026, 12, 4, 3, 20, tzinfo=datetime.timezone.utc).timestamp()
UNTIL = SINCE + 600


def stamp(offset, console=False):
    moment = datetime.datetime.fromtimestamp(SINCE + offset, tz=datetime.timezone.utc)
    return moment.strftime('[%Y-%m-%d %H:%M:%S]' if console else '%Y-%m-%d %H:%M:%S.123+0000:')


def run(tmp_path):
    env = dict(os.environ, XENHA_LIBXL_LOG=str(tmp_path / 'libxl-driver.log'), PATH='/nonexistent')
    out = tmp_path / 'record'
    result = subprocess.run([sys.executable, SCRIPT, str(SINCE), str(UNTIL), str(out), str(tmp_path / 'events.log'),
                             str(tmp_path / 'console')], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    return out


def test_each_log_is_cut_to_the_window_and_packed_for_one_fetch(tmp_path):
    (tmp_path / 'libxl-driver.log.1').write_text(
        '%s libxl: old, before the drill\n%s libxl: rotated but in the window\n' % (stamp(-3600), stamp(10)))
    (tmp_path / 'libxl-driver.log').write_text(
        '%s libxl: guest did not suspend, timed out\n  a continued line\n%s libxl: after the drill\n'
        '  its continuation\n' % (stamp(300), stamp(900)))
    (tmp_path / 'events.log').write_text(
        '%d: before\n%d: Node \'node1\' is now \'lost\'\n%d: after\n' % (SINCE - 5, SINCE + 100, UNTIL + 5))
    consoles = tmp_path / 'console'
    consoles.mkdir()
    (consoles / 'guest-x0.log.1').write_text('%s Linux version 6.1\n' % stamp(20, console=True))
    (consoles / 'guest-x0.log').write_text('%s Freezing of tasks failed\n%s later\n'
                                           % (stamp(400, console=True), stamp(700, console=True)))
    (consoles / 'guest-x1.log').write_text('%s x1 boots\n' % stamp(30, console=True))
    out = run(tmp_path)

    assert (out / 'libxl-driver.log').read_text().splitlines() == [
        stamp(10) + ' libxl: rotated but in the window',
        stamp(300) + ' libxl: guest did not suspend, timed out', '  a continued line']
    assert (out / 'cluster-events.log').read_text() == "%d: Node 'node1' is now 'lost'\n" % (SINCE + 100)
    assert (out / 'consoles.log').read_text().splitlines() == [
        'x0: %s Linux version 6.1' % stamp(20, console=True),
        'x0: %s Freezing of tasks failed' % stamp(400, console=True),
        'x1: %s x1 boots' % stamp(30, console=True)]
    # Without journalctl, xl and crm_mon the record says so and keeps the rest.
    assert 'journalctl' in (out / 'journal.log').read_text()
    assert 'crm_mon' in (out / 'crm_mon.xml').read_text()
    with tarfile.open(str(out) + '.tar.gz') as archive:
        names = set(archive.getnames())
    assert {'record/libxl-driver.log', 'record/consoles.log', 'record/cluster-events.log',
            'record/journal.log', 'record/xl-dmesg.log', 'record/crm_mon.xml'} <= names


def test_a_node_without_the_logs_says_which_it_lacks(tmp_path):
    out = run(tmp_path)
    assert 'libxl-driver.log' in (out / 'libxl-driver.log').read_text().splitlines()[0]
    assert (out / 'cluster-events.log').read_text().startswith('# none of')
    assert (out / 'consoles.log').read_text().startswith('# none of')
