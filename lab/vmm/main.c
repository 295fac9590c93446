// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm - a minimal VMM running a KVM_X86_SW_PROTECTED_VM guest whose
 * private memory is backed by guest_memfd.
 *
 * The guest (guest.S) starts directly in 64-bit mode, "accepts" its
 * private data region, and then, once per round, shares a small bounce
 * buffer with KVM_HC_MAP_GPA_RANGE, exchanges a message with the host
 * through it, converts it back to private and checks that its private
 * data is intact.  The host performs every conversion in convert_range(),
 * with one of two backends (--mode):
 *
 *  in-place       the guest_memfd is created with GUEST_MEMFD_FLAG_MMAP and
 *                 holds every page, shared or private; its own mmap() is the
 *                 memslot's userspace_addr, and KVM_SET_MEMORY_ATTRIBUTES2
 *                 on the guest_memfd converts pages without copying them,
 *                 so their content is preserved.  A page the host has
 *                 pinned cannot become private (EAGAIN); one round
 *                 (--deny-round) shows that with a gup_test pin.
 *  vm-attributes  the stock 6.12 way: private pages in the guest_memfd,
 *                 shared ones in anonymous shared memory, converted with
 *                 the VM's KVM_SET_MEMORY_ATTRIBUTES, the stale copy
 *                 discarded every time.
 *
 * The default is in-place when the VM's KVM_CAP_GUEST_MEMFD_FLAGS has
 * GUEST_MEMFD_FLAG_MMAP and its KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES has
 * KVM_MEMORY_ATTRIBUTE_PRIVATE, vm-attributes otherwise.
 *
 * Exit status: 0 success, 1 error or guest-detected failure, 2 usage,
 * 4 (KSFT_SKIP) missing KVM capability, 128 + signal if a finite run was
 * stopped by SIGINT/SIGTERM.
 *
 * Its parts, and what guest-selftest links against: host.h.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "host.h"

#define MSG_MODE_IN_PLACE \
	"conversion mode in-place (KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd fd %d; one copy of each page), %s"
#define MSG_MODE_VM_ATTRIBUTES \
	"conversion mode vm-attributes (KVM_SET_MEMORY_ATTRIBUTES on VM fd %d, stale copy discarded; two copies of each page), %s"

int main(int argc, char **argv)
{
	struct vmm vmm;

	vmm_init(&vmm, argc, argv);
	setup_signals();

	open_kvm(&vmm);
	create_vm(&vmm, KVM_X86_SW_PROTECTED_VM);
	create_vcpu(&vmm);
	choose_mode(&vmm);
	setup_cpuid(&vmm);
	setup_memory(&vmm);
	setup_guest_memory(&vmm);
	setup_vcpu(&vmm);

	info("pid %d kvm_fd %d vm_fd %d vcpu_fd %d gmem_fd %d",
	     (int)getpid(), vmm.kvm_fd, vmm.vm_fd, vmm.vcpu_fd, vmm.gmem_fd);
	info("data %llu MiB at gpa 0x%llx, %s",
	     (unsigned long long)vmm.opt.mem_mib,
	     (unsigned long long)GMEM_DATA_GPA,
	     vmm.opt.loop ? "looping until SIGINT/SIGTERM" :
			    "finite rounds");
	if (vmm.mode == MODE_IN_PLACE)
		info(MSG_MODE_IN_PLACE, vmm.gmem_fd, vmm.mode_why);
	else
		info(MSG_MODE_VM_ATTRIBUTES, vmm.vm_fd, vmm.mode_why);

	run_guest(&vmm);
	finish_run(&vmm);

	if (stop_signal && !vmm.opt.loop)
		return 128 + stop_signal;
	return 0;
}
