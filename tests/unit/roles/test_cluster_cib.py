"""The cluster role's Pacemaker configuration (templates/cluster.crm.j2), rendered by Ansible with the role's
defaults: one fence_ipmilan device per member, kept off the node it fences, with the role's timeouts."""
from __future__ import annotations

import re

from role_template import render_template


def render(tmp_path, **overrides):
    hosts = {name: {'cluster_fence_ipmi': {'address': '192.0.2.%d' % n, 'port': 6230 + n, 'user': 'admin',
                                           'password': 'unused-here'}}
             for n, name in enumerate(['node1', 'node2'], 1)}
    variables = dict(cluster_members=['node1', 'node2'], __cluster_fence_dir='/etc/xenha/fence', **overrides)
    return render_template(tmp_path, 'cluster', 'cluster.crm.j2', variables, hosts=hosts)


def device(text, member):
    return re.search(r'^primitive fence_%s .*?(?=^\S)' % member, text, re.M | re.S).group(0)


def test_each_member_has_a_fence_device_with_pacemakers_timeouts_by_default(tmp_path):
    text = render(tmp_path)
    for n, member in enumerate(['node1', 'node2'], 1):
        fence = device(text, member)
        assert 'ip=192.0.2.%d ipport=%d' % (n, 6230 + n) in fence and 'pcmk_host_list=%s' % member in fence
        assert 'pcmk_reboot_timeout=60s pcmk_off_timeout=60s' in fence
        assert 'op start timeout=20s' in fence and 'op monitor interval=60s timeout=20s' in fence
        assert 'location fence_%s_not_on_itself fence_%s -inf: %s' % (member, member, member) in text
    # the password is read on the node from a root-only file, never written into the CIB
    assert 'unused-here' not in text


def test_the_fencing_timeout_and_the_check_interval_are_the_roles_options(tmp_path):
    fence = device(render(tmp_path, cluster_fence_action_timeout=180, cluster_fence_monitor_interval=600), 'node1')
    assert 'pcmk_reboot_timeout=180s pcmk_off_timeout=180s' in fence
    assert 'op monitor interval=600s timeout=20s' in fence


def test_a_lost_member_is_rebooted_by_default_or_left_off_when_asked(tmp_path):
    assert re.search(r'^\s+stonith-action=reboot \\$', render(tmp_path), re.M)
    assert re.search(r'^\s+stonith-action=off \\$', render(tmp_path, cluster_fence_action='off'), re.M)


def test_the_cluster_records_its_events_through_pacemakers_file_agent(tmp_path):
    text = render(tmp_path)
    alert = re.search(r'^alert cluster_events .*?(?=^\S|\Z)', text, re.M | re.S).group(0)
    assert alert.startswith('alert cluster_events /var/lib/pacemaker/alert_file.sh')
    assert 'timestamp-format="%s.%06N"' in alert and 'select nodes fencing resources' in alert
    assert alert.rstrip().endswith('to /var/log/pacemaker/cluster-events.log')


def test_no_alert_without_an_event_log(tmp_path):
    assert 'alert ' not in render(tmp_path, cluster_event_log='')


def test_two_members_split_leaves_the_first_member_on_equal_priorities(tmp_path):
    text = render(tmp_path)
    # the member running the guests of the higher priority survives a cut link ...
    assert re.search(r'^\s+priority-fencing-delay=20s \\$', text, re.M)
    # ... and on equal priorities the first member does: fencing it waits, fencing the other does not
    assert 'pcmk_delay_base=10s' in device(text, 'node1')
    assert 'pcmk_delay_base' not in device(text, 'node2')


def test_the_tiebreak_survivor_and_its_delays_are_the_roles_options(tmp_path):
    text = render(tmp_path, cluster_tiebreak_survivor='node2', cluster_fence_delay_base=60,
                  cluster_priority_fencing_delay=120)
    assert 'priority-fencing-delay=120s' in text
    assert 'pcmk_delay_base=60s' in device(text, 'node2') and 'pcmk_delay_base' not in device(text, 'node1')


def test_no_fence_delay_where_a_majority_or_an_arbiter_decides(tmp_path):
    with_arbiter = render(tmp_path, cluster_qdevice_host='arbiter')
    assert 'priority-fencing-delay' not in with_arbiter and 'pcmk_delay_base' not in with_arbiter
    hosts = {name: {'cluster_fence_ipmi': {'address': '192.0.2.%d' % n, 'port': 623, 'user': 'admin',
                                           'password': 'unused-here'}}
             for n, name in enumerate(['node1', 'node2', 'node3'], 1)}
    three = render_template(tmp_path, 'cluster', 'cluster.crm.j2',
                            dict(cluster_members=['node1', 'node2', 'node3'], __cluster_fence_dir='/etc/xenha/fence'),
                            hosts=hosts)
    assert 'priority-fencing-delay' not in three and 'pcmk_delay_base' not in three
