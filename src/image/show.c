/*
 * memdump show: any image file, or every *.img of a directory, as JSON.
 * Metadata is printed by walking the protobuf-c descriptors, so a field
 * added to a .proto shows up without touching this file. Pages files show
 * their header and page count, never the data.
 */
#include "memdump/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

static void indent(FILE *out, int depth)
{
	fprintf(out, "%*s", depth * 2, "");
}

/* Length of the valid UTF-8 sequence at s (of at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0 && s[0] >= 0xc2)
		len = 2;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3;
	else if ((s[0] & 0xf8) == 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * Paths are bytes, JSON is Unicode: valid UTF-8 passes through, any other
 * byte is shown as the code point of the same value, so the output always
 * parses.
 */
static void json_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	fputc('"', out);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t l;

		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			i++;
		} else if ((l = utf8_len(s + i, n - i)) > 0) {
			fwrite(s + i, 1, l, out);
			i += l;
		} else {
			fprintf(out, "\\u%04x", c);
			i++;
		}
	}
	fputc('"', out);
}

static void json_hex(FILE *out, const uint8_t *p, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", p[i]);
	fputc('"', out);
}

static void show_message(FILE *out, const ProtobufCMessage *m, int depth);

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static void show_value(FILE *out, const ProtobufCFieldDescriptor *f, const void *v, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(out, "%" PRId32, *(const int32_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		fprintf(out, "%" PRIu32, *(const uint32_t *)v);
		break;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(out, "%" PRId64, *(const int64_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		fprintf(out, "%" PRIu64, *(const uint64_t *)v);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		fprintf(out, "%.9g", (double)*(const float *)v);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		fprintf(out, "%.17g", *(const double *)v);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)v ? "true" : "false", out);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int e = *(const int *)v;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, e);

		if (ev)
			json_string(out, ev->name);
		else
			fprintf(out, "%d", e);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)v;

		if (s)
			json_string(out, s);
		else
			fputs("null", out);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = v;

		json_hex(out, b->data, b->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)v;

		if (m)
			show_message(out, m, depth);
		else
			fputs("null", out);
		break;
	}
	}
}

/* Whether an optional or oneof field is set in m. */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	if (f->label != PROTOBUF_C_LABEL_OPTIONAL)
		return true;
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)(base + f->offset) != NULL;
	return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
}

static void show_message(FILE *out, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	bool first = true;

	fputs("{", out);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->label != PROTOBUF_C_LABEL_REPEATED && !field_present(m, f))
			continue;
		fputs(first ? "\n" : ",\n", out);
		first = false;
		indent(out, depth + 1);
		json_string(out, f->name);
		fputs(": ", out);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(const char *const *)(base + f->offset);
			size_t sz = elem_size(f->type);
			bool nested = f->type == PROTOBUF_C_TYPE_MESSAGE;

			fputs("[", out);
			for (size_t j = 0; j < n; j++) {
				if (nested) {
					fputs(j ? ",\n" : "\n", out);
					indent(out, depth + 2);
				} else if (j) {
					fputs(", ", out);
				}
				show_value(out, f, arr + j * sz, depth + 2);
			}
			if (nested && n) {
				fputs("\n", out);
				indent(out, depth + 1);
			}
			fputs("]", out);
		} else {
			show_value(out, f, base + f->offset, depth + 1);
		}
	}
	if (!first) {
		fputs("\n", out);
		indent(out, depth);
	}
	fputs("}", out);
}

static void show_header(FILE *out, const struct img_header *h, int depth)
{
	indent(out, depth);
	fputs("\"header\": {", out);
	fprintf(out, "\"magic\": \"MEMDUMP\", \"version\": %u, \"kind\": ", h->version);
	json_string(out, img_kind_name(h->kind));
	fprintf(out,
		", \"payload_size\": %" PRIu64 ", \"checksum\": \"0x%016" PRIx64 "\""
		", \"header_size\": %u, \"flags\": %u}",
		h->payload_size, h->checksum, h->header_size, h->flags);
}

/* One image as a JSON object at depth; on error, an {"error": ...} object. */
static int show_file(int dirfd, const char *name, FILE *out, int depth)
{
	_cleanup_close_ int fd = -1;
	_cleanup_msg_ ProtobufCMessage *m = NULL;
	uint8_t raw[MD_HEADER_ENCODED_SIZE];
	struct image_pages_stat ps;
	struct img_header h;
	struct stat st;
	ssize_t n;
	int r;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = log_err(-errno, "cannot open image '%s'", name);
		goto out_error;
	}
	if (fstat(fd, &st) < 0) {
		r = log_err(-errno, "cannot stat image '%s'", name);
		goto out_error;
	}
	n = pread(fd, raw, sizeof(raw), 0);
	if (n < 0) {
		r = log_err(-errno, "cannot read image '%s'", name);
		goto out_error;
	}
	r = img_header_check(name, raw, n, st.st_size, 0, &h);
	if (r < 0)
		goto out_error;
	if (h.kind != MD_IMG_PAGES) {
		r = img_read_msg(dirfd, name, h.kind, &m);
		if (r < 0)
			goto out_error;
	} else {
		struct image_pages *p;

		/* the index and sizes are checked; the data is not read */
		r = image_pages_open(dirfd, name, MD_PAGES_ANY, false, &p);
		if (r < 0)
			goto out_error;
		image_pages_info(p, &ps);
		image_pages_close(p);
	}

	fputs("{\n", out);
	show_header(out, &h, depth + 1);
	fputs(",\n", out);
	indent(out, depth + 1);
	if (h.kind == MD_IMG_PAGES) {
		fprintf(out,
			"\"pages\": %" PRIu64 ", \"compression\": \"%s\", \"stored_bytes\": %" PRIu64
			", \"chunks\": %" PRIu32 "\n",
			(uint64_t)(ps.data_size / MD_PAGE_SIZE), image_codec_name(ps.codec), ps.stored_size, ps.n_chunks);
	} else {
		fputs("\"payload\": ", out);
		show_message(out, m, depth + 1);
		fputs("\n", out);
	}
	indent(out, depth);
	fputs("}", out);
	return 0;

out_error:
	fputs("{\"error\": ", out);
	json_string(out, r == -EINVAL ? img_last_error() : strerror(-r));
	fputs("}", out);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_image_name(const char *n)
{
	size_t l = strlen(n);

	return l > 4 && strcmp(n + l - 4, ".img") == 0;
}

static int show_dir(const char *path, int dirfd, FILE *out)
{
	_cleanup_closedir_ DIR *d = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd, r = 0;

	fd = dup(dirfd);
	if (fd < 0)
		return log_err(-errno, "cannot read image directory '%s'", path);
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return log_err(r, "cannot read image directory '%s'", path);
	}
	while ((de = readdir(d))) {
		if (!is_image_name(de->d_name))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));

			if (!nn) {
				r = -ENOMEM;
				goto out_free;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			goto out_free;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);

	fputs("{", out);
	for (size_t i = 0; i < n; i++) {
		int k;

		fputs(i ? ",\n  " : "\n  ", out);
		json_string(out, names[i]);
		fputs(": ", out);
		/* Show every file even after a bad one; report the first error. */
		k = show_file(dirfd, names[i], out, 1);
		if (k < 0 && r == 0)
			r = k;
	}
	fputs(n ? "\n}\n" : "}\n", out);

out_free:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r == -ENOMEM)
		log_err(r, "cannot show image directory '%s'", path);
	return r;
}

int image_show(const char *path, FILE *out)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0)
		return log_err(-errno, "cannot stat '%s'", path);
	if (S_ISDIR(st.st_mode))
		return show_dir(path, fd, out);
	r = show_file(AT_FDCWD, path, out, 0);
	fputs("\n", out);
	return r;
}
