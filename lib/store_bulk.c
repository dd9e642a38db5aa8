/*
 * store_bulk.c — bulk loading: each record's cells parsed straight into the
 * store's spare row slot and pools, then the row published (store_bulk.h).
 *
 * Every column is resolved once into a plan entry: what to parse, where
 * the cell lives in a row, which presence bit is its.  A row is filled by
 * a fast pass that takes the columns kind by kind (a tight loop per number
 * type through the inline fast parsers of parse_fast.h; closed enum values
 * through a small hash of the field's values; strings and sets through a
 * memo of recent ids).  Only when a cell does not fit does a second pass
 * redo the row column by column, to name the first cell that does not, as
 * cp__profile_set_cell_text (profile.c) would: the two accept the same
 * text and give the same reasons, shared through store.h.
 */
#include "store_bulk.h"

#include "parse_fast.h"

#include <sys/mman.h>

/* Groups of columns for the fast pass (cp_bulk.group). */
enum { G_INT, G_MONEY, G_FLOAT, G_OTHER, G_TEXT, G_COUNT };
_Static_assert(G_COUNT == CP_BULK_GROUPS, "cp_bulk.group has room for every group");

enum bulk_kind {
	K_SKIP,   /* a column the schema does not know */
	K_BOOL,
	K_INT,
	K_MONEY,
	K_FLOAT,
	K_DATE,
	K_ENUM,   /* closed enum: index of the value */
	K_STRING, /* string or open enum: string id */
	K_KEY,    /* the key: normalized, then a string id */
	K_SET,
	K_LIST
};

struct cp_bulk_col {
	uint32_t col;         /* its column: index of its text in a record */
	uint8_t kind;         /* enum bulk_kind */
	uint8_t bit;          /* presence bit within its byte */
	uint32_t byte;        /* byte of the row holding the presence bit */
	uint32_t offset;      /* byte offset of the cell in the row */
	const cp_field *field;
	const cp_bulk_enum *values; /* K_ENUM */
};

/* A closed enum's values, hashed: slots hold value index + 1 (0 = empty). */
struct cp_bulk_enum {
	uint32_t *slots;
	uint32_t mask;
	uint32_t *lens;       /* byte length of each value */
};

/* ---- the memo: texts already interned ---- */

/*
 * Most text cells repeat a few values (open enums, set items, whole sets):
 * interning them each time costs a byte-wise hash, a probe into a table
 * too big for the cache, and for a set its items' and its list's.  The
 * memo remembers the id that a recent short text (at most MEMO_TEXT
 * bytes) interned to, in a direct-mapped table keyed by the text's bytes
 * and a tag: 0 for a string id, field index + 1 for the item-list id of a
 * set or list cell of that field (only cells that were accepted).  Ids in
 * the pools never change during a load, and a pool never drops a string.
 */
#define MEMO_BITS 11
#define MEMO_WORDS 4
#define MEMO_TEXT (8 * MEMO_WORDS)

struct cp_bulk_memo {
	uint64_t w[MEMO_WORDS]; /* the text, zero-padded */
	uint32_t len;           /* 0: an empty entry */
	uint32_t tag;
	uint32_t id;
};

typedef struct memo_key {
	uint64_t w[MEMO_WORDS];
	uint32_t len, tag;
	uint32_t slot;
} memo_key;

/* The key of s[0..len) (0 < len <= MEMO_TEXT; CP_PARSE_PAD readable bytes
 * after it: words are read whole). */
static inline void memo_key_of(memo_key *k, const char *s, size_t len, uint32_t tag)
{
	uint64_t h = len ^ ((uint64_t)tag << 32);
	for (size_t i = 0; i < MEMO_WORDS; i++) {
		uint64_t w = 0;
		if (8 * i < len) {
			memcpy(&w, s + 8 * i, 8);
			if (len - 8 * i < 8)
				w &= ~0ull >> (64 - 8 * (len - 8 * i));
		}
		k->w[i] = w;
		h = (h ^ w) * 0x9E3779B97F4A7C15ull;
	}
	k->len = (uint32_t)len;
	k->tag = tag;
	k->slot = (uint32_t)(h >> (64 - MEMO_BITS));
}

static inline cp_bulk_memo *memo_find(cp_bulk *b, const memo_key *k)
{
	cp_bulk_memo *m = &b->memo[k->slot];
	if (m->len == k->len && m->tag == k->tag && m->w[0] == k->w[0] && m->w[1] == k->w[1] &&
	    m->w[2] == k->w[2] && m->w[3] == k->w[3])
		return m;
	return NULL;
}

static inline void memo_put(cp_bulk *b, const memo_key *k, uint32_t id)
{
	cp_bulk_memo *m = &b->memo[k->slot];
	memcpy(m->w, k->w, sizeof(m->w));
	m->len = k->len;
	m->tag = k->tag;
	m->id = id;
}

/* Intern s[0..len) (len > 0; CP_PARSE_PAD readable bytes after it) into
 * the store's string pool: its id in *id. */
static inline int intern(cp_bulk *b, const char *s, size_t len, uint32_t *id)
{
	cp_strpool *pool = &b->store->strings;
	if (len > MEMO_TEXT)
		return cp__strpool_intern(pool, s, len, id);
	memo_key k;
	memo_key_of(&k, s, len, 0);
	const cp_bulk_memo *m = memo_find(b, &k);
	if (m) {
		*id = m->id;
		return CP_OK;
	}
	int rc = cp__strpool_intern(pool, s, len, id);
	if (rc == CP_OK)
		memo_put(b, &k, *id);
	return rc;
}

/* ---- closed enums ---- */

/* Values are short words: their length, first, middle and last byte tell
 * them apart well enough, and cost nothing to read. */
static inline uint32_t enum_hash(const char *s, size_t len)
{
	uint32_t h = (uint32_t)len * 0x9E3779B1u;
	h ^= (uint32_t)(unsigned char)s[0] | (uint32_t)(unsigned char)s[len >> 1] << 8 |
	     (uint32_t)(unsigned char)s[len - 1] << 16;
	h *= 0x85EBCA6Bu;
	return h ^ (h >> 15);
}

/* Index of s[0..len) (len > 0) among the values, or -1: as
 * cp__field_value_index, the first of equal values. */
static inline int enum_find(const cp_bulk_enum *e, const cp_field *f, const char *s, size_t len)
{
	for (uint32_t h = enum_hash(s, len) & e->mask;; h = (h + 1) & e->mask) {
		uint32_t slot = e->slots[h];
		if (slot == 0)
			return -1;
		uint32_t v = slot - 1;
		if (e->lens[v] == len && memcmp(f->values[v], s, len) == 0)
			return (int)v;
	}
}

static int enum_init(cp_bulk_enum *e, const cp_field *f)
{
	uint32_t size = 8;
	while (size < 2u * (uint32_t)f->nvalues)
		size *= 2;
	e->slots = cp__calloc(size, sizeof(uint32_t));
	e->lens = cp__calloc((size_t)f->nvalues + 1, sizeof(uint32_t));
	if (!e->slots || !e->lens)
		return CP_ENOMEM;
	e->mask = size - 1;
	for (int v = 0; v < f->nvalues; v++) {
		size_t len = strlen(f->values[v]);
		e->lens[v] = (uint32_t)len;
		/* an empty value never matches: cells are not empty */
		if (len == 0 || enum_find(e, f, f->values[v], len) >= 0)
			continue;
		uint32_t h = enum_hash(f->values[v], len) & e->mask;
		while (e->slots[h])
			h = (h + 1) & e->mask;
		e->slots[h] = (uint32_t)v + 1;
	}
	return CP_OK;
}

/* ---- plan ---- */

static uint8_t kind_of(const cp_schema *s, const cp_field *f)
{
	if (!f)
		return K_SKIP;
	switch (f->type) {
	case CP_TYPE_BOOL: return K_BOOL;
	case CP_TYPE_INT: return K_INT;
	case CP_TYPE_MONEY: return K_MONEY;
	case CP_TYPE_FLOAT: return K_FLOAT;
	case CP_TYPE_DATE: return K_DATE;
	case CP_TYPE_ENUM: return f->closed ? K_ENUM : K_STRING;
	case CP_TYPE_STRING: return f == &s->fields[s->key] ? K_KEY : K_STRING;
	case CP_TYPE_SET: return K_SET;
	case CP_TYPE_LIST: return K_LIST;
	default: return K_SKIP;
	}
}

/* The fast pass goes kind by kind: numbers first, then the text kinds. */
static unsigned group_of(uint8_t kind)
{
	switch (kind) {
	case K_INT: return G_INT;
	case K_MONEY: return G_MONEY;
	case K_FLOAT: return G_FLOAT;
	case K_BOOL:
	case K_DATE: return G_OTHER;
	default: return G_TEXT;
	}
}

int cp__bulk_init(cp_bulk *b, cp_store *s, const cp_csv_col *cols, size_t ncols)
{
	const cp_schema *sc = s->schema;
	memset(b, 0, sizeof(*b));
	b->store = s;
	b->key_id = CP_NO_ID;
	b->cols = cp__calloc(ncols ? ncols : 1, sizeof(*b->cols));
	b->by_kind = cp__calloc(ncols ? ncols : 1, sizeof(*b->by_kind));
	b->enums = cp__calloc((size_t)sc->nfields, sizeof(*b->enums));
	b->memo = cp__calloc((size_t)1 << MEMO_BITS, sizeof(*b->memo));
	if (!b->cols || !b->by_kind || !b->enums || !b->memo) {
		cp__bulk_fini(b);
		return CP_ENOMEM;
	}
	b->ncols = ncols;
	size_t count[G_COUNT] = {0};
	for (size_t c = 0; c < ncols; c++) {
		const cp_field *f = cols[c].field;
		cp_bulk_col *col = &b->cols[c];
		col->col = (uint32_t)c;
		col->kind = kind_of(sc, f);
		col->field = f;
		if (col->kind == K_SKIP)
			continue;
		uint32_t cell = f->cell + (uint32_t)cols[c].month;
		col->byte = CP_ROW_HEADER_BYTES + (cell >> 3);
		col->bit = (uint8_t)(1u << (cell & 7));
		col->offset = f->offset + (uint32_t)cols[c].month * f->width;
		if (col->kind == K_ENUM) {
			cp_bulk_enum *e = &b->enums[f - sc->fields];
			if (!e->slots && enum_init(e, f) != CP_OK) {
				cp__bulk_fini(b);
				return CP_ENOMEM;
			}
			col->values = e;
		}
		count[group_of(col->kind)]++;
	}
	/* by_kind: the mapped columns grouped, each group in column order */
	size_t at[G_COUNT];
	b->group[0] = 0;
	for (unsigned g = 0; g < G_COUNT; g++) {
		at[g] = b->group[g];
		b->group[g + 1] = b->group[g] + count[g];
	}
	for (size_t c = 0; c < ncols; c++)
		if (b->cols[c].kind != K_SKIP)
			b->by_kind[at[group_of(b->cols[c].kind)]++] = b->cols[c];
	return CP_OK;
}

void cp__bulk_fini(cp_bulk *b)
{
	if (b->store && b->expect)
		cp__store_trim(b->store);
	if (b->enums) {
		for (int i = 0; i < b->store->schema->nfields; i++) {
			cp__free(b->enums[i].slots);
			cp__free(b->enums[i].lens);
		}
	}
	cp__free(b->enums);
	cp__free(b->cols);
	cp__free(b->by_kind);
	cp__free(b->memo);
	cp__free(b->items);
	memset(b, 0, sizeof(*b));
}

int cp__bulk_reserve(cp_bulk *b, size_t n)
{
	b->expect = n;
	b->published = 0;
	b->strings0 = b->store->strings.count;
	b->lists0 = b->store->lists.count;
	return cp__store_reserve(b->store, n);
}

/* Rows published before the pools are sized for the rest of the load. */
#define SAMPLE_ROWS 512

/*
 * Size the pools' hashes for the rest of the load, from how many new
 * strings and lists the first rows brought: growing them by doubling would
 * rehash every string several times (reading each one back at random).
 */
static void size_pools(cp_bulk *b)
{
	cp_store *st = b->store;
	if (b->expect <= 2 * SAMPLE_ROWS)
		return;
	uint64_t rest = b->expect - SAMPLE_ROWS;
	uint64_t strings = (uint64_t)(st->strings.count - b->strings0) * rest / SAMPLE_ROWS;
	uint64_t lists = (uint64_t)(st->lists.count - b->lists0) * rest / SAMPLE_ROWS;
	/* only hints: the pools still grow by themselves */
	(void)cp__strpool_reserve(&st->strings, (size_t)(strings + strings / 8));
	(void)cp__listpool_reserve(&st->lists, (size_t)(lists + lists / 8));
}

/* ---- cells ---- */

static int items_reserve(cp_bulk *b, size_t n)
{
	if (n <= b->items_cap)
		return CP_OK;
	size_t cap = b->items_cap ? b->items_cap : 32;
	while (cap < n)
		cap *= 2;
	uint32_t *it = cp__reallocarray(b->items, cap, sizeof(uint32_t));
	if (!it)
		return CP_ENOMEM;
	b->items = it;
	b->items_cap = cap;
	return CP_OK;
}

/*
 * A set or list cell: items joined by ';' in s[0..len) (not empty), each
 * interned, then the whole interned as an item list, its id in *id.  As
 * cell_items_text of profile.c: the first empty item fails first, then too
 * many items for a list.  A failure of the store: *why = NULL.
 */
static int items_parse(cp_bulk *b, const cp_field *f, const char *s, size_t len,
                       uint32_t *id, const char **why)
{
	cp_store *st = b->store;
	uint32_t n = 0;
	const char *end = s + len;
	int rc;
	*why = NULL;
	for (const char *item = s;;) {
		const char *semi = memchr(item, ';', (size_t)(end - item));
		const char *stop = semi ? semi : end;
		if (stop == item) {
			*why = CP_WHY_EMPTY_ITEM;
			return CP_EINVAL;
		}
		if ((rc = items_reserve(b, 2 * ((size_t)n + 1))) != CP_OK)
			return rc;
		if (n == UINT32_MAX / 2) {
			*why = CP_WHY_TOO_MANY_ITEMS;
			return CP_ELIMIT;
		}
		rc = intern(b, item, (size_t)(stop - item), &b->items[n]);
		if (rc != CP_OK)
			return rc;
		n++;
		if (!semi)
			break;
		item = semi + 1;
	}
	if (f->type == CP_TYPE_SET) {
		n = cp__sort_unique_items(&st->strings, b->items, b->items + n, n);
	} else if (f->max_items > 0 && n > (uint32_t)f->max_items) {
		*why = cp__why_list_too_long(f, n, b->why, sizeof(b->why));
		return CP_ETYPE;
	}
	return cp__listpool_intern(&st->lists, b->items, n, id);
}

/* A set or list cell, through the memo when its text is short. */
static int items_text(cp_bulk *b, const cp_field *f, const char *s, size_t len, uint32_t *id,
                      const char **why)
{
	if (len > MEMO_TEXT)
		return items_parse(b, f, s, len, id, why);
	memo_key k;
	memo_key_of(&k, s, len, (uint32_t)(f - b->store->schema->fields) + 1);
	const cp_bulk_memo *m = memo_find(b, &k);
	if (m) {
		*id = m->id;
		return CP_OK;
	}
	int rc = items_parse(b, f, s, len, id, why);
	if (rc == CP_OK)
		memo_put(b, &k, *id);
	return rc;
}

/* The key cell: normalized as its field says, then interned. */
static int key_text(cp_bulk *b, const cp_field *f, const char *s, size_t len, uint32_t *id,
                    const char **why)
{
	cp_store *st = b->store;
	char key[CP_KEY_BUF];
	*why = NULL;
	if (f->normalize != CP_NORM_NONE) {
		int rc = cp__store_normalize_key(st->schema, s, len, key, sizeof(key), why);
		if (rc != CP_OK)
			return rc;
		s = key;
		len = strlen(key);
	}
	uint32_t before = st->strings.count;
	int rc = cp__strpool_intern(&st->strings, s, len, id);
	if (rc != CP_OK)
		return rc;
	/* A string new to the pool cannot be the key of a stored profile:
	 * publishing then needs no look-up. */
	b->key_new = st->strings.count != before;
	b->key_id = *id;
	b->key_len = len;
	return CP_OK;
}

/*
 * One non-empty cell, parsed and stored in the row with its presence bit:
 * CP_OK, or a reject (*why set) or a failure of the store (*why = NULL).
 */
static int fill_cell(cp_bulk *b, const cp_bulk_col *col, uint8_t *row, const char *s,
                     size_t len, bool checked, const char **why)
{
	uint8_t *cell = row + col->offset;
	int rc;
	switch (col->kind) {
	case K_BOOL: {
		int v;
		if ((rc = cp__parse_bool_fast(s, len, &v, why)) != CP_OK)
			return rc;
		*cell = (uint8_t)v;
		break;
	}
	case K_INT:
	case K_MONEY: {
		int64_t v;
		rc = col->kind == K_INT ? cp__parse_int_fast(s, len, &v, why)
		                        : cp__parse_money_fast(s, len, &v, why);
		if (rc != CP_OK)
			return rc;
		memcpy(cell, &v, sizeof(v));
		break;
	}
	case K_FLOAT: {
		double v;
		if ((rc = cp__parse_float_fast(s, len, &v, why)) != CP_OK)
			return rc;
		memcpy(cell, &v, sizeof(v));
		break;
	}
	case K_DATE: {
		cp_date v;
		if ((rc = cp__parse_date_fast(s, len, &v, why)) != CP_OK)
			return rc;
		memcpy(cell, &v, sizeof(v));
		break;
	}
	case K_SKIP:
		return CP_OK;
	default: {
		/* text kinds */
		if (!checked && (rc = cp__check_cell_text(s, len, why)) != CP_OK)
			return rc;
		uint32_t id;
		*why = NULL;
		switch (col->kind) {
		case K_ENUM: {
			int v = enum_find(col->values, col->field, s, len);
			if (v < 0) {
				*why = cp__why_not_listed(col->field, s, len, b->why, sizeof(b->why));
				return CP_ETYPE;
			}
			id = (uint32_t)v;
			break;
		}
		case K_STRING:
			rc = intern(b, s, len, &id);
			break;
		case K_KEY:
			rc = key_text(b, col->field, s, len, &id, why);
			break;
		default: /* K_SET, K_LIST */
			rc = items_text(b, col->field, s, len, &id, why);
			break;
		}
		if (rc != CP_OK)
			return rc;
		memcpy(cell, &id, sizeof(id));
		break;
	}
	}
	row[col->byte] |= col->bit;
	return CP_OK;
}

/* Start the row afresh: every cell null.  Cleared whole, not only its
 * presence bits: absent cells are zero in every row, so snapshots are
 * reproducible and carry no stale bytes. */
static void clear_row(cp_bulk *b, uint8_t *row)
{
	memset(row, 0, b->store->schema->row_size);
	uint32_t header = CP_ROW_LIVE;
	memcpy(row, &header, sizeof(header));
	b->key_id = CP_NO_ID;
}

/* The general pass: column by column, stopping at the first cell that does
 * not fit, which is what a reject names. */
static int fill_in_order(cp_bulk *b, uint8_t *row, const cp_csv_cell *cells, bool checked,
                         size_t *bad, const char **why)
{
	clear_row(b, row);
	for (size_t c = 0; c < b->ncols; c++) {
		if (cells[c].len == 0)
			continue;
		int rc = fill_cell(b, &b->cols[c], row, cells[c].p, cells[c].len, checked, why);
		if (rc != CP_OK) {
			*bad = c;
			return rc;
		}
	}
	return CP_OK;
}

/* Store an 8-byte value in a number cell and mark it present. */
static inline void put8(uint8_t *row, const cp_bulk_col *col, const void *v)
{
	memcpy(row + col->offset, v, 8);
	row[col->byte] |= col->bit;
}

/*
 * The fast pass: the columns group by group, so that the kind of each
 * is known in advance (no switch per cell for the numbers).  CP_OK, or
 * anything else when a cell does not fit or the store fails: then the
 * general pass redoes the row in column order to name the first bad cell.
 */
static int fill_fast(cp_bulk *b, uint8_t *row, const cp_csv_cell *cells, bool checked)
{
	const cp_bulk_col *col = b->by_kind, *end;
	const char *why;
	clear_row(b, row);
	for (end = b->by_kind + b->group[G_INT + 1]; col < end; col++) {
		const cp_csv_cell *cell = &cells[col->col];
		int64_t v;
		if (cell->len == 0)
			continue;
		if (cp__parse_int_fast(cell->p, cell->len, &v, &why) != CP_OK)
			return CP_ETYPE;
		put8(row, col, &v);
	}
	for (end = b->by_kind + b->group[G_MONEY + 1]; col < end; col++) {
		const cp_csv_cell *cell = &cells[col->col];
		int64_t v;
		if (cell->len == 0)
			continue;
		if (cp__parse_money_fast(cell->p, cell->len, &v, &why) != CP_OK)
			return CP_ETYPE;
		put8(row, col, &v);
	}
	for (end = b->by_kind + b->group[G_FLOAT + 1]; col < end; col++) {
		const cp_csv_cell *cell = &cells[col->col];
		double v;
		if (cell->len == 0)
			continue;
		if (cp__parse_float_fast(cell->p, cell->len, &v, &why) != CP_OK)
			return CP_ETYPE;
		put8(row, col, &v);
	}
	for (end = b->by_kind + b->group[G_COUNT]; col < end; col++) {
		const cp_csv_cell *cell = &cells[col->col];
		if (cell->len == 0)
			continue;
		int rc = fill_cell(b, col, row, cell->p, cell->len, checked, &why);
		if (rc != CP_OK)
			return rc;
	}
	return CP_OK;
}

#ifdef MADV_POPULATE_WRITE
#define POPULATE_BYTES ((uintptr_t)1 << 20)
/*
 * Fault the rows ahead of the one being built in, a megabyte at a time
 * (one call instead of a page fault every other row).
 */
static void populate_ahead(cp_bulk *b, const uint8_t *row)
{
	const cp_store *s = b->store;
	uintptr_t end = (uintptr_t)row + s->schema->row_size;
	if (b->no_populate || (s->rows == b->pop_rows && end <= b->pop_end))
		return;
	uintptr_t page = 4096;
	uintptr_t lim = ((uintptr_t)s->rows + s->cap_rows * s->schema->row_size) & ~(page - 1);
	uintptr_t from = (uintptr_t)row & ~(page - 1);
	uintptr_t to = from + POPULATE_BYTES;
	if (to > lim)
		to = lim;
	b->pop_rows = s->rows;
	b->pop_end = to;
	if (to > from && madvise((void *)from, to - from, MADV_POPULATE_WRITE) != 0)
		b->no_populate = true;
}
#endif

int cp__bulk_fill(cp_bulk *b, const cp_csv_cell *cells, bool checked, size_t *bad,
                  const char **why)
{
	cp_store *st = b->store;
	int rc = cp__store_reserve(st, 1);
	if (rc != CP_OK) {
		*why = NULL;
		return rc;
	}
	uint8_t *row = cp__store_row(st, st->nrows);
#ifdef MADV_POPULATE_WRITE
	populate_ahead(b, row);
#endif
	if (CP_UNLIKELY(fill_fast(b, row, cells, checked) != CP_OK) &&
	    (rc = fill_in_order(b, row, cells, checked, bad, why)) != CP_OK)
		return rc;
	if (b->key_id == CP_NO_ID) {
		/* the caller maps a key column and rejects an empty key first */
		*why = NULL;
		return CP_EINVAL;
	}
	return CP_OK;
}

void cp__bulk_publish(cp_bulk *b, int *replaced)
{
	cp_store *st = b->store;
	const char *key = cp__strpool_get(&st->strings, b->key_id);
	cp__store_publish_spare(st, key, b->key_len, b->key_new, replaced);
	b->key_id = CP_NO_ID;
	if (++b->published == SAMPLE_ROWS)
		size_pools(b);
}
