// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm - a minimal VMM running a KVM_X86_SW_PROTECTED_VM guest whose
 * private memory is backed by guest_memfd.
 *
 * The guest (guest.S) starts directly in 64-bit mode, "accepts" its
 * private data region, and then, once per round, shares a small bounce
 * buffer with KVM_HC_MAP_GPA_RANGE, exchanges a message with the host
 * through it, converts it back to private and checks that its private
 * data is intact.  The host performs every conversion in convert_range(),
 * with one of two backends (--mode):
 *
 *  in-place       the guest_memfd is created with GUEST_MEMFD_FLAG_MMAP and
 *                 holds every page, shared or private; its own mmap() is the
 *                 memslot's userspace_addr, and KVM_SET_MEMORY_ATTRIBUTES2
 *                 on the guest_memfd converts pages without copying them,
 *                 so their content is preserved.  A page the host has
 *                 pinned cannot become private (EAGAIN); one round
 *                 (--deny-round) shows that with a gup_test pin.
 *  vm-attributes  the stock 6.12 way: private pages in the guest_memfd,
 *                 shared ones in anonymous shared memory, converted with
 *                 the VM's KVM_SET_MEMORY_ATTRIBUTES, the stale copy
 *                 discarded every time.
 *
 * The default is in-place when the VM's KVM_CAP_GUEST_MEMFD_FLAGS has
 * GUEST_MEMFD_FLAG_MMAP and its KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES has
 * KVM_MEMORY_ATTRIBUTE_PRIVATE, vm-attributes otherwise.
 *
 * Exit status: 0 success, 1 error or guest-detected failure, 2 usage,
 * 4 (KSFT_SKIP) missing KVM capability, 128 + signal if a finite run was
 * stopped by SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>
#include <linux/kvm_para.h>

#include "gmem-vmm.h"

#define KSFT_SKIP		4

#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define __noreturn		__attribute__((__noreturn__))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define BIT_ULL(n)		(1ULL << (n))

typedef __u64 u64;
typedef __u32 u32;
typedef __u16 u16;
typedef __u8 u8;

/* x86 architectural bits */
#define X86_CR0_PE		BIT_ULL(0)
#define X86_CR0_ET		BIT_ULL(4)
#define X86_CR0_NE		BIT_ULL(5)
#define X86_CR0_PG		BIT_ULL(31)
#define X86_CR4_PAE		BIT_ULL(5)
#define EFER_LME		BIT_ULL(8)
#define EFER_LMA		BIT_ULL(10)
#define PTE_PRESENT		BIT_ULL(0)
#define PTE_WRITE		BIT_ULL(1)
#define PTE_LARGE		BIT_ULL(7)
#define X86_RFLAGS_FIXED	BIT_ULL(1)

#define KVM_CPUID_SIGNATURE_LEAF	0x40000000
#define KVM_CPUID_FEATURES_LEAF		0x40000001
#define CPUID_VENDOR_AMD_EBX		0x68747541	/* "Auth" */
#define CPUID_VENDOR_HYGON_EBX		0x6f677948	/* "Hygo" */

#define DATA_SLOT		1
#define MAX_MEMORY_FAULTS	8	/* identical faults in a row */
#define MAX_EAGAIN_RETRIES	100	/* transient refusals of one conversion */
#define EAGAIN_RETRY_US		1000

/*
 * In-place conversion uAPI (GUEST_MEMFD_FLAG_MMAP, KVM_SET_MEMORY_ATTRIBUTES2),
 * for headers that predate it; the numbers are the kernel's ABI.
 */
#ifndef KVM_CAP_GUEST_MEMFD_FLAGS
#define KVM_CAP_GUEST_MEMFD_FLAGS		244
#endif
#ifndef KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES
#define KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES	250
#endif
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP			BIT_ULL(0)
#endif
#ifndef KVM_SET_MEMORY_ATTRIBUTES2
struct kvm_memory_attributes2 {
	union {
		__u64 address;
		__u64 offset;
	};
	__u64 size;
	__u64 attributes;
	__u64 flags;
	__u64 error_offset;
	__u64 reserved[11];
};

#define KVM_SET_MEMORY_ATTRIBUTES2 \
	_IOWR(KVMIO, 0xd2, struct kvm_memory_attributes2)
#endif

/*
 * gup_test (CONFIG_GUP_TEST, mm/gup_test.h): long-term GUP pins on demand,
 * as a device driver doing DMA to guest memory would hold them.  It keeps
 * one pin for the whole system, and whoever closes the file drops it.
 */
#define GUP_TEST_FILE		"/sys/kernel/debug/gup_test"

struct pin_longterm_test {
	__u64 addr;
	__u64 size;
	__u32 flags;
};

#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, __u64)

static_assert(GMEM_HC_MAP_GPA_RANGE == KVM_HC_MAP_GPA_RANGE, "hc nr");
static_assert(GMEM_MAP_SHARED_ATTRS ==
	      (KVM_MAP_GPA_RANGE_DECRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K),
	      "shared attrs");
static_assert(GMEM_MAP_PRIVATE_ATTRS ==
	      (KVM_MAP_GPA_RANGE_ENCRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K),
	      "private attrs");
static_assert(offsetof(struct gmem_params, data_gpa) == P_DATA_GPA, "P");
static_assert(offsetof(struct gmem_params, data_pages) == P_DATA_PAGES, "P");
static_assert(offsetof(struct gmem_params, rounds) == P_ROUNDS, "P");
static_assert(offsetof(struct gmem_params, bounce_pages) == P_BOUNCE_PAGES,
	      "P");
static_assert(offsetof(struct gmem_params, use_vmmcall) == P_USE_VMMCALL,
	      "P");
static_assert(offsetof(struct gmem_params, flags) == P_FLAGS, "P");
static_assert(offsetof(struct gmem_params, stop) == P_STOP, "P");
static_assert(offsetof(struct gmem_params, round) == P_ROUND, "P");
static_assert(offsetof(struct gmem_params, bounce_gpa) == P_BOUNCE_GPA, "P");
static_assert(offsetof(struct gmem_params, fail_code) == P_FAIL_CODE, "P");
static_assert(offsetof(struct gmem_params, fail_gpa) == P_FAIL_GPA, "P");
static_assert(offsetof(struct gmem_params, fail_expected) == P_FAIL_EXPECTED,
	      "P");
static_assert(offsetof(struct gmem_params, fail_got) == P_FAIL_GOT, "P");
static_assert(offsetof(struct gmem_params, preserved) == P_PRESERVED, "P");
static_assert(sizeof(struct gmem_params) <= P_SCRATCH, "P");
static_assert(P_SCRATCH + GMEM_MSG_MAX <= GMEM_PAGE_SIZE, "P");

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

/* Lock-free atomics are async-signal-safe (C11 7.14.1.1). */
static atomic_int stop_signal;
static atomic_int resume_signal;
static atomic_uintptr_t signal_run;	/* the vCPU's struct kvm_run */
static bool quiet;

static __printf(1, 2) void event(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	fputs("gmem-vmm: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static __printf(1, 2) void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("gmem-vmm: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static __printf(2, 3) __noreturn void die_code(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	fputs("gmem-vmm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

#define die(fmt, ...)		die_code(1, fmt, ##__VA_ARGS__)

/* One line naming the failed call and errno, then exit(1). */
static __noreturn void die_errno(const char *what)
{
	int err = errno;

	die("%s failed: %s", what, strerror(err));
}

static int __xioctl(int fd, unsigned long req, const char *name,
		    unsigned long arg)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		die_errno(name);
	return r;
}

#define xioctl(fd, req, arg)	__xioctl(fd, req, #req, (unsigned long)(arg))

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *xmmap(size_t size, int flags, const char *what)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		die_errno(what);
	return p;
}

/* ---- conversions ------------------------------------------------------ */

/* Messages of the in-place conversions, each kept on one line for grep. */
#define MSG_REFUSED_PINNED \
	"%s: private gpa 0x%llx +%llu pages REFUSED: EAGAIN, page at offset 0x%llx (gpa 0x%llx) is pinned (gup_test pin); unpinning and retrying"
#define MSG_REFUSED_OTHER \
	"%s: %s gpa 0x%llx +%llu pages REFUSED: EAGAIN, page at offset 0x%llx (gpa 0x%llx) is referenced%s; retrying up to %d times"
#define MSG_REFUSED_STUCK \
	"%s: %s gpa 0x%llx +%llu pages still REFUSED after %d retries: EAGAIN, page at offset 0x%llx (gpa 0x%llx) stays pinned or referenced"
#define MSG_PIN_DROPPED \
	"%s: private gpa 0x%llx converted: demonstration void, our gup_test pin is gone (another user closed gup_test)"
#define MSG_PRESERVED \
	"round %llu: content preserved in place: yes (the guest read the host's reply back from its private pages)"
#define MSG_SHARED_LOST \
	"round %llu: shared page gpa 0x%llx lost the guest's data in the conversion in place: at +0x%llx want 0x%llx got 0x%llx"

static bool data_range_ok(struct vmm *vmm, u64 gpa, u64 npages)
{
	u64 first;

	if (gpa < GMEM_DATA_GPA || gpa & (GMEM_PAGE_SIZE - 1))
		return false;
	first = (gpa - GMEM_DATA_GPA) >> GMEM_PAGE_SHIFT;
	return npages && first < vmm->data_pages &&
	       npages <= vmm->data_pages - first;
}

/*
 * Backend: convert via the VM's memory attributes (KVM_SET_MEMORY_ATTRIBUTES)
 * and discard the copy that just became stale, like 6.12 VMMs do:
 * to shared  -> PUNCH_HOLE the private copy in guest_memfd;
 * to private -> free the shared copy.  The shared copy is a MAP_SHARED
 * anonymous (shmem) mapping, on which MADV_DONTNEED only zaps our page
 * table entries and keeps the data; MADV_REMOVE really frees it.
 */
static void convert_vm_attributes(struct vmm *vmm, struct conv_op *op)
{
	struct kvm_memory_attributes attr = {
		.address = op->gpa,
		.size = op->size,
		.attributes = op->to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};
	u64 off = op->gpa - GMEM_DATA_GPA;
	u64 t0, t1, t2;

	t0 = now_ns();
	xioctl(vmm->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &attr);
	t1 = now_ns();
	if (op->to_private) {
		if (madvise(vmm->shared + off, op->size, MADV_REMOVE))
			die_errno("madvise(MADV_REMOVE) on the shared copy");
	} else {
		if (fallocate(vmm->gmem_fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      vmm->gmem_offset + off, op->size))
			die_errno("fallocate(PUNCH_HOLE) on guest_memfd");
	}
	t2 = now_ns();
	op->attr_ns = t1 - t0;
	op->discard_ns = t2 - t1;
}

/* KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd; 0 or -errno. */
static int gmem_set_attributes2(struct vmm *vmm,
				struct kvm_memory_attributes2 *attr)
{
	return ioctl(vmm->gmem_fd, KVM_SET_MEMORY_ATTRIBUTES2, attr) ? -errno : 0;
}

/*
 * Long-term read pin of [@addr, @addr + @size) through gup_test; 0 or
 * -errno, with *@what naming the call that failed.  The pin lasts until
 * gup_test_unpin(), or until the process exits (gup_test's release).
 */
static int gup_test_pin(struct vmm *vmm, u64 addr, u64 size, const char **what)
{
	struct pin_longterm_test pin = {
		.addr = addr,
		.size = size,
		.flags = 0,
	};

	if (vmm->gup_fd < 0) {
		*what = "open(" GUP_TEST_FILE ")";
		vmm->gup_fd = open(GUP_TEST_FILE, O_RDWR | O_CLOEXEC);
		if (vmm->gup_fd < 0)
			return -errno;
	}
	*what = "PIN_LONGTERM_TEST_START";
	return ioctl(vmm->gup_fd, PIN_LONGTERM_TEST_START, &pin) ? -errno : 0;
}

static int gup_test_unpin(struct vmm *vmm)
{
	return ioctl(vmm->gup_fd, PIN_LONGTERM_TEST_STOP, 0) ? -errno : 0;
}

/*
 * Whether gup_test still holds our one-page pin: it reads back what it
 * pins (into a buffer followed by a guard page, as another user's pin
 * may be longer), which ends in the byte @last if the page is ours.
 */
static bool gup_test_pin_held(struct vmm *vmm, u8 last)
{
	static u8 *buf;
	u64 addr;

	if (!buf) {
		buf = xmmap(2 * GMEM_PAGE_SIZE, MAP_PRIVATE | MAP_ANONYMOUS,
			    "mmap(gup_test buffer)");
		if (mprotect(buf + GMEM_PAGE_SIZE, GMEM_PAGE_SIZE, PROT_NONE))
			die_errno("mprotect(gup_test buffer)");
	}
	addr = (uintptr_t)buf;
	if (ioctl(vmm->gup_fd, PIN_LONGTERM_TEST_READ, &addr))
		return false;	/* EINVAL: nothing pinned; EFAULT: not ours */
	return buf[GMEM_PAGE_SIZE - 1] == last;
}

static u64 offset_to_gpa(struct vmm *vmm, u64 offset)
{
	return GMEM_DATA_GPA + offset - vmm->gmem_offset;
}

/*
 * The conversion to private of the bounce buffer whose page we pinned was
 * refused, as it must be.  Show it, check that nothing changed (all or
 * nothing: the host still reads its reply through the shared mapping; were
 * the pages private now, that read would fault), then unpin for the retry.
 */
static void refused_by_our_pin(struct vmm *vmm, const struct conv_op *op)
{
	const char *reply = (const char *)vmm->shared +
			    (op->gpa - GMEM_DATA_GPA) + GMEM_BOUNCE_REPLY_OFF;
	char want[GMEM_MSG_MAX];
	int err;

	vmm->refused_pinned++;
	event(MSG_REFUSED_PINNED, op->why, (unsigned long long)op->gpa,
	      (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
	      (unsigned long long)vmm->pin_offset,
	      (unsigned long long)offset_to_gpa(vmm, vmm->pin_offset));

	if (op->gpa == vmm->params->bounce_gpa) {
		snprintf(want, sizeof(want), GMEM_HOST_REPLY "%llu",
			 (unsigned long long)vmm->params->round);
		if (strncmp(reply, want, sizeof(want)))
			die("%s: the refused conversion changed the buffer: \"%.*s\"",
			    op->why, GMEM_MSG_MAX, reply);
		event("%s: nothing converted (all or nothing): host still reads \"%s\"",
		      op->why, want);
	}

	err = vmm->unpin(vmm);
	if (err) {
		errno = -err;
		die_errno("PIN_LONGTERM_TEST_STOP");
	}
	vmm->pin_active = false;
	snprintf(vmm->deny_note, sizeof(vmm->deny_note),
		 "%s: page at offset 0x%llx pinned, conversion to private refused, done after unpinning",
		 op->why, (unsigned long long)vmm->pin_offset);
}

/*
 * The conversion to private succeeded although we had pinned a page of the
 * range: a kernel bug if the pin is still there.  But gup_test has a single
 * pin for all its users, which any of them drops by closing the file, so
 * another user may have dropped ours: then the demonstration is void.
 */
static void converted_while_pinned(struct vmm *vmm, const struct conv_op *op)
{
	if (vmm->pin_held(vmm, vmm->pin_last))
		die("%s: private gpa 0x%llx converted although offset 0x%llx is pinned",
		    op->why, (unsigned long long)op->gpa,
		    (unsigned long long)vmm->pin_offset);

	vmm->pin_active = false;
	snprintf(vmm->deny_note, sizeof(vmm->deny_note),
		 "%s: demonstration void, another gup_test user dropped our pin",
		 op->why);
	/* Whatever gup_test pins now is someone else's: leave it alone. */
	event(MSG_PIN_DROPPED, op->why, (unsigned long long)op->gpa);
}

/*
 * Backend: convert in place with KVM_SET_MEMORY_ATTRIBUTES2 on the
 * guest_memfd.  The pages stay where they are, with their content, so
 * there is nothing to discard.  Shared to private is refused with EAGAIN
 * while a page of the range is pinned or otherwise referenced, and
 * error_offset names the first such page: our own gup_test pin is
 * released, anything else is taken as transient and retried a bounded
 * number of times.  Only the successful call is timed.
 */
static void convert_in_place(struct vmm *vmm, struct conv_op *op)
{
	u64 offset = vmm->gmem_offset + (op->gpa - GMEM_DATA_GPA);
	bool pinned = vmm->pin_active && op->to_private &&
		      vmm->pin_offset >= offset &&
		      vmm->pin_offset - offset < op->size;
	const char *to = op->to_private ? "private" : "share";
	unsigned int transient = 0;

	for (;;) {
		struct kvm_memory_attributes2 attr = {
			.offset = offset,
			.size = op->size,
			.attributes = op->to_private ?
				      KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
		};
		u64 t0 = now_ns();
		int err;

		err = vmm->set_attributes2(vmm, &attr);
		op->attr_ns = now_ns() - t0;
		if (!err)
			break;
		if (err != -EAGAIN)
			die("%s: %s gpa 0x%llx +%llu pages: KVM_SET_MEMORY_ATTRIBUTES2: %s",
			    op->why, to, (unsigned long long)op->gpa,
			    (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
			    strerror(-err));

		op->refused++;
		if (pinned && attr.error_offset == vmm->pin_offset) {
			refused_by_our_pin(vmm, op);
			pinned = false;
			continue;
		}

		vmm->refused_transient++;
		if (++transient > MAX_EAGAIN_RETRIES)
			die(MSG_REFUSED_STUCK, op->why, to, (unsigned long long)op->gpa,
			    (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
			    MAX_EAGAIN_RETRIES,
			    (unsigned long long)attr.error_offset,
			    (unsigned long long)offset_to_gpa(vmm,
							      attr.error_offset));
		if (transient == 1)
			event(MSG_REFUSED_OTHER, op->why, to, (unsigned long long)op->gpa,
			      (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
			      (unsigned long long)attr.error_offset,
			      (unsigned long long)offset_to_gpa(vmm,
								attr.error_offset),
			      pinned ? " (not the page we pinned)" : "",
			      MAX_EAGAIN_RETRIES);
		usleep(EAGAIN_RETRY_US);
	}

	if (pinned)
		converted_while_pinned(vmm, op);
	op->discard_ns = 0;
}

/*
 * All conversions go through here.  @op->gpa/size must be a page aligned
 * range inside the data region (checked by the callers).
 */
static void convert_range(struct vmm *vmm, struct conv_op *op)
{
	u64 first = (op->gpa - GMEM_DATA_GPA) >> GMEM_PAGE_SHIFT;
	u64 npages = op->size >> GMEM_PAGE_SHIFT;

	if (!op->why)
		op->why = "conversion";
	vmm->convert(vmm, op);
	memset(vmm->page_private + first, op->to_private, npages);
}

static void account(struct conv_stats *s, const struct conv_op *op)
{
	u64 ns = op->attr_ns;

	s->refused += op->refused;
	s->discard_ns += op->discard_ns;

	if (!s->count || ns < s->min_ns)
		s->min_ns = ns;
	if (ns > s->max_ns)
		s->max_ns = ns;
	s->total_ns += ns;
	s->pages += op->size >> GMEM_PAGE_SHIFT;
	s->count++;
}

/* Convert on behalf of the guest and print/account the event. */
static void guest_conversion(struct vmm *vmm, struct conv_op *op,
			     const char *why)
{
	char how[64];

	op->why = why;
	convert_range(vmm, op);
	account(op->to_private ? &vmm->to_private : &vmm->to_shared, op);
	if (vmm->mode == MODE_IN_PLACE)
		snprintf(how, sizeof(how), op->refused ?
			 "in place, after %llu refused" : "in place",
			 (unsigned long long)op->refused);
	else
		snprintf(how, sizeof(how), "discard %llu us",
			 (unsigned long long)(op->discard_ns / 1000));
	event("%s: %-7s gpa 0x%llx +%llu pages  (to %s in %llu us, %s)",
	      why, op->to_private ? "private" : "share",
	      (unsigned long long)op->gpa,
	      (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
	      op->to_private ? "private" : "shared",
	      (unsigned long long)(op->attr_ns / 1000), how);
}

/* ---- setup ------------------------------------------------------------ */

static int check_cap(struct vmm *vmm, long cap)
{
	return xioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, cap);
}

static __noreturn void skip(const char *what)
{
	die_code(KSFT_SKIP, "SKIP: %s", what);
}

static void open_kvm(struct vmm *vmm)
{
	int r;

	vmm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vmm->kvm_fd < 0) {
		int err = errno;

		die_code(KSFT_SKIP, "SKIP: cannot open /dev/kvm: %s",
			 strerror(err));
	}

	r = xioctl(vmm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION)
		die("KVM_GET_API_VERSION: got %d, want %d", r, KVM_API_VERSION);

	r = check_cap(vmm, KVM_CAP_VM_TYPES);
	if (!(r & BIT_ULL(KVM_X86_SW_PROTECTED_VM)))
		skip("KVM_CAP_VM_TYPES lacks KVM_X86_SW_PROTECTED_VM (needs TDP)");
	if (!check_cap(vmm, KVM_CAP_GUEST_MEMFD))
		skip("KVM_CAP_GUEST_MEMFD missing");
	r = check_cap(vmm, KVM_CAP_MEMORY_ATTRIBUTES);
	if (!(r & KVM_MEMORY_ATTRIBUTE_PRIVATE))
		skip("KVM_CAP_MEMORY_ATTRIBUTES lacks KVM_MEMORY_ATTRIBUTE_PRIVATE");
	r = check_cap(vmm, KVM_CAP_EXIT_HYPERCALL);
	if (!(r & BIT_ULL(KVM_HC_MAP_GPA_RANGE)))
		skip("KVM_CAP_EXIT_HYPERCALL lacks KVM_HC_MAP_GPA_RANGE");
	if (!check_cap(vmm, KVM_CAP_USER_MEMORY2))
		skip("KVM_CAP_USER_MEMORY2 missing");
}

static void create_vm(struct vmm *vmm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_HYPERCALL,
		.args[0] = BIT_ULL(KVM_HC_MAP_GPA_RANGE),
	};
	int mmap_size;
	long r;

	vmm->vm_fd = xioctl(vmm->kvm_fd, KVM_CREATE_VM,
			    KVM_X86_SW_PROTECTED_VM);

	/* Per-VM answer, in case the VM type restricts it. */
	r = xioctl(vmm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES);
	if (!(r & KVM_MEMORY_ATTRIBUTE_PRIVATE))
		skip("KVM_CAP_MEMORY_ATTRIBUTES lacks KVM_MEMORY_ATTRIBUTE_PRIVATE on the VM");

	xioctl(vmm->vm_fd, KVM_ENABLE_CAP, &cap);

	vmm->vcpu_fd = xioctl(vmm->vm_fd, KVM_CREATE_VCPU, 0);
	mmap_size = xioctl(vmm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((size_t)mmap_size < sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE returned %d", mmap_size);
	vmm->run_size = mmap_size;
	vmm->run = mmap(NULL, vmm->run_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, vmm->vcpu_fd, 0);
	if (vmm->run == MAP_FAILED)
		die_errno("mmap(kvm_run)");
}

/* The backend and the guest's expectations of a mode. */
static void set_mode(struct vmm *vmm, enum conv_mode mode)
{
	vmm->mode = mode;
	if (mode == MODE_IN_PLACE) {
		vmm->convert = convert_in_place;
		vmm->convert_mode = "in-place";
	} else {
		vmm->convert = convert_vm_attributes;
		vmm->convert_mode = "vm-attributes";
	}
}

/*
 * In place needs a guest_memfd that can be mmap()ed and tracks shared
 * pages, and KVM_SET_MEMORY_ATTRIBUTES2 able to make pages private, both
 * asked of this VM (the answer depends on the VM type).  Kernels without
 * the series answer 0 for both capabilities.
 */
static void choose_mode(struct vmm *vmm)
{
	long flags = xioctl(vmm->vm_fd, KVM_CHECK_EXTENSION,
			    KVM_CAP_GUEST_MEMFD_FLAGS);
	long attrs = xioctl(vmm->vm_fd, KVM_CHECK_EXTENSION,
			    KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES);
	bool can = (flags & GUEST_MEMFD_FLAG_MMAP) &&
		   (attrs & KVM_MEMORY_ATTRIBUTE_PRIVATE);
	char caps[160];

	snprintf(caps, sizeof(caps),
		 "KVM_CAP_GUEST_MEMFD_FLAGS 0x%lx %s MMAP, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES 0x%lx %s PRIVATE",
		 flags, flags & GUEST_MEMFD_FLAG_MMAP ? "has" : "lacks",
		 attrs, attrs & KVM_MEMORY_ATTRIBUTE_PRIVATE ? "has" : "lacks");

	switch (vmm->opt.mode) {
	case MODE_AUTO:
		set_mode(vmm, can ? MODE_IN_PLACE : MODE_VM_ATTRIBUTES);
		snprintf(vmm->mode_why, sizeof(vmm->mode_why),
			 "the default here: %s", caps);
		break;
	case MODE_IN_PLACE:
		if (!can)
			die_code(KSFT_SKIP, "SKIP: --mode in-place: %s", caps);
		set_mode(vmm, MODE_IN_PLACE);
		snprintf(vmm->mode_why, sizeof(vmm->mode_why),
			 "chosen with --mode; %s", caps);
		break;
	case MODE_VM_ATTRIBUTES:
		set_mode(vmm, MODE_VM_ATTRIBUTES);
		snprintf(vmm->mode_why, sizeof(vmm->mode_why),
			 "chosen with --mode%s", can ?
			 " (in-place would be available)" : "");
		break;
	}
}

static void setup_cpuid(struct vmm *vmm)
{
	struct kvm_cpuid2 *cpuid = NULL;
	u32 nent = 64;
	u32 i;

	for (;;) {
		cpuid = realloc(cpuid, sizeof(*cpuid) +
				nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			die("out of memory");
		memset(cpuid, 0, sizeof(*cpuid));
		cpuid->nent = nent;
		if (!ioctl(vmm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		if (errno != E2BIG || nent >= 4096)
			die_errno("KVM_GET_SUPPORTED_CPUID");
		nent *= 2;
	}

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		/* Pick the hypercall instruction the vCPU implements. */
		if (e->function == 0 && e->index == 0)
			vmm->use_vmmcall = e->ebx == CPUID_VENDOR_AMD_EBX ||
					   e->ebx == CPUID_VENDOR_HYGON_EBX;
		/* Advertise MAP_GPA_RANGE now that the exit is enabled. */
		if (e->function == KVM_CPUID_FEATURES_LEAF)
			e->eax |= BIT_ULL(KVM_FEATURE_HC_MAP_GPA_RANGE);
	}

	xioctl(vmm->vcpu_fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
}

static void set_memory_region(struct vmm *vmm,
			      struct kvm_userspace_memory_region2 *region)
{
	xioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION2, region);
}

static void setup_memory(struct vmm *vmm)
{
	struct kvm_userspace_memory_region2 region = { 0 };
	struct kvm_create_guest_memfd gmem = { 0 };
	struct conv_op op = { 0 };

	/* Slot 0: plain anonymous memory, always shared. */
	vmm->slot0 = xmmap(GMEM_SLOT0_SIZE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			   "mmap(slot 0)");
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = GMEM_SLOT0_SIZE;
	region.userspace_addr = (unsigned long)vmm->slot0;
	set_memory_region(vmm, &region);
	vmm->params = (struct gmem_params *)(vmm->slot0 + GMEM_PARAMS_GPA);

	/*
	 * Slot 1, in place: one guest_memfd holds shared and private pages,
	 * and its own mapping is where KVM finds the shared ones.  With
	 * vm-attributes: guest_memfd for private, a shared mapping for shared.
	 */
	vmm->data_size = vmm->opt.mem_mib << 20;
	vmm->data_pages = vmm->data_size >> GMEM_PAGE_SHIFT;
	vmm->gmem_offset = 0;
	gmem.size = vmm->data_size;
	gmem.flags = vmm->mode == MODE_IN_PLACE ? GUEST_MEMFD_FLAG_MMAP : 0;
	vmm->gmem_fd = xioctl(vmm->vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem);

	if (vmm->mode == MODE_IN_PLACE) {
		vmm->shared = mmap(NULL, vmm->data_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, vmm->gmem_fd, vmm->gmem_offset);
		if (vmm->shared == MAP_FAILED)
			die_errno("mmap(guest_memfd)");
	} else {
		vmm->shared = xmmap(vmm->data_size,
				    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
				    "mmap(shared copy)");
	}
	vmm->page_private = calloc(vmm->data_pages, 1);
	if (!vmm->page_private)
		die("out of memory");

	memset(&region, 0, sizeof(region));
	region.slot = DATA_SLOT;
	region.flags = KVM_MEM_GUEST_MEMFD;
	region.guest_phys_addr = GMEM_DATA_GPA;
	region.memory_size = vmm->data_size;
	region.userspace_addr = (unsigned long)vmm->shared;
	region.guest_memfd = vmm->gmem_fd;
	region.guest_memfd_offset = vmm->gmem_offset;
	set_memory_region(vmm, &region);

	/*
	 * A confidential guest's memory starts out private: a guest_memfd
	 * created without GUEST_MEMFD_FLAG_INIT_SHARED is, page by page.
	 */
	if (vmm->mode == MODE_IN_PLACE) {
		memset(vmm->page_private, 1, vmm->data_pages);
		event("data region gpa 0x%llx +%llu pages, private from the start",
		      (unsigned long long)GMEM_DATA_GPA,
		      (unsigned long long)vmm->data_pages);
		event("memslot %d userspace_addr %p is the guest_memfd's own mapping",
		      DATA_SLOT, (void *)vmm->shared);
		return;
	}
	op.gpa = GMEM_DATA_GPA;
	op.size = vmm->data_size;
	op.to_private = true;
	convert_range(vmm, &op);
	event("data region gpa 0x%llx +%llu pages marked private in %llu us",
	      (unsigned long long)GMEM_DATA_GPA,
	      (unsigned long long)vmm->data_pages,
	      (unsigned long long)(op.attr_ns / 1000));
}

static u64 gdt_entry(u32 base, u32 limit, u32 access, u32 flags)
{
	return (u64)(limit & 0xffff) |
	       (u64)(base & 0xffffff) << 16 |
	       (u64)(access & 0xff) << 40 |
	       (u64)((limit >> 16) & 0xf) << 48 |
	       (u64)(flags & 0xf) << 52 |
	       (u64)((base >> 24) & 0xff) << 56;
}

static void setup_guest_memory(struct vmm *vmm)
{
	u64 *pml4 = (u64 *)(vmm->slot0 + GMEM_PML4_GPA);
	u64 *pdpt = (u64 *)(vmm->slot0 + GMEM_PDPT_GPA);
	u64 *pd = (u64 *)(vmm->slot0 + GMEM_PD_GPA);
	u64 *gdt = (u64 *)(vmm->slot0 + GMEM_GDT_GPA);
	u8 *idt = vmm->slot0 + GMEM_IDT_GPA;
	size_t code_size = gmem_guest_end - gmem_guest_start;
	size_t stubs = gmem_guest_exc_stubs - gmem_guest_start;
	struct gmem_params *p = vmm->params;
	u64 i;

	if (code_size > GMEM_CODE_MAX || stubs % GMEM_EXC_STUB_SIZE ||
	    stubs + GMEM_NR_EXC * GMEM_EXC_STUB_SIZE > code_size)
		die("bad guest payload layout (size %zu, stubs at %zu)",
		    code_size, stubs);

	/* Identity map 0-4 GiB with 2 MiB pages. */
	pml4[0] = GMEM_PDPT_GPA | PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < GMEM_NR_PD; i++)
		pdpt[i] = (GMEM_PD_GPA + i * GMEM_PAGE_SIZE) |
			  PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < GMEM_NR_PD * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;

	/*
	 * GDT: null, 64-bit code, data, 64-bit TSS (busy).  The hidden
	 * segment state is loaded with KVM_SET_SREGS; the GDT only matters
	 * when the CPU reloads CS, i.e. on exception delivery.
	 */
	gdt[0] = 0;
	gdt[GMEM_SEL_CODE / 8] = gdt_entry(0, 0xfffff, 0x9b, 0xa);
	gdt[GMEM_SEL_DATA / 8] = gdt_entry(0, 0xfffff, 0x93, 0xc);
	gdt[GMEM_SEL_TSS / 8] = gdt_entry(GMEM_TSS_GPA, 0x67, 0x8b, 0);
	gdt[GMEM_SEL_TSS / 8 + 1] = 0;

	/* IDT: 64-bit interrupt gates to the exception stubs. */
	for (i = 0; i < GMEM_NR_EXC; i++) {
		u64 handler = GMEM_CODE_GPA + stubs + i * GMEM_EXC_STUB_SIZE;
		u8 *gate = idt + i * 16;

		memset(gate, 0, 16);
		gate[0] = handler;
		gate[1] = handler >> 8;
		gate[2] = GMEM_SEL_CODE;
		gate[3] = 0;
		gate[4] = 0;			/* IST */
		gate[5] = 0x8e;			/* P, DPL 0, interrupt gate */
		gate[6] = handler >> 16;
		gate[7] = handler >> 24;
		gate[8] = handler >> 32;
		gate[9] = handler >> 40;
		gate[10] = handler >> 48;
		gate[11] = handler >> 56;
	}

	memcpy(vmm->slot0 + GMEM_CODE_GPA, gmem_guest_start, code_size);

	p->data_gpa = GMEM_DATA_GPA;
	p->data_pages = vmm->data_pages;
	p->rounds = vmm->opt.loop ? 0 : vmm->opt.rounds;
	p->bounce_pages = vmm->opt.bounce_pages;
	p->use_vmmcall = vmm->use_vmmcall;
	/*
	 * Converting in place keeps the content, so the guest finds the
	 * host's reply in its re-privatised pages.  Converting via the VM's
	 * attributes discards the private copy when sharing, so the guest
	 * gets zeroes when it re-accepts the pages.
	 */
	p->flags = vmm->mode == MODE_IN_PLACE ? GMEM_F_EXPECT_PRESERVED :
						GMEM_F_EXPECT_DISCARD;
	p->preserved = 0;
	p->stop = 0;
}

static void set_seg(struct kvm_segment *s, u16 sel, u8 type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

static void setup_vcpu(struct vmm *vmm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	xioctl(vmm->vcpu_fd, KVM_GET_SREGS, &sregs);

	set_seg(&sregs.cs, GMEM_SEL_CODE, 0xb, true);	/* exec/read, acc. */
	set_seg(&sregs.ds, GMEM_SEL_DATA, 0x3, false);	/* read/write, acc. */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;

	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = GMEM_TSS_GPA;
	sregs.tr.limit = 0x67;
	sregs.tr.selector = GMEM_SEL_TSS;
	sregs.tr.type = 0xb;				/* busy 64-bit TSS */
	sregs.tr.present = 1;

	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;

	sregs.gdt.base = GMEM_GDT_GPA;
	sregs.gdt.limit = GMEM_GDT_SIZE - 1;
	sregs.idt.base = GMEM_IDT_GPA;
	sregs.idt.limit = GMEM_NR_EXC * 16 - 1;

	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	sregs.cr3 = GMEM_PML4_GPA;
	sregs.cr4 = X86_CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	xioctl(vmm->vcpu_fd, KVM_SET_SREGS, &sregs);

	memset(&regs, 0, sizeof(regs));
	regs.rflags = X86_RFLAGS_FIXED;
	regs.rip = GMEM_CODE_GPA;
	regs.rsp = GMEM_STACK_TOP;
	regs.rdi = GMEM_PARAMS_GPA;
	xioctl(vmm->vcpu_fd, KVM_SET_REGS, &regs);
}

/* ---- signals and --pause ---------------------------------------------- */

static void on_stop_signal(int sig)
{
	static const char msg[] = "gmem-vmm: second signal, exiting now\n";
	struct kvm_run *run = (struct kvm_run *)atomic_load(&signal_run);

	if (stop_signal) {
		ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);

		(void)r;
		_exit(128 + sig);
	}
	stop_signal = sig;
	/* Kick KVM_RUN (or make the next one return -EINTR at once). */
	if (run)
		run->immediate_exit = 1;
}

static void on_resume_signal(int sig)
{
	(void)sig;
	resume_signal = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = { 0 };

	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		die_errno("sigaction");
	sa.sa_handler = on_resume_signal;
	if (sigaction(SIGUSR1, &sa, NULL))
		die_errno("sigaction");
}

/* Wait for a newline on stdin, SIGUSR1, or a stop signal. */
static void wait_for_operator(struct vmm *vmm)
{
	bool stdin_open = true;
	sigset_t block, orig;

	printf("ready pid=%d gmem_fd=%d vm_fd=%d\n",
	       (int)getpid(), vmm->gmem_fd, vmm->vm_fd);
	fflush(stdout);

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &orig))
		die_errno("sigprocmask");

	while (!resume_signal && !stop_signal) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		char c;
		int r;

		r = ppoll(&pfd, stdin_open ? 1 : 0, NULL, &orig);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die_errno("ppoll");
		}
		if (!stdin_open || !pfd.revents)
			continue;
		if (pfd.revents & POLLNVAL) {
			stdin_open = false;
			continue;
		}
		r = read(STDIN_FILENO, &c, 1);
		if (r == 1 && c == '\n')
			break;
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			stdin_open = false;	/* EOF: wait for SIGUSR1 */
	}

	if (sigprocmask(SIG_SETMASK, &orig, NULL))
		die_errno("sigprocmask");
	event("%s", stop_signal ? "stop requested while paused" : "resuming");
}

/* ---- exits ------------------------------------------------------------ */

static const char *exit_reason_name(u32 reason)
{
	static const char * const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
		[KVM_EXIT_NOTIFY] = "NOTIFY",
		[KVM_EXIT_MEMORY_FAULT] = "MEMORY_FAULT",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

static __noreturn void unexpected_exit(struct vmm *vmm, const char *why)
{
	struct kvm_run *run = vmm->run;
	struct kvm_regs regs;
	char detail[160] = "";

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		snprintf(detail, sizeof(detail), ", %s port 0x%x size %u count %u",
			 run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			 run->io.port, run->io.size, run->io.count);
		break;
	case KVM_EXIT_MMIO:
		snprintf(detail, sizeof(detail), ", %s gpa 0x%llx len %u",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(detail, sizeof(detail), ", hw reason 0x%llx",
			 (unsigned long long)
			 run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(detail, sizeof(detail), ", suberror %u",
			 run->internal.suberror);
		break;
	}

	if (ioctl(vmm->vcpu_fd, KVM_GET_REGS, &regs))
		memset(&regs, 0xff, sizeof(regs));
	die("%s exit reason %u (%s)%s, rip 0x%llx",
	    why, run->exit_reason, exit_reason_name(run->exit_reason), detail,
	    (unsigned long long)regs.rip);
}

static void handle_hypercall(struct vmm *vmm)
{
	struct kvm_run *run = vmm->run;
	u64 gpa = run->hypercall.args[0];
	u64 npages = run->hypercall.args[1];
	u64 attrs = run->hypercall.args[2];
	struct conv_op op = { 0 };
	char why[64];

	if (run->hypercall.nr != KVM_HC_MAP_GPA_RANGE)
		die("unexpected hypercall nr %llu",
		    (unsigned long long)run->hypercall.nr);

	/*
	 * Bits 3:0 are only a page size hint (npages is always in 4K units);
	 * bits 63:5 are reserved.  Errors go back to the guest in RAX.
	 */
	if (attrs & ~(u64)(KVM_MAP_GPA_RANGE_ENCRYPTED | 0xf) ||
	    !data_range_ok(vmm, gpa, npages)) {
		event("round %llu: MAP_GPA_RANGE gpa 0x%llx +%llu pages attrs 0x%llx rejected",
		      (unsigned long long)vmm->params->round,
		      (unsigned long long)gpa, (unsigned long long)npages,
		      (unsigned long long)attrs);
		run->hypercall.ret = -(u64)KVM_EINVAL;
		return;
	}

	op.gpa = gpa;
	op.size = npages << GMEM_PAGE_SHIFT;
	op.to_private = attrs & KVM_MAP_GPA_RANGE_ENCRYPTED;
	snprintf(why, sizeof(why), "round %llu",
		 (unsigned long long)vmm->params->round);
	guest_conversion(vmm, &op, why);

	/* complete_hypercall_exit() copies this into the guest's RAX. */
	run->hypercall.ret = 0;
}

/*
 * KVM_RUN failed with EFAULT + KVM_EXIT_MEMORY_FAULT: the guest accessed
 * a gfn whose attributes do not match the access.  Treat it as an
 * implicit conversion request, as VMMs for TDX/SNP do.
 */
static void handle_memory_fault(struct vmm *vmm, int *repeats, u64 *last)
{
	struct kvm_run *run = vmm->run;
	u64 flags = run->memory_fault.flags;
	u64 gpa = run->memory_fault.gpa;
	u64 size = run->memory_fault.size;
	u64 start = gpa & ~(u64)(GMEM_PAGE_SIZE - 1);
	u64 end = (gpa + size + GMEM_PAGE_SIZE - 1) &
		  ~(u64)(GMEM_PAGE_SIZE - 1);
	struct conv_op op = { 0 };

	vmm->mem_faults++;
	event("memory fault gpa 0x%llx size 0x%llx flags 0x%llx: implicit conversion to %s",
	      (unsigned long long)gpa, (unsigned long long)size,
	      (unsigned long long)flags,
	      flags & KVM_MEMORY_EXIT_FLAG_PRIVATE ? "private" : "shared");

	if (end <= start ||
	    !data_range_ok(vmm, start, (end - start) >> GMEM_PAGE_SHIFT))
		die("memory fault outside guest_memfd: gpa 0x%llx size 0x%llx flags 0x%llx",
		    (unsigned long long)gpa, (unsigned long long)size,
		    (unsigned long long)flags);

	if (*last == (gpa ^ flags)) {
		if (++*repeats >= MAX_MEMORY_FAULTS)
			die("memory fault at gpa 0x%llx flags 0x%llx repeats after conversion",
			    (unsigned long long)gpa,
			    (unsigned long long)flags);
	} else {
		*repeats = 1;
		*last = gpa ^ flags;
	}

	op.gpa = start;
	op.size = end - start;
	op.to_private = flags & KVM_MEMORY_EXIT_FLAG_PRIVATE;
	guest_conversion(vmm, &op, "memory fault");
}

static void copy_guest_string(char *dst, const u8 *src)
{
	int i;

	for (i = 0; i < GMEM_MSG_MAX && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * Converted in place, the pages the guest just shared still hold what it
 * wrote while they were private: every qword of a page is (page gpa ^
 * GMEM_PAGE_MAGIC), except for the message at the start of the buffer.
 */
static void check_shared_in_place(u64 round, u64 gpa, u64 npages,
				  const u8 *buf)
{
	u64 i, off;

	for (i = 0; i < npages; i++) {
		u64 page_gpa = gpa + (i << GMEM_PAGE_SHIFT);
		u64 want = page_gpa ^ GMEM_PAGE_MAGIC;

		for (off = i ? 0 : GMEM_BOUNCE_FILL_OFF; off < GMEM_PAGE_SIZE;
		     off += 8) {
			u64 got;

			memcpy(&got, buf + (i << GMEM_PAGE_SHIFT) + off, 8);
			if (got != want)
				die(MSG_SHARED_LOST, (unsigned long long)round,
				    (unsigned long long)page_gpa,
				    (unsigned long long)off,
				    (unsigned long long)want,
				    (unsigned long long)got);
		}
	}
	event("round %llu: the shared pages still hold the guest's private data (in place)",
	      (unsigned long long)round);
}

/*
 * The refused-conversion demonstration: while the bounce buffer is shared,
 * pin its last page as a device doing DMA would (a long-term read pin
 * through gup_test), so that the guest's conversion back to private must
 * be refused until the pin is gone.
 */
static void pin_bounce_page(struct vmm *vmm, u64 round, u64 gpa, u64 npages)
{
	u64 off = gpa + ((npages - 1) << GMEM_PAGE_SHIFT) - GMEM_DATA_GPA;
	const char *what = "pin";
	int err;

	err = -vmm->pin(vmm, (uintptr_t)(vmm->shared + off), GMEM_PAGE_SIZE,
			&what);
	if (err) {
		snprintf(vmm->deny_note, sizeof(vmm->deny_note),
			 "demonstration skipped: %s: %s", what, strerror(err));
		event("round %llu: refused-conversion demonstration skipped: %s: %s%s",
		      (unsigned long long)round, what, strerror(err),
		      err == ENOENT || err == EACCES || err == EPERM ?
		      " (needs CONFIG_GUP_TEST, debugfs at /sys/kernel/debug, root)" :
		      err == EINVAL ? " (another gup_test pin in progress?)" : "");
		return;
	}
	vmm->pin_active = true;
	vmm->pin_offset = vmm->gmem_offset + off;
	vmm->pin_last = (round ^ GMEM_FILL_XOR) & 0xff;
	event("round %llu: gup_test pins page gpa 0x%llx (offset 0x%llx), as a device's DMA would",
	      (unsigned long long)round,
	      (unsigned long long)(GMEM_DATA_GPA + off),
	      (unsigned long long)vmm->pin_offset);
}

static void handle_shared_message(struct vmm *vmm)
{
	struct gmem_params *p = vmm->params;
	u64 round = p->round;
	u64 gpa = p->bounce_gpa;
	u64 npages = vmm->opt.bounce_pages;
	char msg[GMEM_MSG_MAX + 1];
	char want[GMEM_MSG_MAX];
	u64 first, i;
	u8 *buf;

	if (!data_range_ok(vmm, gpa, npages))
		die("round %llu: bounce buffer gpa 0x%llx outside the data region",
		    (unsigned long long)round, (unsigned long long)gpa);
	first = (gpa - GMEM_DATA_GPA) >> GMEM_PAGE_SHIFT;
	for (i = 0; i < npages; i++)
		if (vmm->page_private[first + i])
			die("round %llu: guest left its message in private page gpa 0x%llx",
			    (unsigned long long)round,
			    (unsigned long long)(gpa + (i << GMEM_PAGE_SHIFT)));

	buf = vmm->shared + (gpa - GMEM_DATA_GPA);
	copy_guest_string(msg, buf + GMEM_BOUNCE_MSG_OFF);
	event("round %llu: guest says \"%s\"", (unsigned long long)round, msg);

	snprintf(want, sizeof(want), GMEM_GUEST_MSG "%llu",
		 (unsigned long long)round);
	if (strcmp(msg, want))
		die("round %llu: unexpected guest message \"%s\", wanted \"%s\"",
		    (unsigned long long)round, msg, want);
	if (vmm->mode == MODE_IN_PLACE)
		check_shared_in_place(round, gpa, npages, buf);

	snprintf((char *)buf + GMEM_BOUNCE_REPLY_OFF, GMEM_MSG_MAX,
		 GMEM_HOST_REPLY "%llu", (unsigned long long)round);
	memset(buf + GMEM_BOUNCE_FILL_OFF, (round ^ GMEM_FILL_XOR) & 0xff,
	       (npages << GMEM_PAGE_SHIFT) - GMEM_BOUNCE_FILL_OFF);
	event("round %llu: host replies \"%s\" (+%llu filler bytes 0x%02x)",
	      (unsigned long long)round,
	      (char *)buf + GMEM_BOUNCE_REPLY_OFF,
	      (unsigned long long)((npages << GMEM_PAGE_SHIFT) -
				   GMEM_BOUNCE_FILL_OFF),
	      (unsigned int)((round ^ GMEM_FILL_XOR) & 0xff));

	if (vmm->mode == MODE_IN_PLACE && round == vmm->opt.deny_round)
		pin_bounce_page(vmm, round, gpa, npages);
}

static __noreturn void guest_failure(struct vmm *vmm)
{
	static const char * const what[] = {
		[GMEM_FAIL_HC_SHARE] = "MAP_GPA_RANGE(shared) returned an error",
		[GMEM_FAIL_HC_PRIVATE] = "MAP_GPA_RANGE(private) returned an error",
		[GMEM_FAIL_REPLY] = "host reply mismatch",
		[GMEM_FAIL_SHARED_DATA] = "shared buffer filler mismatch",
		[GMEM_FAIL_PRIVATE_DATA] = "private data corrupted",
		[GMEM_FAIL_NOT_DISCARDED] = "stale data in re-accepted private page",
		[GMEM_FAIL_NOT_PRESERVED] = "content not preserved by the conversion in place",
	};
	struct gmem_params *p = vmm->params;
	const char *s = "unknown failure";

	if (p->fail_code < ARRAY_SIZE(what) && what[p->fail_code])
		s = what[p->fail_code];
	die("round %llu: GUEST CHECK FAILED (%llu): %s at gpa 0x%llx: want 0x%llx got 0x%llx",
	    (unsigned long long)p->round, (unsigned long long)p->fail_code,
	    s, (unsigned long long)p->fail_gpa,
	    (unsigned long long)p->fail_expected,
	    (unsigned long long)p->fail_got);
}

static __noreturn void guest_exception(struct vmm *vmm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	u64 frame[7];

	xioctl(vmm->vcpu_fd, KVM_GET_REGS, &regs);
	xioctl(vmm->vcpu_fd, KVM_GET_SREGS, &sregs);
	if (regs.rsp > GMEM_SLOT0_SIZE - sizeof(frame))
		die("guest exception with bogus stack pointer 0x%llx",
		    (unsigned long long)regs.rsp);
	memcpy(frame, vmm->slot0 + regs.rsp, sizeof(frame));
	die("round %llu: guest exception %llu error 0x%llx rip 0x%llx rsp 0x%llx cr2 0x%llx",
	    (unsigned long long)vmm->params->round,
	    (unsigned long long)frame[0], (unsigned long long)frame[1],
	    (unsigned long long)frame[2], (unsigned long long)frame[5],
	    (unsigned long long)sregs.cr2);
}

/* Returns true once the guest reports it is done. */
static bool handle_io(struct vmm *vmm)
{
	struct kvm_run *run = vmm->run;
	struct gmem_params *p = vmm->params;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.count != 1)
		unexpected_exit(vmm, "unexpected I/O:");

	switch (run->io.port) {
	case GMEM_PORT_ACCEPTED:
		vmm->t_accept_ns = now_ns();
		event("guest accepted %llu private pages (%llu MiB) in %llu ms",
		      (unsigned long long)vmm->data_pages,
		      (unsigned long long)vmm->opt.mem_mib,
		      (unsigned long long)((vmm->t_accept_ns -
					    vmm->t_start_ns) / 1000000));
		if (vmm->opt.pause)
			wait_for_operator(vmm);
		return false;
	case GMEM_PORT_SHARED:
		handle_shared_message(vmm);
		return false;
	case GMEM_PORT_ROUND_DONE:
		vmm->rounds_done++;
		if (vmm->pin_active)
			die("round %llu: the pinned page was never part of a conversion to private",
			    (unsigned long long)p->round);
		if (vmm->mode == MODE_IN_PLACE) {
			if (p->preserved != p->round)
				die("round %llu: the guest did not check its re-privatised buffer",
				    (unsigned long long)p->round);
			event(MSG_PRESERVED, (unsigned long long)p->round);
		}
		event("round %llu: guest re-accepted %llu pages, %llu private pages verified",
		      (unsigned long long)p->round,
		      (unsigned long long)vmm->opt.bounce_pages,
		      (unsigned long long)vmm->data_pages);
		return false;
	case GMEM_PORT_DONE:
		return true;
	case GMEM_PORT_FAIL:
		guest_failure(vmm);
	case GMEM_PORT_EXC:
		guest_exception(vmm);
	default:
		unexpected_exit(vmm, "unexpected I/O:");
	}
}

static void run_guest(struct vmm *vmm)
{
	struct kvm_run *run = vmm->run;
	u64 last_fault = ~0ULL;
	int fault_repeats = 0;

	atomic_store(&signal_run, (uintptr_t)run);
	vmm->t_start_ns = now_ns();
	for (;;) {
		int r;

		run->immediate_exit = 0;
		if (stop_signal)
			vmm->params->stop = 1;	/* guest stops at next round */
		run->exit_reason = KVM_EXIT_UNKNOWN;

		r = ioctl(vmm->vcpu_fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EFAULT &&
			    run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
				handle_memory_fault(vmm, &fault_repeats,
						    &last_fault);
				continue;
			}
			die_errno("KVM_RUN");
		}
		fault_repeats = 0;
		last_fault = ~0ULL;

		switch (run->exit_reason) {
		case KVM_EXIT_HYPERCALL:
			handle_hypercall(vmm);
			break;
		case KVM_EXIT_IO:
			if (handle_io(vmm))
				goto out;
			break;
		case KVM_EXIT_INTR:
			break;
		default:
			unexpected_exit(vmm, "unexpected");
		}
	}
out:
	atomic_store(&signal_run, 0);
}

/* ---- summary and main ------------------------------------------------- */

#define MSG_SUMMARY_STATS \
	"summary: %-11s %llu conversions, %llu pages, %llu refused, min/avg/max %.1f/%.1f/%.1f us, discard avg %.1f us"

static void print_stats(const char *name, const struct conv_stats *s)
{
	if (!s->count) {
		info("summary: %-11s 0 conversions", name);
		return;
	}
	info(MSG_SUMMARY_STATS, name, (unsigned long long)s->count, (unsigned long long)s->pages,
	     (unsigned long long)s->refused,
	     s->min_ns / 1000.0, (double)s->total_ns / s->count / 1000.0,
	     s->max_ns / 1000.0, (double)s->discard_ns / s->count / 1000.0);
}

static void print_summary(struct vmm *vmm)
{
	struct conv_stats all = vmm->to_shared;
	const struct conv_stats *p = &vmm->to_private;
	u64 now = now_ns();

	all.count += p->count;
	all.pages += p->pages;
	all.refused += p->refused;
	all.total_ns += p->total_ns;
	all.discard_ns += p->discard_ns;
	if (p->count && (!vmm->to_shared.count || p->min_ns < all.min_ns))
		all.min_ns = p->min_ns;
	if (p->max_ns > all.max_ns)
		all.max_ns = p->max_ns;

	info("summary: %llu rounds in %.3f s (mode %s, %llu MiB, %llu bounce pages)%s",
	     (unsigned long long)vmm->rounds_done,
	     (now - vmm->t_start_ns) / 1e9, vmm->convert_mode,
	     (unsigned long long)vmm->opt.mem_mib,
	     (unsigned long long)vmm->opt.bounce_pages,
	     stop_signal ? ", stopped by signal" : "");
	print_stats("to shared:", &vmm->to_shared);
	print_stats("to private:", &vmm->to_private);
	print_stats("total:", &all);
	info("summary: %llu pages converted, %llu implicit conversions (memory faults)",
	     (unsigned long long)all.pages,
	     (unsigned long long)vmm->mem_faults);

	if (vmm->mode != MODE_IN_PLACE) {
		info("summary: %llu refused (KVM_SET_MEMORY_ATTRIBUTES does not check for pins)",
		     (unsigned long long)all.refused);
		return;
	}
	if (!vmm->deny_note[0])
		snprintf(vmm->deny_note, sizeof(vmm->deny_note), "%s",
			 !vmm->opt.deny_round ? "no demonstration (--deny-round 0)" :
			 "no demonstration: its round was not reached");
	info("summary: %llu refused: %llu by our gup_test pin, %llu transient (retried); %s",
	     (unsigned long long)all.refused,
	     (unsigned long long)vmm->refused_pinned,
	     (unsigned long long)vmm->refused_transient, vmm->deny_note);
}

static void print_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [options]\n"
		"Run a KVM_X86_SW_PROTECTED_VM guest with guest_memfd-backed private\n"
		"memory and convert a bounce buffer shared<->private every round.\n"
		"\n"
		"  -m, --mem MiB          size of the guest_memfd data region (default 16,\n"
		"                         max %d)\n"
		"  -r, --rounds N         conversion rounds (default 4)\n"
		"  -l, --loop             repeat rounds until SIGINT/SIGTERM\n"
		"  -b, --bounce-pages N   pages per bounce buffer (default 4)\n"
		"      --mode MODE        how to convert: in-place (KVM_SET_MEMORY_ATTRIBUTES2\n"
		"                         on a guest_memfd with GUEST_MEMFD_FLAG_MMAP, one copy\n"
		"                         of each page) or vm-attributes (the VM's\n"
		"                         KVM_SET_MEMORY_ATTRIBUTES, two copies); default\n"
		"                         in-place if this VM type supports it\n"
		"      --deny-round N     in place: in round N (default 2; 0: never) pin a\n"
		"                         page of the shared bounce buffer with gup_test,\n"
		"                         show the conversion back to private refused with\n"
		"                         EAGAIN, unpin and retry\n"
		"  -q, --quiet            only print the summary (and errors)\n"
		"  -p, --pause            once the guest has accepted its memory, print\n"
		"                         \"ready pid=<pid> gmem_fd=<fd> vm_fd=<fd>\" and\n"
		"                         wait for a newline on stdin or SIGUSR1\n"
		"  -h, --help             this help\n"
		"\n"
		"Exit status: 0 ok, 1 error/guest check failed, 2 usage, 4 skip (no\n"
		"capable KVM), 128+sig if a finite run was interrupted.\n",
		prog, GMEM_DATA_MAX_MIB);
}

static u64 parse_num(const char *prog, const char *name, const char *s,
		     u64 min, u64 max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "%s: invalid %s '%s' (allowed %llu..%llu)\n",
			prog, name, s, (unsigned long long)min,
			(unsigned long long)max);
		exit(2);
	}
	return v;
}

enum { OPT_MODE = 0x100, OPT_DENY_ROUND };

static enum conv_mode parse_mode(const char *prog, const char *s)
{
	if (!strcmp(s, "in-place"))
		return MODE_IN_PLACE;
	if (!strcmp(s, "vm-attributes"))
		return MODE_VM_ATTRIBUTES;
	if (!strcmp(s, "auto"))
		return MODE_AUTO;
	fprintf(stderr, "%s: invalid --mode '%s' (in-place, vm-attributes or auto)\n",
		prog, s);
	exit(2);
}

static void parse_options(struct options *opt, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mem",          required_argument, NULL, 'm' },
		{ "rounds",       required_argument, NULL, 'r' },
		{ "loop",         no_argument,       NULL, 'l' },
		{ "bounce-pages", required_argument, NULL, 'b' },
		{ "mode",         required_argument, NULL, OPT_MODE },
		{ "deny-round",   required_argument, NULL, OPT_DENY_ROUND },
		{ "quiet",        no_argument,       NULL, 'q' },
		{ "pause",        no_argument,       NULL, 'p' },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL,           0,                 NULL, 0 },
	};
	const char *prog = argv[0];
	int c;

	opt->mem_mib = 16;
	opt->rounds = 4;
	opt->bounce_pages = 4;
	opt->deny_round = 2;
	opt->mode = MODE_AUTO;

	while ((c = getopt_long(argc, argv, "m:r:lb:qph", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm':
			opt->mem_mib = parse_num(prog, "--mem", optarg, 1,
						 GMEM_DATA_MAX_MIB);
			break;
		case 'r':
			opt->rounds = parse_num(prog, "--rounds", optarg, 1,
						LLONG_MAX);
			break;
		case 'l':
			opt->loop = true;
			break;
		case 'b':
			opt->bounce_pages = parse_num(prog, "--bounce-pages",
						      optarg, 1, ULONG_MAX);
			break;
		case OPT_MODE:
			opt->mode = parse_mode(prog, optarg);
			break;
		case OPT_DENY_ROUND:
			opt->deny_round = parse_num(prog, "--deny-round", optarg,
						    0, LLONG_MAX);
			break;
		case 'q':
			opt->quiet = true;
			break;
		case 'p':
			opt->pause = true;
			break;
		case 'h':
			print_usage(stdout, prog);
			exit(0);
		default:
			print_usage(stderr, prog);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
			argv[optind]);
		print_usage(stderr, prog);
		exit(2);
	}
	if (opt->bounce_pages > (opt->mem_mib << 20) >> GMEM_PAGE_SHIFT) {
		fprintf(stderr, "%s: --bounce-pages %llu exceeds the %llu MiB data region\n",
			prog, (unsigned long long)opt->bounce_pages,
			(unsigned long long)opt->mem_mib);
		exit(2);
	}
}

#define MSG_MODE_IN_PLACE \
	"conversion mode in-place (KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd fd %d; one copy of each page), %s"
#define MSG_MODE_VM_ATTRIBUTES \
	"conversion mode vm-attributes (KVM_SET_MEMORY_ATTRIBUTES on VM fd %d, stale copy discarded; two copies of each page), %s"

int main(int argc, char **argv)
{
	struct vmm vmm = {
		.kvm_fd = -1,
		.vm_fd = -1,
		.vcpu_fd = -1,
		.gmem_fd = -1,
		.gup_fd = -1,
		.set_attributes2 = gmem_set_attributes2,
		.pin = gup_test_pin,
		.unpin = gup_test_unpin,
		.pin_held = gup_test_pin_held,
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(&vmm.opt, argc, argv);
	quiet = vmm.opt.quiet;
	setup_signals();

	open_kvm(&vmm);
	create_vm(&vmm);
	choose_mode(&vmm);
	setup_cpuid(&vmm);
	setup_memory(&vmm);
	setup_guest_memory(&vmm);
	setup_vcpu(&vmm);

	info("pid %d kvm_fd %d vm_fd %d vcpu_fd %d gmem_fd %d",
	     (int)getpid(), vmm.kvm_fd, vmm.vm_fd, vmm.vcpu_fd, vmm.gmem_fd);
	info("data %llu MiB at gpa 0x%llx, %s",
	     (unsigned long long)vmm.opt.mem_mib,
	     (unsigned long long)GMEM_DATA_GPA,
	     vmm.opt.loop ? "looping until SIGINT/SIGTERM" :
			    "finite rounds");
	if (vmm.mode == MODE_IN_PLACE)
		info(MSG_MODE_IN_PLACE, vmm.gmem_fd, vmm.mode_why);
	else
		info(MSG_MODE_VM_ATTRIBUTES, vmm.vm_fd, vmm.mode_why);

	run_guest(&vmm);

	event("guest done after %llu rounds",
	      (unsigned long long)vmm.rounds_done);
	print_summary(&vmm);

	if (stop_signal && !vmm.opt.loop)
		return 128 + stop_signal;
	return 0;
}
