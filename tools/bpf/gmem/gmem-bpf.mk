# SPDX-License-Identifier: GPL-2.0
#
# The rules that tools/bpf/gmem/Makefile and tools/gmemctl/Makefile share,
# as libbpf-tools' Makefile has them: a vmlinux.h from the kernel's BTF,
# each NAME.bpf.c compiled once (CO-RE) against it, and its skeleton.
#
# The including Makefile sets, before including this file:
#   O            where vmlinux.h lands (shared by both tool directories)
#   BPF_OUT      where NAME.bpf.o and NAME.skel.h land
#   BPF_HDRS     headers its BPF programs include (prerequisites)
#   VMLINUX      the kernel image with BTF (KVM_KO: its kvm.ko, if a module)
# and may set CLANG, LLVM_STRIP, BPFTOOL, PKG_CONFIG.

GMEM_BPF_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

# The kernel is built elsewhere (lab/kbuild.sh): never remade here.  Without
# this, make's built-in rule would relink $(VMLINUX) from the vmlinux.o
# beside it whenever that is newer, as it is while kbuild links the kernel.
MAKEFLAGS += --no-builtin-rules

CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

# Asked of pkg-config once, and only by a goal that compiles against
# libbpf (make check needs none): the first use replaces each by its value.
LIBBPF_CFLAGS = $(eval LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf))$(LIBBPF_CFLAGS)
LIBBPF_LIBS = $(eval LIBBPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf))$(LIBBPF_LIBS)

# The lab is x86_64; bpf_tracing.h wants the target architecture.
BPF_CFLAGS = -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
	     -I$(O) -I$(BPF_OUT) -I$(GMEM_BPF_DIR) $(LIBBPF_CFLAGS)

# KVM is a module on distribution kernels (and in the lab): guest_memfd's
# types and its events' are in kvm.ko's BTF, which is split from vmlinux's;
# dumping it with vmlinux as its base gives the types of both.
KVM_KO ?= $(dir $(VMLINUX))arch/x86/kvm/kvm.ko
BTF_SRC = $(if $(wildcard $(KVM_KO)),$(KVM_KO) -B $(VMLINUX),$(VMLINUX))

$(VMLINUX) $(KVM_KO): ;

# Both tool directories' makes may write vmlinux.h at once: each through a
# temporary file of its own, renamed into place.
$(O)/vmlinux.h: $(VMLINUX) $(wildcard $(KVM_KO)) | $(O)
	$(BPFTOOL) btf dump file $(BTF_SRC) format c > $@.tmp.$$$$ && \
		mv $@.tmp.$$$$ $@ || { rm -f $@.tmp.$$$$; exit 1; }

$(BPF_OUT)/%.bpf.o: %.bpf.c $(BPF_HDRS) $(GMEM_BPF_DIR)gmem_consts.h $(O)/vmlinux.h | $(BPF_OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@

$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp.$$$$ && \
		mv $@.tmp.$$$$ $@ || { rm -f $@.tmp.$$$$; exit 1; }
