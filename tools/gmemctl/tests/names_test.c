// SPDX-License-Identifier: GPL-2.0
/*
 * names_test: the names gmemctl shows for the values of the kernel's enums
 * come from the kernel's BTF, not from a copy in gmemctl.  On the host,
 * through the code that formats `gmemctl conversion watch` (print_event(),
 * plain and JSON) and `gmemctl file pins --trace` (print_denial_plain()).
 *
 *   names_test            a BTF written here, whose gmem_deny_reason,
 *                         gmem_host_fault_result, gmem_alloc_result,
 *                         gmem_split_reason and gmem_merge_result have one
 *                         enumerator more than today's kernel
 *                         (GMEM_DENY_FUTURE, ...): gmemctl, unedited, must
 *                         show them by name ("future"); the known ones
 *                         exactly as before; and without BTF, "reason5".
 *                         (And a conversion's merges, which are no name.)
 *   names_test VMLINUX [KVM_KO]
 *                         the kernel built: every enumerator of those enums
 *                         must have a name and words in gmemctl (event.c's
 *                         deny_words, fault_words, alloc_words,
 *                         split_words and merge_words, the one place to
 *                         edit when the kernel adds a reason: this fails
 *                         until then); the enums of huge folios are skipped
 *                         on a kernel without them (gmem_merge_result on
 *                         one that does not merge them back).
 *
 * gmemctl reads the BTF that GMEMCTL_BTF (and GMEMCTL_KVM_BTF) name.
 * Output is TAP (the plan last); exit 0 when every case passes, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "../gmemctl.h"
#include "../gmemctl_bpf.h"

static int n, failed;

static void tap(bool ok, const char *name, const char *got)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++n, name);
	if (!ok) {
		failed++;
		printf("# got: %s\n", got);
	}
}

/* What print_event() or print_denial_plain() wrote on stdout. */
static char *capture(void (*fn)(const struct gmemctl_event *),
		     const struct gmemctl_event *e)
{
	static char buf[4096];
	FILE *tmp = tmpfile();
	int saved, len;

	if (!tmp)
		exit(1);
	fflush(stdout);
	saved = dup(1);
	dup2(fileno(tmp), 1);
	fn(e);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	len = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[len > 0 ? len : 0] = 0;
	fclose(tmp);
	return buf;
}

static void event_plain(const struct gmemctl_event *e)
{
	json_output = false;
	print_event(e, 1.5);
}

static void event_json(const struct gmemctl_event *e)
{
	json_output = true;
	json_init(&jw, stdout, false);
	print_event(e, 1.5);
	json_finish(&jw);
	json_output = false;
}

static struct gmemctl_event denial(unsigned int reason)
{
	struct gmemctl_event e = {
		.ts_ns = 1, .type = GMEMCTL_EV_DENIED, .pid = 159, .tid = 159,
		.vm_pid = 159, .ino = 1260, .comm = "gmem-vmm",
		.denied = {
			.index = 0x97, .pfn = 0x109af3, .refcount = 1026,
			.expected = 2, .pincount = 1, .zone = 2,
			.reason = reason,
		},
	};

	return e;
}

static struct gmemctl_event host_fault(unsigned int result)
{
	struct gmemctl_event e = {
		.ts_ns = 1, .type = GMEMCTL_EV_HOST_FAULT, .pid = 159,
		.tid = 159, .ino = 1260, .comm = "gmem-vmm",
		.host_fault = { .index = 0x10, .pfn = 0x1234, .result = result,
				.write = 1 },
	};

	return e;
}

static struct gmemctl_event alloc_event(unsigned int result)
{
	struct gmemctl_event e = {
		.ts_ns = 1, .type = GMEMCTL_EV_ALLOC, .pid = 159, .tid = 159,
		.vm_pid = 159, .ino = 1260, .comm = "gmem-vmm",
		.alloc = { .index = 0x200, .pfn = 0x10a000, .result = result },
	};

	return e;
}

static struct gmemctl_event split_event(unsigned int reason)
{
	struct gmemctl_event e = {
		.ts_ns = 1, .type = GMEMCTL_EV_SPLIT, .pid = 159, .tid = 159,
		.vm_pid = 159, .ino = 1260, .comm = "gmem-vmm",
		.split = { .index = 0x200, .order = 9, .reason = reason,
			   .duration_ns = 35200 },
	};

	return e;
}

static struct gmemctl_event merge_event(unsigned int result)
{
	struct gmemctl_event e = {
		.ts_ns = 1, .type = GMEMCTL_EV_MERGE, .pid = 159, .tid = 159,
		.vm_pid = 159, .ino = 1260, .comm = "gmem-vmm",
		.merge = { .index = 0x200, .order = 9, .result = result,
			   .duration_ns = 80300 },
	};

	return e;
}

/* A conversion to private of 2 MiB that merged @merges ranges back. */
static struct gmemctl_event convert_event(unsigned int merges)
{
	struct gmemctl_event e = {
		.ts_ns = 1, .type = GMEMCTL_EV_CONVERT, .pid = 159, .tid = 159,
		.vm_pid = 159, .ino = 1260, .comm = "gmem-vmm",
		.convert = { .index = 0x200, .npages = 512, .duration_ns = 120500,
			     .folios = 512, .pages = 512, .zapped = 1,
			     .to_private = 1, .has_duration = 1, .has_splits = 1,
			     .has_merges = 1, .merges = merges },
	};

	return e;
}

static void add_enum(struct btf *btf, const char *type, const char *const *names)
{
	int i;

	btf__add_enum(btf, type, 4);
	for (i = 0; names[i]; i++)
		btf__add_enum_value(btf, names[i], i);
}

/* A BTF with the kernel's enums, and one reason and one result more. */
static int write_btf(const char *path)
{
	static const char *const deny[] = {
		"GMEM_DENY_NONE", "GMEM_DENY_PINNED", "GMEM_DENY_REFERENCED",
		"GMEM_DENY_MAPPED", "GMEM_DENY_MOVABLE", "GMEM_DENY_SPLIT",
		"GMEM_DENY_FUTURE", NULL,
	};
	static const char *const fault[] = {
		"GMEM_HOST_FAULT_SHARED", "GMEM_HOST_FAULT_PRIVATE",
		"GMEM_HOST_FAULT_EOF", "GMEM_HOST_FAULT_HWPOISON",
		"GMEM_HOST_FAULT_ERROR", "GMEM_HOST_FAULT_WAIT",
		"GMEM_HOST_FAULT_FUTURE", NULL,
	};
	static const char *const alloc[] = {
		"GMEM_ALLOC_SMALL", "GMEM_ALLOC_HUGE", "GMEM_ALLOC_FALLBACK",
		"GMEM_ALLOC_OCCUPIED", "GMEM_ALLOC_FUTURE", NULL,
	};
	static const char *const split[] = {
		"GMEM_SPLIT_CONVERT", "GMEM_SPLIT_PUNCH", "GMEM_SPLIT_FUTURE", NULL,
	};
	static const char *const merge[] = {
		"GMEM_MERGE_MERGED", "GMEM_MERGE_HOLE", "GMEM_MERGE_MOVED",
		"GMEM_MERGE_POISONED", "GMEM_MERGE_REFERENCED", "GMEM_MERGE_FAILED",
		"GMEM_MERGE_FUTURE", NULL,
	};
	static const char *const zone[] = {
		"ZONE_DMA", "ZONE_DMA32", "ZONE_NORMAL", "ZONE_MOVABLE", NULL,
	};
	struct btf *btf = btf__new_empty();
	const void *raw;
	__u32 size;
	FILE *f;

	if (!btf)
		return -1;
	btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	add_enum(btf, "gmem_deny_reason", deny);
	add_enum(btf, "gmem_host_fault_result", fault);
	add_enum(btf, "gmem_alloc_result", alloc);
	add_enum(btf, "gmem_split_reason", split);
	add_enum(btf, "gmem_merge_result", merge);
	add_enum(btf, "zone_type", zone);
	raw = btf__raw_data(btf, &size);
	f = fopen(path, "we");
	if (!raw || !f || fwrite(raw, 1, size, f) != size || fclose(f))
		return -1;
	btf__free(btf);
	return 0;
}

#define PINNED_TEXT "a GUP pin holds the page (device DMA: vfio, iommufd, RDMA, io_uring fixed buffers; direct I/O): unpin, then retry"
#define ALLOC_PLAIN "1.500000   159     gmem-vmm        alloc      1260   folio 0x200+1 (4 KiB) pfn 0x10a000 fallback: the allocator had no free 2 MiB block at hand (memory short or fragmented): small folios for this 2 MiB range, which KVM maps at 4 KiB; compaction or free memory helps the next files\n"
#define ALLOC_JSON "{\"event\":\"alloc\",\"time\":1.500,\"ts_ns\":1,\"pid\":159,\"tid\":159,\"comm\":\"gmem-vmm\",\"vm_pid\":159,\"ino\":1260,\"index\":512,\"order\":0,\"pfn\":1089536,\"result\":\"fallback\",\"result_text\":\"the allocator had no free 2 MiB block at hand (memory short or fragmented): small folios for this 2 MiB range, which KVM maps at 4 KiB; compaction or free memory helps the next files\"}"
#define SPLIT_PLAIN "1.500000   159     gmem-vmm        split      1260   huge folio 0x200+512 (2 MiB) split (convert: a page of it is to become shared) in 35.2 us\n"
#define SPLIT_JSON "\"index\":512,\"order\":9,\"reason\":\"punch\",\"reason_text\":\"a hole is punched in part of it\",\"ret\":0,\"result\":\"ok\",\"duration_ns\":35200}"
#define MERGE_PLAIN "1.500000   159     gmem-vmm        merge      1260   split range 0x200+512 (2 MiB) merged (one huge folio again, in place, content kept; KVM's mappings of the range were zapped, so that its next fault can map 2 MiB) in 80.3 us\n"
#define MERGE_JSON "{\"event\":\"merge\",\"time\":1.500,\"ts_ns\":1,\"pid\":159,\"tid\":159,\"comm\":\"gmem-vmm\",\"vm_pid\":159,\"ino\":1260,\"index\":512,\"order\":9,\"result\":\"moved\",\"result_text\":\"a page is not the one the huge folio had (it migrated while shared): stays split for good, until the whole range is punched and allocated again\",\"duration_ns\":80300}"
#define CONVERT_PLAIN "1.500000   159     gmem-vmm        convert    1260   to private 0x200+512 (2 MiB) ok in 120.5 us, 512 folios checked, 0 unmapped, 1 split range merged back, 1 memslot zapped\n"

/* What a formatter must write for an event: exactly, or containing. */
#define D	GMEMCTL_EV_DENIED
#define H	GMEMCTL_EV_HOST_FAULT
#define A	GMEMCTL_EV_ALLOC
#define S	GMEMCTL_EV_SPLIT
#define M	GMEMCTL_EV_MERGE
#define C	GMEMCTL_EV_CONVERT
static const struct {
	const char *name;
	void (*fn)(const struct gmemctl_event *e);
	unsigned int type;	/* GMEMCTL_EV_DENIED, _HOST_FAULT, ... */
	unsigned int value;	/* its reason or result; a conversion's merges */
	bool exact;
	const char *want;
} cases[] = {
	{ "watch: a known reason, as before", event_plain, D, 1, true,
	  "1.500000   159     gmem-vmm        denied     1260   page 0x97 pinned: " PINNED_TEXT
	  " (refcount 1026, expected 2, mapcount 0, pincount 1, order 0, Normal)\n" },
	{ "pins --trace: a known reason, as before", print_denial_plain, D, 1, true,
	  "  denied: conversion by pid 159 (gmem-vmm): page 0x97 pinned: " PINNED_TEXT
	  " (refcount 1026, expected 2, pincount 1)\n" },
	{ "watch: a known reason, split, with its words", event_plain, D, 5, false,
	  " page 0x97 split: the page is in a huge folio that could not be split" },
	{ "watch: a reason the kernel added shows by name", event_plain, D, 6, false,
	  " page 0x97 future: a value this gmemctl does not know (refcount 1026," },
	{ "watch -j: a reason the kernel added shows by name", event_json, D, 6, false,
	  "\"reason\":\"future\"," },
	{ "pins --trace: a reason the kernel added shows by name", print_denial_plain, D, 6,
	  false, " page 0x97 future: a value this gmemctl does not know (refcount" },
	{ "watch: a value BTF does not name: reason9", event_plain, D, 9, false,
	  " page 0x97 reason9: " },
	{ "watch: a known host fault result, as before", event_plain, H, 0, false,
	  "host_fault 1260   page 0x10 write shared: served, pfn 0x1234\n" },
	{ "watch: a host fault result the kernel added shows by name", event_plain, H, 6,
	  false,
	  "host_fault 1260   page 0x10 write future: a value this gmemctl does not know\n" },
	{ "watch -j: a host fault result the kernel added shows by name", event_json, H, 6,
	  false, "\"result\":\"future\"," },
	{ "watch: a fallback allocation, with its words", event_plain, A, 2, true,
	  ALLOC_PLAIN },
	{ "watch -j: a fallback allocation", event_json, A, 2, false, ALLOC_JSON },
	{ "watch: an allocation result the kernel added shows by name", event_plain, A, 4, false,
	  " pfn 0x10a000 future: a value this gmemctl does not know\n" },
	{ "watch: a split, with its reason in words", event_plain, S, 0, true, SPLIT_PLAIN },
	{ "watch -j: a split", event_json, S, 1, false, SPLIT_JSON },
	{ "watch: a split reason the kernel added shows by name", event_plain, S, 2, false,
	  " split (future: a value this gmemctl does not know) in 35.2 us\n" },
	{ "watch: a merge, in words", event_plain, M, 0, true, MERGE_PLAIN },
	{ "watch: a merge blocked, with its result in words", event_plain, M, 1, false,
	  " split range 0x200+512 (2 MiB) NOT merged (hole: a page of the range is a hole" },
	{ "watch -j: a merge blocked", event_json, M, 2, false, MERGE_JSON },
	{ "watch: a merge result the kernel added shows by name", event_plain, M, 6, false,
	  " NOT merged (future: a value this gmemctl does not know) in 80.3 us\n" },
	{ "watch: a conversion's merges", event_plain, C, 1, true, CONVERT_PLAIN },
	{ "watch -j: a conversion's merges", event_json, C, 2, false,
	  "\"splits\":0,\"merges\":2}" },
};

#undef D
#undef H
#undef A
#undef S
#undef M
#undef C

static void test_future(void)
{
	struct gmemctl_event e;
	const char *got;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bool pass;

		switch (cases[i].type) {
		case GMEMCTL_EV_DENIED:
			e = denial(cases[i].value);
			break;
		case GMEMCTL_EV_HOST_FAULT:
			e = host_fault(cases[i].value);
			break;
		case GMEMCTL_EV_ALLOC:
			e = alloc_event(cases[i].value);
			break;
		case GMEMCTL_EV_MERGE:
			e = merge_event(cases[i].value);
			break;
		case GMEMCTL_EV_CONVERT:
			e = convert_event(cases[i].value);
			break;
		default:
			e = split_event(cases[i].value);
			break;
		}
		got = capture(cases[i].fn, &e);
		if (cases[i].exact)
			pass = !strcmp(got, cases[i].want);
		else
			pass = strstr(got, cases[i].want);
		tap(pass, cases[i].name, got);
	}
}

static void test_no_btf(void)
{
	struct gmemctl_event e = denial(1);
	const char *got = capture(event_plain, &e);

	tap(strstr(got, " page 0x97 reason1: ") && strstr(got, ", zone2)"),
	    "without BTF: reason1, zone2", got);
}

/* The deny reasons `file pins` names are names of the kernel's enum. */
static void test_pins_names(void)
{
	static const char *const names[] = {
		DENY_NAME_PINNED, DENY_NAME_REFERENCED, DENY_NAME_MOVABLE,
	};
	char what[256];
	unsigned int i;
	long long max, v;
	bool found;

	btf_enum_count("gmem_deny_reason", &max);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		found = false;
		for (v = 0; v <= max && !found; v++)
			found = !strcmp(btf_enum_name("gmem_deny_reason", "GMEM_DENY_",
						      v, "?"), names[i]);
		snprintf(what, sizeof(what),
			 "file pins' reason \"%s\" is a gmem_deny_reason of the kernel",
			 names[i]);
		tap(found, what, "no such enumerator: rename it in gmemctl.h");
	}
}

/* Every enumerator of the kernel built has a name, and words in gmemctl. */
static void test_kernel(void)
{
	static const struct {
		const char *type, *prefix;
		/* Only in a kernel with this tracepoint (NULL: in every one). */
		const char *tracepoint;
	} enums[] = {
		{ "gmem_deny_reason", "GMEM_DENY_", NULL },
		{ "gmem_host_fault_result", "GMEM_HOST_FAULT_", NULL },
		{ "gmem_alloc_result", "GMEM_ALLOC_", "btf_trace_gmem_alloc" },
		{ "gmem_split_reason", "GMEM_SPLIT_", "btf_trace_gmem_split" },
		{ "gmem_merge_result", "GMEM_MERGE_", "btf_trace_gmem_merge" },
	};
	char what[256], got[256];
	unsigned int i;
	long long max, v;
	int nr;

	for (i = 0; i < ARRAY_SIZE(enums); i++) {
		nr = btf_enum_count(enums[i].type, &max);
		snprintf(what, sizeof(what), "kernel BTF has enum %s", enums[i].type);
		if (nr <= 0 && enums[i].tracepoint &&
		    !kernel_has_btf_type(enums[i].tracepoint, BTF_KIND_TYPEDEF)) {
			printf("ok %d - %s # SKIP a kernel without the %s tracepoint\n",
			       ++n, what, enums[i].tracepoint + strlen("btf_trace_"));
			continue;
		}
		tap(nr > 0, what, "no such enum");
		for (v = 0; nr > 0 && v <= max; v++) {
			const char *name = btf_enum_name(enums[i].type,
							 enums[i].prefix, v, "?");

			snprintf(what, sizeof(what),
				 "%s %lld: named (\"%s\") and with words in event.c",
				 enums[i].type, v, name);
			snprintf(got, sizeof(got),
				 "no words for \"%s\": add them to event.c's tables",
				 name);
			tap(name[0] != '?' && has_words(enums[i].type, name), what, got);
		}
	}
	test_pins_names();
}

/*
 * Run @fn in a child, whose BTF is what GMEMCTL_BTF names.  It numbers its
 * cases on from ours and tells us, through a pipe, how far it got and how
 * many failed; a child that dies first is a failed case of its own.
 */
static void run(void (*fn)(void), const char *what, const char *btf,
		const char *kvm)
{
	int status, fds[2], counts[2];
	char why[64];
	pid_t pid;
	ssize_t len;

	fflush(stdout);
	if (pipe(fds)) {
		tap(false, what, "pipe() failed");
		return;
	}
	pid = fork();
	if (!pid) {
		close(fds[0]);
		setenv("GMEMCTL_BTF", btf, 1);
		if (kvm)
			setenv("GMEMCTL_KVM_BTF", kvm, 1);
		else
			unsetenv("GMEMCTL_KVM_BTF");
		fn();
		fflush(stdout);
		counts[0] = n;
		counts[1] = failed;
		_exit(write(fds[1], counts, sizeof(counts)) == sizeof(counts) ? 0 : 1);
	}
	close(fds[1]);
	len = pid > 0 ? read(fds[0], counts, sizeof(counts)) : -1;
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		tap(false, what, "fork() or waitpid() failed");
		return;
	}
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
	if (len == sizeof(counts) && counts[0] >= n) {
		n = counts[0];
		failed = counts[1];
	}
	if (len != sizeof(counts) || !WIFEXITED(status) || WEXITSTATUS(status))
		tap(false, what, why);
}

int main(int argc, char **argv)
{
	char path[] = "/tmp/gmemctl-names-test.XXXXXX";
	int fd;

	printf("TAP version 13\n");
	if (argc > 1) {
		run(test_kernel, "the kernel's BTF: every case ran", argv[1],
		    argc > 2 ? argv[2] : NULL);
	} else {
		fd = mkstemp(path);
		if (fd < 0 || write_btf(path)) {
			printf("Bail out! writing the test BTF: %s\n", strerror(errno));
			return 1;
		}
		close(fd);
		run(test_future, "a future kernel's BTF: every case ran", path, NULL);
		run(test_no_btf, "no BTF: every case ran", "/nonexistent", NULL);
		unlink(path);
	}
	printf("1..%d\n", n);
	printf("# %s\n", failed ? "FAILED" : "all passed");
	return failed ? 1 : 0;
}
