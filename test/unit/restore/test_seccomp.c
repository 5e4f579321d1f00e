/* Which filters the restore installs once, in the leader, and syncs to every thread (TSYNC). */
#include <criterion/criterion.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>

#include "memdump/model.h"
#include "restore/internal.h"

/* filters: 1; 2 on 1; 3 on 2; 4 on 1 */
static struct md_seccomp_filter filters[] = {
	{ .parent = 0 }, { .parent = 1 }, { .parent = 2 }, { .parent = 1 },
};

static size_t shared(uint32_t *leaf, uint32_t *mode, size_t n)
{
	struct md_thread t[4] = { 0 };
	struct md_proc p = { .threads = t, .n_threads = n, .seccomp = filters, .n_seccomp = 4 };

	for (size_t i = 0; i < n; i++) {
		t[i].seccomp_filter = leaf[i];
		t[i].seccomp_mode = mode ? mode[i] : leaf[i] ? SECCOMP_MODE_FILTER : 0;
	}
	return restore_seccomp_shared(&p);
}

Test(restore_seccomp, shared_filters)
{
	cr_expect_eq(shared((uint32_t[]){ 3 }, NULL, 1), 0, "one thread has nobody to sync");
	cr_expect_eq(shared((uint32_t[]){ 3, 3 }, NULL, 2), 3);
	cr_expect_eq(shared((uint32_t[]){ 2, 3 }, NULL, 2), 2, "the second's own comes after");
	cr_expect_eq(shared((uint32_t[]){ 3, 2, 3 }, NULL, 3), 2);
	cr_expect_eq(shared((uint32_t[]){ 3, 4 }, NULL, 2), 1, "they part after the first");
	cr_expect_eq(shared((uint32_t[]){ 3, 4, 1 }, NULL, 3), 1);
	cr_expect_eq(shared((uint32_t[]){ 3, 0 }, NULL, 2), 0, "a thread without filters");
	cr_expect_eq(shared((uint32_t[]){ 0, 0 }, (uint32_t[]){ SECCOMP_MODE_STRICT, 0 }, 2), 0);
	cr_expect_eq(shared((uint32_t[]){ 2, 0, 2 }, (uint32_t[]){ 2, SECCOMP_MODE_STRICT, 2 }, 3), 0,
		     "a strict thread takes no TSYNC");
}

Test(restore_seccomp, has_seccomp)
{
	struct md_thread t[2] = { 0 };
	struct md_proc p = { .threads = t, .n_threads = 2 };

	cr_assert_not(restore_has_seccomp(&p));
	t[1].no_new_privs = true;
	cr_assert(restore_has_seccomp(&p));
	t[1].no_new_privs = false;
	t[0].seccomp_mode = SECCOMP_MODE_STRICT;
	cr_assert(restore_has_seccomp(&p));
}
