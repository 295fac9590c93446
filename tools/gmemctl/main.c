// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl: look at the guest_memfds of a host, bpftool style.
 *
 *   gmemctl [OPTIONS] OBJECT COMMAND [ARGS]
 *   gmemctl [OPTIONS] COMMAND [ARGS]     (the short forms: list, layout,
 *                                          pins, latency, watch)
 *
 * Objects and commands may be abbreviated to any unique prefix; "help"
 * works at every level.  Options may come anywhere; those of one command
 * are refused by the others.  Documentation/gmemctl.rst is the manual.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "gmemctl.h"
#include "gmemctl_bpf.h"

#ifndef GMEMCTL_VERSION
#define GMEMCTL_VERSION "unknown"
#endif

/* ---- help ----------------------------------------------------------------- */

#define HELP_OPTIONS \
		"       OPTIONS := { -j|--json [-p|--pretty] | -d|--debug | -h|--help |\n" \
		"                    -V|--version }\n"

static void usage_main(FILE *f)
{
	fprintf(f,
		"Usage: gmemctl [OPTIONS] OBJECT { COMMAND | help }\n"
		"       gmemctl [OPTIONS] { list | layout | pins | latency | watch } ...\n"
		"       gmemctl help\n"
		"\n"
		"       OBJECT := { file | conversion | feature }\n"
		HELP_OPTIONS
		"\n"
		"Look at the guest_memfds of this host: which exist (list), the private,\n"
		"shared and allocated parts of one (layout), what blocks their conversion\n"
		"to private (pins), how long conversions take (latency), and each\n"
		"conversion, denial and fault as it happens (watch).  `gmemctl OBJECT help`\n"
		"for each object's commands; man gmemctl for the rest.\n");
}

static void usage_file(FILE *f)
{
	fprintf(f,
		"Usage: gmemctl file { list | help }\n"
		"       gmemctl file layout PID[:FD] [--map | --table] [--width N]\n"
		"                                    [--chunk SIZE]\n"
		"       gmemctl file pins [PID[:FD]] [--trace SECONDS]\n"
		"\n"
		"       PID      a process holding a guest_memfd (a VMM); with only one\n"
		"                guest_memfd, PID is enough, else name it as PID:FD\n"
		HELP_OPTIONS
		"\n"
		"list    every guest_memfd of the host, its VM, VMM, size and page counts\n"
		"        (the \"guest_memfd\" BPF iterator; needs CAP_BPF and CAP_PERFMON)\n"
		"layout  one file's regions as a table and a map (KVM_GUEST_MEMFD_SCAN on\n"
		"        a copy of the VMM's fd: needs ptrace access to the VMM)\n"
		"pins    the ranges that would refuse a conversion to private, the\n"
		"        processes that map them; --trace also records, for SECONDS, the\n"
		"        tasks and kernel stacks that take references and pins on them\n");
}

static void usage_conversion(FILE *f)
{
	fprintf(f,
		"Usage: gmemctl conversion latency [PID[:FD]] [--interval S] [--count N]\n"
		"                                  [--duration S]\n"
		"       gmemctl conversion watch [PID[:FD]] [--events LIST] [--count N]\n"
		"                                [--duration S]\n"
		"       gmemctl conversion help\n"
		"\n"
		"       LIST := { convert | denied | host_fault | kvm_fault | fault |\n"
		"                 split | merge | fallback | alloc | all } joined by commas\n"
		"               (fault: host_fault,kvm_fault; fallback: the allocations\n"
		"               that got no huge folio, alloc: every allocation)\n"
		HELP_OPTIONS
		"\n"
		"latency  log2 histograms of conversion latency by direction and size\n"
		"         (from gmem_convert_start to gmem_convert, in the same thread),\n"
		"         until Ctrl-C, --duration, or every --interval seconds (--count\n"
		"         times)\n"
		"watch    one line per conversion, denial (with its reason), fault and\n"
		"         huge folio split, merge or fallback, until Ctrl-C, --duration\n"
		"         or --count events\n"
		"Both need CAP_BPF and CAP_PERFMON; PID[:FD] limits them to that VMM's\n"
		"guest_memfd(s).\n");
}

static void usage_feature(FILE *f)
{
	fprintf(f,
		"Usage: gmemctl feature { probe | help }\n"
		HELP_OPTIONS
		"\n"
		"probe   what this kernel and this user can do: the KVM capabilities\n"
		"        (KVM_CAP_GUEST_MEMFD_FLAGS, _MEMORY_ATTRIBUTES, _SCAN), the\n"
		"        guest_memfd iterator, the gmem tracepoints, the GUP functions\n"
		"        that pins --trace probes, and the privileges held\n");
}

/* The usage on stdout; in JSON, as the document {"help": "TEXT"}. */
static int help(void (*usage)(FILE *f))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!json_output) {
		usage(stdout);
		return EXIT_OK;
	}
	f = open_memstream(&text, &len);
	if (!f)
		return p_err(EXIT_FAIL, "out of memory");
	usage(f);
	fclose(f);
	json_obj_begin(&jw);
	json_kv_str(&jw, "help", text);
	json_obj_end(&jw);
	free(text);
	return EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------- */

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	unsigned int opts;		/* OPT_* that apply */
	const char *full;		/* "file list", for messages */
};

struct object {
	const char *name;
	const struct cmd *cmds;
	void (*usage)(FILE *f);
	const char *dflt;		/* command when none is given */
};

static const struct cmd file_cmds[] = {
	{ "list", cmd_file_list, 0, "file list" },
	{ "layout", cmd_file_layout, OPT_WIDTH | OPT_CHUNK | OPT_MAP | OPT_TABLE,
	  "file layout" },
	{ "pins", cmd_file_pins, OPT_TRACE, "file pins" },
	{ NULL },
};

static const struct cmd conversion_cmds[] = {
	{ "latency", cmd_conversion_latency,
	  OPT_INTERVAL | OPT_COUNT | OPT_DURATION, "conversion latency" },
	{ "watch", cmd_conversion_watch, OPT_EVENTS | OPT_COUNT | OPT_DURATION,
	  "conversion watch" },
	{ NULL },
};

static const struct cmd feature_cmds[] = {
	{ "probe", cmd_feature_probe, 0, "feature probe" },
	{ NULL },
};

static const struct object objects[] = {
	{ "file", file_cmds, usage_file, "list" },
	{ "conversion", conversion_cmds, usage_conversion, NULL },
	{ "feature", feature_cmds, usage_feature, "probe" },
	{ NULL },
};

/* The short forms: gmemctl list == gmemctl file list, ... */
static const struct {
	const char *name;
	const char *object;
} aliases[] = {
	{ "list", "file" },
	{ "layout", "file" },
	{ "pins", "file" },
	{ "latency", "conversion" },
	{ "watch", "conversion" },
};

/*
 * Index of the name that @word is, or is the only one to start with, among
 * @n names; -1 if none, -2 if several (listed in @amb).
 */
static int match(const char *word, const char *const *names, int n,
		 char *amb, size_t amb_len)
{
	size_t len = strlen(word);
	int i, found = -1, nr = 0;

	for (i = 0; i < n; i++)
		if (!strcmp(word, names[i]))
			return i;
	amb[0] = '\0';
	for (i = 0; i < n && len; i++) {
		if (strncmp(word, names[i], len))
			continue;
		found = i;
		nr++;
		snprintf(amb + strlen(amb), amb_len - strlen(amb), "%s%s",
			 nr > 1 ? ", " : "", names[i]);
	}
	return nr > 1 ? -2 : found;
}

static const char *const opt_names[] = {
	"--interval", "--count", "--trace", "--width", "--chunk", "--map",
	"--table", "--events", "--duration",
};

static int run_cmd(const struct object *obj, int argc, char **argv)
{
	const char *names[8];
	char amb[128];
	const char *word;
	int n = 0, i;
	unsigned int bad;

	while (obj->cmds[n].name)
		n++;
	for (i = 0; i < n; i++)
		names[i] = obj->cmds[i].name;
	names[n] = "help";

	word = argc > 0 ? argv[0] : obj->dflt;
	if (!word) {
		char list[128] = "";

		for (i = 0; i < n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 "%s, ", names[i]);
		return p_err(EXIT_USAGE, "%s: which command? (%shelp)", obj->name,
			    list);
	}
	i = match(word, names, n + 1, amb, sizeof(amb));
	if (i == -2)
		return p_err(EXIT_USAGE, "%s: ambiguous command '%s' (%s)",
			    obj->name, word, amb);
	if (i < 0)
		return p_err(EXIT_USAGE, "%s: unknown command '%s' (try 'gmemctl %s help')",
			    obj->name, word, obj->name);
	if (i == n || (argc > 1 && !strcmp(argv[1], "help")))
		return help(obj->usage);
	bad = opts.given & ~obj->cmds[i].opts;
	if (bad) {
		for (n = 0; !(bad & (1U << n)); n++)
			;
		return p_err(EXIT_USAGE, "option %s does not apply to '%s' (try 'gmemctl %s help')",
			    opt_names[n], obj->cmds[i].full, obj->name);
	}
	cmd_name = obj->cmds[i].full;
	return obj->cmds[i].fn(argc > 0 ? argc - 1 : 0, argc > 0 ? argv + 1 : argv);
}

static int dispatch(int argc, char **argv)
{
	const char *names[ARRAY_SIZE(objects) + ARRAY_SIZE(aliases) + 1];
	int nobj = ARRAY_SIZE(objects) - 1, n = 0, i;
	char amb[160];
	const struct object *obj;

	if (argc < 1) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < nobj; i++)
		names[n++] = objects[i].name;
	names[n++] = "help";
	for (i = 0; i < (int)ARRAY_SIZE(aliases); i++)
		names[n++] = aliases[i].name;

	i = match(argv[0], names, n, amb, sizeof(amb));
	if (i == -2)
		return p_err(EXIT_USAGE, "ambiguous object or command '%s' (%s)",
			    argv[0], amb);
	if (i < 0)
		return p_err(EXIT_USAGE, "unknown object or command '%s' (try 'gmemctl help')",
			    argv[0]);
	if (i == nobj)
		return help(usage_main);
	if (i < nobj)
		return run_cmd(&objects[i], argc - 1, argv + 1);

	/* A short form: the object's command of that name, with its args. */
	i -= nobj + 1;
	for (obj = objects; strcmp(obj->name, aliases[i].object); obj++)
		;
	argv[0] = (char *)aliases[i].name;
	return run_cmd(obj, argc, argv);
}

/* ---- options --------------------------------------------------------------- */

enum {
	LOPT_INTERVAL = 256,
	LOPT_TRACE,
	LOPT_WIDTH,
	LOPT_CHUNK,
	LOPT_MAP,
	LOPT_TABLE,
	LOPT_DURATION,
};

static int parse_double(const char *opt, const char *arg, double max,
			double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v > 0) || v > max)
		return -p_err(EXIT_USAGE, "%s: '%s' is not a number of seconds in (0, %g]",
			    opt, arg, max);
	*out = v;
	return 0;
}

static int parse_long(const char *opt, const char *arg, long min, long max,
		      long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		return -p_err(EXIT_USAGE, "%s: '%s' is not a number in [%ld, %ld]",
			    opt, arg, min, max);
	*out = v;
	return 0;
}

/* "16K", "2M", "4096": bytes, a multiple of the page size. */
static int parse_size(const char *opt, const char *arg, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg)
		goto bad;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10; end++; break;
	case 'm': case 'M':
		v <<= 20; end++; break;
	case 'g': case 'G':
		v <<= 30; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || !v || v % PAGE_SZ)
		goto bad;
	*out = v;
	return 0;
bad:
	return -p_err(EXIT_USAGE, "%s: '%s' is not a size in pages (4K, 64K, 2M, ...)",
		    opt, arg);
}

/*
 * --events LIST: the GMEMCTL_WANT() bits in *@out, and in *@optional those
 * that only "all" asked for (watch leaves them out where the kernel lacks
 * them).
 */
static int parse_events(const char *arg, unsigned int *out,
			unsigned int *optional)
{
	static const struct {
		const char *name;
		unsigned int bits;
	} names[] = {
		{ "convert", GMEMCTL_WANT(GMEMCTL_EV_CONVERT) },
		{ "denied", GMEMCTL_WANT(GMEMCTL_EV_DENIED) },
		{ "host_fault", GMEMCTL_WANT(GMEMCTL_EV_HOST_FAULT) },
		{ "kvm_fault", GMEMCTL_WANT(GMEMCTL_EV_KVM_FAULT) },
		{ "fault", GMEMCTL_WANT(GMEMCTL_EV_HOST_FAULT) |
			   GMEMCTL_WANT(GMEMCTL_EV_KVM_FAULT) },
		{ "split", GMEMCTL_WANT(GMEMCTL_EV_SPLIT) },
		{ "merge", GMEMCTL_WANT(GMEMCTL_EV_MERGE) },
		{ "fallback", GMEMCTL_WANT(GMEMCTL_EV_ALLOC) },
		{ "alloc", GMEMCTL_WANT(GMEMCTL_EV_ALLOC) | GMEMCTL_WANT_ALLOC_ALL },
		{ "all", WATCH_DEFAULT_EVENTS | GMEMCTL_WANT_ALLOC_ALL },
	};
	char *copy = strdup(arg), *save = NULL, *w;
	unsigned int bits = 0, named = 0, all = 0, i;

	if (!copy)
		return -p_err(EXIT_FAIL, "out of memory");
	for (w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			if (!strcmp(w, names[i].name))
				break;
		if (i == ARRAY_SIZE(names)) {
			p_err(EXIT_USAGE,
			      "--events: unknown event '%s' (convert, denied, host_fault, kvm_fault, fault, split, merge, fallback, alloc, all)",
			      w);
			free(copy);
			return -EXIT_USAGE;
		}
		if (!strcmp(w, "all"))
			all |= names[i].bits;
		else
			named |= names[i].bits;
	}
	free(copy);
	bits = named | all;
	if (!bits)
		return -p_err(EXIT_USAGE, "--events: no event named");
	*out = bits;
	*optional = all & ~named;
	return 0;
}

static void version(void)
{
	if (json_output) {
		json_obj_begin(&jw);
		json_kv_str(&jw, "version", GMEMCTL_VERSION);
		json_kv_str(&jw, "libbpf", libbpf_version_string());
		json_obj_end(&jw);
		return;
	}
	printf("gmemctl %s (libbpf %s)\n", GMEMCTL_VERSION,
	       libbpf_version_string());
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "events", required_argument, NULL, 'e' },
		{ "trace", required_argument, NULL, LOPT_TRACE },
		{ "width", required_argument, NULL, 'w' },
		{ "chunk", required_argument, NULL, LOPT_CHUNK },
		{ "map", no_argument, NULL, LOPT_MAP },
		{ "table", no_argument, NULL, LOPT_TABLE },
		{ "duration", required_argument, NULL, LOPT_DURATION },
		{ NULL },
	};
	bool pretty = false, show_help = false, show_version = false;
	int c, rc = EXIT_OK;

	json_init(&jw, stdout, false);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jpdhVi:c:e:w:", lopts, NULL)) != -1) {
		long v;

		switch (c) {
		case 'j':
			json_output = true;
			break;
		case 'p':
			json_output = true;
			pretty = true;
			break;
		case 'd':
			verbose = true;
			break;
		case 'h':
			show_help = true;
			break;
		case 'V':
			show_version = true;
			break;
		case 'i':
			opts.given |= OPT_INTERVAL;
			rc = -parse_double("--interval", optarg, 86400, &opts.interval);
			break;
		case 'c':
			opts.given |= OPT_COUNT;
			rc = -parse_long("--count", optarg, 1, 1000000000, &opts.count);
			break;
		case 'e':
			opts.given |= OPT_EVENTS;
			rc = -parse_events(optarg, &opts.events,
					   &opts.events_optional);
			break;
		case LOPT_TRACE:
			opts.given |= OPT_TRACE;
			rc = -parse_double("--trace", optarg, 86400, &opts.trace);
			break;
		case 'w':
			opts.given |= OPT_WIDTH;
			rc = -parse_long("--width", optarg, 16, 4096, &v);
			opts.width = v;
			break;
		case LOPT_CHUNK:
			opts.given |= OPT_CHUNK;
			rc = -parse_size("--chunk", optarg, &opts.chunk);
			break;
		case LOPT_MAP:
			opts.given |= OPT_MAP;
			break;
		case LOPT_TABLE:
			opts.given |= OPT_TABLE;
			break;
		case LOPT_DURATION:
			opts.given |= OPT_DURATION;
			rc = -parse_double("--duration", optarg, 86400 * 365,
					  &opts.duration);
			break;
		case '?':
		default:
			if (optopt && (optopt >= 256 || strchr("icew", optopt)))
				rc = p_err(EXIT_USAGE, "option %s needs a value",
					   argv[optind - 1]);
			else if (optopt)
				rc = p_err(EXIT_USAGE, "unknown option -%c (try 'gmemctl help')",
					   optopt);
			else
				rc = p_err(EXIT_USAGE,
					   "unknown option or missing value: %s (try 'gmemctl help')",
					   argv[optind - 1]);
			break;
		}
		if (rc)
			goto out;
	}
	jw.pretty = pretty;
	setup_libbpf();

	if (show_version) {
		version();
	} else if (show_help) {
		rc = help(usage_main);
	} else {
		argc -= optind;
		argv += optind;
		rc = dispatch(argc, argv);
	}
out:
	if (json_output) {
		jw.pretty = pretty;
		if (rc && !jw.started) {
			json_obj_begin(&jw);
			json_kv_str(&jw, "error", last_error()[0] ? last_error() :
				    "failed");
			json_kv_u64(&jw, "exit_status", rc);
			json_obj_end(&jw);
		}
		json_finish(&jw);
		if (jw.misuse)
			p_err(EXIT_FAIL, "internal error: malformed JSON output");
	}
	if (fflush(stdout) || ferror(stdout)) {
		int err = errno;

		p_err(EXIT_FAIL, "writing the output: %s", strerror(err));
		if (!rc)
			rc = EXIT_FAIL;
	}
	return rc;
}
