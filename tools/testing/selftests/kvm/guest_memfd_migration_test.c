// SPDX-License-Identifier: GPL-2.0
/*
 * Migration of the pages of a guest_memfd that converts in place.
 *
 * A guest_memfd created with GUEST_MEMFD_FLAG_MMAP holds both the shared and
 * the private pages of a guest (see guest_memfd_conversion_test.c).  Its
 * folios whose pages are all shared and that nobody pins can be migrated,
 * by move_pages(2) and by compaction; a private folio never moves, and a
 * page moves only to a destination outside ZONE_MOVABLE and CMA.  A private
 * page is not mapped by the host, so move_pages() cannot even look it up.
 *
 * The tests run on a KVM_X86_SW_PROTECTED_VM whose memslot is backed by the
 * file, with userspace_addr its own mapping, and need two NUMA nodes; the
 * physical page of a virtual address is read from /proc/self/pagemap, which
 * shows it to root only.
 *
 * - shared_pages_move: of a file with shared pages 0-3 and private pages
 *   4-7, move_pages() moves the shared pages to the other node, with their
 *   content, and leaves the private ones where they are, with theirs;
 * - private_pages_stay: move_pages() of private pages moves nothing;
 * - pinned_page_stays: a GUP-pinned shared page does not move until it is
 *   unpinned;
 * - guest_sees_moved_page: a vCPU reads and writes a shared page after it
 *   moved, and sees the same memory as the host;
 * - zone_movable.gmem_never_there, on a guest with a populated ZONE_MOVABLE
 *   (it skips elsewhere): 32 MiB of anonymous memory lands, at least in
 *   part, there (the control), 32 MiB of guest_memfd pages on the same node
 *   never do; all of them convert to private and back, in place, and
 *   move_pages() of shared pages to the other node and back moves none of
 *   them into ZONE_MOVABLE.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <linux/mempolicy.h>
#include <linux/sizes.h>

#include "kselftest_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "processor.h"
#include "ucall_common.h"
#include "../../../../mm/gup_test.h"

#define NR_PAGES		8
#define NR_SHARED		4	/* pages 0-3 stay shared, 4-7 go private */
#define PIN_PAGE		1
#define GUEST_PAGE		2
#define TEST_TIMEOUT		120

#define GMEM_FLAGS		(GUEST_MEMFD_FLAG_MMAP | \
				 GUEST_MEMFD_FLAG_INIT_SHARED)
#define ATTR_PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define ATTR_SHARED		0ULL

#define DATA_SLOT		10
#define DATA_GPA		BIT_ULL(32)

#define GUP_TEST_FILE		"/sys/kernel/debug/gup_test"
#define NODE1_PATH		"/sys/devices/system/node/node1"
#define PAGEMAP_PRESENT		BIT_ULL(63)
#define PAGEMAP_PFN		GENMASK_ULL(54, 0)

/* A status move_pages() never stores. */
#define STATUS_UNSET		INT_MIN

#define HOST_VAL1		0x1111111111111111ULL
#define HOST_VAL2		0x2222222222222222ULL
#define GUEST_VAL		0xaaaaaaaaaaaaaaaaULL

static size_t page_size;

static u8 pattern(int page)
{
	return 0xc0 | page;
}

/* ---- SIGBUS-safe reads ---- */

static sigjmp_buf sigbus_env;
static int sigbus_armed;

static void sigbus_handler(int sig)
{
	if (!READ_ONCE(sigbus_armed)) {
		/* Not an access of ours: let the fault kill the process. */
		signal(SIGBUS, SIG_DFL);
		return;
	}
	siglongjmp(sigbus_env, 1);
}

/* Returns true if reading the byte at @addr raised SIGBUS. */
static bool read_sigbus(const void *addr)
{
	if (sigsetjmp(sigbus_env, 1)) {
		WRITE_ONCE(sigbus_armed, 0);
		return true;
	}
	WRITE_ONCE(sigbus_armed, 1);
	(void)READ_ONCE(*(const u8 *)addr);
	WRITE_ONCE(sigbus_armed, 0);
	return false;
}

/* ---- Helpers ---- */

static int gmem_convert(int fd, u64 offset, u64 size, u64 attributes)
{
	struct kvm_memory_attributes2 attr = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
	};

	return ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr) ? errno : 0;
}

static u64 page_off(int idx)
{
	return (u64)idx * page_size;
}

static char *page_ptr(char *mem, int idx)
{
	return mem + page_off(idx);
}

static void fill_page(char *mem, int idx)
{
	memset(page_ptr(mem, idx), pattern(idx), page_size);
}

/* Whether page @idx holds pattern(@idx), except in its first @skip bytes. */
static bool page_intact(char *mem, int idx, size_t skip)
{
	const char *page = page_ptr(mem, idx);
	size_t i;

	for (i = skip; i < page_size; i++) {
		if ((u8)page[i] != pattern(idx))
			return false;
	}
	return true;
}

/* The physical page mapped at @addr, which is touched first. */
static u64 page_pfn(void *addr)
{
	u64 entry;
	ssize_t r;
	int fd;

	(void)READ_ONCE(*(u8 *)addr);
	fd = open("/proc/self/pagemap", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(/proc/self/pagemap)");
	r = pread(fd, &entry, sizeof(entry),
		  (uintptr_t)addr / page_size * sizeof(entry));
	TEST_ASSERT(r == sizeof(entry), "pread(/proc/self/pagemap)");
	close(fd);
	TEST_ASSERT(entry & PAGEMAP_PRESENT, "%p is not mapped", addr);
	return entry & PAGEMAP_PFN;
}

/* move_pages(2) on this process, without libnuma. */
static long move_pages_self(unsigned long count, void **pages,
			    const int *nodes, int *status, int flags)
{
	return syscall(__NR_move_pages, 0, count, pages, nodes, status, flags);
}

/* The node of the page at @addr, or the negative errno move_pages() says. */
static int page_node(void *addr)
{
	int status = STATUS_UNSET;
	long r;

	r = move_pages_self(1, &addr, NULL, &status, 0);
	TEST_ASSERT(!r, "move_pages(query): %s", strerror(errno));
	return status;
}

static int other_node(int node)
{
	return node ? 0 : 1;
}

/*
 * Moves the page at @addr to @node.  Returns what move_pages() returned (0,
 * or the number of pages it failed to migrate) and stores the page's status
 * (the node, a negative errno, or STATUS_UNSET if the migration itself
 * failed, as move_pages() then stores nothing) in *@status.
 */
static long move_page(void *addr, int node, int *status)
{
	long r;

	*status = STATUS_UNSET;
	r = move_pages_self(1, &addr, &node, status, MPOL_MF_MOVE);
	TEST_ASSERT(r >= 0, "move_pages: %s", strerror(errno));
	return r;
}

static bool not_mapped_status(int status)
{
	return status == -ENOENT || status == -EFAULT;
}

/* ---- A SW_PROTECTED VM with the file in a memslot ---- */

static void guest_code(u64 gva)
{
	u64 *data = (u64 *)gva;

	/* Before the page moves. */
	GUEST_SYNC2(1, READ_ONCE(*data));
	/* After it moved: the same content. */
	GUEST_SYNC2(2, READ_ONCE(*data));
	/* The host wrote the moved page through its mapping. */
	GUEST_SYNC2(3, READ_ONCE(*data));
	WRITE_ONCE(*data, GUEST_VAL);
	GUEST_SYNC2(4, 0);
	GUEST_DONE();
}

FIXTURE(migration)
{
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	size_t size;
	int fd;
	char *mem;
	/* Where each page was after it was first touched. */
	u64 pfn[NR_PAGES];
	int node[NR_PAGES];
};

FIXTURE_SETUP(migration)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct sigaction sa = {
		.sa_handler = sigbus_handler,
	};
	int i;

	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));

	self->size = NR_PAGES * page_size;
	self->vm = vm_create_shape_with_one_vcpu(shape, &self->vcpu,
						 guest_code);
	self->fd = vm_create_guest_memfd(self->vm, self->size, GMEM_FLAGS);
	self->mem = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);

	/* userspace_addr is the guest_memfd's own mapping: one copy. */
	vm_set_user_memory_region2(self->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, self->size, self->mem, self->fd,
				   0);
	virt_map(self->vm, DATA_GPA, DATA_GPA, NR_PAGES);
	vcpu_args_set(self->vcpu, 1,
		      (u64)(DATA_GPA + GUEST_PAGE * page_size));

	/* Allocate every page, shared, with its pattern. */
	for (i = 0; i < NR_PAGES; i++) {
		fill_page(self->mem, i);
		self->pfn[i] = page_pfn(page_ptr(self->mem, i));
		ASSERT_NE(0, self->pfn[i]);
		self->node[i] = page_node(page_ptr(self->mem, i));
		ASSERT_GE(self->node[i], 0)
			TH_LOG("page %d: %s", i, strerror(-self->node[i]));
	}
}

FIXTURE_TEARDOWN(migration)
{
	kvm_vm_free(self->vm);
	munmap(self->mem, self->size);
	close(self->fd);
}

/* Makes pages NR_SHARED..NR_PAGES-1 of @fd private and checks they are. */
static void make_tail_private(struct __test_metadata *_metadata, int fd,
			      char *mem)
{
	int i;

	ASSERT_EQ(0, gmem_convert(fd, page_off(NR_SHARED),
				  page_off(NR_PAGES - NR_SHARED),
				  ATTR_PRIVATE));
	for (i = NR_SHARED; i < NR_PAGES; i++) {
		ASSERT_TRUE(read_sigbus(page_ptr(mem, i)));
		/* Not mapped: move_pages() cannot find it. */
		EXPECT_TRUE(not_mapped_status(page_node(page_ptr(mem, i))))
			TH_LOG("page %d", i);
	}
}

/*
 * Makes the private pages shared again and checks they are where they
 * were (@pfn, @node), with their content.
 */
static void check_tail_stayed(struct __test_metadata *_metadata, int fd,
			      char *mem, const u64 *pfn, const int *node)
{
	int i;

	ASSERT_EQ(0, gmem_convert(fd, page_off(NR_SHARED),
				  page_off(NR_PAGES - NR_SHARED),
				  ATTR_SHARED));
	for (i = NR_SHARED; i < NR_PAGES; i++) {
		char *page = page_ptr(mem, i);

		EXPECT_TRUE(page_intact(mem, i, 0)) TH_LOG("page %d", i);
		EXPECT_EQ(pfn[i], page_pfn(page)) TH_LOG("page %d", i);
		EXPECT_EQ(node[i], page_node(page)) TH_LOG("page %d", i);
	}
}

TEST_F_TIMEOUT(migration, shared_pages_move, TEST_TIMEOUT)
{
	int nodes[NR_PAGES], status[NR_PAGES];
	void *pages[NR_PAGES];
	u64 pfn[NR_SHARED];
	long r;
	int i;

	make_tail_private(_metadata, self->fd, self->mem);

	for (i = 0; i < NR_PAGES; i++) {
		pages[i] = page_ptr(self->mem, i);
		nodes[i] = other_node(self->node[i]);
		status[i] = STATUS_UNSET;
	}
	r = move_pages_self(NR_PAGES, pages, nodes, status, MPOL_MF_MOVE);
	ASSERT_EQ(0, r)
		TH_LOG("move_pages: %s", r < 0 ? strerror(errno) :
		       "pages were not migrated");

	/* The shared pages moved, with their content. */
	for (i = 0; i < NR_SHARED; i++) {
		EXPECT_EQ(nodes[i], status[i]) TH_LOG("page %d", i);
		EXPECT_EQ(nodes[i], page_node(pages[i])) TH_LOG("page %d", i);
		pfn[i] = page_pfn(pages[i]);
		EXPECT_NE(self->pfn[i], pfn[i]) TH_LOG("page %d", i);
		EXPECT_TRUE(page_intact(self->mem, i, 0)) TH_LOG("page %d", i);
	}

	/* The private ones could not even be looked up. */
	for (i = NR_SHARED; i < NR_PAGES; i++) {
		EXPECT_TRUE(not_mapped_status(status[i]))
			TH_LOG("page %d: status %d", i, status[i]);
		EXPECT_TRUE(read_sigbus(pages[i])) TH_LOG("page %d", i);
	}
	check_tail_stayed(_metadata, self->fd, self->mem, self->pfn,
			  self->node);

	/*
	 * A moved page is the file's page: it converts in place, and is
	 * found again, with its content, once shared again.
	 */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, page_off(NR_SHARED),
				  ATTR_PRIVATE));
	ASSERT_EQ(0, gmem_convert(self->fd, 0, page_off(NR_SHARED),
				  ATTR_SHARED));
	for (i = 0; i < NR_SHARED; i++) {
		EXPECT_TRUE(page_intact(self->mem, i, 0)) TH_LOG("page %d", i);
		EXPECT_EQ(pfn[i], page_pfn(pages[i])) TH_LOG("page %d", i);
	}
}

TEST_F_TIMEOUT(migration, private_pages_stay, TEST_TIMEOUT)
{
	int i, status;

	make_tail_private(_metadata, self->fd, self->mem);

	for (i = NR_SHARED; i < NR_PAGES; i++) {
		EXPECT_EQ(0, move_page(page_ptr(self->mem, i),
				       other_node(self->node[i]), &status))
			TH_LOG("page %d", i);
		EXPECT_TRUE(not_mapped_status(status))
			TH_LOG("page %d: status %d", i, status);
		EXPECT_TRUE(read_sigbus(page_ptr(self->mem, i)));
	}
	check_tail_stayed(_metadata, self->fd, self->mem, self->pfn,
			  self->node);
}

TEST_F_TIMEOUT(migration, pinned_page_stays, TEST_TIMEOUT)
{
	char *page = page_ptr(self->mem, PIN_PAGE);
	int target = other_node(self->node[PIN_PAGE]);
	struct pin_longterm_test pin = {
		.addr = (uintptr_t)page,
		.size = page_size,
		.flags = 0,
	};
	char *copy;
	u64 copy_addr;
	int gup_fd, status;
	long r;

	gup_fd = open(GUP_TEST_FILE, O_RDWR);
	if (gup_fd < 0)
		SKIP(return, "%s: %s", GUP_TEST_FILE, strerror(errno));
	copy = malloc(page_size);
	ASSERT_NE(NULL, copy);
	copy_addr = (uintptr_t)copy;

	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_START, &pin))
		TH_LOG("PIN_LONGTERM_TEST_START: %s", strerror(errno));

	/*
	 * Refused either when the page is isolated (a negative status) or
	 * when it is migrated (move_pages() counts it and stores nothing).
	 */
	r = move_page(page, target, &status);
	EXPECT_TRUE(r > 0 || (status < 0 && status != STATUS_UNSET))
		TH_LOG("move_pages of a pinned page: %ld, status %d", r,
		       status);
	EXPECT_EQ(self->node[PIN_PAGE], page_node(page));
	EXPECT_EQ(self->pfn[PIN_PAGE], page_pfn(page));
	EXPECT_TRUE(page_intact(self->mem, PIN_PAGE, 0));

	/* The pinned page is still the mapped one. */
	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &copy_addr))
		TH_LOG("PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(copy, page, page_size));
	free(copy);

	/* Unpinned, it moves. */
	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_STOP));
	close(gup_fd);
	r = move_page(page, target, &status);
	ASSERT_EQ(0, r) TH_LOG("pages were not migrated");
	EXPECT_EQ(target, status);
	EXPECT_EQ(target, page_node(page));
	EXPECT_NE(self->pfn[PIN_PAGE], page_pfn(page));
	EXPECT_TRUE(page_intact(self->mem, PIN_PAGE, 0));
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

TEST_F_TIMEOUT(migration, guest_sees_moved_page, TEST_TIMEOUT)
{
	char *page = page_ptr(self->mem, GUEST_PAGE);
	int target = other_node(self->node[GUEST_PAGE]);
	u64 *data = (u64 *)page;
	struct ucall uc;
	int status;

	/* The guest maps the page where it is. */
	WRITE_ONCE(*data, HOST_VAL1);
	ASSERT_EQ(HOST_VAL1, run_to_sync(_metadata, self->vcpu, 1));

	ASSERT_EQ(0, move_page(page, target, &status))
		TH_LOG("pages were not migrated");
	ASSERT_EQ(target, status);
	ASSERT_NE(self->pfn[GUEST_PAGE], page_pfn(page));
	ASSERT_TRUE(page_intact(self->mem, GUEST_PAGE, sizeof(*data)));

	/* The same content, then the host's write to the moved page... */
	ASSERT_EQ(HOST_VAL1, run_to_sync(_metadata, self->vcpu, 2));
	WRITE_ONCE(*data, HOST_VAL2);
	ASSERT_EQ(HOST_VAL2, run_to_sync(_metadata, self->vcpu, 3));

	/* ... and the guest's write, seen through the mapping. */
	run_to_sync(_metadata, self->vcpu, 4);
	ASSERT_EQ(GUEST_VAL, READ_ONCE(*data));
	ASSERT_EQ(target, page_node(page));

	vcpu_run(self->vcpu);
	ASSERT_EQ(UCALL_DONE, get_ucall(self->vcpu, &uc));
}

/* ---- ZONE_MOVABLE ---- */

/*
 * Nothing of guest_memfd sits in ZONE_MOVABLE: its allocations are not
 * movable and its migration refuses destinations there.  What proves it is
 * a guest that has such a zone (lab/tests-movable.list boots one with
 * movablecore=), where anonymous memory does land in it; elsewhere the
 * test skips.
 */

#define ZONE_BYTES		SZ_32M
#define ZONE_MOVED_PAGES	64	/* pages move_pages() is asked to move */
#define ZONE_MAX		64	/* Movable zones: one per node at most */
#define ZONE_TIMEOUT		600	/* seconds; 9 s in the lab (KASAN, TCG) */
#define ZONE_TAG		0x5a0e000000000000ULL

struct movable_zone {
	int node;
	u64 start_pfn;
	u64 spanned;
	u64 present;
	u64 managed;
};

/*
 * Reads the populated Movable zones of /proc/zoneinfo into @zones; returns
 * how many.  An unpopulated zone shows no start_pfn, and is left out.
 */
static int read_movable_zones(struct movable_zone *zones, int max)
{
	struct movable_zone *z = NULL;
	unsigned long long v;
	char line[256], name[32];
	int node, i, n = 0, populated = 0;
	FILE *f;

	f = fopen("/proc/zoneinfo", "r");
	TEST_ASSERT(f, "fopen(/proc/zoneinfo): %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %31s", &node, name) == 2) {
			z = NULL;
			if (!strcmp(name, "Movable") && n < max) {
				z = &zones[n++];
				memset(z, 0, sizeof(*z));
				z->node = node;
			}
			continue;
		}
		if (!z)
			continue;
		if (sscanf(line, " spanned %llu", &v) == 1)
			z->spanned = v;
		else if (sscanf(line, " present %llu", &v) == 1)
			z->present = v;
		else if (sscanf(line, " managed %llu", &v) == 1)
			z->managed = v;
		else if (sscanf(line, " start_pfn: %llu", &v) == 1)
			z->start_pfn = v;
	}
	fclose(f);

	/* Keep the populated ones. */
	for (i = 0; i < n; i++) {
		if (zones[i].present && zones[i].managed && zones[i].spanned)
			zones[populated++] = zones[i];
	}
	return populated;
}

/* The node of the Movable zone that spans @pfn, or -1. */
static int movable_node_of(const struct movable_zone *zones, int nr, u64 pfn)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (pfn >= zones[i].start_pfn &&
		    pfn < zones[i].start_pfn + zones[i].spanned)
			return zones[i].node;
	}
	return -1;
}

/* The PFNs of the @n pages from @addr, all mapped, in one pagemap read. */
static void read_pfns(void *addr, size_t n, u64 *pfns)
{
	size_t i;
	ssize_t r;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(/proc/self/pagemap)");
	r = pread(fd, pfns, n * sizeof(*pfns),
		  (uintptr_t)addr / page_size * sizeof(*pfns));
	TEST_ASSERT(r == (ssize_t)(n * sizeof(*pfns)),
		    "pread(/proc/self/pagemap)");
	close(fd);
	for (i = 0; i < n; i++) {
		TEST_ASSERT(pfns[i] & PAGEMAP_PRESENT, "%p is not mapped",
			    (char *)addr + i * page_size);
		pfns[i] &= PAGEMAP_PFN;
	}
}

/* How many of the @n pages at @pfns lie in a Movable zone. */
static size_t count_movable(const struct movable_zone *zones, int nr,
			    const u64 *pfns, size_t n)
{
	size_t i, in = 0;

	for (i = 0; i < n; i++)
		in += movable_node_of(zones, nr, pfns[i]) >= 0;
	return in;
}

/* Each page is tagged with its index, and filled with a byte of it. */
static void zone_fill(char *mem, size_t idx)
{
	char *page = mem + idx * page_size;

	memset(page, (u8)(idx * 13 + 1), page_size);
	*(u64 *)page = ZONE_TAG | idx;
}

static bool zone_intact(char *mem, size_t idx)
{
	const char *page = mem + idx * page_size;
	size_t i;

	if (*(const u64 *)page != (ZONE_TAG | idx))
		return false;
	for (i = sizeof(u64); i < page_size; i++) {
		if ((u8)page[i] != (u8)(idx * 13 + 1))
			return false;
	}
	return true;
}

FIXTURE(zone_movable)
{
	struct movable_zone zones[ZONE_MAX];
	int nr_zones;
	int node;		/* the node the test allocates on */
	size_t npages;
	struct kvm_vm *vm;
	int fd;
	char *mem;
	u64 *pfn;
};

/*
 * The test allocates on the node whose Movable zone has the most pages in
 * the page allocator: one that boot-time (memblock) allocations took over
 * has few.  Anonymous memory then comes from that zone first, and
 * guest_memfd's pages from the same node's other zones.
 */
FIXTURE_SETUP(zone_movable)
{
	struct sigaction sa = {
		.sa_handler = sigbus_handler,
	};
	unsigned long mask;
	int i, best = 0;

	self->fd = -1;
	self->nr_zones = read_movable_zones(self->zones, ZONE_MAX);
	if (!self->nr_zones)
		SKIP(return,
		     "no populated Movable zone in /proc/zoneinfo (boot with movablecore=, as lab/tests-movable.list does)");
	for (i = 0; i < self->nr_zones; i++) {
		const struct movable_zone *z = &self->zones[i];

		ksft_print_msg("node %d Movable: pfn 0x%llx-0x%llx, present %llu, managed %llu\n",
			       z->node, (unsigned long long)z->start_pfn,
			       (unsigned long long)(z->start_pfn + z->spanned),
			       (unsigned long long)z->present,
			       (unsigned long long)z->managed);
		if (z->managed > self->zones[best].managed)
			best = i;
	}
	self->node = self->zones[best].node;
	ASSERT_GT(8 * sizeof(mask), self->node);
	mask = 1UL << self->node;
	ASSERT_EQ(0, syscall(__NR_set_mempolicy, MPOL_BIND, &mask,
			     8 * sizeof(mask)))
		TH_LOG("set_mempolicy(MPOL_BIND, node %d): %s", self->node,
		       strerror(errno));
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));

	self->npages = ZONE_BYTES / page_size;
	self->pfn = calloc(self->npages, sizeof(*self->pfn));
	ASSERT_NE(NULL, self->pfn);
}

FIXTURE_TEARDOWN(zone_movable)
{
	if (self->mem)
		munmap(self->mem, self->npages * page_size);
	if (self->fd >= 0)
		close(self->fd);
	if (self->vm)
		kvm_vm_free(self->vm);
	free(self->pfn);
}

/*
 * Asks move_pages() to move page @idx of the file mapped at @mem, whose
 * PFN is @pfn[@idx], to @target, and checks that it either stayed where it
 * was, or moved to @target outside the @nr Movable @zones; with its content
 * either way.  Returns whether it moved.
 */
static bool zone_move_page(struct __test_metadata *_metadata,
			   const struct movable_zone *zones, int nr,
			   char *mem, u64 *pfn, size_t idx, int target)
{
	char *page = mem + idx * page_size;
	int node = page_node(page), status;
	u64 new_pfn;
	long r;

	r = move_page(page, target, &status);
	new_pfn = page_pfn(page);
	EXPECT_EQ(-1, movable_node_of(zones, nr, new_pfn))
		TH_LOG("page %zu moved into ZONE_MOVABLE: pfn 0x%llx", idx,
		       (unsigned long long)new_pfn);
	EXPECT_TRUE(zone_intact(mem, idx)) TH_LOG("page %zu", idx);
	if (new_pfn == pfn[idx]) {
		EXPECT_TRUE(r > 0 || (status < 0 && status != STATUS_UNSET))
			TH_LOG("page %zu did not move: %ld, status %d", idx,
			       r, status);
		EXPECT_EQ(node, page_node(page)) TH_LOG("page %zu", idx);
		return false;
	}
	EXPECT_EQ(target, page_node(page)) TH_LOG("page %zu", idx);
	pfn[idx] = new_pfn;
	return true;
}

/*
 * On a guest with ZONE_MOVABLE: anonymous memory lands there (the control:
 * the check sees the zone), guest_memfd's pages never do, so converting
 * them all to private succeeds, and move_pages() never moves one there.
 */
TEST_F_TIMEOUT(zone_movable, gmem_never_there, ZONE_TIMEOUT)
{
	size_t i, n = self->npages, size = n * page_size, in;
	size_t stride = n / ZONE_MOVED_PAGES, away = 0, back = 0, tried = 0;
	const struct movable_zone *zones = self->zones;
	int nr = self->nr_zones, other = other_node(self->node);
	char *anon;

	/* (a) The control: anonymous memory is movable, and lands there. */
	anon = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	memset(anon, 1, size);
	read_pfns(anon, n, self->pfn);
	in = count_movable(zones, nr, self->pfn, n);
	ksft_print_msg("control: %zu of %zu anonymous pages (node %d) in ZONE_MOVABLE\n",
		       in, n, self->node);
	munmap(anon, size);
	ASSERT_NE(0, in)
		TH_LOG("the control did not land in Movable: the check cannot see the zone");

	/* (b) guest_memfd's pages, all shared and touched: none there. */
	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	self->fd = vm_create_guest_memfd(self->vm, size, GMEM_FLAGS);
	self->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	for (i = 0; i < n; i++)
		zone_fill(self->mem, i);
	read_pfns(self->mem, n, self->pfn);
	in = count_movable(zones, nr, self->pfn, n);
	ksft_print_msg("guest_memfd: %zu of %zu pages (node %d) in ZONE_MOVABLE\n",
		       in, n, self->node);
	ASSERT_EQ(0, in);

	/*
	 * All of it becomes private (a folio in ZONE_MOVABLE or CMA would be
	 * refused with EAGAIN), and shared again, in place, with its content.
	 */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, size, ATTR_PRIVATE));
	ASSERT_TRUE(read_sigbus(self->mem));
	ASSERT_TRUE(read_sigbus(self->mem + size - page_size));
	ASSERT_EQ(0, gmem_convert(self->fd, 0, size, ATTR_SHARED));
	for (i = 0; i < n; i++) {
		ASSERT_TRUE(zone_intact(self->mem, i)) TH_LOG("page %zu", i);
		ASSERT_EQ(self->pfn[i], page_pfn(self->mem + i * page_size))
			TH_LOG("page %zu", i);
	}

	/*
	 * (c) move_pages() of shared pages to the other node, then of those
	 * that moved back: each page stays (its destination was refused, or
	 * it was busy) or moves outside ZONE_MOVABLE, with its content.
	 * Destinations come from the target node's Movable zone first while
	 * it has free pages above its watermark, as the test node's has: the
	 * moves back exercise the refusal.  How many move is the allocator's
	 * choice, and only reported.
	 */
	for (i = 0; i < ZONE_MOVED_PAGES; i++)
		away += zone_move_page(_metadata, zones, nr, self->mem,
				       self->pfn, i * stride, other);
	for (i = 0; i < ZONE_MOVED_PAGES; i++) {
		if (page_node(self->mem + i * stride * page_size) ==
		    self->node)
			continue;
		tried++;
		back += zone_move_page(_metadata, zones, nr, self->mem,
				       self->pfn, i * stride, self->node);
	}
	ksft_print_msg("move_pages: %zu of %d pages moved to node %d, %zu of %zu back\n",
		       away, ZONE_MOVED_PAGES, other, back, tried);

	/* Moved or not, every page still becomes private, in place. */
	ASSERT_EQ(0, gmem_convert(self->fd, 0, size, ATTR_PRIVATE));
	ASSERT_EQ(0, gmem_convert(self->fd, 0, size, ATTR_SHARED));
	for (i = 0; i < n; i++)
		ASSERT_TRUE(zone_intact(self->mem, i)) TH_LOG("page %zu", i);
	read_pfns(self->mem, n, self->pfn);
	EXPECT_EQ(0, count_movable(zones, nr, self->pfn, n));
}

/*
 * Whether this system can move an anonymous page between nodes 0 and 1
 * with move_pages(), and shows its PFN in /proc/self/pagemap.
 */
static bool can_move_anon_page(void)
{
	int node = STATUS_UNSET, status = STATUS_UNSET;
	void *anon;
	bool ok;

	anon = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(anon != MAP_FAILED, "mmap(anonymous)");
	memset(anon, 1, page_size);
	ok = page_pfn(anon) && !move_pages_self(1, &anon, NULL, &node, 0) &&
	     node >= 0;
	if (ok) {
		node = other_node(node);
		ok = !move_pages_self(1, &anon, &node, &status,
				      MPOL_MF_MOVE) && status == node;
	}
	munmap(anon, page_size);
	return ok;
}

int main(int argc, char **argv)
{
	struct kvm_vm *vm;
	u64 flags;

	page_size = getpagesize();
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GUEST_MEMFD));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));

	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	flags = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	kvm_vm_free(vm);
	TEST_REQUIRE(flags & GUEST_MEMFD_FLAG_MMAP);

	__TEST_REQUIRE(!access(NODE1_PATH, F_OK), "two NUMA nodes");
	__TEST_REQUIRE(can_move_anon_page(),
		       "move_pages() of an anonymous page to the other node, and its PFN in /proc/self/pagemap (root)");

	return test_harness_run(argc, argv);
}
