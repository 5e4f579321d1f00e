/*
 * Which VMAs restore fills by UFFDIO_COPY (restore_vma_copy_filled()) and
 * how it reads the THP setting that decides part of it
 * (restore_thp_always()), from synthetic sysfs trees: a THP "always" read
 * wrong would leave huge-page regions in small pages, or turn the fast
 * fill off.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../image/synth.h"
#include "memdump/model.h"
#include "restore/internal.h"

static char *root;

static void mk_root(void)
{
	root = make_tmpdir();
}

static void rm_root(void)
{
	rm_tree(root);
}

/* put FILE (relative to root, its directories made) holding TEXT; TEXT NULL: FILE is a directory */
static void put(const char *file, const char *text)
{
	char path[PATH_MAX], cmd[2 * PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, file);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	cr_assert_eq(system(cmd), 0);
	if (!text) {
		cr_assert_eq(mkdir(path, 0755), 0);
		return;
	}
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static bool thp_always(void)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool r;

	cr_assert_geq(fd, 0);
	r = restore_thp_always(fd);
	close(fd);
	return r;
}

#define NEVER "always madvise [never]\n"
#define MADVISE "always [madvise] never\n"
#define ALWAYS "[always] madvise never\n"
#define INHERIT "always [inherit] madvise never\n"
#define SIZE_ALWAYS "[always] inherit madvise never\n"

/* the usual kernel: PMD size madvise, every mTHP size inherit or never, 8kB for shmem only */
static void usual_tree(void)
{
	put("transparent_hugepage/enabled", MADVISE);
	put("transparent_hugepage/defrag", "always defer defer+madvise [madvise] never\n");
	put("transparent_hugepage/hugepages-2048kB/enabled", INHERIT);
	put("transparent_hugepage/hugepages-64kB/enabled", NEVER);
	put("transparent_hugepage/hugepages-8kB/shmem_enabled", "always inherit [never] within_size advise\n");
}

TestSuite(thp, .init = mk_root, .fini = rm_root);

Test(thp, madvise_everywhere_is_not_always)
{
	usual_tree();
	cr_expect_not(thp_always());
}

Test(thp, pmd_always)
{
	usual_tree();
	put("transparent_hugepage/enabled", ALWAYS);
	cr_expect(thp_always());
}

Test(thp, one_mthp_size_always)
{
	usual_tree();
	put("transparent_hugepage/hugepages-64kB/enabled", SIZE_ALWAYS);
	cr_expect(thp_always());
}

/* a size that inherits "always" has "always" in the top file, which says so already */
Test(thp, inherit_is_the_top_setting)
{
	usual_tree();
	put("transparent_hugepage/hugepages-64kB/enabled", INHERIT);
	cr_expect_not(thp_always());
	put("transparent_hugepage/enabled", ALWAYS);
	cr_expect(thp_always());
}

Test(thp, no_thp_in_the_kernel)
{
	put("ksm/run", "0\n");
	cr_expect_not(thp_always());
}

/* no file for PMD-sized pages: the sizes there still count */
Test(thp, sizes_without_a_top_file)
{
	put("transparent_hugepage/hugepages-64kB/enabled", NEVER);
	cr_expect_not(thp_always());
	put("transparent_hugepage/hugepages-16kB/enabled", SIZE_ALWAYS);
	cr_expect(thp_always());
}

/* cannot be read: assume always (huge-page regions must come back huge) */
Test(thp, unreadable_means_always)
{
	usual_tree();
	put("transparent_hugepage/hugepages-32kB/enabled", NULL);	/* read() gives EISDIR */
	cr_expect(thp_always());
}

Test(thp, unreadable_top_means_always)
{
	put("transparent_hugepage/enabled", "");
	cr_expect(thp_always());
}

Test(thp, no_sysfs_means_always)
{
	cr_expect(restore_thp_always(-1));
}

/* ---- the choice of VMAs ---- */

enum { ANON, SHARED_ANON, FILE_PRIV, HUGE_ADVISED, NO_HUGE, NO_DATA, KEPT, N_VMAS };

static struct restore_proc *make_proc(void)
{
	static struct md_vma v[N_VMAS];
	static bool filled[N_VMAS + 1], kept[N_VMAS + 1];
	static struct restore_proc rp;

	for (size_t i = 0; i < N_VMAS; i++) {
		v[i] = (struct md_vma){ .start = 0x10000000 + i * 0x100000, .end = 0x10000000 + i * 0x100000 + 0x80000,
					.kind = MD_VMA_ANON, .prot = 3 };
		filled[i] = true;
		kept[i] = false;
	}
	v[SHARED_ANON].shared = true;
	v[FILE_PRIV].kind = MD_VMA_FILE;
	v[HUGE_ADVISED].vmflags = MD_VMF_HG;
	v[NO_HUGE].vmflags = MD_VMF_NH;
	filled[NO_DATA] = false;
	kept[KEPT] = true;
	rp = (struct restore_proc){ .p = { .vmas = v, .n_vmas = N_VMAS }, .vma_filled = filled, .vma_kept = kept };
	return &rp;
}

Test(copy_filled, private_anonymous_with_data_only)
{
	static const bool want[N_VMAS] = { [ANON] = true, [NO_HUGE] = true };
	struct restore_proc *rp = make_proc();

	for (size_t i = 0; i < N_VMAS; i++)
		cr_expect_eq(restore_vma_copy_filled(rp, i, false), want[i], "VMA %zu: %d, expected %d", i,
			     restore_vma_copy_filled(rp, i, false), want[i]);
}

/* THP always: only what is madvised away from huge pages */
Test(copy_filled, thp_always_leaves_only_nohugepage)
{
	struct restore_proc *rp = make_proc();

	for (size_t i = 0; i < N_VMAS; i++)
		cr_expect_eq(restore_vma_copy_filled(rp, i, true), i == NO_HUGE, "VMA %zu", i);
}
