/*
 * batch_tags.c — the tag table (cp_tagtable): every profile's tags (one bit
 * each) and stages (one byte per track), in store order, made on every
 * core.
 *
 * Chunk c covers row slots [first, end); its profiles are written from
 * index first on, in row order, so no two chunks touch the same entries
 * and no lock is needed.  Deleted slots leave gaps, closed afterwards by
 * moving each chunk's entries down in chunk order: the table is the same
 * whatever thread did which chunk.  Keys are copied (the table outlives
 * any change of the store) into one buffer per chunk, joined at the end.
 */
#include "batch.h"

#include <string.h>

struct cp_tagtable {
	cp_obj obj;
	const cp_ruleset *rs;
	int ntags, ntracks;
	size_t words;      /* 64-bit words of tag bits per profile */
	size_t count;      /* profiles */
	uint64_t *bits;    /* count * words */
	uint8_t *stages;   /* count * ntracks */
	size_t *key_at;    /* count: offset of each key in keys */
	char *keys;        /* NUL-terminated keys, one after the other */
};

int cp_tagtable_new(cp_tagtable **out, const cp_ruleset *rs)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!rs)
		return CP_EINVAL;
	cp_tagtable *t = cp__calloc(1, sizeof(*t));
	if (!t)
		return CP_ENOMEM;
	cp__obj_init(&t->obj, CP_OBJ_OTHER);
	t->rs = rs;
	t->ntags = rs->ntags;
	t->ntracks = rs->ntracks;
	t->words = ((size_t)rs->ntags + 63) / 64;
	*out = t;
	return CP_OK;
}

static void clear(cp_tagtable *t)
{
	cp__free(t->bits);
	cp__free(t->stages);
	cp__free(t->key_at);
	cp__free(t->keys);
	t->bits = NULL;
	t->stages = NULL;
	t->key_at = NULL;
	t->keys = NULL;
	t->count = 0;
}

void cp_tagtable_free(cp_tagtable *t)
{
	if (!t)
		return;
	clear(t);
	cp__obj_fini(&t->obj);
	cp__free(t);
}

/* ---- building ---- */

typedef struct chunk_out {
	size_t live;  /* profiles written */
	cp_buf keys;  /* their keys, each with its NUL */
} chunk_out;

typedef struct build {
	cp_tagtable *t;
	chunk_out *chunks;
} build;

static int tag_row(cp__pass *p, int worker, size_t c, size_t row, const cp_view *view,
                   const cp_result *res)
{
	(void)worker;
	(void)row;
	build *b = p->ctx;
	cp_tagtable *t = b->t;
	chunk_out *co = &b->chunks[c];
	size_t i = c * p->chunk_rows + co->live;
	uint64_t *w = t->bits + i * t->words;
	memset(w, 0, t->words * sizeof(*w));
	for (int k = 0; k < t->ntags; k++)
		if (cp_result_tag(res, k))
			w[k / 64] |= (uint64_t)1 << (k % 64);
	for (int k = 0; k < t->ntracks; k++)
		t->stages[i * (size_t)t->ntracks + (size_t)k] = (uint8_t)cp_result_stage(res, k);
	const char *key = cp_view_key(view);
	if (cp__buf_append(&co->keys, key, strlen(key) + 1) != CP_OK)
		return cp__pass_fail(p, CP_ENOMEM, "out of memory for the keys of the tag table");
	co->live++;
	return CP_OK;
}

/* Close the gaps (chunk order) and join the keys. */
static int pack(cp_tagtable *t, const cp__pass *p, chunk_out *chunks)
{
	size_t n = 0, bytes = 0;
	for (size_t c = 0; c < p->nchunks; c++) {
		size_t first = c * p->chunk_rows, live = chunks[c].live;
		if (first != n && live) {
			memmove(t->bits + n * t->words, t->bits + first * t->words,
			        live * t->words * sizeof(*t->bits));
			memmove(t->stages + n * (size_t)t->ntracks, t->stages + first * (size_t)t->ntracks,
			        live * (size_t)t->ntracks);
		}
		n += live;
		bytes += chunks[c].keys.len;
	}
	t->count = n;
	t->key_at = cp__calloc(n + 1, sizeof(*t->key_at));
	t->keys = cp__malloc(bytes + 1);
	if (!t->key_at || !t->keys)
		return CP_ENOMEM;
	size_t i = 0, at = 0;
	for (size_t c = 0; c < p->nchunks; c++) {
		const cp_buf *k = &chunks[c].keys;
		if (k->len)
			memcpy(t->keys + at, k->data, k->len);
		for (size_t pos = 0; pos < k->len; pos += strlen(k->data + pos) + 1)
			t->key_at[i++] = at + pos;
		at += k->len;
	}
	return CP_OK;
}

int cp_tagtable_build(cp_tagtable *t, const cp_store *store, const cp_batch_opts *opts)
{
	if (!t || !store)
		return CP_EINVAL;
	clear(t);
	cp__clear_error(&t->obj);
	build b = {t, NULL};
	cp__pass p;
	memset(&p, 0, sizeof(p));
	p.rs = t->rs;
	p.store = store;
	p.opts = opts;
	p.row = tag_row;
	p.ctx = &b;
	p.err = &t->obj;
	int rc = cp__pass_plan(&p);
	if (rc != CP_OK)
		return rc;
	size_t n = p.nrows ? p.nrows : 1;
	b.chunks = cp__calloc(p.nchunks + 1, sizeof(*b.chunks));
	t->bits = cp__calloc(n, (t->words ? t->words : 1) * sizeof(*t->bits));
	t->stages = cp__calloc(n, (size_t)t->ntracks + 1);
	if (!b.chunks || !t->bits || !t->stages) {
		rc = cp__fail(&t->obj, CP_ENOMEM, "out of memory for a tag table of %zu rows", p.nrows);
		goto out;
	}
	for (size_t c = 0; c < p.nchunks; c++)
		cp__buf_init(&b.chunks[c].keys);
	rc = cp__pass_run(&p);
	if (rc == CP_OK && pack(t, &p, b.chunks) != CP_OK)
		rc = cp__fail(&t->obj, CP_ENOMEM, "out of memory for the keys of the tag table");
out:
	if (b.chunks)
		for (size_t c = 0; c < p.nchunks; c++)
			cp__buf_free(&b.chunks[c].keys);
	cp__free(b.chunks);
	if (rc != CP_OK)
		clear(t);
	return rc;
}

/* ---- reading ---- */

size_t cp_tagtable_count(const cp_tagtable *t)
{
	return t ? t->count : 0;
}

const char *cp_tagtable_key(const cp_tagtable *t, size_t i)
{
	return t && i < t->count ? t->keys + t->key_at[i] : NULL;
}

int cp_tagtable_tag(const cp_tagtable *t, size_t i, int tag)
{
	if (!t || i >= t->count || tag < 0 || tag >= t->ntags)
		return 0;
	return (int)(t->bits[i * t->words + (size_t)tag / 64] >> (tag % 64)) & 1;
}

int cp_tagtable_next_tag(const cp_tagtable *t, size_t i, int tag)
{
	if (!t || i >= t->count || tag >= t->ntags)
		return -1;
	if (tag < 0)
		tag = 0;
	const uint64_t *w = t->bits + i * t->words;
	size_t k = (size_t)tag / 64;
	uint64_t bits = w[k] & (~(uint64_t)0 << (tag % 64));
	for (;;) {
		if (bits)
			return (int)(k * 64 + (size_t)__builtin_ctzll(bits));
		if (++k >= t->words)
			return -1;
		bits = w[k];
	}
}

int cp_tagtable_stage(const cp_tagtable *t, size_t i, int track)
{
	if (!t || i >= t->count || track < 0 || track >= t->ntracks)
		return -1;
	return t->stages[i * (size_t)t->ntracks + (size_t)track];
}
