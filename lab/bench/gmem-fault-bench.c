// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-fault-bench: the cost of KVM's fault path on guest_memfd memory, with
 * one vCPU and with one per CPU, against a baseline measured in the same
 * boot: the same faults on a VM without private memory, whose memslot is
 * plain anonymous memory, so that no fault asks guest_memfd anything.
 *
 * Faults are driven with KVM_PRE_FAULT_MEMORY, which runs KVM's TDP fault
 * path for a gpa without entering the guest: every vCPU, in a thread of its
 * own, pre-faults its own part of the VM's one memslot, again and again.
 * The first pass maps the pages; the timed passes find them mapped, so
 * they measure what every fault pays before it can tell (the private/shared
 * lookups of the file, twice per fault on a SW_PROTECTED VM, and the
 * guest_memfd pfn lookup for private pages), not allocation.  The vCPUs
 * share the VM and the file: what they contend on shows as a lower rate
 * with more vCPUs.
 *
 *   private   SW_PROTECTED VM, guest_memfd created private (no INIT_SHARED)
 *   shared    SW_PROTECTED VM, mmap()able guest_memfd, INIT_SHARED, the
 *             memslot's userspace_addr its mapping
 *   baseline  default VM, anonymous memory
 *
 * Each number is the median rate over --reps timed passes, in faults per
 * second and per vCPU; the ratio is the case's rate over the baseline's
 * with as many vCPUs (1: as cheap as a fault that asks guest_memfd
 * nothing).
 *
 * The second table is about the host's faults on the file's mapping: a
 * thread faults on a shared page, again and again, while another converts
 * the rest of the file (--conv-mib, every page allocated) to private, and
 * the main thread, 2 ms into each conversion, times an mmap() and munmap()
 * of an anonymous page, which take mmap_lock for write.  The ratio is that
 * time over the same mmap() and munmap() with no conversion running: 1
 * when a host fault waiting for a conversion does not hold mmap_lock.
 *
 * Usage: gmem-fault-bench [--reps N] [--mib M] [--vcpus N] [--conv-mib M]
 * Exit: 0, 1 on error, 4 if KVM lacks what is measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "bench.h"

#define KSFT_SKIP	4
#define PAGE_SZ		4096UL
#define GPA		(1UL << 32)
#define MAX_VCPUS	64

enum fcase { CASE_BASELINE, CASE_PRIVATE, CASE_SHARED, NR_CASES };

static const char *const case_names[NR_CASES] = {
	[CASE_BASELINE] = "baseline",
	[CASE_PRIVATE] = "private",
	[CASE_SHARED] = "shared",
};

static int kvm_fd, reps = 9;
static unsigned long mib = 32, conv_mib = 256;

static void die(const char *what)
{
	fprintf(stderr, "gmem-fault-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct vm {
	int fd, gmem_fd, nr_vcpus;
	int vcpu_fd[MAX_VCPUS];
	void *mem;
	uint64_t size;
};

static void set_cpuid(int vcpu_fd)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cpuid = { .c.nent = 256 };

	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, &cpuid) < 0)
		die("KVM_SET_CPUID2");
}

static void vm_create(struct vm *vm, enum fcase c, int nr_vcpus)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = 0,
		.guest_phys_addr = GPA,
	};
	struct kvm_create_guest_memfd gmem = {};
	int i;

	memset(vm, 0, sizeof(*vm));
	vm->size = mib << 20;
	vm->nr_vcpus = nr_vcpus;
	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM,
		       c == CASE_BASELINE ? KVM_X86_DEFAULT_VM :
					    KVM_X86_SW_PROTECTED_VM);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");
	region.memory_size = vm->size;
	if (c == CASE_BASELINE) {
		vm->mem = mmap(NULL, vm->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (vm->mem == MAP_FAILED)
			die("mmap");
	} else {
		gmem.size = vm->size;
		gmem.flags = GUEST_MEMFD_FLAG_MMAP;
		if (c == CASE_SHARED)
			gmem.flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
		vm->gmem_fd = ioctl(vm->fd, KVM_CREATE_GUEST_MEMFD, &gmem);
		if (vm->gmem_fd < 0)
			die("KVM_CREATE_GUEST_MEMFD");
		vm->mem = mmap(NULL, vm->size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, vm->gmem_fd, 0);
		if (vm->mem == MAP_FAILED)
			die("mmap guest_memfd");
		if (c == CASE_SHARED)
			memset(vm->mem, 0, vm->size);
		region.flags = KVM_MEM_GUEST_MEMFD;
		region.guest_memfd = vm->gmem_fd;
	}
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION2");
	for (i = 0; i < nr_vcpus; i++) {
		vm->vcpu_fd[i] = ioctl(vm->fd, KVM_CREATE_VCPU, i);
		if (vm->vcpu_fd[i] < 0)
			die("KVM_CREATE_VCPU");
		set_cpuid(vm->vcpu_fd[i]);
	}
}

static void vm_destroy(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		close(vm->vcpu_fd[i]);
	munmap(vm->mem, vm->size);
	if (vm->gmem_fd > 0)
		close(vm->gmem_fd);
	close(vm->fd);
}

struct worker {
	pthread_t thread;
	int vcpu_fd;
	uint64_t gpa, size;
	pthread_barrier_t *start, *done;
	int passes;
	int err;
};

/* Pre-faults [gpa, gpa + size) once; 0 or the errno. */
static int prefault(int vcpu_fd, uint64_t gpa, uint64_t size)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = size };

	while (range.size) {
		if (ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, &range) < 0 &&
		    errno != EINTR && errno != EAGAIN)
			return errno;
	}
	return 0;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	int i;

	w->err = prefault(w->vcpu_fd, w->gpa, w->size);
	for (i = 0; i < w->passes; i++) {
		pthread_barrier_wait(w->start);
		if (!w->err)
			w->err = prefault(w->vcpu_fd, w->gpa, w->size);
		pthread_barrier_wait(w->done);
	}
	return NULL;
}

/* The median rate over @reps passes, in faults per second per vCPU. */
static double measure(enum fcase c, int nr_vcpus)
{
	pthread_barrier_t start, done;
	struct worker w[MAX_VCPUS];
	double rate[64], t;
	uint64_t part;
	struct vm vm;
	int i, r;

	vm_create(&vm, c, nr_vcpus);
	part = vm.size / nr_vcpus & ~(PAGE_SZ - 1);
	pthread_barrier_init(&start, NULL, nr_vcpus + 1);
	pthread_barrier_init(&done, NULL, nr_vcpus + 1);
	for (i = 0; i < nr_vcpus; i++) {
		w[i] = (struct worker){
			.vcpu_fd = vm.vcpu_fd[i],
			.gpa = GPA + i * part,
			.size = part,
			.start = &start,
			.done = &done,
			.passes = reps,
		};
		if (pthread_create(&w[i].thread, NULL, worker_fn, &w[i]))
			die("pthread_create");
	}
	for (r = 0; r < reps; r++) {
		pthread_barrier_wait(&start);
		t = now_us();
		pthread_barrier_wait(&done);
		rate[r] = part / PAGE_SZ / ((now_us() - t) / 1e6);
	}
	for (i = 0; i < nr_vcpus; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].err) {
			errno = w[i].err;
			die("KVM_PRE_FAULT_MEMORY");
		}
	}
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
	vm_destroy(&vm);
	return median(rate, reps);
}

/* ---- mmap_lock writers while a host fault waits for a conversion ---- */

struct conv_ctx {
	int fd;
	char *mem;
	uint64_t size;
	int go;			/* conversions asked for */
	int busy;		/* the conversion in its ioctl, or 0 */
	int done;		/* conversions done */
	int stop;
	double conv_us;
	int err;
};

static int convert(int fd, uint64_t offset, uint64_t size, uint64_t attr)
{
	struct kvm_memory_attributes2 a = {
		.offset = offset,
		.size = size,
		.attributes = attr,
	};

	return ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &a) ? errno : 0;
}

/* All but the first page to private (timed), then back to shared. */
static void *converter_fn(void *arg)
{
	struct conv_ctx *c = arg;
	int n = 0;
	double t;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&c->go, __ATOMIC_ACQUIRE) == n)
			continue;
		n++;
		t = now_us();
		__atomic_store_n(&c->busy, n, __ATOMIC_RELEASE);
		c->err = convert(c->fd, PAGE_SZ, c->size - PAGE_SZ,
				 KVM_MEMORY_ATTRIBUTE_PRIVATE);
		__atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
		c->conv_us = now_us() - t;
		if (!c->err)
			c->err = convert(c->fd, PAGE_SZ, c->size - PAGE_SZ, 0);
		__atomic_store_n(&c->done, n, __ATOMIC_RELEASE);
		if (c->err)
			break;
	}
	return NULL;
}

/* Host faults on the first page while a conversion runs. */
static void *faulter_fn(void *arg)
{
	struct conv_ctx *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		if (!__atomic_load_n(&c->busy, __ATOMIC_ACQUIRE))
			continue;
		madvise(c->mem, PAGE_SZ, MADV_DONTNEED);
		*(volatile char *)c->mem;
	}
	return NULL;
}

static double mmap_munmap_us(void)
{
	double t = now_us();
	void *p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	munmap(p, PAGE_SZ);
	return now_us() - t;
}

static void measure_writers(void)
{
	struct kvm_create_guest_memfd gmem = {
		.size = conv_mib << 20,
		.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	double idle[64], during[64], conv[64];
	struct conv_ctx c = { .size = conv_mib << 20 };
	int vm, i, n = 0;
	pthread_t conv_t, fault_t;
	double idle_us, during_us;

	vm = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm < 0)
		die("KVM_CREATE_VM");
	c.fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (c.fd < 0)
		die("KVM_CREATE_GUEST_MEMFD");
	c.mem = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
	if (c.mem == MAP_FAILED)
		die("mmap guest_memfd");
	memset(c.mem, 1, c.size);

	for (i = 0; i < reps; i++)
		idle[i] = mmap_munmap_us();
	if (pthread_create(&conv_t, NULL, converter_fn, &c) ||
	    pthread_create(&fault_t, NULL, faulter_fn, &c))
		die("pthread_create");
	for (i = 0; i < reps; i++) {
		__atomic_store_n(&c.go, i + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&c.busy, __ATOMIC_ACQUIRE) != i + 1 &&
		       __atomic_load_n(&c.done, __ATOMIC_ACQUIRE) != i + 1)
			;
		usleep(2000);
		/* A conversion over within 2 ms gives no sample. */
		if (__atomic_load_n(&c.busy, __ATOMIC_ACQUIRE) == i + 1)
			during[n++] = mmap_munmap_us();
		while (__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) != i + 1)
			;
		if (c.err) {
			errno = c.err;
			die("KVM_SET_MEMORY_ATTRIBUTES2");
		}
		conv[i] = c.conv_us;
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(conv_t, NULL);
	pthread_join(fault_t, NULL);
	munmap(c.mem, c.size);
	close(c.fd);
	close(vm);

	if (!n) {
		printf("\n# every conversion was over within 2 ms: raise --conv-mib\n");
		return;
	}
	idle_us = median(idle, reps);
	during_us = median(during, n);
	printf("\n%-44s %12s\n", "mmap()+munmap() of a page", "median us");
	printf("%-44s %12.1f\n", "no conversion running", idle_us);
	printf("%-44s %12.1f\n", "a host fault waits for a conversion", during_us);
	printf("%-44s %12.1f\n", "(the conversion to private)", median(conv, reps));
	printf("%-44s %12.2f\n", "ratio (waiting / none)", during_us / idle_us);
	if (n < reps)
		printf("# %d of %d conversions were over within 2 ms: no sample\n",
		       reps - n, reps);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "mib", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "conv-mib", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int nr_vcpus = sysconf(_SC_NPROCESSORS_ONLN), n, opt, c;
	int counts[2];
	double base;

	while ((opt = getopt_long(argc, argv, "r:m:v:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			reps = atoi(optarg);
			break;
		case 'm':
			mib = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			nr_vcpus = atoi(optarg);
			break;
		case 'c':
			conv_mib = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: gmem-fault-bench [--reps N] [--mib M] [--vcpus N] [--conv-mib M]\n");
			return opt == 'h' ? 0 : 1;
		}
	}
	if (reps < 1 || reps > 64 || !mib || conv_mib < 2 || nr_vcpus < 1 ||
	    nr_vcpus > MAX_VCPUS) {
		fprintf(stderr, "gmem-fault-bench: --reps 1..64, --mib > 0, --conv-mib > 1, --vcpus 1..%d\n",
			MAX_VCPUS);
		return 1;
	}

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm");
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PRE_FAULT_MEMORY) <= 0 ||
	    !(ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES) &
	      (1 << KVM_X86_SW_PROTECTED_VM))) {
		printf("# SKIP: no KVM_PRE_FAULT_MEMORY or no SW_PROTECTED VMs\n");
		return KSFT_SKIP;
	}

	counts[0] = 1;
	counts[1] = nr_vcpus;
	printf("%-10s %6s %16s %8s\n", "case", "vcpus", "faults/s/vcpu",
	       "ratio");
	for (n = 0; n < (nr_vcpus > 1 ? 2 : 1); n++) {
		base = measure(CASE_BASELINE, counts[n]);
		printf("%-10s %6d %16.0f %8.2f\n", case_names[CASE_BASELINE],
		       counts[n], base, 1.0);
		for (c = CASE_PRIVATE; c < NR_CASES; c++) {
			double rate = measure(c, counts[n]);

			printf("%-10s %6d %16.0f %8.2f\n", case_names[c],
			       counts[n], rate, rate / base);
		}
	}
	measure_writers();
	return 0;
}
