# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster network's namespaces on the VDE switch: the client (the demo's laptop)."""
from __future__ import annotations

import os
import subprocess
import time

from xenha_lab.common import not_running, run, write


CLUSTER_NET = '10.0.0'
CLIENT_ADDRESS = CLUSTER_NET + '.254'
NETNS = 'xenha-lab-client'


def netns_exists(name=NETNS):
    return name in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=False).stdout.split()


def start_netns(lab, name, address, pidfile):
    """A netns whose tap (lab0) sits on the cluster network's VDE switch."""
    changed = False
    if not netns_exists(name):
        run(['ip', 'netns', 'add', name])
        changed = True
    if not_running(pidfile):
        # vde_plug2tap creates the tap in the namespace it runs in.
        run(['ip', 'netns', 'exec', name, 'vde_plug2tap', '--daemon', '--pidfile', pidfile,
             '--sock', os.path.join(lab, 'cluster.vde'), 'lab0'])
        for _attempt in range(50):
            if subprocess.run(['ip', '-n', name, 'link', 'show', 'lab0'], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.1)
        run(['ip', '-n', name, 'link', 'set', 'lo', 'up'])
        run(['ip', '-n', name, 'addr', 'replace', address + '/24', 'dev', 'lab0'])
        run(['ip', '-n', name, 'link', 'set', 'lab0', 'up'])
        changed = True
    return changed


def start_client(lab):
    """The demo's laptop."""
    # The client's Python for Ansible: one executable path (an interpreter with arguments fails).
    write(os.path.join(lab, 'client-python'), '#!/bin/sh\nexec ip netns exec %s /usr/bin/python3 "$@"\n' % NETNS,
          0o755)
    return start_netns(lab, NETNS, CLIENT_ADDRESS, os.path.join(lab, 'run', 'client-plug.pid'))
