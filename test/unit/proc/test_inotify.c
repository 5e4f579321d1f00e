/* proc_parse_inotify() and proc_parse_mountinfo() on samples saved from this kernel, and malformed lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "memdump/cleanup.h"
#include "memdump/proc.h"

static char *fixture(const char *name)
{
	char *buf = NULL, path[512];

	snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
	cr_assert_eq(proc_read_file(path, &buf, NULL), 0, "%s", path);
	return buf;
}

Test(proc_inotify, watches_with_handles)
{
	_cleanup_free_ char *buf = fixture("fdinfo_inotify.txt");
	_cleanup_free_ struct proc_inotify_watch *w = NULL;
	static const uint8_t fh1[] = { 0xf0, 0x60, 0xa8, 0x00, 0xad, 0x3d, 0xeb, 0x98 };
	size_t n;

	cr_assert_eq(proc_parse_inotify(buf, &w, &n), 0);
	cr_assert_eq(n, 4);
	/* newest first, as fdinfo lists them */
	cr_expect_eq(w[0].wd, 5);
	cr_expect_eq(w[0].sdev, 0x15);	/* proc, 0:21 */
	cr_expect_eq(w[0].fh_type, 0x81);
	cr_expect_eq(w[0].fh_bytes, 12);
	cr_expect_eq(w[1].wd, 4);
	cr_expect_eq(w[1].sdev, 0x1b);
	cr_expect_eq(w[1].ino, 1);
	cr_expect_eq(w[2].wd, 3);
	cr_expect_eq(w[2].mask, 0xfff);
	cr_expect_eq(w[3].wd, 1);
	cr_expect_eq(w[3].ino, 0xa860f0);
	cr_expect_eq(w[3].sdev, 0xfe00000);	/* 254:0, major << 20 */
	cr_expect_eq(w[3].mask, IN_CREATE | IN_DELETE | IN_CLOSE_WRITE);
	cr_expect_eq(w[3].ignored_mask, 0);
	cr_assert(w[3].has_fh);
	cr_expect_eq(w[3].fh_type, 1);
	cr_assert_eq(w[3].fh_bytes, sizeof(fh1));
	cr_expect_arr_eq(w[3].fh, fh1, sizeof(fh1));
}

Test(proc_inotify, oneshot_and_excl_unlink_in_mask)
{
	_cleanup_free_ char *buf = fixture("fdinfo_inotify_oneshot.txt");
	_cleanup_free_ struct proc_inotify_watch *w = NULL;
	size_t n;

	cr_assert_eq(proc_parse_inotify(buf, &w, &n), 0);
	cr_assert_eq(n, 2);
	/* IN_MASK_ADD is how a mask was set, not kept: wd 3 shows its events only */
	cr_expect_eq(w[0].wd, 3);
	cr_expect_eq(w[0].mask, 0xfff);
	cr_expect_eq(w[1].wd, 2);
	cr_expect_eq(w[1].mask, IN_ONESHOT | IN_EXCL_UNLINK | IN_MODIFY);
}

Test(proc_inotify, no_watches)
{
	_cleanup_free_ char *buf = fixture("fdinfo_inotify_empty.txt");
	struct proc_inotify_watch *w = (void *)1;
	size_t n = 7;

	cr_assert_eq(proc_parse_inotify(buf, &w, &n), 0);
	cr_expect_eq(n, 0);
	cr_expect_null(w);
}

Test(proc_inotify, without_a_handle)
{
	_cleanup_free_ struct proc_inotify_watch *w = NULL;
	size_t n;

	cr_assert_eq(proc_parse_inotify("pos:\t0\ninotify wd:2 ino:10 sdev:800001 mask:2 ignored_mask:0\n", &w, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(w[0].wd, 2);
	cr_expect_eq(w[0].sdev, 0x800001);
	cr_expect_not(w[0].has_fh);
}

Test(proc_inotify, malformed)
{
	static const char *const bad[] = {
		"inotify wd:0 ino:1 sdev:1 mask:2 ignored_mask:0\n",		/* wd 0 */
		"inotify wd:80000000 ino:1 sdev:1 mask:2 ignored_mask:0\n",	/* above INT32_MAX */
		"inotify wd:1 ino:1 sdev:1 mask:2\n",				/* no ignored_mask */
		"inotify wd:1 ino:1 sdev:1 mask:1ffffffff ignored_mask:0\n",	/* 33 bits */
		"inotify wd:1 ino:zz sdev:1 mask:2 ignored_mask:0\n",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:0011\n",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:81 fhandle-type:1 f_handle:00\n",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:0 fhandle-type:1 f_handle:\n",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 junk\n",
	};
	struct proc_inotify_watch *w = NULL;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(proc_parse_inotify(bad[i], &w, &n), -EINVAL, "%s", bad[i]);
	cr_expect_eq(proc_parse_inotify(NULL, &w, &n), -EINVAL);
}

Test(proc_mountinfo, saved_sample)
{
	_cleanup_free_ char *buf = fixture("mountinfo.txt");
	struct proc_mount *m = NULL;
	size_t n;
	bool root = false, spaced = false;

	cr_assert_eq(proc_parse_mountinfo(buf, &m, &n), 0);
	cr_assert_eq(n, 21);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(m[i].mount_point, "/")) {
			root = true;
			cr_expect_eq(m[i].major, 254);
			cr_expect_eq(m[i].minor, 0);
			cr_expect_str_eq(m[i].root, "/");
			cr_expect_eq(m[i].mnt_id, 44);
			cr_expect_str_eq(m[i].opts, "rw,relatime");
			cr_expect_str_eq(m[i].fstype, "ext4");
			cr_expect_str_eq(m[i].source, "/dev/vda");
			cr_expect_str_eq(m[i].super_opts, "rw,discard,resv_strict,resuid=65534,resgid=65534");
		}
		/* "\040" undone */
		if (!strcmp(m[i].mount_point, "/tmp/ig/with space")) {
			spaced = true;
			cr_expect_str_eq(m[i].root, "/tmp/ig/with space");
		}
	}
	cr_expect(root);
	cr_expect(spaced);
	proc_mounts_free(m, n);
}

Test(proc_mountinfo, malformed)
{
	struct proc_mount *m = NULL;
	size_t n;

	cr_expect_eq(proc_parse_mountinfo("44 43 254:0 /\n", &m, &n), -EINVAL);
	cr_expect_eq(proc_parse_mountinfo("44 43 x:0 / / rw\n", &m, &n), -EINVAL);
	cr_expect_eq(proc_parse_mountinfo(NULL, &m, &n), -EINVAL);
}

/* optional fields before the separator are skipped; a line that ends early leaves the rest NULL */
Test(proc_mountinfo, after_the_mount_point)
{
	struct proc_mount *m = NULL;
	size_t n;

	cr_assert_eq(proc_parse_mountinfo("65 46 0:39 / /proc rw,nosuid shared:1 master:2 - proc proc rw\n"
					  "66 46 0:40 / /x ro\n", &m, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(m[0].opts, "rw,nosuid");
	cr_expect_str_eq(m[0].fstype, "proc");
	cr_expect_str_eq(m[0].source, "proc");
	cr_expect_str_eq(m[0].super_opts, "rw");
	cr_expect_str_eq(m[1].opts, "ro");
	cr_expect_null(m[1].fstype);
	cr_expect_null(m[1].super_opts);
	proc_mounts_free(m, n);
}
