/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest.S - 64-bit guest payload for gmem-vmm.
 *
 * The bytes between gmem_guest_start and gmem_guest_end are copied by the
 * host to GMEM_CODE_GPA and never executed in the host process, so they
 * live in a read-only data section.  The code is position independent:
 * only relative branches and %rip-relative addressing to local labels,
 * hence no relocations (the Makefile checks this).
 *
 * Entry state (set up by the host): 64-bit mode, CPL 0, paging on with
 * an identity map of 0-4 GiB using 2 MiB pages, RFLAGS = 0x2 (IF = 0,
 * DF = 0), %rsp = GMEM_STACK_TOP, %rdi = GMEM_PARAMS_GPA.
 *
 * Register use: %r15 parameter page, %r14 round number, %r13 bounce
 * buffer GPA, %r12 bounce buffer size in pages.
 */
#include "gmem-vmm.h"

/* Vectors for which the CPU pushes an error code: 8 10-14 17 21 29 30 */
#define EXC_ERRCODE_MASK	0x60227d00

	.section .rodata.gmem_guest, "a"
	.p2align 12
	.globl	gmem_guest_start
gmem_guest_start:
	mov	%rdi, %r15
	mov	P_BOUNCE_PAGES(%r15), %r12

	/* First boot: "accept" every private page by writing its pattern. */
	mov	P_DATA_GPA(%r15), %rdi
	mov	P_DATA_PAGES(%r15), %rsi
	call	fill_pages
	mov	$GMEM_PORT_ACCEPTED, %dx
	out	%al, %dx

	mov	$1, %r14
.Lround:
	cmpq	$0, P_STOP(%r15)
	jne	.Ldone
	mov	P_ROUNDS(%r15), %rax
	test	%rax, %rax
	jz	1f
	cmp	%rax, %r14
	ja	.Ldone
1:	mov	%r14, P_ROUND(%r15)

	/*
	 * Pick this round's bounce buffer: the data region is cut into
	 * data_pages / bounce_pages slots, slot = (round - 1) * STRIDE % slots.
	 */
	mov	P_DATA_PAGES(%r15), %rax
	xor	%edx, %edx
	div	%r12
	mov	%rax, %rcx			/* number of slots (>= 1) */
	lea	-1(%r14), %rax
	xor	%edx, %edx
	div	%rcx
	imul	$GMEM_BOUNCE_STRIDE, %rdx, %rax
	xor	%edx, %edx
	div	%rcx				/* %rdx = slot */
	mov	%rdx, %rax
	imul	%r12, %rax
	shl	$GMEM_PAGE_SHIFT, %rax
	add	P_DATA_GPA(%r15), %rax
	mov	%rax, %r13
	mov	%r13, P_BOUNCE_GPA(%r15)

	/* MAP_GPA_RANGE(bounce, pages, shared): the host converts it. */
	mov	$GMEM_MAP_SHARED_ATTRS, %edx
	mov	$GMEM_FAIL_HC_SHARE, %esi
	call	map_bounce

	/* Leave a message in the now shared buffer and tell the host. */
	lea	GMEM_BOUNCE_MSG_OFF(%r13), %rdi
	lea	guest_msg(%rip), %rsi
	call	put_msg
	mov	$GMEM_PORT_SHARED, %dx
	out	%al, %dx

	/*
	 * The host must have answered with GMEM_HOST_REPLY <round> and
	 * filled the rest of the buffer with (round ^ 0xa5).
	 */
	lea	P_SCRATCH(%r15), %rdi
	lea	host_msg(%rip), %rsi
	call	put_msg
	mov	$GMEM_FAIL_REPLY, %r8d
	mov	$GMEM_FAIL_SHARED_DATA, %r9d
	call	check_reply

	/* MAP_GPA_RANGE(bounce, pages, private): convert it back. */
	mov	$GMEM_MAP_PRIVATE_ATTRS, %edx
	mov	$GMEM_FAIL_HC_PRIVATE, %esi
	call	map_bounce

	/*
	 * Converted in place, the pages kept their content: the host's
	 * reply (still in P_SCRATCH as expected) and its filler must now be
	 * there in private memory.
	 */
	testq	$GMEM_F_EXPECT_PRESERVED, P_FLAGS(%r15)
	jz	1f
	mov	$GMEM_FAIL_NOT_PRESERVED, %r8d
	mov	%r8d, %r9d
	call	check_reply
	mov	%r14, P_PRESERVED(%r15)
1:
	/*
	 * With two copies, the old private contents were discarded when the
	 * buffer was shared, so the fresh private pages must read as zero.
	 */
	testq	$GMEM_F_EXPECT_DISCARD, P_FLAGS(%r15)
	jz	1f
	mov	%r13, %rdi
	mov	%r12, %rcx
	shl	$(GMEM_PAGE_SHIFT - 3), %rcx
	xor	%eax, %eax
	repe scasq
	je	1f
	sub	$8, %rdi
	mov	(%rdi), %rdx
	mov	$GMEM_FAIL_NOT_DISCARDED, %ecx
	jmp	fail
1:
	/* Re-accept the buffer, then check all private data is intact. */
	mov	%r13, %rdi
	mov	%r12, %rsi
	call	fill_pages
	mov	P_DATA_GPA(%r15), %rdi
	mov	P_DATA_PAGES(%r15), %rsi
	call	check_pages
	mov	$GMEM_PORT_ROUND_DONE, %dx
	out	%al, %dx

	inc	%r14
	jmp	.Lround

.Ldone:
	mov	$GMEM_PORT_DONE, %dx
	out	%al, %dx
1:	hlt
	jmp	1b

/*
 * fail: report a verification failure to the host and stop.
 * %ecx = GMEM_FAIL_*, %rdi = gpa, %rax = expected, %rdx = got.
 */
fail:
	mov	%rcx, P_FAIL_CODE(%r15)
	mov	%rdi, P_FAIL_GPA(%r15)
	mov	%rax, P_FAIL_EXPECTED(%r15)
	mov	%rdx, P_FAIL_GOT(%r15)
	mov	$GMEM_PORT_FAIL, %dx
	out	%al, %dx
1:	hlt
	jmp	1b

/*
 * hypercall: %rax = nr, %rbx/%rcx/%rdx = a0/a1/a2; returns %rax.
 * AMD wants VMMCALL, Intel VMCALL; the host tells us which.
 */
hypercall:
	cmpq	$0, P_USE_VMMCALL(%r15)
	jne	1f
	vmcall
	ret
1:	vmmcall
	ret

/*
 * map_bounce: MAP_GPA_RANGE(bounce buffer, its pages, %edx = attributes),
 * which the host performs; on an error, fail with code %esi (got: the
 * error).  Clobbers rax rbx rcx rdx.
 */
map_bounce:
	mov	$GMEM_HC_MAP_GPA_RANGE, %eax
	mov	%r13, %rbx
	mov	%r12, %rcx
	call	hypercall
	test	%rax, %rax
	jz	1f
	mov	%rax, %rdx
	xor	%eax, %eax
	mov	%r13, %rdi
	mov	%esi, %ecx
	jmp	fail
1:	ret

/*
 * check_reply: the bounce buffer must hold the host's reply (as expected
 * in P_SCRATCH), then its filler (check_fill); if not, fail with code
 * %r8d (the reply) or %r9d (the filler).  Clobbers rax rcx rdx rsi rdi.
 */
check_reply:
	lea	P_SCRATCH(%r15), %rsi
	lea	GMEM_BOUNCE_REPLY_OFF(%r13), %rdi
	call	str_eq
	je	1f
	movzbl	(%rsi), %eax
	movzbl	(%rdi), %edx
	mov	%r8d, %ecx
	jmp	fail
1:	call	check_fill
	je	2f
	mov	%r9d, %ecx
	jmp	fail
2:	ret

/*
 * check_fill: ZF = 1 if the bounce buffer holds the host's filler byte
 * (round ^ GMEM_FILL_XOR) from GMEM_BOUNCE_FILL_OFF to its end; otherwise
 * ZF = 0, %rdi = gpa of the first bad byte, %rax = expected, %rdx = got.
 * Clobbers rax rcx rdx rdi.
 */
check_fill:
	lea	GMEM_BOUNCE_FILL_OFF(%r13), %rdi
	mov	%r12, %rcx
	shl	$GMEM_PAGE_SHIFT, %rcx
	sub	$GMEM_BOUNCE_FILL_OFF, %rcx
	mov	%r14, %rax
	xor	$GMEM_FILL_XOR, %al
	movzbl	%al, %eax
	repe scasb
	je	1f
	dec	%rdi				/* != 0: ZF stays clear */
	movzbl	(%rdi), %edx
1:	ret

/* fill_pages: %rdi = gpa, %rsi = pages (>= 1).  Clobbers rax rcx rsi rdi */
fill_pages:
1:	movabs	$GMEM_PAGE_MAGIC, %rax
	xor	%rdi, %rax
	mov	$(GMEM_PAGE_SIZE / 8), %ecx
	rep stosq
	dec	%rsi
	jnz	1b
	ret

/* check_pages: %rdi = gpa, %rsi = pages (>= 1); jumps to fail on error. */
check_pages:
1:	movabs	$GMEM_PAGE_MAGIC, %rax
	xor	%rdi, %rax
	mov	$(GMEM_PAGE_SIZE / 8), %ecx
	repe scasq
	jne	2f
	dec	%rsi
	jnz	1b
	ret
2:	sub	$8, %rdi
	mov	(%rdi), %rdx
	mov	$GMEM_FAIL_PRIVATE_DATA, %ecx
	jmp	fail

/* put_msg: the string at %rsi, then the round number, at %rdi (put_dec) */
put_msg:
	call	put_str
	mov	%r14, %rax
	jmp	put_dec

/* put_str: copy the string at %rsi to %rdi without its NUL; %rdi = end */
put_str:
1:	lodsb
	test	%al, %al
	jz	2f
	stosb
	jmp	1b
2:	ret

/* put_dec: write %rax in decimal plus a NUL at %rdi.  Clobbers rax-rdx r8 */
put_dec:
	mov	$10, %r8d
	xor	%ecx, %ecx
1:	xor	%edx, %edx
	div	%r8
	add	$'0', %dl
	push	%rdx
	inc	%ecx
	test	%rax, %rax
	jnz	1b
2:	pop	%rax
	stosb
	dec	%ecx
	jnz	2b
	movb	$0, (%rdi)
	ret

/*
 * str_eq: compare the NUL-terminated string at %rsi (expected) with %rdi.
 * Returns ZF = 1 if equal; otherwise %rsi/%rdi point at the difference.
 */
str_eq:
1:	mov	(%rsi), %al
	cmp	(%rdi), %al
	jne	2f
	test	%al, %al
	jz	2f
	inc	%rsi
	inc	%rdi
	jmp	1b
2:	ret

/*
 * Exception stubs, GMEM_EXC_STUB_SIZE bytes apart; the host points IDT
 * vector N at gmem_guest_exc_stubs + N * GMEM_EXC_STUB_SIZE.  The stack
 * then holds: vector, error code, rip, cs, rflags, rsp, ss.
 */
	.p2align 4
	.globl	gmem_guest_exc_stubs
gmem_guest_exc_stubs:
	.irp	vec, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	.p2align 4
	.if	((EXC_ERRCODE_MASK >> \vec) & 1) == 0
	pushq	$0
	.endif
	pushq	$\vec
	jmp	exc_common
	.endr

exc_common:
	mov	(%rsp), %eax
	mov	$GMEM_PORT_EXC, %dx
	out	%eax, %dx
1:	hlt
	jmp	1b

guest_msg:
	.asciz	GMEM_GUEST_MSG
host_msg:
	.asciz	GMEM_HOST_REPLY

	.globl	gmem_guest_end
gmem_guest_end:

	.section .note.GNU-stack, "", @progbits
