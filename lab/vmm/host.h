/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem-vmm: the host side's definitions, shared by its objects and by
 * guest-selftest, which links against them:
 *
 *  util.c                messages, errors, ioctl and mmap wrappers, time
 *  options.c             the command line (vmm_init())
 *  setup.c               the VM, its memory, the payload and the vCPU
 *  run.c                 the run loop, its exits, signals and --pause
 *  convert.c             every conversion goes through convert_range()...
 *  conv-in-place.c       ...to this backend (KVM_SET_MEMORY_ATTRIBUTES2 on
 *                        the guest_memfd, and the refused-conversion
 *                        demonstration with gup_test)...
 *  conv-vm-attributes.c  ...or this one (the VM's KVM_SET_MEMORY_ATTRIBUTES,
 *                        two copies)
 *  summary.c             the summary lines the lab greps for
 *  main.c                gmem-vmm's main()
 */
#ifndef GMEM_VMM_HOST_H
#define GMEM_VMM_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <linux/kvm.h>

#include "gmem-vmm.h"
#include "gmem_consts.h"	/* tools/bpf/gmem: gup_test's uAPI, with the tools' */

#define KSFT_SKIP		4

#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define __noreturn		__attribute__((__noreturn__))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define BIT_ULL(n)		(1ULL << (n))

typedef __u64 u64;
typedef __u32 u32;
typedef __u16 u16;
typedef __u8 u8;

#define DATA_SLOT		1

enum conv_mode {
	MODE_AUTO,		/* in-place if KVM supports it */
	MODE_IN_PLACE,		/* KVM_SET_MEMORY_ATTRIBUTES2, one copy */
	MODE_VM_ATTRIBUTES,	/* KVM_SET_MEMORY_ATTRIBUTES, two copies */
};

struct options {
	u64 mem_mib;
	u64 rounds;
	u64 bounce_pages;
	u64 deny_round;		/* 0: no refused-conversion demonstration */
	enum conv_mode mode;
	bool loop;
	bool quiet;
	bool pause;
};

/* One conversion request, filled in by convert_range() and its backend. */
struct conv_op {
	u64 gpa;
	u64 size;
	bool to_private;
	const char *why;	/* "round N", "memory fault", ... */
	u64 attr_ns;		/* time spent changing the attributes */
	u64 discard_ns;		/* time spent dropping the stale copy */
	u64 refused;		/* attempts refused with EAGAIN first */
};

struct conv_stats {
	u64 count;
	u64 pages;
	u64 refused;
	u64 min_ns;
	u64 max_ns;
	u64 total_ns;
	u64 discard_ns;		/* total, not in min/avg/max */
};

struct vmm {
	struct options opt;
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	int gmem_fd;
	struct kvm_run *run;
	size_t run_size;

	u8 *slot0;		/* host view of slot 0, GPA 0 */
	struct gmem_params *params;

	u64 data_size;
	u64 data_pages;
	u64 gmem_offset;	/* guest_memfd offset of the data slot */
	u8 *shared;		/* shared copy (slot userspace_addr) */
	u8 *page_private;	/* host's view of each data page's state */

	/*
	 * Conversion backend: performs the conversion described by @op and
	 * fills in its timings: convert_in_place() or convert_vm_attributes().
	 */
	void (*convert)(struct vmm *vmm, struct conv_op *op);
	enum conv_mode mode;
	const char *convert_mode;	/* "in-place", "vm-attributes", ... */
	char mode_why[256];		/* why this mode, for the start line */

	/*
	 * What convert_in_place() and the refused-conversion demonstration
	 * call into the kernel with; each returns 0 or -errno.  The
	 * defaults issue the real ioctls, guest-selftest stands in for them.
	 */
	int (*set_attributes2)(struct vmm *vmm,
			       struct kvm_memory_attributes2 *attr);
	int (*pin)(struct vmm *vmm, u64 addr, u64 size, const char **what);
	int (*unpin)(struct vmm *vmm);
	bool (*pin_held)(struct vmm *vmm, u8 last);
	int gup_fd;

	/* The refused-conversion demonstration (in place, --deny-round). */
	bool pin_active;
	u64 pin_offset;		/* guest_memfd offset of the pinned page */
	u8 pin_last;		/* the host's filler, its last byte */
	char deny_note[192];	/* how it went, for the summary */
	u64 refused_pinned;	/* EAGAIN because of our pin */
	u64 refused_transient;	/* other EAGAIN, retried */

	bool use_vmmcall;
	u64 t_start_ns;
	u64 t_accept_ns;
	u64 rounds_done;
	u64 mem_faults;
	struct conv_stats to_shared;
	struct conv_stats to_private;
};

/* util.c */
extern bool quiet;
__printf(1, 2) void event(const char *fmt, ...);
__printf(1, 2) void info(const char *fmt, ...);
__printf(2, 3) __noreturn void die_code(int code, const char *fmt, ...);
#define die(fmt, ...)		die_code(1, fmt, ##__VA_ARGS__)
__noreturn void die_errno(const char *what);
int __xioctl(int fd, unsigned long req, const char *name, unsigned long arg);
#define xioctl(fd, req, arg)	__xioctl(fd, req, #req, (unsigned long)(arg))
u64 now_ns(void);
void *xmmap(size_t size, int flags, const char *what);

/* options.c */
void vmm_init(struct vmm *vmm, int argc, char **argv);

/* setup.c */
int check_cap(struct vmm *vmm, long cap);
__noreturn void skip(const char *what);
void open_kvm(struct vmm *vmm);
void create_vm(struct vmm *vmm, unsigned long type);
void create_vcpu(struct vmm *vmm);
void choose_mode(struct vmm *vmm);
void setup_cpuid(struct vmm *vmm);
void map_slot0(struct vmm *vmm);
void setup_slot0(struct vmm *vmm);
void alloc_data(struct vmm *vmm);
void set_data_slot(struct vmm *vmm);
void setup_memory(struct vmm *vmm);
void setup_guest_memory(struct vmm *vmm);
void setup_vcpu(struct vmm *vmm);

/* run.c */
extern atomic_int stop_signal;
void setup_signals(void);
void handle_hypercall(struct vmm *vmm);
void handle_memory_fault(struct vmm *vmm, int *repeats, u64 *last);
bool handle_io(struct vmm *vmm);
void run_guest(struct vmm *vmm);

/* convert.c */
bool data_range_ok(struct vmm *vmm, u64 gpa, u64 npages);
void set_mode(struct vmm *vmm, enum conv_mode mode);
void convert_range(struct vmm *vmm, struct conv_op *op);
u64 convert_all_private(struct vmm *vmm);
void guest_conversion(struct vmm *vmm, struct conv_op *op, const char *why);

/* conv-in-place.c */
void convert_in_place(struct vmm *vmm, struct conv_op *op);
int gmem_set_attributes2(struct vmm *vmm,
			 struct kvm_memory_attributes2 *attr);
int gup_test_pin(struct vmm *vmm, u64 addr, u64 size, const char **what);
int gup_test_unpin(struct vmm *vmm);
bool gup_test_pin_held(struct vmm *vmm, u8 last);
void check_shared_in_place(u64 round, u64 gpa, u64 npages, const u8 *buf);
void pin_bounce_page(struct vmm *vmm, u64 round, u64 gpa, u64 npages);

/* conv-vm-attributes.c */
void convert_vm_attributes(struct vmm *vmm, struct conv_op *op);

/* summary.c */
void print_summary(struct vmm *vmm);
void finish_run(struct vmm *vmm);

#endif /* GMEM_VMM_HOST_H */
