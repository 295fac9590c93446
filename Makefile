# SPDX-License-Identifier: GPL-2.0
#
# The gmem lab: an observable guest_memfd on Linux 6.12, built, booted in
# QEMU with nested KVM, tested and measured.  `make help` lists the targets.

LAB	:= lab
BUILD	:= build
# Kernel flavour that make check, run and shell boot (lab/kbuild.sh):
# debug (lockdep, DEBUG_VM, KASAN) or nokasan.
KERNEL	?= debug
HDR	:= $(BUILD)/obj-$(KERNEL)/usr/include

# Test selection for make check: shell patterns over the test names of
# lab/tests.list and lab/tests-*.list.
TESTS	?=
# Time limit of one guest boot, seconds.
TIMEOUT	?= 2400

.NOTPARALLEL:
.PHONY: all help deps tree patches rebase series-check kernel kernel-bench selftests tools \
	check run shell bench clean distclean

all: kernel selftests tools

help:
	@echo 'make check     build everything missing, boot the debug kernel, run every test'
	@echo '               (TESTS="pattern ..." runs a subset)'
	@echo 'make run       build what is missing, boot, run the demo workload'
	@echo 'make bench     boot the kernel without debug options, run the benchmarks'
	@echo 'make shell     interactive shell in the lab guest'
	@echo 'make tree      assemble build/linux: base + patches/ + our tools linked in (FORCE=1 discards edits)'
	@echo 'make patches   re-export patches/ from the commits in build/linux'
	@echo 'make rebase BASE=VERSION  move the series to another linux-source-6.12 (lab/base)'
	@echo 'make series-check  git am patches/ on a clean base, compile every step (FULL=1: link each)'
	@echo 'make kernel    build the debug kernel (build/obj-debug; KERNEL=nokasan: without KASAN)'
	@echo 'make kernel-bench  build the kernel without debug options (build/obj-bench)'
	@echo 'make selftests build the KVM selftests named in lab/tests.list and lab/tests-*.list'
	@echo 'make tools     build our userspace programs into build/bin'
	@echo 'make deps      install the Debian packages the lab needs'
	@echo 'make clean     remove build products, keep build/linux'

deps:
	@$(LAB)/deps.sh

tree: deps
	@$(LAB)/mktree.sh

patches:
	@$(LAB)/export-patches.sh

rebase:
	@$(LAB)/rebase.sh $(BASE)

series-check: kernel
	@FULL=$(FULL) $(LAB)/series-check.sh

kernel: tree
	@$(LAB)/kbuild.sh $(KERNEL) bzImage modules headers

kernel-bench: tree
	@$(LAB)/kbuild.sh bench bzImage modules

selftests: kernel
	@KERNEL=$(KERNEL) $(LAB)/build-selftests.sh

tools: kernel
	@echo "  TOOLS   build/bin"
	@$(MAKE) -s -C $(LAB)/vmm O=$(CURDIR)/$(BUILD)/bin KHDR=$(CURDIR)/$(HDR)
	@$(MAKE) -s -C $(LAB)/bench O=$(CURDIR)/$(BUILD)/bin KHDR=$(CURDIR)/$(HDR)
	@$(MAKE) -s -C tools/bpf/gmem O=$(CURDIR)/$(BUILD)/bin KHDR=$(CURDIR)/$(HDR) \
		VMLINUX=$(CURDIR)/$(BUILD)/obj-$(KERNEL)/vmlinux
	@$(MAKE) -s -C tools/gmemctl O=$(CURDIR)/$(BUILD)/bin KHDR=$(CURDIR)/$(HDR) VMLINUX=$(CURDIR)/$(BUILD)/obj-$(KERNEL)/vmlinux

check: selftests tools
	@KERNEL=$(KERNEL) TIMEOUT=$(TIMEOUT) $(LAB)/check.sh $(TESTS)

run: kernel tools
	@$(LAB)/run-guest.sh -k $(KERNEL) -n run -t $(TIMEOUT) -- $(LAB)/demo.sh

bench: kernel-bench tools
	@$(LAB)/run-guest.sh -k bench -n bench -t $(TIMEOUT) -- $(LAB)/bench.sh

shell: kernel selftests tools
	@$(LAB)/run-guest.sh -k $(KERNEL) -n shell -i

clean:
	rm -rf $(BUILD)/obj-* $(BUILD)/linux/obj-* $(BUILD)/selftests $(BUILD)/bin $(BUILD)/runs $(BUILD)/hdr

distclean:
	rm -rf $(BUILD)
