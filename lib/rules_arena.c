/*
 * rules_arena.c — what every stage of the rule compiler shares: a bump
 * allocator for everything that lives as long as the ruleset, a small string
 * map, and the reporting of diagnostics at expression offsets.
 */
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>

#include "yamlpos.h"
#include <string.h>

/* ---- arena ---- */

struct cp__arena_chunk {
	cp__arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define CP_ARENA_CHUNK 65536u

void cp__arena_init(cp__arena *a)
{
	a->head = NULL;
	a->total = 0;
}

void cp__arena_free(cp__arena *a)
{
	cp__arena_chunk *c = a->head;
	while (c) {
		cp__arena_chunk *next = c->next;
		cp__free(c);
		c = next;
	}
	cp__arena_init(a);
}

void *cp__arena_alloc(cp__arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	cp__arena_chunk *c = a->head;
	if (!c || c->cap - c->used < size) {
		size_t cap = size > CP_ARENA_CHUNK / 4 ? size : CP_ARENA_CHUNK;
		if (cap > SIZE_MAX - sizeof(*c))
			return NULL;
		cp__arena_chunk *n = cp__malloc(sizeof(*n) + cap);
		if (!n)
			return NULL;
		n->used = 0;
		n->cap = cap;
		a->total += cap;
		if (c && size > CP_ARENA_CHUNK / 4) {
			/* a big block: keep filling the current chunk afterwards */
			n->next = c->next;
			c->next = n;
		} else {
			n->next = c;
			a->head = n;
		}
		c = n;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *cp__arena_strndup(cp__arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = cp__arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *cp__arena_strdup(cp__arena *a, const char *s)
{
	return s ? cp__arena_strndup(a, s, strlen(s)) : NULL;
}

/* ---- string map ---- */

void cp__strmap_free(cp__strmap *m)
{
	cp__free(m->keys);
	cp__free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int strmap_grow(cp__strmap *m)
{
	uint32_t size = m->mask ? (m->mask + 1) * 2 : 16;
	const char **keys = cp__calloc(size, sizeof(*keys));
	int *vals = cp__calloc(size, sizeof(*vals));
	if (!keys || !vals) {
		cp__free(keys);
		cp__free(vals);
		return CP_ENOMEM;
	}
	for (uint32_t i = 0; m->mask && i <= m->mask; i++) {
		if (!m->keys[i])
			continue;
		uint32_t h = cp__hash(m->keys[i], strlen(m->keys[i])) & (size - 1);
		while (keys[h])
			h = (h + 1) & (size - 1);
		keys[h] = m->keys[i];
		vals[h] = m->vals[i];
	}
	cp__free(m->keys);
	cp__free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->mask = size - 1;
	return CP_OK;
}

int cp__strmap_put(cp__strmap *m, const char *key, int val, int *old)
{
	if ((m->count + 1) * 2 > (m->mask ? m->mask + 1 : 0) && strmap_grow(m) != CP_OK)
		return CP_ENOMEM;
	uint32_t h = cp__hash(key, strlen(key)) & m->mask;
	while (m->keys[h]) {
		if (strcmp(m->keys[h], key) == 0) {
			if (old)
				*old = m->vals[h];
			return CP_EEXIST;
		}
		h = (h + 1) & m->mask;
	}
	m->keys[h] = key;
	m->vals[h] = val;
	m->count++;
	return CP_OK;
}

int cp__strmap_get(const cp__strmap *m, const char *key)
{
	if (!m->mask)
		return -1;
	uint32_t h = cp__hash(key, strlen(key)) & m->mask;
	while (m->keys[h]) {
		if (strcmp(m->keys[h], key) == 0)
			return m->vals[h];
		h = (h + 1) & m->mask;
	}
	return -1;
}

/* ---- diagnostics ---- */

static void errs_vadd(cp__errs *e, int severity, int code, const char *file, unsigned line,
                      unsigned col, const char *fmt, va_list ap) CP_PRINTF(7, 0);

static void errs_vadd(cp__errs *e, int severity, int code, const char *file, unsigned line,
                      unsigned col, const char *fmt, va_list ap)
{
	if (severity == CP_SEV_ERROR) {
		if (!e->errors)
			e->first_code = code;
		e->errors++;
	} else {
		e->warnings++;
	}
	if (e->npend == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		cp__pending *p = cp__reallocarray(e->pend, cap, sizeof(*p));
		if (!p) {
			e->oom = true;
			return;
		}
		e->pend = p;
		e->cap = cap;
	}
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_vprintf(&b, fmt, ap);
	char *msg = cp__buf_steal(&b);
	if (!msg) {
		e->oom = true;
		return;
	}
	cp__pending *p = &e->pend[e->npend];
	p->severity = severity;
	p->code = code;
	p->file = file;
	p->line = line;
	p->col = col;
	p->msg = msg;
	p->seq = e->npend++;
}

/* Within one file: by line, column, then the order of reporting. */
static int pend_cmp(const void *x, const void *y)
{
	const cp__pending *a = x, *b = y;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

void cp__errs_flush(cp__errs *e)
{
	/* group by file in order of first appearance (stable), then sort each
	 * file's entries by position */
	size_t n = e->npend;
	cp__pending *sorted = n ? cp__calloc(n, sizeof(*sorted)) : NULL;
	if (n && !sorted) {
		e->oom = true;
		sorted = NULL;
	}
	size_t k = 0;
	for (size_t i = 0; sorted && i < n; i++) {
		if (!e->pend[i].msg)
			continue;
		const char *f = e->pend[i].file;
		size_t start = k;
		for (size_t j = i; j < n; j++) {
			const char *g = e->pend[j].file;
			if (e->pend[j].msg && (f == g || (f && g && strcmp(f, g) == 0))) {
				sorted[k] = e->pend[j];
				sorted[k].file = f;
				k++;
				e->pend[j].msg = NULL;
			}
		}
		qsort(sorted + start, k - start, sizeof(*sorted), pend_cmp);
	}
	/* entries without a file (parameter overrides) come first */
	bool first_error = true;
	for (int pass = 0; sorted && pass < 2; pass++) {
		for (size_t i = 0; i < k; i++) {
			cp__pending *p = &sorted[i];
			if ((pass == 0) != (p->file == NULL))
				continue;
			if (p->severity == CP_SEV_ERROR && first_error) {
				e->first_code = p->code;
				first_error = false;
			}
			if (cp__diag_add(e->diag, p->severity, p->file, p->line, p->col, "%s", p->msg) != CP_OK)
				e->oom = true;
		}
	}
	for (size_t i = 0; sorted && i < k; i++)
		cp__free(sorted[i].msg);
	for (size_t i = 0; i < n; i++)
		cp__free(e->pend[i].msg);
	cp__free(sorted);
	cp__free(e->pend);
	e->pend = NULL;
	e->npend = e->cap = 0;
	if (e->oom && !e->first_code)
		e->first_code = CP_ENOMEM;
}

void cp__rules_error_at(cp__errs *e, int code, const char *file, unsigned line,
                        unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errs_vadd(e, CP_SEV_ERROR, code, file, line, col, fmt, ap);
	va_end(ap);
}

void cp__rules_warning_at(cp__errs *e, const char *file, unsigned line, unsigned col,
                          const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errs_vadd(e, CP_SEV_WARNING, CP_OK, file, line, col, fmt, ap);
	va_end(ap);
}

void cp__expr_error(cp__errs *e, const cp__expr *x, int code, size_t off, const char *fmt, ...)
{
	unsigned line, col;
	cp__where_pos(&x->where, x->text, off, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	errs_vadd(e, CP_SEV_ERROR, code, x->where.file, line, col, fmt, ap);
	va_end(ap);
}

void cp__expr_warning(cp__errs *e, const cp__expr *x, size_t off, const char *fmt, ...)
{
	unsigned line, col;
	cp__where_pos(&x->where, x->text, off, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	errs_vadd(e, CP_SEV_WARNING, CP_OK, x->where.file, line, col, fmt, ap);
	va_end(ap);
}

/* ---- positions ---- */

/* Columns count characters (UTF-8 sequences), as libyaml's marks do. */
static unsigned utf8_chars(const char *s, size_t n)
{
	unsigned c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

void cp__where_pos(const cp__where *w, const char *text, size_t off, unsigned *line,
                   unsigned *col)
{
	if (w->ypos) {
		cp__yamlpos_locate(w->ypos, off, line, col);
		return;
	}
	/* Without a map, offsets count lines inside the expression: a line
	 * break goes on at the content's indentation of the next line. */
	unsigned l = w->line, c = w->col;
	size_t bol = 0;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			l++;
			bol = i + 1;
			c = w->indent + 1;
		}
	}
	*line = l;
	*col = c + utf8_chars(text + bol, off - bol);
}
