// SPDX-License-Identifier: GPL-2.0
/*
 * gmemctl file list: every guest_memfd of the host, from the
 * "guest_memfd" BPF iterator (gmemctl_iter.bpf.c).
 * gmemctl file layout: one file's regions, from KVM_GUEST_MEMFD_SCAN on a
 * copy of the VMM's fd, as a table and as a map.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "gmemctl.h"
#include "gmemctl_bpf.h"
#include "gmemctl_iter.skel.h"

#define MAP_MAX_ROWS	16

/* ---- list ------------------------------------------------------------------ */

/* The names of the KVM_CREATE_GUEST_MEMFD flags gmemctl knows. */
static const struct {
	uint64_t flag;
	const char *name;
} flags[] = {
	{ GUEST_MEMFD_FLAG_MMAP, "mmap" },
	{ GUEST_MEMFD_FLAG_INIT_SHARED, "init_shared" },
	{ GUEST_MEMFD_FLAG_HUGE_PMD, "huge_pmd" },
};

static void json_flags(uint64_t f)
{
	unsigned int i;

	json_arr_begin(&jw);
	for (i = 0; i < ARRAY_SIZE(flags); i++)
		if (f & flags[i].flag)
			json_str(&jw, flags[i].name);
	json_arr_end(&jw);
}

/* "mmap,init_shared", or "-" for none. */
static const char *flag_names(uint64_t f, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(flags) && off < len; i++)
		if (f & flags[i].flag)
			off += snprintf(buf + off, len - off, "%s%s",
					off ? "," : "", flags[i].name);
	return off ? buf : "-";
}

/* Read the whole iterator: records of struct gmemctl_file_rec. */
static int read_iter(struct gmemctl_file_rec **recs, size_t *nr)
{
	struct gmemctl_iter *skel;
	struct bpf_link *link;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	int fd, err, rc = 0;
	ssize_t got;

	skel = gmemctl_iter__open_and_load();
	if (!skel)
		return -bpf_fail("loading the guest_memfd iterator", -errno);
	link = bpf_program__attach_iter(skel->progs.gmemctl_list, NULL);
	if (!link) {
		err = -errno;
		gmemctl_iter__destroy(skel);
		return -bpf_fail("attaching the guest_memfd iterator", err);
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		rc = -bpf_fail("creating the guest_memfd iterator", -errno);
		goto out;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -p_err(EXIT_FAIL, "out of memory");
				goto out;
			}
			buf = nb;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -p_err(EXIT_FAIL, "reading the guest_memfd iterator: %s",
				   strerror(errno));
			goto out;
		}
		if (!got)
			break;
		len += got;
	}
	if (len % sizeof(**recs)) {
		rc = -p_err(EXIT_FAIL,
			   "the guest_memfd iterator returned %zu bytes, not whole records",
			   len);
		goto out;
	}
	*recs = (struct gmemctl_file_rec *)buf;
	*nr = len / sizeof(**recs);
	for (size_t i = 0; i < *nr; i++)
		if ((*recs)[i].magic != GMEMCTL_REC_MAGIC ||
		    (*recs)[i].size != sizeof(**recs)) {
			rc = -p_err(EXIT_FAIL,
				   "the guest_memfd iterator returned a malformed record");
			goto out;
		}
	buf = NULL;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	gmemctl_iter__destroy(skel);
	return rc;
}

/* "pid:fd pid:fd" of the fds that hold file @ino. */
static void holders_str(const struct gmem_fd *fds, int n, uint64_t ino,
			char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		if (fds[i].ino != ino)
			continue;
		off += snprintf(buf + off, len - off, "%s%d:%d", off ? "," : "",
				fds[i].pid, fds[i].fd);
	}
	if (!off)
		snprintf(buf, len, "-");
}

/* A file of the iterator, and its creator as /proc has it now. */
struct list_row {
	const struct gmemctl_file_rec *r;
	char comm[64], cmdline[512];
	bool alive;
};

static void print_list_plain(const struct list_row *row,
			     const struct gmem_fd *fds, int nfds)
{
	const struct gmemctl_file_rec *r = row->r;
	char s[6][32], holders[256], f[64];

	holders_str(fds, nfds, r->ino, holders, sizeof(holders));
	printf("%-4llu %-8llu %-9s %-9s %-9s %-9s %-8s %-8s %-16s %-8.*s %-10s %d %s%s\n",
	       (unsigned long long)r->id,
	       (unsigned long long)r->ino,
	       fmt_size(r->file_size, s[0], sizeof(s[0])),
	       fmt_size(r->nr_private * PAGE_SZ, s[1], sizeof(s[1])),
	       fmt_size(r->nr_shared * PAGE_SZ, s[2], sizeof(s[2])),
	       fmt_size(r->nr_allocated * PAGE_SZ, s[3], sizeof(s[3])),
	       fmt_size(r->nr_mapped * PAGE_SZ, s[4], sizeof(s[4])),
	       fmt_size(r->nr_pinned * PAGE_SZ, s[5], sizeof(s[5])),
	       flag_names(r->flags, f, sizeof(f)), GMEMCTL_VM_NAME_LEN,
	       r->vm_name, holders, r->creator_pid, row->comm,
	       row->alive ? "" : " (exited)");
	/* A file of huge folios: what came of them, on a line of its own. */
	if (!(r->flags & GUEST_MEMFD_FLAG_HUGE_PMD))
		return;
	if (!r->has_huge_stats) {
		printf("     huge folios: not counted by this kernel\n");
		return;
	}
	printf("     huge folios: %llu allocated, %llu fell back to 4 KiB, %llu split",
	       (unsigned long long)r->huge_allocs,
	       (unsigned long long)r->huge_fallbacks,
	       (unsigned long long)r->splits);
	/* A kernel that does not merge split ranges back has no such counts. */
	if (r->has_merge_stats)
		printf(", %llu merged back, %llu merges blocked",
		       (unsigned long long)r->merges,
		       (unsigned long long)r->merges_blocked);
	printf("\n");
}

/*
 * The fds that hold file @ino (and, if @dev, on that device) as a JSON
 * array of {"pid", "fd"}.
 */
void json_fds(const struct gmem_fd *fds, int nfds, uint64_t ino,
	      const dev_t *dev)
{
	int i;

	json_arr_begin(&jw);
	for (i = 0; i < nfds; i++) {
		if (fds[i].ino != ino || (dev && fds[i].dev != *dev))
			continue;
		json_obj_begin(&jw);
		json_kv_s64(&jw, "pid", fds[i].pid);
		json_kv_s64(&jw, "fd", fds[i].fd);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
}

static void print_list_json(const struct list_row *row,
			    const struct gmem_fd *fds, int nfds)
{
	const struct gmemctl_file_rec *r = row->r;
	unsigned int b;

	json_obj_begin(&jw);
	json_kv_u64(&jw, "id", r->id);
	json_kv_u64(&jw, "ino", r->ino);
	json_kv_u64(&jw, "size", r->file_size);
	json_kv_u64(&jw, "flags_raw", r->flags);
	json_key(&jw, "flags");
	json_flags(r->flags);
	json_key(&jw, "vm");
	json_obj_begin(&jw);
	json_key(&jw, "name");
	json_strn(&jw, r->vm_name, GMEMCTL_VM_NAME_LEN);
	json_kv_s64(&jw, "pid", r->vm_pid);
	json_obj_end(&jw);
	json_key(&jw, "vmm");
	json_obj_begin(&jw);
	json_kv_s64(&jw, "pid", r->creator_pid);
	json_kv_str(&jw, "comm", row->comm);
	json_key(&jw, "creator_comm");
	json_strn(&jw, r->creator_comm, GMEMCTL_COMM_LEN);
	json_kv_str(&jw, "cmdline", row->cmdline);
	json_kv_bool(&jw, "alive", row->alive);
	json_obj_end(&jw);
	json_key(&jw, "pages");
	json_obj_begin(&jw);
	json_kv_u64(&jw, "total", r->nr_pages);
	json_kv_u64(&jw, "private", r->nr_private);
	json_kv_u64(&jw, "shared", r->nr_shared);
	json_kv_u64(&jw, "allocated", r->nr_allocated);
	json_kv_u64(&jw, "mapped", r->nr_mapped);
	json_kv_u64(&jw, "pinned", r->nr_pinned);
	json_kv_u64(&jw, "dma_pinned", r->nr_dma_pinned);
	json_obj_end(&jw);
	/* Since the file was created; null: a kernel that does not count. */
	json_key(&jw, "huge_folios");
	if (r->has_huge_stats) {
		json_obj_begin(&jw);
		json_kv_u64(&jw, "allocated", r->huge_allocs);
		json_kv_u64(&jw, "fallbacks", r->huge_fallbacks);
		json_kv_u64(&jw, "splits", r->splits);
		/* null: a kernel that does not merge split ranges back. */
		json_key(&jw, "merges");
		if (r->has_merge_stats)
			json_u64(&jw, r->merges);
		else
			json_null(&jw);
		json_key(&jw, "merges_blocked");
		if (r->has_merge_stats)
			json_u64(&jw, r->merges_blocked);
		else
			json_null(&jw);
		json_obj_end(&jw);
	} else {
		json_null(&jw);
	}
	json_kv_u64(&jw, "nr_bindings", r->nr_bindings);
	json_key(&jw, "bindings");
	json_arr_begin(&jw);
	for (b = 0; b < r->nr_bindings && b < GMEMCTL_MAX_BINDINGS; b++) {
		json_obj_begin(&jw);
		json_kv_s64(&jw, "slot", r->bindings[b].slot & 0xffff);
		json_kv_s64(&jw, "as_id", r->bindings[b].slot >> 16);
		json_kv_u64(&jw, "base_gfn", r->bindings[b].base_gfn);
		json_kv_u64(&jw, "index", r->bindings[b].index);
		json_kv_u64(&jw, "npages", r->bindings[b].npages);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
	json_key(&jw, "fds");
	json_fds(fds, nfds, r->ino, NULL);
	json_obj_end(&jw);
}

int cmd_file_list(int argc, char **argv)
{
	struct gmemctl_file_rec *recs = NULL;
	struct gmem_fd *fds = NULL;
	int nfds, unreadable, rc;
	size_t nr = 0, k;

	if (argc)
		return p_err(EXIT_USAGE, "file list: unexpected argument '%s'", argv[0]);
	if (!kernel_has_btf_type("bpf_iter__guest_memfd", BTF_KIND_STRUCT))
		return p_err(EXIT_NOSUPPORT,
			    "this kernel has no \"guest_memfd\" BPF iterator (needs the gmem series' iterator patch, with CONFIG_KVM_PRIVATE_MEM and CONFIG_BPF_SYSCALL)");
	rc = need_bpf_privileges();
	if (rc)
		return -rc;
	rc = read_iter(&recs, &nr);
	if (rc)
		return -rc;
	/* Who holds each file: an operator's way to name it as PID:FD. */
	nfds = all_gmem_fds(&fds, &unreadable);
	if (nfds < 0)
		nfds = 0;

	if (json_output)
		json_arr_begin(&jw);
	else if (nr)
		printf("%-4s %-8s %-9s %-9s %-9s %-9s %-8s %-8s %-16s %-8s %-10s %s\n",
		       "ID", "INO", "SIZE", "PRIVATE", "SHARED", "ALLOC",
		       "MAPPED", "PINNED", "FLAGS", "VM", "FDS", "VMM");
	else
		printf("no guest_memfd on this host\n");

	for (k = 0; k < nr; k++) {
		struct list_row row = { .r = &recs[k] };

		row.alive = pid_alive(row.r->creator_pid);
		if (row.alive) {
			pid_comm(row.r->creator_pid, row.comm, sizeof(row.comm));
			pid_cmdline(row.r->creator_pid, row.cmdline,
				    sizeof(row.cmdline));
		}
		if (!row.comm[0])
			snprintf(row.comm, sizeof(row.comm), "%.*s",
				 GMEMCTL_COMM_LEN, row.r->creator_comm);
		if (json_output)
			print_list_json(&row, fds, nfds);
		else
			print_list_plain(&row, fds, nfds);
	}
	if (json_output)
		json_arr_end(&jw);
	if (unreadable && nr)
		p_warn("the fds of %d processes could not be read (FDS needs root)",
		       unreadable);
	free(recs);
	free(fds);
	return EXIT_OK;
}

/* ---- layout ---------------------------------------------------------------- */

static int term_width(void)
{
	struct winsize ws;
	const char *c;

	if (opts.width)
		return opts.width;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col >= 16)
		return ws.ws_col;
	c = getenv("COLUMNS");
	if (c && atoi(c) >= 16)
		return atoi(c);
	return 80;
}

static const struct {
	char c;
	const char *what;
} legend[] = {
	{ 'P', "private" },
	{ 'p', "private, hole" },
	{ 'H', "private, in a huge (2 MiB) folio" },
	{ 'S', "shared" },
	{ 's', "shared, hole" },
	{ 'M', "shared, mapped by the host" },
	{ '!', "pinned or referenced (blocks a conversion to private)" },
	{ '+', "private and shared" },
	{ 'X', "hwpoison" },
};

/* The character of a chunk whose pages' categories OR to @c. */
static char map_char(uint64_t c)
{
	bool alloc = c & KVM_GMEM_PAGE_ALLOCATED;

	if (c & KVM_GMEM_PAGE_HWPOISON)
		return 'X';
	if (c & (KVM_GMEM_PAGE_PINNED | KVM_GMEM_PAGE_DMA_PINNED |
		 KVM_GMEM_PAGE_MOVABLE))
		return '!';
	if (c & KVM_GMEM_PAGE_MAPPED)
		return 'M';
	if ((c & KVM_GMEM_PAGE_PRIVATE) && (c & KVM_GMEM_PAGE_SHARED))
		return '+';
	if (c & KVM_GMEM_PAGE_SHARED)
		return alloc ? 'S' : 's';
	if (c & KVM_GMEM_PAGE_HUGE)
		return 'H';
	return alloc ? 'P' : 'p';
}

static void cats_str(uint64_t c, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < CAT_NAMES && off < len; i++)
		if (c & (1ULL << i))
			off += snprintf(buf + off, len - off, "%s%s", off ? " " : "",
					cat_names[i]);
	/* A page is allocated or a hole: say so. */
	if (!(c & KVM_GMEM_PAGE_ALLOCATED) && off < len)
		snprintf(buf + off, len - off, " hole");
}

/* The names of categories @c as a JSON array. */
void json_cats(uint64_t c)
{
	int i;

	json_arr_begin(&jw);
	for (i = 0; i < CAT_NAMES; i++)
		if (c & (1ULL << i))
			json_str(&jw, cat_names[i]);
	json_arr_end(&jw);
}

/* The map's geometry, and the categories of each of its chunks. */
struct map {
	uint64_t chunk;		/* pages per character */
	uint64_t nchunks;
	uint64_t *cats;
	int width, cols, digits;
};

static bool map_build(const struct layout *l, struct map *m)
{
	uint64_t npages = l->size / PAGE_SZ, p;
	int prefix;
	size_t r;

	memset(m, 0, sizeof(*m));
	m->width = term_width();
	m->digits = 1;
	while (m->digits < 16 && (l->size - 1) >> (4 * m->digits))
		m->digits++;
	prefix = 2 + 2 + m->digits + 1;	/* "  0x" digits " " */
	m->cols = (m->width - prefix) / 8 * 8;
	if (m->cols < 8)
		m->cols = 8;
	if (opts.chunk) {
		m->chunk = opts.chunk / PAGE_SZ;
	} else {
		m->chunk = 1;
		while ((npages + m->chunk - 1) / m->chunk > (uint64_t)m->cols * MAP_MAX_ROWS)
			m->chunk *= 2;
	}
	m->nchunks = npages ? (npages + m->chunk - 1) / m->chunk : 0;
	if (m->nchunks > (uint64_t)m->cols * 4096) {
		p_warn("--chunk %llu KiB gives %llu lines: map not shown",
		       (unsigned long long)(m->chunk * 4),
		       (unsigned long long)(m->nchunks / m->cols));
		return false;
	}
	m->cats = calloc(m->nchunks ? m->nchunks : 1, sizeof(*m->cats));
	if (!m->cats)
		return false;
	for (r = 0; r < l->nr_regions; r++) {
		uint64_t first = l->regions[r].start / PAGE_SZ;
		uint64_t last = l->regions[r].end / PAGE_SZ;

		for (p = first / m->chunk; p * m->chunk < last && p < m->nchunks; p++)
			m->cats[p] |= l->regions[r].categories;
	}
	return true;
}

/* The characters of the map's line that starts at chunk @i. */
static void map_line(const struct map *m, uint64_t i, char *line)
{
	uint64_t p;
	int n = 0;

	for (p = i; p < m->nchunks && p < i + m->cols; p++)
		line[n++] = map_char(m->cats[p]);
	line[n] = '\0';
}

static void print_map_plain(const struct map *m)
{
	char s[32], line[4200];
	uint64_t i;
	int n;

	printf("map: one character per %s (%llu page%s), %d per line\n",
	       fmt_size(m->chunk * PAGE_SZ, s, sizeof(s)),
	       (unsigned long long)m->chunk, m->chunk > 1 ? "s" : "", m->cols);
	/* The legend, in lines that fit the width. */
	for (i = 0, n = 0; i < ARRAY_SIZE(legend); i++) {
		int w = 2 + strlen(legend[i].what);

		if (n && n + 3 + w > m->width) {
			printf("\n");
			n = 0;
		}
		n += printf("%s%c %s", n ? "   " : "  ", legend[i].c,
			    legend[i].what);
	}
	printf("\n");
	for (i = 0; i < m->nchunks; i += m->cols) {
		map_line(m, i, line);
		printf("  0x%0*llx %s\n", m->digits,
		       (unsigned long long)(i * m->chunk * PAGE_SZ), line);
	}
}

static void print_map_json(const struct map *m)
{
	char line[4200];
	uint64_t i;

	json_key(&jw, "map");
	json_obj_begin(&jw);
	json_kv_u64(&jw, "chunk_bytes", m->chunk * PAGE_SZ);
	json_kv_u64(&jw, "columns", m->cols);
	json_key(&jw, "legend");
	json_obj_begin(&jw);
	for (i = 0; i < ARRAY_SIZE(legend); i++) {
		char k[2] = { legend[i].c, 0 };

		json_kv_str(&jw, k, legend[i].what);
	}
	json_obj_end(&jw);
	json_key(&jw, "rows");
	json_arr_begin(&jw);
	for (i = 0; i < m->nchunks; i += m->cols) {
		map_line(m, i, line);
		json_obj_begin(&jw);
		json_kv_u64(&jw, "offset", i * m->chunk * PAGE_SZ);
		json_kv_str(&jw, "chars", line);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
	json_obj_end(&jw);
}

static void print_table_plain(const struct layout *l)
{
	char s[32], c[160];
	size_t r;

	printf("%-14s %-14s %-10s %-9s %s\n", "START", "END", "SIZE", "PAGES",
	       "CATEGORIES");
	for (r = 0; r < l->nr_regions; r++) {
		const struct region *g = &l->regions[r];

		cats_str(g->categories, c, sizeof(c));
		printf("0x%-12llx 0x%-12llx %-10s %-9llu %s\n",
		       (unsigned long long)g->start, (unsigned long long)g->end,
		       fmt_size(g->end - g->start, s, sizeof(s)),
		       (unsigned long long)((g->end - g->start) / PAGE_SZ), c);
	}
}

void json_region(const struct region *g)
{
	json_kv_u64(&jw, "start", g->start);
	json_kv_u64(&jw, "end", g->end);
	json_kv_u64(&jw, "pages", (g->end - g->start) / PAGE_SZ);
}

static void print_table_json(const struct layout *l)
{
	size_t r;

	json_key(&jw, "regions");
	json_arr_begin(&jw);
	for (r = 0; r < l->nr_regions; r++) {
		const struct region *g = &l->regions[r];

		json_obj_begin(&jw);
		json_region(g);
		json_key(&jw, "categories");
		json_cats(g->categories);
		json_obj_end(&jw);
	}
	json_arr_end(&jw);
}

/* The file's identity: who holds it, its inode, size; as a line. */
void file_header_plain(const struct gmem_fd *g, const struct layout *l)
{
	char s[32];

	printf("guest_memfd %d:%d (ino %llu) of %s (pid %d): %s, %llu pages\n",
	       g->pid, g->fd, (unsigned long long)g->ino,
	       g->comm[0] ? g->comm : "?", g->pid,
	       fmt_size(l->size, s, sizeof(s)),
	       (unsigned long long)(l->size / PAGE_SZ));
}

/* The same as keys of the open JSON object. */
void file_header_json(const struct gmem_fd *g, const struct layout *l)
{
	json_kv_s64(&jw, "pid", g->pid);
	json_kv_s64(&jw, "fd", g->fd);
	json_kv_str(&jw, "comm", g->comm);
	json_kv_u64(&jw, "ino", g->ino);
	json_kv_u64(&jw, "size", l->size);
}

static void print_totals_plain(const struct layout *l)
{
	int i, first = 1;

	printf("pages:");
	for (i = 0; i < CAT_NAMES; i++) {
		if (!(l->mask & (1ULL << i)))
			continue;
		printf("%s %s %llu", first ? "" : ",", cat_names[i],
		       (unsigned long long)l->counts[i]);
		first = 0;
	}
	printf("\n");
}

/* "pages": {"total", and the count of each category scanned}. */
void json_pages(const struct layout *l)
{
	int i;

	json_key(&jw, "pages");
	json_obj_begin(&jw);
	json_kv_u64(&jw, "total", l->size / PAGE_SZ);
	for (i = 0; i < CAT_NAMES; i++)
		if (l->mask & (1ULL << i))
			json_kv_u64(&jw, cat_names[i], l->counts[i]);
	json_obj_end(&jw);
}

static void layout_plain(const struct gmem_fd *g, const struct layout *l,
			 bool map, bool table)
{
	struct map m;

	file_header_plain(g, l);
	print_totals_plain(l);
	if (map) {
		printf("\n");
		if (map_build(l, &m))
			print_map_plain(&m);
		free(m.cats);
	}
	if (table) {
		printf("\n");
		print_table_plain(l);
	}
}

static void layout_json(const struct gmem_fd *g, const struct layout *l,
			bool map, bool table)
{
	struct map m;

	json_obj_begin(&jw);
	file_header_json(g, l);
	json_pages(l);
	json_kv_u64(&jw, "nr_regions", l->nr_regions);
	if (map) {
		if (map_build(l, &m))
			print_map_json(&m);
		free(m.cats);
	}
	if (table)
		print_table_json(l);
	json_obj_end(&jw);
}

int cmd_file_layout(int argc, char **argv)
{
	bool map = !(opts.given & OPT_TABLE) || (opts.given & OPT_MAP);
	bool table = !(opts.given & OPT_MAP) || (opts.given & OPT_TABLE);
	struct layout l;
	struct target t;
	struct gmem_fd g;
	int fd, rc;

	if (argc != 1)
		return p_err(EXIT_USAGE,
			    "file layout: needs PID or PID:FD (try 'gmemctl file help')");
	if (parse_target(argv[0], &t))
		return EXIT_USAGE;
	fd = open_target(&t, &g);
	if (fd < 0)
		return -fd;
	rc = scan_file(fd, 0, &l);
	close(fd);
	if (rc)
		return -rc;

	if (json_output)
		layout_json(&g, &l, map, table);
	else
		layout_plain(&g, &l, map, table);
	if (!pid_alive(t.pid))
		p_warn("pid %d exited meanwhile: its guest_memfd as it was (gmemctl held a copy)",
		       t.pid);
	layout_free(&l);
	return EXIT_OK;
}

int target_inos(const char *arg, uint64_t *inos, int max, dev_t *dev)
{
	struct gmem_fd fds[256];
	struct target t;
	int n, i, k = 0;

	if (parse_target(arg, &t))
		return -EXIT_USAGE;
	n = pid_gmem_fds(t.pid, fds, ARRAY_SIZE(fds));
	if (n < 0)
		return n;
	if (!n)
		return -p_err(EXIT_NOTFOUND, "pid %d: no guest_memfd (is it a KVM VMM?)",
			     t.pid);
	for (i = 0; i < n && i < (int)ARRAY_SIZE(fds) && k < max; i++) {
		if (t.fd >= 0 && fds[i].fd != t.fd)
			continue;
		inos[k++] = fds[i].ino;
		*dev = fds[i].dev;
	}
	if (!k)
		return -p_err(EXIT_NOTFOUND, "pid %d: fd %d is not a guest_memfd",
			     t.pid, t.fd);
	return k;
}
