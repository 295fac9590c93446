// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_iter: every guest_memfd of the system, from the "guest_memfd" BPF
 * iterator (virt/kvm/guest_memfd_bpf.c).
 *
 * One block per file, oldest first (the first line is one line):
 *
 *   guest_memfd id=ID ino=INO size=BYTES flags=0xF(NAMES) vm=kvm-PID
 *               vm_pid=PID creator_pid=PID comm=COMM
 *     pages=N private=N shared=N allocated=N mapped=N pinned=N
 *               dma_pinned=N bindings=N
 *     binding slot=S base_gfn=0xGFN index=PAGE npages=N
 *     region 0xSTART-0xEND private|shared allocated|hole
 *
 * with one "binding" line per memslot bound to the file (the first
 * GMEM_ITER_MAX_BINDINGS of them) and, when the loader sets show_regions,
 * one "region" line per run of pages of the same shareability and
 * allocation (at most max_regions).  comm ends the line, as it may hold
 * spaces.  Nothing here reads guest memory: the kernel hands the program
 * metadata and counts only.
 *
 * Standalone (show_regions off):
 *
 *   bpftool iter pin gmem_iter.bpf.o /sys/fs/bpf/gmem
 *   cat /sys/fs/bpf/gmem
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gmem_iter.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader, through the skeleton, before the object is loaded. */
const volatile bool show_regions;
const volatile __u32 max_regions = GMEM_ITER_MAX_REGIONS;

/*
 * libbpf 1.1 does not provide bpf_for_each(): the region walk calls the
 * open-coded iterator's kfuncs by hand.
 */
extern int bpf_iter_gmem_region_new(struct bpf_iter_gmem_region *it,
				    struct file *file, __u64 start,
				    __u64 end) __ksym;
extern struct kvm_guest_memfd_region *
bpf_iter_gmem_region_next(struct bpf_iter_gmem_region *it) __ksym;
extern void bpf_iter_gmem_region_destroy(struct bpf_iter_gmem_region *it) __ksym;

static const char *flag_names(__u64 flags)
{
	switch (flags & (GMEM_FLAG_MMAP | GMEM_FLAG_INIT_SHARED)) {
	case GMEM_FLAG_MMAP | GMEM_FLAG_INIT_SHARED:
		return "(mmap,init_shared)";
	case GMEM_FLAG_MMAP:
		return "(mmap)";
	case GMEM_FLAG_INIT_SHARED:
		return "(init_shared)";
	}
	return "";
}

SEC("iter/guest_memfd")
int dump_gmem(struct bpf_iter__guest_memfd *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct kvm_gmem_bpf_info *info = ctx->info;
	/*
	 * Read ctx->file once: the verifier tracks the NULL check on this
	 * copy, while a second load of ctx->file is maybe-NULL again.
	 */
	struct file *file = ctx->file;
	struct kvm_guest_memfd_region *r;
	struct bpf_iter_gmem_region it;
	__u32 i, n;
	int err;

	/* The last call, after the last file, has neither. */
	if (!info || !file)
		return 0;

	/*
	 * Reading a field of struct file makes clang put the whole struct
	 * in the object's BTF.  Were it only pointed to, clang would emit a
	 * forward declaration, and libbpf 1.1 would refuse the
	 * bpf_iter_gmem_region_new() extern as not matching the kernel's
	 * prototype.  The inode is the one described.
	 */
	if (file->f_inode->i_ino != info->ino)
		return 0;

	BPF_SEQ_PRINTF(seq,
		       "guest_memfd id=%llu ino=%llu size=%llu flags=0x%llx%s vm=%s vm_pid=%d creator_pid=%d comm=%s\n",
		       info->id, info->ino, info->size, info->flags,
		       flag_names(info->flags), info->vm_name, info->vm_pid,
		       info->creator_pid, info->creator_comm);
	BPF_SEQ_PRINTF(seq,
		       "  pages=%llu private=%llu shared=%llu allocated=%llu mapped=%llu pinned=%llu dma_pinned=%llu bindings=%u\n",
		       info->nr_pages, info->nr_private, info->nr_shared,
		       info->nr_allocated, info->nr_mapped, info->nr_pinned,
		       info->nr_dma_pinned, info->nr_bindings);

	/* Constant indices: the verifier wants fixed offsets into *info. */
	n = info->nr_bindings;
#pragma clang loop unroll(full)
	for (i = 0; i < GMEM_ITER_MAX_BINDINGS; i++) {
		if (i < n)
			BPF_SEQ_PRINTF(seq,
				       "  binding slot=%d base_gfn=0x%llx index=%llu npages=%llu\n",
				       info->bindings[i].slot,
				       info->bindings[i].base_gfn,
				       info->bindings[i].index,
				       info->bindings[i].npages);
	}
	if (n > GMEM_ITER_MAX_BINDINGS)
		BPF_SEQ_PRINTF(seq, "  (%u more bindings)\n",
			       n - GMEM_ITER_MAX_BINDINGS);

	if (!show_regions)
		return 0;

	n = 0;
	err = bpf_iter_gmem_region_new(&it, file, 0, info->size);
	if (err)
		BPF_SEQ_PRINTF(seq, "  regions: error %d\n", err);
	while ((r = bpf_iter_gmem_region_next(&it))) {
		if (n++ >= max_regions) {
			BPF_SEQ_PRINTF(seq, "  regions: more than %u, not shown\n",
				       max_regions);
			break;
		}
		BPF_SEQ_PRINTF(seq, "  region 0x%llx-0x%llx %s %s\n",
			       r->start, r->end,
			       r->categories & GMEM_PAGE_SHARED ?
			       "shared" : "private",
			       r->categories & GMEM_PAGE_ALLOCATED ?
			       "allocated" : "hole");
	}
	bpf_iter_gmem_region_destroy(&it);
	return 0;
}
