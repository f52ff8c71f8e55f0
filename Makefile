# The two entry points a newcomer needs: `make demo` (the main job, on the lab) and `make test`.
# Both install what they need first (scripts/bootstrap: apt + the pinned venv).
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.tmp/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export XENHA_LAB_DIR := $(CURDIR)/lab-state
# `make test` prints each long step's wall time, so a slow run shows where its time went.
export TIMEFORMAT := took %0R s

.PHONY: bootstrap test lint sanity unit build bench bench-lab bench-migration bench-timeouts demo lab-up lab-down cluster-test idempotence-test lab-test guests-test plain-test iscsi-test three-test qdevice-test drill-test rolling-test faults-test

bootstrap:
	@time scripts/bootstrap

test: bootstrap lint sanity unit build cluster-test

lint: collection-link
	time ansible-lint
	antsibull-changelog lint

# ansible-test sanity (validate-modules, pep8, pylint, ...), offline-safe; ignores only with a reason per line.
sanity: collection-link
	time scripts/sanity

unit: collection-link
	time pytest -q tests/unit

build: collection-link
	scripts/check-build

# The cluster on the lab's real Xen nodes: converged, checked, real fencing, the faults that need no
# guest. The second converge (changed=0), the lab's own checks and the install path on a plain node are
# `idempotence-test`, `lab-test` and `plain-test`: on a slow CI runner they outran CI's budget.
cluster-test: collection-link
	time scripts/scenario-test default

# The same cluster converged twice: the second run must report changed=0; not in `test`.
idempotence-test: bootstrap collection-link
	molecule destroy -s default
	molecule create -s default && molecule converge -s default && molecule idempotence -s default; \
	  status=$$?; molecule destroy -s default; exit $$status

# The lab itself, on real emulated nodes: boot, SSH, shared disk, cluster network, real fencing; not in `test`.
lab-test: bootstrap collection-link
	time scripts/scenario-test lab

# All of site.yml (guests and services included) under molecule, with its checks; not in `test`:
# over an hour on two cores.
guests-test: bootstrap collection-link
	scripts/scenario-test guests

# The hypervisor role's install path on a plain Debian node (Xen installed, GRUB, reboot into Xen).
plain-test: bootstrap collection-link
	scripts/scenario-test plain

# The shared storage attached over iSCSI (the lab's target, CHAP) under molecule; not in `test`.
iscsi-test: bootstrap collection-link
	scripts/scenario-test iscsi

# Three members: majority quorum, a member cut off is fenced and rejoins; not in `test`.
three-test: bootstrap collection-link
	scripts/scenario-test three

# Two members and a quorum arbiter (corosync-qnetd on the lab's third node); not in `test`.
qdevice-test: bootstrap collection-link
	scripts/scenario-test qdevice

# The failover drill under molecule (fresh lab, site.yml, drill, its criteria); not in `test`.
drill-test: bootstrap collection-link
	scripts/scenario-test drill

# The benchmarks import the collection's Python from the collections path, as Ansible does.
bench: bootstrap collection-link
	PYTHONPATH=$(ANSIBLE_COLLECTIONS_PATH) python benchmarks/guest_noop.py

# Figures on the lab (each takes the lab down at the end): lab boot/memory/CPU, converge and fencing.
bench-lab: bootstrap collection-link
	PYTHONPATH=$(ANSIBLE_COLLECTIONS_PATH) python benchmarks/lab.py
	PYTHONPATH=$(ANSIBLE_COLLECTIONS_PATH) python benchmarks/site.py

# The same live migration three ways (module, virsh, xl) seen from the client; needs a converged lab
# (site.yml, x0 on node1) and leaves it up.
bench-migration: bootstrap collection-link
	PYTHONPATH=$(ANSIBLE_COLLECTIONS_PATH) python benchmarks/migration.py

# How close the lab comes to the roles' default timeouts while a command runs on it, e.g.
# LOAD='ansible-playbook playbooks/upgrade.yml'; needs a converged lab and leaves it up.
bench-timeouts: bootstrap collection-link
	PYTHONPATH=$(ANSIBLE_COLLECTIONS_PATH) python benchmarks/timeouts.py -- $(LOAD)

demo: bootstrap collection-link
	scripts/demo

lab-up: bootstrap collection-link
	ansible-playbook playbooks/lab.yml -e lab_state=present

lab-down: bootstrap collection-link
	ansible-playbook playbooks/lab.yml -e lab_state=absent

.PHONY: collection-link
collection-link:
	@mkdir -p .tmp/collections/ansible_collections/xenha
	@[ -L .tmp/collections/ansible_collections/xenha/datacenter ] || ln -s $(CURDIR) .tmp/collections/ansible_collections/xenha/datacenter

# Day 2 on the lab: site.yml rolls a new Corosync token and a new Xen option through the running datacenter
# (no guest restarts), then the two members are split; not in `test`: hours on two cores.
rolling-test: bootstrap collection-link
	scripts/scenario-test rolling

# Faults as code (playbooks/faults.yml: a guest crash, libvirtd, Corosync and Pacemaker daemons killed, the
# cluster link cut during a live migration) on a fresh lab converged with site.yml, each judged; not in
# `test`: hours on two cores.
faults-test: bootstrap collection-link
	scripts/scenario-test faults
