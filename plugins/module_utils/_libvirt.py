# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one libvirt connection wrapper: a guarded import, and libvirt errors mapped
to messages that say what failed and what to do."""

from __future__ import annotations

import os
import threading
import time
import traceback

try:
    import libvirt
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None

DEFAULT_URI = 'xen:///system'
DOM0_NAME = 'Domain-0'
SYS_CLASS_NET = '/sys/class/net'
# Seconds a migration job may take to end after its abort before the guest's place is looked up.
ABORT_GRACE = 60


class GuestError(Exception):
    """A libvirt operation failed; `field` names the option to look at, if any."""

    def __init__(self, message, field=None):
        self.field = field
        super().__init__(('%s: %s' % (field, message)) if field else message)


class Connection:
    """A libvirt connection with the few operations the modules need."""

    def __init__(self, uri=DEFAULT_URI):
        self.uri = uri
        # Errors reach the caller as exceptions; libvirt's default handler would also print them.
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        try:
            self._conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise GuestError('cannot connect to libvirt at %s: %s. Check that libvirtd runs on the node and that '
                             'its Xen driver is installed (libvirt-daemon-driver-xen), or fix uri'
                             % (uri, exc.get_error_message()), field='uri')

    def close(self):
        try:
            self._conn.close()
        except libvirt.libvirtError:
            pass

    def _call(self, what, func, *args):
        try:
            return func(*args)
        except libvirt.libvirtError as exc:
            raise GuestError('%s failed: %s' % (what, exc.get_error_message()))

    def hostname(self):
        return self._call('reading the hostname', self._conn.getHostname)

    def bridges(self):
        """The node's network bridges, or None where they cannot be read from here: libvirt's test driver has
        no host network, and a remote URI's node is not this machine."""
        if self.uri.startswith('test:') or '//' in self.uri and self.uri.split('//', 1)[1][:1] not in ('', '/'):
            return None
        return set(name for name in os.listdir(SYS_CLASS_NET)
                   if os.path.isdir(os.path.join(SYS_CLASS_NET, name, 'bridge')))

    def node_memory_mib(self):
        """The node's physical memory, in MiB."""
        return int(self._call('reading the node\'s memory', self._conn.getInfo)[1])

    def lookup(self, name):
        """The domain called `name`, or None."""
        try:
            return self._conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise GuestError('looking up guest %s failed: %s' % (name, exc.get_error_message()))

    def domains(self):
        """Every guest on this connection (Domain-0 excluded)."""
        domains = self._call('listing guests', self._conn.listAllDomains, 0)
        return [d for d in domains if d.name() != DOM0_NAME]

    def persistent_xml(self, dom):
        return self._call('reading the definition of %s' % dom.name(), dom.XMLDesc,
                          libvirt.VIR_DOMAIN_XML_INACTIVE)

    def live_xml(self, dom):
        return self._call('reading the running definition of %s' % dom.name(), dom.XMLDesc, 0)

    def is_running(self, dom):
        return bool(self._call('reading the state of %s' % dom.name(), dom.isActive))

    def is_persistent(self, dom):
        return bool(self._call('reading the state of %s' % dom.name(), dom.isPersistent))

    def autostart(self, dom):
        return bool(self._call('reading autostart of %s' % dom.name(), dom.autostart))

    def memory_stats(self, dom):
        """(current MiB, max MiB, vCPUs) as the hypervisor reports them."""
        state, max_kib, cur_kib, vcpus, _cpu_time = self._call('reading %s' % dom.name(), dom.info)
        return cur_kib // 1024, max_kib // 1024, vcpus

    def define(self, xml):
        return self._call('defining the guest', self._conn.defineXML, xml)

    def set_memory_live(self, dom, mib):
        self._call('setting the memory of %s' % dom.name(), dom.setMemoryFlags, mib * 1024,
                   libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def set_metadata_live(self, dom, xml, namespace, prefix):
        self._call('recording metadata of %s' % dom.name(), dom.setMetadata, libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                   xml, prefix, namespace, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def set_autostart(self, dom, enabled):
        self._call('setting autostart of %s' % dom.name(), dom.setAutostart, 1 if enabled else 0)

    def start(self, dom):
        self._call('starting %s' % dom.name(), dom.create)

    def shutdown(self, dom, timeout, force=False, poll=0.5):
        """Ask the guest to shut down and wait; destroy it only when `force` is set."""
        self._call('shutting down %s' % dom.name(), dom.shutdown)
        deadline = time.monotonic() + timeout
        while self.is_running(dom):
            if time.monotonic() >= deadline:
                if not force:
                    raise GuestError('%s is still running %d s after the shutdown request; it was left running. '
                                     'Raise shutdown_timeout, or set force=true to power it off'
                                     % (dom.name(), timeout), field='shutdown_timeout')
                self._call('powering off %s' % dom.name(), dom.destroy)
                break
            time.sleep(poll)

    def undefine(self, dom):
        self._call('undefining %s' % dom.name(), dom.undefine)

    def _runs_here(self, name):
        """Whether guest `name` is active on this node, asked anew."""
        try:
            return bool(self._conn.lookupByName(name).isActive())
        except libvirt.libvirtError:
            return False

    def migrate_live(self, dom, dest_uri, timeout, tunnelled=True):
        """Peer-to-peer live migration to `dest_uri`, persistent there and undefined here.

        Tunnelled, the memory stream rides the libvirt connection (SSH between dom0s) instead of a
        plain TCP socket. After `timeout` seconds the job is aborted; the error then says where the guest runs,
        as seen after the abort (an abort can come too late, and the move then completes).
        """
        flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST |
                 libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
        if tunnelled:
            flags |= libvirt.VIR_MIGRATE_TUNNELLED
        outcome = {}

        def work():
            try:
                dom.migrateToURI3(dest_uri, {}, flags)
            except libvirt.libvirtError as exc:
                outcome['error'] = exc.get_error_message()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            try:
                dom.abortJob()
                refused = ''
            except libvirt.libvirtError as exc:
                refused = ' (the abort was refused: %s)' % exc.get_error_message()
            worker.join(ABORT_GRACE)
            if not worker.is_alive() and 'error' not in outcome:
                return  # the move completed before the abort took hold: the guest runs on the target
            if self._runs_here(dom.name()):
                where = 'it was aborted and the guest keeps running on %s' % self.hostname()
            else:
                where = ('the guest no longer runs on %s%s: look for it on the target before anything else'
                         % (self.hostname(), refused))
            raise GuestError('live migration of %s to %s did not finish within %d s; %s'
                             % (dom.name(), dest_uri, timeout, where), field='timeout')
        if 'error' in outcome:
            raise GuestError('live migration of %s to %s failed: %s; the guest keeps running on %s'
                             % (dom.name(), dest_uri, outcome['error'], self.hostname()))
