/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What gmem_iter.bpf.c and its users share.  The BPF side sees only
 * vmlinux.h, which has the kernel's types but none of its macros, so the
 * uAPI constants it needs are repeated here.
 */
#ifndef __GMEM_ITER_H
#define __GMEM_ITER_H

/* Memslot bindings that the iterator's context holds per file. */
#define GMEM_ITER_MAX_BINDINGS		8
/* Regions printed per file, by default (the "max_regions" rodata). */
#define GMEM_ITER_MAX_REGIONS		256

/* Values of include/uapi/linux/kvm.h */
#define GMEM_ITER_FLAG_MMAP		0x1ULL	/* GUEST_MEMFD_FLAG_MMAP */
#define GMEM_ITER_FLAG_INIT_SHARED	0x2ULL	/* GUEST_MEMFD_FLAG_INIT_SHARED */
/* Values of include/uapi/linux/kvm_gmem.h */
#define GMEM_ITER_PAGE_PRIVATE		0x1ULL	/* KVM_GMEM_PAGE_PRIVATE */
#define GMEM_ITER_PAGE_SHARED		0x2ULL	/* KVM_GMEM_PAGE_SHARED */
#define GMEM_ITER_PAGE_ALLOCATED	0x4ULL	/* KVM_GMEM_PAGE_ALLOCATED */

#endif /* __GMEM_ITER_H */
