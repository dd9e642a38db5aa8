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
/* Make room in the hash for n more strings, so that interning them does
 * not rehash (a hint: at most 2^31 slots).  CP_OK or CP_ENOMEM. */
int cp__strpool_reserve(cp_strpool *p, size_t n);
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
/* As cp__strpool_reserve, for n more item lists. */
int cp__listpool_reserve(cp_listpool *p, size_t n);
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

/*
 * Pieces of cell text handling shared by drafts (profile.c) and bulk
 * loading (store_bulk.c), so both accept and reject the same text with the
 * same reasons.
 */
#define CP_WHY_EMPTY_ITEM "an empty item (items are joined by ';' and may not be empty)"
#define CP_WHY_TOO_MANY_ITEMS "too many items"
/* Text of one cell: valid UTF-8 without NUL bytes.  CP_OK or CP_EINVAL
 * with *why. */
int cp__check_cell_text(const char *s, size_t len, const char **why);
/* Why s[0..len) is not a value of the closed enum f: a static string, or
 * buf (of size bytes) naming a close value unless f is personal. */
const char *cp__why_not_listed(const cp_field *f, const char *s, size_t len, char *buf,
                               size_t size);
/* Why n items are too many for the list f (composed in buf). */
const char *cp__why_list_too_long(const cp_field *f, uint32_t n, char *buf, size_t size);
/* Sort the string ids ids[0..n) of pool by their strings' bytes (a set's
 * canonical order; tmp has room for n) and drop repeats; the new count. */
uint32_t cp__sort_unique_items(const cp_strpool *pool, uint32_t *ids, uint32_t *tmp, uint32_t n);

/*
 * For bulk loading (store_bulk.c), which builds a row in the spare slot
 * (row nrows, past the last one) and then publishes it.
 *
 * cp__store_reserve: room for n more rows past nrows, plus the spare
 * slot, and for n more keys in the index (grows both at most once).
 * CP_OK, CP_ENOMEM or CP_ELIMIT; the store's content is unchanged.
 *
 * cp__store_publish_spare: the row built in the spare slot becomes the
 * profile of key (its key cell's string, len bytes): it replaces the
 * profile with that key (*replaced = 1) or is a new one.  known_new: the
 * caller knows that no profile has that key (the look-up is skipped).
 * Room was made by cp__store_reserve(s, 1); cannot fail.
 *
 * cp__store_trim: give back room for rows reserved beyond an eighth more
 * than are used (a reservation made from an estimate; rows that replaced
 * others took none).
 */
int cp__store_reserve(cp_store *s, size_t n);
void cp__store_trim(cp_store *s);
void cp__store_publish_spare(cp_store *s, const char *key, size_t len, bool known_new,
                             int *replaced);

/* A read view: which store and which row. */
struct cp_view {
	cp_obj obj;
	const cp_store *store;
	const uint8_t *row; /* NULL = empty view */
};

#endif /* CP_STORE_H */
