"""Helpers the lab benchmarks share: commands on a lab node, Ansible ad-hoc calls, playbooks."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB_DIR = os.environ.get('XENHA_LAB_DIR') or os.path.join(ROOT, 'lab-state')

PLAY_STARTS = {}  # play name -> monotonic time its first line appeared (last playbook run)


def on_node(node, command, check=False):
    """Run a shell command as root on a lab node; returns the CompletedProcess."""
    done = subprocess.run(['ssh', '-F', os.path.join(LAB_DIR, 'ssh_config'), node, command],
                          capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit('%s: `%s` failed: %s' % (node, command, (done.stderr or done.stdout)[-2000:]))
    return done


def ansible(host, module, args, background=False):
    """An ad-hoc module call through the lab inventory; returns the module's result (or the async job)."""
    command = ['ansible', host, '-m', module, '-a', json.dumps(args), '-o']
    if background:
        command += ['-B', '7200', '-P', '0']
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    match = re.search(r'=> (\{.*\})\s*$', done.stdout, re.S)
    result = json.loads(match.group(1)) if match else {'failed': True, 'msg': done.stdout + done.stderr}
    result['rc_ok'] = done.returncode == 0
    return result


def services_answer(targets):
    """True when the probe module on the lab's client gets an answer from every service of targets."""
    return ansible('client', 'xenha.datacenter.probe', {'targets': targets, 'dhcp_interface': 'lab0'}).get('all_ok') is True


def playbook(*args):
    """Run ansible-playbook, echoing its output; returns (seconds, {host: changed count})."""
    started = time.monotonic()
    proc = subprocess.Popen(['ansible-playbook'] + list(args), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        sys.stderr.write(line)  # progress for whoever watches a run that takes tens of minutes
        play = re.match(r'PLAY \[(.*)\]', line)
        if play:
            PLAY_STARTS[play.group(1)] = time.monotonic()
    output = ''.join(lines)
    if proc.wait() != 0:
        raise SystemExit('ansible-playbook %s failed:\n%s' % (' '.join(args), output[-3000:]))
    recap = re.finditer(r'^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)', output, re.M)
    changed = {m.group(1): int(m.group(2)) for m in recap}
    return time.monotonic() - started, changed
