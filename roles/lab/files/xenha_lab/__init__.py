# Copyright: xenha.datacenter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's parts, one concern each: images, nodes (QEMU, QMP, power), bmc, network, san, aptcache, lab (the
whole), cli. `labctl.py` beside this package is the command that runs them."""
