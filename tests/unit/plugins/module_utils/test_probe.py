"""User-side probes against small local servers that answer like (or unlike) the real services."""
from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from ansible_collections.xenha.datacenter.plugins.module_utils._probe import (
    dhcp_discover, parse_dhcp_reply, per_service_seconds, run_probe,
)
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError


def serve_once(reply, expect=0, linger=0):
    """A one-connection TCP server on 127.0.0.1: reads `expect` bytes (None: an HTTP request's
    headers), then sends `reply`."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)

    def answer():
        conn, _peer = server.accept()
        with conn:
            got = b''
            while (b'\r\n\r\n' not in got) if expect is None else (len(got) < expect):
                got += conn.recv(4096 if expect is None else expect - len(got))
            conn.sendall(reply)
            time.sleep(linger)
        server.close()

    threading.Thread(target=answer, daemon=True).start()
    return server.getsockname()[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_ssh_banner_is_recognised():
    port = serve_once(b'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n')
    result = run_probe('ssh', 'ssh', '127.0.0.1', port, 2)
    assert result.ok and result.detail.startswith('SSH-2.0-OpenSSH')


def test_something_else_on_the_ssh_port_is_down():
    port = serve_once(b'220 smtp ready\r\n')
    result = run_probe('ssh', 'ssh', '127.0.0.1', port, 2)
    assert not result.ok and 'no SSH banner' in result.detail


def test_closed_port_is_down_not_an_exception():
    result = run_probe('http', 'http', '127.0.0.1', free_port(), 2)
    assert not result.ok and 'ConnectionRefused' in result.detail


def test_http_reports_the_node_that_served_the_page():
    body = b'<p>Running on <b id="node">node2</b></p>'
    port = serve_once(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' % (len(body), body), expect=None)
    result = run_probe('http', 'http', '127.0.0.1', port, 2)
    assert result.ok and result.detail == 'HTTP 200, served from node2'


def test_http_error_status_is_down():
    port = serve_once(b'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', expect=None)
    result = run_probe('http', 'http', '127.0.0.1', port, 2)
    assert not result.ok and 'HTTP 503' in result.detail


def test_stream_that_stops_is_down():
    port = serve_once(b'HTTP/1.0 200 OK\r\nContent-Type: application/ogg\r\n\r\nOggS' + bytes(100), expect=None)
    result = run_probe('icecast', 'stream', '127.0.0.1', port, 2, seconds=1.0)
    assert not result.ok and 'stream ended after 104 bytes' in result.detail


def test_stalled_stream_is_down():
    port = serve_once(b'HTTP/1.0 200 OK\r\nContent-Type: application/ogg\r\n\r\nOggS', expect=None, linger=3)
    result = run_probe('icecast', 'stream', '127.0.0.1', port, 1, seconds=2.0)
    assert not result.ok and 'timed out' in result.detail


def test_rdp_connection_confirm():
    port = serve_once(bytes.fromhex('0300000b06d00000123400'), expect=19)
    assert run_probe('nx', 'rdp', '127.0.0.1', port, 2).ok


def test_bzflag_server_reply():
    port = serve_once(b'BZFS0221\x00', expect=10)
    result = run_probe('bzflag', 'bzflag', '127.0.0.1', port, 2)
    assert result.ok and result.detail == 'protocol BZFS0221'


def test_dhcp_discover_asks_for_a_broadcast_offer():
    packet = dhcp_discover(b'\x02\x00\x00\x00\x00\x01', 0x1234)
    assert packet[0] == 1 and struct.unpack_from('!I', packet, 4)[0] == 0x1234
    assert struct.unpack_from('!H', packet, 10)[0] == 0x8000
    assert packet[236:243] == bytes([99, 130, 83, 99, 53, 1, 1])


def offer(xid, yiaddr, server, kind=2):
    head = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 2, 1, 6, 0, xid, 0, 0x8000, bytes(4),
                       socket.inet_aton(yiaddr), bytes(4), bytes(4), bytes(16), bytes(64), bytes(128))
    return head + bytes([99, 130, 83, 99, 53, 1, kind, 54, 4]) + socket.inet_aton(server) + bytes([255])


def test_dhcp_offer_is_parsed():
    assert parse_dhcp_reply(offer(7, '10.0.0.100', '10.0.0.10'), 7) == (2, '10.0.0.100', '10.0.0.10')


@pytest.mark.parametrize('packet', [offer(8, '10.0.0.100', '10.0.0.10'), b'short', offer(7, '1.2.3.4', '5.6.7.8')[:200]])
def test_other_transactions_and_garbage_are_ignored(packet):
    assert parse_dhcp_reply(packet, 7) is None


def test_counter_reads_count_start_and_boot():
    port = serve_once(b'1234 1200 a1b2c3d4\n')
    result = run_probe('counter', 'counter', '127.0.0.1', port, 2)
    assert result.ok and result.detail == 'count=1234 resumed=1200 boot=a1b2c3d4'


def test_something_else_on_the_counter_port_is_down():
    port = serve_once(b'hello\n')
    assert not run_probe('counter', 'counter', '127.0.0.1', port, 2).ok


def test_per_service_seconds_override_the_default_for_the_services_named():
    interval_of = per_service_seconds(1.0, {'ssh': 5, 'http': '2.5'}, 'intervals')
    assert interval_of('ssh') == 5.0
    assert interval_of('http') == 2.5
    assert interval_of('counter') == 1.0


@pytest.mark.parametrize('bad', [0, -1, 'often', None])
@pytest.mark.parametrize('field', ['intervals', 'timeouts'])
def test_per_service_seconds_refuse_a_bad_value_naming_the_field_and_service(bad, field):
    with pytest.raises(SpecError) as err:
        per_service_seconds(1.0, {'ssh': bad}, field)
    assert err.value.field == field + '.ssh'


def test_every_keeps_the_interval_from_start_to_start_until_done():
    import threading
    from ansible_collections.xenha.datacenter.plugins.module_utils._probe import every
    done, starts = threading.Event(), []

    def step():
        starts.append(len(starts))
        if len(starts) == 3:
            done.set()
    every(0.01, done, step)
    assert starts == [0, 1, 2]
