/*
 * store.h — the store's in-memory form, shared by store.c, profile.c,
 * view.c, csv.c, snapshot.c, wal.c and the rule evaluator.
 *
 * A store is a read-only *base* and an *overlay* the writer appends to:
 *
 *   - the base is a snapshot's arrays, used in place from a read-only
 *     mapping of the file (snapshot.c), or nothing for a store made by
 *     cp_store_new;
 *   - the overlay holds what was put after that: rows for new keys, rows
 *     that replace base rows, and the strings and item lists they need.
 *
 * Strings and item lists have one id space: ids below the base pool's
 * length are the base's, the rest the overlay's, so a row means the same
 * wherever it lies, and saving writes base and overlay one after the other
 * without touching an id.
 *
 * Concurrency (DESIGN §3: any number of threads read while one writes).
 * No lock is taken on the read path; the choice, and why:
 *
 *   - Memory never moves while the store lives.  The overlay grows in
 *     chunks (cp_seg) that are never reallocated; the key index grows by
 *     building a larger table and publishing its pointer, and the tables
 *     it replaced are freed with the store (their sizes halve, so they
 *     cost at most the current table).  So a reader never follows a
 *     pointer into freed memory, and nothing needs epoch tracking.
 *   - Strings and item lists are append-only and immutable once written;
 *     a reader reaches them only through a row published after them.
 *   - A row is updated in place under a per-row sequence lock kept in its
 *     4-byte header: the writer marks the row busy, writes the cells with
 *     atomic release stores, and bumps the version (release).  A reader
 *     copies the row with atomic acquire loads between two loads of the
 *     header and retries if a write overlapped, so a view always holds a
 *     whole profile (one version of it), never half of one.  Copy-on-write
 *     rows would have needed safe reclamation of every old version; the
 *     copy costs one row per lookup (about a kilobyte) and leaves nothing
 *     to reclaim.  Base rows never change: a view points at them in the
 *     mapping without a copy.
 *   - Counters (rows, live profiles, as-of month) are atomic.
 *   - The writer's own bookkeeping (hash tables of the pools, free rows,
 *     scratch row) is never read by readers.
 *
 * Every access to shared memory goes through the atomics below (GCC and
 * Clang builtins, which ThreadSanitizer understands).
 *
 * Damage: a base from a file is checked at open only where that is cheap
 * (snapshot.c).  Every id a read could follow is bounds-checked where it is
 * used: index slots, key ids, and a whole base row (cp__row_check) each
 * time a reader takes one, so a damaged or hostile snapshot can make a
 * lookup fail (CP_ECORRUPT) but never read outside the mapping.
 */
#ifndef CP_STORE_H
#define CP_STORE_H

/* schema.h brings config.h first, which must precede every system header. */
#include "schema.h"

#include <string.h>

#define CP_NO_ID UINT32_MAX

/* ---- atomics on plain objects ---- */

static inline uint32_t cp__ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline uint32_t cp__ld32_acq(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void cp__st32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline void cp__st32_rel(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* =========================================================================
 * Draft pools: the strings and item lists of a cp_profile (single-threaded,
 * contiguous, may move when they grow).
 * ========================================================================= */

/*
 * String pool: NUL-terminated UTF-8 strings.  A string's id is its byte
 * offset in `bytes`; id 0 is the empty string (bytes[0] == '\0').
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
 * Item-list pool: sequences of string ids, for set and list cells.  A
 * list's id is its index in `items`: items[id] is the count n, followed by
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

/* =========================================================================
 * Segmented arrays: units (bytes, u32 items or rows) appended in chunks
 * that never move.  Chunk k holds units [start[k], start[k+1]); a new chunk
 * starts where the last one was closed, so unit numbers have no gaps and a
 * run of units reserved together never spans two chunks.
 * ========================================================================= */

#define CP_SEG_MAX 64

typedef struct cp_seg {
	uint8_t *chunk[CP_SEG_MAX];
	uint32_t start[CP_SEG_MAX]; /* first unit of chunk k; UINT32_MAX until it exists (atomic) */
	uint32_t cap[CP_SEG_MAX];   /* units chunk k can hold */
	uint32_t unit;              /* bytes per unit */
	uint32_t first;             /* units of the first chunk */
	int n;                      /* chunks allocated */
	uint32_t end;               /* units in use */
	size_t bytes;               /* bytes allocated */
	bool zeroed;                /* chunks are allocated zeroed */
} cp_seg;

void cp__seg_init(cp_seg *g, uint32_t unit, uint32_t first, bool zeroed);
void cp__seg_free(cp_seg *g);
/* Make room for n more units in one run; CP_ENOMEM or CP_ELIMIT. */
int cp__seg_reserve(cp_seg *g, uint32_t n);
/* Address of unit `end` (after cp__seg_reserve). */
static inline uint8_t *cp__seg_tail(const cp_seg *g)
{
	return g->chunk[g->n - 1] + (size_t)(g->end - g->start[g->n - 1]) * g->unit;
}
/* Units of chunk k in use. */
static inline uint32_t cp__seg_used(const cp_seg *g, int k)
{
	return (k + 1 < g->n ? g->start[k + 1] : g->end) - g->start[k];
}
/* Address of unit v (< end; any thread, for a unit reached through a
 * published row). */
static inline uint8_t *cp__seg_at(const cp_seg *g, uint32_t v)
{
	int lo = 0, hi = CP_SEG_MAX - 1;
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (cp__ld32(&g->start[mid]) <= v)
			lo = mid;
		else
			hi = mid - 1;
	}
	return g->chunk[lo] + (size_t)(v - cp__ld32(&g->start[lo])) * g->unit;
}

/* =========================================================================
 * The store's pools: a base (read-only) then an overlay (segmented).
 * ========================================================================= */

typedef struct cp_spool {
	const char *base;         /* strings of the base; ends with a NUL */
	uint32_t base_len;
	uint32_t base_count;      /* distinct strings of the base */
	const uint32_t *base_hash; /* slots: id + 1, or 0 */
	uint32_t base_mask;
	cp_seg seg;               /* overlay strings: id = base_len + unit */
	uint32_t *hash;           /* writer only: the overlay's strings, slot = id + 1 */
	uint32_t mask;
	uint32_t count;           /* distinct strings of the overlay */
} cp_spool;

typedef struct cp_lpool {
	const uint32_t *base;     /* item lists of the base; base[0] == 0 */
	uint32_t base_len;        /* items */
	uint32_t base_count;
	const uint32_t *base_hash;
	uint32_t base_mask;
	cp_seg seg;               /* overlay lists: id = base_len + unit */
	uint32_t *hash;
	uint32_t mask;
	uint32_t count;
} cp_lpool;

/* Ids and lengths of both pools stay below this (hash slots hold id + 1). */
#define CP_POOL_LIMIT ((size_t)UINT32_MAX - 1)

/* The bytes of string id of a store (an id of a row read from it). */
static inline const char *cp__spool_get(const cp_spool *p, uint32_t id)
{
	if (id < p->base_len)
		return p->base + id;
	return (const char *)cp__seg_at(&p->seg, id - p->base_len);
}
/* The item list id: [0] the count n, then n string ids. */
static inline const uint32_t *cp__lpool_get(const cp_lpool *p, uint32_t id)
{
	if (id < p->base_len)
		return p->base + id;
	return (const uint32_t *)(const void *)cp__seg_at(&p->seg, id - p->base_len);
}

/* =========================================================================
 * Rows and the key index
 * ========================================================================= */

/*
 * Row header (the first 4 bytes of a row): bit 0 CP_ROW_LIVE (a profile;
 * clear = deleted slot), bit 1 CP_ROW_BUSY (a write is in progress), bits
 * 2..31 the row's version (the sequence lock).  Files hold CP_ROW_LIVE
 * only.
 */
#define CP_ROW_LIVE 0x1u
#define CP_ROW_BUSY 0x2u
#define CP_ROW_VERSION 0x4u

/*
 * Key index of the overlay's rows: open addressing on the hash of the
 * key's bytes.  A slot is 0 (empty), CP_INDEX_TOMB (a deleted key: probes
 * go on past it) or a row number + 1.  Slots are written atomically; the
 * table never moves: growing builds a new one and publishes it.
 */
#define CP_INDEX_TOMB UINT32_MAX

typedef struct cp_itab {
	struct cp_itab *older; /* the tables this one replaced (freed with the store) */
	uint32_t mask;
	uint32_t used;         /* slots holding a row (writer) */
	uint32_t tombs;        /* tombstones (writer) */
	uint32_t slots[];
} cp_itab;

/* Base rows replaced or deleted after open: over[row] is 0 (the base row
 * stands), CP_OVER_DEAD (deleted) or a unit of over_rows + 1. */
#define CP_OVER_DEAD UINT32_MAX

struct cp_wal;
struct cp__stagehist;

struct cp_store {
	cp_obj obj;
	const cp_schema *schema;  /* own reference */
	int as_of;                /* yyyymm, 0 = unset (atomic) */

	/* the base: rows 0 .. nbase-1 */
	const uint8_t *base_rows;
	uint32_t nbase;
	const uint32_t *base_index; /* slots: row + 1 or 0; NULL when nbase == 0 */
	uint32_t base_index_mask;
	uint32_t *over;           /* nbase entries, or NULL until a base row changes (atomic) */
	cp_seg over_rows;         /* rows replacing base rows */

	/* the overlay: rows nbase .. nrows-1 are rows.unit(row - nbase) */
	cp_seg rows;
	uint32_t nrows;           /* rows readers may visit (atomic) */
	size_t live;              /* profiles (atomic) */
	cp_itab *index;           /* atomic pointer */
	uint32_t *free_rows;      /* writer: deleted overlay rows to reuse */
	size_t nfree, cap_free;

	cp_spool strings;
	cp_lpool lists;

	uint8_t *scratch;         /* writer: a row being built (row_size) */

	/* what backs the base */
	void *map;                /* a mapping of the snapshot, or NULL */
	size_t map_len;
	void *image;              /* an inflated (compressed) snapshot, or NULL */
	void *base_own;           /* the base pools of a new store */

	struct cp_wal *wal;       /* file, log and sync state of an opened store, or NULL */
	struct cp__stagehist *stagehist; /* stages recorded by month closes (lifecycle.h;
	                                  * atomic), or NULL */
};

/* Rows readers may visit. */
static inline uint32_t cp__store_nrows(const cp_store *s)
{
	return __atomic_load_n(&s->nrows, __ATOMIC_ACQUIRE);
}

/* String and item-list ids of rows read from the store (views, the rule
 * evaluator). */
static inline const char *cp__store_str(const cp_store *s, uint32_t id)
{
	return cp__spool_get(&s->strings, id);
}
static inline const uint32_t *cp__store_list(const cp_store *s, uint32_t id)
{
	return cp__lpool_get(&s->lists, id);
}

static inline bool cp__row_live(const uint8_t *row)
{
	uint32_t h;
	memcpy(&h, row, sizeof(h));
	return h & CP_ROW_LIVE;
}
/* The key id of a row (its key cell; the row must be live or a dead row
 * that kept its key). */
static inline uint32_t cp__row_key_id(const cp_schema *sc, const uint8_t *row)
{
	uint32_t id;
	memcpy(&id, cp__row_cell(row, &sc->fields[sc->key], 0), sizeof(id));
	return id;
}

/*
 * Read row number `row` as a reader may, at any time: a consistent copy
 * into buf (row_size bytes) for an overlay row, or a pointer into the base
 * for a base row that stands.  Returns the row, or NULL when the slot holds
 * no profile (deleted, or row >= cp__store_nrows).  *why (if not NULL) is
 * set when a base row is damaged (then NULL is returned too).
 */
const uint8_t *cp__store_read(const cp_store *s, uint32_t row, uint8_t *buf,
                              const char **why);
/* Row number of the profile with this (already normalized) key, or
 * CP_NO_ID; reads as cp__store_read does (into buf) and returns its row in
 * *out.  Any thread. */
uint32_t cp__store_lookup_row(const cp_store *s, const char *key, size_t len, uint8_t *buf,
                              const uint8_t **out, const char **why);
/* The current row of row number `row` for the writer thread (no copy; not
 * for readers), or NULL when it holds no profile. */
const uint8_t *cp__store_wrow(const cp_store *s, uint32_t row);
/* Row number of key for the writer thread, or CP_NO_ID. */
uint32_t cp__store_find(const cp_store *s, const char *key, size_t len);

/*
 * Check that every id of a row can be followed: string ids below slen (the
 * pool ends with a NUL), list ids whose items fit below ilen and name
 * strings, closed-enum indexes listed, bools 0 or 1, lists within their
 * max, the key present.  CP_OK, or CP_ECORRUPT with *why (static) and the
 * cell in *field, *month.  Costs a compare or two per string cell.
 */
int cp__row_check(const cp_schema *sc, const uint8_t *row, const char *strings, uint32_t slen,
                  const uint32_t *items, uint32_t ilen, const char **why, int *field,
                  int *month);

/* Normalize a key as the schema's key field says; CP_OK or CP_ETYPE with why.
 * An msisdn-cn key needs CP_KEY_BUF bytes of out. */
int cp__store_normalize_key(const cp_schema *schema, const char *key, size_t len,
                            char *out, size_t outsize, const char **why);
#define CP_KEY_BUF 32
/*
 * Find the profile of a key as a caller gives it: normalized (into kbuf, of
 * CP_KEY_BUF bytes) when the key field says so, read into rowbuf as
 * cp__store_read does.  *row gets the row (NULL if none).  CP_OK, or
 * CP_ENOTFOUND (also for a key that cannot be normalized) or CP_ECORRUPT (a
 * damaged base row) with a message on err (which may be NULL); the key is
 * named unless the key field is personal.
 */
int cp__store_lookup(const cp_store *s, const char *key, size_t len, char *kbuf,
                     uint8_t *rowbuf, const uint8_t **row, cp_obj *err);

/* Build a store around a base (snapshot.c): rows, pools, index as they lie
 * in a snapshot; the arrays must stay valid until cp_store_free (map/image
 * say what to release). */
typedef struct cp_store_base {
	const uint8_t *rows;
	uint32_t nrows;
	const char *strings;
	uint32_t strings_len, string_count;
	const uint32_t *string_hash;
	uint32_t string_hash_slots;
	const uint32_t *lists;
	uint32_t lists_len, list_count;
	const uint32_t *list_hash;
	uint32_t list_hash_slots;
	const uint32_t *index;
	uint32_t index_slots;
	int as_of;
} cp_store_base;
int cp__store_new_base(cp_store **out, const cp_schema *schema, const cp_store_base *b);

/*
 * Give every live row new cells: fn writes into dst (a copy of src, a row
 * read by the writer) what the row is to hold; ids stay the store's.  Not
 * logged (a month close, which compacts after it).  Everything that can
 * fail is reserved first, so either every row changes or none does (a base
 * row then takes a row of the overlay, as a put of its key would).  Writer
 * thread; CP_OK, CP_ENOMEM or CP_ELIMIT.
 */
int cp__store_rewrite_all(cp_store *s, void (*fn)(void *ctx, uint8_t *dst), void *ctx);

/* Put and delete without the log (replay) or with it (the public calls). */
int cp__store_put(cp_store *s, const cp_profile *p, int *replaced, bool log);
int cp__store_delete(cp_store *s, const char *key, size_t len, bool log);
int cp__store_set_as_of(cp_store *s, int yyyymm, bool log);
/* Strings and lists of the store, as they would be saved: the base's then
 * the overlay's chunks (for snapshot.c). */
uint32_t cp__spool_len(const cp_spool *p);
uint32_t cp__lpool_len(const cp_lpool *p);

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
 * A read view: which store and which profile.  row points into the base
 * (a base row never changes) or at buf, a copy of an overlay row taken
 * under its sequence lock; either way it stays valid until the next lookup
 * into the view, whatever the writer does meanwhile.  String ids of row are
 * resolved with cp__store_str(store, id); strings never move or go away
 * while the store lives.
 */
struct cp_view {
	cp_obj obj;
	const cp_store *store;
	const uint8_t *row; /* NULL = empty view */
	uint8_t *buf;       /* a copied row */
	size_t buf_size;
};

/* Make v able to hold a row of s (grows v->buf); CP_OK or CP_ENOMEM. */
int cp__view_prepare(cp_view *v, const cp_store *s);

#endif /* CP_STORE_H */
