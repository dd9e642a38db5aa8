/*
 * profile.c — draft profiles: a row in the schema's layout with its own
 * string and item-list pools, filled by typed setters or from CSV cell text
 * and copied into a store by cp_store_put (store.c).
 *
 * Every setter checks first and writes last, so a failing call leaves the
 * cell as it was.  Values of personal fields never appear in a message.
 */
#include "store.h"

#include <math.h>
#include <stdio.h>

int cp_profile_new(cp_profile **out, const cp_schema *schema)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!schema || schema->key < 0 || schema->row_size == 0)
		return CP_EINVAL;
	cp_profile *p = cp__calloc(1, sizeof(*p));
	if (!p)
		return CP_ENOMEM;
	cp__obj_init(&p->obj, CP_OBJ_PROFILE);
	p->schema = cp__schema_ref(schema);
	p->row = cp__calloc(1, schema->row_size);
	if (!p->row || cp__strpool_init(&p->strings) != CP_OK ||
	    cp__listpool_init(&p->lists) != CP_OK) {
		cp_profile_free(p);
		return CP_ENOMEM;
	}
	*out = p;
	return CP_OK;
}

void cp_profile_free(cp_profile *p)
{
	if (!p)
		return;
	cp__free(p->row);
	cp__strpool_free(&p->strings);
	cp__listpool_free(&p->lists);
	cp__free(p->items);
	cp_schema_free((cp_schema *)p->schema);
	cp__obj_fini(&p->obj);
	cp__free(p);
}

void cp_profile_clear(cp_profile *p)
{
	if (!p)
		return;
	memset(p->row, 0, p->schema->row_size);
	cp__strpool_reset(&p->strings);
	cp__listpool_reset(&p->lists);
}

/* ---- cells ---- */

/* Store a cell of width bytes (1, 4 or 8: the field's width).  Every call
 * passes a constant width, so the copy inlines to one move: this runs for
 * every cell of a CSV ingest. */
static inline void cell_put(cp_profile *p, const cp_field *f, int month, const void *value,
                            uint32_t width)
{
	uint8_t *cell = p->row + f->offset + (uint32_t)month * width;
	memcpy(cell, value, width);
	uint32_t c = f->cell + (uint32_t)month;
	p->row[CP_ROW_HEADER_BYTES + (c >> 3)] |= (uint8_t)(1u << (c & 7));
}

static void cell_clear(cp_profile *p, const cp_field *f, int month)
{
	memset(p->row + f->offset + (uint32_t)month * f->width, 0, f->width);
	cp__row_set_present(p->row, f->cell + (uint32_t)month, false);
}

static bool is_key(const cp_profile *p, const cp_field *f)
{
	return f == &p->schema->fields[p->schema->key];
}

/* Text of one cell: valid UTF-8 without NUL bytes. */
static int check_text(const char *s, size_t len, const char **why)
{
	if (memchr(s, '\0', len)) {
		*why = "contains a NUL byte";
		return CP_EINVAL;
	}
	if (!cp__utf8_valid(s, len)) {
		*why = "not valid UTF-8";
		return CP_EINVAL;
	}
	return CP_OK;
}

static int closed_enum_miss(cp_profile *p, const cp_field *f, const char *s, size_t len,
                            const char **why)
{
	const char *near = NULL;
	if (!f->personal && len < 64) {
		char name[64];
		memcpy(name, s, len);
		name[len] = '\0';
		near = cp__closest(name, (const char *const *)f->values, (size_t)f->nvalues);
	}
	if (near) {
		snprintf(p->why, sizeof(p->why),
		         "not one of the listed values of the enum (did you mean '%s'?)", near);
		*why = p->why;
	} else {
		*why = "not one of the listed values of the enum";
	}
	return CP_ETYPE;
}

/* A string or enum cell from s[0..len) (checked text, not empty). */
static int cell_string(cp_profile *p, const cp_field *f, int month, const char *s, size_t len,
                       const char **why)
{
	uint32_t id;
	if (f->type == CP_TYPE_ENUM && f->closed) {
		int v = cp__field_value_index(f, s, len);
		if (v < 0)
			return closed_enum_miss(p, f, s, len, why);
		id = (uint32_t)v;
		cell_put(p, f, month, &id, 4);
		return CP_OK;
	}
	char key[CP_KEY_BUF];
	if (is_key(p, f) && f->normalize != CP_NORM_NONE) {
		int rc = cp__store_normalize_key(p->schema, s, len, key, sizeof(key), why);
		if (rc != CP_OK)
			return rc;
		s = key;
		len = strlen(key);
	}
	int rc = cp__strpool_add(&p->strings, s, len, &id);
	if (rc != CP_OK) {
		*why = rc == CP_ELIMIT ? "the profile holds too much text" : "out of memory";
		return rc;
	}
	cell_put(p, f, month, &id, 4);
	return CP_OK;
}

/* ---- sets and lists ---- */

static int items_reserve(cp_profile *p, size_t n, const char **why)
{
	if (n <= p->items_cap)
		return CP_OK;
	size_t cap = p->items_cap ? p->items_cap : 32;
	while (cap < n)
		cap *= 2;
	uint32_t *it = cp__reallocarray(p->items, cap, sizeof(uint32_t));
	if (!it) {
		*why = "out of memory";
		return CP_ENOMEM;
	}
	p->items = it;
	p->items_cap = cap;
	return CP_OK;
}

static int item_cmp(const cp_strpool *pool, uint32_t a, uint32_t b)
{
	return a == b ? 0 : strcmp(cp__strpool_get(pool, a), cp__strpool_get(pool, b));
}

/* Sort ids[0..n) by their strings' bytes (tmp has room for n) and drop
 * repeats; returns the new count. */
static uint32_t sort_unique(const cp_strpool *pool, uint32_t *ids, uint32_t *tmp, uint32_t n)
{
	if (n <= 16) {
		for (uint32_t i = 1; i < n; i++) {
			uint32_t v = ids[i], j = i;
			for (; j > 0 && item_cmp(pool, ids[j - 1], v) > 0; j--)
				ids[j] = ids[j - 1];
			ids[j] = v;
		}
	} else {
		/* bottom-up merge sort, ping-ponging between ids and tmp */
		uint32_t *a = ids, *b = tmp;
		for (size_t w = 1; w < n; w *= 2) {
			for (size_t lo = 0; lo < n; lo += 2 * w) {
				size_t mid = lo + w < n ? lo + w : n;
				size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
				size_t i = lo, j = mid, k = lo;
				while (i < mid && j < hi)
					b[k++] = item_cmp(pool, a[j], a[i]) < 0 ? a[j++] : a[i++];
				while (i < mid)
					b[k++] = a[i++];
				while (j < hi)
					b[k++] = a[j++];
			}
			uint32_t *t = a;
			a = b;
			b = t;
		}
		if (a != ids)
			memcpy(ids, a, (size_t)n * sizeof(uint32_t));
	}
	uint32_t m = 0;
	for (uint32_t i = 0; i < n; i++)
		if (m == 0 || item_cmp(pool, ids[m - 1], ids[i]) != 0)
			ids[m++] = ids[i];
	return m;
}

/* Store p->items[0..n) as the cell's set (canonical order, no repeats) or
 * list (order kept, at most max_items).  p->items has room for 2n. */
static int cell_items(cp_profile *p, const cp_field *f, int month, uint32_t n, const char **why)
{
	if (f->type == CP_TYPE_SET)
		n = sort_unique(&p->strings, p->items, p->items + n, n);
	else if (f->max_items > 0 && n > (uint32_t)f->max_items) {
		snprintf(p->why, sizeof(p->why), "%u items, more than the list's max of %d", n,
		         f->max_items);
		*why = p->why;
		return CP_ETYPE;
	}
	uint32_t id;
	int rc = cp__listpool_add(&p->lists, p->items, n, &id);
	if (rc != CP_OK) {
		*why = rc == CP_ELIMIT ? "the profile holds too many items" : "out of memory";
		return rc;
	}
	cell_put(p, f, month, &id, 4);
	return CP_OK;
}

static int check_item(size_t len, const char **why)
{
	if (len == 0) {
		*why = "an empty item (items are joined by ';' and may not be empty)";
		return CP_EINVAL;
	}
	return CP_OK;
}

/* Items joined by ';' in s[0..len) (checked text, not empty). */
static int cell_items_text(cp_profile *p, const cp_field *f, int month, const char *s,
                           size_t len, const char **why)
{
	uint32_t n = 0;
	const char *end = s + len;
	for (const char *item = s;;) {
		const char *semi = memchr(item, ';', (size_t)(end - item));
		const char *stop = semi ? semi : end;
		int rc = check_item((size_t)(stop - item), why);
		if (rc == CP_OK)
			rc = items_reserve(p, 2 * ((size_t)n + 1), why);
		if (rc == CP_OK && n == UINT32_MAX / 2) {
			*why = "too many items";
			rc = CP_ELIMIT;
		}
		if (rc == CP_OK) {
			rc = cp__strpool_add(&p->strings, item, (size_t)(stop - item), &p->items[n]);
			if (rc != CP_OK)
				*why = rc == CP_ELIMIT ? "the profile holds too much text" : "out of memory";
		}
		if (rc != CP_OK)
			return rc;
		n++;
		if (!semi)
			break;
		item = semi + 1;
	}
	return cell_items(p, f, month, n, why);
}

/* Append one item (checked text) to the cell's set or list. */
static int cell_add_item(cp_profile *p, const cp_field *f, int month, const char *s, size_t len,
                         const char **why)
{
	int rc = check_item(len, why);
	if (rc != CP_OK)
		return rc;
	if (memchr(s, ';', len)) {
		*why = "an item may not contain ';' (it joins items in the text form)";
		return CP_EINVAL;
	}
	uint32_t n = 0;
	const uint32_t *old = NULL;
	if (cp__row_present(p->row, f->cell + (uint32_t)month)) {
		uint32_t lid;
		memcpy(&lid, cp__row_cell(p->row, f, month), sizeof(lid));
		n = cp__listpool_count(&p->lists, lid);
		old = cp__listpool_ids(&p->lists, lid);
	}
	if (n >= UINT32_MAX / 2 - 1) {
		*why = "too many items";
		return CP_ELIMIT;
	}
	/* old points into the list pool, which interning below may move:
	 * copy it out first. */
	if ((rc = items_reserve(p, 2 * ((size_t)n + 1), why)) != CP_OK)
		return rc;
	if (n)
		memcpy(p->items, old, (size_t)n * sizeof(uint32_t));
	rc = cp__strpool_add(&p->strings, s, len, &p->items[n]);
	if (rc != CP_OK) {
		*why = rc == CP_ELIMIT ? "the profile holds too much text" : "out of memory";
		return rc;
	}
	return cell_items(p, f, month, n + 1, why);
}

/* ---- text form ---- */

/* The text paths of strings and sets are kept out of line, so that the
 * numeric cells, most of an ingest, run through a small function. */
#if defined(__GNUC__) || defined(__clang__)
#define CP_NOINLINE __attribute__((noinline))
#else
#define CP_NOINLINE
#endif

static CP_NOINLINE int text_string(cp_profile *p, const cp_field *f, int month, const char *s,
                                   size_t len, const char **why)
{
	int rc = check_text(s, len, why);
	return rc != CP_OK ? rc : cell_string(p, f, month, s, len, why);
}

static CP_NOINLINE int text_items(cp_profile *p, const cp_field *f, int month, const char *s,
                                  size_t len, const char **why)
{
	int rc = check_text(s, len, why);
	return rc != CP_OK ? rc : cell_items_text(p, f, month, s, len, why);
}

int cp__profile_set_cell_text(cp_profile *p, const cp_field *f, int month, const char *s,
                              size_t len, const char **why)
{
	if ((unsigned)month >= (unsigned)f->months) {
		*why = "month out of range";
		return CP_EINVAL;
	}
	if (len == 0) {
		cell_clear(p, f, month);
		return CP_OK;
	}
	int rc;
	switch (f->type) {
	case CP_TYPE_BOOL: {
		int b;
		if ((rc = cp__parse_bool(s, len, &b, why)) == CP_OK) {
			uint8_t u = (uint8_t)b;
			cell_put(p, f, month, &u, 1);
		}
		return rc;
	}
	case CP_TYPE_INT:
	case CP_TYPE_MONEY: {
		int64_t i;
		rc = f->type == CP_TYPE_INT ? cp__parse_int(s, len, &i, why)
		                            : cp__parse_money(s, len, &i, why);
		if (rc == CP_OK)
			cell_put(p, f, month, &i, 8);
		return rc;
	}
	case CP_TYPE_FLOAT: {
		double d;
		if ((rc = cp__parse_float(s, len, &d, why)) == CP_OK)
			cell_put(p, f, month, &d, 8);
		return rc;
	}
	case CP_TYPE_DATE: {
		cp_date d;
		if ((rc = cp__parse_date(s, len, &d, why)) == CP_OK)
			cell_put(p, f, month, &d, 4);
		return rc;
	}
	case CP_TYPE_STRING:
	case CP_TYPE_ENUM:
		return text_string(p, f, month, s, len, why);
	case CP_TYPE_SET:
	case CP_TYPE_LIST:
		return text_items(p, f, month, s, len, why);
	default:
		*why = "unknown field type";
		return CP_EINVAL;
	}
}

/* ---- public setters ---- */

/* The field and month of a public setter call, checked; NULL after
 * recording the failure in *rc. */
static const cp_field *cell_of(cp_profile *p, int field, int month, int *rc)
{
	if (!p) {
		*rc = CP_EINVAL;
		return NULL;
	}
	const cp_schema *s = p->schema;
	if (field < 0 || field >= s->nfields) {
		*rc = cp__fail(&p->obj, CP_EINVAL, "no field %d (the schema has %d fields)", field,
		               s->nfields);
		return NULL;
	}
	const cp_field *f = &s->fields[field];
	if (!f->series && month != 0) {
		*rc = cp__fail(&p->obj, CP_EINVAL, "field '%s' is not a series: month must be 0, not %d",
		               f->name, month);
		return NULL;
	}
	if (month < 0 || month >= f->months) {
		*rc = cp__fail(&p->obj, CP_EINVAL, "field '%s': month %d is out of range 0..%d",
		               f->name, month, f->months - 1);
		return NULL;
	}
	return f;
}

/* As cell_of, and the field must have one of the two types. */
static const cp_field *typed_cell_of(cp_profile *p, int field, int month, int t1, int t2,
                                     const char *as, int *rc)
{
	const cp_field *f = cell_of(p, field, month, rc);
	if (f && f->type != t1 && f->type != t2) {
		*rc = cp__fail(&p->obj, CP_ETYPE, "field '%s' is %s, cannot be set as %s", f->name,
		               cp_type_name(f->type), as);
		return NULL;
	}
	return f;
}

/*
 * Record a failure about a value: "field 'arpu' month 2: '12.345': money has
 * more than 2 decimals".  The value is left out for personal fields and when
 * it is not printable UTF-8, and long values are cut.
 */
static int fail_value(cp_profile *p, const cp_field *f, int month, const char *s, size_t len,
                      int rc, const char *why)
{
	char where[96];
	if (f->series)
		snprintf(where, sizeof(where), "month %d", month);
	else
		where[0] = '\0';
	if (f->personal || !s || len == 0 || memchr(s, '\0', len) || !cp__utf8_valid(s, len))
		return cp__fail(&p->obj, rc, "field '%s'%s%s: %s", f->name, *where ? " " : "", where,
		                why);
	size_t shown = len;
	if (shown > 64) {
		shown = 60;
		while (shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80)
			shown--;
	}
	return cp__fail(&p->obj, rc, "field '%s'%s%s: '%.*s%s': %s", f->name, *where ? " " : "",
	                where, (int)shown, s, shown < len ? "..." : "", why);
}

int cp_profile_set_null(cp_profile *p, int field, int month)
{
	int rc;
	const cp_field *f = cell_of(p, field, month, &rc);
	if (!f)
		return rc;
	cell_clear(p, f, month);
	return CP_OK;
}

int cp_profile_set_bool(cp_profile *p, int field, int month, int value)
{
	int rc;
	const cp_field *f = typed_cell_of(p, field, month, CP_TYPE_BOOL, CP_TYPE_BOOL, "bool", &rc);
	if (!f)
		return rc;
	uint8_t b = value != 0;
	cell_put(p, f, month, &b, 1);
	return CP_OK;
}

int cp_profile_set_int(cp_profile *p, int field, int month, int64_t value)
{
	int rc;
	const cp_field *f = typed_cell_of(p, field, month, CP_TYPE_INT, CP_TYPE_INT, "int", &rc);
	if (!f)
		return rc;
	cell_put(p, f, month, &value, 8);
	return CP_OK;
}

int cp_profile_set_float(cp_profile *p, int field, int month, double value)
{
	int rc;
	const cp_field *f = typed_cell_of(p, field, month, CP_TYPE_FLOAT, CP_TYPE_FLOAT, "float",
	                                  &rc);
	if (!f)
		return rc;
	if (!isfinite(value))
		return fail_value(p, f, month, NULL, 0, CP_EINVAL,
		                  "not a finite number (NaN and infinities cannot be stored)");
	cell_put(p, f, month, &value, 8);
	return CP_OK;
}

int cp_profile_set_money(cp_profile *p, int field, int month, int64_t fen)
{
	int rc;
	const cp_field *f = typed_cell_of(p, field, month, CP_TYPE_MONEY, CP_TYPE_MONEY, "money",
	                                  &rc);
	if (!f)
		return rc;
	cell_put(p, f, month, &fen, 8);
	return CP_OK;
}

/* The dates that have a YYYY-MM-DD text form. */
#define CP_DATE_MIN (-719162) /* 0001-01-01 */
#define CP_DATE_MAX 2932896   /* 9999-12-31 */

int cp_profile_set_date(cp_profile *p, int field, int month, cp_date value)
{
	int rc;
	const cp_field *f = typed_cell_of(p, field, month, CP_TYPE_DATE, CP_TYPE_DATE, "date", &rc);
	if (!f)
		return rc;
	if (value < CP_DATE_MIN || value > CP_DATE_MAX)
		return fail_value(p, f, month, NULL, 0, CP_EINVAL,
		                  "date out of range 0001-01-01..9999-12-31");
	cell_put(p, f, month, &value, 4);
	return CP_OK;
}

int cp_profile_set_string(cp_profile *p, int field, int month, const char *utf8)
{
	int rc;
	const cp_field *f = typed_cell_of(p, field, month, CP_TYPE_STRING, CP_TYPE_ENUM, "string",
	                                  &rc);
	if (!f)
		return rc;
	if (!utf8)
		return cp__fail(&p->obj, CP_EINVAL,
		                "field '%s': NULL string (use cp_profile_set_null)", f->name);
	size_t len = strlen(utf8);
	const char *why;
	if (len == 0)
		return fail_value(p, f, month, NULL, 0, CP_EINVAL,
		                  "an empty string is not a value (use cp_profile_set_null)");
	if ((rc = check_text(utf8, len, &why)) == CP_OK &&
	    (rc = cell_string(p, f, month, utf8, len, &why)) == CP_OK)
		return CP_OK;
	return fail_value(p, f, month, utf8, len, rc, why);
}

int cp_profile_add_item(cp_profile *p, int field, int month, const char *utf8)
{
	int rc;
	const cp_field *f = typed_cell_of(p, field, month, CP_TYPE_SET, CP_TYPE_LIST, "a set or list item",
	                                  &rc);
	if (!f)
		return rc;
	if (!utf8)
		return cp__fail(&p->obj, CP_EINVAL, "field '%s': NULL item", f->name);
	size_t len = strlen(utf8);
	const char *why;
	if ((rc = check_text(utf8, len, &why)) == CP_OK &&
	    (rc = cell_add_item(p, f, month, utf8, len, &why)) == CP_OK)
		return CP_OK;
	return fail_value(p, f, month, utf8, len, rc, why);
}

int cp_profile_set_text(cp_profile *p, int field, int month, const char *text)
{
	int rc;
	const cp_field *f = cell_of(p, field, month, &rc);
	if (!f)
		return rc;
	if (!text)
		return cp__fail(&p->obj, CP_EINVAL, "field '%s': NULL text (\"\" is null)", f->name);
	size_t len = strlen(text);
	const char *why;
	rc = cp__profile_set_cell_text(p, f, month, text, len, &why);
	return rc == CP_OK ? CP_OK : fail_value(p, f, month, text, len, rc, why);
}
