# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iSCSI storage box of the iscsi transport: tgtd in its own namespace on the cluster network, CHAP."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time

from xenha_lab.common import run, start_daemon
from xenha_lab.network import CLUSTER_NET, start_netns


# The storage box of the iSCSI transport: its own netns on the cluster network, not the client's.
SAN_NETNS = 'xenha-lab-san'
SAN_ADDRESS = CLUSTER_NET + '.253'
ISCSI_PORTAL = SAN_ADDRESS + ':3260'
ISCSI_TARGET = 'iqn.2026-11.lab.xenha:shared'
ISCSI_CHAP_USER = 'xenha-lab'


def tgt_programs(lab):
    """tgtd and tgtadm: the host's, else unpacked from Debian's tgt package into the lab's cache (installing
    the package would also start a system-wide target on every interface)."""
    if os.path.exists('/usr/sbin/tgtd') and os.path.exists('/usr/sbin/tgtadm'):
        return '/usr/sbin/tgtd', '/usr/sbin/tgtadm'
    root = os.path.join(lab, 'cache', 'tgt')
    tgtd, tgtadm = os.path.join(root, 'usr/sbin/tgtd'), os.path.join(root, 'usr/sbin/tgtadm')
    if not os.path.exists(tgtd):
        with tempfile.TemporaryDirectory(dir=lab) as tmp:
            run(['apt-get', 'download', 'tgt'], cwd=tmp, stdout=subprocess.DEVNULL)
            debs = [name for name in os.listdir(tmp) if name.endswith('.deb')]
            run(['dpkg-deb', '-x', os.path.join(tmp, debs[0]), root])
    return tgtd, tgtadm


def start_san(lab):
    """The iSCSI storage box: tgtd in its own netns, one target, LUN 1 = shared.img, CHAP required."""
    changed = start_netns(SAN_NETNS, 'san', SAN_ADDRESS)
    tgtd, tgtadm = tgt_programs(lab)
    # tgtd's control socket lives in the lab (its default is /run/tgtd).
    env = dict(os.environ, TGT_IPC_SOCKET=os.path.join(lab, 'run', 'tgtd'))
    started = start_daemon(os.path.join(lab, 'run', 'tgtd.pid'),
                           ['ip', 'netns', 'exec', SAN_NETNS, tgtd, '-f', '--iscsi', 'portal=' + ISCSI_PORTAL],
                           os.path.join(lab, 'tgtd.log'), env)
    if not started:
        return changed

    def tgtadm_run(*args):
        deadline = time.monotonic() + 10
        while True:
            result = subprocess.run([tgtadm, '--lld', 'iscsi'] + list(args), env=env, capture_output=True, text=True,
                                    check=False)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # tgtd is still creating its socket
        if result.returncode:
            raise SystemExit('labctl: tgtadm %s: %s; see %s/tgtd.log' % (' '.join(args[:4]), result.stderr, lab))

    with open(os.path.join(lab, 'secrets', 'iscsi-chap-password'), encoding='utf-8') as handle:
        password = handle.read().strip()
    tgtadm_run('--op', 'new', '--mode', 'target', '--tid', '1', '-T', ISCSI_TARGET)
    tgtadm_run('--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1',
               '-b', os.path.join(lab, 'shared.img'))
    tgtadm_run('--op', 'new', '--mode', 'account', '--user', ISCSI_CHAP_USER, '--password', password)
    tgtadm_run('--op', 'bind', '--mode', 'account', '--tid', '1', '--user', ISCSI_CHAP_USER)
    # Only the cluster network reaches this netns; CHAP decides who logs in.
    tgtadm_run('--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL')
    return True
