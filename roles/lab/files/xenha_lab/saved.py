# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab kept for later: its settings, keys, every node's disk and the shared disks, copied while every node
is off, and put back in place of the lab's files, so that `up` boots the same datacenter again. Saved labs
live in the image cache (`cache/saved/NAME`), which `down` keeps."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

from xenha_lab.common import out
from xenha_lab.lab import overlay_image
from xenha_lab.nodes import Node, config_path, load_config

# The image cache stays where it is (a saved lab lives in it); `run` holds the files of live processes.
NOT_SAVED = ('cache', 'run')
# A node's files of its running QEMU.
NODE_RUNTIME = ('qemu.pid', 'qmp.sock')
NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')


def saved_dir(lab, name):
    if not NAME.match(name or ''):
        raise SystemExit('labctl: a saved lab\'s name is letters, digits, ".", "_" and "-" (at most 64, not '
                         'starting with "." or "-"); got %r' % name)
    return os.path.join(lab, 'cache', 'saved', name)


def lab_files(lab):
    """The lab's files that make it (relative paths, sorted): everything but the cache and the live processes'."""
    found = []
    for top, dirs, files in os.walk(lab):
        relative = os.path.relpath(top, lab)
        if relative == '.':
            dirs[:] = [d for d in dirs if d not in NOT_SAVED]
            files = [f for f in files if f not in NOT_SAVED]
        node_top = os.path.dirname(relative) == 'nodes'
        found += [os.path.normpath(os.path.join(relative, f)) for f in files
                  if not (node_top and f in NODE_RUNTIME)]
    return sorted(found)


def nodes_on(lab):
    return [n['name'] for n in load_config(lab)['nodes'] if Node(lab, n['name']).is_on()]


def copy_files(source, target, files):
    for relative in files:
        destination = os.path.join(target, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        # Sparse: the shared disk is mostly holes; a reflink where the filesystem has them.
        subprocess.run(['cp', '-a', '--sparse=always', '--reflink=auto', os.path.join(source, relative),
                        destination], check=True)


def require_off(lab, doing):
    if not os.path.exists(config_path(lab)):
        return
    running = nodes_on(lab)
    if running:
        raise SystemExit("labctl: %s needs every node off; %s still on. Power them off first (the drill's cold "
                         "start does the same): labctl.py --dir %s power NODE off" % (doing, ', '.join(running), lab))


def cmd_save(args):
    lab, target = args.dir, saved_dir(args.dir, args.name)
    if not os.path.exists(config_path(lab)):
        raise SystemExit('labctl: no lab in %s to save (no lab.json)' % lab)
    require_off(lab, 'save')
    if os.path.exists(target):
        raise SystemExit('labctl: %s is saved already (%s); restore it, or remove it to save again'
                         % (args.name, target))
    files = lab_files(lab)
    partial = target + '.partial'
    shutil.rmtree(partial, ignore_errors=True)
    copy_files(lab, partial, files)
    os.rename(partial, target)
    return out(changed=True, saved=target, files=len(files))


def cmd_restore(args):
    lab, source = args.dir, saved_dir(args.dir, args.name)
    if not os.path.isdir(source):
        saved = os.path.join(lab, 'cache', 'saved')
        names = sorted(n for n in os.listdir(saved) if not n.endswith('.partial')) if os.path.isdir(saved) else []
        raise SystemExit('labctl: no saved lab %s; saved: %s' % (args.name, ', '.join(names) or 'none'))
    require_off(lab, 'restore')
    # A node's disk is an overlay on the node image it was built from; without that image it is nothing.
    for relative in lab_files(source):
        if os.path.basename(relative) == 'disk.qcow2':
            image = overlay_image(os.path.join(source, relative))
            if not image or not os.path.exists(image):
                raise SystemExit('labctl: %s of %s is built on %s, which the image cache no longer has; that '
                                 'saved lab cannot boot. Nothing was changed' % (relative, args.name, image))
    # What the lab has now is replaced whole: a file of its own left beside the saved ones would mix two labs.
    for relative in lab_files(lab):
        os.unlink(os.path.join(lab, relative))
    copy_files(source, lab, lab_files(source))
    return out(changed=True, restored=source)
