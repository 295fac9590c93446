// SPDX-License-Identifier: GPL-2.0
/*
 * BPF access to every guest_memfd of the system.
 *
 * The "guest_memfd" iterator target visits each live guest_memfd, oldest
 * first, with a snapshot of what it is (struct kvm_gmem_bpf_info: inode,
 * size, flags, VM, creator, memslot bindings, page counts) and the
 * guest_memfd itself, which the bpf_iter_gmem_region open-coded iterator
 * walks in regions of pages that share their shareability and allocation.
 *
 * Every guest_memfd is on one list, in creation order.  The iterator holds
 * the list's mutex only to find the next guest_memfd and take a reference
 * to its file: with that reference the file cannot be released, so it
 * stays on the list and its kvm_gmem stays alive while its snapshot is
 * taken and the program runs, without the mutex, and it is where the walk
 * goes on from.  Between reads the position is the id of the next
 * guest_memfd to show.
 *
 * Registered once, at boot, and never unregistered: the target outlives
 * KVM's vendor modules, which may come and go (the list is then empty).
 * With KVM itself a module, none of this is built (see
 * Documentation/virt/kvm/guest-memfd.rst, "KVM as a module").
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/maple_tree.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/xarray.h>

#include "kvm_mm.h"

#define KVM_GMEM_BPF_MAX_BINDINGS	8
/* Pages the region iterator looks at per region, at most. */
#define KVM_GMEM_BPF_REGION_MAX		65536

/**
 * struct kvm_gmem_bpf_binding - a memslot bound to a guest_memfd
 * @slot: the memslot's id (address space in bits 16 and up)
 * @__pad: zero
 * @base_gfn: its first guest frame
 * @index: the page of the file that backs @base_gfn
 * @npages: its size in pages
 */
struct kvm_gmem_bpf_binding {
	s32 slot;
	u32 __pad;
	u64 base_gfn;
	u64 index;
	u64 npages;
};

/**
 * struct kvm_gmem_bpf_info - what the "guest_memfd" iterator shows of a file
 * @id: the guest_memfd's id, unique for the boot, in creation order
 * @ino: the inode number (st_ino of its file descriptor)
 * @size: its size in bytes
 * @flags: the GUEST_MEMFD_FLAG_* it was created with
 * @vm_pid: the process that created the VM
 * @creator_pid: the process that created the guest_memfd
 * @creator_comm: that process's command name then
 * @vm_name: the VM's statistics name ("kvm-PID")
 * @nr_pages: its size in pages
 * @nr_private: pages that are private
 * @nr_shared: pages that are shared
 * @nr_allocated: pages that are allocated
 * @nr_mapped: pages that the host maps
 * @nr_pinned: pages held beyond guest_memfd and the host mappings
 * @nr_dma_pinned: pages that are GUP-pinned
 * @nr_bindings: memslots bound to it (the first KVM_GMEM_BPF_MAX_BINDINGS
 *               are in @bindings)
 * @__pad: zero
 * @bindings: the memslots, by file offset
 */
struct kvm_gmem_bpf_info {
	u64 id;
	u64 ino;
	u64 size;
	u64 flags;
	s32 vm_pid;
	s32 creator_pid;
	char creator_comm[TASK_COMM_LEN];
	char vm_name[KVM_STATS_NAME_SIZE];
	u64 nr_pages;
	u64 nr_private;
	u64 nr_shared;
	u64 nr_allocated;
	u64 nr_mapped;
	u64 nr_pinned;
	u64 nr_dma_pinned;
	u32 nr_bindings;
	u32 __pad;
	struct kvm_gmem_bpf_binding bindings[KVM_GMEM_BPF_MAX_BINDINGS];
};

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

struct kvm_gmem_seq_priv {
	u64 next_id;			/* the first id to show next */
	struct file *file;		/* reference to the file shown */
	struct kvm_gmem_bpf_info info;	/* its snapshot */
	u64 counts[KVM_GMEM_SCAN_NR_COUNTS];
};

static void kvm_gmem_fill_info(struct kvm_gmem_seq_priv *p,
			       struct kvm_gmem *gmem)
{
	struct kvm_gmem_bpf_info *info = &p->info;
	struct inode *inode = file_inode(p->file);
	struct kvm_memory_slot *slot, *prev = NULL;
	unsigned long index;

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

	/* A fatal signal cuts the counts short; the read fails anyway. */
	if (!kvm_gmem_count_pages(gmem, inode, p->counts)) {
		info->nr_private = p->counts[__ffs64(KVM_GMEM_PAGE_PRIVATE)];
		info->nr_shared = p->counts[__ffs64(KVM_GMEM_PAGE_SHARED)];
		info->nr_allocated = p->counts[__ffs64(KVM_GMEM_PAGE_ALLOCATED)];
		info->nr_mapped = p->counts[__ffs64(KVM_GMEM_PAGE_MAPPED)];
		info->nr_pinned = p->counts[__ffs64(KVM_GMEM_PAGE_PINNED)];
		info->nr_dma_pinned = p->counts[__ffs64(KVM_GMEM_PAGE_DMA_PINNED)];
	}

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
 * The first guest_memfd after @gmem (NULL: from the start) whose id is at
 * least p->next_id and whose file is not being released, with a reference
 * to its file in p->file.  @gmem, if any, is on the list: the caller holds
 * a reference to its file.
 */
static struct kvm_gmem *kvm_gmem_seq_find(struct kvm_gmem_seq_priv *p,
					  struct kvm_gmem *gmem)
{
	mutex_lock(&kvm_gmem_all_lock);
	gmem = gmem ? list_next_entry(gmem, all) :
		      list_first_entry(&kvm_gmem_all, struct kvm_gmem, all);
	list_for_each_entry_from(gmem, &kvm_gmem_all, all) {
		if (gmem->id < p->next_id)
			continue;
		p->file = get_file_active(&gmem->file);
		if (p->file)
			break;
	}
	mutex_unlock(&kvm_gmem_all_lock);

	return p->file ? gmem : NULL;
}

static void *kvm_gmem_seq_start(struct seq_file *seq, loff_t *pos)
{
	struct kvm_gmem_seq_priv *p = seq->private;
	struct kvm_gmem *gmem;

	p->file = NULL;
	gmem = kvm_gmem_seq_find(p, NULL);
	if (gmem && *pos == 0)
		++*pos;
	return gmem;
}

static void *kvm_gmem_seq_next(struct seq_file *seq, void *v, loff_t *pos)
{
	struct kvm_gmem_seq_priv *p = seq->private;
	struct kvm_gmem *gmem = v;
	struct file *prev = p->file;

	++*pos;
	p->next_id = gmem->id + 1;
	p->file = NULL;
	gmem = kvm_gmem_seq_find(p, gmem);
	/* Only now: the previous file kept its kvm_gmem on the list. */
	fput(prev);
	return gmem;
}

struct bpf_iter__guest_memfd {
	__bpf_md_ptr(struct bpf_iter_meta *, meta);
	__bpf_md_ptr(struct kvm_gmem *, gmem);
	__bpf_md_ptr(struct kvm_gmem_bpf_info *, info);
};

DEFINE_BPF_ITER_FUNC(guest_memfd, struct bpf_iter_meta *meta,
		     struct kvm_gmem *gmem, struct kvm_gmem_bpf_info *info)

static int __kvm_gmem_seq_show(struct seq_file *seq, void *v, bool in_stop)
{
	struct kvm_gmem_seq_priv *p = seq->private;
	struct bpf_iter__guest_memfd ctx;
	struct bpf_iter_meta meta;
	struct bpf_prog *prog;

	meta.seq = seq;
	prog = bpf_iter_get_info(&meta, in_stop);
	if (!prog)
		return 0;

	/* Taken here, not when found, as seq_file may find and not show. */
	if (v)
		kvm_gmem_fill_info(p, v);

	ctx.meta = &meta;
	ctx.gmem = v;
	ctx.info = v ? &p->info : NULL;
	return bpf_iter_run_prog(prog, &ctx);
}

static int kvm_gmem_seq_show(struct seq_file *seq, void *v)
{
	return __kvm_gmem_seq_show(seq, v, false);
}

static void kvm_gmem_seq_stop(struct seq_file *seq, void *v)
{
	struct kvm_gmem_seq_priv *p = seq->private;

	if (!v) {
		(void)__kvm_gmem_seq_show(seq, v, true);
	} else {
		fput(p->file);
		p->file = NULL;
	}
}

static const struct seq_operations kvm_gmem_seq_ops = {
	.start	= kvm_gmem_seq_start,
	.next	= kvm_gmem_seq_next,
	.stop	= kvm_gmem_seq_stop,
	.show	= kvm_gmem_seq_show,
};

static const struct bpf_iter_seq_info kvm_gmem_seq_info = {
	.seq_ops		= &kvm_gmem_seq_ops,
	.seq_priv_size		= sizeof(struct kvm_gmem_seq_priv),
};

static struct bpf_iter_reg kvm_gmem_reg_info = {
	.target			= "guest_memfd",
	.ctx_arg_info_size	= 2,
	.ctx_arg_info		= {
		{ offsetof(struct bpf_iter__guest_memfd, gmem),
		  PTR_TO_BTF_ID_OR_NULL | PTR_TRUSTED },
		{ offsetof(struct bpf_iter__guest_memfd, info),
		  PTR_TO_BTF_ID_OR_NULL | PTR_TRUSTED },
	},
	.seq_info		= &kvm_gmem_seq_info,
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
 * @gmem: the guest_memfd (from the "guest_memfd" iterator's context)
 * @start: first byte, page aligned
 * @end: byte after the last, page aligned; clamped to the file's size
 *
 * Holds a reference to the file until bpf_iter_gmem_region_destroy().
 *
 * Return: 0, -EINVAL for a bad range, -ENOENT if the file is being released,
 * -EBUSY outside task context.
 */
__bpf_kfunc int bpf_iter_gmem_region_new(struct bpf_iter_gmem_region *it,
					 struct kvm_gmem *gmem, u64 start,
					 u64 end)
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

	kit->file = get_file_active(&gmem->file);
	if (!kit->file)
		return -ENOENT;

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

BTF_ID_LIST(kvm_gmem_btf_ids)
BTF_ID(struct, kvm_gmem)
BTF_ID(struct, kvm_gmem_bpf_info)

/* Once, at boot: the kfunc set is vmlinux's, the target never goes. */
static int __init kvm_gmem_bpf_init(void)
{
	int r;

	kvm_gmem_reg_info.ctx_arg_info[0].btf_id = kvm_gmem_btf_ids[0];
	kvm_gmem_reg_info.ctx_arg_info[1].btf_id = kvm_gmem_btf_ids[1];
	r = register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING,
				      &kvm_gmem_kfunc_set);
	if (!r)
		r = bpf_iter_reg_target(&kvm_gmem_reg_info);
	if (r)
		pr_warn("kvm: no BPF iterator over guest_memfds: %d\n", r);
	return r;
}
late_initcall(kvm_gmem_bpf_init);
