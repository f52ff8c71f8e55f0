# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole lab: its settings, keys and disks, starting and stopping it, its status."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse

from xenha_lab.aptcache import wait_listening
from xenha_lab.common import out, run, start_daemon, stop_pid, write
from xenha_lab.images import host_mirrors
from xenha_lab.network import (CLIENT_ADDRESS, CLUSTER_NET, NETNS, SWITCH_NETNS, netns_exists, start_client,
                               start_switch)
from xenha_lab.nodes import Node, config_path, load_config, node_dir
from xenha_lab.san import SAN_ADDRESS, SAN_NETNS, start_san


# The lab's own command, which `up` starts again as the BMC and apt cache daemons.
LABCTL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'labctl.py')


def keygen(path, comment):
    if not os.path.exists(path):
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path])


def overlay_image(disk):
    """The image a node's disk overlay is built on (read without the lock of a node that may run)."""
    info = run(['qemu-img', 'info', '-U', '--output=json', disk], stdout=subprocess.PIPE).stdout
    return json.loads(info).get('backing-filename')


def prepare(args):
    """Write lab.json, keys, secrets, node disks and fw_cfg files. Returns True when anything changed."""
    lab = args.dir
    names = ['node%d' % i for i in range(1, args.nodes + 1)]
    config = {
        'memory_mib': args.memory, 'vcpus': args.vcpus, 'flavour': args.flavour, 'image': args.image,
        'shared_disk_mib': args.shared_disk, 'shared_disk_transport': args.shared_disk_transport,
        'apt_cache_port': args.apt_cache_port, 'guest_cpu_nice': args.guest_cpu_nice,
        'nodes': [{'name': n, 'index': i + 1, 'ssh_port': args.ssh_base_port + i + 1,
                   'bmc_port': args.bmc_base_port + i + 1, 'cluster_ip': '%s.%d' % (CLUSTER_NET, i + 1)}
                  for i, n in enumerate(names)],
    }
    changed = False
    try:
        old = load_config(lab)
    except (OSError, ValueError):
        old = None
    if old != config:
        if old is not None and any(Node(lab, n['name']).is_on() for n in old['nodes']):
            raise SystemExit('labctl: the lab runs with other settings; take it down first (lab_state=absent)')
        write(config_path(lab), json.dumps(config, indent=2, sort_keys=True) + '\n')
        changed = True
    secrets_dir = os.path.join(lab, 'secrets')
    os.makedirs(secrets_dir, mode=0o700, exist_ok=True)
    keygen(os.path.join(secrets_dir, 'id_ed25519'), 'xenha-lab-controller')
    password_file = os.path.join(secrets_dir, 'bmc-password')
    if not os.path.exists(password_file):
        write(password_file, secrets.token_urlsafe(12) + '\n', 0o600)  # IPMI 2.0 passwords: at most 20 bytes
        changed = True
    chap_file = os.path.join(secrets_dir, 'iscsi-chap-password')
    if args.shared_disk_transport == 'iscsi' and not os.path.exists(chap_file):
        write(chap_file, secrets.token_urlsafe(12) + '\n', 0o600)  # 16 characters: what most targets accept
        changed = True
    with open(os.path.join(secrets_dir, 'id_ed25519.pub'), encoding='utf-8') as handle:
        authorized = handle.read()
    shared = os.path.join(lab, 'shared.img')
    if not os.path.exists(shared):
        with open(shared, 'wb') as handle:
            handle.truncate(args.shared_disk * 1024 * 1024)
        changed = True
    hosts = '127.0.0.1 localhost\n' + ''.join('%s %s\n' % (n['cluster_ip'], n['name']) for n in config['nodes'])
    hosts += '%s client\n' % CLIENT_ADDRESS
    if args.shared_disk_transport == 'iscsi':
        hosts += '%s san\n' % SAN_ADDRESS
    known = []
    for node in config['nodes']:
        ndir = node_dir(lab, node['name'])
        fw = os.path.join(ndir, 'fw')
        os.makedirs(fw, exist_ok=True)
        keygen(os.path.join(ndir, 'ssh_host_ed25519_key'), 'root@' + node['name'])
        files = {
            'hostname': node['name'] + '\n',
            'hosts': hosts,
            'authorized_keys': authorized,
            'cluster_interfaces': '# cluster network (the lab bridge)\nauto eth1\niface eth1 inet static\n'
                                  '  address %s/24\n' % node['cluster_ip'],
        }
        for key in ('ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'):
            with open(os.path.join(ndir, key), encoding='utf-8') as handle:
                files[key] = handle.read()
        apt_proxy = os.path.join(fw, 'apt_proxy')
        if args.apt_cache_port:
            files['apt_proxy'] = 'http://10.0.2.2:%d' % args.apt_cache_port
        elif os.path.exists(apt_proxy):
            os.unlink(apt_proxy)
            changed = True
        for name, text in files.items():
            path = os.path.join(fw, name)
            try:
                with open(path, encoding='utf-8') as handle:
                    same = handle.read() == text
            except OSError:
                same = False
            if not same:
                write(path, text, 0o600)
                changed = True
        disk = os.path.join(ndir, 'disk.qcow2')
        if os.path.exists(disk) and overlay_image(disk) != args.image:
            # Left by a lab on an older image; the node is off (a new image is a new lab.json, refused above
            # while a node runs), and booting the old overlay would run the old image's system.
            os.unlink(disk)
        if not os.path.exists(disk):
            run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', args.image, disk])
            changed = True
        with open(os.path.join(ndir, 'ssh_host_ed25519_key.pub'), encoding='utf-8') as handle:
            known.append('[127.0.0.1]:%d %s' % (node['ssh_port'], ' '.join(handle.read().split()[:2])))
    write(os.path.join(lab, 'known_hosts'), '\n'.join(known) + '\n')
    write(os.path.join(lab, 'ssh_config'), ssh_config(lab, config['nodes']))
    return changed


def ssh_config(lab, nodes):
    """`ssh -F lab-state/ssh_config node1`: the nodes by name, key-only, host keys pinned. The checks use it
    too: one multiplexed SSH connection per node answers a command in well under a second, where a command
    run through Ansible costs seconds of an emulated CPU."""
    # %C (a hash of the connection) keeps the socket path short whatever the lab's directory.
    common = ('  HostName 127.0.0.1\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n'
              '  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n'
              '  ControlMaster auto\n  ControlPath /tmp/xenha-lab-%%C\n  ControlPersist 300\n'
              '  ServerAliveInterval 15\n  ServerAliveCountMax 8\n'
              % (os.path.join(lab, 'secrets', 'id_ed25519'), os.path.join(lab, 'known_hosts')))
    return ''.join('Host %s\n  Port %d\n%s' % (node['name'], node['ssh_port'], common) for node in nodes)


def wait_ssh(lab, nodes, timeout):
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending and time.monotonic() < deadline:
        for node in list(pending):
            # No master connection: a booting node's first answer should not be kept open for later commands.
            probe = subprocess.run(
                ['ssh', '-F', os.path.join(lab, 'ssh_config'), '-o', 'ConnectTimeout=3', '-o', 'ControlMaster=no',
                 node['name'], 'true'], capture_output=True, check=False)
            if probe.returncode == 0:
                pending.remove(node)
        if pending:
            time.sleep(2)
    if pending:
        raise SystemExit('labctl: no SSH from %s after %d s; see %s/nodes/<node>/console.log'
                         % (', '.join(n['name'] for n in pending), timeout, lab))


def bmc_pidfile(lab, name):
    return os.path.join(lab, 'run', 'bmc-%s.pid' % name)


def start_bmc(lab, name):
    return start_daemon(bmc_pidfile(lab, name), [sys.executable, LABCTL, '--dir', lab, 'bmc', name],
                        os.path.join(node_dir(lab, name), 'bmc.log'))


def cmd_outage(args):
    """A real power failure of one node: `cut` stops its BMC and then its power (a hard off, no BMC to ask any
    more); `restore` brings the BMC back alone, the node still off, as mains power returning to a server whose
    BMC then waits for a power-on (the cluster's fencing gives it)."""
    if args.state == 'cut':
        changed = stop_bmc_and_power(args.dir, args.node)
    else:
        changed = start_bmc(args.dir, args.node)
    return out(changed=changed)


def stop_bmc_and_power(lab, name):
    changed = stop_pid(bmc_pidfile(lab, name))
    return Node(lab, name).power_off() or changed


def cmd_up(args):
    started = time.monotonic()
    lab = args.dir
    os.makedirs(os.path.join(lab, 'run'), exist_ok=True)
    changed = prepare(args)
    config = load_config(lab)
    changed |= start_switch()
    changed |= start_client(lab)
    if config.get('shared_disk_transport') == 'iscsi':
        changed |= start_san(lab)
    if config.get('apt_cache_port'):
        hosts = sorted({urllib.parse.urlsplit(uri).hostname for uri in host_mirrors().values()})
        changed |= start_daemon(os.path.join(lab, 'run', 'apt-cache.pid'),
                                [sys.executable, LABCTL, '--dir', lab, 'apt-cache',
                                 '--port', str(config['apt_cache_port'])] + ['--allow=' + h for h in hosts],
                                os.path.join(lab, 'apt-cache.log'))
        wait_listening(config['apt_cache_port'], os.path.join(lab, 'apt-cache.log'))
    for node in config['nodes']:
        changed |= start_bmc(lab, node['name'])
    powered = [n for n in config['nodes'] if Node(lab, n['name']).power_on()]
    changed |= bool(powered)
    if args.wait:
        wait_ssh(lab, config['nodes'], args.wait)
    return out(changed=changed, powered_on=[n['name'] for n in powered],
               seconds=round(time.monotonic() - started, 1))


def cmd_down(args):
    lab = args.dir
    changed = False
    if os.path.exists(config_path(lab)):
        config = load_config(lab)
        for node in config['nodes']:
            changed |= Node(lab, node['name']).power_off()
            changed |= stop_pid(bmc_pidfile(lab, node['name']))
    changed |= stop_pid(os.path.join(lab, 'run', 'apt-cache.pid'))
    changed |= stop_pid(os.path.join(lab, 'run', 'tgtd.pid'))
    for name in (NETNS, SAN_NETNS, SWITCH_NETNS):
        if netns_exists(name):
            run(['ip', 'netns', 'delete', name])
            changed = True
    keep = {'cache'} if not args.purge else set()
    if os.path.isdir(lab):
        for name in os.listdir(lab):
            if name not in keep:
                path = os.path.join(lab, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                changed = True
        if args.purge:
            os.rmdir(lab)
    return out(changed=changed)


def cmd_status(args):
    config = load_config(args.dir)
    nodes = {n['name']: {'power': 'on' if Node(args.dir, n['name']).is_on() else 'off',
                         'link': 'cut' if Node(args.dir, n['name']).link_is_cut() else 'up',
                         'ssh_port': n['ssh_port'], 'bmc_port': n['bmc_port'], 'cluster_ip': n['cluster_ip']}
             for n in config['nodes']}
    return out(changed=False, nodes=nodes, client=netns_exists())
