# -*- coding: utf-8 -*-
# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  uri:
    description:
      - libvirt connection URI of the node's hypervisor.
      - C(test:///default) (libvirt's test driver) is for unit tests only.
    type: str
    default: xen:///system
requirements:
  - libvirt-python (Debian package C(python3-libvirt)) on the managed node
  - libvirtd with the Xen (libxl) driver on the managed node
"""
