/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest_memfd events: every decision an mmap()able guest_memfd makes about
 * its pages (conversions and their denials, host and KVM faults, folios
 * coming and going, migration) and the life of the file (create, bind,
 * unbind, release).  See Documentation/trace/events-gmem.rst.
 *
 * Every event that concerns a file carries its inode number (ino), which is
 * unique among live guest_memfds, and the pid of the process that created
 * the VM (vm_pid); offsets into the file are page indexes.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM gmem

#if !defined(_TRACE_GMEM_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_GMEM_H

#include <linux/types.h>
#include <linux/tracepoint.h>
#include <trace/events/mmflags.h>

/*
 * Why a page could not become private (gmem_convert_denied).  The first
 * page of the range that cannot is reported, with its folio's counts.
 */
#define GMEM_DENY_REASONS						\
	GMEM_EM(GMEM_DENY_NONE,		"none")				\
	GMEM_EM(GMEM_DENY_PINNED,	"pinned")			\
	GMEM_EM(GMEM_DENY_REFERENCED,	"referenced")			\
	GMEM_EM(GMEM_DENY_MAPPED,	"mapped")			\
	GMEM_EMe(GMEM_DENY_MOVABLE,	"movable")

/* What a host fault on the file's mapping came to (gmem_host_fault). */
#define GMEM_HOST_FAULT_RESULTS						\
	GMEM_EM(GMEM_HOST_FAULT_SHARED,		"shared")		\
	GMEM_EM(GMEM_HOST_FAULT_PRIVATE,	"private")		\
	GMEM_EM(GMEM_HOST_FAULT_EOF,		"eof")			\
	GMEM_EM(GMEM_HOST_FAULT_HWPOISON,	"hwpoison")		\
	GMEM_EMe(GMEM_HOST_FAULT_ERROR,		"error")

/* What became of a folio that migration asked to move (gmem_migrate). */
#define GMEM_MIGRATE_RESULTS						\
	GMEM_EM(GMEM_MIGRATE_MOVED,		"moved")		\
	GMEM_EM(GMEM_MIGRATE_PRIVATE,		"private")		\
	GMEM_EM(GMEM_MIGRATE_DST_MOVABLE,	"dst_movable")		\
	GMEM_EM(GMEM_MIGRATE_BUSY,		"busy")			\
	GMEM_EM(GMEM_MIGRATE_NO_FILE,		"no_file")		\
	GMEM_EMe(GMEM_MIGRATE_FAILED,		"failed")

#ifndef __GMEM_DECLARE_TRACE_ENUMS_ONCE_ONLY
#define __GMEM_DECLARE_TRACE_ENUMS_ONCE_ONLY

#undef GMEM_EM
#undef GMEM_EMe
#define GMEM_EM(a, b)	a,
#define GMEM_EMe(a, b)	a

enum gmem_deny_reason { GMEM_DENY_REASONS };
enum gmem_host_fault_result { GMEM_HOST_FAULT_RESULTS };
enum gmem_migrate_result { GMEM_MIGRATE_RESULTS };

/**
 * struct gmem_convert_stats - what a conversion did, for gmem_convert
 * @folios: folios examined: those of the range's shared pages
 * @pages: pages of those folios
 * @unmapped: pages the host had mapped, whose mappings were removed
 * @zapped: memslot ranges whose KVM mappings were zapped
 */
struct gmem_convert_stats {
	unsigned long folios;
	unsigned long pages;
	unsigned long unmapped;
	unsigned int zapped;
};

#endif /* __GMEM_DECLARE_TRACE_ENUMS_ONCE_ONLY */

#undef GMEM_EM
#undef GMEM_EMe
#define GMEM_EM(a, b)	TRACE_DEFINE_ENUM(a);
#define GMEM_EMe(a, b)	TRACE_DEFINE_ENUM(a);

GMEM_DENY_REASONS;
GMEM_HOST_FAULT_RESULTS;
GMEM_MIGRATE_RESULTS;

#undef GMEM_EM
#undef GMEM_EMe
#define GMEM_EM(a, b)	{ a, b },
#define GMEM_EMe(a, b)	{ a, b }

#define gmem_show_flags(flags)						\
	__print_flags(flags, "|",					\
		{ 1ULL << 0, "MMAP" },					\
		{ 1ULL << 1, "INIT_SHARED" })

/* The life of a guest_memfd file: gmem_create, gmem_release. */
DECLARE_EVENT_CLASS(gmem_file_class,

	TP_PROTO(unsigned long ino, pid_t vm_pid, u64 size, u64 flags),

	TP_ARGS(ino, vm_pid, size, flags),

	TP_STRUCT__entry(
		__field(unsigned long,	ino)
		__field(pid_t,		vm_pid)
		__field(u64,		size)
		__field(u64,		flags)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->vm_pid = vm_pid;
		__entry->size = size;
		__entry->flags = flags;
	),

	TP_printk("ino=%lu vm_pid=%d size=%llu flags=%s",
		  __entry->ino, __entry->vm_pid, __entry->size,
		  __entry->flags ? gmem_show_flags(__entry->flags) : "0")
);

DEFINE_EVENT(gmem_file_class, gmem_create,
	TP_PROTO(unsigned long ino, pid_t vm_pid, u64 size, u64 flags),
	TP_ARGS(ino, vm_pid, size, flags)
);

DEFINE_EVENT(gmem_file_class, gmem_release,
	TP_PROTO(unsigned long ino, pid_t vm_pid, u64 size, u64 flags),
	TP_ARGS(ino, vm_pid, size, flags)
);

/* A memslot bound to or unbound from pages [index, index + npages). */
DECLARE_EVENT_CLASS(gmem_binding_class,

	TP_PROTO(unsigned long ino, pid_t vm_pid, int slot, u64 base_gfn,
		 pgoff_t index, unsigned long npages),

	TP_ARGS(ino, vm_pid, slot, base_gfn, index, npages),

	TP_STRUCT__entry(
		__field(unsigned long,	ino)
		__field(pid_t,		vm_pid)
		__field(int,		slot)
		__field(u64,		base_gfn)
		__field(unsigned long,	index)
		__field(unsigned long,	npages)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->vm_pid = vm_pid;
		__entry->slot = slot;
		__entry->base_gfn = base_gfn;
		__entry->index = index;
		__entry->npages = npages;
	),

	TP_printk("ino=%lu vm_pid=%d slot=%d base_gfn=0x%llx index=0x%lx npages=%lu",
		  __entry->ino, __entry->vm_pid, __entry->slot,
		  __entry->base_gfn, __entry->index, __entry->npages)
);

DEFINE_EVENT(gmem_binding_class, gmem_bind,
	TP_PROTO(unsigned long ino, pid_t vm_pid, int slot, u64 base_gfn,
		 pgoff_t index, unsigned long npages),
	TP_ARGS(ino, vm_pid, slot, base_gfn, index, npages)
);

DEFINE_EVENT(gmem_binding_class, gmem_unbind,
	TP_PROTO(unsigned long ino, pid_t vm_pid, int slot, u64 base_gfn,
		 pgoff_t index, unsigned long npages),
	TP_ARGS(ino, vm_pid, slot, base_gfn, index, npages)
);

/*
 * A KVM_SET_MEMORY_ATTRIBUTES2 request, once it is done: the range
 * [index, index + npages), the direction, its result and what it cost.
 * error_index is the page that blocked it when ret is -EAGAIN.
 */
TRACE_EVENT(gmem_convert,

	TP_PROTO(unsigned long ino, pid_t vm_pid, pgoff_t index,
		 unsigned long npages, bool to_private, int ret,
		 pgoff_t error_index, u64 duration_ns,
		 const struct gmem_convert_stats *stats),

	TP_ARGS(ino, vm_pid, index, npages, to_private, ret, error_index,
		duration_ns, stats),

	TP_STRUCT__entry(
		__field(unsigned long,	ino)
		__field(pid_t,		vm_pid)
		__field(unsigned long,	index)
		__field(unsigned long,	npages)
		__field(bool,		to_private)
		__field(int,		ret)
		__field(unsigned long,	error_index)
		__field(u64,		duration_ns)
		__field(unsigned long,	folios)
		__field(unsigned long,	pages)
		__field(unsigned long,	unmapped)
		__field(unsigned int,	zapped)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->vm_pid = vm_pid;
		__entry->index = index;
		__entry->npages = npages;
		__entry->to_private = to_private;
		__entry->ret = ret;
		__entry->error_index = error_index;
		__entry->duration_ns = duration_ns;
		__entry->folios = stats->folios;
		__entry->pages = stats->pages;
		__entry->unmapped = stats->unmapped;
		__entry->zapped = stats->zapped;
	),

	TP_printk("ino=%lu vm_pid=%d index=0x%lx npages=%lu to=%s ret=%d error_index=0x%lx duration_ns=%llu folios=%lu pages=%lu unmapped=%lu zapped=%u",
		  __entry->ino, __entry->vm_pid, __entry->index,
		  __entry->npages, __entry->to_private ? "private" : "shared",
		  __entry->ret, __entry->error_index, __entry->duration_ns,
		  __entry->folios, __entry->pages, __entry->unmapped,
		  __entry->zapped)
);

/*
 * The page that kept a range from becoming private, why, and the counts of
 * its folio that show it: references against those guest_memfd expects
 * (the page cache's and the checker's), host mappings, GUP pins.
 */
TRACE_EVENT(gmem_convert_denied,

	TP_PROTO(unsigned long ino, pid_t vm_pid, pgoff_t index,
		 unsigned long pfn, enum gmem_deny_reason reason, int refcount,
		 int expected, int mapcount, int pincount, unsigned int order,
		 int zone),

	TP_ARGS(ino, vm_pid, index, pfn, reason, refcount, expected, mapcount,
		pincount, order, zone),

	TP_STRUCT__entry(
		__field(unsigned long,		ino)
		__field(pid_t,			vm_pid)
		__field(unsigned long,		index)
		__field(unsigned long,		pfn)
		__field(u8,	reason)
		__field(int,			refcount)
		__field(int,			expected)
		__field(int,			mapcount)
		__field(int,			pincount)
		__field(unsigned int,		order)
		__field(int,			zone)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->vm_pid = vm_pid;
		__entry->index = index;
		__entry->pfn = pfn;
		__entry->reason = reason;
		__entry->refcount = refcount;
		__entry->expected = expected;
		__entry->mapcount = mapcount;
		__entry->pincount = pincount;
		__entry->order = order;
		__entry->zone = zone;
	),

	TP_printk("ino=%lu vm_pid=%d index=0x%lx pfn=0x%lx reason=%s refcount=%d expected=%d mapcount=%d pincount=%d order=%u zone=%s",
		  __entry->ino, __entry->vm_pid, __entry->index, __entry->pfn,
		  __print_symbolic(__entry->reason, GMEM_DENY_REASONS),
		  __entry->refcount, __entry->expected, __entry->mapcount,
		  __entry->pincount, __entry->order,
		  __print_symbolic(__entry->zone, ZONE_TYPE))
);

/*
 * A host fault on the file's mapping: served (the page is shared; zeroed
 * says this first touch cleared it), or refused with SIGBUS.
 */
TRACE_EVENT(gmem_host_fault,

	TP_PROTO(unsigned long ino, pid_t vm_pid, pgoff_t index,
		 unsigned long pfn, enum gmem_host_fault_result result,
		 bool zeroed, bool write),

	TP_ARGS(ino, vm_pid, index, pfn, result, zeroed, write),

	TP_STRUCT__entry(
		__field(unsigned long,			ino)
		__field(pid_t,				vm_pid)
		__field(unsigned long,			index)
		__field(unsigned long,			pfn)
		__field(u8,	result)
		__field(bool,				zeroed)
		__field(bool,				write)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->vm_pid = vm_pid;
		__entry->index = index;
		__entry->pfn = pfn;
		__entry->result = result;
		__entry->zeroed = zeroed;
		__entry->write = write;
	),

	TP_printk("ino=%lu vm_pid=%d index=0x%lx pfn=0x%lx result=%s zeroed=%d write=%d",
		  __entry->ino, __entry->vm_pid, __entry->index, __entry->pfn,
		  __print_symbolic(__entry->result, GMEM_HOST_FAULT_RESULTS),
		  __entry->zeroed, __entry->write)
);

/*
 * KVM looked up a private page of the file for a guest fault (or a
 * pre-fault): gfn, its page index, the pfn and the largest order that may
 * map it, or the error; prepared says the page was cleared for the guest
 * by this lookup.
 */
TRACE_EVENT(gmem_kvm_fault,

	TP_PROTO(unsigned long ino, pid_t vm_pid, u64 gfn, pgoff_t index,
		 unsigned long pfn, int order, int ret, bool prepared),

	TP_ARGS(ino, vm_pid, gfn, index, pfn, order, ret, prepared),

	TP_STRUCT__entry(
		__field(unsigned long,	ino)
		__field(pid_t,		vm_pid)
		__field(u64,		gfn)
		__field(unsigned long,	index)
		__field(unsigned long,	pfn)
		__field(int,		order)
		__field(int,		ret)
		__field(bool,		prepared)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->vm_pid = vm_pid;
		__entry->gfn = gfn;
		__entry->index = index;
		__entry->pfn = pfn;
		__entry->order = order;
		__entry->ret = ret;
		__entry->prepared = prepared;
	),

	TP_printk("ino=%lu vm_pid=%d gfn=0x%llx index=0x%lx pfn=0x%lx order=%d ret=%d prepared=%d",
		  __entry->ino, __entry->vm_pid, __entry->gfn, __entry->index,
		  __entry->pfn, __entry->order, __entry->ret,
		  __entry->prepared)
);

/*
 * A folio of the file: allocated into it.  Huge folios' split and merge
 * take the same shape.
 */
DECLARE_EVENT_CLASS(gmem_folio_class,

	TP_PROTO(unsigned long ino, pgoff_t index, unsigned long pfn,
		 unsigned int order),

	TP_ARGS(ino, index, pfn, order),

	TP_STRUCT__entry(
		__field(unsigned long,	ino)
		__field(unsigned long,	index)
		__field(unsigned long,	pfn)
		__field(unsigned int,	order)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->index = index;
		__entry->pfn = pfn;
		__entry->order = order;
	),

	TP_printk("ino=%lu index=0x%lx pfn=0x%lx order=%u",
		  __entry->ino, __entry->index, __entry->pfn, __entry->order)
);

DEFINE_EVENT(gmem_folio_class, gmem_folio_alloc,
	TP_PROTO(unsigned long ino, pgoff_t index, unsigned long pfn,
		 unsigned int order),
	TP_ARGS(ino, index, pfn, order)
);

/*
 * A folio left the file (hole punched, file gone): the page cache calls
 * back once it no longer holds the folio, which then no longer knows its
 * file, hence no ino; gmem_folio_alloc with the same pfn names it.
 */
TRACE_EVENT(gmem_folio_free,

	TP_PROTO(pgoff_t index, unsigned long pfn, unsigned int order),

	TP_ARGS(index, pfn, order),

	TP_STRUCT__entry(
		__field(unsigned long,	index)
		__field(unsigned long,	pfn)
		__field(unsigned int,	order)
	),

	TP_fast_assign(
		__entry->index = index;
		__entry->pfn = pfn;
		__entry->order = order;
	),

	TP_printk("index=0x%lx pfn=0x%lx order=%u",
		  __entry->index, __entry->pfn, __entry->order)
);

/* fallocate(PUNCH_HOLE) of pages [index, index + npages). */
TRACE_EVENT(gmem_punch_hole,

	TP_PROTO(unsigned long ino, pgoff_t index, unsigned long npages),

	TP_ARGS(ino, index, npages),

	TP_STRUCT__entry(
		__field(unsigned long,	ino)
		__field(unsigned long,	index)
		__field(unsigned long,	npages)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->index = index;
		__entry->npages = npages;
	),

	TP_printk("ino=%lu index=0x%lx npages=%lu",
		  __entry->ino, __entry->index, __entry->npages)
);

/*
 * Migration of a folio of the file: moved from src_pfn to dst_pfn, or
 * refused (result says why, ret is what migration was told).
 */
TRACE_EVENT(gmem_migrate,

	TP_PROTO(unsigned long ino, pgoff_t index, unsigned long src_pfn,
		 unsigned long dst_pfn, unsigned int order,
		 enum gmem_migrate_result result, int ret),

	TP_ARGS(ino, index, src_pfn, dst_pfn, order, result, ret),

	TP_STRUCT__entry(
		__field(unsigned long,			ino)
		__field(unsigned long,			index)
		__field(unsigned long,			src_pfn)
		__field(unsigned long,			dst_pfn)
		__field(unsigned int,			order)
		__field(u8,	result)
		__field(int,				ret)
	),

	TP_fast_assign(
		__entry->ino = ino;
		__entry->index = index;
		__entry->src_pfn = src_pfn;
		__entry->dst_pfn = dst_pfn;
		__entry->order = order;
		__entry->result = result;
		__entry->ret = ret;
	),

	TP_printk("ino=%lu index=0x%lx src_pfn=0x%lx dst_pfn=0x%lx order=%u result=%s ret=%d",
		  __entry->ino, __entry->index, __entry->src_pfn,
		  __entry->dst_pfn, __entry->order,
		  __print_symbolic(__entry->result, GMEM_MIGRATE_RESULTS),
		  __entry->ret)
);

#endif /* _TRACE_GMEM_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
