// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: the command line, and the defaults it changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static void print_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [options]\n"
		"Run a KVM_X86_SW_PROTECTED_VM guest with guest_memfd-backed private\n"
		"memory and convert a bounce buffer shared<->private every round.\n"
		"\n"
		"  -m, --mem MiB          size of the guest_memfd data region (default 16,\n"
		"                         max %d)\n"
		"  -r, --rounds N         conversion rounds (default 4)\n"
		"  -l, --loop             repeat rounds until SIGINT/SIGTERM\n"
		"  -b, --bounce-pages N   pages per bounce buffer (default 4)\n"
		"      --mode MODE        how to convert: in-place (KVM_SET_MEMORY_ATTRIBUTES2\n"
		"                         on a guest_memfd with GUEST_MEMFD_FLAG_MMAP, one copy\n"
		"                         of each page) or vm-attributes (the VM's\n"
		"                         KVM_SET_MEMORY_ATTRIBUTES, two copies); default\n"
		"                         in-place if this VM type supports it\n"
		"      --deny-round N     in place: in round N (default 2; 0: never) pin a\n"
		"                         page of the shared bounce buffer with gup_test,\n"
		"                         show the conversion back to private refused with\n"
		"                         EAGAIN, unpin and retry\n"
		"  -q, --quiet            only print the summary (and errors)\n"
		"  -p, --pause            once the guest has accepted its memory, print\n"
		"                         \"ready pid=<pid> gmem_fd=<fd> vm_fd=<fd>\" and\n"
		"                         wait for a newline on stdin or SIGUSR1\n"
		"  -h, --help             this help\n"
		"\n"
		"Exit status: 0 ok, 1 error/guest check failed, 2 usage, 4 skip (no\n"
		"capable KVM), 128+sig if a finite run was interrupted.\n",
		prog, GMEM_DATA_MAX_MIB);
}

static u64 parse_num(const char *prog, const char *name, const char *s,
		     u64 min, u64 max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "%s: invalid %s '%s' (allowed %llu..%llu)\n",
			prog, name, s, (unsigned long long)min,
			(unsigned long long)max);
		exit(2);
	}
	return v;
}

enum { OPT_MODE = 0x100, OPT_DENY_ROUND };

static enum conv_mode parse_mode(const char *prog, const char *s)
{
	if (!strcmp(s, "in-place"))
		return MODE_IN_PLACE;
	if (!strcmp(s, "vm-attributes"))
		return MODE_VM_ATTRIBUTES;
	if (!strcmp(s, "auto"))
		return MODE_AUTO;
	fprintf(stderr, "%s: invalid --mode '%s' (in-place, vm-attributes or auto)\n",
		prog, s);
	exit(2);
}

static void parse_options(struct options *opt, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mem",          required_argument, NULL, 'm' },
		{ "rounds",       required_argument, NULL, 'r' },
		{ "loop",         no_argument,       NULL, 'l' },
		{ "bounce-pages", required_argument, NULL, 'b' },
		{ "mode",         required_argument, NULL, OPT_MODE },
		{ "deny-round",   required_argument, NULL, OPT_DENY_ROUND },
		{ "quiet",        no_argument,       NULL, 'q' },
		{ "pause",        no_argument,       NULL, 'p' },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL,           0,                 NULL, 0 },
	};
	const char *prog = argv[0];
	int c;

	opt->mem_mib = 16;
	opt->rounds = 4;
	opt->bounce_pages = 4;
	opt->deny_round = 2;
	opt->mode = MODE_AUTO;

	while ((c = getopt_long(argc, argv, "m:r:lb:qph", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'm':
			opt->mem_mib = parse_num(prog, "--mem", optarg, 1,
						 GMEM_DATA_MAX_MIB);
			break;
		case 'r':
			opt->rounds = parse_num(prog, "--rounds", optarg, 1,
						LLONG_MAX);
			break;
		case 'l':
			opt->loop = true;
			break;
		case 'b':
			opt->bounce_pages = parse_num(prog, "--bounce-pages",
						      optarg, 1, ULONG_MAX);
			break;
		case OPT_MODE:
			opt->mode = parse_mode(prog, optarg);
			break;
		case OPT_DENY_ROUND:
			opt->deny_round = parse_num(prog, "--deny-round", optarg,
						    0, LLONG_MAX);
			break;
		case 'q':
			opt->quiet = true;
			break;
		case 'p':
			opt->pause = true;
			break;
		case 'h':
			print_usage(stdout, prog);
			exit(0);
		default:
			print_usage(stderr, prog);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
			argv[optind]);
		print_usage(stderr, prog);
		exit(2);
	}
	if (opt->bounce_pages > (opt->mem_mib << 20) >> GMEM_PAGE_SHIFT) {
		fprintf(stderr, "%s: --bounce-pages %llu exceeds the %llu MiB data region\n",
			prog, (unsigned long long)opt->bounce_pages,
			(unsigned long long)opt->mem_mib);
		exit(2);
	}
}

/*
 * The VMM before its VM: no descriptors yet, the in-place backend's real
 * ioctls (guest-selftest replaces them), stdout line-buffered, and the
 * options of the command line.
 */
void vmm_init(struct vmm *vmm, int argc, char **argv)
{
	memset(vmm, 0, sizeof(*vmm));
	vmm->kvm_fd = -1;
	vmm->vm_fd = -1;
	vmm->vcpu_fd = -1;
	vmm->gmem_fd = -1;
	vmm->gup_fd = -1;
	vmm->set_attributes2 = gmem_set_attributes2;
	vmm->pin = gup_test_pin;
	vmm->unpin = gup_test_unpin;
	vmm->pin_held = gup_test_pin_held;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(&vmm->opt, argc, argv);
	quiet = vmm->opt.quiet;
}
