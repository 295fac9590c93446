// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-huge-bench: guest_memfd files of 2 MiB folios
 * (GUEST_MEMFD_FLAG_HUGE_PMD) against the same files without the flag
 * ("4 KiB file") and, for whole-size conversions, against the stock 6.12
 * path, every number measured in the same boot and printed with its ratio.
 *
 * Every file is a KVM_X86_SW_PROTECTED_VM's guest_memfd, created with
 * GUEST_MEMFD_FLAG_MMAP (and without INIT_SHARED: private at first), mapped
 * MAP_SHARED at a 2 MiB-aligned address and bound to a memslot at a 2 MiB
 * aligned gpa from offset 0, so that KVM may map its huge folios at 2 MiB.
 *
 * 1. KVM's 2 MiB mappings and the first touch (--size, --bounce): a fresh
 *    VM and file each time; KVM_PRE_FAULT_MEMORY of the whole range maps it,
 *    private, allocating every page (timed: the first touch); then
 *    --bounce pages, spread over the file, become shared (each splits its
 *    2 MiB folio and zaps KVM's mapping of it) and the host writes them, as
 *    a guest's bounce buffers; the private pages are pre-faulted again.
 *    The share of the file that KVM maps at 2 MiB is its VM stat pages_2m
 *    (KVM_GET_STATS_FD) * 512 / the file's pages, after the first touch and
 *    with the bounce buffers shared.  The file's huge pages after the first
 *    touch (KVM_GUEST_MEMFD_SCAN, KVM_GMEM_PAGE_HUGE) show any fallback of
 *    the allocator to 4 KiB folios.
 *
 * 2. 4 KiB conversions inside a 2 MiB range of a file of 8 such ranges,
 *    every page allocated and the range pre-faulted by KVM before each
 *    cycle; a cycle converts one page to shared (in a huge folio: the split
 *    of the range), three more pages of the same range to shared (already
 *    split), those three back to private (pages of the range still shared)
 *    and the first page back to private (the last shared page: the merge of
 *    the range into one folio again); the host writes each page while it
 *    is shared.  Latency of each conversion, against the same cycle on the
 *    4 KiB file.  Before a cycle the huge file's range must be one huge
 *    folio again (the merge of the cycle before): a range that is not is
 *    counted, punched out and allocated again, and skipped if it is still
 *    not huge; a merge that did not happen is counted too.
 *
 * 3. Whole-size conversions (--size) both ways, every page of the old state
 *    allocated: fallocate() of the private pages, the file to shared
 *    (timed), the host writes every page, the file to private (timed).  On
 *    the huge file, to shared splits every 2 MiB folio and to private merges
 *    every range back.  Stock: a guest_memfd without GUEST_MEMFD_FLAG_MMAP,
 *    the VM's KVM_SET_MEMORY_ATTRIBUTES and anonymous shared memory for the
 *    shared copy, each conversion followed by the discard of the old copy
 *    (PUNCH_HOLE of the guest_memfd, MADV_REMOVE of the shared memory) as a
 *    6.12 VMM does, and as gmem-bench measures it.
 *
 * The cases of each table alternate within every repetition, so that the
 * drift of the emulated CPU falls on all of them alike.  Each number is a
 * median of --reps samples (table 2: of --reps * 11 cycles).  A conversion
 * refused with EAGAIN is retried (up to 100 times), and only the attempt
 * that succeeded is timed; the retries are counted and printed.
 *
 * Memory: table 1 one file of --size at a time; table 3 the huge and the
 * 4 KiB file, --size each, and a third copy while the stock path runs.
 *
 * Usage: gmem-huge-bench [--reps N (9)] [--size MiB (1024)] [--bounce N (16)]
 * Exit: 0, 1 on error, 2 on bad usage, 4 if KVM lacks what is measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/kvm_gmem.h>

#include "bench.h"

#define KSFT_SKIP	4
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE_SZ		4096UL	/* the lab is x86_64 */
#define HUGE_SZ		(2UL << 20)
#define HUGE_NR		(HUGE_SZ / PAGE_SZ)
#define GPA		(1UL << 32)	/* 2 MiB aligned */
#define MAX_TRIES	100	/* EAGAIN from a conversion */
#define MAX_STUCK	1000	/* EINTR/EAGAIN from a pre-fault, no progress */
#define CONV_RANGES	8	/* 2 MiB ranges of the file of table 2 */
#define CONV_CYCLES	11	/* cycles of table 2 per --reps */

enum kind { STOCK, SMALL, HUGE, NR_KINDS };

static const char *const kind_name[NR_KINDS] = {
	[STOCK] = "stock",
	[SMALL] = "4 KiB file",
	[HUGE] = "huge file",
};

static int kvm_fd, reps = 9;
static unsigned long size = 1UL << 30;
static unsigned long nr_bounce = 16;
static unsigned long eagain_retries;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "gmem-huge-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
	exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		die("calloc");
	return p;
}

/* KVM_CHECK_EXTENSION, an error counting as "no". */
static unsigned long check_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : (unsigned long)r;
}

struct vm {
	enum kind kind;
	int fd, gmem_fd, vcpu_fd, stats_fd;
	uint32_t data_offset, off_4k, off_2m;	/* of the VM stats */
	char *mem;	/* the file's mapping; stock: anonymous shared memory */
	uint64_t size;
};

static void set_cpuid(int vcpu_fd)
{
	struct kvm_cpuid2 *cpuid = xcalloc(1, sizeof(*cpuid) +
					   256 * sizeof(cpuid->entries[0]));

	cpuid->nent = 256;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
		die("KVM_SET_CPUID2");
	free(cpuid);
}

/* The offset in the data block of the VM stat @name. */
static uint32_t stat_offset(struct vm *vm, const struct kvm_stats_header *h,
			    const char *name)
{
	size_t dsz = sizeof(struct kvm_stats_desc) + h->name_size;
	size_t len = dsz * h->num_desc;
	char *buf = xcalloc(1, len);
	uint32_t off = 0;
	int found = 0;
	ssize_t r;
	uint32_t i;

	r = pread(vm->stats_fd, buf, len, h->desc_offset);
	if (r < 0 || (size_t)r != len) {
		if (r >= 0)
			errno = EIO;
		die("read of the VM stats descriptors");
	}
	for (i = 0; i < h->num_desc && !found; i++) {
		const struct kvm_stats_desc *d = (const void *)(buf + i * dsz);

		if (!strncmp(d->name, name, h->name_size)) {
			off = d->offset;
			found = 1;
		}
	}
	free(buf);
	if (!found) {
		errno = ENOENT;
		die("VM stat %s", name);
	}
	return off;
}

static void stats_open(struct vm *vm)
{
	struct kvm_stats_header h;
	ssize_t r;

	vm->stats_fd = ioctl(vm->fd, KVM_GET_STATS_FD, NULL);
	if (vm->stats_fd < 0)
		die("KVM_GET_STATS_FD");
	r = pread(vm->stats_fd, &h, sizeof(h), 0);
	if (r != sizeof(h)) {
		if (r >= 0)
			errno = EIO;
		die("read of the VM stats header");
	}
	vm->data_offset = h.data_offset;
	vm->off_4k = stat_offset(vm, &h, "pages_4k");
	vm->off_2m = stat_offset(vm, &h, "pages_2m");
}

static uint64_t stat_read(struct vm *vm, uint32_t off)
{
	uint64_t v;
	ssize_t r = pread(vm->stats_fd, &v, sizeof(v), vm->data_offset + off);

	if (r != sizeof(v)) {
		if (r >= 0)
			errno = EIO;
		die("read of a VM stat");
	}
	return v;
}

/* A MAP_SHARED mapping of @fd at a 2 MiB-aligned address. */
static char *huge_mmap(int fd, uint64_t len)
{
	char *area, *mem;

	area = mmap(NULL, len + HUGE_SZ, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		die("mmap of %lu MiB of address space", (len + HUGE_SZ) >> 20);
	mem = (char *)(((uintptr_t)area + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
	if (mmap(mem, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0) != mem)
		die("mmap of the guest_memfd");
	if (mem != area)
		munmap(area, mem - area);
	munmap(mem + len, area + HUGE_SZ - mem);
	return mem;
}

/*
 * A SW_PROTECTED VM with a memslot of @len bytes at GPA on a guest_memfd of
 * @kind, and, if @with_vcpu, a vCPU for KVM_PRE_FAULT_MEMORY and the VM's
 * stats.  A stock VM's pages start shared (the VM's attributes); the others'
 * start private.
 */
static void vm_create(struct vm *vm, enum kind kind, uint64_t len,
		      int with_vcpu)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = 0,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = GPA,
		.memory_size = len,
		.guest_memfd_offset = 0,
	};
	struct kvm_create_guest_memfd gmem = { .size = len };

	memset(vm, 0, sizeof(*vm));
	vm->kind = kind;
	vm->size = len;
	vm->vcpu_fd = -1;
	vm->stats_fd = -1;
	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm->fd < 0)
		die("KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)");
	if (kind != STOCK)
		gmem.flags = GUEST_MEMFD_FLAG_MMAP;
	if (kind == HUGE)
		gmem.flags |= GUEST_MEMFD_FLAG_HUGE_PMD;
	vm->gmem_fd = ioctl(vm->fd, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (vm->gmem_fd < 0)
		die("KVM_CREATE_GUEST_MEMFD(%s, %lu MiB, flags 0x%llx)",
		    kind_name[kind], (unsigned long)(len >> 20),
		    (unsigned long long)gmem.flags);
	if (kind == STOCK) {
		vm->mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (vm->mem == MAP_FAILED)
			die("mmap of %lu MiB of shared memory",
			    (unsigned long)(len >> 20));
	} else {
		vm->mem = huge_mmap(vm->gmem_fd, len);
	}
	region.userspace_addr = (uintptr_t)vm->mem;
	region.guest_memfd = vm->gmem_fd;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION2");
	if (!with_vcpu)
		return;
	vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		die("KVM_CREATE_VCPU");
	set_cpuid(vm->vcpu_fd);
	stats_open(vm);
}

static void vm_destroy(struct vm *vm)
{
	if (vm->stats_fd >= 0)
		close(vm->stats_fd);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	munmap(vm->mem, vm->size);
	close(vm->gmem_fd);
	close(vm->fd);
}

/* KVM maps [@gpa, + @len) as the guest's first access would. */
static void prefault(struct vm *vm, uint64_t gpa, uint64_t len)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = len };
	uint64_t left;
	int stuck = 0;

	while (range.size) {
		left = range.size;
		if (!ioctl(vm->vcpu_fd, KVM_PRE_FAULT_MEMORY, &range)) {
			if (range.size < left)
				stuck = 0;
			else if (++stuck >= MAX_STUCK)
				break;
			continue;
		}
		if (errno != EINTR && errno != EAGAIN)
			die("KVM_PRE_FAULT_MEMORY at gpa 0x%llx (%s)",
			    (unsigned long long)range.gpa, kind_name[vm->kind]);
		if (range.size < left)
			stuck = 0;
		else if (++stuck >= MAX_STUCK)
			break;
	}
	if (range.size) {
		errno = EAGAIN;
		die("KVM_PRE_FAULT_MEMORY at gpa 0x%llx (%s): no progress in %d calls",
		    (unsigned long long)range.gpa, kind_name[vm->kind],
		    MAX_STUCK);
	}
}

/*
 * Converts [@off, + @len) of @vm's memory to private or shared: in place on
 * the file (KVM_SET_MEMORY_ATTRIBUTES2), or, stock, with the VM's
 * KVM_SET_MEMORY_ATTRIBUTES.  Returns the time of the call that succeeded,
 * in microseconds.
 */
static double convert(struct vm *vm, uint64_t off, uint64_t len, int priv)
{
	uint64_t attrs = priv ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
	struct kvm_memory_attributes2 a2;
	struct kvm_memory_attributes a;
	double t0, t1;
	int r, tries = 0;

	memset(&a2, 0, sizeof(a2));
	for (;;) {
		if (vm->kind == STOCK) {
			a = (struct kvm_memory_attributes){
				.address = GPA + off,
				.size = len,
				.attributes = attrs,
			};
			t0 = now_us();
			r = ioctl(vm->fd, KVM_SET_MEMORY_ATTRIBUTES, &a);
			t1 = now_us();
		} else {
			memset(&a2, 0, sizeof(a2));
			a2.offset = off;
			a2.size = len;
			a2.attributes = attrs;
			t0 = now_us();
			r = ioctl(vm->gmem_fd, KVM_SET_MEMORY_ATTRIBUTES2, &a2);
			t1 = now_us();
		}
		if (!r)
			return t1 - t0;
		if (errno != EAGAIN || ++tries >= MAX_TRIES)
			break;
		eagain_retries++;
	}
	if (vm->kind == STOCK)
		die("KVM_SET_MEMORY_ATTRIBUTES to %s, gpa 0x%llx + 0x%llx (%s)",
		    priv ? "private" : "shared",
		    (unsigned long long)(GPA + off), (unsigned long long)len,
		    kind_name[vm->kind]);
	die("KVM_SET_MEMORY_ATTRIBUTES2 to %s, offset 0x%llx + 0x%llx (%s; error_offset 0x%llx, %d tries)",
	    priv ? "private" : "shared", (unsigned long long)off,
	    (unsigned long long)len, kind_name[vm->kind],
	    (unsigned long long)a2.error_offset, tries);
}

static void gmem_fallocate(struct vm *vm, int punch, uint64_t off,
			   uint64_t len)
{
	int mode = FALLOC_FL_KEEP_SIZE | (punch ? FALLOC_FL_PUNCH_HOLE : 0);

	if (fallocate(vm->gmem_fd, mode, off, len))
		die("fallocate(%s) of offset 0x%llx + 0x%llx (%s)",
		    punch ? "PUNCH_HOLE" : "allocate",
		    (unsigned long long)off, (unsigned long long)len,
		    kind_name[vm->kind]);
}

/* The host writes every page of [@off, + @len): shared pages only. */
static void host_write(struct vm *vm, uint64_t off, uint64_t len)
{
	uint64_t o;

	for (o = off; o < off + len; o += PAGE_SZ)
		*(volatile char *)(vm->mem + o) = 1;
}

/* The pages of [@start, @end) (file offsets) in 2 MiB folios. */
static uint64_t huge_pages(struct vm *vm, uint64_t start, uint64_t end)
{
	uint64_t total = 0;

	while (start < end) {
		uint64_t counts[64] = { 0 };
		struct kvm_guest_memfd_scan s = {
			.size = sizeof(s),
			.flags = KVM_GMEM_SCAN_SUMMARY,
			.start = start,
			.end = end,
			.vec = (uintptr_t)counts,
			.vec_len = 64,
			.return_mask = KVM_GMEM_PAGE_HUGE,
		};

		if (ioctl(vm->gmem_fd, KVM_GUEST_MEMFD_SCAN, &s) < 0) {
			if (errno == EINTR)
				continue;
			die("KVM_GUEST_MEMFD_SCAN of 0x%llx-0x%llx (%s)",
			    (unsigned long long)start, (unsigned long long)end,
			    kind_name[vm->kind]);
		}
		if (s.walk_end <= start || s.walk_end > end) {
			errno = EIO;
			die("KVM_GUEST_MEMFD_SCAN of 0x%llx-0x%llx stopped at 0x%llx",
			    (unsigned long long)start, (unsigned long long)end,
			    (unsigned long long)s.walk_end);
		}
		total += counts[__builtin_ctzll(KVM_GMEM_PAGE_HUGE)];
		start = s.walk_end;
	}
	return total;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * part / whole : 0;
}

static double min_d(const double *v, int n)
{
	double m = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static uint64_t min_u(const uint64_t *v, int n)
{
	uint64_t m = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static uint64_t max_u(const uint64_t *v, int n)
{
	uint64_t m = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* ---- 1. KVM's 2 MiB mappings, and the first touch ---- */

struct touch_res {
	double *ms;		/* first touch */
	uint64_t *huge;		/* file pages in 2 MiB folios after it */
	uint64_t *m2_touch;	/* pages_2m after it */
	uint64_t *m2_bounce;	/* pages_2m with the bounce buffers shared */
	uint64_t *m4_bounce;	/* pages_4k with them */
};

/* The file offset of bounce buffer @i: spread, one per 1/nr_bounce. */
static uint64_t bounce_off(unsigned long i)
{
	uint64_t pages = size / PAGE_SZ;

	return (i * pages / nr_bounce + pages / (2 * nr_bounce)) * PAGE_SZ;
}

static void first_touch_once(enum kind kind, struct touch_res *res, int r)
{
	uint64_t b2, b4, prev = 0, end;
	unsigned long i;
	struct vm vm;
	double t;

	vm_create(&vm, kind, size, 1);
	b2 = stat_read(&vm, vm.off_2m);
	b4 = stat_read(&vm, vm.off_4k);

	t = now_us();
	prefault(&vm, GPA, size);
	res->ms[r] = (now_us() - t) / 1e3;

	res->huge[r] = huge_pages(&vm, 0, size);
	res->m2_touch[r] = stat_read(&vm, vm.off_2m) - b2;

	for (i = 0; i < nr_bounce; i++) {
		convert(&vm, bounce_off(i), PAGE_SZ, 0);
		host_write(&vm, bounce_off(i), PAGE_SZ);
	}
	/* The guest touches its private memory again: 4 KiB where split. */
	for (i = 0; i <= nr_bounce; i++) {
		end = i < nr_bounce ? bounce_off(i) : size;
		if (end > prev)
			prefault(&vm, GPA + prev, end - prev);
		prev = end + PAGE_SZ;
	}
	res->m2_bounce[r] = stat_read(&vm, vm.off_2m) - b2;
	res->m4_bounce[r] = stat_read(&vm, vm.off_4k) - b4;
	vm_destroy(&vm);
}

static void bench_first_touch(void)
{
	static const enum kind kinds[] = { SMALL, HUGE };
	uint64_t pages = size / PAGE_SZ;
	struct touch_res res[NR_KINDS];
	double med[NR_KINDS], t0 = now_us();
	unsigned int k;
	int r;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		res[kinds[k]].ms = xcalloc(reps, sizeof(double));
		res[kinds[k]].huge = xcalloc(reps, sizeof(uint64_t));
		res[kinds[k]].m2_touch = xcalloc(reps, sizeof(uint64_t));
		res[kinds[k]].m2_bounce = xcalloc(reps, sizeof(uint64_t));
		res[kinds[k]].m4_bounce = xcalloc(reps, sizeof(uint64_t));
	}
	for (r = 0; r < reps; r++) {
		/* 4 KiB file first in even repetitions, huge first in odd */
		first_touch_once(kinds[r & 1], &res[kinds[r & 1]], r);
		first_touch_once(kinds[!(r & 1)], &res[kinds[!(r & 1)]], r);
	}

	printf("# 1. KVM's mappings of %lu MiB of private memory, %lu pages: KVM_PRE_FAULT_MEMORY of all of it in a fresh VM and file (first touch, median of %d, ms),\n",
	       size >> 20, (unsigned long)pages, reps);
	printf("#    then %lu bounce buffers of 4 KiB shared, spread over the file (one per %lu MiB), and the private pages pre-faulted again\n",
	       nr_bounce, (unsigned long)(size / nr_bounce) >> 20);
	printf("#    huge: pages of the file in 2 MiB folios after the first touch (KVM_GUEST_MEMFD_SCAN); mapped 2M: pages_2m * 512 / %lu; worst of %d\n",
	       (unsigned long)pages, reps);
	printf("%-11s %14s %21s %11s %16s %10s %10s\n", "file", "first touch",
	       "huge pages", "mapped 2M", "mapped 2M with", "pages_2m", "pages_4k");
	printf("%-11s %14s %21s %11s %16s %10s %10s\n", "", "ms", "",
	       "", "bounce shared", "bounce", "bounce");
	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct touch_res *t = &res[kinds[k]];
		char hp[32];

		med[kinds[k]] = median(t->ms, reps);
		snprintf(hp, sizeof(hp), "%lu / %lu",
			 (unsigned long)min_u(t->huge, reps),
			 (unsigned long)pages);
		printf("%-11s %14.1f %21s %10.1f%% %15.1f%% %10lu %10lu\n",
		       kind_name[kinds[k]], med[kinds[k]], hp,
		       pct(min_u(t->m2_touch, reps) * HUGE_NR, pages),
		       pct(min_u(t->m2_bounce, reps) * HUGE_NR, pages),
		       (unsigned long)min_u(t->m2_bounce, reps),
		       (unsigned long)max_u(t->m4_bounce, reps));
	}
	printf("first touch, 4 KiB file / huge file: %.1fx (target >= 10x)\n",
	       med[SMALL] / med[HUGE]);
	printf("mapped 2M with %lu bounce buffers shared: huge file %.1f%% (target >= 90%%), 4 KiB file %.1f%%\n",
	       nr_bounce, pct(min_u(res[HUGE].m2_bounce, reps) * HUGE_NR, pages),
	       pct(min_u(res[SMALL].m2_bounce, reps) * HUGE_NR, pages));
	if (min_u(res[HUGE].huge, reps) < pages / HUGE_NR * HUGE_NR)
		printf("# FALLBACK: the allocator gave the huge file %lu of %lu pages in 2 MiB folios at worst (best %lu): the rest are 4 KiB folios\n",
		       (unsigned long)min_u(res[HUGE].huge, reps),
		       (unsigned long)(pages / HUGE_NR * HUGE_NR),
		       (unsigned long)max_u(res[HUGE].huge, reps));
	if (max_u(res[HUGE].m2_bounce, reps) != min_u(res[HUGE].m2_bounce, reps))
		printf("# huge file pages_2m with the bounce buffers shared varied: %lu to %lu\n",
		       (unsigned long)min_u(res[HUGE].m2_bounce, reps),
		       (unsigned long)max_u(res[HUGE].m2_bounce, reps));
	printf("# first touch min: 4 KiB file %.1f ms, huge file %.1f ms; table took %.0f s\n",
	       min_d(res[SMALL].ms, reps), min_d(res[HUGE].ms, reps),
	       (now_us() - t0) / 1e6);

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		free(res[kinds[k]].ms);
		free(res[kinds[k]].huge);
		free(res[kinds[k]].m2_touch);
		free(res[kinds[k]].m2_bounce);
		free(res[kinds[k]].m4_bounce);
	}
}

/* ---- 2. 4 KiB conversions inside a 2 MiB range ---- */

/* Pages of a range that a cycle converts; the first splits and merges. */
static const uint64_t conv_pages[] = { 7, 64, 256, 448 };
#define CONV_MORE	(ARRAY_SIZE(conv_pages) - 1)

enum { ROW_SPLIT, ROW_SHARE, ROW_PRIV, ROW_MERGE, NR_ROWS };

static const char *const row_name[NR_ROWS] = {
	[ROW_SPLIT] = "to shared, first of the range (huge: split)",
	[ROW_SHARE] = "to shared, range already split",
	[ROW_PRIV] = "to private, pages of the range still shared",
	[ROW_MERGE] = "to private, last of the range (huge: merge)",
};

struct conv_res {
	double *v[NR_ROWS];
	int n[NR_ROWS];
	unsigned long not_huge;		/* ranges not huge before a cycle */
	unsigned long skipped;		/* ... and not after a refill */
	unsigned long merge_missed;	/* merges that did not happen */
};

static void conv_cycle(struct vm *vm, uint64_t base, struct conv_res *res)
{
	unsigned int j;

	if (vm->kind == HUGE &&
	    huge_pages(vm, base, base + HUGE_SZ) != HUGE_NR) {
		res->not_huge++;
		gmem_fallocate(vm, 1, base, HUGE_SZ);
		gmem_fallocate(vm, 0, base, HUGE_SZ);
		if (huge_pages(vm, base, base + HUGE_SZ) != HUGE_NR) {
			res->skipped++;
			return;
		}
	}
	prefault(vm, GPA + base, HUGE_SZ);

	res->v[ROW_SPLIT][res->n[ROW_SPLIT]++] =
		convert(vm, base + conv_pages[0] * PAGE_SZ, PAGE_SZ, 0);
	host_write(vm, base + conv_pages[0] * PAGE_SZ, PAGE_SZ);
	for (j = 1; j <= CONV_MORE; j++) {
		res->v[ROW_SHARE][res->n[ROW_SHARE]++] =
			convert(vm, base + conv_pages[j] * PAGE_SZ, PAGE_SZ, 0);
		host_write(vm, base + conv_pages[j] * PAGE_SZ, PAGE_SZ);
	}
	for (j = 1; j <= CONV_MORE; j++)
		res->v[ROW_PRIV][res->n[ROW_PRIV]++] =
			convert(vm, base + conv_pages[j] * PAGE_SZ, PAGE_SZ, 1);
	res->v[ROW_MERGE][res->n[ROW_MERGE]++] =
		convert(vm, base + conv_pages[0] * PAGE_SZ, PAGE_SZ, 1);

	if (vm->kind == HUGE &&
	    huge_pages(vm, base, base + HUGE_SZ) != HUGE_NR)
		res->merge_missed++;
}

static void bench_4k_conversions(void)
{
	static const enum kind kinds[] = { SMALL, HUGE };
	const uint64_t len = CONV_RANGES * HUGE_SZ;
	int cycles = reps * CONV_CYCLES, c, row;
	struct conv_res res[NR_KINDS];
	struct vm vm[NR_KINDS];
	double med[NR_KINDS], t0 = now_us();
	unsigned int k;
	uint64_t h;

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct conv_res *cr = &res[kinds[k]];

		memset(cr, 0, sizeof(*cr));
		for (row = 0; row < NR_ROWS; row++)
			cr->v[row] = xcalloc((size_t)cycles * CONV_MORE,
					     sizeof(double));
		vm_create(&vm[kinds[k]], kinds[k], len, 1);
		gmem_fallocate(&vm[kinds[k]], 0, 0, len);
	}
	h = huge_pages(&vm[HUGE], 0, len);

	for (c = 0; c < cycles; c++) {
		uint64_t base = (uint64_t)(c % CONV_RANGES) * HUGE_SZ;

		conv_cycle(&vm[kinds[c & 1]], base, &res[kinds[c & 1]]);
		conv_cycle(&vm[kinds[!(c & 1)]], base, &res[kinds[!(c & 1)]]);
	}

	printf("\n# 2. 4 KiB conversions inside a 2 MiB range (in place, KVM_SET_MEMORY_ATTRIBUTES2), every page allocated, the range mapped by KVM before each cycle;\n");
	printf("#    %d cycles over %d ranges: page 7 to shared, pages 64, 256, 448 to shared, those back to private, page 7 back to private; the host writes each shared page\n",
	       cycles, CONV_RANGES);
	printf("#    median, us; ratio = huge file / 4 KiB file (below 1: the huge file is faster)\n");
	printf("%-46s %8s %12s %12s %8s\n", "conversion of one 4 KiB page", "samples",
	       kind_name[SMALL], kind_name[HUGE], "ratio");
	for (row = 0; row < NR_ROWS; row++) {
		for (k = 0; k < ARRAY_SIZE(kinds); k++) {
			struct conv_res *cr = &res[kinds[k]];

			med[kinds[k]] = cr->n[row] ?
					median(cr->v[row], cr->n[row]) : 0;
		}
		printf("%-46s %8d %12.1f %12.1f %7.2fx\n", row_name[row],
		       res[HUGE].n[row], med[SMALL], med[HUGE],
		       med[SMALL] > 0 ? med[HUGE] / med[SMALL] : 0);
	}
	printf("# targets: the already-split and still-shared rows <= 1.5x; split and merge rows: the cost per 2 MiB\n");
	printf("# huge file: %lu of %lu pages in 2 MiB folios after fallocate(); ranges not huge before a cycle %lu (refilled; still not huge, cycle skipped: %lu); merges that did not happen %lu\n",
	       (unsigned long)h, (unsigned long)(len / PAGE_SZ), res[HUGE].not_huge,
	       res[HUGE].skipped, res[HUGE].merge_missed);
	printf("# table took %.0f s\n", (now_us() - t0) / 1e6);

	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		vm_destroy(&vm[kinds[k]]);
		for (row = 0; row < NR_ROWS; row++)
			free(res[kinds[k]].v[row]);
	}
}

/* ---- 3. Whole-size conversions, allocated ---- */

/*
 * One cycle: the private pages allocated, the whole memory to shared
 * (timed, with the stock path's discard of the private copy), every page
 * written by the host, the whole memory to private (timed, with the stock
 * path's discard of the shared copy).  @huge[0], @huge[1]: the huge file's
 * pages in 2 MiB folios before and after.
 */
static void whole_cycle(struct vm *vm, double *to_shared, double *to_private,
			uint64_t *huge)
{
	double t;

	gmem_fallocate(vm, 0, 0, vm->size);
	if (vm->kind == HUGE)
		huge[0] = huge_pages(vm, 0, vm->size);

	*to_shared = convert(vm, 0, vm->size, 0);
	if (vm->kind == STOCK) {
		t = now_us();
		gmem_fallocate(vm, 1, 0, vm->size);
		*to_shared += now_us() - t;
	}

	host_write(vm, 0, vm->size);

	*to_private = convert(vm, 0, vm->size, 1);
	if (vm->kind == STOCK) {
		t = now_us();
		if (madvise(vm->mem, vm->size, MADV_REMOVE))
			die("madvise(MADV_REMOVE) of the shared memory (stock)");
		*to_private += now_us() - t;
	}
	if (vm->kind == HUGE)
		huge[1] = huge_pages(vm, 0, vm->size);
}

static void bench_whole(void)
{
	/* the huge file first: it allocates its 2 MiB folios once */
	static const enum kind order[] = { HUGE, SMALL, STOCK };
	double *sh[NR_KINDS], *pr[NR_KINDS], msh[NR_KINDS], mpr[NR_KINDS];
	uint64_t *hb = xcalloc(reps, sizeof(uint64_t));
	uint64_t *ha = xcalloc(reps, sizeof(uint64_t));
	uint64_t pages = size / PAGE_SZ, full = pages / HUGE_NR * HUGE_NR;
	struct vm vm[NR_KINDS];
	double t0 = now_us();
	unsigned int k;
	int r;

	for (k = 0; k < NR_KINDS; k++) {
		sh[k] = xcalloc(reps, sizeof(double));
		pr[k] = xcalloc(reps, sizeof(double));
		vm_create(&vm[k], k, size, 0);
	}
	/* the stock VM's attributes start shared: private, nothing allocated */
	convert(&vm[STOCK], 0, size, 1);

	for (r = 0; r < reps; r++) {
		uint64_t huge[2] = { 0, 0 };

		for (k = 0; k < ARRAY_SIZE(order); k++)
			whole_cycle(&vm[order[k]], &sh[order[k]][r],
				    &pr[order[k]][r], huge);
		hb[r] = huge[0];
		ha[r] = huge[1];
	}
	for (k = 0; k < NR_KINDS; k++) {
		msh[k] = median(sh[k], reps) / 1e3;
		mpr[k] = median(pr[k], reps) / 1e3;
	}

	printf("\n# 3. conversions of all %lu MiB, every page of the old state allocated (fallocate() of the private pages, host writes of the shared ones); median of %d, ms\n",
	       size >> 20, reps);
	printf("#    stock: VM KVM_SET_MEMORY_ATTRIBUTES on a guest_memfd without MMAP, plus the discard of the old copy (PUNCH_HOLE / MADV_REMOVE); 4 KiB and huge file: in place\n");
	printf("#    huge file: to shared splits every 2 MiB folio, to private merges every range back\n");
	printf("%-11s %12s %12s %12s %11s %11s %11s\n", "direction", kind_name[STOCK],
	       kind_name[SMALL], kind_name[HUGE], "stock/4KiB", "stock/huge",
	       "4KiB/huge");
	printf("%-11s %12.1f %12.1f %12.1f %10.2fx %10.2fx %10.2fx\n", "to shared",
	       msh[STOCK], msh[SMALL], msh[HUGE], msh[STOCK] / msh[SMALL],
	       msh[STOCK] / msh[HUGE], msh[SMALL] / msh[HUGE]);
	printf("%-11s %12.1f %12.1f %12.1f %10.2fx %10.2fx %10.2fx\n", "to private",
	       mpr[STOCK], mpr[SMALL], mpr[HUGE], mpr[STOCK] / mpr[SMALL],
	       mpr[STOCK] / mpr[HUGE], mpr[SMALL] / mpr[HUGE]);
	printf("# target: to private >= 50x faster than stock (stock/huge)\n");
	printf("# huge file, pages in 2 MiB folios of %lu (worst of %d): before to shared %lu, after to private (merged back) %lu\n",
	       (unsigned long)full, reps, (unsigned long)min_u(hb, reps),
	       (unsigned long)min_u(ha, reps));
	if (min_u(hb, reps) < full)
		printf("# FALLBACK: the huge file had %lu of %lu pages in 2 MiB folios before a conversion to shared\n",
		       (unsigned long)min_u(hb, reps), (unsigned long)full);
	if (min_u(ha, reps) < min_u(hb, reps))
		printf("# NOT MERGED: after a conversion to private only %lu of %lu pages were in 2 MiB folios again\n",
		       (unsigned long)min_u(ha, reps), (unsigned long)min_u(hb, reps));
	printf("# table took %.0f s\n", (now_us() - t0) / 1e6);

	for (k = 0; k < NR_KINDS; k++) {
		vm_destroy(&vm[k]);
		free(sh[k]);
		free(pr[k]);
	}
	free(hb);
	free(ha);
}

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [--reps N] [--size MiB] [--bounce N]\n",
		program_invocation_short_name);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "bounce", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	unsigned long mib = size >> 20, gflags;
	char *end;
	int c, vm_fd;

	while ((c = getopt_long(argc, argv, "r:s:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			reps = atoi(optarg);
			break;
		case 's':
			errno = 0;
			mib = strtoul(optarg, &end, 0);
			if (errno || *end || end == optarg)
				usage(2);
			break;
		case 'b':
			errno = 0;
			nr_bounce = strtoul(optarg, &end, 0);
			if (errno || *end || end == optarg)
				usage(2);
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (reps < 1 || reps > 1000 || mib < 2 || mib % 2 || mib > (1UL << 20) ||
	    !nr_bounce || nr_bounce > (mib << 20) / PAGE_SZ / 2) {
		fprintf(stderr, "gmem-huge-bench: --reps 1..1000, --size an even number of MiB (2..%lu), --bounce 1..(pages of --size) / 2\n",
			1UL << 20);
		return 2;
	}
	size = mib << 20;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm");
	if (!(check_cap(kvm_fd, KVM_CAP_VM_TYPES) & (1 << KVM_X86_SW_PROTECTED_VM)) ||
	    check_cap(kvm_fd, KVM_CAP_PRE_FAULT_MEMORY) == 0) {
		printf("gmem-huge-bench: SKIP: needs KVM_X86_SW_PROTECTED_VM and KVM_PRE_FAULT_MEMORY\n");
		return KSFT_SKIP;
	}
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm_fd < 0)
		die("KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)");
	gflags = check_cap(vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS);
	if ((gflags & (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_HUGE_PMD)) !=
	    (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_HUGE_PMD) ||
	    !(check_cap(vm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) &
	      KVM_MEMORY_ATTRIBUTE_PRIVATE) ||
	    !(check_cap(kvm_fd, KVM_CAP_GUEST_MEMFD_SCAN) & KVM_GMEM_PAGE_HUGE)) {
		printf("gmem-huge-bench: SKIP: needs GUEST_MEMFD_FLAG_MMAP and GUEST_MEMFD_FLAG_HUGE_PMD (guest_memfd flags 0x%lx; THP?), KVM_SET_MEMORY_ATTRIBUTES2 and KVM_GUEST_MEMFD_SCAN with HUGE\n",
		       gflags);
		close(vm_fd);
		return KSFT_SKIP;
	}
	close(vm_fd);

	printf("gmem-huge-bench: %lu MiB of guest memory, %lu bounce buffers, --reps %d\n\n",
	       size >> 20, nr_bounce, reps);
	fflush(stdout);
	bench_first_touch();
	fflush(stdout);
	bench_4k_conversions();
	fflush(stdout);
	bench_whole();
	if (eagain_retries)
		printf("\n# %lu conversions were refused with EAGAIN and retried: each latency is that of the attempt that succeeded\n",
		       eagain_retries);
	return 0;
}
