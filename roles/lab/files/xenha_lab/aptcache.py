# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nodes' apt cache: an HTTP proxy that keeps package files in the lab and only reaches the Debian mirrors."""
from __future__ import annotations

import http.server
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request


def cached_name(url):
    """Where a package file is kept in the cache, or None for what must always come from the mirror
    (indexes change; files under pool/ never do once published)."""
    parts = urllib.parse.urlsplit(url)
    segments = parts.path.split('/')
    if (parts.scheme != 'http' or parts.query or '/pool/' not in parts.path or '..' in segments
            or not parts.path.endswith(('.deb', '.udeb'))):
        return None
    return os.path.join(parts.hostname, *[seg for seg in segments if seg])


class AptCacheHandler(http.server.BaseHTTPRequestHandler):
    """An HTTP proxy for the nodes' apt: package files are kept in the lab's cache and served from it
    the next time; everything else is passed through. Only the Debian mirrors are ever contacted."""
    protocol_version = 'HTTP/1.1'
    FORWARDED = ('If-Modified-Since', 'If-None-Match', 'Range', 'If-Range')
    RELAYED = ('Content-Type', 'Last-Modified', 'ETag', 'Content-Range', 'Accept-Ranges')

    def do_GET(self):
        self.serve(send_body=True)

    def do_HEAD(self):
        self.serve(send_body=False)

    def serve(self, send_body):
        host = urllib.parse.urlsplit(self.path).hostname
        if host not in self.server.allowed:
            return self.reply(403, {}, b'the lab apt cache only reaches the Debian mirror\n', send_body)
        name = cached_name(self.path)
        if name is None:
            return self.reply(*self.upstream(self.path, forward=True), send_body=send_body)
        path = os.path.join(self.server.cache_dir, name)
        if not os.path.exists(path):
            status, headers, body = self.upstream(self.path, forward=False)
            if status != 200:
                return self.reply(status, headers, body, send_body)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), delete=False) as partial:
                partial.write(body)
            os.replace(partial.name, path)
            self.server.stats['fetched'] += 1
        else:
            self.server.stats['hits'] += 1
        with open(path, 'rb') as handle:
            body = handle.read()
        return self.reply(200, {'Content-Type': 'application/vnd.debian.binary-package'}, body, send_body)

    def upstream(self, url, forward):
        headers = {k: self.headers[k] for k in self.FORWARDED if forward and self.headers.get(k)}
        request = urllib.request.Request(url, headers=headers, method='GET')
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()
        except (OSError, ValueError) as error:
            return 502, {}, ('upstream: %s\n' % error).encode()

    def reply(self, status, headers, body, send_body):
        self.send_response(status)
        for key in self.RELAYED:
            if headers.get(key):
                self.send_header(key, headers[key])
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if send_body and status not in (204, 304):
            self.wfile.write(body)


def apt_cache_server(cache_dir, port, allowed, address='127.0.0.1'):
    server = http.server.ThreadingHTTPServer((address, port), AptCacheHandler)
    server.daemon_threads = True
    server.cache_dir, server.allowed, server.stats = cache_dir, set(allowed), {'hits': 0, 'fetched': 0}
    return server


def wait_listening(port, log, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit('labctl: nothing listens on 127.0.0.1:%d (is the port taken?); see %s' % (port, log))
            time.sleep(0.2)


def cmd_apt_cache(args):
    cache_dir = os.path.join(args.dir, 'cache', 'apt')
    os.makedirs(cache_dir, exist_ok=True)
    apt_cache_server(cache_dir, args.port, args.allow).serve_forever()
