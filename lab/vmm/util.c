// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: messages, errors, the ioctl and mmap wrappers, time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "host.h"

bool quiet;

static void vsay(const char *fmt, va_list ap)
{
	fputs("gmem-vmm: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
}

/* A line of the run, unless --quiet. */
__printf(1, 2) void event(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

/* A line printed even with --quiet. */
__printf(1, 2) void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

__printf(2, 3) __noreturn void die_code(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	fputs("gmem-vmm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

/* One line naming the failed call and errno, then exit(1). */
__noreturn void die_errno(const char *what)
{
	int err = errno;

	die("%s failed: %s", what, strerror(err));
}

int __xioctl(int fd, unsigned long req, const char *name, unsigned long arg)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		die_errno(name);
	return r;
}

u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void *xmmap(size_t size, int flags, const char *what)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		die_errno(what);
	return p;
}
