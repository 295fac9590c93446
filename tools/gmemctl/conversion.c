// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl conversion latency: log2 histograms of conversion latency, the
 * time from a thread's gmem_convert_start to its gmem_convert (measured by
 * gmemctl_events.bpf.c: the kernel does not time conversions), per
 * direction and size class, kept per CPU in a BPF array and read every
 * interval.
 * gmemctl conversion watch: one line per gmem_convert (with that latency,
 * as duration_ns), gmem_convert_denied, gmem_host_fault, gmem_kvm_fault,
 * gmem_split, gmem_merge and gmem_alloc (by default, only its fallbacks),
 * from a BPF ring buffer.
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

/* ---- common setup ------------------------------------------------------------ */

struct events_ctx {
	struct gmemctl_events *skel;
	int pidfd;		/* the target's, to stop when it exits */
	pid_t pid;
	double t0;		/* now_s() at the start */
	uint64_t t0_ns;		/* the same, in bpf_ktime_get_ns() time */
	long seen;
	bool exited;
};

/*
 * The programs of gmemctl_events.bpf.c, and the events they report (or,
 * for gmem_convert_start, help report: it times them).
 */
static const struct {
	const char *prog;
	unsigned int type;
} prog_events[] = {
	{ "gmem_convert_start", GMEMCTL_EV_CONVERT },
	{ "gmem_convert", GMEMCTL_EV_CONVERT },
	{ "gmem_convert_denied", GMEMCTL_EV_DENIED },
	{ "gmem_host_fault", GMEMCTL_EV_HOST_FAULT },
	{ "gmem_kvm_fault", GMEMCTL_EV_KVM_FAULT },
	{ "gmem_alloc", GMEMCTL_EV_ALLOC },
	{ "gmem_split", GMEMCTL_EV_SPLIT },
	{ "gmem_merge", GMEMCTL_EV_MERGE },
};

int events_load(struct gmemctl_events **skelp, unsigned int want, bool hist,
		const uint64_t *inos, int nr_inos)
{
	struct gmemctl_events *skel;
	struct bpf_program *prog;
	uint8_t one = 1;
	int i, err;

	*skelp = skel = gmemctl_events__open();
	if (!skel)
		return -bpf_fail("opening the gmem events object", -errno);
	skel->bss->filter_ino = nr_inos > 0;
	skel->bss->histograms = hist;
	skel->bss->alloc_all = !!(want & GMEMCTL_WANT_ALLOC_ALL);
	bpf_object__for_each_program(prog, skel->obj) {
		unsigned int type = 0;

		for (i = 0; i < (int)ARRAY_SIZE(prog_events); i++)
			if (!strcmp(bpf_program__name(prog), prog_events[i].prog))
				type = prog_events[i].type;
		bpf_program__set_autoload(prog, !!(want & GMEMCTL_WANT(type)));
	}
	err = gmemctl_events__load(skel);
	if (err)
		return -bpf_fail("loading the gmem events programs", err);
	for (i = 0; i < nr_inos; i++)
		if (bpf_map__update_elem(skel->maps.inos, &inos[i], sizeof(inos[i]),
					 &one, sizeof(one), 0))
			return -bpf_fail("setting the file filter", -errno);
	err = gmemctl_events__attach(skel);
	if (err)
		return -bpf_fail("attaching to the gmem tracepoints", err);
	return 0;
}

/*
 * The setup of latency and watch: the optional target (PID[:FD]) as the
 * file filter, its pidfd to stop when it exits, the events object.
 * Returns 0 or -EXIT_* after printing why.
 */
static int events_open(struct events_ctx *c, int argc, char **argv,
		       unsigned int want, bool hist)
{
	uint64_t inos[256];
	int n = 0, err;
	dev_t dev;

	memset(c, 0, sizeof(*c));
	c->pidfd = -1;
	if (argc > 1)
		return -p_err(EXIT_USAGE, "%s: unexpected argument '%s'", cmd_name,
			     argv[1]);
	err = need_gmem_tracepoints();
	if (err)
		return err;
	if (argc == 1) {
		struct target t;

		n = target_inos(argv[0], inos, ARRAY_SIZE(inos), &dev);
		if (n < 0)
			return n;
		parse_target(argv[0], &t);
		c->pid = t.pid;
		c->pidfd = pidfd_open(t.pid, 0);
	}
	err = need_bpf_privileges();
	if (err)
		return err;
	err = events_load(&c->skel, want, hist, inos, n);
	if (err)
		return err;
	c->t0 = now_s();
	c->t0_ns = now_ns();
	return 0;
}

static void events_close(struct events_ctx *c)
{
	if (c->pidfd >= 0)
		close(c->pidfd);
	gmemctl_events__destroy(c->skel);
}

/* Whether the target exited (its pidfd polls readable). */
static bool target_exited(struct events_ctx *c)
{
	struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

	if (c->pidfd < 0)
		return false;
	if (poll(&p, 1, 0) == 1) {
		c->exited = true;
		return true;
	}
	return false;
}

/* ---- watch -------------------------------------------------------------------- */

/*
 * The events of huge folios, which a kernel without them does not have,
 * and what such a kernel's guest_memfd lacks.
 */
static const struct {
	unsigned int type;
	const char *tracepoint;
	const char *lacks;
} huge_events[] = {
	{ GMEMCTL_EV_ALLOC, "gmem_alloc", "huge folios" },
	{ GMEMCTL_EV_SPLIT, "gmem_split", "huge folios" },
	{ GMEMCTL_EV_MERGE, "gmem_merge", "merging huge folios back" },
};

/*
 * Leave out of *@want the events of huge folios that this kernel lacks, if
 * they are optional (the default set, "all"); refuse those named.  Returns
 * 0 or -EXIT_NOSUPPORT after printing why.
 */
static int watch_supported(unsigned int *want, unsigned int optional)
{
	char typedef_name[64];
	unsigned int i, bit;

	for (i = 0; i < ARRAY_SIZE(huge_events); i++) {
		bit = GMEMCTL_WANT(huge_events[i].type);
		snprintf(typedef_name, sizeof(typedef_name), "btf_trace_%s",
			 huge_events[i].tracepoint);
		if (!(*want & bit) ||
		    kernel_has_btf_type(typedef_name, BTF_KIND_TYPEDEF))
			continue;
		if (!(optional & bit))
			return -p_err(EXIT_NOSUPPORT,
				      "this kernel has no %s tracepoint (guest_memfd without %s)",
				      huge_events[i].tracepoint,
				      huge_events[i].lacks);
		*want &= ~bit;
	}
	return 0;
}

static int watch_event(void *ctx, void *data, size_t size)
{
	struct events_ctx *c = ctx;
	const struct gmemctl_event *e = data;

	if (size < sizeof(*e))
		return 0;
	if (opts.count && c->seen >= opts.count)
		return 0;
	c->seen++;
	print_event(e, (double)((int64_t)(e->ts_ns - c->t0_ns)) / 1e9);
	fflush(stdout);
	/* Stop the ring buffer's poll once --count events were shown. */
	return opts.count && c->seen >= opts.count ? 1 : 0;
}

int cmd_conversion_watch(int argc, char **argv)
{
	unsigned int want = opts.events ? opts.events : WATCH_DEFAULT_EVENTS;
	unsigned int optional = opts.events ? opts.events_optional :
				WATCH_DEFAULT_EVENTS;
	const char *why = "signal";
	struct ring_buffer *rb;
	struct events_ctx c;
	uint64_t lost;
	int rc, err;

	catch_stop_signals();
	rc = -watch_supported(&want, optional);
	if (rc)
		return rc;
	rc = -events_open(&c, argc, argv, want, false);
	if (rc) {
		if (c.skel || c.pidfd >= 0)
			events_close(&c);
		return rc;
	}
	rb = ring_buffer__new(bpf_map__fd(c.skel->maps.events), watch_event, &c,
			      NULL);
	if (!rb) {
		events_close(&c);
		return bpf_fail("opening the ring buffer", -errno);
	}
	p_info("watching%s%s%s%s%s%s%s%s; Ctrl-C to end",
	       want & GMEMCTL_WANT(GMEMCTL_EV_CONVERT) ? " conversions" : "",
	       want & GMEMCTL_WANT(GMEMCTL_EV_DENIED) ? " denials" : "",
	       want & GMEMCTL_WANT(GMEMCTL_EV_HOST_FAULT) ? " host-faults" : "",
	       want & GMEMCTL_WANT(GMEMCTL_EV_KVM_FAULT) ? " kvm-faults" : "",
	       want & GMEMCTL_WANT(GMEMCTL_EV_SPLIT) ? " splits" : "",
	       want & GMEMCTL_WANT(GMEMCTL_EV_MERGE) ? " merges" : "",
	       !(want & GMEMCTL_WANT(GMEMCTL_EV_ALLOC)) ? "" :
	       want & GMEMCTL_WANT_ALLOC_ALL ? " allocations" :
	       " allocation-fallbacks",
	       c.pid ? " of the target's guest_memfds" : "");
	if (json_output) {
		json_obj_begin(&jw);
		json_key(&jw, "events");
		json_arr_begin(&jw);
		fflush(stdout);
	} else {
		printf("%-10s %-7s %-15s %-10s %-6s %s\n", "TIME(s)", "PID", "COMM",
		       "EVENT", "INO", "DETAIL");
		fflush(stdout);
	}
	for (;;) {
		if (stop_requested)
			break;
		if (opts.duration && now_s() - c.t0 >= opts.duration) {
			why = "duration";
			break;
		}
		err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR) {
			rc = p_err(EXIT_FAIL, "conversion watch: polling the ring buffer: %s",
				   strerror(-err));
			why = "error";
			break;
		}
		if (opts.count && c.seen >= opts.count) {
			why = "count";
			break;
		}
		if (target_exited(&c)) {
			/* What it left in the ring buffer first. */
			ring_buffer__consume(rb);
			why = "target exited";
			break;
		}
	}
	lost = sum_percpu(bpf_map__fd(c.skel->maps.lost));
	if (json_output) {
		json_arr_end(&jw);
		json_kv_u64(&jw, "count", c.seen);
		json_kv_u64(&jw, "lost", lost);
		json_kv_str(&jw, "stopped_by", why);
		if (rc) {
			json_kv_str(&jw, "error", last_error());
			json_kv_u64(&jw, "exit_status", rc);
		}
		json_obj_end(&jw);
	}
	if (lost)
		p_warn("%llu events lost (the ring buffer was full)",
		       (unsigned long long)lost);
	if (c.exited)
		p_info("pid %d exited", c.pid);
	ring_buffer__free(rb);
	events_close(&c);
	return rc;
}

/* ---- latency ------------------------------------------------------------------ */

static const struct {
	const char *label;
	uint64_t max_bytes;	/* 0: no limit */
} size_classes[GMEMCTL_SIZE_CLASSES] = {
	{ "4K", 4096 },
	{ "<=64K", 64 << 10 },
	{ "<=2M", 2 << 20 },
	{ "<=1G", 1 << 30 },
	{ ">1G", 0 },
};

/* Sum the per-CPU histograms, then zero them for the next interval. */
static int read_hists(int fd, struct gmemctl_hist *out)
{
	int ncpus = libbpf_num_possible_cpus(), i, c;
	struct gmemctl_hist *v;
	uint32_t k;

	if (ncpus <= 0)
		return -EINVAL;
	v = calloc(ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(out, 0, GMEMCTL_NR_HISTS * sizeof(*out));
	for (k = 0; k < GMEMCTL_NR_HISTS; k++) {
		struct gmemctl_hist *h = &out[k];

		if (bpf_map_lookup_elem(fd, &k, v)) {
			free(v);
			return -errno;
		}
		for (c = 0; c < ncpus; c++) {
			for (i = 0; i < GMEMCTL_HIST_SLOTS; i++)
				h->slots[i] += v[c].slots[i];
			h->count += v[c].count;
			h->sum_ns += v[c].sum_ns;
			h->failed += v[c].failed;
			h->refused += v[c].refused;
			if (v[c].min_ns && (!h->min_ns || v[c].min_ns < h->min_ns))
				h->min_ns = v[c].min_ns;
			if (v[c].max_ns > h->max_ns)
				h->max_ns = v[c].max_ns;
		}
		memset(v, 0, ncpus * sizeof(*v));
		bpf_map_update_elem(fd, &k, v, BPF_ANY);
	}
	free(v);
	return 0;
}

static void print_stars(uint64_t v, uint64_t max, int width)
{
	int n = max ? (int)(v * width / max) : 0, i;

	for (i = 0; i < width; i++)
		putchar(i < n ? '*' : ' ');
}

/* One histogram of the "hists" array, as both outputs show it. */
struct hist_view {
	const struct gmemctl_hist *h;
	const char *to;			/* "private" or "shared" */
	int cls;			/* index of size_classes[] */
	int first, last;		/* non-empty slots, -1 if none */
	uint64_t max;			/* the fullest slot's count */
};

/* Histogram @k of @hists, or false if it saw no conversion. */
static bool hist_view(const struct gmemctl_hist *hists, int k,
		      struct hist_view *v)
{
	const struct gmemctl_hist *h = &hists[k];
	int i;

	if (!h->count && !h->failed)
		return false;
	v->h = h;
	v->to = k >= GMEMCTL_SIZE_CLASSES ? "private" : "shared";
	v->cls = k % GMEMCTL_SIZE_CLASSES;
	v->first = -1;
	v->last = -1;
	v->max = 0;
	for (i = 0; i < GMEMCTL_HIST_SLOTS; i++) {
		if (h->slots[i] && v->first < 0)
			v->first = i;
		if (h->slots[i])
			v->last = i;
		if (h->slots[i] > v->max)
			v->max = h->slots[i];
	}
	return true;
}

/* Slot @i holds latencies of [low_us(i), high_us(i)] microseconds. */
static uint64_t low_us(int i)
{
	return i ? 1ULL << (i - 1) : 0;
}

static uint64_t high_us(int i)
{
	return i ? (1ULL << i) - 1 : 0;
}

static void print_hists_plain(const struct gmemctl_hist *hists, double seconds,
			      int interval)
{
	bool any = false;
	int k, i;

	printf("%sconversion latency, %.1f s%s:\n", interval > 1 ? "\n" : "",
	       seconds, opts.interval ? "" : " of tracing");
	for (k = 0; k < GMEMCTL_NR_HISTS; k++) {
		const struct gmemctl_hist *h;
		struct hist_view v;

		if (!hist_view(hists, k, &v))
			continue;
		any = true;
		h = v.h;
		printf("\nto %s, size %s: %llu conversion%s", v.to,
		       size_classes[v.cls].label, (unsigned long long)h->count,
		       h->count == 1 ? "" : "s");
		if (h->count)
			printf(", avg %.1f us, min %.1f us, max %.1f us",
			       h->sum_ns / 1000.0 / h->count, h->min_ns / 1000.0,
			       h->max_ns / 1000.0);
		if (h->failed)
			printf("; %llu failed (%llu refused: EAGAIN)",
			       (unsigned long long)h->failed,
			       (unsigned long long)h->refused);
		printf("\n");
		if (v.last < 0)
			continue;
		printf("%24s : %-8s %s\n", "usecs", "count", "distribution");
		for (i = v.first; i <= v.last; i++) {
			printf("%10llu -> %-10llu : %-8llu |",
			       (unsigned long long)low_us(i),
			       (unsigned long long)high_us(i),
			       (unsigned long long)h->slots[i]);
			print_stars(h->slots[i], v.max, 40);
			printf("|\n");
		}
	}
	if (!any)
		printf("no conversion\n");
	fflush(stdout);
}

static void print_hists_json(const struct gmemctl_hist *hists, double seconds,
			     int interval)
{
	int k, i;

	json_obj_begin(&jw);
	json_kv_u64(&jw, "interval", interval);
	json_key(&jw, "seconds");
	json_double(&jw, seconds);
	json_key(&jw, "histograms");
	json_arr_begin(&jw);
	for (k = 0; k < GMEMCTL_NR_HISTS; k++) {
		const struct gmemctl_hist *h;
		struct hist_view v;

		if (!hist_view(hists, k, &v))
			continue;
		h = v.h;
		json_obj_begin(&jw);
		json_kv_str(&jw, "to", v.to);
		json_kv_str(&jw, "size_class", size_classes[v.cls].label);
		json_key(&jw, "max_bytes");
		if (size_classes[v.cls].max_bytes)
			json_u64(&jw, size_classes[v.cls].max_bytes);
		else
			json_null(&jw);
		json_kv_u64(&jw, "count", h->count);
		json_kv_u64(&jw, "failed", h->failed);
		json_kv_u64(&jw, "refused", h->refused);
		json_kv_u64(&jw, "sum_ns", h->sum_ns);
		json_kv_u64(&jw, "avg_ns", h->count ? h->sum_ns / h->count : 0);
		json_kv_u64(&jw, "min_ns", h->min_ns);
		json_kv_u64(&jw, "max_ns", h->max_ns);
		json_key(&jw, "buckets");
		json_arr_begin(&jw);
		for (i = v.first; v.first >= 0 && i <= v.last; i++) {
			json_obj_begin(&jw);
			json_kv_u64(&jw, "low_us", low_us(i));
			json_kv_u64(&jw, "high_us", high_us(i));
			json_kv_u64(&jw, "count", h->slots[i]);
			json_obj_end(&jw);
		}
		json_arr_end(&jw);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
	json_obj_end(&jw);
	fflush(stdout);
}

static void print_hists(const struct gmemctl_hist *hists, double seconds,
			int interval)
{
	if (json_output)
		print_hists_json(hists, seconds, interval);
	else
		print_hists_plain(hists, seconds, interval);
}

int cmd_conversion_latency(int argc, char **argv)
{
	struct gmemctl_hist hists[GMEMCTL_NR_HISTS];
	const char *why = "signal";
	double t_last, next, end = 0;
	struct events_ctx c;
	int rc, intervals = 0, err;

	catch_stop_signals();
	rc = -events_open(&c, argc, argv, GMEMCTL_WANT(GMEMCTL_EV_CONVERT), true);
	if (rc) {
		if (c.skel || c.pidfd >= 0)
			events_close(&c);
		return rc;
	}
	p_info("tracing conversion latency%s; Ctrl-C to end",
	       c.pid ? " of the target's guest_memfds" : "");
	if (json_output) {
		json_obj_begin(&jw);
		json_key(&jw, "intervals");
		json_arr_begin(&jw);
		fflush(stdout);
	}
	t_last = c.t0;
	next = opts.interval ? c.t0 + opts.interval : 0;
	if (opts.duration)
		end = c.t0 + opts.duration;
	for (;;) {
		double now = now_s(), wake = 0.1;
		bool report = false, done = false;

		if (stop_requested) {
			done = true;
		} else if (end && now >= end) {
			done = true;
			why = "duration";
		} else if (target_exited(&c)) {
			done = true;
			why = "target exited";
		} else if (next && now >= next) {
			report = true;
			next += opts.interval;
			if (opts.count && intervals + 1 >= opts.count) {
				done = true;
				why = "count";
			}
		}
		if (report || done) {
			err = read_hists(bpf_map__fd(c.skel->maps.hists), hists);
			if (err) {
				rc = p_err(EXIT_FAIL,
					   "conversion latency: reading the histograms: %s",
					   strerror(-err));
				why = "error";
				break;
			}
			print_hists(hists, now - t_last, ++intervals);
			t_last = now;
		}
		if (done)
			break;
		if (next && next - now < wake)
			wake = next - now > 0 ? next - now : 0;
		if (end && end - now < wake)
			wake = end - now > 0 ? end - now : 0;
		poll(NULL, 0, (int)(wake * 1000) + 1);
	}
	if (json_output) {
		json_arr_end(&jw);
		json_kv_str(&jw, "stopped_by", why);
		if (rc) {
			json_kv_str(&jw, "error", last_error());
			json_kv_u64(&jw, "exit_status", rc);
		}
		json_obj_end(&jw);
	}
	if (c.exited)
		p_info("pid %d exited", c.pid);
	events_close(&c);
	return rc;
}
