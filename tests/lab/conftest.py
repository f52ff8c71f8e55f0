"""When a lab check fails, the lab as it was at the end of the checks: each node's power, whether it answers
SSH and since when it runs, the cluster's fencing history, and the console of a node that does not answer.
A run on a fresh machine is gone with its lab; these lines (prefixed `LAB `) are what tells a node that was
powered off or fenced from one that was up but unreachable. Linked as `conftest.py` beside `labtools.py`."""
from __future__ import annotations

import subprocess

from labtools import SSH_CONFIG, console_tail, labctl


def _on_node(name, command):
    """(answered, output) of a short command on a node; never raises."""
    try:
        done = subprocess.run(['ssh', '-F', SSH_CONFIG, '-o', 'ConnectTimeout=20', '-o', 'ControlMaster=no', name,
                               command], capture_output=True, text=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        return False, 'no answer in 90 s'
    return done.returncode != 255, (done.stdout + done.stderr).strip()


def lab_report():
    """The lines describing the lab now."""
    try:
        nodes = labctl('status')['nodes']
    except (RuntimeError, ValueError, OSError) as error:
        return ['no lab status: %s' % error]
    lines, reachable = [], []
    for name in sorted(nodes):
        answered, output = _on_node(name, 'cut -d" " -f1 /proc/uptime')
        if answered:
            reachable.append(name)
            lines.append('%s: power %s, SSH answers, up %s s' % (name, nodes[name]['power'], output))
        else:
            lines.append('%s: power %s, SSH does not answer (%s); the end of its console:'
                         % (name, nodes[name]['power'], output.splitlines()[-1] if output else 'no output'))
            lines += ['  %s' % line for line in console_tail(name, lines=12).splitlines()]
    if reachable:
        answered, output = _on_node(reachable[0], "stonith_admin --history '*' 2>&1 | tail -n 8")
        lines.append('fencing history seen from %s:' % reachable[0])
        lines += ['  %s' % line for line in output.splitlines()] if answered else ['  (none: %s)' % output]
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus):
    if exitstatus == 0:
        return
    terminalreporter.section('the lab at the end of the checks')
    for line in lab_report():
        terminalreporter.write_line('LAB ' + line)
