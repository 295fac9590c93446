// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: the conversion backend of --mode in-place (one copy of each
 * page, KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd), and the
 * refused-conversion demonstration (--deny-round): a page of the shared
 * bounce buffer pinned through gup_test, as a device's DMA would, keeps
 * the buffer from turning private until it is unpinned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "host.h"

#define MAX_EAGAIN_RETRIES	100	/* transient refusals of one conversion */
#define EAGAIN_RETRY_US		1000

/*
 * gup_test (CONFIG_GUP_TEST): long-term GUP pins on demand, as a device
 * driver doing DMA to guest memory would hold them.  It keeps one pin for
 * the whole system, and whoever closes the file drops it.  Its file and
 * ioctls are in gmem_consts.h, but for the one only we use: reading back
 * what it pins (mm/gup_test.h).
 */
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, __u64)

/* Messages of the in-place conversions, each kept on one line for grep. */
#define MSG_REFUSED_PINNED \
	"%s: private gpa 0x%llx +%llu pages REFUSED: EAGAIN, page at offset 0x%llx (gpa 0x%llx) is pinned (gup_test pin); unpinning and retrying"
#define MSG_REFUSED_OTHER \
	"%s: %s gpa 0x%llx +%llu pages REFUSED: EAGAIN, page at offset 0x%llx (gpa 0x%llx) is referenced%s; retrying up to %d times"
#define MSG_REFUSED_STUCK \
	"%s: %s gpa 0x%llx +%llu pages still REFUSED after %d retries: EAGAIN, page at offset 0x%llx (gpa 0x%llx) stays pinned or referenced"
#define MSG_PIN_DROPPED \
	"%s: private gpa 0x%llx converted: demonstration void, our gup_test pin is gone (another user closed gup_test)"
#define MSG_SHARED_LOST \
	"round %llu: shared page gpa 0x%llx lost the guest's data in the conversion in place: at +0x%llx want 0x%llx got 0x%llx"

/* KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd; 0 or -errno. */
int gmem_set_attributes2(struct vmm *vmm,
			 struct kvm_memory_attributes2 *attr)
{
	return ioctl(vmm->gmem_fd, KVM_SET_MEMORY_ATTRIBUTES2, attr) ? -errno : 0;
}

/*
 * Long-term read pin of [@addr, @addr + @size) through gup_test; 0 or
 * -errno, with *@what naming the call that failed.  The pin lasts until
 * gup_test_unpin(), or until the process exits (gup_test's release).
 */
int gup_test_pin(struct vmm *vmm, u64 addr, u64 size, const char **what)
{
	struct pin_longterm_test pin = {
		.addr = addr,
		.size = size,
		.flags = 0,
	};

	if (vmm->gup_fd < 0) {
		*what = "open(" GUP_TEST_FILE ")";
		vmm->gup_fd = open(GUP_TEST_FILE, O_RDWR | O_CLOEXEC);
		if (vmm->gup_fd < 0)
			return -errno;
	}
	*what = "PIN_LONGTERM_TEST_START";
	return ioctl(vmm->gup_fd, PIN_LONGTERM_TEST_START, &pin) ? -errno : 0;
}

int gup_test_unpin(struct vmm *vmm)
{
	return ioctl(vmm->gup_fd, PIN_LONGTERM_TEST_STOP, 0) ? -errno : 0;
}

/*
 * Whether gup_test still holds our one-page pin: it reads back what it
 * pins (into a buffer followed by a guard page, as another user's pin
 * may be longer), which ends in the byte @last if the page is ours.
 */
bool gup_test_pin_held(struct vmm *vmm, u8 last)
{
	static u8 *buf;
	u64 addr;

	if (!buf) {
		buf = xmmap(2 * GMEM_PAGE_SIZE, MAP_PRIVATE | MAP_ANONYMOUS,
			    "mmap(gup_test buffer)");
		if (mprotect(buf + GMEM_PAGE_SIZE, GMEM_PAGE_SIZE, PROT_NONE))
			die_errno("mprotect(gup_test buffer)");
	}
	addr = (uintptr_t)buf;
	if (ioctl(vmm->gup_fd, PIN_LONGTERM_TEST_READ, &addr))
		return false;	/* EINVAL: nothing pinned; EFAULT: not ours */
	return buf[GMEM_PAGE_SIZE - 1] == last;
}

static u64 offset_to_gpa(struct vmm *vmm, u64 offset)
{
	return GMEM_DATA_GPA + offset - vmm->gmem_offset;
}

/*
 * The conversion to private of the bounce buffer whose page we pinned was
 * refused, as it must be.  Show it, check that nothing changed (all or
 * nothing: the host still reads its reply through the shared mapping; were
 * the pages private now, that read would fault), then unpin for the retry.
 */
static void refused_by_our_pin(struct vmm *vmm, const struct conv_op *op)
{
	const char *reply = (const char *)vmm->shared +
			    (op->gpa - GMEM_DATA_GPA) + GMEM_BOUNCE_REPLY_OFF;
	char want[GMEM_MSG_MAX];
	int err;

	vmm->refused_pinned++;
	event(MSG_REFUSED_PINNED, op->why, (unsigned long long)op->gpa,
	      (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
	      (unsigned long long)vmm->pin_offset,
	      (unsigned long long)offset_to_gpa(vmm, vmm->pin_offset));

	if (op->gpa == vmm->params->bounce_gpa) {
		snprintf(want, sizeof(want), GMEM_HOST_REPLY "%llu",
			 (unsigned long long)vmm->params->round);
		if (strncmp(reply, want, sizeof(want)))
			die("%s: the refused conversion changed the buffer: \"%.*s\"",
			    op->why, GMEM_MSG_MAX, reply);
		event("%s: nothing converted (all or nothing): host still reads \"%s\"",
		      op->why, want);
	}

	err = vmm->unpin(vmm);
	if (err) {
		errno = -err;
		die_errno("PIN_LONGTERM_TEST_STOP");
	}
	vmm->pin_active = false;
	snprintf(vmm->deny_note, sizeof(vmm->deny_note),
		 "%s: page at offset 0x%llx pinned, conversion to private refused, done after unpinning",
		 op->why, (unsigned long long)vmm->pin_offset);
}

/*
 * The conversion to private succeeded although we had pinned a page of the
 * range: a kernel bug if the pin is still there.  But gup_test has a single
 * pin for all its users, which any of them drops by closing the file, so
 * another user may have dropped ours: then the demonstration is void.
 */
static void converted_while_pinned(struct vmm *vmm, const struct conv_op *op)
{
	if (vmm->pin_held(vmm, vmm->pin_last))
		die("%s: private gpa 0x%llx converted although offset 0x%llx is pinned",
		    op->why, (unsigned long long)op->gpa,
		    (unsigned long long)vmm->pin_offset);

	vmm->pin_active = false;
	snprintf(vmm->deny_note, sizeof(vmm->deny_note),
		 "%s: demonstration void, another gup_test user dropped our pin",
		 op->why);
	/* Whatever gup_test pins now is someone else's: leave it alone. */
	event(MSG_PIN_DROPPED, op->why, (unsigned long long)op->gpa);
}

/*
 * Backend: convert in place with KVM_SET_MEMORY_ATTRIBUTES2 on the
 * guest_memfd.  The pages stay where they are, with their content, so
 * there is nothing to discard.  Shared to private is refused with EAGAIN
 * while a page of the range is pinned or otherwise referenced, and
 * error_offset names the first such page: our own gup_test pin is
 * released, anything else is taken as transient and retried a bounded
 * number of times.  Only the successful call is timed.
 */
void convert_in_place(struct vmm *vmm, struct conv_op *op)
{
	u64 offset = vmm->gmem_offset + (op->gpa - GMEM_DATA_GPA);
	bool pinned = vmm->pin_active && op->to_private &&
		      vmm->pin_offset >= offset &&
		      vmm->pin_offset - offset < op->size;
	const char *to = op->to_private ? "private" : "share";
	unsigned int transient = 0;

	for (;;) {
		struct kvm_memory_attributes2 attr = {
			.offset = offset,
			.size = op->size,
			.attributes = op->to_private ?
				      KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
		};
		u64 t0 = now_ns();
		int err;

		err = vmm->set_attributes2(vmm, &attr);
		op->attr_ns = now_ns() - t0;
		if (!err)
			break;
		if (err != -EAGAIN)
			die("%s: %s gpa 0x%llx +%llu pages: KVM_SET_MEMORY_ATTRIBUTES2: %s",
			    op->why, to, (unsigned long long)op->gpa,
			    (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
			    strerror(-err));

		op->refused++;
		if (pinned && attr.error_offset == vmm->pin_offset) {
			refused_by_our_pin(vmm, op);
			pinned = false;
			continue;
		}

		vmm->refused_transient++;
		if (++transient > MAX_EAGAIN_RETRIES)
			die(MSG_REFUSED_STUCK, op->why, to, (unsigned long long)op->gpa,
			    (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
			    MAX_EAGAIN_RETRIES,
			    (unsigned long long)attr.error_offset,
			    (unsigned long long)offset_to_gpa(vmm,
							      attr.error_offset));
		if (transient == 1)
			event(MSG_REFUSED_OTHER, op->why, to, (unsigned long long)op->gpa,
			      (unsigned long long)(op->size >> GMEM_PAGE_SHIFT),
			      (unsigned long long)attr.error_offset,
			      (unsigned long long)offset_to_gpa(vmm,
								attr.error_offset),
			      pinned ? " (not the page we pinned)" : "",
			      MAX_EAGAIN_RETRIES);
		usleep(EAGAIN_RETRY_US);
	}

	if (pinned)
		converted_while_pinned(vmm, op);
	op->discard_ns = 0;
}

/*
 * Converted in place, the pages the guest just shared still hold what it
 * wrote while they were private: every qword of a page is (page gpa ^
 * GMEM_PAGE_MAGIC), except for the message at the start of the buffer.
 */
void check_shared_in_place(u64 round, u64 gpa, u64 npages, const u8 *buf)
{
	u64 i, off;

	for (i = 0; i < npages; i++) {
		u64 page_gpa = gpa + (i << GMEM_PAGE_SHIFT);
		u64 want = page_gpa ^ GMEM_PAGE_MAGIC;

		for (off = i ? 0 : GMEM_BOUNCE_FILL_OFF; off < GMEM_PAGE_SIZE;
		     off += 8) {
			u64 got;

			memcpy(&got, buf + (i << GMEM_PAGE_SHIFT) + off, 8);
			if (got != want)
				die(MSG_SHARED_LOST, (unsigned long long)round,
				    (unsigned long long)page_gpa,
				    (unsigned long long)off,
				    (unsigned long long)want,
				    (unsigned long long)got);
		}
	}
	event("round %llu: the shared pages still hold the guest's private data (in place)",
	      (unsigned long long)round);
}

/*
 * The refused-conversion demonstration: while the bounce buffer is shared,
 * pin its last page as a device doing DMA would (a long-term read pin
 * through gup_test), so that the guest's conversion back to private must
 * be refused until the pin is gone.
 */
void pin_bounce_page(struct vmm *vmm, u64 round, u64 gpa, u64 npages)
{
	u64 off = gpa + ((npages - 1) << GMEM_PAGE_SHIFT) - GMEM_DATA_GPA;
	const char *what = "pin";
	int err;

	err = -vmm->pin(vmm, (uintptr_t)(vmm->shared + off), GMEM_PAGE_SIZE,
			&what);
	if (err) {
		snprintf(vmm->deny_note, sizeof(vmm->deny_note),
			 "demonstration skipped: %s: %s", what, strerror(err));
		event("round %llu: refused-conversion demonstration skipped: %s: %s%s",
		      (unsigned long long)round, what, strerror(err),
		      err == ENOENT || err == EACCES || err == EPERM ?
		      " (needs CONFIG_GUP_TEST, debugfs at /sys/kernel/debug, root)" :
		      err == EINVAL ? " (another gup_test pin in progress?)" : "");
		return;
	}
	vmm->pin_active = true;
	vmm->pin_offset = vmm->gmem_offset + off;
	vmm->pin_last = (round ^ GMEM_FILL_XOR) & 0xff;
	event("round %llu: gup_test pins page gpa 0x%llx (offset 0x%llx), as a device's DMA would",
	      (unsigned long long)round,
	      (unsigned long long)(GMEM_DATA_GPA + off),
	      (unsigned long long)vmm->pin_offset);
}
