/*
 * rules_eval.c — the evaluator: one pass over the program's instructions,
 * reading one profile row, writing value slots of a cp_result.  Nothing is
 * allocated while evaluating.
 *
 * Semantics (DESIGN §5.2), in one place:
 *  - any operand null -> null (arithmetic, comparisons, scalar functions),
 *    except and/or/not (Kleene), coalesce, present, if (null condition ->
 *    else branch) and the aggregates (which skip nulls);
 *  - integer overflow, division by zero, and a float result that is not
 *    finite give null;
 *  - '/' is float division; money is integer fen; money converted to float
 *    is yuan.
 */
#include "rules_eval.h"

#define LOOP for (uint32_t k = 0, n_ = n; k < n_; k++)
#define XA (A + k * ia)
#define XB (B + k * ib)
#define XC (C + k * ic)
#define XD (D + k)

/* Element-wise binary operations: null if either operand is null.  A single
 * value (the usual case) skips the loop. */
#define BIN(...)                                          \
	do {                                                  \
		if (n == 1) {                                     \
			const cp__slot *x = A, *y = B;                \
			cp__slot *o = D;                              \
			if (x->null | y->null)                        \
				o->null = 1;                              \
			else {                                        \
				__VA_ARGS__;                              \
			}                                             \
			break;                                        \
		}                                                 \
		LOOP {                                            \
			const cp__slot *x = XA, *y = XB;              \
			cp__slot *o = XD;                             \
			if (x->null | y->null) {                      \
				o->null = 1;                              \
				continue;                                 \
			}                                             \
			__VA_ARGS__;                                  \
		}                                                 \
	} while (0);                                          \
	NEXT
#define UN(...)                                           \
	do {                                                  \
		if (n == 1) {                                     \
			const cp__slot *x = A;                        \
			cp__slot *o = D;                              \
			if (x->null)                                  \
				o->null = 1;                              \
			else {                                        \
				__VA_ARGS__;                              \
			}                                             \
			break;                                        \
		}                                                 \
		LOOP {                                            \
			const cp__slot *x = XA;                       \
			cp__slot *o = XD;                             \
			if (x->null) {                                \
				o->null = 1;                              \
				continue;                                 \
			}                                             \
			__VA_ARGS__;                                  \
		}                                                 \
	} while (0);                                          \
	NEXT

/*
 * The operands of instruction in, computed where an operation uses them
 * (loading every one for every instruction costs more than many
 * operations): n elements, the strides ia/ib/ic, the slots A/B/C and D.
 */
#define n (in->n)
#define ia ((size_t)in->sa)
#define ib ((size_t)in->sb)
#define ic ((size_t)in->sc)
#define D (s + in->dst)
#define A ((const cp__slot *)(s + in->a))
#define B ((const cp__slot *)(s + in->b))
#define C ((const cp__slot *)(s + in->c))

void cp__exec_one(const cp__insn *in, cp__slot *s, const cp__ectx *cx)
{
	switch (in->op) {
#define TARGET(name) case OP_##name:
#define NEXT break
#include "rules_ops.inc"
#undef TARGET
#undef NEXT
	default:
		break;
	}
}

/*
 * A whole program.  With GCC and Clang it is threaded code: every
 * instruction ends with its own indirect jump to the next one, which branch
 * predictors follow much better than one shared jump (the order of
 * instructions is the same for every profile).
 */
void cp__prog_run(const cp__insn *code, size_t count, cp__slot *s, const cp__ectx *cx)
{
	const cp__insn *in = code, *end = code + count;
	if (in == end)
		return;
#if defined(__GNUC__) || defined(__clang__)
	static const void *const targets[OP_COUNT_] = {
#define CP__OP_TARGET(name) [OP_##name] = &&L_##name,
		CP__OPS(CP__OP_TARGET)
#undef CP__OP_TARGET
	};
#define TARGET(name) L_##name:
#define NEXT                              \
	do {                                  \
		if (++in == end)                  \
			return;                       \
		goto *targets[in->op];            \
	} while (0)
	goto *targets[in->op];
#include "rules_ops.inc"
#undef TARGET
#undef NEXT
#else
	for (; in < end; in++)
		cp__exec_one(in, s, cx);
#endif
}

#undef n
#undef ia
#undef ib
#undef ic
#undef D
#undef A
#undef B
#undef C

void cp__prog_free(cp__prog *p)
{
	cp__free(p->code);
	cp__free(p->init);
	cp__free(p->is_const);
	memset(p, 0, sizeof(*p));
}

const char *cp__op_name(int op)
{
	static const char *const names[OP_COUNT_] = {
#define CP__OP_NAME(name) [OP_##name] = #name,
		CP__OPS(CP__OP_NAME)
#undef CP__OP_NAME
	};
	return op > 0 && op < OP_COUNT_ ? names[op] : "?";
}

/* ---- cp_result ---- */

int cp_result_new(cp_result **out, const cp_ruleset *rs)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!rs)
		return CP_EINVAL;
	cp_result *r = cp__calloc(1, sizeof(*r));
	if (!r)
		return CP_ENOMEM;
	cp__obj_init(&r->obj, CP_OBJ_RESULT);
	r->rs = rs;
	r->slots = cp__calloc((size_t)rs->prog.nslots + 1, sizeof(cp__slot));
	r->applying = cp__calloc((size_t)rs->ntags + 1, sizeof(int));
	r->rowbuf_size = rs->schema->row_size; /* cp_eval_key's copy of a row */
	r->rowbuf = cp__malloc(r->rowbuf_size);
	if (!r->slots || !r->applying || !r->rowbuf) {
		cp_result_free(r);
		return CP_ENOMEM;
	}
	/* constants once; everything else is written by every evaluation */
	if (rs->prog.nslots)
		memcpy(r->slots, rs->prog.init, rs->prog.nslots * sizeof(cp__slot));
	*out = r;
	return CP_OK;
}

void cp_result_free(cp_result *r)
{
	if (!r)
		return;
	cp__free(r->slots);
	cp__free(r->applying);
	cp__free(r->rowbuf);
	cp__obj_fini(&r->obj);
	cp__free(r);
}

int cp_result_set_as_of(cp_result *r, cp_date date)
{
	if (!r)
		return CP_EINVAL;
	r->has_as_of = true;
	r->as_of = date;
	return CP_OK;
}

void cp_result_clear_as_of(cp_result *r)
{
	if (r)
		r->has_as_of = false;
}

static void result_reset(cp_result *r)
{
	r->evaluated = false;
	r->napplying = -1;
}

int cp__result_eval_row(cp_result *r, const uint8_t *row, const cp_store *store,
                        int as_of_yyyymm, bool full)
{
	const cp_ruleset *rs = r->rs;
	cp__ectx cx;
	cx.row = row;
	cx.row_size = rs->schema->row_size;
	cx.store = store;
	cx.has_as_of = true;
	if (r->has_as_of) {
		cx.as_of = r->as_of;
	} else {
		int y = as_of_yyyymm / 100, m = as_of_yyyymm % 100;
		if (as_of_yyyymm <= 0 || m < 1 || m > 12) {
			cx.has_as_of = false;
		} else {
			if (as_of_yyyymm != r->asof_month) {
				r->asof_day = cp__days_from_civil(y, m, cp__days_in_month(y, m));
				r->asof_month = as_of_yyyymm;
			}
			cx.as_of = r->asof_day;
		}
	}
	if (cx.has_as_of) {
		if (!r->civil_valid || r->civil_day != cx.as_of) {
			cp__civil_from_days((cp_date)cx.as_of, &r->civil[0], &r->civil[1], &r->civil[2]);
			r->civil_day = (cp_date)cx.as_of;
			r->civil_valid = true;
		}
		cx.asof_y = r->civil[0];
		cx.asof_m = r->civil[1];
		cx.asof_d = r->civil[2];
	}
	/* the row's cells are spread over many cache lines: ask for all of
	 * them at once, so the misses overlap instead of queueing up */
	for (size_t i = 0; i < rs->nprefetch; i++)
		CP_PREFETCH(row + rs->prefetch[i]);
	if (full)
		cp__prog_run(rs->prog.code, rs->prog.ncode, r->slots, &cx);
	else
		cp__prog_run(rs->fast, rs->nfast, r->slots, &cx);
	r->cx_store = store;
	r->napplying = -1;
	r->evaluated = true;
	return CP_OK;
}

static bool same_field(const cp_field *a, const cp_field *b)
{
	if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->series != b->series ||
	    a->months != b->months || a->closed != b->closed || a->offset != b->offset ||
	    a->width != b->width || a->cell != b->cell)
		return false;
	if (!a->closed)
		return true;
	if (a->nvalues != b->nvalues)
		return false;
	for (int i = 0; i < a->nvalues; i++)
		if (strcmp(a->values[i], b->values[i]) != 0)
			return false;
	return true;
}

bool cp__schema_compatible(const cp_schema *a, const cp_schema *b)
{
	if (a == b)
		return true;
	if (a->nfields != b->nfields || a->row_size != b->row_size || a->months != b->months)
		return false;
	for (int f = 0; f < a->nfields; f++)
		if (!same_field(&a->fields[f], &b->fields[f]))
			return false;
	return true;
}

static int check_store(cp_result *r, const cp_store *store)
{
	const cp_schema *s = store->schema;
	if (s == r->checked_schema)
		return CP_OK;
	if (!cp__schema_compatible(s, r->rs->schema))
		return cp__fail(&r->obj, CP_EINVAL,
		                "the store's schema '%s' does not match the ruleset's schema '%s'",
		                s->name, r->rs->schema->name);
	r->checked_schema = s;
	return CP_OK;
}

int cp__result_eval_view(cp_result *r, const cp_view *view, bool full)
{
	if (!r || !view)
		return CP_EINVAL;
	result_reset(r);
	if (!view->row || !view->store)
		return cp__fail(&r->obj, CP_EINVAL, "the view points at no profile");
	int rc = check_store(r, view->store);
	if (rc != CP_OK)
		return rc;
	const cp_store *s = view->store;
	return cp__result_eval_row(r, view->row, s, cp_store_as_of(s), full);
}

int cp_eval(cp_result *r, const cp_view *view)
{
	return cp__result_eval_view(r, view, false);
}

int cp_eval_key(cp_result *r, const cp_store *store, const char *key)
{
	if (!r || !store || !key)
		return CP_EINVAL;
	result_reset(r);
	int rc = check_store(r, store);
	if (rc != CP_OK)
		return rc;
	size_t len = strlen(key);
	char buf[256];
	const char *why;
	if (len >= sizeof(buf) ||
	    cp__store_normalize_key(store->schema, key, len, buf, sizeof(buf), &why) != CP_OK)
		return cp__fail(&r->obj, CP_ENOTFOUND, "no profile with this key (not a valid key)");
	/* a copy of the row, as a view takes it: a writer may update the
	 * store meanwhile (store.h) */
	size_t rs = store->schema->row_size;
	if (r->rowbuf_size < rs) {
		uint8_t *b = cp__malloc(rs);
		if (!b)
			return cp__fail(&r->obj, CP_ENOMEM, "out of memory");
		cp__free(r->rowbuf);
		r->rowbuf = b;
		r->rowbuf_size = rs;
	}
	const uint8_t *row;
	const char *damage = NULL;
	if (cp__store_lookup_row(store, buf, strlen(buf), r->rowbuf, &row, &damage) == CP_NO_ID) {
		if (damage)
			return cp__fail(&r->obj, CP_ECORRUPT, "the profile of this key is damaged in "
			                "the snapshot (%s)", damage);
		return cp__fail(&r->obj, CP_ENOTFOUND, "no profile with this key");
	}
	return cp__result_eval_row(r, row, store, cp_store_as_of(store), false);
}

int cp_result_tag(const cp_result *r, int tag)
{
	if (!r || !r->evaluated || tag < 0 || tag >= r->rs->ntags)
		return 0;
	return truth(&r->slots[r->rs->tags[tag].out_slot]);
}

int cp_result_tag_count(const cp_result *r)
{
	if (!r || !r->evaluated)
		return 0;
	if (r->napplying < 0) {
		/* made on first use: tag-all loops that read cp_result_tag need not pay */
		cp_result *w = (cp_result *)r;
		int n = 0;
		for (int t = 0; t < r->rs->ntags; t++)
			if (truth(&r->slots[r->rs->tags[t].out_slot]))
				w->applying[n++] = t;
		w->napplying = n;
	}
	return r->napplying;
}

int cp_result_tag_at(const cp_result *r, int i)
{
	if (!r || !r->evaluated || i < 0 || i >= cp_result_tag_count(r))
		return -1;
	return r->applying[i];
}

int cp_result_stage(const cp_result *r, int track)
{
	if (!r || !r->evaluated || track < 0 || track >= r->rs->ntracks)
		return -1;
	return (int)r->slots[r->rs->tracks[track].slot].v.i;
}

int cp_result_stage_rule(const cp_result *r, int track)
{
	if (!r || !r->evaluated || track < 0 || track >= r->rs->ntracks)
		return -1;
	return (int)r->slots[r->rs->tracks[track].slot + 1].v.i;
}

const char *cp_result_stage_rule_id(const cp_result *r, int track)
{
	if (!r || !r->evaluated || track < 0 || track >= r->rs->ntracks)
		return NULL;
	const cp__track *t = &r->rs->tracks[track];
	int64_t rule = r->slots[t->slot + 1].v.i;
	return rule < 0 ? t->otherwise_id : t->rules[rule].id;
}

static const cp__slot *metric_slot(const cp_result *r, int m)
{
	if (!r || !r->evaluated || m < 0 || m >= r->rs->nmetrics)
		return NULL;
	const cp__node *root = r->rs->metrics[m].expr.root;
	return root && root->slot != CP_NO_SLOT ? &r->slots[root->slot] : NULL;
}

int cp_result_metric_is_null(const cp_result *r, int m)
{
	const cp__slot *s = metric_slot(r, m);
	return !s || s->null || r->rs->metrics[m].type.base == B_NULL;
}

int64_t cp_result_metric_int(const cp_result *r, int m)
{
	const cp__slot *s = metric_slot(r, m);
	if (!s || s->null)
		return 0;
	switch (r->rs->metrics[m].type.base) {
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

double cp_result_metric_float(const cp_result *r, int m)
{
	const cp__slot *s = metric_slot(r, m);
	if (!s || s->null)
		return 0;
	switch (r->rs->metrics[m].type.base) {
	case B_BOOL:
	case B_INT:
	case B_DATE:
		return (double)s->v.i;
	case B_MONEY:
		return (double)s->v.i / 100.0;
	case B_FLOAT:
		return s->v.f;
	default:
		return 0;
	}
}

int cp_result_metric_text(const cp_result *r, int m, char *buf, size_t size)
{
	if (!r || m < 0 || m >= r->rs->nmetrics || (!buf && size))
		return CP_EINVAL;
	if (!r->evaluated)
		return cp__fail(&((cp_result *)r)->obj, CP_EMISUSE, "nothing evaluated yet");
	const cp__slot *s = metric_slot(r, m);
	if (!s)
		return CP_EINVAL;
	cp_buf b;
	cp__buf_init(&b);
	cp__format_value(&b, s, r->rs->metrics[m].type, r->cx_store, false);
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
