# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest disks on the node: LVs in a volume group, sparse files, or existing block
devices. Creates and grows; never shrinks; removes only when told to."""

from __future__ import annotations

import os

from ansible_collections.xenha.datacenter.plugins.module_utils._commands import NOT_FOUND
from ansible_collections.xenha.datacenter.plugins.module_utils._libvirt import GuestError
from ansible_collections.xenha.datacenter.plugins.module_utils._plan import disk_field

MIB = 1024 * 1024

# Signatures that make an existing file recognisable as a disk: (offset, bytes). A partition table's boot
# signature, ext2/3/4, XFS, Btrfs, swap, an LVM physical volume, an ISO 9660 image.
DISK_SIGNATURES = (
    (510, b'\x55\xaa'), (1080, b'\x53\xef'), (0, b'XFSB'), (0x10040, b'_BHRfS_M'), (4086, b'SWAPSPACE2'),
    (4086, b'SWAP-SPACE'), (512 + 24, b'LVM2 001'), (0x8001, b'CD001'),
)


def looks_like_disk(path):
    """Whether the existing regular file at `path` may be taken as a guest disk: empty or never written
    (a sparse file as this module creates them), or carrying a partition table, filesystem or swap
    signature. A text file or any other data is not."""
    info = os.stat(path)
    if info.st_size == 0 or info.st_blocks == 0:
        return True
    with open(path, 'rb') as handle:
        for offset, magic in DISK_SIGNATURES:
            handle.seek(offset)
            if handle.read(len(magic)) == magic:
                return True
    return False


class Storage:
    """`run` is a callable taking an argv list and returning (rc, stdout, stderr),
    e.g. AnsibleModule.run_command."""

    def __init__(self, run):
        self._run = run

    def _lvm(self, args, what, field):
        rc, out, err = self._run(args)
        if rc != 0:
            raise GuestError('%s failed (%s): %s' % (what, ' '.join(args), (err or out).strip()), field=field)
        return out

    def vg_exists(self, vg, field='storage_vg'):
        rc, _out, _err = self._run(['vgs', '--noheadings', '-o', 'vg_name', vg])
        if rc == NOT_FOUND:
            raise GuestError('LVM is not installed on this node (no vgs), so volume group %s cannot be used; install '
                             'lvm2, or give the disk a path instead' % vg, field=field)
        return rc == 0

    def vg_free_mib(self, vg):
        """The volume group's free space in MiB, or None when it cannot be read."""
        rc, out, _err = self._run(['vgs', '--noheadings', '--units', 'm', '--nosuffix', '-o', 'vg_free', vg])
        try:
            return int(float(out.strip())) if rc == 0 else None
        except ValueError:
            return None

    def size_mib(self, disk):
        """The disk's size in MiB, or None when it does not exist."""
        if disk.kind == 'lv':
            rc, out, _err = self._run(['lvs', '--noheadings', '--units', 'm', '--nosuffix', '-o', 'lv_size',
                                       '%s/%s' % (disk.vg, disk.lv)])
            if rc != 0 or not out.strip():
                return None
            return int(float(out.strip()))
        if not os.path.exists(disk.path):
            return None
        if disk.kind == 'file':
            return os.stat(disk.path).st_size // MIB
        fd = os.open(disk.path, os.O_RDONLY)
        try:
            return os.lseek(fd, 0, os.SEEK_END) // MIB
        finally:
            os.close(fd)

    def check_existing(self, disk):
        """Refuse an existing regular file that is not a disk (e.g. a text file named by mistake): it would be
        grown and handed to the guest."""
        if disk.kind == 'file' and os.path.isfile(disk.path) and not looks_like_disk(disk.path):
            raise GuestError('%s exists and holds data that is not a disk image (no partition table, filesystem or '
                             'swap signature); point path at a new file or at a disk image' % disk.path,
                             field=disk_field(disk.name) + '.path')

    def check_target(self, disk):
        """Raise a clear error when the disk's place does not exist (missing VG or directory)."""
        if disk.kind == 'lv' and not self.vg_exists(disk.vg, disk_field(disk.name) + '.vg'):
            raise GuestError('volume group %s does not exist on this node; create it (the shared_storage role '
                             'does) or name an existing one' % disk.vg, field=disk_field(disk.name) + '.vg')
        if disk.kind == 'file' and not os.path.isdir(os.path.dirname(disk.path)):
            raise GuestError('directory %s does not exist; create it first' % os.path.dirname(disk.path),
                             field=disk_field(disk.name) + '.path')

    def create(self, disk, size_mib):
        if disk.kind == 'lv':
            self._lvm(['lvcreate', '--yes', '--name', disk.lv, '--size', '%dm' % size_mib, disk.vg],
                      'creating LV %s/%s' % (disk.vg, disk.lv), disk_field(disk.name))
        elif disk.kind == 'file':
            # O_EXCL: never truncate a file that appeared since it was observed.
            fd = os.open(disk.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.ftruncate(fd, size_mib * MIB)
            finally:
                os.close(fd)
        else:
            raise GuestError('block device %s does not exist' % disk.path, field=disk_field(disk.name) + '.path')

    def grow(self, disk, size_mib):
        current = self.size_mib(disk)
        if current is None or current > size_mib:
            raise GuestError('refusing to resize %s from %s MiB to %d MiB: disks only grow'
                             % (disk.path, current, size_mib), field=disk_field(disk.name) + '.size')
        if disk.kind == 'lv':
            self._lvm(['lvextend', '--size', '%dm' % size_mib, '%s/%s' % (disk.vg, disk.lv)],
                      'growing LV %s/%s' % (disk.vg, disk.lv), disk_field(disk.name))
        elif disk.kind == 'file':
            os.truncate(disk.path, size_mib * MIB)
        else:
            raise GuestError('block device %s cannot be grown by this module' % disk.path,
                             field=disk_field(disk.name) + '.size')

    def remove(self, disk):
        if disk.kind == 'lv':
            self._lvm(['lvremove', '--yes', '%s/%s' % (disk.vg, disk.lv)], 'removing LV %s/%s' % (disk.vg, disk.lv),
                      disk_field(disk.name))
        elif disk.kind == 'file':
            os.unlink(disk.path)
