/*
 * store_bulk.h — bulk loading: rows built straight in the store
 * (store_bulk.c), for CSV ingest (csv.c).
 *
 * cp_store_put takes a draft profile whose strings live in the draft's own
 * pools: every string is copied twice and every row once more.  The bulk
 * loader instead builds each row in the store's spare slot (row nrows,
 * past the last one: not part of the store until published), interning
 * strings, open enum values, sets and lists straight into the store's
 * pools, then publishes it: the row replaces the profile with the same key
 * or becomes a new one, exactly as cp_store_put.
 *
 * A row given up half-way (a cell that does not fit) is never published,
 * so every profile and the index stay as they were.  The strings and item
 * lists it interned before the bad cell stay in the pools, unreferenced:
 * nothing reads them (a view only follows what rows refer to), they only
 * cost their bytes (in memory and in a snapshot).
 *
 * Not for a store that is a read-only snapshot mapping (s->mapped).
 */
#ifndef CP_STORE_BULK_H
#define CP_STORE_BULK_H

#include "csv.h"
#include "store.h"

#define CP_BULK_GROUPS 5

typedef struct cp_bulk_col cp_bulk_col;   /* one column's plan (store_bulk.c) */
typedef struct cp_bulk_enum cp_bulk_enum; /* values of a closed enum, hashed */
typedef struct cp_bulk_memo cp_bulk_memo; /* a recently interned short string */

typedef struct cp_bulk {
	cp_store *store;
	cp_bulk_col *cols;       /* what each column of a record holds */
	size_t ncols;
	cp_bulk_col *by_kind;    /* the mapped columns, grouped by kind */
	size_t group[CP_BULK_GROUPS + 1]; /* group g: by_kind[group[g]..group[g + 1]) */
	cp_bulk_enum *enums;     /* per field (only closed enums are set up) */
	cp_bulk_memo *memo;      /* short strings -> string ids */
	/* sizing: rows expected (cp__bulk_reserve), published so far, and the
	 * pools' counts when the estimate was made */
	size_t expect, published;
	uint32_t strings0, lists0;
	const void *pop_rows;    /* rows array faulted in up to pop_end */
	uintptr_t pop_end;
	bool no_populate;
	/* the row being built */
	uint32_t key_id;         /* its key's string id, or CP_NO_ID */
	size_t key_len;
	bool key_new;            /* the key's string was new to the pool */
	/* scratch: item ids of one set or list (and room to sort them) */
	uint32_t *items;
	size_t items_cap;
	char why[160];           /* a reason composed for a rejected cell */
} cp_bulk;

/*
 * Plan loading records whose column c holds cols[c] (field NULL: ignored)
 * into s (not mapped).  CP_OK or CP_ENOMEM (b is then empty: fini is
 * harmless).
 */
int cp__bulk_init(cp_bulk *b, cp_store *s, const cp_csv_col *cols, size_t ncols);
/* Free the plan; room reserved for rows that did not come is given back. */
void cp__bulk_fini(cp_bulk *b);

/* Make room for n more profiles (a hint: the store is unchanged on
 * failure).  CP_OK, CP_ENOMEM or CP_ELIMIT. */
int cp__bulk_reserve(cp_bulk *b, size_t n);

/*
 * Build a row from the text of one record, cells[0..ncols) (empty = null):
 * cells[c].p + cells[c].len must be followed by CP_PARSE_PAD readable bytes
 * (the fast parsers read whole words).  checked: the record as a whole is
 * known to be UTF-8 without NUL bytes and its cells cannot split a
 * character (cells cut from the raw text at ASCII delimiters); otherwise
 * the text cells are checked one by one.  The key cell must not be empty.
 *
 * CP_OK: the row is ready for cp__bulk_publish.  A cell that does not fit
 * its field: its code (CP_ETYPE, CP_EINVAL, CP_ELIMIT) with *bad = its
 * column and *why = the reason (as cp_profile_set_text gives, never the
 * value; valid until the next call).  Failures of the store itself
 * (CP_ENOMEM, CP_ELIMIT: the pools or rows are full) with *why = NULL.
 * Either way the store's profiles are unchanged.
 */
int cp__bulk_fill(cp_bulk *b, const cp_csv_cell *cells, bool checked, size_t *bad,
                  const char **why);

/* Publish the row built by a successful cp__bulk_fill; *replaced = 1 if it
 * replaced a profile with the same key.  Cannot fail. */
void cp__bulk_publish(cp_bulk *b, int *replaced);

#endif /* CP_STORE_BULK_H */
