// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: every conversion goes through convert_range(), to the backend
 * of the mode (conv-in-place.c or conv-vm-attributes.c); the guest's
 * conversions are accounted for the summary.
 */
#define _GNU_SOURCE
#include <string.h>

#include "host.h"

bool data_range_ok(struct vmm *vmm, u64 gpa, u64 npages)
{
	u64 first;

	if (gpa < GMEM_DATA_GPA || gpa & (GMEM_PAGE_SIZE - 1))
		return false;
	first = (gpa - GMEM_DATA_GPA) >> GMEM_PAGE_SHIFT;
	return npages && first < vmm->data_pages &&
	       npages <= vmm->data_pages - first;
}

/*
 * All conversions go through here.  @op->gpa/size must be a page aligned
 * range inside the data region (checked by the callers).
 */
void convert_range(struct vmm *vmm, struct conv_op *op)
{
	u64 first = (op->gpa - GMEM_DATA_GPA) >> GMEM_PAGE_SHIFT;
	u64 npages = op->size >> GMEM_PAGE_SHIFT;

	if (!op->why)
		op->why = "conversion";
	vmm->convert(vmm, op);
	memset(vmm->page_private + first, op->to_private, npages);
}

/* The whole data region to private (a confidential guest's memory at first). */
u64 convert_all_private(struct vmm *vmm)
{
	struct conv_op op = {
		.gpa = GMEM_DATA_GPA,
		.size = vmm->data_size,
		.to_private = true,
	};

	convert_range(vmm, &op);
	return op.attr_ns;
}

static void account(struct conv_stats *s, const struct conv_op *op)
{
	u64 ns = op->attr_ns;

	s->refused += op->refused;
	s->discard_ns += op->discard_ns;

	if (!s->count || ns < s->min_ns)
		s->min_ns = ns;
	if (ns > s->max_ns)
		s->max_ns = ns;
	s->total_ns += ns;
	s->pages += op->size >> GMEM_PAGE_SHIFT;
	s->count++;
}

/* Convert on behalf of the guest and print/account the event. */
void guest_conversion(struct vmm *vmm, struct conv_op *op, const char *why)
{
	char how[64];

	op->why = why;
	convert_range(vmm, op);
	account(op->to_private ? &vmm->to_private : &vmm->to_shared, op);
	if (vmm->mode == MODE_IN_PLACE)
		snprintf(how, sizeof(how), op->refused ?
			 "in place, after %llu refused" : "in place",
			 (unsigned long long)op->refused);
	else
		snprintf(how, sizeof(how), "discard %llu us",
			 (unsigned long long)(op->discard_ns / 1000));
	event("%s: %-7s gpa 0x%llx +%llu pages  (to %s in %llu us, %s)",
	      why, op->to_private ? "private" : "share",
	      (unsigned long long)op->gpa,
	      (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
	      op->to_private ? "private" : "shared",
	      (unsigned long long)(op->attr_ns / 1000), how);
}

/* The backend and the guest's expectations of a mode. */
void set_mode(struct vmm *vmm, enum conv_mode mode)
{
	vmm->mode = mode;
	if (mode == MODE_IN_PLACE) {
		vmm->convert = convert_in_place;
		vmm->convert_mode = "in-place";
	} else {
		vmm->convert = convert_vm_attributes;
		vmm->convert_mode = "vm-attributes";
	}
}
