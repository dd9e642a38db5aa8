/*
 * rules_block.c — the block evaluator: the fast program (rules_opt.c) run
 * over up to CP_BLOCK_ROWS profiles at a time, for scans (tag-all, counts,
 * select).
 *
 * cp_eval interprets one instruction for one profile: for a whole store,
 * dispatching every instruction again for every profile costs more than
 * the work itself.  Here each instruction is dispatched once per block and
 * runs a tight loop over the block's rows.  A slot of the program becomes a
 * column: one value per row, a word of null bits and, for truth values, a
 * word of true bits, so and/or/not, all/any/none/count and the exclusive
 * groups' first-match are a few word operations for 64 profiles, with no
 * branch on the data (Kleene logic on the pair of masks).
 *
 * The row-reading (fused) operations are kernels chosen once per block by
 * cell type and comparison, with AVX2 for 8-byte cells where the
 * processor has it (a window of up to 8 months compared 4 cells at a time,
 * quantifiers 4 rows at a time); instructions that read the same cells
 * share their presence bits.  A scan prefetches the next block's rows
 * (cp__block_prefetch) while it evaluates the current one.
 *
 * Results are bit-identical to cp_eval's: the kernels follow the same
 * definitions (rules_eval.h: the same helpers where they can, the same
 * order of float sums, overflow checked step by step), and operations
 * without a column form (strings, sets, slope, months_since, ...) run the
 * one-profile code for each row of the block.  tests/check_rules.c
 * compares both evaluators on random expressions, the built-in packs and
 * extreme values.
 */
#include "rules_eval.h"

#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CP_BLOCK_AVX2 1
#include <immintrin.h>
#else
#define CP_BLOCK_AVX2 0
#endif

typedef struct cp__col {
	uint64_t null;   /* bit k: row k's value is null */
	uint64_t t;      /* bit k: row k's truth value is true (never where null);
	                  * kept by every operation that can give a truth value */
	uint64_t need_v; /* 1: some reader needs the values of this truth value,
	                  * not only its masks (else col_values does nothing) */
	uint64_t pad_[5];
	cp__val v[CP_BLOCK_ROWS];
} cp__col;

struct cp__block {
	cp_obj obj;
	const cp_ruleset *rs;
	cp__col *cols;       /* one per slot of the program */
	cp__slot *tmp;       /* one row's operands and results (fallback) */
	unsigned nrows;      /* rows of the last evaluation */
	/* presence bits of the cells a row-reading instruction reads, per row:
	 * instructions reading the same cells share one array, made by the
	 * first of them (pfirst) in each evaluation */
	int32_t *pid;        /* per instruction of the fast program, or -1 */
	uint8_t *pfirst;
	uint64_t (*pcache)[CP_BLOCK_ROWS];
	int asof_month;      /* cache: the as-of month last converted */
	cp__ectx asof;       /* ... and its dates */
};

#define ALL_ROWS UINT64_MAX

static uint64_t row_mask(unsigned n)
{
	return n >= 64 ? ALL_ROWS : (UINT64_C(1) << n) - 1;
}

/* Truth bits of a column from its values (for operations that copy
 * values of any type, and the one-profile fallback). */
static void col_truth(cp__col *c)
{
	uint64_t t = 0;
	for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
		t |= (uint64_t)(c->v[k].i != 0) << k;
	c->t = t & ~c->null;
}

/* Values 0/1 of a column from its truth bits, when a reader needs them. */
static void col_values(cp__col *c)
{
	if (!c->need_v)
		return;
	for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
		c->v[k].i = (int64_t)((c->t >> k) & 1);
}

/* Which truth values are read as values (need_v): operands of every
 * operation but those that read only the masks, and the metrics. */
static void mark_value_readers(cp__block *b)
{
	const cp_ruleset *rs = b->rs;
	for (size_t i = 0; i < rs->nfast; i++) {
		const cp__insn *in = &rs->fast[i];
		uint32_t na, nb, nc;
		switch (in->op) {
		case OP_AND: case OP_OR: case OP_NOT: case OP_TRUTH: case OP_ALL: case OP_ANY:
		case OP_NONE: case OP_COUNT: case OP_STREAK: case OP_SINCE: case OP_FIRST:
		case OP_TRACK: case OP_PRESENT:
			continue; /* masks only */
		default:
			break;
		}
		cp__insn_reads(in, &na, &nb, &nc);
		if (in->op == OP_IF)
			na = 0; /* the condition: its true mask */
		for (uint32_t k = 0; k < na; k++)
			b->cols[in->a + k].need_v = 1;
		for (uint32_t k = 0; k < nb; k++)
			b->cols[in->b + k].need_v = 1;
		for (uint32_t k = 0; k < nc; k++)
			b->cols[in->c + k].need_v = 1;
	}
	for (int m = 0; m < rs->nmetrics; m++) {
		const cp__node *root = rs->metrics[m].expr.root;
		for (uint32_t k = 0; k < (root->type.n ? root->type.n : 1u); k++)
			b->cols[root->slot + k].need_v = 1;
	}
}

static bool reads_row(int op)
{
	return (op >= OP_LOAD_I64 && op <= OP_LOAD_ITEMS) || (op >= OP_W_ALL && op <= OP_F_CMP);
}

static uint32_t presence_count(const cp__insn *in)
{
	return in->op == OP_F_CMP ? 1 : in->n;
}

/* Number the distinct presence ranges (first cell, count) of the
 * row-reading instructions. */
static int share_presence(cp__block *b)
{
	const cp_ruleset *rs = b->rs;
	size_t n = rs->nfast;
	b->pid = cp__malloc((n + 1) * sizeof(int32_t));
	b->pfirst = cp__calloc(n + 1, 1);
	if (!b->pid || !b->pfirst)
		return CP_ENOMEM;
	int32_t ids = 0;
	for (size_t i = 0; i < n; i++) {
		const cp__insn *in = &rs->fast[i];
		b->pid[i] = -1;
		if (!reads_row(in->op))
			continue;
		for (size_t j = 0; j < i && b->pid[i] < 0; j++)
			if (b->pfirst[j] && rs->fast[j].a == in->a &&
			    presence_count(&rs->fast[j]) == presence_count(in))
				b->pid[i] = b->pid[j];
		if (b->pid[i] < 0) {
			b->pid[i] = ids++;
			b->pfirst[i] = 1;
		}
	}
	b->pcache = cp__malloc(((size_t)ids + 1) * sizeof(*b->pcache));
	return b->pcache ? CP_OK : CP_ENOMEM;
}

int cp__block_new(cp__block **out, const cp_ruleset *rs)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!rs)
		return CP_EINVAL;
	cp__block *b = cp__calloc(1, sizeof(*b));
	if (!b)
		return CP_ENOMEM;
	cp__obj_init(&b->obj, CP_OBJ_RESULT);
	b->rs = rs;
	uint32_t nslots = rs->prog.nslots;
	uint32_t widest = 1;
	for (size_t i = 0; i < rs->nfast; i++)
		if (rs->fast[i].n > widest)
			widest = rs->fast[i].n;
	b->cols = cp__malloc(((size_t)nslots + 1) * sizeof(cp__col));
	b->tmp = cp__calloc((size_t)widest * 4 + 2, sizeof(cp__slot));
	if (!b->cols || !b->tmp) {
		cp__block_free(b);
		return CP_ENOMEM;
	}
	/* the slot image (constants; null elsewhere), once */
	for (uint32_t s = 0; s < nslots; s++) {
		cp__col *c = &b->cols[s];
		const cp__slot *init = &rs->prog.init[s];
		memset(c, 0, offsetof(cp__col, v));
		c->null = init->null ? ALL_ROWS : 0;
		for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
			c->v[k] = init->v;
		c->t = init->null || !init->v.i ? 0 : ALL_ROWS;
	}
	mark_value_readers(b);
	if (share_presence(b) != CP_OK) {
		cp__block_free(b);
		return CP_ENOMEM;
	}
	b->asof_month = -1;
	*out = b;
	return CP_OK;
}

void cp__block_free(cp__block *b)
{
	if (!b)
		return;
	cp__free(b->pid);
	cp__free(b->pfirst);
	cp__free(b->pcache);
	cp__free(b->cols);
	cp__free(b->tmp);
	cp__obj_fini(&b->obj);
	cp__free(b);
}

/* ---- element-wise operations over columns ---- */

/*
 * For each element e of the window: x, y are the operand columns (y only
 * for binary operations), d the result; BODY runs for each row k and may
 * add rows to `bad` (a result that is null although the operands are not:
 * overflow, division by zero, a float that is not finite) and to `tr` (true
 * rows, for comparisons).
 */
#define EW(BINARY, TRUTHY, BODY)                                              \
	for (uint32_t e = 0; e < in->n; e++) {                                    \
		cp__col *restrict d = &cols[in->dst + e];                             \
		const cp__col *restrict x = &cols[in->a + e * in->sa];                \
		const cp__col *restrict y = BINARY ? &cols[in->b + e * in->sb] : x;   \
		uint64_t bad = 0, tr = 0;                                             \
		(void)y;                                                              \
		for (unsigned k = 0; k < CP_BLOCK_ROWS; k++) {                        \
			BODY;                                                             \
		}                                                                     \
		d->null = x->null | y->null | bad;                                    \
		if (TRUTHY)                                                           \
			d->t = tr & ~d->null;                                             \
	}

#define BIT(cond) ((uint64_t)(cond) << k)
#define XI x->v[k].i
#define YI y->v[k].i
#define XF x->v[k].f
#define YF y->v[k].f

#define CMP(T, OPR)                          \
	EW(1, 1, {                               \
		bool r_ = x->v[k].T OPR y->v[k].T;   \
		d->v[k].i = r_;                      \
		tr |= BIT(r_);                       \
	})

#define ARITH_F(EXPR)                        \
	EW(1, 0, {                               \
		double r_ = (EXPR);                  \
		d->v[k].f = r_;                      \
		bad |= BIT(!isfinite(r_));           \
	})

#define ARITH_F1(EXPR)                       \
	EW(0, 0, {                               \
		double r_ = (EXPR);                  \
		d->v[k].f = r_;                      \
		bad |= BIT(!isfinite(r_));           \
	})

/* ---- the row-reading operations ---- */

/*
 * Fused window tests, one row at a time but with everything that does not
 * depend on the row decided once per block: the cell type and the
 * comparison select one loop (WT_CELLS), which leaves for each row the
 * n-bit mask of the cells that compare true (cell order: bit e = month e)
 * and the n-bit mask of the cells present; the quantifier is then a few
 * mask operations (cp_eval's window_test, without branches).
 */
#define WT_CELLS(T, CELL, K, OPR)                                       \
	for (unsigned k = 0; k < nrows; k++) {                              \
		const uint8_t *p = rows[k] + off;                               \
		uint64_t bits = 0;                                              \
		for (uint32_t e = n; e-- > 0;)                                  \
			bits = bits << 1 | (uint64_t)((T)CELL(p, e) OPR (K));       \
		tb[k] = bits;                                                   \
	}

#define WT_KIND(T, CELL, K)                                             \
	switch (kind) {                                                     \
	case C_EQ: WT_CELLS(T, CELL, K, ==); break;                         \
	case C_NE: WT_CELLS(T, CELL, K, !=); break;                         \
	case C_LT: WT_CELLS(T, CELL, K, <); break;                          \
	case C_LE: WT_CELLS(T, CELL, K, <=); break;                         \
	case C_GT: WT_CELLS(T, CELL, K, >); break;                          \
	default: WT_CELLS(T, CELL, K, >=); break;                           \
	}

#define CELL_BOOL(p, e) ((p)[e] != 0)

/* Presence bits of cells [cell, cell + n) of every row into pr[]. */
static void block_presence(uint32_t cell, uint32_t n, const uint8_t *const *rows,
                           unsigned nrows, uint32_t row_size, uint64_t *pr)
{
	uint32_t at = CP_ROW_HEADER_BYTES + (cell >> 3), shift = cell & 7;
	uint64_t all = n >= 64 ? ALL_ROWS : (UINT64_C(1) << n) - 1;
	if (at + 8 <= row_size && shift + n <= 64) {
		for (unsigned k = 0; k < nrows; k++) {
			uint64_t w;
			memcpy(&w, rows[k] + at, 8);
			pr[k] = (cp__le64(w) >> shift) & all;
		}
	} else {
		cp__ectx cx;
		cx.row_size = row_size;
		for (unsigned k = 0; k < nrows; k++) {
			cx.row = rows[k];
			pr[k] = presence(&cx, cell, n);
		}
	}
}

#if CP_BLOCK_AVX2
/*
 * The same for 8-byte cells with AVX2 (x86-64 processors that have it,
 * chosen at run time): a window of up to 8 cells is compared with the
 * constant 4 cells per instruction, the results packed by movemask.  The
 * loads read 32 or 64 bytes from the window's first cell: the caller
 * checks they stay inside the row; bits past the window are ignored (the
 * presence mask has none there).  Comparisons keep C's meaning for NaN
 * (ordered predicates; != unordered).
 */
#define AVX_CELLS(LANES, CMP)                                                   \
	for (unsigned k = 0; k < nrows; k++) {                                      \
		const uint8_t *p = rows[k] + off;                                       \
		uint64_t bits = (uint64_t)CMP(p);                                       \
		if (LANES > 4)                                                          \
			bits |= (uint64_t)CMP(p + 32) << 4;                                 \
		tb[k] = bits;                                                           \
	}
#define AVX_I(OPR) _mm256_movemask_pd(_mm256_castsi256_pd(OPR))
#define I_GT(p) AVX_I(_mm256_cmpgt_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(p)), K))
#define I_LT(p) AVX_I(_mm256_cmpgt_epi64(K, _mm256_loadu_si256((const __m256i *)(const void *)(p))))
#define I_EQ(p) AVX_I(_mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(p)), K))
#define I_LE(p) (~I_GT(p) & 15)
#define I_GE(p) (~I_LT(p) & 15)
#define I_NE(p) (~I_EQ(p) & 15)
#define F_OP(p, PRED) _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd((const double *)(const void *)(p)), F, PRED))
#define F_GT(p) F_OP(p, _CMP_GT_OQ)
#define F_GE(p) F_OP(p, _CMP_GE_OQ)
#define F_LT(p) F_OP(p, _CMP_LT_OQ)
#define F_LE(p) F_OP(p, _CMP_LE_OQ)
#define F_EQ(p) F_OP(p, _CMP_EQ_OQ)
#define F_NE(p) F_OP(p, _CMP_NEQ_UQ)
#define AVX_KIND(LANES, PFX)                                                    \
	switch (kind) {                                                             \
	case C_EQ: AVX_CELLS(LANES, PFX##_EQ); break;                               \
	case C_NE: AVX_CELLS(LANES, PFX##_NE); break;                               \
	case C_LT: AVX_CELLS(LANES, PFX##_LT); break;                               \
	case C_LE: AVX_CELLS(LANES, PFX##_LE); break;                               \
	case C_GT: AVX_CELLS(LANES, PFX##_GT); break;                               \
	default: AVX_CELLS(LANES, PFX##_GE); break;                                 \
	}

__attribute__((target("avx2")))
static void avx2_cells(const cp__insn *in, uint32_t n, const uint8_t *const *rows,
                       unsigned nrows, uint64_t *tb)
{
	const uint32_t off = in->b;
	const unsigned kind = in->flags & 7;
	const __m256i K = _mm256_set1_epi64x(in->imm.i);
	const __m256d F = _mm256_set1_pd(in->imm.f);
	if (in->flags & CP_FUSED_FLOAT) {
		if (n <= 4)
			AVX_KIND(4, F)
		else
			AVX_KIND(8, F)
	} else {
		if (n <= 4)
			AVX_KIND(4, I)
		else
			AVX_KIND(8, I)
	}
}

/* The quantifiers of the rows' masks (tb: cells true, pr: cells present;
 * rows nrows..3 past the end are zero), 4 rows per step; count: popcnt. */
__attribute__((target("avx2,popcnt")))
static void avx2_quantify(int op, const uint64_t *tb, const uint64_t *pr, uint64_t all,
                          unsigned nrows, uint64_t *t_out, uint64_t *null_out, cp__val *count)
{
	const __m256i zero = _mm256_setzero_si256(), full_mask = _mm256_set1_epi64x((long long)all);
	uint64_t t = 0, null = 0;
	if (op == OP_W_COUNT) {
		for (unsigned k = 0; k < nrows; k++)
			count[k].i = __builtin_popcountll(tb[k] & pr[k]);
		return;
	}
#define LD(a) _mm256_loadu_si256((const __m256i *)(const void *)((a) + k))
#define MASK(v) ((uint64_t)_mm256_movemask_pd(_mm256_castsi256_pd(v)))
	for (unsigned k = 0; k < nrows; k += 4) {
		__m256i T = LD(tb), P = LD(pr);
		uint64_t complete = MASK(_mm256_cmpeq_epi64(P, full_mask));
		if (op == OP_W_ALL) {
			uint64_t no_false = MASK(_mm256_cmpeq_epi64(_mm256_andnot_si256(T, P), zero));
			t |= (no_false & complete) << k;
			null |= (no_false & ~complete & 15) << k;
		} else {
			uint64_t no_true = MASK(_mm256_cmpeq_epi64(_mm256_and_si256(T, P), zero));
			t |= (op == OP_W_NONE ? no_true & complete : ~no_true & 15) << k;
			null |= (no_true & ~complete & 15) << k;
		}
	}
#undef LD
#undef MASK
	*t_out = t;
	*null_out = null;
}

/* Lane masks of 4 presence bits. */
static const int64_t lane_masks[16][4] = {
	{0, 0, 0, 0}, {-1, 0, 0, 0}, {0, -1, 0, 0}, {-1, -1, 0, 0},
	{0, 0, -1, 0}, {-1, 0, -1, 0}, {0, -1, -1, 0}, {-1, -1, -1, 0},
	{0, 0, 0, -1}, {-1, 0, 0, -1}, {0, -1, 0, -1}, {-1, -1, 0, -1},
	{0, 0, -1, -1}, {-1, 0, -1, -1}, {0, -1, -1, -1}, {-1, -1, -1, -1},
};

/*
 * Integer sums of up to 8 present cells per row, 4 per step (the caller
 * checks the loads stay in the row).  When every present cell lies in
 * [-2^58, 2^58) no partial sum can overflow, so the plain sum is the
 * checked one; a row with a larger value takes the checked loop.
 */
__attribute__((target("avx2,popcnt")))
static void avx2_sum_i(const cp__insn *in, cp__col *d, const uint8_t *const *rows,
                       unsigned nrows, const uint64_t *pr)
{
	const uint32_t n = in->n, off = in->b;
	const __m256i bias = _mm256_set1_epi64x(INT64_C(1) << 58);
	uint64_t null = 0;
	for (unsigned k = 0; k < nrows; k++) {
		const uint8_t *p = rows[k] + off;
		uint64_t m = pr[k];
		__m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)p),
		                             _mm256_loadu_si256((const __m256i *)(const void *)lane_masks[m & 15]));
		__m256i big = _mm256_srli_epi64(_mm256_add_epi64(v, bias), 59);
		if (n > 4) {
			__m256i w = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(p + 32)),
			                             _mm256_loadu_si256((const __m256i *)(const void *)lane_masks[(m >> 4) & 15]));
			big = _mm256_or_si256(big, _mm256_srli_epi64(_mm256_add_epi64(w, bias), 59));
			v = _mm256_add_epi64(v, w);
		}
		__m128i h = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
		int64_t sum = _mm_cvtsi128_si64(h) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(h, h));
		bool over = false;
		if (!_mm256_testz_si256(big, big)) {
			sum = 0;
			for (uint32_t e = 0; e < n; e++)
				over |= ADD_OVF(sum, cell_i64(p, e) & -(int64_t)((m >> e) & 1), &sum);
		}
		unsigned cnt = (unsigned)__builtin_popcountll(m);
		if (in->op == OP_W_SUM_I) {
			d->v[k].i = sum;
			null |= (uint64_t)(!cnt || over) << k;
		} else {
			double r = (double)sum / cnt / (in->op == OP_W_AVG_M ? 100.0 : 1.0);
			d->v[k].f = r;
			null |= (uint64_t)(!cnt || over || !isfinite(r)) << k;
		}
	}
	d->null = null;
}

static bool have_avx2(void)
{
	static int known; /* 0 unknown, 1 no, 2 yes: the same answer for every thread */
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	if (!k) {
		__builtin_cpu_init();
		k = __builtin_cpu_supports("avx2") ? 2 : 1;
		__atomic_store_n(&known, k, __ATOMIC_RELAXED);
	}
	return k == 2;
}
#endif

static void block_window_test(const cp__insn *in, cp__col *d, const uint8_t *const *rows,
                              unsigned nrows, uint32_t row_size, const uint64_t *pr)
{
	uint64_t tb[CP_BLOCK_ROWS];
	const uint32_t n = in->op == OP_F_CMP ? 1 : in->n, off = in->b;
	const unsigned kind = in->flags & 7;
	const uint64_t all = (UINT64_C(1) << n) - 1;
#if CP_BLOCK_AVX2
	if (in->c == 8 && n <= 8 && off + (n <= 4 ? 32 : 64) <= row_size && have_avx2())
		avx2_cells(in, n, rows, nrows, tb);
	else
#endif
	if (in->c == 8 && (in->flags & CP_FUSED_FLOAT))
		WT_KIND(double, cell_f64, in->imm.f)
	else if (in->c == 8)
		WT_KIND(int64_t, cell_i64, in->imm.i)
	else if (in->c == 4)
		WT_KIND(int64_t, cell_i32, in->imm.i)
	else
		WT_KIND(int64_t, CELL_BOOL, in->imm.i)
	uint64_t t = 0, null = 0;
#if CP_BLOCK_AVX2
	if (have_avx2()) {
		uint64_t pz[CP_BLOCK_ROWS + 4];
		const uint64_t *pq = pr;
		if (nrows % 4) { /* whole steps of 4: zeros past the end */
			memcpy(pz, pr, nrows * sizeof(uint64_t));
			for (unsigned k = nrows; k < (nrows + 3) / 4 * 4; k++)
				pz[k] = tb[k] = 0;
			pq = pz;
		}
		avx2_quantify(in->op, tb, pq, all, nrows, &t, &null, d->v);
		goto done;
	}
#endif
	switch (in->op) {
	case OP_W_COUNT:
		for (unsigned k = 0; k < nrows; k++)
			d->v[k].i = popcount64(tb[k] & pr[k]);
		break;
	case OP_W_ALL:
		for (unsigned k = 0; k < nrows; k++) {
			bool f = (~tb[k] & pr[k]) != 0, some_null = pr[k] != all;
			t |= (uint64_t)(!f & !some_null) << k;
			null |= (uint64_t)(!f & some_null) << k;
		}
		break;
	case OP_W_NONE:
		for (unsigned k = 0; k < nrows; k++) {
			bool any_t = (tb[k] & pr[k]) != 0, some_null = pr[k] != all;
			t |= (uint64_t)(!any_t & !some_null) << k;
			null |= (uint64_t)(!any_t & some_null) << k;
		}
		break;
	default: /* any; f[i] cmp K is any of one cell */
		for (unsigned k = 0; k < nrows; k++) {
			bool any_t = (tb[k] & pr[k]) != 0, some_null = pr[k] != all;
			t |= (uint64_t)any_t << k;
			null |= (uint64_t)(!any_t & some_null) << k;
		}
		break;
	}
#if CP_BLOCK_AVX2
done:
#endif
	if (in->op == OP_W_COUNT) {
		d->null = 0;
		col_truth(d);
		return;
	}
	d->null = null;
	d->t = t;
	col_values(d);
}

/* sum and avg of a field's window straight from the rows (cp_eval's
 * aggregate: present cells in month order, overflow -> null). */
static void block_window_sum(const cp__insn *in, cp__col *d, const uint8_t *const *rows,
                             unsigned nrows, const uint64_t *pr)
{
	const uint32_t n = in->n, off = in->b;
	uint64_t null = 0;
	if (in->op == OP_W_SUM_F || in->op == OP_W_AVG_F) {
		for (unsigned k = 0; k < nrows; k++) {
			const uint8_t *p = rows[k] + off;
			double sum = 0;
			for (uint32_t e = 0; e < n; e++)
				if ((pr[k] >> e) & 1)
					sum += cell_f64(p, e);
			unsigned m = (unsigned)popcount64(pr[k]);
			double r = in->op == OP_W_SUM_F ? sum : sum / m;
			d->v[k].f = r;
			null |= (uint64_t)(!m || !isfinite(r)) << k;
		}
	} else {
		for (unsigned k = 0; k < nrows; k++) {
			const uint8_t *p = rows[k] + off;
			int64_t sum = 0;
			bool over = false;
			for (uint32_t e = 0; e < n; e++) /* an absent cell adds 0 */
				over |= ADD_OVF(sum, cell_i64(p, e) & -(int64_t)((pr[k] >> e) & 1), &sum);
			unsigned m = (unsigned)popcount64(pr[k]);
			if (in->op == OP_W_SUM_I) {
				d->v[k].i = sum;
				null |= (uint64_t)(!m || over) << k;
			} else {
				double r = (double)sum / m / (in->op == OP_W_AVG_M ? 100.0 : 1.0);
				d->v[k].f = r;
				null |= (uint64_t)(!m || over || !isfinite(r)) << k;
			}
		}
	}
	d->null = null;
}

/* min and max of a field's window straight from the rows (cp_eval's
 * aggregate: the first present cell, then each strictly better one). */
static void block_window_minmax(const cp__insn *in, cp__col *d, const uint8_t *const *rows,
                                unsigned nrows, const uint64_t *pr)
{
	const uint32_t n = in->n, off = in->b;
	const bool mx = in->op == OP_W_MAX_I || in->op == OP_W_MAX_F;
	uint64_t null = 0;
	if (in->op == OP_W_MIN_F || in->op == OP_W_MAX_F) {
		for (unsigned k = 0; k < nrows; k++) {
			const uint8_t *p = rows[k] + off;
			double best = 0;
			bool any = false;
			for (uint32_t e = 0; e < n; e++) {
				if (!((pr[k] >> e) & 1))
					continue;
				double v = cell_f64(p, e);
				if (!any || (mx ? v > best : v < best))
					best = v;
				any = true;
			}
			d->v[k].f = best;
			null |= (uint64_t)(!any || !isfinite(best)) << k;
		}
	} else {
		for (unsigned k = 0; k < nrows; k++) {
			const uint8_t *p = rows[k] + off;
			int64_t best = 0;
			bool any = false;
			for (uint32_t e = 0; e < n; e++) {
				if (!((pr[k] >> e) & 1))
					continue;
				int64_t v = in->c == 8 ? cell_i64(p, e) : in->c == 4 ? cell_i32(p, e) : p[e] != 0;
				if (!any || (mx ? v > best : v < best))
					best = v;
				any = true;
			}
			d->v[k].i = best;
			null |= (uint64_t)!any << k;
		}
	}
	d->null = null;
}

/* Aggregates of a field's window in any other form (cells narrower than 8
 * bytes), row by row with cp_eval's code. */

static void rows_fused(const cp__insn *in, cp__col *d, cp__ectx *cx,
                       const uint8_t *const *rows, unsigned nrows)
{
	uint64_t null = 0;
	for (unsigned k = 0; k < nrows; k++) {
		cp__slot o = {{0}, 0, 0}, tmp[CP_MAX_MONTHS];
		cx->row = rows[k];
		for (uint32_t j = 0; j < in->n; j++)
			fused_cell(in, cx, j, &tmp[j]);
		aggregate(OP_SUM_I + (in->op - OP_W_SUM_I), tmp, in->n, &o);
		d->v[k] = o.v;
		null |= (uint64_t)(o.null != 0) << k;
	}
	d->null = null;
}

static void rows_load(const cp__insn *in, cp__col *cols, const cp__ectx *cx,
                      const uint8_t *const *rows, unsigned nrows, const uint64_t *pr)
{
	for (uint32_t e = 0; e < in->n; e++) {
		cp__col *d = &cols[in->dst + e];
		const uint32_t off = in->b + e * in->c;
		uint64_t null = 0;
		for (unsigned k = 0; k < nrows; k++)
			null |= (~pr[k] >> e & 1) << k;
		d->null = null;
		switch (in->op) {
		case OP_LOAD_I64:
		case OP_LOAD_F64:
			for (unsigned k = 0; k < nrows; k++)
				memcpy(&d->v[k].i, rows[k] + off, 8);
			break;
		case OP_LOAD_BOOL:
			for (unsigned k = 0; k < nrows; k++)
				d->v[k].i = rows[k][off] != 0;
			col_truth(d);
			break;
		case OP_LOAD_DATE:
			for (unsigned k = 0; k < nrows; k++)
				d->v[k].i = cell_i32(rows[k] + off, 0);
			break;
		default:
			for (unsigned k = 0; k < nrows; k++) {
				uint32_t v;
				memcpy(&v, rows[k] + off, 4);
				if (in->op == OP_LOAD_ENUM)
					d->v[k].i = v;
				else if (in->op == OP_LOAD_STR)
					d->v[k].s = cp__store_str(cx->store, v);
				else
					d->v[k].l = cp__store_list(cx->store, v);
			}
			break;
		}
	}
}

/* An operation without a column form: the one-profile code for each row,
 * on copies of the operands. */
static void rows_fallback(cp__block *b, const cp__insn *in, cp__ectx *cx,
                          const uint8_t *const *rows, unsigned nrows)
{
	cp__col *cols = b->cols;
	uint32_t na, nb, nc, nd = cp__insn_writes(in);
	cp__insn_reads(in, &na, &nb, &nc);
	cp__insn t = *in; /* operands renumbered into tmp; b and c stay when
	                   * they are not slots (IN_I's and E2S's c is a count) */
	t.a = 0;
	if (nb)
		t.b = na;
	if (nc)
		t.c = na + nb;
	t.dst = na + nb + nc;
	cp__slot *s = b->tmp;
	for (uint32_t i = 0; i < nd; i++)
		cols[in->dst + i].null = 0;
	for (unsigned k = 0; k < nrows; k++) {
		for (uint32_t i = 0; i < na; i++) {
			s[i].v = cols[in->a + i].v[k];
			s[i].null = (cols[in->a + i].null >> k) & 1;
		}
		for (uint32_t i = 0; i < nb; i++) {
			s[na + i].v = cols[in->b + i].v[k];
			s[na + i].null = (cols[in->b + i].null >> k) & 1;
		}
		for (uint32_t i = 0; i < nc; i++) {
			s[na + nb + i].v = cols[in->c + i].v[k];
			s[na + nb + i].null = (cols[in->c + i].null >> k) & 1;
		}
		cx->row = rows[k];
		cp__exec_one(&t, s, cx);
		for (uint32_t i = 0; i < nd; i++) {
			cols[in->dst + i].v[k] = s[t.dst + i].v;
			cols[in->dst + i].null |= (uint64_t)(s[t.dst + i].null != 0) << k;
		}
	}
	for (uint32_t i = 0; i < nd; i++)
		col_truth(&cols[in->dst + i]);
}

/* Aggregates of computed windows (not straight from the row): each row's
 * window gathered, then cp_eval's aggregate. */
static void rows_aggregate(const cp__insn *in, cp__col *cols, unsigned nrows)
{
	cp__col *d = &cols[in->dst];
	cp__slot w[CP_MAX_MONTHS];
	uint64_t null = 0;
	for (unsigned k = 0; k < nrows; k++) {
		for (uint32_t e = 0; e < in->n; e++) {
			w[e].v = cols[in->a + e].v[k];
			w[e].null = (cols[in->a + e].null >> k) & 1;
		}
		cp__slot o = {{0}, 0, 0};
		aggregate(in->op, w, in->n, &o);
		d->v[k] = o.v;
		null |= (uint64_t)(o.null != 0) << k;
	}
	d->null = null;
}

/* ---- truth values: Kleene logic on (true, null) masks ---- */

static void logic_window(const cp__insn *in, cp__col *cols)
{
	cp__col *d = &cols[in->dst];
	uint64_t any_t = 0, any_f = 0, any_n = 0;
	for (uint32_t e = 0; e < in->n; e++) {
		const cp__col *x = &cols[in->a + e];
		any_t |= x->t;
		any_n |= x->null;
		any_f |= ~x->t & ~x->null;
	}
	switch (in->op) {
	case OP_ALL:
		d->null = ~any_f & any_n;
		d->t = ~any_f & ~any_n;
		break;
	case OP_ANY:
		d->null = ~any_t & any_n;
		d->t = any_t;
		break;
	default: /* OP_NONE */
		d->null = ~any_t & any_n;
		d->t = ~any_t & ~any_n;
		break;
	}
	col_values(d);
}

static void count_window(const cp__insn *in, cp__col *cols)
{
	cp__col *d = &cols[in->dst];
	int64_t c[CP_BLOCK_ROWS] = {0};
	uint64_t run = ALL_ROWS, undecided = ALL_ROWS;
	for (uint32_t e = 0; e < in->n; e++) {
		uint64_t t = cols[in->a + e].t;
		if (in->op == OP_STREAK)
			t = run &= t;
		if (in->op == OP_SINCE) {
			for (uint64_t w = t & undecided; w; w &= w - 1)
				c[__builtin_ctzll(w)] = e;
			undecided &= ~t;
			continue;
		}
		for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
			c[k] += (int64_t)((t >> k) & 1);
	}
	for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
		d->v[k].i = c[k];
	d->null = in->op == OP_SINCE ? undecided : 0;
	d->t = 0;
	for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
		d->t |= (uint64_t)(c[k] != 0) << k;
	d->t &= ~d->null;
}

static void first_match(const cp__insn *in, cp__col *cols)
{
	const uint32_t *earlier = in->imm.p;
	uint64_t r = (in->flags & CP_FIRST_HAS_OWN) ? cols[in->a].t : ALL_ROWS;
	for (uint32_t j = 0; j < in->c; j++)
		r &= ~cols[earlier[j]].t;
	cp__col *d = &cols[in->dst];
	d->t = r;
	d->null = 0;
	col_values(d);
}

static void track(const cp__insn *in, cp__col *cols)
{
	const cp__track_rule_ref *rules = in->imm.p;
	cp__col *stage = &cols[in->dst], *rule = &cols[in->dst + 1];
	for (unsigned k = 0; k < CP_BLOCK_ROWS; k++) {
		stage->v[k].i = in->b;
		rule->v[k].i = -1;
	}
	uint64_t open = ALL_ROWS;
	for (uint32_t j = 0; j < in->c && open; j++) {
		uint64_t hit = cols[rules[j].slot].t & open;
		for (uint64_t w = hit; w; w &= w - 1) {
			unsigned k = (unsigned)__builtin_ctzll(w);
			stage->v[k].i = rules[j].stage;
			rule->v[k].i = j;
		}
		open &= ~hit;
	}
	stage->null = rule->null = 0;
	col_truth(stage);
	col_truth(rule);
}

/* ---- the program ---- */

/* The presence bits of instruction i's cells for every row (shared). */
static const uint64_t *presence_of(cp__block *b, size_t i, const uint8_t *const *rows,
                                   unsigned nrows)
{
	const cp__insn *in = &b->rs->fast[i];
	uint64_t *pr = b->pcache[b->pid[i]];
	if (b->pfirst[i])
		block_presence(in->a, presence_count(in), rows, nrows, b->rs->schema->row_size, pr);
	return pr;
}

static void block_as_of(cp__block *b, cp__ectx *cx, int yyyymm)
{
	if (yyyymm != b->asof_month) {
		int y = yyyymm / 100, m = yyyymm % 100;
		b->asof.has_as_of = !(yyyymm <= 0 || m < 1 || m > 12);
		if (b->asof.has_as_of) {
			b->asof.as_of = cp__days_from_civil(y, m, cp__days_in_month(y, m));
			cp__civil_from_days((cp_date)b->asof.as_of, &b->asof.asof_y, &b->asof.asof_m,
			                    &b->asof.asof_d);
		}
		b->asof_month = yyyymm;
	}
	cx->has_as_of = b->asof.has_as_of;
	cx->as_of = b->asof.as_of;
	cx->asof_y = b->asof.asof_y;
	cx->asof_m = b->asof.asof_m;
	cx->asof_d = b->asof.asof_d;
}

void cp__block_eval(cp__block *b, const uint8_t *const *rows, unsigned nrows,
                    const cp_store *store, int as_of_yyyymm)
{
	const cp_ruleset *rs = b->rs;
	cp__col *cols = b->cols;
	cp__ectx cx;
	memset(&cx, 0, sizeof(cx));
	cx.row_size = rs->schema->row_size;
	cx.store = store;
	block_as_of(b, &cx, as_of_yyyymm);
	if (nrows > CP_BLOCK_ROWS)
		nrows = CP_BLOCK_ROWS;
	b->nrows = nrows;
	for (size_t i = 0; i < rs->nfast; i++) {
		const cp__insn *in = &rs->fast[i];
		/* every row-reading instruction makes or takes its presence bits */
		const uint64_t *pr = b->pid[i] >= 0 ? presence_of(b, i, rows, nrows) : NULL;
		switch (in->op) {
		case OP_LOAD_I64: case OP_LOAD_F64: case OP_LOAD_BOOL: case OP_LOAD_DATE:
		case OP_LOAD_ENUM: case OP_LOAD_STR: case OP_LOAD_ITEMS:
			rows_load(in, cols, &cx, rows, nrows, pr);
			break;
		case OP_W_ALL: case OP_W_ANY: case OP_W_NONE: case OP_W_COUNT: case OP_F_CMP:
			block_window_test(in, &cols[in->dst], rows, nrows, cx.row_size, pr);
			break;
		case OP_W_SUM_I: case OP_W_SUM_F: case OP_W_AVG_I: case OP_W_AVG_F: case OP_W_AVG_M:
#if CP_BLOCK_AVX2
			if (in->c == 8 && in->n <= 8 && in->op != OP_W_SUM_F && in->op != OP_W_AVG_F &&
			    in->b + (in->n <= 4 ? 32 : 64) <= cx.row_size && have_avx2()) {
				avx2_sum_i(in, &cols[in->dst], rows, nrows, pr);
				break;
			}
#endif
			if (in->c == 8) {
				block_window_sum(in, &cols[in->dst], rows, nrows, pr);
				break;
			}
			/* fall through */
			rows_fused(in, &cols[in->dst], &cx, rows, nrows);
			break;
		case OP_W_MIN_I: case OP_W_MIN_F: case OP_W_MAX_I: case OP_W_MAX_F:
			block_window_minmax(in, &cols[in->dst], rows, nrows, pr);
			break;

		case OP_I2F:
			ARITH_F1((double)XI);
			break;
		case OP_M2F:
			ARITH_F1((double)XI / 100.0);
			break;
		case OP_I2M:
			EW(0, 0, bad |= BIT(MUL_OVF(XI, (int64_t)100, &d->v[k].i)));
			break;
		case OP_ADD_I:
			EW(1, 0, bad |= BIT(ADD_OVF(XI, YI, &d->v[k].i)));
			break;
		case OP_SUB_I:
			EW(1, 0, bad |= BIT(SUB_OVF(XI, YI, &d->v[k].i)));
			break;
		case OP_MUL_I:
			EW(1, 0, bad |= BIT(MUL_OVF(XI, YI, &d->v[k].i)));
			break;
		case OP_NEG_I:
			EW(0, 0, {
				bad |= BIT(XI == INT64_MIN);
				d->v[k].i = XI == INT64_MIN ? 0 : -XI;
			});
			break;
		case OP_ADD_F:
			ARITH_F(XF + YF);
			break;
		case OP_SUB_F:
			ARITH_F(XF - YF);
			break;
		case OP_MUL_F:
			ARITH_F(XF * YF);
			break;
		case OP_DIV_F:
			EW(1, 0, {
				double r_ = YF == 0 ? 0 : XF / YF;
				d->v[k].f = r_;
				bad |= BIT(YF == 0 || !isfinite(r_));
			});
			break;
		case OP_NEG_F:
			ARITH_F1(-XF);
			break;

		case OP_EQ_I: CMP(i, ==); break;
		case OP_NE_I: CMP(i, !=); break;
		case OP_LT_I: CMP(i, <); break;
		case OP_LE_I: CMP(i, <=); break;
		case OP_GT_I: CMP(i, >); break;
		case OP_GE_I: CMP(i, >=); break;
		case OP_EQ_F: CMP(f, ==); break;
		case OP_NE_F: CMP(f, !=); break;
		case OP_LT_F: CMP(f, <); break;
		case OP_LE_F: CMP(f, <=); break;
		case OP_GT_F: CMP(f, >); break;
		case OP_GE_F: CMP(f, >=); break;

		case OP_AND:
			for (uint32_t e = 0; e < in->n; e++) {
				cp__col *d = &cols[in->dst + e];
				const cp__col *x = &cols[in->a + e * in->sa], *y = &cols[in->b + e * in->sb];
				uint64_t f = (~x->t & ~x->null) | (~y->t & ~y->null);
				d->t = x->t & y->t;
				d->null = (x->null | y->null) & ~f;
				col_values(d);
			}
			break;
		case OP_OR:
			for (uint32_t e = 0; e < in->n; e++) {
				cp__col *d = &cols[in->dst + e];
				const cp__col *x = &cols[in->a + e * in->sa], *y = &cols[in->b + e * in->sb];
				d->t = x->t | y->t;
				d->null = (x->null | y->null) & ~d->t;
				col_values(d);
			}
			break;
		case OP_NOT:
			for (uint32_t e = 0; e < in->n; e++) {
				cp__col *d = &cols[in->dst + e];
				const cp__col *x = &cols[in->a + e * in->sa];
				d->null = x->null;
				d->t = ~x->t & ~x->null;
				col_values(d);
			}
			break;
		case OP_TRUTH: {
			cp__col *d = &cols[in->dst];
			d->t = cols[in->a].t;
			d->null = 0;
			col_values(d);
			break;
		}
		case OP_PRESENT:
			for (uint32_t e = 0; e < in->n; e++) {
				cp__col *d = &cols[in->dst + e];
				d->t = ~cols[in->a + e * in->sa].null;
				d->null = 0;
				col_values(d);
			}
			break;
		case OP_ALL: case OP_ANY: case OP_NONE:
			logic_window(in, cols);
			break;
		case OP_COUNT: case OP_STREAK: case OP_SINCE:
			count_window(in, cols);
			break;
		case OP_SUM_I: case OP_SUM_F: case OP_AVG_I: case OP_AVG_F: case OP_AVG_M:
		case OP_MIN_I: case OP_MIN_F: case OP_MAX_I: case OP_MAX_F:
			rows_aggregate(in, cols, nrows);
			break;
		case OP_MIN2_I:
			EW(1, 0, d->v[k].i = XI < YI ? XI : YI);
			break;
		case OP_MAX2_I:
			EW(1, 0, d->v[k].i = XI > YI ? XI : YI);
			break;
		case OP_MIN2_F:
			ARITH_F(XF < YF ? XF : YF);
			break;
		case OP_MAX2_F:
			ARITH_F(XF > YF ? XF : YF);
			break;
		case OP_COALESCE:
			for (uint32_t e = 0; e < in->n; e++) {
				cp__col *d = &cols[in->dst + e];
				const cp__col *x = &cols[in->a + e * in->sa], *y = &cols[in->b + e * in->sb];
				for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
					d->v[k] = (x->null >> k) & 1 ? y->v[k] : x->v[k];
				d->null = x->null & y->null;
				d->t = (x->t & ~x->null) | (y->t & x->null);
			}
			break;
		case OP_IF:
			for (uint32_t e = 0; e < in->n; e++) {
				cp__col *d = &cols[in->dst + e];
				const cp__col *c = &cols[in->a + e * in->sa], *x = &cols[in->b + e * in->sb],
				              *y = &cols[in->c + e * in->sc];
				for (unsigned k = 0; k < CP_BLOCK_ROWS; k++)
					d->v[k] = (c->t >> k) & 1 ? x->v[k] : y->v[k];
				d->null = (c->t & x->null) | (~c->t & y->null);
				d->t = ((c->t & x->t) | (~c->t & y->t)) & ~d->null;
			}
			break;
		case OP_DAYS_SINCE:
			if (!cx.has_as_of) {
				for (uint32_t e = 0; e < in->n; e++)
					cols[in->dst + e].null = ALL_ROWS;
				break;
			}
			EW(0, 0, d->v[k].i = cx.as_of - XI);
			break;
		case OP_FIRST:
			first_match(in, cols);
			break;
		case OP_TRACK:
			track(in, cols);
			break;
		default:
			rows_fallback(b, in, &cx, rows, nrows);
			break;
		}
	}
}

void cp__block_prefetch(const cp__block *b, const uint8_t *const *rows, unsigned n)
{
	const cp_ruleset *rs = b->rs;
	for (unsigned k = 0; k < n; k++)
		for (size_t i = 0; i < rs->nprefetch; i++)
			CP_PREFETCH(rows[k] + rs->prefetch[i]);
}

uint64_t cp__block_tag_mask(const cp__block *b, int tag)
{
	if (tag < 0 || tag >= b->rs->ntags)
		return 0;
	return b->cols[b->rs->tags[tag].out_slot].t & row_mask(b->nrows);
}

int cp__block_stage(const cp__block *b, int track, unsigned k, int *rule)
{
	if (track < 0 || track >= b->rs->ntracks || k >= b->nrows)
		return -1;
	const cp__col *c = &b->cols[b->rs->tracks[track].slot];
	if (rule)
		*rule = (int)c[1].v[k].i;
	return (int)c->v[k].i;
}

void cp__block_slot(const cp__block *b, uint32_t slot, unsigned k, cp__slot *out)
{
	const cp__col *c = &b->cols[slot];
	out->v = c->v[k];
	out->null = (c->null >> k) & 1;
	out->pad_ = 0;
}
