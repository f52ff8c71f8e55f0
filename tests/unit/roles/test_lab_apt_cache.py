"""The lab's apt cache (aptcache.py apt-cache) against a stand-in mirror on loopback: package files are
fetched once and then served from the cache, indexes always come from the mirror, other hosts are refused."""
from __future__ import annotations

import http.server
import os
import threading
import urllib.error
import urllib.request

import pytest

from lab_script import lab_part

aptcache = lab_part('aptcache')


class Mirror(http.server.BaseHTTPRequestHandler):
    requests = []
    release = b'Suite: bookworm\n'

    def do_GET(self):
        Mirror.requests.append(self.path)
        if self.path.endswith('.deb') and '/nothing/' not in self.path:
            body, status = b'!<arch>\n' + self.path.encode(), 200
        elif self.path.endswith('InRelease'):
            body, status = Mirror.release, 200
        else:
            body, status = b'', 404
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture()
def lab_cache(tmp_path):
    Mirror.requests, Mirror.release = [], b'Suite: bookworm\n'
    mirror = serve(http.server.ThreadingHTTPServer(('127.0.0.1', 0), Mirror))
    cache = serve(aptcache.apt_cache_server(str(tmp_path), 0, ['127.0.0.1']))
    proxy = urllib.request.ProxyHandler({'http': 'http://127.0.0.1:%d' % cache.server_address[1]})
    yield urllib.request.build_opener(proxy), 'http://127.0.0.1:%d' % mirror.server_address[1], tmp_path, cache
    cache.shutdown()
    mirror.shutdown()


def test_package_files_come_from_the_mirror_once(lab_cache):
    opener, mirror, cache_dir, cache = lab_cache
    url = mirror + '/debian/pool/main/x/xen/xen-utils_4.17_amd64.deb'
    first = opener.open(url).read()
    second = opener.open(url).read()
    assert first == second == b'!<arch>\n/debian/pool/main/x/xen/xen-utils_4.17_amd64.deb'
    assert Mirror.requests == ['/debian/pool/main/x/xen/xen-utils_4.17_amd64.deb']
    assert (cache_dir / '127.0.0.1' / 'debian' / 'pool' / 'main' / 'x' / 'xen' / 'xen-utils_4.17_amd64.deb').exists()
    assert cache.stats == {'hits': 1, 'fetched': 1}


def test_indexes_and_errors_always_come_from_the_mirror(lab_cache):
    opener, mirror, cache_dir, _cache = lab_cache
    url = mirror + '/debian/dists/bookworm/InRelease'
    assert opener.open(url).read() == b'Suite: bookworm\n'
    Mirror.release = b'Suite: bookworm\nDate: later\n'
    assert opener.open(url).read() == b'Suite: bookworm\nDate: later\n'
    with pytest.raises(urllib.error.HTTPError) as missing:
        opener.open(mirror + '/debian/pool/main/n/nothing/nothing_1_all.deb')
    assert missing.value.code == 404
    assert len(Mirror.requests) == 3
    assert not list(cache_dir.rglob('*.deb'))


def test_other_hosts_are_refused(lab_cache):
    opener, _mirror, _cache_dir, _cache = lab_cache
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open('http://192.0.2.1/debian/pool/main/a/a/a_1_all.deb')
    assert refused.value.code == 403
    assert Mirror.requests == []


def test_only_published_package_files_are_cached():
    assert aptcache.cached_name('http://deb.debian.org/debian/pool/main/a/apt/apt_2.6.1_amd64.deb') == \
        os.path.join('deb.debian.org', 'debian', 'pool', 'main', 'a', 'apt', 'apt_2.6.1_amd64.deb')
    assert aptcache.cached_name('http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz') is None
    assert aptcache.cached_name('http://deb.debian.org/debian/pool/../../etc/passwd.deb') is None
    assert aptcache.cached_name('https://deb.debian.org/debian/pool/main/a/apt/apt_2.6.1_amd64.deb') is None
