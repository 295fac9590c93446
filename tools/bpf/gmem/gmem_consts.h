/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's numbers that tools/bpf/gmem and tools/gmemctl need and no
 * header gives them all, written once.  A BPF program sees only vmlinux.h,
 * which has the kernel's types and enums (from BTF) but none of its
 * macros: uAPI flags, page categories and errno values are repeated here.
 * Userspace that includes this header has each one checked against the
 * uAPI headers at compile time, so a copy that drifts does not build.
 *
 * The kernel's enums (gmem_deny_reason, gmem_host_fault_result,
 * gmem_migrate_result, zone_type) are not copied anywhere: BPF programs
 * use them through vmlinux.h, userspace reads their names from BTF.
 */
#ifndef __GMEM_CONSTS_H
#define __GMEM_CONSTS_H

/* include/uapi/linux/kvm.h: flags of KVM_CREATE_GUEST_MEMFD */
#define GMEM_FLAG_MMAP			0x1ULL	/* GUEST_MEMFD_FLAG_MMAP */
#define GMEM_FLAG_INIT_SHARED		0x2ULL	/* GUEST_MEMFD_FLAG_INIT_SHARED */

/* include/uapi/linux/kvm_gmem.h: categories of KVM_GUEST_MEMFD_SCAN */
#define GMEM_PAGE_PRIVATE		0x1ULL	/* KVM_GMEM_PAGE_PRIVATE */
#define GMEM_PAGE_SHARED		0x2ULL	/* KVM_GMEM_PAGE_SHARED */
#define GMEM_PAGE_ALLOCATED		0x4ULL	/* KVM_GMEM_PAGE_ALLOCATED */

/* include/uapi/asm-generic/errno-base.h */
#define GMEM_EAGAIN			11	/* EAGAIN: a page refused a conversion */

#ifndef __bpf__
#include <errno.h>
#include <linux/kvm.h>
#include <linux/kvm_gmem.h>

_Static_assert(GMEM_FLAG_MMAP == GUEST_MEMFD_FLAG_MMAP, "GUEST_MEMFD_FLAG_MMAP");
_Static_assert(GMEM_FLAG_INIT_SHARED == GUEST_MEMFD_FLAG_INIT_SHARED,
	       "GUEST_MEMFD_FLAG_INIT_SHARED");
_Static_assert(GMEM_PAGE_PRIVATE == KVM_GMEM_PAGE_PRIVATE, "KVM_GMEM_PAGE_PRIVATE");
_Static_assert(GMEM_PAGE_SHARED == KVM_GMEM_PAGE_SHARED, "KVM_GMEM_PAGE_SHARED");
_Static_assert(GMEM_PAGE_ALLOCATED == KVM_GMEM_PAGE_ALLOCATED, "KVM_GMEM_PAGE_ALLOCATED");
_Static_assert(GMEM_EAGAIN == EAGAIN, "EAGAIN");

/* Older C libraries lack them: the x86_64 numbers. */
#include <sys/syscall.h>
#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif

/* mm/gup_test.h, which is not a uAPI header: the tests pin pages with it. */
#define GUP_TEST_FILE		"/sys/kernel/debug/gup_test"
struct pin_longterm_test {
	__u64 addr;
	__u64 size;
	__u32 flags;
};

#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#endif /* !__bpf__ */

#endif /* __GMEM_CONSTS_H */
