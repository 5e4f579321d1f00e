/*
 * SysV shared memory segments: memdump makes each segment of the image
 * under its old id before any process exists (shm_next_id of our IPC
 * namespace, then shmget), fills it, and every process attaches it with a
 * remote shmat(), so that its VMAs are SysV attaches again: shm_nattch
 * counts them, IPC_RMID and shmdt() work on them as before.
 *
 * A segment that still exists under the id with the same key and size and
 * that nobody has attached is taken to be the one the dump left behind (the
 * dump killed the tree, the segment stayed): it is reused and its content
 * set to the image's. Any other segment under the id, or under the key, is
 * refused before any process is created; segments this restore made are
 * removed again, one it reused keeps the image's content.
 *
 * The VMAs of one attach split by mprotect() stay one attach: contiguous
 * VMAs of a segment, contiguous in it too, are attached once and the
 * pieces mprotect()ed, so shmdt() of the first detaches them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/ipcns.h"
#include "memdump/log.h"
#include "restore/internal.h"

#define SHM_NEXT_ID "/proc/sys/kernel/shm_next_id"

/*
 * The kernel forgets a chosen id once a segment takes it, and the sysctl
 * refuses -1: an id left chosen by a failed shmget() would go to whoever
 * makes the next segment. Use it up with a throwaway segment.
 */
static void unchoose_id(void)
{
	int id = shmget(IPC_PRIVATE, 1, IPC_CREAT | 0600);

	if (id >= 0)
		shmctl(id, IPC_RMID, NULL);
}

/* a new segment under s's id; the image's key unless it was removed (then IPC_PRIVATE) */
static int create(const struct restore_shm *s)
{
	int id = (int)s->shm.id, got, r;
	key_t key = s->shm.sysv_mode & SHM_DEST ? IPC_PRIVATE : s->shm.sysv_key;

	/* the key first: a failure after choosing the id would leave it chosen */
	if (key != IPC_PRIVATE && shmget(key, 0, 0) >= 0)
		return log_err(-EEXIST, "cannot recreate SysV shared memory %d: another segment has its key 0x%x "
					"(ipcrm -M 0x%x, or restore elsewhere)", id, (unsigned)key, (unsigned)key);
	r = ipcns_choose_id("shm", id);
	if (r < 0)
		return log_err(r, "cannot ask for SysV shared memory id %d through %s (this IPC namespace does "
				  "not let us choose ids)", id, SHM_NEXT_ID);
	got = shmget(key, s->shm.size, IPC_CREAT | IPC_EXCL | (int)(s->shm.sysv_mode & 0777));
	if (got < 0) {
		r = -errno;
		unchoose_id();
		return log_err(r, "cannot recreate SysV shared memory %d (%llu bytes)", id,
			       (unsigned long long)s->shm.size);
	}
	if (got != id) {
		shmctl(got, IPC_RMID, NULL);
		return log_err(-EBUSY, "cannot recreate SysV shared memory %d: the kernel gave id %d", id, got);
	}
	return 0;
}

/* the segment the dump left behind under this id, or a refusal naming the one in the way */
static int reusable(const struct restore_shm *s, const struct shmid_ds *ds)
{
	int id = (int)s->shm.id;

	if (!(ds->shm_perm.mode & SHM_DEST) && !(s->shm.sysv_mode & SHM_DEST) &&
	    ds->shm_perm.__key == s->shm.sysv_key && ds->shm_segsz == s->shm.size && ds->shm_nattch == 0)
		return 0;
	return log_err(-EBUSY, "SysV shared memory id %d is taken by a segment%s (key 0x%x, %zu bytes, %lu "
			       "attached): remove it (ipcrm -m %d) or restore elsewhere",
		       id, ds->shm_perm.mode & SHM_DEST ? " being removed" : "", (unsigned)ds->shm_perm.__key,
		       (size_t)ds->shm_segsz, (unsigned long)ds->shm_nattch, id);
}

/* owner, permissions and lock as in the image */
static int set_attrs(const struct restore_shm *s)
{
	int id = (int)s->shm.id;
	struct shmid_ds ds;
	bool locked;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	locked = ds.shm_perm.mode & SHM_LOCKED;
	ds.shm_perm.uid = s->shm.sysv_uid;
	ds.shm_perm.gid = s->shm.sysv_gid;
	ds.shm_perm.mode = s->shm.sysv_mode & 0777;
	if (shmctl(id, IPC_SET, &ds) < 0)
		return -errno;
	if (!!(s->shm.sysv_mode & SHM_LOCKED) != locked &&
	    shmctl(id, s->shm.sysv_mode & SHM_LOCKED ? SHM_LOCK : SHM_UNLOCK, NULL) < 0)
		return -errno;
	return 0;
}

/* the image's bytes, and zeroes elsewhere: through our own attach's shmem file */
static int fill(const struct restore_shm *s, bool clear)
{
	char path[96];
	void *m;
	int fd, r;

	m = shmat((int)s->shm.id, NULL, 0);
	if (m == (void *)-1)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)m,
		 (unsigned long)m + (unsigned long)md_page_round_up(s->shm.size));
	fd = open(path, O_RDWR | O_CLOEXEC);
	r = fd < 0 ? -errno : 0;
	/* the whole last page: what lies past the size is seen through every attach */
	if (!r && clear && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)md_page_round_up(s->shm.size)) < 0)
		r = -errno;
	if (!r)
		r = restore_fill_file(&s->pm, s->pages, fd, s->shm.size);
	if (fd >= 0)
		close(fd);
	shmdt(m);
	return r;
}

int restore_make_sysv(struct restore_shm *s)
{
	int id = (int)s->shm.id, r;
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) == 0) {
		r = reusable(s, &ds);
		if (r < 0)
			return r;
	} else if (errno != EINVAL && errno != EIDRM) {
		return log_err(-errno, "cannot look for SysV shared memory %d", id);
	} else {
		r = create(s);
		if (r < 0)
			return r;
		s->created = true;
	}
	r = set_attrs(s);
	if (r < 0)
		return log_err(r, "cannot set the owner and mode of SysV shared memory %d", id);
	r = fill(s, !s->created);
	if (r < 0)
		return log_err(r, "cannot fill SysV shared memory %d", id);
	return 0;
}

size_t restore_sysv_attach_len(const struct md_vma *vmas, size_t n)
{
	size_t k = 1;

	if (vmas[0].kind != MD_VMA_SYSV)
		return 1;
	while (k < n && vmas[k].kind == MD_VMA_SYSV && vmas[k].shm_id == vmas[0].shm_id &&
	       vmas[k].start == vmas[k - 1].end &&
	       vmas[k].pgoff == vmas[k - 1].pgoff + (vmas[k - 1].end - vmas[k - 1].start) &&
	       (vmas[k].vmflags & MD_VMF_MW) == (vmas[0].vmflags & MD_VMF_MW))
		k++;
	return k;
}

int restore_map_sysv(struct restore_proc *rp, const struct md_vma *vmas, size_t n, const struct restore_shm *s)
{
	uint64_t start = vmas[0].start, len = vmas[n - 1].end - start, pgoff = vmas[0].pgoff;
	uint64_t whole = md_page_round_up(s->shm.size), base;
	uint64_t flags = vmas[0].vmflags & MD_VMF_MW ? 0 : SHM_RDONLY;
	uint64_t prot = PROT_READ | (flags & SHM_RDONLY ? 0 : PROT_WRITE);
	int64_t res;
	int r;

	/*
	 * The whole segment attaches in place. A part of one (the process
	 * unmapped the rest) attaches where the kernel likes, and the part
	 * moves into place: mremap() keeps it a SysV attach. A placeholder
	 * holds the place meanwhile, or the kernel could pick a range
	 * overlapping it, which mremap() cannot move onto.
	 */
	if (pgoff == 0 && len == whole) {
		r = restore_rcall(rp, "shmat", SYS_shmat, s->shm.id, start, flags, 0, 0, 0, &res);
		if (r < 0)
			return r;
		if (res != (int64_t)start)
			return log_err(res < 0 ? (int)res : -EFAULT, "cannot attach SysV shared memory %llu at %#llx "
				       "in %d", (unsigned long long)s->shm.id, (unsigned long long)start, rp->pid);
	} else {
		r = restore_rcall_ok(rp, "mmap", SYS_mmap, start, len, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0);
		if (r < 0)
			return r;
		r = restore_rcall(rp, "shmat", SYS_shmat, s->shm.id, 0, flags, 0, 0, 0, &res);
		if (r < 0)
			return r;
		if (res < 0 && res > -4096)
			return log_err((int)res, "cannot attach SysV shared memory %llu in %d",
				       (unsigned long long)s->shm.id, rp->pid);
		base = (uint64_t)res;
		r = restore_rcall(rp, "mremap", SYS_mremap, base + pgoff, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				  start, 0, &res);
		if (r == 0 && res != (int64_t)start)
			r = log_err(res < 0 ? (int)res : -EFAULT, "cannot move part of SysV shared memory %llu to "
				    "%#llx in %d", (unsigned long long)s->shm.id, (unsigned long long)start, rp->pid);
		/* what is left of the attach, around the part moved out */
		if (restore_rcall_ok(rp, "munmap", SYS_munmap, base, whole, 0, 0, 0, 0) < 0 && r == 0)
			r = -EFAULT;
		if (r < 0)
			return r;
	}
	/* the pieces mprotect() made of the attach */
	for (size_t i = 0; i < n; i++) {
		if (vmas[i].prot == prot)
			continue;
		r = restore_rcall_ok(rp, "mprotect", SYS_mprotect, vmas[i].start, vmas[i].end - vmas[i].start,
				     vmas[i].prot, 0, 0, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

void restore_sysv_finish(struct restore_ctx *rc, bool ok)
{
	for (size_t i = 0; i < rc->n_shms; i++) {
		struct restore_shm *s = &rc->shms[i];

		if (!s->shm.sysv)
			continue;
		/*
		 * Removed at dump time: gone again once the tree detaches it.
		 * Made by a restore that failed: gone with the processes.
		 */
		if (s->removed || !((ok && s->shm.sysv_mode & SHM_DEST) || (!ok && s->created)))
			continue;
		if (shmctl((int)s->shm.id, IPC_RMID, NULL) < 0)
			log_warn("cannot remove SysV shared memory %llu: %s", (unsigned long long)s->shm.id,
				 strerror(errno));
		else
			s->removed = true;
	}
}
