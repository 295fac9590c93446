// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl feature probe: what this kernel offers gmemctl and what this
 * user may do with it, so that an operator knows beforehand which command
 * will work and why another will not.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "gmemctl.h"

static const struct {
	const char *name;
	long cap;
	const char *what;
} kvm_caps[] = {
	{ "KVM_CAP_GUEST_MEMFD", KVM_CAP_GUEST_MEMFD, "guest_memfd" },
	{ "KVM_CAP_GUEST_MEMFD_FLAGS", KVM_CAP_GUEST_MEMFD_FLAGS,
	  "mmap()able guest_memfd (flags)" },
	{ "KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES",
	  KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES, "in-place conversion" },
	{ "KVM_CAP_GUEST_MEMFD_SCAN", KVM_CAP_GUEST_MEMFD_SCAN,
	  "state query (layout, pins), provisional ABI" },
};

static const struct {
	const char *name;
	int kind;
	const char *what;
} btf_needs[] = {
	{ "bpf_iter__guest_memfd", BTF_KIND_STRUCT,
	  "guest_memfd BPF iterator (file list)" },
	{ "bpf_iter_gmem_region_new", BTF_KIND_FUNC, "region kfuncs" },
	{ "btf_trace_gmem_convert_start", BTF_KIND_TYPEDEF,
	  "gmem_convert_start tracepoint (latency, watch: times conversions)" },
	{ "btf_trace_gmem_convert", BTF_KIND_TYPEDEF,
	  "gmem_convert tracepoint (latency, watch)" },
	{ "btf_trace_gmem_convert_denied", BTF_KIND_TYPEDEF,
	  "gmem_convert_denied tracepoint (watch, pins --trace)" },
	{ "btf_trace_gmem_host_fault", BTF_KIND_TYPEDEF,
	  "gmem_host_fault tracepoint (watch)" },
	{ "btf_trace_gmem_kvm_fault", BTF_KIND_TYPEDEF,
	  "gmem_kvm_fault tracepoint (watch)" },
	{ "btf_trace_gmem_alloc", BTF_KIND_TYPEDEF,
	  "gmem_alloc tracepoint (watch: huge folio fallbacks)" },
	{ "btf_trace_gmem_split", BTF_KIND_TYPEDEF,
	  "gmem_split tracepoint (watch: huge folio splits)" },
	{ "btf_trace_gmem_merge", BTF_KIND_TYPEDEF,
	  "gmem_merge tracepoint (watch: split ranges merged back)" },
	{ "kvm_gmem_stats", BTF_KIND_STRUCT,
	  "huge folio counts (file list)" },
	{ "try_grab_folio", BTF_KIND_FUNC, "GUP slow path (pins --trace)" },
	{ "try_grab_folio_fast", BTF_KIND_FUNC, "GUP-fast (pins --trace)" },
	{ "gup_put_folio", BTF_KIND_FUNC, "GUP release (pins --trace)" },
};

/*
 * Whether the kernel answers KVM_GUEST_MEMFD_SCAN at the provisional number
 * of <linux/kvm_gmem.h> this gmemctl was built with: asked on a guest_memfd
 * of a VM created for the purpose, with a size the ioctl refuses, so that
 * anything but ENOTTY means the kernel knows the number.  Returns the
 * verdict as text.
 */
static const char *probe_scan_ioctl(int kvm)
{
	struct kvm_create_guest_memfd gmem = { .size = getpagesize() };
	struct kvm_guest_memfd_scan scan = { .size = 0 };
	static char why[128];
	int vm, fd, r;

	if (kvm < 0)
		return "not probed: no /dev/kvm";
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		snprintf(why, sizeof(why), "not probed: KVM_CREATE_VM: %s",
			 strerror(errno));
		return why;
	}
	fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (fd < 0) {
		snprintf(why, sizeof(why),
			 "not probed: KVM_CREATE_GUEST_MEMFD: %s",
			 strerror(errno));
		close(vm);
		return why;
	}
	r = ioctl(fd, KVM_GUEST_MEMFD_SCAN, &scan);
	close(fd);
	close(vm);
	if (r < 0 && errno == ENOTTY)
		return "ENOTTY";
	return "answered";
}

/* What feature probe found. */
struct probe {
	struct utsname u;
	int kvm_err;			/* 0: /dev/kvm opened */
	int kvm_cap[ARRAY_SIZE(kvm_caps)];
	const char *abi;		/* probe_scan_ioctl()'s verdict */
	bool btf[ARRAY_SIZE(btf_needs)];
	uint64_t caps;			/* CapEff */
	int scope;			/* yama ptrace_scope, -1: none */
};

static void probe(struct probe *p)
{
	unsigned int i;
	int kvm, r;
	FILE *f;

	memset(p, 0, sizeof(*p));
	p->caps = cap_eff();
	p->scope = -1;
	uname(&p->u);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		p->kvm_err = errno;
	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (f) {
		if (fscanf(f, "%d", &p->scope) != 1)
			p->scope = -1;
		fclose(f);
	}
	for (i = 0; kvm >= 0 && i < ARRAY_SIZE(kvm_caps); i++) {
		r = ioctl(kvm, KVM_CHECK_EXTENSION, kvm_caps[i].cap);
		p->kvm_cap[i] = r < 0 ? 0 : r;
	}
	p->abi = probe_scan_ioctl(kvm);
	if (kvm >= 0)
		close(kvm);
	for (i = 0; i < ARRAY_SIZE(btf_needs); i++)
		p->btf[i] = kernel_has_btf_type(btf_needs[i].name, btf_needs[i].kind);
}

static const char *yes(uint64_t caps, int bit)
{
	return caps & (1ULL << bit) ? "yes" : "no";
}

static void print_probe_plain(const struct probe *p)
{
	unsigned int i;

	printf("kernel %s\n", p->u.release);
	if (p->kvm_err)
		printf("/dev/kvm: %s: KVM capabilities not probed%s\n",
		       strerror(p->kvm_err), p->kvm_err == EACCES ?
		       " (needs access to /dev/kvm)" : "");
	for (i = 0; !p->kvm_err && i < ARRAY_SIZE(kvm_caps); i++)
		printf("%-40s 0x%-6x %s%s\n", kvm_caps[i].name, p->kvm_cap[i],
		       kvm_caps[i].what, p->kvm_cap[i] ? "" : ": MISSING");
	printf("provisional ABI <linux/kvm_gmem.h>: capability %d, ioctl 0x%lx (KVMIO 0x%x): %s\n",
	       KVM_CAP_GUEST_MEMFD_SCAN, (unsigned long)KVM_GUEST_MEMFD_SCAN,
	       (unsigned int)_IOC_NR(KVM_GUEST_MEMFD_SCAN), p->abi);
	for (i = 0; i < ARRAY_SIZE(btf_needs); i++)
		printf("%-40s %-8s %s%s\n", btf_needs[i].name,
		       p->btf[i] ? "yes" : "no", btf_needs[i].what,
		       p->btf[i] ? "" : ": MISSING");
	printf("uid %u: CAP_BPF %s, CAP_PERFMON %s, CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s",
	       geteuid(), yes(p->caps, CAP_BPF_BIT), yes(p->caps, CAP_PERFMON_BIT),
	       yes(p->caps, CAP_SYS_ADMIN_BIT), yes(p->caps, CAP_SYS_PTRACE_BIT));
	if (p->scope >= 0)
		printf(", yama ptrace_scope %d", p->scope);
	printf("\n");
}

static void print_probe_json(const struct probe *p)
{
	unsigned int i;

	json_obj_begin(&jw);
	json_kv_str(&jw, "kernel", p->u.release);
	json_key(&jw, "kvm");
	json_obj_begin(&jw);
	json_kv_bool(&jw, "dev_kvm", !p->kvm_err);
	if (p->kvm_err)
		json_kv_str(&jw, "dev_kvm_error", strerror(p->kvm_err));
	for (i = 0; !p->kvm_err && i < ARRAY_SIZE(kvm_caps); i++)
		json_kv_u64(&jw, kvm_caps[i].name, p->kvm_cap[i]);
	json_obj_end(&jw);
	json_key(&jw, "provisional_abi");
	json_obj_begin(&jw);
	json_kv_str(&jw, "header", "linux/kvm_gmem.h");
	json_kv_u64(&jw, "KVM_CAP_GUEST_MEMFD_SCAN", KVM_CAP_GUEST_MEMFD_SCAN);
	json_kv_u64(&jw, "KVM_GUEST_MEMFD_SCAN", KVM_GUEST_MEMFD_SCAN);
	json_kv_str(&jw, "scan_ioctl", p->abi);
	json_obj_end(&jw);
	json_key(&jw, "btf");
	json_obj_begin(&jw);
	for (i = 0; i < ARRAY_SIZE(btf_needs); i++)
		json_kv_bool(&jw, btf_needs[i].name, p->btf[i]);
	json_obj_end(&jw);
	json_key(&jw, "privileges");
	json_obj_begin(&jw);
	json_kv_u64(&jw, "uid", geteuid());
	json_kv_bool(&jw, "CAP_BPF", p->caps & (1ULL << CAP_BPF_BIT));
	json_kv_bool(&jw, "CAP_PERFMON", p->caps & (1ULL << CAP_PERFMON_BIT));
	json_kv_bool(&jw, "CAP_SYS_ADMIN", p->caps & (1ULL << CAP_SYS_ADMIN_BIT));
	json_kv_bool(&jw, "CAP_SYS_PTRACE", p->caps & (1ULL << CAP_SYS_PTRACE_BIT));
	json_kv_s64(&jw, "yama_ptrace_scope", p->scope);
	json_obj_end(&jw);
	json_obj_end(&jw);
}

int cmd_feature_probe(int argc, char **argv)
{
	struct probe p;

	if (argc)
		return p_err(EXIT_USAGE, "feature probe: unexpected argument '%s'",
			     argv[0]);
	probe(&p);
	if (json_output)
		print_probe_json(&p);
	else
		print_probe_plain(&p);
	return EXIT_OK;
}
