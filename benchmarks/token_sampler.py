#!/usr/bin/env python3
"""On a cluster node: how long ago Corosync last received the token, read ten times a second from its stats
map through libcmap (one process, no command started per reading, so the reading costs the busy dom0
next to nothing); prints once a second `EPOCH_S LONGEST_MS` (the longest reading of that second, nothing
after the stamp while Corosync does not answer). Copied to the nodes and started by benchmarks/timeouts.py.
"""
from __future__ import annotations

import ctypes
import sys
import time

CS_OK = 1
CMAP_MAP_STATS = 1
KEY = b'stats.srp.time_since_token_last_received'
READS_PER_LINE = 10


def connect(lib):
    handle = ctypes.c_uint64()
    return handle if lib.cmap_initialize_map(ctypes.byref(handle), CMAP_MAP_STATS) == CS_OK else None


def main():
    lib = ctypes.CDLL('libcmap.so.4')
    handle_type = ctypes.c_uint64  # cmap_handle_t
    lib.cmap_initialize_map.argtypes = [ctypes.POINTER(handle_type), ctypes.c_int]
    lib.cmap_get_uint64.argtypes = [handle_type, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)]
    lib.cmap_finalize.argtypes = [handle_type]
    print('start', flush=True)
    handle, value = None, ctypes.c_uint64()
    while True:
        longest = None
        for _read in range(READS_PER_LINE):
            if handle is None:
                handle = connect(lib)
            if handle is not None:
                if lib.cmap_get_uint64(handle, KEY, ctypes.byref(value)) == CS_OK:
                    longest = max(longest or 0, value.value)
                else:  # Corosync restarted: connect again
                    lib.cmap_finalize(handle)
                    handle = None
            time.sleep(1.0 / READS_PER_LINE)
        sys.stdout.write('%.3f%s\n' % (time.time(), '' if longest is None else ' %d' % longest))
        sys.stdout.flush()


if __name__ == '__main__':
    main()
