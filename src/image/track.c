/*
 * track.img: which processes of an image are tracked for the next
 * incremental dump, how, and (userfaultfd) who holds the trackers.
 */
#include "memdump/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "track.pb-c.h"

#define TRACK_NAME "track.img"

int image_write_track(int dirfd, const struct md_track *t)
{
	Md__TrackImage m = MD__TRACK_IMAGE__INIT;
	_cleanup_free_ Md__TrackedProc *p = NULL;
	_cleanup_free_ Md__TrackedProc **pp = NULL;

	p = calloc(t->n + 1, sizeof(*p));
	pp = calloc(t->n + 1, sizeof(*pp));
	if (!p || !pp)
		return log_err(-ENOMEM, "cannot write image '%s'", TRACK_NAME);
	for (size_t i = 0; i < t->n; i++) {
		md__tracked_proc__init(&p[i]);
		p[i].pid = t->procs[i].pid;
		p[i].start_time = t->procs[i].start_time;
		p[i].has_uffd = t->procs[i].uffd >= 0;
		p[i].uffd = t->procs[i].uffd;
		p[i].has_token = t->procs[i].token != 0;
		p[i].token = t->procs[i].token;
		pp[i] = &p[i];
	}
	m.method = (Md__TrackMethod)t->method;
	m.has_helper_pid = m.has_helper_start_time = t->method == MD_TRACK_UFFD_WP;
	m.helper_pid = t->helper_pid;
	m.helper_start_time = t->helper_start_time;
	m.n_procs = t->n;
	m.procs = pp;
	return img_write_msg(dirfd, TRACK_NAME, MD_IMG_TRACK, &m.base);
}

int image_read_track(int dirfd, struct md_track *ret)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	Md__TrackImage *m;
	struct md_track t = { 0 };
	int r;

	*ret = t;
	r = img_read_msg_opt(dirfd, TRACK_NAME, MD_IMG_TRACK, &raw);
	if (r <= 0)
		return r;
	m = (Md__TrackImage *)raw;
	if (m->method != MD__TRACK_METHOD__TRACK_NONE && m->method != MD__TRACK_METHOD__TRACK_SOFT_DIRTY &&
	    m->method != MD__TRACK_METHOD__TRACK_UFFD_WP)
		return img_invalid(TRACK_NAME, "unknown method %d", m->method);
	if (m->method == MD__TRACK_METHOD__TRACK_UFFD_WP && (!m->has_helper_pid || m->helper_pid <= 0))
		return img_invalid(TRACK_NAME, "userfaultfd tracking without a helper");
	t.procs = calloc(m->n_procs + 1, sizeof(*t.procs));
	if (!t.procs)
		return log_err(-ENOMEM, "cannot read image '%s'", TRACK_NAME);
	t.method = (enum md_track_method)m->method;
	t.helper_pid = m->helper_pid;
	t.helper_start_time = m->helper_start_time;
	for (size_t i = 0; i < m->n_procs; i++) {
		const Md__TrackedProc *s = m->procs[i];

		if (s->pid <= 0 || (s->has_uffd && s->uffd < 0)) {
			md_track_release(&t);
			return img_invalid(TRACK_NAME, "bad tracked process %d", s->pid);
		}
		t.procs[i] = (struct md_track_proc){ s->pid, s->start_time, s->has_uffd ? s->uffd : -1,
						     s->has_token ? s->token : 0 };
		t.n++;
	}
	*ret = t;
	return 0;
}
