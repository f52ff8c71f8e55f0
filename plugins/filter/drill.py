# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the drill's reports; documented in faults_table.yml beside this file."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.xenha.datacenter.plugins.module_utils._drill import faults_table as _faults_table


def faults_table(reports):
    if not isinstance(reports, dict):
        raise AnsibleFilterError('faults_table: expects {fault: drill report}, got %s' % type(reports).__name__)
    return _faults_table(reports)


class FilterModule:
    def filters(self):
        return {'faults_table': faults_table}
