/*
 * check_concurrency.c — readers never see a half-written profile (DESIGN
 * §3): one writer thread puts, replaces and deletes profiles while reader
 * threads look profiles up and iterate the store, checking each profile
 * they read against a checksum the writer computed over all its cells.
 * Run on a store made in memory and on a store opened from a snapshot
 * (base rows replaced through the overlay, new keys, its log written).
 *
 * `make check-tsan` builds this test with ThreadSanitizer (tests/tsan.sh).
 * STRESS_UPDATES sets the size of the run (default 4000: 1000 updates that grow
 * the store, then 40000 rewrites of hot keys).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char schema_yaml[] =
	"custprof: 1\n"
	"schema: stress\n"
	"months: 4\n"
	"key: msisdn\n"
	"fields:\n"
	"  msisdn:   {type: string, normalize: msisdn-cn}\n"
	"  seq:      {type: int}\n"
	"  name:     {type: string, personal: true}\n"
	"  brand:    {type: enum, values: [gotone, szx, mzone]}\n"
	"  region:   {type: enum}\n"
	"  vip:      {type: bool}\n"
	"  arpu:     {type: money, series: true}\n"
	"  gprs:     {type: float, series: true}\n"
	"  apps:     {type: set, series: true}\n"
	"  tones:    {type: list, max: 3}\n"
	"  checksum: {type: int}\n";

enum { F_KEY, F_SEQ, F_NAME, F_BRAND, F_REGION, F_VIP, F_ARPU, F_GPRS, F_APPS, F_TONES, F_SUM };

#define KEYS 3000
#define READERS 3
#define HOT 16      /* keys the writer rewrites in a tight loop at the end */
#define VERSIONS 16 /* prepared versions of each */

static cp_schema *schema;
static char *dir;

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
	return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	while (*s)
		h = mix(h, (unsigned char)*s++);
	return mix(h, 0xff);
}

/* The checksum of a profile from its cells' text forms (what a reader
 * sees), every cell but the checksum itself. */
static uint64_t checksum_view(const cp_view *v)
{
	uint64_t h = 1;
	char buf[256];
	for (int f = 0; f < F_SUM; f++)
		for (int m = 0; m < cp_schema_field_months(schema, f); m++) {
			cp_view_text(v, f, m, buf, sizeof(buf));
			h = mix_str(h, buf);
		}
	return h & 0x7fffffffffffffffu;
}

/* Profile of key k at version seq: every cell depends on seq. */
static void fill(cp_profile *p, int k, int64_t seq)
{
	static const char *const brands[] = {"gotone", "szx", "mzone"};
	char buf[64];
	cp_profile_clear(p);
	snprintf(buf, sizeof(buf), "139%08d", k);
	ck_assert_int_eq(cp_profile_set_text(p, F_KEY, 0, buf), CP_OK);
	ck_assert_int_eq(cp_profile_set_int(p, F_SEQ, 0, seq), CP_OK);
	snprintf(buf, sizeof(buf), "客户%lld", (long long)seq);
	ck_assert_int_eq(cp_profile_set_string(p, F_NAME, 0, buf), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(p, F_BRAND, 0, brands[seq % 3]), CP_OK);
	snprintf(buf, sizeof(buf), "区%lld", (long long)(seq % 97));
	ck_assert_int_eq(cp_profile_set_string(p, F_REGION, 0, buf), CP_OK);
	ck_assert_int_eq(cp_profile_set_bool(p, F_VIP, 0, (int)(seq & 1)), CP_OK);
	for (int m = 0; m < 4; m++) {
		ck_assert_int_eq(cp_profile_set_money(p, F_ARPU, m, seq * 10 + m), CP_OK);
		ck_assert_int_eq(cp_profile_set_float(p, F_GPRS, m, (double)seq / (m + 1)), CP_OK);
		snprintf(buf, sizeof(buf), "a%lld;b%d;c%lld", (long long)(seq % 11), m,
		         (long long)seq);
		ck_assert_int_eq(cp_profile_set_text(p, F_APPS, m, buf), CP_OK);
	}
	snprintf(buf, sizeof(buf), "t%lld;u;v%lld", (long long)seq, (long long)(seq % 5));
	ck_assert_int_eq(cp_profile_set_text(p, F_TONES, 0, buf), CP_OK);
}

/* The checksum the writer stores: computed through a private store, so it
 * is exactly what a reader's view of the same cells gives. */
static int64_t checksum_of(cp_profile *p, int k, cp_store *scratch, cp_view *v)
{
	char key[32];
	snprintf(key, sizeof(key), "139%08d", k);
	ck_assert_int_eq(cp_store_put(scratch, p, NULL), CP_OK);
	ck_assert_int_eq(cp_store_get(scratch, key, v), CP_OK);
	return (int64_t)checksum_view(v);
}

typedef struct stress {
	cp_store *store;
	atomic_bool done;
	atomic_long reads, profiles_checked, iterations;
	atomic_long bad;
	long updates;
	char first_bad[256];
	pthread_mutex_t lock;
} stress;

static void note_bad(stress *st, const char *what)
{
	if (atomic_fetch_add(&st->bad, 1) == 0) {
		pthread_mutex_lock(&st->lock);
		snprintf(st->first_bad, sizeof(st->first_bad), "%s", what);
		pthread_mutex_unlock(&st->lock);
	}
}

/* A profile as a reader sees it: its checksum cell matches its cells, and
 * its key is the one looked up (when one was). */
static void check_view(stress *st, const cp_view *v, const char *key)
{
	int64_t want = cp_view_int(v, F_SUM, 0);
	int64_t have = (int64_t)checksum_view(v);
	if (want != have) {
		char what[200];
		snprintf(what, sizeof(what), "profile %s (seq %lld): checksum %lld, cells give %lld",
		         cp_view_key(v), (long long)cp_view_int(v, F_SEQ, 0), (long long)want,
		         (long long)have);
		note_bad(st, what);
	}
	if (key && strcmp(cp_view_key(v), key) != 0)
		note_bad(st, "a lookup gave another key's profile");
	atomic_fetch_add(&st->profiles_checked, 1);
}

static void *reader(void *arg)
{
	stress *st = arg;
	cp_view *v;
	cp_iter *it = NULL;
	if (cp_view_new(&v, st->store) != CP_OK)
		return NULL;
	uint64_t x = (uint64_t)(uintptr_t)&v | 1;
	char key[32];
	long n = 0;
	while (!atomic_load(&st->done)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* half the lookups on the keys the writer rewrites most */
		int k = x & 1 ? (int)((x >> 8) % HOT) : (int)((x >> 8) % (KEYS + 100));
		snprintf(key, sizeof(key), "139%08d", k);
		int rc = cp_store_get(st->store, key, v);
		if (rc == CP_OK)
			check_view(st, v, key);
		else if (rc != CP_ENOTFOUND)
			note_bad(st, "a lookup failed");
		atomic_fetch_add(&st->reads, 1);
		if (++n % 2000 == 0) { /* now and then, the whole store */
			if (cp_iter_new(&it, st->store) != CP_OK)
				break;
			while ((rc = cp_iter_next(it, v)) == CP_OK)
				check_view(st, v, NULL);
			if (rc != CP_DONE)
				note_bad(st, "an iteration failed");
			cp_iter_free(it);
			atomic_fetch_add(&st->iterations, 1);
		}
		if (cp_store_count(st->store) > KEYS)
			note_bad(st, "more profiles than keys");
	}
	cp_view_free(v);
	return NULL;
}

/*
 * The writer: first the store grows (new keys, replacements, deletes: the
 * index and the pools grow while readers read), then it rewrites a few hot
 * keys in a tight loop from prepared versions, so that writes and reads of
 * the same rows overlap as often as they can.
 */
static void *writer(void *arg)
{
	stress *st = arg;
	cp_profile *p, *hot[HOT * VERSIONS];
	cp_store *scratch;
	cp_view *v;
	ck_assert_int_eq(cp_profile_new(&p, schema), CP_OK);
	ck_assert_int_eq(cp_store_new(&scratch, schema), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, scratch), CP_OK);
	for (int i = 0; i < HOT * VERSIONS; i++) {
		ck_assert_int_eq(cp_profile_new(&hot[i], schema), CP_OK);
		fill(hot[i], i % HOT, 500000 + i);
		int64_t sum = checksum_of(hot[i], i % HOT, scratch, v);
		ck_assert_int_eq(cp_profile_set_int(hot[i], F_SUM, 0, sum), CP_OK);
	}
	uint64_t x = 0x2545F4914F6CDD1Du;
	char key[32];
	long grow = st->updates / 4;
	for (long i = 0; i < grow; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		long span = 100 + (KEYS - 100) * i / grow;
		int k = (int)(x % (uint64_t)span);
		if ((x >> 40) % 10 == 0) {
			snprintf(key, sizeof(key), "139%08d", k);
			int rc = cp_store_delete(st->store, key);
			if (rc != CP_OK && rc != CP_ENOTFOUND)
				note_bad(st, "a delete failed");
			continue;
		}
		fill(p, k, 1000 + i);
		int64_t sum = checksum_of(p, k, scratch, v);
		ck_assert_int_eq(cp_profile_set_int(p, F_SUM, 0, sum), CP_OK);
		if (cp_store_put(st->store, p, NULL) != CP_OK)
			note_bad(st, "a put failed");
	}
	for (long i = 0; i < 10 * st->updates; i++) {
		if (i % 97 == 0) {
			snprintf(key, sizeof(key), "139%08d", (int)(i % HOT));
			cp_store_delete(st->store, key); /* the row goes back to a free list */
		}
		if (cp_store_put(st->store, hot[i % (HOT * VERSIONS)], NULL) != CP_OK)
			note_bad(st, "a put failed");
	}
	atomic_store(&st->done, true);
	for (int i = 0; i < HOT * VERSIONS; i++)
		cp_profile_free(hot[i]);
	cp_view_free(v);
	cp_store_free(scratch);
	cp_profile_free(p);
	return NULL;
}

static long updates_wanted(void)
{
	const char *e = getenv("STRESS_UPDATES");
	return e && atol(e) > 0 ? atol(e) : 4000;
}

static void run(cp_store *s)
{
	stress st;
	memset(&st, 0, sizeof(st));
	st.store = s;
	st.updates = updates_wanted();
	pthread_mutex_init(&st.lock, NULL);
	pthread_t r[READERS], w;
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_create(&r[i], NULL, reader, &st), 0);
	ck_assert_int_eq(pthread_create(&w, NULL, writer, &st), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	pthread_mutex_destroy(&st.lock);
	ck_assert_msg(atomic_load(&st.bad) == 0, "%ld bad reads; first: %s",
	              atomic_load(&st.bad), st.first_bad);
	ck_assert_int_gt(atomic_load(&st.reads), 0);
	ck_assert_int_gt(atomic_load(&st.profiles_checked), 0);
	/* and afterwards, everything checks */
	cp_iter *it;
	cp_view *v;
	ck_assert_int_eq(cp_iter_new(&it, s), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, s), CP_OK);
	size_t n = 0;
	while (cp_iter_next(it, v) == CP_OK) {
		check_view(&st, v, NULL);
		n++;
	}
	ck_assert_uint_eq(n, cp_store_count(s));
	ck_assert_int_eq(atomic_load(&st.bad), 0);
	cp_view_free(v);
	cp_iter_free(it);
}

static void setup(void)
{
	ck_assert_int_eq(cp_schema_load_memory(&schema, schema_yaml, strlen(schema_yaml),
	                                       "stress.yaml", NULL), CP_OK);
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	cp_schema_free(schema);
	tu_rmdir(dir);
	free(dir);
}

START_TEST(test_readers_and_a_writer_in_memory)
{
	cp_store *s;
	ck_assert_int_eq(cp_store_new(&s, schema), CP_OK);
	run(s);
	cp_store_free(s);
}
END_TEST

START_TEST(test_readers_and_a_writer_on_a_snapshot)
{
	/* a base of half the keys, then the writer over it (and its log) */
	cp_store *s, *scratch;
	cp_profile *p;
	cp_view *v;
	ck_assert_int_eq(cp_store_new(&s, schema), CP_OK);
	ck_assert_int_eq(cp_store_new(&scratch, schema), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, schema), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, scratch), CP_OK);
	for (int k = 0; k < KEYS; k += 2) {
		fill(p, k, k);
		ck_assert_int_eq(cp_profile_set_int(p, F_SUM, 0, checksum_of(p, k, scratch, v)), CP_OK);
		ck_assert_int_eq(cp_store_put(s, p, NULL), CP_OK);
	}
	char *path = strdup(tu_path(dir, "s.cps"));
	ck_assert_int_eq(cp_store_save(s, path, 0), CP_OK);
	cp_store_free(s);
	cp_view_free(v);
	cp_store_free(scratch);
	cp_profile_free(p);
	ck_assert_int_eq(cp_store_open(&s, path, NULL), CP_OK);
	ck_assert_int_eq(cp_store_set_sync(s, CP_SYNC_NONE, 0), CP_OK);
	run(s);
	/* what the readers saw is what the files hold */
	cp_store *back;
	ck_assert_int_eq(cp_store_open(&back, path, NULL), CP_OK);
	ck_assert_uint_eq(cp_store_count(back), cp_store_count(s));
	cp_store_free(back);
	cp_store_free(s);
	free(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("concurrency");
	TCase *tc = tcase_create("stress");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_readers_and_a_writer_in_memory);
	tcase_add_test(tc, test_readers_and_a_writer_on_a_snapshot);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
