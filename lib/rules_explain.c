/*
 * rules_explain.c — why a tag applies (or not), how a track decided
 * (DESIGN §5.4), and the text forms of values.
 *
 * The profile is evaluated once into the caller's cp_result; since every
 * syntax-tree node kept its value slot, the explanation is a walk over the
 * tree reading slots.  The structured form is a flat pre-order array of
 * nodes (parent, depth, kind, source text, value); the text form puts one
 * line per condition: the connectives and/or/not expand, every other
 * condition is one line with its value and the values of what it compares.
 */
#include "rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text forms of values ---- */

void cp__format_float(char *buf, size_t size, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (!strpbrk(buf, ".eEnNiI")) {
		size_t l = strlen(buf);
		if (l + 2 < size)
			memcpy(buf + l, ".0", 3);
	}
}

static void quoted(cp_buf *b, const char *s)
{
	cp__buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\') {
			cp__buf_putc(b, '\\');
			cp__buf_putc(b, *s);
		} else if (*s == '\n') {
			cp__buf_puts(b, "\\n");
		} else if (*s == '\t') {
			cp__buf_puts(b, "\\t");
		} else {
			cp__buf_putc(b, *s);
		}
	}
	cp__buf_putc(b, '\'');
}

static void format_one(cp_buf *b, const cp__slot *s, cp__type t, const cp_store *store)
{
	char tmp[64];
	if (s->null || t.base == B_NULL || t.base == B_ERR) {
		cp__buf_puts(b, "null");
		return;
	}
	switch (t.base) {
	case B_BOOL:
		cp__buf_puts(b, s->v.i ? "true" : "false");
		break;
	case B_INT:
		cp__buf_printf(b, "%lld", (long long)s->v.i);
		break;
	case B_FLOAT:
		cp__format_float(tmp, sizeof(tmp), s->v.f);
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
		quoted(b, s->v.s);
		break;
	case B_ENUM:
		if (!t.en || s->v.i < 0 || s->v.i >= t.en->nvalues)
			cp__buf_printf(b, "#%lld", (long long)s->v.i);
		else if (t.en == &cp__stage_enum)
			cp__buf_puts(b, t.en->values[s->v.i]);
		else
			quoted(b, t.en->values[s->v.i]);
		break;
	case B_SET:
	case B_LIST: {
		const uint32_t *l = s->v.l;
		cp__buf_putc(b, t.base == B_SET ? '{' : '[');
		for (uint32_t i = 1; i <= l[0]; i++) {
			if (i > 1)
				cp__buf_puts(b, ", ");
			quoted(b, cp__store_str(store, l[i]));
		}
		cp__buf_putc(b, t.base == B_SET ? '}' : ']');
		break;
	}
	default:
		cp__buf_puts(b, "?");
		break;
	}
}

void cp__format_value(cp_buf *b, const cp__slot *s, cp__type t, const cp_store *store,
                      bool personal)
{
	if (personal) {
		cp__buf_puts(b, "(personal)");
		return;
	}
	if (!t.n) {
		format_one(b, s, t, store);
		return;
	}
	cp__buf_putc(b, '[');
	for (uint32_t i = 0; i < t.n; i++) {
		if (i)
			cp__buf_puts(b, ", ");
		format_one(b, &s[i], t, store);
	}
	cp__buf_putc(b, ']');
}

/* ---- the explanation ---- */

typedef struct xnode {
	int parent, depth, kind, truth;
	char *text;  /* source text */
	char *disp;  /* source text with $params replaced by their values */
	char *value;
	char *note;
	const cp__node *ast; /* NULL for the tag/track/rule nodes */
	bool hidden;         /* personal */
} xnode;

struct cp_explain {
	cp_obj obj;
	xnode *nodes;
	int n, cap;
	char *rendered;
	bool oom;
};

static int add_node(cp_explain *ex, int parent, int kind)
{
	if (ex->n == ex->cap) {
		int cap = ex->cap ? ex->cap * 2 : 32;
		xnode *v = cp__reallocarray(ex->nodes, (size_t)cap, sizeof(*v));
		if (!v) {
			ex->oom = true;
			return -1;
		}
		ex->nodes = v;
		ex->cap = cap;
	}
	xnode *x = &ex->nodes[ex->n];
	memset(x, 0, sizeof(*x));
	x->parent = parent;
	x->depth = parent < 0 ? 0 : ex->nodes[parent].depth + 1;
	x->kind = kind;
	x->truth = -2;
	return ex->n++;
}

static char *dupstr(cp_explain *ex, const char *s, size_t n)
{
	char *p = cp__strndup(s, n);
	if (!p)
		ex->oom = true;
	return p;
}

static char *steal(cp_explain *ex, cp_buf *b)
{
	char *p = cp__buf_steal(b);
	if (!p)
		ex->oom = true;
	return p;
}

static int kind_of(const cp__node *n)
{
	switch (n->kind) {
	case N_INT: case N_FLOAT: case N_STR: case N_BOOL: case N_NULL: case N_PARAM:
		return CP_EXPLAIN_CONST;
	case N_NAME:
		return n->rkind == R_METRIC ? CP_EXPLAIN_METRIC : CP_EXPLAIN_FIELD;
	case N_INDEX:
		return n->rkind == R_FIELD ? CP_EXPLAIN_FIELD : CP_EXPLAIN_ARITH;
	case N_CALL:
		return CP_EXPLAIN_CALL;
	case N_LIST:
		return CP_EXPLAIN_LIST;
	case N_NEG: case N_ARITH:
		return CP_EXPLAIN_ARITH;
	case N_NOT: case N_AND: case N_OR:
		return CP_EXPLAIN_LOGIC;
	default:
		return CP_EXPLAIN_COMPARE;
	}
}

static void value_of(cp_explain *ex, xnode *x, const cp__node *n, const cp_result *res)
{
	cp_buf b;
	cp__buf_init(&b);
	const cp__node *v = n->kind == N_PARAM && n->pval ? n->pval : n;
	if (v->kind == N_LIST) {
		cp__buf_puts(&b, "[");
		for (uint32_t i = 0; i < v->nkids; i++) {
			const cp__node *e = v->kids[i];
			if (i)
				cp__buf_puts(&b, ", ");
			if (e->slot != CP_NO_SLOT)
				cp__format_value(&b, &res->slots[e->slot], e->type, res->cx_store,
				                 false);
		}
		cp__buf_puts(&b, "]");
	} else if (n->slot != CP_NO_SLOT) {
		const cp__slot *s = &res->slots[n->slot];
		x->hidden = n->personal && n->type.base != B_BOOL;
		cp__format_value(&b, s, n->type, res->cx_store, x->hidden);
		if (n->type.base == B_BOOL && !n->type.n)
			x->truth = s->null ? -1 : (int)(s->v.i != 0);
		else if (n->type.base == B_NULL)
			x->truth = -1;
	}
	x->value = steal(ex, &b);
}

/* Append the source of n[at..end) to b with every $param replaced by its
 * value; returns where the copy stopped. */
static uint32_t substitute(cp_explain *ex, cp_buf *b, const cp__expr *e, const cp__node *n,
                           uint32_t at, const cp_result *res)
{
	if (n->kind == N_PARAM) {
		cp__buf_append(b, e->text + at, n->start - at);
		xnode tmp;
		memset(&tmp, 0, sizeof(tmp));
		value_of(ex, &tmp, n, res);
		cp__buf_puts(b, tmp.value ? tmp.value : "?");
		cp__free(tmp.value);
		return n->end;
	}
	/* children are in source order; the tree is at most CP_RULES_MAX_HEIGHT deep */
	for (uint32_t i = 0; i < n->nkids; i++)
		at = substitute(ex, b, e, n->kids[i], at, res);
	return at;
}

/* Source text of n, and the same with every $param replaced by its value. */
static void texts_of(cp_explain *ex, xnode *x, const cp__expr *e, const cp__node *n,
                     const cp_result *res)
{
	x->text = dupstr(ex, e->text + n->start, n->end - n->start);
	cp_buf b;
	cp__buf_init(&b);
	uint32_t at = substitute(ex, &b, e, n, n->start, res);
	cp__buf_append(&b, e->text + at, n->end - at);
	x->disp = steal(ex, &b);
}

static void add_tree(cp_explain *ex, int parent, const cp__expr *e, const cp__node *n,
                     const cp_result *res)
{
	int i = add_node(ex, parent, kind_of(n));
	if (i < 0)
		return;
	xnode *x = &ex->nodes[i];
	x->ast = n;
	texts_of(ex, x, e, n, res);
	value_of(ex, &ex->nodes[i], n, res);
	/* leaves: constants, names, a field's months, tag() and stage() */
	if (n->kind == N_PARAM || (n->kind == N_INDEX && n->rkind == R_FIELD) ||
	    n->rkind == R_TAG || n->rkind == R_TRACK)
		return;
	for (uint32_t k = 0; k < n->nkids; k++)
		add_tree(ex, i, e, n->kids[k], res);
}

static cp_explain *explain_new(void)
{
	cp_explain *ex = cp__calloc(1, sizeof(*ex));
	if (ex)
		cp__obj_init(&ex->obj, CP_OBJ_EXPLAIN);
	return ex;
}

void cp_explain_free(cp_explain *ex)
{
	if (!ex)
		return;
	for (int i = 0; i < ex->n; i++) {
		cp__free(ex->nodes[i].text);
		cp__free(ex->nodes[i].disp);
		cp__free(ex->nodes[i].value);
		cp__free(ex->nodes[i].note);
	}
	cp__free(ex->nodes);
	cp__free(ex->rendered);
	cp__obj_fini(&ex->obj);
	cp__free(ex);
}

/* ---- rendering ---- */

/* Display width of UTF-8 text (East Asian wide characters count 2). */
static size_t width(const char *s)
{
	size_t w = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned long c = *p;
		int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (len > 1)
			c &= 0x3Fu >> (len - 1);
		for (int k = 1; k < len && p[k]; k++)
			c = (c << 6) | (p[k] & 0x3F);
		bool wide = (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
		            (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
		            (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
		            (c >= 0xFFE0 && c <= 0xFFE6) || c >= 0x20000;
		w += wide ? 2 : 1;
		for (int k = 0; k < len && *p; k++)
			p++;
	}
	return w;
}

typedef struct line {
	int depth;
	char *left;    /* text */
	const char *value;
	char *detail;
} line;

typedef struct lines {
	line *v;
	int n, cap;
	bool oom;
} lines;

static void add_line(lines *L, int depth, char *left, const char *value, char *detail)
{
	if (L->n == L->cap) {
		int cap = L->cap ? L->cap * 2 : 16;
		line *v = cp__reallocarray(L->v, (size_t)cap, sizeof(*v));
		if (!v) {
			L->oom = true;
			cp__free(left);
			cp__free(detail);
			return;
		}
		L->v = v;
		L->cap = cap;
	}
	L->v[L->n].depth = depth;
	L->v[L->n].left = left;
	L->v[L->n].value = value;
	L->v[L->n].detail = detail;
	L->n++;
}

static bool is_compare(const cp__node *a)
{
	return a->kind == N_CMP || a->kind == N_IN || a->kind == N_NOTIN || a->kind == N_BETWEEN;
}

static bool is_const_node(const cp__node *a)
{
	int k = kind_of(a);
	return k == CP_EXPLAIN_CONST || k == CP_EXPLAIN_LIST;
}

/* Children of node i (pre-order: they follow it). */
static int next_child(const cp_explain *ex, int parent, int after)
{
	for (int j = after + 1; j < ex->n; j++) {
		if (ex->nodes[j].depth <= ex->nodes[parent].depth)
			return -1;
		if (ex->nodes[j].parent == parent)
			return j;
	}
	return -1;
}

static void details(const cp_explain *ex, int i, cp_buf *b, bool *any, bool operands_only)
{
	const xnode *x = &ex->nodes[i];
	const cp__node *a = x->ast;
	if (!a)
		return;
	if (is_compare(a)) {
		for (int c = next_child(ex, i, i); c >= 0; c = next_child(ex, i, c)) {
			const xnode *k = &ex->nodes[c];
			if (is_const_node(k->ast))
				continue;
			cp__buf_printf(b, "%s%s = %s", *any ? ", " : "", k->disp, k->value);
			*any = true;
		}
		return;
	}
	if (!operands_only && (x->kind == CP_EXPLAIN_FIELD || x->kind == CP_EXPLAIN_METRIC)) {
		cp__buf_printf(b, "%s%s = %s", *any ? ", " : "", x->disp, x->value);
		*any = true;
		return;
	}
	for (int c = next_child(ex, i, i); c >= 0; c = next_child(ex, i, c))
		details(ex, c, b, any, operands_only);
}

static bool has_compare(const cp_explain *ex, int i)
{
	if (ex->nodes[i].ast && is_compare(ex->nodes[i].ast))
		return true;
	for (int c = next_child(ex, i, i); c >= 0; c = next_child(ex, i, c))
		if (has_compare(ex, c))
			return true;
	return false;
}

static void render_cond(const cp_explain *ex, int i, int depth, lines *L, bool top)
{
	const xnode *x = &ex->nodes[i];
	const cp__node *a = x->ast;
	if (a->kind == N_AND && top) {
		/* the line above holds the value of the whole 'and' */
		for (int c = next_child(ex, i, i); c >= 0; c = next_child(ex, i, c))
			render_cond(ex, c, depth, L, false);
		return;
	}
	if (a->kind == N_AND || a->kind == N_OR || a->kind == N_NOT) {
		const char *word = a->kind == N_AND ? "all of" : a->kind == N_OR ? "any of" : "not";
		add_line(L, depth, cp__strdup(word), x->value, NULL);
		for (int c = next_child(ex, i, i); c >= 0; c = next_child(ex, i, c))
			render_cond(ex, c, depth + 1, L, false);
		return;
	}
	cp_buf b;
	cp__buf_init(&b);
	bool any = false;
	bool cmp = has_compare(ex, i);
	if (!(x->kind == CP_EXPLAIN_FIELD || x->kind == CP_EXPLAIN_METRIC))
		details(ex, i, &b, &any, false);
	(void)cmp;
	add_line(L, depth, cp__strdup(x->disp ? x->disp : ""), x->value, any ? cp__buf_steal(&b) : NULL);
	cp__buf_free(&b);
}

static void render(cp_explain *ex)
{
	lines L = {0};
	const xnode *root = &ex->nodes[0];
	cp_buf head;
	cp__buf_init(&head);
	cp__buf_printf(&head, "%s = %s", root->text, root->value);
	if (root->note && root->note[0])
		cp__buf_printf(&head, "  (%s)", root->note);
	for (int c = next_child(ex, 0, 0); c >= 0; c = next_child(ex, 0, c)) {
		const xnode *k = &ex->nodes[c];
		if (k->kind == CP_EXPLAIN_RULE) {
			cp_buf rb;
			cp__buf_init(&rb);
			cp__buf_printf(&rb, "%s -> %s", k->text, k->note ? k->note : "");
			add_line(&L, 1, cp__buf_steal(&rb), k->value, NULL);
			int e = next_child(ex, c, c);
			if (e >= 0)
				render_cond(ex, e, 2, &L, true);
		} else {
			render_cond(ex, c, 1, &L, true);
		}
	}
	/* align the values and the details */
	size_t wl = 0, wv = 0;
	for (int i = 0; i < L.n; i++) {
		if (!L.v[i].left)
			continue;
		size_t w = 2 * (size_t)L.v[i].depth + width(L.v[i].left);
		if (w > wl && w <= 60)
			wl = w;
		size_t v = L.v[i].value ? width(L.v[i].value) : 0;
		if (v > wv && v <= 12)
			wv = v;
	}
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_puts(&b, head.data ? head.data : "");
	cp__buf_putc(&b, '\n');
	for (int i = 0; i < L.n; i++) {
		line *l = &L.v[i];
		if (!l->left)
			continue;
		size_t w = 2 * (size_t)l->depth + width(l->left);
		for (int d = 0; d < l->depth; d++)
			cp__buf_puts(&b, "  ");
		cp__buf_puts(&b, l->left);
		const char *v = l->value ? l->value : "";
		for (size_t k = w; k < wl; k++)
			cp__buf_putc(&b, ' ');
		cp__buf_puts(&b, "   ");
		cp__buf_puts(&b, v);
		if (l->detail) {
			for (size_t k = width(v); k < wv; k++)
				cp__buf_putc(&b, ' ');
			cp__buf_puts(&b, "   ");
			cp__buf_puts(&b, l->detail);
		}
		/* no trailing blanks */
		while (b.len && b.data[b.len - 1] == ' ')
			b.data[--b.len] = '\0';
		cp__buf_putc(&b, '\n');
	}
	if (L.oom || head.failed)
		b.failed = true;
	ex->rendered = cp__buf_steal(&b);
	if (!ex->rendered)
		ex->oom = true;
	for (int i = 0; i < L.n; i++) {
		cp__free(L.v[i].left);
		cp__free(L.v[i].detail);
	}
	cp__free(L.v);
	cp__buf_free(&head);
}

/* ---- building ---- */

static char *truth_text(cp_explain *ex, const cp__slot *s)
{
	return dupstr(ex, s->null ? "null" : s->v.i ? "true" : "false", s->null ? 4 : s->v.i ? 4 : 5);
}

static int finish(cp_explain *ex, cp_explain **out)
{
	if (!ex->oom)
		render(ex);
	if (ex->oom) {
		cp_explain_free(ex);
		return CP_ENOMEM;
	}
	*out = ex;
	return CP_OK;
}

int cp_explain_tag(cp_explain **out, cp_result *res, const cp_view *view, int tag)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!res || !view)
		return CP_EINVAL;
	const cp_ruleset *rs = res->rs;
	if (tag < 0 || tag >= rs->ntags)
		return cp__fail(&res->obj, CP_EINVAL, "no tag %d (the ruleset has %d)", tag, rs->ntags);
	int rc = cp__result_eval_view(res, view, true);
	if (rc != CP_OK)
		return rc;
	cp_explain *ex = explain_new();
	if (!ex)
		return CP_ENOMEM;
	const cp__tag *t = &rs->tags[tag];
	int root = add_node(ex, -1, CP_EXPLAIN_TAG);
	if (root < 0)
		return finish(ex, out);
	xnode *x = &ex->nodes[root];
	x->text = dupstr(ex, t->id, strlen(t->id));
	bool final = res->slots[t->final_slot].v.i != 0;
	x->value = dupstr(ex, final ? "true" : "false", final ? 4 : 5);
	x->truth = final;
	if (t->group >= 0) {
		const cp__group *g = &rs->groups[t->group];
		int upto = t->member >= 0 ? t->member : g->nmembers;
		int first = -1;
		for (int k = 0; k < upto && first < 0; k++) {
			const cp__slot *s = &res->slots[rs->tags[g->members[k]].raw_slot];
			if (!s->null && s->v.i)
				first = g->members[k];
		}
		cp_buf b;
		cp__buf_init(&b);
		if (first >= 0)
			cp__buf_printf(&b, "%s applies first in group %s", rs->tags[first].id, g->id);
		else if (t->member < 0 && final)
			cp__buf_printf(&b, "no member of group %s applies", g->id);
		ex->nodes[root].note = steal(ex, &b);
	}
	if (t->when.root)
		add_tree(ex, root, &t->when, t->when.root, res);
	return finish(ex, out);
}

int cp_explain_track(cp_explain **out, cp_result *res, const cp_view *view, int track)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!res || !view)
		return CP_EINVAL;
	const cp_ruleset *rs = res->rs;
	if (track < 0 || track >= rs->ntracks)
		return cp__fail(&res->obj, CP_EINVAL, "no track %d (the ruleset has %d)", track,
		                rs->ntracks);
	int rc = cp__result_eval_view(res, view, true);
	if (rc != CP_OK)
		return rc;
	cp_explain *ex = explain_new();
	if (!ex)
		return CP_ENOMEM;
	const cp__track *t = &rs->tracks[track];
	int stage = (int)res->slots[t->slot].v.i, rule = (int)res->slots[t->slot + 1].v.i;
	int root = add_node(ex, -1, CP_EXPLAIN_TRACK);
	if (root < 0)
		return finish(ex, out);
	ex->nodes[root].text = dupstr(ex, t->name, strlen(t->name));
	const char *sn = cp_stage_name(stage);
	ex->nodes[root].value = dupstr(ex, sn, strlen(sn));
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_printf(&b, "rule %s", rule < 0 ? t->otherwise_id : t->rules[rule].id);
	ex->nodes[root].note = steal(ex, &b);
	int last = rule < 0 ? t->nrules - 1 : rule;
	for (int i = 0; i <= last && !ex->oom; i++) {
		const cp__rule *r = &t->rules[i];
		int ri = add_node(ex, root, CP_EXPLAIN_RULE);
		if (ri < 0)
			break;
		ex->nodes[ri].text = dupstr(ex, r->id, strlen(r->id));
		const char *st = cp_stage_name(r->stage);
		ex->nodes[ri].note = dupstr(ex, st, strlen(st));
		const cp__slot *s = &res->slots[r->when.root->slot];
		ex->nodes[ri].value = truth_text(ex, s);
		ex->nodes[ri].truth = s->null ? -1 : (int)(s->v.i != 0);
		add_tree(ex, ri, &r->when, r->when.root, res);
	}
	return finish(ex, out);
}

/* ---- accessors ---- */

const char *cp_explain_text(const cp_explain *ex)
{
	return ex && ex->rendered ? ex->rendered : "";
}

int cp_explain_node_count(const cp_explain *ex)
{
	return ex ? ex->n : 0;
}

static const xnode *xn(const cp_explain *ex, int i)
{
	return ex && i >= 0 && i < ex->n ? &ex->nodes[i] : NULL;
}

int cp_explain_node_parent(const cp_explain *ex, int node)
{
	const xnode *x = xn(ex, node);
	return x ? x->parent : -1;
}

int cp_explain_node_depth(const cp_explain *ex, int node)
{
	const xnode *x = xn(ex, node);
	return x ? x->depth : -1;
}

int cp_explain_node_kind(const cp_explain *ex, int node)
{
	const xnode *x = xn(ex, node);
	return x ? x->kind : -1;
}

const char *cp_explain_node_text(const cp_explain *ex, int node)
{
	const xnode *x = xn(ex, node);
	return x ? (x->text ? x->text : "") : NULL;
}

const char *cp_explain_node_value(const cp_explain *ex, int node)
{
	const xnode *x = xn(ex, node);
	return x ? (x->value ? x->value : "") : NULL;
}

int cp_explain_node_truth(const cp_explain *ex, int node)
{
	const xnode *x = xn(ex, node);
	return x ? x->truth : -2;
}

const char *cp_explain_node_note(const cp_explain *ex, int node)
{
	const xnode *x = xn(ex, node);
	return x ? (x->note ? x->note : "") : NULL;
}
