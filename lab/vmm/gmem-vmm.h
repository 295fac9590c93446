/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem-vmm: definitions shared by the host (host.h and its objects) and
 * the guest payload (guest.S).  Must stay assembler-safe outside the
 * !__ASSEMBLER__ block.
 */
#ifndef GMEM_VMM_H
#define GMEM_VMM_H

#define GMEM_PAGE_SHIFT		12
#define GMEM_PAGE_SIZE		0x1000

/*
 * Slot 0: ordinary (always shared) memory at GPA 0 holding the page
 * tables, descriptor tables, parameter page, guest code and stack.
 */
#define GMEM_SLOT0_SIZE		0x400000	/* 4 MiB */
#define GMEM_PML4_GPA		0x1000
#define GMEM_PDPT_GPA		0x2000
#define GMEM_PD_GPA		0x3000		/* GMEM_NR_PD pages */
#define GMEM_NR_PD		4		/* 4 x 1 GiB: identity map 0-4G */
#define GMEM_GDT_GPA		0x7000
#define GMEM_IDT_GPA		0x8000
#define GMEM_TSS_GPA		0x9000
#define GMEM_PARAMS_GPA		0xa000
#define GMEM_CODE_GPA		0x10000
#define GMEM_CODE_MAX		0x10000
#define GMEM_STACK_TOP		GMEM_SLOT0_SIZE

/* Slot 1: the guest_memfd-backed data region. */
#define GMEM_DATA_GPA		0x40000000	/* 1 GiB */
#define GMEM_DATA_MAX_MIB	3072		/* must end below 4 GiB */

/* GDT selectors */
#define GMEM_SEL_CODE		0x08
#define GMEM_SEL_DATA		0x10
#define GMEM_SEL_TSS		0x18
#define GMEM_GDT_SIZE		0x28		/* TSS descriptor is 16 bytes */
#define GMEM_NR_EXC		32		/* IDT vectors with a stub */
#define GMEM_EXC_STUB_SIZE	16

/* I/O ports the guest writes to (OUT) to signal the host. */
#define GMEM_PORT_ACCEPTED	0x510	/* initial private data written */
#define GMEM_PORT_SHARED	0x511	/* message is in the shared buffer */
#define GMEM_PORT_ROUND_DONE	0x512	/* back to private, data verified */
#define GMEM_PORT_DONE		0x513	/* all rounds done */
#define GMEM_PORT_FAIL		0x514	/* guest verification failed */
#define GMEM_PORT_EXC		0x515	/* unexpected guest exception */

/* Guest failure codes (params->fail_code) */
#define GMEM_FAIL_HC_SHARE	1
#define GMEM_FAIL_HC_PRIVATE	2
#define GMEM_FAIL_REPLY		3
#define GMEM_FAIL_SHARED_DATA	4
#define GMEM_FAIL_PRIVATE_DATA	5
#define GMEM_FAIL_NOT_DISCARDED	6
#define GMEM_FAIL_NOT_PRESERVED	7

/* Parameter page layout (byte offsets), see struct gmem_params. */
#define P_DATA_GPA		0x00
#define P_DATA_PAGES		0x08
#define P_ROUNDS		0x10	/* 0: until the host sets P_STOP */
#define P_BOUNCE_PAGES		0x18
#define P_USE_VMMCALL		0x20
#define P_FLAGS			0x28
#define P_STOP			0x30
#define P_ROUND			0x38	/* written by the guest */
#define P_BOUNCE_GPA		0x40	/* written by the guest */
#define P_FAIL_CODE		0x48	/* written by the guest */
#define P_FAIL_GPA		0x50
#define P_FAIL_EXPECTED		0x58
#define P_FAIL_GOT		0x60
#define P_PRESERVED		0x68	/* written by the guest */
#define P_SCRATCH		0x800	/* guest scratch buffer */

/* P_FLAGS bits: what the guest finds in re-privatised pages */
#define GMEM_F_EXPECT_DISCARD	0x1	/* zeroes (two copies, vm-attributes) */
#define GMEM_F_EXPECT_PRESERVED	0x2	/* the host's reply (in place) */

/* KVM_HC_MAP_GPA_RANGE and its attributes (linux/kvm_para.h) */
#define GMEM_HC_MAP_GPA_RANGE	12
#define GMEM_MAP_SHARED_ATTRS	0x00	/* DECRYPTED | PAGE_SZ_4K */
#define GMEM_MAP_PRIVATE_ATTRS	0x10	/* ENCRYPTED | PAGE_SZ_4K */

/* Bounce buffer layout */
#define GMEM_BOUNCE_MSG_OFF	0x000	/* guest message */
#define GMEM_BOUNCE_REPLY_OFF	0x400	/* host reply */
#define GMEM_BOUNCE_FILL_OFF	0x800	/* host filler up to the end */
#define GMEM_MSG_MAX		0x100
#define GMEM_FILL_XOR		0xa5	/* filler byte = (round ^ 0xa5) */
#define GMEM_BOUNCE_STRIDE	37	/* slot = (round - 1) * 37 % slots */

#define GMEM_GUEST_MSG		"hello from the guest, round "
#define GMEM_HOST_REPLY		"hello from the host, round "

/* Every qword of a private data page holds (page gpa ^ GMEM_PAGE_MAGIC). */
#define GMEM_PAGE_MAGIC		0x676d656d2d766d6d	/* "gmem-vmm" */

#ifndef __ASSEMBLER__
#include <linux/types.h>

struct gmem_params {
	__u64 data_gpa;
	__u64 data_pages;
	__u64 rounds;
	__u64 bounce_pages;
	__u64 use_vmmcall;
	__u64 flags;
	__u64 stop;
	__u64 round;
	__u64 bounce_gpa;
	__u64 fail_code;
	__u64 fail_gpa;
	__u64 fail_expected;
	__u64 fail_got;
	__u64 preserved;	/* round whose buffer was found preserved */
};

/* The guest payload (guest.S), copied to GMEM_CODE_GPA. */
extern const char gmem_guest_start[];
extern const char gmem_guest_end[];
extern const char gmem_guest_exc_stubs[];
#endif /* __ASSEMBLER__ */

#endif /* GMEM_VMM_H */
