/*
 * softdirty_proc() on a live child: the ranges tracked since a previous
 * image, arming through clear_refs, and (where the kernel has soft-dirty
 * bits) exactly the page the child wrote since. This machine's kernel has
 * no CONFIG_MEM_SOFT_DIRTY: there the last part is skipped, said in the log.
 */
#include "memdump/dump.h"
#include "memdump/kfeat.h"
#include "memdump/model.h"
#include "memdump/plan.h"
#include "memdump/proc.h"
#include "child.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096UL
#define NPAGES 16

static volatile uint8_t *area;

static void on_usr1(int sig)
{
	area[3 * PG] ^= 0xff;
}

static void setup(int sync_fd)
{
	uintptr_t a;

	area = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < NPAGES; i++)
		area[i * PG] = (uint8_t)i;
	signal(SIGUSR1, on_usr1);
	a = (uintptr_t)area;
	if (write(sync_fd, &a, sizeof(a)) != sizeof(a))
		_exit(1);
}

static uint8_t peek(pid_t pid, uintptr_t addr)
{
	char path[64];
	uint8_t b = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)addr), 1);
	close(fd);
	return b;
}

Test(softdirty, tracks_what_the_child_writes)
{
	struct md_proc p = { 0 };
	struct md_track prev = { .method = MD_TRACK_SOFT_DIRTY };
	struct md_track_proc tp;
	struct dump_track t;
	struct proc_stat st;
	struct kfeat kf;
	uintptr_t a = 0;
	uint64_t token;
	pid_t pid;
	bool covered = false;

	cr_assert_eq(kfeat_probe(&kf), 0);
	pid = start_child(setup, &a, sizeof(a));
	cr_assert_neq(a, 0);
	cr_assert_eq(proc_read_smaps(pid, &p.vmas, &p.n_vmas), 0);
	p.pid = pid;
	cr_assert_eq(proc_read_stat(pid, 0, &st), 0);

	/* no previous image: nothing tracked yet; armed for the next dump */
	cr_assert_eq(softdirty_proc(NULL, &p, NULL, true, &t), 0);
	cr_expect_eq(t.n_tracked, 0);
	cr_expect_eq(t.start_time, st.start_time);
	cr_expect(t.armed || !kf.soft_dirty);
	cr_assert_neq(t.token, 0, "the arming was not recorded");
	token = t.token;
	track_proc_release(&t);

	kill(pid, SIGUSR1);
	while (peek(pid, a + 3 * PG) != (3 ^ 0xff))
		usleep(1000);

	/* the previous image saw the same VMAs and armed this very process */
	tp = (struct md_track_proc){ pid, st.start_time, -1, token };
	prev.procs = &tp;
	prev.n = 1;
	cr_assert_eq(softdirty_proc(&prev, &p, &p, false, &t), 0);
	for (size_t i = 0; i < t.n_tracked; i++)
		covered = covered || (t.tracked[i].start <= a && a + NPAGES * PG <= t.tracked[i].end);
	cr_expect(covered, "the child's mapping is not tracked since the previous image");
	cr_expect(!t.armed);
	if (kf.soft_dirty) {
		bool page3 = false, page5 = false;

		for (size_t i = 0; i < t.n_written; i++) {
			page3 = page3 || (t.written[i].start <= a + 3 * PG && a + 4 * PG <= t.written[i].end);
			page5 = page5 || (t.written[i].start <= a + 5 * PG && a + 5 * PG < t.written[i].end);
		}
		cr_expect(page3, "the page the child wrote is not soft-dirty");
		cr_expect(!page5, "a page nobody wrote is soft-dirty");
	} else {
		cr_log_info("no soft-dirty bits on this kernel: the written pages are not checked");
	}
	track_proc_release(&t);

	/* another process under the same pid (another start time) was never armed */
	tp.start_time++;
	cr_assert_eq(softdirty_proc(&prev, &p, &p, false, &t), 0);
	cr_expect_eq(t.n_tracked, 0);
	track_proc_release(&t);
	tp.start_time--;

	/* armed again (another chain, or a dump that failed later): the first image is no base now */
	cr_assert_eq(softdirty_proc(NULL, &p, NULL, true, &t), 0);
	cr_assert(t.token != 0 && t.token != token);
	token = t.token;
	track_proc_release(&t);
	cr_assert_eq(softdirty_proc(&prev, &p, &p, false, &t), 0);
	cr_expect_eq(t.n_tracked, 0, "a base whose bits were cleared since was used");
	track_proc_release(&t);
	tp.token = token;
	cr_assert_eq(softdirty_proc(&prev, &p, &p, false, &t), 0);
	cr_expect_neq(t.n_tracked, 0, "the latest arming is not a base");
	track_proc_release(&t);

	md_vmas_free(p.vmas, p.n_vmas);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
