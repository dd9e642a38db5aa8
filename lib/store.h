/*
 * store.h — the store's in-memory form: fixed-width rows (layout in
 * schema.h), interned strings, interned item lists, and a hash index on the
 * key.  Shared by store.c, profile.c, view.c, csv.c, snapshot.c and the
 * rule evaluator.
 *
 * Every array here is a plain (pointer, length) pair of fixed-width
 * little-endian-native records, so a snapshot can hold them as they are and
 * a later open can point at a read-only mapping instead of copying
 * (`mapped`: then nothing may be written in place).
 */
#ifndef CP_STORE_H
#define CP_STORE_H

/* schema.h brings config.h first, which must precede every system header. */
#include "schema.h"

#include <string.h>

#define CP_NO_ID UINT32_MAX

/*
 * String pool: interned NUL-terminated UTF-8 strings.  A string's id is its
 * byte offset in `bytes`; id 0 is the empty string (bytes[0] == '\0').
 * hash: open addressing, slot = id + 1 (0 = empty), size mask + 1 (a power
 * of two), load <= 1/2.
 */
typedef struct cp_strpool {
	char *bytes;
	size_t len, cap;
	uint32_t *hash;
	uint32_t mask;
	uint32_t count; /* distinct strings, "" included */
} cp_strpool;

int cp__strpool_init(cp_strpool *p);
void cp__strpool_free(cp_strpool *p);
/* Forget every string but "" (keeps the memory). */
void cp__strpool_reset(cp_strpool *p);
/* Bytes allocated (strings and hash). */
size_t cp__strpool_memory(const cp_strpool *p);
/* Intern s[0..len) (no NUL inside) and give its id; CP_ENOMEM or CP_ELIMIT
 * (pool over 4 GiB). */
int cp__strpool_intern(cp_strpool *p, const char *s, size_t len, uint32_t *id);
/* Append s[0..len) without looking for it or updating the hash: for the
 * pools of a draft, where repeats are harmless (cp_store_put interns them).
 * Never mix with cp__strpool_intern on one pool. */
int cp__strpool_add(cp_strpool *p, const char *s, size_t len, uint32_t *id);
/* Id of s[0..len) if interned, else CP_NO_ID. */
uint32_t cp__strpool_find(const cp_strpool *p, const char *s, size_t len);
static inline const char *cp__strpool_get(const cp_strpool *p, uint32_t id)
{
	return p->bytes + id;
}

/*
 * Item-list pool: interned sequences of string ids, for set and list cells.
 * A list's id is its index in `items`: items[id] is the count n, followed by
 * n string ids.  Sets are kept sorted by their strings' bytes (canonical, so
 * equal sets intern to the same id); lists keep their order.  Id 0 is the
 * empty list (items[0] == 0).
 */
typedef struct cp_listpool {
	uint32_t *items;
	size_t len, cap;
	uint32_t *hash; /* slot = id + 1, as in cp_strpool */
	uint32_t mask;
	uint32_t count;
} cp_listpool;

int cp__listpool_init(cp_listpool *p);
void cp__listpool_free(cp_listpool *p);
void cp__listpool_reset(cp_listpool *p);
size_t cp__listpool_memory(const cp_listpool *p);
/* Intern n string ids (a list, or a set already in canonical order); CP_ENOMEM
 * or CP_ELIMIT (pool over 4 GiB). */
int cp__listpool_intern(cp_listpool *p, const uint32_t *ids, uint32_t n, uint32_t *id);
/* Append without interning, as cp__strpool_add. */
int cp__listpool_add(cp_listpool *p, const uint32_t *ids, uint32_t n, uint32_t *id);
static inline uint32_t cp__listpool_count(const cp_listpool *p, uint32_t id)
{
	return p->items[id];
}
static inline const uint32_t *cp__listpool_ids(const cp_listpool *p, uint32_t id)
{
	return p->items + id + 1;
}

/* Row header flags (the first 4 bytes of a row). */
#define CP_ROW_LIVE 0x1u /* a profile; clear = deleted slot */

/*
 * Key index: open addressing on the hash of the key's bytes; a slot holds
 * the row number + 1 (0 = empty).  Deletion uses backward-shift, so there
 * are no tombstones.
 */
typedef struct cp_index {
	uint32_t *slots;
	uint32_t mask;
	uint32_t used;
} cp_index;

struct cp_store {
	cp_obj obj;
	const cp_schema *schema; /* own reference */
	int as_of;               /* yyyymm, 0 = unset */

	uint8_t *rows;           /* nrows * schema->row_size bytes */
	size_t nrows;            /* slots in use, deleted ones included */
	size_t cap_rows;
	size_t live;             /* profiles (rows with CP_ROW_LIVE) */
	uint32_t *free_rows;     /* deleted slots to reuse */
	size_t nfree, cap_free;

	cp_strpool strings;
	cp_listpool lists;
	cp_index index;

	bool mapped;             /* arrays point into a read-only mapping */
	void *map_base;          /* the mapping (snapshot.c), or NULL */
	size_t map_len;
};

static inline uint8_t *cp__store_row(const cp_store *s, size_t row)
{
	return s->rows + row * s->schema->row_size;
}
static inline bool cp__row_live(const uint8_t *row)
{
	uint32_t h;
	memcpy(&h, row, sizeof(h));
	return h & CP_ROW_LIVE;
}
/* The key string of a live row. */
const char *cp__store_row_key(const cp_store *s, const uint8_t *row);
/* Row number of the profile with this (already normalized) key, or CP_NO_ID. */
uint32_t cp__store_find(const cp_store *s, const char *key, size_t len);
/* Normalize a key as the schema's key field says; CP_OK or CP_ETYPE with why.
 * An msisdn-cn key needs CP_KEY_BUF bytes of out. */
int cp__store_normalize_key(const cp_schema *schema, const char *key, size_t len,
                            char *out, size_t outsize, const char **why);
#define CP_KEY_BUF 32
/*
 * Find the profile of a key as a caller gives it: normalized (into buf, of
 * CP_KEY_BUF bytes) when the key field says so.  *nk, *nlen get the key
 * looked up, *row its row.  CP_OK, or CP_ENOTFOUND (also for a key that
 * cannot be normalized) with a message on err (which may be NULL); the key
 * is named unless the key field is personal.
 */
int cp__store_lookup(const cp_store *s, const char *key, size_t len, char *buf,
                     const char **nk, size_t *nlen, uint32_t *row, cp_obj *err);

/*
 * A draft profile: a row in the schema's layout whose string and list ids
 * refer to the draft's own pools; cp_store_put re-interns them into the
 * store's pools.  The draft's pools are append-only (cp__strpool_add): a
 * string may be in them twice, and equal strings may have different ids.
 */
struct cp_profile {
	cp_obj obj;
	const cp_schema *schema; /* own reference */
	uint8_t *row;
	cp_strpool strings;
	cp_listpool lists;
	/* scratch of the setters: item ids of one set or list, and a reason
	 * composed for cp__profile_set_cell_text */
	uint32_t *items;
	size_t items_cap;
	char why[160];
};

/*
 * Set one cell from its CSV text form s[0..len) (no NUL needed; "" = null),
 * as cp_profile_set_text does, for CSV ingest: no allocation in the common
 * case, and no message on the handle.  On failure the cell is unchanged,
 * *why is a short reason that never contains the cell's value (it may name
 * a close listed enum value: "did you mean 'szx'?", except for personal
 * fields), valid until the next call on p; CP_ETYPE (the text does not fit
 * the type), CP_EINVAL (bad UTF-8, a NUL byte, an empty item, month out of
 * range), CP_ENOMEM or CP_ELIMIT.  f must be a field of p's schema.
 */
int cp__profile_set_cell_text(cp_profile *p, const cp_field *f, int month, const char *s,
                              size_t len, const char **why);

/* A read view: which store and which row. */
struct cp_view {
	cp_obj obj;
	const cp_store *store;
	const uint8_t *row; /* NULL = empty view */
};

#endif /* CP_STORE_H */
