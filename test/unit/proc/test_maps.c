/* proc_parse_maps_line(), proc_parse_vmflags() and proc_parse_smaps() on lines and saved samples. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "memdump/proc.h"

static struct md_vma parse_ok(const char *line)
{
	struct md_vma v;
	int r = proc_parse_maps_line(line, &v);

	cr_assert_eq(r, 0, "'%s' -> %d", line, r);
	return v;
}

Test(proc_maps, parses_private_rw)
{
	struct md_vma v = parse_ok("1000-3000 rw-p 00000000 00:00 0");

	cr_assert_eq(v.start, 0x1000);
	cr_assert_eq(v.end - v.start, 0x2000);
	cr_assert_eq(v.prot, PROT_READ | PROT_WRITE);
	cr_assert(!v.shared);
	cr_assert_eq(v.kind, MD_VMA_ANON);
	cr_assert_null(v.path);
	cr_assert(!v.deleted);
}

Test(proc_maps, parses_shared_file_and_dev)
{
	struct md_vma v = parse_ok("7f3165d79000-7f3165d7a000 r-xs 0001a000 fe:01 10953497"
				   "                   /usr/lib/libx.so");

	cr_assert(v.shared);
	cr_assert_eq(v.prot, PROT_READ | PROT_EXEC);
	cr_assert_eq(v.pgoff, 0x1a000);
	cr_assert_eq(v.dev_major, 0xfe);
	cr_assert_eq(v.dev_minor, 0x01);
	cr_assert_eq(v.inode, 10953497);
	cr_assert_eq(v.kind, MD_VMA_FILE);
	cr_assert_str_eq(v.path, "/usr/lib/libx.so");
	free(v.path);
}

Test(proc_maps, keeps_spaces_in_path)
{
	struct md_vma v = parse_ok("7f3165d7a000-7f3165d7e000 rw-p 00000000 fe:00 10953496"
				   "                   /tmp/dir with space/file name\n");

	cr_assert_str_eq(v.path, "/tmp/dir with space/file name");
	cr_assert_eq(v.kind, MD_VMA_FILE);
	cr_assert(!v.deleted);
	free(v.path);
}

Test(proc_maps, strips_deleted)
{
	struct md_vma v = parse_ok("7f3165d79000-7f3165d7a000 r--s 00000000 fe:00 10953497"
				   "                   /tmp/dir with space/gone (deleted)");

	cr_assert(v.deleted);
	cr_assert_str_eq(v.path, "/tmp/dir with space/gone");
	cr_assert_eq(v.kind, MD_VMA_FILE);
	free(v.path);
}

Test(proc_maps, memfd)
{
	struct md_vma v = parse_ok("7f3165d80000-7f3165d82000 rw-s 00000000 00:01 28"
				   "                         /memfd:fixture mem (deleted)");

	cr_assert_eq(v.kind, MD_VMA_MEMFD);
	cr_assert_eq(v.shm_id, 28);
	cr_assert(v.deleted);
	cr_assert_str_eq(v.path, "/memfd:fixture mem");
	free(v.path);

	/* a private memfd mapping is still a memfd */
	v = parse_ok("7f3165d80000-7f3165d82000 rw-p 00000000 00:01 31 /memfd:x (deleted)");
	cr_assert_eq(v.kind, MD_VMA_MEMFD);
	cr_assert(!v.shared);
	cr_assert_eq(v.shm_id, 31);
	free(v.path);
}

Test(proc_maps, shared_anon_is_shmem)
{
	struct md_vma v = parse_ok("7f3165d7e000-7f3165d80000 rw-s 00000000 00:01 29"
				   "                         /dev/zero (deleted)");

	cr_assert_eq(v.kind, MD_VMA_SHMEM);
	cr_assert_eq(v.shm_id, 29);
	cr_assert(v.shared);
	free(v.path);

	v = parse_ok("7f0000000000-7f0000001000 rw-s 00000000 00:01 32805 /SYSV0000002a (deleted)");
	cr_assert_eq(v.kind, MD_VMA_SYSV);
	cr_assert_eq(v.shm_id, 32805);
	free(v.path);

	/* attached read-only: maps still says shared */
	v = parse_ok("7f0000000000-7f0000001000 r--s 00000000 00:01 0 /SYSV00000000 (deleted)");
	cr_assert_eq(v.kind, MD_VMA_SYSV);
	cr_assert_eq(v.shm_id, 0);
	free(v.path);

	/* the real /dev/zero mapped shared is a device file, not shmem */
	v = parse_ok("7f0000000000-7f0000001000 rw-s 00000000 00:05 4 /dev/zero");
	cr_assert_eq(v.kind, MD_VMA_FILE);
	cr_assert_eq(v.shm_id, 0);
	free(v.path);
}

Test(proc_maps, special_mappings)
{
	static const struct {
		const char *line;
		enum md_vma_kind kind;
		const char *path;
	} cases[] = {
		{ "7f3165d84000-7f3165d88000 r--p 00000000 00:00 0  [vvar]", MD_VMA_VVAR, "[vvar]" },
		{ "7f3165d88000-7f3165d8a000 r--p 00000000 00:00 0  [vvar_vclock]", MD_VMA_VVAR_VCLOCK,
		  "[vvar_vclock]" },
		{ "7f3165d8a000-7f3165d8c000 r-xp 00000000 00:00 0  [vdso]", MD_VMA_VDSO, "[vdso]" },
		{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]",
		  MD_VMA_VSYSCALL, "[vsyscall]" },
		{ "7ffce1715000-7ffce1736000 rw-p 00000000 00:00 0  [stack]", MD_VMA_ANON, "[stack]" },
		{ "562499b03000-562499b24000 rw-p 00000000 00:00 0  [heap]", MD_VMA_ANON, "[heap]" },
		{ "7f0000000000-7f0000001000 rw-p 00000000 00:00 0  [anon:my name]", MD_VMA_ANON,
		  "[anon:my name]" },
		{ "7f0000000000-7f0000001000 rw-p 00000000 00:00 0  [stack:123]", MD_VMA_ANON,
		  "[stack:123]" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct md_vma v = parse_ok(cases[i].line);

		cr_assert_eq(v.kind, cases[i].kind, "%s", cases[i].line);
		cr_assert_str_eq(v.path, cases[i].path);
		free(v.path);
	}
}

Test(proc_maps, vsyscall_address)
{
	struct md_vma v = parse_ok("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]");

	cr_assert_eq(v.start, 0xffffffffff600000ULL);
	cr_assert_eq(v.prot, PROT_EXEC);
	free(v.path);
}

Test(proc_maps, rejects_malformed_lines)
{
	static const char *bad[] = {
		"",
		"1000-",
		"1000-3000",
		"1000-3000 ",
		"1000-3000 rw-p",
		"1000-3000 rw-p 00000000",
		"1000-3000 rw-p 00000000 00:00",
		"1000-3000 rw-p 00000000 00:00 ",
		"1000-3000 rwxq 00000000 00:00 0",
		"1000-3000 rw- 00000000 00:00 0",
		"1000-3000 rw-pp 00000000 00:00 0",
		"1000 3000 rw-p 00000000 00:00 0",
		"3000-1000 rw-p 00000000 00:00 0",
		"1000-1000 rw-p 00000000 00:00 0",
		"0x1000-3000 rw-p 00000000 00:00 0",
		"1000-3000 rw-p 00000000 00-00 0",
		"1000-3000 rw-p 0000000g 00:00 0",
		"1000-3000 rw-p 00000000 00:00 12a",
		"1000-3000 rw-p 00000000 00:00 -1",
		"11111111111111111-3000 rw-p 00000000 00:00 0",
		"Size:                  4 kB",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct md_vma v = { .start = 42 };

		cr_assert_eq(proc_parse_maps_line(bad[i], &v), -EINVAL, "accepted '%s'", bad[i]);
		cr_assert_eq(v.start, 42, "'%s' wrote ret on failure", bad[i]);
	}
	cr_assert_eq(proc_parse_maps_line(NULL, NULL), -EINVAL);
}

Test(proc_vmflags, mnemonics)
{
	uint64_t f = proc_parse_vmflags("VmFlags: rd wr mr mw me ac sd ");

	cr_assert_eq(f, MD_VMF_RD | MD_VMF_WR | MD_VMF_MR | MD_VMF_MW | MD_VMF_ME | MD_VMF_AC |
				MD_VMF_SD);
	cr_assert_eq(proc_parse_vmflags("rd mr pf io de dd"),
		     MD_VMF_RD | MD_VMF_MR | MD_VMF_PF | MD_VMF_IO | MD_VMF_DE | MD_VMF_DD);
	cr_assert_eq(proc_parse_vmflags("VmFlags: gu lf uw um ss sl bt mt dw nl"),
		     MD_VMF_GU | MD_VMF_LF | MD_VMF_UW | MD_VMF_UM | MD_VMF_SS | MD_VMF_SL |
			     MD_VMF_BT | MD_VMF_MT | MD_VMF_DW | MD_VMF_NL);
	/* unknown and odd-length words are ignored, not mistaken for prefixes */
	cr_assert_eq(proc_parse_vmflags("VmFlags: zz rdx rd ui"), MD_VMF_RD);
	cr_assert_eq(proc_parse_vmflags("VmFlags:"), 0);
}

Test(proc_vmflags, every_mnemonic_is_distinct)
{
	static const char *names[] = { "rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "pf",
				       "dw", "lo", "io", "sr", "rr", "dc", "de", "ac", "nr", "ht",
				       "sf", "nl", "ar", "wf", "dd", "sd", "mm", "hg", "nh", "mg",
				       "um", "uw", "ss", "sl", "bt", "mt", "gu", "lf" };
	uint64_t all = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		uint64_t f = proc_parse_vmflags(names[i]);

		cr_assert_neq(f, 0, "'%s' unknown", names[i]);
		cr_assert_eq(f & (f - 1), 0, "'%s' sets several bits", names[i]);
		cr_assert_eq(all & f, 0, "'%s' collides", names[i]);
		all |= f;
	}
}

static const struct md_vma *find(const struct md_vma *v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].path && !strcmp(v[i].path, path))
			return &v[i];
	return NULL;
}

Test(proc_smaps, saved_sample_odd_comm)
{
	_cleanup_free_ char *buf = NULL, *maps = NULL;
	struct md_vma *v = NULL;
	const struct md_vma *x;
	size_t n = 0, nlines = 0;

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/odd_comm.smaps", &buf, NULL), 0);
	cr_assert_eq(proc_parse_smaps(buf, &v, &n), 0);

	/* as many VMAs as the maps file saved at the same time has lines */
	cr_assert_eq(proc_read_file(FIXTURES_DIR "/odd_comm.maps", &maps, NULL), 0);
	for (const char *p = maps; (p = strchr(p, '\n')); p++)
		nlines++;
	cr_assert_eq(n, nlines);
	cr_assert_eq(n, 28);

	/* every VMA got its VmFlags, all readable ones have rd */
	for (size_t i = 0; i < n; i++) {
		cr_assert_neq(v[i].vmflags, 0, "VMA %zu has no VmFlags", i);
		cr_assert_eq(!!(v[i].prot & PROT_READ), !!(v[i].vmflags & MD_VMF_RD));
		cr_assert_eq(v[i].shared, !!(v[i].vmflags & MD_VMF_SH), "VMA %zu", i);
	}

	x = find(v, n, "[vvar_vclock]");
	cr_assert_not_null(x);
	cr_assert_eq(x->kind, MD_VMA_VVAR_VCLOCK);
	cr_assert_eq(x->vmflags, MD_VMF_RD | MD_VMF_MR | MD_VMF_PF | MD_VMF_IO | MD_VMF_DE | MD_VMF_DD);

	x = find(v, n, "/memfd:fixture mem");
	cr_assert_not_null(x);
	cr_assert_eq(x->kind, MD_VMA_MEMFD);
	cr_assert_eq(x->shm_id, 28);

	x = find(v, n, "/dev/zero");
	cr_assert_not_null(x);
	cr_assert_eq(x->kind, MD_VMA_SHMEM);

	x = find(v, n, "/tmp/h1/dir with space/file name");
	cr_assert_not_null(x);
	cr_assert_eq(x->kind, MD_VMA_FILE);
	cr_assert(!x->shared);

	x = find(v, n, "[heap]");
	cr_assert_not_null(x);
	cr_assert_eq(x->vmflags, MD_VMF_RD | MD_VMF_WR | MD_VMF_MR | MD_VMF_MW | MD_VMF_ME | MD_VMF_AC);

	cr_assert_eq(v[n - 1].kind, MD_VMA_VSYSCALL);
	md_vmas_free(v, n);
}

Test(proc_smaps, saved_sample_cat)
{
	_cleanup_free_ char *buf = NULL;
	struct md_vma *v = NULL;
	size_t n = 0;

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/cat_self.smaps", &buf, NULL), 0);
	cr_assert_eq(proc_parse_smaps(buf, &v, &n), 0);
	cr_assert_eq(n, 38);
	for (size_t i = 1; i < n; i++)
		cr_assert_geq(v[i].start, v[i - 1].end, "VMAs out of order at %zu", i);
	cr_assert_not_null(find(v, n, "[stack]"));
	cr_assert_not_null(find(v, n, "[vdso]"));
	md_vmas_free(v, n);
}

Test(proc_smaps, rejects_garbage)
{
	struct md_vma *v = NULL;
	size_t n = 0;

	/* a key before any VMA, a broken header, a line without ':' */
	cr_assert_eq(proc_parse_smaps("Size: 4 kB\n", &v, &n), -EINVAL);
	cr_assert_eq(proc_parse_smaps("1000-2000 rw-p 00000000 00:00 0\nbogus line\n", &v, &n),
		     -EINVAL);
	cr_assert_eq(proc_parse_smaps("1000-2000 rw-p 00000000 00:00 0\n1000-\n", &v, &n), -EINVAL);
	cr_assert_eq(proc_parse_smaps("1000-2000 rw-p 00000000 00:00 0\nVmFlags: rd wr\n"
				      "3000-4000 r--p 00000000 00:00 0  [anon:a b]\nVmFlags: rd\n",
				      &v, &n),
		     0);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].vmflags, MD_VMF_RD | MD_VMF_WR);
	cr_assert_eq(v[1].vmflags, MD_VMF_RD);
	cr_assert_str_eq(v[1].path, "[anon:a b]");
	md_vmas_free(v, n);
}

Test(proc_smaps, reads_own)
{
	struct md_vma *v = NULL;
	size_t n = 0;
	bool found = false;
	uintptr_t here = (uintptr_t)&n;

	cr_assert_eq(proc_read_smaps(getpid(), &v, &n), 0);
	cr_assert_gt(n, 3);
	for (size_t i = 0; i < n; i++)
		if (v[i].start <= here && here < v[i].end) {
			found = true;
			cr_assert_str_eq(v[i].path, "[stack]");
		}
	cr_assert(found);
	md_vmas_free(v, n);
}
