"""The guests' radio (roles/guest_services): the audio loop the role makes has short Ogg pages, and its
source (files/xenha-radio) streams them paced over an HTTP PUT and, when Icecast drops it, ends with
an error so that systemd starts it again."""
from __future__ import annotations

import os
import shutil
import socket
import struct
import threading
import time

import pytest
from lab_script import load_role_script
from role_template import run_role_task

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
        conn, _peer = server.accept()
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
    assert radio.granule_rate(data) == RATE
    granules = [granule for _page, granule in radio.pages(data)]
    assert granules[0] == 0 and granules[-1] == RATE and len(granules) == 11


def test_opus_granules_count_at_48_khz_whatever_the_input_rate():
    radio = load_radio()
    head = b'OpusHead' + bytes([1, 1]) + struct.pack('<HIhB', 312, 22050, 0, 0)
    assert radio.granule_rate(page(0, head) + page(48000, bytes(10))) == 48000


def test_a_stream_of_another_codec_is_refused():
    radio = load_radio()
    with pytest.raises(ValueError, match='neither Ogg Opus nor Ogg Vorbis'):
        radio.granule_rate(page(0, b'\x80theora' + bytes(20)))


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


def test_a_source_that_fell_behind_goes_on_in_real_time_instead_of_sending_its_backlog():
    radio = load_radio()
    assert radio.pace(100.0, 5.0, 104.7) == (pytest.approx(0.3), 100.0)      # due in 0.3 s
    assert radio.pace(100.0, 5.0, 105.5) == (0.0, 100.0)                      # a little late: sent at once
    # a 30 s stall: this page goes now and the clock moves on, so the next page waits its own 0.1 s
    wait, start = radio.pace(100.0, 5.0, 135.0)
    assert (wait, start) == (0.0, 130.0)
    assert radio.pace(start, 5.1, 135.0) == (pytest.approx(0.1), 130.0)


# The encoders are Debian packages, not pip ones: scripts/bootstrap installs them, so `make test` and
# CI run this; a bare `pytest` on a machine without them skips it rather than failing on the machine.
@pytest.mark.skipif(not (shutil.which('sox') and shutil.which('opusenc')),
                    reason='needs sox and opus-tools, which `make test` installs (scripts/bootstrap)')
def test_the_roles_audio_loop_gives_a_listener_bytes_five_times_a_second(tmp_path):
    # The drill counts a stream silent for over 1 s as down; the source sends a page when the one
    # before has played, so no page may hold more than 0.2 s of audio.
    run_role_task(tmp_path, 'guest_services', 'icecast.yml', "Make the radio's audio loop",
                  {'__guest_services_radio_dir': str(tmp_path / 'radio'), 'guest_services_radio_seconds': 5})
    data = (tmp_path / 'radio' / 'loop.opus').read_bytes()
    radio = load_radio()
    rate = radio.granule_rate(data)
    granules = [granule for _page, granule in radio.pages(data) if granule > 0]
    assert rate == 48000 and len(granules) > 20
    assert granules[-1] / rate == pytest.approx(5, abs=0.1)
    longest = max(after - before for before, after in zip([0] + granules, granules)) / rate
    assert longest <= 0.21
    assert sorted(os.listdir(tmp_path / 'radio')) == ['loop.opus']
