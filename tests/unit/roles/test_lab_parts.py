"""The lab's parts (roles/lab/files/xenha_lab) one by one, on this machine, without booting a node: processes,
the QMP client against a stand-in QEMU, a node's hard power-off, the image recipe, the lab's files, the iSCSI
target's programs and the command line."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import pytest
from lab_script import ROLES, lab_part

common = lab_part('common')
images = lab_part('images')
nodes = lab_part('nodes')
network = lab_part('network')
san = lab_part('san')
lab = lab_part('lab')
LABCTL = os.path.join(ROLES, 'lab', 'files', 'labctl.py')


def sleeper(tmp_path, name='sleeper.pid'):
    pidfile = str(tmp_path / name)
    assert common.start_daemon(pidfile, ['sleep', '60'], str(tmp_path / 'sleeper.log'))
    return pidfile


def test_a_daemon_is_started_once_and_stopped(tmp_path):
    pidfile = sleeper(tmp_path)
    assert common.pid_alive(pidfile)
    assert not common.start_daemon(pidfile, ['sleep', '60'], str(tmp_path / 'sleeper.log'))
    assert common.stop_pid(pidfile) and not os.path.exists(pidfile)
    assert not common.stop_pid(pidfile)


def fake_qemu(path, replies):
    """A QMP server for one connection: greeting, capabilities, then an event before each reply."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    seen = []

    def serve():
        conn = server.accept()[0]
        stream = conn.makefile('rw', encoding='utf-8')
        stream.write(json.dumps({'QMP': {'version': {}}}) + '\n')
        stream.flush()
        for reply in [{'return': {}}] + replies:
            seen.append(json.loads(stream.readline()))
            stream.write(json.dumps({'event': 'NIC_RX_FILTER_CHANGED', 'data': {}}) + '\n')
            stream.write(json.dumps(reply) + '\n')
            stream.flush()
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return seen, thread


def test_qmp_negotiates_skips_events_and_returns_the_reply(tmp_path):
    path = str(tmp_path / 'qmp.sock')
    seen, thread = fake_qemu(path, [{'return': [{'cpu-index': 0, 'thread-id': 7}]}])
    assert nodes.qmp(path, 'query-cpus-fast') == {'return': [{'cpu-index': 0, 'thread-id': 7}]}
    thread.join(5)
    assert seen == [{'execute': 'qmp_capabilities'}, {'execute': 'query-cpus-fast'}]


def test_qmp_passes_arguments(tmp_path):
    path = str(tmp_path / 'qmp.sock')
    seen, thread = fake_qemu(path, [{'return': {}}])
    nodes.qmp(path, 'set_link', {'name': 'cluster', 'up': False})
    thread.join(5)
    assert seen[1] == {'execute': 'set_link', 'arguments': {'name': 'cluster', 'up': False}}


def test_losing_the_shared_disk_drops_its_drive_and_reports_qemu_s_complaint(tmp_path, monkeypatch):
    write_config(str(tmp_path), shared_disk_transport='virtio')
    node = nodes.Node(str(tmp_path), 'node1')
    monkeypatch.setattr(node, 'is_on', lambda: True)
    seen, thread = fake_qemu(node.qmp_sock, [{'return': ''}])
    node.lose_shared_disk()
    thread.join(5)
    assert seen[1] == {'execute': 'human-monitor-command', 'arguments': {'command-line': 'drive_del shared'}}
    os.unlink(node.qmp_sock)
    seen, thread = fake_qemu(node.qmp_sock, [{'return': "Device 'shared' not found\r\n"}])
    with pytest.raises(SystemExit, match="drive_del shared on node1: Device 'shared' not found"):
        node.lose_shared_disk()
    thread.join(5)


def test_losing_the_shared_disk_is_refused_on_the_iscsi_transport(tmp_path):
    write_config(str(tmp_path), shared_disk_transport='iscsi')
    with pytest.raises(SystemExit, match='needs the virtio shared disk'):
        nodes.Node(str(tmp_path), 'node1').lose_shared_disk()


def write_config(lab_dir, **config):
    os.makedirs(os.path.join(lab_dir, 'nodes', 'node1'), exist_ok=True)
    config = dict({'nodes': [{'name': 'node1', 'index': 1, 'ssh_port': 22101, 'bmc_port': 6231,
                              'cluster_ip': '10.0.0.1'}], 'memory_mib': 2048, 'vcpus': 2}, **config)
    with open(os.path.join(lab_dir, 'lab.json'), 'w', encoding='utf-8') as handle:
        json.dump(config, handle)


def test_a_hard_power_off_kills_a_qemu_that_does_not_answer_qmp(tmp_path):
    write_config(str(tmp_path))
    node = nodes.Node(str(tmp_path), 'node1')
    common.start_daemon(node.pidfile, ['sleep', '60'], str(tmp_path / 'qemu.log'))
    assert node.is_on()
    assert node.power_off(grace=0.2)  # no QMP socket: the plug is pulled (SIGKILL)
    assert not node.is_on() and not os.path.exists(node.pidfile)
    assert not node.power_off()


def test_a_power_failure_takes_the_bmc_with_the_node_and_brings_back_the_bmc_alone(tmp_path, monkeypatch):
    lab_dir = str(tmp_path)
    write_config(lab_dir)
    os.makedirs(os.path.join(lab_dir, 'run'))
    node = nodes.Node(lab_dir, 'node1')
    common.start_daemon(node.pidfile, ['sleep', '60'], str(tmp_path / 'qemu.log'))
    monkeypatch.setattr(lab, 'start_bmc', lambda where, name: common.start_daemon(
        lab.bmc_pidfile(where, name), ['sleep', '60'], str(tmp_path / 'bmc.log')))
    assert lab.start_bmc(lab_dir, 'node1')
    assert lab.stop_bmc_and_power(lab_dir, 'node1')
    assert not node.is_on() and not common.pid_alive(lab.bmc_pidfile(lab_dir, 'node1'))
    assert lab.start_bmc(lab_dir, 'node1')    # restore: the BMC answers again, the node stays off
    assert common.pid_alive(lab.bmc_pidfile(lab_dir, 'node1')) and not node.is_on()
    common.stop_pid(lab.bmc_pidfile(lab_dir, 'node1'))


def test_the_image_recipe_names_the_image():
    before = images.image_inputs('preloaded', 'http://deb.example/debian')
    assert images.image_inputs('plain', 'http://deb.example/debian') != before
    assert images.image_inputs('preloaded', 'http://other.example/debian') != before
    assert images.image_inputs('preloaded', 'http://deb.example/debian') == before


def test_the_node_image_builds_its_later_initramfs_for_its_own_hardware_only(tmp_path, monkeypatch):
    """The image's own initramfs is built for any hardware (the packages install before the setting);
    the nodes' later builds, for a kernel upgrade, only for the emulated hardware they run on."""
    root = tmp_path / 'rootfs'
    setting = root / 'etc/initramfs-tools/conf.d/xenha-lab-modules'
    installs = []

    def fake_run(argv, **kwargs):
        if argv[0] == 'debootstrap':
            for folder in ('boot', 'usr/lib/grub/i386-pc', 'etc/ssh', 'etc/apt', 'usr/sbin', 'proc'):
                (root / folder).mkdir(parents=True, exist_ok=True)
            (root / 'boot/vmlinuz-6.1.0-1-amd64').write_text('')

    def fake_chroot(where, command):
        if 'apt-get install' in command:
            installs.append(setting.exists())

    monkeypatch.setattr(images, 'run', fake_run)
    monkeypatch.setattr(images, 'chroot', fake_chroot)
    images.build_rootfs(str(root), 'preloaded', 'http://deb.example/debian',
                        'http://security.example/debian-security', str(tmp_path / 'debs'))
    assert installs == [False]
    assert setting.read_text() == 'MODULES=dep\n'


def stub_image_build(tmp_path, monkeypatch):
    """cmd_image's arguments for a lab in tmp_path, with the build itself stubbed out."""
    monkeypatch.setattr(images, 'build_rootfs', lambda *args: None)
    monkeypatch.setattr(images, 'assemble_disk', lambda root, image, workdir: open(image, 'wb').close())
    monkeypatch.setattr(images, 'out', lambda **result: result)
    return type('Args', (), {'dir': str(tmp_path), 'flavour': 'preloaded', 'mirror': 'http://deb.example/debian',
                             'security_mirror': 'http://security.example/debian-security'})


def two_old_images(tmp_path):
    folder = tmp_path / 'cache' / 'images'
    folder.mkdir(parents=True)
    images_built = folder / 'preloaded-0000000000aa.img', folder / 'preloaded-0000000000bb.img'
    for old in images_built:
        old.write_bytes(b'old')
    return images_built


def test_a_new_image_build_keeps_the_one_a_running_lab_boots_from(tmp_path, monkeypatch):
    """A fenced node powers on from its overlay: the image under it must survive a newer build."""
    in_use, stale = two_old_images(tmp_path)
    (tmp_path / 'lab.json').write_text(json.dumps({'image': str(in_use)}))
    args = stub_image_build(tmp_path, monkeypatch)
    built = images.cmd_image(args)
    assert built['changed'] and os.path.exists(built['image'])
    assert in_use.exists() and not stale.exists()
    (tmp_path / 'lab.json').unlink()  # the lab down: the next build may remove it
    monkeypatch.setattr(images, 'image_inputs', lambda flavour, mirror: 'ffffffffffff')
    images.cmd_image(args)
    assert not in_use.exists()


def test_a_new_image_build_keeps_the_one_a_saved_lab_boots_from(tmp_path, monkeypatch):
    kept, stale = two_old_images(tmp_path)
    saved = tmp_path / 'cache' / 'saved' / 'converged'
    saved.mkdir(parents=True)
    (saved / 'lab.json').write_text(json.dumps({'image': str(kept)}))
    args = stub_image_build(tmp_path, monkeypatch)
    images.cmd_image(args)
    assert kept.exists() and not stale.exists()


def test_the_controller_s_mirrors_are_found_in_deb822_and_one_line_sources(tmp_path, monkeypatch):
    sources = tmp_path / 'sources.list.d'
    sources.mkdir()
    (sources / 'debian.sources').write_text('Types: deb\nURIs: http://mirror.example/debian\n'
                                            'Suites: bookworm bookworm-updates\nComponents: main\n\n'
                                            'Types: deb\nURIs: http://mirror.example/debian-security\n'
                                            'Suites: bookworm-security\nComponents: main\n')
    real_isdir, real_listdir, real_open = os.path.isdir, os.listdir, open
    monkeypatch.setattr(images.os.path, 'isdir', lambda p: True if p == '/etc/apt/sources.list.d' else real_isdir(p))
    monkeypatch.setattr(images.os, 'listdir',
                        lambda p: real_listdir(str(sources)) if p == '/etc/apt/sources.list.d' else real_listdir(p))

    def fake_open(path, *args, **kwargs):
        if path == '/etc/apt/sources.list':
            raise FileNotFoundError(path)
        if path.startswith('/etc/apt/sources.list.d/'):
            path = str(sources / os.path.basename(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr('builtins.open', fake_open)
    assert images.host_mirrors() == {'main': 'http://mirror.example/debian',
                                     'security': 'http://mirror.example/debian-security'}


@pytest.mark.skipif(not all(os.path.exists('/usr/bin/' + p) for p in ('ssh-keygen', 'qemu-img')),
                    reason='ssh-keygen and qemu-img make the lab files; `make test` installs both')
def test_the_lab_s_files_are_written_once(tmp_path):
    image = tmp_path / 'node.img'
    image.write_bytes(b'\0' * 1024 * 1024)
    args = type('Args', (), dict(dir=str(tmp_path / 'lab'), nodes=2, memory=2048, vcpus=2, flavour='preloaded',
                                 image=str(image), shared_disk=16, shared_disk_transport='virtio', apt_cache_port=0,
                                 guest_cpu_nice=10, ssh_base_port=22100, bmc_base_port=6230))
    assert lab.prepare(args)
    config = nodes.load_config(args.dir)
    assert [n['cluster_ip'] for n in config['nodes']] == ['10.0.0.1', '10.0.0.2']
    assert oct(os.stat(os.path.join(args.dir, 'secrets', 'bmc-password')).st_mode & 0o777) == '0o600'
    with open(os.path.join(args.dir, 'nodes', 'node2', 'fw', 'hosts'), encoding='utf-8') as handle:
        assert '10.0.0.2 node2' in handle.read()
    assert not lab.prepare(args)   # a second run changes nothing
    args.memory = 4096
    assert lab.prepare(args)       # new settings are written while the lab is down
    disk = os.path.join(args.dir, 'nodes', 'node1', 'disk.qcow2')
    assert lab.overlay_image(disk) == str(image)
    newer = tmp_path / 'newer.img'
    newer.write_bytes(b'\0' * 1024 * 1024)
    args.image = str(newer)
    assert lab.prepare(args)       # a new image: the nodes boot it, not the overlays of the old one
    assert [lab.overlay_image(os.path.join(args.dir, 'nodes', n, 'disk.qcow2')) for n in ('node1', 'node2')] \
        == [str(newer)] * 2


def test_the_iscsi_target_programs_are_the_host_s_or_the_lab_s_cached_copy(tmp_path):
    cached = tmp_path / 'cache' / 'tgt' / 'usr' / 'sbin'
    cached.mkdir(parents=True)
    (cached / 'tgtd').write_text('')
    (cached / 'tgtadm').write_text('')
    tgtd, tgtadm = san.tgt_programs(str(tmp_path))
    if os.path.exists('/usr/sbin/tgtd') and os.path.exists('/usr/sbin/tgtadm'):
        assert (tgtd, tgtadm) == ('/usr/sbin/tgtd', '/usr/sbin/tgtadm')
    else:
        assert (tgtd, tgtadm) == (str(cached / 'tgtd'), str(cached / 'tgtadm'))


def test_the_lab_s_namespaces_are_named_apart():
    assert len({network.NETNS, san.SAN_NETNS, network.SWITCH_NETNS}) == 3
    assert network.CLIENT_ADDRESS != san.SAN_ADDRESS
    assert network.netns_exists('xenha-lab-no-such-namespace') is False


def test_the_command_prints_one_json_result_and_sends_the_rest_to_stderr(tmp_path):
    done = subprocess.run([sys.executable, LABCTL, '--dir', str(tmp_path), 'mirrors', '--mirror', 'http://m.example/d',
                           '--security-mirror', 'http://m.example/s'], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {'changed': False, 'main': 'http://m.example/d', 'security': 'http://m.example/s'}
    refused = subprocess.run([sys.executable, LABCTL, 'status'], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and '--dir' in refused.stderr


def test_a_link_restored_while_the_node_is_off_needs_no_qemu(tmp_path, monkeypatch):
    # A fenced node is off when the drill gives its link back: that must not fail for want of QMP.
    write_config(str(tmp_path))
    node = nodes.Node(str(tmp_path), 'node1')
    monkeypatch.setattr(node, 'is_on', lambda: False)
    assert node.set_link(False) is True and node.link_is_cut()
    assert node.set_link(False) is False
    assert node.set_link(True) is True and not node.link_is_cut()
    assert node.set_link(True) is False


def test_a_cut_link_stays_cut_across_a_power_on(tmp_path, monkeypatch):
    write_config(str(tmp_path))
    os.makedirs(tmp_path / 'nodes' / 'node1' / 'fw')
    node = nodes.Node(str(tmp_path), 'node1')
    monkeypatch.setattr(node, 'is_on', lambda: False)
    node.set_link(False)
    powered = []
    monkeypatch.setattr(nodes, 'run', lambda argv, **kwargs: powered.append(argv[0]))
    monkeypatch.setattr(nodes, 'plug_tap', lambda tap: None)
    seen, thread = fake_qemu(node.qmp_sock, [{'return': {}}])
    assert node.power_on() is True
    thread.join(5)
    assert powered == ['qemu-system-x86_64']
    assert seen[1] == {'execute': 'set_link', 'arguments': {'name': 'cluster', 'up': False}}


def test_a_node_with_its_link_up_powers_on_without_touching_it(tmp_path, monkeypatch):
    write_config(str(tmp_path))
    os.makedirs(tmp_path / 'nodes' / 'node1' / 'fw')
    node = nodes.Node(str(tmp_path), 'node1')
    monkeypatch.setattr(node, 'is_on', lambda: False)
    monkeypatch.setattr(nodes, 'run', lambda argv, **kwargs: None)
    monkeypatch.setattr(nodes, 'plug_tap', lambda tap: None)
    monkeypatch.setattr(nodes, 'qmp', lambda *args: pytest.fail('QMP asked: %s' % (args,)))
    assert node.power_on() is True
