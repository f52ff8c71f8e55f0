"""The one helper that reaches the lab, for the molecule checks and the benchmarks: its paths, its nodes (over
SSH with the lab's ssh_config, or through Ansible), the cluster's view, power and links, waits, modules run
through the lab inventory, and playbooks. Linked as `labtools.py` from every scenario's tests directory and
from benchmarks/."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

import testinfra

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
LAB_DIR = os.environ.get('XENHA_LAB_DIR') or os.path.join(ROOT, 'lab-state')
LABCTL = os.path.join(ROOT, 'roles', 'lab', 'files', 'labctl.py')
SSH_CONFIG = os.path.join(LAB_DIR, 'ssh_config')
MEMBERS = ['node1', 'node2']
# The lab inventory's guests: preferred node, address, services.
GUESTS = {
    'x0': ('node1', '10.0.0.10', ['dhcp', 'http', 'icecast', 'ssh']),
    'x1': ('node2', '10.0.0.11', ['nx', 'bzflag', 'ssh']),
}
# A busy emulated node can take tens of seconds to accept a connection.
CONNECT_TIMEOUT = 60
PLAY_STARTS = {}  # play name -> monotonic time its first line appeared (last playbook() run)


# ---------------------------------------------------------------- reaching nodes and hosts

def node_hosts(names):
    """testinfra_hosts for these nodes, over SSH with the lab's ssh_config: a command answers in well under
    a second this way; run through Ansible it costs seconds of an emulated CPU."""
    return ['ssh://%s?ssh_config=%s&timeout=%d' % (name, quote(SSH_CONFIG), CONNECT_TIMEOUT) for name in names]


def node(name):
    """A node over SSH with the lab's ssh_config."""
    return testinfra.get_host('ssh://%s' % name, ssh_config=SSH_CONFIG, timeout=CONNECT_TIMEOUT)


def inventory():
    """The inventory molecule made for the scenario, else the lab's own."""
    made = os.environ.get('MOLECULE_INVENTORY_FILE')
    return os.path.dirname(made) if made else os.path.join(ROOT, 'inventories', 'lab', 'hosts.yml')


def lab_host(name):
    """Any host of the lab inventory (a guest, the client, a node) through Ansible."""
    return testinfra.get_host('ansible://%s?force_ansible=True' % name, ansible_inventory=inventory())


def on_node(name, command, check=False, timeout=None):
    """A shell command as root on a lab node; the CompletedProcess (exit status 255, as SSH's own failures,
    when it outlasts `timeout` seconds)."""
    argv = ['ssh', '-F', SSH_CONFIG, name, command]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess(argv, 255, '', 'no answer within %s s' % timeout)
    if check and done.returncode != 0:
        raise SystemExit('%s: `%s` failed: %s' % (name, command, (done.stderr or done.stdout)[-2000:]))
    return done


def node_bandwidth_mb_s(sender, receiver, mib=128, port=5999):
    """TCP bandwidth of the cluster network between two dom0s, raw sockets, `mib` MiB from `sender` to
    `receiver` (by its name, which the nodes resolve to its cluster address); MB/s."""
    listen = ("python3 -c \"import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
              " s.bind(('0.0.0.0', %d)); s.listen(1); c, _ = s.accept();"
              " exec('while c.recv(1 << 20): pass')\"" % port)
    on_node(receiver, 'nohup timeout 300 %s >/dev/null 2>&1 &' % listen, check=True)
    time.sleep(2)
    send = ("python3 -c \"import socket, time; s=socket.create_connection(('%s', %d)); b=bytes(1 << 20);"
            " t=time.monotonic(); [s.sendall(b) for _ in range(%d)]; s.close(); print(time.monotonic()-t)\""
            % (receiver, port, mib))
    seconds = float(on_node(sender, send, check=True).stdout.strip())
    return mib * 1.048576 / seconds


def console_tail(name, lines=40):
    """The last non-blank lines of a node's serial console as text (colours and progress redraws removed), for
    a failure message."""
    try:
        with open(os.path.join(LAB_DIR, 'nodes', name, 'console.log'), encoding='utf-8', errors='replace') as handle:
            raw = handle.read()[-200000:]
    except OSError as error:
        return '(no console: %s)' % error
    text = re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', raw)
    shown = [line.split('\r')[-1].rstrip() for line in text.split('\n')]
    return '\n'.join([line for line in shown if line.strip()][-lines:])


# ---------------------------------------------------------------- the cluster's view

def online(host):
    """The members crm_mon shows online."""
    xml = host.check_output('crm_mon --one-shot --output-as=xml')
    return sorted(re.findall(r'<node name="([^"]+)"[^>]* online="true"', xml))


def guest_placement(host):
    """{guest: [nodes it is active on]} from crm_mon."""
    xml = host.check_output('crm_mon --one-shot --output-as=xml')
    placement = {}
    for rid, body in re.findall(r'<resource id="guest_([^"]+)"[^>]*?(?:/>|>(.*?)</resource>)', xml, re.S):
        placement[rid] = re.findall(r'<node name="([^"]+)"', body or '')
    return placement


def wait_for(what, check, timeout, interval=10):
    """Poll `check` until it returns a truthy value; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, 'timed out after %d s waiting for %s (last: %r)' % (timeout, what, value)
            return value
        time.sleep(interval)


# ---------------------------------------------------------------- power and links

def labctl(*args):
    """labctl.py on this lab; its JSON result."""
    done = subprocess.run([sys.executable, LABCTL, '--dir', LAB_DIR] + list(args), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError('labctl %s failed:\n%s' % (' '.join(args), done.stderr[-2000:]))
    return json.loads(done.stdout)


def qemu_pid(name):
    """The node's QEMU process, or None while it is powered off (the BMC removes the file)."""
    try:
        with open(os.path.join(LAB_DIR, 'nodes', name, 'qemu.pid'), encoding='ascii') as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def cut_off_until_fenced_and_back(lost, members, observer='node1', timeout=600):
    """Take `lost`'s cluster link down; return the seconds until its power cycle (a new QEMU) and until
    `observer` sees every member online again. The link is restored once the fencing is seen: a cut link
    stays cut across a power cycle, like a cable."""
    pid_before = qemu_pid(lost)
    started = time.monotonic()
    labctl('link', lost, 'down')
    fenced = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if qemu_pid(lost) != pid_before:
            fenced = time.monotonic() - started
            break
        time.sleep(2)
    labctl('link', lost, 'up')
    assert fenced is not None, '%s was not fenced within %d s of losing its link' % (lost, timeout)
    survivor = lab_host(observer).check_output('corosync-quorumtool -s')
    assert 'Quorate:          Yes' in survivor, survivor
    history = lab_host(observer).check_output('stonith_admin --history %s' % lost)
    assert lost in history and ('successful' in history or 'was able to' in history), history
    rejoined = None
    while time.monotonic() < deadline + timeout:
        try:
            if online(lab_host(observer)) == members:
                rejoined = time.monotonic() - started
                break
        except AssertionError:  # a busy node can fail one crm_mon call
            pass
        time.sleep(5)
    assert rejoined is not None, '%s did not rejoin by itself' % lost
    return fenced, rejoined


# ---------------------------------------------------------------- modules and playbooks

class ModuleFailed(Exception):
    """A module run that failed; `result` is what the module returned (msg, field, ...)."""

    def __init__(self, result):
        super().__init__(result.get('msg', result))
        self.result = result


def run_module(name, module, args, check=False):
    """Run one module on one host of the lab inventory through Ansible; its result, or ModuleFailed.
    testinfra's host.ansible() cannot tell a failed module from a successful one with ansible-core 2.19 (the
    result its `ansible --tree` run reads back has no "failed" key any more), so Ansible's exit status decides."""
    with tempfile.TemporaryDirectory() as tree:
        proc = subprocess.run(['ansible', '-i', inventory(), name, '-m', module, '-a', args, '--tree', tree]
                              + (['--check'] if check else []), cwd=ROOT, capture_output=True, text=True,
                              check=False)
        try:
            with open(os.path.join(tree, name), encoding='utf-8') as handle:
                result = json.load(handle)
        except FileNotFoundError:
            result = {'msg': proc.stdout + proc.stderr}
    if proc.returncode != 0 or result.get('failed') or result.get('unreachable'):
        raise ModuleFailed(result)
    return result


def ansible(name, module, args, background=False):
    """An ad-hoc module call (args: a dict) on a host of the lab inventory; the module's result with `rc_ok`
    (Ansible's exit status), or, in the background (up to 2 h), the async job's."""
    command = ['ansible', '-i', inventory(), name, '-m', module, '-a', json.dumps(args), '-o']
    if background:
        command += ['-B', '7200', '-P', '0']
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    match = re.search(r'=> (\{.*\})\s*$', done.stdout, re.S)
    result = json.loads(match.group(1)) if match else {'failed': True, 'msg': done.stdout + done.stderr}
    result['rc_ok'] = done.returncode == 0
    return result


def probe(targets, **options):
    """Run the probe module on the lab's client (the user's vantage point)."""
    # Nested guests under emulation answer slowly (seconds for an SSH banner): a generous timeout.
    options.setdefault('timeout', 15)
    args = dict(targets=targets, dhcp_interface='lab0', **options)
    return run_module('client', 'xenha.datacenter.probe', json.dumps(args))


def all_targets():
    return [{'name': g, 'address': ip, 'services': services} for g, (_pref, ip, services) in GUESTS.items()]


def services_answer(targets):
    """True when the probe module on the lab's client gets an answer from every service of targets."""
    return ansible('client', 'xenha.datacenter.probe', {'targets': targets, 'dhcp_interface': 'lab0'}).get('all_ok') is True


def playbook(*args):
    """Run ansible-playbook from the checkout, echoing its output; returns (seconds, {host: changed count})."""
    started = time.monotonic()
    proc = subprocess.Popen(['ansible-playbook'] + list(args), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        sys.stderr.write(line)  # progress for whoever watches a run that takes tens of minutes
        play = re.match(r'PLAY \[(.*)\]', line)
        if play:
            PLAY_STARTS[play.group(1)] = time.monotonic()
    output = ''.join(lines)
    if proc.wait() != 0:
        raise SystemExit('ansible-playbook %s failed:\n%s' % (' '.join(args), output[-3000:]))
    recap = re.finditer(r'^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)', output, re.M)
    changed = {m.group(1): int(m.group(2)) for m in recap}
    return time.monotonic() - started, changed
