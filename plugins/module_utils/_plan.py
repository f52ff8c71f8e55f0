# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declared guest versus what is there: an ordered plan of actions and a diff (pure).

The plan refuses what would lose data (a shrink, a root disk moved to an empty
volume) before anything runs, and says for each change whether it takes effect
live or at the guest's next boot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError, format_mib

# Action kinds, in the order they may appear in a plan.
CREATE_DISK = 'create_disk'
GROW_DISK = 'grow_disk'
DEFINE = 'define'
SET_MEMORY_LIVE = 'set_memory_live'
SET_METADATA_LIVE = 'set_metadata_live'
SET_AUTOSTART = 'set_autostart'
START = 'start'
SHUTDOWN = 'shutdown'
UNDEFINE = 'undefine'
REMOVE_DISK = 'remove_disk'


class PlanError(SpecError):
    """The declared state cannot be reached without losing data or breaking a rule."""


@dataclass(frozen=True)
class Observed:
    """What libvirt and the storage report for one guest."""
    spec: object = None            # persistent definition as a Spec, None when not defined
    running: bool = False
    autostart: bool = False
    disk_sizes: dict = field(default_factory=dict)   # path -> MiB, None when missing
    live_spec: object = None       # the running definition, when running


@dataclass(frozen=True)
class Action:
    kind: str
    disk: object = None
    size_mib: int = 0
    value: object = None


@dataclass
class Plan:
    actions: list = field(default_factory=list)
    changes: list = field(default_factory=list)   # human-readable, one line per change
    next_boot: list = field(default_factory=list)  # fields that wait for the next boot
    diff: dict = field(default_factory=dict)

    @property
    def changed(self):
        return bool(self.actions)

    def add(self, action, change=None):
        self.actions.append(action)
        if change:
            self.changes.append(change)


def disk_field(disk_name):
    if disk_name == 'root':
        return 'root_disk'
    if disk_name == 'swap':
        return 'swap'
    return 'disks[%s]' % disk_name


def view(spec, running=False, autostart=False, disk_sizes=None, state=None):
    """A readable dict of a guest for diffs and results; None-safe for absent guests."""
    if spec is None:
        return {}
    sizes = disk_sizes or {}

    def disk_size(disk):
        size = sizes.get(disk.path, disk.size_mib)
        return format_mib(size) if size else 'missing'

    return {
        'name': spec.name,
        'state': state or ('running' if running else 'stopped'),
        'type': spec.type,
        'memory': format_mib(spec.memory_mib),
        'max_memory': format_mib(spec.max_memory_mib),
        'vcpus': spec.vcpus,
        'kernel': spec.kernel,
        'initrd': spec.initrd,
        'cmdline': spec.cmdline,
        'bootloader': spec.bootloader,
        'cpu_disable_features': list(spec.cpu_disable_features),
        'cpuset': spec.cpuset,
        'on_reboot': spec.on_reboot,
        'autostart': autostart,
        'disks': [{'name': d.name, 'target': d.target, 'path': d.path, 'size': disk_size(d)} for d in spec.disks],
        'interfaces': [{'bridge': i.bridge, 'mac': i.mac, 'ip': i.ip} for i in spec.interfaces],
        'services': [{'name': s.name, 'packages': list(s.packages), 'port': s.port, 'protocol': s.protocol,
                      'probe': s.probe} for s in spec.services],
    }


def _definition_key(spec):
    """The parts of a spec that live in the domain definition (disk sizes live in storage)."""
    return (spec.type, spec.memory_mib, spec.max_memory_mib, spec.vcpus, spec.kernel, spec.initrd, spec.cmdline,
            spec.bootloader, spec.cpu_disable_features, spec.cpuset, spec.on_reboot,
            tuple((d.name, d.kind, d.path, d.target, d.vg, d.lv, d.size_mib) for d in spec.disks),
            spec.interfaces, spec.services)


def _plan_disks(plan, desired, observed):
    current = {d.name: d for d in observed.spec.disks} if observed.spec else {}
    for disk in desired.disks:
        before = current.get(disk.name)
        if before is not None and before.path and before.path != disk.path:
            raise PlanError(disk_field(disk.name),
                            'the guest\'s %s disk is %s; pointing it at %s would give it an empty disk (data does '
                            'not follow). Keep the path, or copy the data and declare the new path on a stopped '
                            'guest after that' % (disk.name, before.path, disk.path))
        size = observed.disk_sizes.get(disk.path)
        if size is None:
            if disk.kind == 'block':
                raise PlanError(disk_field(disk.name) + '.path', 'block device %s does not exist; create it or '
                                                                 'use vg/lv so the module makes one' % disk.path)
            plan.add(Action(CREATE_DISK, disk=disk, size_mib=disk.size_mib),
                     'disk %s: create %s at %s' % (disk.name, format_mib(disk.size_mib), disk.path))
        elif size > disk.size_mib:
            raise PlanError(disk_field(disk.name) + '.size', 'declared %s but %s is %s; a disk is never shrunk. '
                                                             'Declare at least %s'
                            % (format_mib(disk.size_mib), disk.path, format_mib(size), format_mib(size)))
        elif size < disk.size_mib:
            if disk.kind == 'block':
                raise PlanError(disk_field(disk.name) + '.size', 'block device %s is %s, smaller than the declared '
                                                                 '%s, and the module only grows LVs and files'
                                % (disk.path, format_mib(size), format_mib(disk.size_mib)))
            plan.add(Action(GROW_DISK, disk=disk, size_mib=disk.size_mib),
                     'disk %s: grow %s -> %s' % (disk.name, format_mib(size), format_mib(disk.size_mib)))


def _addresses(spec):
    return {i.mac: i.ip for i in spec.interfaces if i.ip}


def _plan_definition(plan, desired, observed, xml):
    before = observed.spec
    if before is None:
        plan.add(Action(DEFINE, value=xml), 'define guest %s' % desired.name)
        return
    if _definition_key(before) == _definition_key(desired):
        return
    plan.add(Action(DEFINE, value=xml))
    changes_before = len(plan.changes)
    running = observed.running
    if before.memory_mib != desired.memory_mib:
        live_max = observed.live_spec.max_memory_mib if observed.live_spec else before.max_memory_mib
        if running and desired.memory_mib <= live_max:
            plan.add(Action(SET_MEMORY_LIVE, size_mib=desired.memory_mib))
            when = 'live'
        else:
            when = 'next boot' if running else 'at start'
            if running:
                plan.next_boot.append('memory')
        plan.changes.append('memory: %s -> %s (%s)'
                            % (format_mib(before.memory_mib), format_mib(desired.memory_mib), when))
    if before.services != desired.services or _addresses(before) != _addresses(desired):
        if running:
            plan.add(Action(SET_METADATA_LIVE))
        plan.changes.append('services/addresses recorded%s' % (' (live)' if running else ''))
    simple = [('max_memory', before.max_memory_mib, desired.max_memory_mib, format_mib),
              ('vcpus', before.vcpus, desired.vcpus, str),
              ('type', before.type, desired.type, str),
              ('kernel', before.kernel, desired.kernel, str),
              ('initrd', before.initrd, desired.initrd, str),
              ('cmdline', before.cmdline, desired.cmdline, str),
              ('bootloader', before.bootloader, desired.bootloader, str),
              ('cpu_disable_features', before.cpu_disable_features, desired.cpu_disable_features, list),
              ('cpuset', before.cpuset, desired.cpuset, lambda cpus: cpus or 'any'),
              ('on_reboot', before.on_reboot, desired.on_reboot, str)]
    for name, old, new, render in simple:
        if old != new:
            plan.changes.append('%s: %s -> %s%s' % (name, render(old), render(new), ' (next boot)' if running else ''))
            if running:
                plan.next_boot.append(name)
    old_disks = [(d.name, d.path, d.target) for d in before.disks]
    new_disks = [(d.name, d.path, d.target) for d in desired.disks]
    if old_disks != new_disks:
        plan.changes.append('disks: %s -> %s%s' % ([d[0] for d in old_disks], [d[0] for d in new_disks],
                                                   ' (next boot)' if running else ''))
        if running:
            plan.next_boot.append('disks')
    if [(i.bridge, i.mac) for i in before.interfaces] != [(i.bridge, i.mac) for i in desired.interfaces]:
        plan.changes.append('interfaces: %s -> %s%s' % ([i.mac for i in before.interfaces],
                                                        [i.mac for i in desired.interfaces],
                                                        ' (next boot)' if running else ''))
        if running:
            plan.next_boot.append('interfaces')
    if len(plan.changes) == changes_before:
        # Only the declared disk sizes kept in metadata differ.
        plan.changes.append('recorded declared disk sizes')


def make_plan(desired, state, observed, xml=None, remove_disks=False):
    """Plan how to take the guest from `observed` to `desired` in `state`.

    `desired` may be None for state=absent. `xml` is the desired domain XML.
    """
    plan = Plan()
    after_state = state
    if state == 'absent':
        if observed.spec is not None:
            if observed.running:
                plan.add(Action(SHUTDOWN), 'shut down')
            plan.add(Action(UNDEFINE), 'undefine guest %s' % observed.spec.name)
            if remove_disks:
                for disk in observed.spec.disks:
                    if disk.kind in ('lv', 'file') and observed.disk_sizes.get(disk.path) is not None:
                        plan.add(Action(REMOVE_DISK, disk=disk), 'disk %s: remove %s' % (disk.name, disk.path))
        plan.diff = {'before': view(observed.spec, observed.running, observed.autostart, observed.disk_sizes),
                     'after': {}}
        return plan

    _plan_disks(plan, desired, observed)
    _plan_definition(plan, desired, observed, xml)
    if observed.autostart != desired.autostart:
        plan.add(Action(SET_AUTOSTART, value=desired.autostart), 'autostart: %s' % desired.autostart)
    if state == 'running' and not observed.running:
        plan.add(Action(START), 'start')
    elif state == 'stopped' and observed.running:
        plan.add(Action(SHUTDOWN), 'shut down')
    if state == 'present':
        after_state = 'running' if observed.running else 'stopped'
    after_sizes = dict(observed.disk_sizes)
    for action in plan.actions:
        if action.kind in (CREATE_DISK, GROW_DISK):
            after_sizes[action.disk.path] = action.size_mib
    before = view(observed.spec, observed.running, observed.autostart, observed.disk_sizes)
    if observed.spec is None:
        before = {}
    plan.diff = {'before': before, 'after': view(desired, autostart=desired.autostart, disk_sizes=after_sizes,
                                                 state=after_state)}
    return plan


def space_needed(plan, observed):
    """MiB the plan takes from each volume group: new LVs whole, grown LVs by their growth. {vg: MiB}."""
    needed = {}
    for action in plan.actions:
        if action.kind in (CREATE_DISK, GROW_DISK) and action.disk.kind == 'lv':
            growth = action.size_mib - (observed.disk_sizes.get(action.disk.path) or 0
                                        if action.kind == GROW_DISK else 0)
            needed[action.disk.vg] = needed.get(action.disk.vg, 0) + growth
    return needed


def restart_pending(observed):
    """True when a running guest's live definition lags its persistent one."""
    if not observed.running or observed.live_spec is None or observed.spec is None:
        return False
    live, persistent = observed.live_spec, observed.spec
    return (live.type, live.max_memory_mib, live.vcpus, live.kernel, live.initrd, live.cmdline, live.bootloader,
            live.cpu_disable_features, live.cpuset, live.on_reboot, [(d.path, d.target) for d in live.disks],
            [(i.bridge, i.mac) for i in live.interfaces]) != \
        (persistent.type, persistent.max_memory_mib, persistent.vcpus, persistent.kernel, persistent.initrd,
         persistent.cmdline, persistent.bootloader, persistent.cpu_disable_features, persistent.cpuset,
         persistent.on_reboot,
         [(d.path, d.target) for d in persistent.disks], [(i.bridge, i.mac) for i in persistent.interfaces])
