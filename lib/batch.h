/*
 * batch.h — the batch module (DESIGN §8): a pass over every profile of a
 * store on several threads (batch.c), used by the tag table
 * (batch_tags.c), counts (batch_count.c) and target lists
 * (batch_select.c).
 *
 * A pass cuts the store's row slots into chunks of consecutive rows; the
 * threads (the calling one and nthreads - 1 others) take chunks in turn from
 * an atomic counter, so the work spreads evenly whatever each row costs.
 * Each thread evaluates into its own cp_result and hands every live row to
 * the pass's row function, with the chunk it belongs to; whoever needs a
 * result that does not depend on the number of threads keys it on the chunk
 * (the tag table) or on something total (the select's order, sums).
 */
#ifndef CP_BATCH_H
#define CP_BATCH_H

#include "query.h"

struct cp_batch_opts {
	cp_obj obj;
	int threads;            /* 0: one per online processor */
	cp_progress_fn progress;
	void *progress_data;
};

typedef struct cp__pass cp__pass;

/*
 * What a pass does with one live row: view points at it and res holds its
 * evaluation.  worker is 0 .. nthreads-1 (0: the calling thread).  A
 * non-zero return (a CP_E* code) stops the pass; give the reason with
 * cp__pass_fail first.
 */
typedef int (*cp__row_fn)(cp__pass *p, int worker, size_t chunk, size_t row,
                          const cp_view *view, const cp_result *res);
/* After the last row of a chunk (optional). */
typedef int (*cp__chunk_fn)(cp__pass *p, int worker, size_t chunk);

struct cp__pass {
	/* set by the caller */
	const cp_ruleset *rs;      /* what every row is evaluated with */
	const cp_store *store;
	const cp_batch_opts *opts; /* may be NULL */
	cp__row_fn row;
	cp__chunk_fn chunk_done;   /* may be NULL */
	void *ctx;                 /* the caller's */
	cp_obj *err;               /* the handle that gets the failure's message */
	/* set by cp__pass_plan */
	int nthreads;
	size_t nrows;              /* row slots visited */
	size_t chunk_rows;         /* rows per chunk (the last may have fewer) */
	size_t nchunks;
	/* private to batch.c */
	struct cp__pass_state *st;
};

/*
 * Plan a pass: how many threads and chunks (so the caller can make
 * per-worker and per-chunk state), and check that the store's schema fits
 * the ruleset.  CP_OK or CP_EINVAL (message on p->err).
 */
int cp__pass_plan(cp__pass *p);
/* Rows of chunk c: [*first, *end). */
void cp__pass_chunk(const cp__pass *p, size_t c, size_t *first, size_t *end);
/*
 * Run a planned pass.  CP_OK, CP_ECANCELED (the progress callback), or the
 * first failure of an evaluation, a row function or thread creation; its
 * message is put on p->err.
 */
int cp__pass_run(cp__pass *p);
/* From a row function: record why the pass fails (the first reason wins)
 * and return code. */
int cp__pass_fail(cp__pass *p, int code, const char *fmt, ...) CP_PRINTF(3, 4);

/* Tests only: rows per chunk instead of the planned size (0: planned). */
extern size_t cp__batch_chunk_rows;

#endif /* CP_BATCH_H */

/* ---- expressions of the batch objects (batch.c) ---- */

/* The expression of a column or dimension spec: "arpu_m1" is "arpu[1]"
 * when arpu is a series field and no field or metric is called arpu_m1;
 * anything else as it is.  Appended to b; returns the length of the field
 * name when the spec was rewritten, else 0. */
size_t cp__batch_expr_text(const cp_ruleset *rs, const char *spec, cp_buf *b);
/*
 * Add spec (through cp__batch_expr_text) to q as an expression named name.
 * Every diagnostic goes to diag (may be NULL) and the first error to
 * cp_errmsg(obj).  Returns the expression's index or a CP_E* code.
 */
int cp__batch_add_expr(cp_query *q, const char *spec, const char *name, bool want_bool,
                       cp_diag *diag, cp_obj *obj);
/* An error about a whole expression i of q (it has the wrong type, ...):
 * to diag at its name, line 1, column 1, and to obj.  Returns code. */
int cp__batch_expr_error(cp_query *q, int i, int code, cp_diag *diag, cp_obj *obj,
                         const char *fmt, ...) CP_PRINTF(6, 7);
/* The label of expression i written as spec: a field's label ("ARPU", with
 * "[i]" for one month), a metric's label, else spec.  cp__free it (NULL
 * without memory). */
char *cp__batch_expr_label(const cp_query *q, int i, const char *spec);
