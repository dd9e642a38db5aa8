/*
 * query.h — ad-hoc expressions compiled against a compiled ruleset
 * (rules_query.c): the public cp_query, and the filters, orders, columns and
 * dimensions of the batch module (lib/batch*).
 *
 * A query extends its base ruleset: it owns a *derived* cp_ruleset that
 * shares the base's tags, groups, tracks, parameters and names, and has its
 * own copy of the program with the expressions' code appended.  A cp_result
 * made from the derived ruleset is evaluated with cp_eval like any other:
 * one run computes every tag, stage and metric of the base and the value of
 * every expression, which is then read from its slot.
 */
#ifndef CP_QUERY_H
#define CP_QUERY_H

#include "rules.h"

/* One expression of a query. */
typedef struct cp__qexpr {
	cp__expr x;        /* text and tree (in the derived ruleset's arena) */
	uint32_t slot;     /* first slot of the value */
	cp__type type;
	int field;         /* a field as it is (name or name[i]): its index, else -1 */
	int month;         /* ... and the month read (a window: the first) */
} cp__qexpr;

struct cp_query {
	cp_obj obj;
	const cp_ruleset *base;
	cp_ruleset rs;       /* the derived ruleset (rs.derived is true) */
	bool finished;       /* rs.fast holds every expression added so far */
	cp__qexpr *exprs;
	int n, cap;
};

/* A query over base with no expression yet.  Free with cp_query_free. */
int cp__query_new(cp_query **out, const cp_ruleset *base);
/*
 * Parse, check and compile text[0..len) as one more expression of q.
 * want_bool: it is a condition (true/false, not a window).  name labels the
 * diagnostics (the "file"; line 1, columns count characters of text).
 * Returns the expression's index (>= 0), or a CP_E* code after adding every
 * error to diag (q is then unchanged but for memory in its arena).
 */
int cp__query_add(cp_query *q, const char *text, size_t len, const char *name, bool want_bool,
                  cp_diag *diag);
/* Build the derived ruleset's fast program (after the last add; again after
 * a later add).  CP_OK or CP_ENOMEM. */
int cp__query_finish(cp_query *q);

/* The value of expression i in res (a result of q->rs, evaluated). */
static inline const cp__slot *cp__query_value(const cp_query *q, const cp_result *res, int i)
{
	return &res->slots[q->exprs[i].slot];
}

/* 1 if expression i (a condition) is true in res; null is false. */
static inline bool cp__query_true(const cp_query *q, const cp_result *res, int i)
{
	const cp__slot *s = cp__query_value(q, res, i);
	return !s->null && s->v.i != 0;
}

/* The public enum cp_type of a checked type (0 for null and errors). */
int cp__type_public(cp__type t);

/*
 * Append the value of expression i in res to b as a CSV cell: "" for null,
 * bools 1/0, money in yuan, dates YYYY-MM-DD, floats as cp_view_text writes
 * them, set and list items and window elements joined by ';'.  labels:
 * closed enum values by their labels (the schema's value labels, stage
 * labels of the ruleset).
 */
void cp__query_format(const cp_query *q, const cp_result *res, int i, bool labels, cp_buf *b);
/* One string of a set or list value (an item id of v.l). */
const char *cp__query_item(const cp_result *res, uint32_t id);
/* The label of value v of enum en (a field's value label, a stage's label),
 * or its name. */
const char *cp__query_enum_label(const cp_query *q, const cp__enumdef *en, int64_t v);

#endif /* CP_QUERY_H */
