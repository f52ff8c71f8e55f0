"""The seed's guests run on the cluster where preferred, on one node each, and every service answers
from the lab's client the way a user would reach it."""
from __future__ import annotations

import time

from labtools import GUESTS, MEMBERS, all_targets, guest_placement, lab_host, node, probe, qemu_pid, wait_for

# Cluster-wide checks run once, from node1.
testinfra_hosts = ['node1']


def preferred_placement(host):
    placement = guest_placement(host)
    wanted = {g: [pref] for g, (pref, _ip, _services) in GUESTS.items()}
    return placement if placement == wanted else None


def test_guests_started_where_preferred(host):
    # Earlier checks may have fenced a node: give the cluster time to bring guests home.
    placement = wait_for('each guest started on its preferred node', lambda: preferred_placement(host), 900)
    print('placement: %s' % placement)


def test_each_guest_runs_on_exactly_one_node():
    for guest, (preferred, _ip, _services) in GUESTS.items():
        running = [n for n in MEMBERS if lab_host(n).run('xl list %s' % guest).rc == 0]
        assert running == [preferred], '%s runs on %s' % (guest, running)


def test_live_migrations_go_peer_to_peer_as_the_inventory_says(host):
    # The lab sends the memory as plain TCP on its private cluster network (see its group_vars for why).
    tunnelled = host.ansible.get_variables().get('guests_migration_tunnelled', True)
    for guest in GUESTS:
        resource = 'guest_%s' % guest
        assert host.check_output('crm_resource --resource %s --get-parameter migration_transport' % resource) == 'ssh'
        options = host.check_output('crm_resource --resource %s --get-parameter migrate_options' % resource)
        assert options.split() == ['--p2p'] + (['--tunnelled'] if tunnelled else []), '%s: %s' % (resource, options)


def test_every_service_answers_from_the_client():
    def answers():
        result = probe(all_targets())
        return result if result['all_ok'] else None
    result = wait_for('every service to answer', answers, 600)
    for item in result['results']:
        print('%(target)s %(service)-8s %(seconds)6.3f s  %(detail)s' % item)


def test_web_page_names_the_hosting_node():
    result = probe([{'name': 'x0', 'address': GUESTS['x0'][1], 'services': ['http']}], http_path='/xenha-node.html')
    assert result['results'][0]['detail'] == 'HTTP 200, served from %s' % GUESTS['x0'][0]


def test_guest_disks_are_provisioned_lvs_on_the_shared_storage(host):
    lvs = host.check_output('lvs --noheadings --units m --nosuffix -o lv_name,lv_size,lv_tags vg_guests')
    rows = {fields[0]: fields[1:] for fields in (line.split() for line in lvs.splitlines())}
    assert float(rows['x0-root'][0]) == 2048 and float(rows['x0-swap'][0]) == 512
    assert float(rows['x1-root'][0]) == 5120 and float(rows['x1-swap'][0]) == 1024
    assert 'xenha_provisioned' in rows['x0-root'][1] and 'xenha_provisioned' in rows['x1-root'][1]


def test_guests_have_no_password_and_their_own_identity():
    keys = set()
    for guest in GUESTS:
        g = lab_host(guest)
        assert g.check_output('hostname') == guest
        root_password = g.check_output('getent shadow root').split(':')[1]
        assert root_password in ('*', '!', '!*'), 'root can log in with a password (or none) in %s' % guest
        keys.add(g.check_output('cat /etc/ssh/ssh_host_ed25519_key.pub').split()[1])
        secrets = g.file('/etc/xenha/icecast.secrets')
        if guest == 'x0':
            assert secrets.mode == 0o640 and secrets.user == 'root' and 'hackme' not in g.check_output(
                'cat /etc/icecast2/icecast.xml')
    assert len(keys) == len(GUESTS)


def test_guest_definitions_are_the_same_on_every_node():
    for guest in GUESTS:
        digests = {lab_host(n).check_output('sha256sum /etc/xenha/guests/%s.xml' % guest).split()[0] for n in MEMBERS}
        assert len(digests) == 1


def test_each_guest_runs_with_its_swap():
    for guest in GUESTS:
        g = lab_host(guest)
        assert '/dev/xvdb' in g.check_output('swapon --show=NAME --noheadings').split(), \
            '%s runs without its swap disk' % guest
        assert 'nofail,x-systemd.device-timeout=' in g.file('/etc/fstab').content_string


def test_a_guest_rebooting_itself_is_left_to_the_cluster():
    for guest in GUESTS:
        config = lab_host('node1').file('/etc/xenha/guests/%s.xml' % guest).content_string
        assert '<on_reboot>destroy</on_reboot>' in config, guest


def test_a_declared_service_that_dies_is_started_again():
    # guest_services' Restart=on-failure drop-in: a service killed (or timed out at start) comes back by itself.
    x0 = lab_host('x0')
    assert x0.check_output('systemctl show --property=Restart --value apache2') == 'on-failure'
    killed = x0.check_output('systemctl show --property=MainPID --value apache2')
    x0.run_test('systemctl kill --signal=SIGKILL apache2')

    def restarted():
        pid = x0.check_output('systemctl show --property=MainPID --value apache2')
        return pid if pid not in ('0', killed) and x0.run('systemctl is-active apache2').rc == 0 else None
    wait_for('apache2 in x0 to be started again', restarted, 300)
    wait_for('x0 to serve its page again',
             lambda: probe([{'name': 'x0', 'address': GUESTS['x0'][1], 'services': ['http']}])['all_ok'], 300)


def test_each_guests_console_is_logged_in_dom0():
    # The hypervisor role's console log: the node a guest booted on keeps its kernel's first lines, timed.
    for guest in GUESTS:
        logs = [lab_host(n).run('cat /var/log/xen/console/guest-%s.log' % guest).stdout for n in MEMBERS]
        booted = [log for log in logs if 'Linux version' in log]
        assert booted, 'no node logged the boot of %s' % guest
        assert booted[0].lstrip().startswith('[20'), 'the console log of %s is not timed' % guest


def test_a_guest_that_ignores_its_shutdown_is_destroyed_inside_the_stop_without_fencing(host):
    """x1 paused cannot answer the clean shutdown: ocf:xenha:GuestDomain destroys it once
    guests_shutdown_timeout has passed, inside the stop's timeout, so the stop succeeds and no node is
    fenced; started again, x1 runs where preferred."""
    variables = host.ansible.get_variables()
    shutdown_timeout = int(variables.get('guests_shutdown_timeout', 180))
    stop_timeout = int(variables.get('guests_stop_timeout', 300))
    guest = 'x1'
    preferred = GUESTS[guest][0]
    resource = 'guest_%s' % guest
    home = node(preferred)
    assert home.check_output('crm_resource --resource %s --query-xml' % resource).count('type="GuestDomain"') == 1
    fencing_before = home.check_output("stonith_admin --history '*'")
    pids_before = {n: qemu_pid(n) for n in MEMBERS}
    since = home.check_output('date +%s')
    home.check_output('virsh -c xen:///system suspend %s' % guest)
    started = time.monotonic()
    try:
        home.check_output('crm_resource --resource %s --meta --set-parameter target-role --parameter-value Stopped'
                          % resource)

        def not_running():
            located = home.run('crm_resource --resource %s --locate' % resource)
            return 'NOT running' in located.stdout + located.stderr
        wait_for('%s stopped' % resource, not_running, stop_timeout + 120, interval=2)
        stopped = time.monotonic() - started
        status = home.check_output('crm_mon --one-shot --output-as=xml')
        assert 'op_key="%s_stop_0"' % resource not in status, status
        assert home.run('xl list %s' % guest).rc != 0, '%s still has a domain on %s' % (guest, preferred)
        log = home.check_output('journalctl --since @%s --no-pager -o cat | grep -i "forced shutdown" || true' % since)
        assert guest in log, 'no forced shutdown of %s in the journal of %s' % (guest, preferred)
        assert shutdown_timeout - 5 <= stopped < stop_timeout, \
            'stopped after %.1f s: not between the shutdown timeout (%d s) and the stop timeout (%d s)' % (
                stopped, shutdown_timeout, stop_timeout)
    finally:
        home.run('crm_resource --resource %s --meta --delete-parameter target-role' % resource)
    assert home.check_output("stonith_admin --history '*'") == fencing_before
    assert {n: qemu_pid(n) for n in MEMBERS} == pids_before, 'a node was power-cycled'
    start_timeout = int(variables.get('guests_start_timeout', 300))
    wait_for('%s running on %s again' % (guest, preferred),
             lambda: guest_placement(home).get(guest) == [preferred], start_timeout + 300)
    print('%s paused: stopped (destroyed) %.1f s into its stop; shutdown timeout %d s, stop timeout %d s; no fencing'
          % (guest, stopped, shutdown_timeout, stop_timeout))
