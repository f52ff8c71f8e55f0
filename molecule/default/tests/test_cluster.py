"""Corosync + Pacemaker: all members online with quorum, fencing registered, and fencing is real."""
from __future__ import annotations

import os
import re
import time

from labtools import LAB_DIR, MEMBERS, console_tail, node, node_hosts, online

testinfra_hosts = node_hosts(MEMBERS)


def test_all_members_online_with_quorum(host):
    assert online(host) == MEMBERS
    assert 'Quorate:          Yes' in host.check_output('corosync-quorumtool -s')


def test_corosync_is_encrypted_with_one_shared_key(host):
    conf = host.file('/etc/corosync/corosync.conf').content_string
    assert 'crypto_cipher: aes256' in conf and 'crypto_hash: sha256' in conf and 'two_node: 1' in conf
    key = host.file('/etc/corosync/authkey')
    assert key.mode == 0o400 and key.user == 'root'
    digests = {n: node(n).check_output('sha256sum /etc/corosync/authkey').split()[0] for n in MEMBERS}
    assert len(set(digests.values())) == 1


def test_fencing_is_on_and_registered_for_every_member(host):
    assert host.check_output('crm_attribute --type crm_config --name stonith-enabled --query --quiet') == 'true'
    # A fence device's monitor that ran long on a busy node is retried by the cluster: judge it once settled.
    host.run('crm_resource --wait --timeout 300s')
    status = host.check_output('crm_mon --one-shot --output-as=xml')
    for member in MEMBERS:
        assert re.search(r'<resource id="fence_%s" resource_agent="stonith:fence_ipmilan" role="Started"' % member,
                         status), '%s\n%s' % (member, host.check_output('crm_mon --one-shot --inactive --failcounts'))
    verified = host.run('crm_verify --live-check')
    assert verified.rc == 0, verified.stdout + verified.stderr
    # The BMC password lives in a root-only file, not in the CIB.
    assert 'password=' not in host.check_output('cibadmin --query --scope resources')


def test_a_split_of_the_two_members_has_one_survivor(host):
    # The member running the guests of the higher priority wins; on equal priorities, node1: fencing it waits.
    query = 'crm_attribute --type crm_config --name priority-fencing-delay --query --quiet'
    assert host.check_output(query) == '90s'
    delay = 'crm_resource --resource fence_%s --get-parameter pcmk_delay_base --quiet'
    assert host.check_output(delay % 'node1') == '45s'
    other = host.run(delay % 'node2')
    assert 'not found' in other.stdout + other.stderr


EVENT_LOG = '/var/log/pacemaker/cluster-events.log'


def test_the_event_log_is_pacemakers_alert(host):
    alerts = host.check_output('cibadmin --query --scope alerts')
    assert 'path="/var/lib/pacemaker/alert_file.sh"' in alerts and 'value="%s"' % EVENT_LOG in alerts
    log = host.file(EVENT_LOG)
    assert log.user == 'hacluster' and log.mode == 0o640


def test_real_fencing_power_cycles_the_node_through_its_bmc():
    """stonith_admin on node1 -> fence_ipmilan -> node2's lab BMC -> node2's QEMU is power-cycled."""
    pidfile = os.path.join(LAB_DIR, 'nodes', 'node2', 'qemu.pid')
    with open(pidfile, encoding='ascii') as handle:
        pid_before = handle.read().strip()
    started = time.monotonic()
    result = node('node1').run('stonith_admin --reboot node2 --timeout 180')
    fenced = time.monotonic() - started
    assert result.rc == 0, result.stderr
    with open(pidfile, encoding='ascii') as handle:
        assert handle.read().strip() != pid_before, 'node2 was not power-cycled'
    # Right after the fencing, node1 may still list node2 online until its membership catches up: wait to see
    # it gone first, so that "online again" means the new boot rejoined (a loop that broke on the stale view
    # once failed the check after it).
    seen_gone = rejoined_at = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and rejoined_at is None:
        try:
            members = online(node('node1'))
        except (AssertionError, RuntimeError):  # crm_mon failed; node1 did not answer SSH
            members = None
        if members is not None and 'node2' not in members:
            seen_gone = seen_gone or time.monotonic()
        elif members == MEMBERS and seen_gone is not None:
            rejoined_at = time.monotonic()
        time.sleep(2)
    assert seen_gone is not None, 'node1 never saw node2 leave after it was fenced'
    assert rejoined_at is not None, 'node2 did not rejoin by itself; the end of its console:\n' + console_tail('node2')
    rejoined = rejoined_at - started
    # node1's event log has it all, with Pacemaker's timestamps: node2 lost, fenced by node1, back.
    # Pacemaker runs its alert agent on its own schedule, so the last line may follow crm_mon's news by seconds.
    expected = [r"^\d+\.\d{6}: Fencing Operation reboot of node2 by node1 .*: OK",
                r"^\d+\.\d{6}: Node 'node2' is now 'lost'",
                r"^\d+\.\d{6}: Node 'node2' is now 'member'"]
    deadline = time.monotonic() + 120
    while True:
        events = node('node1').check_output('cat %s' % EVENT_LOG)
        missing = [line for line in expected if not re.search(line, events, re.M)]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert not missing, 'not in node1\'s event log: %s\n%s' % (missing, events[-2000:])
    print('\nfencing node2: %.1f s; node2 back online in the cluster %.1f s after the request'
          % (fenced, rejoined))
