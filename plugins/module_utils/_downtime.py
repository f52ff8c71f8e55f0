# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The downtime of a live migration as a client sees it: TCP connects to the guest's services,
`interval` apart, from a thread per endpoint while the move runs. libxl reports no downtime of its
own, so the longest window without an answer is the figure."""

from __future__ import annotations

import re
import threading
import time

from ansible_collections.xenha.datacenter.plugins.module_utils._probe import every, run_probe
from ansible_collections.xenha.datacenter.plugins.module_utils._spec import SpecError
from ansible_collections.xenha.datacenter.plugins.module_utils._timeline import longest_gap, outages

_ENDPOINT = re.compile(r'^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})$')


def parse_endpoints(values, field='watch'):
    """['10.0.0.10:80', '[fd00::10]:22'] -> [('10.0.0.10', 80), ('fd00::10', 22)]; a bad one names the field."""
    endpoints = []
    for value in values or ():
        match = _ENDPOINT.match(str(value).strip())
        if not match or not 0 < int(match.group('port')) < 65536:
            raise SpecError(field, '%r is not HOST:PORT (e.g. 10.0.0.10:80, [fd00::10]:22)' % (value,))
        endpoints.append((match.group('host').strip('[]'), int(match.group('port'))))
    return endpoints


def downtime_ms(samples, start, end):
    """Longest window in ms from the last answer before a failure to the first answer after it; a service
    still down at `end` counts until `end`. `samples`: [{t, ok}] sorted by time."""
    return int(round(longest_gap(outages(samples, start, end), end) * 1000))


class DowntimeWatch:
    """Probe each endpoint every `interval` s between start() and stop(); stop() returns
    {'host:port': downtime in ms}."""

    def __init__(self, endpoints, interval=0.1, timeout=1.0, probe=None, clock=time.time):
        self._endpoints = endpoints
        self._interval = interval
        self._timeout = timeout
        self._probe = probe or (lambda host, port: run_probe('watch', 'tcp', host, port, timeout).ok)
        self._clock = clock
        self._stop = threading.Event()
        self._samples = {endpoint: [] for endpoint in endpoints}
        self._threads = []
        self._started = None

    def _run(self, endpoint):
        samples = self._samples[endpoint]
        every(self._interval, self._stop,
              lambda: samples.append({'t': self._clock(), 'ok': self._probe(*endpoint)}), clock=self._clock)

    def start(self):
        self._started = self._clock()
        for endpoint in self._endpoints:
            thread = threading.Thread(target=self._run, args=(endpoint,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(self._timeout + 1)
        end = self._clock()
        return {'%s:%d' % endpoint: downtime_ms(list(samples), self._started, end)
                for endpoint, samples in self._samples.items()}
