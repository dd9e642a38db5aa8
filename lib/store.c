/*
 * store.c — the in-memory store: string and item-list pools, the key index,
 * rows, put and delete.  Reading is view.c; drafts are profile.c.
 */
#include "store.h"

#include <sys/mman.h>

/* Ids are uint32_t and hash slots hold id + 1, so a pool may not grow to
 * the point where id + 1 would reach CP_NO_ID. */
#define CP_POOL_LIMIT ((size_t)UINT32_MAX - 1)
#define CP_HASH_MIN 16u

/* ---- open-addressing tables shared by both pools ---- */

static uint32_t *slots_new(uint32_t size)
{
	return cp__calloc(size, sizeof(uint32_t));
}

/* ---- string pool ---- */

static uint32_t str_hash(const char *s, size_t len)
{
	return cp__hash(s, len);
}

int cp__strpool_init(cp_strpool *p)
{
	memset(p, 0, sizeof(*p));
	p->bytes = cp__malloc(64);
	p->hash = slots_new(CP_HASH_MIN);
	if (!p->bytes || !p->hash) {
		cp__strpool_free(p);
		return CP_ENOMEM;
	}
	p->cap = 64;
	p->mask = CP_HASH_MIN - 1;
	cp__strpool_reset(p);
	return CP_OK;
}

void cp__strpool_reset(cp_strpool *p)
{
	memset(p->hash, 0, ((size_t)p->mask + 1) * sizeof(uint32_t));
	p->bytes[0] = '\0';
	p->len = 1;
	p->count = 1;
	/* The empty string is id 0, in the hash like every other string. */
	p->hash[str_hash("", 0) & p->mask] = 0 + 1;
}

void cp__strpool_free(cp_strpool *p)
{
	cp__free(p->bytes);
	cp__free(p->hash);
	memset(p, 0, sizeof(*p));
}

/* s[0..len) has no NUL: strncmp stops at the end of a shorter pool string,
 * where memcmp would read len bytes past it (and past the pool's end). */
static bool str_equal(const cp_strpool *p, uint32_t id, const char *s, size_t len)
{
	const char *t = p->bytes + id;
	return strncmp(t, s, len) == 0 && t[len] == '\0';
}

uint32_t cp__strpool_find(const cp_strpool *p, const char *s, size_t len)
{
	for (uint32_t h = str_hash(s, len) & p->mask;; h = (h + 1) & p->mask) {
		uint32_t slot = p->hash[h];
		if (slot == 0)
			return CP_NO_ID;
		if (str_equal(p, slot - 1, s, len))
			return slot - 1;
	}
}

static int strpool_grow_hash(cp_strpool *p)
{
	uint32_t size = (p->mask + 1) * 2;
	if (size == 0)
		return CP_ELIMIT;
	uint32_t *h = slots_new(size);
	if (!h)
		return CP_ENOMEM;
	for (uint32_t i = 0; i <= p->mask; i++) {
		uint32_t slot = p->hash[i];
		if (slot == 0)
			continue;
		const char *s = p->bytes + slot - 1;
		uint32_t k = str_hash(s, strlen(s)) & (size - 1);
		while (h[k])
			k = (k + 1) & (size - 1);
		h[k] = slot;
	}
	cp__free(p->hash);
	p->hash = h;
	p->mask = size - 1;
	return CP_OK;
}

int cp__strpool_add(cp_strpool *p, const char *s, size_t len, uint32_t *id)
{
	if (len > CP_POOL_LIMIT - p->len)
		return CP_ELIMIT;
	if (p->len + len + 1 > p->cap) {
		size_t cap = p->cap;
		while (cap < p->len + len + 1)
			cap += cap / 2 + 64;
		char *b = cp__realloc(p->bytes, cap);
		if (!b)
			return CP_ENOMEM;
		p->bytes = b;
		p->cap = cap;
	}
	*id = (uint32_t)p->len;
	memcpy(p->bytes + p->len, s, len);
	p->bytes[p->len + len] = '\0';
	p->len += len + 1;
	return CP_OK;
}

int cp__strpool_intern(cp_strpool *p, const char *s, size_t len, uint32_t *id)
{
	uint32_t h = str_hash(s, len) & p->mask;
	for (;; h = (h + 1) & p->mask) {
		uint32_t slot = p->hash[h];
		if (slot == 0)
			break;
		if (str_equal(p, slot - 1, s, len)) {
			*id = slot - 1;
			return CP_OK;
		}
	}
	if (len > CP_POOL_LIMIT - p->len)
		return CP_ELIMIT;
	if ((size_t)p->count + 1 > ((size_t)p->mask + 1) / 2) {
		int rc = strpool_grow_hash(p);
		if (rc != CP_OK)
			return rc;
		for (h = str_hash(s, len) & p->mask; p->hash[h]; h = (h + 1) & p->mask)
			;
	}
	int rc = cp__strpool_add(p, s, len, id);
	if (rc != CP_OK)
		return rc;
	p->count++;
	p->hash[h] = *id + 1;
	return CP_OK;
}

size_t cp__strpool_memory(const cp_strpool *p)
{
	return p->cap + (p->hash ? ((size_t)p->mask + 1) * sizeof(uint32_t) : 0);
}

/* ---- item-list pool ---- */

static uint32_t list_hash(const uint32_t *ids, uint32_t n)
{
	return cp__hash(ids, (size_t)n * sizeof(uint32_t));
}

int cp__listpool_init(cp_listpool *p)
{
	memset(p, 0, sizeof(*p));
	p->items = cp__malloc(16 * sizeof(uint32_t));
	p->hash = slots_new(CP_HASH_MIN);
	if (!p->items || !p->hash) {
		cp__listpool_free(p);
		return CP_ENOMEM;
	}
	p->cap = 16;
	p->mask = CP_HASH_MIN - 1;
	cp__listpool_reset(p);
	return CP_OK;
}

void cp__listpool_reset(cp_listpool *p)
{
	memset(p->hash, 0, ((size_t)p->mask + 1) * sizeof(uint32_t));
	p->items[0] = 0;
	p->len = 1;
	p->count = 1;
	p->hash[list_hash(NULL, 0) & p->mask] = 0 + 1;
}

void cp__listpool_free(cp_listpool *p)
{
	cp__free(p->items);
	cp__free(p->hash);
	memset(p, 0, sizeof(*p));
}

static bool list_equal(const cp_listpool *p, uint32_t id, const uint32_t *ids, uint32_t n)
{
	return p->items[id] == n &&
	       (n == 0 || memcmp(p->items + id + 1, ids, (size_t)n * sizeof(uint32_t)) == 0);
}

static int listpool_grow_hash(cp_listpool *p)
{
	uint32_t size = (p->mask + 1) * 2;
	if (size == 0)
		return CP_ELIMIT;
	uint32_t *h = slots_new(size);
	if (!h)
		return CP_ENOMEM;
	for (uint32_t i = 0; i <= p->mask; i++) {
		uint32_t slot = p->hash[i];
		if (slot == 0)
			continue;
		uint32_t k = list_hash(p->items + slot, p->items[slot - 1]) & (size - 1);
		while (h[k])
			k = (k + 1) & (size - 1);
		h[k] = slot;
	}
	cp__free(p->hash);
	p->hash = h;
	p->mask = size - 1;
	return CP_OK;
}

int cp__listpool_add(cp_listpool *p, const uint32_t *ids, uint32_t n, uint32_t *id)
{
	if ((size_t)n + 1 > CP_POOL_LIMIT - p->len)
		return CP_ELIMIT;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap;
		while (cap < p->len + n + 1)
			cap += cap / 2 + 16;
		uint32_t *it = cp__reallocarray(p->items, cap, sizeof(uint32_t));
		if (!it)
			return CP_ENOMEM;
		p->items = it;
		p->cap = cap;
	}
	*id = (uint32_t)p->len;
	p->items[p->len] = n;
	if (n)
		memcpy(p->items + p->len + 1, ids, (size_t)n * sizeof(uint32_t));
	p->len += (size_t)n + 1;
	return CP_OK;
}

int cp__listpool_intern(cp_listpool *p, const uint32_t *ids, uint32_t n, uint32_t *id)
{
	uint32_t h = list_hash(ids, n) & p->mask;
	for (;; h = (h + 1) & p->mask) {
		uint32_t slot = p->hash[h];
		if (slot == 0)
			break;
		if (list_equal(p, slot - 1, ids, n)) {
			*id = slot - 1;
			return CP_OK;
		}
	}
	if ((size_t)n + 1 > CP_POOL_LIMIT - p->len)
		return CP_ELIMIT;
	if ((size_t)p->count + 1 > ((size_t)p->mask + 1) / 2) {
		int rc = listpool_grow_hash(p);
		if (rc != CP_OK)
			return rc;
		for (h = list_hash(ids, n) & p->mask; p->hash[h]; h = (h + 1) & p->mask)
			;
	}
	int rc = cp__listpool_add(p, ids, n, id);
	if (rc != CP_OK)
		return rc;
	p->count++;
	p->hash[h] = *id + 1;
	return CP_OK;
}

size_t cp__listpool_memory(const cp_listpool *p)
{
	return p->cap * sizeof(uint32_t) +
	       (p->hash ? ((size_t)p->mask + 1) * sizeof(uint32_t) : 0);
}

/* ---- key index ---- */

static const cp_field *key_field(const cp_store *s)
{
	return &s->schema->fields[s->schema->key];
}

const char *cp__store_row_key(const cp_store *s, const uint8_t *row)
{
	uint32_t id;
	memcpy(&id, cp__row_cell(row, key_field(s), 0), sizeof(id));
	return cp__strpool_get(&s->strings, id);
}

static uint32_t row_key_hash(const cp_store *s, uint32_t row)
{
	const char *k = cp__store_row_key(s, cp__store_row(s, row));
	return str_hash(k, strlen(k));
}

static int index_init(cp_index *ix)
{
	ix->slots = slots_new(CP_HASH_MIN);
	if (!ix->slots)
		return CP_ENOMEM;
	ix->mask = CP_HASH_MIN - 1;
	ix->used = 0;
	return CP_OK;
}

uint32_t cp__store_find(const cp_store *s, const char *key, size_t len)
{
	const cp_index *ix = &s->index;
	for (uint32_t h = str_hash(key, len) & ix->mask;; h = (h + 1) & ix->mask) {
		uint32_t slot = ix->slots[h];
		if (slot == 0)
			return CP_NO_ID;
		const char *k = cp__store_row_key(s, cp__store_row(s, slot - 1));
		if (memcmp(k, key, len) == 0 && k[len] == '\0')
			return slot - 1;
	}
}

/* Make room for one more key (load <= 1/2), before anything is changed. */
static int index_reserve(cp_store *s)
{
	cp_index *ix = &s->index;
	if ((size_t)ix->used + 1 <= ((size_t)ix->mask + 1) / 2)
		return CP_OK;
	uint32_t size = (ix->mask + 1) * 2;
	if (size == 0)
		return CP_ELIMIT;
	uint32_t *h = slots_new(size);
	if (!h)
		return CP_ENOMEM;
	for (uint32_t i = 0; i <= ix->mask; i++) {
		uint32_t slot = ix->slots[i];
		if (slot == 0)
			continue;
		uint32_t k = row_key_hash(s, slot - 1) & (size - 1);
		while (h[k])
			k = (k + 1) & (size - 1);
		h[k] = slot;
	}
	cp__free(ix->slots);
	ix->slots = h;
	ix->mask = size - 1;
	return CP_OK;
}

static void index_insert(cp_store *s, const char *key, size_t len, uint32_t row)
{
	cp_index *ix = &s->index;
	uint32_t h = str_hash(key, len) & ix->mask;
	while (ix->slots[h])
		h = (h + 1) & ix->mask;
	ix->slots[h] = row + 1;
	ix->used++;
}

/* Backward-shift deletion: close the gap by moving later entries of the
 * probe chain back when their home slot allows it, so no tombstones. */
static void index_remove(cp_store *s, const char *key, size_t len, uint32_t row)
{
	cp_index *ix = &s->index;
	uint32_t i = str_hash(key, len) & ix->mask;
	while (ix->slots[i] != row + 1)
		i = (i + 1) & ix->mask;
	for (uint32_t j = (i + 1) & ix->mask; ix->slots[j]; j = (j + 1) & ix->mask) {
		uint32_t home = row_key_hash(s, ix->slots[j] - 1) & ix->mask;
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			ix->slots[i] = ix->slots[j];
			i = j;
		}
	}
	ix->slots[i] = 0;
	ix->used--;
}

int cp__store_normalize_key(const cp_schema *schema, const char *key, size_t len, char *out,
                            size_t outsize, const char **why)
{
	const cp_field *f = &schema->fields[schema->key];
	if (f->normalize == CP_NORM_MSISDN_CN)
		return cp__normalize_msisdn_cn(key, len, out, outsize, why);
	if (len == 0) {
		*why = "the key is empty";
		return CP_ETYPE;
	}
	if (len >= outsize) {
		*why = "the key is too long";
		return CP_ETYPE;
	}
	memcpy(out, key, len);
	out[len] = '\0';
	return CP_OK;
}

int cp__store_lookup(const cp_store *s, const char *key, size_t len, char *buf,
                     const char **nk, size_t *nlen, uint32_t *row, cp_obj *err)
{
	const cp_field *kf = key_field(s);
	*nk = key;
	*nlen = len;
	if (kf->normalize != CP_NORM_NONE) {
		const char *why;
		int rc = cp__store_normalize_key(s->schema, key, len, buf, CP_KEY_BUF, &why);
		/* A key that cannot be normalized cannot be stored either. */
		if (rc != CP_OK) {
			if (kf->personal || !cp__utf8_valid(key, len))
				return cp__fail(err, CP_ENOTFOUND, "no profile with that key: %s", why);
			return cp__fail(err, CP_ENOTFOUND, "no profile with key '%.*s': %s", (int)len,
			                key, why);
		}
		*nk = buf;
		*nlen = strlen(buf);
	}
	*row = cp__store_find(s, *nk, *nlen);
	if (*row != CP_NO_ID)
		return CP_OK;
	if (kf->personal || !cp__utf8_valid(*nk, *nlen))
		return cp__fail(err, CP_ENOTFOUND, "no profile with that key");
	return cp__fail(err, CP_ENOTFOUND, "no profile with key '%.*s'", (int)*nlen, *nk);
}

/* ---- the store ---- */

int cp_store_new(cp_store **out, const cp_schema *schema)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!schema || schema->key < 0 || schema->row_size == 0)
		return CP_EINVAL;
	cp_store *s = cp__calloc(1, sizeof(*s));
	if (!s)
		return CP_ENOMEM;
	cp__obj_init(&s->obj, CP_OBJ_STORE);
	s->schema = cp__schema_ref(schema);
	if (cp__strpool_init(&s->strings) != CP_OK || cp__listpool_init(&s->lists) != CP_OK ||
	    index_init(&s->index) != CP_OK) {
		cp_store_free(s);
		return CP_ENOMEM;
	}
	*out = s;
	return CP_OK;
}

/* A store opened from a snapshot may point into a mapping (map_base,
 * map_len) for any of its arrays; whatever lies outside it is heap. */
static void free_unless_mapped(const cp_store *s, void *ptr)
{
	const char *p = ptr, *base = s->map_base;
	if (base && p >= base && p < base + s->map_len)
		return;
	cp__free(ptr);
}

void cp_store_free(cp_store *s)
{
	if (!s)
		return;
	free_unless_mapped(s, s->rows);
	free_unless_mapped(s, s->free_rows);
	free_unless_mapped(s, s->strings.bytes);
	free_unless_mapped(s, s->strings.hash);
	free_unless_mapped(s, s->lists.items);
	free_unless_mapped(s, s->lists.hash);
	free_unless_mapped(s, s->index.slots);
	if (s->map_base)
		munmap(s->map_base, s->map_len);
	cp_schema_free((cp_schema *)s->schema);
	cp__obj_fini(&s->obj);
	cp__free(s);
}

const cp_schema *cp_store_schema(const cp_store *s)
{
	return s ? s->schema : NULL;
}

size_t cp_store_count(const cp_store *s)
{
	return s ? s->live : 0;
}

int cp_store_set_as_of(cp_store *s, int yyyymm)
{
	if (!s)
		return CP_EINVAL;
	int y = yyyymm / 100, m = yyyymm % 100;
	if (yyyymm != 0 && (y < 1900 || y > 9999 || m < 1 || m > 12))
		return cp__fail(&s->obj, CP_EINVAL,
		                "as-of month %d is not a month yyyymm (year 1900..9999, month 1..12)",
		                yyyymm);
	s->as_of = yyyymm;
	return CP_OK;
}

int cp_store_as_of(const cp_store *s)
{
	return s ? s->as_of : 0;
}

size_t cp_store_row_bytes(const cp_store *s)
{
	return s ? s->schema->row_size : 0;
}

size_t cp_store_index_bytes(const cp_store *s)
{
	return s ? ((size_t)s->index.mask + 1) * sizeof(uint32_t) : 0;
}

size_t cp_store_memory_bytes(const cp_store *s)
{
	if (!s)
		return 0;
	if (s->mapped)
		return sizeof(*s) + s->map_len + s->cap_free * sizeof(uint32_t);
	return sizeof(*s) + s->cap_rows * s->schema->row_size + s->cap_free * sizeof(uint32_t) +
	       ((size_t)s->index.mask + 1) * sizeof(uint32_t) + cp__strpool_memory(&s->strings) +
	       cp__listpool_memory(&s->lists);
}

/* ---- put ---- */

/* Two handles built from different cp_schema objects (a store opened from a
 * snapshot and a draft made from the caller's schema) can still agree. */
static bool same_layout(const cp_schema *a, const cp_schema *b)
{
	if (a == b)
		return true;
	if (a->nfields != b->nfields || a->row_size != b->row_size || a->months != b->months ||
	    a->key != b->key)
		return false;
	for (int i = 0; i < a->nfields; i++) {
		const cp_field *f = &a->fields[i], *g = &b->fields[i];
		if (f->type != g->type || f->months != g->months || f->offset != g->offset ||
		    f->closed != g->closed || strcmp(f->name, g->name) != 0)
			return false;
		if (f->closed) {
			if (f->nvalues != g->nvalues)
				return false;
			for (int v = 0; v < f->nvalues; v++)
				if (strcmp(f->values[v], g->values[v]) != 0)
					return false;
		}
	}
	return true;
}

/* Room for rows 0..nrows (one beyond: put builds its new row there). */
static int rows_reserve(cp_store *s)
{
	if (s->nrows + 1 <= s->cap_rows)
		return CP_OK;
	/* Row numbers + 1 are index slots: uint32_t. */
	if (s->nrows >= (size_t)UINT32_MAX - 2)
		return CP_ELIMIT;
	/* at least 64: a store opened from a snapshot of one row has cap_rows 1,
	 * which one and a half times would leave at 1 */
	size_t cap = s->cap_rows < 64 ? 64 : s->cap_rows + s->cap_rows / 2;
	if (cap > (size_t)UINT32_MAX - 1)
		cap = (size_t)UINT32_MAX - 1;
	uint8_t *r = cp__reallocarray(s->rows, cap, s->schema->row_size);
	if (!r)
		return CP_ENOMEM;
	s->rows = r;
	s->cap_rows = cap;
	return CP_OK;
}

static bool interned_field(const cp_field *f)
{
	return f->type == CP_TYPE_STRING || f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST ||
	       (f->type == CP_TYPE_ENUM && !f->closed);
}

/* Scratch space for one set or list while it is re-interned. */
#define CP_ITEMS_ON_STACK 64

static int reintern_list(cp_store *s, const cp_profile *p, uint32_t *id)
{
	uint32_t n = cp__listpool_count(&p->lists, *id);
	const uint32_t *src = cp__listpool_ids(&p->lists, *id);
	uint32_t stack[CP_ITEMS_ON_STACK];
	uint32_t *ids = n <= CP_ITEMS_ON_STACK ? stack : cp__reallocarray(NULL, n, sizeof(uint32_t));
	if (!ids)
		return CP_ENOMEM;
	int rc = CP_OK;
	/* Sets stay in canonical order: it is the order of the strings' bytes,
	 * which does not depend on the pool. */
	for (uint32_t i = 0; i < n && rc == CP_OK; i++) {
		const char *str = cp__strpool_get(&p->strings, src[i]);
		rc = cp__strpool_intern(&s->strings, str, strlen(str), &ids[i]);
	}
	if (rc == CP_OK)
		rc = cp__listpool_intern(&s->lists, ids, n, id);
	if (ids != stack)
		cp__free(ids);
	return rc;
}

/* Rewrite the draft's pool ids of row (a copy of the draft's row) into
 * ids of the store's pools. */
static int reintern_row(cp_store *s, const cp_profile *p, uint8_t *row)
{
	const cp_schema *sc = s->schema;
	for (int i = 0; i < sc->nfields; i++) {
		const cp_field *f = &sc->fields[i];
		if (!interned_field(f))
			continue;
		for (int m = 0; m < f->months; m++) {
			if (!cp__row_present(row, f->cell + (uint32_t)m))
				continue;
			uint8_t *cell = row + f->offset + (uint32_t)m * 4u;
			uint32_t id;
			memcpy(&id, cell, sizeof(id));
			int rc;
			if (f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST) {
				rc = reintern_list(s, p, &id);
			} else {
				const char *str = cp__strpool_get(&p->strings, id);
				rc = cp__strpool_intern(&s->strings, str, strlen(str), &id);
			}
			if (rc != CP_OK)
				return rc;
			memcpy(cell, &id, sizeof(id));
		}
	}
	return CP_OK;
}

static int put_fail(cp_store *s, int rc)
{
	if (rc == CP_ELIMIT)
		return cp__fail(&s->obj, rc, "the store is full (4 GiB of strings or 2^32 rows)");
	return cp__fail(&s->obj, rc, "out of memory while storing a profile");
}

int cp_store_put(cp_store *s, const cp_profile *p, int *replaced)
{
	if (replaced)
		*replaced = 0;
	if (!s || !p)
		return CP_EINVAL;
	if (s->mapped)
		return cp__fail(&s->obj, CP_EMISUSE,
		                "the store is a read-only snapshot mapping; it cannot be changed");
	if (!same_layout(s->schema, p->schema))
		return cp__fail(&s->obj, CP_EINVAL,
		                "the profile was made for schema '%s', which does not match the "
		                "store's schema '%s'", p->schema->name, s->schema->name);
	const cp_field *kf = key_field(s);
	if (!cp__row_present(p->row, kf->cell))
		return cp__fail(&s->obj, CP_EINVAL,
		                "the profile has no key: its key field '%s' is null", kf->name);
	uint32_t kid;
	memcpy(&kid, cp__row_cell(p->row, kf, 0), sizeof(kid));
	const char *key = cp__strpool_get(&p->strings, kid);
	size_t klen = strlen(key);

	int rc = rows_reserve(s);
	if (rc != CP_OK)
		return put_fail(s, rc);
	/* Build the new row in the spare slot past the end, so that a failure
	 * leaves every stored profile as it was. */
	size_t rs = s->schema->row_size;
	uint8_t *build = cp__store_row(s, s->nrows);
	memcpy(build, p->row, rs);
	uint32_t header = CP_ROW_LIVE;
	memcpy(build, &header, sizeof(header));
	if ((rc = reintern_row(s, p, build)) != CP_OK)
		return put_fail(s, rc);

	uint32_t row = cp__store_find(s, key, klen);
	if (row != CP_NO_ID) {
		memcpy(cp__store_row(s, row), build, rs);
		if (replaced)
			*replaced = 1;
		return CP_OK;
	}
	if ((rc = index_reserve(s)) != CP_OK)
		return put_fail(s, rc);
	if (s->nfree) {
		row = s->free_rows[--s->nfree];
		memcpy(cp__store_row(s, row), build, rs);
	} else {
		row = (uint32_t)s->nrows++;
	}
	index_insert(s, key, klen, row);
	s->live++;
	return CP_OK;
}

/* ---- delete ---- */

int cp_store_delete(cp_store *s, const char *key)
{
	if (!s || !key)
		return CP_EINVAL;
	if (s->mapped)
		return cp__fail(&s->obj, CP_EMISUSE,
		                "the store is a read-only snapshot mapping; it cannot be changed");
	char buf[CP_KEY_BUF];
	const char *nk;
	size_t nlen;
	uint32_t row;
	int rc = cp__store_lookup(s, key, strlen(key), buf, &nk, &nlen, &row, &s->obj);
	if (rc != CP_OK)
		return rc;
	if (s->nfree == s->cap_free) {
		size_t cap = s->cap_free ? s->cap_free * 2 : 16;
		uint32_t *f = cp__reallocarray(s->free_rows, cap, sizeof(uint32_t));
		if (!f)
			return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
		s->free_rows = f;
		s->cap_free = cap;
	}
	index_remove(s, nk, nlen, row);
	memset(cp__store_row(s, row), 0, s->schema->row_size);
	s->free_rows[s->nfree++] = row;
	s->live--;
	return CP_OK;
}
