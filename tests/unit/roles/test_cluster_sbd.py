"""The cluster role's optional second fencing level, SBD: its Pacemaker topology, sbd's settings, and the
checks that refuse bad settings and never write a header over data (the role's own tasks, run by Ansible)."""
from __future__ import annotations

import os
import re

import yaml
from role_template import ROLES, render_template, run_role_task

DEVICE = '/dev/disk/by-id/virtio-xenha-sbd'
HEADER = """==Dumping header on disk {device}
Header version     : 2.1
UUID               : 0d7c0f3e-5d4c-4f47-9a55-1f1b3c1b7a10
Number of slots    : 255
Sector size        : 512
Timeout (watchdog) : {watchdog}
Timeout (allocate) : 2
Timeout (loop)     : 1
Timeout (msgwait)  : {msgwait}
==Header on disk {device} is dumped
"""


def render_cib(tmp_path, sbd_running=('node1', 'node2'), **overrides):
    hosts = {}
    for n, name in enumerate(['node1', 'node2'], 1):
        hosts[name] = {'cluster_fence_ipmi': {'address': '192.0.2.%d' % n, 'user': 'admin', 'password': 'unused'}}
        hosts[name]['__cluster_sbd_state'] = {'rc': 0 if name in sbd_running else 3}
    variables = dict(cluster_members=['node1', 'node2'], **overrides)
    return render_template(tmp_path, 'cluster', 'cluster.crm.j2', variables, hosts=hosts)


def test_with_sbd_each_node_is_fenced_by_its_bmc_first_then_by_sbd(tmp_path):
    text = render_cib(tmp_path, cluster_sbd_device=DEVICE)
    device = re.search(r'^primitive fence_sbd stonith:fence_sbd .*?(?=^\S)', text, re.M | re.S).group(0)
    assert 'devices=%s' % DEVICE in device
    # the message wait (10 s) twice, with room to reach the disk, over the IPMI devices' 60 s
    assert 'pcmk_reboot_timeout=60s pcmk_off_timeout=60s' in device
    topology = re.search(r'^fencing_topology \\\n((?:    .*\n)+)', text, re.M).group(1)
    assert topology.splitlines() == ['    node1: fence_node1 fence_sbd \\', '    node2: fence_node2 fence_sbd']


def test_a_long_message_wait_lengthens_the_sbd_devices_timeouts(tmp_path):
    text = render_cib(tmp_path, cluster_sbd_device=DEVICE, cluster_sbd_watchdog_timeout=30,
                      cluster_sbd_msgwait_timeout=60)
    assert 'pcmk_reboot_timeout=140s pcmk_off_timeout=140s' in text


def test_no_sbd_level_until_sbd_runs_on_every_member(tmp_path):
    text = render_cib(tmp_path, sbd_running=['node1'], cluster_sbd_device=DEVICE)
    assert 'fence_sbd' not in text and 'fencing_topology' not in text
    assert 'primitive fence_node1 ' in text


def test_no_sbd_level_by_default(tmp_path):
    text = render_cib(tmp_path)
    assert 'fence_sbd' not in text and 'fencing_topology' not in text


def test_sbd_settings_name_the_disk_the_watchdog_and_pacemaker(tmp_path):
    text = render_template(tmp_path, 'cluster', 'sbd.default.j2', {
        'cluster_sbd_device': DEVICE, 'cluster_sbd_watchdog_timeout': 15})
    settings = dict(re.findall(r'^(SBD_\w+)=(.*)$', text, re.M))
    assert settings['SBD_DEVICE'] == '"%s"' % DEVICE
    # the udev rule's name, not /dev/watchdogN, whose number follows the order the drivers registered in
    assert settings['SBD_WATCHDOG_DEV'] == '/dev/xenha-sbd-watchdog' and settings['SBD_WATCHDOG_TIMEOUT'] == '15'
    assert settings['SBD_PACEMAKER'] == 'yes' and settings['SBD_STARTMODE'] == 'always'


def validate(tmp_path, **overrides):
    variables = dict({'cluster_members': ['localhost', 'other'], 'cluster_fencing_opt_out_i_accept_split_brain': True,
                      'cluster_ip': '10.0.0.1', 'hostvars': None}, **overrides)
    variables.pop('hostvars')
    return run_role_task(tmp_path, 'cluster', 'main.yml', 'Validate the cluster settings', variables,
                         expect_success=False)


def test_the_guests_shared_disk_is_refused_as_the_sbd_disk(tmp_path):
    rc, output = validate(tmp_path, cluster_fencing_opt_out_i_accept_split_brain=False,
                          shared_storage_device=DEVICE, cluster_sbd_device=DEVICE)
    assert rc != 0 and 'never shared_storage_device' in output, output


def test_a_message_wait_shorter_than_twice_the_watchdog_is_refused(tmp_path):
    rc, output = validate(tmp_path, cluster_sbd_device=DEVICE, cluster_sbd_watchdog_timeout=10,
                          cluster_sbd_msgwait_timeout=15)
    assert rc != 0 and 'cluster_sbd_msgwait_timeout at least twice it (got 10 and 15)' in re.sub(r'\s+', ' ', output)


def test_a_sbd_disk_that_is_not_a_dev_path_is_refused(tmp_path):
    rc, output = validate(tmp_path, cluster_sbd_device='sdb; rm -rf /')
    assert rc != 0 and "cluster_sbd_device a /dev path of its own (got 'sdb; rm -rf /')" in re.sub(r'\s+', ' ', output)


def check_disk(tmp_path, dump_rc, dump=''):
    return run_role_task(tmp_path, 'cluster', 'sbd.yml', "Check the SBD header's timeouts", {
        'cluster_sbd_device': DEVICE, '__cluster_sbd_dump': {'rc': dump_rc, 'stdout': dump}}, expect_success=False)


def check_data(tmp_path, signatures):
    return run_role_task(tmp_path, 'cluster', 'sbd.yml', 'Refuse an SBD disk that holds data', {
        'cluster_sbd_device': DEVICE, '__cluster_sbd_signatures': {'stdout_lines': list(signatures)}},
        expect_success=False)


def test_an_empty_disk_may_get_a_header(tmp_path):
    for name, check in (('data', lambda path: check_data(path, [])), ('header', lambda path: check_disk(path, 1))):
        (tmp_path / name).mkdir()
        rc, output = check(tmp_path / name)
        assert rc == 0, output


def test_a_disk_holding_data_never_gets_a_header(tmp_path):
    rc, output = check_data(tmp_path, ['LVM2_member'])
    flat = re.sub(r'\s+', ' ', output)
    assert rc != 0 and 'holds LVM2_member, which an SBD header would overwrite' in flat and 'Nothing was changed' in flat


def test_every_refusal_comes_before_sbd_is_installed_or_configured():
    """A refused disk or watchdog leaves the node as it was; and the package, which Debian enables as it
    installs it, stays out of Corosync's start until its header and settings are written."""
    with open(os.path.join(ROLES, 'cluster', 'tasks', 'sbd.yml')) as handle:
        names = [task['name'] for task in yaml.safe_load(handle)]
    install = names.index('Install sbd')
    for refusal in ('Refuse a missing watchdog or SBD disk', 'Refuse a watchdog another daemon holds',
                    'Refuse an SBD disk that holds data'):
        assert names.index(refusal) < install
    assert names[install + 1] == "Keep a new sbd out of Corosync's start until it is set up"
    enable = names.index('Start sbd with Corosync at boot')
    assert names.index('Write the SBD header') < enable and names.index("Write sbd's settings") < enable


def test_a_header_with_the_asked_timeouts_is_kept(tmp_path):
    rc, output = check_disk(tmp_path, 0, HEADER.format(device=DEVICE, watchdog=5, msgwait=10))
    assert rc == 0, output


def test_a_header_with_other_timeouts_is_refused_not_rewritten(tmp_path):
    rc, output = check_disk(tmp_path, 0, HEADER.format(device=DEVICE, watchdog=15, msgwait=30))
    flat = re.sub(r'\s+', ' ', output)
    assert rc != 0 and 'has watchdog 15 s and msgwait 30 s, the inventory asks for 5 s and 10 s' in flat, flat
    assert 'The header and sbd\'s settings were left as they are' in flat


def test_a_watchdog_identity_that_a_udev_rule_cannot_hold_is_refused(tmp_path):
    rc, output = validate(tmp_path, cluster_sbd_device=DEVICE, cluster_sbd_watchdog_identity='xen_wdt", RUN+="/bin/sh')
    assert rc != 0 and 'cluster_sbd_watchdog_identity a watchdog' in re.sub(r'\s+', ' ', output)


def holders(tmp_path, names):
    return run_role_task(tmp_path, 'cluster', 'sbd.yml', 'Refuse a watchdog another daemon holds', {
        '__cluster_sbd_holders': {'stdout_lines': names}}, expect_success=False)


def test_the_watchdog_sanlocks_wdmd_holds_is_refused_for_sbd(tmp_path):
    rc, output = holders(tmp_path, ['wdmd'])
    flat = re.sub(r'\s+', ' ', output)
    assert rc != 0 and 'is held by wdmd; a watchdog serves one daemon' in flat, flat


def test_sbd_may_hold_its_own_watchdog(tmp_path):
    for names in ([], ['sbd']):
        (tmp_path / str(len(names))).mkdir()
        rc, output = holders(tmp_path / str(len(names)), names)
        assert rc == 0, output


def missing(tmp_path, watchdog, disk):
    return run_role_task(tmp_path, 'cluster', 'sbd.yml', 'Refuse a missing watchdog or SBD disk', {
        'cluster_sbd_device': DEVICE, '__cluster_sbd_watchdog': {'stat': {'exists': watchdog}},
        '__cluster_sbd_paths': {'results': [{'stat': {'exists': watchdog}}, {'stat': {'exists': disk, 'isblk': disk}}]}},
        expect_success=False)


def test_a_node_without_the_named_watchdog_is_refused(tmp_path):
    rc, output = missing(tmp_path, False, True)
    flat = re.sub(r'\s+', ' ', output)
    assert rc != 0 and 'no watchdog has the identity cluster_sbd_watchdog_identity ("xen_wdt") after loading xen_wdt' in flat
    assert 'sbd was not configured' in flat


def test_a_missing_sbd_disk_is_refused(tmp_path):
    rc, output = missing(tmp_path, True, False)
    flat = re.sub(r'\s+', ' ', output)
    assert rc != 0 and 'cluster_sbd_device %s is not a block device' % DEVICE in flat, flat


def test_the_udev_rule_names_the_watchdog_of_the_identity_asked_for(tmp_path):
    rule = render_template(tmp_path, 'cluster', 'sbd-watchdog.rules.j2', {'cluster_sbd_watchdog_identity': 'IPMI'})
    line = [text for text in rule.splitlines() if not text.startswith('#')]
    assert line == ['SUBSYSTEM=="watchdog", KERNEL=="watchdog[0-9]*", ATTR{identity}=="IPMI", '
                    'SYMLINK+="xenha-sbd-watchdog"']


def test_the_disk_and_the_watchdog_are_judged_through_their_symlinks():
    """Both are udev symlinks (/dev/disk/by-id/..., /dev/xenha-sbd-watchdog): a stat of the link itself says
    it is no block device (the lab refused its SBD disk so)."""
    with open(os.path.join(ROLES, 'cluster', 'tasks', 'sbd.yml')) as handle:
        stats = [task for task in yaml.safe_load(handle) if 'ansible.builtin.stat' in task]
    assert len(stats) == 2 and all(task['ansible.builtin.stat'].get('follow') is True for task in stats)
