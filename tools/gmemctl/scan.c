// SPDX-License-Identifier: GPL-2.0
/*
 * The state query: KVM_GUEST_MEMFD_SCAN on a guest_memfd, in summary mode
 * (pages per category) and in region mode (every run of pages with the
 * same categories), resumed from walk_end until the whole file is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gmemctl.h"

/* The names of the categories, as the kernel's KVM_GMEM_PAGE_* macros. */
const char *const cat_names[CAT_NAMES] = {
	[CAT_BIT(KVM_GMEM_PAGE_PRIVATE)] = "private",
	[CAT_BIT(KVM_GMEM_PAGE_SHARED)] = "shared",
	[CAT_BIT(KVM_GMEM_PAGE_ALLOCATED)] = "allocated",
	[CAT_BIT(KVM_GMEM_PAGE_HUGE)] = "huge",
	[CAT_BIT(KVM_GMEM_PAGE_MAPPED)] = "mapped",
	[CAT_BIT(KVM_GMEM_PAGE_PINNED)] = "pinned",
	[CAT_BIT(KVM_GMEM_PAGE_DMA_PINNED)] = "dma_pinned",
	[CAT_BIT(KVM_GMEM_PAGE_MOVABLE)] = "movable",
	[CAT_BIT(KVM_GMEM_PAGE_HWPOISON)] = "hwpoison",
};

/*
 * When KVM_CHECK_EXTENSION cannot be asked, the masks tried on the file, in
 * this order: what the 6.12 series reports with huge folios, without them,
 * and the least.
 */
#define DEFAULT_MASK	(KVM_GMEM_PAGE_PRIVATE | KVM_GMEM_PAGE_SHARED |	   \
			 KVM_GMEM_PAGE_ALLOCATED | KVM_GMEM_PAGE_MAPPED |  \
			 KVM_GMEM_PAGE_PINNED | KVM_GMEM_PAGE_DMA_PINNED | \
			 KVM_GMEM_PAGE_MOVABLE | KVM_GMEM_PAGE_HWPOISON)
#define BASIC_MASK	(KVM_GMEM_PAGE_PRIVATE | KVM_GMEM_PAGE_SHARED | \
			 KVM_GMEM_PAGE_ALLOCATED)

static const uint64_t probe_masks[] = {
	DEFAULT_MASK | KVM_GMEM_PAGE_HUGE, DEFAULT_MASK, BASIC_MASK,
};

#define NOSCAN_MSG	"this kernel has no KVM_GUEST_MEMFD_SCAN " \
			"(capability KVM_CAP_GUEST_MEMFD_SCAN missing)"

static int64_t cached_mask = -1;

/*
 * KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD_SCAN) on /dev/kvm, when this
 * user may open it; else the categories are probed on the file itself.
 */
int64_t scan_supported(int gmem_fd)
{
	struct kvm_guest_memfd_scan scan;
	uint64_t counts[CAT_NAMES];
	unsigned int i;
	int kvm, r;

	if (cached_mask >= 0)
		return cached_mask;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm >= 0) {
		r = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_SCAN);
		close(kvm);
		if (r <= 0)
			return -p_err(EXIT_NOSUPPORT, NOSCAN_MSG);
		cached_mask = r & ((1ULL << CAT_NAMES) - 1);
		return cached_mask;
	}
	memset(&scan, 0, sizeof(scan));
	scan.size = sizeof(scan);
	scan.flags = KVM_GMEM_SCAN_SUMMARY;
	scan.vec = (uintptr_t)counts;
	scan.vec_len = CAT_NAMES;
	/* A category the kernel does not know: EINVAL, try fewer. */
	for (i = 0; i < ARRAY_SIZE(probe_masks); i++) {
		scan.return_mask = probe_masks[i];
		r = ioctl(gmem_fd, KVM_GUEST_MEMFD_SCAN, &scan);
		if (r >= 0) {
			cached_mask = probe_masks[i];
			return cached_mask;
		}
		if (errno != EINVAL)
			break;
	}
	if (errno == ENOTTY)
		return -p_err(EXIT_NOSUPPORT, NOSCAN_MSG);
	return -p_err(EXIT_FAIL, "KVM_GUEST_MEMFD_SCAN: %s", strerror(errno));
}

static int scan_err(const char *what)
{
	if (errno == ENOTTY)
		return -p_err(EXIT_NOSUPPORT, NOSCAN_MSG);
	return -p_err(EXIT_FAIL, "KVM_GUEST_MEMFD_SCAN (%s): %s", what,
		     strerror(errno));
}

int scan_file(int gmem_fd, uint64_t anyof, struct layout *l)
{
	struct kvm_guest_memfd_region vec[1024];
	struct kvm_guest_memfd_scan scan;
	struct region *nr;
	size_t cap = 0;
	struct stat st;
	int64_t mask;
	int r, i;

	memset(l, 0, sizeof(*l));
	if (fstat(gmem_fd, &st))
		return -p_err(EXIT_FAIL, "fstat: %s", strerror(errno));
	mask = scan_supported(gmem_fd);
	if (mask < 0)
		return mask;
	l->size = st.st_size;
	l->mask = mask;

	memset(&scan, 0, sizeof(scan));
	scan.size = sizeof(scan);
	scan.flags = KVM_GMEM_SCAN_SUMMARY;
	scan.end = l->size;
	scan.vec = (uintptr_t)l->counts;
	scan.vec_len = CAT_NAMES;
	scan.return_mask = mask;
	if (ioctl(gmem_fd, KVM_GUEST_MEMFD_SCAN, &scan) < 0)
		return scan_err("summary");

	memset(&scan, 0, sizeof(scan));
	scan.size = sizeof(scan);
	scan.end = l->size;
	scan.vec = (uintptr_t)vec;
	scan.vec_len = ARRAY_SIZE(vec);
	scan.category_anyof_mask = anyof;
	scan.return_mask = mask;
	while (scan.start < scan.end) {
		r = ioctl(gmem_fd, KVM_GUEST_MEMFD_SCAN, &scan);
		if (r < 0) {
			layout_free(l);
			return scan_err("regions");
		}
		for (i = 0; i < r; i++) {
			struct region *last = l->nr_regions ?
				&l->regions[l->nr_regions - 1] : NULL;

			/* Chunks of the walk may split a region: merge. */
			if (last && last->end == vec[i].start &&
			    last->categories == vec[i].categories) {
				last->end = vec[i].end;
				continue;
			}
			if (l->nr_regions == cap) {
				cap = cap * 2 + 64;
				nr = realloc(l->regions, cap * sizeof(*nr));
				if (!nr) {
					layout_free(l);
					return -p_err(EXIT_FAIL, "out of memory");
				}
				l->regions = nr;
			}
			l->regions[l->nr_regions].start = vec[i].start;
			l->regions[l->nr_regions].end = vec[i].end;
			l->regions[l->nr_regions].categories = vec[i].categories;
			l->nr_regions++;
		}
		if (scan.walk_end <= scan.start) {
			layout_free(l);
			return -p_err(EXIT_FAIL, "KVM_GUEST_MEMFD_SCAN made no progress at 0x%llx",
				     (unsigned long long)scan.start);
		}
		scan.start = scan.walk_end;
	}
	return 0;
}

void layout_free(struct layout *l)
{
	free(l->regions);
	l->regions = NULL;
	l->nr_regions = 0;
}
