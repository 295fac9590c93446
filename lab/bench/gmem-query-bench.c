// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-query-bench: the cost of KVM_GUEST_MEMFD_SCAN against the size of the
 * file and the number of regions it returns, with /proc/PID/pagemap over an
 * equal-sized mapping as the anchor.
 *
 * Cases, each the median of --reps queries of the whole file (microseconds):
 *
 * - 1 GiB and 64 GiB files (sparse: nothing allocated) with 1 region, then
 *   64 GiB with 1 000 and 100 000 regions (every other range of pages
 *   converted to private), queried twice: for shareability only (PRIVATE,
 *   SHARED), and with ALLOCATED and the folio categories too, which makes
 *   the walk look at the page cache;
 * - 1 GiB with every page allocated and host-mapped (262 144 folios), for
 *   what a walk of folios costs;
 * - the anchors, over an anonymous mapping of the same size: read()ing its
 *   /proc/self/pagemap entries (one u64 per page) and one PAGEMAP_SCAN of it.
 *
 * The cost of a query must follow the regions and folios visited, not the
 * size of the file: the 64 GiB single-region query should cost no more than
 * twice the 1 GiB one.
 *
 * Usage: gmem-query-bench [--reps N]
 * Exit: 0, 1 on error, 4 if KVM lacks KVM_GUEST_MEMFD_SCAN.
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
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/kvm_gmem.h>

#include "bench.h"

#define KSFT_SKIP	4
#define PAGE_SZ		4096UL
#define GIB		(1UL << 30)

#define CATS_SHARE	(KVM_GMEM_PAGE_PRIVATE | KVM_GMEM_PAGE_SHARED)
#define CATS_ALL	(CATS_SHARE | KVM_GMEM_PAGE_ALLOCATED |		\
			 KVM_GMEM_PAGE_MAPPED | KVM_GMEM_PAGE_PINNED |	\
			 KVM_GMEM_PAGE_DMA_PINNED)

static int kvm_fd, vm_fd, reps = 9;

static void die(const char *what)
{
	fprintf(stderr, "gmem-query-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int gmem_create(unsigned long size)
{
	struct kvm_create_guest_memfd gmem = {
		.size = size,
		.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	int fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem);

	if (fd < 0)
		die("KVM_CREATE_GUEST_MEMFD");
	return fd;
}

static void gmem_convert(int fd, unsigned long off, unsigned long size)
{
	struct kvm_memory_attributes2 attr = {
		.offset = off,
		.size = size,
		.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};

	if (ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr))
		die("KVM_SET_MEMORY_ATTRIBUTES2");
}

/*
 * Median time of a query of all of @fd (@size bytes) for @cats; the regions
 * it returned go to *@nr_regions.
 */
static double time_scan(int fd, unsigned long size, unsigned long long cats,
			struct kvm_guest_memfd_region *vec, unsigned long vec_len,
			long *nr_regions)
{
	double t[reps];
	int i;

	for (i = 0; i < reps; i++) {
		struct kvm_guest_memfd_scan scan = {
			.size = sizeof(scan),
			.end = size,
			.vec = (uintptr_t)vec,
			.vec_len = vec_len,
			.return_mask = cats,
		};
		double t0 = now_us();
		long r = ioctl(fd, KVM_GUEST_MEMFD_SCAN, &scan);

		t[i] = now_us() - t0;
		if (r < 0)
			die("KVM_GUEST_MEMFD_SCAN");
		if (scan.walk_end != size) {
			fprintf(stderr, "gmem-query-bench: walk stopped at %llu of %lu\n",
				(unsigned long long)scan.walk_end, size);
			exit(1);
		}
		*nr_regions = r;
	}
	return median(t, reps);
}

/* Median time to read the pagemap entries of an anonymous @size mapping. */
static double time_pagemap(unsigned long size, double *scan_us)
{
	unsigned long chunk = 1UL << 20, off, npages = size / PAGE_SZ;
	uint64_t *buf = malloc(chunk);
	int n = reps < 3 ? reps : 3;	/* a 64 GiB read is slow */
	double t[n], ts[n];
	struct page_region region;
	char *map;
	int fd, i;

	map = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED || !buf)
		die("mmap (pagemap anchor)");
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		die("open(/proc/self/pagemap)");

	for (i = 0; i < n; i++) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = (uintptr_t)map,
			.end = (uintptr_t)map + size,
			.vec = (uintptr_t)&region,
			.vec_len = 1,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT,
		};
		double t0 = now_us();

		for (off = 0; off < npages * sizeof(uint64_t); off += chunk) {
			if (pread(fd, buf, chunk,
				  (uintptr_t)map / PAGE_SZ * sizeof(uint64_t) +
				  off) != (ssize_t)chunk)
				die("pread(/proc/self/pagemap)");
		}
		t[i] = now_us() - t0;

		t0 = now_us();
		if (ioctl(fd, PAGEMAP_SCAN, &arg) < 0)
			die("PAGEMAP_SCAN");
		ts[i] = now_us() - t0;
	}
	close(fd);
	munmap(map, size);
	free(buf);
	*scan_us = median(ts, n);
	return median(t, n);
}

static void row(const char *what, const char *size, long regions,
		double share_us, double all_us)
{
	printf("%-34s %7s %9ld %12.1f %12.1f\n", what, size, regions, share_us,
	       all_us);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ }
	};
	static const unsigned long nr_regions[] = { 1000, 100000 };
	unsigned long vec_len = 200000, size64 = 64 * GIB;
	struct kvm_guest_memfd_region *vec;
	double share, all, one1, one64, pm, pm_scan;
	long n, n2;
	unsigned int i;
	int c, fd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r' || (reps = atoi(optarg)) < 1) {
			fprintf(stderr, "usage: %s [--reps N]\n", argv[0]);
			return 1;
		}
	}

	kvm_fd = open("/dev/kvm", O_RDWR);
	if (kvm_fd < 0)
		die("/dev/kvm");
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_SCAN) <= 0) {
		printf("gmem-query-bench: no KVM_GUEST_MEMFD_SCAN in this kernel: skipped\n");
		return KSFT_SKIP;
	}
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm_fd < 0)
		die("KVM_CREATE_VM");
	vec = calloc(vec_len, sizeof(*vec));
	if (!vec)
		die("calloc");

	printf("KVM_GUEST_MEMFD_SCAN of the whole file, median of %d, us\n", reps);
	printf("%-34s %7s %9s %12s %12s\n", "file", "size", "regions",
	       "share only", "+ folios");

	fd = gmem_create(GIB);
	one1 = time_scan(fd, GIB, CATS_SHARE, vec, vec_len, &n);
	all = time_scan(fd, GIB, CATS_ALL, vec, vec_len, &n2);
	row("sparse", "1 GiB", n, one1, all);
	close(fd);

	fd = gmem_create(size64);
	one64 = time_scan(fd, size64, CATS_SHARE, vec, vec_len, &n);
	all = time_scan(fd, size64, CATS_ALL, vec, vec_len, &n2);
	row("sparse", "64 GiB", n, one64, all);
	for (i = 0; i < sizeof(nr_regions) / sizeof(nr_regions[0]); i++) {
		unsigned long k, step;

		step = size64 / (nr_regions[i] / 2) & ~(PAGE_SZ - 1);

		/* nr_regions[i] / 2 private ranges, each followed by shared. */
		for (k = 0; k < nr_regions[i] / 2; k++)
			gmem_convert(fd, k * step, PAGE_SZ);
		share = time_scan(fd, size64, CATS_SHARE, vec, vec_len, &n);
		all = time_scan(fd, size64, CATS_ALL, vec, vec_len, &n2);
		row("sparse, alternating", "64 GiB", n, share, all);
		/* Back to a single shared range. */
		{
			struct kvm_memory_attributes2 attr = {
				.size = size64,
			};

			if (ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr))
				die("KVM_SET_MEMORY_ATTRIBUTES2(shared)");
		}
	}
	close(fd);

	fd = gmem_create(GIB);
	{
		char *mem = mmap(NULL, GIB, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, fd, 0);

		if (mem == MAP_FAILED)
			die("mmap(guest_memfd, MAP_POPULATE)");
		share = time_scan(fd, GIB, CATS_SHARE, vec, vec_len, &n);
		all = time_scan(fd, GIB, CATS_ALL, vec, vec_len, &n2);
		row("every page allocated and mapped", "1 GiB", n2, share, all);
		munmap(mem, GIB);
	}
	close(fd);

	printf("\nanchor: an anonymous mapping of the same size, median of %d, us\n",
	       reps < 3 ? reps : 3);
	printf("%-34s %7s %12s %12s\n", "", "size", "pagemap read", "PAGEMAP_SCAN");
	pm = time_pagemap(GIB, &pm_scan);
	printf("%-34s %7s %12.1f %12.1f\n", "unpopulated", "1 GiB", pm, pm_scan);
	pm = time_pagemap(size64, &pm_scan);
	printf("%-34s %7s %12.1f %12.1f\n", "unpopulated", "64 GiB", pm, pm_scan);

	printf("\n64 GiB / 1 GiB single-region query: %.2fx (target: at most 2x)\n",
	       one64 / one1);
	free(vec);
	return 0;
}
