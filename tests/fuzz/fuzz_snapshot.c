/*
 * fuzz_snapshot.c — snapshot open and verify (cp_store_open,
 * cp_snapshot_verify).
 *
 * Input: a .cps file.  The snapshot module opens files only (no memory
 * open), so the input is written to a scratch file under /dev/shm.
 *
 * Every CRC of a snapshot would stop nearly every mutation at the first
 * check, so each input is tried twice: as it is, and "repaired": the
 * header's sizes set to the input's, the layout fingerprint set to what the
 * embedded schema gives, and every CRC recomputed (for the compressed form:
 * the body inflated, repaired and deflated again).  The repaired file
 * reaches the structure and content checks, which must then stop anything
 * a read could trip over.
 *
 * For each file:
 *   - a failure is in diag; what verify accepts, open accepts; what open
 *     accepts, verify accepts too unless a key is not found through the
 *     index (open checks that every slot is safe to follow, not where it
 *     is: a forged index with valid CRCs gets that far);
 *   - an opened store reads back through every getter, takes a delete and
 *     a put, and saved again (plain and compressed) reopens with the same
 *     profiles.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "snapshot.h" /* the format's offsets, to repair CRCs */

/* Largest inflated body the repair handles (the fuzzer's inputs are a few
 * KiB: this only bounds a crafted one). */
#define REPAIR_MAX_IMAGE (4u << 20)

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint32_t crc(const void *data, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)n);
}

/*
 * The row-layout fingerprint of snapshot.c (layout_crc), repeated here:
 * the repair sets it so that a mutated embedded schema is checked against
 * the rows instead of being refused by the fingerprint.  Should snapshot.c
 * change it, the repair merely stops reaching the row checks.
 */
static uint32_t layout_crc(const cp_schema *s)
{
	uint32_t head[4] = {s->row_size, s->ncells, (uint32_t)s->nfields, (uint32_t)s->key};
	uLong c = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)head, sizeof(head));
	for (int i = 0; i < s->nfields; i++) {
		const cp_field *f = &s->fields[i];
		uint32_t rec[10] = {(uint32_t)f->type, f->series, (uint32_t)f->months, f->width,
		                    f->offset, f->cell, f->closed, (uint32_t)f->nvalues,
		                    (uint32_t)f->max_items, (uint32_t)f->normalize};
		c = crc32(c, (const Bytef *)rec, sizeof(rec));
		c = crc32(c, (const Bytef *)f->name, (uInt)strlen(f->name) + 1);
		for (int v = 0; v < f->nvalues; v++)
			c = crc32(c, (const Bytef *)f->values[v], (uInt)strlen(f->values[v]) + 1);
	}
	return (uint32_t)c;
}

/* Repair an uncompressed image of len bytes in place (header included). */
static void repair_image(uint8_t *img, size_t len)
{
	uint8_t *h = img;
	for (int k = 1; k <= CPS_SEC_COUNT; k++) {
		uint8_t *e = h + CPS_FIXED_HEADER + (size_t)(k - 1) * CPS_ENTRY_SIZE;
		uint64_t off = get64(e + CPS_E_OFFSET), n = get64(e + CPS_E_LENGTH);
		if (off > len || n > len - off)
			continue;
		put32(e + CPS_E_CRC, crc(img + off, (size_t)n));
		if (k != CPS_SEC_SCHEMA)
			continue;
		cp_schema *sc = NULL;
		if (cp_schema_load_memory(&sc, (const char *)img + off, (size_t)n, NULL, NULL) ==
		    CP_OK) {
			put32(h + CPS_H_ROW_SIZE, sc->row_size);
			put32(h + CPS_H_LAYOUT_CRC, layout_crc(sc));
			cp_schema_free(sc);
		}
	}
}

static void repair_header_crc(uint8_t *h)
{
	put32(h + CPS_H_HEADER_CRC, 0);
	put32(h + CPS_H_HEADER_CRC, crc(h, CPS_HEADER_SIZE));
}

/* The compressed body inflated (at most REPAIR_MAX_IMAGE bytes), or NULL. */
static uint8_t *inflate_body(const uint8_t *in, size_t len, size_t *out_len)
{
	uint8_t *out = malloc(REPAIR_MAX_IMAGE);
	FZ_CHECK(out != NULL);
	z_stream z;
	memset(&z, 0, sizeof(z));
	FZ_CHECK(inflateInit(&z) == Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = REPAIR_MAX_IMAGE;
	int zrc = inflate(&z, Z_FINISH);
	*out_len = REPAIR_MAX_IMAGE - z.avail_out;
	inflateEnd(&z);
	if (zrc != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * The input repaired (fuzz_snapshot.c's header comment), malloc'd, or NULL
 * when it cannot be (too short to hold a header).
 */
static uint8_t *repair(const uint8_t *data, size_t size, size_t *out_len)
{
	if (size < CPS_HEADER_SIZE)
		return NULL;
	uint32_t flags = get32(data + CPS_H_FLAGS);
	if (!(flags & CPS_FLAG_COMPRESSED)) {
		uint8_t *img = malloc(size);
		FZ_CHECK(img != NULL);
		memcpy(img, data, size);
		put64(img + CPS_H_IMAGE_SIZE, size);
		put64(img + CPS_H_STORED_SIZE, size);
		repair_image(img, size);
		repair_header_crc(img);
		*out_len = size;
		return img;
	}
	size_t body_len;
	uint8_t *body = inflate_body(data + CPS_HEADER_SIZE, size - CPS_HEADER_SIZE, &body_len);
	if (!body) {
		/* not a stream: the body CRC at least */
		uint8_t *file = malloc(size);
		FZ_CHECK(file != NULL);
		memcpy(file, data, size);
		put64(file + CPS_H_STORED_SIZE, size);
		put32(file + CPS_H_BODY_CRC, crc(file + CPS_HEADER_SIZE, size - CPS_HEADER_SIZE));
		repair_header_crc(file);
		*out_len = size;
		return file;
	}
	size_t img_len = CPS_HEADER_SIZE + body_len;
	uint8_t *img = malloc(img_len);
	FZ_CHECK(img != NULL);
	memcpy(img, data, CPS_HEADER_SIZE);
	memcpy(img + CPS_HEADER_SIZE, body, body_len);
	free(body);
	repair_image(img, img_len);
	uLong bound = compressBound((uLong)body_len);
	uint8_t *file = malloc(CPS_HEADER_SIZE + bound);
	FZ_CHECK(file != NULL);
	memcpy(file, img, CPS_HEADER_SIZE);
	uLongf clen = bound;
	FZ_CHECK(compress(file + CPS_HEADER_SIZE, &clen, img + CPS_HEADER_SIZE,
	                  (uLong)body_len) == Z_OK);
	free(img);
	put64(file + CPS_H_IMAGE_SIZE, img_len);
	put64(file + CPS_H_STORED_SIZE, CPS_HEADER_SIZE + clen);
	put32(file + CPS_H_BODY_CRC, crc(file + CPS_HEADER_SIZE, clen));
	repair_header_crc(file);
	*out_len = CPS_HEADER_SIZE + clen;
	return file;
}

/* Change an opened store: its first profile deleted, a new one put. */
static void modify(cp_store *store, int walk_flags)
{
	cp_iter *it = NULL;
	cp_view *v = NULL;
	FZ_CHECK(cp_iter_new(&it, store) == CP_OK && cp_view_new(&v, store) == CP_OK);
	if (cp_iter_next(it, v) == CP_OK) {
		/* a copy: the key belongs to the store */
		size_t len = strlen(cp_view_key(v));
		char *key = malloc(len + 1);
		FZ_CHECK(key != NULL);
		memcpy(key, cp_view_key(v), len + 1);
		int rc = cp_store_delete(store, key);
		FZ_CHECK(rc == CP_OK || (rc == CP_ENOTFOUND && (walk_flags & FZ_LOOKUP_MAY_FAIL)));
		free(key);
	}
	cp_view_free(v);
	cp_iter_free(it);

	const cp_schema *sc = cp_store_schema(store);
	cp_profile *p = NULL;
	FZ_CHECK(cp_profile_new(&p, sc) == CP_OK);
	FZ_CHECK(cp_profile_set_text(p, cp_schema_key_field(sc), 0, "13999999999") == CP_OK);
	FZ_CHECK(cp_store_put(store, p, NULL) == CP_OK);
	cp_profile_free(p);
}

/*
 * A store that opened, changed, then saved plain and compressed: each
 * reopens with the same profiles, and verifies unless the original did not
 * (verified is 0: a forged index, whose lookups fail).
 */
static void resave(cp_store *store, int verified)
{
	int walk_flags = verified ? 0 : FZ_LOOKUP_MAY_FAIL;
	modify(store, walk_flags);
	uint64_t digest = fz_walk_store(store, walk_flags);
	const char *path = fz_scratch_path(1, ".resaved.cps");
	static const int flags[2] = {0, CP_SAVE_COMPRESS};
	for (int i = 0; i < 2; i++) {
		FZ_CHECK(cp_store_save(store, path, flags[i]) == CP_OK);
		cp_diag *diag = NULL;
		FZ_CHECK(cp_diag_new(&diag) == CP_OK);
		int vrc = cp_snapshot_verify(path, diag);
		FZ_CHECK(vrc == CP_OK || (!verified && vrc == CP_ECORRUPT));
		cp_diag_clear(diag);
		cp_store *back = NULL;
		FZ_CHECK(cp_store_open(&back, path, diag) == CP_OK);
		FZ_CHECK(cp_diag_count(diag) == 0);
		FZ_CHECK(cp_store_count(back) == cp_store_count(store));
		FZ_CHECK(cp_store_as_of(back) == cp_store_as_of(store));
		FZ_CHECK(fz_walk_store(back, walk_flags) == digest);
		cp_store_free(back);
		cp_diag_free(diag);
	}
}

/* Every error of verify is about a lookup (open does not check them). */
static int only_lookups(cp_diag *diag)
{
	for (size_t i = 0; i < cp_diag_count(diag); i++) {
		const char *msg = cp_diag_message(diag, i);
		if (cp_diag_severity(diag, i) == CP_SEV_ERROR && !strstr(msg, "is not found") &&
		    !strstr(msg, "more problems not listed"))
			return 0;
	}
	return 1;
}

static void try_file(const uint8_t *data, size_t size)
{
	const char *path = fz_scratch_path(0, ".cps");
	fz_write_file(path, data, size);
	cp_diag *diag = NULL, *vdiag = NULL;
	FZ_CHECK(cp_diag_new(&diag) == CP_OK && cp_diag_new(&vdiag) == CP_OK);
	cp_store *store = (cp_store *)1;
	int rc = cp_store_open(&store, path, diag);
	FZ_CHECK(rc <= 0);
	FZ_CHECK((rc == CP_OK) == (store != NULL));
	fz_check_diag(diag, rc != CP_OK);
	int vrc = cp_snapshot_verify(path, vdiag);
	FZ_CHECK(vrc <= 0);
	fz_check_diag(vdiag, vrc != CP_OK);
	/* verify checks all that open checks, and then the lookups */
	if (vrc == CP_OK)
		FZ_CHECK(rc == CP_OK);
	if (rc == CP_OK && vrc != CP_OK)
		FZ_CHECK(vrc == CP_ECORRUPT && only_lookups(vdiag));
	if (rc == CP_OK) {
		FZ_CHECK(cp_diag_count(diag) == 0);
		int walk_flags = vrc == CP_OK ? 0 : FZ_LOOKUP_MAY_FAIL;
		fz_walk_store(store, walk_flags);
		resave(store, vrc == CP_OK);
		cp_store_free(store);
	}
	cp_diag_free(vdiag);
	cp_diag_free(diag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_file(data, size);
	size_t len;
	uint8_t *fixed = repair(data, size, &len);
	if (fixed && (len != size || memcmp(fixed, data, size) != 0))
		try_file(fixed, len);
	free(fixed);
	return 0;
}
