"""The guests role's cluster configuration (templates/guests.crm.j2), rendered by Ansible itself with
the role's defaults: what Pacemaker is told about retries and start storms."""
from __future__ import annotations

from role_template import render_template


def render(tmp_path, names, **overrides):
    """The rendered configuration's lines for these guests."""
    variables = dict(__guests_names=names, __guests_config_dir='/etc/xenha/guests',
                     guests_monitor_timeout=60, **overrides)
    return render_template(tmp_path, 'guests', 'guests.crm.j2', variables).splitlines()


def test_guests_start_one_by_one_and_forget_failures(tmp_path):
    lines = render(tmp_path, ['x0', 'x1', 'x2'])
    assert lines.count('order guests_one_by_one Serialize: guest_x0 guest_x1 guest_x2') == 1
    metas = [line.strip() for line in lines if line.strip().startswith('meta allow-migrate=true')]
    assert metas == ['meta allow-migrate=true priority=1 migration-threshold=3 failure-timeout=300s'] * 3


def test_failures_kept_and_no_serialize_when_asked_or_alone(tmp_path):
    lines = render(tmp_path, ['x0'], guests_failure_timeout=0, guests_start_one_by_one=True)
    assert not [line for line in lines if 'Serialize' in line]
    assert not [line for line in lines if 'failure-timeout' in line]
    lines = render(tmp_path, ['x0', 'x1'], guests_start_one_by_one=False)
    assert not [line for line in lines if 'Serialize' in line]


def test_guests_and_their_disks_are_checked_at_the_roles_interval(tmp_path):
    monitors = [line.strip(' \\') for line in render(tmp_path, ['x0'], guests_monitor_interval=120)
                if line.strip().startswith('op monitor')]
    assert monitors == ['op monitor interval=120s timeout=60s'] * 2


def test_live_migration_stream_rides_ssh(tmp_path):
    lines = render(tmp_path, ['x0', 'x1'])
    params = [line.strip() for line in lines if 'ocf:heartbeat:VirtualDomain' in line or 'migrate_options' in line]
    assert [p for p in params if p.startswith('migrate_options')] == ['migrate_options="--p2p --tunnelled" \\'] * 2
    assert sum('migration_transport=ssh' in line for line in lines) == 2


def test_untunnelled_migration_only_when_asked(tmp_path):
    lines = render(tmp_path, ['x0'], guests_migration_tunnelled=False)
    assert [line.strip() for line in lines if 'migrate_options' in line] == ['migrate_options="--p2p" \\']


def test_comments_are_ones_crmsh_loads(tmp_path):
    # crm configure load refuses the whole file for a comment with a double hyphen or a trailing one.
    comments = [line for tunnelled in (True, False)
                for line in render(tmp_path, ['x0', 'x1'], guests_migration_tunnelled=tunnelled)
                if line.lstrip().startswith('#')]
    assert comments
    for comment in comments:
        assert '--' not in comment and not comment.rstrip().endswith('-'), comment


def test_each_guest_carries_its_priority_for_a_split_of_two_members(tmp_path):
    lines = render(tmp_path, ['x0', 'x1'], guests_priority=5)
    metas = [line.strip() for line in lines if line.strip().startswith('meta allow-migrate=true')]
    assert [m.split()[2] for m in metas] == ['priority=5', 'priority=5']


def test_each_guest_runs_as_guestdomain_with_its_clean_shutdown_bounded(tmp_path):
    lines = [line.strip(' \\') for line in render(tmp_path, ['x0', 'x1'], guests_shutdown_timeout=240,
                                                  guests_stop_timeout=300)]
    assert [line.split()[2] for line in lines if line.startswith('primitive guest_')] == ['ocf:xenha:GuestDomain'] * 2
    assert lines.count('shutdown_timeout=240') == 2
    assert lines.count('op stop timeout=300s interval=0') == 2


def test_only_the_guests_changing_agent_are_marked_unmanaged(tmp_path):
    lines = render(tmp_path, ['x0', 'x1'], __guests_unmanaged=['x1'])
    metas = [line.strip() for line in lines if line.strip().startswith('meta allow-migrate=true')]
    assert ['is-managed=false' in meta for meta in metas] == [False, True]
    assert not [line for line in render(tmp_path, ['x0', 'x1']) if 'is-managed' in line]
