// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl_events: the gmem tracepoints (include/trace/events/gmem.h) for
 * `gmemctl conversion latency` and `gmemctl conversion watch`, and the
 * denials of `gmemctl file pins --trace`.
 *
 * BTF-typed tracepoints (tp_btf): no tracefs needed, the arguments as the
 * kernel passes them.  The loader turns off (autoload) the programs it does
 * not need, and sets whether to fill the latency histograms
 * ("hists", per CPU) or send events to the ring buffer, and which files
 * (inode numbers in "inos") to report when filter_ino is set, and whether
 * to report every gmem_alloc (alloc_all) or only fallbacks.
 *
 * The kernel does not time conversions: gmem_convert_start fires when a
 * KVM_SET_MEMORY_ATTRIBUTES2 request begins and gmem_convert when it is
 * done, both in the task that made it, one request at a time.  The latency
 * is the time between the two, taken here ("starts", by thread id).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gmemctl_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader (.bss, before loading). */
bool filter_ino;
bool histograms;
bool alloc_all;		/* every gmem_alloc, not only fallbacks */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u8);
} inos SEC(".maps");

/*
 * bpf_ktime_get_ns() at each thread's gmem_convert_start, by thread id;
 * its gmem_convert takes it and deletes it.  One whose gmem_convert was
 * missed (the programs are attached one at a time) stays until the
 * thread's next gmem_convert_start replaces it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Events that did not fit in the ring buffer, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GMEMCTL_NR_HISTS);
	__type(key, __u32);
	__type(value, struct gmemctl_hist);
} hists SEC(".maps");

static bool wanted(unsigned long ino)
{
	__u64 key = ino;

	return !filter_ino || bpf_map_lookup_elem(&inos, &key);
}

static struct gmemctl_event *reserve(__u32 type, unsigned long ino,
				     pid_t vm_pid)
{
	struct gmemctl_event *e;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0;
	__u64 *n;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			(*n)++;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->vm_pid = vm_pid;
	e->ino = ino;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* floor(log2(v)) + 1, 0 for 0: bucket i holds [2^(i-1), 2^i - 1]. */
static __u32 log2_slot(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return v ? r + 1 : 0;
}

/* 4K, <=64K, <=2M, <=1G, >1G, in 4 KiB pages. */
static __u32 size_class(unsigned long npages)
{
	if (npages <= 1)
		return 0;
	if (npages <= 16)
		return 1;
	if (npages <= 512)
		return 2;
	if (npages <= 262144)
		return 3;
	return 4;
}

static void account(bool to_private, unsigned long npages, int ret,
		    __u64 duration_ns)
{
	__u32 key = (to_private ? GMEMCTL_SIZE_CLASSES : 0) + size_class(npages);
	struct gmemctl_hist *h = bpf_map_lookup_elem(&hists, &key);
	__u32 slot;

	if (!h)
		return;
	if (ret) {
		h->failed++;
		if (ret == -GMEM_EAGAIN)
			h->refused++;
		return;
	}
	slot = log2_slot(duration_ns / 1000);
	if (slot >= GMEMCTL_HIST_SLOTS)
		slot = GMEMCTL_HIST_SLOTS - 1;
	h->slots[slot]++;
	h->count++;
	h->sum_ns += duration_ns;
	if (!h->min_ns || duration_ns < h->min_ns)
		h->min_ns = duration_ns ? duration_ns : 1;
	if (duration_ns > h->max_ns)
		h->max_ns = duration_ns;
}

SEC("tp_btf/gmem_convert_start")
int BPF_PROG(gmem_convert_start, unsigned long ino, pid_t vm_pid,
	     unsigned long index, unsigned long npages, bool to_private)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ts;

	if (!wanted(ino))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/gmem_convert")
int BPF_PROG(gmem_convert, unsigned long ino, pid_t vm_pid, unsigned long index,
	     unsigned long npages, bool to_private, int ret,
	     unsigned long error_index, const struct gmem_convert_stats *stats)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns(), duration_ns = 0;
	struct gmemctl_event *e;
	bool timed = false;
	__u64 *start;

	if (!wanted(ino))
		return 0;
	/*
	 * duration_ns is not the kernel's (the event has no such field): it
	 * is the time since this thread's gmem_convert_start.  Without one
	 * (the request began before the programs were attached, or "starts"
	 * was full) the conversion has no latency: the histograms skip it,
	 * the event says so (has_duration 0), neither reports 0.
	 */
	start = bpf_map_lookup_elem(&starts, &tid);
	if (start) {
		duration_ns = now - *start;
		timed = true;
		bpf_map_delete_elem(&starts, &tid);
	}
	if (histograms) {
		if (timed)
			account(to_private, npages, ret, duration_ns);
		return 0;
	}
	e = reserve(GMEMCTL_EV_CONVERT, ino, vm_pid);
	if (!e)
		return 0;
	e->convert.index = index;
	e->convert.npages = npages;
	e->convert.to_private = to_private;
	e->convert.ret = ret;
	e->convert.error_index = error_index;
	e->convert.duration_ns = duration_ns;
	e->convert.has_duration = timed;
	/*
	 * The verifier takes every pointer argument of a tracepoint in a
	 * module (KVM's, on distribution kernels) as maybe NULL.
	 */
	if (stats) {
		e->convert.folios = stats->folios;
		e->convert.pages = stats->pages;
		e->convert.unmapped = stats->unmapped;
		e->convert.zapped = stats->zapped;
		/* Huge folios split: not in a kernel without them. */
		if (bpf_core_field_exists(stats->splits)) {
			e->convert.splits = stats->splits;
			e->convert.has_splits = 1;
		}
		/* ... merged back: not in a kernel that does not merge. */
		if (bpf_core_field_exists(stats->merges)) {
			e->convert.merges = stats->merges;
			e->convert.has_merges = 1;
		}
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/gmem_convert_denied")
int BPF_PROG(gmem_convert_denied, unsigned long ino, pid_t vm_pid,
	     unsigned long index, unsigned long pfn, enum gmem_deny_reason reason,
	     int refcount, int expected, int mapcount, int pincount,
	     unsigned int order, int zone)
{
	struct gmemctl_event *e;

	if (!wanted(ino))
		return 0;
	e = reserve(GMEMCTL_EV_DENIED, ino, vm_pid);
	if (!e)
		return 0;
	e->denied.index = index;
	e->denied.pfn = pfn;
	e->denied.reason = reason;
	e->denied.refcount = refcount;
	e->denied.expected = expected;
	e->denied.mapcount = mapcount;
	e->denied.pincount = pincount;
	e->denied.order = order;
	e->denied.zone = zone;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/gmem_host_fault")
int BPF_PROG(gmem_host_fault, unsigned long ino, pid_t vm_pid, unsigned long index,
	     unsigned long pfn, enum gmem_host_fault_result result,
	     bool zeroed, bool write)
{
	struct gmemctl_event *e;

	if (!wanted(ino))
		return 0;
	e = reserve(GMEMCTL_EV_HOST_FAULT, ino, vm_pid);
	if (!e)
		return 0;
	e->host_fault.index = index;
	e->host_fault.pfn = pfn;
	e->host_fault.result = result;
	e->host_fault.zeroed = zeroed;
	e->host_fault.write = write;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/gmem_kvm_fault")
int BPF_PROG(gmem_kvm_fault, unsigned long ino, pid_t vm_pid, u64 gfn,
	     unsigned long index, unsigned long pfn, int order, int ret,
	     bool prepared)
{
	struct gmemctl_event *e;

	if (!wanted(ino))
		return 0;
	e = reserve(GMEMCTL_EV_KVM_FAULT, ino, vm_pid);
	if (!e)
		return 0;
	e->kvm_fault.gfn = gfn;
	e->kvm_fault.index = index;
	e->kvm_fault.pfn = pfn;
	e->kvm_fault.order = order;
	e->kvm_fault.ret = ret;
	e->kvm_fault.prepared = prepared;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/*
 * Huge folios (GUEST_MEMFD_FLAG_HUGE_PMD): the loader leaves these three
 * programs out on a kernel without their tracepoints.
 *
 * Every folio added to a file fires gmem_alloc, once per page in a file of
 * small folios: only a huge folio the allocator could not give (result
 * fallback) is reported, unless alloc_all is set.  The value is the running
 * kernel's (CO-RE), as are the names userspace prints; a kernel without it
 * reports none.
 */
SEC("tp_btf/gmem_alloc")
int BPF_PROG(gmem_alloc, unsigned long ino, pid_t vm_pid, unsigned long index,
	     unsigned long pfn, unsigned int order,
	     enum gmem_alloc_result result)
{
	struct gmemctl_event *e;

	if (!wanted(ino))
		return 0;
	if (!alloc_all &&
	    (!bpf_core_enum_value_exists(enum gmem_alloc_result,
					 GMEM_ALLOC_FALLBACK) ||
	     result != bpf_core_enum_value(enum gmem_alloc_result,
					   GMEM_ALLOC_FALLBACK)))
		return 0;
	e = reserve(GMEMCTL_EV_ALLOC, ino, vm_pid);
	if (!e)
		return 0;
	e->alloc.index = index;
	e->alloc.pfn = pfn;
	e->alloc.order = order;
	e->alloc.result = result;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/gmem_split")
int BPF_PROG(gmem_split, unsigned long ino, pid_t vm_pid, unsigned long index,
	     unsigned int order, enum gmem_split_reason reason, int ret,
	     u64 duration_ns)
{
	struct gmemctl_event *e;

	if (!wanted(ino))
		return 0;
	e = reserve(GMEMCTL_EV_SPLIT, ino, vm_pid);
	if (!e)
		return 0;
	e->split.index = index;
	e->split.order = order;
	e->split.reason = reason;
	e->split.ret = ret;
	e->split.duration_ns = duration_ns;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/gmem_merge")
int BPF_PROG(gmem_merge, unsigned long ino, pid_t vm_pid, unsigned long index,
	     unsigned int order, enum gmem_merge_result result, u64 duration_ns)
{
	struct gmemctl_event *e;

	if (!wanted(ino))
		return 0;
	e = reserve(GMEMCTL_EV_MERGE, ino, vm_pid);
	if (!e)
		return 0;
	e->merge.index = index;
	e->merge.order = order;
	e->merge.result = result;
	e->merge.duration_ns = duration_ns;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
