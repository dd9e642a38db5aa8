/*
 * wal.c — a store and its files: cp_store_open (the snapshot mapped, then
 * its log replayed), the write-ahead log of updates, sync modes,
 * cp_store_save and cp_store_compact (wal.h, custprof-wal(5)).
 *
 * Writing.  The first update of an opened store takes the log: it opens
 * PATH-wal (creating it), locks it (flock, exclusive: one writer at a
 * time, across processes), checks that PATH is still the snapshot the
 * store was opened from, applies any record another process appended since
 * the open, cuts a torn tail, and starts a fresh log if the one there
 * belongs to an older snapshot.  Every update is then prepared in memory
 * (everything that can fail: allocations, interning), written to the log
 * as one record (fdatasync as the sync mode says), and only then published
 * to readers, so an update that fails is neither visible nor logged.  A
 * failed write is cut off again; when even that fails, or an fdatasync
 * failed (the record may or may not be on disk), the store refuses further
 * updates: reopening shows what the files hold.
 *
 * Reading.  Opening replays every record of a log that names the snapshot;
 * at the first record that does not check it looks past it: if a valid
 * record follows, the log is damaged in the middle (refused unless the
 * repair option is given); if not, it is a torn tail (a crash while the
 * last record was written): cut (under the lock, so not while another
 * process is appending) and reported as a warning.
 *
 * Compaction writes a snapshot of the next generation and then starts its
 * log with a rename, so a crash leaves the old snapshot with its log, or
 * the new snapshot with a stale log (ignored: its records are in the new
 * snapshot), or the new snapshot with its new log.
 */
#include "internal.h" /* first: config.h selects the POSIX interfaces */
#include "wal.h"
#include "io.h"
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CPW_BYTE_ORDER 0x01020304u
#define CPW_READ_CHUNK (1u << 20)
#define CPW_ATTEMPTS 5
#define CPW_DEFAULT_INTERVAL_MS 1000u

struct cp_open_opts {
	cp_obj obj;
	bool read_only;
	bool repair;
	bool verify;
	int sync;
	unsigned interval_ms;
};

typedef struct cp_wal {
	char *path;          /* the snapshot */
	char *log;           /* path + "-wal" */
	cps_ident snap;      /* the snapshot the store's base is, or it was compacted to */
	bool read_only;
	bool repair;
	int sync;            /* enum cp_sync_mode */
	unsigned interval_ms;
	/* the log as applied */
	uint32_t salt;       /* of the log applied; 0 when none was read */
	uint64_t end;        /* bytes of it applied (0: none) */
	uint64_t log_dev, log_ino;
	/* writing */
	int fd;              /* the log, open and locked, or -1 */
	bool broken;         /* an update's outcome is in doubt: no more updates */
	bool dirty;          /* written since the last fdatasync */
	uint64_t last_sync;  /* CLOCK_MONOTONIC, ns */
	cp_buf rec;          /* a record being built */
	cp_profile *draft;   /* replay: a record's profile */
} cp_wal;

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof(v)); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, sizeof(v)); return v; }

static uint32_t crc(uint32_t c, const void *data, size_t n)
{
	const Bytef *p = data;
	while (n) {
		uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
		c = (uint32_t)crc32(c, p, k);
		p += k;
		n -= k;
	}
	return c;
}

static uint32_t crc0(void)
{
	return (uint32_t)crc32(0L, Z_NULL, 0);
}

static uint64_t align8(uint64_t n)
{
	return (n + CPW_ALIGN - 1) & ~(uint64_t)(CPW_ALIGN - 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t new_salt(void)
{
	uint32_t s = (uint32_t)cp__io_random64();
	return s ? s : 1;
}

/* =========================================================================
 * Records
 * ========================================================================= */

/* The record CRC: of its first 12 bytes and its payload. */
static uint32_t record_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
	return crc(crc(crc0(), hdr, CPW_R_CRC), payload, len);
}

/* Start a record of type in w->rec (header filled in by record_finish). */
static int record_begin(cp_wal *w, uint32_t type)
{
	cp__buf_reset(&w->rec);
	uint8_t hdr[CPW_RECORD_HEADER] = {0};
	put32(hdr + CPW_R_SALT, w->salt);
	put32(hdr + CPW_R_TYPE, type);
	return cp__buf_append(&w->rec, hdr, sizeof(hdr));
}

static int record_finish(cp_wal *w)
{
	static const uint8_t zeros[CPW_ALIGN];
	if (w->rec.failed || w->rec.len - CPW_RECORD_HEADER > CPW_MAX_PAYLOAD)
		return w->rec.failed ? CP_ENOMEM : CP_ELIMIT;
	uint8_t *h = (uint8_t *)w->rec.data;
	uint32_t len = (uint32_t)(w->rec.len - CPW_RECORD_HEADER);
	put32(h + CPW_R_SALT, w->salt);
	put32(h + CPW_R_LENGTH, len);
	put32(h + CPW_R_CRC, record_crc(h, h + CPW_RECORD_HEADER, len));
	size_t pad = (size_t)(align8(w->rec.len) - w->rec.len);
	return cp__buf_append(&w->rec, zeros, pad);
}

/* ---- PUT: a draft, its strings gathered into the record ---- */

static bool interned(const cp_field *f)
{
	return f->type == CP_TYPE_STRING || f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST ||
	       (f->type == CP_TYPE_ENUM && !f->closed);
}

/* The strings (S) and items (L) of a PUT, built beside the row. */
typedef struct put_blobs {
	cp_buf strings;
	cp_buf items;
} put_blobs;

static int blob_string(put_blobs *b, const char *s, uint32_t *off)
{
	size_t n = strlen(s);
	if (b->strings.len + n + 1 > CPW_MAX_PAYLOAD)
		return CP_ELIMIT;
	*off = (uint32_t)b->strings.len;
	cp__buf_append(&b->strings, s, n);
	return cp__buf_putc(&b->strings, '\0');
}

static int blob_list(put_blobs *b, const cp_profile *p, uint32_t id, uint32_t *idx)
{
	uint32_t n = cp__listpool_count(&p->lists, id);
	const uint32_t *ids = cp__listpool_ids(&p->lists, id);
	if (n == 0) {
		*idx = 0;
		return CP_OK;
	}
	if (b->items.len / 4 + n + 1 > CPW_MAX_PAYLOAD / 4)
		return CP_ELIMIT;
	*idx = (uint32_t)(b->items.len / 4);
	int rc = cp__buf_append(&b->items, &n, sizeof(n));
	for (uint32_t i = 0; i < n && rc == CP_OK; i++) {
		uint32_t off;
		rc = blob_string(b, cp__strpool_get(&p->strings, ids[i]), &off);
		if (rc == CP_OK)
			rc = cp__buf_append(&b->items, &off, sizeof(off));
	}
	return rc;
}

static int build_put(cp_wal *w, const cp_profile *p)
{
	const cp_schema *sc = p->schema;
	size_t rs = sc->row_size;
	put_blobs b;
	cp__buf_init(&b.strings);
	cp__buf_init(&b.items);
	uint8_t *row = cp__malloc(rs);
	uint32_t zero = 0;
	int rc = row ? CP_OK : CP_ENOMEM;
	if (rc == CP_OK) {
		memcpy(row, p->row, rs);
		uint32_t header = CP_ROW_LIVE;
		memcpy(row, &header, sizeof(header));
		cp__buf_putc(&b.strings, '\0');
		rc = cp__buf_append(&b.items, &zero, sizeof(zero));
	}
	for (int fi = 0; fi < sc->nfields && rc == CP_OK; fi++) {
		const cp_field *f = &sc->fields[fi];
		if (!interned(f))
			continue;
		for (int m = 0; m < f->months && rc == CP_OK; m++) {
			if (!cp__row_present(row, f->cell + (uint32_t)m))
				continue;
			uint8_t *cell = row + f->offset + (uint32_t)m * 4u;
			uint32_t id, out = 0;
			memcpy(&id, cell, sizeof(id));
			if (f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST)
				rc = blob_list(&b, p, id, &out);
			else
				rc = blob_string(&b, cp__strpool_get(&p->strings, id), &out);
			memcpy(cell, &out, sizeof(out));
		}
	}
	if (rc == CP_OK && (b.strings.failed || b.items.failed))
		rc = CP_ENOMEM;
	if (rc == CP_OK && (rc = record_begin(w, CPW_PUT)) == CP_OK) {
		uint8_t head[CPW_PUT_HEADER] = {0};
		put32(head, (uint32_t)rs);
		put32(head + 4, (uint32_t)b.strings.len);
		put32(head + 8, (uint32_t)(b.items.len / 4));
		static const uint8_t zeros[4];
		cp__buf_append(&w->rec, head, sizeof(head));
		cp__buf_append(&w->rec, row, rs);
		cp__buf_append(&w->rec, b.strings.data, b.strings.len);
		cp__buf_append(&w->rec, zeros, (4 - b.strings.len % 4) % 4);
		cp__buf_append(&w->rec, b.items.data, b.items.len);
		rc = record_finish(w);
	}
	cp__free(row);
	cp__buf_free(&b.strings);
	cp__buf_free(&b.items);
	return rc;
}

/* ---- replay of one record ---- */

static bool set_in_order(const char *strings, const uint32_t *items, uint32_t id)
{
	for (uint32_t i = 2; i <= items[id]; i++)
		if (strcmp(strings + items[id + i - 1], strings + items[id + i]) >= 0)
			return false;
	return true;
}

/*
 * The checks of a PUT beyond cp__row_check: every string of a cell valid
 * UTF-8, sets in canonical order (sorted, no repeats), the key as the key
 * field normalizes it.  A hostile log cannot get past these into a store.
 */
static const char *check_put_cells(const cp_schema *sc, const uint8_t *row,
                                   const char *strings, const uint32_t *items)
{
	for (int fi = 0; fi < sc->nfields; fi++) {
		const cp_field *f = &sc->fields[fi];
		if (!interned(f))
			continue;
		for (int m = 0; m < f->months; m++) {
			if (!cp__row_present(row, f->cell + (uint32_t)m))
				continue;
			uint32_t id;
			memcpy(&id, cp__row_cell(row, f, m), sizeof(id));
			if (f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST) {
				for (uint32_t i = 1; i <= items[id]; i++) {
					const char *s = strings + items[id + i];
					if (!*s || !cp__utf8_valid(s, strlen(s)))
						return "an item is empty or not UTF-8";
				}
				if (f->type == CP_TYPE_SET && !set_in_order(strings, items, id))
					return "a set is not in canonical order";
			} else if (!cp__utf8_valid(strings + id, strlen(strings + id))) {
				return "a string is not UTF-8";
			}
		}
	}
	uint32_t kid = cp__row_key_id(sc, row);
	const char *key = strings + kid, *why;
	char norm[CP_KEY_BUF];
	if (!*key || cp__store_normalize_key(sc, key, strlen(key), norm, sizeof(norm), &why) !=
	    CP_OK || strcmp(norm, key) != 0)
		return "the key is not a normalized key";
	return NULL;
}

/* The record's profile into the draft (ids of the draft's pools). */
static int load_draft(cp_profile *d, const uint8_t *row, const char *strings,
                      const uint32_t *items)
{
	const cp_schema *sc = d->schema;
	cp_profile_clear(d);
	memcpy(d->row, row, sc->row_size);
	for (int fi = 0; fi < sc->nfields; fi++) {
		const cp_field *f = &sc->fields[fi];
		if (!interned(f))
			continue;
		for (int m = 0; m < f->months; m++) {
			if (!cp__row_present(row, f->cell + (uint32_t)m))
				continue;
			uint8_t *cell = d->row + f->offset + (uint32_t)m * 4u;
			uint32_t id, out;
			memcpy(&id, cell, sizeof(id));
			int rc;
			if (f->type == CP_TYPE_SET || f->type == CP_TYPE_LIST) {
				uint32_t n = items[id];
				uint32_t ids[64], *v = n <= 64 ? ids : cp__reallocarray(NULL, n, 4);
				if (!v)
					return CP_ENOMEM;
				rc = CP_OK;
				for (uint32_t i = 0; i < n && rc == CP_OK; i++) {
					const char *s = strings + items[id + 1 + i];
					rc = cp__strpool_add(&d->strings, s, strlen(s), &v[i]);
				}
				if (rc == CP_OK)
					rc = cp__listpool_add(&d->lists, v, n, &out);
				if (v != ids)
					cp__free(v);
			} else {
				const char *s = strings + id;
				rc = cp__strpool_add(&d->strings, s, strlen(s), &out);
			}
			if (rc != CP_OK)
				return rc;
			memcpy(cell, &out, sizeof(out));
		}
	}
	return CP_OK;
}

/*
 * Apply one record whose CRC checked.  CP_OK; CP_ECORRUPT with *why when
 * its payload does not check (a valid CRC over a wrong payload: a bug or a
 * forged log); CP_ENOMEM and the like when applying failed.
 */
static int apply_record(cp_store *s, uint32_t type, const uint8_t *pl, uint32_t len,
                        const char **why)
{
	const cp_schema *sc = s->schema;
	cp_wal *w = s->wal;
	switch (type) {
	case CPW_PUT: {
		uint64_t rs = sc->row_size;
		if (len < CPW_PUT_HEADER) {
			*why = "a profile record is too short";
			return CP_ECORRUPT;
		}
		uint64_t slen = get32(pl + 4), nitems = get32(pl + 8);
		if (get32(pl) != rs || get32(pl + 12) != 0 || slen == 0 || nitems == 0 ||
		    CPW_PUT_HEADER + rs + ((slen + 3) & ~(uint64_t)3) + nitems * 4 != len) {
			*why = "the sizes of a profile record do not add up";
			return CP_ECORRUPT;
		}
		const uint8_t *row = pl + CPW_PUT_HEADER;
		const char *strings = (const char *)(row + rs);
		const uint32_t *items = (const uint32_t *)(const void *)
		                        (row + rs + ((slen + 3) & ~(uint64_t)3));
		const char *w2 = NULL;
		int f, m;
		if (strings[0] != '\0' || strings[slen - 1] != '\0' || items[0] != 0)
			w2 = "the strings or lists of a profile record are malformed";
		else if (cp__row_check(sc, row, strings, (uint32_t)slen, items, (uint32_t)nitems,
		                       &w2, &f, &m) == CP_OK)
			w2 = check_put_cells(sc, row, strings, items);
		if (w2) {
			*why = w2;
			return CP_ECORRUPT;
		}
		if (!w->draft && cp_profile_new(&w->draft, sc) != CP_OK)
			return CP_ENOMEM;
		int rc = load_draft(w->draft, row, strings, items);
		if (rc == CP_OK)
			rc = cp__store_put(s, w->draft, NULL, false);
		return rc;
	}
	case CPW_DELETE: {
		if (len == 0 || len >= CP_KEY_BUF || memchr(pl, '\0', len) ||
		    !cp__utf8_valid((const char *)pl, len)) {
			*why = "a delete record holds no key";
			return CP_ECORRUPT;
		}
		int rc = cp__store_delete(s, (const char *)pl, len, false);
		if (rc == CP_ENOTFOUND) { /* already gone: nothing to do */
			cp__clear_error(&s->obj);
			return CP_OK;
		}
		return rc;
	}
	case CPW_AS_OF:
		if (len != 4 || cp__store_set_as_of(s, (int)get32(pl), false) != CP_OK) {
			cp__clear_error(&s->obj);
			*why = "an as-of record holds no month";
			return CP_ECORRUPT;
		}
		return CP_OK;
	default:
		*why = "unknown record type";
		return CP_ECORRUPT;
	}
}

/* =========================================================================
 * Reading a log
 * ========================================================================= */

/* A buffered reader of a log file of size bytes, or of a memory image. */
typedef struct wal_reader {
	int fd;
	uint64_t size;
	const uint8_t *mem;  /* the whole log in memory (replay_memory), or NULL */
	uint8_t *buf;
	size_t cap;
	uint64_t off;        /* file offset of buf[0] */
	size_t len;          /* bytes in buf */
	int err;             /* errno of a failed read */
} wal_reader;

/* Bytes [off, off + n) of the log (inside its size), or NULL on a read
 * error (rd->err). */
static const uint8_t *rd_get(wal_reader *rd, uint64_t off, size_t n)
{
	if (rd->mem)
		return rd->mem + off;
	if (off >= rd->off && off + n <= rd->off + rd->len)
		return rd->buf + (off - rd->off);
	size_t want = n > CPW_READ_CHUNK ? n : CPW_READ_CHUNK;
	if (want > rd->size - off)
		want = (size_t)(rd->size - off);
	if (want > rd->cap) {
		uint8_t *b = cp__malloc(want);
		if (!b) {
			rd->err = ENOMEM;
			return NULL;
		}
		cp__free(rd->buf);
		rd->buf = b;
		rd->cap = want;
	}
	ssize_t k = cp__io_pread_all(rd->fd, rd->buf, want, off);
	if (k < 0 || (size_t)k < n) {
		rd->err = k < 0 ? errno : EIO;
		rd->len = 0;
		return NULL;
	}
	rd->off = off;
	rd->len = (size_t)k;
	return rd->buf;
}

/* How a scan ended. */
enum scan_end {
	SCAN_CLEAN,   /* at the end of the file */
	SCAN_TORN,    /* at a bad record, with no valid record after it */
	SCAN_DAMAGED, /* at a bad record followed by a valid one, or a bad payload */
	SCAN_ERROR    /* a read or apply failed (rc) */
};

typedef struct scan_result {
	int end;             /* enum scan_end */
	uint64_t at;         /* offset of the bad record (or the end) */
	uint64_t next_valid; /* SCAN_DAMAGED: a valid record found after it (0: bad payload) */
	const char *why;     /* what is wrong at `at` */
	size_t applied;      /* records applied */
	int rc;              /* SCAN_ERROR: the code */
} scan_result;

/* The record at off if it is whole and its CRC checks; else NULL and why. */
static const uint8_t *record_at(wal_reader *rd, uint32_t salt, uint64_t off, uint32_t *type,
                                uint32_t *len, uint64_t *next, const char **why, int *err)
{
	*err = 0;
	if (rd->size - off < CPW_RECORD_HEADER) {
		*why = "a record header is cut short";
		return NULL;
	}
	const uint8_t *h = rd_get(rd, off, CPW_RECORD_HEADER);
	if (!h) {
		*err = rd->err;
		return NULL;
	}
	*type = get32(h + CPW_R_TYPE);
	*len = get32(h + CPW_R_LENGTH);
	if (get32(h + CPW_R_SALT) != salt) {
		*why = "no record starts there";
		return NULL;
	}
	uint64_t total = align8(CPW_RECORD_HEADER + (uint64_t)*len);
	if (*len > CPW_MAX_PAYLOAD || total > rd->size - off) {
		*why = "a record runs past the end of the log";
		return NULL;
	}
	const uint8_t *r = rd_get(rd, off, (size_t)total);
	if (!r) {
		*err = rd->err;
		return NULL;
	}
	if (record_crc(r, r + CPW_RECORD_HEADER, *len) != get32(r + CPW_R_CRC)) {
		*why = "a record's CRC32 does not match";
		return NULL;
	}
	for (uint64_t i = CPW_RECORD_HEADER + (uint64_t)*len; i < total; i++)
		if (r[i]) {
			*why = "a record's padding is not zero";
			return NULL;
		}
	*next = off + total;
	return r;
}

/*
 * After a bad record at off: is there a valid record further on?  The scan
 * looks at every multiple of 8 where the salt appears; its CRC work is
 * bounded (a forged log full of salts cannot make it quadratic): past the
 * budget the answer is yes, which refuses rather than cuts.
 */
static uint64_t valid_record_after(wal_reader *rd, uint32_t salt, uint64_t off, int *err)
{
	uint64_t budget = 4 * (rd->size - off) + (64u << 20);
	for (uint64_t o = off + CPW_ALIGN; o + CPW_RECORD_HEADER <= rd->size; o += CPW_ALIGN) {
		const uint8_t *h = rd_get(rd, o, CPW_RECORD_HEADER);
		if (!h) {
			*err = rd->err;
			return 0;
		}
		if (get32(h + CPW_R_SALT) != salt)
			continue;
		uint32_t type, len;
		uint64_t next;
		const char *why;
		uint64_t cost = CPW_RECORD_HEADER + (uint64_t)get32(h + CPW_R_LENGTH);
		if (cost > budget)
			return o;
		budget -= cost;
		if (record_at(rd, salt, o, &type, &len, &next, &why, err))
			return o;
		if (*err)
			return 0;
	}
	return 0;
}

/* Apply the records from off on, up to the end or the first bad one. */
static void scan(cp_store *s, wal_reader *rd, uint32_t salt, uint64_t off, scan_result *res)
{
	memset(res, 0, sizeof(*res));
	for (;;) {
		res->at = off;
		if (off == rd->size) {
			res->end = SCAN_CLEAN;
			return;
		}
		uint32_t type, len;
		uint64_t next;
		int err;
		const uint8_t *r = record_at(rd, salt, off, &type, &len, &next, &res->why, &err);
		if (err) {
			res->end = SCAN_ERROR;
			res->rc = err == ENOMEM ? CP_ENOMEM : CP_EIO;
			res->why = strerror(err);
			return;
		}
		if (!r) {
			uint64_t v = valid_record_after(rd, salt, off, &err);
			if (err) {
				res->end = SCAN_ERROR;
				res->rc = err == ENOMEM ? CP_ENOMEM : CP_EIO;
				res->why = strerror(err);
				return;
			}
			res->end = v ? SCAN_DAMAGED : SCAN_TORN;
			res->next_valid = v;
			return;
		}
		int rc = apply_record(s, type, r + CPW_RECORD_HEADER, len, &res->why);
		if (rc == CP_ECORRUPT) {
			res->end = SCAN_DAMAGED;
			return;
		}
		if (rc != CP_OK) {
			res->end = SCAN_ERROR;
			res->rc = rc;
			res->why = cp_strerror(rc);
			return;
		}
		res->applied++;
		off = next;
	}
}

/* ---- the header ---- */

typedef struct log_header {
	uint64_t generation, id;
	uint32_t layout, row_size, salt;
} log_header;

/* NULL when the 64 bytes are a log header (filled into lh), else why not. */
static const char *parse_header(const uint8_t *h, log_header *lh)
{
	if (memcmp(h, CPW_MAGIC, CPW_MAGIC_LEN) != 0)
		return "not a custprof log (bad magic)";
	if (get32(h + CPW_H_VERSION) != CPW_VERSION)
		return "a log format version this library does not read";
	if (get32(h + CPW_H_BYTE_ORDER) != CPW_BYTE_ORDER)
		return "written with another byte order";
	if (get32(h + CPW_H_HEADER_SIZE) != CPW_HEADER_SIZE || get32(h + CPW_H_FLAGS))
		return "an unknown header size or flags";
	if (crc(crc0(), h, CPW_H_HEADER_CRC) != get32(h + CPW_H_HEADER_CRC))
		return "the header's CRC32 does not match";
	lh->generation = get64(h + CPW_H_GENERATION);
	lh->id = get64(h + CPW_H_SNAPSHOT_ID);
	lh->layout = get32(h + CPW_H_LAYOUT_CRC);
	lh->row_size = get32(h + CPW_H_ROW_SIZE);
	lh->salt = get32(h + CPW_H_SALT);
	if (!lh->salt)
		return "the header's salt is zero";
	return NULL;
}

static void build_header(uint8_t *h, const cps_ident *snap, uint32_t row_size, uint32_t salt)
{
	memset(h, 0, CPW_HEADER_SIZE);
	memcpy(h, CPW_MAGIC, CPW_MAGIC_LEN);
	put32(h + CPW_H_VERSION, CPW_VERSION);
	put32(h + CPW_H_BYTE_ORDER, CPW_BYTE_ORDER);
	put32(h + CPW_H_HEADER_SIZE, CPW_HEADER_SIZE);
	put64(h + CPW_H_GENERATION, snap->generation);
	put64(h + CPW_H_SNAPSHOT_ID, snap->id);
	put32(h + CPW_H_LAYOUT_CRC, snap->layout);
	put32(h + CPW_H_ROW_SIZE, row_size);
	put32(h + CPW_H_SALT, salt);
	put32(h + CPW_H_HEADER_CRC, crc(crc0(), h, CPW_H_HEADER_CRC));
}

/* How a log relates to the store's snapshot. */
enum log_kind {
	LOG_OURS,    /* names the snapshot: apply */
	LOG_STALE,   /* of an older generation: its records are in the snapshot */
	LOG_FOREIGN, /* of another snapshot of this or a later generation */
	LOG_BAD      /* no valid header */
};

static int classify(const cp_wal *w, const cp_store *s, const uint8_t *h, uint64_t size,
                    log_header *lh, const char **why)
{
	if (size < CPW_HEADER_SIZE) {
		*why = "the log has no complete header";
		return LOG_BAD;
	}
	if ((*why = parse_header(h, lh)))
		return LOG_BAD;
	if (lh->generation == w->snap.generation && lh->id == w->snap.id) {
		if (lh->layout != w->snap.layout || lh->row_size != s->schema->row_size) {
			*why = "its row layout differs from the snapshot's";
			return LOG_BAD;
		}
		return LOG_OURS;
	}
	return lh->generation < w->snap.generation ? LOG_STALE : LOG_FOREIGN;
}

/* =========================================================================
 * Opening
 * ========================================================================= */

static int diag_log(cp_diag *diag, int sev, const cp_wal *w, const char *fmt, ...)
	CP_PRINTF(4, 5);
static int diag_log(cp_diag *diag, int sev, const cp_wal *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cp__diag_vadd(diag, sev, w->log, 0, 0, fmt, ap);
	va_end(ap);
	return sev == CP_SEV_ERROR ? CP_ECORRUPT : CP_OK;
}

static bool same_file(const struct stat *st, uint64_t dev, uint64_t ino)
{
	return (uint64_t)st->st_dev == dev && (uint64_t)st->st_ino == ino;
}

/* path still names the snapshot the store was opened from. */
static bool snapshot_unchanged(const cp_wal *w)
{
	struct stat st;
	return stat(w->path, &st) == 0 && same_file(&st, w->snap.dev, w->snap.ino);
}

/* Cut the log at off (the writer holds the lock). */
static int cut_log(int fd, uint64_t off)
{
	if (cp__io_ftruncate(fd, off) != 0 || cp__io_fdatasync(fd) != 0)
		return -1;
	return 0;
}

/*
 * Deal with what follows the records applied (res ended at a bad record),
 * holding a lock on the log (exclusive when cut is allowed): report, and
 * cut a torn tail, or a damaged one with the repair option.
 */
static int settle_end(cp_store *s, int fd, bool may_cut, const scan_result *res,
                      cp_diag *diag)
{
	cp_wal *w = s->wal;
	uint64_t rest = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > res->at)
		rest = (uint64_t)st.st_size - res->at;
	if (res->end == SCAN_DAMAGED && !w->repair) {
		if (res->next_valid)
			return diag_log(diag, CP_SEV_ERROR, w, "damaged at offset %llu (%s), and a "
			                "valid record follows at offset %llu: open with the repair "
			                "option to drop the log from offset %llu (%llu bytes)",
			                (unsigned long long)res->at, res->why,
			                (unsigned long long)res->next_valid,
			                (unsigned long long)res->at, (unsigned long long)rest);
		return diag_log(diag, CP_SEV_ERROR, w, "damaged at offset %llu: %s; open with the "
		                "repair option to drop the log from there (%llu bytes)",
		                (unsigned long long)res->at, res->why, (unsigned long long)rest);
	}
	const char *what = res->end == SCAN_TORN ? "a torn record (the last update was being "
	                   "written when its writer stopped)" : "damage (repair option)";
	if (!may_cut)
		return diag_log(diag, CP_SEV_WARNING, w, "%s at offset %llu: %s; the %llu bytes from "
		                "there were ignored, not cut (read-only)", what,
		                (unsigned long long)res->at, res->why, (unsigned long long)rest);
	if (cut_log(fd, res->at) != 0) {
		int err = errno;
		diag_log(diag, CP_SEV_ERROR, w, "cannot cut the log at offset %llu: %s",
		         (unsigned long long)res->at, strerror(err));
		return CP_EIO;
	}
	return diag_log(diag, CP_SEV_WARNING, w, "%s at offset %llu: %s; cut (%llu bytes dropped)",
	                what, (unsigned long long)res->at, res->why, (unsigned long long)rest);
}

/*
 * Replay the log into a freshly opened store.  *moved is set when the
 * snapshot path was replaced while this ran (the caller opens again).
 */
static int replay(cp_store *s, cp_diag *diag, bool *moved)
{
	cp_wal *w = s->wal;
	*moved = false;
	int fd = cp__io_open(w->log, O_RDONLY, 0);
	if (fd < 0) {
		if (errno == ENOENT) {
			*moved = !snapshot_unchanged(w);
			return CP_OK;
		}
		diag_log(diag, CP_SEV_ERROR, w, "cannot open: %s", strerror(errno));
		return CP_EIO;
	}
	struct stat st;
	uint8_t h[CPW_HEADER_SIZE];
	int rc = CP_OK;
	wal_reader rd = {.fd = fd};
	if (fstat(fd, &st) != 0) {
		rc = CP_EIO;
		diag_log(diag, CP_SEV_ERROR, w, "cannot stat: %s", strerror(errno));
		goto out;
	}
	rd.size = (uint64_t)st.st_size;
	ssize_t got = cp__io_pread_all(fd, h, sizeof(h), 0);
	if (got < 0) {
		rc = CP_EIO;
		diag_log(diag, CP_SEV_ERROR, w, "cannot read at offset 0: %s", strerror(errno));
		goto out;
	}
	/* The snapshot is checked after the log is opened: a compaction that
	 * replaced both in between is seen here. */
	if (!snapshot_unchanged(w)) {
		*moved = true;
		goto out;
	}
	log_header lh = {0};
	const char *why;
	switch (classify(w, s, h, (uint64_t)got < rd.size ? (uint64_t)got : rd.size, &lh, &why)) {
	case LOG_STALE:
		diag_log(diag, CP_SEV_WARNING, w, "written for an older snapshot (generation %llu; "
		         "this one is %llu): its updates are in the snapshot; ignored",
		         (unsigned long long)lh.generation, (unsigned long long)w->snap.generation);
		goto out;
	case LOG_FOREIGN:
		if (w->repair) {
			diag_log(diag, CP_SEV_WARNING, w, "written for another snapshot (generation "
			         "%llu); ignored (repair option)", (unsigned long long)lh.generation);
			goto out;
		}
		rc = diag_log(diag, CP_SEV_ERROR, w, "written for another snapshot (generation "
		              "%llu, id %016llx; this one is generation %llu, id %016llx): open with "
		              "the repair option to drop it", (unsigned long long)lh.generation,
		              (unsigned long long)lh.id, (unsigned long long)w->snap.generation,
		              (unsigned long long)w->snap.id);
		goto out;
	case LOG_BAD:
		/* a header cut short: a crash while the log was created (it holds
		 * nothing yet); the next writer starts it again */
		if (rd.size == 0)
			goto out;
		if (rd.size <= CPW_HEADER_SIZE || w->repair) {
			diag_log(diag, CP_SEV_WARNING, w, "%s at offset 0; ignored%s", why,
			         rd.size <= CPW_HEADER_SIZE ? "" : " (repair option)");
			goto out;
		}
		rc = diag_log(diag, CP_SEV_ERROR, w, "header at offset 0: %s: open with the repair "
		              "option to drop the log (%llu bytes)", why, (unsigned long long)rd.size);
		goto out;
	default:
		break;
	}
	w->salt = lh.salt;
	w->log_dev = (uint64_t)st.st_dev;
	w->log_ino = (uint64_t)st.st_ino;
	scan_result res;
	scan(s, &rd, w->salt, CPW_HEADER_SIZE, &res);
	w->end = res.at;
	if (res.end == SCAN_ERROR) {
		rc = res.rc;
		diag_log(diag, CP_SEV_ERROR, w, "cannot replay at offset %llu: %s",
		         (unsigned long long)res.at, res.why);
		goto out;
	}
	if (res.end == SCAN_CLEAN)
		goto out;
	/*
	 * A bad record: decide only while no writer appends (a record being
	 * written looks torn).  With the lock, catch up on what a writer that
	 * just finished appended, then judge what is left.
	 */
	int lfd = w->read_only ? -1 : cp__io_open(w->log, O_RDWR, 0);
	bool may_cut = lfd >= 0;
	if (lfd < 0)
		lfd = fd;
	if (flock(lfd, (may_cut ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
		diag_log(diag, CP_SEV_NOTE, w, "another process is writing the log: replayed up to "
		         "offset %llu", (unsigned long long)res.at);
	} else {
		rd.size = fstat(lfd, &st) == 0 ? (uint64_t)st.st_size : rd.size;
		rd.len = 0;
		scan(s, &rd, w->salt, w->end, &res);
		w->end = res.at;
		if (res.end == SCAN_ERROR) {
			rc = res.rc;
			diag_log(diag, CP_SEV_ERROR, w, "cannot replay at offset %llu: %s",
			         (unsigned long long)res.at, res.why);
		} else if (res.end != SCAN_CLEAN) {
			rc = settle_end(s, lfd, may_cut && !w->read_only, &res, diag);
		}
		flock(lfd, LOCK_UN);
	}
	if (lfd != fd)
		close(lfd);
out:
	cp__free(rd.buf);
	close(fd);
	return rc;
}

/* Copy the entries of one diag into another. */
static void diag_copy(cp_diag *to, const cp_diag *from)
{
	for (size_t i = 0; i < cp_diag_count(from); i++) {
		const char *f = cp_diag_file(from, i);
		cp__diag_add(to, cp_diag_severity(from, i), *f ? f : NULL, cp_diag_line(from, i),
		             cp_diag_column(from, i), "%s", cp_diag_message(from, i));
	}
}

static int attach(cp_store *s, const char *path, const cp_open_opts *opts,
                  const cps_ident *ident)
{
	cp_wal *w = cp__calloc(1, sizeof(*w));
	if (!w)
		return CP_ENOMEM;
	s->wal = w;
	w->fd = -1;
	cp__buf_init(&w->rec);
	w->snap = *ident;
	w->sync = opts ? opts->sync : CP_SYNC_FULL;
	w->interval_ms = opts ? opts->interval_ms : CPW_DEFAULT_INTERVAL_MS;
	w->read_only = opts && opts->read_only;
	w->repair = opts && opts->repair;
	w->last_sync = now_ns();
	size_t n = strlen(path);
	w->path = cp__strdup(path);
	w->log = cp__malloc(n + 5);
	if (!w->path || !w->log)
		return CP_ENOMEM;
	memcpy(w->log, path, n);
	memcpy(w->log + n, "-wal", 5);
	return CP_OK;
}

int cp_store_open_ex(cp_store **out, const char *path, const cp_open_opts *opts, cp_diag *diag)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!path)
		return CP_EINVAL;
	int rc = CP_OK;
	for (int attempt = 0; attempt < CPW_ATTEMPTS; attempt++) {
		cp_diag *d = NULL;
		if (cp_diag_new(&d) != CP_OK)
			return CP_ENOMEM;
		cp_store *s = NULL;
		cps_ident ident;
		bool moved = false;
		rc = cp__snapshot_load(&s, path, opts && opts->verify, d, &ident);
		if (rc == CP_OK && (rc = attach(s, path, opts, &ident)) != CP_OK)
			cp__diag_add(d, CP_SEV_ERROR, path, 0, 0, "out of memory");
		if (rc == CP_OK)
			rc = replay(s, d, &moved);
		if (rc == CP_OK && moved && attempt + 1 < CPW_ATTEMPTS) {
			cp_store_free(s);
			cp_diag_free(d);
			continue; /* the snapshot was replaced meanwhile: open the new one */
		}
		diag_copy(diag, d);
		cp_diag_free(d);
		if (rc == CP_OK)
			*out = s;
		else
			cp_store_free(s);
		return rc;
	}
	return rc;
}

int cp_store_open(cp_store **out, const char *path, cp_diag *diag)
{
	return cp_store_open_ex(out, path, NULL, diag);
}

/* ---- options ---- */

int cp_open_opts_new(cp_open_opts **out)
{
	if (!out)
		return CP_EINVAL;
	cp_open_opts *o = cp__calloc(1, sizeof(*o));
	*out = o;
	if (!o)
		return CP_ENOMEM;
	cp__obj_init(&o->obj, CP_OBJ_OTHER);
	o->sync = CP_SYNC_FULL;
	o->interval_ms = CPW_DEFAULT_INTERVAL_MS;
	return CP_OK;
}

void cp_open_opts_free(cp_open_opts *o)
{
	if (!o)
		return;
	cp__obj_fini(&o->obj);
	cp__free(o);
}

int cp_open_opts_set_read_only(cp_open_opts *o, int read_only)
{
	if (!o)
		return CP_EINVAL;
	o->read_only = read_only != 0;
	return CP_OK;
}

int cp_open_opts_set_repair(cp_open_opts *o, int repair)
{
	if (!o)
		return CP_EINVAL;
	o->repair = repair != 0;
	return CP_OK;
}

int cp_open_opts_set_verify(cp_open_opts *o, int verify)
{
	if (!o)
		return CP_EINVAL;
	o->verify = verify != 0;
	return CP_OK;
}

static int check_sync(cp_obj *obj, int mode, unsigned interval_ms)
{
	if (mode != CP_SYNC_NONE && mode != CP_SYNC_INTERVAL && mode != CP_SYNC_FULL)
		return cp__fail(obj, CP_EINVAL, "unknown sync mode %d", mode);
	if (mode == CP_SYNC_INTERVAL && interval_ms == 0)
		return cp__fail(obj, CP_EINVAL, "CP_SYNC_INTERVAL needs an interval above 0 ms");
	return CP_OK;
}

int cp_open_opts_set_sync(cp_open_opts *o, int mode, unsigned interval_ms)
{
	if (!o)
		return CP_EINVAL;
	int rc = check_sync(&o->obj, mode, interval_ms);
	if (rc == CP_OK) {
		o->sync = mode;
		o->interval_ms = interval_ms;
	}
	return rc;
}

/* =========================================================================
 * Writing
 * ========================================================================= */

static int log_fail(cp_store *s, const char *what, int err)
{
	return cp__fail(&s->obj, err == ENOMEM ? CP_ENOMEM : CP_EIO, "cannot %s the log '%s': %s",
	                what, s->wal->log, strerror(err));
}

/* Write a fresh header (new salt) to the locked log fd: it is now the
 * empty log of the store's snapshot. */
static int start_log(cp_store *s, int fd)
{
	cp_wal *w = s->wal;
	uint8_t h[CPW_HEADER_SIZE];
	uint32_t salt = new_salt();
	build_header(h, &w->snap, s->schema->row_size, salt);
	if (cp__io_ftruncate(fd, 0) != 0)
		return log_fail(s, "truncate", errno);
	if (cp__io_pwrite_all(fd, h, sizeof(h), 0) != 0)
		return log_fail(s, "write", errno);
	if (cp__io_fdatasync(fd) != 0)
		return log_fail(s, "fsync", errno);
	/* the log's name must survive a crash as well as its bytes */
	if (cp__io_sync_dir(w->log) != 0)
		return log_fail(s, "fsync the directory of", errno);
	w->salt = salt;
	w->end = CPW_HEADER_SIZE;
	return CP_OK;
}

/*
 * Temporary files that saves killed half way left beside the store
 * (PATH.tmp.PID.N, PATH-wal.tmp.PID.N) whose process is gone: removed by
 * the writer, which holds the lock.  A file of a live process, or of one
 * whose pid was reused, stays.
 */
static void remove_stale_temps(const cp_wal *w)
{
	const char *slash = strrchr(w->path, '/');
	const char *base = slash ? slash + 1 : w->path;
	size_t blen = strlen(base);
	char *dirname = slash ? cp__strndup(w->path, slash == w->path ? 1 :
	                                    (size_t)(slash - w->path)) : cp__strdup(".");
	DIR *d = dirname ? opendir(dirname) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		const char *n = e->d_name, *rest;
		if (strncmp(n, base, blen) != 0)
			continue;
		rest = n + blen;
		if (strncmp(rest, "-wal", 4) == 0)
			rest += 4;
		if (strncmp(rest, ".tmp.", 5) != 0)
			continue;
		char *end;
		long pid = strtol(rest + 5, &end, 10);
		if (pid <= 0 || *end != '.' || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		size_t dl = strlen(dirname), nl = strlen(n);
		char *full = cp__malloc(dl + nl + 2);
		if (!full)
			break;
		memcpy(full, dirname, dl);
		full[dl] = '/';
		memcpy(full + dl + 1, n, nl + 1);
		unlink(full);
		cp__free(full);
	}
	if (d)
		closedir(d);
	cp__free(dirname);
}

/* Catch up with records appended by another process since the store read
 * the log, and settle a bad end (under the lock). */
static int catch_up(cp_store *s, int fd, uint64_t size)
{
	cp_wal *w = s->wal;
	wal_reader rd = {.fd = fd, .size = size};
	scan_result res;
	scan(s, &rd, w->salt, w->end, &res);
	cp__free(rd.buf);
	w->end = res.at;
	if (res.end == SCAN_CLEAN)
		return CP_OK;
	if (res.end == SCAN_ERROR)
		return cp__fail(&s->obj, res.rc, "cannot read the log '%s' at offset %llu: %s",
		                w->log, (unsigned long long)res.at, res.why);
	if (res.end == SCAN_DAMAGED && !w->repair)
		return cp__fail(&s->obj, CP_ECORRUPT, "the log '%s' is damaged at offset %llu (%s); "
		                "reopen the store with the repair option", w->log,
		                (unsigned long long)res.at, res.why);
	if (cut_log(fd, res.at) != 0)
		return log_fail(s, "cut", errno);
	return CP_OK;
}

/*
 * Take the log for writing (once per store): open or create it, lock it,
 * check that nothing was replaced, catch up, and start it if it is not the
 * log of the store's snapshot.
 */
static int begin_write(cp_store *s)
{
	cp_wal *w = s->wal;
	if (w->fd >= 0)
		return CP_OK;
	if (w->read_only)
		return cp__fail(&s->obj, CP_EMISUSE, "the store was opened read-only");
	for (int attempt = 0; attempt < CPW_ATTEMPTS; attempt++) {
		/* 0640 (less if the umask says so): the log holds personal data */
		int fd = cp__io_open(w->log, O_RDWR | O_CREAT, 0640);
		if (fd < 0)
			return log_fail(s, "open", errno);
		struct stat st, named;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int err = errno;
			close(fd);
			if (err == EWOULDBLOCK)
				return cp__fail(&s->obj, CP_EMISUSE, "another process or store handle "
				                "is updating '%s' (its log is locked): one writer at a time",
				                w->path);
			return log_fail(s, "lock", err);
		}
		if (fstat(fd, &st) != 0 || stat(w->log, &named) != 0 ||
		    !same_file(&named, (uint64_t)st.st_dev, (uint64_t)st.st_ino)) {
			close(fd); /* replaced between the open and the lock: again */
			continue;
		}
		if (!snapshot_unchanged(w)) {
			close(fd);
			return cp__fail(&s->obj, CP_EMISUSE, "'%s' was replaced since the store was "
			                "opened (compacted or saved by another process): open it again",
			                w->path);
		}
		uint8_t h[CPW_HEADER_SIZE];
		ssize_t got = cp__io_pread_all(fd, h, sizeof(h), 0);
		if (got < 0) {
			int err = errno;
			close(fd);
			return log_fail(s, "read", err);
		}
		log_header lh = {0};
		const char *why;
		int kind = classify(w, s, h, (uint64_t)got, &lh, &why);
		int rc;
		bool same = same_file(&st, w->log_dev, w->log_ino) && lh.salt == w->salt;
		if (kind == LOG_OURS && w->end && !same)
			rc = cp__fail(&s->obj, CP_EMISUSE, "the log '%s' was started again since the "
			              "store was opened: open it again", w->log);
		else if (kind == LOG_OURS)
			rc = (w->salt = lh.salt, w->end = w->end ? w->end : CPW_HEADER_SIZE,
			      catch_up(s, fd, (uint64_t)st.st_size));
		else if (kind == LOG_FOREIGN && !w->repair)
			rc = cp__fail(&s->obj, CP_ECORRUPT, "the log '%s' was written for another "
			              "snapshot: reopen the store with the repair option to drop it",
			              w->log);
		else if (kind == LOG_BAD && (uint64_t)st.st_size > CPW_HEADER_SIZE && !w->repair)
			rc = cp__fail(&s->obj, CP_ECORRUPT, "the log '%s' is damaged (%s): reopen the "
			              "store with the repair option to drop it", w->log, why);
		else
			rc = start_log(s, fd); /* stale, empty, or dropped by repair */
		if (rc != CP_OK) {
			close(fd);
			return rc;
		}
		w->log_dev = (uint64_t)st.st_dev;
		w->log_ino = (uint64_t)st.st_ino;
		w->fd = fd;
		w->dirty = false;
		remove_stale_temps(w);
		return CP_OK;
	}
	return cp__fail(&s->obj, CP_EIO, "the log '%s' keeps being replaced", w->log);
}

static int sync_log(cp_store *s)
{
	cp_wal *w = s->wal;
	if (cp__io_fdatasync(w->fd) != 0)
		return -1;
	w->dirty = false;
	w->last_sync = now_ns();
	return 0;
}

static bool sync_due(const cp_wal *w)
{
	if (w->sync == CP_SYNC_FULL)
		return true;
	if (w->sync == CP_SYNC_NONE)
		return false;
	return now_ns() - w->last_sync >= (uint64_t)w->interval_ms * 1000000u;
}

/* Append the record in w->rec, and sync as the mode says. */
static int append(cp_store *s)
{
	cp_wal *w = s->wal;
	const uint8_t *rec = (const uint8_t *)w->rec.data;
	size_t n = w->rec.len;
	if (cp__io_pwrite_all(w->fd, rec, n, w->end) != 0) {
		int err = errno;
		/* cut what may have been written, or nothing more may follow */
		if (cp__io_ftruncate(w->fd, w->end) != 0)
			w->broken = true;
		return cp__fail(&s->obj, CP_EIO, "cannot write to the log '%s': %s (the update "
		                "was not applied%s)", w->log, strerror(err),
		                w->broken ? "; no more updates: reopen the store" : "");
	}
	bool was_dirty = w->dirty;
	w->dirty = true;
	if (sync_due(w) && sync_log(s) != 0) {
		int err = errno;
		/* The record may or may not be on disk.  Without it, and with what
		 * was written before it on disk, the outcome is known again. */
		if (!was_dirty && cut_log(w->fd, w->end) == 0) {
			w->dirty = false;
			return cp__fail(&s->obj, CP_EIO, "cannot fsync the log '%s': %s (the update "
			                "was not applied)", w->log, strerror(err));
		}
		w->broken = true;
		return cp__fail(&s->obj, CP_EIO, "cannot fsync the log '%s': %s (whether the "
		                "update is on disk is unknown; no more updates: reopen the store)",
		                w->log, strerror(err));
	}
	w->end += n;
	return CP_OK;
}

/* Log a record built by build(s) after taking the log. */
static int log_update(cp_store *s, int rc_build)
{
	if (rc_build != CP_OK)
		return cp__fail(&s->obj, rc_build, rc_build == CP_ELIMIT ? "the update is too large "
		                "for one log record" : "out of memory while logging an update");
	return append(s);
}

int cp__wal_begin(cp_store *s)
{
	cp_wal *w = s->wal;
	if (w->broken)
		return cp__fail(&s->obj, CP_EIO, "an earlier update of '%s' failed with its outcome "
		                "unknown: reopen the store", w->path);
	return begin_write(s);
}

int cp__wal_log_put(cp_store *s, const cp_profile *p)
{
	int rc = cp__wal_begin(s);
	if (rc != CP_OK)
		return rc;
	return log_update(s, build_put(s->wal, p));
}

int cp__wal_log_delete(cp_store *s, const char *key, size_t len)
{
	int rc = cp__wal_begin(s);
	if (rc != CP_OK)
		return rc;
	cp_wal *w = s->wal;
	rc = record_begin(w, CPW_DELETE);
	if (rc == CP_OK)
		rc = cp__buf_append(&w->rec, key, len);
	if (rc == CP_OK)
		rc = record_finish(w);
	return log_update(s, rc);
}

int cp__wal_log_as_of(cp_store *s, int yyyymm)
{
	int rc = cp__wal_begin(s);
	if (rc != CP_OK)
		return rc;
	cp_wal *w = s->wal;
	uint32_t v = (uint32_t)yyyymm;
	rc = record_begin(w, CPW_AS_OF);
	if (rc == CP_OK)
		rc = cp__buf_append(&w->rec, &v, sizeof(v));
	if (rc == CP_OK)
		rc = record_finish(w);
	return log_update(s, rc);
}

void cp__wal_break(cp_store *s)
{
	s->wal->broken = true;
}

void cp__wal_free(cp_store *s)
{
	cp_wal *w = s->wal;
	if (!w)
		return;
	if (w->fd >= 0) {
		if (w->dirty && w->sync == CP_SYNC_INTERVAL)
			cp__io_fdatasync(w->fd);
		close(w->fd); /* releases the lock */
	}
	cp_profile_free(w->draft);
	cp__buf_free(&w->rec);
	cp__free(w->path);
	cp__free(w->log);
	cp__free(w);
	s->wal = NULL;
}

/* ---- sync ---- */

int cp_store_set_sync(cp_store *s, int mode, unsigned interval_ms)
{
	if (!s)
		return CP_EINVAL;
	int rc = check_sync(&s->obj, mode, interval_ms);
	if (rc != CP_OK || !s->wal)
		return rc;
	cp_wal *w = s->wal;
	w->sync = mode;
	w->interval_ms = interval_ms;
	/* a stricter mode covers what was written under the looser one */
	if (mode == CP_SYNC_FULL && w->fd >= 0 && w->dirty)
		return cp_store_sync(s);
	return CP_OK;
}

int cp_store_sync(cp_store *s)
{
	if (!s)
		return CP_EINVAL;
	cp_wal *w = s->wal;
	if (!w || w->fd < 0 || !w->dirty)
		return CP_OK;
	if (sync_log(s) != 0) {
		int err = errno;
		w->broken = true;
		return cp__fail(&s->obj, CP_EIO, "cannot fsync the log '%s': %s (whether the last "
		                "updates are on disk is unknown; no more updates: reopen the store)",
		                w->log, strerror(err));
	}
	return CP_OK;
}

/* =========================================================================
 * Save and compact
 * ========================================================================= */

/* A new log for the snapshot just written: a temporary file with its
 * header, locked, renamed over the old log (which is stale from here on). */
static int new_log(cp_store *s, const cps_ident *snap)
{
	cp_wal *w = s->wal;
	size_t n = strlen(w->log) + 64;
	char *tmp = cp__malloc(n);
	if (!tmp)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
	static atomic_uint counter;
	snprintf(tmp, n, "%s.tmp.%ld.%u", w->log, (long)getpid(), atomic_fetch_add(&counter, 1u));
	int fd = cp__io_open(tmp, O_RDWR | O_CREAT | O_EXCL, 0640);
	int rc = CP_OK, err = 0;
	uint8_t h[CPW_HEADER_SIZE];
	uint32_t salt = new_salt();
	build_header(h, snap, s->schema->row_size, salt);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 ||
	    cp__io_pwrite_all(fd, h, sizeof(h), 0) != 0 || cp__io_fdatasync(fd) != 0 ||
	    cp__io_rename(tmp, w->log) != 0) {
		err = errno;
		rc = CP_EIO;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	cp__free(tmp);
	if (rc != CP_OK)
		return log_fail(s, "start", err);
	struct stat st;
	if (cp__io_sync_dir(w->log) != 0 || fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return log_fail(s, "fsync the directory of", err);
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->salt = salt;
	w->end = CPW_HEADER_SIZE;
	w->dirty = false;
	w->log_dev = (uint64_t)st.st_dev;
	w->log_ino = (uint64_t)st.st_ino;
	return CP_OK;
}

static int compact(cp_store *s, int flags)
{
	cp_wal *w = s->wal;
	int rc = cp__wal_begin(s);
	if (rc != CP_OK)
		return rc;
	cps_ident next = w->snap;
	next.generation++;
	next.id = cp__io_random64();
	if ((rc = cp__snapshot_write(s, w->path, flags, next.generation, next.id)) != CP_OK) {
		/* Failed before the rename: the old snapshot and its log stand.
		 * After it (the directory's fsync): the new snapshot is there, and
		 * records written to the old log would be ignored: stop. */
		if (!snapshot_unchanged(w))
			w->broken = true;
		return rc;
	}
	struct stat st;
	if (stat(w->path, &st) != 0) {
		w->broken = true;
		return cp__fail(&s->obj, CP_EIO, "saved '%s' but cannot stat it: %s; reopen the "
		                "store", w->path, strerror(errno));
	}
	next.dev = (uint64_t)st.st_dev;
	next.ino = (uint64_t)st.st_ino;
	if ((rc = new_log(s, &next)) != CP_OK) {
		/* The new snapshot holds every update; the old log is stale.  But
		 * records written to it now would be ignored: stop. */
		w->broken = true;
		return cp__fail(&s->obj, rc, "%s; the snapshot was written, but updates cannot "
		                "go on: reopen the store", cp_errmsg(s));
	}
	w->snap = next;
	return CP_OK;
}

int cp_store_compact(cp_store *s)
{
	if (!s)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	if (!s->wal)
		return cp__fail(&s->obj, CP_EMISUSE, "the store was not opened from a file: save "
		                "it with cp_store_save");
	return compact(s, 0);
}

/* The store was opened from path (the same file, or the same name). */
static bool own_file(const cp_store *s, const char *path)
{
	if (!s->wal)
		return false;
	if (strcmp(path, s->wal->path) == 0)
		return true;
	struct stat st;
	return stat(path, &st) == 0 && same_file(&st, s->wal->snap.dev, s->wal->snap.ino);
}

int cp_store_save(cp_store *s, const char *path, int flags)
{
	if (!s)
		return CP_EINVAL;
	cp__clear_error(&s->obj);
	if (!path || !*path)
		return cp__fail(&s->obj, CP_EINVAL, "cp_store_save: no path given");
	if (flags & ~CP_SAVE_COMPRESS)
		return cp__fail(&s->obj, CP_EINVAL, "cp_store_save: unknown flags 0x%x", flags);
	if (own_file(s, path))
		return compact(s, flags);
	/*
	 * Another file: a log beside it belongs to the snapshot being replaced.
	 * Its writer (if any) must not go on into a log nobody will read, and
	 * the new snapshot's generation is above the log's, so that the log
	 * reads as stale until it is removed.
	 */
	size_t n = strlen(path);
	char *log = cp__malloc(n + 5);
	if (!log)
		return cp__fail(&s->obj, CP_ENOMEM, "out of memory");
	memcpy(log, path, n);
	memcpy(log + n, "-wal", 5);
	uint64_t gen = cp__snapshot_generation(path);
	/* a probe: without the log (or unable to open it) there is no writer */
	int lfd = open(log, O_RDONLY | O_CLOEXEC);
	int rc = CP_OK;
	if (lfd >= 0) {
		uint8_t h[CPW_HEADER_SIZE];
		log_header lh = {0};
		if (flock(lfd, LOCK_EX | LOCK_NB) != 0)
			rc = cp__fail(&s->obj, CP_EMISUSE, "cannot save '%s': another process is "
			              "updating it (its log is locked)", path);
		else if (pread(lfd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
		         !parse_header(h, &lh) && lh.generation > gen)
			gen = lh.generation;
	}
	if (rc == CP_OK)
		rc = cp__snapshot_write(s, path, flags, gen + 1, cp__io_random64());
	if (rc == CP_OK && lfd >= 0 && cp__io_unlink(log) == 0)
		cp__io_sync_dir(log); /* best effort: a log left there is stale */
	if (lfd >= 0)
		close(lfd);
	cp__free(log);
	return rc;
}

/* ---- refresh ---- */

int cp_store_refresh(cp_store *s)
{
	if (!s)
		return CP_EINVAL;
	cp_wal *w = s->wal;
	if (!w || w->fd >= 0)
		return CP_OK; /* no file, or this handle is the writer: nothing to catch up */
	if (!snapshot_unchanged(w))
		return cp__fail(&s->obj, CP_EMISUSE, "'%s' was replaced since the store was opened "
		                "(compacted or saved): open it again", w->path);
	int fd = cp__io_open(w->log, O_RDONLY, 0);
	if (fd < 0) {
		if (errno == ENOENT && !w->end)
			return CP_OK;
		return log_fail(s, "open", errno);
	}
	struct stat st;
	uint8_t h[CPW_HEADER_SIZE];
	log_header lh = {0};
	const char *why;
	int rc = CP_OK;
	ssize_t got = fstat(fd, &st) == 0 ? cp__io_pread_all(fd, h, sizeof(h), 0) : -1;
	if (got < 0) {
		rc = log_fail(s, "read", errno);
	} else if (classify(w, s, h, (uint64_t)got, &lh, &why) == LOG_OURS) {
		if (w->end && (!same_file(&st, w->log_dev, w->log_ino) || lh.salt != w->salt)) {
			rc = cp__fail(&s->obj, CP_EMISUSE, "the log '%s' was started again since the "
			              "store was opened: open it again", w->log);
		} else {
			wal_reader rd = {.fd = fd, .size = (uint64_t)st.st_size};
			scan_result res;
			w->salt = lh.salt;
			w->log_dev = (uint64_t)st.st_dev;
			w->log_ino = (uint64_t)st.st_ino;
			scan(s, &rd, w->salt, w->end ? w->end : CPW_HEADER_SIZE, &res);
			cp__free(rd.buf);
			w->end = res.at;
			/* A record that does not check may be one being written: the
			 * next refresh sees.  One whose CRC checks but whose content
			 * does not is damage. */
			if (res.end == SCAN_ERROR)
				rc = cp__fail(&s->obj, res.rc, "cannot read the log '%s' at offset %llu: %s",
				              w->log, (unsigned long long)res.at, res.why);
			else if (res.end == SCAN_DAMAGED && !res.next_valid)
				rc = cp__fail(&s->obj, CP_ECORRUPT, "the log '%s' is damaged at offset "
				              "%llu: %s", w->log, (unsigned long long)res.at, res.why);
		}
	}
	close(fd);
	return rc;
}

/* ---- a log image in memory (fuzzing, tests) ---- */

int cp__wal_replay_memory(cp_store *s, const uint8_t *data, size_t len, size_t *applied)
{
	*applied = 0;
	if (!s->wal) {
		cps_ident none;
		memset(&none, 0, sizeof(none));
		none.layout = cp__snapshot_layout_crc(s->schema);
		int rc = attach(s, "memory", NULL, &none);
		if (rc != CP_OK)
			return rc;
	}
	log_header lh = {0};
	const char *why;
	if (len < CPW_HEADER_SIZE || (why = parse_header(data, &lh)))
		return cp__fail(&s->obj, CP_ECORRUPT, "not a log: %s",
		                len < CPW_HEADER_SIZE ? "shorter than a header" : why);
	wal_reader rd = {.fd = -1, .size = len, .mem = data};
	scan_result res;
	scan(s, &rd, lh.salt, CPW_HEADER_SIZE, &res);
	*applied = res.applied;
	if (res.end == SCAN_CLEAN)
		return CP_OK;
	if (res.end == SCAN_ERROR)
		return cp__fail(&s->obj, res.rc, "replay failed at offset %llu: %s",
		                (unsigned long long)res.at, res.why);
	return cp__fail(&s->obj, CP_ECORRUPT, "%s at offset %llu: %s",
	                res.end == SCAN_TORN ? "torn" : "damaged", (unsigned long long)res.at,
	                res.why);
}
