/*
 * lifecycle.h — lifecycle stages beyond the rule language (DESIGN §6):
 * the customer-lifecycle value drivers (lifecycle.c), the stage history
 * that month closes record (stagehist.c), the month close itself and the
 * merge of a new month's export (month.c).
 */
#ifndef CP_LIFECYCLE_H
#define CP_LIFECYCLE_H

#include "store.h"

/* ---- value drivers (lifecycle.c) ---- */

/* The eleven drivers of the customer-lifecycle model, in the model's order
 * along the lifetime (purchase_intent ... winback). */
#define CP_DRIVER_COUNT 11
extern const char *const cp__driver_ids[CP_DRIVER_COUNT];
/* Index of a driver id, or -1. */
int cp__driver_index(const char *id);

/* ---- the stage history (stagehist.c) ---- */

/* Closes kept: one per month, as deep as the schema's series (older ones
 * drop off as the oldest month of a series does). */

/*
 * One month close: the stage of every subscriber per track, as the
 * ruleset gave them on the month closed.  Entries are sorted by the key's
 * string id (the store's pool: ids never change while the store lives and
 * are kept by snapshots), so a profile's entry is found by binary search
 * on the key id its row holds.  The arrays lie in memory the close owns
 * (own) or in a snapshot's mapping.
 */
typedef struct cp__close {
	int month;               /* yyyymm of the month closed */
	int ntracks;
	const char **tracks;     /* track names (owned array; strings in names) */
	const char *names;       /* ntracks NUL-terminated names */
	uint32_t n;              /* entries */
	const uint32_t *keys;    /* n key string ids, ascending */
	const uint8_t *stages;   /* n * ntracks stages (enum cp_stage), entry-major */
	void *own;               /* owned block of names/keys/stages, or NULL */
} cp__close;

/*
 * The history: closes, latest first.  Published by a pointer store of
 * cp_store (atomic); a history is never changed once published, and the
 * ones it replaced stay allocated until the store is freed (older), so a
 * reader holding one never sees it freed.
 */
typedef struct cp__stagehist {
	struct cp__stagehist *older; /* histories this one replaced */
	int nclose;
	cp__close *close[CP_MAX_MONTHS];
	cp__close **owned;           /* closes this history made (freed with it) */
	int nowned;
} cp__stagehist;

/* The store's history (any thread), or NULL if no month was closed. */
const cp__stagehist *cp__stagehist_get(const cp_store *s);
/* Free every history of a store (cp_store_free). */
void cp__stagehist_free(cp__stagehist *h);

/*
 * Snapshot section (custprof-snapshot(5), "Stage history"): the size of
 * the encoded history, and its bytes through put (which returns CP_OK or a
 * failure code it recorded); all of the store's history, ids as they are.
 */
uint64_t cp__stagehist_encoded_size(const cp__stagehist *h);
int cp__stagehist_encode(const cp__stagehist *h, int (*put)(void *ctx, const void *data, size_t n),
                         void *ctx);
/*
 * Decode a section found in a snapshot (data: aligned to 8, valid while
 * the store lives) and give it to s.  The structure is checked (counts,
 * lengths, names, stages in range, keys ascending); key ids are checked
 * against the string pool only where they are used.  CP_OK, or
 * CP_ECORRUPT with *why (static) and the offset within the section in *at.
 */
int cp__stagehist_decode(cp_store *s, const uint8_t *data, uint64_t len, const char **why,
                         uint64_t *at);
/* Check a section as decode does and then every entry: keys strings of
 * the pool (bytes[0..slen)), ascending; stages in range (verify).  CP_OK
 * or CP_ECORRUPT with *why and *at as above. */
int cp__stagehist_check(const uint8_t *data, uint64_t len, const char *strings, uint64_t slen,
                        const char **why, uint64_t *at);

/* A new history of s with c as its latest close (the oldest close drops off
 * beyond the schema's depth), not published yet: it owns c (freed on
 * failure too; cp__stagehist_free frees an unpublished one).  CP_OK or
 * CP_ENOMEM. */
int cp__stagehist_prepare(const cp_store *s, cp__close *c, cp__stagehist **out);
/* Make h the store's history (writer thread). */
void cp__stagehist_publish(cp_store *s, cp__stagehist *h);
void cp__close_free(cp__close *c);

/* ---- month close and merge (month.c) ---- */

/*
 * Make the draft p the profile stored in row (a row of s, read by the
 * writer thread): cells copied, strings and item lists copied into the
 * draft's pools.  CP_OK or CP_ENOMEM.
 */
int cp__profile_from_row(cp_profile *p, const cp_store *s, const uint8_t *row);

#endif /* CP_LIFECYCLE_H */
