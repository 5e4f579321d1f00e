/*
 * /proc/PID/maps and smaps lines -> struct md_vma (range, protection, file
 * identity, kind, VmFlags). Only the VMA header and VmFlags of smaps are
 * used; the page counts of smaps are left to whoever needs them.
 */
#include "memdump/proc.h"
#include "proc/internal.h"
#include "memdump/model.h"
#include "memdump/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>


/*
 * strtoull() would accept leading blanks, a sign and "0x": maps never has
 * them, so anything like that is a malformed line, not a number.
 */
static int parse_hex(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	int d;

	if (proc_hexval(*s) < 0)
		return -EINVAL;
	while ((d = proc_hexval(*s)) >= 0) {
		if (v >> 60)
			return -EINVAL;
		v = (v << 4) | d;
		s++;
	}
	*p = s;
	*ret = v;
	return 0;
}

static int parse_dec(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
		s++;
	}
	*p = s;
	*ret = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum md_vma_kind classify(const char *path, bool deleted, bool shared, uint64_t inode)
{
	if (!path)
		return MD_VMA_ANON;
	if (!strcmp(path, "[vdso]"))
		return MD_VMA_VDSO;
	if (!strcmp(path, "[vvar]"))
		return MD_VMA_VVAR;
	if (!strcmp(path, "[vvar_vclock]"))
		return MD_VMA_VVAR_VCLOCK;
	if (!strcmp(path, "[vsyscall]"))
		return MD_VMA_VSYSCALL;
	/* memfd_create() files live on an internal shmem mount: always "deleted" */
	if (deleted && starts_with(path, "/memfd:"))
		return MD_VMA_MEMFD;
	/*
	 * A SysV segment is "/SYSV<key at creation>"; its inode number is its
	 * shmid, which is 0 for the first segment of an IPC namespace.
	 */
	if (shared && deleted && starts_with(path, "/SYSV"))
		return MD_VMA_SYSV;
	/*
	 * Shared anonymous memory is a shmem file named "/dev/zero" with a
	 * real inode that identifies the object. A shared anon VMA named with
	 * PR_SET_VMA_ANON_NAME shows as "[anon_shmem:NAME]" instead but is the
	 * same kind of object.
	 */
	if (shared && inode != 0 &&
	    ((deleted && !strcmp(path, "/dev/zero")) || starts_with(path, "[anon_shmem:")))
		return MD_VMA_SHMEM;
	if (path[0] == '/')
		return MD_VMA_FILE;
	/* [heap], [stack], [anon:NAME], [stack:TID], [uprobes]... */
	return MD_VMA_ANON;
}

int proc_parse_maps_line(const char *line, struct md_vma *ret)
{
	const char *p = line;
	uint64_t start, end, pgoff, major, minor, inode;
	struct md_vma v = {};
	size_t len;
	int r;

	if (!line)
		return -EINVAL;

	if ((r = parse_hex(&p, &start)) < 0 || (r = expect(&p, '-')) < 0 ||
	    (r = parse_hex(&p, &end)) < 0 || (r = expect(&p, ' ')) < 0)
		return r;
	if (end <= start)
		return -EINVAL;

	/* "rwxp": each column is its letter or '-', the last is 's' or 'p' */
	if (strlen(p) < 5)
		return -EINVAL;
	if ((p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
	    (p[2] != 'x' && p[2] != '-') || (p[3] != 's' && p[3] != 'p') || p[4] != ' ')
		return -EINVAL;
	v.prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
		 (p[2] == 'x' ? PROT_EXEC : 0);
	v.shared = p[3] == 's';
	p += 5;

	if ((r = parse_hex(&p, &pgoff)) < 0 || (r = expect(&p, ' ')) < 0 ||
	    (r = parse_hex(&p, &major)) < 0 || (r = expect(&p, ':')) < 0 ||
	    (r = parse_hex(&p, &minor)) < 0 || (r = expect(&p, ' ')) < 0 ||
	    (r = parse_dec(&p, &inode)) < 0)
		return r;
	if (major > UINT32_MAX || minor > UINT32_MAX)
		return -EINVAL;
	if (*p != '\0' && *p != ' ' && *p != '\n')
		return -EINVAL;

	/* the kernel pads to a column before the path; the path may hold spaces */
	while (*p == ' ')
		p++;
	len = strcspn(p, "\n");
	if (len > 0) {
		size_t sl = strlen(PROC_DELETED_SUFFIX);

		if (len > sl && !strncmp(p + len - sl, PROC_DELETED_SUFFIX, sl)) {
			v.deleted = true;
			len -= sl;
		}
		v.path = strndup(p, len);
		if (!v.path)
			return -ENOMEM;
	}

	v.start = start;
	v.end = end;
	v.pgoff = pgoff;
	v.dev_major = major;
	v.dev_minor = minor;
	v.inode = inode;
	v.kind = classify(v.path, v.deleted, v.shared, inode);
	if (v.kind == MD_VMA_MEMFD || v.kind == MD_VMA_SHMEM || v.kind == MD_VMA_SYSV)
		v.shm_id = inode;

	*ret = v;
	return 0;
}

static const struct {
	char name[3];
	uint64_t flag;
} vmflag_names[] = {
	{ "rd", MD_VMF_RD }, { "wr", MD_VMF_WR }, { "ex", MD_VMF_EX }, { "sh", MD_VMF_SH },
	{ "mr", MD_VMF_MR }, { "mw", MD_VMF_MW }, { "me", MD_VMF_ME }, { "ms", MD_VMF_MS },
	{ "gd", MD_VMF_GD }, { "pf", MD_VMF_PF }, { "dw", MD_VMF_DW }, { "lo", MD_VMF_LO },
	{ "io", MD_VMF_IO }, { "sr", MD_VMF_SR }, { "rr", MD_VMF_RR }, { "dc", MD_VMF_DC },
	{ "de", MD_VMF_DE }, { "ac", MD_VMF_AC }, { "nr", MD_VMF_NR }, { "ht", MD_VMF_HT },
	{ "sf", MD_VMF_SF }, { "nl", MD_VMF_NL }, { "ar", MD_VMF_AR }, { "wf", MD_VMF_WF },
	{ "dd", MD_VMF_DD }, { "sd", MD_VMF_SD }, { "mm", MD_VMF_MM }, { "hg", MD_VMF_HG },
	{ "nh", MD_VMF_NH }, { "mg", MD_VMF_MG }, { "um", MD_VMF_UM }, { "uw", MD_VMF_UW },
	{ "ss", MD_VMF_SS }, { "sl", MD_VMF_SL }, { "bt", MD_VMF_BT }, { "mt", MD_VMF_MT },
	{ "gu", MD_VMF_GU }, { "lf", MD_VMF_LF },
};

uint64_t proc_parse_vmflags(const char *s)
{
	uint64_t flags = 0;

	if (!s)
		return 0;
	if (starts_with(s, "VmFlags:"))
		s += strlen("VmFlags:");

	for (;;) {
		size_t n;

		s += strspn(s, " \t");
		n = strcspn(s, " \t\n");
		if (n == 0)
			break;
		/* newer kernels add mnemonics: ignore the ones we do not know */
		if (n == 2)
			for (size_t i = 0; i < ARRAY_SIZE(vmflag_names); i++)
				if (!strncmp(s, vmflag_names[i].name, 2)) {
					flags |= vmflag_names[i].flag;
					break;
				}
		s += n;
	}
	return flags;
}

/* A VMA header starts with lower-case hex digits and a '-'; "Key:" lines never do. */
static bool is_vma_header(const char *line)
{
	const char *p = line;

	while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
		p++;
	return p != line && *p == '-';
}

int proc_parse_smaps(const char *buf, struct md_vma **ret, size_t *ret_n)
{
	struct md_vma *v = NULL;
	size_t n = 0, cap = 0;
	const char *line = buf;
	int r;

	if (!buf)
		return -EINVAL;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		_cleanup_free_ char *l = strndup(line, len);

		if (!l) {
			r = -ENOMEM;
			goto out_free;
		}

		if (len == 0) {
			/* blank line: nothing to parse */
		} else if (is_vma_header(l)) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct md_vma *nv = realloc(v, nc * sizeof(*v));

				if (!nv) {
					r = -ENOMEM;
					goto out_free;
				}
				v = nv;
				cap = nc;
			}
			r = proc_parse_maps_line(l, &v[n]);
			if (r < 0)
				goto out_free;
			n++;
		} else if (!strchr(l, ':') || n == 0) {
			/* a "Key: value" line, and only after a VMA header */
			r = -EINVAL;
			goto out_free;
		} else if (starts_with(l, "VmFlags:")) {
			v[n - 1].vmflags = proc_parse_vmflags(l);
		}

		line += len;
		if (*line == '\n')
			line++;
	}

	*ret = v;
	*ret_n = n;
	return 0;

out_free:
	md_vmas_free(v, n);
	return r;
}

int proc_read_smaps(pid_t pid, struct md_vma **ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	r = proc_read_filef(&buf, NULL, "/proc/%d/smaps", pid);
	if (r < 0)
		return r;
	return proc_parse_smaps(buf, ret, ret_n);
}
