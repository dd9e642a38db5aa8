/*
 * store.c — the store (store.h): draft pools, segmented arrays, the
 * store's pools, the key index, rows under their sequence locks, put,
 * delete and the as-of month.  Reading through views is view.c; drafts are
 * profile.c; files are snapshot.c and wal.c.
 */
#include "store.h"
#include "wal.h"
#include "lifecycle.h"

#include <sys/mman.h>

#define CP_HASH_MIN 16u
/* Rows limit: row numbers + 1 are index slots, CP_INDEX_TOMB excluded. */
#define CP_ROWS_LIMIT ((uint32_t)UINT32_MAX - 2)

static uint32_t *slots_new(uint32_t size)
{
	return cp__calloc(size, sizeof(uint32_t));
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* =========================================================================
 * Draft pools (contiguous; one thread)
 * ========================================================================= */

static uint32_t str_hash(const char *s, size_t len)
{
	return cp__hash(s, len);
}

/* t (a NUL-terminated string) is s[0..len) (no NUL in s): strncmp stops at
 * t's end, so nothing past it is read. */
static bool str_is(const char *t, const char *s, size_t len)
{
	return strncmp(t, s, len) == 0 && t[len] == '\0';
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

uint32_t cp__strpool_find(const cp_strpool *p, const char *s, size_t len)
{
	for (uint32_t h = str_hash(s, len) & p->mask;; h = (h + 1) & p->mask) {
		uint32_t slot = p->hash[h];
		if (slot == 0)
			return CP_NO_ID;
		if (str_is(p->bytes + slot - 1, s, len))
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
		if (str_is(p->bytes + slot - 1, s, len)) {
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

static bool list_is(const uint32_t *l, const uint32_t *ids, uint32_t n)
{
	return l[0] == n && (n == 0 || memcmp(l + 1, ids, (size_t)n * sizeof(uint32_t)) == 0);
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
		if (list_is(p->items + slot - 1, ids, n)) {
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

/* =========================================================================
 * Segmented arrays
 * ========================================================================= */

void cp__seg_init(cp_seg *g, uint32_t unit, uint32_t first, bool zeroed)
{
	memset(g, 0, sizeof(*g));
	for (int k = 0; k < CP_SEG_MAX; k++)
		g->start[k] = UINT32_MAX;
	g->unit = unit;
	g->first = first;
	g->zeroed = zeroed;
}

void cp__seg_free(cp_seg *g)
{
	for (int k = 0; k < g->n; k++)
		cp__free(g->chunk[k]);
	g->n = 0;
	g->end = 0;
	g->bytes = 0;
}

int cp__seg_reserve(cp_seg *g, uint32_t n)
{
	if (g->n && g->cap[g->n - 1] - (g->end - g->start[g->n - 1]) >= n)
		return CP_OK;
	if (g->n == CP_SEG_MAX || n > UINT32_MAX - 1 - g->end)
		return CP_ELIMIT;
	/* 1.5 times the last chunk: the slack stays below half of what is used */
	uint64_t cap = g->n ? (uint64_t)g->cap[g->n - 1] + g->cap[g->n - 1] / 2 : g->first;
	if (cap < n)
		cap = n;
	if (cap > UINT32_MAX - 1 - (uint64_t)g->end)
		cap = UINT32_MAX - 1 - (uint64_t)g->end;
	uint8_t *c = g->zeroed ? cp__calloc((size_t)cap, g->unit)
	                       : cp__reallocarray(NULL, (size_t)cap, g->unit);
	if (!c)
		return CP_ENOMEM;
	int k = g->n++;
	g->chunk[k] = c;
	g->cap[k] = (uint32_t)cap;
	g->bytes += (size_t)cap * g->unit;
	/* Published last: a reader's search finds the chunk only with its
	 * pointer in place (and reaches its units only through a row
	 * published later still). */
	cp__st32_rel(&g->start[k], g->end);
	return CP_OK;
}

/* =========================================================================
 * The store's pools
 * ========================================================================= */

static void spool_init(cp_spool *p, const char *base, uint32_t len, uint32_t count,
                       const uint32_t *hash, uint32_t slots)
{
	memset(p, 0, sizeof(*p));
	p->base = base;
	p->base_len = len;
	p->base_count = count;
	p->base_hash = hash;
	p->base_mask = slots ? slots - 1 : 0;
	cp__seg_init(&p->seg, 1, 4096, false);
}

static void lpool_init(cp_lpool *p, const uint32_t *base, uint32_t len, uint32_t count,
                       const uint32_t *hash, uint32_t slots)
{
	memset(p, 0, sizeof(*p));
	p->base = base;
	p->base_len = len;
	p->base_count = count;
	p->base_hash = hash;
	p->base_mask = slots ? slots - 1 : 0;
	cp__seg_init(&p->seg, sizeof(uint32_t), 1024, false);
}

uint32_t cp__spool_len(const cp_spool *p)
{
	return p->base_len + p->seg.end;
}

uint32_t cp__lpool_len(const cp_lpool *p)
{
	return p->base_len + p->seg.end;
}

/*
 * The base's hash tables may come from an untrusted file: a probe stops
 * after visiting every slot once, skips ids outside the pool, and compares
 * only bytes inside it.  A wrong slot can only make a find miss (the string
 * is then interned again in the overlay, which is harmless).
 */
static uint32_t spool_base_find(const cp_spool *p, const char *s, size_t len, uint32_t h)
{
	if (!p->base_hash)
		return CP_NO_ID;
	for (uint64_t n = 0, i = h & p->base_mask; n <= p->base_mask;
	     n++, i = (i + 1) & p->base_mask) {
		uint32_t v = p->base_hash[i];
		if (!v)
			break;
		uint32_t id = v - 1;
		if (id < p->base_len && len < p->base_len - id &&
		    memcmp(p->base + id, s, len) == 0 && p->base[id + len] == '\0')
			return id;
	}
	return CP_NO_ID;
}

static int spool_grow_hash(cp_spool *p)
{
	uint32_t size = p->hash ? (p->mask + 1) * 2 : CP_HASH_MIN;
	if (size == 0)
		return CP_ELIMIT;
	uint32_t *h = slots_new(size);
	if (!h)
		return CP_ENOMEM;
	for (uint32_t i = 0; p->hash && i <= p->mask; i++) {
		uint32_t slot = p->hash[i];
		if (slot == 0)
			continue;
		const char *s = cp__spool_get(p, slot - 1);
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

static int spool_intern(cp_spool *p, const char *s, size_t len, uint32_t *id)
{
	uint32_t h = str_hash(s, len);
	if ((*id = spool_base_find(p, s, len, h)) != CP_NO_ID)
		return CP_OK;
	uint32_t i = 0;
	if (p->hash) {
		for (i = h & p->mask;; i = (i + 1) & p->mask) {
			uint32_t slot = p->hash[i];
			if (slot == 0)
				break;
			if (str_is(cp__spool_get(p, slot - 1), s, len)) {
				*id = slot - 1;
				return CP_OK;
			}
		}
	}
	if (len + 1 > CP_POOL_LIMIT - cp__spool_len(p))
		return CP_ELIMIT;
	int rc;
	if (!p->hash || (size_t)p->count + 1 > ((size_t)p->mask + 1) / 2) {
		if ((rc = spool_grow_hash(p)) != CP_OK)
			return rc;
		for (i = h & p->mask; p->hash[i]; i = (i + 1) & p->mask)
			;
	}
	if ((rc = cp__seg_reserve(&p->seg, (uint32_t)len + 1)) != CP_OK)
		return rc;
	char *dst = (char *)cp__seg_tail(&p->seg);
	memcpy(dst, s, len);
	dst[len] = '\0';
	*id = cp__spool_len(p);
	p->seg.end += (uint32_t)len + 1;
	p->hash[i] = *id + 1;
	p->count++;
	return CP_OK;
}

static uint32_t lpool_base_find(const cp_lpool *p, const uint32_t *ids, uint32_t n, uint32_t h)
{
	if (!p->base_hash)
		return CP_NO_ID;
	for (uint64_t k = 0, i = h & p->base_mask; k <= p->base_mask;
	     k++, i = (i + 1) & p->base_mask) {
		uint32_t v = p->base_hash[i];
		if (!v)
			break;
		uint32_t id = v - 1;
		if (id < p->base_len && n < p->base_len - id && list_is(p->base + id, ids, n))
			return id;
	}
	return CP_NO_ID;
}

static int lpool_grow_hash(cp_lpool *p)
{
	uint32_t size = p->hash ? (p->mask + 1) * 2 : CP_HASH_MIN;
	if (size == 0)
		return CP_ELIMIT;
	uint32_t *h = slots_new(size);
	if (!h)
		return CP_ENOMEM;
	for (uint32_t i = 0; p->hash && i <= p->mask; i++) {
		uint32_t slot = p->hash[i];
		if (slot == 0)
			continue;
		const uint32_t *l = cp__lpool_get(p, slot - 1);
		uint32_t k = list_hash(l + 1, l[0]) & (size - 1);
		while (h[k])
			k = (k + 1) & (size - 1);
		h[k] = slot;
	}
	cp__free(p->hash);
	p->hash = h;
	p->mask = size - 1;
	return CP_OK;
}

static int lpool_intern(cp_lpool *p, const uint32_t *ids, uint32_t n, uint32_t *id)
{
	uint32_t h = list_hash(ids, n);
	if ((*id = lpool_base_find(p, ids, n, h)) != CP_NO_ID)
		return CP_OK;
	uint32_t i = 0;
	if (p->hash) {
		for (i = h & p->mask;; i = (i + 1) & p->mask) {
			uint32_t slot = p->hash[i];
			if (slot == 0)
				break;
			if (list_is(cp__lpool_get(p, slot - 1), ids, n)) {
				*id = slot - 1;
				return CP_OK;
			}
		}
	}
	if ((size_t)n + 1 > CP_POOL_LIMIT - cp__lpool_len(p))
		return CP_ELIMIT;
	int rc;
	if (!p->hash || (size_t)p->count + 1 > ((size_t)p->mask + 1) / 2) {
		if ((rc = lpool_grow_hash(p)) != CP_OK)
			return rc;
		for (i = h & p->mask; p->hash[i]; i = (i + 1) & p->mask)
			;
	}
	if ((rc = cp__seg_reserve(&p->seg, n + 1)) != CP_OK)
		return rc;
	uint32_t *dst = (uint32_t *)(void *)cp__seg_tail(&p->seg);
	dst[0] = n;
	if (n)
		memcpy(dst + 1, ids, (size_t)n * sizeof(uint32_t));
	*id = cp__lpool_len(p);
	p->seg.end += n + 1;
	p->hash[i] = *id + 1;
	p->count++;
	return CP_OK;
}

static size_t spool_memory(const cp_spool *p)
{
	return p->seg.bytes + (p->hash ? ((size_t)p->mask + 1) * sizeof(uint32_t) : 0);
}

static size_t lpool_memory(const cp_lpool *p)
{
	return p->seg.bytes + (p->hash ? ((size_t)p->mask + 1) * sizeof(uint32_t) : 0);
}

/* =========================================================================
 * Rows: the sequence lock
 * ========================================================================= */

/*
 * The sequence lock, as C11 atomics (Boehm, "Can seqlocks get along with
 * programming language memory models?", 2012): the writer marks the
 * header busy (relaxed), stores the cells with release stores (so none can
 * be seen before the busy mark), then stores the new version (release).
 * The reader loads the header (acquire), the cells with acquire loads (so
 * the second load of the header cannot come before them), then the header
 * again; equal and not busy means no write overlapped.  No fence is needed,
 * which ThreadSanitizer models exactly; on x86 every one of these is a
 * plain move.
 *
 * Every access to a location has the same size: the header and bytes 4..7
 * as 32-bit words, the rest (from 8, a multiple of 8) as 64-bit words.
 */
static void row_load(uint8_t *dst, const uint8_t *src, size_t rs)
{
	uint32_t w = __atomic_load_n((const uint32_t *)(const void *)(src + 4), __ATOMIC_ACQUIRE);
	memcpy(dst + 4, &w, sizeof(w));
	for (size_t off = 8; off < rs; off += 8) {
		uint64_t v = __atomic_load_n((const uint64_t *)(const void *)(src + off),
		                             __ATOMIC_ACQUIRE);
		memcpy(dst + off, &v, sizeof(v));
	}
}

static void row_store(uint8_t *dst, const uint8_t *src, size_t rs)
{
	uint32_t w;
	memcpy(&w, src + 4, sizeof(w));
	__atomic_store_n((uint32_t *)(void *)(dst + 4), w, __ATOMIC_RELEASE);
	for (size_t off = 8; off < rs; off += 8) {
		uint64_t v;
		memcpy(&v, src + off, sizeof(v));
		__atomic_store_n((uint64_t *)(void *)(dst + off), v, __ATOMIC_RELEASE);
	}
}

static uint32_t *header_of(const uint8_t *row)
{
	return (uint32_t *)(void *)(uintptr_t)row;
}

/* Reader: a consistent copy of a shared row (its header reduced to the
 * live flag). */
static void row_copy(uint8_t *dst, const uint8_t *src, size_t rs)
{
	for (;;) {
		uint32_t h1 = cp__ld32_acq(header_of(src));
		if (h1 & CP_ROW_BUSY) {
			cpu_relax();
			continue;
		}
		row_load(dst, src, rs);
		if (cp__ld32(header_of(src)) == h1) {
			uint32_t h = h1 & CP_ROW_LIVE;
			memcpy(dst, &h, sizeof(h));
			return;
		}
	}
}

/* Reader: the key id and live flag of a shared row, consistently. */
static uint32_t row_key(const cp_schema *sc, const uint8_t *src, bool *live)
{
	uint32_t off = sc->fields[sc->key].offset;
	const uint64_t *word = (const uint64_t *)(const void *)(src + (off & ~7u));
	for (;;) {
		uint32_t h1 = cp__ld32_acq(header_of(src));
		if (h1 & CP_ROW_BUSY) {
			cpu_relax();
			continue;
		}
		uint64_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		if (cp__ld32(header_of(src)) == h1) {
			uint32_t id;
			memcpy(&id, (const uint8_t *)&w + (off & 7u), sizeof(id));
			*live = h1 & CP_ROW_LIVE;
			return id;
		}
	}
}

/* Writer: a new content for a shared row (src's header is ignored). */
static void row_write(uint8_t *dst, const uint8_t *src, size_t rs, bool live)
{
	uint32_t *hp = header_of(dst);
	uint32_t h = cp__ld32(hp);
	cp__st32(hp, h | CP_ROW_BUSY);
	row_store(dst, src, rs);
	cp__st32_rel(hp, ((h & ~(CP_ROW_BUSY | CP_ROW_LIVE)) + CP_ROW_VERSION) |
	                 (live ? CP_ROW_LIVE : 0));
}

/* Writer: mark a shared row deleted, keeping its cells (and so its key):
 * only the header changes, in one store. */
static void row_kill(uint8_t *dst)
{
	uint32_t *hp = header_of(dst);
	uint32_t h = cp__ld32(hp);
	cp__st32_rel(hp, (h & ~(CP_ROW_BUSY | CP_ROW_LIVE)) + CP_ROW_VERSION);
}

/* =========================================================================
 * Row checks
 * ========================================================================= */

static bool interned_field(const cp_field *f)
{
	return f->type == CP_TYPE_STRING || f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST ||
	       (f->type == CP_TYPE_ENUM && !f->closed);
}

static bool string_ok(const char *strings, uint32_t slen, uint32_t id)
{
	return id < slen && (id == 0 || strings[id - 1] == '\0');
}

static const char *check_cell(const cp_field *f, const uint8_t *cell, const char *strings,
                              uint32_t slen, const uint32_t *items, uint32_t ilen)
{
	uint32_t v;
	if (f->type == CP_TYPE_BOOL)
		return *cell > 1 ? "a bool is neither 0 nor 1" : NULL;
	memcpy(&v, cell, sizeof(v));
	switch (f->type) {
	case CP_TYPE_ENUM:
		if (f->closed)
			return v >= (uint32_t)f->nvalues ? "an enum index is not a listed value" : NULL;
		/* an open enum holds a string id */
		/* fall through */
	case CP_TYPE_STRING:
		return string_ok(strings, slen, v) ? NULL : "a string id is not a string";
	case CP_TYPE_SET:
	case CP_TYPE_LIST: {
		if (v >= ilen || items[v] > ilen - v - 1)
			return "a list id is not a list";
		uint32_t n = items[v];
		if (f->type == CP_TYPE_LIST && f->max_items && n > (uint32_t)f->max_items)
			return "a list holds more items than its field allows";
		for (uint32_t i = 1; i <= n; i++)
			if (!string_ok(strings, slen, items[v + i]))
				return "a list item is not a string";
		return NULL;
	}
	default:
		return NULL; /* numbers and dates: every bit pattern is a value */
	}
}

int cp__row_check(const cp_schema *sc, const uint8_t *row, const char *strings, uint32_t slen,
                  const uint32_t *items, uint32_t ilen, const char **why, int *field,
                  int *month)
{
	*field = -1;
	*month = 0;
	if (!cp__row_live(row)) {
		*why = "the row holds no profile";
		return CP_ECORRUPT;
	}
	if (!cp__row_present(row, sc->fields[sc->key].cell)) {
		*field = sc->key;
		*why = "the row has no key";
		return CP_ECORRUPT;
	}
	for (int fi = 0; fi < sc->nfields; fi++) {
		const cp_field *f = &sc->fields[fi];
		if (f->type == CP_TYPE_INT || f->type == CP_TYPE_FLOAT || f->type == CP_TYPE_MONEY ||
		    f->type == CP_TYPE_DATE)
			continue;
		for (int m = 0; m < f->months; m++) {
			if (!cp__row_present(row, f->cell + (uint32_t)m))
				continue;
			const char *w = check_cell(f, cp__row_cell(row, f, m), strings, slen, items, ilen);
			if (w) {
				*why = w;
				*field = fi;
				*month = m;
				return CP_ECORRUPT;
			}
		}
	}
	return CP_OK;
}

static int base_row_check(const cp_store *s, const uint8_t *row, const char **why)
{
	const char *w;
	int f, m;
	int rc = cp__row_check(s->schema, row, s->strings.base, s->strings.base_len,
	                       s->lists.base, s->lists.base_len, &w, &f, &m);
	if (rc != CP_OK && why)
		*why = w;
	return rc;
}

/* =========================================================================
 * Reading rows and keys (any thread)
 * ========================================================================= */

static const cp_field *key_field(const cp_store *s)
{
	return &s->schema->fields[s->schema->key];
}

static const uint32_t *over_table(const cp_store *s)
{
	return __atomic_load_n(&s->over, __ATOMIC_ACQUIRE);
}

static const uint8_t *base_row(const cp_store *s, uint32_t row)
{
	return s->base_rows + (size_t)row * s->schema->row_size;
}

const uint8_t *cp__store_read(const cp_store *s, uint32_t row, uint8_t *buf, const char **why)
{
	size_t rs = s->schema->row_size;
	if (row < s->nbase) {
		const uint32_t *over = over_table(s);
		uint32_t o = over ? cp__ld32_acq(&over[row]) : 0;
		if (o == CP_OVER_DEAD)
			return NULL;
		if (o) {
			row_copy(buf, cp__seg_at(&s->over_rows, o - 1), rs);
			return cp__row_live(buf) ? buf : NULL;
		}
		const uint8_t *r = base_row(s, row);
		return base_row_check(s, r, why) == CP_OK ? r : NULL;
	}
	if (row >= cp__store_nrows(s))
		return NULL;
	row_copy(buf, cp__seg_at(&s->rows, row - s->nbase), rs);
	return cp__row_live(buf) ? buf : NULL;
}

/* The base row whose key is key, live or not (a probe of the base index,
 * bounded and checked as the base may be hostile), or CP_NO_ID. */
static uint32_t base_find(const cp_store *s, const char *key, size_t len, uint32_t h)
{
	if (!s->nbase)
		return CP_NO_ID;
	const cp_field *kf = key_field(s);
	const cp_spool *p = &s->strings;
	uint32_t mask = s->base_index_mask;
	for (uint64_t n = 0, i = h & mask; n <= mask; n++, i = (i + 1) & mask) {
		uint32_t v = s->base_index[i];
		if (!v)
			break;
		if (v - 1 >= s->nbase)
			continue;
		const uint8_t *row = base_row(s, v - 1);
		if (!cp__row_present(row, kf->cell))
			continue;
		uint32_t id = cp__row_key_id(s->schema, row);
		if (id < p->base_len && len < p->base_len - id &&
		    memcmp(p->base + id, key, len) == 0 && p->base[id + len] == '\0')
			return v - 1;
	}
	return CP_NO_ID;
}

static const cp_itab *index_table(const cp_store *s)
{
	return __atomic_load_n(&s->index, __ATOMIC_ACQUIRE);
}

static uint8_t *overlay_row(const cp_store *s, uint32_t row)
{
	return cp__seg_at(&s->rows, row - s->nbase);
}

uint32_t cp__store_lookup_row(const cp_store *s, const char *key, size_t len, uint8_t *buf,
                              const uint8_t **out, const char **why)
{
	uint32_t h = str_hash(key, len);
	*out = NULL;
	uint32_t row = base_find(s, key, len, h);
	if (row != CP_NO_ID) {
		*out = cp__store_read(s, row, buf, why);
		return *out ? row : CP_NO_ID;
	}
	size_t rs = s->schema->row_size;
retry:;
	const cp_itab *t = index_table(s);
	if (!t)
		return CP_NO_ID;
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t v = cp__ld32_acq(&t->slots[i]);
		if (v == 0)
			return CP_NO_ID;
		if (v == CP_INDEX_TOMB)
			continue;
		const uint8_t *src = overlay_row(s, v - 1);
		bool live;
		uint32_t id = row_key(s->schema, src, &live);
		if (!str_is(cp__store_str(s, id), key, len))
			continue;
		row_copy(buf, src, rs);
		if (cp__row_key_id(s->schema, buf) != id)
			goto retry; /* the row was given to another key meanwhile */
		if (!cp__row_live(buf))
			return CP_NO_ID;
		*out = buf;
		return v - 1;
	}
}

/* ---- the writer's view: its own rows, without copies ---- */

const uint8_t *cp__store_wrow(const cp_store *s, uint32_t row)
{
	const uint8_t *r;
	if (row < s->nbase) {
		uint32_t o = s->over ? s->over[row] : 0;
		if (o == CP_OVER_DEAD)
			return NULL;
		r = o ? cp__seg_at(&s->over_rows, o - 1) : base_row(s, row);
	} else {
		if (row >= s->nrows)
			return NULL;
		r = overlay_row(s, row);
	}
	return cp__row_live(r) ? r : NULL;
}

/* Overlay row of key in the index, and its slot, or CP_NO_ID (writer). */
static uint32_t overlay_find(const cp_store *s, const char *key, size_t len, uint32_t h,
                             uint32_t *slot)
{
	const cp_itab *t = s->index;
	if (!t)
		return CP_NO_ID;
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		uint32_t v = t->slots[i];
		if (v == 0)
			return CP_NO_ID;
		if (v == CP_INDEX_TOMB)
			continue;
		if (str_is(cp__store_str(s, cp__row_key_id(s->schema, overlay_row(s, v - 1))), key,
		           len)) {
			if (slot)
				*slot = i;
			return v - 1;
		}
	}
}

/* The row of key (writer): a live row, or a base row whose profile was
 * deleted (*dead set), or CP_NO_ID. */
static uint32_t writer_find(const cp_store *s, const char *key, size_t len, bool *dead)
{
	uint32_t h = str_hash(key, len);
	*dead = false;
	uint32_t row = base_find(s, key, len, h);
	if (row != CP_NO_ID) {
		*dead = cp__store_wrow(s, row) == NULL;
		return row;
	}
	return overlay_find(s, key, len, h, NULL);
}

uint32_t cp__store_find(const cp_store *s, const char *key, size_t len)
{
	bool dead;
	uint32_t row = writer_find(s, key, len, &dead);
	return dead ? CP_NO_ID : row;
}

/* =========================================================================
 * The key index (writer side)
 * ========================================================================= */

static cp_itab *itab_new(uint32_t size)
{
	cp_itab *t = cp__calloc(1, sizeof(cp_itab) + (size_t)size * sizeof(uint32_t));
	if (t)
		t->mask = size - 1;
	return t;
}

/* Room for one more key, before anything is changed: at most half the
 * slots used or tombstoned.  A full table is replaced by a new one (twice
 * as large unless tombstones were most of it), published for readers; the
 * old one stays until the store is freed, as a reader may still probe it. */
static int index_reserve(cp_store *s)
{
	cp_itab *t = s->index;
	if (!t) { /* the first key of the overlay */
		if (!(t = itab_new(CP_HASH_MIN)))
			return CP_ENOMEM;
		__atomic_store_n(&s->index, t, __ATOMIC_RELEASE);
	}
	size_t size = (size_t)t->mask + 1;
	if ((size_t)t->used + t->tombs + 1 <= size / 2)
		return CP_OK;
	if ((size_t)t->used + 1 > size / 4)
		size *= 2;
	if (size > (size_t)1 << 32)
		return CP_ELIMIT;
	cp_itab *n = itab_new((uint32_t)size);
	if (!n)
		return CP_ENOMEM;
	for (uint32_t i = 0; i <= t->mask; i++) {
		uint32_t v = t->slots[i];
		if (v == 0 || v == CP_INDEX_TOMB)
			continue;
		const char *k = cp__store_str(s, cp__row_key_id(s->schema, overlay_row(s, v - 1)));
		uint32_t j = str_hash(k, strlen(k)) & n->mask;
		while (n->slots[j])
			j = (j + 1) & n->mask;
		n->slots[j] = v;
		n->used++;
	}
	n->older = t;
	__atomic_store_n(&s->index, n, __ATOMIC_RELEASE);
	return CP_OK;
}

static void index_insert(cp_store *s, const char *key, size_t len, uint32_t row)
{
	cp_itab *t = s->index;
	uint32_t i = str_hash(key, len) & t->mask;
	while (t->slots[i] && t->slots[i] != CP_INDEX_TOMB)
		i = (i + 1) & t->mask;
	if (t->slots[i] == CP_INDEX_TOMB)
		t->tombs--;
	t->used++;
	cp__st32_rel(&t->slots[i], row + 1);
}

/* =========================================================================
 * Keys
 * ========================================================================= */

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

/* The key as stored (normalized into buf when the key field says so), or
 * CP_ENOTFOUND with a message on err. */
static int normalized_key(const cp_store *s, const char *key, size_t len, char *buf,
                          const char **nk, size_t *nlen, cp_obj *err)
{
	const cp_field *kf = key_field(s);
	*nk = key;
	*nlen = len;
	if (kf->normalize == CP_NORM_NONE)
		return CP_OK;
	const char *why;
	int rc = cp__store_normalize_key(s->schema, key, len, buf, CP_KEY_BUF, &why);
	/* A key that cannot be normalized cannot be stored either. */
	if (rc != CP_OK) {
		if (kf->personal || !cp__utf8_valid(key, len))
			return cp__fail(err, CP_ENOTFOUND, "no profile with that key: %s", why);
		return cp__fail(err, CP_ENOTFOUND, "no profile with key '%.*s': %s", (int)len, key,
		                why);
	}
	*nk = buf;
	*nlen = strlen(buf);
	return CP_OK;
}

static int not_found(const cp_store *s, const char *nk, size_t nlen, cp_obj *err)
{
	if (key_field(s)->personal || !cp__utf8_valid(nk, nlen))
		return cp__fail(err, CP_ENOTFOUND, "no profile with that key");
	return cp__fail(err, CP_ENOTFOUND, "no profile with key '%.*s'", (int)nlen, nk);
}

int cp__store_lookup(const cp_store *s, const char *key, size_t len, char *kbuf,
                     uint8_t *rowbuf, const uint8_t **row, cp_obj *err)
{
	const char *nk;
	size_t nlen;
	*row = NULL;
	int rc = normalized_key(s, key, len, kbuf, &nk, &nlen, err);
	if (rc != CP_OK)
		return rc;
	const char *why = NULL;
	uint32_t r = cp__store_lookup_row(s, nk, nlen, rowbuf, row, &why);
	if (r != CP_NO_ID)
		return CP_OK;
	if (why)
		return cp__fail(err, CP_ECORRUPT, "the profile of that key is damaged in the "
		                "snapshot (%s); cp_snapshot_verify lists the damage", why);
	return not_found(s, nk, nlen, err);
}

/* =========================================================================
 * The store
 * ========================================================================= */

static int store_alloc(cp_store **out, const cp_schema *schema)
{
	cp_store *s = cp__calloc(1, sizeof(*s));
	if (!s)
		return CP_ENOMEM;
	cp__obj_init(&s->obj, CP_OBJ_STORE);
	s->schema = cp__schema_ref(schema);
	uint32_t rs = schema->row_size;
	cp__seg_init(&s->rows, rs, 64, true);
	cp__seg_init(&s->over_rows, rs, 64, true);
	spool_init(&s->strings, NULL, 0, 0, NULL, 0);
	lpool_init(&s->lists, NULL, 0, 0, NULL, 0);
	s->scratch = cp__malloc(rs);
	if (!s->scratch) {
		cp_store_free(s);
		return CP_ENOMEM;
	}
	*out = s;
	return CP_OK;
}

/* The base of a new store: the empty string and the empty list, each in a
 * small hash table, as a snapshot of an empty store would hold them. */
static int empty_base(cp_store *s)
{
	size_t hbytes = CP_HASH_MIN * sizeof(uint32_t);
	uint8_t *b = cp__calloc(1, 2 * hbytes + 2 * sizeof(uint32_t));
	if (!b)
		return CP_ENOMEM;
	s->base_own = b;
	uint32_t *shash = (uint32_t *)(void *)b, *lhash = shash + CP_HASH_MIN;
	uint32_t *items = lhash + CP_HASH_MIN; /* items[0] = 0: the empty list */
	const char *strings = (const char *)(items + 1); /* "" */
	shash[str_hash("", 0) & (CP_HASH_MIN - 1)] = 0 + 1;
	lhash[list_hash(NULL, 0) & (CP_HASH_MIN - 1)] = 0 + 1;
	spool_init(&s->strings, strings, 1, 1, shash, CP_HASH_MIN);
	lpool_init(&s->lists, items, 1, 1, lhash, CP_HASH_MIN);
	return CP_OK;
}

int cp_store_new(cp_store **out, const cp_schema *schema)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!schema || schema->key < 0 || schema->row_size == 0)
		return CP_EINVAL;
	cp_store *s;
	int rc = store_alloc(&s, schema);
	if (rc != CP_OK)
		return rc;
	if ((rc = empty_base(s)) != CP_OK) {
		cp_store_free(s);
		return rc;
	}
	*out = s;
	return CP_OK;
}

int cp__store_new_base(cp_store **out, const cp_schema *schema, const cp_store_base *b)
{
	cp_store *s;
	int rc = store_alloc(&s, schema);
	if (rc != CP_OK)
		return rc;
	s->base_rows = b->rows;
	s->nbase = b->nrows;
	s->base_index = b->index_slots ? b->index : NULL;
	s->base_index_mask = b->index_slots ? b->index_slots - 1 : 0;
	spool_init(&s->strings, b->strings, b->strings_len, b->string_count, b->string_hash,
	           b->string_hash_slots);
	lpool_init(&s->lists, b->lists, b->lists_len, b->list_count, b->list_hash,
	           b->list_hash_slots);
	s->nrows = b->nrows;
	s->live = b->nrows;
	s->as_of = b->as_of;
	*out = s;
	return CP_OK;
}

void cp_store_free(cp_store *s)
{
	if (!s)
		return;
	cp__wal_free(s);
	cp__stagehist_free(s->stagehist);
	cp__seg_free(&s->rows);
	cp__seg_free(&s->over_rows);
	cp__seg_free(&s->strings.seg);
	cp__free(s->strings.hash);
	cp__seg_free(&s->lists.seg);
	cp__free(s->lists.hash);
	for (cp_itab *t = s->index, *older; t; t = older) {
		older = t->older;
		cp__free(t);
	}
	cp__free(s->over);
	cp__free(s->free_rows);
	cp__free(s->scratch);
	cp__free(s->base_own);
	cp__free(s->image);
	if (s->map)
		munmap(s->map, s->map_len);
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
	return s ? __atomic_load_n(&s->live, __ATOMIC_ACQUIRE) : 0;
}

static int check_as_of(cp_store *s, int yyyymm)
{
	int y = yyyymm / 100, m = yyyymm % 100;
	if (yyyymm != 0 && (y < 1900 || y > 9999 || m < 1 || m > 12))
		return cp__fail(&s->obj, CP_EINVAL,
		                "as-of month %d is not a month yyyymm (year 1900..9999, month 1..12)",
		                yyyymm);
	return CP_OK;
}

int cp__store_set_as_of(cp_store *s, int yyyymm, bool log)
{
	int rc = check_as_of(s, yyyymm);
	if (rc == CP_OK && log && s->wal && (rc = cp__wal_begin(s)) == CP_OK)
		rc = cp__wal_log_as_of(s, yyyymm);
	if (rc == CP_OK)
		__atomic_store_n(&s->as_of, yyyymm, __ATOMIC_RELEASE);
	return rc;
}

int cp_store_set_as_of(cp_store *s, int yyyymm)
{
	if (!s)
		return CP_EINVAL;
	return cp__store_set_as_of(s, yyyymm, true);
}

int cp_store_as_of(const cp_store *s)
{
	return s ? __atomic_load_n(&s->as_of, __ATOMIC_ACQUIRE) : 0;
}

size_t cp_store_row_bytes(const cp_store *s)
{
	return s ? s->schema->row_size : 0;
}

/* The tables lookups use now: the base's index and the overlay's. */
size_t cp_store_index_bytes(const cp_store *s)
{
	if (!s)
		return 0;
	size_t n = s->index ? ((size_t)s->index->mask + 1) * sizeof(uint32_t) : 0;
	if (s->base_index)
		n += ((size_t)s->base_index_mask + 1) * sizeof(uint32_t);
	return n;
}

size_t cp_store_memory_bytes(const cp_store *s)
{
	if (!s)
		return 0;
	/* the base's arrays (in a mapping: the schema section is not counted) */
	size_t n = sizeof(*s) + (size_t)s->nbase * s->schema->row_size + s->rows.bytes +
	           s->over_rows.bytes +
	           spool_memory(&s->strings) + lpool_memory(&s->lists) +
	           s->cap_free * sizeof(uint32_t) + s->schema->row_size;
	if (s->over)
		n += (size_t)s->nbase * sizeof(uint32_t);
	if (s->base_own)
		n += 2 * CP_HASH_MIN * sizeof(uint32_t) + 2 * sizeof(uint32_t);
	else
		n += s->strings.base_len + ((size_t)s->strings.base_mask + 1) * sizeof(uint32_t) +
		     ((size_t)s->lists.base_len + s->lists.base_mask + 1) * sizeof(uint32_t) +
		     ((size_t)s->base_index_mask + 1) * sizeof(uint32_t);
	for (const cp_itab *t = s->index; t; t = t->older)
		n += sizeof(*t) + ((size_t)t->mask + 1) * sizeof(uint32_t);
	return n;
}

/* =========================================================================
 * Put
 * ========================================================================= */

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
		rc = spool_intern(&s->strings, str, strlen(str), &ids[i]);
	}
	if (rc == CP_OK)
		rc = lpool_intern(&s->lists, ids, n, id);
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
				rc = spool_intern(&s->strings, str, strlen(str), &id);
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

/* The table of base rows that changed, made at the first change. */
static int over_reserve(cp_store *s)
{
	if (s->over)
		return CP_OK;
	uint32_t *o = cp__calloc(s->nbase, sizeof(uint32_t));
	if (!o)
		return CP_ENOMEM;
	__atomic_store_n(&s->over, o, __ATOMIC_RELEASE);
	return CP_OK;
}

static int free_reserve(cp_store *s)
{
	if (s->nfree < s->cap_free)
		return CP_OK;
	size_t cap = s->cap_free ? s->cap_free * 2 : 16;
	uint32_t *f = cp__reallocarray(s->free_rows, cap, sizeof(uint32_t));
	if (!f)
		return CP_ENOMEM;
	s->free_rows = f;
	s->cap_free = cap;
	return CP_OK;
}

/* Where a put goes, decided (and every allocation made) before the log
 * record is written, so that nothing can fail once it is. */
typedef struct put_plan {
	uint32_t row;   /* an existing row of the key, or CP_NO_ID: a new row */
	bool dead;      /* row is a base row whose profile was deleted */
} put_plan;

static int put_prepare(cp_store *s, const char *key, size_t klen, put_plan *pl)
{
	int rc;
	pl->row = writer_find(s, key, klen, &pl->dead);
	if (pl->row != CP_NO_ID && pl->row < s->nbase) {
		if ((rc = over_reserve(s)) != CP_OK)
			return rc;
		uint32_t o = s->over[pl->row];
		if (o == 0 || o == CP_OVER_DEAD)
			return cp__seg_reserve(&s->over_rows, 1);
		return CP_OK;
	}
	if (pl->row != CP_NO_ID)
		return CP_OK;
	if (!s->nfree) {
		if (s->nrows >= CP_ROWS_LIMIT)
			return CP_ELIMIT;
		if ((rc = cp__seg_reserve(&s->rows, 1)) != CP_OK)
			return rc;
	}
	return index_reserve(s);
}

static void atomic_add_live(cp_store *s, long d)
{
	__atomic_fetch_add(&s->live, (size_t)d, __ATOMIC_RELEASE);
}

/* Publish the row built in s->scratch; cannot fail. */
static int put_publish(cp_store *s, const char *key, size_t klen, const put_plan *pl)
{
	size_t rs = s->schema->row_size;
	const uint8_t *build = s->scratch;
	uint32_t row = pl->row;
	if (row != CP_NO_ID && row < s->nbase) {
		uint32_t o = s->over[row];
		if (o == 0 || o == CP_OVER_DEAD) {
			uint32_t unit = s->over_rows.end++;
			row_write(cp__seg_at(&s->over_rows, unit), build, rs, true);
			cp__st32_rel(&s->over[row], unit + 1);
		} else {
			row_write(cp__seg_at(&s->over_rows, o - 1), build, rs, true);
		}
		if (pl->dead)
			atomic_add_live(s, 1);
		return !pl->dead;
	}
	if (row != CP_NO_ID) {
		row_write(overlay_row(s, row), build, rs, true);
		return 1;
	}
	if (s->nfree) {
		row = s->free_rows[--s->nfree];
		row_write(overlay_row(s, row), build, rs, true);
	} else {
		row = s->nbase + s->rows.end++;
		row_write(overlay_row(s, row), build, rs, true);
		__atomic_store_n(&s->nrows, row + 1, __ATOMIC_RELEASE);
	}
	index_insert(s, key, klen, row);
	atomic_add_live(s, 1);
	return 0;
}

int cp__store_put(cp_store *s, const cp_profile *p, int *replaced, bool log)
{
	if (replaced)
		*replaced = 0;
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
	/* The log first: taking it may apply updates of other processes. */
	int rc;
	if (log && s->wal && (rc = cp__wal_begin(s)) != CP_OK)
		return rc;

	/* Build the new row in the scratch row: a failure leaves every stored
	 * profile as it was (strings interned on the way stay, unused). */
	memcpy(s->scratch, p->row, s->schema->row_size);
	uint32_t header = CP_ROW_LIVE;
	memcpy(s->scratch, &header, sizeof(header));
	put_plan pl;
	rc = reintern_row(s, p, s->scratch);
	if (rc == CP_OK)
		rc = put_prepare(s, key, klen, &pl);
	if (rc != CP_OK)
		return put_fail(s, rc);
	if (log && s->wal && (rc = cp__wal_log_put(s, p)) != CP_OK)
		return rc;
	int r = put_publish(s, key, klen, &pl);
	if (replaced)
		*replaced = r;
	return CP_OK;
}

int cp_store_put(cp_store *s, const cp_profile *p, int *replaced)
{
	if (replaced)
		*replaced = 0;
	if (!s || !p)
		return CP_EINVAL;
	return cp__store_put(s, p, replaced, true);
}

int cp__store_rewrite_all(cp_store *s, void (*fn)(void *ctx, uint8_t *dst), void *ctx)
{
	size_t rs = s->schema->row_size;
	uint32_t need = 0;
	for (uint32_t i = 0; i < s->nbase; i++)
		if (!s->over || s->over[i] == 0)
			need++;
	int rc;
	if (need && ((rc = over_reserve(s)) != CP_OK ||
	             (rc = cp__seg_reserve(&s->over_rows, need)) != CP_OK))
		return rc;
	for (uint32_t i = 0; i < s->nrows; i++) {
		const uint8_t *cur = cp__store_wrow(s, i);
		if (!cur)
			continue;
		memcpy(s->scratch, cur, rs);
		fn(ctx, s->scratch);
		if (i >= s->nbase) {
			row_write(overlay_row(s, i), s->scratch, rs, true);
		} else if (s->over[i] == 0) {
			uint32_t unit = s->over_rows.end++;
			row_write(cp__seg_at(&s->over_rows, unit), s->scratch, rs, true);
			cp__st32_rel(&s->over[i], unit + 1);
		} else {
			row_write(cp__seg_at(&s->over_rows, s->over[i] - 1), s->scratch, rs, true);
		}
	}
	return CP_OK;
}

/* =========================================================================
 * Delete
 * ========================================================================= */

int cp__store_delete(cp_store *s, const char *key, size_t len, bool log)
{
	int rc;
	/* The log first (it may apply updates of other processes), but not for
	 * a key this handle does not have: that writes nothing. */
	if (log && s->wal && cp__store_find(s, key, len) != CP_NO_ID &&
	    (rc = cp__wal_begin(s)) != CP_OK)
		return rc;
	uint32_t h = str_hash(key, len), slot = 0;
	uint32_t row = base_find(s, key, len, h);
	bool base = row != CP_NO_ID;
	if (base && !cp__store_wrow(s, row))
		row = CP_NO_ID;
	if (!base)
		row = overlay_find(s, key, len, h, &slot);
	if (row == CP_NO_ID)
		return not_found(s, key, len, &s->obj);
	rc = base ? over_reserve(s) : free_reserve(s);
	if (rc != CP_OK)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
	if (log && s->wal && (rc = cp__wal_log_delete(s, key, len)) != CP_OK)
		return rc;
	if (base) {
		uint32_t o = s->over[row];
		if (o == 0)
			cp__st32_rel(&s->over[row], CP_OVER_DEAD);
		else
			row_kill(cp__seg_at(&s->over_rows, o - 1));
	} else {
		cp_itab *t = s->index;
		cp__st32_rel(&t->slots[slot], CP_INDEX_TOMB);
		t->used--;
		t->tombs++;
		row_kill(overlay_row(s, row));
		s->free_rows[s->nfree++] = row;
	}
	atomic_add_live(s, -1);
	return CP_OK;
}

int cp_store_delete(cp_store *s, const char *key)
{
	if (!s || !key)
		return CP_EINVAL;
	char buf[CP_KEY_BUF];
	const char *nk;
	size_t nlen;
	int rc = normalized_key(s, key, strlen(key), buf, &nk, &nlen, &s->obj);
	if (rc != CP_OK)
		return rc;
	return cp__store_delete(s, nk, nlen, true);
}
