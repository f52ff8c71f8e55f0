"""The lab nodes' cache of Ansible payload bytecode (roles/lab/files/xenha_lab/payload_cache.py), on real
zip archives imported the way Ansible's payload wrapper imports them."""
from __future__ import annotations

import importlib
import os
import sys
import zipfile
import zipimport

import pytest
from lab_script import lab_part

payload_cache = lab_part('payload_cache')
images = lab_part('images')

SOURCE = b'def answer():\n    def inner():\n        raise ValueError("from the payload")\n    return inner\n'


def payload(tmp_path, run, name='ansible_ping_payload.zip', source=SOURCE):
    folder = tmp_path / run
    folder.mkdir()
    archive = folder / name
    with zipfile.ZipFile(archive, 'w') as zipped:
        zipped.writestr('xenha_probe_mod.py', source)
    return str(archive)


@pytest.fixture
def cached(monkeypatch, tmp_path):
    """zipimport compiles through the cache (in tmp_path/cache); every compile is counted."""
    compiled = []

    def counting_compile(pathname, source):
        compiled.append(pathname)
        return compile(source, pathname, 'exec', dont_inherit=True)

    cache_dir = str(tmp_path / 'cache')
    monkeypatch.setattr(payload_cache, '_compile_source', counting_compile)
    monkeypatch.setattr(payload_cache, 'CACHE_DIR', cache_dir)
    monkeypatch.setattr(zipimport, '_compile_source',
                        lambda pathname, source: payload_cache.cached_compile_source(pathname, source, cache_dir))
    return compiled, cache_dir


def import_from(archive):
    """The module imported from that archive, as a path entry of sys.path would import it."""
    sys.modules.pop('xenha_probe_mod', None)
    sys.path.insert(0, archive)
    try:
        return importlib.import_module('xenha_probe_mod')
    finally:
        sys.path.remove(archive)
        sys.path_importer_cache.pop(archive, None)
        sys.modules.pop('xenha_probe_mod', None)


def test_a_payload_compiles_once_and_later_runs_report_their_own_path(cached, tmp_path):
    compiled, cache_dir = cached
    first = payload(tmp_path, 'run1')
    second = payload(tmp_path, 'run2')
    import_from(first)
    module = import_from(second)
    assert len(compiled) == 1 and len(os.listdir(cache_dir)) == 1
    # The cached code names this run's archive, nested functions included: tracebacks point at it.
    with pytest.raises(ValueError) as raised:
        module.answer()()
    assert raised.traceback[-1].frame.code.raw.co_filename.startswith(second)


def test_a_changed_source_is_compiled_again(cached, tmp_path):
    compiled = cached[0]
    import_from(payload(tmp_path, 'run1'))
    module = import_from(payload(tmp_path, 'run2', source=SOURCE + b'VERSION = 2\n'))
    assert len(compiled) == 2 and module.VERSION == 2


def test_other_archives_are_not_cached(cached, tmp_path):
    compiled, cache_dir = cached
    for run in ('run1', 'run2'):
        import_from(payload(tmp_path, run, name='library.zip'))
    assert len(set(compiled)) == 2 and not os.path.exists(cache_dir)


def test_a_damaged_cache_entry_is_compiled_again(cached, tmp_path):
    compiled, cache_dir = cached
    import_from(payload(tmp_path, 'run1'))
    for entry in os.listdir(cache_dir):
        with open(os.path.join(cache_dir, entry), 'wb') as damaged:
            damaged.write(b'\x00not marshal')
    assert callable(import_from(payload(tmp_path, 'run2')).answer)
    assert len(compiled) == 2


def test_an_unwritable_cache_still_imports(cached, tmp_path, monkeypatch):
    compiled, cache_dir = cached
    with open(cache_dir, 'w', encoding='utf-8'):  # a file where the folder should be
        pass
    assert callable(import_from(payload(tmp_path, 'run1')).answer)
    assert compiled


def test_the_node_image_carries_the_cache_and_rebuilds_when_it_changes(monkeypatch):
    before = images.image_inputs('preloaded', 'http://deb.example/debian')
    real_getsource = images.inspect.getsource
    monkeypatch.setattr(images.inspect, 'getsource',
                        lambda obj: real_getsource(obj) + ('#' if obj is payload_cache else ''))
    assert images.image_inputs('preloaded', 'http://deb.example/debian') != before
