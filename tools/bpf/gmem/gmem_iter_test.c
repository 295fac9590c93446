// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_iter_test: the "guest_memfd" BPF iterator lists exactly the
 * guest_memfds that exist, with their bindings and counts.
 *
 * Loads gmem_iter.bpf.o through its skeleton, with the regions on, and
 * reads the iterator (bpf_iter_create() on the link) after each step:
 *
 *  1. privileges: an unprivileged user (nobody), and root without
 *     CAP_PERFMON and CAP_SYS_ADMIN, cannot load it (EPERM);
 *  2. files of two KVM_X86_SW_PROTECTED_VMs, with and without
 *     GUEST_MEMFD_FLAG_MMAP|INIT_SHARED, bound to memslots or not,
 *     touched, partly private, a hole punched, a page pinned with
 *     gup_test, one VM and one file created by another thread: each is
 *     listed exactly once (matched by st_ino; files of others are
 *     ignored) with its size, flags, VM, creator, comm and bindings, its
 *     counts equal to KVM_GUEST_MEMFD_SCAN's summary and its regions to
 *     the scan's regions (PRIVATE|SHARED|ALLOCATED); then a listing
 *     longer than the kernel's buffer, which takes several read(2) calls,
 *     each resuming from the position the iterator kept;
 *  3. a closed file is gone from the next read; a file whose VM's fd is
 *     closed is still listed, and its counts follow a conversion;
 *  4. everything closed while another thread reads the iterator in a
 *     loop: every record well formed, then none of ours left;
 *  5. stress: threads create and release VMs and files, bound, mapped,
 *     converted, closed in any order, while one thread reads and checks
 *     every record; none of theirs is left after.
 *
 * Every record read is checked for consistency (counts add up, bindings
 * and regions inside the file, ids in creation order).  A kernel splat
 * fails the test through the lab's dmesg check.
 *
 * Output is TAP; exit 0 when every check passes, 1 when one fails, 4
 * (skip) when the iterator, KVM_X86_SW_PROTECTED_VM or root is missing.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/kvm_gmem.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gmem_iter.h"
#include "gmem_iter.skel.h"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define KSFT_SKIP		4
#define PAGE_SZ			4096ULL
#define NOBODY			65534
#define HELPER_COMM		"gmem_iter_help"
#define SCAN_MAX_REGIONS	1024
/* Page categories of the summary: bits 0 to 6 of KVM_GMEM_PAGE_*. */
#define NR_COUNTS		7	/* PRIVATE ... DMA_PINNED */
/* The summary's count of category KVM_GMEM_PAGE_@cat: at its bit number. */
#define COUNT(counts, cat)	((counts)[__builtin_ctzll(KVM_GMEM_PAGE_##cat)])
#define SUMMARY_MASK	(KVM_GMEM_PAGE_PRIVATE | KVM_GMEM_PAGE_SHARED | \
			 KVM_GMEM_PAGE_ALLOCATED | KVM_GMEM_PAGE_MAPPED | \
			 KVM_GMEM_PAGE_PINNED | KVM_GMEM_PAGE_DMA_PINNED)
#define REGION_MASK	(KVM_GMEM_PAGE_PRIVATE | KVM_GMEM_PAGE_SHARED | \
			 KVM_GMEM_PAGE_ALLOCATED)
#define ALL_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)

/* ---- options ---------------------------------------------------------- */

static struct {
	int duration;
	int threads;
	bool verbose;
} env = {
	.duration = 10,
	.threads = 2,
};

static const char argp_doc[] =
"Check the \"guest_memfd\" BPF iterator against the guest_memfds that exist\n"
"and against KVM_GUEST_MEMFD_SCAN; TAP output.  Needs root and /dev/kvm\n"
"with KVM_X86_SW_PROTECTED_VM.\n"
"\n"
"Exit status: 0 passed, 1 failed, 4 skipped.";

static const struct argp_option argp_opts[] = {
	{ "duration", 'd', "SECONDS", 0, "Length of the stress (default 10)", 0 },
	{ "threads", 't', "N", 0,
	  "Threads that create and release files in the stress (default 2)",
	  0 },
	{ "verbose", 'v', NULL, 0, "Print the listings and libbpf's messages", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char *end;
	long v;

	switch (key) {
	case 'd':
	case 't':
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v < (key == 'd' ? 0 : 1) || v > 3600)
			argp_error(state, "bad value '%s' for -%c", arg, key);
		if (key == 'd')
			env.duration = v;
		else
			env.threads = v;
		break;
	case 'v':
		env.verbose = true;
		break;
	case ARGP_KEY_ARG:
		argp_usage(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- TAP -------------------------------------------------------------- */

static int tap_n, tap_failed;

static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* One test point; on failure the diagnostic, if any, follows it. */
static bool tap(bool ok, const char *why, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok) {
		tap_failed++;
		if (why && *why)
			diag("%s", why);
	}
	fflush(stdout);
	return ok;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!env.verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ---- the iterator's output -------------------------------------------- */

struct binding {
	int slot;
	__u64 base_gfn;
	__u64 index;
	__u64 npages;
};

struct rec {
	__u64 id, ino, size, flags;
	int vm_pid, creator_pid;
	char vm[64];
	char comm[64];
	bool has_counts;
	__u64 pages, private, shared, allocated, mapped, pinned, dma_pinned;
	unsigned int nr_bindings, shown_bindings, more_bindings;
	struct binding bindings[GMEM_ITER_MAX_BINDINGS];
	unsigned int nr_regions;
	bool regions_cut;
	bool regions_err;
	struct kvm_guest_memfd_region regions[GMEM_ITER_MAX_REGIONS];
};

struct listing {
	struct rec *recs;
	unsigned int nr, cap;
	char *buf;		/* the text read */
	size_t buf_cap;
	unsigned int nr_reads;	/* read(2) calls that returned some */
};

static void listing_free(struct listing *l)
{
	free(l->recs);
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

static const char *flag_names(__u64 flags)
{
	switch (flags & ALL_FLAGS) {
	case ALL_FLAGS:
		return "(mmap,init_shared)";
	case GUEST_MEMFD_FLAG_MMAP:
		return "(mmap)";
	case GUEST_MEMFD_FLAG_INIT_SHARED:
		return "(init_shared)";
	}
	return "";
}

/* Parse "guest_memfd ..."; 0 or -1. */
static int parse_head(const char *line, struct rec *r)
{
	const char *names;
	int n = -1, m = -1;
	size_t len;

	if (sscanf(line, "guest_memfd id=%llu ino=%llu size=%llu flags=0x%llx%n",
		   &r->id, &r->ino, &r->size, &r->flags, &n) != 4 || n < 0)
		return -1;
	names = flag_names(r->flags);
	len = strlen(names);
	if (strncmp(line + n, names, len))
		return -1;
	n += len;
	if (sscanf(line + n, " vm=%63s vm_pid=%d creator_pid=%d comm=%n",
		   r->vm, &r->vm_pid, &r->creator_pid, &m) != 3 || m < 0)
		return -1;
	if (strlen(line + n + m) >= sizeof(r->comm))
		return -1;
	snprintf(r->comm, sizeof(r->comm), "%s", line + n + m);
	return 0;
}

static int parse_region(const char *line, struct rec *r)
{
	struct kvm_guest_memfd_region *reg;
	char share[16], alloc[16];
	int n = -1;

	if (r->nr_regions == GMEM_ITER_MAX_REGIONS)
		return -1;
	reg = &r->regions[r->nr_regions];
	if (sscanf(line, "  region 0x%llx-0x%llx %15s %15s%n", &reg->start,
		   &reg->end, share, alloc, &n) != 4 || line[n])
		return -1;
	if (!strcmp(share, "private"))
		reg->categories = KVM_GMEM_PAGE_PRIVATE;
	else if (!strcmp(share, "shared"))
		reg->categories = KVM_GMEM_PAGE_SHARED;
	else
		return -1;
	if (!strcmp(alloc, "allocated"))
		reg->categories |= KVM_GMEM_PAGE_ALLOCATED;
	else if (strcmp(alloc, "hole"))
		return -1;
	r->nr_regions++;
	return 0;
}

/* A line that belongs to record @r (the current one, or NULL). */
static int parse_line(const char *line, struct rec *r)
{
	struct binding *b;
	unsigned int u;
	int n = -1, d;

	if (!r)
		return -1;
	if (!strncmp(line, "  pages=", 8)) {
		if (r->has_counts ||
		    sscanf(line,
			   "  pages=%llu private=%llu shared=%llu allocated=%llu mapped=%llu pinned=%llu dma_pinned=%llu bindings=%u%n",
			   &r->pages, &r->private, &r->shared, &r->allocated,
			   &r->mapped, &r->pinned, &r->dma_pinned,
			   &r->nr_bindings, &n) != 8 || line[n])
			return -1;
		r->has_counts = true;
		return 0;
	}
	if (!strncmp(line, "  binding ", 10)) {
		if (!r->has_counts ||
		    r->shown_bindings == GMEM_ITER_MAX_BINDINGS)
			return -1;
		b = &r->bindings[r->shown_bindings];
		if (sscanf(line,
			   "  binding slot=%d base_gfn=0x%llx index=%llu npages=%llu%n",
			   &b->slot, &b->base_gfn, &b->index, &b->npages,
			   &n) != 4 || line[n])
			return -1;
		r->shown_bindings++;
		return 0;
	}
	if (sscanf(line, "  (%u more bindings)%n", &u, &n) == 1 && !line[n]) {
		r->more_bindings = u;
		return 0;
	}
	if (!strncmp(line, "  region ", 9))
		return parse_region(line, r);
	if (sscanf(line, "  regions: more than %u, not shown%n", &u, &n) == 1 &&
	    !line[n]) {
		r->regions_cut = true;
		return 0;
	}
	if (sscanf(line, "  regions: error %d%n", &d, &n) == 1 && !line[n]) {
		r->regions_err = true;
		return 0;
	}
	return -1;
}

/* Parse a whole read of the iterator into @l; on error, say why. */
static int parse_listing(char *buf, struct listing *l, char *why, size_t len)
{
	struct rec *r = NULL;
	char *line, *next;
	int nr = 0;

	l->nr = 0;
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			snprintf(why, len, "unterminated last line '%.200s'",
				 line);
			return -1;
		}
		*next++ = '\0';
		nr++;
		if (!strncmp(line, "guest_memfd ", 12)) {
			if (l->nr == l->cap) {
				unsigned int cap = l->cap ? 2 * l->cap : 16;
				struct rec *p;

				p = realloc(l->recs, cap * sizeof(*p));
				if (!p) {
					snprintf(why, len, "out of memory");
					return -1;
				}
				l->recs = p;
				l->cap = cap;
			}
			r = &l->recs[l->nr++];
			memset(r, 0, sizeof(*r));
			if (parse_head(line, r))
				goto bad;
			continue;
		}
		if (parse_line(line, r))
			goto bad;
	}
	return 0;
bad:
	snprintf(why, len, "line %d is malformed: '%.300s'", nr, line);
	return -1;
}

/* Say why in @why, return -1. */
static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Is @r consistent in itself?  0, or -1 with the reason in @why. */
static int check_rec(const struct rec *r, bool regions, char *why,
		     size_t len)
{
	__u64 end = 0, expect_slots;
	char vm[64];
	unsigned int i;

	if (!r->has_counts)
		return fail(why, len, "no counts line");
	if (!r->size || r->size % PAGE_SZ || r->pages != r->size / PAGE_SZ)
		return fail(why, len, "size %llu and pages %llu disagree",
			    r->size, r->pages);
	if (r->flags & ~ALL_FLAGS ||
	    (r->flags & GUEST_MEMFD_FLAG_INIT_SHARED &&
	     !(r->flags & GUEST_MEMFD_FLAG_MMAP)))
		return fail(why, len, "flags 0x%llx", r->flags);
	snprintf(vm, sizeof(vm), "kvm-%d", r->vm_pid);
	if (r->vm_pid <= 0 || strcmp(vm, r->vm))
		return fail(why, len, "vm %s with vm_pid %d", r->vm,
			    r->vm_pid);
	if (r->creator_pid <= 0 || !r->comm[0] || strlen(r->comm) > 15)
		return fail(why, len, "creator_pid %d comm '%s'",
			    r->creator_pid, r->comm);
	if (r->private + r->shared != r->pages)
		return fail(why, len, "private %llu + shared %llu != pages %llu",
			    r->private, r->shared, r->pages);
	if (!(r->flags & GUEST_MEMFD_FLAG_MMAP) && r->shared)
		return fail(why, len,
			    "%llu shared pages without GUEST_MEMFD_FLAG_MMAP",
			    r->shared);
	if (r->allocated > r->pages || r->mapped > r->allocated ||
	    r->pinned > r->allocated || r->dma_pinned > r->pinned)
		return fail(why, len,
			    "allocated %llu mapped %llu pinned %llu dma_pinned %llu of %llu pages",
			    r->allocated, r->mapped, r->pinned, r->dma_pinned,
			    r->pages);
	expect_slots = r->nr_bindings < GMEM_ITER_MAX_BINDINGS ?
		       r->nr_bindings : GMEM_ITER_MAX_BINDINGS;
	if (r->shown_bindings != expect_slots ||
	    r->more_bindings != r->nr_bindings - expect_slots)
		return fail(why, len, "bindings=%u but %u shown and %u more",
			    r->nr_bindings, r->shown_bindings,
			    r->more_bindings);
	for (i = 0; i < r->shown_bindings; i++) {
		const struct binding *b = &r->bindings[i];

		if (!b->npages || b->index < end ||
		    b->index + b->npages > r->pages)
			return fail(why, len,
				    "binding %u (slot %d index %llu npages %llu) outside the file or out of order",
				    i, b->slot, b->index, b->npages);
		end = b->index + b->npages;
	}
	if (!regions) {
		if (r->nr_regions || r->regions_cut || r->regions_err)
			return fail(why, len,
				    "regions printed, though not asked for");
		return 0;
	}
	if (r->regions_err)
		return fail(why, len, "regions: error");
	end = 0;
	for (i = 0; i < r->nr_regions; i++) {
		const struct kvm_guest_memfd_region *reg = &r->regions[i];

		if (reg->start != end || reg->end <= reg->start ||
		    reg->end % PAGE_SZ)
			return fail(why, len,
				    "region %u 0x%llx-0x%llx does not follow 0x%llx",
				    i, reg->start, reg->end, end);
		if (!(r->flags & GUEST_MEMFD_FLAG_MMAP) &&
		    reg->categories & KVM_GMEM_PAGE_SHARED)
			return fail(why, len,
				    "shared region without GUEST_MEMFD_FLAG_MMAP");
		end = reg->end;
	}
	/* More than max_regions: those shown must still be right. */
	if (r->regions_cut ? r->nr_regions != GMEM_ITER_MAX_REGIONS :
	    end != r->size)
		return fail(why, len,
			    "regions end at 0x%llx, not at the size 0x%llx",
			    end, r->size);
	return 0;
}

/* Check every record of @l, and their order. */
static int check_listing(const struct listing *l, bool regions, char *why,
			 size_t len)
{
	char sub[512];
	unsigned int i;

	for (i = 0; i < l->nr; i++) {
		if (i && l->recs[i].id <= l->recs[i - 1].id) {
			snprintf(why, len, "id %llu after id %llu",
				 l->recs[i].id, l->recs[i - 1].id);
			return -1;
		}
		if (check_rec(&l->recs[i], regions, sub, sizeof(sub))) {
			snprintf(why, len, "guest_memfd id=%llu ino=%llu: %s",
				 l->recs[i].id, l->recs[i].ino, sub);
			return -1;
		}
	}
	return 0;
}

/*
 * Read an iterator of @link_fd to the end, into a NUL-terminated @*buf.
 * Each read(2) returns what one pass of the kernel's seq_file put in its
 * buffer (8 pages), from ->start() to ->stop(); *@nr_reads counts them.
 */
static int read_iter(int link_fd, char **buf, size_t *cap,
		     unsigned int *nr_reads)
{
	size_t len = 0;
	ssize_t n;
	int fd, err = 0;

	*nr_reads = 0;
	fd = bpf_iter_create(link_fd);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (*cap - len < 4096 + 1) {
			size_t c = *cap ? 2 * *cap : 65536;
			char *p = realloc(*buf, c);

			if (!p) {
				err = -ENOMEM;
				break;
			}
			*buf = p;
			*cap = c;
		}
		n = read(fd, *buf + len, *cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (!n)
			break;
		len += n;
		++*nr_reads;
	}
	close(fd);
	if (*buf)
		(*buf)[len] = '\0';
	return err;
}

/* Read and parse; 0, or -1 with @why set.  @show: print it (-v). */
static int read_listing(int link_fd, struct listing *l, bool show, char *why,
			size_t len)
{
	int err;

	err = read_iter(link_fd, &l->buf, &l->buf_cap, &l->nr_reads);
	if (err) {
		snprintf(why, len, "reading the iterator: %s", strerror(-err));
		return -1;
	}
	if (show && env.verbose)
		printf("%s", l->buf);
	if (parse_listing(l->buf, l, why, len))
		return -1;
	return check_listing(l, true, why, len);
}

static const struct rec *find_ino(const struct listing *l, __u64 ino,
				  int *count)
{
	const struct rec *r = NULL;
	unsigned int i;

	*count = 0;
	for (i = 0; i < l->nr; i++) {
		if (l->recs[i].ino == ino) {
			r = &l->recs[i];
			++*count;
		}
	}
	return r;
}

/* ---- KVM -------------------------------------------------------------- */

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

static int create_vm(int kvm_fd)
{
	return ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
}

static int create_gmem(int vm_fd, __u64 size, __u64 flags)
{
	struct kvm_create_guest_memfd create = {
		.size = size,
		.flags = flags,
	};

	return ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &create);
}

static int bind_slot(int vm_fd, __u32 slot, __u64 gpa, __u64 size,
		     void *uaddr, int gmem_fd, __u64 offset)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = slot,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)uaddr,
		.guest_memfd_offset = offset,
		.guest_memfd = gmem_fd,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region);
}

/* Convert pages of @fd in place; retries a transient EAGAIN. */
static int convert(int fd, __u64 first, __u64 nr, bool private)
{
	struct kvm_memory_attributes2 attr = {
		.offset = first * PAGE_SZ,
		.size = nr * PAGE_SZ,
		.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};
	int i, r;

	for (i = 0; i < 10; i++) {
		r = ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr);
		if (!r || errno != EAGAIN)
			break;
		usleep(1000);
	}
	return r;
}

static __u64 ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* KVM_GUEST_MEMFD_SCAN's page counts over the whole file; 0 or -errno. */
static int scan_summary(int fd, __u64 size, __u64 *counts)
{
	struct kvm_guest_memfd_scan scan = {
		.size = sizeof(scan),
		.flags = KVM_GMEM_SCAN_SUMMARY,
		.end = size,
		.vec = (uintptr_t)counts,
		.vec_len = NR_COUNTS,
		.return_mask = SUMMARY_MASK,
	};

	memset(counts, 0, NR_COUNTS * sizeof(*counts));
	return ioctl(fd, KVM_GUEST_MEMFD_SCAN, &scan) ? -errno : 0;
}

/* KVM_GUEST_MEMFD_SCAN's regions; their number, or -errno. */
static int scan_regions(int fd, __u64 size,
			struct kvm_guest_memfd_region *vec, int max)
{
	struct kvm_guest_memfd_scan scan = {
		.size = sizeof(scan),
		.end = size,
		.vec = (uintptr_t)vec,
		.vec_len = max,
		.return_mask = REGION_MASK,
	};
	int n;

	n = ioctl(fd, KVM_GUEST_MEMFD_SCAN, &scan);
	if (n < 0)
		return -errno;
	if (scan.walk_end != size)
		return -ENOSPC;
	return n;
}

/* Merge neighbours of the same categories, in place; the new count. */
static int coalesce(struct kvm_guest_memfd_region *v, int n)
{
	int i, out = 0;

	for (i = 0; i < n; i++) {
		if (out && v[out - 1].end == v[i].start &&
		    v[out - 1].categories == v[i].categories)
			v[out - 1].end = v[i].end;
		else
			v[out++] = v[i];
	}
	return out;
}

/* ---- the files of the test -------------------------------------------- */

struct tfile {
	const char *name;
	int fd;
	__u64 ino;
	__u64 size;
	__u64 flags;
	char *mem;		/* its mmap, for GUEST_MEMFD_FLAG_MMAP */
	int vm;			/* index into vms[] */
	pid_t creator;		/* the creating process (tgid) */
	char comm[16];		/* the creating thread's comm */
	unsigned int nr_bindings;
	struct binding bindings[2];
	/* expected counts, or -1 for "as the scan says" */
	long long private, shared, allocated, dma_pinned;
};

struct tvm {
	int fd;
	pid_t tid;		/* the creating thread: the kernel's vm_pid */
};

static struct tvm vms[2];
static struct tfile files[4];

/* Run @fn(@arg) in a thread named HELPER_COMM, and wait for it. */
struct helper {
	void (*fn)(void *arg);
	void *arg;
};

static void *helper_main(void *p)
{
	struct helper *h = p;

	prctl(PR_SET_NAME, HELPER_COMM);
	h->fn(h->arg);
	return NULL;
}

static int in_helper(void (*fn)(void *arg), void *arg)
{
	struct helper h = { fn, arg };
	pthread_t t;
	int err;

	err = pthread_create(&t, NULL, helper_main, &h);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return 0;
}

static int kvm_fd = -1;

static void helper_create_vm(void *arg)
{
	struct tvm *vm = arg;

	vm->tid = gettid_();
	vm->fd = create_vm(kvm_fd);
}

static void helper_create_gmem(void *arg)
{
	struct tfile *f = arg;

	f->fd = create_gmem(vms[f->vm].fd, f->size, f->flags);
}

static void thread_comm(char *comm)
{
	memset(comm, 0, 16);
	prctl(PR_GET_NAME, comm);
}

/* Create file @f of VM @vm, here or in the helper thread. */
static int make_file(struct tfile *f, const char *name, int vm,
		     __u64 pages, __u64 flags, bool helper)
{
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->vm = vm;
	f->size = pages * PAGE_SZ;
	f->flags = flags;
	f->creator = getpid();
	f->private = -1;
	f->shared = -1;
	f->allocated = -1;
	f->dma_pinned = -1;
	f->mem = MAP_FAILED;
	if (helper) {
		f->fd = -1;
		if (in_helper(helper_create_gmem, f))
			return -1;
		snprintf(f->comm, sizeof(f->comm), "%s", HELPER_COMM);
	} else {
		f->fd = create_gmem(vms[vm].fd, f->size, flags);
		thread_comm(f->comm);
	}
	if (f->fd < 0) {
		diag("KVM_CREATE_GUEST_MEMFD(%s): %s", name, strerror(errno));
		return -1;
	}
	f->ino = ino_of(f->fd);
	if (flags & GUEST_MEMFD_FLAG_MMAP) {
		f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, f->fd, 0);
		if (f->mem == MAP_FAILED) {
			diag("mmap(%s): %s", name, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int add_binding(struct tfile *f, __u32 slot, __u64 gpa, __u64 first,
		       __u64 nr, void *uaddr)
{
	struct binding *b = &f->bindings[f->nr_bindings];

	if (bind_slot(vms[f->vm].fd, slot, gpa, nr * PAGE_SZ, uaddr, f->fd,
		      first * PAGE_SZ)) {
		diag("KVM_SET_USER_MEMORY_REGION2(%s, slot %u): %s", f->name,
		     slot, strerror(errno));
		return -1;
	}
	b->slot = slot;
	b->base_gfn = gpa / PAGE_SZ;
	b->index = first;
	b->npages = nr;
	f->nr_bindings++;
	return 0;
}

static void close_file(struct tfile *f)
{
	if (f->mem != MAP_FAILED)
		munmap(f->mem, f->size);
	f->mem = MAP_FAILED;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void touch(struct tfile *f, __u64 first, __u64 nr)
{
	__u64 i;

	for (i = first; i < first + nr; i++)
		f->mem[i * PAGE_SZ] = (char)i;
}

/*
 * Check that the open files of @fs are listed, once each, as they are,
 * and that the closed ones (@gone_inos) are not.
 */
static void check_files(const char *step, const struct listing *l,
			const struct tfile *fs, unsigned int nr_fs,
			const __u64 *gone_inos, int nr_gone)
{
	struct kvm_guest_memfd_region *scan;
	char why[1024], vm[32];
	__u64 counts[NR_COUNTS];
	unsigned int i, j;
	int count, n, k;

	scan = calloc(SCAN_MAX_REGIONS, sizeof(*scan));
	for (k = 0; k < nr_gone; k++) {
		find_ino(l, gone_inos[k], &count);
		tap(!count, NULL, "%s: closed file ino %llu is not listed (%d times)",
		    step, gone_inos[k], count);
	}
	for (i = 0; i < nr_fs; i++) {
		const struct tfile *f = &fs[i];
		struct rec r;
		const struct rec *p;
		bool ok;

		if (f->fd < 0)
			continue;
		p = find_ino(l, f->ino, &count);
		if (!tap(count == 1, NULL, "%s: %s (ino %llu) listed once (%d)",
			 step, f->name, f->ino, count))
			continue;
		r = *p;

		snprintf(vm, sizeof(vm), "kvm-%d", vms[f->vm].tid);
		snprintf(why, sizeof(why),
			 "got size=%llu flags=0x%llx vm=%s vm_pid=%d creator_pid=%d comm=%s; want size=%llu flags=0x%llx vm=%s vm_pid=%d creator_pid=%d comm=%s",
			 r.size, r.flags, r.vm, r.vm_pid, r.creator_pid,
			 r.comm, f->size, f->flags, vm, vms[f->vm].tid,
			 f->creator, f->comm);
		tap(r.size == f->size && r.flags == f->flags &&
		    !strcmp(r.vm, vm) && r.vm_pid == vms[f->vm].tid &&
		    r.creator_pid == f->creator && !strcmp(r.comm, f->comm),
		    why, "%s: %s: size, flags, VM, creator and comm", step,
		    f->name);

		ok = r.nr_bindings == f->nr_bindings;
		for (j = 0; ok && j < f->nr_bindings; j++)
			ok = !memcmp(&r.bindings[j], &f->bindings[j],
				     sizeof(r.bindings[j]));
		snprintf(why, sizeof(why), "got %u bindings, want %u",
			 r.nr_bindings, f->nr_bindings);
		for (j = 0; j < r.shown_bindings && j < 2; j++)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; got slot=%d base_gfn=0x%llx index=%llu npages=%llu",
				 r.bindings[j].slot, r.bindings[j].base_gfn,
				 r.bindings[j].index, r.bindings[j].npages);
		tap(ok, why, "%s: %s: %u bindings, slots, gfns and offsets",
		    step, f->name, f->nr_bindings);

		n = scan_summary(f->fd, f->size, counts);
		snprintf(why, sizeof(why),
			 "iterator private=%llu shared=%llu allocated=%llu mapped=%llu pinned=%llu dma_pinned=%llu; scan %d: %llu %llu %llu %llu %llu %llu",
			 r.private, r.shared, r.allocated, r.mapped, r.pinned,
			 r.dma_pinned, n, COUNT(counts, PRIVATE),
			 COUNT(counts, SHARED), COUNT(counts, ALLOCATED),
			 COUNT(counts, MAPPED), COUNT(counts, PINNED),
			 COUNT(counts, DMA_PINNED));
		tap(!n && r.private == COUNT(counts, PRIVATE) &&
		    r.shared == COUNT(counts, SHARED) &&
		    r.allocated == COUNT(counts, ALLOCATED) &&
		    r.mapped == COUNT(counts, MAPPED) &&
		    r.pinned == COUNT(counts, PINNED) &&
		    r.dma_pinned == COUNT(counts, DMA_PINNED), why,
		    "%s: %s: nr_* equal KVM_GUEST_MEMFD_SCAN's summary (private %llu shared %llu allocated %llu mapped %llu pinned %llu dma_pinned %llu)",
		    step, f->name, r.private, r.shared, r.allocated, r.mapped,
		    r.pinned, r.dma_pinned);
		if (f->private >= 0) {
			snprintf(why, sizeof(why),
				 "got private=%llu shared=%llu allocated=%llu dma_pinned=%llu, want %lld %lld %lld %lld",
				 r.private, r.shared, r.allocated,
				 r.dma_pinned, f->private, f->shared,
				 f->allocated, f->dma_pinned);
			tap((long long)r.private == f->private &&
			    (long long)r.shared == f->shared &&
			    (long long)r.allocated == f->allocated &&
			    (f->dma_pinned < 0 ||
			     (long long)r.dma_pinned == f->dma_pinned), why,
			    "%s: %s: the counts are what the test did", step,
			    f->name);
		}

		n = scan ? scan_regions(f->fd, f->size, scan,
					SCAN_MAX_REGIONS) : -ENOMEM;
		if (n >= 0) {
			n = coalesce(scan, n);
			r.nr_regions = coalesce(r.regions, r.nr_regions);
		}
		ok = n >= 0 && (unsigned int)n == r.nr_regions &&
		     !memcmp(scan, r.regions, n * sizeof(*scan));
		snprintf(why, sizeof(why), "scan: %d regions, iterator: %u",
			 n, r.nr_regions);
		for (j = 0; !ok && n > 0 && j < (unsigned int)n &&
		     j < r.nr_regions && j < 8; j++)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 "; [%u] scan 0x%llx-0x%llx/%llx iter 0x%llx-0x%llx/%llx",
				 j, scan[j].start, scan[j].end,
				 scan[j].categories, r.regions[j].start,
				 r.regions[j].end, r.regions[j].categories);
		tap(ok, why, "%s: %s: %u regions equal KVM_GUEST_MEMFD_SCAN's",
		    step, f->name, r.nr_regions);
	}
	free(scan);
}

/* Read the iterator for a step; false (and a failed test) if bad. */
static bool read_step(int link_fd, const char *step, struct listing *l)
{
	char why[1024] = "";
	int r;

	r = read_listing(link_fd, l, true, why, sizeof(why));
	return tap(!r, why, "%s: the iterator reads, %u records, all well formed",
		   step, l->nr);
}

/*
 * A listing longer than the seq_file buffer: files of many regions each,
 * so that a read(2) ends between two files and the next one goes on from
 * the position kept by the iterator.
 */
#define LONG_FILES	6
#define LONG_PAGES	200

static void check_long_listing(int link_fd, struct listing *l)
{
	static const char * const names[LONG_FILES] = {
		"long0", "long1", "long2", "long3", "long4", "long5",
	};
	struct tfile *lf;
	unsigned int i, nr = 0;
	__u64 p;
	bool ok = true;

	lf = calloc(LONG_FILES, sizeof(*lf));
	if (!lf) {
		tap(false, NULL, "long listing: out of memory");
		return;
	}
	for (i = 0; i < LONG_FILES; i++) {
		if (make_file(&lf[i], names[i], 0, LONG_PAGES, ALL_FLAGS,
			      false)) {
			ok = false;
			break;
		}
		nr++;
		/* Every other page private: one region per page. */
		for (p = 1; ok && p < LONG_PAGES; p += 2)
			ok = !convert(lf[i].fd, p, 1, true);
		lf[i].private = LONG_PAGES / 2;
		lf[i].shared = LONG_PAGES / 2;
		lf[i].allocated = 0;
	}
	if (tap(ok, NULL,
		"long listing: %u files of %u pages, every other page private",
		LONG_FILES, LONG_PAGES) &&
	    read_step(link_fd, "long listing", l)) {
		tap(l->nr_reads > 1, NULL,
		    "long listing: the kernel filled its buffer %u times (read(2) calls)",
		    l->nr_reads);
		check_files("long listing", l, lf, nr, NULL, 0);
	}
	for (i = 0; i < nr; i++)
		close_file(&lf[i]);
	free(lf);
}

/* ---- readers and stressers -------------------------------------------- */

struct reader {
	int link_fd;
	atomic_bool stop;
	atomic_ulong reads;
	unsigned long records, max_records;
	int failed;
	char why[1200];
};

static void *reader_main(void *p)
{
	struct reader *rd = p;
	struct listing l = {};
	char why[1024];

	while (!atomic_load(&rd->stop)) {
		if (read_listing(rd->link_fd, &l, false, why, sizeof(why))) {
			snprintf(rd->why, sizeof(rd->why), "read %lu: %s",
				 atomic_load(&rd->reads) + 1, why);
			rd->failed = 1;
			break;
		}
		rd->records += l.nr;
		if (l.nr > rd->max_records)
			rd->max_records = l.nr;
		atomic_fetch_add(&rd->reads, 1);
	}
	listing_free(&l);
	return NULL;
}

static void wait_reads(struct reader *rd, unsigned long n)
{
	unsigned long start = atomic_load(&rd->reads);
	int i;

	for (i = 0; i < 60000 && !rd->failed; i++) {
		if (atomic_load(&rd->reads) >= start + n)
			return;
		usleep(1000);
	}
}

struct stresser {
	pthread_t thread;
	unsigned int seed;
	atomic_bool *stop;
	__u64 *inos;
	unsigned int nr_inos, cap_inos;
	unsigned long vms, files, bound, converted;
	int failed;
	char why[256];
};

static unsigned int rnd(struct stresser *s, unsigned int n)
{
	return rand_r(&s->seed) % n;
}

#define STRESS_FILES	3

static void *stresser_main(void *p)
{
	static const __u64 flag_choice[] = {
		0, GUEST_MEMFD_FLAG_MMAP, ALL_FLAGS, ALL_FLAGS,
	};
	struct stresser *s = p;

	while (!atomic_load(s->stop) && !s->failed) {
		int fds[STRESS_FILES], nr = 1 + rnd(s, STRESS_FILES), i;
		void *mem[STRESS_FILES], *anon = MAP_FAILED;
		__u64 size[STRESS_FILES];
		bool vm_first = rnd(s, 2);
		int vm_fd;

		vm_fd = create_vm(kvm_fd);
		if (vm_fd < 0) {
			snprintf(s->why, sizeof(s->why), "KVM_CREATE_VM: %s",
				 strerror(errno));
			s->failed = 1;
			break;
		}
		s->vms++;
		for (i = 0; i < nr; i++) {
			__u64 flags = flag_choice[rnd(s, 4)];

			size[i] = (1 + rnd(s, 32)) * PAGE_SZ;
			mem[i] = MAP_FAILED;
			fds[i] = create_gmem(vm_fd, size[i], flags);
			if (fds[i] < 0) {
				snprintf(s->why, sizeof(s->why),
					 "KVM_CREATE_GUEST_MEMFD: %s",
					 strerror(errno));
				s->failed = 1;
				nr = i;
				break;
			}
			s->files++;
			if (s->nr_inos == s->cap_inos) {
				unsigned int cap = s->cap_inos ?
						   2 * s->cap_inos : 1024;
				__u64 *n = realloc(s->inos, cap * sizeof(*n));

				if (n) {
					s->inos = n;
					s->cap_inos = cap;
				}
			}
			if (s->nr_inos < s->cap_inos)
				s->inos[s->nr_inos++] = ino_of(fds[i]);
			if (flags & GUEST_MEMFD_FLAG_MMAP) {
				mem[i] = mmap(NULL, size[i],
					      PROT_READ | PROT_WRITE,
					      MAP_SHARED, fds[i], 0);
				/* Private pages of the mapping SIGBUS. */
				if (mem[i] != MAP_FAILED &&
				    flags & GUEST_MEMFD_FLAG_INIT_SHARED) {
					memset(mem[i], 1, PAGE_SZ *
					       (1 + rnd(s, size[i] / PAGE_SZ)));
					if (rnd(s, 2) &&
					    !convert(fds[i], 0, 1, true))
						s->converted++;
				}
			}
			if (rnd(s, 2)) {
				void *ua = mem[i];

				if (ua == MAP_FAILED) {
					if (anon == MAP_FAILED)
						anon = mmap(NULL, 32 * PAGE_SZ,
							    PROT_READ | PROT_WRITE,
							    MAP_PRIVATE | MAP_ANONYMOUS,
							    -1, 0);
					ua = anon;
				}
				if (ua != MAP_FAILED &&
				    !bind_slot(vm_fd, i, (1ULL + i) << 30,
					       size[i], ua, fds[i], 0))
					s->bound++;
			}
		}
		if (vm_first)
			close(vm_fd);
		for (i = 0; i < nr; i++) {
			bool unmap_last = rnd(s, 2);

			if (mem[i] != MAP_FAILED && !unmap_last)
				munmap(mem[i], size[i]);
			close(fds[i]);
			if (mem[i] != MAP_FAILED && unmap_last)
				munmap(mem[i], size[i]);
		}
		if (!vm_first)
			close(vm_fd);
		if (anon != MAP_FAILED)
			munmap(anon, 32 * PAGE_SZ);
	}
	return NULL;
}

/* ---- privileges ------------------------------------------------------- */

/* In a child: try to load the iterator; exit with 0 or the errno. */
static void child_load(void)
{
	struct gmem_iter *skel;

	skel = gmem_iter__open_and_load();
	if (skel) {
		gmem_iter__destroy(skel);
		_exit(0);
	}
	_exit(errno ? errno & 0x7f : 0x7f);
}

static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -1;
	return 0;
}

/* Drop CAP_PERFMON and CAP_SYS_ADMIN, keep the rest (CAP_BPF). */
static int drop_perfmon(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int caps[] = { CAP_PERFMON, CAP_SYS_ADMIN };
	unsigned int i;

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	for (i = 0; i < 2; i++) {
		data[caps[i] / 32].effective &= ~(1U << (caps[i] % 32));
		data[caps[i] / 32].permitted &= ~(1U << (caps[i] % 32));
	}
	return syscall(SYS_capset, &hdr, data);
}

/* Whether KVM is a loaded module (only modules have an initstate). */
static bool kvm_is_module(void)
{
	return !access("/sys/module/kvm/initstate", F_OK);
}

/* Fork; the child runs @drop, then @fn; the child's exit status, or -1. */
static int in_child(int (*drop)(void), void (*fn)(void *), void *arg)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (drop())
			_exit(0x7e);
		fn(arg);
		_exit(0x7f);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void child_load_fn(void *arg)
{
	(void)arg;
	child_load();
}

/* With the root's link fd inherited: can the child read the iterator? */
static void child_iter_fn(void *arg)
{
	int fd = bpf_iter_create(*(int *)arg);

	_exit(fd < 0 ? errno & 0x7f : 0);
}

static void check_privileges(int link_fd)
{
	int r;

	r = in_child(drop_to_nobody, child_load_fn, NULL);
	tap(r == EPERM, NULL,
	    "privileges: user nobody cannot load the iterator (%s)",
	    r == 0 ? "loaded" : r == 0x7e ? "could not become nobody" :
	    r < 0 ? "child died" : strerror(r));
	/*
	 * With KVM a module, the region kfuncs are in kvm.ko's BTF, which
	 * libbpf cannot look up without CAP_SYS_ADMIN (BPF_BTF_GET_NEXT_ID):
	 * it gives up with EINVAL before the kernel refuses with EPERM.
	 */
	r = in_child(drop_perfmon, child_load_fn, NULL);
	tap(r == EPERM || (kvm_is_module() && r == EINVAL), NULL,
	    "privileges: root without CAP_PERFMON and CAP_SYS_ADMIN cannot load it (%s%s)",
	    r == 0 ? "loaded" : r == 0x7e ? "could not drop them" :
	    r < 0 ? "child died" : strerror(r),
	    kvm_is_module() && r == EINVAL ?
	    ": libbpf cannot read kvm.ko's BTF" : "");
	/*
	 * Not a check, a fact for the documentation: file descriptors carry
	 * the right.  A process handed the link (or the program) needs no
	 * capability to read the iterator.
	 */
	r = in_child(drop_to_nobody, child_iter_fn, &link_fd);
	diag("privileges: user nobody, holding the link's fd, %s an iterator (%s)",
	     r == 0 ? "can create" : "cannot create",
	     r == 0 ? "fds carry the right" : r < 0 ? "child died" : strerror(r));
}

/* ---- main ------------------------------------------------------------- */

static int skip(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	return KSFT_SKIP;
}

static void setup_files(bool *pinned, int *gup_fd)
{
	struct pin_longterm_test pin = {};
	struct tfile *f;
	void *anon;

	/* f0: shared by default, mapped, two memslots, partly private. */
	f = &files[0];
	if (make_file(f, "f0", 0, 64, ALL_FLAGS, false) ||
	    add_binding(f, 0, 1ULL << 30, 0, 32, f->mem) ||
	    add_binding(f, 1, 2ULL << 30, 32, 32, f->mem + 32 * PAGE_SZ))
		return;
	touch(f, 0, 48);
	if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      4 * PAGE_SZ, 2 * PAGE_SZ))
		diag("PUNCH_HOLE(f0): %s", strerror(errno));
	if (convert(f->fd, 8, 8, true))
		diag("convert(f0, 8-15, private): %s", strerror(errno));
	f->private = 8;
	f->shared = 56;
	f->allocated = 46;
	f->dma_pinned = 0;
	*gup_fd = open(GUP_TEST_FILE, O_RDWR);
	if (*gup_fd >= 0) {
		pin.addr = (uintptr_t)f->mem + 20 * PAGE_SZ;
		pin.size = PAGE_SZ;
		*pinned = !ioctl(*gup_fd, PIN_LONGTERM_TEST_START, &pin);
		if (!*pinned)
			diag("PIN_LONGTERM_TEST_START: %s", strerror(errno));
	} else {
		diag("%s: %s: no pinned page", GUP_TEST_FILE,
		     strerror(errno));
	}
	f->dma_pinned = *pinned ? 1 : -1;

	/* f1: private only (no flags), bound, 4 pages allocated. */
	f = &files[1];
	anon = mmap(NULL, 16 * PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED || make_file(f, "f1", 0, 16, 0, false) ||
	    add_binding(f, 2, 3ULL << 30, 0, 16, anon))
		return;
	if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, 0, 4 * PAGE_SZ))
		diag("fallocate(f1): %s", strerror(errno));
	f->private = 16;
	f->shared = 0;
	f->allocated = 4;

	/* f2: of the VM that the helper thread created; two pages touched. */
	f = &files[2];
	if (make_file(f, "f2", 1, 8, ALL_FLAGS, false))
		return;
	touch(f, 0, 2);
	f->private = 0;
	f->shared = 8;
	f->allocated = 2;

	/* f3: created by the helper thread; private from the start. */
	f = &files[3];
	if (make_file(f, "f3", 0, 8, GUEST_MEMFD_FLAG_MMAP, true))
		return;
	f->private = 8;
	f->shared = 0;
	f->allocated = 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = argp_opts,
		.parser = parse_arg,
		.doc = argp_doc,
	};
	struct bpf_link *link = NULL;
	struct gmem_iter *skel = NULL;
	struct listing l = {};
	bool pinned = false;
	int gup_fd = -1, link_fd, err, r;
	__u64 gone[8] = {};
	unsigned int i;
	int nr_gone = 0;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	libbpf_set_print(libbpf_print);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < ARRAY_SIZE(files); i++)
		files[i].fd = -1;

	printf("TAP version 13\n");
	if (geteuid())
		return skip("not root");
	kvm_fd = open("/dev/kvm", O_RDWR);
	if (kvm_fd < 0)
		return skip("no /dev/kvm");
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	if (r <= 0 || !(r & (1 << KVM_X86_SW_PROTECTED_VM)))
		return skip("no KVM_X86_SW_PROTECTED_VM");
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_SCAN);
	if (r <= 0)
		return skip("no KVM_GUEST_MEMFD_SCAN to check against");

	skel = gmem_iter__open();
	if (!skel)
		return skip("cannot open the BPF object");
	skel->rodata->show_regions = true;
	err = gmem_iter__load(skel);
	if (err) {
		diag("loading gmem_iter.bpf.o: %s (a kernel without the \"guest_memfd\" iterator?)",
		     strerror(-err));
		gmem_iter__destroy(skel);
		return skip("cannot load the iterator");
	}
	link = bpf_program__attach_iter(skel->progs.dump_gmem, NULL);
	if (!link) {
		err = -errno;
		gmem_iter__destroy(skel);
		diag("attach: %s", strerror(-err));
		return skip("cannot attach the iterator");
	}
	link_fd = bpf_link__fd(link);
	tap(true, NULL, "the iterator loads and attaches (iter/guest_memfd, regions on)");

	/* 1. */
	check_privileges(link_fd);

	/* 2. */
	vms[0].fd = create_vm(kvm_fd);
	vms[0].tid = gettid_();
	if (vms[0].fd < 0 || in_helper(helper_create_vm, &vms[1]) ||
	    vms[1].fd < 0) {
		tap(false, strerror(errno), "KVM_CREATE_VM");
		goto out;
	}
	setup_files(&pinned, &gup_fd);
	for (i = 0; i < ARRAY_SIZE(files); i++)
		if (files[i].fd < 0)
			break;
	if (!tap(i == ARRAY_SIZE(files), NULL,
		 "setup: 2 VMs (one by another thread), 4 guest_memfds, 3 memslots%s",
		 pinned ? ", a page pinned" : ""))
		goto out;
	diag("VMs: vm0 fd %d tid %d, vm1 fd %d tid %d (the helper)",
	     vms[0].fd, vms[0].tid, vms[1].fd, vms[1].tid);
	diag("files: f0 ino %llu, f1 ino %llu, f2 ino %llu, f3 ino %llu",
	     files[0].ino, files[1].ino, files[2].ino, files[3].ino);
	if (read_step(link_fd, "all open", &l))
		check_files("all open", &l, files, ARRAY_SIZE(files), gone, 0);
	check_long_listing(link_fd, &l);

	/* 3. */
	gone[nr_gone++] = files[1].ino;
	close_file(&files[1]);
	if (read_step(link_fd, "f1 closed", &l))
		check_files("f1 closed", &l, files, ARRAY_SIZE(files), gone,
			    nr_gone);

	close(vms[1].fd);
	vms[1].fd = -1;
	close(vms[0].fd);
	vms[0].fd = -1;
	if (pinned && !ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
		pinned = false;
	files[0].dma_pinned = 0;
	r = convert(files[0].fd, 16, 8, true);
	tap(!r, r ? strerror(errno) : NULL,
	    "VM fds closed: f0 still converts (pages 16-23 to private)");
	files[0].private = 16;
	files[0].shared = 48;
	if (read_step(link_fd, "VM fds closed", &l))
		check_files("VM fds closed", &l, files, ARRAY_SIZE(files),
			    gone, nr_gone);

	/* 4. */
	{
		struct reader rd = { .link_fd = link_fd };
		pthread_t t;
		unsigned long before;

		err = pthread_create(&t, NULL, reader_main, &rd);
		if (!tap(!err, NULL, "close everything: reader thread started"))
			goto out;
		wait_reads(&rd, 2);
		before = atomic_load(&rd.reads);
		for (i = 0; i < ARRAY_SIZE(files); i++) {
			if (files[i].fd < 0)
				continue;
			gone[nr_gone++] = files[i].ino;
			close_file(&files[i]);
			wait_reads(&rd, 1);
		}
		if (gup_fd >= 0)
			close(gup_fd);
		gup_fd = -1;
		wait_reads(&rd, 2);
		atomic_store(&rd.stop, true);
		pthread_join(t, NULL);
		tap(!rd.failed && atomic_load(&rd.reads) > before, rd.why,
		    "close everything: %lu reads while the files (and so the VMs) went away, every record well formed",
		    atomic_load(&rd.reads));
		if (read_step(link_fd, "everything closed", &l))
			check_files("everything closed", &l, files,
				    ARRAY_SIZE(files), gone, nr_gone);
	}

	/* 5. */
	{
		struct reader rd = { .link_fd = link_fd };
		struct stresser *st;
		atomic_bool stop = false;
		unsigned long files_made = 0, vms_made = 0, bound = 0, conv = 0;
		unsigned int left = 0, nr = 0;
		pthread_t t;
		int k, failed = 0;

		st = calloc(env.threads, sizeof(*st));
		if (!st || pthread_create(&t, NULL, reader_main, &rd)) {
			tap(false, NULL, "stress: start");
			goto out;
		}
		for (k = 0; k < env.threads; k++) {
			st[k].seed = 1 + k;
			st[k].stop = &stop;
			pthread_create(&st[k].thread, NULL, stresser_main,
				       &st[k]);
		}
		sleep(env.duration);
		atomic_store(&stop, true);
		for (k = 0; k < env.threads; k++) {
			pthread_join(st[k].thread, NULL);
			files_made += st[k].files;
			vms_made += st[k].vms;
			bound += st[k].bound;
			conv += st[k].converted;
			if (st[k].failed) {
				failed = 1;
				diag("stress thread %d: %s", k, st[k].why);
			}
		}
		wait_reads(&rd, 1);
		atomic_store(&rd.stop, true);
		pthread_join(t, NULL);
		tap(!failed && files_made > 0, NULL,
		    "stress: %d threads made %lu VMs and %lu files (%lu bound, %lu converted) in %d s",
		    env.threads, vms_made, files_made, bound, conv,
		    env.duration);
		tap(!rd.failed && atomic_load(&rd.reads) > 0 && rd.records, rd.why,
		    "stress: %lu reads meanwhile, %lu records (up to %lu in one), every one well formed",
		    atomic_load(&rd.reads), rd.records, rd.max_records);
		if (read_step(link_fd, "after the stress", &l)) {
			for (k = 0; k < env.threads; k++) {
				for (i = 0; i < st[k].nr_inos; i++) {
					int c;

					nr++;
					find_ino(&l, st[k].inos[i], &c);
					left += c;
				}
			}
			tap(!left, NULL,
			    "after the stress: none of its %u files is listed (%u are)",
			    nr, left);
		}
		for (k = 0; k < env.threads; k++)
			free(st[k].inos);
		free(st);
	}

out:
	for (i = 0; i < ARRAY_SIZE(files); i++)
		close_file(&files[i]);
	if (gup_fd >= 0)
		close(gup_fd);
	listing_free(&l);
	bpf_link__destroy(link);
	gmem_iter__destroy(skel);
	printf("1..%d\n", tap_n);
	diag("%d of %d checks failed", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}
