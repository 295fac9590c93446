// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl file pins: the ranges of one guest_memfd, or of every one this
 * user can reach, that would refuse a conversion to private (pages that
 * are PINNED, DMA_PINNED or MOVABLE for KVM_GUEST_MEMFD_SCAN), and who
 * holds them: the processes that map them (/proc/PID/maps, with the pages
 * present in their page tables from /proc/PID/pagemap), and, with --trace
 * SECONDS, the tasks and kernel stacks that took GUP references and pins
 * on the files' pages meanwhile (gmemctl_gup.bpf.c) and the denials that
 * happened (the gmem_convert_denied tracepoint).
 *
 * A GUP pin has no owner in the kernel: a process that mapped the page may
 * have unmapped it since, and still hold the pin.  Only the trace names
 * the task that took a pin, and only if it took it while tracing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "gmemctl.h"
#include "gmemctl_bpf.h"
#include "gmemctl_events.skel.h"
#include "gmemctl_gup.skel.h"

#define BLOCKING	(KVM_GMEM_PAGE_PINNED | KVM_GMEM_PAGE_DMA_PINNED | \
			 KVM_GMEM_PAGE_MOVABLE)
#define MAX_IDX		16	/* pages remembered per holder */
#define MAX_DENIALS	64
#define MAX_FILES	256
#define MAX_PRESENT_CHECK (1024ULL * 1024 * 1024)	/* bytes of pagemap per range */
#define FOLL_LONGTERM_BIT 0x100

struct holder {
	uint32_t pid, tid;
	char comm[GMEMCTL_COMM_LEN];
	bool pin, fast;
	int stack_id;
	uint32_t flags;
	uint64_t count, refs;
	uint64_t idx[MAX_IDX];
	int nidx;
	bool more;
};

struct release {
	uint32_t pid, tid;
	char comm[GMEMCTL_COMM_LEN];
	bool pin;
	uint64_t count, refs;
};

struct pfile {
	struct gmem_fd g;
	int fd;
	struct layout l;	/* totals, blocking regions */
	struct layout after;	/* the same after --trace */
	bool traced;
	struct gmem_mapping *maps;
	int nmaps;
	struct holder *h;
	int nh;
	struct release *r;
	int nr;
	struct gmemctl_event den[MAX_DENIALS];
	int nden, den_more;
};

struct trace_ctx {
	struct pfile *files;
	int nfiles;
	uint64_t t0_ns;
};

/*
 * The deny reason (enum gmem_deny_reason, by name) that a conversion to
 * private would meet on a page of categories @c: the blocking categories,
 * most telling first.
 */
static const struct {
	uint64_t category;
	const char *reason;
} blocks[] = {
	{ KVM_GMEM_PAGE_DMA_PINNED, DENY_NAME_PINNED },
	{ KVM_GMEM_PAGE_PINNED, DENY_NAME_REFERENCED },
	{ KVM_GMEM_PAGE_MOVABLE, DENY_NAME_MOVABLE },
};

static const char *block_reason(uint64_t c)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(blocks) - 1; i++)
		if (c & blocks[i].category)
			break;
	return blocks[i].reason;
}

static const char *block_text(uint64_t c)
{
	return deny_name_text(block_reason(c));
}

static struct pfile *file_of(struct trace_ctx *c, uint64_t ino)
{
	int i;

	for (i = 0; i < c->nfiles; i++)
		if (c->files[i].g.ino == ino)
			return &c->files[i];
	return NULL;
}

static void add_grab(struct pfile *f, const struct gmemctl_event *e)
{
	struct holder *h, *n;
	int i;

	for (i = 0; i < f->nh; i++) {
		h = &f->h[i];
		if (h->tid == e->tid && h->pin == e->grab.pin &&
		    h->stack_id == e->grab.stack_id && h->fast == e->grab.fast)
			goto found;
	}
	n = realloc(f->h, (f->nh + 1) * sizeof(*n));
	if (!n)
		return;
	f->h = n;
	h = &f->h[f->nh++];
	memset(h, 0, sizeof(*h));
	h->pid = e->pid;
	h->tid = e->tid;
	memcpy(h->comm, e->comm, sizeof(h->comm));
	h->pin = e->grab.pin;
	h->fast = e->grab.fast;
	h->stack_id = e->grab.stack_id;
found:
	h->flags |= e->grab.flags;
	h->count++;
	h->refs += e->grab.refs;
	for (i = 0; i < h->nidx; i++)
		if (h->idx[i] == e->grab.index)
			return;
	if (h->nidx < MAX_IDX)
		h->idx[h->nidx++] = e->grab.index;
	else
		h->more = true;
}

static void add_release(struct pfile *f, const struct gmemctl_event *e)
{
	struct release *r, *n;
	int i;

	for (i = 0; i < f->nr; i++) {
		r = &f->r[i];
		if (r->tid == e->tid && r->pin == e->grab.pin)
			goto found;
	}
	n = realloc(f->r, (f->nr + 1) * sizeof(*n));
	if (!n)
		return;
	f->r = n;
	r = &f->r[f->nr++];
	memset(r, 0, sizeof(*r));
	r->pid = e->pid;
	r->tid = e->tid;
	memcpy(r->comm, e->comm, sizeof(r->comm));
	r->pin = e->grab.pin;
found:
	r->count++;
	r->refs += e->grab.refs;
}

static int trace_event(void *ctx, void *data, size_t size)
{
	const struct gmemctl_event *e = data;
	struct trace_ctx *c = ctx;
	struct pfile *f;

	if (size < sizeof(*e))
		return 0;
	f = file_of(c, e->ino);
	if (!f)
		return 0;
	switch (e->type) {
	case GMEMCTL_EV_GRAB:
		add_grab(f, e);
		break;
	case GMEMCTL_EV_RELEASE:
		add_release(f, e);
		break;
	case GMEMCTL_EV_DENIED:
		if (f->nden < MAX_DENIALS)
			f->den[f->nden++] = *e;
		else
			f->den_more++;
		break;
	}
	return 0;
}

/* Whether page @idx is in one of the (blocking) regions of @l. */
static bool in_regions(const struct layout *l, uint64_t idx)
{
	size_t i;

	for (i = 0; i < l->nr_regions; i++)
		if (idx * PAGE_SZ >= l->regions[i].start &&
		    idx * PAGE_SZ < l->regions[i].end)
			return true;
	return false;
}

static struct gmemctl_gup *gup;
static struct gmemctl_events *ev;
static uint64_t lost;
static double traced_s;

/* Trace GUP (and denials) on @files for --trace seconds: 0 or -EXIT_*. */
static int run_trace(struct pfile *files, int n)
{
	static const char *const funcs[] = {
		"try_grab_folio", "try_grab_folio_fast", "gup_put_folio",
	};
	struct trace_ctx c = { .files = files, .nfiles = n };
	struct ring_buffer *rb = NULL;
	double t0, end;
	unsigned int i;
	uint8_t one = 1;
	uint64_t *inos;
	int err, rc = 0;

	for (i = 0; i < ARRAY_SIZE(funcs); i++)
		if (!kernel_has_btf_type(funcs[i], BTF_KIND_FUNC))
			return -p_err(EXIT_NOSUPPORT,
				    "file pins --trace: this kernel's BTF has no function %s to trace GUP with",
				    funcs[i]);
	err = need_bpf_privileges();
	if (err)
		return err;
	inos = calloc(n, sizeof(*inos));
	if (!inos)
		return -p_err(EXIT_FAIL, "out of memory");
	for (i = 0; i < (unsigned int)n; i++)
		inos[i] = files[i].g.ino;

	gup = gmemctl_gup__open();
	if (!gup) {
		rc = -bpf_fail("opening the GUP tracer", -errno);
		goto out;
	}
	gup->bss->anon_dev = kernel_dev(files[0].g.dev);
	err = gmemctl_gup__load(gup);
	if (err) {
		rc = -bpf_fail("loading the GUP tracer", err);
		goto out;
	}
	for (i = 0; i < (unsigned int)n; i++)
		bpf_map__update_elem(gup->maps.inos, &inos[i], sizeof(inos[i]),
				     &one, sizeof(one), 0);
	err = gmemctl_gup__attach(gup);
	if (err) {
		rc = -bpf_fail("attaching the GUP tracer (fexit on try_grab_folio)", err);
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(gup->maps.gup_events), trace_event, &c,
			      NULL);
	if (!rb) {
		rc = -bpf_fail("opening the ring buffer", -errno);
		goto out;
	}
	/* The denials too, where the kernel has the gmem tracepoints. */
	if (!kernel_has_btf_type("btf_trace_gmem_convert_denied", BTF_KIND_TYPEDEF)) {
		p_warn("no gmem_convert_denied tracepoint in this kernel: denials are not traced");
	} else {
		err = events_load(&ev, GMEMCTL_WANT(GMEMCTL_EV_DENIED), false, inos, n);
		if (err) {
			rc = err;
			goto out;
		}
		if (ring_buffer__add(rb, bpf_map__fd(ev->maps.events), trace_event,
				     &c)) {
			rc = -bpf_fail("opening the ring buffer", -errno);
			goto out;
		}
	}

	catch_stop_signals();
	c.t0_ns = now_ns();
	t0 = now_s();
	end = t0 + opts.trace;
	p_info("tracing GUP references and pins on %d guest_memfd%s for %g s; Ctrl-C to end early",
	       n, n > 1 ? "s" : "", opts.trace);
	while (!stop_requested && now_s() < end) {
		err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR) {
			rc = -p_err(EXIT_FAIL, "file pins --trace: polling: %s", strerror(-err));
			break;
		}
	}
	ring_buffer__consume(rb);
	traced_s = now_s() - t0;
	lost = sum_percpu(bpf_map__fd(gup->maps.gup_lost));
	if (ev)
		lost += sum_percpu(bpf_map__fd(ev->maps.lost));
	for (i = 0; i < (unsigned int)n; i++)
		files[i].traced = true;
out:
	ring_buffer__free(rb);
	free(inos);
	return rc;
}

/*
 * The symbols of stack @stack_id of the GUP tracer, without the tracer's
 * own frames, at most @max; how many, or -1 if there is no such stack.
 */
static int stack_syms(int stack_id, char (*syms)[256], int max)
{
	uint64_t ips[127];
	int i, n = 0;

	if (stack_id < 0 || !gup ||
	    bpf_map_lookup_elem(bpf_map__fd(gup->maps.stacks), &stack_id, ips))
		return -1;
	for (i = 0; i < 127 && ips[i] && n < max; i++) {
		ksym_name(ips[i], syms[n], sizeof(syms[n]));
		/* The tracer's own frames. */
		if (!n && (!strncmp(syms[n], "bpf_prog_", 9) ||
			   !strncmp(syms[n], "bpf_trampoline_", 15)))
			continue;
		n++;
	}
	return n;
}

static void print_stack_plain(int stack_id)
{
	char syms[127][256];
	int i, n = stack_syms(stack_id, syms, 127);

	if (n < 0)
		printf("        (no stack: %d)\n", stack_id);
	for (i = 0; i < n; i++)
		printf("        %s\n", syms[i]);
}

static void print_stack_json(int stack_id)
{
	char syms[127][256];
	int i, n = stack_syms(stack_id, syms, 127);

	json_arr_begin(&jw);
	for (i = 0; i < n; i++)
		json_str(&jw, syms[i]);
	json_arr_end(&jw);
}

/* The part of mapping @m that maps region @g: [*addr, *addr + *len). */
static bool mapping_hit(const struct gmem_mapping *m, const struct region *g,
			uint64_t *addr, uint64_t *len, long *present)
{
	uint64_t mend = m->pgoff + (m->end - m->start);
	uint64_t lo = g->start > m->pgoff ? g->start : m->pgoff;
	uint64_t hi = g->end < mend ? g->end : mend;

	if (lo >= hi)
		return false;
	*addr = m->start + (lo - m->pgoff);
	*len = hi - lo;
	*present = -1;
	if (*len <= MAX_PRESENT_CHECK)
		*present = pages_present(m->pid, *addr, *len);
	return true;
}

static void print_mapping_hits_plain(const struct pfile *f, const struct region *g)
{
	uint64_t addr, len;
	long present;
	char s[32];
	int i;

	for (i = 0; i < f->nmaps; i++) {
		const struct gmem_mapping *m = &f->maps[i];

		if (!mapping_hit(m, g, &addr, &len, &present))
			continue;
		printf("      mapped by pid %d (%s) at 0x%llx-0x%llx %s, %s",
		       m->pid, m->comm, (unsigned long long)addr,
		       (unsigned long long)(addr + len), m->perms,
		       fmt_size(len, s, sizeof(s)));
		if (present >= 0)
			printf(", %ld of %llu pages present in its page tables\n",
			       present, (unsigned long long)(len / PAGE_SZ));
		else
			printf("\n");
	}
}

static void print_mapping_hits_json(const struct pfile *f, const struct region *g)
{
	uint64_t addr, len;
	long present;
	int i;

	json_arr_begin(&jw);
	for (i = 0; i < f->nmaps; i++) {
		const struct gmem_mapping *m = &f->maps[i];

		if (!mapping_hit(m, g, &addr, &len, &present))
			continue;
		json_obj_begin(&jw);
		json_kv_s64(&jw, "pid", m->pid);
		json_kv_str(&jw, "comm", m->comm);
		json_kv_u64(&jw, "start", addr);
		json_kv_u64(&jw, "end", addr + len);
		json_kv_str(&jw, "perms", m->perms);
		json_key(&jw, "present_pages");
		if (present >= 0)
			json_u64(&jw, present);
		else
			json_null(&jw);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
}

/* How many of the pages @h took are still in a blocking region. */
static int still_blocking(const struct pfile *f, const struct holder *h)
{
	int k, still = 0;

	for (k = 0; k < h->nidx; k++)
		still += in_regions(&f->after, h->idx[k]);
	return still;
}

static void print_trace_plain(const struct pfile *f)
{
	int i, k;

	printf("  traced for %.1f s: %d task/stack%s took references or pins, %d released some, ",
	       traced_s, f->nh, f->nh == 1 ? "" : "s", f->nr);
	printf("%d denial%s\n", f->nden + f->den_more,
	       f->nden + f->den_more == 1 ? "" : "s");
	for (i = 0; i < f->nh; i++) {
		const struct holder *h = &f->h[i];
		int still = still_blocking(f, h);

		printf("  pid %u tid %u (%.16s) took %llu %s%s%s%s on page%s",
		       h->pid, h->tid, h->comm, (unsigned long long)h->count,
		       h->flags & FOLL_LONGTERM_BIT ? "long-term " : "",
		       h->pin ? "pin" : "reference", h->count == 1 ? "" : "s",
		       h->fast ? " (GUP-fast)" : "", h->nidx == 1 ? "" : "s");
		for (k = 0; k < h->nidx; k++)
			printf(" 0x%llx", (unsigned long long)h->idx[k]);
		printf("%s; %s\n", h->more ? " ..." : "",
		       still ? (h->nidx == 1 ? "that page still blocks a conversion" :
				"some still block a conversion") :
		       "none blocks a conversion now");
		print_stack_plain(h->stack_id);
	}
	for (i = 0; i < f->nr; i++) {
		const struct release *r = &f->r[i];

		printf("  pid %u tid %u (%.16s) released %llu %s%s\n", r->pid,
		       r->tid, r->comm, (unsigned long long)r->count,
		       r->pin ? "pin" : "reference", r->count == 1 ? "" : "s");
	}
	for (i = 0; i < f->nden; i++)
		print_denial_plain(&f->den[i]);
	if (f->den_more)
		printf("  ... and %d more denials\n", f->den_more);
}

static void print_trace_json(const struct pfile *f)
{
	int i, k;

	json_key(&jw, "trace");
	json_obj_begin(&jw);
	json_key(&jw, "seconds");
	json_double(&jw, traced_s);
	json_key(&jw, "grabs");
	json_arr_begin(&jw);
	for (i = 0; i < f->nh; i++) {
		const struct holder *h = &f->h[i];

		json_obj_begin(&jw);
		json_kv_u64(&jw, "pid", h->pid);
		json_kv_u64(&jw, "tid", h->tid);
		json_key(&jw, "comm");
		json_strn(&jw, h->comm, sizeof(h->comm));
		json_kv_str(&jw, "kind", h->pin ? "pin" : "reference");
		json_kv_bool(&jw, "longterm", h->flags & FOLL_LONGTERM_BIT);
		json_kv_bool(&jw, "fast", h->fast);
		json_kv_u64(&jw, "flags", h->flags);
		json_kv_u64(&jw, "count", h->count);
		json_kv_u64(&jw, "refs", h->refs);
		json_key(&jw, "pages");
		json_arr_begin(&jw);
		for (k = 0; k < h->nidx; k++)
			json_u64(&jw, h->idx[k]);
		json_arr_end(&jw);
		json_kv_bool(&jw, "more_pages", h->more);
		json_kv_u64(&jw, "still_blocking", still_blocking(f, h));
		json_key(&jw, "stack");
		print_stack_json(h->stack_id);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
	json_key(&jw, "releases");
	json_arr_begin(&jw);
	for (i = 0; i < f->nr; i++) {
		const struct release *r = &f->r[i];

		json_obj_begin(&jw);
		json_kv_u64(&jw, "pid", r->pid);
		json_kv_u64(&jw, "tid", r->tid);
		json_key(&jw, "comm");
		json_strn(&jw, r->comm, sizeof(r->comm));
		json_kv_str(&jw, "kind", r->pin ? "pin" : "reference");
		json_kv_u64(&jw, "count", r->count);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
	json_key(&jw, "denials");
	json_arr_begin(&jw);
	for (i = 0; i < f->nden; i++)
		print_event(&f->den[i], 0);
	json_arr_end(&jw);
	json_kv_u64(&jw, "more_denials", f->den_more);
	json_kv_u64(&jw, "lost", lost);
	json_obj_end(&jw);
}

/* Pages in the blocking regions of @l. */
static uint64_t blocking_pages(const struct layout *l)
{
	uint64_t blocking = 0;
	size_t r;

	for (r = 0; r < l->nr_regions; r++)
		blocking += (l->regions[r].end - l->regions[r].start) / PAGE_SZ;
	return blocking;
}

static void print_file_plain(const struct pfile *f, const struct gmem_fd *all,
			     int nall)
{
	const struct layout *l = f->traced ? &f->after : &f->l;
	uint64_t blocking = blocking_pages(l);
	uint64_t mapped = l->counts[CAT_BIT(KVM_GMEM_PAGE_MAPPED)];
	char s[32];
	size_t r;
	int i;

	file_header_plain(&f->g, l);
	printf("  held by:");
	for (i = 0; i < nall; i++)
		if (all[i].ino == f->g.ino && all[i].dev == f->g.dev)
			printf(" %d:%d", all[i].pid, all[i].fd);
	printf("\n  mapped by:%s", f->nmaps ? "" : " nobody\n");
	for (i = 0; i < f->nmaps; i++)
		printf("%s pid %d (%s) 0x%llx-0x%llx %s offset 0x%llx\n",
		       i ? "            " : "", f->maps[i].pid, f->maps[i].comm,
		       (unsigned long long)f->maps[i].start,
		       (unsigned long long)f->maps[i].end, f->maps[i].perms,
		       (unsigned long long)f->maps[i].pgoff);
	if (!blocking)
		printf("  nothing would refuse a conversion to private");
	else
		printf("  %llu page%s would refuse a conversion to private",
		       (unsigned long long)blocking, blocking == 1 ? "" : "s");
	printf(" (%llu mapped page%s: a conversion unmaps them)\n",
	       (unsigned long long)mapped, mapped == 1 ? "" : "s");
	if (blocking)
		printf("  %-28s %-9s %-8s %s\n", "RANGE", "SIZE", "STATE",
		       "REASON");
	for (r = 0; r < l->nr_regions; r++) {
		const struct region *g = &l->regions[r];
		uint64_t c = g->categories;

		printf("  0x%-12llx-0x%-12llx %-9s %-8s %s: %s\n",
		       (unsigned long long)g->start, (unsigned long long)g->end,
		       fmt_size(g->end - g->start, s, sizeof(s)),
		       c & KVM_GMEM_PAGE_SHARED ? "shared" : "private",
		       block_reason(c), block_text(c));
		print_mapping_hits_plain(f, g);
	}
	if (f->traced)
		print_trace_plain(f);
}

static void print_file_json(const struct pfile *f, const struct gmem_fd *all,
			    int nall)
{
	const struct layout *l = f->traced ? &f->after : &f->l;
	size_t r;
	int i;

	json_obj_begin(&jw);
	file_header_json(&f->g, l);
	json_pages(l);
	json_kv_u64(&jw, "blocking_pages", blocking_pages(l));
	json_key(&jw, "fds");
	json_fds(all, nall, f->g.ino, &f->g.dev);
	json_key(&jw, "mappings");
	json_arr_begin(&jw);
	for (i = 0; i < f->nmaps; i++) {
		json_obj_begin(&jw);
		json_kv_s64(&jw, "pid", f->maps[i].pid);
		json_kv_str(&jw, "comm", f->maps[i].comm);
		json_kv_u64(&jw, "start", f->maps[i].start);
		json_kv_u64(&jw, "end", f->maps[i].end);
		json_kv_u64(&jw, "offset", f->maps[i].pgoff);
		json_kv_str(&jw, "perms", f->maps[i].perms);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
	json_key(&jw, "blocking");
	json_arr_begin(&jw);
	for (r = 0; r < l->nr_regions; r++) {
		const struct region *g = &l->regions[r];
		uint64_t c = g->categories;

		json_obj_begin(&jw);
		json_region(g);
		json_kv_str(&jw, "state", c & KVM_GMEM_PAGE_SHARED ? "shared" : "private");
		json_kv_str(&jw, "reason", block_reason(c));
		json_kv_str(&jw, "reason_text", block_text(c));
		json_key(&jw, "categories");
		json_cats(c);
		json_key(&jw, "mapped_by");
		print_mapping_hits_json(f, g);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
	if (f->traced)
		print_trace_json(f);
	json_obj_end(&jw);
}

int cmd_file_pins(int argc, char **argv)
{
	struct gmem_fd *all = NULL;
	struct pfile *files = NULL;
	int nall = 0, unreadable = 0, unread_maps = 0, n = 0, i, k, rc = 0;

	if (argc > 1)
		return p_err(EXIT_USAGE, "file pins: unexpected argument '%s'", argv[1]);
	files = calloc(MAX_FILES, sizeof(*files));
	if (!files)
		return p_err(EXIT_FAIL, "out of memory");
	nall = all_gmem_fds(&all, &unreadable);
	if (nall < 0) {
		rc = -nall;
		goto out;
	}
	if (argc == 1) {
		struct target t;

		if (parse_target(argv[0], &t)) {
			rc = EXIT_USAGE;
			goto out;
		}
		files[0].fd = open_target(&t, &files[0].g);
		if (files[0].fd < 0) {
			rc = -files[0].fd;
			goto out;
		}
		n = 1;
	} else {
		/* One copy of each file, from the first process holding it. */
		for (i = 0; i < nall && n < MAX_FILES; i++) {
			struct target t = { .pid = all[i].pid, .fd = all[i].fd };

			for (k = 0; k < n; k++)
				if (files[k].g.ino == all[i].ino &&
				    files[k].g.dev == all[i].dev)
					break;
			if (k < n)
				continue;
			files[n].fd = open_target(&t, &files[n].g);
			if (files[n].fd >= 0)
				n++;
		}
		if (unreadable)
			p_warn("%d processes could not be read (needs root): their files are missed",
			       unreadable);
	}

	for (i = 0; i < n; i++) {
		rc = scan_file(files[i].fd, BLOCKING, &files[i].l);
		if (rc) {
			rc = -rc;
			goto out;
		}
		files[i].nmaps = find_mappings(files[i].g.dev, files[i].g.ino,
					       &files[i].maps, &k);
		if (files[i].nmaps < 0)
			files[i].nmaps = 0;
		if (k > unread_maps)
			unread_maps = k;
	}
	if (unread_maps)
		p_warn("the mappings of %d processes could not be read (needs root)",
		       unread_maps);

	if (opts.trace && n) {
		rc = -run_trace(files, n);
		if (rc)
			goto out;
		for (i = 0; i < n; i++) {
			rc = scan_file(files[i].fd, BLOCKING, &files[i].after);
			if (rc) {
				rc = -rc;
				goto out;
			}
		}
		if (lost)
			p_warn("%llu events lost (the ring buffer was full)",
			       (unsigned long long)lost);
	}

	if (json_output) {
		json_obj_begin(&jw);
		json_key(&jw, "files");
		json_arr_begin(&jw);
	} else if (!n) {
		printf("no guest_memfd found\n");
	}
	for (i = 0; i < n; i++) {
		if (!json_output && i)
			printf("\n");
		if (json_output)
			print_file_json(&files[i], all, nall);
		else
			print_file_plain(&files[i], all, nall);
	}
	if (json_output) {
		json_arr_end(&jw);
		json_kv_u64(&jw, "unreadable_processes",
			    unreadable > unread_maps ? unreadable : unread_maps);
		json_obj_end(&jw);
	}
	for (i = 0; i < n; i++)
		if (!pid_alive(files[i].g.pid))
			p_warn("pid %d exited meanwhile: its file as it was (gmemctl held a copy)",
			       files[i].g.pid);
out:
	for (i = 0; i < n; i++) {
		close(files[i].fd);
		layout_free(&files[i].l);
		layout_free(&files[i].after);
		free(files[i].maps);
		free(files[i].h);
		free(files[i].r);
	}
	free(files);
	free(all);
	gmemctl_gup__destroy(gup);
	gmemctl_events__destroy(ev);
	return rc;
}
