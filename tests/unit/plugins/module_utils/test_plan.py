from __future__ import annotations

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils import _plan as p
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import build_spec


def spec_for(**overrides):
    base = dict(name='x0', memory='128M', max_memory='256M', kernel='/boot/vmlinuz', storage_vg='vg',
                root_disk={'size': '2G'}, swap={'size': '512M'}, services=['ssh'])
    base.update(overrides)
    return build_spec(base)


def sizes(spec, **by_name):
    return {d.path: by_name.get(d.name, d.size_mib) for d in spec.disks}


def kinds(plan):
    return [a.kind for a in plan.actions]


def test_new_guest_creates_disks_defines_and_starts():
    desired = spec_for()
    observed = p.Observed(disk_sizes={d.path: None for d in desired.disks})
    plan = p.make_plan(desired, 'running', observed, xml='<domain/>')
    assert kinds(plan) == [p.CREATE_DISK, p.CREATE_DISK, p.DEFINE, p.START]
    assert plan.diff['before'] == {} and plan.diff['after']['state'] == 'running'
    assert plan.diff['after']['disks'][0]['size'] == '2G'


def test_converged_guest_plans_nothing():
    desired = spec_for()
    for state, running in (('running', True), ('present', True), ('present', False), ('stopped', False)):
        observed = p.Observed(spec=desired, running=running, disk_sizes=sizes(desired), live_spec=desired)
        plan = p.make_plan(desired, state, observed, xml='<domain/>')
        assert not plan.changed and plan.changes == []
        assert plan.diff['before'] == plan.diff['after']


def test_memory_change_on_running_guest_is_live_within_max():
    before = spec_for()
    desired = spec_for(memory='200M')
    observed = p.Observed(spec=before, running=True, disk_sizes=sizes(before), live_spec=before)
    plan = p.make_plan(desired, 'running', observed, xml='<domain/>')
    assert kinds(plan) == [p.DEFINE, p.SET_MEMORY_LIVE]
    assert plan.changes == ['memory: 128M -> 200M (live)'] and plan.next_boot == []


def test_memory_above_running_max_waits_for_next_boot_without_restart():
    before = spec_for()
    desired = spec_for(memory='512M', max_memory='512M')
    observed = p.Observed(spec=before, running=True, disk_sizes=sizes(before), live_spec=before)
    plan = p.make_plan(desired, 'running', observed, xml='<domain/>')
    assert kinds(plan) == [p.DEFINE]
    assert set(plan.next_boot) == {'memory', 'max_memory'}
    assert p.SHUTDOWN not in kinds(plan) and p.START not in kinds(plan)


def test_vcpus_kernel_and_interfaces_apply_at_next_boot():
    before = spec_for()
    desired = spec_for(vcpus=2, cmdline='quiet', interfaces=[{'bridge': 'xenbr0'}])
    observed = p.Observed(spec=before, running=True, disk_sizes=sizes(before), live_spec=before)
    plan = p.make_plan(desired, 'present', observed, xml='<domain/>')
    assert kinds(plan) == [p.DEFINE]
    assert plan.next_boot == ['vcpus', 'cmdline', 'interfaces']


def test_services_change_is_recorded_live():
    before = spec_for()
    desired = spec_for(services=['ssh', 'http'])
    observed = p.Observed(spec=before, running=True, disk_sizes=sizes(before), live_spec=before)
    plan = p.make_plan(desired, 'running', observed, xml='<domain/>')
    assert kinds(plan) == [p.DEFINE, p.SET_METADATA_LIVE]
    assert plan.next_boot == []


def test_grow_disk_records_new_size():
    before = spec_for()
    desired = spec_for(root_disk={'size': '3G'})
    observed = p.Observed(spec=before, running=True, disk_sizes=sizes(before), live_spec=before)
    plan = p.make_plan(desired, 'running', observed, xml='<domain/>')
    assert kinds(plan) == [p.GROW_DISK, p.DEFINE]
    assert plan.changes[0] == 'disk root: grow 2G -> 3G'
    assert plan.diff['after']['disks'][0]['size'] == '3G' and plan.diff['before']['disks'][0]['size'] == '2G'


def test_shrink_is_refused_naming_the_field():
    desired = spec_for(root_disk={'size': '1G'})
    observed = p.Observed(spec=spec_for(), disk_sizes=sizes(desired, root=2048))
    with pytest.raises(p.PlanError) as err:
        p.make_plan(desired, 'present', observed, xml='<domain/>')
    assert err.value.field == 'root_disk.size'
    assert 'never shrunk' in str(err.value) and 'at least 2G' in str(err.value)


def test_moving_a_root_disk_to_an_empty_volume_is_refused():
    before = spec_for()
    desired = spec_for(storage_vg='other')
    observed = p.Observed(spec=before, disk_sizes={**sizes(before), **{d.path: None for d in desired.disks}})
    with pytest.raises(p.PlanError) as err:
        p.make_plan(desired, 'present', observed, xml='<domain/>')
    assert err.value.field == 'root_disk'


def test_missing_block_device_is_refused():
    desired = spec_for(swap={'size': '512M', 'path': '/dev/sdz9'})
    observed = p.Observed(disk_sizes={**sizes(desired), '/dev/sdz9': None})
    with pytest.raises(p.PlanError) as err:
        p.make_plan(desired, 'present', observed, xml='<domain/>')
    assert err.value.field == 'swap.path'


def test_stopped_shuts_down_and_absent_keeps_disks_unless_asked():
    spec = spec_for()
    observed = p.Observed(spec=spec, running=True, disk_sizes=sizes(spec), live_spec=spec)
    assert kinds(p.make_plan(spec, 'stopped', observed, xml='<domain/>')) == [p.SHUTDOWN]
    assert kinds(p.make_plan(None, 'absent', observed)) == [p.SHUTDOWN, p.UNDEFINE]
    plan = p.make_plan(None, 'absent', observed, remove_disks=True)
    assert kinds(plan) == [p.SHUTDOWN, p.UNDEFINE, p.REMOVE_DISK, p.REMOVE_DISK]
    assert plan.diff['after'] == {}


def test_absent_never_removes_block_devices_or_missing_disks():
    spec = spec_for(swap={'size': '512M', 'path': '/dev/sdb1'})
    observed = p.Observed(spec=spec, disk_sizes={spec.disks[0].path: None, '/dev/sdb1': 512})
    assert kinds(p.make_plan(None, 'absent', observed, remove_disks=True)) == [p.UNDEFINE]


def test_absent_guest_that_is_not_there_is_a_no_op():
    assert not p.make_plan(None, 'absent', p.Observed(), remove_disks=True).changed


def test_autostart_change():
    spec = spec_for(autostart=True)
    observed = p.Observed(spec=spec_for(), disk_sizes=sizes(spec))
    plan = p.make_plan(spec, 'present', observed, xml='<domain/>')
    assert kinds(plan) == [p.SET_AUTOSTART] and plan.actions[0].value is True


def test_restart_pending_compares_live_and_persistent():
    spec = spec_for()
    assert not p.restart_pending(p.Observed(spec=spec, running=True, live_spec=spec))
    assert p.restart_pending(p.Observed(spec=spec_for(vcpus=2), running=True, live_spec=spec))
    assert not p.restart_pending(p.Observed(spec=spec_for(vcpus=2), running=False))


def test_cpuset_change_applies_at_next_boot():
    before, desired = spec_for(), spec_for(cpuset='1')
    observed = p.Observed(spec=before, running=True, disk_sizes=sizes(before), live_spec=before)
    plan = p.make_plan(desired, 'running', observed, xml='<domain/>')
    assert 'cpuset: any -> 1 (next boot)' in plan.changes and 'cpuset' in plan.next_boot
    assert p.DEFINE in kinds(plan) and p.START not in kinds(plan)
    assert plan.diff['after']['cpuset'] == '1'
