/*
 * rules_check.c — the type checker (DESIGN §5.2).
 *
 * Every node gets a type: a base (bool, int, float, money, date, string,
 * closed enum, set, list, null) and a window length (0 for a single value).
 * Names resolve to fields, metrics, parameters, functions, tags and tracks.
 * Each problem is reported at the offending token with a suggestion where a
 * close name exists; a node with an error gets the type B_ERR, which every
 * rule accepts silently, so one mistake gives one message and checking goes
 * on to find the others.
 */
#include "rules.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const cp__fn_names[F_COUNT_] = {
	"sum", "avg", "min", "max", "count", "all", "any", "none", "streak", "since",
	"slope", "abs", "round", "coalesce", "present", "if", "len", "has",
	"starts_with", "ends_with", "contains", "months_since", "days_since", "tag", "stage",
};

int cp__fn_lookup(const char *name)
{
	for (int i = 0; i < F_COUNT_; i++)
		if (strcmp(cp__fn_names[i], name) == 0)
			return i;
	return -1;
}

static const char *const stage_names[] = {
	"unknown", "prospect", "acquisition", "growth", "maturity", "decline",
	"silent", "churn_risk", "churned", "winback", "bad_debt",
};
const cp__enumdef cp__stage_enum = {"stage", stage_names, 11};

typedef struct checker {
	cp_ruleset *rs;
	cp__expr *x;
	cp__errs *errs;
	bool failed;
} checker;

static cp__type T(int base, int n)
{
	cp__type t = {(uint8_t)base, (uint16_t)n, NULL};
	return t;
}

static const char *base_name(int base)
{
	switch (base) {
	case B_NULL: return "null";
	case B_BOOL: return "bool";
	case B_INT: return "int";
	case B_FLOAT: return "float";
	case B_MONEY: return "money";
	case B_DATE: return "date";
	case B_STRING: return "string";
	case B_ENUM: return "enum";
	case B_SET: return "set";
	case B_LIST: return "list";
	case B_LITLIST: return "list literal";
	default: return "?";
	}
}

const char *cp__type_describe(cp__type t, char *buf, size_t size)
{
	char b[96];
	if (t.base == B_ENUM && t.en)
		snprintf(b, sizeof(b), "enum %s", t.en->name);
	else
		snprintf(b, sizeof(b), "%s", base_name(t.base));
	if (t.n)
		snprintf(buf, size, "window of %u %s", (unsigned)t.n, b);
	else
		snprintf(buf, size, "%s", b);
	return buf;
}

static void cerr(checker *c, int code, size_t off, const char *fmt, ...) CP_PRINTF(4, 5);

static void cerr(checker *c, int code, size_t off, const char *fmt, ...)
{
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->failed = true;
	cp__expr_error(c->errs, c->x, code, off, "%s", msg);
}

static void cwarn(checker *c, size_t off, const char *fmt, ...) CP_PRINTF(3, 4);

static void cwarn(checker *c, size_t off, const char *fmt, ...)
{
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp__expr_warning(c->errs, c->x, off, "%s", msg);
}

/* The source text of a node for messages ("sum(arpu[0..5])"), elided when long. */
static const char *src(checker *c, const cp__node *n, char *buf, size_t size)
{
	size_t len = n->end - n->start;
	if (len > 48)
		snprintf(buf, size, "%.*s...", 40, c->x->text + n->start);
	else
		snprintf(buf, size, "%.*s", (int)len, c->x->text + n->start);
	return buf;
}

static const char *tdesc(cp__type t, char *buf, size_t size)
{
	return cp__type_describe(t, buf, size);
}

static bool is_num(int b)
{
	return b == B_INT || b == B_FLOAT || b == B_MONEY;
}

/* The literal behind a node: itself, a parameter's value, or NULL. */
static const cp__node *literal(const cp__node *n)
{
	if (n->kind == N_PARAM)
		n = n->pval;
	if (!n)
		return NULL;
	switch (n->kind) {
	case N_INT:
	case N_FLOAT:
	case N_STR:
	case N_BOOL:
	case N_NULL:
	case N_LIST:
		return n;
	default:
		return NULL;
	}
}

/* A float literal that is a whole number of fen (20.5 yuan = 2050 fen). */
static bool fen_exact(const cp__node *n)
{
	const cp__node *l = literal(n);
	if (!l || l->kind != N_FLOAT)
		return false;
	double v = l->f * 100.0;
	if (!isfinite(v) || fabs(v) > 9.0e15)
		return false;
	double r = round(v);
	return fabs(v - r) < 1e-6;
}

static const char *closest_value(const cp__enumdef *en, const char *s)
{
	return cp__closest(s, en->values, (size_t)en->nvalues);
}

static int enum_index(const cp__enumdef *en, const char *s)
{
	for (int i = 0; i < en->nvalues; i++)
		if (strcmp(en->values[i], s) == 0)
			return i;
	return -1;
}

/* A string literal compared with a closed enum: must be one of its values. */
static bool check_enum_literal(checker *c, const cp__node *lit_at, const cp__node *lit,
                               const cp__enumdef *en)
{
	if (enum_index(en, lit->s) >= 0)
		return true;
	const char *near = closest_value(en, lit->s);
	char list[300];
	size_t o = 0;
	list[0] = '\0';
	for (int i = 0; i < en->nvalues && o < sizeof(list) - 40; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", en->values[i]);
	if (near)
		cerr(c, CP_ETYPE, lit_at->start, "'%s' is not a value of %s (did you mean '%s'?)",
		     lit->s, en->name, near);
	else
		cerr(c, CP_ETYPE, lit_at->start, "'%s' is not a value of %s (values: %s)", lit->s,
		     en->name, list);
	return false;
}

/* An open enum with listed values: an unlisted literal is allowed, but a
 * likely typo. */
static void warn_open_literal(checker *c, const cp__node *lit_at, const cp__node *lit,
                              const cp__enumdef *en)
{
	if (!en || !en->nvalues || enum_index(en, lit->s) >= 0)
		return;
	const char *near = closest_value(en, lit->s);
	if (near)
		cwarn(c, lit_at->start, "'%s' is not a listed value of %s (did you mean '%s'?)",
		      lit->s, en->name, near);
}

static bool check_date_literal(checker *c, const cp__node *lit_at, const cp__node *lit)
{
	cp_date d;
	const char *why;
	if (cp__parse_date(lit->s, lit->slen, &d, &why) == CP_OK)
		return true;
	cerr(c, CP_ETYPE, lit_at->start, "'%s' is not a date: %s", lit->s, why);
	return false;
}

/* Window lengths of two operands: equal, or one of them a single value. */
static bool join_n_at(checker *c, size_t off, cp__type a, cp__type b, int *n)
{
	if (a.n && b.n && a.n != b.n) {
		cerr(c, CP_ETYPE, off, "windows of different lengths: %u and %u elements",
		     (unsigned)a.n, (unsigned)b.n);
		return false;
	}
	*n = a.n > b.n ? a.n : b.n;
	return true;
}

static bool join_n(checker *c, const cp__node *at, cp__type a, cp__type b, int *n)
{
	return join_n_at(c, at->pos, a, b, n);
}

/*
 * The common type of the values of nodes a and b, for comparing them or for
 * choosing one of them (if, coalesce, min, max, list elements).  Reports and
 * returns B_ERR when there is none.  The window length is not part of it.
 */
static int unify(checker *c, const cp__node *at, const cp__node *a, const cp__node *b,
                 const char *what)
{
	int ta = a->type.base, tb = b->type.base;
	if (ta == B_ERR || tb == B_ERR)
		return B_ERR;
	if (ta == B_NULL)
		return tb;
	if (tb == B_NULL)
		return ta;
	for (int pass = 0; pass < 2; pass++) {
		const cp__node *x = pass ? b : a, *y = pass ? a : b;
		int tx = x->type.base, ty = y->type.base;
		if (tx == ty) {
			if (tx == B_ENUM)
				return x->type.en == y->type.en ? B_ENUM : B_STRING;
			if (tx == B_STRING) {
				const cp__node *ly = literal(y);
				if (ly && ly->kind == N_STR)
					warn_open_literal(c, y, ly, x->type.en);
			}
			return tx;
		}
		if (tx == B_INT && ty == B_FLOAT)
			return B_FLOAT;
		if (tx == B_INT && ty == B_MONEY)
			return B_MONEY;
		if (tx == B_MONEY && ty == B_FLOAT)
			return fen_exact(y) ? B_MONEY : B_FLOAT;
		const cp__node *ly = literal(y);
		if (tx == B_ENUM && ty == B_STRING) {
			if (ly && ly->kind == N_STR)
				return check_enum_literal(c, y, ly, x->type.en) ? B_ENUM : B_ERR;
			return B_STRING;
		}
		if (tx == B_DATE && ty == B_STRING && ly && ly->kind == N_STR)
			return check_date_literal(c, y, ly) ? B_DATE : B_ERR;
	}
	char b1[96], b2[96], s1[64], s2[64];
	cerr(c, CP_ETYPE, at->pos, "cannot %s %s (%s) with %s (%s)", what,
	     src(c, a, s1, sizeof(s1)), tdesc(a->type, b1, sizeof(b1)),
	     src(c, b, s2, sizeof(s2)), tdesc(b->type, b2, sizeof(b2)));
	return B_ERR;
}

static cp__type check(checker *c, cp__node *n);

/* A child that must be a bool (or null); returns false after reporting. */
static bool want_bool(checker *c, const cp__node *k, const char *who)
{
	int b = k->type.base;
	if (b == B_BOOL || b == B_NULL || b == B_ERR)
		return true;
	char b1[96], s1[64];
	cerr(c, CP_ETYPE, k->start, "%s needs true/false values, but '%s' is %s", who,
	     src(c, k, s1, sizeof(s1)), tdesc(k->type, b1, sizeof(b1)));
	return false;
}

static const char *cmp_text(int op)
{
	static const char *const t[] = {"==", "!=", "<", "<=", ">", ">="};
	return t[op];
}

static cp__type check_cmp(checker *c, cp__node *n)
{
	cp__node *a = n->kids[0], *b = n->kids[1];
	cp__type ta = check(c, a), tb = check(c, b);
	if (ta.base == B_ERR || tb.base == B_ERR)
		return T(B_ERR, 0);
	int dom = unify(c, n, a, b, "compare");
	if (dom == B_ERR)
		return T(B_ERR, 0);
	n->dom = (uint8_t)dom;
	if (ta.base == B_LITLIST || tb.base == B_LITLIST || dom == B_SET || dom == B_LIST) {
		cerr(c, CP_ETYPE, n->pos, "sets and lists cannot be compared with '%s': use has(x, s), 's in x' or len(x)",
		     cmp_text(n->op));
		return T(B_ERR, 0);
	}
	bool order = n->op >= C_LT;
	if (order && (dom == B_BOOL || dom == B_ENUM)) {
		cerr(c, CP_ETYPE, n->pos, "%s values have no order: only == and != compare them",
		     dom == B_BOOL ? "bool" : "enum");
		return T(B_ERR, 0);
	}
	if (a->kind == N_NULL || b->kind == N_NULL)
		cwarn(c, n->pos, "a comparison with null is always null: use present(x) to test for a value");
	else if (dom == B_FLOAT && !order)
		cwarn(c, n->pos, "comparing float values with '%s' is fragile (rounding): compare a range or use round()",
		      cmp_text(n->op));
	int w;
	if (!join_n(c, n, ta, tb, &w))
		return T(B_ERR, 0);
	return T(B_BOOL, w);
}

static cp__type check_in(checker *c, cp__node *n)
{
	cp__node *x = n->kids[0], *r = n->kids[1];
	cp__type tx = check(c, x);
	const cp__node *lst = r->kind == N_LIST ? r : NULL;
	if (r->kind == N_PARAM) {
		cp__type tr = check(c, r);
		if (tr.base == B_ERR)
			return tr;
		if (r->pval && r->pval->kind == N_LIST)
			lst = r->pval;
	}
	if (tx.base == B_ERR)
		return T(B_ERR, 0);
	if (lst) {
		r->type = T(B_LITLIST, 0);
		bool ok = true;
		for (uint32_t i = 0; i < lst->nkids; i++) {
			cp__node *e = lst->kids[i];
			cp__type te = check(c, e);
			if (te.base == B_ERR) {
				ok = false;
				continue;
			}
			if (te.n) {
				cerr(c, CP_ETYPE, e->start, "an element of a list must be a single value, not a window");
				ok = false;
				continue;
			}
			int dom = unify(c, e, x, e, "compare");
			if (dom == B_ERR) {
				ok = false;
				continue;
			}
			e->dom = (uint8_t)dom;
			if (dom == B_SET || dom == B_LIST || dom == B_LITLIST) {
				cerr(c, CP_ETYPE, e->start, "sets and lists cannot be elements of 'in [...]'");
				ok = false;
			} else if (dom == B_FLOAT && e->type.base != B_NULL) {
				cwarn(c, e->start, "'in' compares float values with '==', which is fragile (rounding)");
			}
		}
		return ok ? T(B_BOOL, tx.n) : T(B_ERR, 0);
	}
	cp__type tr = r->kind == N_PARAM ? r->type : check(c, r);
	if (tr.base == B_ERR)
		return tr;
	if (tr.base == B_SET || tr.base == B_LIST) {
		if (tx.base != B_STRING && tx.base != B_ENUM && tx.base != B_NULL) {
			char b1[96], s1[64];
			cerr(c, CP_ETYPE, x->start, "'in' a set or list needs a string on its left, but '%s' is %s",
			     src(c, x, s1, sizeof(s1)), tdesc(tx, b1, sizeof(b1)));
			return T(B_ERR, 0);
		}
		int w;
		if (!join_n(c, n, tx, tr, &w))
			return T(B_ERR, 0);
		return T(B_BOOL, w);
	}
	char b1[96], s1[64];
	cerr(c, CP_ETYPE, r->start, "the right side of 'in' must be a list [...] or a set or list field, but '%s' is %s",
	     src(c, r, s1, sizeof(s1)), tdesc(tr, b1, sizeof(b1)));
	return T(B_ERR, 0);
}

static cp__type check_arith(checker *c, cp__node *n)
{
	cp__node *a = n->kids[0], *b = n->kids[1];
	cp__type ta = check(c, a), tb = check(c, b);
	if (ta.base == B_ERR || tb.base == B_ERR)
		return T(B_ERR, 0);
	int w;
	if (!join_n(c, n, ta, tb, &w))
		return T(B_ERR, 0);
	int x = ta.base, y = tb.base, r = B_ERR;
	char op = (char)n->op;
	if (x == B_NULL && y == B_NULL)
		r = B_NULL;
	else if (x == B_NULL || y == B_NULL) {
		int o = x == B_NULL ? y : x;
		if (is_num(o))
			r = op == '/' ? B_FLOAT : o;
		else if (o == B_DATE && (op == '+' || op == '-'))
			r = B_DATE;
	} else if (op == '%') {
		if (x == B_INT && y == B_INT)
			r = B_INT;
	} else if (op == '/') {
		if (is_num(x) && is_num(y))
			r = B_FLOAT;
	} else if (op == '*') {
		if (x == B_INT && y == B_INT)
			r = B_INT;
		else if ((x == B_MONEY && y == B_INT) || (x == B_INT && y == B_MONEY))
			r = B_MONEY;
		else if (x == B_MONEY && y == B_MONEY) {
			cerr(c, CP_ETYPE, n->pos, "cannot multiply money by money: convert one side, e.g. (a / b) for a ratio");
			return T(B_ERR, 0);
		} else if (is_num(x) && is_num(y))
			r = B_FLOAT;
	} else { /* + - */
		if (x == B_INT && y == B_INT)
			r = B_INT;
		else if ((x == B_MONEY && (y == B_MONEY || y == B_INT || fen_exact(b))) ||
		         (y == B_MONEY && (x == B_INT || fen_exact(a))))
			r = B_MONEY;
		else if (is_num(x) && is_num(y))
			r = B_FLOAT;
		else if (x == B_DATE && y == B_INT)
			r = B_DATE;
		else if (x == B_INT && y == B_DATE && op == '+')
			r = B_DATE;
		else if (x == B_DATE && y == B_DATE && op == '-')
			r = B_INT;
	}
	if (r == B_ERR) {
		char b1[96], b2[96];
		if (op == '%')
			cerr(c, CP_ETYPE, n->pos, "'%%' needs int operands, not %s and %s",
			     tdesc(ta, b1, sizeof(b1)), tdesc(tb, b2, sizeof(b2)));
		else
			cerr(c, CP_ETYPE, n->pos, "cannot apply '%c' to %s and %s", op,
			     tdesc(ta, b1, sizeof(b1)), tdesc(tb, b2, sizeof(b2)));
		return T(B_ERR, 0);
	}
	return T(r, w);
}

static cp__type field_type(checker *c, int f, int n)
{
	const cp_field *fd = &c->rs->schema->fields[f];
	cp__type t = T(B_ERR, n);
	switch (fd->type) {
	case CP_TYPE_BOOL: t.base = B_BOOL; break;
	case CP_TYPE_INT: t.base = B_INT; break;
	case CP_TYPE_FLOAT: t.base = B_FLOAT; break;
	case CP_TYPE_MONEY: t.base = B_MONEY; break;
	case CP_TYPE_DATE: t.base = B_DATE; break;
	case CP_TYPE_STRING: t.base = B_STRING; break;
	case CP_TYPE_ENUM:
		t.base = fd->closed ? B_ENUM : B_STRING;
		t.en = &c->rs->field_enums[f];
		break;
	case CP_TYPE_SET: t.base = B_SET; break;
	case CP_TYPE_LIST: t.base = B_LIST; break;
	}
	return t;
}

static const char *const keywords[] = {"and", "or", "not", "in", "between", "true", "false", "null"};

static cp__type check_name(checker *c, cp__node *n)
{
	const cp_schema *s = c->rs->schema;
	int f = cp_schema_field_index(s, n->s);
	if (f >= 0) {
		n->rkind = R_FIELD;
		n->ref = f;
		n->personal = s->fields[f].personal;
		return field_type(c, f, 0);
	}
	int m = cp__strmap_get(&c->rs->metric_ids, n->s);
	if (m >= 0) {
		n->rkind = R_METRIC;
		n->ref = m;
		const cp__metric *mt = &c->rs->metrics[m];
		if (!mt->checked)
			return T(B_ERR, 0); /* in a cycle: reported as such */
		n->personal = mt->expr.root && mt->expr.root->personal;
		return mt->type;
	}
	if (cp__fn_lookup(n->s) >= 0) {
		cerr(c, CP_ENOTFOUND, n->pos, "'%s' is a function: write %s(...)", n->s, n->s);
		return T(B_ERR, 0);
	}
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		const char *k = keywords[i];
		size_t j;
		for (j = 0; k[j] && (n->s[j] | 0x20) == k[j]; j++)
			;
		if (!k[j] && !n->s[j]) {
			cerr(c, CP_ESYNTAX, n->pos, "keywords are lower case: write '%s'", k);
			return T(B_ERR, 0);
		}
	}
	const char *near = cp__closest(n->s, c->rs->names, c->rs->nnames);
	if (near)
		cerr(c, CP_ENOTFOUND, n->pos, "unknown name '%s' (did you mean '%s'?)", n->s, near);
	else
		cerr(c, CP_ENOTFOUND, n->pos, "unknown name '%s': not a field of schema '%s' nor a metric",
		     n->s, s->name);
	return T(B_ERR, 0);
}

static cp__type check_index(checker *c, cp__node *n)
{
	cp__node *base = n->kids[0];
	char s1[64], b1[96];
	int64_t lo = n->i, hi = n->hi;
	if (lo > hi) {
		cerr(c, CP_ETYPE, n->pos, "window [%lld..%lld] runs backwards: write [%lld..%lld]",
		     (long long)lo, (long long)hi, (long long)hi, (long long)lo);
		return T(B_ERR, 0);
	}
	int w = n->single ? 0 : (int)(hi - lo + 1);
	if (base->kind == N_NAME) {
		int f = cp_schema_field_index(c->rs->schema, base->s);
		if (f >= 0) {
			const cp_field *fd = &c->rs->schema->fields[f];
			base->rkind = R_FIELD;
			base->ref = f;
			base->personal = fd->personal;
			base->type = field_type(c, f, 0);
			if (!fd->series) {
				cerr(c, CP_ETYPE, n->pos, "'%s' is not a series: only series fields have months [i]",
				     base->s);
				return T(B_ERR, 0);
			}
			int months = fd->months;
			for (int k = 0; k < 2; k++) {
				int64_t v = k ? hi : lo;
				if (v >= months) {
					cerr(c, CP_ETYPE, n->ipos[k], "month %lld is beyond the schema's %d months of '%s' (0..%d)",
					     (long long)v, months, base->s, months - 1);
					return T(B_ERR, 0);
				}
			}
			n->rkind = R_FIELD;
			n->ref = f;
			n->personal = fd->personal;
			return field_type(c, f, w);
		}
	}
	cp__type tb = check(c, base);
	if (tb.base == B_ERR)
		return tb;
	if (!tb.n) {
		cerr(c, CP_ETYPE, n->pos, "only a series field or a window takes [i]: '%s' is %s",
		     src(c, base, s1, sizeof(s1)), tdesc(tb, b1, sizeof(b1)));
		return T(B_ERR, 0);
	}
	for (int k = 0; k < 2; k++) {
		int64_t v = k ? hi : lo;
		if (v >= tb.n) {
			cerr(c, CP_ETYPE, n->ipos[k], "index %lld is beyond the window's %u elements (0..%u)",
			     (long long)v, (unsigned)tb.n, (unsigned)tb.n - 1);
			return T(B_ERR, 0);
		}
	}
	n->personal = base->personal;
	cp__type t = tb;
	t.n = (uint16_t)w;
	return t;
}

static cp__type check_param(checker *c, cp__node *n)
{
	int p = cp__rules_find_param(c->rs, c->x->pack, n->s);
	if (p < 0) {
		const char *near = cp__rules_suggest_param(c->rs, c->x->pack, n->s);
		if (near)
			cerr(c, CP_ENOTFOUND, n->pos, "unknown parameter '$%s' (did you mean '$%s'?)", n->s, near);
		else
			cerr(c, CP_ENOTFOUND, n->pos, "unknown parameter '$%s': declare it under 'params' of pack '%s'",
			     n->s, c->rs->packs[c->x->pack].name);
		return T(B_ERR, 0);
	}
	n->rkind = R_PARAM;
	n->ref = p;
	n->pval = c->rs->params[p].value;
	cp__node *v = n->pval;
	if (v->kind == N_LIST) {
		for (uint32_t i = 0; i < v->nkids; i++)
			check(c, v->kids[i]);
		v->type = T(B_LITLIST, 0);
		return v->type;
	}
	return check(c, v);
}

/* ---- functions ---- */

static bool nargs(checker *c, cp__node *n, unsigned lo, unsigned hi)
{
	if (n->nkids >= lo && n->nkids <= hi)
		return true;
	const char *name = cp__fn_names[n->ref];
	if (lo == hi)
		cerr(c, CP_ETYPE, n->pos, "%s() takes %u argument%s, not %u", name, lo,
		     lo == 1 ? "" : "s", n->nkids);
	else if (hi == UINT32_MAX)
		cerr(c, CP_ETYPE, n->pos, "%s() takes at least %u arguments, not %u", name, lo,
		     n->nkids);
	else
		cerr(c, CP_ETYPE, n->pos, "%s() takes %u to %u arguments, not %u", name, lo, hi,
		     n->nkids);
	return false;
}

static bool arg_is(checker *c, cp__node *fn, unsigned i, bool ok, const char *want)
{
	cp__node *a = fn->kids[i];
	if (ok || a->type.base == B_ERR)
		return ok;
	char b1[96], s1[64];
	cerr(c, CP_ETYPE, a->start, "%s() needs %s, but '%s' is %s", cp__fn_names[fn->ref], want,
	     src(c, a, s1, sizeof(s1)), tdesc(a->type, b1, sizeof(b1)));
	return false;
}

/* An aggregate's argument: a window (with a hint for a bare series name). */
static bool want_window(checker *c, cp__node *fn, cp__node *a, const char *example)
{
	if (a->type.base == B_ERR)
		return false;
	if (a->type.n)
		return true;
	const char *name = cp__fn_names[fn->ref];
	if (a->kind == N_NAME && a->rkind == R_FIELD &&
	    c->rs->schema->fields[a->ref].series) {
		int m = c->rs->schema->fields[a->ref].months;
		cerr(c, CP_ETYPE, a->start, "%s() needs a window: '%s' alone is this month only; write %s(%s[0..%d])",
		     name, a->s, name, a->s, m - 1);
	} else {
		char s1[64];
		cerr(c, CP_ETYPE, a->start, "%s() needs a window such as %s, but '%s' is a single value",
		     name, example, src(c, a, s1, sizeof(s1)));
	}
	return false;
}

static bool textual(int b)
{
	return b == B_STRING || b == B_ENUM || b == B_NULL;
}

/* min(a, b, ...), max(a, b, ...) of single values (element-wise on windows)
 * and coalesce(a, b, ...): the arguments share one type. */
static cp__type check_choice(checker *c, cp__node *n, int fn)
{
	cp__node **k = n->kids;
	int w;
	bool bad = false;
	for (uint32_t i = 0; i < n->nkids; i++)
		if (k[i]->type.base == B_ERR)
			bad = true;
	if (!nargs(c, n, 2, UINT32_MAX) || bad)
		return T(B_ERR, 0);
	cp__node *acc = k[0];
	int dom = k[0]->type.base;
	w = k[0]->type.n;
	for (uint32_t i = 1; i < n->nkids; i++) {
		int ww;
		if (!join_n(c, k[i], k[0]->type, k[i]->type, &ww))
			return T(B_ERR, 0);
		if (ww > w)
			w = ww;
		cp__node tmp = *acc;
		tmp.type.base = (uint8_t)dom;
		dom = unify(c, k[i], &tmp, k[i], "mix");
		if (dom == B_ERR)
			return T(B_ERR, 0);
		if (k[i]->type.base != B_NULL)
			acc = k[i];
	}
	if (fn != F_COALESCE && !is_num(dom) && dom != B_DATE && dom != B_NULL) {
		cerr(c, CP_ETYPE, n->pos, "%s() of single values needs numbers or dates; for a window write %s(w)",
		     cp__fn_names[fn], cp__fn_names[fn]);
		return T(B_ERR, 0);
	}
	if (dom == B_SET || dom == B_LIST) {
		cerr(c, CP_ETYPE, n->pos, "coalesce() of sets or lists is not supported");
		return T(B_ERR, 0);
	}
	n->dom = (uint8_t)dom;
	cp__type r = T(dom, w);
	if (dom == B_ENUM)
		for (uint32_t i = 0; i < n->nkids; i++)
			if (k[i]->type.base == B_ENUM)
				r.en = k[i]->type.en;
	return r;
}

static cp__type check_call(checker *c, cp__node *n)
{
	int fn = cp__fn_lookup(n->s);
	if (fn < 0) {
		if (cp_schema_field_index(c->rs->schema, n->s) >= 0 ||
		    cp__strmap_get(&c->rs->metric_ids, n->s) >= 0) {
			cerr(c, CP_ENOTFOUND, n->pos, "'%s' is a %s, not a function", n->s,
			     cp_schema_field_index(c->rs->schema, n->s) >= 0 ? "field" : "metric");
			return T(B_ERR, 0);
		}
		const char *near = cp__closest(n->s, cp__fn_names, F_COUNT_);
		if (near)
			cerr(c, CP_ENOTFOUND, n->pos, "unknown function '%s' (did you mean '%s'?)", n->s, near);
		else
			cerr(c, CP_ENOTFOUND, n->pos, "unknown function '%s'", n->s);
		return T(B_ERR, 0);
	}
	n->rkind = R_FUNC;
	n->ref = fn;

	/* tag('id') and stage('track') name things: their argument is a literal */
	if (fn == F_TAG || fn == F_STAGE) {
		if (!nargs(c, n, 1, 1))
			return T(B_ERR, 0);
		cp__node *a = n->kids[0];
		if (a->kind == N_PARAM)
			check(c, a);
		const cp__node *l = literal(a);
		if (!l || l->kind != N_STR) {
			/* silent only after a parameter's own error: any other node is
			 * unchecked here, and an unchecked type is B_ERR (0) too */
			if (a->kind != N_PARAM || a->type.base != B_ERR)
				cerr(c, CP_ETYPE, a->start, "%s() needs a quoted %s, e.g. %s", cp__fn_names[fn],
				     fn == F_TAG ? "tag id" : "track name",
				     fn == F_TAG ? "tag('gprs.heavy')" : "stage('subscriber')");
			return T(B_ERR, 0);
		}
		a->type = T(B_STRING, 0);
		if (fn == F_TAG) {
			int t = cp__rules_find_tag(c->rs, c->x->pack, l->s);
			if (t < 0) {
				const char *near = cp__rules_suggest_tag(c->rs, l->s);
				if (near)
					cerr(c, CP_ENOTFOUND, a->start, "unknown tag '%s' (did you mean '%s'?)", l->s, near);
				else
					cerr(c, CP_ENOTFOUND, a->start, "unknown tag '%s'", l->s);
				return T(B_ERR, 0);
			}
			n->rkind = R_TAG;
			n->ref = t;
			return T(B_BOOL, 0);
		}
		int t = cp__strmap_get(&c->rs->track_ids, l->s);
		if (t < 0) {
			const char *near = cp__rules_suggest_track(c->rs, l->s);
			if (near)
				cerr(c, CP_ENOTFOUND, a->start, "unknown track '%s' (did you mean '%s'?)", l->s, near);
			else
				cerr(c, CP_ENOTFOUND, a->start, "unknown track '%s'", l->s);
			return T(B_ERR, 0);
		}
		n->rkind = R_TRACK;
		n->ref = t;
		cp__type st = T(B_ENUM, 0);
		st.en = &cp__stage_enum;
		return st;
	}

	bool bad = false;
	for (uint32_t i = 0; i < n->nkids; i++) {
		cp__type t = check(c, n->kids[i]);
		if (t.base == B_ERR)
			bad = true;
		else if (t.base == B_LITLIST) {
			cerr(c, CP_ETYPE, n->kids[i]->start, "a list [...] can only follow 'in'");
			bad = true;
		}
	}
	cp__node **k = n->kids;
	int w = 0;
	switch (fn) {
	case F_SUM:
	case F_AVG:
	case F_SLOPE:
		if (!nargs(c, n, 1, 1) || bad || !want_window(c, n, k[0], "arpu[0..5]") ||
		    !arg_is(c, n, 0, is_num(k[0]->type.base), "numbers"))
			return T(B_ERR, 0);
		if (fn == F_SLOPE && k[0]->type.n < 2) {
			cerr(c, CP_ETYPE, k[0]->start, "slope() needs a window of at least 2 months");
			return T(B_ERR, 0);
		}
		return T(fn == F_SUM ? k[0]->type.base : B_FLOAT, 0);
	case F_MIN:
	case F_MAX:
		if (!nargs(c, n, 1, UINT32_MAX) || bad)
			return T(B_ERR, 0);
		if (n->nkids == 1) {
			if (!want_window(c, n, k[0], "arpu[0..5]") ||
			    !arg_is(c, n, 0, is_num(k[0]->type.base) || k[0]->type.base == B_DATE,
			            "numbers or dates"))
				return T(B_ERR, 0);
			return T(k[0]->type.base, 0);
		}
		return check_choice(c, n, fn);
	case F_COALESCE:
		return check_choice(c, n, fn);

	case F_COUNT:
	case F_ALL:
	case F_ANY:
	case F_NONE:
	case F_STREAK:
	case F_SINCE:
		if (!nargs(c, n, 1, 1) || bad ||
		    !want_window(c, n, k[0], "(web_sessions[0..5] > 0)") ||
		    !arg_is(c, n, 0, k[0]->type.base == B_BOOL || k[0]->type.base == B_NULL,
		            "a window of true/false values"))
			return T(B_ERR, 0);
		return T(fn == F_ALL || fn == F_ANY || fn == F_NONE ? B_BOOL : B_INT, 0);
	case F_ABS:
	case F_ROUND:
		if (!nargs(c, n, 1, 1) || bad ||
		    !arg_is(c, n, 0, is_num(k[0]->type.base) || k[0]->type.base == B_NULL, "a number"))
			return T(B_ERR, 0);
		if (fn == F_ROUND && k[0]->type.base == B_FLOAT)
			return T(B_INT, k[0]->type.n);
		return k[0]->type.base == B_NULL ? T(B_INT, k[0]->type.n) : T(k[0]->type.base, k[0]->type.n);
	case F_PRESENT:
		if (!nargs(c, n, 1, 1) || bad)
			return T(B_ERR, 0);
		return T(B_BOOL, k[0]->type.n);
	case F_IF: {
		if (!nargs(c, n, 3, 3) || bad || !want_bool(c, k[0], "the condition of if()"))
			return T(B_ERR, 0);
		int dom = unify(c, n, k[1], k[2], "mix");
		if (dom == B_ERR)
			return T(B_ERR, 0);
		if (dom == B_SET || dom == B_LIST) {
			cerr(c, CP_ETYPE, n->pos, "if() choosing between sets or lists is not supported");
			return T(B_ERR, 0);
		}
		int w1, w2;
		if (!join_n(c, n, k[0]->type, k[1]->type, &w1) ||
		    !join_n(c, n, k[0]->type, k[2]->type, &w2) ||
		    !join_n(c, n, k[1]->type, k[2]->type, &w))
			return T(B_ERR, 0);
		w = w1 > w2 ? w1 : w2;
		n->dom = (uint8_t)dom;
		cp__type r = T(dom, w);
		if (dom == B_ENUM)
			r.en = k[1]->type.base == B_ENUM ? k[1]->type.en : k[2]->type.en;
		return r;
	}
	case F_LEN:
		if (!nargs(c, n, 1, 1) || bad ||
		    !arg_is(c, n, 0, k[0]->type.base == B_SET || k[0]->type.base == B_LIST ||
		                     k[0]->type.base == B_NULL, "a set or a list"))
			return T(B_ERR, 0);
		return T(B_INT, k[0]->type.n);
	case F_HAS:
		if (!nargs(c, n, 2, 2) || bad ||
		    !arg_is(c, n, 0, k[0]->type.base == B_SET || k[0]->type.base == B_LIST ||
		                     k[0]->type.base == B_NULL, "a set or a list first") ||
		    !arg_is(c, n, 1, textual(k[1]->type.base), "a string second") ||
		    !join_n(c, n, k[0]->type, k[1]->type, &w))
			return T(B_ERR, 0);
		return T(B_BOOL, w);
	case F_STARTS_WITH:
	case F_ENDS_WITH:
	case F_CONTAINS:
		if (!nargs(c, n, 2, 2) || bad ||
		    !arg_is(c, n, 0, textual(k[0]->type.base), "strings") ||
		    !arg_is(c, n, 1, textual(k[1]->type.base), "strings") ||
		    !join_n(c, n, k[0]->type, k[1]->type, &w))
			return T(B_ERR, 0);
		return T(B_BOOL, w);
	case F_MONTHS_SINCE:
	case F_DAYS_SINCE: {
		if (!nargs(c, n, 1, 1) || bad)
			return T(B_ERR, 0);
		/* a date literal is written as a string: '2026-10-31' */
		const cp__node *l = literal(k[0]);
		if (l && l->kind == N_STR)
			return check_date_literal(c, k[0], l) ? T(B_INT, 0) : T(B_ERR, 0);
		if (!arg_is(c, n, 0, k[0]->type.base == B_DATE || k[0]->type.base == B_NULL, "a date"))
			return T(B_ERR, 0);
		return T(B_INT, k[0]->type.n);
	}
	default:
		return T(B_ERR, 0);
	}
}

static cp__type check_node(checker *c, cp__node *n)
{
	char b1[96], s1[64];
	switch (n->kind) {
	case N_INT: return T(B_INT, 0);
	case N_FLOAT: return T(B_FLOAT, 0);
	case N_STR: return T(B_STRING, 0);
	case N_BOOL: return T(B_BOOL, 0);
	case N_NULL: return T(B_NULL, 0);
	case N_NAME: return check_name(c, n);
	case N_PARAM: return check_param(c, n);
	case N_CALL: return check_call(c, n);
	case N_INDEX: return check_index(c, n);
	case N_LIST:
		cerr(c, CP_ETYPE, n->pos, "a list [...] can only follow 'in'");
		return T(B_ERR, 0);
	case N_NEG: {
		cp__type t = check(c, n->kids[0]);
		if (t.base == B_ERR || t.base == B_NULL)
			return t;
		if (!is_num(t.base)) {
			cerr(c, CP_ETYPE, n->pos, "cannot negate %s ('%s')", tdesc(t, b1, sizeof(b1)),
			     src(c, n->kids[0], s1, sizeof(s1)));
			return T(B_ERR, 0);
		}
		return t;
	}
	case N_NOT: {
		cp__type t = check(c, n->kids[0]);
		if (t.base == B_ERR || !want_bool(c, n->kids[0], "'not'"))
			return T(B_ERR, 0);
		return T(B_BOOL, t.n);
	}
	case N_AND:
	case N_OR: {
		bool ok = true;
		int w = 0;
		cp__type first = T(B_NULL, 0);
		for (uint32_t i = 0; i < n->nkids; i++) {
			cp__type t = check(c, n->kids[i]);
			if (t.base == B_ERR) {
				ok = false;
				continue;
			}
			if (!want_bool(c, n->kids[i], n->kind == N_AND ? "'and'" : "'or'")) {
				ok = false;
				continue;
			}
			int ww;
			if (!join_n_at(c, n->kids[i]->start, first, t, &ww)) {
				ok = false;
				continue;
			}
			if (t.n)
				first = t;
			w = ww > w ? ww : w;
		}
		return ok ? T(B_BOOL, w) : T(B_ERR, 0);
	}
	case N_CMP: return check_cmp(c, n);
	case N_IN:
	case N_NOTIN: return check_in(c, n);
	case N_BETWEEN: {
		cp__node *x = n->kids[0], *lo = n->kids[1], *hi = n->kids[2];
		cp__type tx = check(c, x), tl = check(c, lo), th = check(c, hi);
		if (tx.base == B_ERR || tl.base == B_ERR || th.base == B_ERR)
			return T(B_ERR, 0);
		int d1 = unify(c, n, x, lo, "compare"), d2 = d1 == B_ERR ? B_ERR : unify(c, n, x, hi, "compare");
		if (d1 == B_ERR || d2 == B_ERR)
			return T(B_ERR, 0);
		int d = d1 == B_NULL ? d2 : d1;
		lo->dom = (uint8_t)d1;
		hi->dom = (uint8_t)d2;
		if (d == B_BOOL || d == B_ENUM || d == B_SET || d == B_LIST) {
			cerr(c, CP_ETYPE, n->pos, "'between' needs ordered values (numbers, dates or strings), not %s",
			     base_name(d));
			return T(B_ERR, 0);
		}
		int w1, w2;
		if (!join_n(c, n, tx, tl, &w1) || !join_n(c, n, tx, th, &w2) ||
		    !join_n(c, n, tl, th, &w1))
			return T(B_ERR, 0);
		return T(B_BOOL, w1 > w2 ? w1 : w2);
	}
	case N_ARITH: return check_arith(c, n);
	default:
		return T(B_ERR, 0);
	}
}

static cp__type check(checker *c, cp__node *n)
{
	cp__type t = check_node(c, n);
	n->type = t;
	/* a value computed from a personal field is personal too (explain
	 * hides it, unless it is a true/false answer) */
	for (uint32_t i = 0; i < n->nkids && !n->personal; i++)
		if (n->kids[i]->personal)
			n->personal = true;
	if (n->kind == N_PARAM && n->pval)
		n->personal = false;
	return t;
}

int cp__rules_check(cp_ruleset *rs, cp__expr *x, bool want_bool_root, const char *what,
                    cp__errs *errs)
{
	if (!x->root)
		return x->failed ? CP_ESYNTAX : CP_OK;
	checker c = {rs, x, errs, false};
	cp__type t = check(&c, x->root);
	if (t.base == B_ERR || c.failed) {
		x->failed = true;
		return CP_ETYPE;
	}
	char b1[96];
	if (want_bool_root && t.base != B_BOOL && t.base != B_NULL) {
		cerr(&c, CP_ETYPE, x->root->start, "the condition of %s must be true/false, but it is %s",
		     what, tdesc(t, b1, sizeof(b1)));
		x->failed = true;
		return CP_ETYPE;
	}
	if (want_bool_root && t.n) {
		cerr(&c, CP_ETYPE, x->root->start,
		     "the condition of %s is a window of %u true/false values: wrap it in all(...), any(...) or count(...) > n",
		     what, (unsigned)t.n);
		x->failed = true;
		return CP_ETYPE;
	}
	if (t.base == B_LITLIST) {
		cerr(&c, CP_ETYPE, x->root->start, "a list [...] can only follow 'in'");
		x->failed = true;
		return CP_ETYPE;
	}
	return CP_OK;
}
