# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Results, processes and files: what every part of the lab uses."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


# The JSON result goes to the real stdout; everything else (debootstrap, apt, QEMU) to stderr.
_RESULT = sys.stdout


def out(**result):
    _RESULT.write(json.dumps(result, sort_keys=True) + '\n')
    _RESULT.flush()
    return 0


def run(args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(path, mode)


def pid_alive(pidfile):
    try:
        with open(pidfile, encoding='ascii') as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_pid(pidfile, grace=5.0):
    pid = pid_alive(pidfile)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_alive(pidfile):
            time.sleep(0.1)
        if pid_alive(pidfile):
            os.kill(pid, signal.SIGKILL)
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    return bool(pid)


def start_daemon(pidfile, argv, logfile, env=None):
    if pid_alive(pidfile):
        return False
    with open(logfile, 'ab') as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                env=env)
    write(pidfile, '%d\n' % proc.pid)
    return True
