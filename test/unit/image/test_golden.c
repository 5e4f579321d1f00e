/*
 * Compatibility: images/golden/vN was written by format version N and
 * every later memdump must read it (v2: its shm pages file is zstd). The generator test writes
 * images/golden/v<MD_FORMAT_VERSION> (only with MEMDUMP_GEN_GOLDEN=1, and
 * only if that directory does not exist yet); the others read the
 * committed files and check known values.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "synth.h"

#define V1_DIR GOLDEN_DIR "/v1"
#define STR_(x) #x
#define STR(x) STR_(x)
/* The generator writes the current version's directory, never an older one. */
#define GEN_DIR GOLDEN_DIR "/v" STR(MD_FORMAT_VERSION)
#define V1_SEED 1
#define V1_PAGES 2	/* pages-4242.img: the first two synthetic pages */

Test(image_golden, generate)
{
	struct md_inventory inv;
	struct md_proc p;
	struct md_pagemap pm;
	struct md_shm s;
	struct image_pages_writer *w;
	uint8_t page[4096];
	int dirfd;

	if (!getenv("MEMDUMP_GEN_GOLDEN"))
		cr_skip_test("set MEMDUMP_GEN_GOLDEN=1 to write " GEN_DIR);
	/* Refuses an existing non-empty directory: committed goldens are never rewritten. */
	cr_assert_eq(image_dir_open(GEN_DIR, true, &dirfd), 0);

	synth_inventory(&inv, V1_SEED);
	cr_assert_eq(image_write_inventory(dirfd, &inv), 0);
	md_inventory_release(&inv);

	synth_proc(&p, SYNTH_PID, V1_SEED);
	cr_assert_eq(image_write_proc(dirfd, &p), 0);
	/* the pagemap of synth_pagemap() holds 6 data pages; keep the file small */
	pm.n = 2;
	pm.entries = calloc(2, sizeof(*pm.entries));
	pm.entries[0] = (struct md_pagemap_entry){ p.vmas[0].start, V1_PAGES, MD_PM_DATA };
	pm.entries[1] = (struct md_pagemap_entry){ p.vmas[2].start, 4, MD_PM_ZERO };
	pm.nr_data_pages = V1_PAGES;
	cr_assert_eq(image_write_pagemap(dirfd, p.pid, &pm), 0);
	md_pagemap_release(&pm);
	md_proc_release(&p);
	cr_assert_eq(image_pages_create(dirfd, "pages-4242.img", &w), 0);
	for (int i = 0; i < V1_PAGES; i++) {
		synth_page(page, i);
		cr_assert_eq(image_pages_write(w, page, sizeof(page)), 0);
	}
	cr_assert_eq(image_pages_finish(w), 0);

	synth_shm(&s, &pm, V1_SEED);
	cr_assert_eq(image_write_shm(dirfd, &s, &pm), 0);
	cr_assert_eq(image_pages_create(dirfd, "pages-shm-778.img", &w), 0);
	cr_assert_eq(image_pages_compress(w, md_zstd(3)), 0);
	for (uint64_t i = 0; i < pm.nr_data_pages; i++) {
		synth_page(page, 100 + i);
		cr_assert_eq(image_pages_write(w, page, sizeof(page)), 0);
	}
	cr_assert_eq(image_pages_finish(w), 0);
	md_shm_release(&s);
	md_pagemap_release(&pm);
	close(dirfd);
}

Test(image_golden, v1_inventory)
{
	struct md_inventory inv, want;
	int dirfd;

	cr_assert_eq(image_dir_open(V1_DIR, false, &dirfd), 0);
	cr_assert_eq(image_read_inventory(dirfd, &inv), 0);
	/* literal values, independent of synth.h */
	cr_assert_eq(inv.format_version, 1);
	cr_assert_eq(inv.root_pid, 4242);
	cr_assert_eq(inv.dump_time_ns, 1700000000123456790ULL);
	cr_assert_str_eq(inv.kernel_release, "6.18.0-synth");
	cr_assert_eq(inv.n_pids, 2);
	cr_assert_eq(inv.pids[1], 4252);
	cr_assert_eq(inv.shm_ids[0], 778);
	synth_inventory(&want, V1_SEED);
	assert_inventory_eq(&inv, &want);
	md_inventory_release(&inv);
	md_inventory_release(&want);
	close(dirfd);
}

Test(image_golden, v1_proc)
{
	struct md_proc p, want;
	struct md_pagemap pm;
	char err[256];
	int dirfd;

	cr_assert_eq(image_dir_open(V1_DIR, false, &dirfd), 0);
	cr_assert_eq(image_read_proc(dirfd, 4242, &p), 0);
	cr_assert_eq(image_read_pagemap(dirfd, 4242, &pm), 0);
	cr_assert_eq(image_check_proc(&p, &pm, err, sizeof(err)), 0, "%s", err);
	/* literal values, independent of synth.h */
	cr_assert_str_eq(p.comm, "synthproc");
	cr_assert_eq(p.ppid, 1001);
	cr_assert_eq(p.n_threads, 2);
	cr_assert_eq(p.threads[1].tid, 4243);
	cr_assert_str_eq(p.threads[1].comm, "thread-1");
	cr_assert_eq(p.threads[0].xsave_size, 64);
	cr_assert_eq(p.n_vmas, 3);
	cr_assert_eq(p.vmas[0].start, 0x500000);
	cr_assert_eq(p.vmas[2].kind, MD_VMA_MEMFD);
	cr_assert_eq(p.rlimits[0].max, ~0ULL);
	cr_assert_eq(p.auxv[1], 4096);
	cr_assert_eq(p.vdso_hash, 0xfedcba9876543211ULL);
	cr_assert_eq(p.n_fds, 3);
	cr_assert_eq(p.fds[2].fd, 7);
	cr_assert_eq(pm.n, 2);
	cr_assert_eq(pm.nr_data_pages, V1_PAGES);
	synth_proc(&want, SYNTH_PID, V1_SEED);
	/* v1 images were written before threads had robust lists: they read as none */
	for (size_t i = 0; i < want.n_threads; i++) {
		cr_assert_eq(p.threads[i].robust_list, 0);
		cr_assert_eq(p.threads[i].robust_list_len, 0);
		want.threads[i].robust_list = want.threads[i].robust_list_len = 0;
	}
	/* ... nor did fds record shared open file descriptions: each has its own */
	for (size_t i = 0; i < want.n_fds; i++) {
		cr_assert_eq(p.fds[i].dup_of, -1);
		want.fds[i].dup_of = -1;
	}
	assert_proc_eq(&p, &want);
	md_proc_release(&p);
	md_proc_release(&want);
	md_pagemap_release(&pm);
	close(dirfd);
}

Test(image_golden, v1_pages)
{
	uint8_t page[4096], want[4096];
	struct image_pages_cursor *c;
	struct image_pages_stat st;
	struct image_pages *p;
	const uint8_t *data;
	size_t len;
	int dirfd;

	cr_assert_eq(image_dir_open(V1_DIR, false, &dirfd), 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-4242.img", V1_PAGES, true, &p), 0);
	image_pages_info(p, &st);
	cr_assert(st.codec == MD_CODEC_NONE && !st.chunk_hashes);
	cr_assert_eq(image_pages_cursor_new(&c), 0);
	for (int i = 0; i < V1_PAGES; i++) {
		cr_assert_eq(image_pages_read(p, c, i * 4096, page, 4096), 0);
		synth_page(want, i);
		cr_assert_eq(memcmp(page, want, 4096), 0);
	}
	/* a version 1 file reads in chunks too (restore's fill) */
	cr_assert_eq(image_pages_load(p, c, 0, true, &data, &len), 0);
	cr_assert_eq(len, V1_PAGES * 4096);
	synth_page(want, V1_PAGES - 1);
	cr_assert_eq(memcmp(data + (V1_PAGES - 1) * 4096, want, 4096), 0);
	image_pages_cursor_free(c);
	image_pages_close(p);
	cr_assert_eq(image_pages_open(dirfd, "pages-shm-778.img", 3, true, &p), 0);
	cr_assert_eq(image_pages_read(p, NULL, 2 * 4096, page, 4096), 0);
	synth_page(want, 102);
	cr_assert_eq(memcmp(page, want, 4096), 0);
	image_pages_close(p);
	close(dirfd);
}

Test(image_golden, v1_shm)
{
	struct md_shm s;
	struct md_pagemap pm;
	int dirfd;

	cr_assert_eq(image_dir_open(V1_DIR, false, &dirfd), 0);
	cr_assert_eq(image_read_shm(dirfd, false, 778, &s, &pm), 0);
	cr_assert_str_eq(s.name, "synth-memfd");
	cr_assert_eq(s.size, 3 * 4096 + 100);
	cr_assert_eq(s.seals, 9);
	cr_assert_eq(pm.nr_data_pages, 3);
	cr_assert_eq(pm.entries[1].vaddr, 8192);
	md_shm_release(&s);
	md_pagemap_release(&pm);
	close(dirfd);
}

Test(image_golden, v1_show_is_valid_json)
{
	char cmd[512];
	FILE *f;

	if (system("python3 -c 'import json' >/dev/null 2>&1") != 0)
		cr_skip_test("python3 missing");
	snprintf(cmd, sizeof(cmd), "python3 -m json.tool > /dev/null");
	f = popen(cmd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(image_show(V1_DIR, f), 0);
	cr_assert_eq(pclose(f), 0);
}

#define V2_DIR GOLDEN_DIR "/v2"

/* version 2: indexed pages files, the shm one compressed; the same data as v1 */
Test(image_golden, v2_pages)
{
	uint8_t page[4096], want[4096];
	struct image_pages_stat st;
	struct image_pages *p;
	int dirfd;

	cr_assert_eq(image_dir_open(V2_DIR, false, &dirfd), 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-4242.img", V1_PAGES, true, &p), 0);
	image_pages_info(p, &st);
	cr_assert(st.codec == MD_CODEC_NONE && st.chunk_hashes);
	for (int i = 0; i < V1_PAGES; i++) {
		cr_assert_eq(image_pages_read(p, NULL, i * 4096, page, 4096), 0);
		synth_page(want, i);
		cr_assert_eq(memcmp(page, want, 4096), 0);
	}
	image_pages_close(p);
	cr_assert_eq(image_pages_open(dirfd, "pages-shm-778.img", 3, true, &p), 0);
	image_pages_info(p, &st);
	cr_assert(st.codec == MD_CODEC_ZSTD && st.chunk_hashes);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(image_pages_read(p, NULL, i * 4096, page, 4096), 0);
		synth_page(want, 100 + i);
		cr_assert_eq(memcmp(page, want, 4096), 0);
	}
	image_pages_close(p);
	close(dirfd);
}
