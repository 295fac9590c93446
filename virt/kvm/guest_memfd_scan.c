// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_GUEST_MEMFD_SCAN: what the pages of a guest_memfd are, in regions.
 *
 * Modelled on PAGEMAP_SCAN (fs/proc/task_mmu.c): the caller gives a range
 * of the file, category masks that select the pages of interest, and a
 * buffer; the pages of interest are returned as coalesced regions
 * {start, end, categories}, or counted per category (summary), and
 * walk_end says where the walk stopped so that the caller can resume.
 *
 * Shareability is kept in ranges (the file's maple tree) and allocation in
 * the page cache, so the walk visits ranges and folios, never every page:
 * a query that needs neither allocation nor a folio's counts does not look
 * at the page cache at all.
 *
 * The walk holds the mapping's invalidate lock for read, in chunks, which
 * keeps conversions and hole punches out; it is dropped to copy each
 * chunk's regions to userspace.  So every region reports a state that its
 * pages held at some moment during the call.
 */
#include <linux/kvm_host.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/swap.h>
#include <linux/uaccess.h>

#include "kvm_mm.h"

/* Categories that need a look at the page cache, or at each folio. */
#define GMEM_SCAN_FOLIO_CATEGORIES					\
	(KVM_GMEM_PAGE_ALLOCATED | KVM_GMEM_PAGE_MAPPED |		\
	 KVM_GMEM_PAGE_PINNED | KVM_GMEM_PAGE_DMA_PINNED |		\
	 KVM_GMEM_PAGE_MOVABLE | KVM_GMEM_PAGE_HWPOISON)

#define GMEM_SCAN_CATEGORIES						\
	(KVM_GMEM_PAGE_PRIVATE | KVM_GMEM_PAGE_SHARED |			\
	 GMEM_SCAN_FOLIO_CATEGORIES)

#define GMEM_SCAN_FLAGS		KVM_GMEM_SCAN_SUMMARY

/* Regions gathered under the lock before they are copied out. */
#define GMEM_SCAN_BUF_REGIONS	256
/* Shareability runs and folios visited per hold of the lock. */
#define GMEM_SCAN_BUDGET	512

struct gmem_scan {
	struct kvm_guest_memfd_scan arg;
	u64 interest;		/* categories the masks look at */
	bool summary;

	/* Regions: a bounce buffer whose last region may still grow. */
	struct kvm_guest_memfd_region *buf;
	unsigned int nr_buf;
	unsigned int buf_len;
	u64 nr_out;		/* regions copied out */
	u64 found_pages;	/* pages reported, for max_pages */

	/* Summary: pages per category bit. */
	u64 *counts;

	pgoff_t walk_end;	/* where the walk stopped, if it did */
	int budget;
};

/**
 * kvm_gmem_scan_categories() - the categories KVM_GUEST_MEMFD_SCAN knows
 *
 * Return: the KVM_GMEM_PAGE_* bits, as reported by KVM_CAP_GUEST_MEMFD_SCAN.
 */
u64 kvm_gmem_scan_categories(void)
{
	return GMEM_SCAN_CATEGORIES;
}

static bool gmem_scan_is_interesting(const struct gmem_scan *s, u64 cats)
{
	cats ^= s->arg.category_inverted;
	if ((cats & s->arg.category_mask) != s->arg.category_mask)
		return false;
	if (s->arg.category_anyof_mask && !(cats & s->arg.category_anyof_mask))
		return false;
	return true;
}

/*
 * Report pages [@start, @end), all of categories @cats.  Returns 0; or
 * -ENOSPC when the walk must stop (max_pages reached, or no room left in
 * the caller's buffer), with s->walk_end set; or -EAGAIN when the bounce
 * buffer must be flushed first, having reported nothing.
 */
static int gmem_scan_emit(struct gmem_scan *s, pgoff_t start, pgoff_t end,
			  u64 cats)
{
	struct kvm_guest_memfd_region *last;
	u64 n = end - start, left;
	int r = 0;

	if (!gmem_scan_is_interesting(s, cats))
		return 0;

	left = s->arg.max_pages - s->found_pages;
	if (n > left) {
		n = left;
		end = start + n;
		s->walk_end = end;
		r = -ENOSPC;
	}
	if (!n)
		return r;

	cats &= s->arg.return_mask;
	if (s->summary) {
		u64 bits;

		for (bits = cats; bits; bits &= bits - 1)
			s->counts[__ffs64(bits)] += n;
		s->found_pages += n;
		return r;
	}

	last = s->nr_buf ? &s->buf[s->nr_buf - 1] : NULL;
	if (last && last->end == (u64)start << PAGE_SHIFT &&
	    last->categories == cats) {
		last->end = (u64)end << PAGE_SHIFT;
	} else {
		if (s->nr_out + s->nr_buf == s->arg.vec_len) {
			s->walk_end = start;
			return -ENOSPC;
		}
		if (s->nr_buf == s->buf_len)
			return -EAGAIN;
		s->buf[s->nr_buf++] = (struct kvm_guest_memfd_region) {
			.start = (u64)start << PAGE_SHIFT,
			.end = (u64)end << PAGE_SHIFT,
			.categories = cats,
		};
	}
	s->found_pages += n;
	return r;
}

/*
 * The categories of a folio that guest_memfd holds, beyond shareability.
 * The caller holds a reference to the folio, from the page cache lookup.
 */
static u64 gmem_scan_folio_categories(struct gmem_scan *s, struct folio *folio)
{
	u64 cats = KVM_GMEM_PAGE_ALLOCATED;
	long extra;

	if (!(s->interest & ~KVM_GMEM_PAGE_ALLOCATED & GMEM_SCAN_FOLIO_CATEGORIES))
		return cats;

	if (folio_mapped(folio))
		cats |= KVM_GMEM_PAGE_MAPPED;
	if (folio_maybe_dma_pinned(folio))
		cats |= KVM_GMEM_PAGE_DMA_PINNED;
	if (kvm_gmem_folio_movable(folio))
		cats |= KVM_GMEM_PAGE_MOVABLE;
	if (folio_contain_hwpoisoned_page(folio))
		cats |= KVM_GMEM_PAGE_HWPOISON;

	if (!(s->interest & KVM_GMEM_PAGE_PINNED))
		return cats;

	/*
	 * References beyond the page cache's, the mappings' and ours.  A
	 * folio off the LRU may sit in a per-CPU LRU batch, which holds one:
	 * a query does not drain every CPU to find out, it discounts that
	 * reference.
	 */
	extra = folio_ref_count(folio) - folio_nr_pages(folio) - 1 -
		folio_mapcount(folio);
	if (!folio_test_lru(folio))
		extra--;
	/*
	 * A pin holds a reference too, but may have gone between the two
	 * looks: DMA_PINNED always comes with PINNED.
	 */
	if (extra > 0 || (cats & KVM_GMEM_PAGE_DMA_PINNED))
		cats |= KVM_GMEM_PAGE_PINNED;
	return cats;
}

/*
 * Report the shareability run [*@pos, @end), all of categories @cats, with
 * its folios if the masks look at them.  Advances *@pos past what was
 * reported, which is short of @end if the budget ran out.
 */
static int gmem_scan_run(struct gmem_scan *s, struct address_space *mapping,
			 pgoff_t *pos, pgoff_t end, u64 cats)
{
	struct folio_batch fbatch;
	pgoff_t index = *pos;
	unsigned int i;
	int r = 0;

	if (!(s->interest & GMEM_SCAN_FOLIO_CATEGORIES)) {
		r = gmem_scan_emit(s, *pos, end, cats);
		if (!r)
			*pos = end;
		return r;
	}

	folio_batch_init(&fbatch);
	while (!r && filemap_get_folios(mapping, &index, end - 1, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];
			pgoff_t fstart = max(folio->index, *pos);
			pgoff_t fend = min(folio_next_index(folio), end);

			if (s->budget <= 0)
				break;
			if (fstart > *pos) {
				r = gmem_scan_emit(s, *pos, fstart, cats);
				if (r)
					break;
				*pos = fstart;
			}
			r = gmem_scan_emit(s, fstart, fend, cats |
					   gmem_scan_folio_categories(s, folio));
			if (r)
				break;
			*pos = fend;
			s->budget--;
		}
		folio_batch_release(&fbatch);
		if (s->budget <= 0)
			return r;
	}
	if (!r && *pos < end) {
		r = gmem_scan_emit(s, *pos, end, cats);
		if (!r)
			*pos = end;
	}
	return r;
}

/*
 * Walk from *@pos towards @end with the invalidate lock held, until the
 * budget is spent or the walk must stop or flush.
 */
static int gmem_scan_chunk(struct gmem_scan *s, struct kvm_gmem *gmem,
			   struct address_space *mapping, pgoff_t *pos,
			   pgoff_t end)
{
	int r = 0;

	s->budget = GMEM_SCAN_BUDGET;
	while (!r && *pos < end && s->budget > 0) {
		MA_STATE(mas, &gmem->shared, *pos, *pos);
		pgoff_t run_end;
		void *entry;
		u64 cats;

		/*
		 * A file that does not track shared pages is all private.  The
		 * invalidate lock keeps writers out; RCU is for lockdep only.
		 */
		rcu_read_lock();
		entry = mas_walk(&mas);
		run_end = mas.last;
		rcu_read_unlock();

		cats = entry == KVM_GMEM_SHARED ? KVM_GMEM_PAGE_SHARED :
						  KVM_GMEM_PAGE_PRIVATE;
		run_end = run_end >= end - 1 ? end : run_end + 1;
		r = gmem_scan_run(s, mapping, pos, run_end, cats);
		s->budget--;
	}
	return r;
}

/* Copy the finished regions out, keeping the last, which may still grow. */
static int gmem_scan_flush(struct gmem_scan *s, bool all)
{
	struct kvm_guest_memfd_region __user *vec = u64_to_user_ptr(s->arg.vec);
	unsigned int n = all ? s->nr_buf : s->nr_buf - !!s->nr_buf;

	if (!n)
		return 0;
	if (copy_to_user(vec + s->nr_out, s->buf, n * sizeof(*s->buf)))
		return -EFAULT;
	s->nr_out += n;
	s->nr_buf -= n;
	if (s->nr_buf)
		s->buf[0] = s->buf[n];
	return 0;
}

static int gmem_scan_check_args(struct gmem_scan *s, struct inode *inode)
{
	struct kvm_guest_memfd_scan *arg = &s->arg;
	u64 masks = arg->category_inverted | arg->category_mask |
		    arg->category_anyof_mask | arg->return_mask;
	int i;

	if (arg->size != sizeof(*arg) || arg->flags & ~GMEM_SCAN_FLAGS ||
	    masks & ~GMEM_SCAN_CATEGORIES)
		return -EINVAL;

	for (i = 0; i < ARRAY_SIZE(arg->reserved); i++)
		if (arg->reserved[i])
			return -EINVAL;

	if (!PAGE_ALIGNED(arg->start) || !PAGE_ALIGNED(arg->end) ||
	    arg->start > arg->end || arg->end > i_size_read(inode))
		return -EINVAL;

	s->summary = arg->flags & KVM_GMEM_SCAN_SUMMARY;
	if (s->summary) {
		if (!arg->vec_len || arg->vec_len > KVM_GMEM_SCAN_NR_COUNTS)
			return -EINVAL;
		if (!access_ok(u64_to_user_ptr(arg->vec),
			       arg->vec_len * sizeof(u64)))
			return -EFAULT;
	} else {
		/* The count of regions is the return value of ioctl(). */
		if (!arg->vec_len || arg->vec_len > INT_MAX)
			return -EINVAL;
		if (!access_ok(u64_to_user_ptr(arg->vec),
			       arg->vec_len * sizeof(*s->buf)))
			return -EFAULT;
	}

	if (!arg->max_pages)
		arg->max_pages = U64_MAX;
	s->interest = arg->category_mask | arg->category_anyof_mask |
		      arg->return_mask;
	return 0;
}

/*
 * Walk [s->arg.start, s->arg.end) of the file, a chunk at a time, flushing
 * regions out between chunks.  Sets s->walk_end.
 */
static int gmem_scan_walk(struct gmem_scan *s, struct kvm_gmem *gmem,
			  struct inode *inode)
{
	struct address_space *mapping = inode->i_mapping;
	pgoff_t pos = s->arg.start >> PAGE_SHIFT;
	pgoff_t end = s->arg.end >> PAGE_SHIFT;
	int r = 0;

	s->walk_end = end;
	while (pos < end) {
		if (fatal_signal_pending(current))
			return -EINTR;

		filemap_invalidate_lock_shared(mapping);
		r = gmem_scan_chunk(s, gmem, mapping, &pos, end);
		filemap_invalidate_unlock_shared(mapping);

		if (r == -ENOSPC)
			return 0;
		if (!s->summary && gmem_scan_flush(s, false))
			return -EFAULT;
		/* -EAGAIN: the bounce buffer was full, and now is not. */
		r = 0;
		cond_resched();
	}
	s->walk_end = end;
	return 0;
}

/**
 * kvm_gmem_count_pages() - count a guest_memfd's pages per category
 * @gmem: the guest_memfd
 * @inode: its inode
 * @counts: KVM_GMEM_SCAN_NR_COUNTS counters, one per KVM_GMEM_PAGE_* bit
 *
 * As KVM_GUEST_MEMFD_SCAN in summary mode over the whole file, for
 * in-kernel users (the BPF iterator).
 *
 * Context: process context; takes the mapping's invalidate lock for read.
 * Return: 0, or -EINTR if a fatal signal is pending.
 */
int kvm_gmem_count_pages(struct kvm_gmem *gmem, struct inode *inode,
			 u64 *counts)
{
	struct gmem_scan s = {
		.arg = {
			.end = i_size_read(inode),
			.max_pages = U64_MAX,
			.return_mask = GMEM_SCAN_CATEGORIES,
		},
		.interest = GMEM_SCAN_CATEGORIES,
		.summary = true,
		.counts = counts,
	};

	memset(counts, 0, KVM_GMEM_SCAN_NR_COUNTS * sizeof(*counts));
	return gmem_scan_walk(&s, gmem, inode);
}

/**
 * kvm_gmem_scan() - KVM_GUEST_MEMFD_SCAN on a guest_memfd
 * @file: the guest_memfd
 * @argp: the caller's struct kvm_guest_memfd_scan
 *
 * Context: process context; takes the mapping's invalidate lock for read.
 * Return: the number of regions written, 0 in summary mode, or a negative
 * errno.
 */
long kvm_gmem_scan(struct file *file, struct kvm_guest_memfd_scan __user *argp)
{
	struct kvm_gmem *gmem = file->private_data;
	struct inode *inode = file_inode(file);
	struct gmem_scan s = {};
	u64 walk_end;
	int r;

	if (copy_from_user(&s.arg, argp, sizeof(s.arg)))
		return -EFAULT;

	r = gmem_scan_check_args(&s, inode);
	if (r)
		return r;

	/*
	 * walk_end is written last: make sure it can be, by writing back
	 * what it holds, before anything is written to vec.
	 */
	if (put_user(s.arg.walk_end, &argp->walk_end))
		return -EFAULT;

	if (s.summary) {
		s.counts = kcalloc(KVM_GMEM_SCAN_NR_COUNTS, sizeof(u64),
				   GFP_KERNEL);
		if (!s.counts)
			return -ENOMEM;
	} else {
		s.buf_len = min_t(u64, s.arg.vec_len, GMEM_SCAN_BUF_REGIONS);
		s.buf = kmalloc_array(s.buf_len, sizeof(*s.buf), GFP_KERNEL);
		if (!s.buf)
			return -ENOMEM;
	}

	r = gmem_scan_walk(&s, gmem, inode);
	if (!r && !s.summary && gmem_scan_flush(&s, true))
		r = -EFAULT;
	if (!r && s.summary &&
	    copy_to_user(u64_to_user_ptr(s.arg.vec), s.counts,
			 s.arg.vec_len * sizeof(u64)))
		r = -EFAULT;

	walk_end = (u64)s.walk_end << PAGE_SHIFT;
	if (!r && put_user(walk_end, &argp->walk_end))
		r = -EFAULT;

	kfree(s.buf);
	kfree(s.counts);
	if (r)
		return r;
	return s.summary ? 0 : s.nr_out;
}
