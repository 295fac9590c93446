// SPDX-License-Identifier: GPL-2.0
/*
 * guest_memfd in-place shared<->private conversion.
 *
 * A guest_memfd created with GUEST_MEMFD_FLAG_MMAP can be mmap()ed by the
 * host and tracks, per page, whether the page is shared or private
 * (GUEST_MEMFD_FLAG_INIT_SHARED: pages start shared).  The state is changed
 * with KVM_SET_MEMORY_ATTRIBUTES2 issued on the guest_memfd itself; the
 * host can touch shared pages through the mmap and gets SIGBUS on private
 * ones, and a memslot whose userspace_addr is that same mmap gives the guest
 * one copy of its memory, converted in place.
 *
 * The tests, all on KVM_X86_SW_PROTECTED_VM unless said otherwise:
 *
 * - capabilities: KVM_CAP_GUEST_MEMFD_FLAGS and
 *   KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES on default and SW_PROTECTED VMs;
 * - create_flags: invalid creation flags and invalid mmap()s are refused;
 * - host_faults: shared pages are zero on first touch and writable,
 *   private pages and pages beyond EOF SIGBUS;
 * - conversion_round_trip: content survives shared->private->shared, only
 *   the converted range SIGBUSes, converting to the current state is a no-op;
 * - private_unmaps_host: shared->private removes the host mapping (pagemap);
 * - pinned_page_blocks_private: a GUP-pinned page makes shared->private fail
 *   with EAGAIN and error_offset pointing at it, and nothing changes;
 * - bad_inputs: every malformed request is refused with its errno and
 *   leaves every page as it was;
 * - fork_shares_mapping: a child sees and writes the parent's shared pages;
 * - punch_hole: PUNCH_HOLE frees pages but keeps their state;
 * - guest_host_one_copy: the guest and the host see the same page through
 *   a conversion to private and back;
 * - vm_attributes: VM-level KVM_SET_MEMORY_ATTRIBUTES is refused on a gfn
 *   range bound to such a file and works elsewhere;
 * - truncate_refused: ftruncate() and fallocate() without KEEP_SIZE are
 *   refused and change neither the size nor any page;
 * - bind_to_other_vm: the file cannot back a memslot of another VM, and the
 *   refusal leaves both the file and that VM as they were;
 * - closed_vm: the file keeps its VM alive, converts and serves its mapping
 *   after the VM's fd is closed, and the last reference frees it all;
 * - stress: concurrent random conversions, punch holes and host accesses,
 *   with invariants checked at the end;
 * - vcpu_pin_stress: concurrent random conversions, host accesses, GUP pins
 *   and a vCPU writing and reading every page, with invariants checked at
 *   the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kselftest_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "processor.h"
#include "ucall_common.h"
#include "../../../../mm/gup_test.h"

#define NR_PAGES		16
#define TEST_TIMEOUT		120

#define GMEM_FLAGS_ALL		(GUEST_MEMFD_FLAG_MMAP | \
				 GUEST_MEMFD_FLAG_INIT_SHARED)
#define ATTR_PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define ATTR_SHARED		0ULL

/* Guest physical layout of the tests that bind the file to a memslot. */
#define DATA_SLOT		10
#define DATA_GPA		BIT_ULL(32)
#define UNBOUND_GPA		(DATA_GPA + SZ_1G)
#define OTHER_SLOT		11
#define OTHER_GPA		(DATA_GPA + SZ_2M)

#define GUP_TEST_FILE		"/sys/kernel/debug/gup_test"
#define PAGEMAP_PRESENT		BIT_ULL(63)

/* pattern() encodes the page index in 4 bits. */
kvm_static_assert(NR_PAGES <= 16);

/*
 * What a page is expected to hold: a generation of pattern() (0..7), all
 * zeroes, or nothing the host can read because the page is private.
 */
enum {
	EXP_PRIVATE = -1,
	EXP_ZERO = -2,
};

static size_t page_size;

static u8 pattern(int page, int gen)
{
	return 0x80 | (gen << 4) | page;
}

/* ---- SIGBUS-safe host accesses ---- */

static __thread sigjmp_buf sigbus_env;
static __thread int sigbus_armed;
static __thread void *sigbus_addr;

static void sigbus_handler(int sig, siginfo_t *info, void *uctx)
{
	if (!READ_ONCE(sigbus_armed)) {
		/* Not an access of ours: let the fault kill the process. */
		signal(SIGBUS, SIG_DFL);
		return;
	}
	sigbus_addr = info->si_addr;
	siglongjmp(sigbus_env, 1);
}

static void install_sigbus_handler(void)
{
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO,
	};

	TEST_ASSERT(!sigaction(SIGBUS, &sa, NULL), "sigaction(SIGBUS)");
}

/*
 * Read (into *@val) or write (from *@val) the byte at @addr.  Returns true if
 * the access raised SIGBUS at exactly @addr, false if it completed; a SIGBUS
 * at any other address is a test failure.  Each thread has its own jump
 * buffer, so concurrent threads can use it.
 */
static bool host_access_sigbus(void *addr, bool write, u8 *val)
{
	if (sigsetjmp(sigbus_env, 1)) {
		WRITE_ONCE(sigbus_armed, 0);
		TEST_ASSERT(sigbus_addr == addr,
			    "SIGBUS at %p while accessing %p", sigbus_addr, addr);
		return true;
	}
	WRITE_ONCE(sigbus_armed, 1);
	if (write)
		WRITE_ONCE(*(u8 *)addr, *val);
	else
		*val = READ_ONCE(*(u8 *)addr);
	WRITE_ONCE(sigbus_armed, 0);
	return false;
}

static bool read_sigbus(void *addr)
{
	u8 val;

	return host_access_sigbus(addr, false, &val);
}

static bool write_sigbus(void *addr, u8 val)
{
	return host_access_sigbus(addr, true, &val);
}

/*
 * Returns true if the page at @page, page @idx of its file, is as @exp says:
 * private (the first byte SIGBUSes on read), or readable and filled with
 * zeroes or with generation @exp of pattern().
 */
static bool page_matches(const char *page, int idx, int exp)
{
	u8 want;
	size_t i;

	if (read_sigbus((void *)page))
		return exp == EXP_PRIVATE;
	if (exp == EXP_PRIVATE)
		return false;

	want = exp == EXP_ZERO ? 0 : pattern(idx, exp);
	for (i = 0; i < page_size; i++) {
		if ((u8)page[i] != want)
			return false;
	}
	return true;
}

/*
 * Returns -1 if every page i of the @nr pages at @mem is in the state
 * @exp[i], else the index of the first page that is not.
 */
static int first_mismatch(const char *mem, const int *exp, int nr)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (!page_matches(mem + i * page_size, i, exp[i]))
			return i;
	}
	return -1;
}

static void fill_pages(char *mem, int first, int nr, int gen)
{
	int i;

	for (i = first; i < first + nr; i++)
		memset(mem + i * page_size, pattern(i, gen), page_size);
}

static void set_exp(int *exp, int first, int nr, int val)
{
	int i;

	for (i = first; i < first + nr; i++)
		exp[i] = val;
}

/* ---- guest_memfd helpers ---- */

static int gmem_set_attributes(int fd, struct kvm_memory_attributes2 *attr)
{
	return ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, attr) ? errno : 0;
}

/* Converts [@offset, @offset + @size) of @fd; returns 0 or the errno. */
static int gmem_convert(int fd, u64 offset, u64 size, u64 attributes)
{
	struct kvm_memory_attributes2 attr = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
	};

	return gmem_set_attributes(fd, &attr);
}

/* Creates a guest_memfd; returns 0 (closing the file) or the errno. */
static int gmem_create_errno(struct kvm_vm *vm, u64 size, u64 flags)
{
	int fd = __vm_create_guest_memfd(vm, size, flags);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static char *gmem_mmap(int fd, size_t len, int flags)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
}

static int punch_hole(int fd, u64 offset, u64 len)
{
	int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	return fallocate(fd, mode, offset, len) ? errno : 0;
}

/* VM-level KVM_SET_MEMORY_ATTRIBUTES; returns 0 or the errno. */
static int vm_set_attributes(struct kvm_vm *vm, u64 gpa, u64 size,
			     u64 attributes)
{
	struct kvm_memory_attributes attr = {
		.address = gpa,
		.size = size,
		.attributes = attributes,
	};

	return ioctl(vm->fd, KVM_SET_MEMORY_ATTRIBUTES, &attr) ? errno : 0;
}

static bool pagemap_present(void *addr)
{
	u64 entry;
	ssize_t r;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(/proc/self/pagemap)");
	r = pread(fd, &entry, sizeof(entry),
		  (uintptr_t)addr / page_size * sizeof(entry));
	TEST_ASSERT(r == sizeof(entry), "pread(/proc/self/pagemap)");
	close(fd);
	return entry & PAGEMAP_PRESENT;
}

static struct kvm_vm *create_sw_protected_vm(void)
{
	return vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
}

/* ---- Capabilities ---- */

TEST(capabilities)
{
	struct kvm_vm *vm;

	vm = vm_create_barebones();
	EXPECT_EQ(GMEM_FLAGS_ALL,
		  vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS));
	EXPECT_EQ(0,
		  vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	kvm_vm_free(vm);

	vm = create_sw_protected_vm();
	EXPECT_EQ(GMEM_FLAGS_ALL,
		  vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS));
	EXPECT_EQ(KVM_MEMORY_ATTRIBUTE_PRIVATE,
		  vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES));
	kvm_vm_free(vm);
}

/* ---- A SW_PROTECTED VM with a shared-by-default, mapped guest_memfd ---- */

FIXTURE(gmem)
{
	struct kvm_vm *vm;
	size_t size;
	int fd;
	char *mem;
};

FIXTURE_SETUP(gmem)
{
	self->size = NR_PAGES * page_size;
	self->vm = create_sw_protected_vm();
	self->fd = vm_create_guest_memfd(self->vm, self->size, GMEM_FLAGS_ALL);
	self->mem = gmem_mmap(self->fd, self->size, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, self->mem);
	install_sigbus_handler();
}

FIXTURE_TEARDOWN(gmem)
{
	munmap(self->mem, self->size);
	close(self->fd);
	kvm_vm_free(self->vm);
}

static char *page_ptr(char *mem, int idx)
{
	return mem + idx * page_size;
}

static u64 page_off(int idx)
{
	return (u64)idx * page_size;
}

/* first_mismatch() over a whole NR_PAGES file. */
static int layout_mismatch(const char *mem, const int *exp)
{
	return first_mismatch(mem, exp, NR_PAGES);
}

TEST_F_TIMEOUT(gmem, create_flags, TEST_TIMEOUT)
{
	/*
	 * Unknown flags are those KVM doesn't advertise (the capabilities
	 * test checks what it advertises), so that a flag added later only
	 * needs a change there.
	 */
	u64 unknown = ~(u64)vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	u64 flag;
	char *mem;
	int bit, fd;

	for (bit = 0; bit < 64; bit++) {
		flag = BIT_ULL(bit);
		if (!(unknown & flag))
			continue;
		EXPECT_EQ(EINVAL, gmem_create_errno(self->vm, page_size, flag))
			TH_LOG("flags 0x%lx", flag);
		EXPECT_EQ(EINVAL, gmem_create_errno(self->vm, page_size,
						    GMEM_FLAGS_ALL | flag))
			TH_LOG("flags MMAP | INIT_SHARED | 0x%lx", flag);
	}

	/* INIT_SHARED is meaningless without MMAP. */
	EXPECT_EQ(EINVAL, gmem_create_errno(self->vm, page_size,
					    GUEST_MEMFD_FLAG_INIT_SHARED));

	EXPECT_EQ(0, gmem_create_errno(self->vm, page_size, 0));
	EXPECT_EQ(0, gmem_create_errno(self->vm, page_size,
				       GUEST_MEMFD_FLAG_MMAP));
	EXPECT_EQ(0, gmem_create_errno(self->vm, page_size, GMEM_FLAGS_ALL));

	/* A guest_memfd created without MMAP cannot be mapped. */
	fd = vm_create_guest_memfd(self->vm, page_size, 0);
	mem = gmem_mmap(fd, page_size, MAP_SHARED);
	EXPECT_EQ(MAP_FAILED, mem);
	EXPECT_EQ(ENODEV, errno);
	close(fd);

	/* MAP_SHARED only. */
	mem = gmem_mmap(self->fd, page_size, MAP_PRIVATE);
	EXPECT_EQ(MAP_FAILED, mem);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F_TIMEOUT(gmem, host_faults, TEST_TIMEOUT)
{
	int exp[NR_PAGES];
	char *mem;
	int fd;

	/* INIT_SHARED: zero on first touch, then read back what was written. */
	set_exp(exp, 0, NR_PAGES, EXP_ZERO);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	fill_pages(self->mem, 0, NR_PAGES, 1);
	set_exp(exp, 0, NR_PAGES, 1);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Without INIT_SHARED every page starts private: no host access. */
	fd = vm_create_guest_memfd(self->vm, 4 * page_size,
				   GUEST_MEMFD_FLAG_MMAP);
	mem = gmem_mmap(fd, 4 * page_size, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_TRUE(read_sigbus(mem));
	EXPECT_TRUE(write_sigbus(mem, 1));
	EXPECT_TRUE(read_sigbus(mem + 4 * page_size - 1));

	/* ... until a page is made shared: then it is zeroed and usable. */
	ASSERT_EQ(0, gmem_convert(fd, page_size, page_size, ATTR_SHARED));
	EXPECT_TRUE(page_matches(mem + page_size, 1, EXP_ZERO));
	EXPECT_FALSE(write_sigbus(mem + page_size, 0x42));
	EXPECT_EQ(0x42, mem[page_size]);
	EXPECT_TRUE(read_sigbus(mem));
	EXPECT_TRUE(read_sigbus(mem + 2 * page_size));
	munmap(mem, 4 * page_size);
	close(fd);

	/* A mapping longer than the file: SIGBUS beyond EOF. */
	mem = gmem_mmap(self->fd, 2 * self->size, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_FALSE(read_sigbus(mem + self->size - 1));
	EXPECT_TRUE(read_sigbus(mem + self->size));
	EXPECT_TRUE(write_sigbus(mem + self->size, 1));
	EXPECT_TRUE(read_sigbus(mem + 2 * self->size - 1));
	munmap(mem, 2 * self->size);
}

TEST_F_TIMEOUT(gmem, conversion_round_trip, TEST_TIMEOUT)
{
	int exp[NR_PAGES];
	int i;

	fill_pages(self->mem, 0, NR_PAGES, 1);
	set_exp(exp, 0, NR_PAGES, 1);

	/* Shared to shared: nothing to do, and nothing changes. */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_SHARED));
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Pages 4-7 private: only they fault, for reads and writes. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(4),
				  4 * page_size, ATTR_PRIVATE));
	set_exp(exp, 4, 4, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	for (i = 4; i < 8; i++)
		EXPECT_TRUE(write_sigbus(page_ptr(self->mem, i), 0));

	/* Private to private: a no-op as well. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(4),
				  4 * page_size, ATTR_PRIVATE));
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Back to shared: the content written before is still there. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(4),
				  4 * page_size, ATTR_SHARED));
	set_exp(exp, 0, NR_PAGES, 1);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* A range that is partly private already. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(2),
				  2 * page_size, ATTR_PRIVATE));
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_PRIVATE));
	set_exp(exp, 0, NR_PAGES, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Odd pages back one by one: private holes between shared pages. */
	for (i = 1; i < NR_PAGES; i += 2) {
		ASSERT_EQ(0, gmem_convert(self->fd, page_off(i),
					  page_size, ATTR_SHARED));
		exp[i] = 1;
	}
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Write through the shared pages, then make everything shared. */
	for (i = 1; i < NR_PAGES; i += 2)
		fill_pages(self->mem, i, 1, 2);
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_SHARED));
	for (i = 0; i < NR_PAGES; i++)
		exp[i] = i & 1 ? 2 : 1;
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
}

TEST_F_TIMEOUT(gmem, private_unmaps_host, TEST_TIMEOUT)
{
	char *page = page_ptr(self->mem, 3);

	memset(page, 0x5a, page_size);
	ASSERT_TRUE(pagemap_present(page));

	ASSERT_EQ(0, gmem_convert(self->fd, page_off(3),
				  page_size, ATTR_PRIVATE));
	ASSERT_FALSE(pagemap_present(page));
	ASSERT_TRUE(read_sigbus(page));
	ASSERT_FALSE(pagemap_present(page));

	/* Shared again: mapped on the next touch, content kept. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(3),
				  page_size, ATTR_SHARED));
	ASSERT_EQ(0x5a, READ_ONCE(page[0]));
	ASSERT_TRUE(pagemap_present(page));
}

TEST_F_TIMEOUT(gmem, pinned_page_blocks_private, TEST_TIMEOUT)
{
	struct pin_longterm_test pin = {
		.addr = (uintptr_t)page_ptr(self->mem, 5),
		.size = 2 * page_size,
		.flags = 0,
	};
	struct kvm_memory_attributes2 attr = {
		.offset = page_off(2),
		.size = 6 * page_size,
		.attributes = ATTR_PRIVATE,
	};
	int exp[NR_PAGES];
	int gup_fd;

	gup_fd = open(GUP_TEST_FILE, O_RDWR);
	if (gup_fd < 0)
		SKIP(return, "%s: %s", GUP_TEST_FILE, strerror(errno));

	fill_pages(self->mem, 0, NR_PAGES, 1);
	set_exp(exp, 0, NR_PAGES, 1);

	/* Read-pin pages 5 and 6 (FOLL_LONGTERM, slow GUP). */
	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_START, &pin))
		TH_LOG("PIN_LONGTERM_TEST_START: %s", strerror(errno));

	/* Pages 2-7: refused at page 5, and pages 2-4 stay shared too. */
	attr.error_offset = ~0ULL;
	ASSERT_EQ(EAGAIN, gmem_set_attributes(self->fd, &attr));
	EXPECT_EQ(page_off(5), attr.error_offset);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Pages 6-9: refused at page 6, the first pinned page in range. */
	attr.offset = page_off(6);
	attr.size = 4 * page_size;
	attr.error_offset = ~0ULL;
	ASSERT_EQ(EAGAIN, gmem_set_attributes(self->fd, &attr));
	EXPECT_EQ(page_off(6), attr.error_offset);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Ranges without a pinned page convert. */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, 5 * page_size, ATTR_PRIVATE));
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(7),
				  9 * page_size, ATTR_PRIVATE));
	set_exp(exp, 0, 5, EXP_PRIVATE);
	set_exp(exp, 7, 9, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_SHARED));
	set_exp(exp, 0, NR_PAGES, 1);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Unpinned, the refused conversion succeeds. */
	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_STOP));
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(2),
				  6 * page_size, ATTR_PRIVATE));
	set_exp(exp, 2, 6, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	ASSERT_EQ(0, gmem_convert(self->fd, page_off(2),
				  6 * page_size, ATTR_SHARED));
	set_exp(exp, 0, NR_PAGES, 1);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	close(gup_fd);
}

struct bad_request {
	const char *what;
	u64 offset;
	u64 size;
	u64 attributes;
	u64 flags;
	int reserved_idx;	/* -1: reserved[] all zero */
	int err;
};

TEST_F_TIMEOUT(gmem, bad_inputs, TEST_TIMEOUT)
{
	const u64 p = page_size;
	const u64 size = self->size;
	const u64 half = size / 2;
	const u64 huge_size = ~0ULL & ~(p - 1);
	/*
	 * Pages [0, half) are shared, [half, size) private; each request
	 * would flip pages of one half or the other if it were accepted.
	 */
	const struct bad_request reqs[] = {
		{ "unaligned offset", 1, p, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "unaligned offset", half + 1, p, ATTR_SHARED, 0, -1, EINVAL },
		{ "unaligned size", 0, p - 1, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "unaligned size", 0, p + 1, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "unaligned size", half, 1, ATTR_SHARED, 0, -1, EINVAL },
		{ "zero size", 0, 0, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "zero size", half, 0, ATTR_SHARED, 0, -1, EINVAL },
		{ "overflow", p, huge_size, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "overflow", half, huge_size, ATTR_SHARED, 0, -1, EINVAL },
		{ "beyond EOF", 0, size + p, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "beyond EOF", half - p, size, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "beyond EOF", size - p, 2 * p, ATTR_SHARED, 0, -1, EINVAL },
		{ "beyond EOF", size, p, ATTR_PRIVATE, 0, -1, EINVAL },
		{ "attributes", 0, half, BIT_ULL(0), 0, -1, EINVAL },
		{ "attributes", 0, half, BIT_ULL(4), 0, -1, EINVAL },
		{ "attributes", 0, half, ATTR_PRIVATE | BIT_ULL(4), 0, -1,
		  EINVAL },
		{ "attributes", half, half, BIT_ULL(4), 0, -1, EINVAL },
		{ "flags", 0, half, ATTR_PRIVATE, 1, -1, EINVAL },
		{ "flags", half, half, ATTR_SHARED, BIT_ULL(63), -1, EINVAL },
		{ "reserved[0]", 0, half, ATTR_PRIVATE, 0, 0, EINVAL },
		{ "reserved[0]", half, half, ATTR_SHARED, 0, 0, EINVAL },
		{ "reserved[10]", 0, half, ATTR_PRIVATE, 0, 10, EINVAL },
		{ "reserved[10]", half, half, ATTR_SHARED, 0, 10, EINVAL },
	};
	struct kvm_memory_attributes2 attr = {
		.offset = 0,
		.size = half,
		.attributes = ATTR_PRIVATE,
	};
	struct kvm_vm *default_vm;
	int exp[NR_PAGES], default_exp[4];
	char *unmapped, *mem;
	int i, fd;

	fill_pages(self->mem, 0, NR_PAGES, 1);
	ASSERT_EQ(0, gmem_convert(self->fd, half, half, ATTR_PRIVATE));
	set_exp(exp, 0, NR_PAGES / 2, 1);
	set_exp(exp, NR_PAGES / 2, NR_PAGES / 2, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		const struct bad_request *r = &reqs[i];
		struct kvm_memory_attributes2 bad = {
			.offset = r->offset,
			.size = r->size,
			.attributes = r->attributes,
			.flags = r->flags,
		};

		if (r->reserved_idx >= 0)
			bad.reserved[r->reserved_idx] = 1;
		EXPECT_EQ(r->err, gmem_set_attributes(self->fd, &bad))
			TH_LOG("%s: offset 0x%lx size 0x%lx attributes 0x%lx flags 0x%lx",
			       r->what, r->offset, r->size, r->attributes,
			       r->flags);
		ASSERT_EQ(-1, layout_mismatch(self->mem, exp))
			TH_LOG("state changed by refused request: %s",
			       r->what);
	}

	/* Bad pointers. */
	EXPECT_EQ(-1, ioctl(self->fd, KVM_SET_MEMORY_ATTRIBUTES2, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	unmapped = mmap(NULL, p, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	ASSERT_EQ(0, munmap(unmapped, p));
	EXPECT_EQ(-1, ioctl(self->fd, KVM_SET_MEMORY_ATTRIBUTES2, unmapped));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Not a guest_memfd: the VM fd, a memfd. */
	EXPECT_EQ(-1, ioctl(self->vm->fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr));
	EXPECT_EQ(ENOTTY, errno);
	fd = memfd_create("not_guest_memfd", 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* A guest_memfd that does not track shared/private itself. */
	fd = vm_create_guest_memfd(self->vm, self->size, 0);
	EXPECT_EQ(EINVAL, gmem_convert(fd, 0, half, ATTR_PRIVATE));
	EXPECT_EQ(EINVAL, gmem_convert(fd, 0, half, ATTR_SHARED));
	close(fd);

	/* No private memory on a default VM: its pages stay shared. */
	default_vm = vm_create_barebones();
	fd = vm_create_guest_memfd(default_vm, 4 * p, GMEM_FLAGS_ALL);
	mem = gmem_mmap(fd, 4 * p, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, mem);
	fill_pages(mem, 0, 4, 3);
	EXPECT_EQ(EINVAL, gmem_convert(fd, p, p, ATTR_PRIVATE));
	EXPECT_EQ(EINVAL, gmem_convert(fd, 0, 4 * p, ATTR_PRIVATE));
	set_exp(default_exp, 0, 4, 3);
	EXPECT_EQ(-1, first_mismatch(mem, default_exp, 4));
	munmap(mem, 4 * p);
	close(fd);
	kvm_vm_free(default_vm);

	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
}

TEST_F_TIMEOUT(gmem, fork_shares_mapping, TEST_TIMEOUT)
{
	int exp[NR_PAGES];
	int status;
	pid_t pid;

	fill_pages(self->mem, 0, NR_PAGES, 1);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* Child: no harness asserts here, report through the status. */
		if (!page_matches(page_ptr(self->mem, 0), 0, 1))
			_exit(1);
		fill_pages(self->mem, 1, 1, 2);
		_exit(0);
	}

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("the child did not see the parent's data");

	set_exp(exp, 0, NR_PAGES, 1);
	exp[1] = 2;
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp))
		TH_LOG("the parent did not see the child's write");
}

TEST_F_TIMEOUT(gmem, punch_hole, TEST_TIMEOUT)
{
	int exp[NR_PAGES];

	fill_pages(self->mem, 0, NR_PAGES, 1);
	set_exp(exp, 0, NR_PAGES, 1);

	/* Shared pages 0-1: freed, read back as zero, still shared. */
	ASSERT_EQ(0, punch_hole(self->fd, 0, 2 * page_size));
	set_exp(exp, 0, 2, EXP_ZERO);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	fill_pages(self->mem, 0, 2, 2);
	set_exp(exp, 0, 2, 2);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Private pages 4-5 of the private range 4-7: freed, still private. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(4),
				  4 * page_size, ATTR_PRIVATE));
	ASSERT_EQ(0, punch_hole(self->fd, page_off(4), 2 * page_size));
	set_exp(exp, 4, 4, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Shared again: the punched pages are zero, the others kept. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(4),
				  4 * page_size, ATTR_SHARED));
	set_exp(exp, 4, 2, EXP_ZERO);
	set_exp(exp, 6, 2, 1);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
}

TEST_F_TIMEOUT(gmem, vm_attributes, TEST_TIMEOUT)
{
	int exp[NR_PAGES];
	char *anon;
	int fd;

	if (!(vm_check_cap(self->vm, KVM_CAP_MEMORY_ATTRIBUTES) &
	      KVM_MEMORY_ATTRIBUTE_PRIVATE))
		SKIP(return, "KVM_SET_MEMORY_ATTRIBUTES can't set PRIVATE");

	fill_pages(self->mem, 0, NR_PAGES, 1);
	set_exp(exp, 0, NR_PAGES, 1);
	vm_set_user_memory_region2(self->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, self->size, self->mem, self->fd,
				   0);

	/* The file owns the state of the gfns bound to it. */
	EXPECT_EQ(EINVAL, vm_set_attributes(self->vm, DATA_GPA, page_size,
					    ATTR_PRIVATE));
	EXPECT_EQ(EINVAL, vm_set_attributes(self->vm, DATA_GPA, self->size,
					    ATTR_PRIVATE));
	EXPECT_EQ(EINVAL, vm_set_attributes(self->vm, DATA_GPA, self->size,
					    ATTR_SHARED));
	EXPECT_EQ(EINVAL, vm_set_attributes(self->vm, DATA_GPA - page_size,
					    2 * page_size, ATTR_PRIVATE));
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* Gfns without a memslot: as in 6.12. */
	EXPECT_EQ(0, vm_set_attributes(self->vm, UNBOUND_GPA, 4 * page_size,
				       ATTR_PRIVATE));
	EXPECT_EQ(0, vm_set_attributes(self->vm, UNBOUND_GPA, 4 * page_size,
				       ATTR_SHARED));

	/* Gfns bound to a guest_memfd without MMAP: as in 6.12. */
	fd = vm_create_guest_memfd(self->vm, 4 * page_size, 0);
	anon = mmap(NULL, 4 * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	vm_set_user_memory_region2(self->vm, OTHER_SLOT, KVM_MEM_GUEST_MEMFD,
				   OTHER_GPA, 4 * page_size, anon, fd, 0);
	EXPECT_EQ(0, vm_set_attributes(self->vm, OTHER_GPA, 4 * page_size,
				       ATTR_PRIVATE));
	EXPECT_EQ(0, vm_set_attributes(self->vm, OTHER_GPA, 4 * page_size,
				       ATTR_SHARED));

	/* The refusals above left the file alone. */
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	munmap(anon, 4 * page_size);
	close(fd);
}

/* Returns the size of @fd as fstat() reports it. */
static off_t gmem_size(int fd)
{
	struct stat st;

	TEST_ASSERT(!fstat(fd, &st), "fstat(guest_memfd)");
	return st.st_size;
}

TEST_F_TIMEOUT(gmem, truncate_refused, TEST_TIMEOUT)
{
	const off_t size = self->size;
	const off_t sizes[] = {
		0, page_size, size / 2, size - page_size, size,
		size + page_size, 2 * size,
	};
	/* Every fallocate() mode, without FALLOC_FL_KEEP_SIZE. */
	const struct {
		const char *what;
		int mode;
	} modes[] = {
		{ "allocate", 0 },
		{ "punch hole", FALLOC_FL_PUNCH_HOLE },
		{ "zero range", FALLOC_FL_ZERO_RANGE },
		{ "collapse range", FALLOC_FL_COLLAPSE_RANGE },
		{ "insert range", FALLOC_FL_INSERT_RANGE },
	};
	/* Inside the file, across its end, and beyond it. */
	const struct {
		off_t offset;
		off_t len;
	} ranges[] = {
		{ 0, size },
		{ page_off(4), 4 * page_size },
		{ size - page_size, 2 * page_size },
		{ size, page_size },
	};
	int exp[NR_PAGES];
	char *mem;
	int i, j;

	fill_pages(self->mem, 0, NR_PAGES, 1);
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(4),
				  4 * page_size, ATTR_PRIVATE));
	set_exp(exp, 0, NR_PAGES, 1);
	set_exp(exp, 4, 4, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	ASSERT_EQ(size, gmem_size(self->fd));

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		EXPECT_EQ(-1, ftruncate(self->fd, sizes[i]));
		EXPECT_EQ(EINVAL, errno)
			TH_LOG("ftruncate to 0x%lx", (long)sizes[i]);
		ASSERT_EQ(size, gmem_size(self->fd));
		ASSERT_EQ(-1, layout_mismatch(self->mem, exp))
			TH_LOG("ftruncate to 0x%lx changed a page",
			       (long)sizes[i]);
	}

	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		for (j = 0; j < ARRAY_SIZE(ranges); j++) {
			EXPECT_EQ(-1, fallocate(self->fd, modes[i].mode,
						ranges[j].offset,
						ranges[j].len));
			EXPECT_EQ(EOPNOTSUPP, errno)
				TH_LOG("%s at 0x%lx, 0x%lx bytes",
				       modes[i].what, (long)ranges[j].offset,
				       (long)ranges[j].len);
		}
		ASSERT_EQ(size, gmem_size(self->fd));
		ASSERT_EQ(-1, layout_mismatch(self->mem, exp))
			TH_LOG("%s changed a page", modes[i].what);
	}

	/* Still no page beyond the end of the file. */
	mem = gmem_mmap(self->fd, 2 * size, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, mem);
	EXPECT_TRUE(read_sigbus(mem + size));
	EXPECT_TRUE(read_sigbus(mem + 2 * size - 1));
	munmap(mem, 2 * size);

	/* And the file still converts, with its content. */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, size, ATTR_SHARED));
	set_exp(exp, 0, NR_PAGES, 1);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
}

TEST_F_TIMEOUT(gmem, bind_to_other_vm, TEST_TIMEOUT)
{
	bool vm_attrs;
	int exp[NR_PAGES];
	struct kvm_vm *other;
	char *other_mem;
	int other_fd;

	fill_pages(self->mem, 0, NR_PAGES, 1);
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(8),
				  8 * page_size, ATTR_PRIVATE));
	set_exp(exp, 0, 8, 1);
	set_exp(exp, 8, 8, EXP_PRIVATE);

	other = create_sw_protected_vm();
	vm_attrs = vm_check_cap(other, KVM_CAP_MEMORY_ATTRIBUTES) &
		   KVM_MEMORY_ATTRIBUTE_PRIVATE;

	/* The whole file, its shared half, its private half. */
	EXPECT_EQ(-1, __vm_set_user_memory_region2(other, DATA_SLOT,
						   KVM_MEM_GUEST_MEMFD,
						   DATA_GPA, self->size,
						   self->mem, self->fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __vm_set_user_memory_region2(other, DATA_SLOT,
						   KVM_MEM_GUEST_MEMFD,
						   DATA_GPA, 8 * page_size,
						   self->mem, self->fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, __vm_set_user_memory_region2(other, OTHER_SLOT,
						   KVM_MEM_GUEST_MEMFD,
						   OTHER_GPA, 8 * page_size,
						   page_ptr(self->mem, 8),
						   self->fd, page_off(8)));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/* The file still converts, both ways, and keeps its content. */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, 4 * page_size, ATTR_PRIVATE));
	set_exp(exp, 0, 4, EXP_PRIVATE);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	fill_pages(self->mem, 4, 4, 2);
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_SHARED));
	set_exp(exp, 0, NR_PAGES, 1);
	set_exp(exp, 4, 4, 2);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	/*
	 * The other VM kept no memslot: its gfns are unbound (VM-level
	 * attributes work there as in 6.12), and it can bind a file of its
	 * own in the same slot, at the same gpa.
	 */
	if (vm_attrs) {
		EXPECT_EQ(0, vm_set_attributes(other, DATA_GPA, self->size,
					       ATTR_PRIVATE));
		EXPECT_EQ(0, vm_set_attributes(other, DATA_GPA, self->size,
					       ATTR_SHARED));
	}
	other_fd = vm_create_guest_memfd(other, self->size, GMEM_FLAGS_ALL);
	other_mem = gmem_mmap(other_fd, self->size, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, other_mem);
	EXPECT_EQ(0, __vm_set_user_memory_region2(other, DATA_SLOT,
						  KVM_MEM_GUEST_MEMFD,
						  DATA_GPA, self->size,
						  other_mem, other_fd, 0))
		TH_LOG("binding its own file: %s", strerror(errno));
	if (vm_attrs)
		EXPECT_EQ(EINVAL, vm_set_attributes(other, DATA_GPA,
						    page_size, ATTR_PRIVATE));

	/* Two files, two states: converting one leaves the other alone. */
	fill_pages(other_mem, 0, 1, 3);
	ASSERT_EQ(0, gmem_convert(other_fd, 0, self->size, ATTR_PRIVATE));
	EXPECT_TRUE(read_sigbus(other_mem));
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));
	ASSERT_EQ(0, gmem_convert(self->fd, 0, page_size, ATTR_PRIVATE));
	ASSERT_EQ(0, gmem_convert(other_fd, 0, page_size, ATTR_SHARED));
	EXPECT_TRUE(page_matches(other_mem, 0, 3));
	EXPECT_TRUE(read_sigbus(self->mem));
	ASSERT_EQ(0, gmem_convert(self->fd, 0, page_size, ATTR_SHARED));

	/* Its own VM can still bind the file. */
	vm_set_user_memory_region2(self->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, self->size, self->mem, self->fd,
				   0);
	ASSERT_EQ(-1, layout_mismatch(self->mem, exp));

	munmap(other_mem, self->size);
	close(other_fd);
	kvm_vm_free(other);
}

/* ---- The file outlives the VM's fd ---- */

#define CLOSED_VM_PAGES		8

TEST(closed_vm)
{
	const size_t size = CLOSED_VM_PAGES * page_size;
	struct kvm_create_guest_memfd create = {
		.size = size,
		.flags = GMEM_FLAGS_ALL,
	};
	struct kvm_userspace_memory_region2 region = {
		.slot = DATA_SLOT,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = DATA_GPA,
		.memory_size = size,
	};
	int exp[CLOSED_VM_PAGES];
	int kvm_fd, vm_fd, fd;
	char *mem;

	install_sigbus_handler();

	/* Raw ioctls: the library would close the files in its own order. */
	kvm_fd = open_path_or_exit(KVM_DEV_PATH, O_RDWR);
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	ASSERT_GE(vm_fd, 0) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &create);
	ASSERT_GE(fd, 0)
		TH_LOG("KVM_CREATE_GUEST_MEMFD: %s", strerror(errno));
	mem = gmem_mmap(fd, size, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, mem);

	/* Bound to a memslot, so that conversions zap KVM's mappings too. */
	region.userspace_addr = (uintptr_t)mem;
	region.guest_memfd = fd;
	ASSERT_EQ(0, ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region))
		TH_LOG("KVM_SET_USER_MEMORY_REGION2: %s", strerror(errno));

	fill_pages(mem, 0, CLOSED_VM_PAGES, 1);
	ASSERT_EQ(0, gmem_convert(fd, page_off(6), 2 * page_size,
				  ATTR_PRIVATE));
	set_exp(exp, 0, CLOSED_VM_PAGES, 1);
	set_exp(exp, 6, 2, EXP_PRIVATE);

	ASSERT_EQ(0, close(vm_fd));
	ASSERT_EQ(0, close(kvm_fd));

	/* The file holds the VM: its state and content are still there. */
	ASSERT_EQ(-1, first_mismatch(mem, exp, CLOSED_VM_PAGES));

	/* Shared to private and back, over ranges of either state. */
	ASSERT_EQ(0, gmem_convert(fd, page_off(2), 2 * page_size,
				  ATTR_PRIVATE));
	set_exp(exp, 2, 2, EXP_PRIVATE);
	ASSERT_EQ(-1, first_mismatch(mem, exp, CLOSED_VM_PAGES));
	ASSERT_EQ(0, gmem_convert(fd, page_off(6), 2 * page_size,
				  ATTR_SHARED));
	set_exp(exp, 6, 2, 1);
	ASSERT_EQ(-1, first_mismatch(mem, exp, CLOSED_VM_PAGES));
	fill_pages(mem, 6, 2, 2);
	set_exp(exp, 6, 2, 2);
	ASSERT_EQ(0, gmem_convert(fd, 0, size, ATTR_PRIVATE));
	ASSERT_EQ(0, gmem_convert(fd, 0, size, ATTR_SHARED));
	set_exp(exp, 2, 2, 1);
	ASSERT_EQ(-1, first_mismatch(mem, exp, CLOSED_VM_PAGES));

	/* Refusals and punch holes work as before. */
	EXPECT_EQ(EINVAL, gmem_convert(fd, 0, size + page_size,
				       ATTR_PRIVATE));
	EXPECT_EQ(EINVAL, gmem_convert(fd, 0, size, BIT_ULL(4)));
	ASSERT_EQ(0, punch_hole(fd, page_off(1), page_size));
	set_exp(exp, 1, 1, EXP_ZERO);
	ASSERT_EQ(-1, first_mismatch(mem, exp, CLOSED_VM_PAGES));

	/* Leave a private page for the mapping that outlives the fd. */
	ASSERT_EQ(0, gmem_convert(fd, page_off(3), page_size, ATTR_PRIVATE));
	set_exp(exp, 3, 1, EXP_PRIVATE);

	/* The mapping holds the file after its last fd is closed. */
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(-1, first_mismatch(mem, exp, CLOSED_VM_PAGES));
	fill_pages(mem, 0, 1, 3);
	set_exp(exp, 0, 1, 3);
	EXPECT_TRUE(write_sigbus(page_ptr(mem, 3), 0));
	ASSERT_EQ(-1, first_mismatch(mem, exp, CLOSED_VM_PAGES));

	/* The last reference: the file, its pages and the VM go. */
	ASSERT_EQ(0, munmap(mem, size));
}

/* ---- Concurrency ---- */

#define STRESS_CONVERTERS	2
#define STRESS_ITERATIONS	200
#define STRESS_PUNCH_ONE_IN	8
#define STRESS_MIN_TOUCHES	1000
#define STRESS_MAX_TOUCHES	20000

struct stress {
	int fd;
	char *mem;
	int done;
	/* Set before any attempt to make the page private. */
	u8 ever_private[NR_PAGES];
};

struct converter {
	pthread_t thread;
	struct stress *s;
	u32 seed;
	unsigned long converted;
	unsigned long eagain;
	unsigned long eagain_to_shared;
	unsigned long punched;
	const char *bad_op;	/* first failure other than EAGAIN */
	int bad_errno;
};

struct toucher {
	pthread_t thread;
	struct stress *s;
	u32 seed;
	unsigned long served;
	unsigned long refused;
	u8 sigbus_seen[NR_PAGES];
};

static void *converter_fn(void *arg)
{
	struct converter *c = arg;
	struct stress *s = c->s;
	struct guest_random_state rng = new_guest_random_state(c->seed);
	int i, page;

	for (i = 0; i < STRESS_ITERATIONS; i++) {
		int first = guest_random_u32(&rng) % NR_PAGES;
		int nr = 1 + guest_random_u32(&rng) % (NR_PAGES - first);
		u64 offset = (u64)first * page_size;
		u64 len = (u64)nr * page_size;
		bool to_private = guest_random_bool(&rng);
		int err;

		if (!(guest_random_u32(&rng) % STRESS_PUNCH_ONE_IN)) {
			err = punch_hole(s->fd, offset, len);
			if (err && !c->bad_errno) {
				c->bad_op = "punch hole";
				c->bad_errno = err;
			}
			c->punched++;
			continue;
		}

		if (to_private) {
			for (page = first; page < first + nr; page++)
				WRITE_ONCE(s->ever_private[page], 1);
		}
		err = gmem_convert(s->fd, offset, len,
				   to_private ? ATTR_PRIVATE : ATTR_SHARED);
		if (!err) {
			c->converted++;
		} else if (err == EAGAIN) {
			c->eagain++;
			if (!to_private)
				c->eagain_to_shared++;
		} else if (!c->bad_errno) {
			c->bad_op = to_private ? "to private" : "to shared";
			c->bad_errno = err;
		}
	}
	return NULL;
}

static void *toucher_fn(void *arg)
{
	struct toucher *t = arg;
	struct stress *s = t->s;
	struct guest_random_state rng = new_guest_random_state(t->seed);
	unsigned long n;

	for (n = 0; n < STRESS_MAX_TOUCHES; n++) {
		int page = guest_random_u32(&rng) % NR_PAGES;
		size_t byte = guest_random_u32(&rng) % page_size;
		bool write = guest_random_bool(&rng);
		u8 val = n;

		if (n >= STRESS_MIN_TOUCHES && READ_ONCE(s->done))
			break;

		if (host_access_sigbus(s->mem + page * page_size + byte,
				       write, &val)) {
			t->refused++;
			t->sigbus_seen[page] = 1;
		} else {
			t->served++;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(gmem, stress, TEST_TIMEOUT)
{
	struct converter conv[STRESS_CONVERTERS] = {};
	struct toucher touch = {};
	struct stress s = {
		.fd = self->fd,
		.mem = self->mem,
	};
	unsigned long converted = 0;
	int i;

	for (i = 0; i < STRESS_CONVERTERS; i++) {
		conv[i].s = &s;
		conv[i].seed = guest_random_seed + i;
		ASSERT_EQ(0, pthread_create(&conv[i].thread, NULL,
					    converter_fn, &conv[i]));
	}
	touch.s = &s;
	touch.seed = guest_random_seed + STRESS_CONVERTERS;
	ASSERT_EQ(0, pthread_create(&touch.thread, NULL, toucher_fn, &touch));

	for (i = 0; i < STRESS_CONVERTERS; i++)
		ASSERT_EQ(0, pthread_join(conv[i].thread, NULL));
	WRITE_ONCE(s.done, 1);
	ASSERT_EQ(0, pthread_join(touch.thread, NULL));

	for (i = 0; i < STRESS_CONVERTERS; i++) {
		struct converter *c = &conv[i];

		TH_LOG("converter %d: %lu converted, %lu EAGAIN (%lu to shared), %lu punched",
		       i, c->converted, c->eagain, c->eagain_to_shared,
		       c->punched);
		EXPECT_EQ(0, c->bad_errno)
			TH_LOG("converter %d: %s failed: %s", i, c->bad_op,
			       strerror(c->bad_errno));
		converted += c->converted;
	}
	TH_LOG("toucher: %lu accesses served, %lu refused (SIGBUS)",
	       touch.served, touch.refused);
	EXPECT_GT(converted, 0);

	/* Only pages that were (going to be) private at some point SIGBUS. */
	for (i = 0; i < NR_PAGES; i++) {
		if (!touch.sigbus_seen[i])
			continue;
		EXPECT_TRUE(s.ever_private[i])
			TH_LOG("SIGBUS on page %d, never private", i);
	}

	/* Everything shared again: every page is readable and writable. */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_SHARED));
	for (i = 0; i < NR_PAGES; i++) {
		char *page = page_ptr(self->mem, i);

		EXPECT_FALSE(read_sigbus(page)) TH_LOG("page %d", i);
		EXPECT_FALSE(write_sigbus(page, pattern(i, 4)))
			TH_LOG("page %d", i);
		EXPECT_EQ(pattern(i, 4), (u8)READ_ONCE(page[0]));
	}
}

/* ---- A running guest on the same pages ---- */

#define GUEST_DATA_PAGE		3
#define GUEST_OTHER_PAGE	5
#define HOST_VAL1		0x1111111111111111ULL
#define HOST_VAL2		0x2222222222222222ULL
#define HOST_OTHER		0x3333333333333333ULL
#define GUEST_VAL1		0xaaaaaaaaaaaaaaaaULL
#define GUEST_VAL2		0xbbbbbbbbbbbbbbbbULL

static void guest_code(u64 data_gva, u64 other_gva)
{
	u64 *data = (u64 *)data_gva;
	u64 *other = (u64 *)other_gva;

	/* Shared: the host's value. */
	GUEST_SYNC2(1, READ_ONCE(*data));
	WRITE_ONCE(*data, GUEST_VAL1);
	/* The host checks GUEST_VAL1 and makes the page private. */
	GUEST_SYNC2(2, 0);
	/* Private, converted in place: still GUEST_VAL1. */
	GUEST_SYNC2(3, READ_ONCE(*data));
	WRITE_ONCE(*data, GUEST_VAL2);
	/* A shared neighbour is unaffected. */
	GUEST_SYNC2(4, READ_ONCE(*other));
	/* The host made the page shared, read GUEST_VAL2, wrote HOST_VAL2. */
	GUEST_SYNC2(5, READ_ONCE(*data));
	GUEST_DONE();
}

FIXTURE(gmem_guest)
{
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	size_t size;
	int fd;
	char *mem;
};

FIXTURE_SETUP(gmem_guest)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};

	self->size = NR_PAGES * page_size;
	self->vm = vm_create_shape_with_one_vcpu(shape, &self->vcpu,
						 guest_code);
	self->fd = vm_create_guest_memfd(self->vm, self->size, GMEM_FLAGS_ALL);
	self->mem = gmem_mmap(self->fd, self->size, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, self->mem);
	install_sigbus_handler();

	/* userspace_addr is the guest_memfd's own mapping: one copy. */
	vm_set_user_memory_region2(self->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, self->size, self->mem, self->fd,
				   0);
	virt_map(self->vm, DATA_GPA, DATA_GPA, NR_PAGES);
	vcpu_args_set(self->vcpu, 2,
		      (u64)(DATA_GPA + GUEST_DATA_PAGE * page_size),
		      (u64)(DATA_GPA + GUEST_OTHER_PAGE * page_size));
}

FIXTURE_TEARDOWN(gmem_guest)
{
	kvm_vm_free(self->vm);
	munmap(self->mem, self->size);
	close(self->fd);
}

/* Runs the vCPU to its next GUEST_SYNC2(@stage, value); returns value. */
static u64 run_to_sync(struct __test_metadata *_metadata,
		       struct kvm_vcpu *vcpu, u64 stage)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	u64 cmd;
	int r;

	r = _vcpu_run(vcpu);
	ASSERT_EQ(0, r)
		TH_LOG("KVM_RUN: %s, exit %s, memory fault at gpa 0x%llx",
		       strerror(errno), exit_reason_str(run->exit_reason),
		       (unsigned long long)run->memory_fault.gpa);
	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason)
		TH_LOG("exit %s", exit_reason_str(run->exit_reason));

	cmd = get_ucall(vcpu, &uc);
	if (cmd == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	ASSERT_EQ(UCALL_SYNC, cmd);
	ASSERT_EQ(stage, uc.args[0]);
	return uc.args[1];
}

TEST_F_TIMEOUT(gmem_guest, guest_host_one_copy, TEST_TIMEOUT)
{
	u64 data_off = (u64)GUEST_DATA_PAGE * page_size;
	u64 *data = (u64 *)(self->mem + data_off);
	u64 *other = (u64 *)(self->mem + GUEST_OTHER_PAGE * page_size);
	struct ucall uc;

	WRITE_ONCE(*data, HOST_VAL1);
	WRITE_ONCE(*other, HOST_OTHER);
	ASSERT_EQ(HOST_VAL1, run_to_sync(_metadata, self->vcpu, 1));

	/* The guest's write to the shared page, seen through the mmap. */
	run_to_sync(_metadata, self->vcpu, 2);
	ASSERT_EQ(GUEST_VAL1, READ_ONCE(*data));

	ASSERT_EQ(0, gmem_convert(self->fd, data_off, page_size,
				  ATTR_PRIVATE));
	ASSERT_TRUE(read_sigbus(data));
	ASSERT_EQ(GUEST_VAL1, run_to_sync(_metadata, self->vcpu, 3));
	ASSERT_EQ(HOST_OTHER, run_to_sync(_metadata, self->vcpu, 4));
	ASSERT_TRUE(read_sigbus(data));

	/* The guest's write to the private page, seen once shared again. */
	ASSERT_EQ(0, gmem_convert(self->fd, data_off, page_size,
				  ATTR_SHARED));
	ASSERT_EQ(GUEST_VAL2, READ_ONCE(*data));
	WRITE_ONCE(*data, HOST_VAL2);
	ASSERT_EQ(HOST_VAL2, run_to_sync(_metadata, self->vcpu, 5));

	vcpu_run(self->vcpu);
	ASSERT_EQ(UCALL_DONE, get_ucall(self->vcpu, &uc));
}

/* ---- Conversions, pins, host accesses and a running vCPU ---- */

#define VSTRESS_CONVERTERS	2
#define VSTRESS_CONVERSIONS	100
#define VSTRESS_PINS		100
#define VSTRESS_PIN_HOLD_MAX	8	/* sched_yield()s while pinned */
#define VSTRESS_MIN_TOUCHES	500
#define VSTRESS_MAX_TOUCHES	10000
#define VSTRESS_SYNC_PASSES	16	/* guest passes between GUEST_SYNCs */
#define VSTRESS_MIN_SYNCS	4
#define VSTRESS_SYNCS_DURING	2	/* vCPU syncs the converters wait for */
#define VSTRESS_MAX_SECONDS	120	/* ... at most */
#define VSTRESS_MAX_VCPU_ERRORS	16

/*
 * Every page has two slots with one writer each: the guest's word at offset
 * 0, written by the guest only, and the host's byte at HOST_SLOT, written by
 * the host (through the mmap) only, so that each holds the last value its
 * writer wrote, whatever the state of the page was in between.
 */
#define HOST_SLOT		(page_size / 2)
#define GUEST_WORD_TAG		0x6d656d6600000000ULL

static u64 guest_word(u64 pass, u64 page)
{
	return GUEST_WORD_TAG | pass << 8 | page;
}

static bool is_guest_word(u64 val, u64 page)
{
	return !val || ((val & ~0xffffffffULL) == GUEST_WORD_TAG &&
			(val & 0xff) == page);
}

/*
 * Write and read back the first word of each of @nr_pages pages, forever;
 * report the pass every VSTRESS_SYNC_PASSES passes.  The host stops the
 * vCPU at one of those syncs, when every page holds the pass's word.
 */
static void guest_stress_code(u64 gva, u64 nr_pages, u64 psize)
{
	u64 pass, i;

	for (pass = 1; ; pass++) {
		for (i = 0; i < nr_pages; i++) {
			u64 *word = (u64 *)(gva + i * psize);

			WRITE_ONCE(*word, guest_word(pass, i));
			GUEST_ASSERT_EQ(READ_ONCE(*word), guest_word(pass, i));
		}
		if (!(pass % VSTRESS_SYNC_PASSES))
			GUEST_SYNC(pass);
	}
}

struct vstress {
	int fd;
	char *mem;
	/* The converters are done: the toucher may stop. */
	int converters_done;
	/* Everything but the vCPU is done: it may stop at its next sync. */
	int done;
	/* Odd while pinned_page is pinned: see vpinner_fn(). */
	u64 pin_seq;
	int pinned_page;
	/* Set before any attempt to make the page private. */
	u8 ever_private[NR_PAGES];
	/* The vCPU's GUEST_SYNCs so far, and until when to wait for them. */
	unsigned long vcpu_syncs;
	time_t deadline;
};

/*
 * The converters go on past VSTRESS_CONVERSIONS until the vCPU has synced
 * VSTRESS_SYNCS_DURING times, so that it ran while they converted: its
 * first entry alone can outlast VSTRESS_CONVERSIONS conversions under
 * nested emulation.  The wait ends at the deadline, and the test then fails
 * for want of guest progress.
 */
static bool vstress_vcpu_lags(struct vstress *s)
{
	return READ_ONCE(s->vcpu_syncs) < VSTRESS_SYNCS_DURING &&
	       time(NULL) < s->deadline;
}

struct vconverter {
	pthread_t thread;
	struct vstress *s;
	u32 seed;
	unsigned long converted;
	unsigned long eagain;
	unsigned long pinned_eagain;	/* EAGAIN while a pin was in range */
	const char *bad;		/* first broken invariant */
	int bad_errno;
	u64 bad_offset, bad_size, bad_error_offset;
};

struct vtoucher {
	pthread_t thread;
	struct vstress *s;
	u32 seed;
	unsigned long served;
	unsigned long refused;
	unsigned long bad_reads;
	int bad_page;
	u8 host_last[NR_PAGES];		/* last value written at HOST_SLOT */
	u8 sigbus_seen[NR_PAGES];
};

struct vpinner {
	pthread_t thread;
	struct vstress *s;
	u32 seed;
	int gup_fd;
	unsigned long pinned;
	unsigned long refused;		/* EFAULT: the page was private */
	int bad_errno;
	const char *bad_op;
};

struct vrunner {
	pthread_t thread;
	struct vstress *s;
	struct kvm_vcpu *vcpu;
	unsigned long syncs;
	u64 last_pass;
	bool stopped_at_sync;
	/* KVM_RUN failures: KVM_EXIT_MEMORY_FAULT and other errors. */
	unsigned long memory_faults;
	unsigned long errors;
	int first_errno;
	u32 first_exit_reason;
	u64 first_gpa, first_fault_flags;
	unsigned long first_error_sync;
	/* A guest assert, or an exit that is no ucall. */
	bool aborted;
	struct ucall abort_uc;
	u32 unexpected_exit;
	u64 unexpected_ucall;
};

static u64 pin_seq_read(struct vstress *s)
{
	return __atomic_load_n(&s->pin_seq, __ATOMIC_SEQ_CST);
}

static void vconverter_fail(struct vconverter *c, const char *what, int err,
			    struct kvm_memory_attributes2 *attr)
{
	if (c->bad)
		return;
	c->bad = what;
	c->bad_errno = err;
	c->bad_offset = attr->offset;
	c->bad_size = attr->size;
	c->bad_error_offset = attr->error_offset;
}

static void *vconverter_fn(void *arg)
{
	struct vconverter *c = arg;
	struct vstress *s = c->s;
	struct guest_random_state rng = new_guest_random_state(c->seed);
	int i, page;

	for (i = 0; i < VSTRESS_CONVERSIONS || vstress_vcpu_lags(s); i++) {
		int first = guest_random_u32(&rng) % NR_PAGES;
		int nr = 1 + guest_random_u32(&rng) % (NR_PAGES - first);
		bool to_private = guest_random_bool(&rng);
		struct kvm_memory_attributes2 attr = {
			.offset = page_off(first),
			.size = (u64)nr * page_size,
			.attributes = to_private ? ATTR_PRIVATE : ATTR_SHARED,
			.error_offset = ~0ULL,
		};
		u64 seq_before, seq_after;
		bool pinned_in_range;
		int err, pinned;

		if (to_private) {
			for (page = first; page < first + nr; page++)
				WRITE_ONCE(s->ever_private[page], 1);
		}

		seq_before = pin_seq_read(s);
		pinned = READ_ONCE(s->pinned_page);
		err = gmem_set_attributes(s->fd, &attr);
		seq_after = pin_seq_read(s);

		/* The same pin was held from before the call to after it. */
		pinned_in_range = (seq_before & 1) && seq_before == seq_after &&
				  pinned >= first && pinned < first + nr;

		if (!err) {
			c->converted++;
			if (to_private && pinned_in_range)
				vconverter_fail(c, "pinned page made private",
						0, &attr);
			continue;
		}
		if (err != EAGAIN) {
			vconverter_fail(c, to_private ? "to private" :
					"to shared", err, &attr);
			continue;
		}

		c->eagain++;
		if (!to_private) {
			vconverter_fail(c, "EAGAIN to shared", err, &attr);
			continue;
		}
		if (attr.error_offset < attr.offset ||
		    attr.error_offset >= attr.offset + attr.size ||
		    attr.error_offset & (page_size - 1)) {
			vconverter_fail(c, "error_offset outside the range",
					err, &attr);
			continue;
		}
		if (pinned_in_range) {
			c->pinned_eagain++;
			/* Nothing beyond the pinned page can be the first. */
			if (attr.error_offset > page_off(pinned))
				vconverter_fail(c, "error_offset beyond the pin",
						err, &attr);
		}
	}
	return NULL;
}

static void *vtoucher_fn(void *arg)
{
	struct vtoucher *t = arg;
	struct vstress *s = t->s;
	struct guest_random_state rng = new_guest_random_state(t->seed);
	unsigned long n;

	t->bad_page = -1;
	for (n = 0; n < VSTRESS_MAX_TOUCHES; n++) {
		int page = guest_random_u32(&rng) % NR_PAGES;
		char *p = page_ptr(s->mem, page);
		u32 op = guest_random_u32(&rng) % 3;
		bool bad = false, sigbus;
		u64 word;
		u8 val;

		if (n >= VSTRESS_MIN_TOUCHES && READ_ONCE(s->converters_done))
			break;

		if (!op) {
			/* Write the host's byte. */
			val = t->host_last[page] + 1;
			sigbus = host_access_sigbus(p + HOST_SLOT, true, &val);
			if (!sigbus)
				t->host_last[page] = val;
		} else if (op == 1) {
			/* Read it back: nobody else writes it. */
			sigbus = host_access_sigbus(p + HOST_SLOT, false, &val);
			bad = !sigbus && val != t->host_last[page];
		} else {
			/* The guest's word: 0 or one of this page's. */
			sigbus = read_sigbus(p);
			if (!sigbus) {
				word = READ_ONCE(*(u64 *)p);
				bad = !is_guest_word(word, page);
			}
		}

		if (sigbus) {
			t->refused++;
			t->sigbus_seen[page] = 1;
		} else {
			t->served++;
		}
		if (bad) {
			t->bad_reads++;
			if (t->bad_page < 0)
				t->bad_page = page;
		}
	}
	return NULL;
}

/*
 * Pins a random page, holds it for a moment and unpins it.  pin_seq is odd
 * exactly while pinned_page is pinned: it becomes odd after the pin and
 * even before the unpin, so a converter that reads the same odd value
 * before and after its call knows the pin was held all along.
 */
static void *vpinner_fn(void *arg)
{
	struct vpinner *p = arg;
	struct vstress *s = p->s;
	struct guest_random_state rng = new_guest_random_state(p->seed);
	int i, j, hold;

	for (i = 0; i < VSTRESS_PINS; i++) {
		int page = guest_random_u32(&rng) % NR_PAGES;
		struct pin_longterm_test pin = {
			.addr = (uintptr_t)page_ptr(s->mem, page),
			.size = page_size,
			.flags = 0,
		};

		if (ioctl(p->gup_fd, PIN_LONGTERM_TEST_START, &pin)) {
			/* A private page cannot be pinned: it SIGBUSes. */
			if (errno == EFAULT) {
				p->refused++;
				continue;
			}
			p->bad_op = "PIN_LONGTERM_TEST_START";
			p->bad_errno = errno;
			break;
		}
		p->pinned++;
		WRITE_ONCE(s->pinned_page, page);
		__atomic_fetch_add(&s->pin_seq, 1, __ATOMIC_SEQ_CST);

		hold = 1 + guest_random_u32(&rng) % VSTRESS_PIN_HOLD_MAX;
		for (j = 0; j < hold; j++)
			sched_yield();

		__atomic_fetch_add(&s->pin_seq, 1, __ATOMIC_SEQ_CST);
		if (ioctl(p->gup_fd, PIN_LONGTERM_TEST_STOP)) {
			p->bad_op = "PIN_LONGTERM_TEST_STOP";
			p->bad_errno = errno;
			break;
		}
	}
	return NULL;
}

static void vrunner_error(struct vrunner *r, int err)
{
	struct kvm_run *run = r->vcpu->run;

	if (run->exit_reason == KVM_EXIT_MEMORY_FAULT)
		r->memory_faults++;
	else
		r->errors++;
	if (r->memory_faults + r->errors > 1)
		return;
	r->first_errno = err;
	r->first_exit_reason = run->exit_reason;
	r->first_gpa = run->memory_fault.gpa;
	r->first_fault_flags = run->memory_fault.flags;
	r->first_error_sync = r->syncs;
}

/*
 * Runs the vCPU until the others are done and it reached VSTRESS_MIN_SYNCS,
 * stopping at a GUEST_SYNC.  Every failure of KVM_RUN is counted; the vCPU
 * goes on (the guest retries the access) up to VSTRESS_MAX_VCPU_ERRORS.
 */
static void *vrunner_fn(void *arg)
{
	struct vrunner *r = arg;
	struct kvm_run *run = r->vcpu->run;
	struct ucall uc;
	u64 cmd;

	for (;;) {
		/* A failure that sets no exit reason shows as UNKNOWN. */
		run->exit_reason = KVM_EXIT_UNKNOWN;
		if (_vcpu_run(r->vcpu)) {
			vrunner_error(r, errno);
			if (r->memory_faults + r->errors >=
			    VSTRESS_MAX_VCPU_ERRORS)
				return NULL;
			continue;
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			r->unexpected_exit = run->exit_reason;
			return NULL;
		}

		cmd = get_ucall(r->vcpu, &uc);
		if (cmd == UCALL_ABORT) {
			r->aborted = true;
			r->abort_uc = uc;
			return NULL;
		}
		if (cmd != UCALL_SYNC) {
			r->unexpected_ucall = cmd;
			return NULL;
		}
		WRITE_ONCE(r->syncs, r->syncs + 1);
		WRITE_ONCE(r->s->vcpu_syncs, r->syncs);
		r->last_pass = uc.args[1];
		if (READ_ONCE(r->s->done) && r->syncs >= VSTRESS_MIN_SYNCS) {
			r->stopped_at_sync = true;
			return NULL;
		}
	}
}

TEST_F_TIMEOUT(gmem_guest, vcpu_pin_stress, TEST_TIMEOUT)
{
	struct vconverter conv[VSTRESS_CONVERTERS] = {};
	struct vtoucher touch = {};
	struct vpinner pinner = {};
	struct vrunner runner = {};
	struct vstress s = {
		.fd = self->fd,
		.mem = self->mem,
		.pinned_page = -1,
		.deadline = time(NULL) + VSTRESS_MAX_SECONDS,
	};
	unsigned long converted = 0, syncs_during;
	int i, gup_fd;

	gup_fd = open(GUP_TEST_FILE, O_RDWR);
	if (gup_fd < 0)
		SKIP(return, "%s: %s", GUP_TEST_FILE, strerror(errno));

	/* The fixture's VM, memslot and mapping; another guest. */
	vcpu_arch_set_entry_point(self->vcpu, guest_stress_code);
	vcpu_args_set(self->vcpu, 3, (u64)DATA_GPA, (u64)NR_PAGES,
		      (u64)page_size);

	runner.s = &s;
	runner.vcpu = self->vcpu;
	ASSERT_EQ(0, pthread_create(&runner.thread, NULL, vrunner_fn,
				    &runner));
	for (i = 0; i < VSTRESS_CONVERTERS; i++) {
		conv[i].s = &s;
		conv[i].seed = guest_random_seed + i;
		ASSERT_EQ(0, pthread_create(&conv[i].thread, NULL,
					    vconverter_fn, &conv[i]));
	}
	touch.s = &s;
	touch.seed = guest_random_seed + VSTRESS_CONVERTERS;
	ASSERT_EQ(0, pthread_create(&touch.thread, NULL, vtoucher_fn,
				    &touch));
	pinner.s = &s;
	pinner.seed = guest_random_seed + VSTRESS_CONVERTERS + 1;
	pinner.gup_fd = gup_fd;
	ASSERT_EQ(0, pthread_create(&pinner.thread, NULL, vpinner_fn,
				    &pinner));

	for (i = 0; i < VSTRESS_CONVERTERS; i++)
		ASSERT_EQ(0, pthread_join(conv[i].thread, NULL));
	WRITE_ONCE(s.converters_done, 1);
	ASSERT_EQ(0, pthread_join(touch.thread, NULL));
	ASSERT_EQ(0, pthread_join(pinner.thread, NULL));
	syncs_during = READ_ONCE(runner.syncs);
	WRITE_ONCE(s.done, 1);
	ASSERT_EQ(0, pthread_join(runner.thread, NULL));

	/* Nothing stays pinned (closing the file unpins too). */
	EXPECT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_STOP));
	close(gup_fd);
	EXPECT_EQ(0, pin_seq_read(&s) & 1);

	for (i = 0; i < VSTRESS_CONVERTERS; i++) {
		struct vconverter *c = &conv[i];

		TH_LOG("converter %d: %lu converted, %lu EAGAIN (%lu with a pin in range)",
		       i, c->converted, c->eagain, c->pinned_eagain);
		EXPECT_EQ(NULL, c->bad)
			TH_LOG("converter %d: %s: %s, offset 0x%lx size 0x%lx error_offset 0x%lx",
			       i, c->bad, strerror(c->bad_errno),
			       c->bad_offset, c->bad_size,
			       c->bad_error_offset);
		converted += c->converted;
	}
	TH_LOG("toucher: %lu accesses served, %lu refused (SIGBUS)",
	       touch.served, touch.refused);
	TH_LOG("pinner: %lu pins, %lu refused (EFAULT)", pinner.pinned,
	       pinner.refused);
	TH_LOG("vCPU: %lu syncs (%lu in the stress), pass %lu, %lu memory faults, %lu errors",
	       runner.syncs, syncs_during, runner.last_pass,
	       runner.memory_faults, runner.errors);

	EXPECT_GT(converted, 0);
	EXPECT_GT(pinner.pinned, 0);
	EXPECT_EQ(0, pinner.bad_errno)
		TH_LOG("%s: %s", pinner.bad_op, strerror(pinner.bad_errno));

	/* The toucher only ever read what its writer last wrote. */
	EXPECT_EQ(0, touch.bad_reads)
		TH_LOG("first bad read on page %d", touch.bad_page);
	for (i = 0; i < NR_PAGES; i++) {
		if (!touch.sigbus_seen[i])
			continue;
		EXPECT_TRUE(s.ever_private[i])
			TH_LOG("SIGBUS on page %d, never private", i);
	}

	/* The vCPU saw every page, private or shared, without a failure. */
	if (runner.aborted)
		REPORT_GUEST_ASSERT(runner.abort_uc);
	EXPECT_EQ(0, runner.unexpected_exit)
		TH_LOG("exit %s", exit_reason_str(runner.unexpected_exit));
	EXPECT_EQ(0, runner.unexpected_ucall);
	EXPECT_EQ(0, runner.memory_faults + runner.errors)
		TH_LOG("first failure after %lu syncs: KVM_RUN %s, exit %s, gpa 0x%lx, flags 0x%lx",
		       runner.first_error_sync, strerror(runner.first_errno),
		       exit_reason_str(runner.first_exit_reason),
		       runner.first_gpa, runner.first_fault_flags);
	EXPECT_TRUE(runner.stopped_at_sync);
	EXPECT_GT(syncs_during, 0) TH_LOG("no guest progress during the stress");

	/*
	 * Everything shared again: every page is readable and holds the last
	 * word of the guest's last pass and the host's last byte.
	 */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_SHARED));
	for (i = 0; i < NR_PAGES; i++) {
		char *page = page_ptr(self->mem, i);

		ASSERT_FALSE(read_sigbus(page)) TH_LOG("page %d", i);
		EXPECT_EQ(touch.host_last[i], (u8)READ_ONCE(page[HOST_SLOT]))
			TH_LOG("page %d: the host's byte", i);
		if (runner.stopped_at_sync)
			EXPECT_EQ(guest_word(runner.last_pass, i),
				  READ_ONCE(*(u64 *)page))
				TH_LOG("page %d: the guest's word", i);
	}
}

int main(int argc, char **argv)
{
	struct kvm_vm *vm;
	u64 flags;

	page_size = getpagesize();
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GUEST_MEMFD));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));

	vm = create_sw_protected_vm();
	flags = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	kvm_vm_free(vm);
	TEST_REQUIRE(flags & GUEST_MEMFD_FLAG_MMAP);

	return test_harness_run(argc, argv);
}
