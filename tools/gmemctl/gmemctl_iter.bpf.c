// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl_iter: one binary record (struct gmemctl_file_rec) per
 * guest_memfd of the host, from the "guest_memfd" BPF iterator
 * (virt/kvm/guest_memfd_bpf.c), for `gmemctl file list`.  The counts are
 * the iterator's snapshot: those of KVM_GUEST_MEMFD_SCAN's summary.  The
 * huge folio counts are the file's own (struct kvm_gmem's stats), read
 * through its struct file, where the kernel has them.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "gmemctl_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Huge folios allocated, fallbacks, splits and merges since the file was
 * created, from the kvm_gmem of @file (its private_data; the iterator
 * holds the file, which holds the kvm_gmem).  A kernel whose kvm_gmem has
 * no stats leaves has_huge_stats 0, one whose stats have no merges
 * has_merge_stats 0: CO-RE drops the reads.
 */
static void read_huge_stats(struct file *file, struct gmemctl_file_rec *rec)
{
	struct kvm_gmem *gmem;

	if (!bpf_core_field_exists(struct kvm_gmem, stats))
		return;
	gmem = BPF_CORE_READ(file, private_data);
	if (!gmem)
		return;
	rec->huge_allocs = BPF_CORE_READ(gmem, stats.huge_allocs.counter);
	rec->huge_fallbacks = BPF_CORE_READ(gmem, stats.huge_fallbacks.counter);
	rec->splits = BPF_CORE_READ(gmem, stats.splits.counter);
	rec->has_huge_stats = 1;
	if (!bpf_core_field_exists(struct kvm_gmem_stats, merges) ||
	    !bpf_core_field_exists(struct kvm_gmem_stats, merges_blocked))
		return;
	rec->merges = BPF_CORE_READ(gmem, stats.merges.counter);
	rec->merges_blocked = BPF_CORE_READ(gmem, stats.merges_blocked.counter);
	rec->has_merge_stats = 1;
}

SEC("iter/guest_memfd")
int gmemctl_list(struct bpf_iter__guest_memfd *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct kvm_gmem_bpf_info *info = ctx->info;
	/* Read once: the verifier tracks the NULL check on this copy. */
	struct file *file = ctx->file;
	struct gmemctl_file_rec rec = {};
	__u32 i;

	/* The last call, after the last file, has neither. */
	if (!info || !file)
		return 0;

	rec.magic = GMEMCTL_REC_MAGIC;
	rec.size = sizeof(rec);
	rec.id = info->id;
	rec.ino = info->ino;
	rec.file_size = info->size;
	rec.flags = info->flags;
	rec.vm_pid = info->vm_pid;
	rec.creator_pid = info->creator_pid;
	__builtin_memcpy(rec.creator_comm, info->creator_comm,
			 sizeof(rec.creator_comm));
	__builtin_memcpy(rec.vm_name, info->vm_name, sizeof(rec.vm_name));
	rec.nr_pages = info->nr_pages;
	rec.nr_private = info->nr_private;
	rec.nr_shared = info->nr_shared;
	rec.nr_allocated = info->nr_allocated;
	rec.nr_mapped = info->nr_mapped;
	rec.nr_pinned = info->nr_pinned;
	rec.nr_dma_pinned = info->nr_dma_pinned;
	rec.nr_bindings = info->nr_bindings;
	/* Constant indices: the verifier wants fixed offsets into *info. */
#pragma clang loop unroll(full)
	for (i = 0; i < GMEMCTL_MAX_BINDINGS; i++) {
		rec.bindings[i].slot = info->bindings[i].slot;
		rec.bindings[i].base_gfn = info->bindings[i].base_gfn;
		rec.bindings[i].index = info->bindings[i].index;
		rec.bindings[i].npages = info->bindings[i].npages;
	}
	read_huge_stats(file, &rec);
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}
