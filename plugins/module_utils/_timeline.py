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
