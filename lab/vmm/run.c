// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: the run loop and the exits it handles (the guest's
 * KVM_HC_MAP_GPA_RANGE hypercalls and implicit conversions through
 * KVM_EXIT_MEMORY_FAULT, its messages through the bounce buffer, its
 * reports on I/O ports), SIGINT/SIGTERM, and --pause.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <linux/kvm_para.h>

#include "host.h"

#define MAX_MEMORY_FAULTS	8	/* identical faults in a row */

/* Lock-free atomics are async-signal-safe (C11 7.14.1.1). */
atomic_int stop_signal;
static atomic_int resume_signal;
static atomic_uintptr_t signal_run;	/* the vCPU's struct kvm_run */

#define MSG_PRESERVED \
	"round %llu: content preserved in place: yes (the guest read the host's reply back from its private pages)"

/* ---- signals and --pause ---------------------------------------------- */

static void on_stop_signal(int sig)
{
	static const char msg[] = "gmem-vmm: second signal, exiting now\n";
	struct kvm_run *run = (struct kvm_run *)atomic_load(&signal_run);

	if (stop_signal) {
		ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);

		(void)r;
		_exit(128 + sig);
	}
	stop_signal = sig;
	/* Kick KVM_RUN (or make the next one return -EINTR at once). */
	if (run)
		run->immediate_exit = 1;
}

static void on_resume_signal(int sig)
{
	(void)sig;
	resume_signal = 1;
}

void setup_signals(void)
{
	struct sigaction sa = { 0 };

	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		die_errno("sigaction");
	sa.sa_handler = on_resume_signal;
	if (sigaction(SIGUSR1, &sa, NULL))
		die_errno("sigaction");
}

/* Wait for a newline on stdin, SIGUSR1, or a stop signal. */
static void wait_for_operator(struct vmm *vmm)
{
	bool stdin_open = true;
	sigset_t block, orig;

	printf("ready pid=%d gmem_fd=%d vm_fd=%d\n",
	       (int)getpid(), vmm->gmem_fd, vmm->vm_fd);
	fflush(stdout);

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &orig))
		die_errno("sigprocmask");

	while (!resume_signal && !stop_signal) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		char c;
		int r;

		r = ppoll(&pfd, stdin_open ? 1 : 0, NULL, &orig);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die_errno("ppoll");
		}
		if (!stdin_open || !pfd.revents)
			continue;
		if (pfd.revents & POLLNVAL) {
			stdin_open = false;
			continue;
		}
		r = read(STDIN_FILENO, &c, 1);
		if (r == 1 && c == '\n')
			break;
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			stdin_open = false;	/* EOF: wait for SIGUSR1 */
	}

	if (sigprocmask(SIG_SETMASK, &orig, NULL))
		die_errno("sigprocmask");
	event("%s", stop_signal ? "stop requested while paused" : "resuming");
}

/* ---- exits ------------------------------------------------------------ */

static const char *exit_reason_name(u32 reason)
{
	static const char * const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
		[KVM_EXIT_NOTIFY] = "NOTIFY",
		[KVM_EXIT_MEMORY_FAULT] = "MEMORY_FAULT",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

static __noreturn void unexpected_exit(struct vmm *vmm, const char *why)
{
	struct kvm_run *run = vmm->run;
	struct kvm_regs regs;
	char detail[160] = "";

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		snprintf(detail, sizeof(detail), ", %s port 0x%x size %u count %u",
			 run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			 run->io.port, run->io.size, run->io.count);
		break;
	case KVM_EXIT_MMIO:
		snprintf(detail, sizeof(detail), ", %s gpa 0x%llx len %u",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(detail, sizeof(detail), ", hw reason 0x%llx",
			 (unsigned long long)
			 run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(detail, sizeof(detail), ", suberror %u",
			 run->internal.suberror);
		break;
	}

	if (ioctl(vmm->vcpu_fd, KVM_GET_REGS, &regs))
		memset(&regs, 0xff, sizeof(regs));
	die("%s exit reason %u (%s)%s, rip 0x%llx",
	    why, run->exit_reason, exit_reason_name(run->exit_reason), detail,
	    (unsigned long long)regs.rip);
}

void handle_hypercall(struct vmm *vmm)
{
	struct kvm_run *run = vmm->run;
	u64 gpa = run->hypercall.args[0];
	u64 npages = run->hypercall.args[1];
	u64 attrs = run->hypercall.args[2];
	struct conv_op op = { 0 };
	char why[64];

	if (run->hypercall.nr != KVM_HC_MAP_GPA_RANGE)
		die("unexpected hypercall nr %llu",
		    (unsigned long long)run->hypercall.nr);

	/*
	 * Bits 3:0 are only a page size hint (npages is always in 4K units);
	 * bits 63:5 are reserved.  Errors go back to the guest in RAX.
	 */
	if (attrs & ~(u64)(KVM_MAP_GPA_RANGE_ENCRYPTED | 0xf) ||
	    !data_range_ok(vmm, gpa, npages)) {
		event("round %llu: MAP_GPA_RANGE gpa 0x%llx +%llu pages attrs 0x%llx rejected",
		      (unsigned long long)vmm->params->round,
		      (unsigned long long)gpa, (unsigned long long)npages,
		      (unsigned long long)attrs);
		run->hypercall.ret = -(u64)KVM_EINVAL;
		return;
	}

	op.gpa = gpa;
	op.size = npages << GMEM_PAGE_SHIFT;
	op.to_private = attrs & KVM_MAP_GPA_RANGE_ENCRYPTED;
	snprintf(why, sizeof(why), "round %llu",
		 (unsigned long long)vmm->params->round);
	guest_conversion(vmm, &op, why);

	/* complete_hypercall_exit() copies this into the guest's RAX. */
	run->hypercall.ret = 0;
}

/*
 * KVM_RUN failed with EFAULT + KVM_EXIT_MEMORY_FAULT: the guest accessed
 * a gfn whose attributes do not match the access.  Treat it as an
 * implicit conversion request, as VMMs for TDX/SNP do.
 */
void handle_memory_fault(struct vmm *vmm, int *repeats, u64 *last)
{
	struct kvm_run *run = vmm->run;
	u64 flags = run->memory_fault.flags;
	u64 gpa = run->memory_fault.gpa;
	u64 size = run->memory_fault.size;
	u64 start = gpa & ~(u64)(GMEM_PAGE_SIZE - 1);
	u64 end = (gpa + size + GMEM_PAGE_SIZE - 1) &
		  ~(u64)(GMEM_PAGE_SIZE - 1);
	struct conv_op op = { 0 };

	vmm->mem_faults++;
	event("memory fault gpa 0x%llx size 0x%llx flags 0x%llx: implicit conversion to %s",
	      (unsigned long long)gpa, (unsigned long long)size,
	      (unsigned long long)flags,
	      flags & KVM_MEMORY_EXIT_FLAG_PRIVATE ? "private" : "shared");

	if (end <= start ||
	    !data_range_ok(vmm, start, (end - start) >> GMEM_PAGE_SHIFT))
		die("memory fault outside guest_memfd: gpa 0x%llx size 0x%llx flags 0x%llx",
		    (unsigned long long)gpa, (unsigned long long)size,
		    (unsigned long long)flags);

	if (*last == (gpa ^ flags)) {
		if (++*repeats >= MAX_MEMORY_FAULTS)
			die("memory fault at gpa 0x%llx flags 0x%llx repeats after conversion",
			    (unsigned long long)gpa,
			    (unsigned long long)flags);
	} else {
		*repeats = 1;
		*last = gpa ^ flags;
	}

	op.gpa = start;
	op.size = end - start;
	op.to_private = flags & KVM_MEMORY_EXIT_FLAG_PRIVATE;
	guest_conversion(vmm, &op, "memory fault");
}

static void copy_guest_string(char *dst, const u8 *src)
{
	int i;

	for (i = 0; i < GMEM_MSG_MAX && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

static void handle_shared_message(struct vmm *vmm)
{
	struct gmem_params *p = vmm->params;
	u64 round = p->round;
	u64 gpa = p->bounce_gpa;
	u64 npages = vmm->opt.bounce_pages;
	char msg[GMEM_MSG_MAX + 1];
	char want[GMEM_MSG_MAX];
	u64 first, i;
	u8 *buf;

	if (!data_range_ok(vmm, gpa, npages))
		die("round %llu: bounce buffer gpa 0x%llx outside the data region",
		    (unsigned long long)round, (unsigned long long)gpa);
	first = (gpa - GMEM_DATA_GPA) >> GMEM_PAGE_SHIFT;
	for (i = 0; i < npages; i++)
		if (vmm->page_private[first + i])
			die("round %llu: guest left its message in private page gpa 0x%llx",
			    (unsigned long long)round,
			    (unsigned long long)(gpa + (i << GMEM_PAGE_SHIFT)));

	buf = vmm->shared + (gpa - GMEM_DATA_GPA);
	copy_guest_string(msg, buf + GMEM_BOUNCE_MSG_OFF);
	event("round %llu: guest says \"%s\"", (unsigned long long)round, msg);

	snprintf(want, sizeof(want), GMEM_GUEST_MSG "%llu",
		 (unsigned long long)round);
	if (strcmp(msg, want))
		die("round %llu: unexpected guest message \"%s\", wanted \"%s\"",
		    (unsigned long long)round, msg, want);
	if (vmm->mode == MODE_IN_PLACE)
		check_shared_in_place(round, gpa, npages, buf);

	snprintf((char *)buf + GMEM_BOUNCE_REPLY_OFF, GMEM_MSG_MAX,
		 GMEM_HOST_REPLY "%llu", (unsigned long long)round);
	memset(buf + GMEM_BOUNCE_FILL_OFF, (round ^ GMEM_FILL_XOR) & 0xff,
	       (npages << GMEM_PAGE_SHIFT) - GMEM_BOUNCE_FILL_OFF);
	event("round %llu: host replies \"%s\" (+%llu filler bytes 0x%02x)",
	      (unsigned long long)round,
	      (char *)buf + GMEM_BOUNCE_REPLY_OFF,
	      (unsigned long long)((npages << GMEM_PAGE_SHIFT) -
				   GMEM_BOUNCE_FILL_OFF),
	      (unsigned int)((round ^ GMEM_FILL_XOR) & 0xff));

	if (vmm->mode == MODE_IN_PLACE && round == vmm->opt.deny_round)
		pin_bounce_page(vmm, round, gpa, npages);
}

static __noreturn void guest_failure(struct vmm *vmm)
{
	static const char * const what[] = {
		[GMEM_FAIL_HC_SHARE] = "MAP_GPA_RANGE(shared) returned an error",
		[GMEM_FAIL_HC_PRIVATE] = "MAP_GPA_RANGE(private) returned an error",
		[GMEM_FAIL_REPLY] = "host reply mismatch",
		[GMEM_FAIL_SHARED_DATA] = "shared buffer filler mismatch",
		[GMEM_FAIL_PRIVATE_DATA] = "private data corrupted",
		[GMEM_FAIL_NOT_DISCARDED] = "stale data in re-accepted private page",
		[GMEM_FAIL_NOT_PRESERVED] = "content not preserved by the conversion in place",
	};
	struct gmem_params *p = vmm->params;
	const char *s = "unknown failure";

	if (p->fail_code < ARRAY_SIZE(what) && what[p->fail_code])
		s = what[p->fail_code];
	die("round %llu: GUEST CHECK FAILED (%llu): %s at gpa 0x%llx: want 0x%llx got 0x%llx",
	    (unsigned long long)p->round, (unsigned long long)p->fail_code,
	    s, (unsigned long long)p->fail_gpa,
	    (unsigned long long)p->fail_expected,
	    (unsigned long long)p->fail_got);
}

static __noreturn void guest_exception(struct vmm *vmm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	u64 frame[7];

	xioctl(vmm->vcpu_fd, KVM_GET_REGS, &regs);
	xioctl(vmm->vcpu_fd, KVM_GET_SREGS, &sregs);
	if (regs.rsp > GMEM_SLOT0_SIZE - sizeof(frame))
		die("guest exception with bogus stack pointer 0x%llx",
		    (unsigned long long)regs.rsp);
	memcpy(frame, vmm->slot0 + regs.rsp, sizeof(frame));
	die("round %llu: guest exception %llu error 0x%llx rip 0x%llx rsp 0x%llx cr2 0x%llx",
	    (unsigned long long)vmm->params->round,
	    (unsigned long long)frame[0], (unsigned long long)frame[1],
	    (unsigned long long)frame[2], (unsigned long long)frame[5],
	    (unsigned long long)sregs.cr2);
}

/* Returns true once the guest reports it is done. */
bool handle_io(struct vmm *vmm)
{
	struct kvm_run *run = vmm->run;
	struct gmem_params *p = vmm->params;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.count != 1)
		unexpected_exit(vmm, "unexpected I/O:");

	switch (run->io.port) {
	case GMEM_PORT_ACCEPTED:
		vmm->t_accept_ns = now_ns();
		event("guest accepted %llu private pages (%llu MiB) in %llu ms",
		      (unsigned long long)vmm->data_pages,
		      (unsigned long long)vmm->opt.mem_mib,
		      (unsigned long long)((vmm->t_accept_ns -
					    vmm->t_start_ns) / 1000000));
		if (vmm->opt.pause)
			wait_for_operator(vmm);
		return false;
	case GMEM_PORT_SHARED:
		handle_shared_message(vmm);
		return false;
	case GMEM_PORT_ROUND_DONE:
		vmm->rounds_done++;
		if (vmm->pin_active)
			die("round %llu: the pinned page was never part of a conversion to private",
			    (unsigned long long)p->round);
		if (vmm->mode == MODE_IN_PLACE) {
			if (p->preserved != p->round)
				die("round %llu: the guest did not check its re-privatised buffer",
				    (unsigned long long)p->round);
			event(MSG_PRESERVED, (unsigned long long)p->round);
		}
		event("round %llu: guest re-accepted %llu pages, %llu private pages verified",
		      (unsigned long long)p->round,
		      (unsigned long long)vmm->opt.bounce_pages,
		      (unsigned long long)vmm->data_pages);
		return false;
	case GMEM_PORT_DONE:
		return true;
	case GMEM_PORT_FAIL:
		guest_failure(vmm);
	case GMEM_PORT_EXC:
		guest_exception(vmm);
	default:
		unexpected_exit(vmm, "unexpected I/O:");
	}
}

void run_guest(struct vmm *vmm)
{
	struct kvm_run *run = vmm->run;
	u64 last_fault = ~0ULL;
	int fault_repeats = 0;

	atomic_store(&signal_run, (uintptr_t)run);
	vmm->t_start_ns = now_ns();
	for (;;) {
		int r;

		run->immediate_exit = 0;
		if (stop_signal)
			vmm->params->stop = 1;	/* guest stops at next round */
		run->exit_reason = KVM_EXIT_UNKNOWN;

		r = ioctl(vmm->vcpu_fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EFAULT &&
			    run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
				handle_memory_fault(vmm, &fault_repeats,
						    &last_fault);
				continue;
			}
			die_errno("KVM_RUN");
		}
		fault_repeats = 0;
		last_fault = ~0ULL;

		switch (run->exit_reason) {
		case KVM_EXIT_HYPERCALL:
			handle_hypercall(vmm);
			break;
		case KVM_EXIT_IO:
			if (handle_io(vmm))
				goto out;
			break;
		case KVM_EXIT_INTR:
			break;
		default:
			unexpected_exit(vmm, "unexpected");
		}
	}
out:
	atomic_store(&signal_run, 0);
}
