/* memdump show: every kind of image as JSON that a JSON parser accepts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_show, .init = synth_dir_setup, .fini = synth_dir_teardown);

static void write_all_kinds(void)
{
	struct md_proc p;
	struct md_pagemap pm;
	struct md_inventory inv;
	struct md_shm s;
	struct image_pages_writer *w;
	uint8_t page[4096];

	synth_proc(&p, SYNTH_PID, 1);
	/* bytes that are not UTF-8 and characters JSON must escape */
	free(p.vmas[1].path);
	p.vmas[1].path = strdup("/odd \"name\"\\\t\xff\xc3\xa9");
	synth_pagemap(&pm, &p);
	cr_assert_eq(image_write_proc(dirfd, &p), 0);
	cr_assert_eq(image_write_pagemap(dirfd, p.pid, &pm), 0);
	md_pagemap_release(&pm);
	md_proc_release(&p);
	synth_inventory(&inv, 1);
	cr_assert_eq(image_write_inventory(dirfd, &inv), 0);
	md_inventory_release(&inv);
	synth_shm(&s, &pm, 1);
	cr_assert_eq(image_write_shm(dirfd, &s, &pm), 0);
	md_shm_release(&s);
	md_pagemap_release(&pm);
	cr_assert_eq(image_pages_create(dirfd, "pages-4242.img", &w), 0);
	for (int i = 0; i < 3; i++) {
		synth_page(page, i);
		cr_assert_eq(image_pages_write(w, page, sizeof(page)), 0);
	}
	cr_assert_eq(image_pages_finish(w), 0);
}

/* Shows path into a file, returns the text; *ret_r gets image_show()'s result. */
static char *show_to_string(const char *path, int *ret_r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*ret_r = image_show(path, f);
	fclose(f);
	return buf;
}

static bool have_python(void)
{
	return system("python3 -c 'import json' >/dev/null 2>&1") == 0;
}

/* Runs a Python check on the JSON text; true when it exits 0. */
static bool python_check(const char *json, const char *code)
{
	char path[512], cmd[2048];
	FILE *f;

	snprintf(path, sizeof(path), "%s.json", dir);
	f = fopen(path, "w");
	fputs(json, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; d=json.load(open(\"%s\")); %s' ",
		 path, code);
	int r = system(cmd);

	unlink(path);
	return r == 0;
}

Test(image_show, directory_is_valid_json)
{
	char *json;
	int r;

	write_all_kinds();
	json = show_to_string(dir, &r);
	cr_assert_eq(r, 0);
	cr_assert_not_null(strstr(json, "\"core-4242.img\""));
	cr_assert_not_null(strstr(json, "\"kind\": \"mm\""));
	cr_assert_not_null(strstr(json, "\"pages\": 3"));
	cr_assert_not_null(strstr(json, "\"VMA_MEMFD\""));
	if (!have_python()) {
		free(json);
		cr_skip_test("python3 missing: JSON not parsed");
	}
	cr_assert(python_check(json,
			       "assert sorted(d) == list(d); "
			       "assert len(d) == 7, len(d); "
			       "assert d[\"pages-4242.img\"][\"pages\"] == 3; "
			       "assert d[\"pages-4242.img\"][\"compression\"] == \"none\"; "
			       "c = d[\"core-4242.img\"][\"payload\"]; "
			       "assert len(c[\"sigactions\"]) == 64; "
			       "assert c[\"threads\"][1][\"tid\"] == 4243; "
			       "assert len(c[\"threads\"][0][\"pending\"][0]) == 256; "
			       "m = d[\"mm-4242.img\"][\"payload\"]; "
			       "assert m[\"vmas\"][1][\"path\"] == \"/odd \\\"name\\\"\\\\\\t\\u00ff\\u00e9\", m[\"vmas\"][1][\"path\"]; "
			       "assert d[\"inventory.img\"][\"payload\"][\"pids\"] == [4242, 4252]"),
		  "python rejected:\n%s", json);
	free(json);
}

Test(image_show, single_file)
{
	char path[512], *json;
	int r;

	write_all_kinds();
	snprintf(path, sizeof(path), "%s/files-4242.img", dir);
	json = show_to_string(path, &r);
	cr_assert_eq(r, 0);
	cr_assert_not_null(strstr(json, "\"header\""));
	cr_assert_not_null(strstr(json, "\"FD_MEMFD\""));
	if (have_python())
		cr_assert(python_check(json, "assert d[\"header\"][\"kind\"] == \"files\""), "%s", json);
	free(json);
}

Test(image_show, bad_file_in_directory_still_valid_json)
{
	char *json;
	int r, fd;

	write_all_kinds();
	fd = openat(dirfd, "mm-4242.img", O_WRONLY | O_CLOEXEC);
	cr_assert_eq(pwrite(fd, "X", 1, 0), 1);
	close(fd);
	json = show_to_string(dir, &r);
	cr_assert_eq(r, -EINVAL);
	cr_assert_not_null(strstr(json, "\"error\": \"bad magic"));
	if (have_python())
		cr_assert(python_check(json, "assert \"error\" in d[\"mm-4242.img\"]"), "%s", json);
	free(json);
}

Test(image_show, empty_directory)
{
	char *json;
	int r;

	json = show_to_string(dir, &r);
	cr_assert_eq(r, 0);
	cr_assert_str_eq(json, "{}\n");
	free(json);
}
