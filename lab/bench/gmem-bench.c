// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-bench: conversion latency, in place on a guest_memfd
 * (KVM_SET_MEMORY_ATTRIBUTES2, GUEST_MEMFD_FLAG_MMAP) against the stock 6.12
 * path (the VM's KVM_SET_MEMORY_ATTRIBUTES on a memslot bound to a plain
 * guest_memfd), in the same boot, for 4 KiB, 2 MiB and 1 GiB ranges in both
 * directions.  Each number is the median of --reps conversions of the whole
 * range; the ratio is stock / in-place (above 1: in place is faster).
 *
 * Two cases: "empty", where no page is allocated (the state change alone),
 * and "allocated", where every page of the old state is allocated: in place,
 * shared->private must then unmap and check every folio, while the stock
 * path, which keeps a shared and a private copy, must discard the old copy
 * (MADV_REMOVE of the shared memory, PUNCH_HOLE of the guest_memfd) as
 * 6.12 VMMs do.
 *
 * Usage: gmem-bench [--reps N] [--max-size MiB]
 * Exit: 0, 1 on error, 4 if KVM lacks what is measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define KSFT_SKIP	4
#define PAGE_SZ		4096UL	/* the lab is x86_64 */
#define GPA_STOCK	(1UL << 32)
#define GPA_INPLACE	(8UL << 32)

static int kvm_fd;

static void die(const char *what)
{
	fprintf(stderr, "gmem-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int check_cap(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct setup {
	int vm_fd;
	int gmem_fd;
	void *mem;
	unsigned long size;
	unsigned long gpa;
	int inplace;
};

static void setup(struct setup *s, unsigned long size, int inplace)
{
	struct kvm_create_guest_memfd gmem = { .size = size };
	struct kvm_userspace_memory_region2 region = {
		.slot = 0,
		.flags = KVM_MEM_GUEST_MEMFD,
		.memory_size = size,
		.guest_memfd_offset = 0,
	};

	memset(s, 0, sizeof(*s));
	s->size = size;
	s->inplace = inplace;
	s->gpa = inplace ? GPA_INPLACE : GPA_STOCK;
	s->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (s->vm_fd < 0)
		die("KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)");

	if (inplace)
		gmem.flags = GUEST_MEMFD_FLAG_MMAP;
	s->gmem_fd = ioctl(s->vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (s->gmem_fd < 0)
		die("KVM_CREATE_GUEST_MEMFD");

	if (inplace)
		s->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			      s->gmem_fd, 0);
	else
		s->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->mem == MAP_FAILED)
		die("mmap");

	region.guest_phys_addr = s->gpa;
	region.userspace_addr = (unsigned long)s->mem;
	region.guest_memfd = s->gmem_fd;
	if (ioctl(s->vm_fd, KVM_SET_USER_MEMORY_REGION2, &region))
		die("KVM_SET_USER_MEMORY_REGION2");
}

static void teardown(struct setup *s)
{
	munmap(s->mem, s->size);
	close(s->gmem_fd);
	close(s->vm_fd);
}

/* Convert the whole range; returns the time it took in microseconds. */
static double convert(struct setup *s, int to_private)
{
	__u64 attrs = to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
	double t0, t1;
	int r, tries = 0;

	do {
		t0 = now_us();
		if (s->inplace) {
			struct kvm_memory_attributes2 a = {
				.offset = 0,
				.size = s->size,
				.attributes = attrs,
			};

			r = ioctl(s->gmem_fd, KVM_SET_MEMORY_ATTRIBUTES2, &a);
		} else {
			struct kvm_memory_attributes a = {
				.address = s->gpa,
				.size = s->size,
				.attributes = attrs,
			};

			r = ioctl(s->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &a);
		}
		t1 = now_us();
	} while (r && errno == EAGAIN && ++tries < 100);
	if (r)
		die(s->inplace ? "KVM_SET_MEMORY_ATTRIBUTES2" :
				 "KVM_SET_MEMORY_ATTRIBUTES");
	return t1 - t0;
}

/*
 * The stock path keeps two copies: after a conversion the VMM discards the
 * one of the old state (as QEMU does), which is part of what it costs.
 */
static double discard(struct setup *s, int to_private)
{
	double t0 = now_us();

	if (to_private) {
		if (madvise(s->mem, s->size, MADV_REMOVE))
			die("madvise(MADV_REMOVE)");
	} else if (fallocate(s->gmem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     0, s->size)) {
		die("fallocate(PUNCH_HOLE)");
	}
	return now_us() - t0;
}

/* Allocate every page of the copy that is about to be converted. */
static void populate(struct setup *s, int to_private)
{
	unsigned long off;

	if (to_private) {
		for (off = 0; off < s->size; off += PAGE_SZ)
			((char *)s->mem)[off] = 1;
	} else if (fallocate(s->gmem_fd, FALLOC_FL_KEEP_SIZE, 0, s->size)) {
		die("fallocate");
	}
}

/*
 * Median latency of converting the whole range to private (@to_private)
 * or to shared, starting each time from the other state.  @touched: the
 * pages of the state converted from are allocated, and the stock path
 * discards them afterwards.
 */
static double measure(unsigned long size, int inplace, int touched,
		      int to_private, int reps)
{
	double *v = calloc(reps, sizeof(*v));
	struct setup s;
	double m;
	int i;

	if (!v)
		die("calloc");
	setup(&s, size, inplace);
	convert(&s, !to_private);
	for (i = 0; i < reps; i++) {
		if (touched)
			populate(&s, to_private);
		v[i] = convert(&s, to_private);
		if (touched && !inplace)
			v[i] += discard(&s, to_private);
		convert(&s, !to_private);
	}
	teardown(&s);
	m = median(v, reps);
	free(v);
	return m;
}

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [--reps N] [--max-size MiB]\n",
		program_invocation_short_name);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	static const struct { const char *name; unsigned long size; } sizes[] = {
		{ "4 KiB", 4096UL },
		{ "2 MiB", 2UL << 20 },
		{ "1 GiB", 1UL << 30 },
	};
	unsigned long max_size = 1UL << 30;
	int reps = 9, c, i, dir;

	while ((c = getopt_long(argc, argv, "r:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			reps = atoi(optarg);
			if (reps < 1)
				usage(2);
			break;
		case 'm':
			max_size = strtoul(optarg, NULL, 0) << 20;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}

	kvm_fd = open("/dev/kvm", O_RDWR);
	if (kvm_fd < 0)
		die("/dev/kvm");
	if (!(check_cap(kvm_fd, KVM_CAP_VM_TYPES) & (1 << KVM_X86_SW_PROTECTED_VM)) ||
	    !(check_cap(kvm_fd, KVM_CAP_GUEST_MEMFD_FLAGS) & GUEST_MEMFD_FLAG_MMAP) ||
	    !(check_cap(kvm_fd, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) &
	      KVM_MEMORY_ATTRIBUTE_PRIVATE)) {
		printf("gmem-bench: SKIP: needs KVM_X86_SW_PROTECTED_VM, %s\n",
		       "GUEST_MEMFD_FLAG_MMAP and KVM_SET_MEMORY_ATTRIBUTES2");
		return KSFT_SKIP;
	}

	printf("# conversion latency, median of %d (4 KiB: %d, 1 GiB: %d), microseconds; ratio = stock / in-place\n",
	       reps, reps * 11, (reps + 2) / 3);
	printf("# empty: no page allocated (state change only)\n");
	printf("# allocated: every page of the old state allocated; stock includes discarding that copy\n");
	printf("%-6s %-11s %11s %11s %9s %13s %11s %8s\n", "size", "direction",
	       "stock", "in-place", "ratio", "stock", "in-place", "ratio");
	printf("%-6s %-11s %11s %11s %9s %13s %11s %8s\n", "", "",
	       "empty", "empty", "", "allocated", "allocated", "");
	for (i = 0; i < 3; i++) {
		if (sizes[i].size > max_size)
			continue;
		for (dir = 1; dir >= 0; dir--) {
			/* cheap sizes get more samples: TCG timing is noisy */
			int r = sizes[i].size >= (1UL << 30) ? (reps + 2) / 3 :
				sizes[i].size <= 4096 ? reps * 11 : reps;
			double se, ie, sa, ia;

			se = measure(sizes[i].size, 0, 0, dir, r);
			ie = measure(sizes[i].size, 1, 0, dir, r);
			sa = measure(sizes[i].size, 0, 1, dir, r);
			ia = measure(sizes[i].size, 1, 1, dir, r);
			printf("%-6s %-11s %11.1f %11.1f %8.1fx %13.1f %11.1f %7.2fx\n",
			       sizes[i].name, dir ? "to private" : "to shared",
			       se, ie, se / ie, sa, ia, sa / ia);
			fflush(stdout);
		}
	}
	return 0;
}
