/*
 * rules_opt.c — the fast program: the compiled program with its hot
 * patterns fused and everything that no result needs removed.
 *
 * The full program (rules_compile.c) gives every syntax-tree node a slot, so
 * explain can show each sub-expression.  cp_eval needs only the results:
 * tag values, metrics, track stages.  From the full program this pass
 * derives one that computes exactly those, in fewer, bigger steps:
 *
 *   agg(f[i..j] cmp K)   load + compare + all/any/none/count  -> OP_W_ALL...
 *   agg(f[i..j])         load + sum/avg/min/max                -> OP_W_SUM_I...
 *   f[i] cmp K           load + compare                        -> OP_F_CMP
 *   all(b[i..j])         a bool window as it is                -> OP_W_ALL (!= 0)
 *
 * then drops every instruction whose slots no result reads.  Slot numbers
 * are those of the full program, so one cp_result serves both.
 */
#include "rules.h"

#include <string.h>

typedef struct opt {
	const cp__prog *p;
	int32_t *writer;   /* slot -> index of the instruction that writes it, or -1 */
} opt;

static bool is_load(int op)
{
	return op >= OP_LOAD_I64 && op <= OP_LOAD_ENUM; /* not strings or item lists */
}

/*
 * The row cells behind slots [s, s+n): a load writes them (s may be inside
 * the loaded window).  Sets cell, offset and width; false if not a load.
 */
static bool row_cells(const opt *o, uint32_t s, uint32_t n, cp__insn *f, bool *is_float)
{
	int32_t w = o->writer[s];
	if (w < 0)
		return false;
	const cp__insn *ld = &o->p->code[w];
	if (!is_load(ld->op) || s < ld->dst || s + n > ld->dst + ld->n)
		return false;
	uint32_t k = s - ld->dst;
	f->a = ld->a + k;
	f->b = ld->b + k * ld->c;
	f->c = ld->c;
	*is_float = ld->op == OP_LOAD_F64;
	return true;
}

static bool const_operand(const opt *o, uint32_t s, uint8_t stride)
{
	return !stride && o->p->is_const[s] && !o->p->init[s].null;
}

/* A comparison with a constant on one side and row cells on the other:
 * the fused form's cells, constant and comparison; false if it is not one. */
static bool fuse_compare(const opt *o, const cp__insn *cmp, uint32_t n, cp__insn *f)
{
	static const uint8_t swapped[6] = {C_EQ, C_NE, C_GT, C_GE, C_LT, C_LE};
	int op = cmp->op, kind;
	bool is_float;
	if (op >= OP_EQ_I && op <= OP_GE_I)
		kind = op - OP_EQ_I;
	else if (op >= OP_EQ_F && op <= OP_GE_F)
		kind = op - OP_EQ_F;
	else
		return false;
	if (cmp->n != n)
		return false;
	uint32_t cells, k;
	if (cmp->sa == (n > 1) && const_operand(o, cmp->b, cmp->sb)) {
		cells = cmp->a;
		k = cmp->b;
	} else if (cmp->sb == (n > 1) && const_operand(o, cmp->a, cmp->sa)) {
		cells = cmp->b;
		k = cmp->a;
		kind = swapped[kind];
	} else {
		return false;
	}
	if (!row_cells(o, cells, n, f, &is_float))
		return false;
	bool float_cmp = op >= OP_EQ_F;
	if (float_cmp != is_float)
		return false; /* the compiler converted the cells first */
	f->flags = (uint8_t)(kind | (is_float ? CP_FUSED_FLOAT : 0));
	f->imm.i = o->p->init[k].v.i; /* the bits of an int64 or a double */
	if (is_float)
		f->imm.f = o->p->init[k].v.f;
	return true;
}

/* The fused form of instruction in, or in itself. */
static cp__insn fuse(const opt *o, const cp__insn *in)
{
	cp__insn f = *in;
	bool is_float;
	switch (in->op) {
	case OP_ALL:
	case OP_ANY:
	case OP_NONE:
	case OP_COUNT: {
		int w = o->writer[in->a];
		int op = OP_W_ALL + (in->op == OP_ANY) + 2 * (in->op == OP_NONE) + 3 * (in->op == OP_COUNT);
		if (w >= 0 && o->p->code[w].dst == in->a && fuse_compare(o, &o->p->code[w], in->n, &f)) {
			f.op = (uint16_t)op;
			return f;
		}
		/* a bool window itself: each cell is its own truth (cell != 0) */
		if (row_cells(o, in->a, in->n, &f, &is_float) && f.c == 1) {
			f.op = (uint16_t)op;
			f.flags = C_NE;
			f.imm.i = 0;
			return f;
		}
		return *in;
	}
	case OP_SUM_I: case OP_SUM_F: case OP_AVG_I: case OP_AVG_F: case OP_AVG_M:
	case OP_MIN_I: case OP_MIN_F: case OP_MAX_I: case OP_MAX_F:
		if (!row_cells(o, in->a, in->n, &f, &is_float) || (f.c != 8 && in->op != OP_MIN_I &&
		                                                   in->op != OP_MAX_I))
			return *in;
		f.op = (uint16_t)(OP_W_SUM_I + (in->op - OP_SUM_I));
		f.flags = is_float ? CP_FUSED_FLOAT : 0;
		return f;
	default:
		if (in->n == 1 && fuse_compare(o, in, 1, &f)) {
			f.op = OP_F_CMP;
			return f;
		}
		return *in;
	}
}


static void mark(uint8_t *live, uint32_t s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		live[s + i] = 1;
}

/*
 * How many slots an instruction reads at a, b and c (0: that operand is not
 * read).  Operations that read only the row read none; OP_FIRST and
 * OP_TRACK read the lists at imm.p (and OP_FIRST a when CP_FIRST_HAS_OWN),
 * which their callers handle.
 */
void cp__insn_reads(const cp__insn *in, uint32_t *na, uint32_t *nb, uint32_t *nc)
{
	*na = *nb = *nc = 0;
	switch (in->op) {
	case OP_LOAD_I64: case OP_LOAD_F64: case OP_LOAD_BOOL: case OP_LOAD_DATE:
	case OP_LOAD_ENUM: case OP_LOAD_STR: case OP_LOAD_ITEMS:
	case OP_W_ALL: case OP_W_ANY: case OP_W_NONE: case OP_W_COUNT:
	case OP_W_SUM_I: case OP_W_SUM_F: case OP_W_AVG_I: case OP_W_AVG_F: case OP_W_AVG_M:
	case OP_W_MIN_I: case OP_W_MIN_F: case OP_W_MAX_I: case OP_W_MAX_F: case OP_F_CMP:
	case OP_FIRST: case OP_TRACK:
		return;
	default:
		break;
	}
	/* a, b, c: whole windows for aggregates and strided operands */
	*na = in->sa || cp__insn_writes(in) == 1 ? in->n : 1;
	if (in->op == OP_IF) {
		*nb = in->sb ? in->n : 1;
		*nc = in->sc ? in->n : 1;
		return;
	}
	/* every other operation with a second operand reads b */
	switch (in->op) {
	case OP_I2F: case OP_M2F: case OP_I2M: case OP_E2S: case OP_NEG_I: case OP_NEG_F:
	case OP_NOT: case OP_IN_I: case OP_IN_S: case OP_ABS_I: case OP_ABS_F:
	case OP_ROUND_F: case OP_ROUND_M: case OP_PRESENT: case OP_LEN:
	case OP_MONTHS_SINCE: case OP_DAYS_SINCE: case OP_TRUTH:
	case OP_SUM_I: case OP_SUM_F: case OP_AVG_I: case OP_AVG_F: case OP_AVG_M:
	case OP_MIN_I: case OP_MIN_F: case OP_MAX_I: case OP_MAX_F:
	case OP_COUNT: case OP_ALL: case OP_ANY: case OP_NONE: case OP_STREAK: case OP_SINCE:
	case OP_SLOPE_I: case OP_SLOPE_F: case OP_SLOPE_M:
		return;
	default:
		*nb = in->sb ? in->n : 1;
	}
}

/* Mark the slots an instruction reads. */
static void mark_operands(uint8_t *live, const cp__insn *in)
{
	switch (in->op) {
	case OP_FIRST: {
		const uint32_t *e = in->imm.p;
		for (uint32_t j = 0; j < in->c; j++)
			live[e[j]] = 1;
		if (in->flags & CP_FIRST_HAS_OWN)
			live[in->a] = 1;
		return;
	}
	case OP_TRACK: {
		const cp__track_rule_ref *r = in->imm.p;
		for (uint32_t j = 0; j < in->c; j++)
			live[r[j].slot] = 1;
		return;
	}
	default:
		break;
	}
	uint32_t na, nb, nc;
	cp__insn_reads(in, &na, &nb, &nc);
	mark(live, in->a, na);
	mark(live, in->b, nb);
	mark(live, in->c, nc);
}

uint32_t cp__insn_writes(const cp__insn *in)
{
	switch (in->op) {
	case OP_SUM_I: case OP_SUM_F: case OP_AVG_I: case OP_AVG_F: case OP_AVG_M:
	case OP_MIN_I: case OP_MIN_F: case OP_MAX_I: case OP_MAX_F:
	case OP_COUNT: case OP_ALL: case OP_ANY: case OP_NONE: case OP_STREAK: case OP_SINCE:
	case OP_SLOPE_I: case OP_SLOPE_F: case OP_SLOPE_M: case OP_TRUTH: case OP_FIRST:
	case OP_W_ALL: case OP_W_ANY: case OP_W_NONE: case OP_W_COUNT:
	case OP_W_SUM_I: case OP_W_SUM_F: case OP_W_AVG_I: case OP_W_AVG_F: case OP_W_AVG_M:
	case OP_W_MIN_I: case OP_W_MIN_F: case OP_W_MAX_I: case OP_W_MAX_F: case OP_F_CMP:
		return 1;
	case OP_TRACK:
		return 2;
	default:
		return in->n;
	}
}

static void mark_bytes(uint8_t *used, uint32_t size, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to && i < size; i++)
		used[i] = 1;
}

/* Mark used[0..row_size) where the fast program reads a row: the cells
 * (cells) and the presence bytes of those cells (presence). */
static void mark_row_reads(const cp_ruleset *rs, uint8_t *used, bool cells, bool presence)
{
	uint32_t size = rs->schema->row_size;
	for (size_t i = 0; i < rs->nfast; i++) {
		const cp__insn *in = &rs->fast[i];
		bool row = (in->op >= OP_LOAD_I64 && in->op <= OP_LOAD_ITEMS) ||
		           (in->op >= OP_W_ALL && in->op <= OP_F_CMP);
		if (!row)
			continue;
		if (cells)
			mark_bytes(used, size, in->b, in->b + in->n * in->c);
		uint32_t p0 = CP_ROW_HEADER_BYTES + (in->a >> 3);
		uint32_t p1 = CP_ROW_HEADER_BYTES + ((in->a + in->n - 1) >> 3) + 1;
		if (presence)
			mark_bytes(used, size, p0, p1);
	}
}

size_t cp__ruleset_row_reads(const cp_ruleset *rs, size_t *presence_bytes)
{
	uint32_t size = rs->schema->row_size;
	uint8_t *used = cp__calloc((size_t)size + 1, 1);
	size_t n = 0, p = 0;
	if (!used)
		return 0;
	mark_row_reads(rs, used, true, false);
	for (uint32_t i = 0; i < size; i++)
		n += used[i];
	memset(used, 0, size);
	mark_row_reads(rs, used, false, true);
	for (uint32_t i = 0; i < size; i++)
		p += used[i];
	cp__free(used);
	if (presence_bytes)
		*presence_bytes = p;
	return n;
}

/*
 * The byte offsets of a row to prefetch: for every 64-byte stretch that
 * holds bytes the fast program reads, its first and last such byte (rows
 * are not aligned to cache lines, so a stretch may span two).
 */
static int prefetch_list(cp_ruleset *rs)
{
	uint32_t size = rs->schema->row_size;
	uint8_t *used = cp__calloc((size_t)size + 1, 1);
	uint32_t *list = cp__calloc((size_t)size / 32 + 2, sizeof(uint32_t));
	if (!used || !list) {
		cp__free(used);
		cp__free(list);
		return CP_ENOMEM;
	}
	mark_row_reads(rs, used, true, true);
	size_t n = 0;
	for (uint32_t start = 0; start < size; start += 64) {
		uint32_t first = UINT32_MAX, last = 0;
		for (uint32_t i = start; i < start + 64 && i < size; i++) {
			if (used[i]) {
				if (first == UINT32_MAX)
					first = i;
				last = i;
			}
		}
		if (first == UINT32_MAX)
			continue;
		list[n++] = first;
		if (last - first >= 8)
			list[n++] = last;
	}
	cp__free(used);
	rs->prefetch = list;
	rs->nprefetch = n;
	return CP_OK;
}

int cp__prog_optimize(cp_ruleset *rs)
{
	const cp__prog *p = &rs->prog;
	opt o = {p, NULL};
	uint8_t *live = cp__calloc((size_t)p->nslots + 1, 1);
	o.writer = cp__calloc((size_t)p->nslots + 1, sizeof(int32_t));
	cp__insn *code = cp__calloc(p->ncode + 1, sizeof(cp__insn));
	if (!live || !o.writer || !code) {
		cp__free(live);
		cp__free(o.writer);
		cp__free(code);
		return CP_ENOMEM;
	}
	for (uint32_t s = 0; s < p->nslots; s++)
		o.writer[s] = -1;
	for (size_t i = 0; i < p->ncode; i++) {
		const cp__insn *in = &p->code[i];
		for (uint32_t k = 0; k < cp__insn_writes(in); k++)
			o.writer[in->dst + k] = (int32_t)i;
	}
	/* the results: what cp_eval's readers look at */
	for (int t = 0; t < rs->ntags; t++) {
		cp__tag *tag = &rs->tags[t];
		tag->out_slot = tag->group < 0 ? tag->raw_slot : tag->final_slot;
		live[tag->out_slot] = 1;
	}
	for (int m = 0; m < rs->nmetrics; m++) {
		const cp__node *root = rs->metrics[m].expr.root;
		mark(live, root->slot, root->type.n ? root->type.n : 1);
	}
	for (int k = 0; k < rs->ntracks; k++)
		mark(live, rs->tracks[k].slot, 2);
	/* fuse, then keep (backwards) what the results need */
	for (size_t i = 0; i < p->ncode; i++)
		code[i] = fuse(&o, &p->code[i]);
	size_t n = 0;
	uint8_t *keep = cp__calloc(p->ncode + 1, 1);
	if (!keep) {
		cp__free(live);
		cp__free(o.writer);
		cp__free(code);
		return CP_ENOMEM;
	}
	for (size_t i = p->ncode; i-- > 0;) {
		const cp__insn *in = &code[i];
		bool needed = false;
		for (uint32_t k = 0; k < cp__insn_writes(in) && !needed; k++)
			needed = live[in->dst + k];
		if (!needed)
			continue;
		keep[i] = 1;
		mark_operands(live, in);
	}
	for (size_t i = 0; i < p->ncode; i++)
		if (keep[i])
			code[n++] = code[i];
	cp__free(keep);
	cp__free(live);
	cp__free(o.writer);
	rs->fast = code;
	rs->nfast = n;
	return prefetch_list(rs);
}
