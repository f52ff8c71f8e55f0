"""The guests' emulated CPUs yield the host to dom0's: which host threads are picked, and their nice set for real."""
from __future__ import annotations

import os
import threading

from lab_script import lab_part

nodes = lab_part('nodes')


def test_every_cpu_but_the_first_is_the_guests_in_any_order():
    cpus = [{'cpu-index': 2, 'thread-id': 302}, {'cpu-index': 0, 'thread-id': 300},
            {'cpu-index': 1, 'thread-id': 301}]
    assert nodes.guest_cpu_threads(cpus) == [301, 302]


def test_a_one_cpu_node_has_no_guest_cpu():
    assert nodes.guest_cpu_threads([{'cpu-index': 0, 'thread-id': 300}]) == []


def test_nice_is_set_on_that_thread_alone():
    ready, done = threading.Event(), threading.Event()
    found = {}

    def worker():
        found['tid'] = threading.get_native_id()
        ready.set()
        done.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        ready.wait(10)
        pid = os.getpid()
        # QEMU names its vCPU threads like this; a ')' in the name must not shift the fields read after it.
        with open('/proc/%d/task/%d/comm' % (pid, found['tid']), 'w', encoding='ascii') as handle:
            handle.write('CPU 1/TCG) x')
        before = nodes.thread_nice(pid, pid)
        nodes.set_thread_nice([found['tid']], min(before + 7, 19))
        assert nodes.thread_nice(pid, found['tid']) == min(before + 7, 19)
        assert nodes.thread_nice(pid, pid) == before
    finally:
        done.set()
        thread.join()
