# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""(pure) A service's timeline as a client saw it: when it was down, and for how long. Shared by the migrate
module's downtime watch and the drill's judgement, so that both measure a gap the same way.

A sample is {t, ok} (seconds since the epoch); a stream chunk is {t, bytes}.
"""

from __future__ import annotations

STREAM_GAP_DOWN = 1.0      # a stream silent for longer than this counts as down


def outages(samples, start, end):
    """[(down_from, up_again)] for one service's samples within [start, end]: from the last sample that
    answered before a failure to the first that answered after it (None: not back by `end`)."""
    result = []
    last_ok = start
    down = False
    for sample in samples:
        if sample['t'] < start or sample['t'] > end:
            if sample['t'] < start and sample['ok']:
                last_ok = start
            continue
        if sample['ok']:
            if down:
                result.append((last_ok, sample['t']))
                down = False
            last_ok = sample['t']
        else:
            down = True
    if down:
        result.append((last_ok, None))
    return result


def stream_gaps(chunks, start, end):
    """[(from, to)] silences longer than STREAM_GAP_DOWN within [start, end]: between two Ogg chunks, and
    from `start` to the first chunk or from the last chunk to `end` (a window that opens or closes in
    silence); a window with no chunk at all is one silence."""
    gaps = []
    times = [start] + [c['t'] for c in chunks if start <= c['t'] <= end and c.get('bytes')] + [end]
    for before, after in zip(times, times[1:]):
        if after - before > STREAM_GAP_DOWN:
            gaps.append((before, after))
    return gaps


def longest_gap(intervals, end):
    return max(((stop if stop is not None else end) - begin for begin, stop in intervals), default=0.0)


RATE_WINDOW = 30.0         # seconds per window when the stream's rate is read from its timeline


def byte_rate(chunks):
    """The stream's bytes per second of audio: the median over RATE_WINDOW windows that carried data, so that
    neither a silence nor the source's catching up after one moves it. None without two windows of data."""
    timed = sorted((c['t'], c['bytes']) for c in chunks if c.get('bytes'))
    if not timed:
        return None
    windows = {}
    for t, size in timed:
        index = int((t - timed[0][0]) // RATE_WINDOW)
        windows[index] = windows.get(index, 0) + size
    # the last window is cut short by the end of the timeline
    full = [windows[i] / RATE_WINDOW for i in sorted(windows)[:-1]]
    if len(full) < 2:
        return None
    full.sort()
    middle = len(full) // 2
    return full[middle] if len(full) % 2 else (full[middle - 1] + full[middle]) / 2.0


def heard_gaps(chunks, start, end, buffer_s, rate):
    """[(from, to)] silences longer than STREAM_GAP_DOWN that a listener hears within [start, end]: the player
    holds at most `buffer_s` seconds of audio (full at `start`), each chunk adds its bytes' worth at `rate`
    bytes per second of audio, it plays in real time and is silent while the buffer is dry."""
    level, now, gaps = float(buffer_s), start, []
    for chunk in sorted((c for c in chunks if start < c['t'] <= end and c.get('bytes')), key=lambda c: c['t']):
        waited = chunk['t'] - now
        if waited > level:
            gaps.append((now + level, chunk['t']))
            level = 0.0
        else:
            level -= waited
        level = min(float(buffer_s), level + chunk['bytes'] / rate)
        now = chunk['t']
    if end - now > level:
        gaps.append((now + level, end))
    return [(begin, stop) for begin, stop in gaps if stop - begin > STREAM_GAP_DOWN]
