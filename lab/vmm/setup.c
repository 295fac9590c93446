// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: the VM (a KVM_X86_SW_PROTECTED_VM), its two memslots (slot 0:
 * page tables, descriptor tables, parameters, payload and stack; slot 1:
 * the guest_memfd-backed data region), the guest payload and the vCPU,
 * which starts in 64-bit mode.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm_para.h>

#include "host.h"

/* x86 architectural bits */
#define X86_CR0_PE		BIT_ULL(0)
#define X86_CR0_ET		BIT_ULL(4)
#define X86_CR0_NE		BIT_ULL(5)
#define X86_CR0_PG		BIT_ULL(31)
#define X86_CR4_PAE		BIT_ULL(5)
#define EFER_LME		BIT_ULL(8)
#define EFER_LMA		BIT_ULL(10)
#define PTE_PRESENT		BIT_ULL(0)
#define PTE_WRITE		BIT_ULL(1)
#define PTE_LARGE		BIT_ULL(7)
#define X86_RFLAGS_FIXED	BIT_ULL(1)

#define KVM_CPUID_SIGNATURE_LEAF	0x40000000
#define KVM_CPUID_FEATURES_LEAF		0x40000001
#define CPUID_VENDOR_AMD_EBX		0x68747541	/* "Auth" */
#define CPUID_VENDOR_HYGON_EBX		0x6f677948	/* "Hygo" */

static_assert(GMEM_HC_MAP_GPA_RANGE == KVM_HC_MAP_GPA_RANGE, "hc nr");
static_assert(GMEM_MAP_SHARED_ATTRS ==
	      (KVM_MAP_GPA_RANGE_DECRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K),
	      "shared attrs");
static_assert(GMEM_MAP_PRIVATE_ATTRS ==
	      (KVM_MAP_GPA_RANGE_ENCRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K),
	      "private attrs");
static_assert(offsetof(struct gmem_params, data_gpa) == P_DATA_GPA, "P");
static_assert(offsetof(struct gmem_params, data_pages) == P_DATA_PAGES, "P");
static_assert(offsetof(struct gmem_params, rounds) == P_ROUNDS, "P");
static_assert(offsetof(struct gmem_params, bounce_pages) == P_BOUNCE_PAGES,
	      "P");
static_assert(offsetof(struct gmem_params, use_vmmcall) == P_USE_VMMCALL,
	      "P");
static_assert(offsetof(struct gmem_params, flags) == P_FLAGS, "P");
static_assert(offsetof(struct gmem_params, stop) == P_STOP, "P");
static_assert(offsetof(struct gmem_params, round) == P_ROUND, "P");
static_assert(offsetof(struct gmem_params, bounce_gpa) == P_BOUNCE_GPA, "P");
static_assert(offsetof(struct gmem_params, fail_code) == P_FAIL_CODE, "P");
static_assert(offsetof(struct gmem_params, fail_gpa) == P_FAIL_GPA, "P");
static_assert(offsetof(struct gmem_params, fail_expected) == P_FAIL_EXPECTED,
	      "P");
static_assert(offsetof(struct gmem_params, fail_got) == P_FAIL_GOT, "P");
static_assert(offsetof(struct gmem_params, preserved) == P_PRESERVED, "P");
static_assert(sizeof(struct gmem_params) <= P_SCRATCH, "P");
static_assert(P_SCRATCH + GMEM_MSG_MAX <= GMEM_PAGE_SIZE, "P");

int check_cap(struct vmm *vmm, long cap)
{
	return xioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, cap);
}

__noreturn void skip(const char *what)
{
	die_code(KSFT_SKIP, "SKIP: %s", what);
}

void open_kvm(struct vmm *vmm)
{
	int r;

	vmm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vmm->kvm_fd < 0) {
		int err = errno;

		die_code(KSFT_SKIP, "SKIP: cannot open /dev/kvm: %s",
			 strerror(err));
	}

	r = xioctl(vmm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION)
		die("KVM_GET_API_VERSION: got %d, want %d", r, KVM_API_VERSION);

	r = check_cap(vmm, KVM_CAP_VM_TYPES);
	if (!(r & BIT_ULL(KVM_X86_SW_PROTECTED_VM)))
		skip("KVM_CAP_VM_TYPES lacks KVM_X86_SW_PROTECTED_VM (needs TDP)");
	if (!check_cap(vmm, KVM_CAP_GUEST_MEMFD))
		skip("KVM_CAP_GUEST_MEMFD missing");
	r = check_cap(vmm, KVM_CAP_MEMORY_ATTRIBUTES);
	if (!(r & KVM_MEMORY_ATTRIBUTE_PRIVATE))
		skip("KVM_CAP_MEMORY_ATTRIBUTES lacks KVM_MEMORY_ATTRIBUTE_PRIVATE");
	r = check_cap(vmm, KVM_CAP_EXIT_HYPERCALL);
	if (!(r & BIT_ULL(KVM_HC_MAP_GPA_RANGE)))
		skip("KVM_CAP_EXIT_HYPERCALL lacks KVM_HC_MAP_GPA_RANGE");
	if (!check_cap(vmm, KVM_CAP_USER_MEMORY2))
		skip("KVM_CAP_USER_MEMORY2 missing");
}

/* A VM of @type whose KVM_HC_MAP_GPA_RANGE hypercalls exit to us. */
void create_vm(struct vmm *vmm, unsigned long type)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_HYPERCALL,
		.args[0] = BIT_ULL(KVM_HC_MAP_GPA_RANGE),
	};

	vmm->vm_fd = xioctl(vmm->kvm_fd, KVM_CREATE_VM, type);
	xioctl(vmm->vm_fd, KVM_ENABLE_CAP, &cap);
}

void create_vcpu(struct vmm *vmm)
{
	int mmap_size;

	vmm->vcpu_fd = xioctl(vmm->vm_fd, KVM_CREATE_VCPU, 0);
	mmap_size = xioctl(vmm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((size_t)mmap_size < sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE returned %d", mmap_size);
	vmm->run_size = mmap_size;
	vmm->run = mmap(NULL, vmm->run_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, vmm->vcpu_fd, 0);
	if (vmm->run == MAP_FAILED)
		die_errno("mmap(kvm_run)");
}

/*
 * In place needs a guest_memfd that can be mmap()ed and tracks shared
 * pages, and KVM_SET_MEMORY_ATTRIBUTES2 able to make pages private, both
 * asked of this VM (the answer depends on the VM type).  Kernels without
 * the series answer 0 for both capabilities.  Either way, the VM must be
 * able to make pages private.
 */
void choose_mode(struct vmm *vmm)
{
	long flags = xioctl(vmm->vm_fd, KVM_CHECK_EXTENSION,
			    KVM_CAP_GUEST_MEMFD_FLAGS);
	long attrs = xioctl(vmm->vm_fd, KVM_CHECK_EXTENSION,
			    KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES);
	bool can = (flags & GUEST_MEMFD_FLAG_MMAP) &&
		   (attrs & KVM_MEMORY_ATTRIBUTE_PRIVATE);
	char caps[160];
	long r;

	/* Per-VM answer, in case the VM type restricts it. */
	r = xioctl(vmm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES);
	if (!(r & KVM_MEMORY_ATTRIBUTE_PRIVATE))
		skip("KVM_CAP_MEMORY_ATTRIBUTES lacks KVM_MEMORY_ATTRIBUTE_PRIVATE on the VM");

	snprintf(caps, sizeof(caps),
		 "KVM_CAP_GUEST_MEMFD_FLAGS 0x%lx %s MMAP, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES 0x%lx %s PRIVATE",
		 flags, flags & GUEST_MEMFD_FLAG_MMAP ? "has" : "lacks",
		 attrs, attrs & KVM_MEMORY_ATTRIBUTE_PRIVATE ? "has" : "lacks");

	switch (vmm->opt.mode) {
	case MODE_AUTO:
		set_mode(vmm, can ? MODE_IN_PLACE : MODE_VM_ATTRIBUTES);
		snprintf(vmm->mode_why, sizeof(vmm->mode_why),
			 "the default here: %s", caps);
		break;
	case MODE_IN_PLACE:
		if (!can)
			die_code(KSFT_SKIP, "SKIP: --mode in-place: %s", caps);
		set_mode(vmm, MODE_IN_PLACE);
		snprintf(vmm->mode_why, sizeof(vmm->mode_why),
			 "chosen with --mode; %s", caps);
		break;
	case MODE_VM_ATTRIBUTES:
		set_mode(vmm, MODE_VM_ATTRIBUTES);
		snprintf(vmm->mode_why, sizeof(vmm->mode_why),
			 "chosen with --mode%s", can ?
			 " (in-place would be available)" : "");
		break;
	}
}

void setup_cpuid(struct vmm *vmm)
{
	struct kvm_cpuid2 *cpuid = NULL;
	u32 nent = 64;
	u32 i;

	for (;;) {
		cpuid = realloc(cpuid, sizeof(*cpuid) +
				nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			die("out of memory");
		memset(cpuid, 0, sizeof(*cpuid));
		cpuid->nent = nent;
		if (!ioctl(vmm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		if (errno != E2BIG || nent >= 4096)
			die_errno("KVM_GET_SUPPORTED_CPUID");
		nent *= 2;
	}

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		/* Pick the hypercall instruction the vCPU implements. */
		if (e->function == 0 && e->index == 0)
			vmm->use_vmmcall = e->ebx == CPUID_VENDOR_AMD_EBX ||
					   e->ebx == CPUID_VENDOR_HYGON_EBX;
		/* Advertise MAP_GPA_RANGE now that the exit is enabled. */
		if (e->function == KVM_CPUID_FEATURES_LEAF)
			e->eax |= BIT_ULL(KVM_FEATURE_HC_MAP_GPA_RANGE);
	}

	xioctl(vmm->vcpu_fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
}

/* Slot 0's memory, as the host sees it. */
void map_slot0(struct vmm *vmm)
{
	vmm->slot0 = xmmap(GMEM_SLOT0_SIZE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			   "mmap(slot 0)");
	vmm->params = (struct gmem_params *)(vmm->slot0 + GMEM_PARAMS_GPA);
}

/* Slot 0: plain anonymous memory, always shared. */
void setup_slot0(struct vmm *vmm)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GMEM_SLOT0_SIZE,
	};

	map_slot0(vmm);
	region.userspace_addr = (unsigned long)vmm->slot0;
	xioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION2, &region);
}

/* The data region's size (--mem) and the host's view of its pages' state. */
void alloc_data(struct vmm *vmm)
{
	vmm->data_size = vmm->opt.mem_mib << 20;
	vmm->data_pages = vmm->data_size >> GMEM_PAGE_SHIFT;
	vmm->page_private = calloc(vmm->data_pages, 1);
	if (!vmm->page_private)
		die("out of memory");
}

/*
 * Slot 1, the data region: its shared pages at vmm->shared, its private
 * ones in the guest_memfd (without one, vmm->gmem_fd < 0, an ordinary
 * memslot).
 */
void set_data_slot(struct vmm *vmm)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = DATA_SLOT,
		.guest_phys_addr = GMEM_DATA_GPA,
		.memory_size = vmm->data_size,
		.userspace_addr = (unsigned long)vmm->shared,
	};

	if (vmm->gmem_fd >= 0) {
		region.flags = KVM_MEM_GUEST_MEMFD;
		region.guest_memfd = vmm->gmem_fd;
		region.guest_memfd_offset = vmm->gmem_offset;
	}
	xioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION2, &region);
}

void setup_memory(struct vmm *vmm)
{
	struct kvm_create_guest_memfd gmem = { 0 };
	u64 ns;

	setup_slot0(vmm);

	/*
	 * Slot 1, in place: one guest_memfd holds shared and private pages,
	 * and its own mapping is where KVM finds the shared ones.  With
	 * vm-attributes: guest_memfd for private, a shared mapping for shared.
	 */
	alloc_data(vmm);
	vmm->gmem_offset = 0;
	gmem.size = vmm->data_size;
	gmem.flags = vmm->mode == MODE_IN_PLACE ? GUEST_MEMFD_FLAG_MMAP : 0;
	vmm->gmem_fd = xioctl(vmm->vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem);

	if (vmm->mode == MODE_IN_PLACE) {
		vmm->shared = mmap(NULL, vmm->data_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, vmm->gmem_fd, vmm->gmem_offset);
		if (vmm->shared == MAP_FAILED)
			die_errno("mmap(guest_memfd)");
	} else {
		vmm->shared = xmmap(vmm->data_size,
				    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
				    "mmap(shared copy)");
	}
	set_data_slot(vmm);

	/*
	 * A confidential guest's memory starts out private: a guest_memfd
	 * created without GUEST_MEMFD_FLAG_INIT_SHARED is, page by page.
	 */
	if (vmm->mode == MODE_IN_PLACE) {
		memset(vmm->page_private, 1, vmm->data_pages);
		event("data region gpa 0x%llx +%llu pages, private from the start",
		      (unsigned long long)GMEM_DATA_GPA,
		      (unsigned long long)vmm->data_pages);
		event("memslot %d userspace_addr %p is the guest_memfd's own mapping",
		      DATA_SLOT, (void *)vmm->shared);
		return;
	}
	ns = convert_all_private(vmm);
	event("data region gpa 0x%llx +%llu pages marked private in %llu us",
	      (unsigned long long)GMEM_DATA_GPA,
	      (unsigned long long)vmm->data_pages,
	      (unsigned long long)(ns / 1000));
}

static u64 gdt_entry(u32 base, u32 limit, u32 access, u32 flags)
{
	return (u64)(limit & 0xffff) |
	       (u64)(base & 0xffffff) << 16 |
	       (u64)(access & 0xff) << 40 |
	       (u64)((limit >> 16) & 0xf) << 48 |
	       (u64)(flags & 0xf) << 52 |
	       (u64)((base >> 24) & 0xff) << 56;
}

void setup_guest_memory(struct vmm *vmm)
{
	u64 *pml4 = (u64 *)(vmm->slot0 + GMEM_PML4_GPA);
	u64 *pdpt = (u64 *)(vmm->slot0 + GMEM_PDPT_GPA);
	u64 *pd = (u64 *)(vmm->slot0 + GMEM_PD_GPA);
	u64 *gdt = (u64 *)(vmm->slot0 + GMEM_GDT_GPA);
	u8 *idt = vmm->slot0 + GMEM_IDT_GPA;
	size_t code_size = gmem_guest_end - gmem_guest_start;
	size_t stubs = gmem_guest_exc_stubs - gmem_guest_start;
	struct gmem_params *p = vmm->params;
	u64 i;

	if (code_size > GMEM_CODE_MAX || stubs % GMEM_EXC_STUB_SIZE ||
	    stubs + GMEM_NR_EXC * GMEM_EXC_STUB_SIZE > code_size)
		die("bad guest payload layout (size %zu, stubs at %zu)",
		    code_size, stubs);

	/* Identity map 0-4 GiB with 2 MiB pages. */
	pml4[0] = GMEM_PDPT_GPA | PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < GMEM_NR_PD; i++)
		pdpt[i] = (GMEM_PD_GPA + i * GMEM_PAGE_SIZE) |
			  PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < GMEM_NR_PD * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;

	/*
	 * GDT: null, 64-bit code, data, 64-bit TSS (busy).  The hidden
	 * segment state is loaded with KVM_SET_SREGS; the GDT only matters
	 * when the CPU reloads CS, i.e. on exception delivery.
	 */
	gdt[0] = 0;
	gdt[GMEM_SEL_CODE / 8] = gdt_entry(0, 0xfffff, 0x9b, 0xa);
	gdt[GMEM_SEL_DATA / 8] = gdt_entry(0, 0xfffff, 0x93, 0xc);
	gdt[GMEM_SEL_TSS / 8] = gdt_entry(GMEM_TSS_GPA, 0x67, 0x8b, 0);
	gdt[GMEM_SEL_TSS / 8 + 1] = 0;

	/* IDT: 64-bit interrupt gates to the exception stubs. */
	for (i = 0; i < GMEM_NR_EXC; i++) {
		u64 handler = GMEM_CODE_GPA + stubs + i * GMEM_EXC_STUB_SIZE;
		u8 *gate = idt + i * 16;

		memset(gate, 0, 16);
		gate[0] = handler;
		gate[1] = handler >> 8;
		gate[2] = GMEM_SEL_CODE;
		gate[3] = 0;
		gate[4] = 0;			/* IST */
		gate[5] = 0x8e;			/* P, DPL 0, interrupt gate */
		gate[6] = handler >> 16;
		gate[7] = handler >> 24;
		gate[8] = handler >> 32;
		gate[9] = handler >> 40;
		gate[10] = handler >> 48;
		gate[11] = handler >> 56;
	}

	memcpy(vmm->slot0 + GMEM_CODE_GPA, gmem_guest_start, code_size);

	p->data_gpa = GMEM_DATA_GPA;
	p->data_pages = vmm->data_pages;
	p->rounds = vmm->opt.loop ? 0 : vmm->opt.rounds;
	p->bounce_pages = vmm->opt.bounce_pages;
	p->use_vmmcall = vmm->use_vmmcall;
	/*
	 * Converting in place keeps the content, so the guest finds the
	 * host's reply in its re-privatised pages.  Converting via the VM's
	 * attributes discards the private copy when sharing, so the guest
	 * gets zeroes when it re-accepts the pages.
	 */
	p->flags = vmm->mode == MODE_IN_PLACE ? GMEM_F_EXPECT_PRESERVED :
						GMEM_F_EXPECT_DISCARD;
	p->preserved = 0;
	p->stop = 0;
}

static void set_seg(struct kvm_segment *s, u16 sel, u8 type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

void setup_vcpu(struct vmm *vmm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	xioctl(vmm->vcpu_fd, KVM_GET_SREGS, &sregs);

	set_seg(&sregs.cs, GMEM_SEL_CODE, 0xb, true);	/* exec/read, acc. */
	set_seg(&sregs.ds, GMEM_SEL_DATA, 0x3, false);	/* read/write, acc. */
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;

	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = GMEM_TSS_GPA;
	sregs.tr.limit = 0x67;
	sregs.tr.selector = GMEM_SEL_TSS;
	sregs.tr.type = 0xb;				/* busy 64-bit TSS */
	sregs.tr.present = 1;

	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;

	sregs.gdt.base = GMEM_GDT_GPA;
	sregs.gdt.limit = GMEM_GDT_SIZE - 1;
	sregs.idt.base = GMEM_IDT_GPA;
	sregs.idt.limit = GMEM_NR_EXC * 16 - 1;

	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	sregs.cr3 = GMEM_PML4_GPA;
	sregs.cr4 = X86_CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	xioctl(vmm->vcpu_fd, KVM_SET_SREGS, &sregs);

	memset(&regs, 0, sizeof(regs));
	regs.rflags = X86_RFLAGS_FIXED;
	regs.rip = GMEM_CODE_GPA;
	regs.rsp = GMEM_STACK_TOP;
	regs.rdi = GMEM_PARAMS_GPA;
	xioctl(vmm->vcpu_fd, KVM_SET_REGS, &regs);
}
