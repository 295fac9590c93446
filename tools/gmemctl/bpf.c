// SPDX-License-Identifier: GPL-2.0
/*
 * What the BPF commands check before they load anything, so that they can
 * say what is missing: the privileges (CAP_BPF and CAP_PERFMON, or
 * CAP_SYS_ADMIN) and the kernel's support (types of its BTF: the
 * iterator's context, the tracepoints' btf_trace_* typedefs).  Also the
 * names of the values of the kernel's enums (zones, deny reasons, fault
 * results: from BTF, never from a copy here) and of kernel addresses
 * (/proc/kallsyms).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "gmemctl.h"

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

uint64_t cap_eff(void)
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
	return -p_err(EXIT_NOPERM,
		     "%s: loading BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root",
		     cmd_name);
}

static struct btf *vmlinux_btf, *kvm_btf;
static bool btf_loaded;

/*
 * The kernel's BTF: /sys/kernel/btf/vmlinux and, KVM being a module, the
 * split BTF of kvm.ko on it (where guest_memfd's enums are).  For tests,
 * GMEMCTL_BTF names a file to read instead (raw BTF or an ELF image with
 * a .BTF section, as bpftool's --base-btf), and GMEMCTL_KVM_BTF a split
 * BTF on it (kvm.ko).
 */
static void load_btf(void)
{
	const char *base = getenv("GMEMCTL_BTF");
	const char *kvm = getenv("GMEMCTL_KVM_BTF");

	if (btf_loaded)
		return;
	btf_loaded = true;
	vmlinux_btf = base && *base ? btf__parse(base, NULL) :
		      btf__load_vmlinux_btf();
	if (libbpf_get_error(vmlinux_btf)) {
		vmlinux_btf = NULL;
		return;
	}
	if (base && *base)
		kvm_btf = kvm && *kvm ? btf__parse_split(kvm, vmlinux_btf) : NULL;
	else
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
		return -p_err(EXIT_NOSUPPORT,
			     "this kernel has no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)");
	for (i = 0; i < ARRAY_SIZE(tps); i++)
		if (!kernel_has_btf_type(tps[i], BTF_KIND_TYPEDEF))
			return -p_err(EXIT_NOSUPPORT,
				     "this kernel has no gmem tracepoints (TRACE_SYSTEM gmem: %s missing)",
				     tps[i] + strlen("btf_trace_"));
	return 0;
}

/*
 * The enum @type of the kernel's BTF, and the BTF that holds it (kvm.ko's
 * split BTF sees vmlinux's types too), or NULL.
 */
static const struct btf_type *find_enum(const char *type, const struct btf **btfp)
{
	const struct btf *btfs[2];
	unsigned int i;
	int id;

	load_btf();
	btfs[0] = kvm_btf;
	btfs[1] = vmlinux_btf;
	for (i = 0; i < ARRAY_SIZE(btfs); i++) {
		if (!btfs[i])
			continue;
		id = btf__find_by_name_kind(btfs[i], type, BTF_KIND_ENUM);
		if (id > 0) {
			*btfp = btfs[i];
			return btf__type_by_id(btfs[i], id);
		}
	}
	return NULL;
}

/*
 * The name of enumerator @val of enum @type after @prefix, as BTF has it
 * ("MOVABLE" for ZONE_MOVABLE), or NULL.
 */
static const char *btf_enum_suffix(const char *type, const char *prefix,
				   long long val)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	const struct btf *btf;
	const char *name;
	int i;

	t = find_enum(type, &btf);
	if (!t)
		return NULL;
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++) {
		if (e->val != val)
			continue;
		name = btf__name_by_offset(btf, e->name_off);
		if (!name || strncmp(name, prefix, strlen(prefix)))
			return NULL;
		return name + strlen(prefix);
	}
	return NULL;
}

int btf_enum_count(const char *type, long long *max)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	const struct btf *btf;
	int i;

	*max = -1;
	t = find_enum(type, &btf);
	if (!t)
		return -1;
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++, e++)
		if (e->val > *max)
			*max = e->val;
	return btf_vlen(t);
}

/*
 * Every name handed out, BTF's or the fallback's, made once per (@type,
 * @val, @fallback) and kept to the end: the string stays valid, and nothing is made
 * twice.  The values an enum takes are few (the events' are u8).
 */
struct enum_name {
	struct enum_name *next;
	const char *type;	/* the caller's: string literals */
	const char *fallback;
	long long val;
	char name[];
};

const char *btf_enum_name(const char *type, const char *prefix, long long val,
			  const char *fallback)
{
	static struct enum_name *names;
	struct enum_name *n;
	const char *suffix;
	size_t len;
	char *p;

	for (n = names; n; n = n->next)
		if (n->val == val && !strcmp(n->type, type) &&
		    !strcmp(n->fallback, fallback))
			return n->name;

	suffix = btf_enum_suffix(type, prefix, val);
	len = suffix ? strlen(suffix) + 1 : strlen(fallback) + 24;
	n = malloc(sizeof(*n) + len);
	if (!n)
		return fallback;
	if (suffix) {
		memcpy(n->name, suffix, len);
		for (p = n->name; *p; p++)
			*p = tolower((unsigned char)*p);
	} else {
		snprintf(n->name, len, "%s%lld", fallback, val);
	}
	n->type = type;
	n->fallback = fallback;
	n->val = val;
	n->next = names;
	names = n;
	return n->name;
}

const char *zone_name(int zone)
{
	/* As the kernel prints them (ZONE_TYPE in mmflags.h). */
	static const char *const pretty[][2] = {
		{ "NORMAL", "Normal" }, { "MOVABLE", "Movable" },
		{ "HIGHMEM", "HighMem" }, { "DEVICE", "Device" },
	};
	static char buf[32];
	const char *name;
	unsigned int i;

	name = btf_enum_suffix("zone_type", "ZONE_", zone);
	if (!name) {
		snprintf(buf, sizeof(buf), "zone%d", zone);
		return buf;
	}
	for (i = 0; i < ARRAY_SIZE(pretty); i++)
		if (!strcmp(name, pretty[i][0]))
			return pretty[i][1];
	return name;
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
		return p_err(EXIT_NOPERM,
			    "%s: %s: %s (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN: run as root)",
			    cmd_name, what, strerror(err));
	return p_err(EXIT_FAIL, "%s: %s: %s%s", cmd_name, what, strerror(err),
		    verbose ? "" : " (gmemctl -d shows libbpf's messages)");
}
