// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl-test-pin: a pin on a VMM's guest_memfd, held on demand, for
 * lab/tests/gmemctl.sh.
 *
 *   gmemctl-test-pin PID[:FD] [PAGE]
 *
 * Takes a copy of the VMM's guest_memfd (pidfd_getfd), converts page PAGE
 * (default: the last) to shared if it is private, maps it MAP_SHARED and
 * reads it (a read fault: the guest's data is left as it is), then:
 *
 *   prints "ready pid=<pid> offset=<bytes> addr=<addr>", waits for SIGUSR1
 *   or a line on stdin;
 *   pins the page with gup_test (PIN_LONGTERM_TEST_START, a long-term read
 *   pin, as a device's DMA would), prints "pinned ...", waits again;
 *   converts the page to private, which must be refused with EAGAIN and
 *   error_offset at the page (prints "refused ..."); unpins, unmaps, and
 *   converts it back to what it was (prints "restored ...").
 *
 * The guest must not run meanwhile (gmem-vmm --pause): the page is shared
 * while the helper holds it, and its content is kept.  Exit 0 when every
 * step went as it must, 1 otherwise, 4 (skip) without gup_test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/kvm_gmem.h>

#include "gmem_consts.h"

#define PAGE		4096UL

static atomic_int go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void __noreturn __printf(2, 3) die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gmemctl-test-pin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(code);
}

/* Until SIGUSR1 or a line on stdin (EOF: SIGUSR1 only). */
static void wait_go(void)
{
	static int stdin_open = 1;
	sigset_t block, old;
	char c;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	for (;;) {
		sigprocmask(SIG_BLOCK, &block, &old);
		if (go) {
			go = 0;
			sigprocmask(SIG_SETMASK, &old, NULL);
			return;
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (stdin_open) {
			ssize_t n = read(0, &c, 1);

			if (n == 1 && c == '\n')
				return;
			if (n == 0)
				stdin_open = 0;
		} else {
			pause();
		}
	}
}

static int find_gmem_fd(pid_t pid)
{
	char path[300], link[64];
	struct dirent *de;
	int fd = -1, n = 0;
	ssize_t len;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		die(1, "%s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (!strcmp(link, "anon_inode:[kvm-gmem]")) {
			fd = atoi(de->d_name);
			n++;
		}
	}
	closedir(d);
	if (n != 1)
		die(1, "pid %d has %d guest_memfds: name one as PID:FD", pid, n);
	return fd;
}

static int convert(int fd, __u64 offset, int to_private, __u64 *error_offset)
{
	struct kvm_memory_attributes2 attr = {
		.offset = offset,
		.size = PAGE,
		.attributes = to_private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};
	int r = ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &attr);

	if (error_offset)
		*error_offset = attr.error_offset;
	return r ? -errno : 0;
}

/* Whether page @offset is private: KVM_GUEST_MEMFD_SCAN's summary. */
static int is_private(int fd, __u64 offset)
{
	__u64 counts[2] = { 0, 0 };
	struct kvm_guest_memfd_scan scan = {
		.size = sizeof(scan),
		.flags = KVM_GMEM_SCAN_SUMMARY,
		.start = offset,
		.end = offset + PAGE,
		.vec = (__u64)(unsigned long)counts,
		.vec_len = 2,
		.return_mask = KVM_GMEM_PAGE_PRIVATE | KVM_GMEM_PAGE_SHARED,
	};

	if (ioctl(fd, KVM_GUEST_MEMFD_SCAN, &scan) < 0)
		die(1, "KVM_GUEST_MEMFD_SCAN: %s", strerror(errno));
	return counts[0] == 1;
}

int main(int argc, char **argv)
{
	struct pin_longterm_test pin = { 0 };
	__u64 offset, err_off = 0;
	int pidfd, fd, gup, r, was_private, tries;
	struct sigaction sa = { .sa_handler = on_usr1 };
	unsigned char *p;
	unsigned char sum;
	struct stat st;
	char *colon;
	pid_t pid;
	int vfd;

	if (argc < 2 || argc > 3)
		die(2, "usage: gmemctl-test-pin PID[:FD] [PAGE]");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pid = atoi(argv[1]);
	colon = strchr(argv[1], ':');
	vfd = colon ? atoi(colon + 1) : find_gmem_fd(pid);

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die(1, "pidfd_open(%d): %s", pid, strerror(errno));
	fd = syscall(SYS_pidfd_getfd, pidfd, vfd, 0);
	if (fd < 0)
		die(1, "pidfd_getfd(%d, %d): %s", pid, vfd, strerror(errno));
	if (fstat(fd, &st) || st.st_size < (off_t)PAGE)
		die(1, "fstat: bad guest_memfd");
	offset = argc == 3 ? strtoull(argv[2], NULL, 0) * PAGE :
			     (__u64)st.st_size - PAGE;
	if (offset >= (__u64)st.st_size)
		die(2, "page %s beyond the file", argv[2]);

	gup = open(GUP_TEST_FILE, O_RDWR | O_CLOEXEC);
	if (gup < 0)
		die(4, "%s: %s (needs CONFIG_GUP_TEST and debugfs)", GUP_TEST_FILE,
		    strerror(errno));

	was_private = is_private(fd, offset);
	if (was_private) {
		r = convert(fd, offset, 0, NULL);
		if (r)
			die(1, "conversion to shared: %s", strerror(-r));
	}
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, offset);
	if (p == MAP_FAILED)
		die(1, "mmap: %s", strerror(errno));
	/* A read fault maps the page. */
	sum = __atomic_load_n(&p[0], __ATOMIC_RELAXED) ^
	      __atomic_load_n(&p[PAGE - 1], __ATOMIC_RELAXED);
	printf("ready pid=%d ino=%llu offset=0x%llx addr=%p was=%s sum=%u\n",
	       getpid(), (unsigned long long)st.st_ino,
	       (unsigned long long)offset, (void *)p,
	       was_private ? "private" : "shared", sum);
	fflush(stdout);
	wait_go();

	pin.addr = (unsigned long)p;
	pin.size = PAGE;
	if (ioctl(gup, PIN_LONGTERM_TEST_START, &pin))
		die(1, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
	printf("pinned pid=%d offset=0x%llx\n", getpid(),
	       (unsigned long long)offset);
	fflush(stdout);
	wait_go();

	r = convert(fd, offset, 1, &err_off);
	if (r != -EAGAIN || err_off != offset) {
		ioctl(gup, PIN_LONGTERM_TEST_STOP, 0);
		die(1, "converted to private while pinned (%s, error_offset 0x%llx)",
		    r ? strerror(-r) : "no error", (unsigned long long)err_off);
	}
	printf("refused EAGAIN error_offset=0x%llx\n", (unsigned long long)err_off);
	fflush(stdout);

	if (ioctl(gup, PIN_LONGTERM_TEST_STOP, 0))
		die(1, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	munmap((void *)p, PAGE);
	if (was_private) {
		/* A reference may linger a moment (LRU batches): retry. */
		for (tries = 0; tries < 50; tries++) {
			r = convert(fd, offset, 1, NULL);
			if (r != -EAGAIN)
				break;
			usleep(20000);
		}
		if (r)
			die(1, "conversion back to private: %s", strerror(-r));
	}
	printf("restored %s offset=0x%llx\n", was_private ? "private" : "shared",
	       (unsigned long long)offset);
	return 0;
}
