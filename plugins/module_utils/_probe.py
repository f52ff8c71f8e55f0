# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""User-side probes of guest services: what a client on the guest network would see.

Each probe returns a Result; none raises for a service that is down. Standard library only, so
the probes run anywhere a client stands (the lab's client namespace, a laptop, a monitoring host).
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import struct
import time
from dataclasses import asdict, dataclass

from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError


@dataclass
class Result:
    service: str
    probe: str
    address: str
    port: int
    ok: bool
    seconds: float
    detail: str

    def as_dict(self):
        return asdict(self)


def _connect(address, port, timeout):
    return socket.create_connection((address, port), timeout=timeout)


def _read_some(sock, size=256):
    data = sock.recv(size)
    if not data:
        raise ConnectionError('closed without a word')
    return data


def probe_tcp(address, port, timeout):
    with _connect(address, port, timeout):
        return 'connected'


def probe_ssh(address, port, timeout):
    with _connect(address, port, timeout) as sock:
        banner = _read_some(sock).split(b'\r\n', 1)[0].decode('ascii', 'replace')
    if not banner.startswith('SSH-2.0-'):
        raise ConnectionError('no SSH banner (got %r)' % banner[:40])
    return banner


def probe_http(address, port, timeout, path='/'):
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request('GET', path)
        response = conn.getresponse()
        body = response.read(4096).decode('utf-8', 'replace')
    finally:
        conn.close()
    if response.status != 200:
        raise ConnectionError('HTTP %d' % response.status)
    node = re.search(r'id="node">([^<]*)<', body)
    return 'HTTP 200' + (', served from %s' % node.group(1) if node else '')


def probe_stream(address, port, timeout, path='/radio.ogg', seconds=2.0):
    """Bytes keep flowing for `seconds` (Icecast sends a burst first, so 2 s proves a live source)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request('GET', path, headers={'Icy-MetaData': '0'})
        response = conn.getresponse()
        if response.status != 200:
            raise ConnectionError('HTTP %d on %s' % (response.status, path))
        kind = response.getheader('Content-Type', '')
        got = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            chunk = response.read1(16384)
            if not chunk:
                raise ConnectionError('stream ended after %d bytes' % got)
            got += len(chunk)
    finally:
        conn.close()
    if 'ogg' not in kind:
        raise ConnectionError('not an Ogg stream (Content-Type %r)' % kind)
    return '%d bytes in %.1f s (%s)' % (got, seconds, kind)


# X.224 Connection Request with an RDP negotiation request (standard RDP security).
_RDP_REQUEST = bytes.fromhex('030000130ee000000000000100080000000000')


def probe_rdp(address, port, timeout):
    with _connect(address, port, timeout) as sock:
        sock.sendall(_RDP_REQUEST)
        reply = _read_some(sock)
    if len(reply) < 6 or reply[0] != 3 or reply[5] != 0xd0:
        raise ConnectionError('no X.224 Connection Confirm (got %s)' % reply[:8].hex())
    return 'X.224 Connection Confirm'


def probe_bzflag(address, port, timeout):
    with _connect(address, port, timeout) as sock:
        sock.sendall(b'BZFLAG\r\n\r\n')
        reply = _read_some(sock, 9)
    if not reply.startswith(b'BZFS'):
        raise ConnectionError('not a BZFlag server (got %r)' % reply[:9])
    return 'protocol %s' % reply[:8].decode('ascii', 'replace')


def probe_counter(address, port, timeout):
    """The drill's witness in each guest: "<count> <count at start> <boot id>"."""
    with _connect(address, port, timeout) as sock:
        fields = _read_some(sock, 128).split()
    if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
        raise ConnectionError('not the counter (got %r)' % b' '.join(fields)[:40])
    return 'count=%s resumed=%s boot=%s' % tuple(f.decode('ascii', 'replace') for f in fields)


def probe_udp(address, port, timeout):
    """A UDP service can only prove it is down (ICMP port unreachable); silence counts as up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(min(timeout, 1.0))
        sock.connect((address, port))
        sock.send(b'\0')
        try:
            sock.recv(512)
        except socket.timeout:
            return 'no port-unreachable'
    return 'answered'


def dhcp_discover(mac, xid):
    """A DHCPDISCOVER asking for a broadcast reply."""
    packet = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, bytes(4), bytes(4), bytes(4),
                         bytes(4), mac.ljust(16, b'\0'), bytes(64), bytes(128))
    return packet + bytes([99, 130, 83, 99, 53, 1, 1, 55, 3, 1, 3, 6, 255])


def parse_dhcp_reply(packet, xid):
    """(message type, offered address, server id) of a reply to `xid`, or None."""
    if len(packet) < 240 or packet[0] != 2 or struct.unpack_from('!I', packet, 4)[0] != xid:
        return None
    if packet[236:240] != bytes([99, 130, 83, 99]):
        return None
    options, i = {}, 240
    while i < len(packet) and packet[i] != 255:
        if packet[i] == 0:
            i += 1
            continue
        length = packet[i + 1]
        options[packet[i]] = packet[i + 2:i + 2 + length]
        i += 2 + length
    kind = options.get(53, b'\0')[0]
    server = socket.inet_ntoa(options[54]) if len(options.get(54, b'')) == 4 else ''
    return kind, socket.inet_ntoa(packet[16:20]), server


def probe_dhcp(address, port, timeout, interface=None):
    """Broadcast a DISCOVER and wait for an OFFER from `address` (offers from others are ignored).
    Nothing is requested, so no lease is taken."""
    xid = struct.unpack('!I', os.urandom(4))[0]
    mac = bytes([0x02]) + os.urandom(5)  # locally administered
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if interface:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.bind(('', 68))
        sock.sendto(dhcp_discover(mac, xid), ('255.255.255.255', port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('no DHCPOFFER from %s' % address)
            sock.settimeout(left)
            packet, _sender = sock.recvfrom(2048)
            reply = parse_dhcp_reply(packet, xid)
            if reply and reply[0] == 2 and reply[2] == address:
                return 'offered %s' % reply[1]


PROBES = {'tcp': probe_tcp, 'ssh': probe_ssh, 'http': probe_http, 'stream': probe_stream, 'rdp': probe_rdp,
          'bzflag': probe_bzflag, 'udp': probe_udp, 'dhcp': probe_dhcp, 'counter': probe_counter}


def run_probe(service, probe, address, port, timeout=5.0, **options):
    """Run one probe; a failure is a Result with ok=False and the reason, never an exception."""
    func = PROBES[probe]
    started = time.monotonic()
    try:
        detail = func(address, port, timeout, **options)
        ok = True
    except (OSError, http.client.HTTPException, ValueError) as exc:
        detail = '%s: %s' % (type(exc).__name__, exc)
        ok = False
    return Result(service, probe, address, port, ok, round(time.monotonic() - started, 3), detail)


def per_service_seconds(default, per_service, field):
    """Seconds for each service (between two probes, or a probe's timeout): `default` unless
    `per_service` names the service.

    Returns a function of the service name. Probes differ in what they cost a guest: each SSH probe
    makes sshd fork and exec, seconds of a starved guest's CPU under emulation, so SSH may be probed
    less often and given longer to answer than HTTP.
    """
    checked = {}
    for name, seconds in (per_service or {}).items():
        try:
            value = float(seconds)
        except (TypeError, ValueError):
            raise SpecError('%s.%s' % (field, name), 'must be a number of seconds, got %r' % (seconds,))
        if value <= 0:
            raise SpecError('%s.%s' % (field, name), 'must be more than 0 seconds, got %r' % (seconds,))
        checked[str(name)] = value
    return lambda service: checked.get(service, default)


def every(interval, done, step, clock=time.monotonic):
    """Call `step()` every `interval` seconds, from the start of one call to the next (a slow answer eats into
    the wait, it does not add to it), until the threading.Event `done` is set. The one probe loop of the
    migrate module's downtime watch and the drill's client."""
    while not done.is_set():
        started = clock()
        step()
        done.wait(max(0.0, interval - (clock() - started)))
