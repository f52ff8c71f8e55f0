"""The guests' radio source (roles/guest_services/files/xenha-radio): it streams paced Ogg pages over
an HTTP PUT and, when Icecast drops it, ends with an error so that systemd starts it again."""
from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from lab_script import load_role_script

RATE = 8000


def load_radio():
    return load_role_script('guest_services', 'xenha-radio')


def page(granule, body):
    """One Ogg page (one segment; the CRC is not checked by the source)."""
    header = b'OggS' + bytes([0, 0]) + struct.pack('<qIII', granule, 1, 0, 0) + bytes([1, len(body)])
    return header + body


def ogg_file(seconds):
    """An identification page, then one page per 0.1 s of audio."""
    ident = b'\x01vorbis' + struct.pack('<IBI', 0, 1, RATE) + bytes(8)
    pages = [page(0, ident)] + [page(RATE * (i + 1) // 10, bytes(100)) for i in range(int(seconds * 10))]
    return b''.join(pages)


def serve(handler):
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    received = []
    thread = threading.Thread(target=handler, args=(server, received), daemon=True)
    thread.start()
    return 'http://127.0.0.1:%d/radio.ogg' % server.getsockname()[1], received, thread


def read_then_close(after_bytes):
    def handler(server, received):
        conn, _ = server.accept()
        data = b''
        while len(data) < after_bytes:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        received.append(data)
        conn.close()
        server.close()
    return handler


def test_the_pages_and_the_rate_are_read_from_the_file():
    radio = load_radio()
    data = ogg_file(1)
    assert radio.sample_rate(data) == RATE
    granules = [granule for _, granule in radio.pages(data)]
    assert granules[0] == 0 and granules[-1] == RATE and len(granules) == 11


def test_a_file_that_is_not_ogg_is_refused():
    radio = load_radio()
    with pytest.raises(ValueError, match='not an Ogg page at byte 0'):
        list(radio.pages(b'RIFF' + bytes(40)))


def test_the_source_puts_the_stream_paced_in_real_time_then_ends_when_icecast_drops_it(capsys):
    radio = load_radio()
    url, received, thread = serve(read_then_close(3000))
    started = time.monotonic()
    with pytest.raises(OSError):
        radio.stream(url, 'hackme-not-a-default', ogg_file(60))
    elapsed = time.monotonic() - started
    thread.join(5)
    request = received[0]
    assert request.startswith(b'PUT /radio.ogg HTTP/1.1\r\n')
    assert b'Authorization: Basic c291cmNlOmhhY2ttZS1ub3QtYS1kZWZhdWx0\r\n' in request
    assert b'OggS' in request
    # 3000 bytes are about 2 s of this file's audio at real-time pace, not an instant burst
    assert 1.0 < elapsed < 10
    assert capsys.readouterr().out == 'streaming to %s\n' % url
