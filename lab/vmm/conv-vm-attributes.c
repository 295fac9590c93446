// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: the conversion backend of --mode vm-attributes, the stock
 * 6.12 way (two copies of each page).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>

#include "host.h"

/*
 * Backend: convert via the VM's memory attributes (KVM_SET_MEMORY_ATTRIBUTES)
 * and discard the copy that just became stale, like 6.12 VMMs do:
 * to shared  -> PUNCH_HOLE the private copy in guest_memfd;
 * to private -> free the shared copy.  The shared copy is a MAP_SHARED
 * anonymous (shmem) mapping, on which MADV_DONTNEED only zaps our page
 * table entries and keeps the data; MADV_REMOVE really frees it.
 */
void convert_vm_attributes(struct vmm *vmm, struct conv_op *op)
{
	struct kvm_memory_attributes attr = {
		.address = op->gpa,
		.size = op->size,
		.attributes = op->to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};
	u64 off = op->gpa - GMEM_DATA_GPA;
	u64 t0, t1, t2;

	t0 = now_ns();
	xioctl(vmm->vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &attr);
	t1 = now_ns();
	if (op->to_private) {
		if (madvise(vmm->shared + off, op->size, MADV_REMOVE))
			die_errno("madvise(MADV_REMOVE) on the shared copy");
	} else {
		if (fallocate(vmm->gmem_fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      vmm->gmem_offset + off, op->size))
			die_errno("fallocate(PUNCH_HOLE) on guest_memfd");
	}
	t2 = now_ns();
	op->attr_ns = t1 - t0;
	op->discard_ns = t2 - t1;
}
