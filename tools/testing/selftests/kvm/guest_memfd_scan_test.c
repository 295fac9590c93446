// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_GUEST_MEMFD_SCAN: what each page of a guest_memfd is.
 *
 * The ioctl, issued on a guest_memfd, returns the pages of a range that
 * match category masks as coalesced regions {start, end, categories}, or
 * counts them per category (KVM_GMEM_SCAN_SUMMARY), and says in walk_end
 * where the walk stopped.  These tests hold its answers against what they
 * did to the pages: shared or private (KVM_SET_MEMORY_ATTRIBUTES2),
 * allocated (a host touch, fallocate(), a guest fault), mapped (the host's
 * page tables, of any process), pinned (a GUP pin from gup_test, a page
 * reference held by a pipe) and DMA-pinned (the GUP pin).
 *
 * Every query pre-fills its buffer with 0xa5 and checks that the kernel
 * wrote the entries it reported and no other byte, and that it changed no
 * field of the argument but walk_end.
 *
 * The tests, all on KVM_X86_SW_PROTECTED_VM:
 *
 * - capability: KVM_CAP_GUEST_MEMFD_SCAN reports the categories, on
 *   /dev/kvm and on VMs;
 * - not_mmap_all_private: a guest_memfd without GUEST_MEMFD_FLAG_MMAP, and
 *   one with it but without INIT_SHARED, report every page private;
 * - categories: each category provoked and seen on exactly its pages: a
 *   page mapped by a child only, a pinned page a refused conversion
 *   unmapped, a pinned page punched out of the file, a vec inside the
 *   file's own mapping;
 * - no_false_hwpoison: a small folio is not HWPOISON because the page after
 *   it in memory has PG_active (which a large folio's second page uses for
 *   "has a poisoned page");
 * - masks: category_mask, category_inverted, category_anyof_mask,
 *   return_mask, max_pages and vec_len on a known layout, resuming from
 *   walk_end, and the edge cases that are accepted;
 * - bad_inputs: every malformed request is refused with its errno, writes
 *   neither vec nor walk_end and changes no page;
 * - model: model-based and randomized: thousands of random steps
 *   (conversions, fallocate, punch hole, mmap and touch, munmap,
 *   MADV_DONTNEED, GUP pins and unpins, vmsplice and pipe drains) on two
 *   mappings of a file; after each step a full query, a summary and a
 *   random query (random masks, max_pages and vec_len, resumed from
 *   walk_end until the range is covered) are compared with a userspace
 *   model of every page;
 * - concurrent: threads convert, touch, punch, allocate and pin while two
 *   others query; every answer must be well-formed;
 * - guest_fault: a vCPU's access allocates a private page (neither mapped
 *   nor pinned) and maps a shared one in the host's page tables.
 *
 * The random tests take their seed from the clock, or from GMEM_SCAN_SEED=N
 * or --seed N; it is printed at the start and in their failure messages,
 * and replays the model test step for step.  GMEM_SCAN_STEPS=N sets the
 * model test's number of steps (default MODEL_STEPS).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/falloc.h>

#include "kselftest_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "processor.h"
#include "ucall_common.h"
#include "../../../../mm/gup_test.h"

#define NR_PAGES		16	/* the directed tests' file */
#define MODEL_PAGES		64	/* the model and concurrent tests' file */
#define MAX_PAGES		64	/* the largest file of any test */
#define MODEL_STEPS		3000
#define TEST_TIMEOUT		300

#define GMEM_FLAGS		(GUEST_MEMFD_FLAG_MMAP | \
				 GUEST_MEMFD_FLAG_INIT_SHARED)
#define ATTR_PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define ATTR_SHARED		0ULL

#define CAT_PRIVATE		KVM_GMEM_PAGE_PRIVATE
#define CAT_SHARED		KVM_GMEM_PAGE_SHARED
#define CAT_ALLOC		KVM_GMEM_PAGE_ALLOCATED
#define CAT_MAPPED		KVM_GMEM_PAGE_MAPPED
#define CAT_PINNED		KVM_GMEM_PAGE_PINNED
#define CAT_DMA			KVM_GMEM_PAGE_DMA_PINNED
#define CAT_MOVABLE		KVM_GMEM_PAGE_MOVABLE
#define CAT_HWPOISON		KVM_GMEM_PAGE_HWPOISON
/* What KVM_CAP_GUEST_MEMFD_SCAN must report: all but HUGE. */
#define CAT_ALL			(CAT_PRIVATE | CAT_SHARED | CAT_ALLOC | \
				 CAT_MAPPED | CAT_PINNED | CAT_DMA | \
				 CAT_MOVABLE | CAT_HWPOISON)
/* The categories of a page the tests can provoke. */
#define CAT_USEFUL		(CAT_PRIVATE | CAT_SHARED | CAT_ALLOC | \
				 CAT_MAPPED | CAT_PINNED | CAT_DMA)
#define SUMMARY			KVM_GMEM_SCAN_SUMMARY
#define SUMMARY_MAX		64	/* counters of a summary */

/* Page states of the directed tests' expectations. */
#define S			CAT_SHARED
#define P			CAT_PRIVATE
#define SA			(CAT_SHARED | CAT_ALLOC)
#define PA			(CAT_PRIVATE | CAT_ALLOC)
#define SAM			(SA | CAT_MAPPED)

#define FILL			0xa5
#define WALK_END_POISON		0x5a5a5a5a5a5a5a5aULL
#define VEC_MAX			(2 * MAX_PAGES)	/* random queries' vec_len */
#define VEC_SLACK		8	/* entries checked beyond vec_len */
#define MSG_LEN			8192
#define CATS_LEN		96

#define DATA_SLOT		10
#define DATA_GPA		BIT_ULL(32)
#define GUP_TEST_FILE		"/sys/kernel/debug/gup_test"

static size_t page_size;
static unsigned int seed;
static unsigned long model_steps = MODEL_STEPS;

/* ---- A random number generator that replays from the seed ---- */

struct rng {
	u64 state;
};

/* splitmix64 */
static u64 rng_next(struct rng *r)
{
	u64 z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Stream @stream of the seed: each test and thread has its own. */
static struct rng rng_init(unsigned int stream)
{
	struct rng r = { .state = (u64)seed << 32 | stream };

	rng_next(&r);
	return r;
}

/* A number in [0, @n). */
static u32 rng_below(struct rng *r, u32 n)
{
	return rng_next(r) % n;
}

static bool rng_chance(struct rng *r, u32 percent)
{
	return rng_below(r, 100) < percent;
}

/* Each bit of @mask with probability 1/4. */
static u64 rng_sparse(struct rng *r, u64 mask)
{
	return rng_next(r) & rng_next(r) & mask;
}

/* A range of the @nr pages: mostly short, sometimes up to the end. */
static void rng_range(struct rng *r, int nr, int *first, int *count)
{
	int left;

	*first = rng_below(r, nr);
	left = nr - *first;
	if (left > 8 && rng_chance(r, 85))
		left = 8;
	*count = 1 + rng_below(r, left);
}

/* ---- Messages ---- */

/* Writes the reason of a failure into @msg; returns false. */
static bool __printf(2, 3) failf(char *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, MSG_LEN, fmt, ap);
	va_end(ap);
	return false;
}

/* Appends to the failure reason in @msg. */
static void __printf(2, 3) appendf(char *msg, const char *fmt, ...)
{
	size_t len = strlen(msg);
	va_list ap;

	if (len >= MSG_LEN - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(msg + len, MSG_LEN - len, fmt, ap);
	va_end(ap);
}

static const char * const cat_names[] = {
	"PRIVATE", "SHARED", "ALLOCATED", "HUGE", "MAPPED", "PINNED",
	"DMA_PINNED", "MOVABLE", "HWPOISON",
};

/* @cats as "SHARED|ALLOCATED", in @buf of CATS_LEN bytes. */
static const char *cats_str(u64 cats, char *buf)
{
	size_t len = 0;
	unsigned int b;

	buf[0] = '\0';
	for (b = 0; b < ARRAY_SIZE(cat_names); b++) {
		if (cats & BIT_ULL(b))
			len += snprintf(buf + len, CATS_LEN - len, "%s%s",
					len ? "|" : "", cat_names[b]);
	}
	cats &= ~GENMASK_ULL(ARRAY_SIZE(cat_names) - 1, 0);
	if (cats)
		snprintf(buf + len, CATS_LEN - len, "%s0x%lx",
			 len ? "|" : "", cats);
	else if (!len)
		snprintf(buf, CATS_LEN, "0");
	return buf;
}

/* ---- SIGBUS-safe host accesses, one jump buffer per thread ---- */

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

/*
 * Reads or writes the byte at @addr; returns true if that raised SIGBUS.
 * A SIGBUS at another address is a test failure.
 */
static bool access_sigbus(void *addr, bool write)
{
	if (sigsetjmp(sigbus_env, 1)) {
		WRITE_ONCE(sigbus_armed, 0);
		TEST_ASSERT(sigbus_addr == addr,
			    "SIGBUS at %p while accessing %p", sigbus_addr, addr);
		return true;
	}
	WRITE_ONCE(sigbus_armed, 1);
	if (write)
		WRITE_ONCE(*(u8 *)addr, 0x42);
	else
		(void)READ_ONCE(*(u8 *)addr);
	WRITE_ONCE(sigbus_armed, 0);
	return false;
}

/* ---- guest_memfd ---- */

static u64 page_off(int idx)
{
	return (u64)idx * page_size;
}

/* Converts pages [@first, @first + @nr); returns 0 or the errno. */
static int gmem_convert(int fd, int first, int nr, u64 attributes,
			u64 *error_offset)
{
	struct kvm_memory_attributes2 attr = {
		.offset = page_off(first),
		.size = page_off(nr),
		.attributes = attributes,
		.error_offset = ~0ULL,
	};
	int r;

	r = ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr) ? errno : 0;
	if (error_offset)
		*error_offset = attr.error_offset;
	return r;
}

static int gmem_fallocate(int fd, int first, int nr, bool punch)
{
	int mode = FALLOC_FL_KEEP_SIZE | (punch ? FALLOC_FL_PUNCH_HOLE : 0);

	return fallocate(fd, mode, page_off(first), page_off(nr)) ? errno : 0;
}

static char *gmem_mmap(int fd, int nr)
{
	return mmap(NULL, page_off(nr), PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
}

static struct kvm_vm *create_vm(void)
{
	return vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
}

/* A pin session of gup_test (one at a time, system-wide); 0 or errno. */
static int gup_pin(int gup_fd, void *addr, int nr)
{
	struct pin_longterm_test pin = {
		.addr = (uintptr_t)addr,
		.size = page_off(nr),
	};

	return ioctl(gup_fd, PIN_LONGTERM_TEST_START, &pin) ? errno : 0;
}

static int gup_unpin(int gup_fd)
{
	return ioctl(gup_fd, PIN_LONGTERM_TEST_STOP) ? errno : 0;
}

/* gup_test's fd, with no pin session left over; -1 if there is none. */
static int gup_open(void)
{
	int fd = open(GUP_TEST_FILE, O_RDWR);

	if (fd >= 0)
		TEST_ASSERT(!gup_unpin(fd), "PIN_LONGTERM_TEST_STOP");
	return fd;
}

/* Puts a reference to the page at @addr in the pipe; 0 or errno. */
static int pipe_splice(int wfd, void *addr)
{
	struct iovec iov = { .iov_base = addr, .iov_len = page_size };
	ssize_t r = vmsplice(wfd, &iov, 1, SPLICE_F_NONBLOCK);

	if (r < 0)
		return errno;
	TEST_ASSERT(r == (ssize_t)page_size, "vmsplice: %zd bytes", r);
	return 0;
}

/* Reads @nr pages out of the pipe, releasing its references. */
static void pipe_drain(int rfd, int nr)
{
	static __thread char buf[65536];
	size_t left = page_off(nr);
	ssize_t r;

	while (left) {
		r = read(rfd, buf, left < sizeof(buf) ? left : sizeof(buf));
		TEST_ASSERT(r > 0, "read(pipe): %zd %s", r, strerror(errno));
		left -= r;
	}
}

/* ---- KVM_GUEST_MEMFD_SCAN ---- */

struct query {
	u64 flags;
	u64 start;
	u64 end;
	u64 vec_len;
	u64 max_pages;
	u64 inverted;
	u64 mask;
	u64 anyof;
	u64 ret_mask;
};

struct result {
	int ret;		/* ioctl()'s value, or -errno */
	u64 walk_end;
	int nr;			/* regions */
	struct kvm_guest_memfd_region reg[MAX_PAGES];
	u64 counts[SUMMARY_MAX];
};

/* The caller's vec, with room to spot writes beyond what was reported. */
struct vecbuf {
	union {
		struct kvm_guest_memfd_region reg[VEC_MAX + VEC_SLACK];
		u64 counts[VEC_MAX + VEC_SLACK];
	};
};

static struct kvm_guest_memfd_scan query_arg(const struct query *q,
					     void *vec)
{
	return (struct kvm_guest_memfd_scan) {
		.size = sizeof(struct kvm_guest_memfd_scan),
		.flags = q->flags,
		.start = q->start,
		.end = q->end,
		.walk_end = WALK_END_POISON,
		.vec = (uintptr_t)vec,
		.vec_len = q->vec_len,
		.max_pages = q->max_pages,
		.category_inverted = q->inverted,
		.category_mask = q->mask,
		.category_anyof_mask = q->anyof,
		.return_mask = q->ret_mask,
	};
}

static int gmem_scan(int fd, struct kvm_guest_memfd_scan *arg)
{
	int r = ioctl(fd, KVM_GUEST_MEMFD_SCAN, arg);

	return r < 0 ? -errno : r;
}

static const char *query_str(const struct query *q, char *buf, size_t len)
{
	char inv[CATS_LEN], mask[CATS_LEN], anyof[CATS_LEN], ret[CATS_LEN];

	snprintf(buf, len,
		 "%s [0x%lx, 0x%lx) vec_len %lu max_pages %lu inverted %s mask %s anyof %s return %s",
		 q->flags & SUMMARY ? "summary" : "regions", q->start, q->end,
		 q->vec_len, q->max_pages, cats_str(q->inverted, inv),
		 cats_str(q->mask, mask), cats_str(q->anyof, anyof),
		 cats_str(q->ret_mask, ret));
	return buf;
}

/* Appends @res (regions or counts) to @msg. */
static void append_result(char *msg, const char *what, const struct query *q,
			  const struct result *res)
{
	char cats[CATS_LEN];
	int i;

	appendf(msg, "\n#   %s: ret %d walk_end 0x%lx", what, res->ret,
		res->walk_end);
	if (res->ret < 0)
		return;
	if (q->flags & SUMMARY) {
		for (i = 0; i < (int)q->vec_len && i < SUMMARY_MAX; i++) {
			if (res->counts[i])
				appendf(msg, " %s=%lu",
					cats_str(BIT_ULL(i), cats),
					res->counts[i]);
		}
		return;
	}
	for (i = 0; i < res->nr; i++)
		appendf(msg, "\n#     [0x%llx, 0x%llx) %s", res->reg[i].start,
			res->reg[i].end, cats_str(res->reg[i].categories, cats));
}

static bool all_fill(const void *buf, size_t len, size_t *first)
{
	const u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != FILL) {
			*first = i;
			return false;
		}
	}
	return true;
}

/*
 * Runs @q on @fd with @vb, pre-filled with FILL, as vec; fills @res.
 * Returns false, with the reason in @msg, if the kernel wrote what it must
 * not: a field of the argument but walk_end, or walk_end on error, a byte
 * of vec beyond what it reported, or any on error.
 */
static bool run_query(int fd, const struct query *q, struct vecbuf *vb,
		      struct result *res, char *msg)
{
	struct kvm_guest_memfd_scan arg = query_arg(q, vb), before = arg;
	char qs[512];
	size_t written = 0, bad;

	memset(vb, FILL, sizeof(*vb));
	memset(res, 0, sizeof(*res));
	res->ret = gmem_scan(fd, &arg);
	res->walk_end = arg.walk_end;
	arg.walk_end = before.walk_end;
	if (memcmp(&arg, &before, sizeof(arg)))
		return failf(msg, "%s: a field other than walk_end written",
			     query_str(q, qs, sizeof(qs)));

	if (res->ret < 0) {
		if (res->walk_end != WALK_END_POISON)
			return failf(msg, "%s: error %d, walk_end written",
				     query_str(q, qs, sizeof(qs)), res->ret);
	} else if (q->flags & SUMMARY) {
		if (res->ret || q->vec_len > SUMMARY_MAX)
			return failf(msg, "%s: summary returned %d",
				     query_str(q, qs, sizeof(qs)), res->ret);
		written = q->vec_len * sizeof(u64);
		memcpy(res->counts, vb->counts, written);
	} else {
		if (res->ret > (int)q->vec_len || res->ret > MAX_PAGES)
			return failf(msg, "%s: %d regions",
				     query_str(q, qs, sizeof(qs)), res->ret);
		res->nr = res->ret;
		written = res->nr * sizeof(res->reg[0]);
		memcpy(res->reg, vb->reg, written);
	}
	if (!all_fill((u8 *)vb + written, sizeof(*vb) - written, &bad))
		return failf(msg, "%s: ret %d, but vec written at byte %zu",
			     query_str(q, qs, sizeof(qs)), res->ret,
			     written + bad);
	return true;
}

static bool page_of_interest(u64 cats, const struct query *q)
{
	cats ^= q->inverted;
	return (cats & q->mask) == q->mask && (!q->anyof || cats & q->anyof);
}

/* What @q must return on a file whose page i is of categories @cats[i]. */
static void expect_query(const u64 *cats, const struct query *q,
			 struct result *exp)
{
	u64 max = q->max_pages ? q->max_pages : ~0ULL, found = 0, off, c;
	struct kvm_guest_memfd_region *last;
	int b;

	memset(exp, 0, sizeof(*exp));
	exp->walk_end = q->end;
	for (off = q->start; off < q->end; off += page_size) {
		c = cats[off / page_size];
		if (!page_of_interest(c, q))
			continue;
		if (found == max) {
			exp->walk_end = off;
			break;
		}
		c &= q->ret_mask;
		if (q->flags & SUMMARY) {
			for (b = 0; b < SUMMARY_MAX; b++)
				exp->counts[b] += !!(c & BIT_ULL(b));
			found++;
			continue;
		}
		last = exp->nr ? &exp->reg[exp->nr - 1] : NULL;
		if (last && last->end == off && last->categories == c) {
			last->end += page_size;
		} else {
			if (exp->nr == (int)q->vec_len) {
				exp->walk_end = off;
				break;
			}
			last = &exp->reg[exp->nr++];
			last->start = off;
			last->end = off + page_size;
			last->categories = c;
		}
		found++;
	}
	exp->ret = q->flags & SUMMARY ? 0 : exp->nr;
}

static bool same_result(const struct query *q, const struct result *a,
			const struct result *b)
{
	if (a->ret != b->ret || a->walk_end != b->walk_end)
		return false;
	if (q->flags & SUMMARY)
		return !memcmp(a->counts, b->counts,
			       q->vec_len * sizeof(a->counts[0]));
	return a->nr == b->nr &&
	       !memcmp(a->reg, b->reg, a->nr * sizeof(a->reg[0]));
}

/* Compares @res with what @cats say @q must return. */
static bool check_exact(const u64 *cats, const struct query *q,
			const struct result *res, char *msg)
{
	struct result exp;
	char qs[512];

	expect_query(cats, q, &exp);
	if (same_result(q, res, &exp))
		return true;
	failf(msg, "%s: wrong answer", query_str(q, qs, sizeof(qs)));
	append_result(msg, "kernel", q, res);
	append_result(msg, "expected", q, &exp);
	return false;
}

/* Says, in @msg, what is wrong with the answer @res to @q; returns false. */
static bool __printf(4, 5) malformed(char *msg, const struct query *q,
				     const struct result *res,
				     const char *fmt, ...)
{
	char qs[512];
	size_t len;
	va_list ap;

	len = snprintf(msg, MSG_LEN, "%s: ", query_str(q, qs, sizeof(qs)));
	va_start(ap, fmt);
	vsnprintf(msg + len, MSG_LEN - len, fmt, ap);
	va_end(ap);
	append_result(msg, "kernel", q, res);
	return false;
}

/* Whether @q returns all of @cats. */
static bool returns(const struct query *q, u64 cats)
{
	return (q->ret_mask & cats) == cats;
}

static bool check_summary(const struct query *q, const struct result *res,
			  char *msg)
{
	u64 pages = (res->walk_end - q->start) / page_size, found;
	int i;

	for (i = 0; i < (int)q->vec_len; i++) {
		if (res->counts[i] && !(q->ret_mask & BIT_ULL(i)))
			return malformed(msg, q, res, "bit %d counted", i);
		if (res->counts[i] > pages)
			return malformed(msg, q, res, "bit %d: too many", i);
	}
	if (!returns(q, CAT_PRIVATE | CAT_SHARED) || q->vec_len < 2)
		return true;

	/* Each page is private or shared: the pages reported. */
	found = res->counts[0] + res->counts[1];
	if (found > pages || (q->max_pages && found > q->max_pages))
		return malformed(msg, q, res, "%lu pages", found);
	if (res->walk_end < q->end && found != q->max_pages)
		return malformed(msg, q, res, "stopped after %lu pages", found);
	if (!q->mask && !q->anyof && found != pages)
		return malformed(msg, q, res, "%lu pages of %lu", found, pages);
	if (q->vec_len > 4 && returns(q, CAT_ALLOC | CAT_MAPPED) &&
	    res->counts[4] > res->counts[2])
		return malformed(msg, q, res, "more mapped than allocated");
	return true;
}

/* What must hold of one region's categories @c. */
static bool check_region_cats(const struct query *q, u64 c, u64 cap)
{
	u64 x = c ^ q->inverted, known = q->mask & q->ret_mask;

	if (c & ~q->ret_mask || c & ~cap)
		return false;
	/* A page is private or shared, never both nor neither. */
	if (returns(q, CAT_PRIVATE | CAT_SHARED) &&
	    !(c & CAT_PRIVATE) == !(c & CAT_SHARED))
		return false;
	/* Not in this lab. */
	if (c & (CAT_MOVABLE | CAT_HWPOISON))
		return false;
	/* Only allocated pages are mapped or pinned. */
	if (c & (CAT_MAPPED | CAT_PINNED | CAT_DMA) &&
	    q->ret_mask & CAT_ALLOC && !(c & CAT_ALLOC))
		return false;
	/* A GUP pin is a reference. */
	if (c & CAT_DMA && q->ret_mask & CAT_PINNED && !(c & CAT_PINNED))
		return false;
	/* The host never maps a private page. */
	if (c & CAT_PRIVATE && c & CAT_MAPPED)
		return false;
	/* The masks, as far as the returned categories show. */
	if ((x & known) != known)
		return false;
	return !q->anyof || q->anyof & ~q->ret_mask || x & q->anyof;
}

/*
 * Checks what must hold of any answer, whatever the pages did meanwhile:
 * well-formed, sorted, coalesced regions within the range and walk_end,
 * categories that go together and match the masks, and walk_end short of
 * the end only if vec or max_pages ran out.
 */
static bool check_wellformed(const struct query *q, const struct result *res,
			     u64 cap, char *msg)
{
	bool all = !q->mask && !q->anyof;	/* every page of interest */
	u64 prev_end = q->start, found = 0;
	char cs[CATS_LEN];
	int i;

	if (res->ret < 0)
		return malformed(msg, q, res, "%s", strerror(-res->ret));
	if (res->walk_end < q->start || res->walk_end > q->end ||
	    res->walk_end % page_size)
		return malformed(msg, q, res, "walk_end");
	if (q->flags & SUMMARY)
		return check_summary(q, res, msg);

	for (i = 0; i < res->nr; i++) {
		const struct kvm_guest_memfd_region *r = &res->reg[i];

		if (r->start >= r->end || r->start % page_size ||
		    r->end % page_size)
			return malformed(msg, q, res, "region %d malformed", i);
		if (r->start < prev_end || r->end > res->walk_end)
			return malformed(msg, q, res,
					 "region %d out of order or range", i);
		if (i && r->start == prev_end &&
		    r->categories == res->reg[i - 1].categories)
			return malformed(msg, q, res,
					 "region %d not coalesced", i);
		if (all && r->start != prev_end)
			return malformed(msg, q, res,
					 "pages missing before region %d", i);
		if (!check_region_cats(q, r->categories, cap))
			return malformed(msg, q, res, "region %d: %s", i,
					 cats_str(r->categories, cs));
		found += (r->end - r->start) / page_size;
		prev_end = r->end;
	}
	if (q->max_pages && found > q->max_pages)
		return malformed(msg, q, res, "%lu pages reported", found);
	if (res->walk_end < q->end && res->nr != (int)q->vec_len &&
	    found != q->max_pages)
		return malformed(msg, q, res, "stopped early");
	if (all && prev_end != res->walk_end)
		return malformed(msg, q, res, "pages missing at the end");
	return true;
}

/*
 * The categories of each of the @nr pages of @fd, from one full query,
 * which must be well-formed and tile the file.
 */
static bool scan_pages(int fd, int nr, u64 cap, u64 *cats, char *msg)
{
	const struct query q = {
		.end = page_off(nr),
		.vec_len = VEC_MAX,
		.ret_mask = cap,
	};
	static __thread struct vecbuf vb;
	struct result res;
	u64 off;
	int i;

	if (!run_query(fd, &q, &vb, &res, msg) ||
	    !check_wellformed(&q, &res, cap, msg))
		return false;
	if (res.walk_end != q.end)
		return failf(msg, "full query stopped at 0x%lx", res.walk_end);
	for (i = 0; i < res.nr; i++) {
		for (off = res.reg[i].start; off < res.reg[i].end;
		     off += page_size)
			cats[off / page_size] = res.reg[i].categories;
	}
	return true;
}

/* ---- Directed tests ---- */

static u64 scan_cap(void)
{
	return kvm_check_cap(KVM_CAP_GUEST_MEMFD_SCAN);
}

/* Every page of @fd is as @exp says. */
static void __expect_layout(struct __test_metadata *_metadata, int fd,
			    int nr, const u64 *exp, int line)
{
	char msg[MSG_LEN], a[CATS_LEN], b[CATS_LEN];
	u64 cats[MAX_PAGES];
	int i;

	ASSERT_TRUE(scan_pages(fd, nr, CAT_ALL, cats, msg))
		TH_LOG("line %d: %s", line, msg);
	for (i = 0; i < nr; i++) {
		EXPECT_EQ(exp[i], cats[i])
			TH_LOG("line %d: page %d is %s, expected %s", line, i,
			       cats_str(cats[i], a), cats_str(exp[i], b));
	}
}

#define expect_layout(fd, nr, exp) \
	__expect_layout(_metadata, fd, nr, exp, __LINE__)

static void set_pages(u64 *exp, int first, int nr, u64 cats)
{
	int i;

	for (i = first; i < first + nr; i++)
		exp[i] = cats;
}

TEST(capability)
{
	struct kvm_vm *vm;

	ASSERT_EQ(CAT_ALL, scan_cap());
	EXPECT_FALSE(scan_cap() & KVM_GMEM_PAGE_HUGE);

	vm = vm_create_barebones();
	EXPECT_EQ(CAT_ALL, vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_SCAN));
	kvm_vm_free(vm);

	vm = create_vm();
	EXPECT_EQ(CAT_ALL, vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_SCAN));
	kvm_vm_free(vm);
}

TEST(not_mmap_all_private)
{
	struct kvm_vm *vm = create_vm();
	struct query q = {
		.end = page_off(NR_PAGES),
		.vec_len = VEC_MAX,
		.ret_mask = CAT_ALL,
	};
	struct vecbuf vb;
	struct result res;
	char msg[MSG_LEN];
	u64 exp[NR_PAGES];
	int fd;

	/* Created without GUEST_MEMFD_FLAG_MMAP: private, and stays so. */
	fd = vm_create_guest_memfd(vm, page_off(NR_PAGES), 0);
	set_pages(exp, 0, NR_PAGES, P);
	expect_layout(fd, NR_PAGES, exp);

	ASSERT_EQ(0, gmem_fallocate(fd, 3, 2, false));
	set_pages(exp, 3, 2, PA);
	expect_layout(fd, NR_PAGES, exp);
	EXPECT_EQ(EINVAL, gmem_convert(fd, 0, NR_PAGES, ATTR_SHARED, NULL));
	expect_layout(fd, NR_PAGES, exp);

	/* Not a page shared, whatever else the query asks. */
	q.mask = CAT_SHARED;
	ASSERT_TRUE(run_query(fd, &q, &vb, &res, msg)) TH_LOG("%s", msg);
	EXPECT_EQ(0, res.ret);
	EXPECT_EQ(q.end, res.walk_end);

	q.mask = 0;
	q.flags = SUMMARY;
	q.vec_len = SUMMARY_MAX;
	ASSERT_TRUE(run_query(fd, &q, &vb, &res, msg)) TH_LOG("%s", msg);
	EXPECT_EQ(0, res.ret);
	EXPECT_EQ(NR_PAGES, res.counts[0]);
	EXPECT_EQ(0, res.counts[1]);
	EXPECT_EQ(2, res.counts[2]);
	EXPECT_EQ(0, res.counts[4] + res.counts[5] + res.counts[6]);

	ASSERT_EQ(0, gmem_fallocate(fd, 0, NR_PAGES, true));
	set_pages(exp, 0, NR_PAGES, P);
	expect_layout(fd, NR_PAGES, exp);
	close(fd);

	/* With MMAP but not INIT_SHARED: private until converted. */
	fd = vm_create_guest_memfd(vm, page_off(NR_PAGES),
				   GUEST_MEMFD_FLAG_MMAP);
	expect_layout(fd, NR_PAGES, exp);
	ASSERT_EQ(0, gmem_convert(fd, 5, 1, ATTR_SHARED, NULL));
	exp[5] = S;
	expect_layout(fd, NR_PAGES, exp);
	close(fd);
	kvm_vm_free(vm);
}

/* A SW_PROTECTED VM with a shared-by-default guest_memfd, mapped. */
FIXTURE(gmem)
{
	struct kvm_vm *vm;
	int fd;
	char *mem;
	int gup_fd;
};

FIXTURE_SETUP(gmem)
{
	self->vm = create_vm();
	self->fd = vm_create_guest_memfd(self->vm, page_off(NR_PAGES),
					 GMEM_FLAGS);
	self->mem = gmem_mmap(self->fd, NR_PAGES);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->gup_fd = gup_open();
}

FIXTURE_TEARDOWN(gmem)
{
	if (self->gup_fd >= 0) {
		gup_unpin(self->gup_fd);
		close(self->gup_fd);
	}
	munmap(self->mem, page_off(NR_PAGES));
	close(self->fd);
	kvm_vm_free(self->vm);
}

static char *page_ptr(char *mem, int idx)
{
	return mem + page_off(idx);
}

TEST_F_TIMEOUT(gmem, categories, TEST_TIMEOUT)
{
	u64 exp[NR_PAGES], err_off, pinned = 0, dma = 0;
	int pipefd[2], to_child[2], to_parent[2], status, block, err;
	char *mem = self->mem;
	struct query q = {
		.end = page_off(NR_PAGES),
		.vec_len = 4,
		.ret_mask = CAT_ALL,
	};
	struct kvm_guest_memfd_region *reg;
	struct kvm_guest_memfd_scan arg;
	pid_t child;
	u8 c;

	if (self->gup_fd >= 0) {
		pinned = CAT_PINNED;
		dma = CAT_DMA;
	} else {
		TH_LOG("no %s: no GUP pins", GUP_TEST_FILE);
	}

	/* Shared holes. */
	set_pages(exp, 0, NR_PAGES, S);
	expect_layout(self->fd, NR_PAGES, exp);

	/* Touched; allocated only; touched then zapped; private. */
	ASSERT_FALSE(access_sigbus(page_ptr(mem, 1), true));
	ASSERT_EQ(0, gmem_fallocate(self->fd, 2, 1, false));
	ASSERT_FALSE(access_sigbus(page_ptr(mem, 3), false));
	ASSERT_EQ(0, madvise(page_ptr(mem, 3), page_size, MADV_DONTNEED));
	ASSERT_EQ(0, gmem_fallocate(self->fd, 5, 1, false));
	ASSERT_EQ(0, gmem_convert(self->fd, 4, 2, ATTR_PRIVATE, NULL));
	exp[1] = SAM;
	exp[2] = SA;
	exp[3] = SA;
	exp[4] = P;
	exp[5] = PA;
	expect_layout(self->fd, NR_PAGES, exp);

	/* GUP-pinned: pinned and DMA-pinned; in a pipe: pinned only. */
	if (self->gup_fd >= 0)
		err = gup_pin(self->gup_fd, page_ptr(mem, 6), 1);
	else
		err = access_sigbus(page_ptr(mem, 6), false) ? EFAULT : 0;
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe_splice(pipefd[1], page_ptr(mem, 7)));
	exp[6] = SAM | pinned | dma;
	exp[7] = SAM | CAT_PINNED;
	expect_layout(self->fd, NR_PAGES, exp);

	/* Mapped by a child only, until it exits. */
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		WRITE_ONCE(mem[page_off(8)], 8);
		c = 1;
		if (write(to_parent[1], &c, 1) != 1 ||
		    read(to_child[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	exp[8] = SAM;
	expect_layout(self->fd, NR_PAGES, exp);
	ASSERT_EQ(1, write(to_child[1], &c, 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	exp[8] = SA;
	expect_layout(self->fd, NR_PAGES, exp);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);

	/*
	 * A refused conversion unmaps the range all the same: the pins and
	 * the pipe's reference stay, the mappings go.
	 */
	block = self->gup_fd >= 0 ? 6 : 7;
	ASSERT_EQ(EAGAIN, gmem_convert(self->fd, 6, 2, ATTR_PRIVATE,
				       &err_off));
	EXPECT_EQ(page_off(block), err_off);
	exp[6] = SA | pinned | dma;
	exp[7] = SA | CAT_PINNED;
	expect_layout(self->fd, NR_PAGES, exp);
	ASSERT_EQ(EAGAIN, gmem_convert(self->fd, 7, 1, ATTR_PRIVATE,
				       &err_off));
	EXPECT_EQ(page_off(7), err_off);

	/* Let go, the same conversion goes through. */
	if (self->gup_fd >= 0)
		ASSERT_EQ(0, gup_unpin(self->gup_fd));
	pipe_drain(pipefd[0], 1);
	exp[6] = SA;
	exp[7] = SA;
	expect_layout(self->fd, NR_PAGES, exp);
	ASSERT_EQ(0, gmem_convert(self->fd, 6, 2, ATTR_PRIVATE, NULL));
	exp[6] = PA;
	exp[7] = PA;
	expect_layout(self->fd, NR_PAGES, exp);

	/* A pinned page punched out: the file no longer holds it. */
	if (self->gup_fd >= 0) {
		ASSERT_EQ(0, gup_pin(self->gup_fd, page_ptr(mem, 12), 1));
		exp[12] = SAM | CAT_PINNED | CAT_DMA;
		expect_layout(self->fd, NR_PAGES, exp);
		ASSERT_EQ(0, gmem_fallocate(self->fd, 12, 1, true));
		exp[12] = S;
		expect_layout(self->fd, NR_PAGES, exp);
		ASSERT_FALSE(access_sigbus(page_ptr(mem, 12), false));
		exp[12] = SAM;
		expect_layout(self->fd, NR_PAGES, exp);
		ASSERT_EQ(0, gup_unpin(self->gup_fd));
		expect_layout(self->fd, NR_PAGES, exp);
	}

	/* Punched holes keep their state. */
	ASSERT_EQ(0, gmem_fallocate(self->fd, 1, 7, true));
	set_pages(exp, 1, 3, S);
	set_pages(exp, 4, 4, P);
	expect_layout(self->fd, NR_PAGES, exp);

	/*
	 * vec inside the file's own mapping: the copy faults the page in
	 * (the walk holds no lock then) where it is shared, and fails where
	 * it is private, changing nothing.
	 */
	reg = (struct kvm_guest_memfd_region *)page_ptr(mem, 10);
	arg = query_arg(&q, reg);
	ASSERT_EQ(4, gmem_scan(self->fd, &arg));
	EXPECT_EQ(page_off(12), arg.walk_end);
	EXPECT_EQ(page_off(4), reg[0].end);
	EXPECT_EQ(S, reg[0].categories);
	EXPECT_EQ(page_off(9), reg[3].start);
	EXPECT_EQ(page_off(12), reg[3].end);
	EXPECT_EQ(S, reg[3].categories);
	exp[10] = SAM;
	expect_layout(self->fd, NR_PAGES, exp);
	arg = query_arg(&q, page_ptr(mem, 4));
	EXPECT_EQ(-EFAULT, gmem_scan(self->fd, &arg));
	EXPECT_EQ(WALK_END_POISON, arg.walk_end);
	expect_layout(self->fd, NR_PAGES, exp);
	q.flags = SUMMARY;
	arg = query_arg(&q, page_ptr(mem, 5));
	EXPECT_EQ(-EFAULT, gmem_scan(self->fd, &arg));
	expect_layout(self->fd, NR_PAGES, exp);

	close(pipefd[0]);
	close(pipefd[1]);
}

/* The pfn that the host maps at @addr; 0 if none or hidden (not root). */
static u64 pfn_of(void *addr)
{
	u64 entry = 0;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(/proc/self/pagemap)");
	TEST_ASSERT(pread(fd, &entry, sizeof(entry),
			  (uintptr_t)addr / page_size * sizeof(entry)) ==
		    sizeof(entry), "pread(/proc/self/pagemap)");
	close(fd);
	return entry & BIT_ULL(63) ? entry & GENMASK_ULL(54, 0) : 0;
}

/*
 * Allocates the pages of @fd in pairs, each the second right after the
 * first, and marks the second accessed twice; checks the first of each
 * pair that landed next to each other.  Returns how many did.
 */
static int hwpoison_pairs(struct __test_metadata *_metadata, int fd,
			  char *mem, int memfd)
{
	struct kvm_guest_memfd_region reg;
	struct query q = { .vec_len = 1, .ret_mask = CAT_ALL };
	struct kvm_guest_memfd_scan arg;
	int a, adjacent = 0;
	char cats[CATS_LEN], c;

	for (a = 0; a + 1 < NR_PAGES; a += 2) {
		char *pa = page_ptr(mem, a), *pb = pa + page_size;
		u64 pfn_a, pfn_b;

		/* Back to back: the same path allocates both. */
		ASSERT_EQ(1, pread(memfd, &c, 1, (uintptr_t)pa));
		ASSERT_EQ(1, pread(memfd, &c, 1, (uintptr_t)pb));
		ASSERT_EQ(1, pread(memfd, &c, 1, (uintptr_t)pb));
		pfn_a = pfn_of(pa);
		pfn_b = pfn_of(pb);
		if (!pfn_a || pfn_b != pfn_a + 1)
			continue;
		adjacent++;

		q.start = page_off(a);
		q.end = page_off(a + 1);
		arg = query_arg(&q, &reg);
		ASSERT_EQ(1, gmem_scan(fd, &arg));
		EXPECT_EQ(SAM, reg.categories)
			TH_LOG("page %d (pfn 0x%lx, followed by page %d): %s",
			       a, pfn_a, a + 1, cats_str(reg.categories, cats));
	}
	return adjacent;
}

/*
 * HWPOISON of a small folio is its page's own flag, nothing of the page
 * after it in memory, which may hold PG_active (the flag a large folio's
 * second page uses for "has a poisoned page").  Make that page a folio of
 * the file with PG_active: a folio still in this CPU's LRU-add batch gets
 * it when marked accessed twice, here by GUP with FOLL_TOUCH through
 * /proc/self/mem (KVM does the same when the guest faults a shared page).
 */
TEST_F_TIMEOUT(gmem, no_false_hwpoison, TEST_TIMEOUT)
{
	int memfd, round, adjacent = 0;
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpus), &cpus));
	memfd = open("/proc/self/mem", O_RDONLY);
	ASSERT_LE(0, memfd);

	for (round = 0; round < 8 && !adjacent; round++) {
		ASSERT_EQ(0, gmem_fallocate(self->fd, 0, NR_PAGES, true));
		adjacent = hwpoison_pairs(_metadata, self->fd, self->mem,
					  memfd);
	}
	close(memfd);
	if (!adjacent)
		SKIP(return, "no two pages of the file next to each other");
}

/* Expects @q to return @nr regions @reg and walk_end @walk_end. */
static void __expect_regions(struct __test_metadata *_metadata, int fd,
			     const struct query *q, const u64 *cats, int nr,
			     const struct kvm_guest_memfd_region *reg,
			     u64 walk_end, int line)
{
	struct result res, exp = { .ret = nr, .nr = nr, .walk_end = walk_end };
	static struct vecbuf vb;
	char msg[MSG_LEN], qs[512];

	memcpy(exp.reg, reg, nr * sizeof(*reg));
	ASSERT_TRUE(run_query(fd, q, &vb, &res, msg))
		TH_LOG("line %d: %s", line, msg);
	EXPECT_TRUE(same_result(q, &res, &exp)) {
		failf(msg, "line %d: %s", line, query_str(q, qs, sizeof(qs)));
		append_result(msg, "kernel", q, &res);
		append_result(msg, "expected", q, &exp);
		TH_LOG("%s", msg);
	}
	/* The model test's oracle agrees. */
	EXPECT_TRUE(check_exact(cats, q, &res, msg))
		TH_LOG("line %d: %s", line, msg);
	EXPECT_TRUE(check_wellformed(q, &res, CAT_ALL, msg))
		TH_LOG("line %d: %s", line, msg);
}

#define expect_regions(q, walk_end, ...) do {				\
	const struct kvm_guest_memfd_region __reg[] = {			\
		{ 0, 0, 0 }, __VA_ARGS__				\
	};								\
	__expect_regions(_metadata, self->fd, q, layout,		\
			 ARRAY_SIZE(__reg) - 1, __reg + 1, walk_end,	\
			 __LINE__);					\
} while (0)

/* Region [@a, @b) pages, of @cats. */
#define R(a, b, cats)	{ page_off(a), page_off(b), cats }

TEST_F_TIMEOUT(gmem, masks, TEST_TIMEOUT)
{
	/*
	 * 0-3 touched, 4-5 allocated, 6-7 private holes, 8 private and
	 * allocated, 9-15 shared holes.
	 */
	const u64 layout[NR_PAGES] = {
		SAM, SAM, SAM, SAM, SA, SA, P, P, PA,
		S, S, S, S, S, S, S,
	};
	const u64 end = page_off(NR_PAGES);
	struct query q = { .end = end, .vec_len = VEC_MAX };
	struct kvm_guest_memfd_scan arg;
	struct result res;
	struct vecbuf vb;
	char msg[MSG_LEN];
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_FALSE(access_sigbus(page_ptr(self->mem, i), true));
	ASSERT_EQ(0, gmem_fallocate(self->fd, 4, 2, false));
	ASSERT_EQ(0, gmem_fallocate(self->fd, 8, 1, false));
	ASSERT_EQ(0, gmem_convert(self->fd, 6, 3, ATTR_PRIVATE, NULL));
	expect_layout(self->fd, NR_PAGES, layout);

	q.ret_mask = CAT_ALL;
	expect_regions(&q, end, R(0, 4, SAM), R(4, 6, SA), R(6, 8, P),
		       R(8, 9, PA), R(9, 16, S));

	/* Pages that have a category; coalesced by what is returned. */
	q.mask = CAT_ALLOC;
	q.ret_mask = CAT_ALLOC;
	expect_regions(&q, end, R(0, 6, CAT_ALLOC), R(8, 9, CAT_ALLOC));

	/* ... that do not have it: inverted. */
	q.inverted = CAT_ALLOC;
	q.ret_mask = CAT_PRIVATE | CAT_SHARED;
	expect_regions(&q, end, R(6, 8, P), R(9, 16, S));

	/* Either of two, nothing returned: one region per run. */
	q.inverted = 0;
	q.mask = 0;
	q.anyof = CAT_MAPPED | CAT_PRIVATE;
	q.ret_mask = 0;
	expect_regions(&q, end, R(0, 4, 0), R(6, 9, 0));

	/* Not mapped, and shared or allocated: not a private hole. */
	q.inverted = CAT_MAPPED;
	q.mask = CAT_MAPPED;
	q.anyof = CAT_SHARED | CAT_ALLOC;
	q.ret_mask = CAT_ALL;
	expect_regions(&q, end, R(4, 6, SA), R(8, 9, PA), R(9, 16, S));

	/* Nothing matches both: walk_end is the end. */
	q.inverted = 0;
	q.anyof = 0;
	q.mask = CAT_PRIVATE | CAT_SHARED;
	expect_regions(&q, end);
	q.mask = CAT_MOVABLE;
	expect_regions(&q, end);
	q.mask = CAT_HWPOISON;
	expect_regions(&q, end);

	/* Nothing returned, no mask: the whole range. */
	q.mask = 0;
	q.ret_mask = 0;
	expect_regions(&q, end, R(0, 16, 0));

	/*
	 * max_pages: walk_end is the first page of interest not reported,
	 * and a caller resumes from there.
	 */
	q.mask = CAT_ALLOC;
	q.ret_mask = CAT_ALLOC;
	q.max_pages = 3;
	expect_regions(&q, page_off(3), R(0, 3, CAT_ALLOC));
	q.start = page_off(3);
	expect_regions(&q, page_off(8), R(3, 6, CAT_ALLOC));
	q.start = page_off(8);
	expect_regions(&q, end, R(8, 9, CAT_ALLOC));
	q.start = 0;
	q.max_pages = 7;
	expect_regions(&q, end, R(0, 6, CAT_ALLOC), R(8, 9, CAT_ALLOC));

	/* vec_len: the walk stops where another region would begin. */
	q.mask = 0;
	q.max_pages = 0;
	q.ret_mask = CAT_ALL;
	q.vec_len = 1;
	expect_regions(&q, page_off(4), R(0, 4, SAM));
	q.start = page_off(4);
	q.vec_len = 2;
	expect_regions(&q, page_off(8), R(4, 6, SA), R(6, 8, P));
	q.start = page_off(8);
	expect_regions(&q, end, R(8, 9, PA), R(9, 16, S));
	/* ... or wherever max_pages says first. */
	q.start = page_off(1);
	q.max_pages = 4;
	expect_regions(&q, page_off(5), R(1, 4, SAM), R(4, 5, SA));
	q.max_pages = 0;

	/* A range inside the file; an empty one, at any page. */
	q.start = page_off(5);
	q.end = page_off(10);
	q.vec_len = VEC_MAX;
	expect_regions(&q, page_off(10), R(5, 6, SA), R(6, 8, P),
		       R(8, 9, PA), R(9, 10, S));
	q.end = q.start;
	expect_regions(&q, page_off(5));
	q.start = end;
	q.end = end;
	expect_regions(&q, end);
	q.start = 0;
	q.end = end;

	/* The largest vec_len. */
	q.vec_len = INT_MAX;
	expect_regions(&q, end, R(0, 4, SAM), R(4, 6, SA), R(6, 8, P),
		       R(8, 9, PA), R(9, 16, S));

	/*
	 * Like PAGEMAP_SCAN, vec is checked with access_ok() only: a query
	 * that reports nothing never touches it, so NULL is fine then.
	 */
	q.mask = CAT_PRIVATE | CAT_SHARED;
	arg = query_arg(&q, NULL);
	EXPECT_EQ(0, gmem_scan(self->fd, &arg));
	EXPECT_EQ(end, arg.walk_end);
	q.mask = 0;

	/* Summary: pages per category, as many counters as asked. */
	q.flags = SUMMARY;
	q.vec_len = SUMMARY_MAX;
	ASSERT_TRUE(run_query(self->fd, &q, &vb, &res, msg)) TH_LOG("%s", msg);
	EXPECT_EQ(end, res.walk_end);
	EXPECT_EQ(3, res.counts[0]);	/* PRIVATE */
	EXPECT_EQ(13, res.counts[1]);	/* SHARED */
	EXPECT_EQ(7, res.counts[2]);	/* ALLOCATED */
	EXPECT_EQ(0, res.counts[3]);	/* HUGE */
	EXPECT_EQ(4, res.counts[4]);	/* MAPPED */
	for (i = 5; i < SUMMARY_MAX && !res.counts[i]; i++)
		;
	EXPECT_EQ(SUMMARY_MAX, i) TH_LOG("counter %d", i);
	EXPECT_TRUE(check_exact(layout, &q, &res, msg)) TH_LOG("%s", msg);

	q.vec_len = 2;
	ASSERT_TRUE(run_query(self->fd, &q, &vb, &res, msg)) TH_LOG("%s", msg);
	EXPECT_EQ(3, res.counts[0]);
	EXPECT_EQ(13, res.counts[1]);

	q.vec_len = SUMMARY_MAX;
	q.max_pages = 5;
	ASSERT_TRUE(run_query(self->fd, &q, &vb, &res, msg)) TH_LOG("%s", msg);
	EXPECT_EQ(page_off(5), res.walk_end);
	EXPECT_EQ(0, res.counts[0]);
	EXPECT_EQ(5, res.counts[1]);
	EXPECT_EQ(5, res.counts[2]);
	EXPECT_EQ(4, res.counts[4]);
	EXPECT_TRUE(check_exact(layout, &q, &res, msg)) TH_LOG("%s", msg);

	/* Counts only what return_mask keeps, of the pages of interest. */
	q.max_pages = 0;
	q.mask = CAT_PRIVATE;
	q.ret_mask = CAT_ALLOC | CAT_SHARED;
	ASSERT_TRUE(run_query(self->fd, &q, &vb, &res, msg)) TH_LOG("%s", msg);
	EXPECT_EQ(end, res.walk_end);
	EXPECT_EQ(0, res.counts[0]);
	EXPECT_EQ(0, res.counts[1]);
	EXPECT_EQ(1, res.counts[2]);
	EXPECT_TRUE(check_exact(layout, &q, &res, msg)) TH_LOG("%s", msg);
}

/* ---- Bad inputs ---- */

/*
 * Issues KVM_GUEST_MEMFD_SCAN with @argp, which must fail with @err, and
 * checks that nothing was written: the argument (if @arg_readable), vec
 * (@vec_bytes at @vec, pre-filled with FILL here) and the pages of the file
 * (as @snapshot has them).
 */
static void __expect_refused(struct __test_metadata *_metadata, int fd,
			     int gmem_fd, void *argp, bool arg_readable,
			     void *vec,
			     size_t vec_bytes, int err, const u64 *snapshot,
			     const char *what, int line)
{
	struct kvm_guest_memfd_scan before;
	char msg[MSG_LEN], a[CATS_LEN], b[CATS_LEN];
	u64 cats[NR_PAGES];
	size_t bad = 0;
	int r, e, i;

	memset(vec, FILL, vec_bytes);
	if (arg_readable)
		memcpy(&before, argp, sizeof(before));
	r = ioctl(fd, KVM_GUEST_MEMFD_SCAN, argp);
	e = errno;
	EXPECT_EQ(-1, r) TH_LOG("line %d: %s: returned %d", line, what, r);
	if (r == -1) {
		EXPECT_EQ(err, e)
			TH_LOG("line %d: %s: %s, expected %s", line, what,
			       strerror(e), strerror(err));
	}
	if (arg_readable) {
		EXPECT_EQ(0, memcmp(argp, &before, sizeof(before)))
			TH_LOG("line %d: %s: argument written", line, what);
	}
	EXPECT_TRUE(all_fill(vec, vec_bytes, &bad))
		TH_LOG("line %d: %s: vec written at byte %zu", line, what, bad);
	ASSERT_TRUE(scan_pages(gmem_fd, NR_PAGES, CAT_ALL, cats, msg))
		TH_LOG("line %d: %s: %s", line, what, msg);
	for (i = 0; i < NR_PAGES; i++) {
		EXPECT_EQ(snapshot[i], cats[i])
			TH_LOG("line %d: %s: page %d now %s, was %s", line,
			       what, i, cats_str(cats[i], a),
			       cats_str(snapshot[i], b));
	}
}

#define expect_refused(argp, readable, err, what)			\
	__expect_refused(_metadata, self->fd, self->fd, argp, readable,	\
			 vb, sizeof(*vb), err, snapshot, what, __LINE__)

/* A valid request with one change @stmt to a: must fail with @err. */
#define REFUSE(base, err, what, stmt) do {				\
	struct kvm_guest_memfd_scan a = (base);				\
	stmt;								\
	expect_refused(&a, true, err, what);				\
} while (0)

/* A page of @prot, pre-filled with FILL. */
static void *map_filled(int prot)
{
	void *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	TEST_ASSERT(p != MAP_FAILED, "mmap");
	memset(p, FILL, page_size);
	TEST_ASSERT(!mprotect(p, page_size, prot), "mprotect");
	return p;
}

TEST_F_TIMEOUT(gmem, bad_inputs, TEST_TIMEOUT)
{
	u64 cap = scan_cap(), snapshot[NR_PAGES], cats[NR_PAGES], bit;
	struct kvm_guest_memfd_scan regions, summary, *argp;
	const u64 end = page_off(NR_PAGES);
	struct vecbuf *vb = malloc(sizeof(*vb));
	int pipefd[2], memfd, i, m;
	char msg[MSG_LEN], what[64];
	char *ro, *none, *rw;
	size_t bad = 0;
	struct query q = {
		.end = end,
		.vec_len = VEC_MAX,
		.ret_mask = CAT_ALL,
	};

	ASSERT_NE(NULL, vb);

	/* Pages of every kind, pinned ones included. */
	for (i = 0; i < 4; i++)
		ASSERT_FALSE(access_sigbus(page_ptr(self->mem, i), true));
	ASSERT_EQ(0, gmem_fallocate(self->fd, 4, 2, false));
	ASSERT_EQ(0, gmem_convert(self->fd, 5, 3, ATTR_PRIVATE, NULL));
	if (self->gup_fd >= 0)
		ASSERT_EQ(0, gup_pin(self->gup_fd, page_ptr(self->mem, 1), 1));
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe_splice(pipefd[1], page_ptr(self->mem, 2)));
	ASSERT_TRUE(scan_pages(self->fd, NR_PAGES, CAT_ALL, snapshot, msg))
		TH_LOG("%s", msg);
	EXPECT_EQ(SAM | CAT_PINNED, snapshot[2]);

	regions = query_arg(&q, vb);
	q.flags = SUMMARY;
	q.vec_len = SUMMARY_MAX;
	summary = query_arg(&q, vb);

	/* size */
	REFUSE(regions, EINVAL, "size 0", a.size = 0);
	REFUSE(regions, EINVAL, "size 8", a.size = 8);
	REFUSE(regions, EINVAL, "size 120", a.size = 120);
	REFUSE(regions, EINVAL, "size 127", a.size = 127);
	REFUSE(regions, EINVAL, "size 129", a.size = 129);
	REFUSE(regions, EINVAL, "size 136", a.size = 136);
	REFUSE(regions, EINVAL, "size 256", a.size = 256);
	REFUSE(regions, EINVAL, "size ~0", a.size = ~0ULL);
	REFUSE(summary, EINVAL, "summary size 0", a.size = 0);

	/* flags */
	for (bit = BIT_ULL(1); bit; bit <<= 1) {
		snprintf(what, sizeof(what), "flags 0x%lx", bit);
		REFUSE(regions, EINVAL, what, a.flags = bit);
		REFUSE(summary, EINVAL, what, a.flags |= bit);
	}

	/* Categories KVM_CAP_GUEST_MEMFD_SCAN does not report, HUGE too. */
	ASSERT_FALSE(cap & KVM_GMEM_PAGE_HUGE);
	for (bit = 1; bit; bit <<= 1) {
		if (cap & bit)
			continue;
		for (m = 0; m < 8; m++) {
			struct kvm_guest_memfd_scan a = m & 4 ? summary : regions;
			__u64 *masks[] = {
				&a.category_inverted, &a.category_mask,
				&a.category_anyof_mask, &a.return_mask,
			};

			*masks[m & 3] |= bit;
			snprintf(what, sizeof(what), "%s mask %d bit 0x%lx",
				 m & 4 ? "summary" : "regions", m & 3, bit);
			expect_refused(&a, true, EINVAL, what);
		}
	}

	/* reserved */
	for (i = 0; i < 4; i++) {
		snprintf(what, sizeof(what), "reserved[%d]", i);
		REFUSE(regions, EINVAL, what, a.reserved[i] = 1);
		REFUSE(summary, EINVAL, what, a.reserved[i] = ~0ULL);
	}

	/* The range. */
	REFUSE(regions, EINVAL, "start unaligned", a.start = 1);
	REFUSE(regions, EINVAL, "start unaligned", a.start = page_size - 1);
	REFUSE(regions, EINVAL, "start unaligned", a.start = page_size + 1);
	REFUSE(regions, EINVAL, "end unaligned", a.end = end - 1);
	REFUSE(regions, EINVAL, "end unaligned", a.end = page_size + 8);
	REFUSE(summary, EINVAL, "end unaligned", a.end = end - 1);
	REFUSE(regions, EINVAL, "start > end",
	       (a.start = page_off(3), a.end = page_off(2)));
	REFUSE(regions, EINVAL, "start > end = 0",
	       (a.start = page_size, a.end = 0));
	REFUSE(regions, EINVAL, "end beyond the file", a.end = end + page_size);
	REFUSE(summary, EINVAL, "end beyond the file", a.end = end + page_size);
	REFUSE(regions, EINVAL, "start = end beyond the file",
	       (a.start = end + page_size, a.end = end + page_size));
	REFUSE(regions, EINVAL, "end ~0, aligned",
	       a.end = ~0ULL & ~(u64)(page_size - 1));
	REFUSE(regions, EINVAL, "start ~0", a.start = ~0ULL);

	/* vec_len */
	REFUSE(regions, EINVAL, "vec_len 0", a.vec_len = 0);
	REFUSE(summary, EINVAL, "summary vec_len 0", a.vec_len = 0);
	REFUSE(summary, EINVAL, "summary vec_len 65",
	       a.vec_len = SUMMARY_MAX + 1);
	REFUSE(summary, EINVAL, "summary vec_len ~0", a.vec_len = ~0ULL);
	REFUSE(regions, EINVAL, "vec_len INT_MAX + 1",
	       a.vec_len = (u64)INT_MAX + 1);
	REFUSE(regions, EINVAL, "vec_len ~0", a.vec_len = ~0ULL);
	REFUSE(regions, EINVAL, "vec_len 0 and vec NULL",
	       (a.vec_len = 0, a.vec = 0));

	/* A bad vec: EFAULT, nothing written where it could have been. */
	REFUSE(regions, EFAULT, "vec NULL", a.vec = 0);
	REFUSE(summary, EFAULT, "summary vec NULL", a.vec = 0);
	REFUSE(regions, EFAULT, "vec in the kernel",
	       a.vec = 0xffff888000000000ULL);
	REFUSE(summary, EFAULT, "summary vec in the kernel",
	       a.vec = 0xffff888000000000ULL);
	REFUSE(regions, EFAULT, "vec beyond user space",
	       (a.vec = (1ULL << 47) - page_size, a.vec_len = INT_MAX));
	REFUSE(summary, EFAULT, "summary vec across the top of user space",
	       a.vec = (1ULL << 47) - 64);

	ro = map_filled(PROT_READ);
	none = map_filled(PROT_NONE);
	REFUSE(regions, EFAULT, "vec read-only", a.vec = (uintptr_t)ro);
	REFUSE(summary, EFAULT, "summary vec read-only",
	       a.vec = (uintptr_t)ro);
	REFUSE(regions, EFAULT, "vec PROT_NONE", a.vec = (uintptr_t)none);
	EXPECT_TRUE(all_fill(ro, page_size, &bad));
	ASSERT_EQ(0, mprotect(none, page_size, PROT_READ));
	EXPECT_TRUE(all_fill(none, page_size, &bad));
	ASSERT_EQ(0, mprotect(none, page_size, PROT_NONE));

	/* A bad argument pointer. */
	expect_refused(NULL, false, EFAULT, "arg NULL");
	expect_refused(none, false, EFAULT, "arg PROT_NONE");
	expect_refused((void *)0xffff888000000000ULL, false, EFAULT,
		       "arg in the kernel");
	/* Its second half in a page that cannot be read. */
	rw = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rw);
	argp = (void *)(rw + page_size - sizeof(regions) / 2);
	memcpy(argp, &regions, sizeof(regions) / 2);
	ASSERT_EQ(0, mprotect(rw + page_size, page_size, PROT_NONE));
	expect_refused(argp, false, EFAULT, "arg across a PROT_NONE page");

	/*
	 * A read-only argument: walk_end cannot be written back, which the
	 * kernel finds out before it walks: EFAULT, vec untouched and no
	 * page changed.
	 */
	argp = (void *)rw;
	memcpy(argp, &regions, sizeof(regions));
	ASSERT_EQ(0, mprotect(rw, page_size, PROT_READ));
	memset(vb, FILL, sizeof(*vb));
	EXPECT_EQ(-1, ioctl(self->fd, KVM_GUEST_MEMFD_SCAN, argp));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, memcmp(argp, &regions, sizeof(regions)));
	EXPECT_TRUE(all_fill(vb, sizeof(*vb), &bad))
		TH_LOG("read-only argument: EFAULT, but vec written (byte %zu)",
		       bad);
	ASSERT_TRUE(scan_pages(self->fd, NR_PAGES, CAT_ALL, cats, msg))
		TH_LOG("%s", msg);
	EXPECT_EQ(0, memcmp(cats, snapshot, sizeof(cats)));

	/* Not a guest_memfd. */
	memfd = memfd_create("guest_memfd_scan_test", 0);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, end));
	__expect_refused(_metadata, memfd, self->fd, &regions, true, vb,
			 sizeof(*vb), ENOTTY, snapshot, "a memfd", __LINE__);
	__expect_refused(_metadata, self->vm->fd, self->fd, &regions, true,
			 vb, sizeof(*vb), ENOTTY, snapshot, "the VM's fd",
			 __LINE__);
	close(memfd);

	/* After all that, the same pages, and a valid request works. */
	ASSERT_TRUE(scan_pages(self->fd, NR_PAGES, CAT_ALL, cats, msg))
		TH_LOG("%s", msg);
	EXPECT_EQ(0, memcmp(cats, snapshot, sizeof(cats)));

	munmap(rw, 2 * page_size);
	munmap(ro, page_size);
	munmap(none, page_size);
	pipe_drain(pipefd[0], 1);
	close(pipefd[0]);
	close(pipefd[1]);
	free(vb);
}

/* ---- The model ---- */

#define NR_VIEWS		2	/* mappings of the file */
#define NR_PIPES		3
#define PIPE_PAGES		8	/* references a pipe holds at most */
#define HIST_LEN		32	/* steps shown on failure */
#define HIST_ENTRY		160

/* A page of the file, as the model has it. */
struct mpage {
	bool shared;
	bool allocated;
	u32 folio;			/* while allocated: which folio */
	bool mapped[NR_VIEWS];		/* a PTE of view v maps it */
};

struct mpipe {
	int rfd;
	int wfd;
	int nr;
	u32 folio[PIPE_PAGES];		/* folios it holds references to */
};

enum {
	ST_CONVERTED,
	ST_EAGAIN,
	ST_SIGBUS,
	ST_PINNED,
	ST_PIN_EFAULT,
	ST_SPLICED,
	ST_SPLICE_EFAULT,
	ST_MMAPPED,
	ST_QUERIES,
	ST_RESUMED,
	ST_NR,
};

static const char * const stat_names[] = {
	"conversions", "refused (EAGAIN)", "SIGBUS touches", "pins",
	"pins refused (EFAULT)", "vmsplices", "vmsplices refused (EFAULT)",
	"mmaps", "queries", "resumed queries",
};

struct model {
	int fd;
	int nr;
	u64 cap;
	struct mpage pg[MAX_PAGES];
	/* View v maps page i at view[v] + i pages, where vma[v][i]. */
	char *view[NR_VIEWS];
	bool vma[NR_VIEWS][MAX_PAGES];
	u32 next_folio;
	/* The gup_test pin session: the folios it pins. */
	int gup_fd;
	int pin_nr;
	u32 pin_folio[MAX_PAGES];
	struct mpipe pipe[NR_PIPES];

	unsigned long step;
	char hist[HIST_LEN][HIST_ENTRY];
	unsigned long stats[ST_NR];
	u64 seen;			/* categories some page had */
	struct vecbuf vb;
};

static void __printf(2, 3) model_log(struct model *m, const char *fmt, ...)
{
	char *h = m->hist[m->step % HIST_LEN];
	int len = snprintf(h, HIST_ENTRY, "step %lu: ", m->step);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h + len, HIST_ENTRY - len, fmt, ap);
	va_end(ap);
}

static bool model_gup_pinned(const struct model *m, int i)
{
	int j;

	for (j = 0; j < m->pin_nr; j++) {
		if (m->pin_folio[j] == m->pg[i].folio)
			return true;
	}
	return false;
}

static bool model_in_pipe(const struct model *m, int i)
{
	int k, j;

	for (k = 0; k < NR_PIPES; k++) {
		for (j = 0; j < m->pipe[k].nr; j++) {
			if (m->pipe[k].folio[j] == m->pg[i].folio)
				return true;
		}
	}
	return false;
}

/* References beyond the page cache's and the mappings'. */
static bool model_pinned(const struct model *m, int i)
{
	return m->pg[i].allocated &&
	       (model_gup_pinned(m, i) || model_in_pipe(m, i));
}

static u64 model_cats(const struct model *m, int i)
{
	const struct mpage *p = &m->pg[i];
	u64 cats = p->shared ? CAT_SHARED : CAT_PRIVATE;
	int v;

	if (!p->allocated)
		return cats;
	cats |= CAT_ALLOC;
	for (v = 0; v < NR_VIEWS; v++) {
		if (p->mapped[v])
			cats |= CAT_MAPPED;
	}
	if (model_gup_pinned(m, i))
		cats |= CAT_PINNED | CAT_DMA;
	if (model_in_pipe(m, i))
		cats |= CAT_PINNED;
	return cats;
}

/* A new folio for page @i, if it has none. */
static void model_alloc(struct model *m, int i)
{
	if (m->pg[i].allocated)
		return;
	m->pg[i].allocated = true;
	m->pg[i].folio = ++m->next_folio;
}

static void model_unmap(struct model *m, int i)
{
	memset(m->pg[i].mapped, 0, sizeof(m->pg[i].mapped));
}

static char *view_page(const struct model *m, int v, int i)
{
	return m->view[v] + page_off(i);
}

static bool op_convert(struct model *m, int first, int nr, bool to_private,
		       char *msg)
{
	int err, i, block = -1;
	u64 err_off;

	model_log(m, "convert %d-%d to %s", first, first + nr - 1,
		  to_private ? "private" : "shared");
	err = gmem_convert(m->fd, first, nr,
			   to_private ? ATTR_PRIVATE : ATTR_SHARED, &err_off);

	/* Unmapped from every view first, even if then refused. */
	for (i = first; i < first + nr && to_private; i++) {
		model_unmap(m, i);
		if (block < 0 && model_pinned(m, i))
			block = i;
	}
	if (block >= 0) {
		if (err != EAGAIN || err_off != page_off(block))
			return failf(msg, "%s, error_offset 0x%lx; not EAGAIN at %d",
				     strerror(err), err_off, block);
		m->stats[ST_EAGAIN]++;
		return true;
	}
	if (err)
		return failf(msg, "conversion: %s", strerror(err));
	for (i = first; i < first + nr; i++)
		m->pg[i].shared = !to_private;
	m->stats[ST_CONVERTED]++;
	return true;
}

static bool op_fallocate(struct model *m, int first, int nr, bool punch,
			 char *msg)
{
	int err, i;

	model_log(m, "%s %d-%d", punch ? "punch hole" : "fallocate", first,
		  first + nr - 1);
	err = gmem_fallocate(m->fd, first, nr, punch);
	if (err)
		return failf(msg, "fallocate: %s", strerror(err));
	for (i = first; i < first + nr; i++) {
		if (punch) {
			/* Pins and pipes keep the folio, not the page. */
			m->pg[i].allocated = false;
			model_unmap(m, i);
		} else {
			model_alloc(m, i);
		}
	}
	return true;
}

/* Touches the pages of the range that view @v maps. */
static bool op_touch(struct model *m, int v, int first, int nr, bool write,
		     char *msg)
{
	bool sigbus;
	int i;

	model_log(m, "%s %d-%d through view %d", write ? "write" : "read",
		  first, first + nr - 1, v);
	for (i = first; i < first + nr; i++) {
		if (!m->vma[v][i])
			continue;
		sigbus = access_sigbus(view_page(m, v, i), write);
		if (sigbus != !m->pg[i].shared)
			return failf(msg, "page %d: %s SIGBUS", i,
				     sigbus ? "a" : "no");
		if (sigbus) {
			m->stats[ST_SIGBUS]++;
			continue;
		}
		model_alloc(m, i);
		m->pg[i].mapped[v] = true;
	}
	return true;
}

static bool op_munmap(struct model *m, int v, int first, int nr, char *msg)
{
	int i;

	model_log(m, "munmap %d-%d of view %d", first, first + nr - 1, v);
	if (munmap(view_page(m, v, first), page_off(nr)))
		return failf(msg, "munmap: %s", strerror(errno));
	for (i = first; i < first + nr; i++) {
		m->vma[v][i] = false;
		m->pg[i].mapped[v] = false;
	}
	return true;
}

/* Maps a hole of view @v from page @first, up to @nr pages. */
static bool op_mmap(struct model *m, int v, int first, int nr, char *msg)
{
	char *want = view_page(m, v, first), *got;
	int i, n;

	for (n = 0; n < nr && !m->vma[v][first + n]; n++)
		;
	if (!n) {
		model_log(m, "mmap: page %d of view %d is mapped", first, v);
		return true;
	}
	model_log(m, "mmap %d-%d of view %d", first, first + n - 1, v);
	got = mmap(want, page_off(n), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED_NOREPLACE, m->fd, page_off(first));
	if (got == MAP_FAILED && errno == EEXIST) {
		/* Something else of the process took the hole. */
		return true;
	}
	if (got != want)
		return failf(msg, "mmap: %p, %s", got, strerror(errno));
	for (i = first; i < first + n; i++)
		m->vma[v][i] = true;
	m->stats[ST_MMAPPED]++;
	return true;
}

/* MADV_DONTNEED on what view @v maps of the range, from @first on. */
static bool op_zap(struct model *m, int v, int first, int nr, char *msg)
{
	int i, n;

	for (n = 0; n < nr && m->vma[v][first + n]; n++)
		;
	if (!n) {
		model_log(m, "MADV_DONTNEED: page %d of view %d is unmapped",
			  first, v);
		return true;
	}
	model_log(m, "MADV_DONTNEED %d-%d of view %d", first, first + n - 1,
		  v);
	if (madvise(view_page(m, v, first), page_off(n), MADV_DONTNEED))
		return failf(msg, "madvise: %s", strerror(errno));
	for (i = first; i < first + n; i++)
		m->pg[i].mapped[v] = false;
	return true;
}

static bool op_pin(struct model *m, int v, int first, int nr, char *msg)
{
	int err, i, stop = -1;

	model_log(m, "pin %d-%d through view %d", first, first + nr - 1, v);
	err = gup_pin(m->gup_fd, view_page(m, v, first), nr);

	/* GUP faults the pages in up to the first it cannot. */
	for (i = first; i < first + nr; i++) {
		if (!m->vma[v][i] || !m->pg[i].shared) {
			stop = i;
			break;
		}
		model_alloc(m, i);
		m->pg[i].mapped[v] = true;
	}
	if (stop >= 0) {
		if (err != EFAULT)
			return failf(msg, "pin: %s, expected EFAULT at page %d",
				     strerror(err), stop);
		m->stats[ST_PIN_EFAULT]++;
		return true;
	}
	if (err)
		return failf(msg, "pin: %s", strerror(err));
	for (i = first; i < first + nr; i++)
		m->pin_folio[m->pin_nr++] = m->pg[i].folio;
	m->stats[ST_PINNED]++;
	return true;
}

static bool op_unpin(struct model *m, char *msg)
{
	int err;

	model_log(m, "unpin %d pages", m->pin_nr);
	err = gup_unpin(m->gup_fd);
	if (err)
		return failf(msg, "unpin: %s", strerror(err));
	m->pin_nr = 0;
	return true;
}

static bool op_splice(struct model *m, int k, int v, int i, char *msg)
{
	struct mpipe *p = &m->pipe[k];
	bool fault = !m->vma[v][i] || !m->pg[i].shared;
	int err;

	model_log(m, "vmsplice page %d of view %d into pipe %d", i, v, k);
	if (p->nr == PIPE_PAGES)
		return true;
	err = pipe_splice(p->wfd, view_page(m, v, i));
	if (err != (fault ? EFAULT : 0))
		return failf(msg, "vmsplice: %s, expected %s", strerror(err),
			     fault ? "EFAULT" : "success");
	if (fault) {
		m->stats[ST_SPLICE_EFAULT]++;
		return true;
	}
	model_alloc(m, i);
	m->pg[i].mapped[v] = true;
	p->folio[p->nr++] = m->pg[i].folio;
	m->stats[ST_SPLICED]++;
	return true;
}

static bool op_drain(struct model *m, int k)
{
	struct mpipe *p = &m->pipe[k];

	model_log(m, "drain pipe %d (%d pages)", k, p->nr);
	if (p->nr)
		pipe_drain(p->rfd, p->nr);
	p->nr = 0;
	return true;
}

static bool model_step(struct model *m, struct rng *r, char *msg)
{
	int v = rng_below(r, NR_VIEWS), k = rng_below(r, NR_PIPES);
	u32 op = rng_below(r, 100);
	int first, nr;

	rng_range(r, m->nr, &first, &nr);
	if (op < 14)
		return op_convert(m, first, nr, true, msg);
	if (op < 28)
		return op_convert(m, first, nr, false, msg);
	if (op < 34)
		return op_fallocate(m, first, nr, false, msg);
	if (op < 40)
		return op_fallocate(m, first, nr, true, msg);
	if (op < 58)
		return op_touch(m, v, first, nr, rng_chance(r, 50), msg);
	if (op < 63)
		return op_munmap(m, v, first, nr, msg);
	if (op < 70)
		return op_mmap(m, v, first, nr, msg);
	if (op < 74)
		return op_zap(m, v, first, nr, msg);
	if (op < 84 && m->gup_fd >= 0)
		return m->pin_nr ? op_unpin(m, msg) :
				   op_pin(m, v, first, nr, msg);
	if (op < 92)
		return op_splice(m, k, v, first, msg);
	return op_drain(m, k);
}

/* A random query of the @nr pages. */
static void random_query(struct rng *r, int nr, u64 cap, struct query *q)
{
	int a = rng_below(r, nr + 1), b = rng_below(r, nr + 1), t;

	if (rng_chance(r, 40)) {
		a = 0;
		b = nr;
	}
	if (a > b) {
		t = a;
		a = b;
		b = t;
	}
	memset(q, 0, sizeof(*q));
	q->start = page_off(a);
	q->end = page_off(b);
	q->flags = rng_chance(r, 30) ? SUMMARY : 0;
	q->mask = rng_sparse(r, rng_chance(r, 80) ? CAT_USEFUL : cap);
	q->inverted = rng_chance(r, 50) ? rng_next(r) & cap : 0;
	q->anyof = rng_chance(r, 50) ? rng_sparse(r, cap) : 0;
	q->ret_mask = rng_chance(r, 25) ? cap : rng_next(r) & cap;
	q->max_pages = rng_chance(r, 50) ? 0 : 1 + rng_below(r, nr);
	if (q->flags & SUMMARY)
		q->vec_len = rng_chance(r, 25) ? SUMMARY_MAX :
						 1 + rng_below(r, 12);
	else
		q->vec_len = rng_chance(r, 25) ? VEC_MAX : 1 + rng_below(r, 6);
}

/* Adds the answer @res to @acc, merging regions across calls. */
static void accumulate(const struct query *q, struct result *acc,
		       const struct result *res)
{
	struct kvm_guest_memfd_region *last;
	int i;

	if (q->flags & SUMMARY) {
		for (i = 0; i < (int)q->vec_len; i++)
			acc->counts[i] += res->counts[i];
		return;
	}
	for (i = 0; i < res->nr; i++) {
		last = acc->nr ? &acc->reg[acc->nr - 1] : NULL;
		if (last && last->end == res->reg[i].start &&
		    last->categories == res->reg[i].categories)
			last->end = res->reg[i].end;
		else if (acc->nr < MAX_PAGES)
			acc->reg[acc->nr++] = res->reg[i];
	}
	acc->ret = acc->nr;
}

/*
 * A random query, resumed from walk_end until the range is covered: each
 * answer exactly as the model says, and all of them together the same as
 * one query without max_pages and with room for every region.
 */
static bool model_random_query(struct model *m, struct rng *r,
			       const u64 *cats, char *msg)
{
	struct query q, whole;
	struct result res, acc = {}, exp;
	int calls;

	random_query(r, m->nr, m->cap, &q);
	whole = q;
	whole.max_pages = 0;
	whole.vec_len = q.flags & SUMMARY ? SUMMARY_MAX : VEC_MAX;
	expect_query(cats, &whole, &exp);

	for (calls = 1; ; calls++) {
		if (!run_query(m->fd, &q, &m->vb, &res, msg) ||
		    !check_wellformed(&q, &res, m->cap, msg) ||
		    !check_exact(cats, &q, &res, msg)) {
			appendf(msg, "\n#   (call %d of a resumed query)", calls);
			return false;
		}
		m->stats[ST_QUERIES]++;
		accumulate(&q, &acc, &res);
		if (res.walk_end == q.end)
			break;
		if (res.walk_end <= q.start || calls > m->nr)
			return failf(msg, "walk_end 0x%lx after 0x%lx: no progress",
				     res.walk_end, q.start);
		q.start = res.walk_end;
		m->stats[ST_RESUMED]++;
	}
	acc.walk_end = whole.end;
	whole.vec_len = q.vec_len;
	if (!same_result(&whole, &acc, &exp)) {
		failf(msg, "%d resumed calls do not add up", calls);
		append_result(msg, "together", &whole, &acc);
		append_result(msg, "expected", &whole, &exp);
		return false;
	}
	return true;
}

/* Compares the kernel's view of every page with the model's. */
static bool model_check(struct model *m, struct rng *r, char *msg)
{
	struct query q = {
		.end = page_off(m->nr),
		.vec_len = VEC_MAX,
		.ret_mask = m->cap,
	};
	char a[CATS_LEN], b[CATS_LEN];
	u64 cats[MAX_PAGES], kcats[MAX_PAGES];
	struct result res;
	int i;

	for (i = 0; i < m->nr; i++) {
		cats[i] = model_cats(m, i);
		m->seen |= cats[i];
	}

	/* Every page. */
	if (!scan_pages(m->fd, m->nr, m->cap, kcats, msg))
		return false;
	for (i = 0; i < m->nr; i++) {
		if (kcats[i] != cats[i]) {
			failf(msg, "the kernel and the model differ:");
			for (; i < m->nr; i++) {
				if (kcats[i] != cats[i])
					appendf(msg, "\n#   page %d: kernel %s, model %s",
						i, cats_str(kcats[i], a),
						cats_str(cats[i], b));
			}
			return false;
		}
	}
	/* The same, exactly as regions, and as a summary. */
	if (!run_query(m->fd, &q, &m->vb, &res, msg) ||
	    !check_exact(cats, &q, &res, msg))
		return false;
	q.flags = SUMMARY;
	q.vec_len = rng_chance(r, 50) ? SUMMARY_MAX :
					9 + rng_below(r, SUMMARY_MAX - 8);
	if (!run_query(m->fd, &q, &m->vb, &res, msg) ||
	    !check_wellformed(&q, &res, m->cap, msg) ||
	    !check_exact(cats, &q, &res, msg))
		return false;
	m->stats[ST_QUERIES] += 3;

	return model_random_query(m, r, cats, msg);
}

/* The random tests: nothing to set up, the seed is global. */
FIXTURE(random)
{
};

FIXTURE_SETUP(random)
{
}

FIXTURE_TEARDOWN(random)
{
}

static void model_dump(const struct model *m)
{
	char cats[CATS_LEN];
	unsigned long s;
	int i, v;

	fprintf(stderr, "# seed %u: the last steps:\n", seed);
	s = m->step >= HIST_LEN ? m->step - HIST_LEN + 1 : 0;
	for (; s <= m->step; s++)
		fprintf(stderr, "#   %s\n", m->hist[s % HIST_LEN]);
	fprintf(stderr, "# the model, after the step:\n");
	for (i = 0; i < m->nr; i++) {
		fprintf(stderr, "#   page %2d: %s", i,
			cats_str(model_cats(m, i), cats));
		for (v = 0; v < NR_VIEWS; v++)
			fprintf(stderr, "%s", m->vma[v][i] ?
				(m->pg[i].mapped[v] ? " M" : " v") : " -");
		fprintf(stderr, " folio %u\n",
			m->pg[i].allocated ? m->pg[i].folio : 0);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST_F_TIMEOUT(random, model, TEST_TIMEOUT)
{
	struct model *m = calloc(1, sizeof(*m));
	char *msg = malloc(MSG_LEN);
	struct rng r = rng_init(1);
	struct kvm_vm *vm;
	bool ok = true, init_shared;
	int v, i, k, fds[2];
	double t0;

	ASSERT_NE(NULL, m);
	ASSERT_NE(NULL, msg);
	m->nr = MODEL_PAGES;
	m->cap = scan_cap();
	init_shared = rng_chance(&r, 50);
	vm = create_vm();
	m->fd = vm_create_guest_memfd(vm, page_off(m->nr),
				      GUEST_MEMFD_FLAG_MMAP |
				      (init_shared ? GUEST_MEMFD_FLAG_INIT_SHARED : 0));
	for (i = 0; i < m->nr; i++)
		m->pg[i].shared = init_shared;
	for (v = 0; v < NR_VIEWS; v++) {
		m->view[v] = gmem_mmap(m->fd, m->nr);
		ASSERT_NE(MAP_FAILED, m->view[v]);
		memset(m->vma[v], 1, sizeof(m->vma[v]));
	}
	for (k = 0; k < NR_PIPES; k++) {
		ASSERT_EQ(0, pipe2(fds, O_NONBLOCK));
		m->pipe[k].rfd = fds[0];
		m->pipe[k].wfd = fds[1];
	}
	m->gup_fd = gup_open();
	TH_LOG("seed %u: %lu steps on %d pages, %s, %s", seed, model_steps,
	       m->nr, init_shared ? "INIT_SHARED" : "private at first",
	       m->gup_fd >= 0 ? "with GUP pins" : "without GUP pins");

	t0 = now();
	for (m->step = 0; m->step < model_steps; m->step++) {
		ok = model_step(m, &r, msg) && model_check(m, &r, msg);
		if (!ok) {
			model_dump(m);
			break;
		}
	}
	ASSERT_TRUE(ok) TH_LOG("seed %u, step %lu: %s", seed, m->step, msg);

	TH_LOG("seed %u: %lu steps in %.1f s", seed, model_steps, now() - t0);
	for (i = 0; i < ST_NR; i++)
		TH_LOG("  %s: %lu", stat_names[i], m->stats[i]);

	/* Every kind of page and outcome showed up. */
	if (model_steps >= MODEL_STEPS) {
		u64 want = CAT_PRIVATE | CAT_SHARED | CAT_ALLOC | CAT_MAPPED |
			   CAT_PINNED | (m->gup_fd >= 0 ? CAT_DMA : 0);
		char cats[CATS_LEN];

		EXPECT_EQ(want, m->seen & want)
			TH_LOG("seed %u: categories seen: %s", seed,
			       cats_str(m->seen, cats));
		EXPECT_LT(0, m->stats[ST_EAGAIN]) TH_LOG("seed %u", seed);
		EXPECT_LT(0, m->stats[ST_SIGBUS]) TH_LOG("seed %u", seed);
		EXPECT_LT(0, m->stats[ST_RESUMED]) TH_LOG("seed %u", seed);
		EXPECT_LT(0, m->stats[ST_SPLICE_EFAULT]) TH_LOG("seed %u", seed);
		if (m->gup_fd >= 0) {
			EXPECT_LT(0, m->stats[ST_PIN_EFAULT])
				TH_LOG("seed %u", seed);
		}
	}

	if (m->gup_fd >= 0) {
		gup_unpin(m->gup_fd);
		close(m->gup_fd);
	}
	for (k = 0; k < NR_PIPES; k++) {
		close(m->pipe[k].rfd);
		close(m->pipe[k].wfd);
	}
	for (v = 0; v < NR_VIEWS; v++) {
		for (i = 0; i < m->nr; i++) {
			if (m->vma[v][i])
				munmap(view_page(m, v, i), page_size);
		}
	}
	close(m->fd);
	kvm_vm_free(vm);
	free(msg);
	free(m);
}

/* ---- Queries racing with everything that changes pages ---- */

#define CONC_CONVERTERS		2
#define CONC_QUERIERS		2
#define CONC_CONVERSIONS	1000	/* per converter */
#define CONC_PIN_HOLD		4	/* sched_yield()s while pinned */

struct conc {
	int fd;
	int nr;
	char *mem;
	u64 cap;
	int gup_fd;
	int converters_left;
	pthread_mutex_t lock;
	int failed;
	char failure[MSG_LEN];
};

struct cthread {
	pthread_t thread;
	struct conc *c;
	struct rng rng;
	unsigned long ops;
	unsigned long refused;		/* EAGAIN, SIGBUS or EFAULT */
	struct vecbuf vb;
	char msg[MSG_LEN];
};

static bool conc_done(struct conc *c)
{
	return !__atomic_load_n(&c->converters_left, __ATOMIC_ACQUIRE) ||
	       READ_ONCE(c->failed);
}

/* Records the first failure, t->msg, and stops every thread. */
static void conc_fail(struct cthread *t, const char *who)
{
	struct conc *c = t->c;

	pthread_mutex_lock(&c->lock);
	if (!c->failed)
		snprintf(c->failure, sizeof(c->failure), "%s: %.8000s", who,
			 t->msg);
	WRITE_ONCE(c->failed, 1);
	pthread_mutex_unlock(&c->lock);
}

static void *converter_fn(void *arg)
{
	struct cthread *t = arg;
	struct conc *c = t->c;
	int i, first, nr, err;
	bool to_private;
	u64 err_off;

	for (i = 0; i < CONC_CONVERSIONS && !READ_ONCE(c->failed); i++) {
		rng_range(&t->rng, c->nr, &first, &nr);
		to_private = rng_chance(&t->rng, 50);
		err = gmem_convert(c->fd, first, nr,
				   to_private ? ATTR_PRIVATE : ATTR_SHARED,
				   &err_off);
		t->ops++;
		if (err == EAGAIN && to_private &&
		    err_off >= page_off(first) &&
		    err_off < page_off(first + nr) && !(err_off % page_size)) {
			t->refused++;
			continue;
		}
		if (err) {
			failf(t->msg, "pages %d-%d to %s: %s, error_offset 0x%lx",
			      first, first + nr - 1,
			      to_private ? "private" : "shared", strerror(err),
			      err_off);
			conc_fail(t, "converter");
		}
	}
	__atomic_fetch_sub(&c->converters_left, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Host accesses, hole punches, allocations and zaps. */
static void *toucher_fn(void *arg)
{
	struct cthread *t = arg;
	struct conc *c = t->c;
	int first, nr, err = 0;
	u32 op;

	while (!conc_done(c)) {
		rng_range(&t->rng, c->nr, &first, &nr);
		op = rng_below(&t->rng, 100);
		t->ops++;
		if (op < 80)
			t->refused += access_sigbus(page_ptr(c->mem, first),
						    op & 1);
		else if (op < 87)
			err = gmem_fallocate(c->fd, first, nr, true);
		else if (op < 94)
			err = gmem_fallocate(c->fd, first, nr, false);
		else if (madvise(page_ptr(c->mem, first), page_off(nr),
				 MADV_DONTNEED))
			err = errno;
		if (err) {
			failf(t->msg, "op %u on pages %d-%d: %s", op, first,
			      first + nr - 1, strerror(err));
			conc_fail(t, "toucher");
		}
	}
	return NULL;
}

/* GUP pins, and references held by a pipe, for a moment each. */
static void *pinner_fn(void *arg)
{
	struct cthread *t = arg;
	struct conc *c = t->c;
	int first, nr, err, j, fds[2];

	if (pipe2(fds, O_NONBLOCK)) {
		failf(t->msg, "pipe2: %s", strerror(errno));
		conc_fail(t, "pinner");
		return NULL;
	}
	while (!conc_done(c)) {
		rng_range(&t->rng, c->nr, &first, &nr);
		t->ops++;
		if (c->gup_fd >= 0 && rng_chance(&t->rng, 50)) {
			err = gup_pin(c->gup_fd, page_ptr(c->mem, first), nr);
			for (j = 0; !err && j < CONC_PIN_HOLD; j++)
				sched_yield();
			if (!err)
				err = gup_unpin(c->gup_fd);
		} else {
			err = pipe_splice(fds[1], page_ptr(c->mem, first));
			for (j = 0; !err && j < CONC_PIN_HOLD; j++)
				sched_yield();
			if (!err)
				pipe_drain(fds[0], 1);
		}
		/* A private page cannot be pinned nor spliced. */
		if (err == EFAULT) {
			t->refused++;
		} else if (err) {
			failf(t->msg, "pages %d-%d: %s", first, first + nr - 1,
			      strerror(err));
			conc_fail(t, "pinner");
		}
	}
	close(fds[0]);
	close(fds[1]);
	return NULL;
}

/* Random queries, and every fourth a full one, all well-formed. */
static void *querier_fn(void *arg)
{
	struct cthread *t = arg;
	struct conc *c = t->c;
	struct result res;
	struct query q;

	while (!conc_done(c)) {
		if (t->ops % 4) {
			random_query(&t->rng, c->nr, c->cap, &q);
		} else {
			memset(&q, 0, sizeof(q));
			q.end = page_off(c->nr);
			q.vec_len = VEC_MAX;
			q.ret_mask = c->cap;
			if (t->ops % 8) {
				q.flags = SUMMARY;
				q.vec_len = SUMMARY_MAX;
			}
		}
		t->ops++;
		if (!run_query(c->fd, &q, &t->vb, &res, t->msg) ||
		    !check_wellformed(&q, &res, c->cap, t->msg)) {
			conc_fail(t, "querier");
			break;
		}
		t->refused += res.walk_end < q.end;
	}
	return NULL;
}

TEST_F_TIMEOUT(random, concurrent, TEST_TIMEOUT)
{
	struct conc c = {
		.nr = MODEL_PAGES,
		.cap = scan_cap(),
		.converters_left = CONC_CONVERTERS,
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	struct cthread *conv, *quer, *touch, *pin;
	unsigned long converted = 0, queries = 0;
	char msg[MSG_LEN], cats_s[CATS_LEN];
	u64 cats[MAX_PAGES];
	struct kvm_vm *vm;
	unsigned int stream = 100;
	double t0 = now();
	int i;

	conv = calloc(CONC_CONVERTERS, sizeof(*conv));
	quer = calloc(CONC_QUERIERS, sizeof(*quer));
	touch = calloc(1, sizeof(*touch));
	pin = calloc(1, sizeof(*pin));
	ASSERT_TRUE(conv && quer && touch && pin);

	vm = create_vm();
	c.fd = vm_create_guest_memfd(vm, page_off(c.nr), GMEM_FLAGS);
	c.mem = gmem_mmap(c.fd, c.nr);
	ASSERT_NE(MAP_FAILED, c.mem);
	c.gup_fd = gup_open();
	TH_LOG("seed %u: %d converters, a toucher, a pinner (%s), %d queriers",
	       seed, CONC_CONVERTERS,
	       c.gup_fd >= 0 ? "GUP and pipes" : "pipes only", CONC_QUERIERS);

	for (i = 0; i < CONC_QUERIERS; i++) {
		quer[i].c = &c;
		quer[i].rng = rng_init(stream++);
		ASSERT_EQ(0, pthread_create(&quer[i].thread, NULL, querier_fn,
					    &quer[i]));
	}
	touch->c = &c;
	touch->rng = rng_init(stream++);
	ASSERT_EQ(0, pthread_create(&touch->thread, NULL, toucher_fn, touch));
	pin->c = &c;
	pin->rng = rng_init(stream++);
	ASSERT_EQ(0, pthread_create(&pin->thread, NULL, pinner_fn, pin));
	for (i = 0; i < CONC_CONVERTERS; i++) {
		conv[i].c = &c;
		conv[i].rng = rng_init(stream++);
		ASSERT_EQ(0, pthread_create(&conv[i].thread, NULL,
					    converter_fn, &conv[i]));
	}

	for (i = 0; i < CONC_CONVERTERS; i++) {
		ASSERT_EQ(0, pthread_join(conv[i].thread, NULL));
		converted += conv[i].ops - conv[i].refused;
		TH_LOG("converter %d: %lu conversions, %lu refused (EAGAIN)",
		       i, conv[i].ops, conv[i].refused);
	}
	ASSERT_EQ(0, pthread_join(touch->thread, NULL));
	ASSERT_EQ(0, pthread_join(pin->thread, NULL));
	for (i = 0; i < CONC_QUERIERS; i++) {
		ASSERT_EQ(0, pthread_join(quer[i].thread, NULL));
		queries += quer[i].ops;
		EXPECT_LT(0, quer[i].ops) TH_LOG("seed %u", seed);
		TH_LOG("querier %d: %lu queries, %lu stopped early", i,
		       quer[i].ops, quer[i].refused);
	}
	TH_LOG("toucher: %lu operations, %lu SIGBUS", touch->ops,
	       touch->refused);
	TH_LOG("pinner: %lu pins, %lu refused (EFAULT)", pin->ops,
	       pin->refused);
	TH_LOG("seed %u: %.1f s", seed, now() - t0);

	ASSERT_EQ(0, c.failed) TH_LOG("seed %u: %s", seed, c.failure);
	EXPECT_LT(0, converted) TH_LOG("seed %u", seed);

	/* Quiet again: a page is private exactly if the host cannot read it. */
	ASSERT_TRUE(scan_pages(c.fd, c.nr, c.cap, cats, msg))
		TH_LOG("seed %u: %s", seed, msg);
	for (i = 0; i < c.nr; i++) {
		EXPECT_EQ(!!(cats[i] & CAT_PRIVATE),
			  access_sigbus(page_ptr(c.mem, i), false))
			TH_LOG("seed %u: page %d: %s", seed, i,
			       cats_str(cats[i], cats_s));
		EXPECT_FALSE(cats[i] & CAT_PINNED)
			TH_LOG("seed %u: page %d: %s", seed, i,
			       cats_str(cats[i], cats_s));
	}

	if (c.gup_fd >= 0)
		close(c.gup_fd);
	munmap(c.mem, page_off(c.nr));
	close(c.fd);
	kvm_vm_free(vm);
	free(conv);
	free(quer);
	free(touch);
	free(pin);
}

/* ---- A vCPU faulting pages of the file ---- */

#define GUEST_PRIVATE_PAGE	3
#define GUEST_SHARED_PAGE	9
#define GUEST_VAL		0x5ca1ab1e0ddba11ULL

static void guest_code(u64 private_gva, u64 shared_gva)
{
	GUEST_SYNC(READ_ONCE(*(u64 *)private_gva));
	WRITE_ONCE(*(u64 *)shared_gva, GUEST_VAL);
	GUEST_SYNC(0);
	GUEST_DONE();
}

TEST(guest_fault)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	size_t size = page_off(NR_PAGES);
	struct kvm_vcpu *vcpu;
	u64 exp[NR_PAGES];
	struct kvm_vm *vm;
	struct ucall uc;
	char *mem;
	int fd;

	vm = vm_create_shape_with_one_vcpu(shape, &vcpu, guest_code);
	fd = vm_create_guest_memfd(vm, size, GMEM_FLAGS);
	mem = gmem_mmap(fd, NR_PAGES);
	ASSERT_NE(MAP_FAILED, mem);
	vm_set_user_memory_region2(vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD,
				   DATA_GPA, size, mem, fd, 0);
	virt_map(vm, DATA_GPA, DATA_GPA, NR_PAGES);
	vcpu_args_set(vcpu, 2, DATA_GPA + page_off(GUEST_PRIVATE_PAGE),
		      DATA_GPA + page_off(GUEST_SHARED_PAGE));

	ASSERT_EQ(0, gmem_convert(fd, 0, NR_PAGES, ATTR_PRIVATE, NULL));
	ASSERT_EQ(0, gmem_convert(fd, GUEST_SHARED_PAGE, 1, ATTR_SHARED, NULL));
	set_pages(exp, 0, NR_PAGES, P);
	exp[GUEST_SHARED_PAGE] = S;
	expect_layout(fd, NR_PAGES, exp);

	/* A private page: allocated for the guest, the host maps nothing. */
	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_SYNC, get_ucall(vcpu, &uc));
	EXPECT_EQ(0, uc.args[1]);
	exp[GUEST_PRIVATE_PAGE] = PA;
	expect_layout(fd, NR_PAGES, exp);

	/* A shared page: KVM maps it through userspace_addr, the host's. */
	vcpu_run(vcpu);
	ASSERT_EQ(UCALL_SYNC, get_ucall(vcpu, &uc));
	exp[GUEST_SHARED_PAGE] = SAM;
	expect_layout(fd, NR_PAGES, exp);
	EXPECT_EQ(GUEST_VAL, READ_ONCE(*(u64 *)page_ptr(mem, GUEST_SHARED_PAGE)));

	vcpu_run(vcpu);
	EXPECT_EQ(UCALL_DONE, get_ucall(vcpu, &uc));

	/* Private again: KVM's mapping and the host's go. */
	ASSERT_EQ(0, gmem_convert(fd, GUEST_SHARED_PAGE, 1, ATTR_PRIVATE,
				  NULL));
	exp[GUEST_SHARED_PAGE] = PA;
	expect_layout(fd, NR_PAGES, exp);

	kvm_vm_free(vm);
	munmap(mem, size);
	close(fd);
}

/* Takes --seed N or --seed=N out of argv, for the harness's parser. */
static const char *take_seed_option(int *argc, char **argv)
{
	const char *val = NULL;
	int i, n = 0;

	for (i = 0; i < *argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < *argc)
			val = argv[++i];
		else if (!strncmp(argv[i], "--seed=", 7))
			val = argv[i] + 7;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	*argc = n;
	return val;
}

int main(int argc, char **argv)
{
	const char *val = take_seed_option(&argc, argv);
	struct sigaction sa = {
		.sa_sigaction = sigbus_handler,
		.sa_flags = SA_SIGINFO,
	};
	struct timespec ts;
	struct kvm_vm *vm;
	u64 flags;

	if (!val)
		val = getenv("GMEM_SCAN_SEED");
	if (val) {
		seed = strtoul(val, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ts.tv_sec ^ ts.tv_nsec ^ getpid();
	}
	if (getenv("GMEM_SCAN_STEPS"))
		model_steps = strtoul(getenv("GMEM_SCAN_STEPS"), NULL, 0);
	printf("# seed %u (replay: GMEM_SCAN_SEED=%u, or --seed %u)\n", seed,
	       seed, seed);
	fflush(stdout);

	page_size = getpagesize();
	TEST_ASSERT(!sigaction(SIGBUS, &sa, NULL), "sigaction(SIGBUS)");

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GUEST_MEMFD));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_SCAN));
	vm = create_vm();
	flags = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	kvm_vm_free(vm);
	TEST_REQUIRE(flags & GUEST_MEMFD_FLAG_MMAP);

	return test_harness_run(argc, argv);
}
