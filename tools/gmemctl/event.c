// SPDX-License-Identifier: GPL-2.0
/*
 * The gmem events (include/trace/events/gmem.h) as gmemctl shows them, in
 * `conversion watch` and in `file pins --trace`: one line, or one JSON
 * object, per event of gmemctl_events.bpf.c's ring buffer.
 *
 * Names are data, not positions: the name of a deny reason, of a fault
 * result, of an allocation's result, of a split's reason or of a merge's
 * result is its enumerator's in the kernel's BTF (GMEM_DENY_PINNED:
 * "pinned"), read by btf_enum_name(), so a reason the kernel adds shows up
 * by name with no edit here.  What a name means, in words, is kept below
 * by name; a name without words gets UNKNOWN_TEXT, and the unit test
 * (tests/names_test.c, `make check-names`) fails until it has some.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "gmemctl.h"
#include "gmemctl_bpf.h"

/* The words for a deny reason or a fault result without words here. */
#define UNKNOWN_TEXT	"a value this gmemctl does not know"

struct word {
	const char *name;
	const char *text;
};

/* What each enum gmem_deny_reason means, and what to do about it. */
static const struct word deny_words[] = {
	{ "none", "not a denial" },
	{ "pinned",
	  "a GUP pin holds the page (device DMA: vfio, iommufd, RDMA, io_uring fixed buffers; direct I/O): unpin, then retry",
	},
	{ "referenced",
	  "references beyond guest_memfd's own (get_user_pages, vmsplice, a fault or migration in flight): usually transient, retry",
	},
	{ "mapped",
	  "the host still maps the page after the conversion unmapped it: a kernel bug" },
	{ "movable",
	  "the page is in ZONE_MOVABLE or CMA, where private pages must not be: a kernel bug" },
	{ "split",
	  "the page is in a huge folio that could not be split into 4 KiB pages, as a page must be to become shared: it is still referenced (a KVM fault in flight, memory failure handling) or the split found no memory; retry; if it persists, a reference leaks (gmemctl pins, gmem_split's ret in the trace)",
	},
};

/* What each enum gmem_host_fault_result means. */
static const struct word fault_words[] = {
	{ "shared", "served" },
	{ "private", "refused with SIGBUS: the page is private" },
	{ "eof", "refused with SIGBUS: beyond the end of the file" },
	{ "hwpoison", "refused: memory error" },
	{ "error", "failed: the page could not be allocated" },
	{ "wait",
	  "found a conversion in progress: waits for it (without mmap_lock on its first try)" },
};

/* What each enum gmem_alloc_result means. */
static const struct word alloc_words[] = {
	{ "small",
	  "no huge folio asked for (a file of small folios, or a range with shared pages)" },
	{ "huge", "a huge (2 MiB) folio" },
	{ "fallback",
	  "the allocator had no free 2 MiB block at hand (memory short or fragmented): small folios for this 2 MiB range, which KVM maps at 4 KiB; compaction or free memory helps the next files",
	},
	{ "occupied", "the 2 MiB range holds small folios already (split, or a fallback)" },
};

/* What each enum gmem_split_reason means. */
static const struct word split_words[] = {
	{ "convert", "a page of it is to become shared" },
	{ "punch", "a hole is punched in part of it" },
};

/* What each enum gmem_merge_result means, and what comes of the range. */
static const struct word merge_words[] = {
	{ "merged",
	  "one huge folio again, in place, content kept; KVM's mappings of the range were zapped, so that its next fault can map 2 MiB",
	},
	{ "hole",
	  "a page of the range is a hole: stays split, tried again by the next conversion to private that covers it (not expected: a hole punched in the range makes guest_memfd forget it)",
	},
	{ "moved",
	  "a page is not the one the huge folio had (it migrated while shared): stays split for good, until the whole range is punched and allocated again",
	},
	{ "poisoned",
	  "a page of the range has a memory error: stays split for good" },
	{ "referenced",
	  "a page is referenced or locked by someone else (a fault, GUP or migration in flight): stays split, tried again by the next conversion to private that covers it",
	},
	{ "failed",
	  "the page cache refused the merge (a page not in a state to be merged): stays split for good; not expected, report it",
	},
};

static const char *word_text(const struct word *w, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(w[i].name, name))
			return w[i].text;
	return NULL;
}

const char *deny_reason_name(unsigned int r)
{
	return btf_enum_name("gmem_deny_reason", "GMEM_DENY_", r, "reason");
}

const char *deny_reason_text(unsigned int r)
{
	return deny_name_text(deny_reason_name(r));
}

const char *deny_name_text(const char *name)
{
	const char *text = word_text(deny_words, ARRAY_SIZE(deny_words), name);

	return text ? text : UNKNOWN_TEXT;
}

const char *fault_result_name(unsigned int r)
{
	return btf_enum_name("gmem_host_fault_result", "GMEM_HOST_FAULT_", r,
			     "result");
}

const char *fault_result_text(unsigned int r)
{
	const char *text = word_text(fault_words, ARRAY_SIZE(fault_words),
				     fault_result_name(r));

	return text ? text : UNKNOWN_TEXT;
}

const char *alloc_result_name(unsigned int r)
{
	return btf_enum_name("gmem_alloc_result", "GMEM_ALLOC_", r, "result");
}

const char *alloc_result_text(unsigned int r)
{
	const char *text = word_text(alloc_words, ARRAY_SIZE(alloc_words),
				     alloc_result_name(r));

	return text ? text : UNKNOWN_TEXT;
}

const char *split_reason_name(unsigned int r)
{
	return btf_enum_name("gmem_split_reason", "GMEM_SPLIT_", r, "reason");
}

const char *split_reason_text(unsigned int r)
{
	const char *text = word_text(split_words, ARRAY_SIZE(split_words),
				     split_reason_name(r));

	return text ? text : UNKNOWN_TEXT;
}

const char *merge_result_name(unsigned int r)
{
	return btf_enum_name("gmem_merge_result", "GMEM_MERGE_", r, "result");
}

const char *merge_result_text(unsigned int r)
{
	const char *text = word_text(merge_words, ARRAY_SIZE(merge_words),
				     merge_result_name(r));

	return text ? text : UNKNOWN_TEXT;
}

bool has_words(const char *type, const char *name)
{
	if (!strcmp(type, "gmem_deny_reason"))
		return word_text(deny_words, ARRAY_SIZE(deny_words), name);
	if (!strcmp(type, "gmem_host_fault_result"))
		return word_text(fault_words, ARRAY_SIZE(fault_words), name);
	if (!strcmp(type, "gmem_alloc_result"))
		return word_text(alloc_words, ARRAY_SIZE(alloc_words), name);
	if (!strcmp(type, "gmem_split_reason"))
		return word_text(split_words, ARRAY_SIZE(split_words), name);
	if (!strcmp(type, "gmem_merge_result"))
		return word_text(merge_words, ARRAY_SIZE(merge_words), name);
	return false;
}

static const char *const event_names[] = {
	[GMEMCTL_EV_CONVERT] = "convert",
	[GMEMCTL_EV_DENIED] = "denied",
	[GMEMCTL_EV_HOST_FAULT] = "host_fault",
	[GMEMCTL_EV_KVM_FAULT] = "kvm_fault",
	[GMEMCTL_EV_GRAB] = "grab",
	[GMEMCTL_EV_RELEASE] = "release",
	[GMEMCTL_EV_ALLOC] = "alloc",
	[GMEMCTL_EV_SPLIT] = "split",
	[GMEMCTL_EV_MERGE] = "merge",
};

static const char *event_name(const struct gmemctl_event *e)
{
	return e->type < ARRAY_SIZE(event_names) && event_names[e->type] ?
	       event_names[e->type] : "?";
}

static void print_event_json(const struct gmemctl_event *e, double t)
{
	json_obj_begin(&jw);
	json_kv_str(&jw, "event", event_name(e));
	json_key(&jw, "time");
	json_double(&jw, t);
	json_kv_u64(&jw, "ts_ns", e->ts_ns);
	json_kv_u64(&jw, "pid", e->pid);
	json_kv_u64(&jw, "tid", e->tid);
	json_key(&jw, "comm");
	json_strn(&jw, e->comm, sizeof(e->comm));
	json_kv_s64(&jw, "vm_pid", e->vm_pid);
	json_kv_u64(&jw, "ino", e->ino);
	switch (e->type) {
	case GMEMCTL_EV_CONVERT:
		json_kv_str(&jw, "to", e->convert.to_private ? "private" : "shared");
		json_kv_u64(&jw, "index", e->convert.index);
		json_kv_u64(&jw, "npages", e->convert.npages);
		json_kv_s64(&jw, "ret", e->convert.ret);
		json_kv_str(&jw, "result", errno_name(e->convert.ret));
		json_kv_u64(&jw, "error_index", e->convert.error_index);
		/*
		 * gmem_convert_start to gmem_convert, measured by the BPF
		 * program; null when it missed the start.
		 */
		json_key(&jw, "duration_ns");
		if (e->convert.has_duration)
			json_u64(&jw, e->convert.duration_ns);
		else
			json_null(&jw);
		json_kv_u64(&jw, "folios", e->convert.folios);
		json_kv_u64(&jw, "pages", e->convert.pages);
		json_kv_u64(&jw, "unmapped", e->convert.unmapped);
		json_kv_u64(&jw, "zapped", e->convert.zapped);
		/* Huge folios split for it; null: a kernel without them. */
		json_key(&jw, "splits");
		if (e->convert.has_splits)
			json_u64(&jw, e->convert.splits);
		else
			json_null(&jw);
		/* Split ranges merged back; null: a kernel that does not merge. */
		json_key(&jw, "merges");
		if (e->convert.has_merges)
			json_u64(&jw, e->convert.merges);
		else
			json_null(&jw);
		break;
	case GMEMCTL_EV_DENIED:
		json_kv_u64(&jw, "index", e->denied.index);
		json_kv_u64(&jw, "pfn", e->denied.pfn);
		json_kv_str(&jw, "reason", deny_reason_name(e->denied.reason));
		json_kv_str(&jw, "reason_text", deny_reason_text(e->denied.reason));
		json_kv_s64(&jw, "refcount", e->denied.refcount);
		json_kv_s64(&jw, "expected", e->denied.expected);
		json_kv_s64(&jw, "mapcount", e->denied.mapcount);
		json_kv_s64(&jw, "pincount", e->denied.pincount);
		json_kv_u64(&jw, "order", e->denied.order);
		json_kv_str(&jw, "zone", zone_name(e->denied.zone));
		break;
	case GMEMCTL_EV_HOST_FAULT:
		json_kv_u64(&jw, "index", e->host_fault.index);
		json_kv_u64(&jw, "pfn", e->host_fault.pfn);
		json_kv_str(&jw, "result", fault_result_name(e->host_fault.result));
		json_kv_bool(&jw, "zeroed", e->host_fault.zeroed);
		json_kv_bool(&jw, "write", e->host_fault.write);
		break;
	case GMEMCTL_EV_KVM_FAULT:
		json_kv_u64(&jw, "gfn", e->kvm_fault.gfn);
		json_kv_u64(&jw, "index", e->kvm_fault.index);
		json_kv_u64(&jw, "pfn", e->kvm_fault.pfn);
		json_kv_s64(&jw, "order", e->kvm_fault.order);
		json_kv_s64(&jw, "ret", e->kvm_fault.ret);
		json_kv_bool(&jw, "prepared", e->kvm_fault.prepared);
		break;
	case GMEMCTL_EV_ALLOC:
		json_kv_u64(&jw, "index", e->alloc.index);
		json_kv_u64(&jw, "order", e->alloc.order);
		json_kv_u64(&jw, "pfn", e->alloc.pfn);
		json_kv_str(&jw, "result", alloc_result_name(e->alloc.result));
		json_kv_str(&jw, "result_text", alloc_result_text(e->alloc.result));
		break;
	case GMEMCTL_EV_SPLIT:
		json_kv_u64(&jw, "index", e->split.index);
		json_kv_u64(&jw, "order", e->split.order);
		json_kv_str(&jw, "reason", split_reason_name(e->split.reason));
		json_kv_str(&jw, "reason_text", split_reason_text(e->split.reason));
		json_kv_s64(&jw, "ret", e->split.ret);
		json_kv_str(&jw, "result", errno_name(e->split.ret));
		/* The kernel's time; null if it did not time this split. */
		json_key(&jw, "duration_ns");
		if (e->split.duration_ns)
			json_u64(&jw, e->split.duration_ns);
		else
			json_null(&jw);
		break;
	case GMEMCTL_EV_MERGE:
		json_kv_u64(&jw, "index", e->merge.index);
		json_kv_u64(&jw, "order", e->merge.order);
		json_kv_str(&jw, "result", merge_result_name(e->merge.result));
		json_kv_str(&jw, "result_text", merge_result_text(e->merge.result));
		/* The kernel's time; null if it did not time this merge. */
		json_key(&jw, "duration_ns");
		if (e->merge.duration_ns)
			json_u64(&jw, e->merge.duration_ns);
		else
			json_null(&jw);
		break;
	}
	json_obj_end(&jw);
}

static void print_convert_plain(const struct gmemctl_event *e)
{
	char s[32];

	printf("to %s 0x%llx+%llu (%s) %s",
	       e->convert.to_private ? "private" : "shared",
	       (unsigned long long)e->convert.index,
	       (unsigned long long)e->convert.npages,
	       fmt_size(e->convert.npages * PAGE_SZ, s, sizeof(s)),
	       errno_name(e->convert.ret));
	if (e->convert.ret == -EAGAIN)
		printf(" at 0x%llx", (unsigned long long)e->convert.error_index);
	else if (e->convert.ret && e->convert.ret > -4096)
		printf(" (%s)", strerror(-e->convert.ret));
	/* Unknown (no gmem_convert_start seen): left out. */
	if (e->convert.has_duration)
		printf(" in %.1f us", e->convert.duration_ns / 1000.0);
	if (e->convert.to_private)
		printf(", %llu folios checked, %llu unmapped",
		       (unsigned long long)e->convert.folios,
		       (unsigned long long)e->convert.unmapped);
	if (e->convert.splits)
		printf(", %llu huge folio%s split",
		       (unsigned long long)e->convert.splits,
		       e->convert.splits == 1 ? "" : "s");
	if (e->convert.merges)
		printf(", %llu split range%s merged back",
		       (unsigned long long)e->convert.merges,
		       e->convert.merges == 1 ? "" : "s");
	printf(", %u memslot%s zapped\n", e->convert.zapped,
	       e->convert.zapped == 1 ? "" : "s");
}

/* "0x200+512 (2 MiB)": the pages of a folio of @order at @index. */
static void print_folio_range(uint64_t index, unsigned int order)
{
	uint64_t npages = order < 64 ? 1ULL << order : 0;
	char s[32];

	printf("0x%llx+%llu (%s)", (unsigned long long)index,
	       (unsigned long long)npages, fmt_size(npages * PAGE_SZ, s, sizeof(s)));
}

static void print_alloc_plain(const struct gmemctl_event *e)
{
	printf("folio ");
	print_folio_range(e->alloc.index, e->alloc.order);
	printf(" pfn 0x%llx %s: %s\n", (unsigned long long)e->alloc.pfn,
	       alloc_result_name(e->alloc.result),
	       alloc_result_text(e->alloc.result));
}

static void print_split_plain(const struct gmemctl_event *e)
{
	printf("huge folio ");
	print_folio_range(e->split.index, e->split.order);
	printf(" %s (%s: %s)", e->split.ret ? "NOT split" : "split",
	       split_reason_name(e->split.reason),
	       split_reason_text(e->split.reason));
	if (e->split.ret)
		printf(": %s (%d)", errno_name(e->split.ret), e->split.ret);
	if (e->split.duration_ns)
		printf(" in %.1f us", e->split.duration_ns / 1000.0);
	printf("\n");
}

static void print_merge_plain(const struct gmemctl_event *e)
{
	const char *result = merge_result_name(e->merge.result);

	printf("split range ");
	print_folio_range(e->merge.index, e->merge.order);
	if (!strcmp(result, "merged"))
		printf(" merged (%s)", merge_result_text(e->merge.result));
	else
		printf(" NOT merged (%s: %s)", result,
		       merge_result_text(e->merge.result));
	if (e->merge.duration_ns)
		printf(" in %.1f us", e->merge.duration_ns / 1000.0);
	printf("\n");
}

static void print_host_fault_plain(const struct gmemctl_event *e)
{
	const char *result = fault_result_name(e->host_fault.result);

	printf("page 0x%llx %s%s: %s",
	       (unsigned long long)e->host_fault.index,
	       e->host_fault.write ? "write " : "read ",
	       result, fault_result_text(e->host_fault.result));
	if (!strcmp(result, "shared"))
		printf(", pfn 0x%llx%s", (unsigned long long)e->host_fault.pfn,
		       e->host_fault.zeroed ? ", zeroed (first use)" : "");
	printf("\n");
}

static void print_kvm_fault_plain(const struct gmemctl_event *e)
{
	printf("gfn 0x%llx page 0x%llx", (unsigned long long)e->kvm_fault.gfn,
	       (unsigned long long)e->kvm_fault.index);
	if (e->kvm_fault.ret)
		printf(" %s (%d)\n", errno_name(e->kvm_fault.ret),
		       e->kvm_fault.ret);
	else
		printf(" private, pfn 0x%llx order %d%s\n",
		       (unsigned long long)e->kvm_fault.pfn,
		       e->kvm_fault.order,
		       e->kvm_fault.prepared ? ", prepared (first use)" : "");
}

static void print_event_plain(const struct gmemctl_event *e, double t)
{
	printf("%-10.6f %-7u %-15.16s %-10s %-6llu ", t, e->pid, e->comm,
	       event_name(e), (unsigned long long)e->ino);
	switch (e->type) {
	case GMEMCTL_EV_CONVERT:
		print_convert_plain(e);
		break;
	case GMEMCTL_EV_DENIED:
		printf("page 0x%llx %s: %s (refcount %d, expected %d, mapcount %d, pincount %d, order %u, %s)\n",
		       (unsigned long long)e->denied.index,
		       deny_reason_name(e->denied.reason),
		       deny_reason_text(e->denied.reason),
		       e->denied.refcount, e->denied.expected,
		       e->denied.mapcount, e->denied.pincount,
		       e->denied.order, zone_name(e->denied.zone));
		break;
	case GMEMCTL_EV_HOST_FAULT:
		print_host_fault_plain(e);
		break;
	case GMEMCTL_EV_KVM_FAULT:
		print_kvm_fault_plain(e);
		break;
	case GMEMCTL_EV_ALLOC:
		print_alloc_plain(e);
		break;
	case GMEMCTL_EV_SPLIT:
		print_split_plain(e);
		break;
	case GMEMCTL_EV_MERGE:
		print_merge_plain(e);
		break;
	default:
		printf("\n");
	}
}

void print_event(const struct gmemctl_event *e, double t)
{
	if (json_output)
		print_event_json(e, t);
	else
		print_event_plain(e, t);
}

void print_denial_plain(const struct gmemctl_event *e)
{
	printf("  denied: conversion by pid %u (%.16s): page 0x%llx %s: %s",
	       e->pid, e->comm, (unsigned long long)e->denied.index,
	       deny_reason_name(e->denied.reason),
	       deny_reason_text(e->denied.reason));
	printf(" (refcount %d, expected %d, pincount %d)\n",
	       e->denied.refcount, e->denied.expected, e->denied.pincount);
}
