/*
 * rules_query.c — ad-hoc expressions compiled against a compiled ruleset:
 * the public cp_query, and the filters, orders, columns and dimensions of
 * the batch module (query.h).
 *
 * The base ruleset is immutable and shared by threads, so a query never
 * writes to it.  It builds a derived ruleset instead: a shallow copy of the
 * base (tags, groups, tracks, parameters, name maps and the arena's
 * contents are the base's, read only) with its own copy of the program, of
 * the tag and metric arrays (the optimizer writes into them) and its own
 * arena.  Each expression is compiled into that program, after the base's
 * code, reading the base's slots for metrics, tag() and stage().  The
 * optimizer then makes the fast program from the whole; it keeps what a
 * result needs, so the expressions are registered as extra metrics while it
 * runs and dropped from the count afterwards: the derived ruleset answers
 * every introspection call exactly as its base does.
 */
#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the derived ruleset ---- */

static void *dup_array(const void *src, size_t n, size_t size)
{
	void *p = cp__calloc(n ? n : 1, size);
	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

static int copy_prog(cp__prog *dst, const cp__prog *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->code = dup_array(src->code, src->ncode, sizeof(*src->code));
	dst->init = dup_array(src->init, src->nslots, sizeof(*src->init));
	dst->is_const = dup_array(src->is_const, src->nslots, 1);
	if (!dst->code || !dst->init || !dst->is_const)
		return CP_ENOMEM;
	/* the compiler doubles capacities: they must not be 0 */
	dst->ncode = src->ncode;
	dst->cap = src->ncode ? src->ncode : 1;
	dst->nslots = src->nslots;
	dst->cap_slots = src->nslots ? src->nslots : 1;
	return CP_OK;
}

int cp__query_new(cp_query **out, const cp_ruleset *base)
{
	*out = NULL;
	cp_query *q = cp__calloc(1, sizeof(*q));
	if (!q)
		return CP_ENOMEM;
	cp__obj_init(&q->obj, CP_OBJ_OTHER);
	q->base = base;
	q->rs = *base;
	cp__obj_init(&q->rs.obj, CP_OBJ_RULESET);
	q->rs.derived = true;
	cp__arena_init(&q->rs.arena);
	q->rs.fast = NULL;
	q->rs.nfast = 0;
	q->rs.prefetch = NULL;
	q->rs.nprefetch = 0;
	q->rs.tags = dup_array(base->tags, (size_t)base->ntags, sizeof(*base->tags));
	q->rs.cap_tags = base->ntags;
	q->rs.metrics = dup_array(base->metrics, (size_t)base->nmetrics, sizeof(*base->metrics));
	q->rs.cap_metrics = base->nmetrics;
	int rc = copy_prog(&q->rs.prog, &base->prog);
	if (rc != CP_OK || !q->rs.tags || !q->rs.metrics) {
		cp_query_free(q);
		return CP_ENOMEM;
	}
	*out = q;
	return CP_OK;
}

void cp_query_free(cp_query *q)
{
	if (!q)
		return;
	cp__prog_free(&q->rs.prog);
	cp__free(q->rs.fast);
	cp__free(q->rs.prefetch);
	cp__free(q->rs.tags);
	cp__free(q->rs.metrics);
	cp__arena_free(&q->rs.arena);
	cp__obj_fini(&q->rs.obj);
	cp__free(q->exprs);
	cp__obj_fini(&q->obj);
	cp__free(q);
}

/* ---- parameters: $name or $pack.name, replaced by a copy of the value ---- */

/* The parameter $name of the query: its index, or -1 after an error. */
static int find_param(const cp_ruleset *rs, const cp__expr *x, const cp__node *n, cp__errs *errs)
{
	const char *name = n->s, *dot = strchr(name, '.');
	int found = -1, other = -1;
	for (int p = 0; p < rs->nparams; p++) {
		const cp__param *pm = &rs->params[p];
		bool match = dot ? strcmp(pm->qname, name) == 0 : strcmp(pm->name, name) == 0;
		if (!match)
			continue;
		if (found < 0)
			found = p;
		else if (other < 0)
			other = p;
	}
	if (found >= 0 && other < 0)
		return found;
	if (found >= 0) {
		cp__expr_error(errs, x, CP_EINVAL, n->pos,
		               "parameter '$%s' is declared by more than one pack: write '$%s' or '$%s'",
		               name, rs->params[found].qname, rs->params[other].qname);
		return -1;
	}
	const char **names = cp__calloc((size_t)rs->nparams * 2 + 1, sizeof(char *));
	const char *near = NULL;
	if (names) {
		for (int p = 0; p < rs->nparams; p++) {
			names[2 * p] = rs->params[p].qname;
			names[2 * p + 1] = rs->params[p].name;
		}
		near = cp__closest(name, names, (size_t)rs->nparams * 2);
	}
	if (near)
		cp__expr_error(errs, x, CP_ENOTFOUND, n->pos, "unknown parameter '$%s' (did you mean '$%s'?)",
		               name, near);
	else
		cp__expr_error(errs, x, CP_ENOTFOUND, n->pos, "unknown parameter '$%s'", name);
	cp__free(names);
	return -1;
}

/* A copy of a parameter's literal tree, every node placed at `at` (so a
 * message about it points at the $name). */
static cp__node *copy_literal(cp__arena *a, const cp__node *src, const cp__node *at)
{
	cp__node *n = cp__arena_alloc(a, sizeof(*n));
	if (!n)
		return NULL;
	*n = *src;
	n->pos = at->pos;
	n->start = at->start;
	n->end = at->end;
	n->slot = CP_NO_SLOT;
	n->rkind = R_NONE;
	n->pval = NULL;
	memset(&n->type, 0, sizeof(n->type));
	if (src->nkids) {
		n->kids = cp__arena_alloc(a, src->nkids * sizeof(*n->kids));
		if (!n->kids)
			return NULL;
		for (uint32_t i = 0; i < src->nkids; i++)
			if (!(n->kids[i] = copy_literal(a, src->kids[i], at)))
				return NULL;
	}
	return n;
}

/* Replace every $name of the tree.  CP_OK or an error code (reported). */
static int resolve_params(cp_query *q, cp__expr *x, cp__node *n, cp__errs *errs)
{
	int rc = CP_OK;
	if (n->kind == N_PARAM) {
		int p = find_param(&q->rs, x, n, errs);
		if (p < 0)
			return CP_ENOTFOUND;
		cp__node *v = copy_literal(&q->rs.arena, q->rs.params[p].value, n);
		if (!v)
			return CP_ENOMEM;
		*n = *v;
		return CP_OK;
	}
	for (uint32_t i = 0; i < n->nkids; i++) {
		int r = resolve_params(q, x, n->kids[i], errs);
		if (r != CP_OK && rc == CP_OK)
			rc = r;
	}
	return rc;
}

/* ---- adding expressions ---- */

static int grow_exprs(cp_query *q)
{
	if (q->n < q->cap)
		return CP_OK;
	int cap = q->cap ? q->cap * 2 : 4;
	cp__qexpr *e = cp__reallocarray(q->exprs, (size_t)cap, sizeof(*e));
	if (!e)
		return CP_ENOMEM;
	q->exprs = e;
	q->cap = cap;
	return CP_OK;
}

/* A field read as it is: name, name[i] or name[i..j]. */
static void plain_field(cp__qexpr *e)
{
	const cp__node *r = e->x.root;
	e->field = -1;
	e->month = 0;
	if ((r->kind == N_NAME || r->kind == N_INDEX) && r->rkind == R_FIELD) {
		e->field = r->ref;
		e->month = r->kind == N_INDEX ? (int)r->i : 0;
	}
}

static int compile_one(cp_query *q, cp__qexpr *e, bool want_bool, cp__errs *errs)
{
	cp__arena *a = &q->rs.arena;
	int rc = cp__rules_parse(a, &e->x, errs);
	if (rc == CP_OK)
		rc = resolve_params(q, &e->x, e->x.root, errs);
	if (rc == CP_OK)
		rc = cp__rules_check(&q->rs, &e->x, want_bool, e->x.where.file, errs);
	if (rc != CP_OK)
		return rc;
	cp__compiler c;
	if (cp__compiler_init(&c, &q->rs, errs) != CP_OK) {
		cp__compiler_fini(&c);
		return CP_ENOMEM;
	}
	e->slot = cp__compile_expr(&c, &e->x);
	rc = c.failed;
	cp__compiler_fini(&c);
	if (rc == CP_ELIMIT)
		cp__expr_error(errs, &e->x, CP_ELIMIT, 0, "the expression needs more than %u value slots",
		               CP_RULES_MAX_SLOTS);
	else if (rc == CP_ENOMEM)
		cp__expr_error(errs, &e->x, CP_ENOMEM, 0, "out of memory while compiling");
	else if (rc || e->slot == CP_NO_SLOT)
		cp__expr_error(errs, &e->x, CP_ERROR, 0, "internal error while compiling");
	else
		return CP_OK;
	return rc ? rc : CP_ERROR;
}

int cp__query_add(cp_query *q, const char *text, size_t len, const char *name, bool want_bool,
                  cp_diag *diag)
{
	if (grow_exprs(q) != CP_OK)
		return CP_ENOMEM;
	cp__qexpr *e = &q->exprs[q->n];
	memset(e, 0, sizeof(*e));
	cp__arena *a = &q->rs.arena;
	e->x.text = cp__arena_strndup(a, text, len);
	e->x.where.file = cp__arena_strdup(a, name ? name : "expression");
	if (!e->x.text || !e->x.where.file)
		return CP_ENOMEM;
	e->x.len = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
	e->x.where.line = 1;
	e->x.where.col = 1;
	e->x.pack = -1;
	cp__errs errs;
	memset(&errs, 0, sizeof(errs));
	errs.diag = diag;
	/* an incomplete compile leaves slots and code after the last good
	 * expression: take them back */
	uint32_t nslots = q->rs.prog.nslots;
	size_t ncode = q->rs.prog.ncode;
	int rc = compile_one(q, e, want_bool, &errs);
	cp__errs_flush(&errs);
	if (rc != CP_OK) {
		q->rs.prog.nslots = nslots;
		q->rs.prog.ncode = ncode;
		return errs.first_code ? errs.first_code : rc;
	}
	e->type = e->x.root->type;
	plain_field(e);
	q->finished = false;
	return q->n++;
}

int cp__query_finish(cp_query *q)
{
	if (q->finished)
		return CP_OK;
	cp__free(q->rs.fast);
	cp__free(q->rs.prefetch);
	q->rs.fast = NULL;
	q->rs.prefetch = NULL;
	q->rs.nfast = q->rs.nprefetch = 0;
	int nm = q->base->nmetrics;
	if (nm + q->n > q->rs.cap_metrics) {
		cp__metric *m = cp__reallocarray(q->rs.metrics, (size_t)(nm + q->n), sizeof(*m));
		if (!m)
			return CP_ENOMEM;
		q->rs.metrics = m;
		q->rs.cap_metrics = nm + q->n;
	}
	for (int i = 0; i < q->n; i++) {
		cp__metric *m = &q->rs.metrics[nm + i];
		memset(m, 0, sizeof(*m));
		m->expr = q->exprs[i].x;
		m->type = q->exprs[i].type;
		m->checked = true;
	}
	q->rs.nmetrics = nm + q->n;
	int rc = cp__prog_optimize(&q->rs);
	q->rs.nmetrics = nm;
	q->finished = rc == CP_OK;
	return rc;
}

/* ---- values ---- */

int cp__type_public(cp__type t)
{
	switch (t.base) {
	case B_BOOL: return CP_TYPE_BOOL;
	case B_INT: return CP_TYPE_INT;
	case B_FLOAT: return CP_TYPE_FLOAT;
	case B_MONEY: return CP_TYPE_MONEY;
	case B_DATE: return CP_TYPE_DATE;
	case B_STRING: return CP_TYPE_STRING;
	case B_ENUM: return CP_TYPE_ENUM;
	case B_SET: return CP_TYPE_SET;
	case B_LIST: return CP_TYPE_LIST;
	default: return 0;
	}
}

const char *cp__query_item(const cp_result *res, uint32_t id)
{
	return cp__store_str(res->cx_store, id);
}

const char *cp__query_enum_label(const cp_query *q, const cp__enumdef *en, int64_t v)
{
	if (!en || v < 0 || v >= en->nvalues)
		return "";
	if (en == &cp__stage_enum)
		return cp_ruleset_stage_label(q->base, (int)v);
	const cp_schema *s = q->base->schema;
	const cp__enumdef *fe = q->base->field_enums;
	if (fe && en >= fe && en < fe + s->nfields) {
		const cp_field *f = &s->fields[en - fe];
		if (v < f->nvalues)
			return f->value_labels[v];
	}
	return en->values[v];
}

/* Shortest "%.Ng" that reads back as d, as cp_view_text writes floats. */
static void format_float(char *buf, size_t size, double d)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* The label of an open enum field's listed value, or s itself. */
static const char *open_label(const cp_query *q, const cp__qexpr *e, const char *s)
{
	if (e->field < 0)
		return s;
	const cp_field *f = &q->base->schema->fields[e->field];
	int i = f->type == CP_TYPE_ENUM ? cp__field_value_index(f, s, strlen(s)) : -1;
	return i >= 0 ? f->value_labels[i] : s;
}

static void format_cell(const cp_query *q, const cp__qexpr *e, const cp_result *res,
                        const cp__slot *s, bool labels, cp_buf *b)
{
	char tmp[64];
	cp__type t = e->type;
	if (s->null)
		return;
	switch (t.base) {
	case B_BOOL:
		cp__buf_putc(b, s->v.i ? '1' : '0');
		break;
	case B_INT:
		cp__buf_printf(b, "%" PRId64, s->v.i);
		break;
	case B_FLOAT:
		format_float(tmp, sizeof(tmp), s->v.f);
		cp__buf_puts(b, tmp);
		break;
	case B_MONEY:
		cp__format_money(s->v.i, tmp, sizeof(tmp));
		cp__buf_puts(b, tmp);
		break;
	case B_DATE: {
		int y, m, d;
		cp__civil_from_days((cp_date)s->v.i, &y, &m, &d);
		cp__buf_printf(b, "%04d-%02d-%02d", y, m, d);
		break;
	}
	case B_STRING:
		cp__buf_puts(b, labels ? open_label(q, e, s->v.s) : s->v.s);
		break;
	case B_ENUM:
		if (labels)
			cp__buf_puts(b, cp__query_enum_label(q, t.en, s->v.i));
		else if (t.en && s->v.i >= 0 && s->v.i < t.en->nvalues)
			cp__buf_puts(b, t.en->values[s->v.i]);
		break;
	case B_SET:
	case B_LIST:
		for (uint32_t i = 1; i <= s->v.l[0]; i++) {
			if (i > 1)
				cp__buf_putc(b, ';');
			cp__buf_puts(b, cp__query_item(res, s->v.l[i]));
		}
		break;
	default:
		break;
	}
}

void cp__query_format(const cp_query *q, const cp_result *res, int i, bool labels, cp_buf *b)
{
	const cp__qexpr *e = &q->exprs[i];
	const cp__slot *s = &res->slots[e->slot];
	if (!e->type.n) {
		format_cell(q, e, res, s, labels, b);
		return;
	}
	for (uint32_t k = 0; k < e->type.n; k++) {
		if (k)
			cp__buf_putc(b, ';');
		format_cell(q, e, res, &s[k], labels, b);
	}
}

/* ---- the public API ---- */

int cp_query_compile(cp_query **out, const cp_ruleset *rs, const char *expr, const char *name,
                     cp_diag *diag)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!rs || !expr)
		return CP_EINVAL;
	cp_query *q;
	int rc = cp__query_new(&q, rs);
	if (rc != CP_OK)
		return rc;
	rc = cp__query_add(q, expr, strlen(expr), name, false, diag);
	if (rc >= 0)
		rc = cp__query_finish(q);
	if (rc != CP_OK) {
		if (rc == CP_ENOMEM)
			cp__diag_add(diag, CP_SEV_ERROR, name ? name : "expression", 0, 0,
			             "out of memory while compiling");
		cp_query_free(q);
		return rc;
	}
	*out = q;
	return CP_OK;
}

const char *cp_query_expr(const cp_query *q)
{
	return q && q->n ? q->exprs[0].x.text : NULL;
}

int cp_query_type(const cp_query *q)
{
	return q && q->n ? cp__type_public(q->exprs[0].type) : 0;
}

int cp_query_window(const cp_query *q)
{
	return q && q->n ? q->exprs[0].type.n : 0;
}

const cp_ruleset *cp_query_ruleset(const cp_query *q)
{
	return q ? &q->rs : NULL;
}

/* The value of the query in res, or NULL when res is not an evaluated
 * result of the query's ruleset. */
static const cp__slot *value_of(const cp_query *q, const cp_result *res)
{
	if (!q || !res || !q->n || res->rs != &q->rs || !res->evaluated)
		return NULL;
	return cp__query_value(q, res, 0);
}

int cp_query_is_null(const cp_query *q, const cp_result *res)
{
	const cp__slot *s = value_of(q, res);
	return !s || s->null || q->exprs[0].type.base == B_NULL;
}

int64_t cp_query_int(const cp_query *q, const cp_result *res)
{
	const cp__slot *s = value_of(q, res);
	if (!s || s->null)
		return 0;
	switch (q->exprs[0].type.base) {
	case B_BOOL:
	case B_INT:
	case B_MONEY:
	case B_DATE:
	case B_ENUM:
		return s->v.i;
	case B_FLOAT:
		return s->v.f >= -9.2e18 && s->v.f <= 9.2e18 ? (int64_t)s->v.f : 0;
	default:
		return 0;
	}
}

double cp_query_float(const cp_query *q, const cp_result *res)
{
	const cp__slot *s = value_of(q, res);
	if (!s || s->null)
		return 0;
	switch (q->exprs[0].type.base) {
	case B_BOOL:
	case B_INT:
	case B_DATE:
	case B_ENUM:
		return (double)s->v.i;
	case B_MONEY:
		return (double)s->v.i / 100.0;
	case B_FLOAT:
		return s->v.f;
	default:
		return 0;
	}
}

int cp_query_value_text(const cp_query *q, const cp_result *res, char *buf, size_t size)
{
	if (!q || !res || (!buf && size))
		return CP_EINVAL;
	if (!value_of(q, res))
		return CP_EMISUSE; /* no message: q is shared by threads */
	cp_buf b;
	cp__buf_init(&b);
	cp__query_format(q, res, 0, false, &b);
	if (b.failed) {
		cp__buf_free(&b);
		return CP_ENOMEM;
	}
	size_t len = b.len;
	if (size) {
		size_t k = len < size - 1 ? len : size - 1;
		memcpy(buf, b.data ? b.data : "", k);
		buf[k] = '\0';
	}
	cp__buf_free(&b);
	return len > INT32_MAX ? CP_ELIMIT : (int)len;
}
