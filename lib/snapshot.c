/*
 * snapshot.c — the .cps snapshot file (custprof-snapshot(5), snapshot.h):
 * writing one, opening one in place, cp_snapshot_verify.  cp_store_save
 * and cp_store_open, which also mind the log beside the file, are wal.c's.
 *
 * Writing compacts the rows: only live rows are written, renumbered in
 * store order, and the key index is built anew for them.  The string and
 * list pools are written as they are, the base's bytes then the overlay's
 * chunks (one id space, store.h), so no id of any row changes; their hash
 * tables are built anew over every entry.  Pools are interned (each
 * distinct value once), so what deleted profiles leave behind is bounded by
 * the distinct values ever seen.
 *
 * Opening maps the file read-only and checks what costs the same for any
 * number of profiles: the header and its CRC, the section table, the
 * padding, the lengths against the counts, the schema section (CRC, load,
 * layout) and the ends of the pools.  The store then uses the sections in
 * place; every id a read follows is bounds-checked where it is used
 * (store.c), so a damaged file can fail a lookup but never make one read
 * outside the mapping.  Verifying (cp_snapshot_verify, or an open with the
 * verify option) checks every byte: every section CRC, every id of every
 * row, list and hash table, and every key through the index.  A compressed
 * snapshot is inflated into memory and then used the same way.
 */
#define ZLIB_CONST
#include "internal.h" /* first: config.h selects the POSIX interfaces */
#include "snapshot.h"
#include "io.h"
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CPS_BUF_SIZE (256u * 1024u)
#define CPS_CHUNK (1u << 30)     /* zlib counts bytes in uInt */
#define CPS_MAX_LISTED 10u       /* content problems listed per section by verify */
#define CPS_TEMP_ATTEMPTS 100

static const char *const section_names[CPS_SEC_COUNT + 1] = {
	"?", "schema", "rows", "strings", "string-hash", "lists", "list-hash", "index", "stages"
};

_Static_assert(((CPS_FIXED_HEADER + CPS_SEC_COUNT_V1 * CPS_ENTRY_SIZE + CPS_ALIGN - 1) &
                ~(CPS_ALIGN - 1)) == CPS_HEADER_SIZE, "versions 1 and 2 share a header size");

typedef struct cps_section {
	uint64_t offset, length;
	uint32_t crc;
} cps_section;

/* ---- helpers ---- */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof(v)); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, sizeof(v)); return v; }

static uint64_t align_up(uint64_t n)
{
	return (n + CPS_ALIGN - 1) & ~(uint64_t)(CPS_ALIGN - 1);
}

static uint32_t crc_update(uint32_t crc, const void *data, size_t n)
{
	const Bytef *p = data;
	while (n) {
		uInt k = n > CPS_CHUNK ? CPS_CHUNK : (uInt)n;
		crc = (uint32_t)crc32(crc, p, k);
		p += k;
		n -= k;
	}
	return crc;
}

static uint32_t crc_init(void)
{
	return (uint32_t)crc32(0L, Z_NULL, 0);
}

/* CRC32 of the header bytes with the header CRC field taken as zero. */
static uint32_t header_crc(const uint8_t *h, uint32_t size)
{
	static const uint8_t zero[4];
	uint32_t crc = crc_update(crc_init(), h, CPS_H_HEADER_CRC);
	crc = crc_update(crc, zero, sizeof(zero));
	return crc_update(crc, h + CPS_H_HEADER_CRC + 4, size - CPS_H_HEADER_CRC - 4);
}

/*
 * A fingerprint of everything the row layout and the meaning of a cell
 * depend on.  The embedded YAML is re-loaded at open; should a later loader
 * lay the same text out differently, this tells before any row is read.
 */
uint32_t cp__snapshot_layout_crc(const cp_schema *s)
{
	uint32_t head[4] = {s->row_size, s->ncells, (uint32_t)s->nfields, (uint32_t)s->key};
	uint32_t crc = crc_update(crc_init(), head, sizeof(head));
	for (int i = 0; i < s->nfields; i++) {
		const cp_field *f = &s->fields[i];
		uint32_t rec[10] = {(uint32_t)f->type, f->series, (uint32_t)f->months, f->width,
		                    f->offset, f->cell, f->closed, (uint32_t)f->nvalues,
		                    (uint32_t)f->max_items, (uint32_t)f->normalize};
		crc = crc_update(crc, rec, sizeof(rec));
		crc = crc_update(crc, f->name, strlen(f->name) + 1);
		for (int v = 0; v < f->nvalues; v++)
			crc = crc_update(crc, f->values[v], strlen(f->values[v]) + 1);
	}
	return crc;
}

/* =========================================================================
 * Save
 * ========================================================================= */

typedef struct cps_writer {
	cp_store *store;       /* failures are recorded on it */
	char *tmp;             /* the temporary file */
	int fd;
	bool compress;
	bool z_ready;
	z_stream z;
	unsigned char *buf;    /* CPS_BUF_SIZE bytes of output for the file */
	size_t len;
	uint64_t image_off;    /* bytes of the uncompressed image so far */
	uint64_t stored;       /* bytes written to the file so far */
	uint32_t body_crc;     /* compressed form: CRC32 of the bytes after the header */
	int cur;               /* section being written */
	int nsec;              /* sections written: 8 with a stage history, else 7 */
	cps_section sec[CPS_SEC_COUNT + 1];
	uint64_t generation, id;
	uint64_t profiles;     /* rows written */
	uint32_t string_count, list_count;
	uint32_t *index;       /* the key index being built */
	uint32_t index_slots;
} cps_writer;

static int write_error(cps_writer *w, const char *what)
{
	return cp__fail(&w->store->obj, CP_EIO, "cannot %s '%s': %s", what, w->tmp,
	                strerror(errno));
}

static int write_all(cps_writer *w, const void *data, size_t n)
{
	return cp__io_write_all(w->fd, data, n) == 0 ? CP_OK : write_error(w, "write");
}

/* Bytes for the file itself (after the header). */
static int flush_out(cps_writer *w)
{
	if (!w->len)
		return CP_OK;
	if (w->compress)
		w->body_crc = crc_update(w->body_crc, w->buf, w->len);
	int rc = write_all(w, w->buf, w->len);
	w->stored += w->len;
	w->len = 0;
	return rc;
}

/* Bytes of the image: as they are, or through deflate. */
static int put_image(cps_writer *w, const void *data, size_t n)
{
	const unsigned char *p = data;
	int rc;
	w->image_off += n;
	if (!w->compress) {
		if (w->len + n > CPS_BUF_SIZE) {
			if ((rc = flush_out(w)) != CP_OK)
				return rc;
			if (n >= CPS_BUF_SIZE) {
				w->stored += n;
				return write_all(w, p, n);
			}
		}
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		return CP_OK;
	}
	while (n) {
		uInt k = n > CPS_CHUNK ? CPS_CHUNK : (uInt)n;
		w->z.next_in = p;
		w->z.avail_in = k;
		while (w->z.avail_in) {
			if (w->len == CPS_BUF_SIZE && (rc = flush_out(w)) != CP_OK)
				return rc;
			w->z.next_out = w->buf + w->len;
			w->z.avail_out = (uInt)(CPS_BUF_SIZE - w->len);
			deflate(&w->z, Z_NO_FLUSH); /* with room on both sides it always progresses */
			w->len = CPS_BUF_SIZE - w->z.avail_out;
		}
		p += k;
		n -= k;
	}
	return CP_OK;
}

static int finish_image(cps_writer *w)
{
	int rc, zrc;
	if (!w->compress)
		return flush_out(w);
	do {
		if (w->len == CPS_BUF_SIZE && (rc = flush_out(w)) != CP_OK)
			return rc;
		w->z.next_out = w->buf + w->len;
		w->z.avail_out = (uInt)(CPS_BUF_SIZE - w->len);
		zrc = deflate(&w->z, Z_FINISH);
		w->len = CPS_BUF_SIZE - w->z.avail_out;
	} while (zrc == Z_OK);
	if (zrc != Z_STREAM_END)
		return cp__fail(&w->store->obj, CP_ERROR, "cannot compress '%s': zlib error %d",
		                w->tmp, zrc);
	return flush_out(w);
}

static int section_begin(cps_writer *w, int kind)
{
	static const unsigned char zeros[CPS_ALIGN];
	int rc = put_image(w, zeros, (size_t)(align_up(w->image_off) - w->image_off));
	w->cur = kind;
	w->sec[kind].offset = w->image_off;
	w->sec[kind].crc = crc_init();
	return rc;
}

static int section_data(cps_writer *w, const void *data, size_t n)
{
	w->sec[w->cur].crc = crc_update(w->sec[w->cur].crc, data, n);
	return put_image(w, data, n);
}

static void section_end(cps_writer *w)
{
	w->sec[w->cur].length = w->image_off - w->sec[w->cur].offset;
}

static int write_section(cps_writer *w, int kind, const void *data, size_t n)
{
	int rc = section_begin(w, kind);
	if (rc == CP_OK && n)
		rc = section_data(w, data, n);
	section_end(w);
	return rc;
}

/* The smallest power of two of at least 16 slots that holds n entries at a
 * load of at most 1/2: the size a store's table has after n inserts. */
static uint32_t table_slots(uint64_t n)
{
	uint64_t size = 16;
	while (n > size / 2)
		size *= 2;
	return size > UINT32_MAX ? 0 : (uint32_t)size;
}

static void table_insert(uint32_t *slots, uint32_t nslots, uint32_t h, uint32_t value)
{
	uint32_t i = h & (nslots - 1);
	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = value;
}

static int out_of_memory(cps_writer *w)
{
	return cp__fail(&w->store->obj, CP_ENOMEM, "cannot save '%s': out of memory", w->tmp);
}

/*
 * Live rows only, in store order, each with its header reduced to the live
 * flag; every key goes into a new index with its new row number.  A base
 * row that is damaged stops the save: a snapshot is written only of rows
 * that check.
 */
static int write_rows(cps_writer *w)
{
	const cp_store *s = w->store;
	const cp_schema *sc = s->schema;
	size_t rs = sc->row_size;
	uint8_t *row = cp__malloc(rs);
	w->index_slots = table_slots(s->live);
	if (!w->index_slots)
		return cp__fail(&w->store->obj, CP_ELIMIT, "cannot save '%s': too many profiles",
		                w->tmp);
	w->index = cp__calloc(w->index_slots, sizeof(uint32_t));
	if (!row || !w->index) {
		cp__free(row);
		return out_of_memory(w);
	}
	int rc = section_begin(w, CPS_SEC_ROWS);
	uint32_t n = s->nrows, header = CP_ROW_LIVE;
	for (uint32_t i = 0; i < n && rc == CP_OK; i++) {
		const uint8_t *cur;
		if (i < s->nbase && (!s->over || s->over[i] == 0)) {
			/* a base row that stands: written only if it checks */
			const char *why;
			int f, m;
			cur = s->base_rows + (size_t)i * rs;
			if (cp__row_check(sc, cur, s->strings.base, s->strings.base_len, s->lists.base,
			                  s->lists.base_len, &why, &f, &m) != CP_OK) {
				rc = cp__fail(&w->store->obj, CP_ECORRUPT, "cannot save '%s': row %u of "
				              "the snapshot the store was opened from is damaged (%s)",
				              w->tmp, i, why);
				break;
			}
		} else if (!(cur = cp__store_wrow(s, i))) {
			continue;
		}
		if (w->profiles >= w->index_slots / 2) {
			rc = cp__fail(&w->store->obj, CP_ERROR, "cannot save '%s': more rows than "
			              "profiles", w->tmp);
			break;
		}
		memcpy(row, cur, rs);
		memcpy(row, &header, sizeof(header));
		const char *key = cp__store_str(s, cp__row_key_id(sc, row));
		table_insert(w->index, w->index_slots, cp__hash(key, strlen(key)),
		             (uint32_t)w->profiles + 1);
		w->profiles++;
		rc = section_data(w, row, rs);
	}
	section_end(w);
	cp__free(row);
	return rc;
}

/* The string pool: the base's bytes then the overlay's chunks; then its
 * hash table, built over every string in id order (so a table written from
 * a store that was never reopened is the store's own, slot for slot). */
static int write_strings(cps_writer *w)
{
	const cp_spool *p = &w->store->strings;
	int rc = section_begin(w, CPS_SEC_STRINGS);
	if (rc == CP_OK)
		rc = section_data(w, p->base, p->base_len);
	for (int k = 0; k < p->seg.n && rc == CP_OK; k++)
		rc = section_data(w, p->seg.chunk[k], cp__seg_used(&p->seg, k));
	section_end(w);
	if (rc != CP_OK)
		return rc;
	uint32_t len = cp__spool_len(p), n = 0;
	for (uint32_t id = 0; id < len; id += (uint32_t)strlen(cp__spool_get(p, id)) + 1)
		n++;
	uint32_t slots = table_slots(n);
	uint32_t *t = slots ? cp__calloc(slots, sizeof(uint32_t)) : NULL;
	if (!t)
		return out_of_memory(w);
	for (uint32_t id = 0; id < len;) {
		const char *str = cp__spool_get(p, id);
		size_t l = strlen(str);
		table_insert(t, slots, cp__hash(str, l), id + 1);
		id += (uint32_t)l + 1;
	}
	w->string_count = n;
	rc = write_section(w, CPS_SEC_STRING_HASH, t, (size_t)slots * sizeof(uint32_t));
	cp__free(t);
	return rc;
}

/* The list pool and its hash table, as for strings. */
static int write_lists(cps_writer *w)
{
	const cp_lpool *p = &w->store->lists;
	int rc = section_begin(w, CPS_SEC_LISTS);
	if (rc == CP_OK)
		rc = section_data(w, p->base, (size_t)p->base_len * sizeof(uint32_t));
	for (int k = 0; k < p->seg.n && rc == CP_OK; k++)
		rc = section_data(w, p->seg.chunk[k], (size_t)cp__seg_used(&p->seg, k) *
		                  sizeof(uint32_t));
	section_end(w);
	if (rc != CP_OK)
		return rc;
	uint32_t len = cp__lpool_len(p), n = 0;
	/* the base's counts may be damaged: a walk stops at the end */
	for (uint64_t id = 0; id < len; id += 1 + (uint64_t)cp__lpool_get(p, (uint32_t)id)[0])
		n++;
	uint32_t slots = table_slots(n);
	uint32_t *t = slots ? cp__calloc(slots, sizeof(uint32_t)) : NULL;
	if (!t)
		return out_of_memory(w);
	for (uint64_t id = 0; id < len;) {
		const uint32_t *l = cp__lpool_get(p, (uint32_t)id);
		uint32_t count = l[0];
		if (count > len - id - 1)
			break; /* damaged: the file is refused at open anyway */
		table_insert(t, slots, cp__hash(l + 1, (size_t)count * sizeof(uint32_t)),
		             (uint32_t)id + 1);
		id += 1 + (uint64_t)count;
	}
	w->list_count = n;
	rc = write_section(w, CPS_SEC_LIST_HASH, t, (size_t)slots * sizeof(uint32_t));
	cp__free(t);
	return rc;
}

static void build_header(uint8_t *h, const cps_writer *w, const cp_store *s)
{
	memset(h, 0, CPS_HEADER_SIZE);
	memcpy(h + CPS_H_MAGIC, CPS_MAGIC, CPS_MAGIC_LEN);
	put32(h + CPS_H_VERSION, w->nsec > CPS_SEC_COUNT_V1 ? CPS_VERSION : CPS_VERSION_1);
	put32(h + CPS_H_BYTE_ORDER, CPS_BYTE_ORDER);
	put32(h + CPS_H_HEADER_SIZE, CPS_HEADER_SIZE);
	put32(h + CPS_H_FLAGS, w->compress ? CPS_FLAG_COMPRESSED : 0);
	put64(h + CPS_H_IMAGE_SIZE, w->image_off);
	put64(h + CPS_H_STORED_SIZE, w->stored);
	put32(h + CPS_H_BODY_CRC, w->compress ? w->body_crc : 0);
	put32(h + CPS_H_NSECTIONS, (uint32_t)w->nsec);
	put32(h + CPS_H_AS_OF, (uint32_t)cp_store_as_of(s));
	put32(h + CPS_H_ROW_SIZE, s->schema->row_size);
	put64(h + CPS_H_PROFILES, w->profiles);
	put64(h + CPS_H_ROW_SLOTS, w->profiles);
	put32(h + CPS_H_STRING_COUNT, w->string_count);
	put32(h + CPS_H_LIST_COUNT, w->list_count);
	put32(h + CPS_H_LAYOUT_CRC, cp__snapshot_layout_crc(s->schema));
	put64(h + CPS_H_GENERATION, w->generation);
	put64(h + CPS_H_SNAPSHOT_ID, w->id);
	for (int k = 1; k <= w->nsec; k++) {
		uint8_t *e = h + CPS_FIXED_HEADER + (size_t)(k - 1) * CPS_ENTRY_SIZE;
		put32(e + CPS_E_KIND, (uint32_t)k);
		put64(e + CPS_E_OFFSET, w->sec[k].offset);
		put64(e + CPS_E_LENGTH, w->sec[k].length);
		put32(e + CPS_E_CRC, w->sec[k].crc);
	}
	put32(h + CPS_H_HEADER_CRC, header_crc(h, CPS_HEADER_SIZE));
}

static int write_header(cps_writer *w, const uint8_t *h)
{
	if (cp__io_pwrite_all(w->fd, h, CPS_HEADER_SIZE, 0) != 0)
		return write_error(w, "write");
	return CP_OK;
}

static int put_stages(void *ctx, const void *data, size_t n)
{
	return section_data(ctx, data, n);
}

/* The stage history, when the store has one (lifecycle.h). */
static int write_stages(cps_writer *w)
{
	const cp__stagehist *h = cp__stagehist_get(w->store);
	if (!h)
		return CP_OK;
	int rc = section_begin(w, CPS_SEC_STAGES);
	if (rc == CP_OK)
		rc = cp__stagehist_encode(h, put_stages, w);
	section_end(w);
	return rc;
}

/* The whole file: a placeholder header, the sections, then the header. */
static int write_file(cps_writer *w)
{
	const cp_store *s = w->store;
	uint8_t header[CPS_HEADER_SIZE] = {0};
	int rc = write_all(w, header, sizeof(header));
	if (rc != CP_OK)
		return rc;
	w->stored = w->image_off = CPS_HEADER_SIZE;
	if (w->compress) {
		if (deflateInit(&w->z, Z_DEFAULT_COMPRESSION) != Z_OK)
			return cp__fail(&w->store->obj, CP_ENOMEM, "cannot compress '%s': out of memory",
			                w->tmp);
		w->z_ready = true;
		w->body_crc = crc_init();
	}
	if ((rc = write_section(w, CPS_SEC_SCHEMA, s->schema->source, s->schema->source_len)) ||
	    (rc = write_rows(w)) || (rc = write_strings(w)) || (rc = write_lists(w)) ||
	    (rc = write_section(w, CPS_SEC_INDEX, w->index,
	                        (size_t)w->index_slots * sizeof(uint32_t))) ||
	    (rc = write_stages(w)) || (rc = finish_image(w)))
		return rc;
	build_header(header, w, s);
	return write_header(w, header);
}

static int create_temp(cps_writer *w, const char *path)
{
	static atomic_uint counter;
	size_t n = strlen(path) + 64;
	if (!(w->tmp = cp__malloc(n)))
		return cp__fail(&w->store->obj, CP_ENOMEM, "cannot save '%s': out of memory", path);
	for (int attempt = 0; attempt < CPS_TEMP_ATTEMPTS; attempt++) {
		snprintf(w->tmp, n, "%s.tmp.%ld.%u", path, (long)getpid(),
		         atomic_fetch_add(&counter, 1u));
		/* 0640 (less if the umask says so): a snapshot holds personal data. */
		w->fd = cp__io_open(w->tmp, O_WRONLY | O_CREAT | O_EXCL, 0640);
		if (w->fd >= 0)
			return CP_OK;
		if (errno != EEXIST)
			break;
	}
	int rc = write_error(w, "create");
	cp__free(w->tmp);
	w->tmp = NULL;
	return rc;
}

/* fsync, close, rename over path: from here on path is the old or the new file. */
static int commit(cps_writer *w, const char *path)
{
	if (cp__io_fsync(w->fd) != 0)
		return write_error(w, "fsync");
	int fd = w->fd;
	w->fd = -1;
	if (cp__io_close(fd) != 0)
		return write_error(w, "close");
	if (cp__io_rename(w->tmp, path) != 0)
		return cp__fail(&w->store->obj, CP_EIO, "cannot rename '%s' to '%s': %s", w->tmp,
		                path, strerror(errno));
	cp__free(w->tmp);
	w->tmp = NULL; /* renamed: nothing to remove any more */
	if (cp__io_sync_dir(path) != 0)
		return cp__fail(&w->store->obj, CP_EIO, "saved '%s', but cannot fsync its "
		                "directory: %s (the rename may not survive a crash)", path,
		                strerror(errno));
	return CP_OK;
}

int cp__snapshot_write(cp_store *store, const char *path, int flags, uint64_t generation,
                       uint64_t id)
{
	const cp_schema *schema = store->schema;
	if (!schema->source || !schema->source_len)
		return cp__fail(&store->obj, CP_EINVAL,
		                "cannot save '%s': schema '%s' has no YAML source to embed "
		                "(load it with cp_schema_load_file or cp_schema_load_memory)",
		                path, schema->name);
	cps_writer w;
	memset(&w, 0, sizeof(w));
	w.store = store;
	w.fd = -1;
	w.compress = flags & CP_SAVE_COMPRESS;
	w.generation = generation;
	w.id = id;
	w.nsec = cp__stagehist_get(store) ? CPS_SEC_COUNT : CPS_SEC_COUNT_V1;
	if (!(w.buf = cp__malloc(CPS_BUF_SIZE)))
		return cp__fail(&store->obj, CP_ENOMEM, "cannot save '%s': out of memory", path);
	int rc = create_temp(&w, path);
	if (rc == CP_OK)
		rc = write_file(&w);
	if (rc == CP_OK)
		rc = commit(&w, path);
	if (w.z_ready)
		deflateEnd(&w.z);
	if (w.fd >= 0)
		close(w.fd);
	if (w.tmp) /* failed before the rename: the old snapshot stays */
		unlink(w.tmp);
	cp__free(w.tmp);
	cp__free(w.buf);
	cp__free(w.index);
	return rc;
}

/* =========================================================================
 * Open and verify
 * ========================================================================= */

typedef struct cps_reader {
	const char *path;
	cp_diag *diag;
	bool verify;          /* check everything, and report every problem */
	int rc;               /* code of the first problem, CP_OK if none */
	unsigned problems[CPS_SEC_COUNT + 1]; /* content problems per section */

	uint8_t header[CPS_HEADER_SIZE];
	const uint8_t *img;   /* the uncompressed image: the mapping or the inflated copy */
	void *map;            /* the mapping (owned until the store takes it) */
	size_t map_len;
	uint8_t *inflated;    /* the inflated image (idem) */
	const uint8_t *data[CPS_SEC_COUNT + 1];    /* each section, inside img */
	uint64_t dev, ino;
	uint64_t generation, id;
	uint64_t image_size;
	uint64_t stored_size;
	uint32_t flags;
	int nsec;             /* sections: 7 (version 1) or 8 (version 2) */
	int32_t as_of;
	uint32_t row_size;
	uint64_t profiles, row_slots;
	uint32_t string_count, list_count, layout;
	cps_section sec[CPS_SEC_COUNT + 1];

	cp_schema *schema;    /* loaded from the schema section */
	uint8_t *list_starts; /* bitmap: bit i set = a list starts at item i */
} cps_reader;

static int problem(cps_reader *r, int code, const char *fmt, ...) CP_PRINTF(3, 4);
static int problem(cps_reader *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cp__diag_vadd(r->diag, CP_SEV_ERROR, r->path, 0, 0, fmt, ap);
	va_end(ap);
	if (r->rc == CP_OK)
		r->rc = code;
	return code;
}

/* True when checking must stop: open stops at the first problem (verify
 * goes on). */
static bool halt(const cps_reader *r)
{
	return r->rc != CP_OK && !r->verify;
}

/*
 * A problem inside a section's content, at image offset off.  verify lists
 * the first CPS_MAX_LISTED of each section and counts the rest.
 */
static void content_problem(cps_reader *r, int kind, uint64_t off, const char *fmt, ...)
	CP_PRINTF(4, 5);
static void content_problem(cps_reader *r, int kind, uint64_t off, const char *fmt, ...)
{
	if (r->rc == CP_OK)
		r->rc = CP_ECORRUPT;
	if (++r->problems[kind] > CPS_MAX_LISTED)
		return;
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_printf(&b, "section %s at offset %llu: ", section_names[kind],
	               (unsigned long long)off);
	va_list ap;
	va_start(ap, fmt);
	cp__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *msg = cp__buf_steal(&b);
	cp__diag_add(r->diag, CP_SEV_ERROR, r->path, 0, 0, "%s", msg ? msg : "out of memory");
	cp__free(msg);
}

static void content_summary(cps_reader *r)
{
	for (int k = 1; k <= r->nsec; k++)
		if (r->problems[k] > CPS_MAX_LISTED)
			cp__diag_add(r->diag, CP_SEV_ERROR, r->path, 0, 0,
			             "section %s: %u more problems not listed", section_names[k],
			             r->problems[k] - CPS_MAX_LISTED);
}

static const uint8_t *sec_data(const cps_reader *r, int kind)
{
	return r->data[kind];
}

/* Sections are aligned: each has its own allocation (or lies at a multiple
 * of 64 in a mapping). */
static const uint32_t *sec_u32(const cps_reader *r, int kind)
{
	return (const uint32_t *)(const void *)sec_data(r, kind);
}

static uint64_t sec_count32(const cps_reader *r, int kind)
{
	return r->sec[kind].length / sizeof(uint32_t);
}

/* ---- reading the file ---- */

static int read_at(cps_reader *r, int fd, void *buf, size_t n, uint64_t off)
{
	ssize_t k = cp__io_pread_all(fd, buf, n, off);
	if (k < 0)
		return problem(r, CP_EIO, "cannot read at offset %llu: %s", (unsigned long long)off,
		               strerror(errno));
	if ((size_t)k < n)
		return problem(r, CP_ECORRUPT, "truncated: the file ends at offset %llu "
		               "while it is being read", (unsigned long long)(off + (uint64_t)k));
	return CP_OK;
}

static int truncated_header(cps_reader *r, uint64_t size, uint64_t need)
{
	return problem(r, CP_ECORRUPT, "truncated: the file ends at offset %llu, inside the "
	               "header (%llu bytes)", (unsigned long long)size, (unsigned long long)need);
}

/* Which part of an uncompressed image holds offset off (r->sec known). */
static const char *part_at(const cps_reader *r, uint64_t off)
{
	static const char *const parts[CPS_SEC_COUNT + 1] = {
		"the header", "section schema", "section rows", "section strings",
		"section string-hash", "section lists", "section list-hash", "section index",
		"section stages"
	};
	for (int k = r->nsec; k >= 1; k--)
		if (off >= r->sec[k].offset)
			return off < r->sec[k].offset + r->sec[k].length ? parts[k]
			       : "the padding after a section";
	return parts[0];
}

/*
 * The header, in an order that tells what is wrong: magic, version and
 * byte order first (they decide whether the rest can be read at all), then
 * the size of the header and its CRC; every later field is trusted.
 */
static int check_header(cps_reader *r, const uint8_t *h, uint64_t fsize)
{
	size_t got = fsize < CPS_HEADER_SIZE ? (size_t)fsize : CPS_HEADER_SIZE;
	if (memcmp(h, CPS_MAGIC, got < CPS_MAGIC_LEN ? got : CPS_MAGIC_LEN) != 0)
		return problem(r, CP_ECORRUPT, "not a custprof snapshot: bad magic at offset 0");
	if (got < CPS_FIXED_HEADER)
		return truncated_header(r, fsize, CPS_FIXED_HEADER);
	uint32_t version = get32(h + CPS_H_VERSION);
	if (version != CPS_VERSION && version != CPS_VERSION_1)
		return problem(r, CP_EVERSION, "header at offset %u: format version %u, "
		               "this library reads versions %u and %u", CPS_H_VERSION, version,
		               CPS_VERSION_1, CPS_VERSION);
	int want_sec = version == CPS_VERSION_1 ? CPS_SEC_COUNT_V1 : CPS_SEC_COUNT;
	uint32_t order = get32(h + CPS_H_BYTE_ORDER);
	if (order == CPS_BYTE_ORDER_SWAPPED)
		return problem(r, CP_EVERSION, "header at offset %u: written on a machine of the "
		               "other byte order, which this machine cannot read in place",
		               CPS_H_BYTE_ORDER);
	if (order != CPS_BYTE_ORDER)
		return problem(r, CP_ECORRUPT, "header at offset %u: bad byte-order mark 0x%08x",
		               CPS_H_BYTE_ORDER, order);
	uint32_t hsize = get32(h + CPS_H_HEADER_SIZE), nsec = get32(h + CPS_H_NSECTIONS);
	if (hsize != CPS_HEADER_SIZE || nsec != (uint32_t)want_sec)
		return problem(r, CP_ECORRUPT, "header at offset %u: header size %u with %u "
		               "sections, version %u has %u with %d", CPS_H_HEADER_SIZE, hsize, nsec,
		               version, CPS_HEADER_SIZE, want_sec);
	r->nsec = want_sec;
	if (got < CPS_HEADER_SIZE)
		return truncated_header(r, fsize, CPS_HEADER_SIZE);
	uint32_t want = get32(h + CPS_H_HEADER_CRC), have = header_crc(h, CPS_HEADER_SIZE);
	if (want != have)
		return problem(r, CP_ECORRUPT, "header at offset 0 (%u bytes, section table "
		               "included): CRC32 0x%08x does not match the recorded 0x%08x",
		               CPS_HEADER_SIZE, have, want);

	r->flags = get32(h + CPS_H_FLAGS);
	r->image_size = get64(h + CPS_H_IMAGE_SIZE);
	r->stored_size = get64(h + CPS_H_STORED_SIZE);
	r->as_of = (int32_t)get32(h + CPS_H_AS_OF);
	r->row_size = get32(h + CPS_H_ROW_SIZE);
	r->profiles = get64(h + CPS_H_PROFILES);
	r->row_slots = get64(h + CPS_H_ROW_SLOTS);
	r->string_count = get32(h + CPS_H_STRING_COUNT);
	r->list_count = get32(h + CPS_H_LIST_COUNT);
	r->layout = get32(h + CPS_H_LAYOUT_CRC);
	r->generation = get64(h + CPS_H_GENERATION);
	r->id = get64(h + CPS_H_SNAPSHOT_ID);
	for (int k = 1; k <= r->nsec; k++) {
		const uint8_t *e = h + CPS_FIXED_HEADER + (size_t)(k - 1) * CPS_ENTRY_SIZE;
		r->sec[k].offset = get64(e + CPS_E_OFFSET);
		r->sec[k].length = get64(e + CPS_E_LENGTH);
		r->sec[k].crc = get32(e + CPS_E_CRC);
	}

	if (r->flags & ~CPS_FLAG_COMPRESSED)
		return problem(r, CP_EVERSION, "header at offset %u: unknown flags 0x%x",
		               CPS_H_FLAGS, r->flags & ~CPS_FLAG_COMPRESSED);
	bool compressed = r->flags & CPS_FLAG_COMPRESSED;
	if (fsize < r->stored_size)
		return problem(r, CP_ECORRUPT, "truncated: the file ends at offset %llu, inside %s; "
		               "the header records %llu bytes", (unsigned long long)fsize,
		               compressed ? "the compressed body" : part_at(r, fsize),
		               (unsigned long long)r->stored_size);
	if (fsize > r->stored_size)
		return problem(r, CP_ECORRUPT, "%llu bytes follow offset %llu, where the header "
		               "says the file ends", (unsigned long long)(fsize - r->stored_size),
		               (unsigned long long)r->stored_size);
	if (!compressed && r->image_size != r->stored_size)
		return problem(r, CP_ECORRUPT, "header at offset %u: image size %llu differs from "
		               "the file size %llu of an uncompressed snapshot", CPS_H_IMAGE_SIZE,
		               (unsigned long long)r->image_size, (unsigned long long)fsize);
	if (compressed) {
		uint64_t body = r->stored_size - CPS_HEADER_SIZE;
		if (r->image_size < CPS_HEADER_SIZE ||
		    (r->image_size - CPS_HEADER_SIZE) / CPS_MAX_INFLATE_RATIO > body)
			return problem(r, CP_ECORRUPT, "header at offset %u: %llu compressed bytes "
			               "cannot inflate to the %llu recorded (refused)", CPS_H_IMAGE_SIZE,
			               (unsigned long long)body, (unsigned long long)r->image_size);
	}
	if (r->image_size > SIZE_MAX)
		return problem(r, CP_ELIMIT, "the snapshot (%llu bytes) does not fit in memory",
		               (unsigned long long)r->image_size);
	return CP_OK;
}

/* Where inflated bytes go (pieces in order). */
typedef struct cps_piece {
	uint8_t *dst;
	uint64_t len;
} cps_piece;

/*
 * Inflate the body into the pieces: exactly their bytes, and the stream
 * must end there.  Producing more is refused at once (decompression bomb).
 */
static int inflate_body(cps_reader *r, const uint8_t *in, uint64_t ilen, const cps_piece *pieces,
                        int npieces)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return problem(r, CP_ENOMEM, "cannot inflate: out of memory");
	uint64_t in_left = ilen, given = 0;
	int piece = 0;
	uint64_t out_left = pieces[0].len;
	uint8_t *out = pieces[0].dst, spare;
	bool over = false; /* the pieces are full: a further byte is one too many */
	int rc = CP_OK, zrc;
	const char *why = NULL;
	for (;;) {
		if (!z.avail_in && in_left) {
			z.next_in = in;
			z.avail_in = in_left > CPS_CHUNK ? CPS_CHUNK : (uInt)in_left;
			in += z.avail_in;
			in_left -= z.avail_in;
		}
		while (!z.avail_out && !out_left && piece + 1 < npieces) {
			piece++;
			out = pieces[piece].dst;
			out_left = pieces[piece].len;
		}
		if (!z.avail_out && out_left) {
			z.next_out = out;
			z.avail_out = out_left > CPS_CHUNK ? CPS_CHUNK : (uInt)out_left;
			out += z.avail_out;
			out_left -= z.avail_out;
			given += z.avail_out;
		} else if (!z.avail_out) {
			z.next_out = &spare;
			z.avail_out = 1;
			over = true;
		}
		zrc = inflate(&z, Z_NO_FLUSH);
		if (over && !z.avail_out) {
			why = "it inflates to more bytes (refused)";
			break;
		}
		if (zrc == Z_STREAM_END)
			break;
		if (zrc == Z_BUF_ERROR && !z.avail_in && !in_left) {
			why = "the compressed stream ends early";
			break;
		}
		if (zrc == Z_MEM_ERROR) {
			rc = problem(r, CP_ENOMEM, "cannot inflate: out of memory");
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			why = "the compressed stream is damaged";
			break;
		}
	}
	uint64_t olen = r->image_size - CPS_HEADER_SIZE;
	uint64_t produced = given - (over ? 0 : z.avail_out);
	if (rc == CP_OK && !why && produced != olen)
		why = "it inflates to fewer bytes";
	if (rc == CP_OK && !why && (z.avail_in || in_left))
		why = "bytes follow the end of the compressed stream";
	if (rc == CP_OK && why)
		rc = problem(r, CP_ECORRUPT, "compressed body at offset %u: %s (the header records "
		             "%llu inflated bytes)", CPS_HEADER_SIZE, why, (unsigned long long)olen);
	inflateEnd(&z);
	return rc;
}

/* The compressed form: the whole image inflated into one buffer (the
 * header copied), which then stands in for a mapping. */
static int inflate_file(cps_reader *r, int fd)
{
	size_t body = (size_t)(r->stored_size - CPS_HEADER_SIZE);
	uint8_t *z = cp__malloc(body);
	if (!z)
		return problem(r, CP_ENOMEM, "cannot read: out of memory for %zu bytes", body);
	int rc = read_at(r, fd, z, body, CPS_HEADER_SIZE);
	if (rc == CP_OK) {
		uint32_t want = get32(r->header + CPS_H_BODY_CRC);
		uint32_t have = crc_update(crc_init(), z, body);
		if (want != have)
			rc = problem(r, CP_ECORRUPT, "compressed body at offset %u (%zu bytes): CRC32 "
			             "0x%08x does not match the recorded 0x%08x", CPS_HEADER_SIZE, body,
			             have, want);
	}
	if (rc == CP_OK && !(r->inflated = cp__malloc((size_t)r->image_size)))
		rc = problem(r, CP_ENOMEM, "cannot inflate: out of memory for %llu bytes",
		             (unsigned long long)r->image_size);
	if (rc == CP_OK) {
		memcpy(r->inflated, r->header, CPS_HEADER_SIZE);
		cps_piece piece = {r->inflated + CPS_HEADER_SIZE, r->image_size - CPS_HEADER_SIZE};
		rc = inflate_body(r, z, body, &piece, 1);
	}
	cp__free(z);
	if (rc == CP_OK)
		r->img = r->inflated;
	return rc;
}

/* The image in memory: mapped as it is, or inflated; then each section's
 * place in it. */
static int load_image(cps_reader *r, int fd)
{
	int rc = CP_OK;
	if (r->flags & CPS_FLAG_COMPRESSED) {
		rc = inflate_file(r, fd);
	} else {
		r->map_len = (size_t)r->image_size;
		if (!(r->map = cp__io_map(fd, r->map_len)))
			return problem(r, errno == ENOMEM ? CP_ENOMEM : CP_EIO, "cannot map %llu "
			               "bytes: %s", (unsigned long long)r->image_size, strerror(errno));
		r->img = r->map;
	}
	if (rc != CP_OK)
		return rc;
	for (int k = 1; k <= r->nsec; k++)
		r->data[k] = r->img + r->sec[k].offset;
	return CP_OK;
}

static int check_table(cps_reader *r);

/* The file: header and table checked, then the image mapped (or
 * inflated). */
static int read_file(cps_reader *r)
{
	int fd = cp__io_open(r->path, O_RDONLY, 0);
	if (fd < 0)
		return problem(r, errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "cannot open: %s",
		               strerror(errno));
	struct stat st;
	int rc;
	if (fstat(fd, &st) != 0)
		rc = problem(r, CP_EIO, "cannot stat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = problem(r, CP_EIO, "not a regular file");
	else if ((rc = read_at(r, fd, r->header, (uint64_t)st.st_size < CPS_HEADER_SIZE
	                       ? (size_t)st.st_size : CPS_HEADER_SIZE, 0)) == CP_OK &&
	         (rc = check_header(r, r->header, (uint64_t)st.st_size)) == CP_OK &&
	         (rc = check_table(r)) == CP_OK)
		rc = load_image(r, fd);
	if (rc == CP_OK) {
		r->dev = (uint64_t)st.st_dev;
		r->ino = (uint64_t)st.st_ino;
	}
	close(fd);
	return rc;
}

/* ---- structure ---- */

/* Sections in table order, each at the next multiple of 64 after the one
 * before, the last ending at the end of the image: no gap, no overlap. */
static int check_table(cps_reader *r)
{
	const uint8_t *h = r->header;
	uint64_t end = CPS_HEADER_SIZE;
	for (int k = 1; k <= r->nsec; k++) {
		unsigned at = CPS_FIXED_HEADER + (unsigned)(k - 1) * CPS_ENTRY_SIZE;
		const uint8_t *e = h + at;
		const cps_section *s = &r->sec[k];
		if (get32(e + CPS_E_KIND) != (uint32_t)k || get32(e + CPS_E_FLAGS) ||
		    get32(e + CPS_E_RESERVED))
			return problem(r, CP_ECORRUPT, "section table entry %d at offset %u: kind %u, "
			               "expected %d (%s) with zero flags", k, at, get32(e + CPS_E_KIND),
			               k, section_names[k]);
		if (s->offset != align_up(end))
			return problem(r, CP_ECORRUPT, "section %s: offset %llu, expected %llu "
			               "(sections follow each other at multiples of %u)",
			               section_names[k], (unsigned long long)s->offset,
			               (unsigned long long)align_up(end), CPS_ALIGN);
		if (s->offset > r->image_size || s->length > r->image_size - s->offset)
			return problem(r, CP_ECORRUPT, "section %s at offset %llu: %llu bytes run past "
			               "the end of the image (%llu bytes)", section_names[k],
			               (unsigned long long)s->offset, (unsigned long long)s->length,
			               (unsigned long long)r->image_size);
		end = s->offset + s->length;
	}
	if (end != r->image_size)
		return problem(r, CP_ECORRUPT, "the image has %llu bytes, its last section ends at %llu",
		               (unsigned long long)r->image_size, (unsigned long long)end);
	return CP_OK;
}

static void check_padding(cps_reader *r)
{
	uint64_t end = CPS_HEADER_SIZE;
	for (int k = 1; k <= r->nsec && !halt(r); k++) {
		for (uint64_t i = end; i < r->sec[k].offset; i++)
			if (r->img[i]) {
				problem(r, CP_ECORRUPT, "padding byte 0x%02x at offset %llu (before "
				        "section %s) is not zero", r->img[i], (unsigned long long)i,
				        section_names[k]);
				break;
			}
		end = r->sec[k].offset + r->sec[k].length;
	}
}

static int length_problem(cps_reader *r, int kind, const char *what)
{
	return problem(r, CP_ECORRUPT, "section %s at offset %llu: %llu bytes, %s",
	               section_names[kind], (unsigned long long)r->sec[kind].offset,
	               (unsigned long long)r->sec[kind].length, what);
}

/* A hash table of u32 slots: a power of two, 1 to 2^32 of them. */
static void check_hash_length(cps_reader *r, int kind)
{
	uint64_t len = r->sec[kind].length, n = len / sizeof(uint32_t);
	if (len % sizeof(uint32_t) || n == 0 || (n & (n - 1)) || n > (UINT64_C(1) << 32))
		length_problem(r, kind, "not a power of two of 4-byte slots");
}

/* Counts of the header against section lengths. */
static void check_lengths(cps_reader *r)
{
	if (r->sec[CPS_SEC_SCHEMA].length == 0)
		length_problem(r, CPS_SEC_SCHEMA, "an embedded schema is required");
	if (!halt(r) && r->row_slots != r->profiles)
		problem(r, CP_ECORRUPT, "header at offset %u: %llu row slots for %llu profiles "
		        "(versions %u and %u hold live rows only)", CPS_H_ROW_SLOTS,
		        (unsigned long long)r->row_slots, (unsigned long long)r->profiles,
		        CPS_VERSION_1, CPS_VERSION);
	if (!halt(r) && (r->row_size == 0 || r->row_size % 8 || r->row_slots >= UINT32_MAX ||
	                 r->sec[CPS_SEC_ROWS].length != r->row_slots * r->row_size))
		length_problem(r, CPS_SEC_ROWS, "not the header's row slots times its row size");
	uint64_t slen = r->sec[CPS_SEC_STRINGS].length;
	if (!halt(r) && (slen == 0 || slen > (UINT64_C(1) << 32)))
		length_problem(r, CPS_SEC_STRINGS, "a string pool has 1 byte to 4 GiB");
	uint64_t llen = r->sec[CPS_SEC_LISTS].length;
	if (!halt(r) && (llen == 0 || llen % 4 || llen / 4 > (UINT64_C(1) << 32)))
		length_problem(r, CPS_SEC_LISTS, "a list pool has 1 to 2^32 4-byte items");
	if (!halt(r))
		check_hash_length(r, CPS_SEC_STRING_HASH);
	if (!halt(r))
		check_hash_length(r, CPS_SEC_LIST_HASH);
	if (!halt(r))
		check_hash_length(r, CPS_SEC_INDEX);
	/* the range cp_store_set_as_of accepts */
	if (!halt(r) && r->as_of != 0 &&
	    (r->as_of < 190001 || r->as_of > 999912 || r->as_of % 100 < 1 || r->as_of % 100 > 12))
		problem(r, CP_ECORRUPT, "header at offset %u: as-of month %d is not yyyymm",
		        CPS_H_AS_OF, (int)r->as_of);
}

/* The CRC of every section (verify), or of the schema section only (open:
 * the others cost time in proportion to the profiles). */
static void check_crcs(cps_reader *r)
{
	for (int k = 1; k <= r->nsec && !halt(r); k++) {
		if (!r->verify && k != CPS_SEC_SCHEMA)
			continue;
		const cps_section *s = &r->sec[k];
		uint32_t have = crc_update(crc_init(), sec_data(r, k), (size_t)s->length);
		if (have != s->crc)
			problem(r, CP_ECORRUPT, "section %s at offset %llu (%llu bytes): CRC32 0x%08x "
			        "does not match the recorded 0x%08x", section_names[k],
			        (unsigned long long)s->offset, (unsigned long long)s->length, have,
			        s->crc);
	}
}

/* ---- the embedded schema ---- */

static int load_schema(cps_reader *r)
{
	const cps_section *s = &r->sec[CPS_SEC_SCHEMA];
	cp_diag *sd = NULL;
	if (cp_diag_new(&sd) != CP_OK)
		return problem(r, CP_ENOMEM, "out of memory");
	int rc = cp_schema_load_memory(&r->schema, (const char *)sec_data(r, CPS_SEC_SCHEMA),
	                               (size_t)s->length, "embedded schema", sd);
	if (rc != CP_OK) {
		int code = rc == CP_ENOMEM ? CP_ENOMEM : CP_ECORRUPT;
		problem(r, code, "section schema at offset %llu: the embedded schema does not "
		        "load (%s)", (unsigned long long)s->offset, cp_strerror(rc));
		for (size_t i = 0; i < cp_diag_count(sd); i++)
			cp__diag_add(r->diag, cp_diag_severity(sd, i), r->path, 0, 0,
			             "section schema, line %u column %u: %s", cp_diag_line(sd, i),
			             cp_diag_column(sd, i), cp_diag_message(sd, i));
		cp_diag_free(sd);
		return code;
	}
	cp_diag_free(sd);
	if (r->schema->row_size != r->row_size)
		return problem(r, CP_ECORRUPT, "section schema at offset %llu: the embedded schema "
		               "gives rows of %u bytes, the header records %u",
		               (unsigned long long)s->offset, r->schema->row_size, r->row_size);
	uint32_t have = cp__snapshot_layout_crc(r->schema);
	if (have != r->layout)
		return problem(r, CP_ECORRUPT, "section schema at offset %llu: the embedded schema "
		               "gives a row layout (CRC32 0x%08x) other than the one the rows were "
		               "written with (0x%08x)", (unsigned long long)s->offset, have, r->layout);
	return CP_OK;
}

/* ---- contents: every id a read could follow ---- */

static bool is_string(const cps_reader *r, uint32_t id)
{
	const char *bytes = (const char *)sec_data(r, CPS_SEC_STRINGS);
	return id < r->sec[CPS_SEC_STRINGS].length && (id == 0 || bytes[id - 1] == '\0');
}

static bool is_list(const cps_reader *r, uint32_t id)
{
	return id < sec_count32(r, CPS_SEC_LISTS) && (r->list_starts[id >> 3] >> (id & 7)) & 1u;
}

static void check_strings(cps_reader *r)
{
	const uint8_t *bytes = sec_data(r, CPS_SEC_STRINGS);
	uint64_t len = r->sec[CPS_SEC_STRINGS].length, off = r->sec[CPS_SEC_STRINGS].offset;
	if (bytes[0] != '\0')
		content_problem(r, CPS_SEC_STRINGS, off, "string 0 is not the empty string");
	if (bytes[len - 1] != '\0')
		content_problem(r, CPS_SEC_STRINGS, off + len - 1, "the last string is not "
		                "NUL-terminated");
	uint64_t n = 0;
	for (const uint8_t *p = bytes; (p = memchr(p, 0, (size_t)(bytes + len - p))); p++)
		n++;
	if (n != r->string_count)
		content_problem(r, CPS_SEC_STRINGS, off, "%llu strings, the header records %u",
		                (unsigned long long)n, r->string_count);
}

/* Walk the lists item by item: each count, then that many string ids. */
static int check_lists(cps_reader *r)
{
	const uint32_t *items = sec_u32(r, CPS_SEC_LISTS);
	uint64_t n = sec_count32(r, CPS_SEC_LISTS), off = r->sec[CPS_SEC_LISTS].offset;
	if (!(r->list_starts = cp__calloc((size_t)(n / 8 + 1), 1)))
		return problem(r, CP_ENOMEM, "out of memory");
	if (items[0] != 0)
		content_problem(r, CPS_SEC_LISTS, off, "list 0 is not the empty list");
	uint64_t lists = 0, i = 0;
	while (i < n && !halt(r)) {
		uint32_t count = items[i];
		if (count > n - i - 1) {
			content_problem(r, CPS_SEC_LISTS, off + i * 4, "list %llu has %u items, past "
			                "the end of the section", (unsigned long long)i, count);
			break;
		}
		r->list_starts[i >> 3] |= (uint8_t)(1u << (i & 7));
		lists++;
		for (uint64_t j = i + 1; j <= i + count && !halt(r); j++)
			if (!is_string(r, items[j]))
				content_problem(r, CPS_SEC_LISTS, off + j * 4, "item of list %llu: string "
				                "id %u is not a string of section strings",
				                (unsigned long long)i, items[j]);
		i += 1 + (uint64_t)count;
	}
	if (!halt(r) && i == n && lists != r->list_count)
		content_problem(r, CPS_SEC_LISTS, off, "%llu lists, the header records %u",
		                (unsigned long long)lists, r->list_count);
	return CP_OK;
}

/* Every slot empty or id + 1 of an entry, one slot per entry, and at least
 * one empty slot: a lookup of a missing value must stop. */
static void check_hash(cps_reader *r, int kind, bool (*valid)(const cps_reader *, uint32_t),
                       const char *what, uint32_t entries)
{
	const uint32_t *slots = sec_u32(r, kind);
	uint64_t n = sec_count32(r, kind), off = r->sec[kind].offset, used = 0;
	for (uint64_t i = 0; i < n && !halt(r); i++) {
		if (!slots[i])
			continue;
		used++;
		if (!valid(r, slots[i] - 1))
			content_problem(r, kind, off + i * 4, "slot %llu: id %u is not a %s",
			                (unsigned long long)i, slots[i] - 1, what);
	}
	if (!halt(r) && used != entries)
		content_problem(r, kind, off, "%llu slots in use for %u entries",
		                (unsigned long long)used, entries);
	if (!halt(r) && used == n)
		content_problem(r, kind, off, "no empty slot among %llu", (unsigned long long)n);
}

static void check_cell(cps_reader *r, const uint8_t *row, uint64_t row_off, size_t rown,
                       const cp_field *f, int m)
{
	const void *cell = cp__row_cell(row, f, m);
	uint64_t off = row_off + f->offset + (uint64_t)m * f->width;
	uint32_t v;
	if (f->type == CP_TYPE_BOOL) {
		uint8_t b = *(const uint8_t *)cell;
		if (b > 1)
			content_problem(r, CPS_SEC_ROWS, off, "row %zu, field '%s' month %d: bool %u",
			                rown, f->name, m, b);
		return;
	}
	memcpy(&v, cell, sizeof(v));
	switch (f->type) {
	case CP_TYPE_ENUM:
		if (f->closed) {
			if (v >= (uint32_t)f->nvalues)
				content_problem(r, CPS_SEC_ROWS, off, "row %zu, field '%s' month %d: enum "
				                "index %u, the field has %d values", rown, f->name, m, v,
				                f->nvalues);
			return;
		}
		/* an open enum holds a string id */
		/* fall through */
	case CP_TYPE_STRING:
		if (!is_string(r, v))
			content_problem(r, CPS_SEC_ROWS, off, "row %zu, field '%s' month %d: string id "
			                "%u is not a string of section strings", rown, f->name, m, v);
		return;
	case CP_TYPE_SET:
	case CP_TYPE_LIST:
		if (!is_list(r, v))
			content_problem(r, CPS_SEC_ROWS, off, "row %zu, field '%s' month %d: list id %u "
			                "is not a list of section lists", rown, f->name, m, v);
		else if (f->type == CP_TYPE_LIST && f->max_items &&
		         sec_u32(r, CPS_SEC_LISTS)[v] > (uint32_t)f->max_items)
			content_problem(r, CPS_SEC_ROWS, off, "row %zu, field '%s' month %d: %u items, "
			                "the field holds at most %d", rown, f->name, m,
			                sec_u32(r, CPS_SEC_LISTS)[v], f->max_items);
		return;
	default:
		return; /* numbers and dates: every bit pattern is a value */
	}
}

/* Fields whose cells can be wrong: ids, enum indexes, bools.  Numbers and
 * dates take every bit pattern. */
static bool checked_field(const cp_field *f)
{
	return f->type != CP_TYPE_INT && f->type != CP_TYPE_FLOAT && f->type != CP_TYPE_MONEY &&
	       f->type != CP_TYPE_DATE;
}

static int check_rows(cps_reader *r)
{
	const cp_schema *sc = r->schema;
	const cp_field *key = &sc->fields[sc->key];
	const uint8_t *rows = sec_data(r, CPS_SEC_ROWS);
	const cp_field **fields = cp__calloc((size_t)sc->nfields, sizeof(*fields));
	if (!fields)
		return problem(r, CP_ENOMEM, "out of memory");
	int n = 0;
	for (int fi = 0; fi < sc->nfields; fi++)
		if (checked_field(&sc->fields[fi]))
			fields[n++] = &sc->fields[fi];
	for (size_t i = 0; i < r->row_slots && !halt(r); i++) {
		const uint8_t *row = rows + i * sc->row_size;
		uint64_t row_off = r->sec[CPS_SEC_ROWS].offset + (uint64_t)i * sc->row_size;
		if (!cp__row_live(row)) {
			content_problem(r, CPS_SEC_ROWS, row_off, "row %zu holds no profile", i);
			continue;
		}
		if (!cp__row_present(row, key->cell))
			content_problem(r, CPS_SEC_ROWS, row_off, "row %zu has no key", i);
		for (int fi = 0; fi < n && !halt(r); fi++) {
			const cp_field *f = fields[fi];
			for (int m = 0; m < f->months; m++)
				if (cp__row_present(row, f->cell + (uint32_t)m))
					check_cell(r, row, row_off, i, f, m);
		}
	}
	cp__free(fields);
	return CP_OK;
}

static bool is_row(const cps_reader *r, uint32_t row)
{
	return row < r->row_slots;
}

/* Every slot a row number + 1, each row once, every row present. */
static int check_index(cps_reader *r)
{
	const uint32_t *slots = sec_u32(r, CPS_SEC_INDEX);
	uint64_t n = sec_count32(r, CPS_SEC_INDEX), off = r->sec[CPS_SEC_INDEX].offset, used = 0;
	uint8_t *seen = cp__calloc((size_t)(r->row_slots / 8 + 1), 1);
	if (!seen)
		return problem(r, CP_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < n && !halt(r); i++) {
		uint32_t v = slots[i];
		if (!v)
			continue;
		if (!is_row(r, v - 1)) {
			content_problem(r, CPS_SEC_INDEX, off + i * 4, "slot %llu: row %u, the snapshot "
			                "has %llu rows", (unsigned long long)i, v - 1,
			                (unsigned long long)r->row_slots);
			continue;
		}
		if ((seen[(v - 1) >> 3] >> ((v - 1) & 7)) & 1u)
			content_problem(r, CPS_SEC_INDEX, off + i * 4, "slot %llu: row %u is indexed "
			                "twice", (unsigned long long)i, v - 1);
		seen[(v - 1) >> 3] |= (uint8_t)(1u << ((v - 1) & 7));
		used++;
	}
	cp__free(seen);
	if (!halt(r) && used != r->profiles)
		content_problem(r, CPS_SEC_INDEX, off, "%llu rows indexed, the header records %llu "
		                "profiles", (unsigned long long)used, (unsigned long long)r->profiles);
	if (!halt(r) && used == n)
		content_problem(r, CPS_SEC_INDEX, off, "no empty slot among %llu",
		                (unsigned long long)n);
	return CP_OK;
}

/* The stage history: its structure, and every key a string of the pool. */
static void check_stages(cps_reader *r)
{
	const char *why;
	uint64_t at;
	const cps_section *s = &r->sec[CPS_SEC_STAGES];
	if (cp__stagehist_check(sec_data(r, CPS_SEC_STAGES), s->length,
	                        (const char *)sec_data(r, CPS_SEC_STRINGS),
	                        r->sec[CPS_SEC_STRINGS].length, &why, &at) != CP_OK)
		content_problem(r, CPS_SEC_STAGES, s->offset + at, "%s", why);
}

static void check_contents(cps_reader *r)
{
	check_strings(r);
	if (!halt(r))
		check_hash(r, CPS_SEC_STRING_HASH, is_string, "string of section strings",
		           r->string_count);
	if (!halt(r) && check_lists(r) == CP_OK && !halt(r))
		check_hash(r, CPS_SEC_LIST_HASH, is_list, "list of section lists", r->list_count);
	if (!halt(r))
		check_rows(r);
	if (!halt(r))
		check_index(r);
	if (!halt(r) && r->nsec > CPS_SEC_COUNT_V1)
		check_stages(r);
	content_summary(r);
}

/* What open checks of the pools' contents instead of check_contents: the
 * ends that make every later bounds check sufficient (a string id below
 * the length finds a NUL before the end; list 0 is empty). */
static void check_ends(cps_reader *r)
{
	const uint8_t *bytes = sec_data(r, CPS_SEC_STRINGS);
	uint64_t len = r->sec[CPS_SEC_STRINGS].length, off = r->sec[CPS_SEC_STRINGS].offset;
	if (bytes[0] != '\0')
		content_problem(r, CPS_SEC_STRINGS, off, "string 0 is not the empty string");
	else if (bytes[len - 1] != '\0')
		content_problem(r, CPS_SEC_STRINGS, off + len - 1, "the last string is not "
		                "NUL-terminated");
	else if (sec_u32(r, CPS_SEC_LISTS)[0] != 0)
		content_problem(r, CPS_SEC_LISTS, r->sec[CPS_SEC_LISTS].offset, "list 0 is not the "
		                "empty list");
}

/* ---- the store ---- */

static uint32_t slots_of(const cps_reader *r, int kind)
{
	return (uint32_t)sec_count32(r, kind);
}

/* A new store whose base is the image's sections, in place; it takes the
 * mapping (or the inflated image) over. */
static int build_store(cps_reader *r, cp_store **out)
{
	cp_store_base b;
	memset(&b, 0, sizeof(b));
	b.rows = sec_data(r, CPS_SEC_ROWS);
	b.nrows = (uint32_t)r->row_slots;
	b.strings = (const char *)sec_data(r, CPS_SEC_STRINGS);
	b.strings_len = (uint32_t)r->sec[CPS_SEC_STRINGS].length;
	b.string_count = r->string_count;
	b.string_hash = sec_u32(r, CPS_SEC_STRING_HASH);
	b.string_hash_slots = slots_of(r, CPS_SEC_STRING_HASH);
	b.lists = sec_u32(r, CPS_SEC_LISTS);
	b.lists_len = slots_of(r, CPS_SEC_LISTS);
	b.list_count = r->list_count;
	b.list_hash = sec_u32(r, CPS_SEC_LIST_HASH);
	b.list_hash_slots = slots_of(r, CPS_SEC_LIST_HASH);
	b.index = sec_u32(r, CPS_SEC_INDEX);
	b.index_slots = slots_of(r, CPS_SEC_INDEX);
	b.as_of = r->as_of;
	cp_store *s;
	int rc = cp__store_new_base(&s, r->schema, &b);
	if (rc != CP_OK)
		return problem(r, rc, "cannot create the store: %s", cp_strerror(rc));
	s->map = r->map;
	s->map_len = (size_t)r->image_size;
	s->image = r->inflated;
	r->map = NULL;
	r->inflated = NULL;
	if (r->nsec > CPS_SEC_COUNT_V1) {
		/* its structure now; its keys where they are used (lifecycle.h) */
		const cps_section *st = &r->sec[CPS_SEC_STAGES];
		const char *why;
		uint64_t at;
		rc = cp__stagehist_decode(s, sec_data(r, CPS_SEC_STAGES), st->length, &why, &at);
		if (rc != CP_OK) {
			cp_store_free(s);
			return problem(r, rc, "section stages at offset %llu: %s",
			               (unsigned long long)(st->offset + at), why);
		}
	}
	*out = s;
	return CP_OK;
}

/* A probe as a reader makes it: the slot that holds want (id + 1), and
 * whether the probe from hash h reaches it before an empty slot. */
static bool probe_reaches(const uint32_t *slots, uint64_t n, uint32_t h, uint32_t want)
{
	for (uint64_t k = 0, i = h & (n - 1); k < n; k++, i = (i + 1) & (n - 1)) {
		if (slots[i] == want)
			return true;
		if (!slots[i])
			return false;
	}
	return false;
}

/* verify: every string is found through the string hash, every list
 * through the list hash, every profile under its key through the index. */
static void check_lookups(cps_reader *r)
{
	const char *bytes = (const char *)sec_data(r, CPS_SEC_STRINGS);
	uint64_t len = r->sec[CPS_SEC_STRINGS].length;
	const uint32_t *sh = sec_u32(r, CPS_SEC_STRING_HASH);
	uint64_t sn = sec_count32(r, CPS_SEC_STRING_HASH);
	for (uint64_t id = 0; id < len; id += strlen(bytes + id) + 1) {
		const char *str = bytes + id;
		if (!probe_reaches(sh, sn, cp__hash(str, strlen(str)), (uint32_t)id + 1))
			content_problem(r, CPS_SEC_STRING_HASH, r->sec[CPS_SEC_STRING_HASH].offset,
			                "string %llu is not found through the hash",
			                (unsigned long long)id);
	}
	const uint32_t *items = sec_u32(r, CPS_SEC_LISTS), *lh = sec_u32(r, CPS_SEC_LIST_HASH);
	uint64_t ln = sec_count32(r, CPS_SEC_LISTS), lhn = sec_count32(r, CPS_SEC_LIST_HASH);
	for (uint64_t id = 0; id < ln; id += 1 + (uint64_t)items[id]) {
		uint32_t n = items[id];
		if (!probe_reaches(lh, lhn, cp__hash(items + id + 1, (size_t)n * 4), (uint32_t)id + 1))
			content_problem(r, CPS_SEC_LIST_HASH, r->sec[CPS_SEC_LIST_HASH].offset,
			                "list %llu is not found through the hash", (unsigned long long)id);
	}
	const cp_schema *sc = r->schema;
	const uint8_t *rows = sec_data(r, CPS_SEC_ROWS);
	const uint32_t *ix = sec_u32(r, CPS_SEC_INDEX);
	uint64_t ixn = sec_count32(r, CPS_SEC_INDEX);
	for (uint64_t i = 0; i < r->row_slots; i++) {
		const uint8_t *row = rows + i * sc->row_size;
		const char *key = bytes + cp__row_key_id(sc, row);
		if (!probe_reaches(ix, ixn, cp__hash(key, strlen(key)), (uint32_t)i + 1))
			content_problem(r, CPS_SEC_INDEX, r->sec[CPS_SEC_INDEX].offset,
			                "the profile of row %llu is not found under its key",
			                (unsigned long long)i);
	}
	content_summary(r);
}

static int load(cps_reader *r, cp_store **out)
{
	int rc = read_file(r);
	if (rc != CP_OK)
		return rc;
	check_padding(r);
	if (!halt(r))
		check_lengths(r);
	if (!halt(r))
		check_crcs(r);
	/* Past a damaged section, content checks would only repeat the damage. */
	if (r->rc != CP_OK)
		return r->rc;
	if ((rc = load_schema(r)) != CP_OK)
		return rc;
	if (r->verify)
		check_contents(r);
	else
		check_ends(r);
	if (r->rc != CP_OK)
		return r->rc;
	if (r->verify) {
		memset(r->problems, 0, sizeof(r->problems));
		check_lookups(r);
		if (r->rc != CP_OK)
			return r->rc;
	}
	return out ? build_store(r, out) : CP_OK;
}

static void reader_free(cps_reader *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	cp__free(r->inflated);
	cp__free(r->list_starts);
	cp_schema_free(r->schema);
}

int cp__snapshot_load(cp_store **out, const char *path, bool verify, cp_diag *diag,
                      cps_ident *ident)
{
	*out = NULL;
	cps_reader r;
	memset(&r, 0, sizeof(r));
	r.path = path;
	r.diag = diag;
	r.verify = verify;
	int rc = load(&r, out);
	if (rc == CP_OK && ident) {
		ident->generation = r.generation;
		ident->id = r.id;
		ident->layout = r.layout;
		ident->dev = r.dev;
		ident->ino = r.ino;
	}
	reader_free(&r);
	return rc;
}

int cp_snapshot_verify(const char *path, cp_diag *diag)
{
	if (!path)
		return CP_EINVAL;
	cps_reader r;
	memset(&r, 0, sizeof(r));
	r.path = path;
	r.diag = diag;
	r.verify = true;
	int rc = load(&r, NULL);
	reader_free(&r);
	return rc;
}

/* A probe (not a step that can fail a save: plain system calls). */
uint64_t cp__snapshot_generation(const char *path)
{
	uint8_t h[CPS_FIXED_HEADER];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h, CPS_MAGIC, CPS_MAGIC_LEN) != 0 ||
	    (get32(h + CPS_H_VERSION) != CPS_VERSION && get32(h + CPS_H_VERSION) != CPS_VERSION_1) ||
	    get32(h + CPS_H_BYTE_ORDER) != CPS_BYTE_ORDER)
		return 0;
	return get64(h + CPS_H_GENERATION);
}
