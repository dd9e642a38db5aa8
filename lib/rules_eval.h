/*
 * rules_eval.h — what the two evaluators share: the one-profile program
 * runner (rules_eval.c) and the block evaluator (rules_block.c).  Static
 * inline helpers that give every operation its meaning once: overflow-
 * checked integer arithmetic, Kleene truth, aggregates, comparisons, and
 * the fused operations that read a row's cells.
 */
#ifndef CP_RULES_EVAL_H
#define CP_RULES_EVAL_H

#include "rules.h"

#include <math.h>
#include <string.h>

/* ---- integer arithmetic with overflow -> null ---- */

#if defined(__GNUC__) || defined(__clang__)
#define ADD_OVF(a, b, r) __builtin_add_overflow(a, b, r)
#define SUB_OVF(a, b, r) __builtin_sub_overflow(a, b, r)
#define MUL_OVF(a, b, r) __builtin_mul_overflow(a, b, r)
#else
static inline bool add_ovf(int64_t a, int64_t b, int64_t *r)
{
	if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
		return true;
	*r = a + b;
	return false;
}
static inline bool sub_ovf(int64_t a, int64_t b, int64_t *r)
{
	if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b))
		return true;
	*r = a - b;
	return false;
}
static inline bool mul_ovf(int64_t a, int64_t b, int64_t *r)
{
	if (a && b &&
	    (a > 0 ? (b > 0 ? a > INT64_MAX / b : b < INT64_MIN / a)
	           : (b > 0 ? a < INT64_MIN / b : a < INT64_MAX / b)))
		return true;
	*r = a * b;
	return false;
}
#define ADD_OVF(a, b, r) add_ovf(a, b, r)
#define SUB_OVF(a, b, r) sub_ovf(a, b, r)
#define MUL_OVF(a, b, r) mul_ovf(a, b, r)
#endif

static inline void set_f(cp__slot *o, double v)
{
	o->v.f = v;
	o->null = !isfinite(v);
}

static inline void set_i(cp__slot *o, int64_t v)
{
	o->v.i = v;
	o->null = 0;
}

static inline bool truth(const cp__slot *x)
{
	return !x->null && x->v.i;
}

/* Whole calendar months from date a to date b (a <= b); a month is complete
 * when b's day of month reaches a's, or b is the last day of its month. */
static inline int64_t whole_months(int ya, int ma, int da, int yb, int mb, int db)
{
	int64_t m = (int64_t)(yb - ya) * 12 + (mb - ma);
	if (db < da && db != cp__days_in_month(yb, mb))
		m--;
	return m;
}

static inline int64_t months_between(int64_t d, const cp__ectx *cx)
{
	int y, m, dd;
	cp__civil_from_days((cp_date)d, &y, &m, &dd);
	if (d <= cx->as_of)
		return whole_months(y, m, dd, cx->asof_y, cx->asof_m, cx->asof_d);
	return -whole_months(cx->asof_y, cx->asof_m, cx->asof_d, y, m, dd);
}

static inline bool item_has(const uint32_t *items, const cp_store *store, const char *s)
{
	uint32_t n = items[0];
	for (uint32_t i = 1; i <= n; i++)
		if (strcmp(cp__store_str(store, items[i]), s) == 0)
			return true;
	return false;
}

/*
 * Least-squares slope of the non-null elements, x = -index (so a value that
 * rises towards the present has a positive slope).  Int and money (fen)
 * data: from exact sums, (n*Sxy - Sx*Sy) / (n*Sxx - Sx*Sx), one rounding
 * (money: divided by 100 in the same division, yuan).  Float data: centred
 * on the means first, which loses less to cancellation.
 */
static inline void slope(const cp__slot *a, uint32_t n, int kind, cp__slot *o)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;
	for (uint32_t k = 0; k < n; k++) {
		if (a[k].null)
			continue;
		double x = -(double)k, y = kind == 1 ? a[k].v.f : (double)a[k].v.i;
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		m++;
	}
	if (m < 2) {
		o->null = 1;
		return;
	}
	if (kind != 1) {
		set_f(o, (m * sxy - sx * sy) / ((m * sxx - sx * sx) * (kind == 2 ? 100.0 : 1.0)));
		return;
	}
	double mx = sx / m, my = sy / m, cxx = 0, cxy = 0;
	for (uint32_t k = 0; k < n; k++) {
		if (a[k].null)
			continue;
		double dx = -(double)k - mx;
		cxx += dx * dx;
		cxy += dx * (a[k].v.f - my);
	}
	set_f(o, cxy / cxx);
}

#if defined(__GNUC__) || defined(__clang__)
#define CP_PREFETCH(p) __builtin_prefetch(p)
#else
#define CP_PREFETCH(p) ((void)(p))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* The aggregates of a window a[0..n) into *D. */
static ALWAYS_INLINE void aggregate(int op, const cp__slot *A, uint32_t n, cp__slot *D)
{
	switch (op) {
	case OP_SUM_I:
	case OP_AVG_I:
	case OP_AVG_M: {
		int64_t sum = 0;
		uint32_t m = 0;
		bool over = false;
		for (uint32_t k = 0; k < n; k++) {
			if (A[k].null)
				continue;
			over |= ADD_OVF(sum, A[k].v.i, &sum);
			m++;
		}
		if (!m || over)
			D->null = 1;
		else if (op == OP_SUM_I)
			set_i(D, sum);
		else
			set_f(D, (double)sum / m / (op == OP_AVG_M ? 100.0 : 1.0));
		break;
	}
	case OP_SUM_F:
	case OP_AVG_F: {
		double sum = 0;
		uint32_t m = 0;
		for (uint32_t k = 0; k < n; k++) {
			if (A[k].null)
				continue;
			sum += A[k].v.f;
			m++;
		}
		if (!m)
			D->null = 1;
		else
			set_f(D, op == OP_SUM_F ? sum : sum / m);
		break;
	}
	case OP_MIN_I:
	case OP_MAX_I: {
		bool any = false, mx = op == OP_MAX_I;
		int64_t best = 0;
		for (uint32_t k = 0; k < n; k++) {
			if (A[k].null)
				continue;
			if (!any || (mx ? A[k].v.i > best : A[k].v.i < best))
				best = A[k].v.i;
			any = true;
		}
		if (any)
			set_i(D, best);
		else
			D->null = 1;
		break;
	}
	case OP_MIN_F:
	case OP_MAX_F: {
		bool any = false, mx = op == OP_MAX_F;
		double best = 0;
		for (uint32_t k = 0; k < n; k++) {
			if (A[k].null)
				continue;
			if (!any || (mx ? A[k].v.f > best : A[k].v.f < best))
				best = A[k].v.f;
			any = true;
		}
		if (any)
			set_f(D, best);
		else
			D->null = 1;
		break;
	}
	case OP_COUNT: {
		int64_t c = 0;
		for (uint32_t k = 0; k < n; k++)
			c += truth(&A[k]);
		set_i(D, c);
		break;
	}
	case OP_ALL:
	case OP_ANY:
	case OP_NONE: {
		bool any_true = false, any_false = false, any_null = false;
		for (uint32_t k = 0; k < n; k++) {
			if (A[k].null)
				any_null = true;
			else if (A[k].v.i)
				any_true = true;
			else
				any_false = true;
		}
		if (op == OP_ALL) {
			if (any_false)
				set_i(D, 0);
			else if (any_null)
				D->null = 1;
			else
				set_i(D, 1);
		} else {
			bool none = op == OP_NONE;
			if (any_true)
				set_i(D, none ? 0 : 1);
			else if (any_null)
				D->null = 1;
			else
				set_i(D, none ? 1 : 0);
		}
		break;
	}
	case OP_STREAK: {
		int64_t c = 0;
		while (c < n && truth(&A[c]))
			c++;
		set_i(D, c);
		break;
	}
	case OP_SINCE: {
		D->null = 1;
		for (uint32_t k = 0; k < n; k++) {
			if (truth(&A[k])) {
				set_i(D, k);
				break;
			}
		}
		break;
	}
	case OP_SLOPE_I: slope(A, n, 0, D); break;
	case OP_SLOPE_F: slope(A, n, 1, D); break;
	case OP_SLOPE_M: slope(A, n, 2, D); break;

	default:
		break;
	}
}

static ALWAYS_INLINE bool cmp_i(unsigned kind, int64_t a, int64_t b)
{
	switch (kind) {
	case C_EQ: return a == b;
	case C_NE: return a != b;
	case C_LT: return a < b;
	case C_LE: return a <= b;
	case C_GT: return a > b;
	default: return a >= b;
	}
}

static ALWAYS_INLINE bool cmp_f(unsigned kind, double a, double b)
{
	switch (kind) {
	case C_EQ: return a == b;
	case C_NE: return a != b;
	case C_LT: return a < b;
	case C_LE: return a <= b;
	case C_GT: return a > b;
	default: return a >= b;
	}
}

/* Cell k of a fused operation's field, as a slot. */
static ALWAYS_INLINE void fused_cell(const cp__insn *in, const cp__ectx *cx, uint32_t k,
                                     cp__slot *o)
{
	const uint8_t *p = cx->row + in->b + k * in->c;
	o->null = !cp__row_present(cx->row, in->a + k);
	if (in->c == 8) {
		memcpy(&o->v.i, p, 8); /* an int64 or a double: the same bits */
	} else if (in->c == 4) {
		int32_t v;
		memcpy(&v, p, 4);
		o->v.i = v;
	} else {
		o->v.i = *p != 0;
	}
}

/* The presence bitmap is bytes: read 8 of them as a little-endian word. */
static inline uint64_t cp__le64(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(w);
#else
	return w;
#endif
}

/* Bits set in w.  Without -mpopcnt the builtin is a library call: the
 * word-parallel count is inline. */
static inline int popcount64(uint64_t w)
{
#if defined(__POPCNT__) && (defined(__GNUC__) || defined(__clang__))
	return __builtin_popcountll(w);
#else
	w = w - ((w >> 1) & UINT64_C(0x5555555555555555));
	w = (w & UINT64_C(0x3333333333333333)) + ((w >> 2) & UINT64_C(0x3333333333333333));
	w = (w + (w >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (int)((w * UINT64_C(0x0101010101010101)) >> 56);
#endif
}

/* Presence bits of cells [cell, cell + n) as the low n bits of a word (n <= 36). */
static ALWAYS_INLINE uint64_t presence(const cp__ectx *cx, uint32_t cell, uint32_t n)
{
	uint32_t at = CP_ROW_HEADER_BYTES + (cell >> 3);
	uint64_t w = 0;
	if (at + 8 <= cx->row_size) {
		memcpy(&w, cx->row + at, 8);
		w = cp__le64(w);
	} else {
		for (uint32_t i = 0; at + i < cx->row_size && i < 8; i++)
			w |= (uint64_t)cx->row[at + i] << (8 * i);
	}
	return (w >> (cell & 7)) & ((UINT64_C(1) << n) - 1);
}

/* Bit k set when cell k compares true with the constant (cells present or not). */
#define TEST_CELLS(T, W, V)                                                         \
	do {                                                                            \
		T k_ = (T)(V);                                                              \
		switch (kind) {                                                             \
		case C_EQ: for (uint32_t k = 0; k < n; k++) bits |= (uint64_t)(W(k) == k_) << k; break; \
		case C_NE: for (uint32_t k = 0; k < n; k++) bits |= (uint64_t)(W(k) != k_) << k; break; \
		case C_LT: for (uint32_t k = 0; k < n; k++) bits |= (uint64_t)(W(k) < k_) << k; break; \
		case C_LE: for (uint32_t k = 0; k < n; k++) bits |= (uint64_t)(W(k) <= k_) << k; break; \
		case C_GT: for (uint32_t k = 0; k < n; k++) bits |= (uint64_t)(W(k) > k_) << k; break; \
		default: for (uint32_t k = 0; k < n; k++) bits |= (uint64_t)(W(k) >= k_) << k; break; \
		}                                                                           \
	} while (0)

static ALWAYS_INLINE int64_t cell_i64(const uint8_t *p, uint32_t k)
{
	int64_t v;
	memcpy(&v, p + 8 * k, 8);
	return v;
}

static ALWAYS_INLINE double cell_f64(const uint8_t *p, uint32_t k)
{
	double v;
	memcpy(&v, p + 8 * k, 8);
	return v;
}

static ALWAYS_INLINE int32_t cell_i32(const uint8_t *p, uint32_t k)
{
	int32_t v;
	memcpy(&v, p + 4 * k, 4);
	return v;
}

/* all/any/none/count of (cell cmp constant) over a field's window: the
 * comparisons as a bit mask, then Kleene logic on the masks. */
static ALWAYS_INLINE void window_test(const cp__insn *in, const cp__ectx *cx, cp__slot *D)
{
	const uint32_t n = in->n;
	const unsigned kind = in->flags & 7;
	const uint8_t *p = cx->row + in->b;
	uint64_t bits = 0;
#define CELL_I64(k) cell_i64(p, k)
#define CELL_F64(k) cell_f64(p, k)
#define CELL_I32(k) cell_i32(p, k)
#define CELL_U8(k) (p[k] != 0)
	if (in->c == 8 && (in->flags & CP_FUSED_FLOAT))
		TEST_CELLS(double, CELL_F64, in->imm.f);
	else if (in->c == 8)
		TEST_CELLS(int64_t, CELL_I64, in->imm.i);
	else if (in->c == 4)
		TEST_CELLS(int64_t, CELL_I32, in->imm.i);
	else
		TEST_CELLS(int64_t, CELL_U8, in->imm.i);
	uint64_t all = (UINT64_C(1) << n) - 1;
	uint64_t present = presence(cx, in->a, n);
	uint64_t t = bits & present, f = ~bits & present;
	switch (in->op) {
	case OP_W_COUNT:
		set_i(D, popcount64(t));
		break;
	case OP_W_ALL:
		if (f)
			set_i(D, 0);
		else if (present != all)
			D->null = 1;
		else
			set_i(D, 1);
		break;
	default: {
		bool none = in->op == OP_W_NONE;
		if (t)
			set_i(D, !none);
		else if (present != all)
			D->null = 1;
		else
			set_i(D, none);
		break;
	}
	}
}

#endif /* CP_RULES_EVAL_H */
