// SPDX-License-Identifier: GPL-2.0
/*
 * The gmem tracepoints (include/trace/events/gmem.h): each path of an
 * mmap()able guest_memfd fires its event exactly once, with the right
 * field values.
 *
 * The events are enabled in a tracefs instance of the test's own; before
 * each step its buffer is cleared, after it the buffer is read and the
 * events of the test's file (its inode number) are counted and checked.
 * Physical pages are read from /proc/self/pagemap, which shows them to
 * root only; the lab runs the test as root.
 *
 * - create_release: gmem_create and gmem_release name the file, the VM's
 *   creator, the size and the flags;
 * - bind_unbind: a memslot bound and deleted, and a bound file closed,
 *   give one gmem_bind and one gmem_unbind each;
 * - host_faults: first touch of a shared page (served, zeroed, allocated:
 *   gmem_host_fault and gmem_folio_alloc), a private page and a page beyond
 *   EOF (refused), and no event for a page already mapped;
 * - conversions: both directions, with the pages examined (only those that
 *   change state), unmapped and the KVM ranges zapped;
 * - convert_refused_input: a malformed request gives one gmem_convert with
 *   -EINVAL and nothing else;
 * - denied_pinned: a GUP pin gives gmem_convert -EAGAIN and one
 *   gmem_convert_denied "pinned" at the pinned page, with its pfn and counts;
 * - denied_referenced: a page reference held by a pipe (vmsplice) gives one
 *   gmem_convert_denied "referenced";
 * - punch_hole: gmem_punch_hole, and gmem_folio_free for each folio freed,
 *   with the pfns gmem_folio_alloc gave;
 * - kvm_fault: a vCPU touching a private page gives one gmem_kvm_fault with
 *   its gfn, index and pfn;
 * - migrate: move_pages(2) of a shared page gives one gmem_migrate "moved"
 *   from the old pfn to the new one.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <linux/falloc.h>

#include "kselftest_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "processor.h"
#include "ucall_common.h"
#include "../../../../mm/gup_test.h"

#define NR_PAGES		16
#define TEST_TIMEOUT		120

#define GMEM_FLAGS		(GUEST_MEMFD_FLAG_MMAP | \
				 GUEST_MEMFD_FLAG_INIT_SHARED)
#define ATTR_PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define ATTR_SHARED		0ULL

#define DATA_SLOT		10
#define DATA_GPA		BIT_ULL(32)
#define DATA_PGOFF		4	/* the memslot starts at page 4 */
#define GUEST_PAGE		3	/* of the memslot: page 7 of the file */

#define TRACEFS			"/sys/kernel/tracing"
#define INSTANCE		TRACEFS "/instances/guest_memfd_trace_test"
#define GUP_TEST_FILE		"/sys/kernel/debug/gup_test"
#define NODE1_PATH		"/sys/devices/system/node/node1"
#define PAGEMAP_PRESENT		BIT_ULL(63)
#define PAGEMAP_PFN		GENMASK_ULL(54, 0)

#define EINVAL_NEG		"-22"
#define EAGAIN_NEG		"-11"

static size_t page_size;

/* ---- tracefs ---- */

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	TEST_ASSERT(fd >= 0, "open(%s): %s", path, strerror(errno));
	TEST_ASSERT(write(fd, val, strlen(val)) == (ssize_t)strlen(val),
		    "write(%s, %s): %s", path, val, strerror(errno));
	close(fd);
}

/* Whether the kernel has the gmem events at all. */
static bool have_gmem_events(void)
{
	return !access(TRACEFS "/events/gmem/gmem_convert", F_OK);
}

static void trace_start(void)
{
	if (mkdir(INSTANCE, 0755) && errno != EEXIST)
		TEST_FAIL("mkdir(%s): %s", INSTANCE, strerror(errno));
	write_file(INSTANCE "/buffer_size_kb", "4096");
	write_file(INSTANCE "/events/gmem/enable", "1");
	write_file(INSTANCE "/tracing_on", "1");
	write_file(INSTANCE "/trace", "");
}

static void trace_stop(void)
{
	write_file(INSTANCE "/events/gmem/enable", "0");
	rmdir(INSTANCE);
}

static void trace_clear(void)
{
	write_file(INSTANCE "/trace", "");
}

/* The instance's buffer as text (non-consuming read); free() it. */
static char *trace_read(void)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t r;
	int fd;

	TEST_ASSERT(buf, "malloc");
	fd = open(INSTANCE "/trace", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(trace): %s", strerror(errno));
	while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
		len += r;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			TEST_ASSERT(buf, "realloc");
		}
	}
	TEST_ASSERT(r == 0, "read(trace): %s", strerror(errno));
	close(fd);
	buf[len] = '\0';
	return buf;
}

/*
 * Copies the value of field @key of the event arguments @args ("k=v k=v")
 * into @val; returns false if there is no such field.
 */
static bool field_str(const char *args, const char *key, char *val,
		      size_t len)
{
	size_t klen = strlen(key);
	const char *p = args;
	size_t n;

	while ((p = strstr(p, key))) {
		if ((p == args || p[-1] == ' ') && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, "\n ");
			if (n >= len)
				n = len - 1;
			memcpy(val, p, n);
			val[n] = '\0';
			return true;
		}
		p += klen;
	}
	return false;
}

/* The numeric field @key of @args (decimal or 0x hex); fails if absent. */
static unsigned long long field(const char *args, const char *key)
{
	char val[64];

	TEST_ASSERT(field_str(args, key, val, sizeof(val)),
		    "event without %s: \"%s\"", key, args);
	return strtoull(val, NULL, 0);
}

static long long field_signed(const char *args, const char *key)
{
	char val[64];

	TEST_ASSERT(field_str(args, key, val, sizeof(val)),
		    "event without %s: \"%s\"", key, args);
	return strtoll(val, NULL, 0);
}

/* Whether field @key of @args is the string @want. */
static bool field_is(const char *args, const char *key, const char *want)
{
	char val[64];

	return field_str(args, key, val, sizeof(val)) && !strcmp(val, want);
}

#define MAX_EVENTS	64
#define ARGS_LEN	512

/*
 * The events named @event in @buf whose field @key is @val (every event of
 * that name if @key is NULL): their count, and the arguments of the first
 * MAX_EVENTS in @args.
 */
static int trace_find(const char *buf, const char *event, const char *key,
		      unsigned long long val, char args[][ARGS_LEN])
{
	char needle[64], line[ARGS_LEN];
	const char *p, *a, *eol;
	int n = 0;
	size_t len;

	snprintf(needle, sizeof(needle), " %s: ", event);
	for (p = buf; (p = strstr(p, needle)); p = eol) {
		a = p + strlen(needle);
		eol = strchrnul(a, '\n');
		len = eol - a;
		if (len >= ARGS_LEN)
			len = ARGS_LEN - 1;
		memcpy(line, a, len);
		line[len] = '\0';
		if (key && field(line, key) != val)
			continue;
		if (n < MAX_EVENTS)
			memcpy(args[n], line, len + 1);
		n++;
	}
	return n;
}

/* ---- guest_memfd helpers ---- */

static int gmem_convert(int fd, u64 offset, u64 size, u64 attributes,
			u64 *error_offset)
{
	struct kvm_memory_attributes2 attr = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
		.error_offset = ~0ULL,
	};
	int r;

	r = ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr) ? errno : 0;
	if (error_offset)
		*error_offset = attr.error_offset;
	return r;
}

static unsigned long file_ino(int fd)
{
	struct stat st;

	TEST_ASSERT(!fstat(fd, &st), "fstat: %s", strerror(errno));
	return st.st_ino;
}

static u64 page_off(int idx)
{
	return (u64)idx * page_size;
}

/* The pfn mapped at @addr, or 0 if nothing is (or pfns are hidden). */
static u64 pagemap_pfn(void *addr)
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
	return entry & PAGEMAP_PRESENT ? entry & PAGEMAP_PFN : 0;
}

static sigjmp_buf sigbus_env;
static int sigbus_armed;

static void sigbus_handler(int sig)
{
	if (!READ_ONCE(sigbus_armed)) {
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

/* ---- A SW_PROTECTED VM with a shared-by-default, mapped guest_memfd ---- */

FIXTURE(gmem)
{
	struct kvm_vm *vm;
	size_t size;
	int fd;
	unsigned long ino;
	char *mem;
	size_t mem_len;
	char (*args)[ARGS_LEN];
};

FIXTURE_SETUP(gmem)
{
	struct sigaction sa = { .sa_handler = sigbus_handler };

	if (!have_gmem_events())
		SKIP(return, "no gmem events in " TRACEFS);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));

	self->args = calloc(MAX_EVENTS, ARGS_LEN);
	ASSERT_NE(NULL, self->args);
	self->size = NR_PAGES * page_size;
	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	trace_start();
	self->fd = vm_create_guest_memfd(self->vm, self->size, GMEM_FLAGS);
	self->ino = file_ino(self->fd);
	/* One page more than the file, to fault beyond EOF. */
	self->mem_len = self->size + page_size;
	self->mem = mmap(NULL, self->mem_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
}

FIXTURE_TEARDOWN(gmem)
{
	if (!self->args)
		return;
	if (self->mem)
		munmap(self->mem, self->mem_len);
	if (self->fd >= 0)
		close(self->fd);
	kvm_vm_free(self->vm);
	trace_stop();
	free(self->args);
}

/* Events of @event for this file in @buf, the first's arguments in args[0]. */
static int file_events(unsigned long ino, char (*args)[ARGS_LEN],
		       const char *buf, const char *event)
{
	return trace_find(buf, event, "ino", ino, args);
}

static void bind_slot(struct kvm_vm *vm, int fd, char *mem, u64 npages)
{
	vm_set_user_memory_region2(vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, npages * page_size,
				   mem + page_off(DATA_PGOFF), fd,
				   page_off(DATA_PGOFF));
}

static void unbind_slot(struct kvm_vm *vm, int fd)
{
	vm_set_user_memory_region2(vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, 0, NULL, fd, page_off(DATA_PGOFF));
}

TEST_F_TIMEOUT(gmem, create_release, TEST_TIMEOUT)
{
	char *buf = trace_read();
	char flags[64];

	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_create")) TH_LOG("%s", buf);
	EXPECT_EQ(getpid(), field(self->args[0], "vm_pid"));
	EXPECT_EQ(self->size, field(self->args[0], "size"));
	ASSERT_TRUE(field_str(self->args[0], "flags", flags, sizeof(flags)));
	EXPECT_STREQ("MMAP|INIT_SHARED", flags);
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_release"));
	free(buf);

	trace_clear();
	close(self->fd);
	self->fd = -1;
	/* The mapping holds the file: release comes with munmap(). */
	buf = trace_read();
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_release"));
	free(buf);
	munmap(self->mem, self->mem_len);
	self->mem = NULL;

	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_release")) TH_LOG("%s", buf);
	EXPECT_EQ(getpid(), field(self->args[0], "vm_pid"));
	EXPECT_EQ(self->size, field(self->args[0], "size"));
	EXPECT_TRUE(field_is(self->args[0], "flags", "MMAP|INIT_SHARED"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_create"));
	free(buf);
}

TEST_F_TIMEOUT(gmem, bind_unbind, TEST_TIMEOUT)
{
	char *buf;

	trace_clear();
	bind_slot(self->vm, self->fd, self->mem, 8);
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_bind")) TH_LOG("%s", buf);
	EXPECT_EQ(getpid(), field(self->args[0], "vm_pid"));
	EXPECT_EQ(DATA_SLOT, field(self->args[0], "slot"));
	EXPECT_EQ(DATA_GPA / page_size, field(self->args[0], "base_gfn"));
	EXPECT_EQ(DATA_PGOFF, field(self->args[0], "index"));
	EXPECT_EQ(8, field(self->args[0], "npages"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_unbind"));
	free(buf);

	/* Deleting the memslot unbinds it. */
	trace_clear();
	unbind_slot(self->vm, self->fd);
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_unbind")) TH_LOG("%s", buf);
	EXPECT_EQ(DATA_SLOT, field(self->args[0], "slot"));
	EXPECT_EQ(DATA_GPA / page_size, field(self->args[0], "base_gfn"));
	EXPECT_EQ(DATA_PGOFF, field(self->args[0], "index"));
	EXPECT_EQ(8, field(self->args[0], "npages"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_bind"));
	free(buf);

	/*
	 * Closing a bound file unbinds its memslots when it is released, and
	 * the memslot's deletion with the VM does not unbind it again.
	 */
	bind_slot(self->vm, self->fd, self->mem, 8);
	munmap(self->mem, self->mem_len);
	self->mem = NULL;
	trace_clear();
	close(self->fd);
	self->fd = -1;
	buf = trace_read();
	EXPECT_EQ(1, file_events(self->ino, self->args, buf, "gmem_release")) TH_LOG("%s", buf);
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_unbind")) TH_LOG("%s", buf);
	EXPECT_EQ(DATA_SLOT, field(self->args[0], "slot"));
	EXPECT_EQ(8, field(self->args[0], "npages"));
	free(buf);

	trace_clear();
	kvm_vm_free(self->vm);
	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	buf = trace_read();
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_unbind")) TH_LOG("%s", buf);
	free(buf);
}

TEST_F_TIMEOUT(gmem, host_faults, TEST_TIMEOUT)
{
	char *page = self->mem + page_off(2);
	char *buf;
	u64 pfn;

	/* First touch: served, allocated and zeroed. */
	trace_clear();
	WRITE_ONCE(page[0], 0x5a);
	pfn = pagemap_pfn(page);
	ASSERT_NE(0, pfn);
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_host_fault"))
		TH_LOG("%s", buf);
	EXPECT_TRUE(field_is(self->args[0], "result", "shared"));
	EXPECT_EQ(2, field(self->args[0], "index"));
	EXPECT_EQ(pfn, field(self->args[0], "pfn"));
	EXPECT_EQ(1, field(self->args[0], "zeroed"));
	EXPECT_EQ(1, field(self->args[0], "write"));
	EXPECT_EQ(getpid(), field(self->args[0], "vm_pid"));
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_folio_alloc"));
	EXPECT_EQ(2, field(self->args[0], "index"));
	EXPECT_EQ(pfn, field(self->args[0], "pfn"));
	EXPECT_EQ(0, field(self->args[0], "order"));
	free(buf);

	/* Mapped already: no fault, no event. */
	trace_clear();
	ASSERT_EQ(0x5a, READ_ONCE(page[0]));
	buf = trace_read();
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_host_fault"));
	free(buf);

	/* A private page: refused, nothing allocated. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(5), page_size,
				  ATTR_PRIVATE, NULL));
	trace_clear();
	ASSERT_TRUE(read_sigbus(self->mem + page_off(5)));
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_host_fault"))
		TH_LOG("%s", buf);
	EXPECT_TRUE(field_is(self->args[0], "result", "private"));
	EXPECT_EQ(5, field(self->args[0], "index"));
	EXPECT_EQ(0, field(self->args[0], "pfn"));
	EXPECT_EQ(0, field(self->args[0], "write"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_folio_alloc"));
	free(buf);

	/* Beyond the end of the file. */
	trace_clear();
	ASSERT_TRUE(read_sigbus(self->mem + self->size));
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_host_fault"))
		TH_LOG("%s", buf);
	EXPECT_TRUE(field_is(self->args[0], "result", "eof"));
	EXPECT_EQ(NR_PAGES, field(self->args[0], "index"));
	free(buf);

	/* A page allocated by fallocate() is zeroed by its first fault. */
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_KEEP_SIZE, page_off(8),
			       page_size));
	trace_clear();
	ASSERT_EQ(0, READ_ONCE(self->mem[page_off(8)]));
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_host_fault"));
	EXPECT_EQ(1, field(self->args[0], "zeroed"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_folio_alloc"));
	free(buf);
}

TEST_F_TIMEOUT(gmem, conversions, TEST_TIMEOUT)
{
	char *buf;
	int i;

	/* Pages 2-5 mapped by the host, 6 allocated but not mapped. */
	for (i = 2; i < 6; i++)
		WRITE_ONCE(self->mem[page_off(i)], i);
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_KEEP_SIZE, page_off(6),
			       page_size));
	bind_slot(self->vm, self->fd, self->mem, 8);

	trace_clear();
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(1), 10 * page_size,
				  ATTR_PRIVATE, NULL));
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert")) TH_LOG("%s", buf);
	EXPECT_EQ(getpid(), field(self->args[0], "vm_pid"));
	EXPECT_EQ(1, field(self->args[0], "index"));
	EXPECT_EQ(10, field(self->args[0], "npages"));
	EXPECT_TRUE(field_is(self->args[0], "to", "private"));
	EXPECT_EQ(0, field_signed(self->args[0], "ret"));
	EXPECT_LT(0, field(self->args[0], "duration_ns"));
	EXPECT_EQ(5, field(self->args[0], "folios"));
	EXPECT_EQ(5, field(self->args[0], "pages"));
	EXPECT_EQ(4, field(self->args[0], "unmapped"));
	EXPECT_EQ(1, field(self->args[0], "zapped"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_convert_denied"));
	free(buf);

	/* Back to shared: nothing to examine or unmap. */
	trace_clear();
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(1), 10 * page_size,
				  ATTR_SHARED, NULL));
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert")) TH_LOG("%s", buf);
	EXPECT_TRUE(field_is(self->args[0], "to", "shared"));
	EXPECT_EQ(0, field_signed(self->args[0], "ret"));
	EXPECT_EQ(0, field(self->args[0], "folios"));
	EXPECT_EQ(0, field(self->args[0], "unmapped"));
	EXPECT_EQ(1, field(self->args[0], "zapped"));
	free(buf);

	/*
	 * Only what changes state is examined: with pages 2-3 private, a
	 * conversion of pages 1-10 to private looks at the allocated shared
	 * pages 4-6 alone, and converting them again looks at nothing.
	 */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(2), 2 * page_size,
				  ATTR_PRIVATE, NULL));
	trace_clear();
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(1), 10 * page_size,
				  ATTR_PRIVATE, NULL));
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(1), 10 * page_size,
				  ATTR_PRIVATE, NULL));
	buf = trace_read();
	ASSERT_EQ(2, file_events(self->ino, self->args, buf, "gmem_convert")) TH_LOG("%s", buf);
	EXPECT_EQ(0, field_signed(self->args[0], "ret"));
	EXPECT_EQ(3, field(self->args[0], "folios"));
	EXPECT_EQ(3, field(self->args[0], "pages"));
	EXPECT_EQ(0, field_signed(self->args[1], "ret"));
	EXPECT_EQ(0, field(self->args[1], "folios"));
	free(buf);
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(1), 10 * page_size,
				  ATTR_SHARED, NULL));

	/* A range outside the memslot zaps nothing. */
	trace_clear();
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(12), 2 * page_size,
				  ATTR_PRIVATE, NULL));
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert")) TH_LOG("%s", buf);
	EXPECT_EQ(12, field(self->args[0], "index"));
	EXPECT_EQ(0, field(self->args[0], "zapped"));
	EXPECT_EQ(0, field(self->args[0], "folios"));
	free(buf);
}

TEST_F_TIMEOUT(gmem, convert_refused_input, TEST_TIMEOUT)
{
	char *buf;

	WRITE_ONCE(self->mem[0], 1);
	trace_clear();
	ASSERT_EQ(EINVAL, gmem_convert(self->fd, page_off(1) + 1, page_size,
				       ATTR_PRIVATE, NULL));
	ASSERT_EQ(EINVAL, gmem_convert(self->fd, 0, self->size + page_size,
				       ATTR_PRIVATE, NULL));
	buf = trace_read();
	ASSERT_EQ(2, file_events(self->ino, self->args, buf, "gmem_convert")) TH_LOG("%s", buf);
	EXPECT_EQ(-EINVAL, field_signed(self->args[0], "ret"));
	EXPECT_EQ(-EINVAL, field_signed(self->args[1], "ret"));
	EXPECT_EQ(NR_PAGES + 1, field(self->args[1], "npages"));
	EXPECT_EQ(0, field(self->args[1], "folios"));
	EXPECT_EQ(0, field(self->args[1], "unmapped"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_convert_denied"));
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_host_fault"));
	free(buf);
	/* Nothing changed: page 0 is still mapped and shared. */
	EXPECT_NE(0, pagemap_pfn(self->mem));
}

TEST_F_TIMEOUT(gmem, denied_pinned, TEST_TIMEOUT)
{
	struct pin_longterm_test pin = {
		.addr = (uintptr_t)(self->mem + page_off(5)),
		.size = page_size,
	};
	char zone[32];
	u64 err_off, pfn;
	char *buf;
	int gup_fd, i;

	gup_fd = open(GUP_TEST_FILE, O_RDWR);
	if (gup_fd < 0)
		SKIP(return, "%s: %s", GUP_TEST_FILE, strerror(errno));

	for (i = 0; i < NR_PAGES; i++)
		WRITE_ONCE(self->mem[page_off(i)], i);
	/* Page 6 private: the range below has shared runs 2-5 and 7. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(6), page_size,
				  ATTR_PRIVATE, NULL));
	pfn = pagemap_pfn(self->mem + page_off(5));
	ASSERT_NE(0, pfn);
	ASSERT_NE(0, pagemap_pfn(self->mem + page_off(7)));
	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_START, &pin))
		TH_LOG("PIN_LONGTERM_TEST_START: %s", strerror(errno));

	trace_clear();
	ASSERT_EQ(EAGAIN, gmem_convert(self->fd, page_off(2), 6 * page_size,
				       ATTR_PRIVATE, &err_off));
	ASSERT_EQ(page_off(5), err_off);
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert_denied"))
		TH_LOG("%s", buf);
	EXPECT_EQ(getpid(), field(self->args[0], "vm_pid"));
	EXPECT_EQ(5, field(self->args[0], "index"));
	EXPECT_EQ(pfn, field(self->args[0], "pfn"));
	EXPECT_TRUE(field_is(self->args[0], "reason", "pinned"));
	EXPECT_EQ(1, field(self->args[0], "pincount"));
	/*
	 * The page cache's reference and the checker's, and the pin's bias;
	 * a pinned folio is refused before the LRU batches are drained, so
	 * one of them may still hold the folio too.
	 */
	EXPECT_EQ(2, field(self->args[0], "expected"));
	EXPECT_LE(2 + 1024, field(self->args[0], "refcount"));
	EXPECT_GE(2 + 1024 + 1, field(self->args[0], "refcount"));
	EXPECT_EQ(0, field(self->args[0], "mapcount"));
	EXPECT_EQ(0, field(self->args[0], "order"));
	ASSERT_TRUE(field_str(self->args[0], "zone", zone, sizeof(zone)));
	EXPECT_TRUE(!strcmp(zone, "Normal") || !strcmp(zone, "DMA32"))
		TH_LOG("zone=%s", zone);

	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert"));
	EXPECT_EQ(-EAGAIN, field_signed(self->args[0], "ret"));
	EXPECT_EQ(5, field(self->args[0], "error_index"));
	/*
	 * Pages 2-5 examined, in order, before the denial; the host's
	 * mappings of every shared page of the range removed first, page 7's
	 * too, although the denial came in the run before it.
	 */
	EXPECT_EQ(4, field(self->args[0], "folios"));
	EXPECT_EQ(5, field(self->args[0], "unmapped"));
	EXPECT_EQ(0, pagemap_pfn(self->mem + page_off(7)));
	free(buf);

	/* Unpinned, the same conversion goes through without a denial. */
	ASSERT_EQ(0, ioctl(gup_fd, PIN_LONGTERM_TEST_STOP));
	trace_clear();
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(2), 6 * page_size,
				  ATTR_PRIVATE, NULL));
	buf = trace_read();
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_convert_denied"));
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert"));
	EXPECT_EQ(0, field_signed(self->args[0], "ret"));
	/* The host's mappings went with the refused attempt. */
	EXPECT_EQ(0, field(self->args[0], "unmapped"));
	/* The shared pages 2-5 and 7; page 6 was private already. */
	EXPECT_EQ(5, field(self->args[0], "folios"));
	free(buf);
	close(gup_fd);
}

TEST_F_TIMEOUT(gmem, denied_referenced, TEST_TIMEOUT)
{
	struct iovec iov = {
		.iov_base = self->mem + page_off(3),
		.iov_len = page_size,
	};
	u64 err_off, pfn;
	char *buf, *drain;
	int pipefd[2];

	WRITE_ONCE(self->mem[page_off(3)], 3);
	pfn = pagemap_pfn(self->mem + page_off(3));
	ASSERT_NE(0, pfn);

	/* The pipe holds a reference to the page (no pin). */
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(page_size, vmsplice(pipefd[1], &iov, 1, 0))
		TH_LOG("vmsplice: %s", strerror(errno));

	trace_clear();
	ASSERT_EQ(EAGAIN, gmem_convert(self->fd, 0, self->size, ATTR_PRIVATE,
				       &err_off));
	ASSERT_EQ(page_off(3), err_off);
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert_denied"))
		TH_LOG("%s", buf);
	EXPECT_EQ(3, field(self->args[0], "index"));
	EXPECT_EQ(pfn, field(self->args[0], "pfn"));
	EXPECT_TRUE(field_is(self->args[0], "reason", "referenced"));
	EXPECT_EQ(0, field(self->args[0], "pincount"));
	EXPECT_EQ(2, field(self->args[0], "expected"));
	EXPECT_EQ(3, field(self->args[0], "refcount"));
	EXPECT_EQ(0, field(self->args[0], "mapcount"));
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_convert"));
	EXPECT_EQ(-EAGAIN, field_signed(self->args[0], "ret"));
	EXPECT_EQ(3, field(self->args[0], "error_index"));
	free(buf);

	/* Drained, the pipe lets go and the conversion goes through. */
	drain = malloc(page_size);
	ASSERT_NE(NULL, drain);
	ASSERT_EQ(page_size, read(pipefd[0], drain, page_size));
	EXPECT_EQ(3, drain[0]);
	free(drain);
	close(pipefd[0]);
	close(pipefd[1]);
	trace_clear();
	ASSERT_EQ(0, gmem_convert(self->fd, 0, self->size, ATTR_PRIVATE,
				  NULL));
	buf = trace_read();
	EXPECT_EQ(0, file_events(self->ino, self->args, buf, "gmem_convert_denied"));
	free(buf);
}

TEST_F_TIMEOUT(gmem, punch_hole, TEST_TIMEOUT)
{
	u64 pfn[3];
	char *buf;
	int i, n;

	for (i = 0; i < 3; i++) {
		WRITE_ONCE(self->mem[page_off(4 + i)], i);
		pfn[i] = pagemap_pfn(self->mem + page_off(4 + i));
		ASSERT_NE(0, pfn[i]);
	}
	/* Page 5 private: its folio goes too. */
	ASSERT_EQ(0, gmem_convert(self->fd, page_off(5), page_size,
				  ATTR_PRIVATE, NULL));

	trace_clear();
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, page_off(3),
			       5 * page_size));
	buf = trace_read();
	ASSERT_EQ(1, file_events(self->ino, self->args, buf, "gmem_punch_hole"))
		TH_LOG("%s", buf);
	EXPECT_EQ(3, field(self->args[0], "index"));
	EXPECT_EQ(5, field(self->args[0], "npages"));
	for (i = 0; i < 3; i++) {
		n = trace_find(buf, "gmem_folio_free", "pfn", pfn[i],
			       self->args);
		EXPECT_EQ(1, n) TH_LOG("pfn 0x%llx: %s",
				       (unsigned long long)pfn[i], buf);
		if (n == 1) {
			EXPECT_EQ(4 + i, field(self->args[0], "index"));
			EXPECT_EQ(0, field(self->args[0], "order"));
		}
	}
	/* Nothing else left the file, nor any other. */
	EXPECT_EQ(3, trace_find(buf, "gmem_folio_free", NULL, 0, self->args));
	free(buf);
}

TEST_F_TIMEOUT(gmem, migrate, TEST_TIMEOUT)
{
	char *page = self->mem + page_off(1);
	int node = -1, status = INT_MIN, target;
	u64 old_pfn, new_pfn;
	void *addr = page;
	char *buf;
	long r;

	if (access(NODE1_PATH, F_OK))
		SKIP(return, "needs two NUMA nodes");

	WRITE_ONCE(page[0], 0x42);
	old_pfn = pagemap_pfn(page);
	ASSERT_NE(0, old_pfn);
	ASSERT_EQ(0, syscall(__NR_move_pages, 0, 1, &addr, NULL, &node, 0));
	target = node ? 0 : 1;

	trace_clear();
	r = syscall(__NR_move_pages, 0, 1, &addr, &target, &status, 0);
	ASSERT_EQ(0, r) TH_LOG("move_pages: %ld %s", r, strerror(errno));
	ASSERT_EQ(target, status);
	new_pfn = pagemap_pfn(page);
	ASSERT_NE(old_pfn, new_pfn);

	buf = trace_read();
	ASSERT_EQ(1, trace_find(buf, "gmem_migrate", "ino", self->ino,
				self->args)) TH_LOG("%s", buf);
	EXPECT_TRUE(field_is(self->args[0], "result", "moved"));
	EXPECT_EQ(1, field(self->args[0], "index"));
	EXPECT_EQ(old_pfn, field(self->args[0], "src_pfn"));
	EXPECT_EQ(new_pfn, field(self->args[0], "dst_pfn"));
	EXPECT_EQ(0, field_signed(self->args[0], "ret"));
	free(buf);
	EXPECT_EQ(0x42, READ_ONCE(page[0]));
}

/* ---- A vCPU faulting a private page of the file ---- */

static void guest_code(u64 gva)
{
	GUEST_SYNC(READ_ONCE(*(u64 *)gva));
	GUEST_DONE();
}

TEST(kvm_fault)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	char (*args)[ARGS_LEN] = calloc(MAX_EVENTS, ARGS_LEN);
	u64 gpa = DATA_GPA + GUEST_PAGE * page_size;
	size_t size = NR_PAGES * page_size;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	unsigned long ino;
	char *mem, *buf;
	int fd;

	if (!have_gmem_events())
		SKIP(return, "no gmem events in " TRACEFS);
	ASSERT_NE(NULL, args);

	vm = vm_create_shape_with_one_vcpu(shape, &vcpu, guest_code);
	fd = vm_create_guest_memfd(vm, size, GMEM_FLAGS);
	ino = file_ino(fd);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	vm_set_user_memory_region2(vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, size - page_off(DATA_PGOFF),
				   mem + page_off(DATA_PGOFF), fd,
				   page_off(DATA_PGOFF));
	virt_map(vm, DATA_GPA, DATA_GPA, NR_PAGES - DATA_PGOFF);
	vcpu_args_set(vcpu, 1, gpa);
	ASSERT_EQ(0, gmem_convert(fd, 0, size, ATTR_PRIVATE, NULL));

	trace_start();
	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_SYNC, get_ucall(vcpu, &uc));
	/* A private page the guest never wrote reads as zero. */
	EXPECT_EQ(0, uc.args[1]);
	buf = trace_read();
	ASSERT_EQ(1, trace_find(buf, "gmem_kvm_fault", "ino", ino, args))
		TH_LOG("%s", buf);
	EXPECT_EQ(getpid(), field(args[0], "vm_pid"));
	EXPECT_EQ(gpa / page_size, field(args[0], "gfn"));
	EXPECT_EQ(DATA_PGOFF + GUEST_PAGE, field(args[0], "index"));
	EXPECT_EQ(0, field_signed(args[0], "ret"));
	EXPECT_EQ(1, field(args[0], "prepared"));
	EXPECT_EQ(0, field(args[0], "order"));
	EXPECT_NE(0, field(args[0], "pfn"));
	/* guest_memfd allocated it for the guest, not the host. */
	ASSERT_EQ(1, trace_find(buf, "gmem_folio_alloc", "ino", ino, args));
	EXPECT_EQ(DATA_PGOFF + GUEST_PAGE, field(args[0], "index"));
	EXPECT_EQ(0, trace_find(buf, "gmem_host_fault", "ino", ino, args));
	free(buf);

	vcpu_run(vcpu);
	EXPECT_EQ(UCALL_DONE, get_ucall(vcpu, &uc));
	trace_stop();

	kvm_vm_free(vm);
	munmap(mem, size);
	close(fd);
	free(args);
}

int main(int argc, char **argv)
{
	page_size = getpagesize();
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) &
		     GUEST_MEMFD_FLAG_MMAP);
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));
	return test_harness_run(argc, argv);
}
