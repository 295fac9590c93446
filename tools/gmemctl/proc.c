// SPDX-License-Identifier: GPL-2.0
/*
 * Finding guest_memfds through /proc: the fds of a process that are
 * guest_memfds (their link reads "anon_inode:[kvm-gmem]"), a copy of one
 * taken with pidfd_getfd(2), and the processes that map one
 * (/proc/PID/maps lines with its device and inode number).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "gmemctl.h"

#define GMEM_LINK	"anon_inode:[kvm-gmem]"
#define PTRACE_HINT	"needs ptrace access to the process: the same user " \
			"(and a Yama ptrace_scope that allows it), or " \
			"CAP_SYS_PTRACE; try as root"

int parse_target(const char *arg, struct target *t)
{
	char *end;
	long pid, fd = -1;

	errno = 0;
	pid = strtol(arg, &end, 10);
	if (errno || end == arg || pid <= 0 || pid > INT_MAX)
		goto bad;
	if (*end == ':') {
		const char *f = end + 1;

		fd = strtol(f, &end, 10);
		if (errno || end == f || fd < 0 || fd > INT_MAX)
			goto bad;
	}
	if (*end)
		goto bad;
	t->pid = pid;
	t->fd = fd;
	return 0;
bad:
	return -p_err(EXIT_USAGE, "'%s' is not PID or PID:FD", arg);
}

bool pid_alive(pid_t pid)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return !access(path, F_OK);
}

static void read_small(const char *path, char *buf, size_t len, bool nul_to_space)
{
	ssize_t n;
	int fd;

	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		buf[--n] = '\0';
	if (nul_to_space)
		for (ssize_t i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
}

void pid_comm(pid_t pid, char *buf, size_t len)
{
	char path[40];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	read_small(path, buf, len, false);
}

void pid_cmdline(pid_t pid, char *buf, size_t len)
{
	char path[40];

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	read_small(path, buf, len, true);
}

/*
 * The guest_memfds among the fds of @pid, at most @max in @out; their
 * number, or -errno of opening /proc/PID/fd.
 */
static int scan_pid_fds(pid_t pid, struct gmem_fd *out, int max)
{
	char path[40], link[64];
	struct dirent *de;
	struct stat st;
	int n = 0, dfd;
	ssize_t len;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		len = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, GMEM_LINK))
			continue;
		if (fstatat(dfd, de->d_name, &st, 0))
			continue;	/* closed meanwhile */
		if (n < max) {
			out[n].pid = pid;
			out[n].fd = atoi(de->d_name);
			out[n].ino = st.st_ino;
			out[n].dev = st.st_dev;
		}
		n++;
	}
	closedir(d);
	return n;
}

int pid_gmem_fds(pid_t pid, struct gmem_fd *out, int max)
{
	int n = scan_pid_fds(pid, out, max);

	if (n >= 0)
		return n;
	if (n == -ENOENT || !pid_alive(pid))
		return -p_err(EXIT_NOTFOUND, "pid %d: no such process", pid);
	if (n == -EACCES || n == -EPERM)
		return -p_err(EXIT_NOPERM, "pid %d: cannot read /proc/%d/fd: %s (%s)",
			     pid, pid, strerror(-n), PTRACE_HINT);
	return -p_err(EXIT_FAIL, "pid %d: cannot read /proc/%d/fd: %s", pid, pid,
		     strerror(-n));
}

int all_gmem_fds(struct gmem_fd **out, int *nr_unreadable)
{
	struct gmem_fd *v = NULL, *nv;
	int n = 0, cap = 0, got;
	struct dirent *de;
	DIR *d;

	*nr_unreadable = 0;
	d = opendir("/proc");
	if (!d)
		return -p_err(EXIT_FAIL, "cannot read /proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		for (;;) {
			got = scan_pid_fds(pid, v + n, cap - n);
			if (got <= cap - n)
				break;
			cap = cap * 2 + got + 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -p_err(EXIT_FAIL, "out of memory");
			}
			v = nv;
		}
		if (got == -EACCES || got == -EPERM)
			(*nr_unreadable)++;
		if (got > 0)
			n += got;
	}
	closedir(d);
	*out = v;
	return n;
}

int pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_getfd(int pidfd, int fd, unsigned int flags)
{
	return syscall(SYS_pidfd_getfd, pidfd, fd, flags);
}

int open_target(const struct target *t, struct gmem_fd *g)
{
	struct gmem_fd fds[64];
	char path[48], link[128], list[160] = "";
	int n, i, pidfd, fd, err;
	struct stat st;
	ssize_t len;

	n = pid_gmem_fds(t->pid, fds, ARRAY_SIZE(fds));
	if (n < 0)
		return n;
	if (t->fd < 0) {
		if (n == 0)
			return -p_err(EXIT_NOTFOUND, "pid %d: no guest_memfd (is it a KVM VMM?)",
				     t->pid);
		if (n > 1) {
			for (i = 0; i < n && i < (int)ARRAY_SIZE(fds); i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list),
					 "%s%d:%d", i ? ", " : "", t->pid, fds[i].fd);
			return -p_err(EXIT_USAGE,
				      "pid %d: %d guest_memfds (%s): name one as PID:FD",
				      t->pid, n, list);
		}
		*g = fds[0];
	} else {
		for (i = 0; i < n && i < (int)ARRAY_SIZE(fds); i++)
			if (fds[i].fd == t->fd)
				break;
		if (i == n || i == (int)ARRAY_SIZE(fds)) {
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", t->pid, t->fd);
			len = readlink(path, link, sizeof(link) - 1);
			if (len < 0)
				return -p_err(EXIT_NOTFOUND, "pid %d: no fd %d", t->pid,
					     t->fd);
			link[len] = '\0';
			return -p_err(EXIT_NOTFOUND,
				     "pid %d: fd %d is not a guest_memfd (it is %s)%s",
				     t->pid, t->fd, link,
				     n ? "" : "; the process has none (is it a KVM VMM?)");
		}
		*g = fds[i];
	}

	pidfd = pidfd_open(t->pid, 0);
	if (pidfd < 0) {
		err = errno;
		if (err == ESRCH)
			return -p_err(EXIT_NOTFOUND, "pid %d: exited", t->pid);
		return -p_err(EXIT_FAIL, "pid %d: pidfd_open(2): %s (needs Linux 5.3 or later)",
			     t->pid, strerror(err));
	}
	fd = pidfd_getfd(pidfd, g->fd, 0);
	err = errno;
	close(pidfd);
	if (fd < 0) {
		switch (err) {
		case EPERM:
		case EACCES:
			return -p_err(EXIT_NOPERM,
				     "pid %d: cannot take a copy of its fd %d with pidfd_getfd(2): %s (%s)",
				     t->pid, g->fd, strerror(err), PTRACE_HINT);
		case ESRCH:
			return -p_err(EXIT_NOTFOUND, "pid %d: exited", t->pid);
		case EBADF:
			return -p_err(EXIT_NOTFOUND, "pid %d: fd %d was closed meanwhile",
				     t->pid, g->fd);
		}
		return -p_err(EXIT_FAIL,
			     "pid %d: pidfd_getfd(2) of fd %d: %s (needs Linux 5.6 or later)",
			     t->pid, g->fd, strerror(err));
	}
	pid_comm(t->pid, g->comm, sizeof(g->comm));
	if (fstat(fd, &st) || st.st_ino != g->ino || st.st_dev != g->dev) {
		close(fd);
		return -p_err(EXIT_FAIL,
			     "pid %d: fd %d changed while it was being copied; try again",
			     t->pid, g->fd);
	}
	return fd;
}

int find_mappings(dev_t dev, uint64_t ino, struct gmem_mapping **out,
		  int *nr_unreadable)
{
	struct gmem_mapping *v = NULL, *nv;
	int n = 0, cap = 0;
	struct dirent *de;
	char path[48], line[512];
	DIR *d;

	*nr_unreadable = 0;
	d = opendir("/proc");
	if (!d)
		return -p_err(EXIT_FAIL, "cannot read /proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		char comm[16] = "";
		bool any = false;
		pid_t pid;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		f = fopen(path, "re");
		if (!f) {
			if (errno == EACCES || errno == EPERM)
				(*nr_unreadable)++;
			continue;
		}
		errno = 0;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long start, end, off, l_ino;
			unsigned int maj, min;
			char perms[5];

			if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu", &start,
				   &end, perms, &off, &maj, &min, &l_ino) != 7)
				continue;
			if (l_ino != ino || maj != major(dev) || min != minor(dev))
				continue;
			if (n == cap) {
				cap = cap * 2 + 8;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					fclose(f);
					closedir(d);
					free(v);
					return -p_err(EXIT_FAIL, "out of memory");
				}
				v = nv;
			}
			if (!any)
				pid_comm(pid, comm, sizeof(comm));
			any = true;
			v[n].pid = pid;
			memcpy(v[n].comm, comm, sizeof(comm));
			v[n].start = start;
			v[n].end = end;
			v[n].pgoff = off;
			memcpy(v[n].perms, perms, sizeof(perms));
			n++;
		}
		/* The open succeeds for anyone; the read is what checks. */
		if (ferror(f) && (errno == EACCES || errno == EPERM))
			(*nr_unreadable)++;
		fclose(f);
	}
	closedir(d);
	*out = v;
	return n;
}

long pages_present(pid_t pid, uint64_t addr, uint64_t len)
{
	uint64_t buf[512], i, done = 0, n;
	char path[48];
	long present = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = len / PAGE_SZ;
	while (done < n) {
		uint64_t chunk = n - done < ARRAY_SIZE(buf) ? n - done : ARRAY_SIZE(buf);

		got = pread(fd, buf, chunk * 8, (addr / PAGE_SZ + done) * 8);
		if (got <= 0) {
			present = got < 0 ? -errno : present;
			break;
		}
		for (i = 0; i < (uint64_t)got / 8; i++)
			present += !!(buf[i] & (1ULL << 63));
		done += got / 8;
	}
	close(fd);
	return present;
}
