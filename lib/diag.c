/*
 * diag.c — cp_diag: every diagnostic of a load or a compile.
 */
#include "internal.h"

#include <string.h>

typedef struct cp_diag_entry {
	int severity;
	char *file;
	unsigned line, col;
	char *message;
} cp_diag_entry;

struct cp_diag {
	cp_obj obj;
	cp_diag_entry *entries;
	size_t count, cap;
	size_t errors;
	char *formatted; /* last cp_diag_format result */
};

int cp_diag_new(cp_diag **out)
{
	if (!out)
		return CP_EINVAL;
	*out = cp__calloc(1, sizeof(cp_diag));
	if (!*out)
		return CP_ENOMEM;
	cp__obj_init(&(*out)->obj, CP_OBJ_DIAG);
	return CP_OK;
}

void cp_diag_clear(cp_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++) {
		cp__free(d->entries[i].file);
		cp__free(d->entries[i].message);
	}
	d->count = 0;
	d->errors = 0;
	cp__free(d->formatted);
	d->formatted = NULL;
}

void cp_diag_free(cp_diag *d)
{
	if (!d)
		return;
	cp_diag_clear(d);
	cp__free(d->entries);
	cp__obj_fini(&d->obj);
	cp__free(d);
}

int cp__diag_vadd(cp_diag *d, int severity, const char *file, unsigned line,
                  unsigned col, const char *fmt, va_list ap)
{
	if (!d)
		return CP_OK;
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		cp_diag_entry *e = cp__reallocarray(d->entries, cap, sizeof(*e));
		if (!e)
			return CP_ENOMEM;
		d->entries = e;
		d->cap = cap;
	}
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_vprintf(&b, fmt, ap);
	char *msg = cp__buf_steal(&b);
	char *f = file ? cp__strdup(file) : NULL;
	if (!msg || (file && !f)) {
		cp__free(msg);
		cp__free(f);
		return CP_ENOMEM;
	}
	cp_diag_entry *e = &d->entries[d->count++];
	e->severity = severity;
	e->file = f;
	e->line = line;
	e->col = col;
	e->message = msg;
	if (severity == CP_SEV_ERROR)
		d->errors++;
	return CP_OK;
}

int cp__diag_add(cp_diag *d, int severity, const char *file, unsigned line,
                 unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = cp__diag_vadd(d, severity, file, line, col, fmt, ap);
	va_end(ap);
	return rc;
}

size_t cp_diag_count(const cp_diag *d)
{
	return d ? d->count : 0;
}

size_t cp_diag_error_count(const cp_diag *d)
{
	return d ? d->errors : 0;
}

static const cp_diag_entry *entry(const cp_diag *d, size_t i)
{
	return d && i < d->count ? &d->entries[i] : NULL;
}

int cp_diag_severity(const cp_diag *d, size_t i)
{
	const cp_diag_entry *e = entry(d, i);
	return e ? e->severity : -1;
}

const char *cp_diag_file(const cp_diag *d, size_t i)
{
	const cp_diag_entry *e = entry(d, i);
	return e ? (e->file ? e->file : "") : NULL;
}

unsigned cp_diag_line(const cp_diag *d, size_t i)
{
	const cp_diag_entry *e = entry(d, i);
	return e ? e->line : 0;
}

unsigned cp_diag_column(const cp_diag *d, size_t i)
{
	const cp_diag_entry *e = entry(d, i);
	return e ? e->col : 0;
}

const char *cp_diag_message(const cp_diag *d, size_t i)
{
	const cp_diag_entry *e = entry(d, i);
	return e ? e->message : NULL;
}

static const char *severity_name(int severity)
{
	switch (severity) {
	case CP_SEV_ERROR: return "error";
	case CP_SEV_WARNING: return "warning";
	default: return "note";
	}
}

const char *cp_diag_format(cp_diag *d, size_t i)
{
	const cp_diag_entry *e = entry(d, i);
	if (!e)
		return NULL;
	cp_buf b;
	cp__buf_init(&b);
	if (e->file && e->file[0]) {
		cp__buf_puts(&b, e->file);
		if (e->line) {
			cp__buf_printf(&b, ":%u", e->line);
			if (e->col)
				cp__buf_printf(&b, ":%u", e->col);
		}
		cp__buf_puts(&b, ": ");
	}
	cp__buf_printf(&b, "%s: %s", severity_name(e->severity), e->message);
	char *s = cp__buf_steal(&b);
	if (!s)
		return e->message;
	cp__free(d->formatted);
	d->formatted = s;
	return s;
}
