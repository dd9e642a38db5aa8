/*
 * rules_parse.c — recursive-descent parser of the grammar of DESIGN §5.1.
 *
 * Recursion is bounded: every construct that nests (parentheses, calls,
 * lists, 'not', unary minus) counts against CP_RULES_MAX_NESTING, and every
 * node's height against CP_RULES_MAX_HEIGHT, so hostile input (100,000 '(')
 * gives an error, never a stack overflow — here or in the later passes,
 * which recurse over the tree.  'and' and 'or' chains are n-ary nodes.
 * The first syntax error of an expression ends its parse.
 */
#include "rules.h"

#include <stdio.h>
#include <string.h>

typedef struct parser {
	cp__lexer lx;
	cp__token tok;     /* current token */
	uint32_t last_end; /* end of the previous token */
	int depth;
	bool failed;
	cp__errs *errs;    /* NULL: parse silently (literals of overrides) */
	cp__expr *x;
	cp__arena *a;
} parser;

static void perr(parser *p, size_t off, const char *fmt, ...) CP_PRINTF(3, 4);

static void perr(parser *p, size_t off, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	if (!p->errs)
		return;
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp__expr_error(p->errs, p->x, CP_ESYNTAX, off, "%s", msg);
}

static void advance(parser *p)
{
	p->last_end = p->tok.off + p->tok.len;
	cp__lex_next(&p->lx, &p->tok);
	if (p->tok.kind == TK_ERROR)
		p->failed = true; /* already reported */
}

static const char *describe(parser *p, char *buf, size_t size)
{
	return cp__tok_describe(&p->lx, &p->tok, buf, size);
}

static cp__node *mknode(parser *p, int kind, uint32_t pos, uint32_t start, uint32_t end,
                        cp__node **kids, uint32_t nkids)
{
	cp__node *n = cp__arena_alloc(p->a, sizeof(*n));
	if (!n) {
		perr(p, pos, "out of memory");
		return NULL;
	}
	n->kind = (uint8_t)kind;
	n->pos = pos;
	n->start = start;
	n->end = end;
	n->slot = CP_NO_SLOT;
	unsigned h = 0;
	if (nkids) {
		n->kids = cp__arena_alloc(p->a, nkids * sizeof(*kids));
		if (!n->kids) {
			perr(p, pos, "out of memory");
			return NULL;
		}
		memcpy(n->kids, kids, nkids * sizeof(*kids));
		n->nkids = nkids;
		for (uint32_t i = 0; i < nkids; i++)
			if (kids[i]->height > h)
				h = kids[i]->height;
	}
	if (h + 1 > CP_RULES_MAX_HEIGHT) {
		perr(p, pos, "expression is too deeply nested (more than %d levels)",
		     CP_RULES_MAX_HEIGHT);
		return NULL;
	}
	n->height = (uint16_t)(h + 1);
	return n;
}

/* A growable list of nodes (freed by the caller after mknode copies it). */
typedef struct nodevec {
	cp__node **v;
	uint32_t n, cap;
} nodevec;

static bool vec_push(parser *p, nodevec *vec, cp__node *n)
{
	if (vec->n == CP_RULES_MAX_ITEMS) {
		perr(p, n->pos, "more than %d items in one list, call or chain",
		     CP_RULES_MAX_ITEMS);
		return false;
	}
	if (vec->n == vec->cap) {
		uint32_t cap = vec->cap ? vec->cap * 2 : 8;
		cp__node **v = cp__reallocarray(vec->v, cap, sizeof(*v));
		if (!v) {
			perr(p, n->pos, "out of memory");
			return false;
		}
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = n;
	return true;
}

static bool enter(parser *p)
{
	if (++p->depth > CP_RULES_MAX_NESTING) {
		perr(p, p->tok.off, "expression is nested more than %d levels deep",
		     CP_RULES_MAX_NESTING);
		return false;
	}
	return true;
}

static cp__node *parse_or(parser *p);

static bool is_cmpop(int kind)
{
	return kind >= TK_EQ && kind <= TK_GE;
}

/* If the current token is an upper-case keyword, the hint for it. */
static const char *keyword_hint(parser *p)
{
	static const char *const words[] = {"and", "or", "not", "in", "between",
	                                    "true", "false", "null"};
	if (p->tok.kind != TK_IDENT)
		return NULL;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		const char *w = words[i];
		if (strlen(w) != p->tok.slen || strcmp(w, p->tok.s) == 0)
			continue;
		size_t k;
		for (k = 0; w[k] && (p->tok.s[k] | 0x20) == w[k]; k++)
			;
		if (!w[k])
			return w;
	}
	return NULL;
}

static bool expect(parser *p, int kind, const char *what, uint32_t open_off)
{
	if (p->tok.kind == kind) {
		advance(p);
		return true;
	}
	if (p->failed)
		return false;
	char buf[128];
	if (open_off != UINT32_MAX) {
		unsigned line, col;
		cp__where_pos(&p->x->where, p->x->text, open_off, &line, &col);
		perr(p, p->tok.off, "expected %s to close the '%c' at line %u, column %u, found %s",
		     what, p->x->text[open_off], line, col, describe(p, buf, sizeof(buf)));
	} else {
		perr(p, p->tok.off, "expected %s, found %s", what, describe(p, buf, sizeof(buf)));
	}
	return false;
}

static cp__node *parse_list(parser *p)
{
	uint32_t open = p->tok.off;
	advance(p);
	nodevec vec = {0};
	cp__node *n = NULL;
	while (!p->failed && p->tok.kind != TK_RBRACK) {
		cp__node *e = parse_or(p);
		if (!e || !vec_push(p, &vec, e))
			goto out;
		if (p->tok.kind == TK_COMMA)
			advance(p);
		else if (p->tok.kind != TK_RBRACK) {
			expect(p, TK_RBRACK, "',' or ']'", open);
			goto out;
		}
	}
	if (p->failed)
		goto out;
	advance(p);
	n = mknode(p, N_LIST, open, open, p->last_end, vec.v, vec.n);
out:
	cp__free(vec.v);
	return p->failed ? NULL : n;
}

static cp__node *parse_call(parser *p, const cp__token *name)
{
	uint32_t open = p->tok.off;
	advance(p); /* '(' */
	nodevec vec = {0};
	cp__node *n = NULL;
	while (!p->failed && p->tok.kind != TK_RPAREN) {
		cp__node *e = parse_or(p);
		if (!e || !vec_push(p, &vec, e))
			goto out;
		if (p->tok.kind == TK_COMMA) {
			advance(p);
			if (p->tok.kind == TK_RPAREN) {
				perr(p, p->tok.off, "expected an argument after ','");
				goto out;
			}
		} else if (p->tok.kind != TK_RPAREN) {
			expect(p, TK_RPAREN, "',' or ')'", open);
			goto out;
		}
	}
	if (p->failed)
		goto out;
	advance(p);
	n = mknode(p, N_CALL, name->off, name->off, p->last_end, vec.v, vec.n);
	if (n) {
		n->s = name->s;
		n->slen = name->slen;
	}
out:
	cp__free(vec.v);
	return p->failed ? NULL : n;
}

static cp__node *parse_primary(parser *p)
{
	cp__token t = p->tok;
	cp__node *n;
	char buf[128];
	switch (t.kind) {
	case TK_INT:
		if (t.int_overflow) {
			perr(p, t.off, "integer %.*s is out of range (at most 9223372036854775807)",
			     (int)t.len, p->x->text + t.off);
			return NULL;
		}
		advance(p);
		n = mknode(p, N_INT, t.off, t.off, t.off + t.len, NULL, 0);
		if (n)
			n->i = t.i;
		return n;
	case TK_FLOAT:
		advance(p);
		n = mknode(p, N_FLOAT, t.off, t.off, t.off + t.len, NULL, 0);
		if (n)
			n->f = t.f;
		return n;
	case TK_STRING:
		advance(p);
		n = mknode(p, N_STR, t.off, t.off, t.off + t.len, NULL, 0);
		if (n) {
			n->s = t.s;
			n->slen = t.slen;
		}
		return n;
	case TK_TRUE:
	case TK_FALSE:
		advance(p);
		n = mknode(p, N_BOOL, t.off, t.off, t.off + t.len, NULL, 0);
		if (n)
			n->i = t.kind == TK_TRUE;
		return n;
	case TK_NULL:
		advance(p);
		return mknode(p, N_NULL, t.off, t.off, t.off + t.len, NULL, 0);
	case TK_IDENT:
		advance(p);
		if (p->tok.kind == TK_LPAREN) {
			if (!enter(p))
				return NULL;
			n = parse_call(p, &t);
			p->depth--;
			return n;
		}
		n = mknode(p, N_NAME, t.off, t.off, t.off + t.len, NULL, 0);
		if (n) {
			n->s = t.s;
			n->slen = t.slen;
		}
		return n;
	case TK_PARAM:
		advance(p);
		n = mknode(p, N_PARAM, t.off, t.off, t.off + t.len, NULL, 0);
		if (n) {
			n->s = t.s;
			n->slen = t.slen;
		}
		return n;
	case TK_LBRACK:
		if (!enter(p))
			return NULL;
		n = parse_list(p);
		p->depth--;
		return n;
	case TK_LPAREN:
		advance(p);
		n = parse_or(p);
		if (!n || !expect(p, TK_RPAREN, "')'", t.off))
			return NULL;
		return n;
	case TK_ERROR:
		return NULL;
	case TK_EOF:
		if (p->last_end == 0)
			perr(p, t.off, "empty expression");
		else
			perr(p, t.off, "expected a value, found end of expression");
		return NULL;
	default:
		perr(p, t.off, "expected a value, found %s", describe(p, buf, sizeof(buf)));
		return NULL;
	}
}

static bool parse_index(parser *p, int64_t *v)
{
	char buf[128];
	if (p->tok.kind == TK_MINUS) {
		perr(p, p->tok.off, "a month index is 0 (this month) or more");
		return false;
	}
	if (p->tok.kind != TK_INT || p->tok.int_overflow) {
		if (!p->failed)
			perr(p, p->tok.off, "expected a month index (an integer), found %s",
			     describe(p, buf, sizeof(buf)));
		return false;
	}
	*v = p->tok.i;
	advance(p);
	return true;
}

static cp__node *parse_postfix(parser *p)
{
	cp__node *base = parse_primary(p);
	if (!base || p->tok.kind != TK_LBRACK)
		return base;
	uint32_t open = p->tok.off;
	advance(p);
	int64_t lo, hi;
	bool single = true;
	uint32_t lo_off = p->tok.off, hi_off = p->tok.off;
	if (!parse_index(p, &lo))
		return NULL;
	hi = lo;
	if (p->tok.kind == TK_DOTDOT) {
		advance(p);
		single = false;
		hi_off = p->tok.off;
		if (!parse_index(p, &hi))
			return NULL;
	}
	if (!expect(p, TK_RBRACK, "']'", open))
		return NULL;
	cp__node *n = mknode(p, N_INDEX, open, base->start, p->last_end, &base, 1);
	if (n) {
		n->i = lo;
		n->hi = hi;
		n->single = single;
		n->ipos[0] = lo_off;
		n->ipos[1] = hi_off;
	}
	return n;
}

static cp__node *parse_unary(parser *p)
{
	if (p->tok.kind != TK_MINUS)
		return parse_postfix(p);
	cp__token minus = p->tok;
	if (!enter(p))
		return NULL;
	advance(p);
	cp__node *n;
	/* a negative number literal is a literal (so -9223372036854775808 is one) */
	if (p->tok.kind == TK_INT || p->tok.kind == TK_FLOAT) {
		cp__token t = p->tok;
		advance(p);
		if (p->tok.kind == TK_LBRACK) {
			perr(p, p->tok.off, "a number has no months: '[' cannot follow it");
			return NULL;
		}
		n = mknode(p, t.kind == TK_INT ? N_INT : N_FLOAT, minus.off, minus.off,
		           t.off + t.len, NULL, 0);
		if (n) {
			if (t.kind == TK_INT)
				n->i = t.int_overflow ? INT64_MIN : -t.i;
			else
				n->f = -t.f;
		}
	} else {
		cp__node *k = parse_unary(p);
		n = k ? mknode(p, N_NEG, minus.off, minus.off, k->end, &k, 1) : NULL;
	}
	p->depth--;
	return n;
}

static cp__node *parse_prod(parser *p)
{
	cp__node *l = parse_unary(p);
	while (l && (p->tok.kind == TK_STAR || p->tok.kind == TK_SLASH ||
	             p->tok.kind == TK_PERCENT)) {
		cp__token op = p->tok;
		advance(p);
		cp__node *r = parse_unary(p);
		if (!r)
			return NULL;
		cp__node *kids[2] = {l, r};
		l = mknode(p, N_ARITH, op.off, l->start, r->end, kids, 2);
		if (l)
			l->op = (uint8_t)p->x->text[op.off];
	}
	return l;
}

static cp__node *parse_sum(parser *p)
{
	cp__node *l = parse_prod(p);
	while (l && (p->tok.kind == TK_PLUS || p->tok.kind == TK_MINUS)) {
		cp__token op = p->tok;
		advance(p);
		cp__node *r = parse_prod(p);
		if (!r)
			return NULL;
		cp__node *kids[2] = {l, r};
		l = mknode(p, N_ARITH, op.off, l->start, r->end, kids, 2);
		if (l)
			l->op = (uint8_t)p->x->text[op.off];
	}
	return l;
}

static cp__node *parse_cmp(parser *p)
{
	cp__node *l = parse_sum(p);
	if (!l)
		return NULL;
	cp__token op = p->tok;
	cp__node *n = l;
	if (is_cmpop(op.kind)) {
		advance(p);
		cp__node *r = parse_sum(p);
		if (!r)
			return NULL;
		cp__node *kids[2] = {l, r};
		n = mknode(p, N_CMP, op.off, l->start, r->end, kids, 2);
		if (n)
			n->op = (uint8_t)(op.kind - TK_EQ);
	} else if (op.kind == TK_IN || op.kind == TK_NOT) {
		bool negated = op.kind == TK_NOT;
		advance(p);
		if (negated && p->tok.kind != TK_IN) {
			if (p->tok.kind == TK_BETWEEN)
				perr(p, op.off, "'not between' is not supported: write 'not (x between a and b)'");
			else if (!p->failed)
				perr(p, op.off, "unexpected 'not' after a value (did you mean 'not in'?)");
			return NULL;
		}
		if (negated)
			advance(p);
		cp__node *r = parse_sum(p);
		if (!r)
			return NULL;
		cp__node *kids[2] = {l, r};
		n = mknode(p, negated ? N_NOTIN : N_IN, op.off, l->start, r->end, kids, 2);
	} else if (op.kind == TK_BETWEEN) {
		advance(p);
		cp__node *lo = parse_sum(p);
		if (!lo)
			return NULL;
		if (p->tok.kind != TK_AND) {
			char buf[128];
			if (!p->failed)
				perr(p, p->tok.off, "expected 'and' of 'between ... and ...', found %s",
				     describe(p, buf, sizeof(buf)));
			return NULL;
		}
		advance(p);
		cp__node *hi = parse_sum(p);
		if (!hi)
			return NULL;
		cp__node *kids[3] = {l, lo, hi};
		n = mknode(p, N_BETWEEN, op.off, l->start, hi->end, kids, 3);
	}
	if (n && n != l && is_cmpop(p->tok.kind)) {
		perr(p, p->tok.off, "comparisons do not chain: write 'a < b and b < c'");
		return NULL;
	}
	return n;
}

static cp__node *parse_not(parser *p)
{
	if (p->tok.kind != TK_NOT)
		return parse_cmp(p);
	cp__token op = p->tok;
	if (!enter(p))
		return NULL;
	advance(p);
	cp__node *k = parse_not(p);
	cp__node *n = k ? mknode(p, N_NOT, op.off, op.off, k->end, &k, 1) : NULL;
	p->depth--;
	return n;
}

/* and/or: n-ary nodes */
static cp__node *parse_chain(parser *p, int tk, int kind)
{
	cp__node *first = tk == TK_AND ? parse_not(p) : parse_chain(p, TK_AND, N_AND);
	if (!first || p->tok.kind != tk)
		return first;
	uint32_t pos = p->tok.off;
	nodevec vec = {0};
	cp__node *n = NULL;
	if (!vec_push(p, &vec, first))
		goto out;
	while (p->tok.kind == tk) {
		advance(p);
		cp__node *k = tk == TK_AND ? parse_not(p) : parse_chain(p, TK_AND, N_AND);
		if (!k || !vec_push(p, &vec, k))
			goto out;
	}
	n = mknode(p, kind, pos, first->start, vec.v[vec.n - 1]->end, vec.v, vec.n);
out:
	cp__free(vec.v);
	return p->failed ? NULL : n;
}

static cp__node *parse_or(parser *p)
{
	if (!enter(p))
		return NULL;
	cp__node *n = parse_chain(p, TK_OR, N_OR);
	p->depth--;
	return p->failed ? NULL : n;
}

static void parser_init(parser *p, cp__arena *a, cp__expr *x, cp__errs *errs)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->x = x;
	p->errs = errs;
	p->lx.text = x->text;
	p->lx.len = x->len;
	p->lx.arena = a;
	p->lx.errs = errs;
	p->lx.expr = x;
	cp__lex_next(&p->lx, &p->tok);
	if (p->tok.kind == TK_ERROR)
		p->failed = true;
}

static cp__node *parse_top(parser *p)
{
	cp__node *n = parse_or(p);
	if (!n || p->failed)
		return NULL;
	if (p->tok.kind != TK_EOF) {
		char buf[128];
		const char *kw = keyword_hint(p);
		if (kw)
			perr(p, p->tok.off, "keywords are lower case: write '%s'", kw);
		else if (p->tok.kind == TK_RPAREN)
			perr(p, p->tok.off, "unbalanced ')': there is no '(' to close");
		else if (p->tok.kind == TK_RBRACK)
			perr(p, p->tok.off, "unbalanced ']': there is no '[' to close");
		else if (p->tok.kind == TK_LBRACK)
			perr(p, p->tok.off, "'[' cannot follow this: only a field, a metric or (...) take [i] or [i..j], once");
		else
			perr(p, p->tok.off, "expected an operator or the end of the expression, found %s",
			     describe(p, buf, sizeof(buf)));
		return NULL;
	}
	return n;
}

int cp__rules_parse(cp__arena *a, cp__expr *x, cp__errs *errs)
{
	x->root = NULL;
	if (x->len > CP_RULES_MAX_EXPR) {
		cp__expr_error(errs, x, CP_ELIMIT, 0, "expression is %u bytes long; the limit is %d",
		               x->len, CP_RULES_MAX_EXPR);
		x->failed = true;
		return CP_ELIMIT;
	}
	if (memchr(x->text, '\0', x->len)) {
		cp__expr_error(errs, x, CP_ESYNTAX, (size_t)(strchr(x->text, '\0') - x->text),
		               "NUL byte in expression");
		x->failed = true;
		return CP_ESYNTAX;
	}
	parser p;
	parser_init(&p, a, x, errs);
	x->root = parse_top(&p);
	if (!x->root) {
		x->failed = true;
		if (!p.failed) /* defensive: never fail silently */
			cp__expr_error(errs, x, CP_ESYNTAX, 0, "syntax error");
		return CP_ESYNTAX;
	}
	return CP_OK;
}

static bool is_literal(const cp__node *n)
{
	switch (n->kind) {
	case N_INT:
	case N_FLOAT:
	case N_STR:
	case N_BOOL:
	case N_NULL:
		return true;
	case N_LIST:
		for (uint32_t i = 0; i < n->nkids; i++)
			if (n->kids[i]->kind == N_LIST || !is_literal(n->kids[i]))
				return false;
		return true;
	default:
		return false;
	}
}

cp__node *cp__rules_parse_literal(cp__arena *a, const char *text, size_t len)
{
	if (len > CP_RULES_MAX_EXPR)
		return NULL;
	cp__expr *x = cp__arena_alloc(a, sizeof(*x));
	if (!x)
		return NULL;
	x->text = cp__arena_strndup(a, text, len);
	if (!x->text || memchr(text, '\0', len))
		return NULL;
	x->len = (uint32_t)len;
	parser p;
	parser_init(&p, a, x, NULL);
	cp__node *n = parse_top(&p);
	return n && is_literal(n) ? n : NULL;
}
