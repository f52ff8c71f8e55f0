#!/usr/bin/env python3
"""A plain TCP socket for `xl migrate`, so that its memory stream crosses the network as libvirt's own
(not tunnelled) migration does, without SSH's encryption: the migration benchmark compares the ways on
the same bytes. Copied to each node by benchmarks/migration_guest.yml.

  plain_socket.py receive PORT [COMMAND...]  on the target: accept one connection and run COMMAND on it
                                             (default `xl migrate-receive`), the socket as its stdin and stdout
  plain_socket.py send HOST PORT             on the source, as xl's rune (`xl migrate -s '' GUEST 'RUNE'`):
                                             relay stdin and stdout to HOST:PORT until the peer closes
"""
from __future__ import annotations

import os
import selectors
import socket
import sys

CHUNK = 1 << 16
ACCEPT_TIMEOUT = 600


def receive(port, command):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('', port))
    server.listen(1)
    print('listening on port %d' % port, file=sys.stderr, flush=True)
    server.settimeout(ACCEPT_TIMEOUT)
    conn, _peer = server.accept()
    server.close()
    conn.settimeout(None)
    os.dup2(conn.fileno(), 0)
    os.dup2(conn.fileno(), 1)
    os.execvp(command[0], command)


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def send(host, port, stdin=0, stdout=1):
    conn = socket.create_connection((host, port), timeout=60)
    conn.settimeout(None)
    selector = selectors.DefaultSelector()
    selector.register(stdin, selectors.EVENT_READ, 'local')
    selector.register(conn, selectors.EVENT_READ, 'peer')
    while True:
        for key, _events in selector.select():
            if key.data == 'local':
                data = os.read(stdin, CHUNK)
                if data:
                    conn.sendall(data)
                else:  # xl has said all it has to say; the peer may still answer
                    selector.unregister(stdin)
                    conn.shutdown(socket.SHUT_WR)
            else:
                data = conn.recv(CHUNK)
                if not data:
                    conn.close()
                    return
                write_all(stdout, data)


def main(argv):
    if len(argv) >= 2 and argv[0] == 'receive':
        receive(int(argv[1]), argv[2:] or ['xl', 'migrate-receive'])
    elif len(argv) == 3 and argv[0] == 'send':
        send(argv[1], int(argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
