"""The guest module against real Xen on node1, with a scratch guest t0 whose disks are LVs on the
shared storage: define, check mode, grow, refused shrink, MAC clash, start, live memory, graceful
stop, absent with and without its disks. Each step checks what libvirt, xl and LVM say afterwards."""
from __future__ import annotations

import json

import pytest

from labtools import ModuleFailed, lab_host, probe, run_module, wait_for

testinfra_hosts = ['node1']
NAME = 't0'
# The root disk from test_grow_a_disk on: every later declaration gives its size, as a playbook would.
GROWN = {'size': '3G'}


def image_id(host):
    tags = host.check_output("lvs --noheadings -o lv_name vg_guests | awk '/golden-/ {print $1}'")
    return tags.split('golden-', 1)[1].split()[0]


def t0(host, **overrides):
    image = image_id(host)
    args = dict(name=NAME, state='present', memory='128M', max_memory='192M', vcpus=1,
                kernel='/var/lib/xenha/boot/vmlinuz-%s' % image, initrd='/var/lib/xenha/boot/initrd-%s' % image,
                cmdline='root=/dev/xvda ro console=hvc0 net.ifnames=0', cpu_disable_features=['rdtscp'],
                storage_vg='vg_guests', root_disk={'size': '2G'}, swap={'size': '128M'},
                interfaces=[{'bridge': 'xenbr0', 'ip': '10.0.0.19/24'}], services=['ssh'], shutdown_timeout=180)
    args.update(overrides)
    return args


def guest(host, check=False, **overrides):
    return run_module('node1', 'xenha.datacenter.guest', json.dumps(t0(host, **overrides)), check=check)


def lv_mib(host, lv):
    return float(host.check_output('lvs --noheadings --units m --nosuffix -o lv_size vg_guests/%s' % lv))


def domstate(host):
    result = host.run('virsh -c xen:///system domstate %s' % NAME)
    return result.stdout.strip() if result.rc == 0 else 'undefined'


@pytest.fixture(scope='module')
def node1():
    host = lab_host('node1')
    yield host
    host.run('virsh -c xen:///system destroy %s; virsh -c xen:///system undefine %s; '
             'lvremove -y vg_guests/%s-root vg_guests/%s-swap' % (NAME, NAME, NAME, NAME))


def test_define_then_no_op(node1):
    first = guest(node1)
    assert first['changed'] and domstate(node1) == 'shut off'
    assert lv_mib(node1, 't0-root') == 2048 and lv_mib(node1, 't0-swap') == 128
    assert not guest(node1)['changed']


def test_check_mode_reports_and_changes_nothing(node1):
    result = guest(node1, check=True, root_disk={'size': '3G'})
    assert result['changed'] and 'disk root: grow 2G -> 3G' in result['changes']
    assert lv_mib(node1, 't0-root') == 2048


def test_grow_a_disk(node1):
    assert 'disk root: grow 2G -> 3G' in guest(node1, root_disk=GROWN)['changes']
    assert lv_mib(node1, 't0-root') == 3072


def test_shrink_is_refused_and_nothing_changes(node1):
    with pytest.raises(ModuleFailed) as err:
        guest(node1, root_disk={'size': '2G'})
    assert err.value.result['field'] == 'root_disk.size' and 'never shrunk' in err.value.result['msg']
    assert lv_mib(node1, 't0-root') == 3072


def test_mac_clash_is_refused(node1):
    mac = node1.check_output("virsh -c xen:///system domiflist %s | awk '/xenbr0/ {print $5}'" % NAME)
    with pytest.raises(ModuleFailed) as err:
        args = t0(node1, name='t1', interfaces=[{'mac': mac}], root_disk={'size': '1G'}, swap=None)
        run_module('node1', 'xenha.datacenter.guest', json.dumps(args))
    assert err.value.result['field'] == 'interfaces[0].mac' and 'already used by guest t0' in err.value.result['msg']
    assert node1.run('virsh -c xen:///system dominfo t1').rc != 0
    assert node1.run('lvs vg_guests/t1-root').rc != 0


def test_start_then_change_memory_live(node1):
    # A real Debian on the root disk, from the golden image, so that a graceful shutdown works.
    image = image_id(node1)
    # No authorised key: nobody needs to log in to the scratch guest.
    node1.check_output('/usr/local/sbin/xenha-provision-guest vg_guests golden-%s t0 %s 10.0.0.19/24 ""'
                       % (image, image))
    node1.check_output('lvchange -aey vg_guests/t0-root vg_guests/t0-swap')
    result = guest(node1, state='running', root_disk=GROWN)
    assert result['changed'] and domstate(node1) == 'running'
    assert 'memory: 128M -> 160M (live)' in guest(node1, state='running', memory='160M', root_disk=GROWN)['changes']
    # The balloon driver claims the memory at its own pace under emulation.
    wait_for('t0 to reach 160 MiB', lambda: int(node1.check_output("xl list t0 | awk 'NR==2 {print $3}'")) == 160,
             120, interval=5)


def test_graceful_stop(node1):
    # A stop request to a guest still booting waits for its boot (on the lab: minutes, more than the
    # scratch guest's stop timeout). Stop it booted, as an operator would: once its sshd answers the client.
    booted = [{'name': NAME, 'address': '10.0.0.19', 'services': ['ssh']}]
    wait_for('t0 to answer SSH', lambda: probe(booted)['all_ok'], 600, interval=15)
    result = guest(node1, state='stopped', memory='160M', root_disk=GROWN)
    assert result['changed'] and domstate(node1) == 'shut off'


def test_absent_keeps_disks_unless_asked(node1):
    assert guest(node1, state='absent', root_disk=GROWN)['changed']
    assert domstate(node1) == 'undefined' and lv_mib(node1, 't0-root') == 3072
    guest(node1, memory='160M', root_disk=GROWN)
    assert guest(node1, state='absent', remove_disks=True, root_disk=GROWN)['changed']
    assert node1.run('lvs vg_guests/t0-root').rc != 0 and node1.run('lvs vg_guests/t0-swap').rc != 0
