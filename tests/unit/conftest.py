from __future__ import annotations

import pytest

libvirt = pytest.importorskip('libvirt', reason='libvirt-python is not installed; `make test` installs it')


class FakeLvm:
    """An in-memory LVM for storage tests: answers vgs/lvs and records every write."""

    def __init__(self, vgs=('vg',), vg_mib=100 * 1024):
        self.vgs = set(vgs)
        self.vg_mib = vg_mib
        self.lvs = {}
        self.writes = []

    def free_mib(self, vg):
        return self.vg_mib - sum(size for name, size in self.lvs.items() if name.startswith(vg + '/'))

    def __call__(self, args):
        cmd = args[0]
        if cmd == 'vgs':
            if args[-1] not in self.vgs:
                return 5, '', 'Volume group "%s" not found' % args[-1]
            if 'vg_free' in args:
                return 0, '  %.2f\n' % self.free_mib(args[-1]), ''
            return 0, args[-1] + '\n', ''
        if cmd == 'lvcreate' and float(args[args.index('--size') + 1][:-1]) > self.free_mib(args[-1]):
            return 5, '', 'Volume group "%s" has insufficient free space' % args[-1]
        if cmd == 'lvs':
            size = self.lvs.get(args[-1])
            return (0, '  %.2f\n' % size, '') if size is not None else (5, '', 'Failed to find logical volume')
        self.writes.append(args)
        if cmd == 'lvcreate':
            name, size, vg = args[args.index('--name') + 1], args[args.index('--size') + 1], args[-1]
            self.lvs['%s/%s' % (vg, name)] = float(size[:-1])
        elif cmd == 'lvextend':
            self.lvs[args[-1]] = float(args[args.index('--size') + 1][:-1])
        elif cmd == 'lvremove':
            del self.lvs[args[-1]]
        return 0, '', ''


@pytest.fixture
def lvm():
    return FakeLvm()


@pytest.fixture
def test_driver():
    """Keep test:///default open for the whole test so its state survives between connections,
    and leave it as found: only the driver's own 'test' domain."""
    keeper = libvirt.open('test:///default')
    yield keeper
    for dom in keeper.listAllDomains(0):
        if dom.name() == 'test':
            continue
        if dom.isActive():
            dom.destroy()
        if dom.isPersistent():
            dom.undefine()
    keeper.close()
