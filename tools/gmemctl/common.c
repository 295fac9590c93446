// SPDX-License-Identifier: GPL-2.0
/*
 * What every part of gmemctl uses, as bpftool's common.c: the global
 * options, the one way to report an error (p_err(), kept for the JSON
 * document's "error" member) or a warning (p_warn()) or a note (p_info()),
 * the stop signals, and the small formatters (sizes, errno names).
 *
 * The convention for errors: the function that sees the error prints it
 * once with p_err() (or bpf_fail(), its form for libbpf's errors), which
 * returns the exit status (EXIT_*); a command (cmd_*(), and main.c's
 * help() and dispatch that run one) returns that status, every other
 * function returns it negated (-EXIT_*), so that 0 or
 * a count means success and a caller returns "-rc" to its command.
 * Nobody else prints an error for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gmemctl.h"

struct options opts;
bool json_output;
bool verbose;
struct json jw;
const char *cmd_name = "";
atomic_int stop_requested;

static char last_err[512];

const char *last_error(void)
{
	return last_err;
}

static void vreport(const char *prefix, const char *fmt, va_list ap,
		    char *keep, size_t len)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One line, whatever the message holds. */
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	fflush(stdout);
	fprintf(stderr, "gmemctl: %s%s\n", prefix, msg);
	if (keep)
		snprintf(keep, len, "%s", msg);
}

int p_err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("", fmt, ap, last_err, sizeof(last_err));
	va_end(ap);
	return code;
}

void p_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap, NULL, 0);
	va_end(ap);
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("", fmt, ap, NULL, 0);
	va_end(ap);
}

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t sum_percpu(int map_fd)
{
	int ncpus = libbpf_num_possible_cpus(), i;
	uint64_t *v, sum = 0;
	uint32_t zero = 0;

	if (ncpus <= 0)
		return 0;
	v = calloc(ncpus, sizeof(*v));
	if (v && !bpf_map_lookup_elem(map_fd, &zero, v))
		for (i = 0; i < ncpus; i++)
			sum += v[i];
	free(v);
	return sum;
}

/**
 * errno_name() - the name of a kernel return value
 * @ret: 0 or a negative errno
 *
 * "ok" for 0, "EAGAIN" for -EAGAIN (from the C library, which knows every
 * errno: no table here to fall behind), "error" for what it does not know.
 */
const char *errno_name(int ret)
{
	const char *name;

	if (!ret)
		return "ok";
	if (ret > 0 || ret <= -4096)
		return "error";
	name = strerrorname_np(-ret);
	return name ? name : "error";
}

/*
 * "4 KiB", "16 MiB", "4092 KiB": the largest unit that holds the size
 * exactly in fewer than 100000 units, else two decimals.
 */
const char *fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = ARRAY_SIZE(units) - 1;

	for (; u > 0; u--) {
		uint64_t unit = 1ULL << (10 * u);

		if (bytes >= unit && !(bytes % unit))
			break;
	}
	if (bytes >> (10 * u) < 100000) {
		snprintf(buf, len, "%llu %s", (unsigned long long)(bytes >> (10 * u)),
			 units[u]);
		return buf;
	}
	for (u = ARRAY_SIZE(units) - 1; u > 0 && bytes < (1ULL << (10 * u)); u--)
		;
	snprintf(buf, len, "%.2f %s", (double)bytes / (1ULL << (10 * u)), units[u]);
	return buf;
}
