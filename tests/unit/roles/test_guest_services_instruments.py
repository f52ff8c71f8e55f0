"""The drill's instruments (the witness counter, the page naming the node) run only where the inventory
enables the drill; a guest otherwise runs what it declares, and the image's instruments are disabled."""
from __future__ import annotations

import os

from role_template import ROLES, render_expression

UNITS = '{"run": __guest_services_units, "disable": __guest_services_unwanted_units}'


def units(tmp_path, **variables):
    return render_expression(tmp_path, 'guest_services', UNITS, variables)


def test_a_guest_outside_the_drill_gets_no_counter_and_no_page(tmp_path):
    got = units(tmp_path, guest_services=['http', 'ssh'])
    assert got['run'] == ['ssh', 'apache2']
    assert {'xenha-counter', 'xenha-whereami'} <= set(got['disable'])
    assert 'apache2' not in got['disable']


def test_the_lab_enables_the_instruments_for_the_drill(tmp_path):
    got = units(tmp_path, guest_services=['http', 'icecast', 'ssh'], guest_services_drill_instruments=True)
    assert got['run'] == ['ssh', 'xenha-counter', 'apache2', 'icecast2', 'xenha-whereami', 'xenha-radio']
    assert not {'xenha-counter', 'xenha-whereami'} & set(got['disable'])


def test_the_page_never_replaces_the_sites_index():
    with open(os.path.join(ROLES, 'guest_services', 'files', 'xenha-whereami')) as handle:
        script = handle.read()
    assert 'page=/var/www/html/xenha-node.html' in script and 'index.html"' not in script.replace('never', '')
