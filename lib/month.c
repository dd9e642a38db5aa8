/*
 * month.c — closing a month (DESIGN §6) and loading the next one on top.
 *
 * Closing the as-of month M:
 *   1. every profile is evaluated with the ruleset on month M and its stage
 *      per track recorded as a new close of the stage history;
 *   2. every series shifts one month back (month i becomes i + 1, the
 *      oldest drops off, month 0 becomes null);
 *   3. the as-of month becomes M + 1.
 * Step 1 allocates everything it needs and step 2 reserves every row it
 * writes before the first is changed, so a failure leaves the store as it
 * was.  A store opened from a file takes its log first (one writer, and
 * the updates of other processes applied), and is compacted at the end:
 * the close itself is not logged (a record per row would double the file
 * for nothing).
 *
 * Loading on top (cp_load_opts_set_merge) starts a row from the stored
 * profile of its key: cp__profile_from_row.
 */
#include "lifecycle.h"
#include "rules.h"
#include "wal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the profile of a stored row, as a draft ---- */

static bool interned(const cp_field *f)
{
	return f->type == CP_TYPE_STRING || f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST ||
	       (f->type == CP_TYPE_ENUM && !f->closed);
}

/* The ids of one cell, re-made in the draft's pools. */
static int copy_ids(cp_profile *p, const cp_store *s, const cp_field *f, uint32_t *id)
{
	if (f->type != CP_TYPE_SET && f->type != CP_TYPE_LIST) {
		const char *str = cp__store_str(s, *id);
		return cp__strpool_add(&p->strings, str, strlen(str), id);
	}
	const uint32_t *l = cp__store_list(s, *id);
	uint32_t n = l[0];
	if (n > p->items_cap) {
		uint32_t *items = cp__reallocarray(p->items, n, sizeof(uint32_t));
		if (!items)
			return CP_ENOMEM;
		p->items = items;
		p->items_cap = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *str = cp__store_str(s, l[1 + i]);
		int rc = cp__strpool_add(&p->strings, str, strlen(str), &p->items[i]);
		if (rc != CP_OK)
			return rc;
	}
	return cp__listpool_add(&p->lists, p->items, n, id);
}

int cp__profile_from_row(cp_profile *p, const cp_store *s, const uint8_t *row)
{
	const cp_schema *sc = p->schema;
	cp_profile_clear(p);
	memcpy(p->row, row, sc->row_size);
	memset(p->row, 0, CP_ROW_HEADER_BYTES);
	for (int i = 0; i < sc->nfields; i++) {
		const cp_field *f = &sc->fields[i];
		if (!interned(f))
			continue;
		for (int m = 0; m < f->months; m++) {
			if (!cp__row_present(row, f->cell + (uint32_t)m))
				continue;
			uint8_t *cell = p->row + f->offset + (uint32_t)m * 4u;
			uint32_t id;
			memcpy(&id, cell, sizeof(id));
			int rc = copy_ids(p, s, f, &id);
			if (rc != CP_OK)
				return rc;
			memcpy(cell, &id, sizeof(id));
		}
	}
	return CP_OK;
}

/* ---- step 1: the stages of every profile ---- */

/* One recorded profile before sorting: its key id and its entry. */
typedef struct keyed {
	uint32_t key;
	uint32_t entry;
} keyed;

static int by_key(const void *a, const void *b)
{
	uint32_t x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
	return x < y ? -1 : x > y;
}

/* The close's block: names, then keys (aligned), then stages. */
static cp__close *close_alloc(const cp_ruleset *rs, int month, uint32_t n)
{
	size_t names = 0;
	for (int t = 0; t < rs->ntracks; t++)
		names += strlen(rs->tracks[t].name) + 1;
	size_t keys_at = (names + 7) & ~(size_t)7;
	size_t nt = (size_t)rs->ntracks;
	cp__close *c = cp__calloc(1, sizeof(*c));
	const char **tracks = cp__calloc(nt + 1, sizeof(*tracks));
	uint8_t *own = (size_t)n > (SIZE_MAX - keys_at) / (4 + nt + 1)
	                   ? NULL
	                   : cp__malloc(keys_at + (size_t)n * 4 + (size_t)n * nt + 1);
	if (!c || !tracks || !own) {
		cp__free(c);
		cp__free(tracks);
		cp__free(own);
		return NULL;
	}
	char *p = (char *)own;
	for (int t = 0; t < rs->ntracks; t++) {
		size_t l = strlen(rs->tracks[t].name) + 1;
		memcpy(p, rs->tracks[t].name, l);
		tracks[t] = p;
		p += l;
	}
	c->month = month;
	c->ntracks = rs->ntracks;
	c->tracks = tracks;
	c->names = (const char *)own;
	c->n = n;
	c->keys = (const uint32_t *)(const void *)(own + keys_at);
	c->stages = own + keys_at + (size_t)n * 4;
	c->own = own;
	return c;
}

/*
 * Evaluate every live row and record its stages, sorted by key id.  The
 * rows are read as a reader would (a damaged row of a snapshot stops the
 * close).  CP_OK with *out, or a failure recorded on s.
 */
static int record_stages(cp_store *s, const cp_ruleset *rs, cp__close **out)
{
	const cp_schema *sc = s->schema;
	size_t live = cp_store_count(s), nt = (size_t)rs->ntracks;
	cp_result *res = NULL;
	keyed *order = cp__calloc(live + 1, sizeof(*order));
	uint8_t *stages = cp__calloc(live * nt + 1, 1);
	uint8_t *buf = cp__malloc(sc->row_size);
	cp__close *c = NULL;
	int rc = CP_ENOMEM;
	if (!order || !stages || !buf || cp_result_new(&res, rs) != CP_OK)
		goto fail;
	uint32_t n = 0;
	for (uint32_t i = 0; i < cp__store_nrows(s); i++) {
		const char *why = NULL;
		const uint8_t *row = cp__store_read(s, i, buf, &why);
		if (why) {
			rc = cp__fail(&s->obj, CP_ECORRUPT, "cannot close the month: row %u of the "
			              "snapshot is damaged (%s)", i, why);
			goto out;
		}
		if (!row)
			continue;
		if (n == live) {
			rc = cp__fail(&s->obj, CP_ERROR, "cannot close the month: more rows than "
			              "profiles");
			goto out;
		}
		cp__result_eval_row(res, row, s, cp_store_as_of(s), false);
		order[n].key = cp__row_key_id(sc, row);
		order[n].entry = n;
		for (size_t t = 0; t < nt; t++)
			stages[n * nt + t] = (uint8_t)cp_result_stage(res, (int)t);
		n++;
	}
	qsort(order, n, sizeof(*order), by_key);
	if (!(c = close_alloc(rs, cp_store_as_of(s), n)))
		goto fail;
	uint32_t *keys = (uint32_t *)(uintptr_t)c->keys;
	uint8_t *cst = (uint8_t *)(uintptr_t)c->stages;
	for (uint32_t e = 0; e < n; e++) {
		keys[e] = order[e].key;
		memcpy(cst + (size_t)e * nt, stages + (size_t)order[e].entry * nt, nt);
	}
	*out = c;
	c = NULL;
	rc = CP_OK;
	goto out;
fail:
	rc = cp__fail(&s->obj, CP_ENOMEM, "cannot close the month: out of memory");
out:
	cp__close_free(c);
	cp_result_free(res);
	cp__free(buf);
	cp__free(stages);
	cp__free(order);
	return rc;
}

/* ---- step 2: the shift ---- */

/* Month i of every series becomes month i + 1; month 0 becomes null. */
static void shift_row(void *ctx, uint8_t *row)
{
	const cp_schema *sc = ctx;
	for (int i = 0; i < sc->nfields; i++) {
		const cp_field *f = &sc->fields[i];
		if (!f->series)
			continue;
		for (int m = f->months - 1; m >= 1; m--) {
			memcpy(row + f->offset + (uint32_t)m * f->width,
			       row + f->offset + (uint32_t)(m - 1) * f->width, f->width);
			cp__row_set_present(row, f->cell + (uint32_t)m,
			                    cp__row_present(row, f->cell + (uint32_t)(m - 1)));
		}
		memset(row + f->offset, 0, f->width);
		cp__row_set_present(row, f->cell, false);
	}
}

static int next_month(int yyyymm)
{
	return yyyymm % 100 == 12 ? (yyyymm / 100 + 1) * 100 + 1 : yyyymm + 1;
}

int cp_store_close_month(cp_store *s, const cp_ruleset *rs)
{
	if (!s || !rs)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	int month = cp_store_as_of(s), rc;
	if (!month)
		return cp__fail(&s->obj, CP_EMISUSE, "cannot close the month: the store has no "
		                "as-of month (cp_store_set_as_of)");
	if (month / 100 >= 9999 && month % 100 == 12)
		return cp__fail(&s->obj, CP_EINVAL, "cannot close the month %d: it is the last "
		                "month a store can hold", month);
	if (!cp__schema_compatible(s->schema, rs->schema))
		return cp__fail(&s->obj, CP_EINVAL, "cannot close the month: the ruleset was "
		                "compiled for schema '%s', the store holds schema '%s'",
		                rs->schema->name, s->schema->name);
	/* one writer, and every update of other processes applied first */
	if (s->wal && (rc = cp__wal_begin(s)) != CP_OK)
		return rc;
	cp__close *c = NULL;
	if ((rc = record_stages(s, rs, &c)) != CP_OK)
		return rc;
	/* the history's allocation before the shift, so nothing fails after it */
	cp__stagehist *h;
	if ((rc = cp__stagehist_prepare(s, c, &h)) != CP_OK)
		return cp__fail(&s->obj, rc, "cannot close the month: out of memory");
	if ((rc = cp__store_rewrite_all(s, shift_row, (void *)s->schema)) != CP_OK) {
		cp__stagehist_free(h);
		return cp__fail(&s->obj, rc, "cannot close the month: %s", rc == CP_ENOMEM
		                ? "out of memory" : "the store is full");
	}
	cp__stagehist_publish(s, h);
	cp__store_set_as_of(s, next_month(month), false);
	if (s->wal && (rc = cp_store_compact(s)) != CP_OK) {
		cp__wal_break(s);
		return cp__fail(&s->obj, rc, "the month was closed in memory, but the snapshot "
		                "could not be written (%s): save the store elsewhere "
		                "(cp_store_save); it takes no further update", cp_errmsg(s));
	}
	return CP_OK;
}
