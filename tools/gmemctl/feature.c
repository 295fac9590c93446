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

#define CAP_SYS_PTRACE_BIT	19
#define CAP_SYS_ADMIN_BIT	21
#define CAP_PERFMON_BIT		38
#define CAP_BPF_BIT		39

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

static uint64_t caps(void)
{
	unsigned long long c = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &c) == 1)
			break;
	fclose(f);
	return c;
}

int cmd_feature_probe(int argc, char **argv)
{
	uint64_t c = caps();
	struct utsname u;
	int kvm, err = 0, scope = -1;
	const char *abi;
	unsigned int i;
	FILE *f;

	if (argc)
		return p_err(EXIT_USAGE, "feature probe: unexpected argument '%s'",
			    argv[0]);
	uname(&u);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		err = errno;
	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}

	if (json_output) {
		json_obj_begin(&jw);
		json_kv_str(&jw, "kernel", u.release);
		json_key(&jw, "kvm");
		json_obj_begin(&jw);
		json_kv_bool(&jw, "dev_kvm", kvm >= 0);
		if (kvm < 0)
			json_kv_str(&jw, "dev_kvm_error", strerror(err));
	} else {
		printf("kernel %s\n", u.release);
		if (kvm < 0)
			printf("/dev/kvm: %s: KVM capabilities not probed%s\n",
			       strerror(err), err == EACCES ?
			       " (needs access to /dev/kvm)" : "");
	}
	for (i = 0; kvm >= 0 && i < ARRAY_SIZE(kvm_caps); i++) {
		int r = ioctl(kvm, KVM_CHECK_EXTENSION, kvm_caps[i].cap);

		if (r < 0)
			r = 0;
		if (json_output)
			json_kv_u64(&jw, kvm_caps[i].name, r);
		else
			printf("%-40s 0x%-6x %s%s\n", kvm_caps[i].name, r,
			       kvm_caps[i].what, r ? "" : ": MISSING");
	}
	abi = probe_scan_ioctl(kvm);
	if (kvm >= 0)
		close(kvm);
	if (json_output) {
		json_obj_end(&jw);
		json_key(&jw, "provisional_abi");
		json_obj_begin(&jw);
		json_kv_str(&jw, "header", "linux/kvm_gmem.h");
		json_kv_u64(&jw, "KVM_CAP_GUEST_MEMFD_SCAN",
			    KVM_CAP_GUEST_MEMFD_SCAN);
		json_kv_u64(&jw, "KVM_GUEST_MEMFD_SCAN", KVM_GUEST_MEMFD_SCAN);
		json_kv_str(&jw, "scan_ioctl", abi);
		json_obj_end(&jw);
	} else {
		printf("provisional ABI <linux/kvm_gmem.h>: capability %d, ioctl 0x%lx (KVMIO 0x%x): %s\n",
		       KVM_CAP_GUEST_MEMFD_SCAN,
		       (unsigned long)KVM_GUEST_MEMFD_SCAN,
		       (unsigned int)_IOC_NR(KVM_GUEST_MEMFD_SCAN), abi);
	}
	if (json_output) {
		json_key(&jw, "btf");
		json_obj_begin(&jw);
	}
	for (i = 0; i < ARRAY_SIZE(btf_needs); i++) {
		bool has = kernel_has_btf_type(btf_needs[i].name, btf_needs[i].kind);

		if (json_output)
			json_kv_bool(&jw, btf_needs[i].name, has);
		else
			printf("%-40s %-8s %s%s\n", btf_needs[i].name,
			       has ? "yes" : "no", btf_needs[i].what,
			       has ? "" : ": MISSING");
	}
	if (json_output) {
		json_obj_end(&jw);
		json_key(&jw, "privileges");
		json_obj_begin(&jw);
		json_kv_u64(&jw, "uid", geteuid());
		json_kv_bool(&jw, "CAP_BPF", c & (1ULL << CAP_BPF_BIT));
		json_kv_bool(&jw, "CAP_PERFMON", c & (1ULL << CAP_PERFMON_BIT));
		json_kv_bool(&jw, "CAP_SYS_ADMIN", c & (1ULL << CAP_SYS_ADMIN_BIT));
		json_kv_bool(&jw, "CAP_SYS_PTRACE", c & (1ULL << CAP_SYS_PTRACE_BIT));
		json_kv_s64(&jw, "yama_ptrace_scope", scope);
		json_obj_end(&jw);
		json_obj_end(&jw);
		return EXIT_OK;
	}
	printf("uid %u: CAP_BPF %s, CAP_PERFMON %s, CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s",
	       geteuid(), c & (1ULL << CAP_BPF_BIT) ? "yes" : "no",
	       c & (1ULL << CAP_PERFMON_BIT) ? "yes" : "no",
	       c & (1ULL << CAP_SYS_ADMIN_BIT) ? "yes" : "no",
	       c & (1ULL << CAP_SYS_PTRACE_BIT) ? "yes" : "no");
	if (scope >= 0)
		printf(", yama ptrace_scope %d", scope);
	printf("\n");
	return EXIT_OK;
}
