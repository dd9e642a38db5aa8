/*
 * stagehist.c — the stage history that month closes record (DESIGN §6,
 * lifecycle.h): its publication in the store, its snapshot section, the
 * public accessors, and the transitions since a close.
 *
 * A close is a table (key, stage per track) sorted by the key's string id.
 * Keys are kept as ids, not text: an id costs 4 bytes and never changes
 * while the store lives, and snapshots keep every id as it is
 * (snapshot.c), so the section can be used in place from a mapping.
 */
#include "lifecycle.h"
#include "rules.h"

#include <stdlib.h>
#include <string.h>

#define STAGES_VERSION 1u
#define STAGE_COUNT 11 /* values of enum cp_stage */
#define MAX_TRACK_NAMES 65536u /* bytes of a close's track names */
#define ALIGN 8u

static uint64_t align8(uint64_t n)
{
	return (n + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

/* ---- lifetime ---- */

void cp__close_free(cp__close *c)
{
	if (!c)
		return;
	cp__free(c->tracks);
	cp__free(c->own);
	cp__free(c);
}

void cp__stagehist_free(cp__stagehist *h)
{
	while (h) {
		cp__stagehist *older = h->older;
		for (int i = 0; i < h->nowned; i++)
			cp__close_free(h->owned[i]);
		cp__free(h->owned);
		cp__free(h);
		h = older;
	}
}

const cp__stagehist *cp__stagehist_get(const cp_store *s)
{
	return s ? __atomic_load_n(&s->stagehist, __ATOMIC_ACQUIRE) : NULL;
}

/* A new history (unpublished) that owns the closes given. */
static cp__stagehist *hist_new(cp__close **owned, int nowned)
{
	cp__stagehist *h = cp__calloc(1, sizeof(*h));
	cp__close **o = cp__calloc((size_t)(nowned ? nowned : 1), sizeof(*o));
	if (!h || !o) {
		cp__free(h);
		cp__free(o);
		return NULL;
	}
	memcpy(o, owned, (size_t)nowned * sizeof(*o));
	h->owned = o;
	h->nowned = nowned;
	return h;
}

/* Publish h as the store's history; the one it replaces stays allocated
 * (readers may hold it) until the store is freed. */
void cp__stagehist_publish(cp_store *s, cp__stagehist *h)
{
	h->older = s->stagehist;
	__atomic_store_n(&s->stagehist, h, __ATOMIC_RELEASE);
}

int cp__stagehist_prepare(const cp_store *s, cp__close *c, cp__stagehist **out)
{
	cp__stagehist *h = hist_new(&c, 1);
	if (!h) {
		cp__close_free(c);
		return CP_ENOMEM;
	}
	const cp__stagehist *cur = s->stagehist;
	int keep = cur ? cur->nclose : 0;
	if (keep > s->schema->months - 1)
		keep = s->schema->months - 1;
	h->close[0] = c;
	for (int i = 0; i < keep; i++)
		h->close[i + 1] = cur->close[i];
	h->nclose = keep + 1;
	*out = h;
	return CP_OK;
}

/* ---- the snapshot section ---- */

/* Bytes of one close in the section. */
static uint64_t close_size(const cp__close *c, uint64_t names_len)
{
	return 16 + align8(names_len) + align8((uint64_t)c->n * 4) +
	       align8((uint64_t)c->n * (uint64_t)c->ntracks);
}

static uint64_t names_len(const cp__close *c)
{
	uint64_t n = 0;
	for (int t = 0; t < c->ntracks; t++)
		n += strlen(c->tracks[t]) + 1;
	return n;
}

uint64_t cp__stagehist_encoded_size(const cp__stagehist *h)
{
	uint64_t n = 16;
	for (int i = 0; h && i < h->nclose; i++)
		n += close_size(h->close[i], names_len(h->close[i]));
	return n;
}

static const uint8_t zeros[ALIGN];

/* n bytes of data, then zeros up to a multiple of 8 */
static int put_padded(int (*put)(void *, const void *, size_t), void *ctx, const void *data,
                      uint64_t n)
{
	int rc = n ? put(ctx, data, (size_t)n) : CP_OK;
	if (rc == CP_OK && align8(n) != n)
		rc = put(ctx, zeros, (size_t)(align8(n) - n));
	return rc;
}

int cp__stagehist_encode(const cp__stagehist *h, int (*put)(void *ctx, const void *data, size_t n),
                         void *ctx)
{
	uint32_t head[4] = {STAGES_VERSION, h ? (uint32_t)h->nclose : 0, 0, 0};
	int rc = put(ctx, head, sizeof(head));
	for (int i = 0; h && i < h->nclose && rc == CP_OK; i++) {
		const cp__close *c = h->close[i];
		uint64_t nl = names_len(c);
		uint32_t ch[4] = {(uint32_t)c->month, (uint32_t)c->ntracks, c->n, (uint32_t)nl};
		rc = put(ctx, ch, sizeof(ch));
		for (int t = 0; t < c->ntracks && rc == CP_OK; t++)
			rc = put(ctx, c->tracks[t], strlen(c->tracks[t]) + 1);
		if (rc == CP_OK && align8(nl) != nl)
			rc = put(ctx, zeros, (size_t)(align8(nl) - nl));
		if (rc == CP_OK)
			rc = put_padded(put, ctx, c->keys, (uint64_t)c->n * 4);
		if (rc == CP_OK)
			rc = put_padded(put, ctx, c->stages, (uint64_t)c->n * (uint64_t)c->ntracks);
	}
	return rc;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static bool month_ok(uint32_t m)
{
	return m >= 190001 && m <= 999912 && m % 100 >= 1 && m % 100 <= 12;
}

static int bad(const char **why, uint64_t *at, const char *what, uint64_t off)
{
	*why = what;
	*at = off;
	return CP_ECORRUPT;
}

/* One close's header and names at data + off (len bytes in all): checked,
 * and its place (keys at *keys_off, stages at *stages_off, next at *end). */
static int walk_close(const uint8_t *data, uint64_t len, uint64_t off, uint32_t *month,
                      uint32_t *ntracks, uint32_t *n, uint64_t *keys_off, uint64_t *stages_off,
                      uint64_t *end, const char **why, uint64_t *at)
{
	if (len - off < 16)
		return bad(why, at, "a close's header runs past the end", off);
	*month = get32(data + off);
	*ntracks = get32(data + off + 4);
	*n = get32(data + off + 8);
	uint32_t nl = get32(data + off + 12);
	if (!month_ok(*month))
		return bad(why, at, "a close's month is not yyyymm", off);
	if (*ntracks == 0 || nl > MAX_TRACK_NAMES || nl < 2 * *ntracks)
		return bad(why, at, "a close's track count or names length is out of range", off + 4);
	uint64_t names = off + 16;
	uint64_t size = 16 + align8(nl) + align8((uint64_t)*n * 4) +
	                align8((uint64_t)*n * (uint64_t)*ntracks);
	if (size > len - off)
		return bad(why, at, "a close runs past the end of the section", off);
	/* exactly ntracks names, each non-empty and NUL-terminated */
	uint32_t count = 0;
	for (uint64_t i = names, start = names; i < names + nl; i++) {
		if (data[i])
			continue;
		if (i == start)
			return bad(why, at, "an empty track name", i);
		count++;
		start = i + 1;
	}
	if (count != *ntracks || data[names + nl - 1] != '\0')
		return bad(why, at, "the track names do not match the track count", names);
	*keys_off = names + align8(nl);
	*stages_off = *keys_off + align8((uint64_t)*n * 4);
	*end = off + size;
	return CP_OK;
}

/* The section's header: version, close count, reserved zeros. */
static int check_head(const uint8_t *data, uint64_t len, const char **why, uint64_t *at)
{
	if (len < 16)
		return bad(why, at, "shorter than its header", 0);
	if (get32(data) != STAGES_VERSION)
		return bad(why, at, "unknown version of the stage history", 0);
	if (get32(data + 4) > CP_MAX_MONTHS)
		return bad(why, at, "more closes than months a series can hold", 4);
	if (get32(data + 8) || get32(data + 12))
		return bad(why, at, "a reserved field is not zero", 8);
	return CP_OK;
}

int cp__stagehist_decode(cp_store *s, const uint8_t *data, uint64_t len, const char **why,
                         uint64_t *at)
{
	int rc0 = check_head(data, len, why, at);
	if (rc0 != CP_OK)
		return rc0;
	uint32_t nclose = get32(data + 4);
	cp__close *closes[CP_MAX_MONTHS] = {0};
	uint64_t off = 16;
	int rc = CP_OK;
	for (uint32_t i = 0; i < nclose && rc == CP_OK; i++) {
		uint32_t month, ntracks, n;
		uint64_t koff, soff, end;
		rc = walk_close(data, len, off, &month, &ntracks, &n, &koff, &soff, &end, why, at);
		if (rc != CP_OK)
			break;
		cp__close *c = cp__calloc(1, sizeof(*c));
		const char **tracks = cp__calloc(ntracks, sizeof(*tracks));
		if (!c || !tracks) {
			cp__free(c);
			cp__free(tracks);
			rc = CP_ENOMEM;
			break;
		}
		c->month = (int)month;
		c->ntracks = (int)ntracks;
		c->tracks = tracks;
		c->names = (const char *)data + off + 16;
		for (uint32_t t = 0, k = 0; t < ntracks; t++) {
			tracks[t] = c->names + k;
			k += (uint32_t)strlen(tracks[t]) + 1;
		}
		c->n = n;
		c->keys = (const uint32_t *)(const void *)(data + koff);
		c->stages = data + soff;
		closes[i] = c;
		off = end;
	}
	if (rc == CP_OK && off != len)
		rc = bad(why, at, "bytes follow the last close", off);
	cp__stagehist *h = rc == CP_OK ? hist_new(closes, (int)nclose) : NULL;
	if (rc == CP_OK && !h)
		rc = CP_ENOMEM;
	if (rc != CP_OK) {
		for (uint32_t i = 0; i < nclose; i++)
			cp__close_free(closes[i]);
		if (rc == CP_ENOMEM)
			*why = "out of memory";
		return rc;
	}
	for (uint32_t i = 0; i < nclose; i++)
		h->close[i] = closes[i];
	h->nclose = (int)nclose;
	if (nclose)
		cp__stagehist_publish(s, h);
	else
		cp__stagehist_free(h);
	return CP_OK;
}

int cp__stagehist_check(const uint8_t *data, uint64_t len, const char *strings, uint64_t slen,
                        const char **why, uint64_t *at)
{
	int rc = check_head(data, len, why, at);
	if (rc != CP_OK)
		return rc;
	uint32_t nclose = get32(data + 4);
	uint64_t off = 16;
	for (uint32_t i = 0; i < nclose; i++) {
		uint32_t month, ntracks, n;
		uint64_t koff, soff, end;
		rc = walk_close(data, len, off, &month, &ntracks, &n, &koff, &soff, &end, why, at);
		if (rc != CP_OK)
			return rc;
		for (uint32_t e = 0; e < n; e++) {
			uint32_t id = get32(data + koff + (uint64_t)e * 4);
			if (id == 0 || id >= slen || strings[id - 1] != '\0')
				return bad(why, at, "a key is not a string of the pool", koff + (uint64_t)e * 4);
			if (e && id <= get32(data + koff + (uint64_t)(e - 1) * 4))
				return bad(why, at, "keys are not in ascending order", koff + (uint64_t)e * 4);
		}
		for (uint64_t k = 0; k < (uint64_t)n * ntracks; k++)
			if (data[soff + k] >= STAGE_COUNT)
				return bad(why, at, "a stage outside enum cp_stage", soff + k);
		off = end;
	}
	if (off != len)
		return bad(why, at, "bytes follow the last close", off);
	return CP_OK;
}

/* ---- accessors ---- */

static const cp__close *close_of(const cp_store *s, int close)
{
	const cp__stagehist *h = cp__stagehist_get(s);
	return h && close >= 0 && close < h->nclose ? h->close[close] : NULL;
}

/* A recorded stage as the API gives it (a damaged value reads as unknown). */
static int stage_at(const cp__close *c, size_t e, int track)
{
	uint8_t v = c->stages[e * (size_t)c->ntracks + (size_t)track];
	return v < STAGE_COUNT ? v : CP_STAGE_UNKNOWN;
}

/* The entry of key id, or -1. */
static int64_t find_key(const cp__close *c, uint32_t id)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->keys[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n && c->keys[lo] == id ? (int64_t)lo : -1;
}

int cp_store_stage_history_count(const cp_store *store)
{
	const cp__stagehist *h = cp__stagehist_get(store);
	return h ? h->nclose : 0;
}

int cp_store_stage_history_month(const cp_store *store, int close)
{
	const cp__close *c = close_of(store, close);
	return c ? c->month : 0;
}

size_t cp_store_stage_history_size(const cp_store *store, int close)
{
	const cp__close *c = close_of(store, close);
	return c ? c->n : 0;
}

int cp_store_stage_history_track_count(const cp_store *store, int close)
{
	const cp__close *c = close_of(store, close);
	return c ? c->ntracks : 0;
}

const char *cp_store_stage_history_track(const cp_store *store, int close, int track)
{
	const cp__close *c = close_of(store, close);
	return c && track >= 0 && track < c->ntracks ? c->tracks[track] : NULL;
}

int cp_store_stage_history_track_index(const cp_store *store, int close, const char *name)
{
	const cp__close *c = close_of(store, close);
	for (int t = 0; c && name && t < c->ntracks; t++)
		if (strcmp(c->tracks[t], name) == 0)
			return t;
	return CP_ENOTFOUND;
}

const char *cp_store_stage_history_key(const cp_store *store, int close, size_t i)
{
	const cp__close *c = close_of(store, close);
	if (!c || i >= c->n)
		return NULL;
	/* a key id read from a file is followed only inside the pool */
	uint32_t id = c->keys[i];
	if (!c->own && id >= store->strings.base_len)
		return NULL;
	return cp__store_str(store, id);
}

int cp_store_stage_history_stage(const cp_store *store, int close, size_t i, int track)
{
	const cp__close *c = close_of(store, close);
	if (!c || i >= c->n || track < 0 || track >= c->ntracks)
		return CP_STAGE_NONE;
	return stage_at(c, i, track);
}

int cp_view_stage_history(const cp_view *view, int close, int track)
{
	if (!view || !view->row)
		return CP_STAGE_NONE;
	const cp__close *c = close_of(view->store, close);
	if (!c || track < 0 || track >= c->ntracks)
		return CP_STAGE_NONE;
	int64_t e = find_key(c, cp__row_key_id(view->store->schema, view->row));
	return e < 0 ? CP_STAGE_NONE : stage_at(c, (size_t)e, track);
}

/* ---- transitions ---- */

/* from and to: CP_STAGE_NONE, then the stages */
#define NSTATES (STAGE_COUNT + 1)

struct cp_transitions {
	cp_obj obj;
	int month;
	int ntracks;
	uint64_t total;
	uint64_t *counts; /* [track][from + 1][to + 1] */
};

static uint64_t *cell(cp_transitions *tr, int track, int from, int to)
{
	return &tr->counts[((size_t)track * NSTATES + (size_t)(from + 1)) * NSTATES +
	                   (size_t)(to + 1)];
}

/* Count every profile now against close c; seen marks the entries met. */
static int count_profiles(cp_transitions *tr, cp_result *res, const cp_store *store,
                          const cp__close *c, const int *htrack, uint8_t *seen)
{
	cp_iter *it = NULL;
	cp_view *view = NULL;
	int rc;
	if (cp_iter_new(&it, store) != CP_OK || cp_view_new(&view, store) != CP_OK) {
		rc = cp__fail(&res->obj, CP_ENOMEM, "out of memory");
		goto out;
	}
	while ((rc = cp_iter_next(it, view)) == CP_OK) {
		if ((rc = cp_eval(res, view)) != CP_OK)
			goto out; /* the message is on res */
		int64_t e = find_key(c, cp__row_key_id(store->schema, view->row));
		if (e >= 0)
			seen[e >> 3] |= (uint8_t)(1u << (e & 7));
		for (int t = 0; t < tr->ntracks; t++) {
			int from = e >= 0 && htrack[t] >= 0 ? stage_at(c, (size_t)e, htrack[t])
			                                    : CP_STAGE_NONE;
			++*cell(tr, t, from, cp_result_stage(res, t));
		}
		tr->total++;
	}
	if (rc == CP_DONE)
		rc = CP_OK;
	else
		rc = cp__fail(&res->obj, rc, "%s", cp_errmsg(it));
out:
	cp_view_free(view);
	cp_iter_free(it);
	return rc;
}

int cp_transitions_new(cp_transitions **out, cp_result *res, const cp_store *store, int close)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!res || !store)
		return CP_EINVAL;
	const cp__close *c = close_of(store, close);
	if (!c)
		return cp__fail(&res->obj, CP_ENOTFOUND, "the store has no month close %d (%d "
		                "recorded)", close, cp_store_stage_history_count(store));
	const cp_ruleset *rs = res->rs;
	cp_transitions *tr = cp__calloc(1, sizeof(*tr));
	int *htrack = cp__calloc((size_t)rs->ntracks + 1, sizeof(int));
	uint8_t *seen = cp__calloc((size_t)c->n / 8 + 1, 1);
	int rc = CP_ENOMEM;
	if (!tr || !htrack || !seen)
		goto fail;
	cp__obj_init(&tr->obj, CP_OBJ_OTHER);
	tr->month = c->month;
	tr->ntracks = rs->ntracks;
	tr->counts = cp__calloc((size_t)rs->ntracks * NSTATES * NSTATES + 1, sizeof(uint64_t));
	if (!tr->counts)
		goto fail;
	for (int t = 0; t < rs->ntracks; t++) {
		htrack[t] = -1;
		for (int k = 0; k < c->ntracks; k++)
			if (strcmp(c->tracks[k], rs->tracks[t].name) == 0)
				htrack[t] = k;
	}
	if ((rc = count_profiles(tr, res, store, c, htrack, seen)) != CP_OK)
		goto fail_quiet;
	/* recorded, and without a profile now */
	for (uint32_t e = 0; e < c->n; e++) {
		if (seen[e >> 3] & (1u << (e & 7)))
			continue;
		for (int t = 0; t < tr->ntracks; t++)
			++*cell(tr, t, htrack[t] >= 0 ? stage_at(c, e, htrack[t]) : CP_STAGE_NONE,
			        CP_STAGE_NONE);
		tr->total++;
	}
	cp__free(htrack);
	cp__free(seen);
	*out = tr;
	return CP_OK;
fail:
	rc = cp__fail(&res->obj, CP_ENOMEM, "out of memory");
fail_quiet:
	cp__free(htrack);
	cp__free(seen);
	cp_transitions_free(tr);
	return rc;
}

void cp_transitions_free(cp_transitions *tr)
{
	if (!tr)
		return;
	cp__free(tr->counts);
	cp__obj_fini(&tr->obj);
	cp__free(tr);
}

int cp_transitions_month(const cp_transitions *tr)
{
	return tr ? tr->month : 0;
}

uint64_t cp_transitions_total(const cp_transitions *tr)
{
	return tr ? tr->total : 0;
}

uint64_t cp_transitions_count(const cp_transitions *tr, int track, int from, int to)
{
	if (!tr || track < 0 || track >= tr->ntracks || from < CP_STAGE_NONE ||
	    from >= STAGE_COUNT || to < CP_STAGE_NONE || to >= STAGE_COUNT)
		return 0;
	return *cell((cp_transitions *)tr, track, from, to);
}
