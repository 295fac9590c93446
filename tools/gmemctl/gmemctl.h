/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmemctl: what its parts share.  main.c parses the command line and
 * dispatches; proc.c finds guest_memfds in processes; scan.c runs the
 * state query (KVM_GUEST_MEMFD_SCAN); bpf.c checks privileges and kernel
 * support for the BPF parts; file.c, pins.c, conversion.c and feature.c
 * hold the commands.
 */
#ifndef __GMEMCTL_H
#define __GMEMCTL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <linux/types.h>
#include <linux/kvm.h>
#include <linux/kvm_gmem.h>

#include "gmem_consts.h"
#include "json.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE_SZ		4096ULL

/* Exit statuses (Documentation/gmemctl.rst, "EXIT STATUS"). */
enum {
	EXIT_OK		= 0,
	EXIT_FAIL	= 1,	/* the command failed */
	EXIT_USAGE	= 2,	/* bad command line */
	EXIT_NOSUPPORT	= 3,	/* the kernel lacks what the command needs */
	EXIT_NOPERM	= 4,	/* a privilege is missing */
	EXIT_NOTFOUND	= 5,	/* no such process, fd or guest_memfd */
};

/* Command options; main.c checks that each applies to the command. */
enum {
	OPT_INTERVAL	= 1 << 0,
	OPT_COUNT	= 1 << 1,
	OPT_TRACE	= 1 << 2,
	OPT_WIDTH	= 1 << 3,
	OPT_CHUNK	= 1 << 4,
	OPT_MAP		= 1 << 5,
	OPT_TABLE	= 1 << 6,
	OPT_EVENTS	= 1 << 7,
	OPT_DURATION	= 1 << 8,
};

struct options {
	unsigned int given;	/* OPT_* seen on the command line */
	double interval;	/* latency: seconds between reports */
	long count;		/* latency: reports; watch: events */
	double trace;		/* pins: seconds of tracing */
	double duration;	/* latency, watch: seconds, then stop */
	int width;		/* layout: columns of the map */
	uint64_t chunk;		/* layout: bytes per map character */
	unsigned int events;	/* watch: GMEMCTL_WANT() bits */
	unsigned int events_optional;	/* ... that the kernel may lack */
};

/*
 * What `conversion watch` shows without --events: every event but
 * allocations other than huge folio fallbacks (GMEMCTL_WANT_ALLOC_ALL).
 */
#define WATCH_DEFAULT_EVENTS						\
	(GMEMCTL_WANT(GMEMCTL_EV_CONVERT) | GMEMCTL_WANT(GMEMCTL_EV_DENIED) | \
	 GMEMCTL_WANT(GMEMCTL_EV_HOST_FAULT) |				\
	 GMEMCTL_WANT(GMEMCTL_EV_KVM_FAULT) | GMEMCTL_WANT(GMEMCTL_EV_SPLIT) | \
	 GMEMCTL_WANT(GMEMCTL_EV_MERGE) | GMEMCTL_WANT(GMEMCTL_EV_ALLOC))

/* ---- common.c ----------------------------------------------------------- */

extern struct options opts;
extern bool json_output;
extern bool verbose;
extern struct json jw;
extern const char *cmd_name;	/* "file layout", for messages */

/*
 * Print "gmemctl: MSG" on stderr (one line), keep it for the JSON error
 * document, and return @code (EXIT_*): the one way to report an error.
 */
int p_err(int code, const char *fmt, ...) __printf(2, 3);
/* A warning: on stderr, never in the JSON document. */
void p_warn(const char *fmt, ...) __printf(1, 2);
/* A note ("tracing ...; Ctrl-C to end"): on stderr. */
void p_info(const char *fmt, ...) __printf(1, 2);
/* The message of the last p_err(), or "". */
const char *last_error(void);

/* Set by SIGINT/SIGTERM in the commands that run until stopped. */
extern atomic_int stop_requested;
void catch_stop_signals(void);

/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns(). */
double now_s(void);
uint64_t now_ns(void);
/* The sum over CPUs of entry 0 of a per-CPU array of u64 (lost events). */
uint64_t sum_percpu(int map_fd);
/* "ok", "EAGAIN", ... for 0 or a negative errno; "error" if unknown. */
const char *errno_name(int ret);
/* Human-readable size: "4 KiB", "1.5 MiB". */
const char *fmt_size(uint64_t bytes, char *buf, size_t len);

/* ---- proc.c ------------------------------------------------------------ */

/* A guest_memfd as an fd of a process. */
struct gmem_fd {
	pid_t pid;
	int fd;
	uint64_t ino;
	dev_t dev;
	char comm[16];		/* the process's, when it was opened */
};

struct target {
	pid_t pid;
	int fd;			/* -1: the only guest_memfd of pid */
};

int parse_target(const char *arg, struct target *t);
/*
 * The guest_memfds of @pid (fds in /proc/PID/fd), at most @max; returns
 * how many there are, or -EXIT_* after printing why.
 */
int pid_gmem_fds(pid_t pid, struct gmem_fd *out, int max);
/* Every guest_memfd fd of every process that can be read. */
int all_gmem_fds(struct gmem_fd **out, int *nr_unreadable);
/*
 * Resolve @t to one guest_memfd and take a copy of it with pidfd_getfd();
 * returns the new fd or -EXIT_* after printing why.
 */
int open_target(const struct target *t, struct gmem_fd *g);
/* /proc/PID/comm, or "" */
void pid_comm(pid_t pid, char *buf, size_t len);
/* /proc/PID/cmdline with spaces, or "" */
void pid_cmdline(pid_t pid, char *buf, size_t len);
bool pid_alive(pid_t pid);
/* pidfd_open(2): a pidfd of @pid, or -1 with errno set. */
int pidfd_open(pid_t pid, unsigned int flags);

/* A mapping of a guest_memfd in some process. */
struct gmem_mapping {
	pid_t pid;
	char comm[16];
	uint64_t start, end;	/* addresses */
	uint64_t pgoff;		/* file offset of start, bytes */
	char perms[5];
};

/* Mappings of (@dev, @ino) in every process that can be read. */
int find_mappings(dev_t dev, uint64_t ino, struct gmem_mapping **out,
		  int *nr_unreadable);
/* Pages of [addr, addr + len) present in @pid's page tables, or -errno. */
long pages_present(pid_t pid, uint64_t addr, uint64_t len);

/* ---- scan.c ------------------------------------------------------------- */

/* The bit number of a KVM_GMEM_PAGE_* category: its index in counts[]. */
#define CAT_BIT(cat)	__builtin_ctzll(cat)
/* Categories KVM_GMEM_PAGE_PRIVATE ... KVM_GMEM_PAGE_HWPOISON, the last. */
#define CAT_NAMES	(CAT_BIT(KVM_GMEM_PAGE_HWPOISON) + 1)

struct region {
	uint64_t start, end, categories;
};

struct layout {
	uint64_t size;
	uint64_t mask;			/* categories asked for */
	uint64_t counts[CAT_NAMES];	/* pages per category (summary) */
	struct region *regions;
	size_t nr_regions;
};

extern const char *const cat_names[CAT_NAMES];

/* Categories this kernel's KVM_GUEST_MEMFD_SCAN knows; -EXIT_* if none. */
int64_t scan_supported(int gmem_fd);
/*
 * Summary (pages per category) of the whole file, and its regions; with
 * @anyof, only the regions of pages that have one of those categories.
 * Returns 0 or -EXIT_*.
 */
int scan_file(int gmem_fd, uint64_t anyof, struct layout *l);
void layout_free(struct layout *l);

/* ---- bpf.c -------------------------------------------------------------- */

/* Capabilities (linux/capability.h) that gmemctl asks about. */
#define CAP_SYS_PTRACE_BIT	19
#define CAP_SYS_ADMIN_BIT	21
#define CAP_PERFMON_BIT		38
#define CAP_BPF_BIT		39

/* This process's effective capabilities (CapEff of /proc/self/status). */
uint64_t cap_eff(void);
/* CAP_BPF + CAP_PERFMON or CAP_SYS_ADMIN; else prints why, -EXIT_NOPERM. */
int need_bpf_privileges(void);
/* Whether the running kernel's BTF has type @name of kind @kind. */
bool kernel_has_btf_type(const char *name, int kind);
/* -EXIT_NOSUPPORT with a message unless the gmem tracepoints exist. */
int need_gmem_tracepoints(void);
/* libbpf's messages to stderr with -d, else none. */
void setup_libbpf(void);
/**
 * btf_enum_name() - the name of a value of one of the kernel's enums
 * @type:	the enum ("gmem_deny_reason")
 * @prefix:	what its enumerators begin with ("GMEM_DENY_")
 * @val:	the value
 * @fallback:	the word for a value BTF does not name: "@fallback@val"
 *
 * The enumerator's name after @prefix, lower-cased, as the kernel's
 * tracepoints print it: "pinned" for GMEM_DENY_PINNED.  From the running
 * kernel's BTF (vmlinux, and kvm.ko's), or from the files that
 * GMEMCTL_BTF and GMEMCTL_KVM_BTF name.  The string, BTF's name or the
 * fallback, is made once per @type, @val and @fallback and stays valid;
 * @type and @fallback must outlive the program (string literals), and one
 * @type always comes with the same @prefix.
 */
const char *btf_enum_name(const char *type, const char *prefix, long long val,
			  const char *fallback);
/*
 * The deny reasons (names of enum gmem_deny_reason) that `file pins` gives
 * blocking pages: names_test checks each against the kernel's BTF.
 */
#define DENY_NAME_PINNED	"pinned"
#define DENY_NAME_REFERENCED	"referenced"
#define DENY_NAME_MOVABLE	"movable"
/* Enumerators of @type in the kernel's BTF and their largest value, or -1. */
int btf_enum_count(const char *type, long long *max);
/* "Normal", "Movable", ... for a zone number (from the kernel's BTF). */
const char *zone_name(int zone);
/* The symbol of a kernel address: "name+0xoff" (needs root). */
const char *ksym_name(uint64_t addr, char *buf, size_t len);
/* The kernel's dev_t encoding of @dev, as in struct super_block. */
uint32_t kernel_dev(dev_t dev);
/*
 * p_err() for a failed load or attach (@err: a negative errno), with the
 * privilege it may need; like p_err(), returns the EXIT_* status.
 */
int bpf_fail(const char *what, int err);

/* ---- commands ------------------------------------------------------------ */

int cmd_file_list(int argc, char **argv);
int cmd_file_layout(int argc, char **argv);
int cmd_file_pins(int argc, char **argv);
int cmd_conversion_latency(int argc, char **argv);
int cmd_conversion_watch(int argc, char **argv);
int cmd_feature_probe(int argc, char **argv);

/* file.c: the file's identity, as a line or as keys of the open object. */
void file_header_plain(const struct gmem_fd *g, const struct layout *l);
void file_header_json(const struct gmem_fd *g, const struct layout *l);
/* file.c: ["private", "allocated", ...] for categories @c. */
void json_cats(uint64_t c);
/* file.c: a region's "start", "end" and "pages", in the open object. */
void json_region(const struct region *g);
/* file.c: "pages": {"total", CATEGORY: count, ...} in the open object. */
void json_pages(const struct layout *l);
/* file.c: [{"pid", "fd"}, ...] of the fds of file @ino (on *@dev if set). */
void json_fds(const struct gmem_fd *fds, int nfds, uint64_t ino,
	      const dev_t *dev);
struct gmemctl_event;
struct gmemctl_events;
/*
 * Open, load and attach gmemctl_events.bpf.o with the programs of @want
 * (GMEMCTL_WANT() bits), histograms or ring buffer, and, if @nr_inos, only
 * the files of @inos.  Returns 0 or -EXIT_* after printing why.
 */
int events_load(struct gmemctl_events **skel, unsigned int want, bool hist,
		const uint64_t *inos, int nr_inos);
/* One event as a line or a JSON object, @t seconds after the start. */
void print_event(const struct gmemctl_event *e, double t);
/* A denial as a line of `file pins --trace`. */
void print_denial_plain(const struct gmemctl_event *e);
/*
 * event.c: "pinned", and what it means, for a gmem_deny_reason; "served"
 * for a gmem_host_fault_result.  Names from the kernel's BTF, words from
 * event.c's tables by name.
 */
const char *deny_reason_name(unsigned int reason);
const char *deny_reason_text(unsigned int reason);
const char *deny_name_text(const char *name);
const char *fault_result_name(unsigned int result);
const char *fault_result_text(unsigned int result);
/*
 * "fallback" for a gmem_alloc_result, "convert" for a gmem_split_reason,
 * "moved" for a gmem_merge_result.
 */
const char *alloc_result_name(unsigned int result);
const char *alloc_result_text(unsigned int result);
const char *split_reason_name(unsigned int reason);
const char *split_reason_text(unsigned int reason);
const char *merge_result_name(unsigned int result);
const char *merge_result_text(unsigned int result);
/* Whether event.c has words for @name of the kernel's enum @type. */
bool has_words(const char *type, const char *name);
/* The inode numbers of @t's guest_memfd(s), for the BPF filters. */
int target_inos(const char *arg, uint64_t *inos, int max, dev_t *dev);

#endif /* __GMEMCTL_H */
