"""drill_report's reading of the nodes' records (the judgement itself is tested in module_utils/test_drill.py)."""
from __future__ import annotations

from ansible_collections.xenha.datacenter.plugins.modules.drill_report import node_record_lines


def test_every_nodes_file_of_that_name_is_read_in_node_order(tmp_path):
    for node, text in (('node2', 'b1\nb2\n'), ('node1', 'a1\n')):
        (tmp_path / node).mkdir()
        (tmp_path / node / 'consoles.log').write_text(text)
    (tmp_path / 'node1' / 'journal.log').write_text('j\n')
    assert node_record_lines(str(tmp_path), 'consoles.log') == ['a1', 'b1', 'b2']
    assert node_record_lines(str(tmp_path), 'journal.log') == ['j']


def test_no_records_mean_no_lines(tmp_path):
    assert node_record_lines(None, 'journal.log') == []
    assert node_record_lines(str(tmp_path / 'absent'), 'journal.log') == []
