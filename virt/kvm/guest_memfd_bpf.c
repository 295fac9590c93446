// SPDX-License-Identifier: GPL-2.0
/*
 * BPF access to every guest_memfd of the system.
 *
 * KVM feeds the "guest_memfd" iterator target (kernel/bpf/guest_memfd_iter.c,
 * built in, as KVM may be a module) with the operations that find a
 * guest_memfd by id and describe it, and provides the bpf_iter_gmem_region
 * open-coded iterator, which walks a guest_memfd's file in regions of pages
 * that share their shareability and allocation.
 *
 * Every guest_memfd is on one list, in creation order.  The iterator holds
 * the list's mutex only to find the next guest_memfd and take a reference
 * to its file: with that reference the file cannot be released, so its
 * kvm_gmem stays alive while its snapshot is taken and the program runs.
 * The operations are registered while KVM is initialized (kvm_init() to
 * kvm_exit()), the kfuncs once, with kvm.ko's BTF.
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/file.h>
#include <linux/kvm_gmem_iter.h>
#include <linux/kvm_host.h>
#include <linux/maple_tree.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/xarray.h>

#include "kvm_mm.h"

/* Pages the region iterator looks at per region, at most. */
#define KVM_GMEM_BPF_REGION_MAX		65536

static LIST_HEAD(kvm_gmem_all);
static DEFINE_MUTEX(kvm_gmem_all_lock);
static u64 kvm_gmem_last_id;

/* Called once the guest_memfd is complete, before its fd is installed. */
void kvm_gmem_bpf_add(struct kvm_gmem *gmem)
{
	mutex_lock(&kvm_gmem_all_lock);
	gmem->id = ++kvm_gmem_last_id;
	list_add_tail(&gmem->all, &kvm_gmem_all);
	mutex_unlock(&kvm_gmem_all_lock);
}

/* Called first thing on release: the iterator no longer finds it. */
void kvm_gmem_bpf_del(struct kvm_gmem *gmem)
{
	mutex_lock(&kvm_gmem_all_lock);
	list_del(&gmem->all);
	mutex_unlock(&kvm_gmem_all_lock);
}

static void kvm_gmem_fill_info(struct file *file, struct kvm_gmem_bpf_info *info)
{
	struct kvm_gmem *gmem = file->private_data;
	struct inode *inode = file_inode(file);
	struct kvm_memory_slot *slot, *prev = NULL;
	unsigned long index;
	u64 *counts;

	BUILD_BUG_ON(sizeof(info->vm_name) != KVM_STATS_NAME_SIZE);

	memset(info, 0, sizeof(*info));
	info->id = gmem->id;
	info->ino = inode->i_ino;
	info->size = i_size_read(inode);
	info->flags = gmem->flags;
	info->vm_pid = gmem->kvm->userspace_pid;
	info->creator_pid = gmem->creator_pid;
	memcpy(info->creator_comm, gmem->creator_comm,
	       sizeof(info->creator_comm));
	strscpy(info->vm_name, gmem->kvm->stats_id, sizeof(info->vm_name));
	info->nr_pages = info->size >> PAGE_SHIFT;

	/*
	 * A fatal signal cuts the counts short, and the read fails anyway;
	 * without memory for them they stay zero.
	 */
	counts = kcalloc(KVM_GMEM_SCAN_NR_COUNTS, sizeof(*counts), GFP_KERNEL);
	if (counts && !kvm_gmem_count_pages(gmem, inode, counts)) {
		info->nr_private = counts[__ffs64(KVM_GMEM_PAGE_PRIVATE)];
		info->nr_shared = counts[__ffs64(KVM_GMEM_PAGE_SHARED)];
		info->nr_allocated = counts[__ffs64(KVM_GMEM_PAGE_ALLOCATED)];
		info->nr_mapped = counts[__ffs64(KVM_GMEM_PAGE_MAPPED)];
		info->nr_pinned = counts[__ffs64(KVM_GMEM_PAGE_PINNED)];
		info->nr_dma_pinned = counts[__ffs64(KVM_GMEM_PAGE_DMA_PINNED)];
	}
	kfree(counts);

	/*
	 * Bindings change under the invalidate lock, and with the file held
	 * a memslot is unbound before it is freed.
	 */
	filemap_invalidate_lock_shared(inode->i_mapping);
	xa_for_each(&gmem->bindings, index, slot) {
		/* A binding may span several entries, which come in a row. */
		if (slot == prev)
			continue;
		prev = slot;
		if (info->nr_bindings < KVM_GMEM_BPF_MAX_BINDINGS)
			info->bindings[info->nr_bindings] =
				(struct kvm_gmem_bpf_binding) {
				.slot = slot->as_id << 16 | slot->id,
				.base_gfn = slot->base_gfn,
				.index = slot->gmem.pgoff,
				.npages = slot->npages,
			};
		info->nr_bindings++;
	}
	filemap_invalidate_unlock_shared(inode->i_mapping);
}

/*
 * The guest_memfd with the smallest id at least *@id whose file is not being
 * released: its file, with a reference, and its id in *@id.
 */
static struct file *kvm_gmem_find(u64 *id)
{
	struct file *file = NULL;
	struct kvm_gmem *gmem;

	mutex_lock(&kvm_gmem_all_lock);
	list_for_each_entry(gmem, &kvm_gmem_all, all) {
		if (gmem->id < *id)
			continue;
		file = get_file_active(&gmem->file);
		if (file) {
			*id = gmem->id;
			break;
		}
	}
	mutex_unlock(&kvm_gmem_all_lock);
	return file;
}

static const struct kvm_gmem_iter_ops kvm_gmem_iter_ops = {
	.owner		= THIS_MODULE,
	.find		= kvm_gmem_find,
	.fill_info	= kvm_gmem_fill_info,
};

/* ---- bpf_iter_gmem_region: one file's regions ---- */

struct bpf_iter_gmem_region {
	__u64 __opaque[6];
} __aligned(8);

struct bpf_iter_gmem_region_kern {
	struct file *file;
	u64 pos;
	u64 end;
	struct kvm_guest_memfd_region region;
} __aligned(8);

/*
 * The end of the run of pages from @pos on, up to @limit, that are all
 * allocated or all holes (*@allocated says which).  Called under RCU; the
 * page cache may change meanwhile, so the answer holds for some moment of
 * the walk, page by page.
 */
static pgoff_t kvm_gmem_alloc_run(struct address_space *mapping, pgoff_t pos,
				  pgoff_t limit, bool *allocated)
{
	XA_STATE(xas, &mapping->i_pages, pos);
	pgoff_t run_end = pos;
	unsigned int n = 0;
	void *entry;

	*allocated = false;
	for (;;) {
		pgoff_t first, next;

		entry = xas_find(&xas, limit - 1);
		if (xas_retry(&xas, entry) || xa_is_value(entry))
			continue;
		if (!entry)
			break;

		first = round_down(xas.xa_index, 1UL << xas_get_order(&xas));
		next = first + (1UL << xas_get_order(&xas));
		if (first > run_end) {
			/* A hole before this folio. */
			if (!*allocated)
				return min(first, limit);
			break;
		}
		*allocated = true;
		run_end = min(next, limit);
		if (run_end >= limit || ++n >= KVM_GMEM_BPF_REGION_MAX)
			break;
	}
	return *allocated ? run_end : limit;
}

__bpf_kfunc_start_defs();

/**
 * bpf_iter_gmem_region_new() - start walking a guest_memfd's regions
 * @it: the iterator, on the BPF program's stack
 * @file: a guest_memfd's file (from the "guest_memfd" iterator's context)
 * @start: first byte, page aligned
 * @end: byte after the last, page aligned; clamped to the file's size
 *
 * Holds a reference to the file until bpf_iter_gmem_region_destroy().
 *
 * Return: 0, -EINVAL for a bad range or a file that is not a guest_memfd,
 * -EBUSY outside task context.
 */
__bpf_kfunc int bpf_iter_gmem_region_new(struct bpf_iter_gmem_region *it,
					 struct file *file, u64 start, u64 end)
{
	struct bpf_iter_gmem_region_kern *kit = (void *)it;
	u64 size;

	BUILD_BUG_ON(sizeof(*kit) != sizeof(*it));
	BUILD_BUG_ON(__alignof__(*kit) != __alignof__(*it));

	kit->file = NULL;
	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start > end)
		return -EINVAL;

	/* The walk takes the shared ranges' spinlock, not IRQ-safe. */
	if (!in_task())
		return -EBUSY;

	if (!kvm_gmem_is_gmem_file(file))
		return -EINVAL;
	kit->file = get_file(file);

	size = i_size_read(file_inode(kit->file));
	kit->pos = min(start, size) >> PAGE_SHIFT;
	kit->end = min(end, size) >> PAGE_SHIFT;
	return 0;
}

/**
 * bpf_iter_gmem_region_next() - the next region of a guest_memfd
 * @it: the iterator
 *
 * A region is a run of pages with the same shareability (PRIVATE or
 * SHARED) and allocation (ALLOCATED or not), in bytes, as
 * KVM_GUEST_MEMFD_SCAN returns them; a run longer than 65536 pages may
 * come in pieces.  Each page's state held at some moment of the call.
 *
 * Return: the region, valid until the next call, or NULL at the end.
 */
__bpf_kfunc struct kvm_guest_memfd_region *
bpf_iter_gmem_region_next(struct bpf_iter_gmem_region *it)
{
	struct bpf_iter_gmem_region_kern *kit = (void *)it;
	struct kvm_gmem *gmem;
	pgoff_t run_end;
	bool allocated;
	void *entry;

	if (!kit->file || kit->pos >= kit->end)
		return NULL;

	gmem = kit->file->private_data;
	{
		MA_STATE(mas, &gmem->shared, kit->pos, kit->pos);

		/* Without the invalidate lock, the tree's lock keeps it. */
		mtree_lock(&gmem->shared);
		entry = mas_walk(&mas);
		mtree_unlock(&gmem->shared);
		run_end = mas.last >= kit->end - 1 ? kit->end : mas.last + 1;
	}
	rcu_read_lock();
	run_end = kvm_gmem_alloc_run(kit->file->f_mapping, kit->pos, run_end,
				     &allocated);
	rcu_read_unlock();

	kit->region.start = kit->pos << PAGE_SHIFT;
	kit->region.end = (u64)run_end << PAGE_SHIFT;
	kit->region.categories = entry == KVM_GMEM_SHARED ?
				 KVM_GMEM_PAGE_SHARED : KVM_GMEM_PAGE_PRIVATE;
	if (allocated)
		kit->region.categories |= KVM_GMEM_PAGE_ALLOCATED;
	kit->pos = run_end;
	return &kit->region;
}

/**
 * bpf_iter_gmem_region_destroy() - end a walk of a guest_memfd's regions
 * @it: the iterator
 */
__bpf_kfunc void bpf_iter_gmem_region_destroy(struct bpf_iter_gmem_region *it)
{
	struct bpf_iter_gmem_region_kern *kit = (void *)it;

	if (kit->file)
		fput(kit->file);
	kit->file = NULL;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(kvm_gmem_kfunc_ids)
BTF_ID_FLAGS(func, bpf_iter_gmem_region_new, KF_ITER_NEW | KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_iter_gmem_region_next, KF_ITER_NEXT | KF_RET_NULL)
BTF_ID_FLAGS(func, bpf_iter_gmem_region_destroy, KF_ITER_DESTROY)
BTF_KFUNCS_END(kvm_gmem_kfunc_ids)

static const struct btf_kfunc_id_set kvm_gmem_kfunc_set = {
	.owner	= THIS_MODULE,
	.set	= &kvm_gmem_kfunc_ids,
};

static bool kvm_gmem_bpf_kfuncs_registered;

/* Called by kvm_gmem_init(), when KVM initializes. */
void kvm_gmem_bpf_init(void)
{
	int r;

	/* Once per load of kvm.ko: kfunc sets cannot be unregistered. */
	if (!kvm_gmem_bpf_kfuncs_registered) {
		r = register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING,
					      &kvm_gmem_kfunc_set);
		if (r)
			pr_warn("kvm: no guest_memfd region kfuncs: %d\n", r);
		kvm_gmem_bpf_kfuncs_registered = !r;
	}

	r = kvm_gmem_iter_register(&kvm_gmem_iter_ops);
	if (r)
		pr_warn("kvm: no BPF iterator over guest_memfds: %d\n", r);
}

/* Called by kvm_gmem_exit(), when KVM exits. */
void kvm_gmem_bpf_exit(void)
{
	kvm_gmem_iter_unregister(&kvm_gmem_iter_ops);
}
