// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl_gup: who takes references and pins on a guest_memfd's pages,
 * for `gmemctl file pins --trace`.
 *
 * get_user_pages() and its variants take each page through one of two
 * functions of mm/gup.c: try_grab_folio() (the slow path, and follow-up
 * references on huge pages) and try_grab_folio_fast() (GUP-fast), with
 * FOLL_GET for a reference or FOLL_PIN for a pin; pins are released with
 * gup_put_folio().  fexit programs on the first two report every
 * successful grab of a folio of a file in "inos" (inode numbers of the
 * guest_memfd pseudo file system, whose device is anon_dev) with the
 * task, the flags and the kernel stack; an fentry program on the third
 * reports releases.  References taken without GUP (the page cache's own,
 * a migration's, a pipe's page once spliced) are not seen; neither is a
 * release through put_page() of a FOLL_GET reference, nor a
 * gup_put_folio() that the compiler inlined into its caller.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "gmemctl_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The kernel's dev_t (MKDEV: major << 20 | minor) of the files' super
 * block, set by the loader (.bss, before loading).
 */
__u32 anon_dev;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u8);
} inos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} gup_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gup_lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

/* PAGE_MAPPING_ANON | PAGE_MAPPING_MOVABLE: not a file's mapping */
#define MAPPING_FLAGS	0x3UL

static __always_inline int report(void *ctx, __u32 type,
				  struct folio *folio, struct page *page,
				  int refs, unsigned int flags, bool fast)
{
	struct address_space *mapping;
	struct gmemctl_event *e;
	struct inode *host;
	__u64 ino, id;
	__u32 zero = 0;
	__u64 *n;

	mapping = BPF_CORE_READ(folio, mapping);
	if (!mapping || ((unsigned long)mapping & MAPPING_FLAGS))
		return 0;
	host = BPF_CORE_READ(mapping, host);
	if (!host || BPF_CORE_READ(host, i_sb, s_dev) != anon_dev)
		return 0;
	ino = BPF_CORE_READ(host, i_ino);
	if (!bpf_map_lookup_elem(&inos, &ino))
		return 0;

	e = bpf_ringbuf_reserve(&gup_events, sizeof(*e), 0);
	if (!e) {
		n = bpf_map_lookup_elem(&gup_lost, &zero);
		if (n)
			(*n)++;
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	id = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->vm_pid = -1;
	e->ino = ino;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->grab.index = BPF_CORE_READ(folio, index);
	if (page)
		e->grab.index += ((unsigned long)page - (unsigned long)folio) /
				 bpf_core_type_size(struct page);
	e->grab.flags = flags;
	e->grab.refs = refs;
	e->grab.pin = !!(flags & FOLL_PIN);
	e->grab.fast = fast;
	e->grab.stack_id = bpf_get_stackid(ctx, &stacks, 0);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("fexit/try_grab_folio")
int BPF_PROG(grab, struct folio *folio, int refs, unsigned int flags, int ret)
{
	if (ret || !(flags & (FOLL_GET | FOLL_PIN)))
		return 0;
	return report(ctx, GMEMCTL_EV_GRAB, folio, NULL, refs, flags, false);
}

SEC("fexit/try_grab_folio_fast")
int BPF_PROG(grab_fast, struct page *page, int refs, unsigned int flags,
	     struct folio *folio)
{
	if (!folio)
		return 0;
	return report(ctx, GMEMCTL_EV_GRAB, folio, page, refs, flags, true);
}

SEC("fentry/gup_put_folio")
int BPF_PROG(release, struct folio *folio, int refs, unsigned int flags)
{
	return report(ctx, GMEMCTL_EV_RELEASE, folio, NULL, refs, flags,
		      false);
}
