/*
 * check_batch.c — the batch module (DESIGN §8) and ad-hoc queries: the tag
 * table, counts and cross-tabs, target lists and their CSV, each compared
 * with a brute-force computation written here over random stores (seeded;
 * the seed is printed on failure), for 1, 2 and 8 threads and chunks of
 * many sizes; ties, nulls, limits, cancellation, empty stores, every error.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

/* ---- fixtures ---- */

static const char pack_yaml[] =
	"custprof: 1\n"
	"pack: t\n"
	"params:\n"
	"  big: 30\n"
	"  hot: ['north', 'east']\n"
	"metrics:\n"
	"  - id: arpu3\n"
	"    label: 三月ARPU\n"
	"    expr: sum(arpu[0..2])\n"
	"  - id: heavy\n"
	"    expr: coalesce(score, 0) * 10 + coalesce(age, 0)\n"
	"tags:\n"
	"  - {id: rich, label: 高价值, when: 'arpu3 > $big'}\n"
	"  - {id: vip, label: 贵宾, when: vip}\n"
	"  - {id: young, label: 年轻, when: age < 30}\n"
	"  - {id: hot, label: 热点, when: region in $hot}\n"
	"  - {id: silent, label: 沉默, when: 'none(active[0..2])'}\n"
	"  - {id: busy, when: 'sum(sessions[0..5]) > 40'}\n"
	"groups:\n"
	"  - id: value\n"
	"    label: 价值\n"
	"    members: [rich, vip]\n"
	"    otherwise: plain\n"
	"lifecycle:\n"
	"  - track: life\n"
	"    label: 生命\n"
	"    stages:\n"
	"      - {stage: churned, when: not vip and age > 60}\n"
	"      - {stage: growth, when: arpu3 > 50}\n"
	"    otherwise: maturity\n"
	"  - track: svc\n"
	"    stages:\n"
	"      - {stage: silent, when: \"tag('t.silent')\"}\n"
	"    otherwise: growth\n";

/* a second pack that also declares $big */
static const char pack2_yaml[] =
	"custprof: 1\n"
	"pack: u\n"
	"params:\n"
	"  big: 99\n"
	"tags:\n"
	"  - {id: big, when: 'arpu[0] > $big'}\n";

static cp_schema *S;
static cp_ruleset *RS;

static void setup(void)
{
	S = tu_schema();
	cp_rules_opts *o;
	cp_diag *d;
	ck_assert_int_eq(cp_rules_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	ck_assert_int_eq(cp_rules_opts_add_memory(o, pack_yaml, strlen(pack_yaml), "t.yaml"), CP_OK);
	int rc = cp_ruleset_compile(&RS, S, o, d);
	for (size_t i = 0; i < cp_diag_count(d); i++)
		fprintf(stderr, "%s\n", cp_diag_format(d, i));
	ck_assert_int_eq(rc, CP_OK);
	cp_diag_free(d);
	cp_rules_opts_free(o);
	cp__batch_chunk_rows = 0;
}

static void teardown(void)
{
	cp_ruleset_free(RS);
	cp_schema_free(S);
	RS = NULL;
	S = NULL;
	cp__batch_chunk_rows = 0;
}

/* ---- random stores ---- */

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void set(cp_profile *p, const char *field, int month, const char *text)
{
	int f = cp_schema_field_index(S, field);
	ck_assert_int_ge(f, 0);
	int rc = cp_profile_set_text(p, f, month, text);
	ck_assert_msg(rc == CP_OK, "%s[%d] = '%s': %s", field, month, text, cp_errmsg(p));
}

/* Half of the values, maybe: a value 4 times in 5. */
static bool some(void)
{
	return rnd(5) != 0;
}

static void random_profile(cp_profile *p, unsigned id)
{
	static const char *const brands[] = {"gotone", "szx", "mzone"};
	static const char *const regions[] = {"north", "east", "south", "west", "中部", "north-east"};
	static const char *const names[] = {"a", "b", "张三", "a,b", "x\"y", "zz"};
	static const char *const items[] = {"a", "b", "c", "d"};
	char buf[64];
	cp_profile_clear(p);
	/* keys in an order other than the store's */
	snprintf(buf, sizeof(buf), "138%08u", (id * 7919u) % 100000000u);
	set(p, "msisdn", 0, buf);
	if (some())
		set(p, "brand", 0, brands[rnd(3)]);
	if (some())
		set(p, "region", 0, regions[rnd(6)]);
	if (some())
		set(p, "name", 0, names[rnd(6)]);
	if (some()) {
		snprintf(buf, sizeof(buf), "%u", 15 + rnd(60));
		set(p, "age", 0, buf);
	}
	if (some()) {
		snprintf(buf, sizeof(buf), "%u.%u", rnd(3), rnd(10)); /* ties on purpose */
		set(p, "score", 0, buf);
	}
	if (some())
		set(p, "vip", 0, rnd(2) ? "1" : "0");
	if (some()) {
		snprintf(buf, sizeof(buf), "%s%u.%02u", rnd(4) ? "" : "-", rnd(50), rnd(100));
		set(p, "overdue", 0, buf);
	}
	if (some()) {
		snprintf(buf, sizeof(buf), "20%02u-%02u-%02u", 10 + rnd(16), 1 + rnd(12), 1 + rnd(28));
		set(p, "join_date", 0, buf);
	}
	if (some()) {
		int n = (int)rnd(4);
		buf[0] = '\0';
		for (int i = 0; i < n; i++) {
			if (i)
				strcat(buf, ";");
			strcat(buf, items[rnd(4)]);
		}
		if (n)
			set(p, "addons", 0, buf);
		else
			set(p, "addons", 0, "");
	}
	if (some()) {
		int n = 1 + (int)rnd(3);
		buf[0] = '\0';
		for (int i = 0; i < n; i++) {
			if (i)
				strcat(buf, ";");
			strcat(buf, items[rnd(3)]);
		}
		set(p, "tones", 0, buf);
	}
	for (int m = 0; m < 6; m++) {
		if (some()) {
			snprintf(buf, sizeof(buf), "%u.%u", rnd(40), rnd(10));
			set(p, "arpu", m, buf);
		}
		if (some()) {
			snprintf(buf, sizeof(buf), "%u", rnd(15));
			set(p, "sessions", m, buf);
		}
		if (some())
			set(p, "active", m, rnd(3) ? "1" : "0");
		if (some()) {
			snprintf(buf, sizeof(buf), "%u.%u", rnd(9), rnd(10));
			set(p, "gprs_mb", m, buf);
		}
	}
}

/* A store of n random profiles, some of them deleted again (gaps). */
static cp_store *random_store(uint64_t seed, unsigned n)
{
	cp_store *st;
	cp_profile *p;
	rng = seed * 2654435761u + 88172645463325252u;
	ck_assert_int_eq(cp_store_new(&st, S), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(st, 202610), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, S), CP_OK);
	for (unsigned i = 0; i < n; i++) {
		random_profile(p, i);
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	}
	for (unsigned i = 0; i < n / 10; i++) {
		char key[32];
		snprintf(key, sizeof(key), "138%08u", (rnd(n) * 7919u) % 100000000u);
		cp_store_delete(st, key); /* may be gone already */
	}
	cp_profile_free(p);
	return st;
}

static cp_batch_opts *opts_threads(int threads)
{
	cp_batch_opts *o;
	ck_assert_int_eq(cp_batch_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_batch_opts_set_threads(o, threads), CP_OK);
	return o;
}

/* thread counts and chunk sizes every comparison runs with */
static const int THREADS[] = {1, 2, 8};
static const size_t CHUNKS[] = {0, 1, 7, 100000};

/* ---- the tag table ---- */

/* The table equals cp_eval of every profile in store order. */
static void check_table(const cp_tagtable *t, const cp_ruleset *rs, const cp_store *st,
                        uint64_t seed)
{
	cp_result *res;
	cp_view *v;
	cp_iter *it;
	ck_assert_int_eq(cp_result_new(&res, rs), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, st), CP_OK);
	ck_assert_int_eq(cp_iter_new(&it, st), CP_OK);
	size_t i = 0;
	while (cp_iter_next(it, v) == CP_OK) {
		ck_assert_int_eq(cp_eval(res, v), CP_OK);
		ck_assert_msg(i < cp_tagtable_count(t), "seed %llu", (unsigned long long)seed);
		ck_assert_str_eq(cp_tagtable_key(t, i), cp_view_key(v));
		int next = cp_tagtable_next_tag(t, i, 0);
		for (int k = 0; k < cp_ruleset_tag_count(rs); k++) {
			ck_assert_msg(cp_tagtable_tag(t, i, k) == cp_result_tag(res, k),
			              "seed %llu profile %zu tag %d", (unsigned long long)seed, i, k);
			if (cp_result_tag(res, k)) {
				ck_assert_int_eq(next, k);
				next = cp_tagtable_next_tag(t, i, k + 1);
			}
		}
		ck_assert_int_eq(next, -1);
		for (int k = 0; k < cp_ruleset_track_count(rs); k++)
			ck_assert_int_eq(cp_tagtable_stage(t, i, k), cp_result_stage(res, k));
		i++;
	}
	ck_assert_uint_eq(i, cp_tagtable_count(t));
	ck_assert_uint_eq(i, cp_store_count(st));
	cp_iter_free(it);
	cp_view_free(v);
	cp_result_free(res);
}

START_TEST(test_tagtable)
{
	for (uint64_t seed = 1; seed <= 3; seed++) {
		cp_store *st = random_store(seed, 300 + 200 * (unsigned)seed);
		for (size_t c = 0; c < sizeof(CHUNKS) / sizeof(CHUNKS[0]); c++) {
			cp__batch_chunk_rows = CHUNKS[c];
			for (size_t k = 0; k < sizeof(THREADS) / sizeof(THREADS[0]); k++) {
				cp_batch_opts *o = opts_threads(THREADS[k]);
				cp_tagtable *t;
				ck_assert_int_eq(cp_tagtable_new(&t, RS), CP_OK);
				ck_assert_int_eq(cp_tagtable_build(t, st, o), CP_OK);
				check_table(t, RS, st, seed);
				/* a second build replaces the first */
				ck_assert_int_eq(cp_tagtable_build(t, st, NULL), CP_OK);
				check_table(t, RS, st, seed);
				cp_tagtable_free(t);
				cp_batch_opts_free(o);
			}
		}
		cp_store_free(st);
	}
}
END_TEST

START_TEST(test_tagtable_edges)
{
	cp_tagtable *t;
	ck_assert_int_eq(cp_tagtable_new(&t, RS), CP_OK);
	/* nothing built: empty */
	ck_assert_uint_eq(cp_tagtable_count(t), 0);
	ck_assert_ptr_null(cp_tagtable_key(t, 0));
	ck_assert_int_eq(cp_tagtable_tag(t, 0, 0), 0);
	ck_assert_int_eq(cp_tagtable_next_tag(t, 0, 0), -1);
	ck_assert_int_eq(cp_tagtable_stage(t, 0, 0), -1);
	/* an empty store */
	cp_store *st;
	ck_assert_int_eq(cp_store_new(&st, S), CP_OK);
	ck_assert_int_eq(cp_tagtable_build(t, st, NULL), CP_OK);
	ck_assert_uint_eq(cp_tagtable_count(t), 0);
	cp_store_free(st);
	/* out of range on a built table */
	st = random_store(9, 50);
	ck_assert_int_eq(cp_tagtable_build(t, st, NULL), CP_OK);
	size_t n = cp_tagtable_count(t);
	ck_assert_uint_eq(n, cp_store_count(st));
	ck_assert_ptr_null(cp_tagtable_key(t, n));
	ck_assert_int_eq(cp_tagtable_tag(t, 0, -1), 0);
	ck_assert_int_eq(cp_tagtable_tag(t, 0, cp_ruleset_tag_count(RS)), 0);
	ck_assert_int_eq(cp_tagtable_next_tag(t, 0, cp_ruleset_tag_count(RS)), -1);
	ck_assert_int_eq(cp_tagtable_stage(t, 0, 2), -1);
	ck_assert_int_eq(cp_tagtable_stage(t, n, 0), -1);
	/* a store of another schema */
	cp_schema *other;
	ck_assert_int_eq(cp_schema_default(&other), CP_OK);
	cp_store *st2;
	ck_assert_int_eq(cp_store_new(&st2, other), CP_OK);
	ck_assert_int_eq(cp_tagtable_build(t, st2, NULL), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(t),
	                 "the store's schema 'cmcc-default' does not match the ruleset's schema 'test'");
	ck_assert_uint_eq(cp_tagtable_count(t), 0);
	cp_store_free(st2);
	cp_schema_free(other);
	/* arguments */
	cp_tagtable *none = t;
	ck_assert_int_eq(cp_tagtable_new(NULL, RS), CP_EINVAL);
	ck_assert_int_eq(cp_tagtable_new(&none, NULL), CP_EINVAL);
	ck_assert_ptr_null(none);
	ck_assert_int_eq(cp_tagtable_build(NULL, st, NULL), CP_EINVAL);
	cp_tagtable_free(NULL);
	cp_tagtable_free(t);
	cp_store_free(st);
}
END_TEST

/* ---- options and cancellation ---- */

typedef struct prog {
	int calls, cancel_at;
	uint64_t last_done, total;
	bool monotonic;
} prog;

static int on_progress(uint64_t done, uint64_t total, void *data)
{
	prog *p = data;
	if (done < p->last_done || (p->calls && total != p->total))
		p->monotonic = false;
	p->last_done = done;
	p->total = total;
	p->calls++;
	return p->cancel_at && p->calls >= p->cancel_at;
}

START_TEST(test_options)
{
	cp_batch_opts *o;
	ck_assert_int_eq(cp_batch_opts_new(NULL), CP_EINVAL);
	ck_assert_int_eq(cp_batch_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_batch_opts_set_threads(o, -1), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(o), "threads must be 0 (one per processor) .. 256, not -1");
	ck_assert_int_eq(cp_batch_opts_set_threads(o, CP_BATCH_MAX_THREADS + 1), CP_EINVAL);
	ck_assert_int_eq(cp_batch_opts_set_threads(o, CP_BATCH_MAX_THREADS), CP_OK);
	ck_assert_int_eq(cp_batch_opts_set_threads(o, 0), CP_OK);
	ck_assert_int_eq(cp_batch_opts_set_threads(NULL, 1), CP_EINVAL);
	ck_assert_int_eq(cp_batch_opts_set_progress(NULL, on_progress, NULL), CP_EINVAL);
	cp_batch_opts_free(o);
	cp_batch_opts_free(NULL);
}
END_TEST

START_TEST(test_progress_and_cancel)
{
	cp_store *st = random_store(4, 600);
	cp__batch_chunk_rows = 16;
	for (int threads = 1; threads <= 4; threads *= 2) {
		/* every call: done never goes back; the last is done == total */
		prog pr = {0, 0, 0, 0, true};
		cp_batch_opts *o = opts_threads(threads);
		ck_assert_int_eq(cp_batch_opts_set_progress(o, on_progress, &pr), CP_OK);
		cp_tagtable *t;
		ck_assert_int_eq(cp_tagtable_new(&t, RS), CP_OK);
		ck_assert_int_eq(cp_tagtable_build(t, st, o), CP_OK);
		ck_assert(pr.monotonic);
		ck_assert_int_ge(pr.calls, threads == 1 ? 2 : 1);
		ck_assert_uint_eq(pr.last_done, pr.total);
		ck_assert_uint_ge(pr.total, cp_store_count(st));
		/* cancelled at the first call, and (one thread: a call after every
		 * chunk) at the third */
		for (int at = 1; at <= (threads == 1 ? 3 : 1); at += 2) {
			prog c = {0, at, 0, 0, true};
			ck_assert_int_eq(cp_batch_opts_set_progress(o, on_progress, &c), CP_OK);
			ck_assert_int_eq(cp_tagtable_build(t, st, o), CP_ECANCELED);
			ck_assert_int_eq(c.calls, at);
			if (threads == 1)
				ck_assert_uint_lt(c.last_done, c.total);
			ck_assert_uint_eq(cp_tagtable_count(t), 0);
			ck_assert_ptr_nonnull(strstr(cp_errmsg(t), "cancelled by the progress callback"));
			/* the other batch calls stop the same way */
			cp_counts *k;
			ck_assert_int_eq(cp_counts_new(&k, RS), CP_OK);
			c.calls = 0;
			c.last_done = 0;
			ck_assert_int_eq(cp_counts_run(k, st, o), CP_ECANCELED);
			ck_assert_uint_eq(cp_counts_total(k), 0);
			cp_counts_free(k);
			cp_select *s;
			ck_assert_int_eq(cp_select_new(&s, RS), CP_OK);
			c.calls = 0;
			c.last_done = 0;
			ck_assert_int_eq(cp_select_run(s, st, o), CP_ECANCELED);
			ck_assert_uint_eq(cp_select_count(s), 0);
			ck_assert_int_eq(cp_select_next(s), CP_DONE);
			cp_select_free(s);
		}
		/* a callback that cancels at the very end still cancels */
		prog end = {0, 0, 0, 0, true};
		cp__batch_chunk_rows = 100000;
		ck_assert_int_eq(cp_batch_opts_set_progress(o, on_progress, &end), CP_OK);
		ck_assert_int_eq(cp_tagtable_build(t, st, o), CP_OK);
		int calls = end.calls;
		prog last = {0, calls, 0, 0, true};
		ck_assert_int_eq(cp_batch_opts_set_progress(o, on_progress, &last), CP_OK);
		ck_assert_int_eq(cp_tagtable_build(t, st, o), CP_ECANCELED);
		ck_assert_uint_eq(cp_tagtable_count(t), 0);
		cp__batch_chunk_rows = 16;
		cp_tagtable_free(t);
		cp_batch_opts_free(o);
	}
	cp_store_free(st);
}
END_TEST

/* ---- queries ---- */

static const char *diags(cp_diag *d)
{
	static char buf[8192];
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < cp_diag_count(d) && o < sizeof(buf) - 1; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\n", cp_diag_format(d, i));
	return buf;
}

/* The errors of compiling expr, or "ok". */
static const char *query_errors(const cp_ruleset *rs, const char *expr)
{
	cp_diag *d;
	cp_query *q;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	int rc = cp_query_compile(&q, rs, expr, "q", d);
	static char buf[8192];
	snprintf(buf, sizeof(buf), "%s%s", rc == CP_OK ? "ok\n" : cp_strerror(rc), diags(d));
	if (rc == CP_OK)
		ck_assert_ptr_nonnull(q);
	else
		ck_assert_ptr_null(q);
	cp_query_free(q);
	cp_diag_free(d);
	return buf;
}

/* The value text of expr for the profile with key. */
static const char *query_value(const cp_ruleset *rs, const cp_store *st, const char *expr,
                               const char *key)
{
	static char buf[512];
	cp_query *q;
	cp_result *res;
	ck_assert_int_eq(cp_query_compile(&q, rs, expr, NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_result_new(&res, cp_query_ruleset(q)), CP_OK);
	ck_assert_int_eq(cp_eval_key(res, st, key), CP_OK);
	ck_assert_int_ge(cp_query_value_text(q, res, buf, sizeof(buf)), 0);
	cp_result_free(res);
	cp_query_free(q);
	return buf;
}

/* One profile with values everywhere. */
static cp_store *one_store(void)
{
	cp_store *st;
	cp_profile *p;
	ck_assert_int_eq(cp_store_new(&st, S), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(st, 202610), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, S), CP_OK);
	set(p, "msisdn", 0, "13800000001");
	set(p, "brand", 0, "szx");
	set(p, "region", 0, "north");
	set(p, "name", 0, "张三");
	set(p, "age", 0, "25");
	set(p, "score", 0, "0.1");
	set(p, "vip", 0, "1");
	set(p, "overdue", 0, "12.50");
	set(p, "join_date", 0, "2026-08-31");
	set(p, "addons", 0, "b;a");
	set(p, "tones", 0, "t2;t1");
	static const char *const arpu[6] = {"20", "15.5", NULL, "3", "1", "2"};
	for (int m = 0; m < 6; m++) {
		if (arpu[m])
			set(p, "arpu", m, arpu[m]);
		set(p, "active", m, m < 3 ? "0" : "1");
		set(p, "gprs_mb", m, m == 0 ? "9" : "2.25");
	}
	ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	cp_profile_free(p);
	return st;
}

START_TEST(test_query)
{
	cp_store *st = one_store();
	const char *k = "13800000001";
	/* values as CSV cells: the text cp_view_text gives for fields */
	ck_assert_str_eq(query_value(RS, st, "brand", k), "szx");
	ck_assert_str_eq(query_value(RS, st, "region", k), "north");
	ck_assert_str_eq(query_value(RS, st, "age + 1", k), "26");
	ck_assert_str_eq(query_value(RS, st, "vip", k), "1");
	ck_assert_str_eq(query_value(RS, st, "not vip", k), "0");
	ck_assert_str_eq(query_value(RS, st, "overdue", k), "12.50");
	ck_assert_str_eq(query_value(RS, st, "join_date", k), "2026-08-31");
	ck_assert_str_eq(query_value(RS, st, "addons", k), "a;b");
	ck_assert_str_eq(query_value(RS, st, "tones", k), "t2;t1");
	ck_assert_str_eq(query_value(RS, st, "gprs_mb[0]", k), "9");
	ck_assert_str_eq(query_value(RS, st, "arpu[1..3]", k), "15.50;;3");
	ck_assert_str_eq(query_value(RS, st, "arpu3", k), "35.50");
	ck_assert_str_eq(query_value(RS, st, "score * 3", k), "0.30000000000000004");
	ck_assert_str_eq(query_value(RS, st, "null", k), "");
	ck_assert_str_eq(query_value(RS, st, "stage('life')", k), "maturity");
	ck_assert_str_eq(query_value(RS, st, "tag('t.silent') and vip", k), "1");
	/* tag() of a tag in no group is true or false, never null */
	ck_assert_str_eq(query_value(RS, st, "tag('t.busy')", k), "0");
	ck_assert_str_eq(query_value(RS, st, "tag('t.rich')", k), "1");
	/* tag() reads the final value: vip comes after rich in 'value' */
	ck_assert_str_eq(query_value(RS, st, "tag('t.vip')", k), "0");
	ck_assert_str_eq(query_value(RS, st, "$big", k), "30");
	ck_assert_str_eq(query_value(RS, st, "$t.big + 1", k), "31");
	ck_assert_str_eq(query_value(RS, st, "region in $hot", k), "1");
	ck_assert_str_eq(query_value(RS, st, "if(vip, name, 'x')", k), "张三");

	/* typed access */
	cp_query *q;
	cp_result *res, *base;
	ck_assert_int_eq(cp_query_compile(&q, RS, "arpu[0] + 0.25", NULL, NULL), CP_OK);
	ck_assert_str_eq(cp_query_expr(q), "arpu[0] + 0.25");
	ck_assert_int_eq(cp_query_type(q), CP_TYPE_MONEY);
	ck_assert_int_eq(cp_query_window(q), 0);
	ck_assert_int_eq(cp_result_new(&res, cp_query_ruleset(q)), CP_OK);
	ck_assert_int_eq(cp_result_new(&base, RS), CP_OK);
	/* not evaluated yet, or a result of another ruleset: null */
	ck_assert_int_eq(cp_query_is_null(q, res), 1);
	ck_assert_int_eq(cp_eval_key(res, st, k), CP_OK);
	ck_assert_int_eq(cp_eval_key(base, st, k), CP_OK);
	ck_assert_int_eq(cp_query_is_null(q, res), 0);
	ck_assert_int_eq(cp_query_is_null(q, base), 1);
	ck_assert_int_eq(cp_query_value_text(q, base, NULL, 0), CP_EMISUSE);
	ck_assert_int_eq(cp_query_int(q, res), 2025);
	ck_assert(cp_query_float(q, res) == 20.25);
	char small[3];
	ck_assert_int_eq(cp_query_value_text(q, res, small, sizeof(small)), 5);
	ck_assert_str_eq(small, "20");
	/* the extended ruleset gives what its base gives */
	const cp_ruleset *qr = cp_query_ruleset(q);
	ck_assert_int_eq(cp_ruleset_tag_count(qr), cp_ruleset_tag_count(RS));
	ck_assert_int_eq(cp_ruleset_metric_count(qr), cp_ruleset_metric_count(RS));
	ck_assert_int_eq(cp_ruleset_track_count(qr), cp_ruleset_track_count(RS));
	for (int t = 0; t < cp_ruleset_tag_count(RS); t++)
		ck_assert_int_eq(cp_result_tag(res, t), cp_result_tag(base, t));
	for (int t = 0; t < cp_ruleset_track_count(RS); t++)
		ck_assert_int_eq(cp_result_stage(res, t), cp_result_stage(base, t));
	ck_assert_int_eq(cp_result_metric_int(res, 0), cp_result_metric_int(base, 0));
	/* never freed by cp_ruleset_free (valgrind would see it) */
	cp_ruleset_free((cp_ruleset *)qr);
	cp_result_free(base);
	cp_result_free(res);
	cp_query_free(q);

	ck_assert_int_eq(cp_query_compile(&q, RS, "arpu[0..2] > 1", NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_query_type(q), CP_TYPE_BOOL);
	ck_assert_int_eq(cp_query_window(q), 3);
	cp_query_free(q);
	ck_assert_int_eq(cp_query_compile(&q, RS, "stage('svc')", NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_query_type(q), CP_TYPE_ENUM);
	cp_query_free(q);
	ck_assert_int_eq(cp_query_compile(&q, RS, "region", NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_query_type(q), CP_TYPE_STRING);
	cp_query_free(q);
	ck_assert_int_eq(cp_query_compile(&q, RS, "null", NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_query_type(q), 0);
	cp_query_free(q);
	/* arguments */
	ck_assert_int_eq(cp_query_compile(NULL, RS, "1", NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_query_compile(&q, NULL, "1", NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_query_compile(&q, RS, NULL, NULL, NULL), CP_EINVAL);
	ck_assert_ptr_null(cp_query_expr(NULL));
	ck_assert_int_eq(cp_query_type(NULL), 0);
	ck_assert_ptr_null(cp_query_ruleset(NULL));
	ck_assert_int_eq(cp_query_is_null(NULL, NULL), 1);
	cp_query_free(NULL);
	cp_store_free(st);
}
END_TEST

START_TEST(test_query_errors)
{
	/* columns of the expression string, name as the file */
	ck_assert_str_eq(query_errors(RS, "age > 3 and regoin == 'x'"),
	                 "CP_ENOTFOUND: not found"
	                 "q:1:13: error: unknown name 'regoin' (did you mean 'region'?)\n");
	ck_assert_str_eq(query_errors(RS, "brand == 'gotnoe'"),
	                 "CP_ETYPE: type error"
	                 "q:1:10: error: 'gotnoe' is not a value of brand (did you mean 'gotone'?)\n");
	ck_assert_str_eq(query_errors(RS, "age >"),
	                 "CP_ESYNTAX: syntax error"
	                 "q:1:6: error: expected a value, found end of expression\n");
	ck_assert_str_eq(query_errors(RS, "tag('t.rihc')"),
	                 "CP_ENOTFOUND: not found"
	                 "q:1:5: error: unknown tag 't.rihc' (did you mean 't.rich'?)\n");
	/* columns count characters */
	ck_assert_str_eq(query_errors(RS, "name == '张三' and agee > 1"),
	                 "CP_ENOTFOUND: not found"
	                 "q:1:18: error: unknown name 'agee' (did you mean 'age'?)\n");
	/* parameters: $name when one pack has it, $pack.name always */
	ck_assert_str_eq(query_errors(RS, "$nope > 1"),
	                 "CP_ENOTFOUND: not found" "q:1:1: error: unknown parameter '$nope'\n");
	ck_assert_str_eq(query_errors(RS, "arpu[0] > $biig"),
	                 "CP_ENOTFOUND: not found"
	                 "q:1:11: error: unknown parameter '$biig' (did you mean '$big'?)\n");
	ck_assert_str_eq(query_errors(RS, "region == $big"),
	                 "CP_ETYPE: type error"
	                 "q:1:8: error: cannot compare region (string) with $big (int)\n");
	/* a value of a parameter is not a window */
	cp_rules_opts *o;
	cp_ruleset *two;
	ck_assert_int_eq(cp_rules_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_rules_opts_add_memory(o, pack_yaml, strlen(pack_yaml), "t.yaml"), CP_OK);
	ck_assert_int_eq(cp_rules_opts_add_memory(o, pack2_yaml, strlen(pack2_yaml), "u.yaml"), CP_OK);
	ck_assert_int_eq(cp_ruleset_compile(&two, S, o, NULL), CP_OK);
	ck_assert_str_eq(query_errors(two, "arpu[0] > $big"),
	                 "CP_EINVAL: invalid argument or value"
	                 "q:1:11: error: parameter '$big' is declared by more than one pack: write '$t.big' or '$u.big'\n");
	ck_assert_str_eq(query_errors(two, "arpu[0] > $u.big and arpu[1] < $t.big"), "ok\n");
	ck_assert_str_eq(query_errors(two, "$hot"), "CP_ETYPE: type error"
	                 "q:1:1: error: a list [...] can only follow 'in'\n");
	cp_ruleset_free(two);
	cp_rules_opts_free(o);
}
END_TEST

/* ---- counts ---- */

/* name -> count, in the order first seen */
typedef struct tally {
	char names[64][64];
	uint64_t counts[64];
	int n;
} tally;

static void tally_add(tally *t, const char *name)
{
	for (int i = 0; i < t->n; i++) {
		if (strcmp(t->names[i], name) == 0) {
			t->counts[i]++;
			return;
		}
	}
	ck_assert_int_lt(t->n, 64);
	snprintf(t->names[t->n], sizeof(t->names[0]), "%s", name);
	t->counts[t->n++] = 1;
}

static uint64_t tally_get(const tally *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->names[i], name) == 0)
			return t->counts[i];
	return 0;
}

/* The categories of one profile along a dimension, as the brute force sees
 * them: names joined by '\n' ("" for null), each once. */
static void brute_cats(const char *dim, const cp_view *v, const cp_result *res, char *out,
                       size_t size)
{
	out[0] = '\0';
	size_t o = 0;
#define ADD(s) (o += (size_t)snprintf(out + o, size - o, "%s\n", (s)))
	if (strcmp(dim, "tag") == 0) {
		for (int t = 0; t < cp_ruleset_tag_count(RS); t++)
			if (cp_result_tag(res, t))
				ADD(cp_ruleset_tag_id(RS, t));
	} else if (strcmp(dim, "group:t.value") == 0) {
		const char *g = "";
		for (int t = 0; t < cp_ruleset_tag_count(RS); t++)
			if (cp_ruleset_tag_group(RS, t) == 0 && cp_result_tag(res, t))
				g = cp_ruleset_tag_id(RS, t);
		ADD(g);
	} else if (strncmp(dim, "stage:", 6) == 0) {
		ADD(cp_stage_name(cp_result_stage(res, cp_ruleset_track_index(RS, dim + 6))));
	} else if (strcmp(dim, "vip") == 0) {
		int f = cp_schema_field_index(S, "vip");
		ADD(cp_view_is_null(v, f, 0) ? "" : cp_view_bool(v, f, 0) ? "true" : "false");
	} else if (strcmp(dim, "addons") == 0 || strcmp(dim, "tones") == 0) {
		int f = cp_schema_field_index(S, dim);
		if (cp_view_is_null(v, f, 0))
			ADD("");
		for (int i = 0; i < cp_view_item_count(v, f, 0); i++) {
			const char *item = cp_view_item(v, f, 0, i);
			bool seen = false; /* a list may repeat an item: counted once */
			for (int j = 0; j < i; j++)
				seen = seen || strcmp(cp_view_item(v, f, 0, j), item) == 0;
			if (!seen)
				ADD(item);
		}
	} else if (strcmp(dim, "active_m1") == 0) {
		int f = cp_schema_field_index(S, "active");
		ADD(cp_view_is_null(v, f, 1) ? "" : cp_view_bool(v, f, 1) ? "true" : "false");
	} else if (strcmp(dim, "if(age > 40, 'old', 'new')") == 0) {
		int f = cp_schema_field_index(S, "age");
		ADD(!cp_view_is_null(v, f, 0) && cp_view_int(v, f, 0) > 40 ? "old" : "new");
	} else { /* brand, region */
		const char *s = cp_view_string(v, cp_schema_field_index(S, dim), 0);
		ADD(s ? s : "");
	}
#undef ADD
}

/* Each line of s once, in turn. */
static int split_lines(char *s, char **lines, int max)
{
	int n = 0;
	for (char *p = s; *p && n < max; n++) {
		char *e = strchr(p, '\n');
		*e = '\0';
		lines[n] = p;
		p = e + 1;
	}
	return n;
}

/* The category index of name in dimension d, or -1. */
static long cat_index(const cp_counts *c, int d, const char *name)
{
	for (size_t i = 0; i < cp_counts_category_count(c, d); i++)
		if (strcmp(cp_counts_category_name(c, d, i), name) == 0 &&
		    (name[0] != '\0' || cp_counts_category_is_null(c, d, i)))
			return (long)i;
	return -1;
}

/* The counts equal a brute-force count of the store. */
static void check_counts(const cp_counts *c, const cp_store *st, const char *where, uint64_t seed)
{
	cp_query *q = NULL;
	cp_result *res;
	cp_view *v;
	cp_iter *it;
	if (where)
		ck_assert_int_eq(cp_query_compile(&q, RS, where, NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_result_new(&res, q ? cp_query_ruleset(q) : RS), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, st), CP_OK);
	ck_assert_int_eq(cp_iter_new(&it, st), CP_OK);
	int nd = cp_counts_dim_count(c);
	uint64_t total = 0, tags[16] = {0}, stages[2][11] = {{0}};
	tally dims[2] = {{.n = 0}, {.n = 0}};
	static uint64_t cells[64][64];
	memset(cells, 0, sizeof(cells));
	while (cp_iter_next(it, v) == CP_OK) {
		ck_assert_int_eq(cp_eval(res, v), CP_OK);
		if (q && (cp_query_is_null(q, res) || !cp_query_int(q, res)))
			continue;
		total++;
		for (int t = 0; t < cp_ruleset_tag_count(RS); t++)
			tags[t] += (uint64_t)cp_result_tag(res, t);
		for (int k = 0; k < 2; k++)
			stages[k][cp_result_stage(res, k)]++;
		char buf[2][1024];
		char *lines[2][64];
		int n[2] = {0, 0};
		for (int d = 0; d < nd; d++) {
			brute_cats(cp_counts_dim_name(c, d), v, res, buf[d], sizeof(buf[d]));
			n[d] = split_lines(buf[d], lines[d], 64);
			for (int i = 0; i < n[d]; i++)
				tally_add(&dims[d], lines[d][i]);
		}
		if (nd == 2) {
			for (int i = 0; i < n[0]; i++) {
				for (int j = 0; j < n[1]; j++) {
					long r = cat_index(c, 0, lines[0][i]), k = cat_index(c, 1, lines[1][j]);
					ck_assert_msg(r >= 0 && k >= 0, "seed %llu: no category '%s' x '%s'",
					              (unsigned long long)seed, lines[0][i], lines[1][j]);
					cells[r][k]++;
				}
			}
		}
	}
	ck_assert_msg(cp_counts_total(c) == total, "seed %llu: total %llu, expected %llu",
	              (unsigned long long)seed, (unsigned long long)cp_counts_total(c),
	              (unsigned long long)total);
	for (int t = 0; t < cp_ruleset_tag_count(RS); t++)
		ck_assert_uint_eq(cp_counts_tag(c, t), tags[t]);
	for (int k = 0; k < 2; k++)
		for (int s = 0; s < 11; s++)
			ck_assert_uint_eq(cp_counts_stage(c, k, s), stages[k][s]);
	for (int d = 0; d < nd; d++) {
		/* every category counted, with its total; no other category but
		 * listed ones, and the null one only when it has profiles */
		for (int i = 0; i < dims[d].n; i++) {
			long x = cat_index(c, d, dims[d].names[i]);
			ck_assert_msg(x >= 0, "seed %llu: dim %s lacks '%s'", (unsigned long long)seed,
			              cp_counts_dim_name(c, d), dims[d].names[i]);
			ck_assert_uint_eq(cp_counts_category_total(c, d, (size_t)x), dims[d].counts[i]);
		}
		for (size_t i = 0; i < cp_counts_category_count(c, d); i++) {
			const char *name = cp_counts_category_name(c, d, i);
			ck_assert_uint_eq(cp_counts_category_total(c, d, i), tally_get(&dims[d], name));
			if (cp_counts_category_is_null(c, d, i)) {
				ck_assert_uint_eq(i, cp_counts_category_count(c, d) - 1);
				ck_assert_str_eq(cp_counts_category_label(c, d, i), "(null)");
				ck_assert_uint_gt(cp_counts_category_total(c, d, i), 0);
			}
			if (nd == 1)
				ck_assert_uint_eq(cp_counts_cell(c, i, 0), cp_counts_category_total(c, d, i));
		}
	}
	if (nd == 2)
		for (size_t i = 0; i < cp_counts_category_count(c, 0); i++)
			for (size_t j = 0; j < cp_counts_category_count(c, 1); j++)
				ck_assert_msg(cp_counts_cell(c, i, j) == cells[i][j], "seed %llu cell %zu,%zu",
				              (unsigned long long)seed, i, j);
	cp_iter_free(it);
	cp_view_free(v);
	cp_result_free(res);
	cp_query_free(q);
}

/* Every category of every dimension, as one text (the same on every run). */
static char *counts_text(const cp_counts *c)
{
	size_t size = 1 << 16, o = 0;
	char *buf = malloc(size);
	ck_assert_ptr_nonnull(buf);
	o += (size_t)snprintf(buf + o, size - o, "total %llu\n", (unsigned long long)cp_counts_total(c));
	for (int d = 0; d < cp_counts_dim_count(c); d++)
		for (size_t i = 0; i < cp_counts_category_count(c, d) && o < size; i++)
			o += (size_t)snprintf(buf + o, size - o, "%d %s %s %llu\n", d,
			                      cp_counts_category_name(c, d, i), cp_counts_category_label(c, d, i),
			                      (unsigned long long)cp_counts_category_total(c, d, i));
	for (size_t i = 0; cp_counts_dim_count(c) == 2 && i < cp_counts_category_count(c, 0); i++)
		for (size_t j = 0; j < cp_counts_category_count(c, 1) && o < size; j++)
			o += (size_t)snprintf(buf + o, size - o, "%llu ", (unsigned long long)cp_counts_cell(c, i, j));
	return buf;
}

static const char *const DIMS[][2] = {
	{NULL, NULL},
	{"brand", NULL},
	{"region", NULL},
	{"tag", NULL},
	{"vip", "stage:life"},
	{"region", "tag"},
	{"addons", "brand"},
	{"group:t.value", "tones"},
	{"stage:svc", "active_m1"},
	{"if(age > 40, 'old', 'new')", "region"},
};

START_TEST(test_counts)
{
	const char *wheres[] = {NULL, "tag('t.young') or brand == 'szx'", "false"};
	for (uint64_t seed = 11; seed <= 12; seed++) {
		cp_store *st = random_store(seed, 700);
		for (size_t d = 0; d < sizeof(DIMS) / sizeof(DIMS[0]); d++) {
			for (size_t w = 0; w < 3; w++) {
				char *first = NULL;
				for (size_t k = 0; k < 3; k++) {
					cp__batch_chunk_rows = CHUNKS[k];
					cp_counts *c;
					cp_batch_opts *o = opts_threads(THREADS[k]);
					ck_assert_int_eq(cp_counts_new(&c, RS), CP_OK);
					ck_assert_int_eq(cp_counts_set_where(c, wheres[w], NULL), CP_OK);
					for (int i = 0; i < 2 && DIMS[d][i]; i++)
						ck_assert_int_eq(cp_counts_add_dim(c, DIMS[d][i], NULL), CP_OK);
					ck_assert_int_eq(cp_counts_run(c, st, o), CP_OK);
					check_counts(c, st, wheres[w], seed);
					char *text = counts_text(c);
					if (first)
						ck_assert_str_eq(text, first);
					free(first);
					first = text;
					cp_counts_free(c);
					cp_batch_opts_free(o);
				}
				free(first);
			}
		}
		cp_store_free(st);
	}
}
END_TEST

START_TEST(test_counts_categories)
{
	cp_store *st = one_store();
	cp_counts *c;
	ck_assert_int_eq(cp_counts_new(&c, RS), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "brand", NULL), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "stage:life", NULL), CP_OK);
	ck_assert_int_eq(cp_counts_run(c, st, NULL), CP_OK);
	/* every listed value, with its label, no null category */
	ck_assert_uint_eq(cp_counts_category_count(c, 0), 3);
	ck_assert_str_eq(cp_counts_category_name(c, 0, 1), "szx");
	ck_assert_str_eq(cp_counts_category_label(c, 0, 1), "神州行");
	ck_assert_int_eq(cp_counts_category_is_null(c, 0, 2), 0);
	ck_assert_str_eq(cp_counts_dim_name(c, 0), "brand");
	ck_assert_str_eq(cp_counts_dim_label(c, 0), "品牌");
	ck_assert_str_eq(cp_counts_dim_label(c, 1), "生命");
	/* the stages the track gives, in enum order */
	ck_assert_uint_eq(cp_counts_category_count(c, 1), 3);
	ck_assert_str_eq(cp_counts_category_name(c, 1, 0), "growth");
	ck_assert_str_eq(cp_counts_category_name(c, 1, 1), "maturity");
	ck_assert_str_eq(cp_counts_category_name(c, 1, 2), "churned");
	ck_assert_uint_eq(cp_counts_cell(c, 1, 1), 1);
	ck_assert_uint_eq(cp_counts_cell(c, 1, 0), 0);
	/* out of range */
	ck_assert_uint_eq(cp_counts_cell(c, 3, 0), 0);
	ck_assert_uint_eq(cp_counts_cell(c, 0, 3), 0);
	ck_assert_ptr_null(cp_counts_category_name(c, 0, 3));
	ck_assert_ptr_null(cp_counts_category_name(c, 2, 0));
	ck_assert_ptr_null(cp_counts_dim_name(c, 2));
	ck_assert_uint_eq(cp_counts_category_total(c, -1, 0), 0);
	ck_assert_uint_eq(cp_counts_tag(c, 99), 0);
	ck_assert_uint_eq(cp_counts_stage(c, 0, 11), 0);
	cp_counts_free(c);

	/* labels of an expression dimension; metric labels; arpu_m0 */
	ck_assert_int_eq(cp_counts_new(&c, RS), CP_OK);
	/* arpu_m0 is a column name, not a name of the rule language */
	ck_assert_int_eq(cp_counts_add_dim(c, "if(arpu_m0 > 10, 'a', 'b')", NULL), CP_ENOTFOUND);
	ck_assert_int_eq(cp_counts_add_dim(c, "brand == 'szx'", NULL), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "stage", NULL), CP_OK);
	ck_assert_str_eq(cp_counts_dim_label(c, 0), "brand == 'szx'");
	ck_assert_str_eq(cp_counts_dim_name(c, 1), "stage");
	ck_assert_str_eq(cp_counts_dim_label(c, 1), "生命");
	ck_assert_int_eq(cp_counts_run(c, st, NULL), CP_OK);
	ck_assert_str_eq(cp_counts_category_name(c, 0, 0), "false");
	ck_assert_uint_eq(cp_counts_cell(c, 1, 1), 1);
	ck_assert_uint_eq(cp_counts_category_total(c, 0, 0), 0);
	cp_counts_free(c);

	/* an empty store: the listed categories, every count 0 */
	cp_store *empty;
	ck_assert_int_eq(cp_store_new(&empty, S), CP_OK);
	ck_assert_int_eq(cp_counts_new(&c, RS), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "region", NULL), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "brand", NULL), CP_OK);
	ck_assert_int_eq(cp_counts_run(c, empty, NULL), CP_OK);
	ck_assert_uint_eq(cp_counts_total(c), 0);
	ck_assert_uint_eq(cp_counts_category_count(c, 0), 0);
	ck_assert_uint_eq(cp_counts_category_count(c, 1), 3);
	cp_counts_free(c);
	cp_store_free(empty);
	cp_store_free(st);
}
END_TEST

/* The errors of a dimension, or "ok". */
static const char *dim_errors(const char *dim)
{
	cp_diag *d;
	cp_counts *c;
	static char buf[4096];
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	ck_assert_int_eq(cp_counts_new(&c, RS), CP_OK);
	int rc = cp_counts_add_dim(c, dim, d);
	snprintf(buf, sizeof(buf), "%s%s", rc == CP_OK ? "ok\n" : cp_strerror(rc), diags(d));
	if (rc != CP_OK) {
		/* the handle has the first error too */
		ck_assert_ptr_nonnull(strstr(buf, cp_errmsg(c)));
		ck_assert_int_eq(cp_counts_dim_count(c), 0);
	}
	cp_counts_free(c);
	cp_diag_free(d);
	return buf;
}

START_TEST(test_counts_errors)
{
	ck_assert_str_eq(dim_errors("age"), "CP_ETYPE: type error"
	                 "age:1:1: error: cannot count by int: give categories, e.g. if(age > 100, 'high', 'low')\n");
	ck_assert_str_eq(dim_errors("arpu[0..1]"), "CP_ETYPE: type error"
	                 "arpu[0..1]:1:1: error: cannot count by a window of 2 money: count by one value per profile, e.g. one month\n");
	ck_assert_str_eq(dim_errors("stage:lif"), "CP_ENOTFOUND: not found"
	                 "stage:lif:1:7: error: no track 'lif' in the rules (did you mean 'life'?)\n");
	ck_assert_str_eq(dim_errors("group:nope"), "CP_ENOTFOUND: not found"
	                 "group:nope:1:7: error: no exclusive group 'nope' in the rules\n");
	ck_assert_str_eq(dim_errors("regoin"), "CP_ENOTFOUND: not found"
	                 "regoin:1:1: error: unknown name 'regoin' (did you mean 'region'?)\n");
	ck_assert_str_eq(dim_errors("region,"), "CP_ESYNTAX: syntax error"
	                 "region,:1:7: error: expected an operator or the end of the expression, found ','\n");
	ck_assert_str_eq(dim_errors("group:t.value"), "ok\n");
	ck_assert_str_eq(dim_errors("arpu_m5"), "CP_ETYPE: type error"
	                 "arpu_m5:1:1: error: cannot count by money: give categories, e.g. if(arpu[5] > 100, 'high', 'low')\n");
	ck_assert_str_eq(dim_errors("arpu_m6"), "CP_ETYPE: type error"
	                 "arpu_m6:1:7: error: month 6 is beyond the schema's 6 months of 'arpu' (0..5)\n");
	cp_counts *c;
	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	ck_assert_int_eq(cp_counts_new(&c, RS), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "brand", d), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "region", d), CP_OK);
	ck_assert_int_eq(cp_counts_add_dim(c, "vip", d), CP_ELIMIT);
	ck_assert_str_eq(cp_errmsg(c), "at most 2 dimensions: cannot add 'vip'");
	ck_assert_int_eq(cp_counts_set_where(c, "age", d), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(c),
	                 "where:1:1: error: the condition of where must be true/false, but it is int");
	ck_assert_int_eq(cp_counts_add_dim(c, NULL, d), CP_EINVAL);
	ck_assert_int_eq(cp_counts_run(c, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_counts_new(NULL, RS), CP_EINVAL);
	ck_assert_int_eq(cp_counts_set_where(NULL, "true", d), CP_EINVAL);
	cp_counts_free(c);
	cp_counts_free(NULL);
	cp_diag_free(d);
}
END_TEST

/* ---- select ---- */

typedef struct bentry {
	char key[32];
	bool null;
	int kind;       /* 0 int, 1 float, 2 string */
	int64_t i;
	double f;
	char s[64];
} bentry;

static bool bdesc;

static int bentry_cmp(const void *x, const void *y)
{
	const bentry *a = x, *b = y;
	if (a->null != b->null)
		return a->null ? 1 : -1;
	if (!a->null) {
		int c = a->kind == 0 ? (a->i > b->i) - (a->i < b->i)
		        : a->kind == 1 ? (a->f > b->f) - (a->f < b->f)
		                       : strcmp(a->s, b->s);
		c = c < 0 ? -1 : c > 0;
		if (c)
			return bdesc ? -c : c;
	}
	return strcmp(a->key, b->key);
}

/* The keys of the list, brute force: filter, sort, cut; joined by ' '. */
static char *brute_select(const cp_store *st, const char *where, const char *order, bool desc,
                          int64_t limit, uint64_t *matched)
{
	cp_query *qw, *qo = NULL;
	cp_result *rw, *ro = NULL;
	cp_view *v;
	cp_iter *it;
	ck_assert_int_eq(cp_query_compile(&qw, RS, where, NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_result_new(&rw, cp_query_ruleset(qw)), CP_OK);
	if (order) {
		ck_assert_int_eq(cp_query_compile(&qo, RS, order, NULL, NULL), CP_OK);
		ck_assert_int_eq(cp_result_new(&ro, cp_query_ruleset(qo)), CP_OK);
	}
	ck_assert_int_eq(cp_view_new(&v, st), CP_OK);
	ck_assert_int_eq(cp_iter_new(&it, st), CP_OK);
	size_t n = 0, cap = cp_store_count(st) + 1;
	bentry *e = calloc(cap, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	while (cp_iter_next(it, v) == CP_OK) {
		ck_assert_int_eq(cp_eval(rw, v), CP_OK);
		if (cp_query_is_null(qw, rw) || !cp_query_int(qw, rw))
			continue;
		bentry *b = &e[n++];
		snprintf(b->key, sizeof(b->key), "%s", cp_view_key(v));
		if (!order)
			continue;
		ck_assert_int_eq(cp_eval(ro, v), CP_OK);
		b->null = cp_query_is_null(qo, ro);
		int t = cp_query_type(qo);
		b->kind = t == CP_TYPE_FLOAT ? 1 : t == CP_TYPE_STRING ? 2 : 0;
		b->i = cp_query_int(qo, ro);
		b->f = cp_query_float(qo, ro);
		cp_query_value_text(qo, ro, b->s, sizeof(b->s));
	}
	*matched = n;
	bdesc = desc;
	if (order) /* without an order: store order, as iterated */
		qsort(e, n, sizeof(*e), bentry_cmp);
	if (limit >= 0 && (uint64_t)limit < n)
		n = (size_t)limit;
	char *keys = calloc(n * 13 + 1, 1);
	ck_assert_ptr_nonnull(keys);
	for (size_t i = 0; i < n; i++) {
		strcat(keys, e[i].key);
		strcat(keys, " ");
	}
	free(e);
	cp_iter_free(it);
	cp_view_free(v);
	cp_result_free(rw);
	cp_result_free(ro);
	cp_query_free(qw);
	cp_query_free(qo);
	return keys;
}

/* The keys of a select's list, joined by ' '. */
static char *list_keys(cp_select *s)
{
	char *keys = calloc(cp_select_count(s) * 13 + 1, 1);
	ck_assert_ptr_nonnull(keys);
	int rc;
	while ((rc = cp_select_next(s)) == CP_OK) {
		strcat(keys, cp_select_key(s));
		strcat(keys, " ");
	}
	ck_assert_int_eq(rc, CP_DONE);
	return keys;
}

static const char *const WHERES[] = {
	"true", "false", "tag('t.young')", "not tag('t.vip') and brand != 'gotone'",
	"tag('t.hot') or age < 25", "stage('life') == 'growth'", "region in ['north', '中部']",
	"arpu[0] > 20", "score between 0.5 and 1.5", "has(addons, 'a')", "present(overdue)",
	"age % 3 == 0", "join_date > '2018-06-01'", "heavy > 40", "len(tones) >= 2",
	"tag('t.plain') and stage('svc') == 'growth'",
};

static const char *const ORDERS[] = {
	NULL, "age", "score", "arpu[0]", "arpu3", "join_date", "name", "region", "brand", "vip",
	"heavy", "coalesce(age, 0) % 5", "stage('life')", "overdue", "null", "tag('t.busy')",
};

START_TEST(test_select_brute_force)
{
	static const int64_t limits[] = {-1, 0, 1, 3, 25, 100000};
	for (uint64_t seed = 21; seed <= 24; seed++) {
		cp_store *st = random_store(seed, 400 + 150 * (unsigned)(seed % 3));
		for (int round = 0; round < 40; round++) {
			const char *where = WHERES[rnd(sizeof(WHERES) / sizeof(WHERES[0]))];
			const char *order = ORDERS[rnd(sizeof(ORDERS) / sizeof(ORDERS[0]))];
			bool desc = rnd(2);
			int64_t limit = limits[rnd(6)];
			uint64_t matched;
			char *want = brute_select(st, where, order, desc, limit, &matched);
			for (size_t k = 0; k < 3; k++) {
				cp__batch_chunk_rows = CHUNKS[rnd(4)];
				cp_batch_opts *o = opts_threads(THREADS[k]);
				cp_select *s;
				ck_assert_int_eq(cp_select_new(&s, RS), CP_OK);
				ck_assert_int_eq(cp_select_set_where(s, where, NULL), CP_OK);
				ck_assert_int_eq(cp_select_set_order(s, order, desc, NULL), CP_OK);
				ck_assert_int_eq(cp_select_set_limit(s, limit), CP_OK);
				ck_assert_int_eq(cp_select_run(s, st, o), CP_OK);
				char *got = list_keys(s);
				ck_assert_msg(strcmp(got, want) == 0,
				              "seed %llu: where %s order %s%s limit %lld, %d threads, chunks of %zu:\n"
				              "got  %s\nwant %s",
				              (unsigned long long)seed, where, order ? order : "(none)",
				              desc ? " desc" : "", (long long)limit, THREADS[k],
				              cp__batch_chunk_rows, got, want);
				ck_assert_uint_eq(cp_select_matched(s), matched);
				ck_assert_uint_eq(cp_select_count(s),
				                  limit >= 0 && (uint64_t)limit < matched ? (uint64_t)limit : matched);
				free(got);
				cp_select_free(s);
				cp_batch_opts_free(o);
			}
			free(want);
		}
		cp_store_free(st);
	}
}
END_TEST

/* A store whose profiles tie: keys ascending break them; nulls last. */
START_TEST(test_select_ties_and_nulls)
{
	cp_store *st;
	cp_profile *p;
	ck_assert_int_eq(cp_store_new(&st, S), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, S), CP_OK);
	static const char *const rows[][2] = {
		{"13800000005", "2"}, {"13800000003", NULL}, {"13800000001", "2"},
		{"13800000004", "1"}, {"13800000002", NULL}, {"13800000006", "3"},
	};
	for (int i = 0; i < 6; i++) {
		cp_profile_clear(p);
		set(p, "msisdn", 0, rows[i][0]);
		if (rows[i][1])
			set(p, "age", 0, rows[i][1]);
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	}
	cp_profile_free(p);
	cp_select *s;
	ck_assert_int_eq(cp_select_new(&s, RS), CP_OK);
	/* ascending: 1 2 2 3 null null */
	ck_assert_int_eq(cp_select_set_order(s, "age", 0, NULL), CP_OK);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	char *k = list_keys(s);
	ck_assert_str_eq(k, "13800000004 13800000001 13800000005 13800000006 13800000002 13800000003 ");
	free(k);
	/* descending: 3 2 2 1 null null (ties and nulls still by key ascending) */
	ck_assert_int_eq(cp_select_set_order(s, "age", 1, NULL), CP_OK);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	k = list_keys(s);
	ck_assert_str_eq(k, "13800000006 13800000001 13800000005 13800000004 13800000002 13800000003 ");
	free(k);
	/* top 3 of those, with one thread and with 8 */
	for (int threads = 1; threads <= 8; threads *= 8) {
		cp_batch_opts *o = opts_threads(threads);
		cp__batch_chunk_rows = 1;
		ck_assert_int_eq(cp_select_set_limit(s, 3), CP_OK);
		ck_assert_int_eq(cp_select_run(s, st, o), CP_OK);
		k = list_keys(s);
		ck_assert_str_eq(k, "13800000006 13800000001 13800000005 ");
		free(k);
		/* limit 5 reaches into the nulls */
		ck_assert_int_eq(cp_select_set_limit(s, 5), CP_OK);
		ck_assert_int_eq(cp_select_run(s, st, o), CP_OK);
		k = list_keys(s);
		ck_assert_str_eq(k, "13800000006 13800000001 13800000005 13800000004 13800000002 ");
		free(k);
		cp_batch_opts_free(o);
	}
	/* no order: store order; limit 0: nothing, but matched counts */
	ck_assert_int_eq(cp_select_set_order(s, NULL, 0, NULL), CP_OK);
	ck_assert_int_eq(cp_select_set_limit(s, -1), CP_OK);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	k = list_keys(s);
	ck_assert_str_eq(k, "13800000005 13800000003 13800000001 13800000004 13800000002 13800000006 ");
	free(k);
	ck_assert_int_eq(cp_select_set_limit(s, 0), CP_OK);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	ck_assert_uint_eq(cp_select_count(s), 0);
	ck_assert_uint_eq(cp_select_matched(s), 6);
	ck_assert_int_eq(cp_select_next(s), CP_DONE);
	/* an empty result is not an error */
	ck_assert_int_eq(cp_select_set_where(s, "age > 100", NULL), CP_OK);
	ck_assert_int_eq(cp_select_set_limit(s, 10), CP_OK);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	ck_assert_uint_eq(cp_select_count(s), 0);
	ck_assert_uint_eq(cp_select_matched(s), 0);
	ck_assert_str_eq(cp_select_csv_header(s, 0), "msisdn\n");
	cp_select_free(s);
	cp_store_free(st);
}
END_TEST

/* The list's CSV lines, joined. */
static char *csv_text(cp_select *s, int flags)
{
	size_t size = 1 << 16;
	char *buf = malloc(size);
	ck_assert_ptr_nonnull(buf);
	snprintf(buf, size, "%s", cp_select_csv_header(s, flags));
	cp_select_rewind(s);
	while (cp_select_next(s) == CP_OK)
		strncat(buf, cp_select_csv_row(s, flags), size - strlen(buf) - 1);
	return buf;
}

START_TEST(test_select_columns_and_csv)
{
	cp_store *st = one_store();
	cp_profile *p;
	ck_assert_int_eq(cp_profile_new(&p, S), CP_OK);
	static const char *const names[] = {"a,b", "say \"hi\"", "two\nlines", "=1+2", "+x", "-y",
	                                    "@z", "-12.5", "\tt", "é"};
	for (int i = 0; i < 10; i++) {
		char key[16];
		cp_profile_clear(p);
		snprintf(key, sizeof(key), "1390000000%d", i);
		set(p, "msisdn", 0, key);
		set(p, "name", 0, names[i]);
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	}
	cp_profile_free(p);
	cp_select *s;
	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	ck_assert_int_eq(cp_select_new(&s, RS), CP_OK);
	ck_assert_int_eq(cp_select_column_count(s), 1);
	ck_assert_str_eq(cp_select_column_name(s, 0), "msisdn");
	ck_assert_int_eq(cp_select_set_where(s, "name != '张三'", d), CP_OK);
	ck_assert_int_eq(cp_select_add_column(s, "name", d), CP_OK);
	ck_assert_int_eq(cp_select_column_count(s), 1);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	ck_assert_uint_eq(cp_select_count(s), 10);
	char *csv = csv_text(s, 0);
	ck_assert_str_eq(csv, "name\n\"a,b\"\n\"say \"\"hi\"\"\"\n\"two\nlines\"\n=1+2\n+x\n-y\n@z\n-12.5\n\tt\né\n");
	free(csv);
	csv = csv_text(s, CP_CSV_SAFE | CP_CSV_CRLF);
	ck_assert_str_eq(csv, "name\r\n\"a,b\"\r\n\"say \"\"hi\"\"\"\r\n\"two\nlines\"\r\n'=1+2\r\n'+x\r\n"
	                      "'-y\r\n'@z\r\n-12.5\r\n'\tt\r\né\r\n");
	free(csv);
	cp_select_free(s);

	/* every kind of column, as text and with labels */
	ck_assert_int_eq(cp_select_new(&s, RS), CP_OK);
	ck_assert_int_eq(cp_select_set_where(s, "name == '张三'", d), CP_OK);
	const char *cols[] = {"msisdn", "brand", "region", "arpu_m1", "arpu[0..2]", "arpu3", "tags",
	                      "stage", "stage:svc", "vip", "addons", "join_date", "overdue",
	                      "coalesce(age, 0) + 1", "gprs_mb_m0"};
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		ck_assert_int_eq(cp_select_add_column(s, cols[i], d), CP_OK);
	ck_assert_str_eq(diags(d), "");
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	ck_assert_int_eq(cp_select_next(s), CP_OK);
	ck_assert_str_eq(cp_select_key(s), "13800000001");
	ck_assert_ptr_null(cp_select_value(s, -1));
	ck_assert_ptr_null(cp_select_value(s, 15));
	ck_assert_str_eq(cp_select_csv_header(s, 0),
	                 "msisdn,brand,region,arpu_m1,arpu[0..2],arpu3,tags,stage,stage:svc,vip,addons,"
	                 "join_date,overdue,\"coalesce(age, 0) + 1\",gprs_mb_m0\n");
	ck_assert_str_eq(cp_select_csv_row(s, 0),
	                 "13800000001,szx,north,15.50,20;15.50;,35.50,t.rich;t.young;t.hot;t.silent,"
	                 "maturity,silent,1,a;b,2026-08-31,12.50,26,9\n");
	/* field columns give what cp_view_text gives */
	cp_view *v;
	char buf[64];
	ck_assert_int_eq(cp_view_new(&v, st), CP_OK);
	ck_assert_int_eq(cp_store_get(st, "13800000001", v), CP_OK);
	ck_assert_int_ge(cp_view_text(v, cp_schema_field_index(S, "arpu"), 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(cp_select_value(s, 3), buf);
	ck_assert_int_ge(cp_view_text(v, cp_schema_field_index(S, "gprs_mb"), 0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(cp_select_value(s, 14), buf);
	cp_view_free(v);
	ck_assert_int_eq(cp_select_set_labels(s, 1), CP_OK);
	ck_assert_str_eq(cp_select_csv_header(s, 0),
	                 "号码,品牌,地区,ARPU[1],arpu[0..2],三月ARPU,tags,生命,svc,vip,addons,"
	                 "join_date,overdue,\"coalesce(age, 0) + 1\",gprs_mb[0]\n");
	cp_select_rewind(s);
	ck_assert_ptr_null(cp_select_key(s));
	ck_assert_ptr_null(cp_select_csv_row(s, 0));
	ck_assert_int_eq(cp_select_next(s), CP_OK);
	ck_assert_str_eq(cp_select_csv_row(s, 0),
	                 "13800000001,神州行,north,15.50,20;15.50;,35.50,高价值;年轻;热点;沉默,"
	                 "maturity,silent,1,a;b,2026-08-31,12.50,26,9\n");
	ck_assert_int_eq(cp_select_next(s), CP_DONE);
	ck_assert_ptr_null(cp_select_key(s));
	cp_select_free(s);
	cp_diag_free(d);
	cp_store_free(st);
}
END_TEST

static int stop_after_two(cp_select *s, void *data)
{
	int *n = data;
	ck_assert_ptr_nonnull(cp_select_key(s));
	return ++*n == 2 ? 42 : 0;
}

static int count_rows(cp_select *s, void *data)
{
	(void)s;
	(*(int *)data)++;
	return 0;
}

START_TEST(test_select_foreach_and_files)
{
	cp_store *st = random_store(31, 200);
	cp_select *s;
	ck_assert_int_eq(cp_select_new(&s, RS), CP_OK);
	ck_assert_int_eq(cp_select_set_where(s, "tag('t.young')", NULL), CP_OK);
	ck_assert_int_eq(cp_select_set_order(s, "score", 1, NULL), CP_OK);
	ck_assert_int_eq(cp_select_add_column(s, "msisdn", NULL), CP_OK);
	ck_assert_int_eq(cp_select_add_column(s, "name", NULL), CP_OK);
	ck_assert_int_eq(cp_select_add_column(s, "score", NULL), CP_OK);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	ck_assert_uint_gt(cp_select_count(s), 2);
	int n = 0;
	ck_assert_int_eq(cp_select_foreach(s, count_rows, &n), CP_OK);
	ck_assert_uint_eq((uint64_t)n, cp_select_count(s));
	n = 0;
	ck_assert_int_eq(cp_select_foreach(s, stop_after_two, &n), 42);
	ck_assert_int_eq(n, 2);
	/* the file holds what the lines give */
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "list.csv"));
	ck_assert_int_eq(cp_select_write_csv(s, path, CP_CSV_SAFE), CP_OK);
	char *file = tu_read_file(path, NULL);
	char *lines = csv_text(s, CP_CSV_SAFE);
	ck_assert_str_eq(file, lines);
	free(file);
	free(lines);
	ck_assert_int_eq(cp_select_write_csv(s, tu_path(dir, "no/such/dir.csv"), 0), CP_EIO);
	ck_assert_ptr_nonnull(strstr(cp_errmsg(s), "No such file or directory"));
	tu_rmdir(dir);
	free(dir);
	/* a profile deleted since the run is skipped */
	uint64_t count = cp_select_count(s);
	cp_select_rewind(s);
	ck_assert_int_eq(cp_select_next(s), CP_OK);
	char key[32];
	snprintf(key, sizeof(key), "%s", cp_select_key(s));
	ck_assert_int_eq(cp_store_delete(st, key), CP_OK);
	n = 0;
	ck_assert_int_eq(cp_select_foreach(s, count_rows, &n), CP_OK);
	ck_assert_uint_eq((uint64_t)n, count - 1);
	/* changing the select drops the list until the next run */
	ck_assert_int_eq(cp_select_add_column(s, "age", NULL), CP_OK);
	ck_assert_uint_eq(cp_select_count(s), 0);
	ck_assert_int_eq(cp_select_next(s), CP_DONE);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_OK);
	ck_assert_uint_eq(cp_select_count(s), count - 1);
	ck_assert_int_eq(cp_select_next(s), CP_OK);
	ck_assert_ptr_nonnull(cp_select_value(s, 3));
	cp_select_free(s);
	cp_store_free(st);
}
END_TEST

START_TEST(test_select_errors)
{
	cp_select *s;
	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	ck_assert_int_eq(cp_select_new(&s, RS), CP_OK);
	ck_assert_int_eq(cp_select_set_where(s, "age", d), CP_ETYPE);
	ck_assert_int_eq(cp_select_set_where(s, "arpu[0..1] > 2", d), CP_ETYPE);
	ck_assert_int_eq(cp_select_set_order(s, "addons", 0, d), CP_ETYPE);
	ck_assert_int_eq(cp_select_set_order(s, "arpu[0..2]", 0, d), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(s), "order:1:1: error: cannot order by window of 3 money: give one value per profile");
	ck_assert_int_eq(cp_select_add_column(s, "stage:nope", d), CP_ENOTFOUND);
	ck_assert_int_eq(cp_select_add_column(s, "nme", d), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(s), "nme:1:1: error: unknown name 'nme' (did you mean 'name'?)");
	ck_assert_str_eq(diags(d),
	                 "where:1:1: error: the condition of where must be true/false, but it is int\n"
	                 "where:1:1: error: the condition of where is a window of 2 true/false values: wrap it in all(...), any(...) or count(...) > n\n"
	                 "order:1:1: error: cannot order by set: give one value per profile\n"
	                 "order:1:1: error: cannot order by window of 3 money: give one value per profile\n"
	                 "stage:nope:1:7: error: no track 'nope' in the rules\n"
	                 "nme:1:1: error: unknown name 'nme' (did you mean 'name'?)\n");
	/* errors without a diag still reach the handle */
	ck_assert_int_eq(cp_select_set_where(s, "age >", NULL), CP_ESYNTAX);
	ck_assert_str_eq(cp_errmsg(s), "where:1:6: error: expected a value, found end of expression");
	/* a failed column leaves the default one */
	ck_assert_int_eq(cp_select_column_count(s), 1);
	/* a store of another schema */
	cp_schema *other;
	cp_store *st;
	ck_assert_int_eq(cp_schema_default(&other), CP_OK);
	ck_assert_int_eq(cp_store_new(&st, other), CP_OK);
	ck_assert_int_eq(cp_select_run(s, st, NULL), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(s),
	                 "the store's schema 'cmcc-default' does not match the ruleset's schema 'test'");
	cp_store_free(st);
	cp_schema_free(other);
	/* arguments */
	ck_assert_int_eq(cp_select_new(NULL, RS), CP_EINVAL);
	ck_assert_int_eq(cp_select_run(NULL, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_select_add_column(s, NULL, d), CP_EINVAL);
	ck_assert_int_eq(cp_select_next(NULL), CP_EINVAL);
	ck_assert_int_eq(cp_select_foreach(s, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_select_write_csv(s, NULL, 0), CP_EINVAL);
	ck_assert_ptr_null(cp_select_column_name(s, 1));
	ck_assert_ptr_null(cp_select_csv_header(NULL, 0));
	cp_select_free(s);
	cp_select_free(NULL);
	cp_diag_free(d);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("tagtable");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tagtable);
	tcase_add_test(tc, test_tagtable_edges);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_progress_and_cancel);
	suite_add_tcase(s, tc);
	tc = tcase_create("query");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_query_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("counts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_counts_categories);
	tcase_add_test(tc, test_counts_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("select");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_select_brute_force);
	tcase_add_test(tc, test_select_ties_and_nulls);
	tcase_add_test(tc, test_select_columns_and_csv);
	tcase_add_test(tc, test_select_foreach_and_files);
	tcase_add_test(tc, test_select_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
