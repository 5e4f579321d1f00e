/*
 * pipes.img: every pipe of the dumped tree with its capacity and the bytes
 * that sat unread in it. Which fds hold its ends is in files-PID.img.
 */
#include "memdump/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "pipes.pb-c.h"

#define PIPES_NAME "pipes.img"

int image_write_pipes(int dirfd, const struct md_pipe *pipes, size_t n)
{
	Md__PipesImage m = MD__PIPES_IMAGE__INIT;
	_cleanup_free_ Md__Pipe *e = calloc(n ? n : 1, sizeof(*e));
	_cleanup_free_ Md__Pipe **ep = calloc(n ? n : 1, sizeof(*ep));

	if (!e || !ep)
		return log_err(-ENOMEM, "cannot write image '%s'", PIPES_NAME);
	for (size_t i = 0; i < n; i++) {
		md__pipe__init(&e[i]);
		e[i].id = pipes[i].id;
		e[i].size = pipes[i].size;
		e[i].data.data = pipes[i].data;
		e[i].data.len = pipes[i].len;
		e[i].has_fifo = pipes[i].fifo;
		e[i].fifo = pipes[i].fifo;
		ep[i] = &e[i];
	}
	m.n_pipes = n;
	m.pipes = ep;
	return img_write_msg(dirfd, PIPES_NAME, MD_IMG_PIPES, &m.base);
}

int image_read_pipes(int dirfd, struct md_pipe **ret, size_t *ret_n)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	struct md_pipe *p;
	Md__PipesImage *m;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = img_read_msg_opt(dirfd, PIPES_NAME, MD_IMG_PIPES, &raw);
	if (r <= 0)
		return r;
	m = (Md__PipesImage *)raw;
	for (size_t i = 0; i < m->n_pipes; i++) {
		if (m->pipes[i]->data.len > m->pipes[i]->size)
			return img_invalid(PIPES_NAME, "pipe %llu holds %zu bytes, more than its size %u",
					   (unsigned long long)m->pipes[i]->id, m->pipes[i]->data.len,
					   m->pipes[i]->size);
	}
	p = calloc(m->n_pipes ? m->n_pipes : 1, sizeof(*p));
	if (!p)
		return log_err(-ENOMEM, "cannot read image '%s'", PIPES_NAME);
	for (size_t i = 0; i < m->n_pipes; i++) {
		const Md__Pipe *s = m->pipes[i];

		p[i].id = s->id;
		p[i].fifo = s->has_fifo && s->fifo;
		p[i].size = s->size;
		p[i].len = s->data.len;
		p[i].data = malloc(s->data.len ? s->data.len : 1);
		if (!p[i].data) {
			for (size_t j = 0; j < i; j++)
				md_pipe_release(&p[j]);
			free(p);
			return log_err(-ENOMEM, "cannot read image '%s'", PIPES_NAME);
		}
		if (s->data.len)	/* protobuf-c gives no buffer for empty bytes */
			memcpy(p[i].data, s->data.data, s->data.len);
	}
	md_pipes_sort(p, m->n_pipes);
	for (size_t i = 1; i < m->n_pipes; i++)
		if (p[i].fifo == p[i - 1].fifo && p[i].id == p[i - 1].id) {
			bool fifo = p[i].fifo;
			uint64_t id = p[i].id;

			for (size_t j = 0; j < m->n_pipes; j++)
				md_pipe_release(&p[j]);
			free(p);
			return img_invalid(PIPES_NAME, "%s %llu appears twice", fifo ? "FIFO" : "pipe",
					   (unsigned long long)id);
		}
	*ret = p;
	*ret_n = m->n_pipes;
	return 0;
}
