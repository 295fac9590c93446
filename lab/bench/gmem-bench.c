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
 * --trace measures the in-place path alone, with the gmem events off and on:
 * on is every event of TRACE_SYSTEM gmem enabled in a tracefs instance of
 * the benchmark's own (instances/gmem-bench), writing to its ring buffer as
 * an operator would run them.  Off and on alternate in short blocks, in
 * the same VM and file, so that drift cancels; the overhead is the median
 * of the on / off ratios of neighbouring blocks, with a 95% confidence
 * interval.  The instance is disabled and removed on exit, also on error
 * or signal.  Without the gmem events the table is skipped (exit 0).
 *
 * --trace-events LIST enables only the events listed (comma-separated; a
 * name without "system/" is a gmem event), to tell their costs apart.
 *
 * Usage: gmem-bench [--reps N] [--max-size MiB] [--trace [--trace-events LIST]]
 * Exit: 0, 1 on error, 4 if KVM lacks what is measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "bench.h"

#define KSFT_SKIP	4
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE_SZ		4096UL	/* the lab is x86_64 */
#define GPA_STOCK	(1UL << 32)
#define GPA_INPLACE	(8UL << 32)

#define TRACEFS		"/sys/kernel/tracing"
#define TRACE_INST	TRACEFS "/instances/gmem-bench"
#define TRACE_ENABLE	TRACE_INST "/events/gmem/enable"
#define TRACE_ALL_OFF	TRACE_INST "/events/enable"
#define TRACE_MAX_FDS	8	/* events of --trace-events */
#define TRACE_BUF_KB	"4096"	/* per CPU; it overwrites when full */
#define TRACE_MIN_UNITS	8	/* off/on block pairs of a row */
#define TRACE_SETTLE_US	100000	/* untimed conversions after a switch */

static int kvm_fd;

static const struct {
	const char *name;
	unsigned long size;
} sizes[] = {
	{ "4 KiB", 4096UL },
	{ "2 MiB", 2UL << 20 },
	{ "1 GiB", 1UL << 30 },
};

static void die(const char *what)
{
	fprintf(stderr, "gmem-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int check_cap(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap);
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

/*
 * The gmem events, on or off, in the tracefs instance of the benchmark:
 * every one (events/gmem/enable), or those --trace-events names.  Their
 * enable files stay open (trace_fds) for switching them.  An instance
 * cannot be removed while a file of it is open: the cleanup, which runs at
 * exit and from signal handlers, closes those first, and the others are
 * only opened with those signals blocked.
 */
static const int trace_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE,
				  SIGSEGV, SIGBUS, SIGABRT };
static volatile sig_atomic_t trace_inst_made;
static volatile sig_atomic_t trace_fds[TRACE_MAX_FDS];
static volatile sig_atomic_t trace_nfds;
static const char *trace_events;	/* NULL: every gmem event */
static int trace_on;

static void trace_block(int how)
{
	sigset_t set;
	unsigned int i;

	sigemptyset(&set);
	for (i = 0; i < ARRAY_SIZE(trace_sigs); i++)
		sigaddset(&set, trace_sigs[i]);
	sigprocmask(how, &set, NULL);
}

static int write_str(const char *path, const char *val)
{
	ssize_t len = strlen(val), r;
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0)
		return -1;
	r = write(fd, val, len);
	if (close(fd) || r != len)
		return -1;
	return 0;
}

static void trace_cleanup(void)
{
	int saved = errno;

	if (trace_inst_made) {
		trace_inst_made = 0;
		while (trace_nfds > 0)
			close(trace_fds[--trace_nfds]);
		write_str(TRACE_ALL_OFF, "0");
		rmdir(TRACE_INST);
	}
	errno = saved;
}

static void trace_signal(int sig)
{
	trace_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void trace_set(int on)
{
	int i;

	if (on == trace_on)
		return;
	for (i = 0; i < trace_nfds; i++)
		if (write(trace_fds[i], on ? "1" : "0", 1) != 1)
			die("write enable");
	trace_on = on;
}

/* Opens the enable file of each event of @list ("event,system/event"). */
static void trace_open_events(const char *list)
{
	char *names = strdup(list), *name, *save = NULL, path[256];
	int fd;

	if (!names)
		die("strdup");
	for (name = strtok_r(names, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		if (trace_nfds == TRACE_MAX_FDS)
			die("--trace-events: too many events");
		snprintf(path, sizeof(path), "%s/events/%s%s/enable",
			 TRACE_INST, strchr(name, '/') ? "" : "gmem/", name);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			die(path);
		trace_fds[trace_nfds++] = fd;
	}
	free(names);
}

/* Returns 0 when the gmem events are not in this kernel. */
static int trace_setup(void)
{
	unsigned int i;

	if (access(TRACEFS "/events/gmem", F_OK))
		return 0;

	if (atexit(trace_cleanup))
		die("atexit");
	trace_block(SIG_BLOCK);
	for (i = 0; i < ARRAY_SIZE(trace_sigs); i++)
		signal(trace_sigs[i], trace_signal);
	if (mkdir(TRACE_INST, 0755) && errno != EEXIST)
		die("mkdir " TRACE_INST);
	trace_inst_made = 1;
	if (write_str(TRACE_ALL_OFF, "0"))
		die(TRACE_ALL_OFF);
	if (write_str(TRACE_INST "/buffer_size_kb", TRACE_BUF_KB))
		die(TRACE_INST "/buffer_size_kb");
	if (write_str(TRACE_INST "/tracing_on", "1"))
		die(TRACE_INST "/tracing_on");
	if (trace_events) {
		trace_open_events(trace_events);
	} else {
		trace_fds[0] = open(TRACE_ENABLE, O_WRONLY);
		if (trace_fds[0] < 0)
			die(TRACE_ENABLE);
		trace_nfds = 1;
	}
	trace_on = 0;
	trace_block(SIG_UNBLOCK);
	return 1;
}

/* Events the instance's ring buffer took: those it holds and overwrote. */
static unsigned long trace_events_written(void)
{
	unsigned long n = 0, v;
	char path[128], line[128];
	int cpu, ncpus = sysconf(_SC_NPROCESSORS_CONF);
	FILE *f;

	for (cpu = 0; cpu < ncpus; cpu++) {
		snprintf(path, sizeof(path), TRACE_INST "/per_cpu/cpu%d/stats",
			 cpu);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "entries: %lu", &v) == 1 ||
			    sscanf(line, "overrun: %lu", &v) == 1)
				n += v;
		fclose(f);
	}
	return n;
}

/* Untimed conversions there and back, for TRACE_SETTLE_US at least. */
static void settle(struct setup *s, int to_private)
{
	double t0 = now_us();

	do {
		convert(s, to_private);
		convert(s, !to_private);
	} while (now_us() - t0 < TRACE_SETTLE_US);
}

/*
 * Samples of each state in a block.  Every switch of the events costs a
 * settle (TRACE_SETTLE_US), so pairs of single samples would cost one a
 * pair: 10 s for a 4 KiB cell of 100 pairs, 40 s for the four, whose
 * samples take milliseconds.  A block is as long as its samples stay cheap
 * next to the settle, which then sets the distance between the off and
 * the on of a unit: 16 where a sample takes microseconds (every empty
 * cell, 4 KiB), 8 for 2 MiB allocated (a to-private sample first faults
 * 512 pages in: milliseconds under TCG), and pairs for 1 GiB allocated,
 * where a sample costs more than a settle does.
 */
static int trace_block_len(unsigned long size, int touched)
{
	if (!touched || size <= PAGE_SZ)
		return 16;
	if (size <= (2UL << 20))
		return 8;
	return 1;
}

/*
 * Units, each one block off and one on, of every row: --reps rounded up to
 * a multiple of 4, as the samples of each state were before there were
 * units, so that the 1 GiB allocated rows, which take most of the time,
 * convert as often as they did.  Even, so that off first and on first
 * count alike; TRACE_MIN_UNITS at least, for the interval (below 6 there
 * is no 95% one).
 */
static int trace_units(int reps)
{
	if (reps < TRACE_MIN_UNITS)
		reps = TRACE_MIN_UNITS;
	return (reps + 3) / 4 * 4;
}

/*
 * The distribution-free confidence interval of a median: of @n independent
 * samples, whatever their distribution, the k-th smallest and the k-th
 * largest hold the median with probability 1 - 2 P(B < k), B binomial
 * (n, 1/2).  Returns the largest k for which that is 95% at least, and
 * that probability in *@cover; 0 when there is none (n < 6).  No
 * bootstrap: with 12 units its interval would be as coarse, and only
 * approximate.
 */
static int median_ci_rank(int n, double *cover)
{
	double *p = calloc(n + 1, sizeof(*p)), below = 0;
	int i, j, k = 0;

	if (!p)
		die("calloc");
	/* P(B = j): Pascal's triangle, halved row by row so as not to overflow */
	p[0] = 1;
	for (i = 1; i <= n; i++) {
		for (j = i; j > 0; j--)
			p[j] = (p[j] + p[j - 1]) / 2;
		p[0] /= 2;
	}
	while (k < n / 2 && 1 - 2 * (below + p[k]) >= 0.95)
		below += p[k++];
	*cover = 1 - 2 * below;
	free(p);
	return k;
}

struct trace_res {
	double off, on;		/* medians of all the samples of each state */
	double ratio;		/* median of the units' on / off */
	double lo, hi;		/* its confidence interval */
};

/*
 * In-place latency of converting the whole range to private (@to_private)
 * or to shared, events off and on, in one VM and file: @units units of
 * @blk samples off and @blk on, the order alternating (off on, on off, off
 * on, ...) so that drift cancels and the events switch once per unit.  A
 * unit's ratio is the median of its on block over that of its off block:
 * neighbours in time, so that drift slower than a unit drops out of it.
 * Switching the events is not free: the kernel patches its code (which TCG
 * then translates anew), waits for an RCU grace period and frees the old
 * probes after another.  So that none of it lands in the samples, as it
 * would not for an operator who leaves the events on, every switch is
 * followed by TRACE_SETTLE_US of untimed conversions, and so is setup, to
 * warm up.  @rank: of the interval of the median ratio, from
 * median_ci_rank().
 */
static void measure_trace(unsigned long size, int touched, int to_private,
			  int units, int blk, int rank, struct trace_res *res)
{
	int i, u, k, state, n = units * blk;
	double *v[2], *ratio;
	struct setup s;

	v[0] = calloc(n, sizeof(double));
	v[1] = calloc(n, sizeof(double));
	ratio = calloc(units, sizeof(double));
	if (!v[0] || !v[1] || !ratio)
		die("calloc");
	setup(&s, size, 1);
	convert(&s, !to_private);
	trace_set(0);
	settle(&s, to_private);
	for (u = 0; u < units; u++) {
		for (k = 0; k < 2; k++) {
			state = k ^ (u & 1);
			if (state != trace_on) {
				trace_set(state);
				settle(&s, to_private);
			}
			for (i = u * blk; i < (u + 1) * blk; i++) {
				if (touched)
					populate(&s, to_private);
				v[state][i] = convert(&s, to_private);
				convert(&s, !to_private);
			}
		}
		/* the block's medians, before the medians of all sort them */
		ratio[u] = median(v[1] + u * blk, blk) /
			   median(v[0] + u * blk, blk);
	}
	trace_set(0);
	teardown(&s);
	res->off = median(v[0], n);
	res->on = median(v[1], n);
	res->ratio = median(ratio, units);
	res->lo = ratio[rank - 1];
	res->hi = ratio[units - rank];
	free(v[0]);
	free(v[1]);
	free(ratio);
}

/* "+12.3%": a ratio on / off as the overhead of on */
static double overhead(double ratio)
{
	return (ratio - 1) * 100;
}

/* "[+8.1,+16.0]": one word, for readers that split on blanks */
static const char *fmt_ci(char *buf, size_t len, const struct trace_res *r)
{
	snprintf(buf, len, "[%+.1f,%+.1f]", overhead(r->lo), overhead(r->hi));
	return buf;
}

static int bench_trace(unsigned long max_size, int reps)
{
	int dir, rank, units = trace_units(reps);
	unsigned long n;
	double cover;
	unsigned int i;

	if (!trace_setup()) {
		printf("# gmem events: %s missing (no gmem tracepoints in this kernel, or no tracefs): events off/on table skipped\n",
		       TRACEFS "/events/gmem");
		return 0;
	}

	rank = median_ci_rank(units, &cover);
	printf("# in-place conversion latency, gmem events off / on, median of %d per state (2 MiB allocated: %d, 1 GiB allocated: %d), microseconds\n",
	       units * trace_block_len(PAGE_SZ, 1),
	       units * trace_block_len(2UL << 20, 1),
	       units * trace_block_len(1UL << 30, 1));
	printf("# interleaved: %d units of a block off and a block on, order alternating; blocks of %d (2 MiB allocated: %d, 1 GiB allocated: %d, pairs); %d ms untimed after each switch\n",
	       units, trace_block_len(PAGE_SZ, 1),
	       trace_block_len(2UL << 20, 1), trace_block_len(1UL << 30, 1),
	       TRACE_SETTLE_US / 1000);
	printf("# on: %s enabled in %s (buffer_size_kb %s, overwrite)\n",
	       trace_events ?: "every gmem event", TRACE_INST, TRACE_BUF_KB);
	printf("# overhead = median over the units of their median on / median off, - 1 (not on / off of the columns)\n");
	printf("# 95%% CI of that median: order statistics, distribution-free (no bootstrap): k-th smallest and largest of the %d unit ratios, k = %d, coverage %.1f%%\n",
	       units, rank, cover * 100);
	printf("# empty: no page allocated; allocated: every page of the old state allocated (and mapped, to private)\n");
	printf("%-6s %-11s %11s %11s %9s %-15s %11s %11s %9s %s\n", "size",
	       "direction", "off", "on", "overhead", "95% CI", "off", "on",
	       "overhead", "95% CI");
	printf("%-6s %-11s %11s %11s %9s %-15s %11s %11s\n", "", "",
	       "empty", "empty", "", "", "allocated", "allocated");
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		if (sizes[i].size > max_size)
			continue;
		for (dir = 1; dir >= 0; dir--) {
			struct trace_res e, a;
			char ce[32], ca[32];

			measure_trace(sizes[i].size, 0, dir, units,
				      trace_block_len(sizes[i].size, 0), rank,
				      &e);
			measure_trace(sizes[i].size, 1, dir, units,
				      trace_block_len(sizes[i].size, 1), rank,
				      &a);
			printf("%-6s %-11s %11.1f %11.1f %+8.1f%% %-15s %11.1f %11.1f %+8.1f%% %s\n",
			       sizes[i].name, dir ? "to private" : "to shared",
			       e.off, e.on, overhead(e.ratio),
			       fmt_ci(ce, sizeof(ce), &e),
			       a.off, a.on, overhead(a.ratio),
			       fmt_ci(ca, sizeof(ca), &a));
			fflush(stdout);
		}
	}
	trace_block(SIG_BLOCK);
	n = trace_events_written();
	trace_cleanup();
	trace_block(SIG_UNBLOCK);
	printf("# ring buffer of %s: %lu events written\n", TRACE_INST, n);
	return 0;
}

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [--reps N] [--max-size MiB] [--trace [--trace-events LIST]]\n",
		program_invocation_short_name);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "trace", no_argument, NULL, 't' },
		{ "trace-events", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	unsigned long max_size = 1UL << 30;
	int reps = 9, trace = 0, c, i, dir;

	while ((c = getopt_long(argc, argv, "r:m:te:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			reps = atoi(optarg);
			if (reps < 1)
				usage(2);
			break;
		case 'm':
			max_size = strtoul(optarg, NULL, 0) << 20;
			break;
		case 't':
			trace = 1;
			break;
		case 'e':
			trace_events = optarg;
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

	if (trace)
		return bench_trace(max_size, reps);

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
