/*
 * batch_select.c — target lists (cp_select): the profiles for which a
 * condition is true, ordered, limited, with the values of columns; CSV out.
 *
 * The pass keeps, per thread, the matching profiles as entries (the order
 * value, the row slot and the key): all of them without a limit, else only
 * the best `limit` ones in a bounded heap whose top is the worst kept, so a
 * thread holds at most `limit` entries whatever the store's size.  The
 * threads' entries are then merged and sorted by one total order (the
 * value, nulls last in either direction, then the key; without an order,
 * the row slot), so the list is the same on every run and thread count.
 *
 * Reading the list evaluates each listed profile again, on the calling
 * thread, and formats the columns it is asked for: the pass never formats
 * a value that may not make the list.
 */
#include "batch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { COL_TAGS = 1, COL_STAGE, COL_EXPR };

typedef struct colspec {
	int kind;
	int ref;       /* track, or expression index */
	char *name;    /* as given */
	char *label;
} colspec;

/* A profile of the list. */
typedef struct entry {
	cp__val v;        /* the order's value */
	bool null;
	size_t row;       /* row slot: the order when there is no order expression */
	const char *key;  /* ties; owned by the store */
} entry;

struct cp_select {
	cp_obj obj;
	const cp_ruleset *rs;
	cp_query *q;
	int where, order;  /* expression indexes, or -1 */
	bool desc;
	int64_t limit;     /* < 0: none */
	bool labels;
	colspec *cols;
	int ncols, cap_cols;
	bool default_cols; /* cols is the key field alone, made by cp_select_new */
	/* the list (after a run) */
	const cp_store *store;
	entry *list;
	size_t count;
	uint64_t matched;
	/* reading it */
	size_t next;       /* the entry cp_select_next looks at */
	bool current;      /* res holds the evaluation of entry next - 1 */
	cp_result *res;
	cp_view *view;
	cp_buf *texts;     /* per column, made on demand */
	bool *have;
	cp_buf line;
};

/* ---- building ---- */

static void clear_list(cp_select *s)
{
	cp__free(s->list);
	s->list = NULL;
	s->count = 0;
	s->matched = 0;
	s->next = 0;
	s->current = false;
}

static void free_cols(cp_select *s)
{
	for (int i = 0; i < s->ncols; i++) {
		cp__free(s->cols[i].name);
		cp__free(s->cols[i].label);
		cp__buf_free(&s->texts[i]);
	}
	s->ncols = 0;
}

void cp_select_free(cp_select *s)
{
	if (!s)
		return;
	clear_list(s);
	free_cols(s);
	cp__free(s->cols);
	cp__free(s->texts);
	cp__free(s->have);
	cp__buf_free(&s->line);
	cp_result_free(s->res);
	cp_view_free(s->view);
	cp_query_free(s->q);
	cp__obj_fini(&s->obj);
	cp__free(s);
}

static int grow_cols(cp_select *s)
{
	if (s->ncols < s->cap_cols)
		return CP_OK;
	int cap = s->cap_cols ? s->cap_cols * 2 : 8;
	colspec *c = cp__reallocarray(s->cols, (size_t)cap, sizeof(*c));
	if (c)
		s->cols = c;
	cp_buf *t = cp__reallocarray(s->texts, (size_t)cap, sizeof(*t));
	if (t)
		s->texts = t;
	bool *h = cp__reallocarray(s->have, (size_t)cap, sizeof(*h));
	if (h)
		s->have = h;
	if (!c || !t || !h)
		return CP_ENOMEM;
	s->cap_cols = cap;
	return CP_OK;
}

/* Parse a column spec into c. */
static int parse_column(cp_select *s, colspec *c, const char *spec, cp_diag *diag)
{
	const cp_ruleset *rs = s->rs;
	if (strcmp(spec, "tags") == 0) {
		c->kind = COL_TAGS;
		c->label = cp__strdup(spec);
		return c->label ? CP_OK : CP_ENOMEM;
	}
	if (strcmp(spec, "stage") == 0 || strncmp(spec, "stage:", 6) == 0) {
		const char *track = spec[5] ? spec + 6 : NULL;
		c->kind = COL_STAGE;
		c->ref = track ? cp_ruleset_track_index(rs, track) : rs->ntracks ? 0 : -1;
		if (c->ref < 0) {
			const char *near = track ? cp__rules_suggest_track(rs, track) : NULL;
			char msg[300];
			if (!track)
				snprintf(msg, sizeof(msg), "the rules have no lifecycle track");
			else if (near)
				snprintf(msg, sizeof(msg), "no track '%s' in the rules (did you mean '%s'?)", track,
				         near);
			else
				snprintf(msg, sizeof(msg), "no track '%s' in the rules", track);
			cp__diag_add(diag, CP_SEV_ERROR, spec, 1, track ? 7 : 1, "%s", msg);
			return cp__fail(&s->obj, CP_ENOTFOUND, "%s:1:%d: error: %s", spec, track ? 7 : 1, msg);
		}
		c->label = cp__strdup(cp_ruleset_track_label(rs, c->ref));
		return c->label ? CP_OK : CP_ENOMEM;
	}
	c->kind = COL_EXPR;
	c->ref = cp__batch_add_expr(s->q, spec, spec, false, diag, &s->obj);
	if (c->ref < 0)
		return c->ref;
	c->label = cp__batch_expr_label(s->q, c->ref, spec);
	return c->label ? CP_OK : CP_ENOMEM;
}

static int add_column(cp_select *s, const char *spec, cp_diag *diag)
{
	if (grow_cols(s) != CP_OK)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
	colspec *c = &s->cols[s->ncols];
	memset(c, 0, sizeof(*c));
	c->name = cp__strdup(spec);
	int rc = c->name ? parse_column(s, c, spec, diag) : CP_ENOMEM;
	if (rc != CP_OK) {
		cp__free(c->name);
		cp__free(c->label);
		return rc == CP_ENOMEM ? cp__fail(&s->obj, rc, "out of memory") : rc;
	}
	cp__buf_init(&s->texts[s->ncols]);
	s->ncols++;
	return CP_OK;
}

int cp_select_new(cp_select **out, const cp_ruleset *rs)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!rs)
		return CP_EINVAL;
	cp_select *s = cp__calloc(1, sizeof(*s));
	if (!s)
		return CP_ENOMEM;
	cp__obj_init(&s->obj, CP_OBJ_OTHER);
	s->rs = rs;
	s->where = s->order = -1;
	s->limit = -1;
	cp__buf_init(&s->line);
	const cp_schema *sc = rs->schema;
	if (cp__query_new(&s->q, rs) != CP_OK ||
	    add_column(s, sc->fields[sc->key].name, NULL) != CP_OK) {
		cp_select_free(s);
		return CP_ENOMEM;
	}
	s->default_cols = true;
	*out = s;
	return CP_OK;
}

int cp_select_set_where(cp_select *s, const char *expr, cp_diag *diag)
{
	if (!s)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	clear_list(s);
	if (!expr) {
		s->where = -1;
		return CP_OK;
	}
	int i = cp__batch_add_expr(s->q, expr, "where", true, diag, &s->obj);
	if (i < 0)
		return i;
	s->where = i;
	return CP_OK;
}

int cp_select_set_order(cp_select *s, const char *expr, int descending, cp_diag *diag)
{
	if (!s)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	clear_list(s);
	if (!expr) {
		s->order = -1;
		return CP_OK;
	}
	int i = cp__batch_add_expr(s->q, expr, "order", false, diag, &s->obj);
	if (i < 0)
		return i;
	cp__type t = s->q->exprs[i].type;
	char tb[96];
	if (t.n || t.base == B_SET || t.base == B_LIST)
		return cp__batch_expr_error(s->q, i, CP_ETYPE, diag, &s->obj,
		                            "cannot order by %s: give one value per profile",
		                            cp__type_describe(t, tb, sizeof(tb)));
	s->order = i;
	s->desc = descending != 0;
	return CP_OK;
}

int cp_select_set_limit(cp_select *s, int64_t limit)
{
	if (!s)
		return CP_EINVAL;
	clear_list(s);
	s->limit = limit < 0 ? -1 : limit;
	return CP_OK;
}

int cp_select_set_labels(cp_select *s, int labels)
{
	if (!s)
		return CP_EINVAL;
	s->labels = labels != 0;
	return CP_OK;
}

int cp_select_add_column(cp_select *s, const char *column, cp_diag *diag)
{
	if (!s || !column)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	clear_list(s);
	int rc = add_column(s, column, diag);
	if (rc == CP_OK && s->default_cols) {
		/* the first column given replaces the default one */
		cp__free(s->cols[0].name);
		cp__free(s->cols[0].label);
		cp__buf_free(&s->texts[0]);
		s->cols[0] = s->cols[1];
		s->texts[0] = s->texts[1];
		s->ncols = 1;
		s->default_cols = false;
	}
	return rc;
}

/* ---- the order ---- */

/* <0 when a comes before b in the list. */
static int compare(const cp_select *s, const entry *a, const entry *b)
{
	if (s->order < 0)
		return a->row < b->row ? -1 : a->row > b->row;
	if (a->null != b->null)
		return a->null ? 1 : -1;
	if (!a->null) {
		int c;
		switch (s->q->exprs[s->order].type.base) {
		case B_FLOAT:
			c = a->v.f < b->v.f ? -1 : a->v.f > b->v.f;
			break;
		case B_STRING:
			c = strcmp(a->v.s, b->v.s);
			c = c < 0 ? -1 : c > 0;
			break;
		default:
			c = a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
			break;
		}
		if (c)
			return s->desc ? -c : c;
	}
	return strcmp(a->key, b->key);
}

/* Max-heap on the list order: the top is the entry that comes last. */
static void sift_down(const cp_select *s, entry *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && compare(s, &h[l], &h[m]) > 0)
			m = l;
		if (r < n && compare(s, &h[r], &h[m]) > 0)
			m = r;
		if (m == i)
			return;
		entry t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void sift_up(const cp_select *s, entry *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (compare(s, &h[i], &h[p]) <= 0)
			return;
		entry t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

/* Sort in list order (heapsort: no allocation, any size). */
static void sort_entries(const cp_select *s, entry *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(s, v, n, i);
	for (size_t end = n; end > 1; end--) {
		entry t = v[0];
		v[0] = v[end - 1];
		v[end - 1] = t;
		sift_down(s, v, end - 1, 0);
	}
}

/* ---- the pass ---- */

typedef struct acc {
	entry *v;
	size_t n, cap;
	uint64_t matched;
} acc;

typedef struct run {
	const cp_select *s;
	acc *accs; /* per thread */
} run;

static int push(acc *a, const entry *e)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		entry *v = cp__reallocarray(a->v, cap, sizeof(*v));
		if (!v)
			return CP_ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = *e;
	return CP_OK;
}

static int select_row(cp__pass *p, int worker, size_t chunk, size_t row, const cp_view *view,
                      const cp_result *res)
{
	(void)chunk;
	const run *r = p->ctx;
	const cp_select *s = r->s;
	acc *a = &r->accs[worker];
	if (s->where >= 0 && !cp__query_true(s->q, res, s->where))
		return CP_OK;
	a->matched++;
	if (s->limit == 0)
		return CP_OK;
	entry e;
	memset(&e, 0, sizeof(e));
	e.row = row;
	e.key = cp_view_key(view);
	e.null = true;
	if (s->order >= 0) {
		const cp__slot *v = cp__query_value(s->q, res, s->order);
		int base = s->q->exprs[s->order].type.base;
		e.null = v->null || base == B_NULL || (base == B_FLOAT && isnan(v->v.f));
		e.v = v->v;
	}
	if (s->limit < 0 || a->n < (uint64_t)s->limit) {
		if (push(a, &e) != CP_OK)
			return cp__pass_fail(p, CP_ENOMEM, "out of memory for the list");
		if (s->limit >= 0)
			sift_up(s, a->v, a->n - 1);
	} else if (compare(s, &e, &a->v[0]) < 0) {
		a->v[0] = e;
		sift_down(s, a->v, a->n, 0);
	}
	return CP_OK;
}

/* Every thread's entries, sorted and cut to the limit, become the list. */
static int merge(cp_select *s, acc *accs, int nthreads)
{
	size_t n = 0;
	for (int w = 0; w < nthreads; w++) {
		n += accs[w].n;
		s->matched += accs[w].matched;
	}
	entry *v = cp__calloc(n + 1, sizeof(*v));
	if (!v)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory for a list of %zu", n);
	n = 0;
	for (int w = 0; w < nthreads; w++) {
		if (accs[w].n)
			memcpy(v + n, accs[w].v, accs[w].n * sizeof(*v));
		n += accs[w].n;
	}
	sort_entries(s, v, n);
	if (s->limit >= 0 && n > (uint64_t)s->limit)
		n = (size_t)s->limit;
	s->list = v;
	s->count = n;
	return CP_OK;
}

/* A result and a view to read the list with (the query may have grown). */
static int reader(cp_select *s, const cp_store *store)
{
	cp_result_free(s->res);
	cp_view_free(s->view);
	s->res = NULL;
	s->view = NULL;
	if (cp_result_new(&s->res, &s->q->rs) != CP_OK || cp_view_new(&s->view, store) != CP_OK)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
	return CP_OK;
}

int cp_select_run(cp_select *s, const cp_store *store, const cp_batch_opts *opts)
{
	if (!s || !store)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	clear_list(s);
	s->store = store;
	if (cp__query_finish(s->q) != CP_OK)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
	run r = {s, NULL};
	cp__pass p;
	memset(&p, 0, sizeof(p));
	p.rs = &s->q->rs;
	p.store = store;
	p.opts = opts;
	p.row = select_row;
	p.ctx = &r;
	p.err = &s->obj;
	int rc = cp__pass_plan(&p);
	if (rc != CP_OK)
		return rc;
	if ((rc = reader(s, store)) != CP_OK)
		return rc;
	r.accs = cp__calloc((size_t)p.nthreads, sizeof(*r.accs));
	if (!r.accs)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
	rc = cp__pass_run(&p);
	if (rc == CP_OK)
		rc = merge(s, r.accs, p.nthreads);
	for (int w = 0; w < p.nthreads; w++)
		cp__free(r.accs[w].v);
	cp__free(r.accs);
	if (rc != CP_OK)
		clear_list(s);
	return rc;
}

uint64_t cp_select_matched(const cp_select *s)
{
	return s ? s->matched : 0;
}

uint64_t cp_select_count(const cp_select *s)
{
	return s ? s->count : 0;
}

int cp_select_column_count(const cp_select *s)
{
	return s ? s->ncols : 0;
}

const char *cp_select_column_name(const cp_select *s, int col)
{
	if (!s || col < 0 || col >= s->ncols)
		return NULL;
	return s->labels ? s->cols[col].label : s->cols[col].name;
}

/* ---- reading the list ---- */

void cp_select_rewind(cp_select *s)
{
	if (!s)
		return;
	s->next = 0;
	s->current = false;
}

int cp_select_next(cp_select *s)
{
	if (!s)
		return CP_EINVAL;
	s->current = false;
	for (int i = 0; i < s->ncols; i++)
		s->have[i] = false;
	while (s->next < s->count) {
		const entry *e = &s->list[s->next++];
		int rc = cp_store_get(s->store, e->key, s->view);
		if (rc == CP_ENOTFOUND)
			continue; /* deleted since the run */
		if (rc != CP_OK)
			return cp__fail(&s->obj, rc, "%s", cp_errmsg(s->view));
		if ((rc = cp_eval(s->res, s->view)) != CP_OK)
			return cp__fail(&s->obj, rc, "%s", cp_errmsg(s->res));
		s->current = true;
		return CP_OK;
	}
	return CP_DONE;
}

const char *cp_select_key(const cp_select *s)
{
	return s && s->current ? s->list[s->next - 1].key : NULL;
}

static void format_column(const cp_select *s, const colspec *c, cp_buf *b)
{
	const cp_ruleset *rs = s->rs;
	switch (c->kind) {
	case COL_TAGS: {
		int n = cp_result_tag_count(s->res);
		for (int i = 0; i < n; i++) {
			int t = cp_result_tag_at(s->res, i);
			if (i)
				cp__buf_putc(b, ';');
			cp__buf_puts(b, s->labels ? cp_ruleset_tag_label(rs, t) : cp_ruleset_tag_id(rs, t));
		}
		break;
	}
	case COL_STAGE: {
		int st = cp_result_stage(s->res, c->ref);
		cp__buf_puts(b, s->labels ? cp_ruleset_stage_label(rs, st) : cp_stage_name(st));
		break;
	}
	default:
		cp__query_format(s->q, s->res, c->ref, s->labels, b);
		break;
	}
}

const char *cp_select_value(cp_select *s, int col)
{
	if (!s || !s->current || col < 0 || col >= s->ncols)
		return NULL;
	cp_buf *b = &s->texts[col];
	if (!s->have[col]) {
		cp__buf_reset(b);
		format_column(s, &s->cols[col], b);
		if (b->failed || cp__buf_reserve(b, 1) != CP_OK) {
			cp__fail(&s->obj, CP_ENOMEM, "out of memory");
			return NULL;
		}
		b->data[b->len] = '\0';
		s->have[col] = true;
	}
	return b->data;
}

int cp_select_foreach(cp_select *s, cp_select_fn fn, void *userdata)
{
	if (!s || !fn)
		return CP_EINVAL;
	cp_select_rewind(s);
	int rc;
	while ((rc = cp_select_next(s)) == CP_OK) {
		int r = fn(s, userdata);
		if (r != 0)
			return r;
	}
	return rc == CP_DONE ? CP_OK : rc;
}

/* ---- CSV ---- */

/* A number as this library writes one: [-]digits[.digits][e[+-]digits]. */
static bool is_number(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	size_t d = strspn(s, "0123456789");
	if (!d)
		return false;
	s += d;
	if (*s == '.') {
		d = strspn(++s, "0123456789");
		if (!d)
			return false;
		s += d;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		d = strspn(s, "0123456789");
		if (!d)
			return false;
		s += d;
	}
	return *s == '\0';
}

static void csv_cell(cp_buf *b, const char *v, int flags)
{
	bool formula = (flags & CP_CSV_SAFE) && v[0] && strchr("=+-@\t\r", v[0]) && !is_number(v);
	bool quote = strpbrk(v, ",\"\r\n") != NULL;
	if (quote)
		cp__buf_putc(b, '"');
	if (formula)
		cp__buf_putc(b, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '"')
			cp__buf_putc(b, '"');
		cp__buf_putc(b, *p);
	}
	if (quote)
		cp__buf_putc(b, '"');
}

static const char *end_line(cp_select *s, int flags)
{
	cp__buf_puts(&s->line, flags & CP_CSV_CRLF ? "\r\n" : "\n");
	if (s->line.failed) {
		cp__fail(&s->obj, CP_ENOMEM, "out of memory");
		return NULL;
	}
	return s->line.data;
}

const char *cp_select_csv_header(cp_select *s, int flags)
{
	if (!s)
		return NULL;
	cp__buf_reset(&s->line);
	for (int i = 0; i < s->ncols; i++) {
		if (i)
			cp__buf_putc(&s->line, ',');
		csv_cell(&s->line, cp_select_column_name(s, i), flags);
	}
	return end_line(s, flags);
}

const char *cp_select_csv_row(cp_select *s, int flags)
{
	if (!s || !s->current)
		return NULL;
	cp__buf_reset(&s->line);
	for (int i = 0; i < s->ncols; i++) {
		const char *v = cp_select_value(s, i);
		if (!v)
			return NULL;
		if (i)
			cp__buf_putc(&s->line, ',');
		csv_cell(&s->line, v, flags);
	}
	return end_line(s, flags);
}

int cp_select_write_csv(cp_select *s, const char *path, int flags)
{
	if (!s || !path)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	FILE *f = fopen(path, "wb");
	if (!f)
		return cp__fail(&s->obj, CP_EIO, "%s: %s", path, strerror(errno));
	const char *line = cp_select_csv_header(s, flags);
	int rc = line ? CP_OK : CP_ENOMEM;
	if (line && fputs(line, f) == EOF)
		rc = CP_EIO;
	cp_select_rewind(s);
	while (rc == CP_OK && (rc = cp_select_next(s)) == CP_OK) {
		if (!(line = cp_select_csv_row(s, flags)))
			rc = CP_ENOMEM;
		else if (fputs(line, f) == EOF)
			rc = CP_EIO;
	}
	if (rc == CP_DONE)
		rc = CP_OK;
	if (fclose(f) != 0 && rc == CP_OK)
		rc = CP_EIO;
	if (rc == CP_EIO)
		return cp__fail(&s->obj, CP_EIO, "%s: %s", path, strerror(errno));
	return rc;
}
