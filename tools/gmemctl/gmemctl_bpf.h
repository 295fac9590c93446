/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What gmemctl's BPF programs and its userspace share: the record the
 * iterator writes per guest_memfd, the events of the ring buffer, the
 * latency histograms.  The BPF side sees only vmlinux.h: the uAPI and
 * errno values it needs are in gmem_consts.h (tools/bpf/gmem), with
 * tools/bpf/gmem's.
 */
#ifndef __GMEMCTL_BPF_H
#define __GMEMCTL_BPF_H

#include "gmem_consts.h"

#define GMEMCTL_REC_MAGIC	0x676d656dU	/* "gmem" */
#define GMEMCTL_MAX_BINDINGS	8
#define GMEMCTL_COMM_LEN	16
#define GMEMCTL_VM_NAME_LEN	48

/* One guest_memfd, as the "guest_memfd" iterator sees it (bpf_seq_write). */
struct gmemctl_binding {
	__s32 slot;
	__u32 pad;
	__u64 base_gfn;
	__u64 index;
	__u64 npages;
};

struct gmemctl_file_rec {
	__u32 magic;
	__u32 size;		/* sizeof(struct gmemctl_file_rec) */
	__u64 id;
	__u64 ino;
	__u64 file_size;
	__u64 flags;
	__s32 vm_pid;
	__s32 creator_pid;
	char creator_comm[GMEMCTL_COMM_LEN];
	char vm_name[GMEMCTL_VM_NAME_LEN];
	__u64 nr_pages;
	__u64 nr_private;
	__u64 nr_shared;
	__u64 nr_allocated;
	__u64 nr_mapped;
	__u64 nr_pinned;
	__u64 nr_dma_pinned;
	__u32 nr_bindings;
	__u32 pad;
	struct gmemctl_binding bindings[GMEMCTL_MAX_BINDINGS];
	/*
	 * Huge folios since the file was created (struct kvm_gmem_stats);
	 * valid if has_huge_stats, the merges if has_merge_stats: a kernel
	 * without them leaves them 0.
	 */
	__u64 huge_allocs;
	__u64 huge_fallbacks;
	__u64 splits;
	__u64 merges;
	__u64 merges_blocked;
	__u8 has_huge_stats;
	__u8 has_merge_stats;
	__u8 pad2[6];
};

/* ---- events (ring buffer) ----------------------------------------------- */

enum gmemctl_event_type {
	GMEMCTL_EV_CONVERT = 1,
	GMEMCTL_EV_DENIED,
	GMEMCTL_EV_HOST_FAULT,
	GMEMCTL_EV_KVM_FAULT,
	GMEMCTL_EV_GRAB,	/* GUP took a reference or a pin */
	GMEMCTL_EV_RELEASE,	/* GUP released one (gup_put_folio) */
	GMEMCTL_EV_ALLOC,	/* a folio added to a file (gmem_alloc) */
	GMEMCTL_EV_SPLIT,	/* a huge folio split, or not (gmem_split) */
	GMEMCTL_EV_MERGE,	/* a split range merged back, or not (gmem_merge) */
};

/* Bits of the "events" rodata: which event types to report. */
#define GMEMCTL_WANT(t)		(1U << (t))
/*
 * With GMEMCTL_WANT(GMEMCTL_EV_ALLOC): every gmem_alloc, not only those of
 * a huge folio the allocator could not give (result fallback).
 */
#define GMEMCTL_WANT_ALLOC_ALL	GMEMCTL_WANT(31)

struct gmemctl_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u32 type;		/* enum gmemctl_event_type */
	__u32 pid;		/* thread group of the task that hit it */
	__u32 tid;
	__s32 vm_pid;
	__u64 ino;
	char comm[GMEMCTL_COMM_LEN];
	union {
		struct {
			__u64 index;
			__u64 npages;
			__u64 error_index;
			/*
			 * From gmem_convert_start to gmem_convert in the
			 * same thread, as gmemctl_events.bpf.c measures it
			 * (the kernel does not); valid if has_duration.
			 */
			__u64 duration_ns;
			__u64 folios;
			__u64 pages;
			__u64 unmapped;
			__s32 ret;
			__u32 zapped;
			__u8 to_private;
			__u8 has_duration;	/* no start seen: 0 */
			__u8 has_splits;	/* the kernel has splits */
			__u8 has_merges;	/* the kernel has merges */
			__u64 splits;		/* huge folios split */
			__u64 merges;		/* split ranges merged back */
		} convert;
		struct {
			__u64 index;
			__u64 pfn;
			__s32 refcount;
			__s32 expected;
			__s32 mapcount;
			__s32 pincount;
			__u32 order;
			__s32 zone;
			__u8 reason;	/* enum gmem_deny_reason */
		} denied;
		struct {
			__u64 index;
			__u64 pfn;
			__u8 result;	/* enum gmem_host_fault_result */
			__u8 zeroed;
			__u8 write;
		} host_fault;
		struct {
			__u64 gfn;
			__u64 index;
			__u64 pfn;
			__s32 order;
			__s32 ret;
			__u8 prepared;
		} kvm_fault;
		struct {
			__u64 index;	/* the page's index in the file */
			__u32 flags;	/* FOLL_* */
			__s32 refs;
			__s32 stack_id;	/* kernel stack, in the "stacks" map */
			__u8 pin;	/* FOLL_PIN (else FOLL_GET) */
			__u8 fast;	/* GUP-fast */
		} grab;
		struct {
			__u64 index;	/* the folio's first page */
			__u64 pfn;
			__u32 order;
			__u8 result;	/* enum gmem_alloc_result */
		} alloc;
		struct {
			__u64 index;	/* the folio's first page */
			__u64 duration_ns;	/* the kernel's; 0: not timed */
			__u32 order;
			__s32 ret;
			__u8 reason;	/* enum gmem_split_reason */
		} split;
		struct {
			__u64 index;	/* the range's first page */
			__u64 duration_ns;	/* the kernel's; 0: not timed */
			__u32 order;
			__u8 result;	/* enum gmem_merge_result */
		} merge;
	};
};

/* ---- latency histograms --------------------------------------------------- */

#define GMEMCTL_HIST_SLOTS	40	/* log2 of microseconds */
#define GMEMCTL_SIZE_CLASSES	5	/* 4K, <=64K, <=2M, <=1G, >1G */
/* Index of the "hists" array: direction * GMEMCTL_SIZE_CLASSES + class. */
#define GMEMCTL_NR_HISTS	(2 * GMEMCTL_SIZE_CLASSES)

struct gmemctl_hist {
	__u64 slots[GMEMCTL_HIST_SLOTS];
	__u64 count;
	__u64 sum_ns;
	__u64 min_ns;		/* 0: none yet */
	__u64 max_ns;
	__u64 failed;		/* conversions that returned an error */
	__u64 refused;		/* ... of them -EAGAIN (a page blocked it) */
};

#endif /* __GMEMCTL_BPF_H */
