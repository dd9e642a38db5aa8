/*
 * rules_compile.c — checked syntax trees -> one flat program.
 *
 * The program is an array of typed instructions over value slots (cp__slot):
 * each instruction reads its operands' slots and writes its own.  A window
 * is n adjacent slots; an operand's stride is 1 for a window and 0 for a
 * single value, so one instruction does scalar, window-with-scalar and
 * window-with-window work alike.  Every node keeps its slot, so after one
 * run every sub-expression's value is there for explain.
 *
 * Three things keep the program small:
 *  - constants (literals, parameters) live in slots set once when a
 *    cp_result is made; they are interned, so equal constants share a slot;
 *  - constant folding: an instruction whose operands are all constant is run
 *    at compile time (with the evaluator's own code) and becomes a constant;
 *  - common subexpressions: an instruction equal to an earlier one (same
 *    operation, operands and immediate) is not emitted again; its slot is
 *    reused.  The program has no jumps, so any earlier result is valid.
 */
#include "rules.h"

#include <math.h>
#include <string.h>

/* ---- slots and constants ---- */

static uint32_t alloc_slots(cp__compiler *c, uint32_t n)
{
	cp__prog *p = c->prog;
	if (c->failed)
		return CP_NO_SLOT;
	if (n > CP_RULES_MAX_SLOTS - p->nslots) {
		c->failed = CP_ELIMIT;
		return CP_NO_SLOT;
	}
	if (p->nslots + n > p->cap_slots) {
		uint32_t cap = p->cap_slots ? p->cap_slots : 256;
		while (cap < p->nslots + n)
			cap *= 2;
		cp__slot *init = cp__reallocarray(p->init, cap, sizeof(*init));
		if (!init) {
			c->failed = CP_ENOMEM;
			return CP_NO_SLOT;
		}
		p->init = init;
		uint8_t *isc = cp__realloc(p->is_const, cap);
		if (!isc) {
			c->failed = CP_ENOMEM;
			return CP_NO_SLOT;
		}
		p->is_const = isc;
		p->cap_slots = cap;
	}
	uint32_t s = p->nslots;
	for (uint32_t i = 0; i < n; i++) {
		memset(&p->init[s + i], 0, sizeof(cp__slot));
		p->init[s + i].null = 1;
		p->is_const[s + i] = 0;
	}
	p->nslots += n;
	return s;
}

/* Constants are interned in the CSE table as pseudo-instructions. */
enum { K_INT = OP_COUNT_ + 1, K_FLOAT, K_STR, K_NULL };

static uint32_t hash_insn(const cp__insn *in, const char *str)
{
	uint32_t h = cp__hash(&in->op, sizeof(in->op));
	uint32_t v[8] = {in->sa | (uint32_t)in->sb << 8 | (uint32_t)in->sc << 16 |
	                     (uint32_t)in->flags << 24,
	                 in->n, in->a, in->b, in->c, 0, 0, 0};
	memcpy(&v[5], &in->imm, sizeof(in->imm));
	h ^= cp__hash(v, sizeof(v));
	if (str)
		h ^= cp__hash(str, strlen(str)) * 31u;
	return h;
}

static bool same_insn(const cp__insn *x, const cp__insn *y)
{
	if (x->op != y->op || x->sa != y->sa || x->sb != y->sb || x->sc != y->sc ||
	    x->flags != y->flags || x->n != y->n || x->a != y->a || x->b != y->b || x->c != y->c)
		return false;
	if (x->op == K_STR)
		return strcmp(x->imm.p, y->imm.p) == 0;
	return memcmp(&x->imm, &y->imm, sizeof(x->imm)) == 0;
}

struct cse_table {
	cp__insn *ins;   /* entries (dst = the result slot) */
	uint32_t n, cap;
	uint32_t *slots; /* hash -> entry + 1 */
	uint32_t mask;
};
typedef struct cse_table cse_table;

static cse_table *table(cp__compiler *c)
{
	return c->cse;
}

static const cp__insn *cse_find(cp__compiler *c, const cp__insn *in, uint32_t h)
{
	cse_table *t = table(c);
	if (!t->mask)
		return NULL;
	for (uint32_t i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
		const cp__insn *e = &t->ins[t->slots[i] - 1];
		if (same_insn(e, in))
			return e;
	}
	return NULL;
}

static void cse_add(cp__compiler *c, const cp__insn *in, uint32_t h)
{
	cse_table *t = table(c);
	if (c->failed)
		return;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 256;
		cp__insn *ins = cp__reallocarray(t->ins, cap, sizeof(*ins));
		if (!ins) {
			c->failed = CP_ENOMEM;
			return;
		}
		t->ins = ins;
		t->cap = cap;
	}
	if ((t->n + 1) * 2 > (t->mask ? t->mask + 1 : 0)) {
		uint32_t size = t->mask ? (t->mask + 1) * 2 : 512;
		uint32_t *slots = cp__calloc(size, sizeof(*slots));
		if (!slots) {
			c->failed = CP_ENOMEM;
			return;
		}
		for (uint32_t k = 0; k < t->n; k++) {
			const cp__insn *e = &t->ins[k];
			uint32_t j = hash_insn(e, e->op == K_STR ? e->imm.p : NULL) & (size - 1);
			while (slots[j])
				j = (j + 1) & (size - 1);
			slots[j] = k + 1;
		}
		cp__free(t->slots);
		t->slots = slots;
		t->mask = size - 1;
	}
	t->ins[t->n] = *in;
	uint32_t j = h & t->mask;
	while (t->slots[j])
		j = (j + 1) & t->mask;
	t->slots[j] = ++t->n;
}

static uint32_t konst(cp__compiler *c, int kind, int64_t i, double f, const char *s)
{
	cp__insn k;
	memset(&k, 0, sizeof(k));
	k.op = (uint16_t)kind;
	if (kind == K_INT)
		k.imm.i = i;
	else if (kind == K_FLOAT)
		k.imm.f = f;
	else if (kind == K_STR)
		k.imm.p = s;
	uint32_t h = hash_insn(&k, kind == K_STR ? s : NULL);
	const cp__insn *e = cse_find(c, &k, h);
	if (e)
		return e->dst;
	uint32_t slot = alloc_slots(c, 1);
	if (slot == CP_NO_SLOT)
		return slot;
	cp__slot *v = &c->prog->init[slot];
	v->null = kind == K_NULL;
	if (kind == K_INT)
		v->v.i = i;
	else if (kind == K_FLOAT)
		v->v.f = f;
	else if (kind == K_STR)
		v->v.s = s;
	c->prog->is_const[slot] = 1;
	k.dst = slot;
	cse_add(c, &k, h);
	return slot;
}

static uint32_t const_int(cp__compiler *c, int64_t v)
{
	return konst(c, K_INT, v, 0, NULL);
}

static uint32_t const_float(cp__compiler *c, double v)
{
	if (!isfinite(v))
		return konst(c, K_NULL, 0, 0, NULL);
	return konst(c, K_FLOAT, 0, v, NULL);
}

static uint32_t const_null(cp__compiler *c)
{
	return konst(c, K_NULL, 0, 0, NULL);
}

bool cp__compiler_const(const cp__compiler *c, uint32_t slot, const cp__slot **val)
{
	if (slot == CP_NO_SLOT || slot >= c->prog->nslots || !c->prog->is_const[slot])
		return false;
	if (val)
		*val = &c->prog->init[slot];
	return true;
}

/* ---- instructions ---- */

static bool range_const(const cp__compiler *c, uint32_t s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (!c->prog->is_const[s + i])
			return false;
	return true;
}

static bool is_pure(int op)
{
	switch (op) {
	case OP_LOAD_I64:
	case OP_LOAD_F64:
	case OP_LOAD_BOOL:
	case OP_LOAD_DATE:
	case OP_LOAD_ENUM:
	case OP_LOAD_STR:
	case OP_LOAD_ITEMS:
	case OP_MONTHS_SINCE:
	case OP_DAYS_SINCE:
	case OP_FIRST:
	case OP_TRACK:
		return false;
	default:
		return true;
	}
}

/* Operand counts: how many of a, b, c an operation reads. */
static int operands(int op)
{
	switch (op) {
	case OP_IF:
		return 3;
	case OP_I2F: case OP_M2F: case OP_I2M: case OP_E2S: case OP_NEG_I: case OP_NEG_F:
	case OP_NOT: case OP_IN_I: case OP_IN_S:
	case OP_SUM_I: case OP_SUM_F: case OP_AVG_I: case OP_AVG_F: case OP_AVG_M:
	case OP_MIN_I: case OP_MIN_F: case OP_MAX_I: case OP_MAX_F:
	case OP_COUNT: case OP_ALL: case OP_ANY: case OP_NONE: case OP_STREAK: case OP_SINCE:
	case OP_SLOPE_I: case OP_SLOPE_F: case OP_SLOPE_M:
	case OP_ABS_I: case OP_ABS_F: case OP_ROUND_F: case OP_ROUND_M:
	case OP_PRESENT: case OP_LEN: case OP_MONTHS_SINCE: case OP_DAYS_SINCE: case OP_TRUTH:
		return 1;
	default:
		return 2;
	}
}

/* Aggregates read a whole window and give one value. */
static bool is_aggregate(int op)
{
	switch (op) {
	case OP_SUM_I: case OP_SUM_F: case OP_AVG_I: case OP_AVG_F: case OP_AVG_M:
	case OP_MIN_I: case OP_MIN_F: case OP_MAX_I: case OP_MAX_F:
	case OP_COUNT: case OP_ALL: case OP_ANY: case OP_NONE: case OP_STREAK: case OP_SINCE:
	case OP_SLOPE_I: case OP_SLOPE_F: case OP_SLOPE_M:
		return true;
	default:
		return false;
	}
}

/*
 * Emit (or reuse, or fold) an instruction; returns its first result slot.
 * in->dst is ignored; ndst is the number of result slots.
 */
static uint32_t emit(cp__compiler *c, cp__insn in, uint32_t ndst)
{
	if (c->failed)
		return CP_NO_SLOT;
	in.dst = 0;
	uint32_t h = hash_insn(&in, NULL);
	const cp__insn *e = cse_find(c, &in, h);
	if (e)
		return e->dst;
	uint32_t dst = alloc_slots(c, ndst);
	if (dst == CP_NO_SLOT)
		return dst;
	in.dst = dst;
	int nops = operands(in.op);
	bool fold = is_pure(in.op);
	uint32_t srcs[3] = {in.a, in.b, in.c};
	uint8_t strides[3] = {in.sa, in.sb, in.sc};
	for (int k = 0; k < nops && fold; k++) {
		uint32_t len = is_aggregate(in.op) || strides[k] ? in.n : 1;
		fold = range_const(c, srcs[k], len);
	}
	if (fold) {
		cp__ectx none;
		memset(&none, 0, sizeof(none));
		cp__exec_one(&in, c->prog->init, &none);
		for (uint32_t i = 0; i < ndst; i++)
			c->prog->is_const[dst + i] = 1;
	} else {
		cp__prog *p = c->prog;
		if (p->ncode == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 256;
			cp__insn *code = cp__reallocarray(p->code, cap, sizeof(*code));
			if (!code) {
				c->failed = CP_ENOMEM;
				return CP_NO_SLOT;
			}
			p->code = code;
			p->cap = cap;
		}
		p->code[p->ncode++] = in;
	}
	cse_add(c, &in, h);
	return dst;
}

static uint32_t elems(cp__type t)
{
	return t.n ? t.n : 1;
}

static uint8_t stride(cp__type t)
{
	return t.n ? 1 : 0;
}

static cp__insn I(int op, uint32_t n)
{
	cp__insn in;
	memset(&in, 0, sizeof(in));
	in.op = (uint16_t)op;
	in.n = n;
	in.a = in.b = in.c = 0;
	return in;
}

static uint32_t op1(cp__compiler *c, int op, uint32_t a, cp__type ta)
{
	cp__insn in = I(op, elems(ta));
	in.a = a;
	in.sa = stride(ta);
	return emit(c, in, is_aggregate(op) ? 1 : elems(ta));
}

static uint32_t op2(cp__compiler *c, int op, uint32_t a, cp__type ta, uint32_t b, cp__type tb)
{
	uint32_t n = elems(ta) > elems(tb) ? elems(ta) : elems(tb);
	if (ta.n || tb.n)
		n = ta.n > tb.n ? ta.n : tb.n;
	cp__insn in = I(op, n);
	in.a = a;
	in.sa = stride(ta);
	in.b = b;
	in.sb = stride(tb);
	return emit(c, in, n);
}

/* ---- conversions ---- */

static cp__type with_base(cp__type t, int base)
{
	t.base = (uint8_t)base;
	return t;
}

/* Convert the value at slot (type t) to base `to`. */
static uint32_t conv(cp__compiler *c, uint32_t slot, cp__type t, int to, const cp__enumdef *en)
{
	if (slot == CP_NO_SLOT || t.base == to || t.base == B_NULL || to == B_NULL)
		return slot;
	const cp__slot *k;
	bool is_k = cp__compiler_const(c, slot, &k);
	switch (to) {
	case B_FLOAT:
		if (t.base == B_INT)
			return op1(c, OP_I2F, slot, t);
		if (t.base == B_MONEY)
			return op1(c, OP_M2F, slot, t);
		break;
	case B_MONEY:
		if (t.base == B_INT)
			return op1(c, OP_I2M, slot, t);
		if (t.base == B_FLOAT && is_k) /* a literal exact to the fen (checked) */
			return k->null ? slot : const_int(c, (int64_t)llround(k->v.f * 100.0));
		break;
	case B_STRING:
		if (t.base == B_ENUM) {
			cp__insn in = I(OP_E2S, elems(t));
			in.a = slot;
			in.sa = stride(t);
			in.imm.p = t.en->values;
			in.c = (uint32_t)t.en->nvalues;
			return emit(c, in, elems(t));
		}
		break;
	case B_ENUM:
		if (t.base == B_STRING && is_k) {
			if (k->null)
				return slot;
			for (int i = 0; i < en->nvalues; i++)
				if (strcmp(en->values[i], k->v.s) == 0)
					return const_int(c, i);
		}
		break;
	case B_DATE:
		if (t.base == B_STRING && is_k) {
			cp_date d;
			const char *why;
			if (k->null)
				return slot;
			if (cp__parse_date(k->v.s, strlen(k->v.s), &d, &why) == CP_OK)
				return const_int(c, d);
		}
		break;
	default:
		break;
	}
	/* the checker allows no other conversion */
	c->failed = CP_ERROR;
	return CP_NO_SLOT;
}

/* Repeat a single constant into n slots (a constant window). */
static uint32_t const_fill(cp__compiler *c, uint32_t slot, uint32_t n)
{
	if (slot == CP_NO_SLOT || n <= 1)
		return slot;
	uint32_t d = alloc_slots(c, n);
	if (d == CP_NO_SLOT)
		return d;
	for (uint32_t i = 0; i < n; i++) {
		c->prog->init[d + i] = c->prog->init[slot];
		c->prog->is_const[d + i] = 1;
	}
	return d;
}

/* ---- expressions ---- */

static uint32_t compile(cp__compiler *c, cp__node *n);

static int load_op(const cp_field *f)
{
	switch (f->type) {
	case CP_TYPE_INT:
	case CP_TYPE_MONEY:
		return OP_LOAD_I64;
	case CP_TYPE_FLOAT:
		return OP_LOAD_F64;
	case CP_TYPE_BOOL:
		return OP_LOAD_BOOL;
	case CP_TYPE_DATE:
		return OP_LOAD_DATE;
	case CP_TYPE_ENUM:
		return f->closed ? OP_LOAD_ENUM : OP_LOAD_STR;
	case CP_TYPE_STRING:
		return OP_LOAD_STR;
	default:
		return OP_LOAD_ITEMS;
	}
}

static uint32_t load(cp__compiler *c, int field, int64_t lo, uint32_t n)
{
	const cp_field *f = &c->rs->schema->fields[field];
	cp__insn in = I(load_op(f), n);
	in.a = f->cell + (uint32_t)lo;
	in.b = f->offset + (uint32_t)lo * f->width;
	in.c = f->width;
	return emit(c, in, n);
}

/* the compare class of a base: integers (and what is stored as one), floats, strings */
static int cmp_op(int dom, int op)
{
	switch (dom) {
	case B_FLOAT:
		return OP_EQ_F + op;
	case B_STRING:
		return OP_EQ_S + op;
	default:
		return OP_EQ_I + op;
	}
}

static const cp__enumdef *enum_of(const cp__node *a, const cp__node *b)
{
	if (a->type.base == B_ENUM)
		return a->type.en;
	if (b && b->type.base == B_ENUM)
		return b->type.en;
	return NULL;
}

/* Compare a and b (compiled) in domain dom. */
static uint32_t compare(cp__compiler *c, int op, int dom, cp__node *a, uint32_t sa,
                        cp__node *b, uint32_t sb)
{
	if (dom == B_NULL)
		return const_null(c);
	const cp__enumdef *en = enum_of(a, b);
	sa = conv(c, sa, a->type, dom, en);
	sb = conv(c, sb, b->type, dom, en);
	return op2(c, cmp_op(dom, op), sa, with_base(a->type, dom), sb, with_base(b->type, dom));
}

static uint32_t compile_in_list(cp__compiler *c, cp__node *n, cp__node *x, uint32_t sx,
                                const cp__node *lst)
{
	uint32_t count = lst->nkids;
	if (count == 0)
		return const_fill(c, const_int(c, 0), elems(n->type));
	/* every element constant: one instruction scanning a constant array */
	int dom = lst->kids[0]->dom;
	bool all_const = true, has_null = false;
	uint32_t *ks = cp__calloc(count, sizeof(*ks));
	if (!ks) {
		c->failed = CP_ENOMEM;
		return CP_NO_SLOT;
	}
	for (uint32_t i = 0; i < count; i++) {
		cp__node *e = lst->kids[i];
		uint32_t se = compile(c, e);
		if (e->type.base == B_NULL) {
			has_null = true;
			ks[i] = CP_NO_SLOT;
			continue;
		}
		if (e->dom != dom)
			all_const = false;
		ks[i] = conv(c, se, e->type, e->dom, enum_of(x, e));
		if (!cp__compiler_const(c, ks[i], NULL))
			all_const = false;
	}
	uint32_t r = CP_NO_SLOT;
	if (all_const && dom != B_FLOAT && dom != B_NULL && !c->failed) {
		int isstr = dom == B_STRING;
		void *arr = cp__arena_alloc(&c->rs->arena, count * (isstr ? sizeof(char *) : sizeof(int64_t)));
		if (!arr) {
			c->failed = CP_ENOMEM;
			cp__free(ks);
			return CP_NO_SLOT;
		}
		uint32_t m = 0;
		for (uint32_t i = 0; i < count; i++) {
			if (ks[i] == CP_NO_SLOT)
				continue;
			const cp__slot *k = &c->prog->init[ks[i]];
			if (isstr)
				((const char **)arr)[m++] = k->v.s;
			else
				((int64_t *)arr)[m++] = k->v.i;
		}
		cp__insn in = I(isstr ? OP_IN_S : OP_IN_I, elems(x->type));
		in.a = conv(c, sx, x->type, dom, enum_of(x, lst->kids[0]));
		in.sa = stride(x->type);
		in.c = m;
		in.flags = has_null;
		in.imm.p = arr;
		r = emit(c, in, elems(x->type));
	} else {
		/* x == e0 or x == e1 or ... (Kleene or: as SQL's IN with nulls) */
		cp__type tb = {B_BOOL, x->type.n, NULL};
		for (uint32_t i = 0; i < count; i++) {
			cp__node *e = lst->kids[i];
			uint32_t eq = e->type.base == B_NULL ? const_null(c)
			                                    : compare(c, C_EQ, e->dom, x, sx, e, e->slot);
			cp__type te = {B_BOOL, e->type.base == B_NULL ? 0 : x->type.n, NULL};
			r = r == CP_NO_SLOT ? eq : op2(c, OP_OR, r, tb, eq, te);
		}
		if (x->type.n && r != CP_NO_SLOT && cp__compiler_const(c, r, NULL))
			r = const_fill(c, r, x->type.n);
	}
	cp__free(ks);
	return r;
}

static uint32_t compile_in(cp__compiler *c, cp__node *n)
{
	cp__node *x = n->kids[0], *r = n->kids[1];
	uint32_t sx = compile(c, x);
	const cp__node *lst = r->kind == N_LIST ? r : (r->kind == N_PARAM ? r->pval : NULL);
	if (lst && lst->kind == N_LIST)
		return compile_in_list(c, n, x, sx, lst);
	/* s in set_or_list: has(set, s) */
	uint32_t sr = compile(c, r);
	uint32_t s = conv(c, sx, x->type, B_STRING, NULL);
	return op2(c, OP_HAS, sr, r->type, s, with_base(x->type, B_STRING));
}

static uint32_t compile_arith(cp__compiler *c, cp__node *n)
{
	cp__node *a = n->kids[0], *b = n->kids[1];
	uint32_t sa = compile(c, a), sb = compile(c, b);
	int r = n->type.base;
	char op = (char)n->op;
	if (r == B_NULL)
		return const_null(c);
	cp__type ta = a->type, tb = b->type;
	if (op == '%')
		return op2(c, OP_MOD_I, sa, ta, sb, tb);
	if (r == B_FLOAT) {
		sa = conv(c, sa, ta, B_FLOAT, NULL);
		sb = conv(c, sb, tb, B_FLOAT, NULL);
		static const char ops[] = "+-*/";
		int k = (int)(strchr(ops, op) - ops);
		return op2(c, OP_ADD_F + k, sa, with_base(ta, B_FLOAT), sb, with_base(tb, B_FLOAT));
	}
	if (r == B_MONEY && op != '*') {
		/* a + b in fen: ints and exact float literals are yuan */
		sa = conv(c, sa, ta, B_MONEY, NULL);
		sb = conv(c, sb, tb, B_MONEY, NULL);
	}
	/* int, money (fen), date (days): integer arithmetic */
	int o = op == '+' ? OP_ADD_I : op == '-' ? OP_SUB_I : OP_MUL_I;
	return op2(c, o, sa, ta, sb, tb);
}

static int by_base(int base, int op_i, int op_f, int op_m)
{
	if (base == B_FLOAT)
		return op_f;
	if (base == B_MONEY && op_m)
		return op_m;
	return op_i;
}

/* Fold a chain of binary operations over args converted to dom. */
static uint32_t chain(cp__compiler *c, int op, cp__node *n, int dom)
{
	uint32_t acc = CP_NO_SLOT;
	cp__type tacc = {0, 0, NULL};
	for (uint32_t i = 0; i < n->nkids; i++) {
		cp__node *k = n->kids[i];
		uint32_t s = conv(c, compile(c, k), k->type, dom, n->type.en);
		cp__type t = with_base(k->type, dom);
		if (i == 0) {
			acc = s;
			tacc = t;
			continue;
		}
		acc = op2(c, op, acc, tacc, s, t);
		if (t.n > tacc.n)
			tacc.n = t.n;
	}
	return acc;
}

static uint32_t compile_call(cp__compiler *c, cp__node *n)
{
	cp__node **k = n->kids;
	int base0 = n->nkids ? k[0]->type.base : 0;
	if (n->rkind == R_TAG) {
		compile(c, k[0]);
		return c->rs->tags[n->ref].final_slot;
	}
	if (n->rkind == R_TRACK) {
		compile(c, k[0]);
		return c->rs->tracks[n->ref].slot;
	}
	switch (n->ref) {
	case F_SUM:
		return op1(c, by_base(base0, OP_SUM_I, OP_SUM_F, 0), compile(c, k[0]), k[0]->type);
	case F_AVG:
		return op1(c, by_base(base0, OP_AVG_I, OP_AVG_F, OP_AVG_M), compile(c, k[0]), k[0]->type);
	case F_SLOPE:
		return op1(c, by_base(base0, OP_SLOPE_I, OP_SLOPE_F, OP_SLOPE_M), compile(c, k[0]),
		           k[0]->type);
	case F_MIN:
	case F_MAX:
		if (n->nkids == 1) {
			int op = n->ref == F_MIN ? by_base(base0, OP_MIN_I, OP_MIN_F, 0)
			                         : by_base(base0, OP_MAX_I, OP_MAX_F, 0);
			return op1(c, op, compile(c, k[0]), k[0]->type);
		}
		if (n->dom == B_NULL)
			return const_null(c);
		return chain(c, n->ref == F_MIN ? by_base(n->dom, OP_MIN2_I, OP_MIN2_F, 0)
		                                : by_base(n->dom, OP_MAX2_I, OP_MAX2_F, 0), n, n->dom);
	case F_COALESCE:
		return chain(c, OP_COALESCE, n, n->dom);
	case F_COUNT:
		return op1(c, OP_COUNT, compile(c, k[0]), k[0]->type);
	case F_ALL:
		return op1(c, OP_ALL, compile(c, k[0]), k[0]->type);
	case F_ANY:
		return op1(c, OP_ANY, compile(c, k[0]), k[0]->type);
	case F_NONE:
		return op1(c, OP_NONE, compile(c, k[0]), k[0]->type);
	case F_STREAK:
		return op1(c, OP_STREAK, compile(c, k[0]), k[0]->type);
	case F_SINCE:
		return op1(c, OP_SINCE, compile(c, k[0]), k[0]->type);
	case F_ABS:
		if (base0 == B_NULL)
			return compile(c, k[0]);
		return op1(c, by_base(base0, OP_ABS_I, OP_ABS_F, 0), compile(c, k[0]), k[0]->type);
	case F_ROUND: {
		uint32_t s = compile(c, k[0]);
		if (base0 == B_FLOAT)
			return op1(c, OP_ROUND_F, s, k[0]->type);
		if (base0 == B_MONEY)
			return op1(c, OP_ROUND_M, s, k[0]->type);
		return s;
	}
	case F_PRESENT:
		return op1(c, OP_PRESENT, compile(c, k[0]), k[0]->type);
	case F_IF: {
		uint32_t sc = compile(c, k[0]);
		const cp__enumdef *en = n->type.en;
		uint32_t sa = conv(c, compile(c, k[1]), k[1]->type, n->dom, en);
		uint32_t sb = conv(c, compile(c, k[2]), k[2]->type, n->dom, en);
		cp__insn in = I(OP_IF, elems(n->type));
		in.a = sc;
		in.sa = stride(k[0]->type);
		in.b = sa;
		in.sb = stride(k[1]->type);
		in.c = sb;
		in.sc = stride(k[2]->type);
		return emit(c, in, elems(n->type));
	}
	case F_LEN:
		return op1(c, OP_LEN, compile(c, k[0]), k[0]->type);
	case F_HAS: {
		uint32_t s0 = compile(c, k[0]);
		uint32_t s1 = conv(c, compile(c, k[1]), k[1]->type, B_STRING, NULL);
		return op2(c, OP_HAS, s0, k[0]->type, s1, with_base(k[1]->type, B_STRING));
	}
	case F_STARTS_WITH:
	case F_ENDS_WITH:
	case F_CONTAINS: {
		uint32_t s0 = conv(c, compile(c, k[0]), k[0]->type, B_STRING, NULL);
		uint32_t s1 = conv(c, compile(c, k[1]), k[1]->type, B_STRING, NULL);
		int op = n->ref == F_STARTS_WITH ? OP_STARTS : n->ref == F_ENDS_WITH ? OP_ENDS : OP_CONTAINS;
		return op2(c, op, s0, with_base(k[0]->type, B_STRING), s1, with_base(k[1]->type, B_STRING));
	}
	case F_MONTHS_SINCE:
	case F_DAYS_SINCE: {
		/* a string here is a date literal (checked) */
		uint32_t s = conv(c, compile(c, k[0]), k[0]->type, B_DATE, NULL);
		return op1(c, n->ref == F_MONTHS_SINCE ? OP_MONTHS_SINCE : OP_DAYS_SINCE, s, k[0]->type);
	}
	default:
		c->failed = CP_ERROR;
		return CP_NO_SLOT;
	}
}

static uint32_t compile_node(cp__compiler *c, cp__node *n)
{
	cp__node **k = n->kids;
	switch (n->kind) {
	case N_INT:
		return const_int(c, n->i);
	case N_FLOAT:
		return const_float(c, n->f);
	case N_STR:
		return konst(c, K_STR, 0, 0, n->s);
	case N_BOOL:
		return const_int(c, n->i);
	case N_NULL:
		return const_null(c);
	case N_NAME:
		if (n->rkind == R_FIELD)
			return load(c, n->ref, 0, 1);
		if (n->rkind == R_METRIC) {
			const cp__expr *x = &c->rs->metrics[n->ref].expr;
			return x->root ? x->root->slot : CP_NO_SLOT;
		}
		break;
	case N_PARAM:
		return compile(c, n->pval);
	case N_INDEX:
		if (n->rkind == R_FIELD)
			return load(c, n->ref, n->i, n->single ? 1 : (uint32_t)(n->hi - n->i + 1));
		else {
			uint32_t s = compile(c, k[0]);
			return s == CP_NO_SLOT ? s : s + (uint32_t)n->i;
		}
	case N_NEG: {
		uint32_t s = compile(c, k[0]);
		if (k[0]->type.base == B_NULL)
			return s;
		return op1(c, k[0]->type.base == B_FLOAT ? OP_NEG_F : OP_NEG_I, s, k[0]->type);
	}
	case N_NOT:
		return op1(c, OP_NOT, compile(c, k[0]), k[0]->type);
	case N_AND:
	case N_OR: {
		/* single values: a constant false in 'and' (true in 'or') decides,
		 * a constant true (false) drops out */
		int64_t decides = n->kind == N_OR;
		uint32_t acc = CP_NO_SLOT;
		cp__type t = {0, 0, NULL};
		for (uint32_t i = 0; i < n->nkids; i++) {
			uint32_t s = compile(c, k[i]);
			const cp__slot *kv;
			if (!n->type.n && cp__compiler_const(c, s, &kv) && !kv->null) {
				if ((kv->v.i != 0) == decides) {
					/* compile the rest for explain, but the value is known */
					for (uint32_t j = i + 1; j < n->nkids; j++)
						compile(c, k[j]);
					return const_int(c, decides);
				}
				continue;
			}
			if (acc == CP_NO_SLOT) {
				acc = s;
				t = k[i]->type;
				continue;
			}
			acc = op2(c, n->kind == N_AND ? OP_AND : OP_OR, acc, t, s, k[i]->type);
			if (k[i]->type.n > t.n)
				t.n = k[i]->type.n;
		}
		return acc == CP_NO_SLOT ? const_int(c, !decides) : acc;
	}
	case N_CMP: {
		uint32_t sa = compile(c, k[0]), sb = compile(c, k[1]);
		return compare(c, n->op, n->dom, k[0], sa, k[1], sb);
	}
	case N_IN:
		return compile_in(c, n);
	case N_NOTIN: {
		uint32_t s = compile_in(c, n);
		cp__type t = {B_BOOL, n->type.n, NULL};
		return op1(c, OP_NOT, s, t);
	}
	case N_BETWEEN: {
		uint32_t sx = compile(c, k[0]), sl = compile(c, k[1]), sh = compile(c, k[2]);
		uint32_t ge = compare(c, C_GE, k[1]->dom, k[0], sx, k[1], sl);
		uint32_t le = compare(c, C_LE, k[2]->dom, k[0], sx, k[2], sh);
		cp__type t1 = {B_BOOL, k[0]->type.n > k[1]->type.n ? k[0]->type.n : k[1]->type.n, NULL};
		cp__type t2 = {B_BOOL, k[0]->type.n > k[2]->type.n ? k[0]->type.n : k[2]->type.n, NULL};
		return op2(c, OP_AND, ge, t1, le, t2);
	}
	case N_ARITH:
		return compile_arith(c, n);
	case N_CALL:
		return compile_call(c, n);
	default:
		break;
	}
	c->failed = CP_ERROR;
	return CP_NO_SLOT;
}

static uint32_t compile(cp__compiler *c, cp__node *n)
{
	if (n->slot != CP_NO_SLOT)
		return n->slot; /* a parameter's value tree is shared by its uses */
	uint32_t s = compile_node(c, n);
	n->slot = s;
	return s;
}

/* ---- units ---- */

int cp__compiler_init(cp__compiler *c, cp_ruleset *rs, cp__errs *errs)
{
	memset(c, 0, sizeof(*c));
	c->rs = rs;
	c->prog = &rs->prog;
	c->errs = errs;
	c->cse = cp__calloc(1, sizeof(*c->cse));
	return c->cse ? CP_OK : CP_ENOMEM;
}

void cp__compiler_fini(cp__compiler *c)
{
	cse_table *t = table(c);
	if (t) {
		cp__free(t->ins);
		cp__free(t->slots);
		cp__free(t);
	}
	c->cse = NULL;
}

uint32_t cp__compile_expr(cp__compiler *c, cp__expr *x)
{
	if (!x->root || x->failed)
		return CP_NO_SLOT;
	return compile(c, x->root);
}

uint32_t cp__compile_tag_final(cp__compiler *c, int t)
{
	const cp__tag *tag = &c->rs->tags[t];
	if (tag->group < 0) {
		cp__insn in = I(OP_TRUTH, 1);
		in.a = tag->raw_slot;
		return emit(c, in, 1);
	}
	const cp__group *g = &c->rs->groups[tag->group];
	uint32_t earlier = tag->member >= 0 ? (uint32_t)tag->member : (uint32_t)g->nmembers;
	uint32_t *arr = cp__arena_alloc(&c->rs->arena, (earlier ? earlier : 1) * sizeof(uint32_t));
	if (!arr) {
		c->failed = CP_ENOMEM;
		return CP_NO_SLOT;
	}
	for (uint32_t i = 0; i < earlier; i++)
		arr[i] = c->rs->tags[g->members[i]].raw_slot;
	cp__insn in = I(OP_FIRST, 1);
	if (tag->raw_slot != CP_NO_SLOT) {
		in.a = tag->raw_slot;
		in.flags = CP_FIRST_HAS_OWN;
	}
	in.c = earlier;
	in.imm.p = arr;
	return emit(c, in, 1);
}

uint32_t cp__compile_track(cp__compiler *c, int track, const uint32_t *rule_slots)
{
	const cp__track *tr = &c->rs->tracks[track];
	uint32_t nr = (uint32_t)tr->nrules;
	cp__track_rule_ref *arr = cp__arena_alloc(&c->rs->arena, (nr ? nr : 1) * sizeof(*arr));
	if (!arr) {
		c->failed = CP_ENOMEM;
		return CP_NO_SLOT;
	}
	for (uint32_t i = 0; i < nr; i++) {
		arr[i].slot = rule_slots[i];
		arr[i].stage = tr->rules[i].stage;
	}
	cp__insn in = I(OP_TRACK, 1);
	in.b = (uint32_t)tr->otherwise;
	in.c = nr;
	in.imm.p = arr;
	return emit(c, in, 2);
}
