# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest module's backend: observe, check, plan, act.

Arguments -> Spec -> (libvirt + storage) -> Observed -> Plan -> actions -> result.
Everything that can be refused is refused before the first write.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile

from ansible_collections.xenha.datacenter.plugins.module_utils import _plan as plan_mod
from ansible_collections.xenha.datacenter.plugins.module_utils._domain_xml import (
    METADATA_NS, METADATA_PREFIX, build_domain_xml, domain_macs, domain_uuid, metadata_xml, parse_domain_xml,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import GuestError
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import (
    SpecError, build_spec, format_mib, validate_name,
)


def _disk_sizes(storage, spec, desired):
    """Sizes (MiB, None when missing) of the defined and the declared disks."""
    sizes = {}
    for disk in list(spec.disks if spec else ()) + list(desired.disks if desired else ()):
        if disk.path not in sizes and disk.kind:
            sizes[disk.path] = storage.size_mib(disk)
    return sizes


def observe(conn, storage, name, desired=None, strict=True):
    """What is there for guest `name`; disk sizes cover both the defined and the declared disks.

    `strict` refuses a transient guest (running but not defined here, e.g. half-migrated):
    converging it would define a second copy.
    """
    dom = conn.lookup(name)
    spec = live_spec = None
    running = autostart = False
    if dom is not None:
        persistent = conn.is_persistent(dom)
        if strict and not persistent:
            raise GuestError('guest %s runs here but is not defined (transient, e.g. half-migrated); '
                             'define or migrate it by hand first' % name, field='name')
        spec = parse_domain_xml(conn.persistent_xml(dom) if persistent else conn.live_xml(dom))
        running = conn.is_running(dom)
        autostart = conn.autostart(dom)
        if running:
            live_spec = parse_domain_xml(conn.live_xml(dom))
    sizes = _disk_sizes(storage, spec, desired)
    return dom, plan_mod.Observed(spec=spec, running=running, autostart=autostart, disk_sizes=sizes,
                                  live_spec=live_spec)


def check_conflicts(conn, storage, desired, observed):
    """Refuse memory the node does not have, a MAC that another guest uses, and disks whose VG or directory
    is missing.

    Only MACs this guest does not have yet are checked: a no-op run stays O(1) in the
    number of guests on the node.
    """
    node_mib = conn.node_memory_mib()
    if desired.memory_mib > node_mib:
        raise SpecError('memory', '%s is more than this node has (%s of RAM): the guest could never start here; '
                                  'lower memory' % (format_mib(desired.memory_mib), format_mib(node_mib)))
    current = set(observed.spec.macs) if observed.spec else set()
    wanted = {nic.mac: i for i, nic in enumerate(desired.interfaces) if nic.mac not in current}
    if wanted:
        for dom in conn.domains():
            if dom.name() == desired.name:
                continue
            for mac in domain_macs(conn.persistent_xml(dom)):
                if mac in wanted:
                    raise SpecError('interfaces[%d].mac' % wanted[mac],
                                    'MAC %s is already used by guest %s; give another mac, or leave it out to '
                                    'derive one from the guest name' % (mac, dom.name()))
    attached = {disk.path for disk in observed.spec.disks} if observed.spec else set()
    for disk in desired.disks:
        if observed.disk_sizes.get(disk.path) is None:
            storage.check_target(disk)
        elif disk.path not in attached:
            storage.check_existing(disk)
    bridges = conn.bridges()
    for index, nic in enumerate(desired.interfaces):
        if bridges is not None and nic.bridge not in bridges:
            raise SpecError('interfaces[%d].bridge' % index,
                            'no bridge %s on this node (it has %s); create it (the hypervisor role makes xenbr0) or '
                            'name an existing one' % (nic.bridge, ', '.join(sorted(bridges)) or 'none'))


def check_space(plan, observed, storage):
    """Refuse, before any disk is made, a plan that needs more of a volume group than it has free: a half-made
    guest (its root LV created, its swap refused) is what a full VG would otherwise leave."""
    for vg, needed in sorted(plan_mod.space_needed(plan, observed).items()):
        free = storage.vg_free_mib(vg)
        if free is not None and needed > free:
            raise GuestError('volume group %s has %s free, and this guest\'s disks need %s more; nothing was changed. '
                             'Grow the volume group (vgextend), free space in it, or make the disks smaller'
                             % (vg, format_mib(free), format_mib(needed)), field='storage_vg')


def execute(plan, conn, storage, dom, desired, shutdown_timeout, force):
    """Carry out the plan's actions in order. When one fails, the error carries `done`: what the actions
    before it changed, so that the module reports the change it made."""
    done = []
    for action in plan.actions:
        try:
            dom = _act(action, conn, storage, dom, desired, shutdown_timeout, force)
        except (GuestError, SpecError, OSError) as exc:
            if isinstance(exc, OSError):
                target = action.disk.path if action.disk is not None else desired.name
                exc = GuestError('%s of %s failed: %s' % (action.kind.replace('_', ' '), target, exc.strerror or exc),
                                 field=plan_mod.disk_field(action.disk.name) if action.disk is not None else None)
            exc.done = done
            raise exc
        done.append(describe_action(action))
    return dom


def describe_action(action):
    """One line for an action that was carried out."""
    what = action.kind.replace('_', ' ')
    if action.disk is not None:
        return '%s %s (%s%s)' % (what, action.disk.name, action.disk.path,
                                 ', %s' % format_mib(action.size_mib) if action.size_mib else '')
    return what


def _act(action, conn, storage, dom, desired, shutdown_timeout, force):
    """Carry out one action; returns the domain (defining or undefining changes it)."""
    kind = action.kind
    if kind == plan_mod.CREATE_DISK:
        storage.create(action.disk, action.size_mib)
    elif kind == plan_mod.GROW_DISK:
        storage.grow(action.disk, action.size_mib)
    elif kind == plan_mod.DEFINE:
        dom = conn.define(action.value)
    elif kind == plan_mod.SET_MEMORY_LIVE:
        conn.set_memory_live(dom, action.size_mib)
    elif kind == plan_mod.SET_METADATA_LIVE:
        conn.set_metadata_live(dom, metadata_xml(desired), METADATA_NS, METADATA_PREFIX)
    elif kind == plan_mod.SET_AUTOSTART:
        conn.set_autostart(dom, action.value)
    elif kind == plan_mod.START:
        conn.start(dom)
    elif kind == plan_mod.SHUTDOWN:
        conn.shutdown(dom, shutdown_timeout, force)
    elif kind == plan_mod.UNDEFINE:
        conn.undefine(dom)
        dom = None
    elif kind == plan_mod.REMOVE_DISK:
        storage.remove(action.disk)
    else:  # pragma: no cover - the plan only makes the kinds above
        raise GuestError('unknown action %s' % kind)
    return dom


def _describe(conn, dom, observed):
    result = plan_mod.view(observed.spec, observed.running, observed.autostart, observed.disk_sizes)
    result['uuid'] = dom.UUIDString()
    result['host'] = conn.hostname()
    result['restart_pending'] = plan_mod.restart_pending(observed)
    return result


def guest_view(conn, storage, name):
    """The guest as it is now, in the shape of the module's `guest` result."""
    dom, observed = observe(conn, storage, name, strict=False)
    return _describe(conn, dom, observed) if dom is not None else {}


class ConfigFile:
    """The definition of a cluster-managed guest: a domain XML file that Pacemaker's VirtualDomain
    agent creates the guest from (transient in libvirt, on whichever node the cluster picks).

    Stands in for the libvirt connection in `execute`: `define` and `undefine` write and remove
    the file; live changes go to the guest when it runs on this node.
    """

    def __init__(self, conn, path):
        self.conn = conn
        self.path = path

    def read(self):
        try:
            with open(self.path) as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def define(self, xml):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise GuestError('directory %s does not exist; create it first' % directory, field='cluster_config')
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(self.path))
        try:
            with os.fdopen(fd, 'w') as handle:
                handle.write(xml)
            os.chmod(tmp, 0o644)
            os.rename(tmp, self.path)  # atomic: the cluster never reads half a file
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return self.conn.lookup(os.path.basename(self.path).rsplit('.', 1)[0])

    def undefine(self, dom):
        if os.path.exists(self.path):
            os.unlink(self.path)

    def set_memory_live(self, dom, mib):
        self.conn.set_memory_live(dom, mib)

    def set_metadata_live(self, dom, xml, namespace, prefix):
        self.conn.set_metadata_live(dom, xml, namespace, prefix)


def observe_cluster_managed(conn, storage, config, name, desired=None):
    """Like `observe`, for a guest defined by `config` (a ConfigFile) and run by the cluster."""
    dom = conn.lookup(name)
    if dom is not None and conn.is_persistent(dom):
        raise GuestError('guest %s is defined in libvirt on this node, but cluster_config says the cluster runs it '
                         'from %s; undefine it here (virsh undefine %s) so that only the cluster starts it'
                         % (name, config.path, name), field='cluster_config')
    xml = config.read()
    spec = parse_domain_xml(xml) if xml is not None else None
    if spec is not None and spec.name != name:
        raise GuestError('%s defines guest %s, not %s; give each guest its own cluster_config file'
                         % (config.path, spec.name, name), field='cluster_config')
    running = dom is not None and conn.is_running(dom)
    live_spec = parse_domain_xml(conn.live_xml(dom)) if running else None
    sizes = _disk_sizes(storage, spec, desired)
    return dom, plan_mod.Observed(spec=spec, running=running, autostart=False, disk_sizes=sizes,
                                  live_spec=live_spec), xml


def _cluster_view(conn, config, dom, observed, xml):
    if observed.spec is None:
        return {}
    result = plan_mod.view(observed.spec, observed.running, False, observed.disk_sizes,
                           state=None if observed.running else 'not running here')
    result['uuid'] = domain_uuid(xml)
    result['host'] = conn.hostname()
    result['cluster_config'] = config.path
    result['restart_pending'] = plan_mod.restart_pending(observed)
    return result


def converge_cluster_managed(params, conn, storage, check_mode=False):
    """Converge the definition file of a guest that Pacemaker runs; never starts or stops it."""
    state = params.get('state') or 'present'
    name = params['name']
    config = ConfigFile(conn, params['cluster_config'])
    if state in ('running', 'stopped'):
        raise SpecError('state', 'a guest with cluster_config is started and stopped by the cluster (e.g. crm '
                                 'resource start|stop); use state=present or absent')
    if params.get('autostart'):
        raise SpecError('autostart', 'a guest with cluster_config is started by the cluster; leave autostart false')
    if state == 'absent':
        validate_name(name)
        desired = None
    else:
        # A guest rebooting itself is stopped, not restarted by the hypervisor: the cluster sees it stop and
        # starts it again. Restarted behind the cluster, it raced the cluster's recovery ("domain already
        # exists"), and a recovery elsewhere would run it on two nodes.
        desired = dataclasses.replace(build_spec(params), on_reboot='destroy')
    dom, observed, xml_before = observe_cluster_managed(conn, storage, config, name, desired)
    if state == 'absent' and observed.running:
        raise GuestError('guest %s runs on this node; stop it through the cluster first (crm resource stop), then '
                         'remove it' % name, field='state')
    xml = None
    if desired is not None:
        check_conflicts(conn, storage, desired, observed)
        xml = build_domain_xml(desired, uuid=domain_uuid(xml_before) if xml_before else None)
    plan = plan_mod.make_plan(desired, 'present' if desired is not None else 'absent', observed, xml=xml,
                              remove_disks=bool(params.get('remove_disks')))
    check_space(plan, observed, storage)
    result = {'changed': plan.changed, 'changes': plan.changes, 'next_boot': plan.next_boot, 'diff': plan.diff}
    if plan.changed and not check_mode:
        execute(plan, config, storage, dom, desired, 0, False)
        dom, observed, xml_after = observe_cluster_managed(conn, storage, config, name)
        result['guest'] = _cluster_view(conn, config, dom, observed, xml_after)
    elif plan.changed:
        result['guest'] = plan.diff['after']
    else:
        result['guest'] = _cluster_view(conn, config, dom, observed, xml_before)
    return result


def converge(params, conn, storage, check_mode=False):
    """Converge one guest to `params`; return the module result (without `failed`)."""
    if params.get('cluster_config'):
        return converge_cluster_managed(params, conn, storage, check_mode)
    state = params.get('state') or 'present'
    if state == 'absent':
        validate_name(params.get('name'))
        desired = None
    else:
        desired = build_spec(params)
    name = params['name']
    dom, observed = observe(conn, storage, name, desired)
    xml = None
    if desired is not None:
        check_conflicts(conn, storage, desired, observed)
        xml = build_domain_xml(desired, uuid=domain_uuid(conn.persistent_xml(dom)) if dom is not None else None)
    plan = plan_mod.make_plan(desired, state, observed, xml=xml, remove_disks=bool(params.get('remove_disks')))
    check_space(plan, observed, storage)
    result = {
        'changed': plan.changed,
        'changes': plan.changes,
        'next_boot': plan.next_boot,
        'diff': plan.diff,
    }
    if plan.changed and not check_mode:
        execute(plan, conn, storage, dom, desired, params.get('shutdown_timeout', 120), bool(params.get('force')))
        result['guest'] = guest_view(conn, storage, name)
    elif plan.changed:
        result['guest'] = plan.diff['after']
    else:
        result['guest'] = _describe(conn, dom, observed) if dom is not None else {}
    return result


def list_guests(conn, storage, name=None):
    """Every guest on the connection (or just `name`), sorted by name."""
    names = [name] if name else sorted(d.name() for d in conn.domains())
    return [view for view in (guest_view(conn, storage, n) for n in names) if view]
