/*
 * batch_count.c — counts (cp_counts): profiles per tag, per stage of each
 * track, and a cross-tab by one or two dimensions, on every core.
 *
 * Each thread counts on its own: totals per tag and stage, per category of
 * each dimension, and the cells of the cross-tab in a hash map keyed by the
 * (row, column) category pair.  A category known before counting (a tag,
 * a stage, an enum value) has a fixed number; a string value first seen by
 * a thread gets a number of that thread's own.  Merging gives the strings
 * their final place (byte order, after the fixed ones; null last) and adds
 * the threads' counts up: sums do not depend on who counted what.
 */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D_TAG = 1, D_GROUP, D_TRACK, D_EXPR };

#define NSTAGES 11

typedef struct dim {
	int kind;
	int ref;               /* group, track, or expression index */
	char *name;            /* as given */
	char *label;
	/* categories known before counting */
	int nfixed;
	const char **fixed_names, **fixed_labels;
	int stage_cat[NSTAGES]; /* D_TRACK: stage -> category, -1: never given */
	int listed_field;      /* D_EXPR of an open enum field: its listed values are fixed */
	/* after a run: every category */
	size_t ncats;
	const char **names, **labels;
	char **owned;          /* copies of the strings of other values */
	size_t nowned;
	uint64_t *totals;
	bool has_null;         /* the last category is null */
} dim;

struct cp_counts {
	cp_obj obj;
	const cp_ruleset *rs;
	cp_query *q;
	int where;             /* expression index, or -1 */
	dim dims[CP_COUNTS_MAX_DIMS];
	int ndims;
	/* after a run */
	uint64_t total;
	uint64_t *tags;        /* ntags */
	uint64_t *stages;      /* ntracks * NSTAGES */
	uint64_t *cells;       /* rows x stride (two dimensions) */
	size_t stride;
};

static void dim_clear_run(dim *d)
{
	for (size_t i = 0; i < d->nowned; i++)
		cp__free(d->owned[i]);
	cp__free(d->owned);
	cp__free(d->names);
	cp__free(d->labels);
	cp__free(d->totals);
	d->owned = NULL;
	d->names = d->labels = NULL;
	d->totals = NULL;
	d->nowned = d->ncats = 0;
	d->has_null = false;
}

static void clear_run(cp_counts *c)
{
	for (int i = 0; i < c->ndims; i++)
		dim_clear_run(&c->dims[i]);
	cp__free(c->tags);
	cp__free(c->stages);
	cp__free(c->cells);
	c->tags = c->stages = c->cells = NULL;
	c->total = 0;
	c->stride = 0;
}

int cp_counts_new(cp_counts **out, const cp_ruleset *rs)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!rs)
		return CP_EINVAL;
	cp_counts *c = cp__calloc(1, sizeof(*c));
	if (!c)
		return CP_ENOMEM;
	cp__obj_init(&c->obj, CP_OBJ_OTHER);
	c->rs = rs;
	c->where = -1;
	if (cp__query_new(&c->q, rs) != CP_OK) {
		cp_counts_free(c);
		return CP_ENOMEM;
	}
	*out = c;
	return CP_OK;
}

void cp_counts_free(cp_counts *c)
{
	if (!c)
		return;
	clear_run(c);
	for (int i = 0; i < c->ndims; i++) {
		cp__free(c->dims[i].name);
		cp__free(c->dims[i].label);
		cp__free(c->dims[i].fixed_names);
		cp__free(c->dims[i].fixed_labels);
	}
	cp_query_free(c->q);
	cp__obj_fini(&c->obj);
	cp__free(c);
}

int cp_counts_set_where(cp_counts *c, const char *expr, cp_diag *diag)
{
	if (!c)
		return CP_EINVAL;
	cp__clear_error(&c->obj);
	if (!expr) {
		c->where = -1;
		return CP_OK;
	}
	int i = cp__batch_add_expr(c->q, expr, "where", true, diag, &c->obj);
	if (i < 0)
		return i;
	c->where = i;
	return CP_OK;
}

/* ---- dimensions ---- */

static int set_fixed(dim *d, int n)
{
	d->nfixed = n;
	d->fixed_names = cp__calloc((size_t)n + 1, sizeof(char *));
	d->fixed_labels = cp__calloc((size_t)n + 1, sizeof(char *));
	return d->fixed_names && d->fixed_labels ? CP_OK : CP_ENOMEM;
}

static int fixed_tags(const cp_ruleset *rs, dim *d)
{
	if (set_fixed(d, rs->ntags) != CP_OK)
		return CP_ENOMEM;
	for (int t = 0; t < rs->ntags; t++) {
		d->fixed_names[t] = cp_ruleset_tag_id(rs, t);
		d->fixed_labels[t] = cp_ruleset_tag_label(rs, t);
	}
	return CP_OK;
}

static int fixed_group(const cp_ruleset *rs, dim *d)
{
	const cp__group *g = &rs->groups[d->ref];
	int n = g->nmembers + (g->otherwise >= 0);
	if (set_fixed(d, n) != CP_OK)
		return CP_ENOMEM;
	for (int i = 0; i < n; i++) {
		int t = i < g->nmembers ? g->members[i] : g->otherwise;
		d->fixed_names[i] = cp_ruleset_tag_id(rs, t);
		d->fixed_labels[i] = cp_ruleset_tag_label(rs, t);
	}
	return CP_OK;
}

/* The stages a track can give (its rules' and its otherwise), enum order. */
static int fixed_track(const cp_ruleset *rs, dim *d)
{
	const cp__track *tr = &rs->tracks[d->ref];
	bool gives[NSTAGES] = {false};
	for (int i = 0; i < tr->nrules; i++)
		gives[tr->rules[i].stage] = true;
	gives[tr->otherwise] = true;
	int n = 0;
	for (int s = 0; s < NSTAGES; s++)
		n += gives[s];
	if (set_fixed(d, n) != CP_OK)
		return CP_ENOMEM;
	n = 0;
	for (int s = 0; s < NSTAGES; s++) {
		d->stage_cat[s] = gives[s] ? n : -1;
		if (gives[s]) {
			d->fixed_names[n] = cp_stage_name(s);
			d->fixed_labels[n++] = cp_ruleset_stage_label(rs, s);
		}
	}
	return CP_OK;
}

static int fixed_expr(cp_counts *c, dim *d, cp_diag *diag)
{
	const cp__qexpr *e = &c->q->exprs[d->ref];
	cp__type t = e->type;
	char tb[96];
	if (t.n)
		return cp__batch_expr_error(c->q, d->ref, CP_ETYPE, diag, &c->obj,
		                            "cannot count by a %s: count by one value per profile, e.g. one month",
		                            cp__type_describe(t, tb, sizeof(tb)));
	static const char *const bools[2] = {"false", "true"};
	switch (t.base) {
	case B_NULL:
	case B_SET:
	case B_LIST:
		return CP_OK;
	case B_BOOL:
		if (set_fixed(d, 2) != CP_OK)
			return CP_ENOMEM;
		for (int i = 0; i < 2; i++)
			d->fixed_names[i] = d->fixed_labels[i] = bools[i];
		return CP_OK;
	case B_ENUM:
		if (set_fixed(d, t.en->nvalues) != CP_OK)
			return CP_ENOMEM;
		for (int i = 0; i < t.en->nvalues; i++) {
			d->fixed_names[i] = t.en->values[i];
			d->fixed_labels[i] = cp__query_enum_label(c->q, t.en, i);
		}
		return CP_OK;
	case B_STRING: {
		if (e->field < 0 || c->rs->schema->fields[e->field].type != CP_TYPE_ENUM)
			return CP_OK;
		const cp_field *f = &c->rs->schema->fields[e->field];
		d->listed_field = e->field;
		if (set_fixed(d, f->nvalues) != CP_OK)
			return CP_ENOMEM;
		for (int i = 0; i < f->nvalues; i++) {
			d->fixed_names[i] = f->values[i];
			d->fixed_labels[i] = f->value_labels[i];
		}
		return CP_OK;
	}
	default:
		return cp__batch_expr_error(c->q, d->ref, CP_ETYPE, diag, &c->obj,
		                            "cannot count by %s: give categories, e.g. if(%s > 100, 'high', 'low')",
		                            cp__type_describe(t, tb, sizeof(tb)), e->x.text);
	}
}

/* Parse a dimension spec into d (kind, ref, label, fixed categories). */
static int parse_dim(cp_counts *c, dim *d, const char *spec, cp_diag *diag)
{
	const cp_ruleset *rs = c->rs;
	d->listed_field = -1;
	if (strcmp(spec, "tag") == 0) {
		d->kind = D_TAG;
		d->label = cp__strdup("tag");
		return d->label ? fixed_tags(rs, d) : CP_ENOMEM;
	}
	if (strncmp(spec, "group:", 6) == 0) {
		d->kind = D_GROUP;
		d->ref = cp_ruleset_group_index(rs, spec + 6);
		if (d->ref < 0) {
			cp__diag_add(diag, CP_SEV_ERROR, spec, 1, 7, "no exclusive group '%s' in the rules",
			             spec + 6);
			return cp__fail(&c->obj, CP_ENOTFOUND, "%s:1:7: error: no exclusive group '%s' in the rules",
			                spec, spec + 6);
		}
		d->label = cp__strdup(cp_ruleset_group_label(rs, d->ref));
		return d->label ? fixed_group(rs, d) : CP_ENOMEM;
	}
	if (strcmp(spec, "stage") == 0 || strncmp(spec, "stage:", 6) == 0) {
		d->kind = D_TRACK;
		const char *track = spec[5] ? spec + 6 : NULL;
		d->ref = track ? cp_ruleset_track_index(rs, track) : rs->ntracks ? 0 : -1;
		if (d->ref < 0) {
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
			return cp__fail(&c->obj, CP_ENOTFOUND, "%s:1:%d: error: %s", spec, track ? 7 : 1, msg);
		}
		d->label = cp__strdup(cp_ruleset_track_label(rs, d->ref));
		return d->label ? fixed_track(rs, d) : CP_ENOMEM;
	}
	d->kind = D_EXPR;
	d->ref = cp__batch_add_expr(c->q, spec, spec, false, diag, &c->obj);
	if (d->ref < 0)
		return d->ref;
	d->label = cp__batch_expr_label(c->q, d->ref, spec);
	return d->label ? fixed_expr(c, d, diag) : CP_ENOMEM;
}

int cp_counts_add_dim(cp_counts *c, const char *spec, cp_diag *diag)
{
	if (!c || !spec)
		return CP_EINVAL;
	cp__clear_error(&c->obj);
	if (c->ndims == CP_COUNTS_MAX_DIMS)
		return cp__fail(&c->obj, CP_ELIMIT, "at most %d dimensions: cannot add '%s'",
		                CP_COUNTS_MAX_DIMS, spec);
	clear_run(c);
	dim *d = &c->dims[c->ndims];
	memset(d, 0, sizeof(*d));
	d->name = cp__strdup(spec);
	int rc = d->name ? parse_dim(c, d, spec, diag) : CP_ENOMEM;
	if (rc != CP_OK) {
		if (rc == CP_ENOMEM)
			cp__fail(&c->obj, rc, "out of memory");
		cp__free(d->name);
		cp__free(d->label);
		cp__free(d->fixed_names);
		cp__free(d->fixed_labels);
		memset(d, 0, sizeof(*d));
		return rc;
	}
	c->ndims++;
	return CP_OK;
}

/* ---- one thread's counts ---- */

/* string -> number, in the order first seen */
typedef struct strdict {
	const char **keys;     /* table; NULL = empty */
	uint32_t *ids;
	uint32_t mask;
	const char **by_id;    /* the strings, by number */
	uint32_t n, cap;
} strdict;

/* (row, column) -> count */
typedef struct cellmap {
	uint64_t *keys;        /* (row << 32 | col) + 1; 0 = empty */
	uint64_t *counts;
	size_t mask, n;
} cellmap;

typedef struct acc {
	uint64_t total;
	uint64_t *tags, *stages;
	strdict dict[CP_COUNTS_MAX_DIMS];
	uint64_t *tot[CP_COUNTS_MAX_DIMS]; /* by this thread's category number */
	size_t ntot[CP_COUNTS_MAX_DIMS];
	cellmap cells;
	uint32_t *cats[CP_COUNTS_MAX_DIMS]; /* scratch: one row's categories */
	size_t ncap[CP_COUNTS_MAX_DIMS];
} acc;

static void acc_free(acc *a)
{
	cp__free(a->tags);
	cp__free(a->stages);
	for (int d = 0; d < CP_COUNTS_MAX_DIMS; d++) {
		cp__free(a->dict[d].keys);
		cp__free(a->dict[d].ids);
		cp__free(a->dict[d].by_id);
		cp__free(a->tot[d]);
		cp__free(a->cats[d]);
	}
	cp__free(a->cells.keys);
	cp__free(a->cells.counts);
}

static uint32_t str_hash(const char *s)
{
	return cp__hash(s, strlen(s));
}

/* What dict_id gives beyond the limit, and without memory. */
#define TOO_MANY UINT32_MAX
#define NO_MEMORY (UINT32_MAX - 1)

/* The number of s in the dictionary (added if new), or TOO_MANY, or
 * NO_MEMORY. */
static uint32_t dict_id(strdict *t, const char *s)
{
	uint32_t h = str_hash(s);
	if (t->mask) {
		for (uint32_t i = h & t->mask; t->keys[i]; i = (i + 1) & t->mask)
			if (t->keys[i] == s || strcmp(t->keys[i], s) == 0)
				return t->ids[i];
	}
	if (t->n >= CP_COUNTS_MAX_CATEGORIES)
		return TOO_MANY;
	if ((t->n + 1) * 2 > (t->mask ? t->mask + 1 : 0)) {
		uint32_t size = t->mask ? (t->mask + 1) * 2 : 64;
		const char **keys = cp__calloc(size, sizeof(*keys));
		uint32_t *ids = cp__calloc(size, sizeof(*ids));
		const char **by_id = cp__reallocarray(t->by_id, size / 2, sizeof(*by_id));
		if (!keys || !ids || !by_id) {
			cp__free(keys);
			cp__free(ids);
			if (by_id)
				t->by_id = by_id;
			return NO_MEMORY;
		}
		for (uint32_t k = 0; k < t->n; k++) {
			uint32_t j = str_hash(by_id[k]) & (size - 1);
			while (keys[j])
				j = (j + 1) & (size - 1);
			keys[j] = by_id[k];
			ids[j] = k;
		}
		cp__free(t->keys);
		cp__free(t->ids);
		t->keys = keys;
		t->ids = ids;
		t->by_id = by_id;
		t->mask = size - 1;
	}
	uint32_t j = h & t->mask;
	while (t->keys[j])
		j = (j + 1) & t->mask;
	t->keys[j] = s;
	t->ids[j] = t->n;
	t->by_id[t->n] = s;
	return t->n++;
}

static int cell_add(cellmap *m, uint64_t key)
{
	key++;
	if ((m->n + 1) * 2 > (m->mask ? m->mask + 1 : 0)) {
		size_t size = m->mask ? (m->mask + 1) * 2 : 256;
		uint64_t *keys = cp__calloc(size, sizeof(*keys));
		uint64_t *counts = cp__calloc(size, sizeof(*counts));
		if (!keys || !counts) {
			cp__free(keys);
			cp__free(counts);
			return CP_ENOMEM;
		}
		for (size_t i = 0; m->mask && i <= m->mask; i++) {
			if (!m->keys[i])
				continue;
			size_t j = (size_t)(m->keys[i] * 0x9E3779B97F4A7C15u >> 20) & (size - 1);
			while (keys[j])
				j = (j + 1) & (size - 1);
			keys[j] = m->keys[i];
			counts[j] = m->counts[i];
		}
		cp__free(m->keys);
		cp__free(m->counts);
		m->keys = keys;
		m->counts = counts;
		m->mask = size - 1;
	}
	size_t j = (size_t)(key * 0x9E3779B97F4A7C15u >> 20) & m->mask;
	while (m->keys[j] && m->keys[j] != key)
		j = (j + 1) & m->mask;
	if (!m->keys[j]) {
		m->keys[j] = key;
		m->n++;
	}
	m->counts[j]++;
	return CP_OK;
}

typedef struct run {
	cp_counts *c;
	acc *accs;
} run;

static int push_cat(acc *a, int d, size_t *n, uint32_t id)
{
	if (id == TOO_MANY || id == NO_MEMORY)
		return id == TOO_MANY ? CP_ELIMIT : CP_ENOMEM;
	if (*n == a->ncap[d]) {
		size_t cap = a->ncap[d] ? a->ncap[d] * 2 : 64;
		uint32_t *v = cp__reallocarray(a->cats[d], cap, sizeof(*v));
		if (!v)
			return CP_ENOMEM;
		a->cats[d] = v;
		a->ncap[d] = cap;
	}
	a->cats[d][(*n)++] = id;
	return CP_OK;
}

/* This thread's number of string s in dimension d: a listed value's fixed
 * number, else nfixed + 1 + its number in the dictionary. */
static uint32_t string_cat(const cp_counts *c, const dim *d, acc *a, int di, const char *s)
{
	if (d->listed_field >= 0) {
		int i = cp__field_value_index(&c->rs->schema->fields[d->listed_field], s, strlen(s));
		if (i >= 0)
			return (uint32_t)i;
	}
	uint32_t id = dict_id(&a->dict[di], s);
	return id == TOO_MANY || id == NO_MEMORY ? id : (uint32_t)d->nfixed + 1 + id;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

/* The categories of the profile in res along dimension di, into a->cats. */
static int row_cats(const cp_counts *c, acc *a, int di, const cp_result *res, size_t *n)
{
	const dim *d = &c->dims[di];
	const cp_ruleset *rs = c->rs;
	uint32_t null_cat = (uint32_t)d->nfixed;
	int rc = CP_OK;
	*n = 0;
	switch (d->kind) {
	case D_TAG:
		for (int t = 0; t < rs->ntags && rc == CP_OK; t++)
			if (cp_result_tag(res, t))
				rc = push_cat(a, di, n, (uint32_t)t);
		return rc;
	case D_GROUP: {
		const cp__group *g = &rs->groups[d->ref];
		for (int i = 0; i < g->nmembers; i++)
			if (cp_result_tag(res, g->members[i]))
				return push_cat(a, di, n, (uint32_t)i);
		if (g->otherwise >= 0 && cp_result_tag(res, g->otherwise))
			return push_cat(a, di, n, (uint32_t)g->nmembers);
		return push_cat(a, di, n, null_cat);
	}
	case D_TRACK: {
		int s = cp_result_stage(res, d->ref);
		return push_cat(a, di, n, s >= 0 && d->stage_cat[s] >= 0 ? (uint32_t)d->stage_cat[s] : null_cat);
	}
	default:
		break;
	}
	const cp__qexpr *e = &c->q->exprs[d->ref];
	const cp__slot *v = cp__query_value(c->q, res, d->ref);
	if (v->null || e->type.base == B_NULL)
		return push_cat(a, di, n, null_cat);
	switch (e->type.base) {
	case B_BOOL:
		return push_cat(a, di, n, v->v.i != 0);
	case B_ENUM:
		return push_cat(a, di, n, (uint32_t)v->v.i);
	case B_STRING:
		return push_cat(a, di, n, string_cat(c, d, a, di, v->v.s));
	default: /* set, list: each item once */
		for (uint32_t i = 1; i <= v->v.l[0] && rc == CP_OK; i++)
			rc = push_cat(a, di, n, string_cat(c, d, a, di, cp__query_item(res, v->v.l[i])));
		if (rc == CP_OK && *n > 1 && e->type.base == B_LIST) {
			qsort(a->cats[di], *n, sizeof(uint32_t), cmp_u32);
			size_t k = 1;
			for (size_t i = 1; i < *n; i++)
				if (a->cats[di][i] != a->cats[di][k - 1])
					a->cats[di][k++] = a->cats[di][i];
			*n = k;
		}
		return rc;
	}
}

static int add_total(acc *a, int di, uint32_t cat)
{
	if (cat >= a->ntot[di]) {
		size_t n = a->ntot[di] ? a->ntot[di] : 64;
		while (n <= cat)
			n *= 2;
		uint64_t *t = cp__reallocarray(a->tot[di], n, sizeof(*t));
		if (!t)
			return CP_ENOMEM;
		memset(t + a->ntot[di], 0, (n - a->ntot[di]) * sizeof(*t));
		a->tot[di] = t;
		a->ntot[di] = n;
	}
	a->tot[di][cat]++;
	return CP_OK;
}

static int count_row(cp__pass *p, int worker, size_t chunk, size_t row, const cp_view *view,
                     const cp_result *res)
{
	(void)chunk;
	(void)row;
	(void)view;
	run *r = p->ctx;
	const cp_counts *c = r->c;
	acc *a = &r->accs[worker];
	if (c->where >= 0 && !cp__query_true(c->q, res, c->where))
		return CP_OK;
	a->total++;
	for (int t = 0; t < c->rs->ntags; t++)
		a->tags[t] += (uint64_t)cp_result_tag(res, t);
	for (int k = 0; k < c->rs->ntracks; k++) {
		int s = cp_result_stage(res, k);
		if (s >= 0 && s < NSTAGES)
			a->stages[k * NSTAGES + s]++;
	}
	size_t n[CP_COUNTS_MAX_DIMS] = {0, 0};
	for (int d = 0; d < c->ndims; d++) {
		int rc = row_cats(c, a, d, res, &n[d]);
		if (rc == CP_ELIMIT)
			return cp__pass_fail(p, rc, "more than %d different values of '%s': count by something with fewer",
			                     CP_COUNTS_MAX_CATEGORIES, c->dims[d].name);
		for (size_t i = 0; i < n[d] && rc == CP_OK; i++)
			rc = add_total(a, d, a->cats[d][i]);
		if (rc != CP_OK)
			return cp__pass_fail(p, rc, "out of memory while counting");
	}
	if (c->ndims == 2) {
		for (size_t i = 0; i < n[0]; i++)
			for (size_t j = 0; j < n[1]; j++)
				if (cell_add(&a->cells, (uint64_t)a->cats[0][i] << 32 | a->cats[1][j]) != CP_OK)
					return cp__pass_fail(p, CP_ENOMEM, "out of memory while counting");
	}
	return CP_OK;
}

/* ---- merging ---- */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The final number of this thread's category number id of dimension d. */
static size_t final_cat(const dim *d, const strdict *t, const char **open, size_t nopen,
                        uint32_t id)
{
	size_t nf = (size_t)d->nfixed;
	if (id < nf)
		return id;
	if (id == nf)
		return nf + nopen; /* null */
	const char *s = t->by_id[id - nf - 1];
	const char **at = bsearch(&s, open, nopen, sizeof(*open), cmp_str);
	return nf + (size_t)(at - open);
}

/* The other values of dimension di seen by any thread, sorted, unique,
 * copied (they may live in the store); then every category. */
static int merge_categories(cp_counts *c, int di, const run *r, int nthreads, const char ***open,
                            size_t *nopen)
{
	dim *d = &c->dims[di];
	size_t n = 0;
	for (int w = 0; w < nthreads; w++)
		n += r->accs[w].dict[di].n;
	const char **v = cp__calloc(n + 1, sizeof(*v));
	if (!v)
		return CP_ENOMEM;
	n = 0;
	for (int w = 0; w < nthreads; w++)
		for (uint32_t i = 0; i < r->accs[w].dict[di].n; i++)
			v[n++] = r->accs[w].dict[di].by_id[i];
	qsort(v, n, sizeof(*v), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || strcmp(v[i], v[k - 1]) != 0)
			v[k++] = v[i];
	*open = v;
	*nopen = k;
	if (k > CP_COUNTS_MAX_CATEGORIES)
		return cp__fail(&c->obj, CP_ELIMIT,
		                "more than %d different values of '%s': count by something with fewer",
		                CP_COUNTS_MAX_CATEGORIES, d->name);
	size_t total = (size_t)d->nfixed + k + 1;
	d->names = cp__calloc(total, sizeof(char *));
	d->labels = cp__calloc(total, sizeof(char *));
	d->owned = cp__calloc(k + 1, sizeof(char *));
	d->totals = cp__calloc(total, sizeof(uint64_t));
	if (!d->names || !d->labels || !d->owned || !d->totals)
		return CP_ENOMEM;
	for (int i = 0; i < d->nfixed; i++) {
		d->names[i] = d->fixed_names[i];
		d->labels[i] = d->fixed_labels[i];
	}
	for (size_t i = 0; i < k; i++) {
		if (!(d->owned[i] = cp__strdup(v[i])))
			return CP_ENOMEM;
		d->nowned++;
		d->names[(size_t)d->nfixed + i] = d->labels[(size_t)d->nfixed + i] = d->owned[i];
	}
	d->names[total - 1] = "";
	d->labels[total - 1] = "(null)";
	d->ncats = total;
	return CP_OK;
}

static int merge(cp_counts *c, const run *r, int nthreads)
{
	const char **open[CP_COUNTS_MAX_DIMS] = {NULL, NULL};
	size_t nopen[CP_COUNTS_MAX_DIMS] = {0, 0};
	int rc = CP_OK;
	for (int w = 0; w < nthreads; w++) {
		const acc *a = &r->accs[w];
		c->total += a->total;
		for (int t = 0; t < c->rs->ntags; t++)
			c->tags[t] += a->tags[t];
		for (int k = 0; k < c->rs->ntracks * NSTAGES; k++)
			c->stages[k] += a->stages[k];
	}
	for (int d = 0; d < c->ndims && rc == CP_OK; d++)
		rc = merge_categories(c, d, r, nthreads, &open[d], &nopen[d]);
	if (rc == CP_OK && c->ndims == 2) {
		size_t rows = c->dims[0].ncats, cols = c->dims[1].ncats;
		if (rows > SIZE_MAX / 8 / cols || rows * cols > 100000000u)
			rc = cp__fail(&c->obj, CP_ELIMIT, "a cross-tab of %zu x %zu cells is too big", rows, cols);
		else if (!(c->cells = cp__calloc(rows * cols, sizeof(uint64_t))))
			rc = CP_ENOMEM;
		c->stride = cols;
	}
	for (int w = 0; w < nthreads && rc == CP_OK; w++) {
		const acc *a = &r->accs[w];
		for (int di = 0; di < c->ndims; di++)
			for (size_t i = 0; i < a->ntot[di]; i++)
				if (a->tot[di][i])
					c->dims[di].totals[final_cat(&c->dims[di], &a->dict[di], open[di], nopen[di],
					                             (uint32_t)i)] += a->tot[di][i];
		for (size_t i = 0; c->ndims == 2 && a->cells.mask && i <= a->cells.mask; i++) {
			uint64_t key = a->cells.keys[i];
			if (!key--)
				continue;
			size_t row = final_cat(&c->dims[0], &a->dict[0], open[0], nopen[0], (uint32_t)(key >> 32));
			size_t col = final_cat(&c->dims[1], &a->dict[1], open[1], nopen[1], (uint32_t)key);
			c->cells[row * c->stride + col] += a->cells.counts[i];
		}
	}
	/* the null category is shown only when some profile is in it */
	for (int di = 0; di < c->ndims && rc == CP_OK; di++) {
		dim *d = &c->dims[di];
		d->has_null = d->totals[d->ncats - 1] > 0;
		if (!d->has_null)
			d->ncats--;
	}
	for (int d = 0; d < CP_COUNTS_MAX_DIMS; d++)
		cp__free(open[d]);
	if (rc == CP_ENOMEM)
		cp__fail(&c->obj, rc, "out of memory while merging counts");
	return rc;
}

int cp_counts_run(cp_counts *c, const cp_store *store, const cp_batch_opts *opts)
{
	if (!c || !store)
		return CP_EINVAL;
	cp__clear_error(&c->obj);
	clear_run(c);
	if (cp__query_finish(c->q) != CP_OK)
		return cp__fail(&c->obj, CP_ENOMEM, "out of memory");
	run r = {c, NULL};
	cp__pass p;
	memset(&p, 0, sizeof(p));
	p.rs = &c->q->rs;
	p.store = store;
	p.opts = opts;
	p.row = count_row;
	p.ctx = &r;
	p.err = &c->obj;
	int rc = cp__pass_plan(&p);
	if (rc != CP_OK)
		return rc;
	size_t ntags = (size_t)c->rs->ntags, nst = (size_t)c->rs->ntracks * NSTAGES;
	c->tags = cp__calloc(ntags + 1, sizeof(uint64_t));
	c->stages = cp__calloc(nst + 1, sizeof(uint64_t));
	r.accs = cp__calloc((size_t)p.nthreads, sizeof(acc));
	bool ok = c->tags && c->stages && r.accs;
	for (int w = 0; ok && w < p.nthreads; w++) {
		r.accs[w].tags = cp__calloc(ntags + 1, sizeof(uint64_t));
		r.accs[w].stages = cp__calloc(nst + 1, sizeof(uint64_t));
		ok = r.accs[w].tags && r.accs[w].stages;
	}
	if (!ok)
		rc = cp__fail(&c->obj, CP_ENOMEM, "out of memory");
	else
		rc = cp__pass_run(&p);
	if (rc == CP_OK)
		rc = merge(c, &r, p.nthreads);
	for (int w = 0; r.accs && w < p.nthreads; w++)
		acc_free(&r.accs[w]);
	cp__free(r.accs);
	if (rc != CP_OK)
		clear_run(c);
	return rc;
}

/* ---- reading ---- */

uint64_t cp_counts_total(const cp_counts *c)
{
	return c ? c->total : 0;
}

uint64_t cp_counts_tag(const cp_counts *c, int tag)
{
	if (!c || !c->tags || tag < 0 || tag >= c->rs->ntags)
		return 0;
	return c->tags[tag];
}

uint64_t cp_counts_stage(const cp_counts *c, int track, int stage)
{
	if (!c || !c->stages || track < 0 || track >= c->rs->ntracks || stage < 0 || stage >= NSTAGES)
		return 0;
	return c->stages[track * NSTAGES + stage];
}

int cp_counts_dim_count(const cp_counts *c)
{
	return c ? c->ndims : 0;
}

static const dim *dim_of(const cp_counts *c, int d)
{
	return c && d >= 0 && d < c->ndims ? &c->dims[d] : NULL;
}

const char *cp_counts_dim_name(const cp_counts *c, int d)
{
	const dim *x = dim_of(c, d);
	return x ? x->name : NULL;
}

const char *cp_counts_dim_label(const cp_counts *c, int d)
{
	const dim *x = dim_of(c, d);
	return x ? x->label : NULL;
}

size_t cp_counts_category_count(const cp_counts *c, int d)
{
	const dim *x = dim_of(c, d);
	return x ? x->ncats : 0;
}

const char *cp_counts_category_name(const cp_counts *c, int d, size_t i)
{
	const dim *x = dim_of(c, d);
	return x && i < x->ncats ? x->names[i] : NULL;
}

const char *cp_counts_category_label(const cp_counts *c, int d, size_t i)
{
	const dim *x = dim_of(c, d);
	return x && i < x->ncats ? x->labels[i] : NULL;
}

int cp_counts_category_is_null(const cp_counts *c, int d, size_t i)
{
	const dim *x = dim_of(c, d);
	return x && x->has_null && i == x->ncats - 1;
}

uint64_t cp_counts_category_total(const cp_counts *c, int d, size_t i)
{
	const dim *x = dim_of(c, d);
	return x && i < x->ncats ? x->totals[i] : 0;
}

uint64_t cp_counts_cell(const cp_counts *c, size_t row, size_t col)
{
	if (!c || c->ndims == 0 || row >= c->dims[0].ncats)
		return 0;
	if (c->ndims == 1)
		return col == 0 ? c->dims[0].totals[row] : 0;
	if (col >= c->dims[1].ncats)
		return 0;
	return c->cells[row * c->stride + col];
}
