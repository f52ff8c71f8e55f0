"""A clock for polling loops under test: time moves only when the code under test sleeps."""
from __future__ import annotations


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
