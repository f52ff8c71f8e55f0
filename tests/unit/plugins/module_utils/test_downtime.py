"""The client-side downtime watch of a live migration: endpoints, the gap arithmetic, and a real TCP
service that goes away and comes back."""
from __future__ import annotations

import socket
import time

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._downtime import (
    DowntimeWatch, downtime_ms, parse_endpoints,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError


def test_endpoints_parse_and_bad_ones_name_the_field():
    assert parse_endpoints(['10.0.0.10:80', 'x0.lab:22', '[fd00::10]:8000']) == [
        ('10.0.0.10', 80), ('x0.lab', 22), ('fd00::10', 8000)]
    assert parse_endpoints(None) == []
    for bad in ['10.0.0.10', '10.0.0.10:0', '10.0.0.10:70000', 'a b:80', 'fd00::10:80']:
        with pytest.raises(SpecError) as err:
            parse_endpoints([bad])
        assert err.value.field == 'watch' and 'HOST:PORT' in str(err.value)


def test_downtime_is_the_longest_window_between_answers():
    samples = [{'t': t, 'ok': ok} for t, ok in [(10.0, True), (10.1, False), (10.2, False), (10.35, True),
                                                (10.5, False), (10.55, True)]]
    assert downtime_ms(samples, 10.0, 11.0) == 350
    assert downtime_ms([{'t': 10.0, 'ok': True}], 10.0, 11.0) == 0
    # Still down at the end: counted until the end.
    assert downtime_ms([{'t': 10.0, 'ok': True}, {'t': 10.2, 'ok': False}], 10.0, 12.0) == 2000


def listen(port=0):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
    server.listen(4096)  # never accepted: the backlog must hold every probe of the test
    return server


def test_watch_sees_a_real_service_go_away_and_come_back():
    server = listen()
    port = server.getsockname()[1]
    steady = listen()
    steady_port = steady.getsockname()[1]
    watch = DowntimeWatch([('127.0.0.1', port), ('127.0.0.1', steady_port)], interval=0.02,
                          timeout=0.2).start()
    try:
        time.sleep(0.2)
        server.close()
        time.sleep(0.6)
        server = listen(port)
        time.sleep(0.3)
    finally:
        result = watch.stop()
        server.close()
        steady.close()
    # 0.6 s closed, seen to within a few intervals (each sample is a real connect).
    assert 550 <= result['127.0.0.1:%d' % port] <= 1500, result
    assert result['127.0.0.1:%d' % steady_port] == 0, result
