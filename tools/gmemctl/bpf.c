// SPDX-License-Identifier: GPL-2.0
/*
 * What the BPF commands check before they load anything, so that they can
 * say what is missing: the privileges (CAP_BPF and CAP_PERFMON, or
 * CAP_SYS_ADMIN) and the kernel's support (types of its BTF: the
 * iterator's context, the tracepoints' btf_trace_* typedefs).  Also the
 * names of zones (from BTF) and of kernel addresses (/proc/kallsyms).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "gmemctl.h"

#define CAP_SYS_ADMIN_BIT	21
#define CAP_PERFMON_BIT		38
#define CAP_BPF_BIT		39

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

static uint64_t cap_eff(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

int need_bpf_privileges(void)
{
	uint64_t caps = cap_eff();

	if (caps & (1ULL << CAP_SYS_ADMIN_BIT))
		return 0;
	if ((caps & (1ULL << CAP_BPF_BIT)) && (caps & (1ULL << CAP_PERFMON_BIT)))
		return 0;
	return -fail(EXIT_NOPERM,
		     "%s: loading BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root",
		     cmd_name);
}

static struct btf *vmlinux_btf, *kvm_btf;
static bool btf_loaded;

static void load_btf(void)
{
	if (btf_loaded)
		return;
	btf_loaded = true;
	vmlinux_btf = btf__load_vmlinux_btf();
	if (libbpf_get_error(vmlinux_btf)) {
		vmlinux_btf = NULL;
		return;
	}
	/* KVM as a module keeps its types in the module's BTF. */
	kvm_btf = btf__load_module_btf("kvm", vmlinux_btf);
	if (libbpf_get_error(kvm_btf))
		kvm_btf = NULL;
}

bool kernel_has_btf_type(const char *name, int kind)
{
	load_btf();
	if (vmlinux_btf && btf__find_by_name_kind(vmlinux_btf, name, kind) > 0)
		return true;
	return kvm_btf && btf__find_by_name_kind(kvm_btf, name, kind) > 0;
}

int need_gmem_tracepoints(void)
{
	static const char *const tps[] = {
		"btf_trace_gmem_convert_start", "btf_trace_gmem_convert",
		"btf_trace_gmem_convert_denied", "btf_trace_gmem_host_fault",
		"btf_trace_gmem_kvm_fault",
	};
	unsigned int i;

	load_btf();
	if (!vmlinux_btf)
		return -fail(EXIT_NOSUPPORT,
			     "this kernel has no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)");
	for (i = 0; i < ARRAY_SIZE(tps); i++)
		if (!kernel_has_btf_type(tps[i], BTF_KIND_TYPEDEF))
			return -fail(EXIT_NOSUPPORT,
				     "this kernel has no gmem tracepoints (TRACE_SYSTEM gmem: %s missing)",
				     tps[i] + strlen("btf_trace_"));
	return 0;
}

const char *zone_name(int zone)
{
	static char buf[32];
	const struct btf_type *t;
	const struct btf_enum *e;
	const char *name;
	int id, i;

	load_btf();
	snprintf(buf, sizeof(buf), "zone%d", zone);
	if (!vmlinux_btf)
		return buf;
	id = btf__find_by_name_kind(vmlinux_btf, "zone_type", BTF_KIND_ENUM);
	if (id <= 0)
		return buf;
	t = btf__type_by_id(vmlinux_btf, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++) {
		if (e->val != zone)
			continue;
		name = btf__name_by_offset(vmlinux_btf, e->name_off);
		if (!name || strncmp(name, "ZONE_", 5))
			break;
		name += 5;
		/* As the kernel prints them (ZONE_TYPE in mmflags.h). */
		if (!strcmp(name, "NORMAL"))
			return "Normal";
		if (!strcmp(name, "MOVABLE"))
			return "Movable";
		if (!strcmp(name, "HIGHMEM"))
			return "HighMem";
		if (!strcmp(name, "DEVICE"))
			return "Device";
		snprintf(buf, sizeof(buf), "%s", name);
		break;
	}
	return buf;
}

struct ksym {
	uint64_t addr;
	char *name;
};

static struct ksym *ksyms;
static size_t nr_ksyms;
static bool ksyms_loaded;

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void load_ksyms(void)
{
	unsigned long long addr;
	char type, name[256];
	size_t cap = 0;
	struct ksym *n;
	FILE *f;

	ksyms_loaded = true;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return;
	while (fscanf(f, "%llx %c %255s%*[^\n]", &addr, &type, name) == 3) {
		if (!addr || (type != 't' && type != 'T' && type != 'w' &&
			      type != 'W'))
			continue;
		if (nr_ksyms == cap) {
			cap = cap * 2 + 4096;
			n = realloc(ksyms, cap * sizeof(*n));
			if (!n)
				break;
			ksyms = n;
		}
		ksyms[nr_ksyms].addr = addr;
		ksyms[nr_ksyms].name = strdup(name);
		if (ksyms[nr_ksyms].name)
			nr_ksyms++;
	}
	fclose(f);
	qsort(ksyms, nr_ksyms, sizeof(*ksyms), ksym_cmp);
}

const char *ksym_name(uint64_t addr, char *buf, size_t len)
{
	size_t lo = 0, hi;

	if (!ksyms_loaded)
		load_ksyms();
	hi = nr_ksyms;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ksyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo) {
		snprintf(buf, len, "0x%llx", (unsigned long long)addr);
		return buf;
	}
	snprintf(buf, len, "%s+0x%llx", ksyms[lo - 1].name,
		 (unsigned long long)(addr - ksyms[lo - 1].addr));
	return buf;
}

uint32_t kernel_dev(dev_t dev)
{
	return (major(dev) << 20) | minor(dev);
}

int bpf_fail(const char *what, int err)
{
	if (err < 0)
		err = -err;
	if (err == EPERM || err == EACCES)
		return fail(EXIT_NOPERM,
			    "%s: %s: %s (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN: run as root)",
			    cmd_name, what, strerror(err));
	return fail(EXIT_FAIL, "%s: %s: %s%s", cmd_name, what, strerror(err),
		    verbose ? "" : " (gmemctl -d shows libbpf's messages)");
}
