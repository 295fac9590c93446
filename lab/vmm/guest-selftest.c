// SPDX-License-Identifier: GPL-2.0
/*
 * guest-selftest - exercise gmem-vmm without KVM.
 *
 * Runs the guest payload natively, in user mode, with the data region
 * mapped at its GPA (GMEM_DATA_GPA), and feeds its "exits" through the
 * real gmem-vmm handlers:
 *  - the VMCALL/VMMCALL sites are patched to UD2, so each hypercall
 *    raises SIGILL and goes through handle_hypercall();
 *  - OUT and HLT raise #GP (SIGSEGV) at CPL 3 and go through handle_io().
 * The conversion backend stands in for KVM:
 *  --mode vm-attributes: private and shared memory are two memfds, and a
 *    conversion maps the range onto the memfd of its new state and punches
 *    the stale one, as the memory attributes plus guest_memfd do for a
 *    real guest;
 *  --mode in-place (the default): one memfd is the guest_memfd, mapped
 *    for the guest at the GPA and for the host as vmm->shared, and the
 *    real convert_in_place() runs against a stand-in for
 *    KVM_SET_MEMORY_ATTRIBUTES2 that makes the host's view of private
 *    pages inaccessible (a host access faults, as the SIGBUS of a
 *    guest_memfd would) and refuses to make a "pinned" page private with
 *    EAGAIN and error_offset, and a stand-in for gup_test's pin.
 *
 * GMEM_SELFTEST_BREAK breaks the backend; the run must then fail (exit 1)
 * with the guest's or the host's check naming it:
 *  nodiscard   (vm-attributes) shared pages keep the private data
 *  corrupt     a byte of private data the guest is not converting flips
 *  nopreserve  (in-place) re-privatised pages lose their content
 *  zeroshared  (in-place) shared pages lose the guest's private data
 *  pinignored  (in-place) a pinned page becomes private anyway
 *  stuck       (in-place) every conversion to private is refused
 * and these must not break the run:
 *  transient   (in-place) each conversion to private is refused twice
 *              before it succeeds, as with a passing reference
 *  nogup       (in-place) gup_test missing: the demonstration is skipped
 *  pindropped  (in-place) another gup_test user drops our pin: the
 *              conversion succeeds and the demonstration is void
 *
 * GMEM_SELFTEST_KVM=1 instead runs the payload in a real but ordinary
 * KVM VM (type 0: no guest_memfd, no memory attributes), for hosts whose
 * KVM lacks KVM_X86_SW_PROTECTED_VM: it still exercises the real vCPU
 * setup, run loop, hypercall and I/O exits.  The data slot is plain
 * shared memory; converting to private frees it, so the guest sees the
 * zeroes it expects after a discard.  Needs hardware virtualization: a
 * KVM that emulates every instruction (e.g. PVM, or invalid guest state
 * on VMX without unrestricted guest) never completes a hypercall, hence
 * the watchdog.  Not part of "make check".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/kvm_para.h>

#include "host.h"

static struct vmm *st_vmm;
static struct kvm_run st_run;
static sigjmp_buf st_done;
static int st_private_fd = -1;
static int st_shared_fd = -1;
static u8 *st_code;
static size_t st_code_size;
static size_t st_hc_site[2];
static const char *st_break = "";
static u64 st_pin_offset;
static u64 st_pin_size;		/* 0: nothing pinned */
static unsigned int st_refusals;	/* of the current conversion */

static bool st_broken(const char *how)
{
	return !strcmp(st_break, how);
}

/* Flip one byte of private data outside [@off, @off + @size). */
static void corrupt_private(struct vmm *vmm, u64 off, u64 size)
{
	u64 victim = off ? 0 : vmm->data_size - 1;
	u8 b;

	if (size >= vmm->data_size)
		return;
	if (pread(st_private_fd, &b, 1, victim) != 1)
		die_errno("selftest: pread");
	b ^= 0x40;
	if (pwrite(st_private_fd, &b, 1, victim) != 1)
		die_errno("selftest: pwrite");
}

static void convert_selftest(struct vmm *vmm, struct conv_op *op)
{
	u64 off = op->gpa - GMEM_DATA_GPA;
	int new_fd = op->to_private ? st_private_fd : st_shared_fd;
	int old_fd = op->to_private ? st_shared_fd : st_private_fd;
	u64 t0 = now_ns();
	void *p;

	(void)vmm;
	p = mmap((void *)(uintptr_t)op->gpa, op->size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, new_fd, off);
	if (p == MAP_FAILED)
		die_errno("selftest: mmap(MAP_FIXED)");
	op->attr_ns = now_ns() - t0;

	if (!op->to_private && !strcmp(st_break, "nodiscard"))
		return;
	if (fallocate(old_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, op->size))
		die_errno("selftest: fallocate(PUNCH_HOLE)");
	op->discard_ns = now_ns() - t0 - op->attr_ns;

	/* Flip one byte of private data the guest is not converting. */
	if (op->to_private && st_broken("corrupt"))
		corrupt_private(vmm, off, op->size);
}

/*
 * In place: what KVM_SET_MEMORY_ATTRIBUTES2 does to a guest_memfd, as far
 * as the VMM can see it.  Same argument checks; a conversion to private
 * is refused with EAGAIN and error_offset = the first pinned page of the
 * range, and otherwise takes the host's view of the range away (a host
 * access faults) or gives it back, without touching the content.
 */
static int st_set_attributes2(struct vmm *vmm,
			      struct kvm_memory_attributes2 *attr)
{
	bool to_private = attr->attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE;
	u64 off = attr->offset;
	u64 size = attr->size;
	u64 end;
	size_t i;

	if (attr->flags || attr->attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE ||
	    !size || (off | size) & (GMEM_PAGE_SIZE - 1) ||
	    __builtin_add_overflow(off, size, &end) || end > vmm->data_size)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(attr->reserved); i++)
		if (attr->reserved[i])
			return -EINVAL;

	if (to_private) {
		if (st_broken("stuck") ||
		    (st_broken("transient") && st_refusals < 2)) {
			st_refusals++;
			attr->error_offset = off;
			return -EAGAIN;
		}
		if (st_pin_size && st_pin_offset < end &&
		    st_pin_offset + st_pin_size > off &&
		    !st_broken("pinignored")) {
			attr->error_offset = st_pin_offset > off ?
					     st_pin_offset : off;
			return -EAGAIN;
		}
	}
	st_refusals = 0;

	if (mprotect(vmm->shared + off, size,
		     to_private ? PROT_NONE : PROT_READ | PROT_WRITE))
		die_errno("selftest: mprotect");
	if ((to_private && st_broken("nopreserve")) ||
	    (!to_private && st_broken("zeroshared")))
		if (fallocate(st_private_fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      off, size))
			die_errno("selftest: fallocate(PUNCH_HOLE)");
	if (to_private && st_broken("corrupt"))
		corrupt_private(vmm, off, size);
	return 0;
}

/* gup_test's PIN_LONGTERM_TEST_START: one pinned range at a time. */
static int st_pin(struct vmm *vmm, u64 addr, u64 size, const char **what)
{
	if (st_broken("nogup")) {
		*what = "open(" GUP_TEST_FILE ")";
		return -ENOENT;
	}
	*what = "PIN_LONGTERM_TEST_START";
	if (st_pin_size || addr < (uintptr_t)vmm->shared ||
	    addr + size > (uintptr_t)vmm->shared + vmm->data_size ||
	    (addr | size) & (GMEM_PAGE_SIZE - 1) || !size)
		return -EINVAL;
	st_pin_offset = addr - (uintptr_t)vmm->shared;
	st_pin_size = st_broken("pindropped") ? 0 : size;
	return 0;
}

static int st_unpin(struct vmm *vmm)
{
	(void)vmm;
	st_pin_size = 0;
	return 0;
}

static bool st_pin_held(struct vmm *vmm, u8 last)
{
	(void)vmm;
	(void)last;
	return st_pin_size;
}

static bool is_hc_site(u8 *ip)
{
	return ip == st_code + st_hc_site[0] || ip == st_code + st_hc_site[1];
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	greg_t *gr = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	u8 *ip = (u8 *)gr[REG_RIP];

	if (sig == SIGILL && is_hc_site(ip)) {
		memset(&st_run, 0, sizeof(st_run));
		st_run.exit_reason = KVM_EXIT_HYPERCALL;
		st_run.hypercall.nr = gr[REG_RAX];
		st_run.hypercall.args[0] = gr[REG_RBX];
		st_run.hypercall.args[1] = gr[REG_RCX];
		st_run.hypercall.args[2] = gr[REG_RDX];
		st_run.hypercall.ret = 0xdeadbeef;
		st_run.hypercall.flags = KVM_EXIT_HYPERCALL_LONG_MODE;
		handle_hypercall(st_vmm);
		gr[REG_RAX] = st_run.hypercall.ret;
		gr[REG_RIP] += 3;
		return;
	}
	if (sig == SIGSEGV && ip >= st_code && ip < st_code + st_code_size &&
	    (*ip == 0xee || *ip == 0xef)) {
		memset(&st_run, 0, sizeof(st_run));
		st_run.exit_reason = KVM_EXIT_IO;
		st_run.io.direction = KVM_EXIT_IO_OUT;
		st_run.io.size = *ip == 0xee ? 1 : 4;
		st_run.io.port = gr[REG_RDX] & 0xffff;
		st_run.io.count = 1;
		if (handle_io(st_vmm))
			siglongjmp(st_done, 1);
		gr[REG_RIP] += 1;
		return;
	}
	die("selftest: unexpected signal %d (code %d, addr %p) at guest offset 0x%lx",
	    sig, si->si_code, si->si_addr, (long)(ip - st_code));
}

static void find_hypercall_sites(u8 *code, size_t size)
{
	static const u8 insn[2][3] = {
		{ 0x0f, 0x01, 0xc1 },	/* vmcall */
		{ 0x0f, 0x01, 0xd9 },	/* vmmcall */
	};
	size_t i, k;

	for (k = 0; k < 2; k++) {
		int found = 0;

		for (i = 0; i + 3 <= size; i++) {
			if (memcmp(code + i, insn[k], 3))
				continue;
			st_hc_site[k] = i;
			found++;
		}
		if (found != 1)
			die("selftest: found %d hypercall sites of kind %zu",
			    found, k);
		/* ud2; nop */
		code[st_hc_site[k]] = 0x0f;
		code[st_hc_site[k] + 1] = 0x0b;
		code[st_hc_site[k] + 2] = 0x90;
	}
}

static int memfd(const char *name, u64 size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		die_errno("memfd_create");
	if (ftruncate(fd, size))
		die_errno("ftruncate");
	return fd;
}

/* Implicit conversions: what KVM_EXIT_MEMORY_FAULT handling would do. */
static void test_memory_fault(struct vmm *vmm, u64 gpa, bool to_private)
{
	u64 last = ~0ULL;
	int repeats = 0;

	memset(&st_run, 0, sizeof(st_run));
	st_run.exit_reason = KVM_EXIT_MEMORY_FAULT;
	st_run.memory_fault.gpa = gpa;
	st_run.memory_fault.size = GMEM_PAGE_SIZE;
	st_run.memory_fault.flags = to_private ?
				    KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
	handle_memory_fault(vmm, &repeats, &last);
	if (vmm->page_private[(gpa - GMEM_DATA_GPA) >> GMEM_PAGE_SHIFT] !=
	    to_private)
		die("selftest: memory fault did not convert gpa 0x%llx",
		    (unsigned long long)gpa);
}

static void convert_kvm_plain(struct vmm *vmm, struct conv_op *op)
{
	u64 t0 = now_ns();

	if (op->to_private &&
	    madvise(vmm->shared + (op->gpa - GMEM_DATA_GPA), op->size,
		    MADV_REMOVE))
		die_errno("madvise(MADV_REMOVE)");
	op->discard_ns = now_ns() - t0;
}

/* Every round of the command line ran. */
static void check_rounds(struct vmm *vmm)
{
	if (vmm->rounds_done != vmm->opt.rounds)
		die("selftest: %llu rounds done, wanted %llu",
		    (unsigned long long)vmm->rounds_done,
		    (unsigned long long)vmm->opt.rounds);
}

static void on_watchdog(int sig)
{
	static const char msg[] =
		"gmem-vmm: selftest: timed out (hypercalls not completing?)\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)r;
	_exit(128 + sig);
}

static int run_kvm_plain(struct vmm *vmm)
{
	int r;

	vmm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vmm->kvm_fd < 0)
		skip("selftest: no /dev/kvm");
	r = check_cap(vmm, KVM_CAP_EXIT_HYPERCALL);
	if (!(r & BIT_ULL(KVM_HC_MAP_GPA_RANGE)) ||
	    !check_cap(vmm, KVM_CAP_USER_MEMORY2))
		skip("selftest: KVM lacks EXIT_HYPERCALL or USER_MEMORY2");

	create_vm(vmm, 0);		/* an ordinary VM */
	create_vcpu(vmm);
	setup_cpuid(vmm);

	/* setup_memory(), without guest_memfd (vmm->gmem_fd < 0) */
	setup_slot0(vmm);
	alloc_data(vmm);
	vmm->shared = xmmap(vmm->data_size,
			    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
			    "mmap(data)");
	set_data_slot(vmm);
	set_mode(vmm, MODE_VM_ATTRIBUTES);
	vmm->convert = convert_kvm_plain;
	vmm->convert_mode = "selftest-kvm-plain";
	convert_all_private(vmm);

	setup_guest_memory(vmm);
	setup_vcpu(vmm);
	info("selftest: ordinary KVM VM, pid %d vm_fd %d vcpu_fd %d, %s",
	     (int)getpid(), vmm->vm_fd, vmm->vcpu_fd,
	     vmm->use_vmmcall ? "vmmcall" : "vmcall");

	if (!vmm->opt.loop && !vmm->opt.pause) {
		signal(SIGALRM, on_watchdog);
		alarm(120);
	}
	run_guest(vmm);
	finish_run(vmm);
	if (stop_signal)
		return vmm->opt.loop ? 0 : 128 + stop_signal;
	check_rounds(vmm);
	info("selftest: PASS (real KVM, ordinary VM)");
	return 0;
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	struct sigaction sa = { 0 };
	bool in_place;
	u64 want;
	void *p;

	vmm_init(&vmm, argc, argv);
	vmm.set_attributes2 = st_set_attributes2;
	vmm.pin = st_pin;
	vmm.unpin = st_unpin;
	vmm.pin_held = st_pin_held;
	if (getenv("GMEM_SELFTEST_KVM")) {
		setup_signals();
		return run_kvm_plain(&vmm);
	}
	if (vmm.opt.loop || vmm.opt.pause)
		die("selftest: --loop and --pause are not supported");
	if (getenv("GMEM_SELFTEST_BREAK"))
		st_break = getenv("GMEM_SELFTEST_BREAK");
	st_vmm = &vmm;
	vmm.run = &st_run;

	/* Auto is in place, as on a kernel with the series. */
	in_place = vmm.opt.mode != MODE_VM_ATTRIBUTES;
	set_mode(&vmm, in_place ? MODE_IN_PLACE : MODE_VM_ATTRIBUTES);
	if (in_place) {
		vmm.convert_mode = "selftest-in-place";
	} else {
		vmm.convert = convert_selftest;
		vmm.convert_mode = "selftest-memfd";
	}

	/*
	 * Data region: the GPA range is mapped 1:1 in this process, the
	 * guest's view.  In place, the one memfd is also the host's view,
	 * all private (inaccessible) to start with, as a guest_memfd created
	 * without GUEST_MEMFD_FLAG_INIT_SHARED.
	 */
	alloc_data(&vmm);
	st_private_fd = memfd("gmem-private", vmm.data_size);
	vmm.gmem_fd = st_private_fd;
	if (!in_place)
		st_shared_fd = memfd("gmem-shared", vmm.data_size);
	p = mmap((void *)GMEM_DATA_GPA, vmm.data_size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE,
		 in_place ? st_private_fd : st_shared_fd, 0);
	if (p != (void *)GMEM_DATA_GPA)
		die_errno("selftest: mmap at GMEM_DATA_GPA");
	vmm.shared = mmap(NULL, vmm.data_size,
			  in_place ? PROT_NONE : PROT_READ | PROT_WRITE,
			  MAP_SHARED, in_place ? st_private_fd : st_shared_fd,
			  0);
	if (vmm.shared == MAP_FAILED)
		die_errno("selftest: mmap(shared view)");
	if (in_place)
		memset(vmm.page_private, 1, vmm.data_pages);
	else
		convert_all_private(&vmm);

	/* Slot 0 contents as the real VMM builds them; code from there. */
	map_slot0(&vmm);
	setup_guest_memory(&vmm);
	st_code_size = gmem_guest_end - gmem_guest_start;
	st_code = xmmap(st_code_size, MAP_PRIVATE | MAP_ANONYMOUS,
			"mmap(code)");
	memcpy(st_code, vmm.slot0 + GMEM_CODE_GPA, st_code_size);
	find_hypercall_sites(st_code, st_code_size);
	if (mprotect(st_code, st_code_size, PROT_READ | PROT_EXEC))
		die_errno("mprotect");

	if (vmm.data_pages > 2) {
		test_memory_fault(&vmm, GMEM_DATA_GPA + GMEM_PAGE_SIZE, false);
		test_memory_fault(&vmm, GMEM_DATA_GPA + GMEM_PAGE_SIZE, true);
	}

	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGILL, &sa, NULL) || sigaction(SIGSEGV, &sa, NULL))
		die_errno("sigaction");

	info("selftest: running the payload natively (mode %s, break mode '%s')",
	     vmm.convert_mode, st_break);
	vmm.t_start_ns = now_ns();
	if (!sigsetjmp(st_done, 1))
		((void (*)(void *))st_code)(vmm.params);

	finish_run(&vmm);
	check_rounds(&vmm);
	/* one conversion each way per round, plus test_memory_fault() */
	want = vmm.opt.rounds;
	if (vmm.data_pages > 2)
		want++;
	if (vmm.to_shared.count != want || vmm.to_private.count != want)
		die("selftest: conversion counts %llu/%llu",
		    (unsigned long long)vmm.to_shared.count,
		    (unsigned long long)vmm.to_private.count);
	/* In place, the demonstration round must have been refused once. */
	want = in_place && vmm.opt.deny_round &&
	       vmm.opt.deny_round <= vmm.opt.rounds &&
	       !st_broken("nogup") && !st_broken("pindropped");
	if (vmm.refused_pinned != want || st_pin_size)
		die("selftest: %llu conversions refused by the pin, wanted %llu%s",
		    (unsigned long long)vmm.refused_pinned,
		    (unsigned long long)want,
		    st_pin_size ? "; still pinned" : "");
	if (st_broken("transient") && !vmm.refused_transient)
		die("selftest: no transient refusal was retried");
	info("selftest: PASS");
	return 0;
}
