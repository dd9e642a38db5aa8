/*
 * bench_rules.c — speed of the rule language (public API only):
 *
 *   1. compile time of 10,000 generated window rules;
 *   2. point evaluation: lookup by key + a 30-tag pack of DESIGN §5-style
 *      window rules, p50/p99 over 1M random keys of the store;
 *   3. evaluation alone (a view already positioned): ns per profile and per
 *      predicate;
 *   4. tag-all on one thread: profiles/s for the 30-tag pack and for the
 *      built-in packs;
 *   5. allocations per evaluation (a counting allocator).
 *
 * usage: bench_rules [-n PROFILES] [-k KEYS] [STORE.cps]
 * Without a snapshot, PROFILES (default 1000000) synthetic subscribers of the
 * default schema are made in memory.
 */
#define _POSIX_C_SOURCE 200809L
#include <custprof/custprof.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t allocs;

static void *count_malloc(size_t n)
{
	allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
	allocs++;
	return realloc(p, n);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this thread: what one core spends, however busy the machine */
static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void die(const char *what, const void *handle, int rc)
{
	fprintf(stderr, "bench_rules: %s: %s (%s)\n", what, handle ? cp_errmsg(handle) : "",
	        cp_strerror(rc));
	exit(1);
}

/* The 30-tag pack: window rules in the style of DESIGN §5.3. */
static const char pack30[] =
	"custprof: 1\n"
	"pack: b\n"
	"params: {sessions: 10, mb: 2, arpu: 50, minutes: 100, sms: 20, ratio: 0.7}\n"
	"tags:\n"
	"  - {id: heavy, when: \"all(web_sessions[0..5] > $sessions) and all(gprs_mb[0..5] > $mb)\"}\n"
	"  - {id: silent, when: \"none(web_sessions[0..5] > 0)\"}\n"
	"  - {id: flash, when: \"web_sessions[3] > 0 and none(web_sessions[0..2] > 0)\"}\n"
	"  - {id: explorer, when: \"any(wap_push_clicks[0..2] >= 1) or any(promo_joins[0..2] >= 1)\"}\n"
	"  - {id: impulsive, when: \"present(gprs_package) and all(gprs_mb[0..1] > 10)\"}\n"
	"  - {id: active3, when: \"count(web_sessions[0..5] > 0) >= 3\"}\n"
	"  - {id: arpu_high, when: \"avg(arpu[0..2]) > $arpu\"}\n"
	"  - {id: arpu_drop, when: \"avg(arpu[0..2]) < avg(arpu[3..5]) * $ratio\"}\n"
	"  - {id: arpu_up, when: \"slope(arpu[0..5]) > 0\"}\n"
	"  - {id: spend_big, when: \"sum(total_spend[0..5]) > 600\"}\n"
	"  - {id: voice_heavy, when: \"all(voice_minutes[0..2] > $minutes)\"}\n"
	"  - {id: voice_drop, when: \"voice_minutes[0] < avg(voice_minutes[1..3]) * 0.5\"}\n"
	"  - {id: sms_heavy, when: \"any(sms_count[0..5] > $sms)\"}\n"
	"  - {id: sms_none, when: \"none(sms_count[0..1] > 0)\"}\n"
	"  - {id: crbt_active, when: \"count(crbt_downloads[0..5] > 0) >= 3\"}\n"
	"  - {id: crbt_promo, when: \"sum(crbt_promo_downloads[0..5]) * 2 > sum(crbt_downloads[0..5])\"}\n"
	"  - {id: crbt_silent, when: \"crbt_subscribed and none(crbt_downloads[0..5] > 0)\"}\n"
	"  - {id: mms_active, when: \"all(mms_sent[0..2] > 0)\"}\n"
	"  - {id: mms_silent, when: \"none(mms_sent[0..2] > 0)\"}\n"
	"  - {id: fetion_active, when: \"all(fetion_logins[0..2] > 0)\"}\n"
	"  - {id: fetion_silent, when: \"none(fetion_logins[0..2] > 0)\"}\n"
	"  - {id: ivr_heavy, when: \"all(ivr_national_calls[0..5] + ivr_local_calls[0..5] > 10)\"}\n"
	"  - {id: ivr_silent, when: \"none(ivr_national_calls[0..5] + ivr_local_calls[0..5] > 0)\"}\n"
	"  - {id: ivr_spend, when: \"any(ivr_fee[0..5] > 20)\"}\n"
	"  - {id: gotone_rich, when: \"brand == 'gotone' and arpu[0] > 100\"}\n"
	"  - {id: young_data, when: \"age < 30 and avg(gprs_mb[0..2]) > 50\"}\n"
	"  - {id: churn_risk, when: \"churn_score >= 0.6 or streak(voice_minutes[0..5] == 0) >= 2\"}\n"
	"  - {id: new_biz, when: \"sum(new_biz_fee[0..2]) > sum(new_biz_fee[3..5])\"}\n"
	"  - {id: overdue, when: \"overdue_days >= 30 and overdue_amount > 50\"}\n"
	"  - {id: tenure_new, when: \"months_since(join_date) < 6\"}\n";

static cp_ruleset *compile(const cp_schema *s, const char *yaml, size_t len, const char *name)
{
	cp_rules_opts *o;
	cp_diag *d;
	cp_ruleset *rs;
	cp_rules_opts_new(&o);
	cp_diag_new(&d);
	if (yaml)
		cp_rules_opts_add_memory(o, yaml, len, name);
	else
		cp_rules_opts_add_defaults(o);
	int rc = cp_ruleset_compile(&rs, s, o, d);
	if (rc != CP_OK) {
		for (size_t i = 0; i < cp_diag_count(d) && i < 10; i++)
			fprintf(stderr, "%s\n", cp_diag_format(d, i));
		die("compile", NULL, rc);
	}
	cp_diag_free(d);
	cp_rules_opts_free(o);
	return rs;
}

/* 10,000 window rules over the series fields, with varied thresholds. */
static char *many_rules(size_t n, size_t *len)
{
	static const char *const fields[] = {"web_sessions", "gprs_mb", "voice_minutes", "sms_count",
	                                     "mms_sent", "fetion_logins", "crbt_downloads",
	                                     "ivr_national_calls"};
	size_t cap = n * 160 + 256, o = 0;
	char *s = malloc(cap);
	o += (size_t)snprintf(s + o, cap - o, "custprof: 1\npack: many\ntags:\n");
	for (size_t i = 0; i < n; i++) {
		const char *f = fields[i % 8], *g = fields[(i / 8) % 8];
		int lo = (int)(i % 3), hi = 3 + (int)(i % 3);
		switch (i % 4) {
		case 0:
			o += (size_t)snprintf(s + o, cap - o, "  - {id: r%zu, when: \"all(%s[%d..%d] > %zu)\"}\n",
			                      i, f, lo, hi, i % 50);
			break;
		case 1:
			o += (size_t)snprintf(s + o, cap - o,
			                      "  - {id: r%zu, when: \"count(%s[0..5] > %zu) >= 3 and any(%s[0..2] > %zu)\"}\n",
			                      i, f, i % 40, g, i % 30);
			break;
		case 2:
			o += (size_t)snprintf(s + o, cap - o,
			                      "  - {id: r%zu, when: \"avg(%s[0..2]) < avg(%s[3..5]) * 0.%zu\"}\n", i,
			                      f, f, 1 + i % 9);
			break;
		default:
			o += (size_t)snprintf(s + o, cap - o,
			                      "  - {id: r%zu, when: \"none(%s[%d..%d] > %zu) or sum(%s[0..5]) > %zu\"}\n",
			                      i, f, lo, hi, i % 20, g, 100 + i % 500);
			break;
		}
	}
	*len = o;
	return s;
}

/* Synthetic subscribers: every series of the 30-tag pack filled. */
static cp_store *make_store(const cp_schema *s, size_t n)
{
	cp_store *st;
	cp_profile *p;
	if (cp_store_new(&st, s) != CP_OK || cp_profile_new(&p, s) != CP_OK)
		die("store", NULL, CP_ENOMEM);
	cp_store_set_as_of(st, 202610);
	int nf = cp_schema_field_count(s), key = cp_schema_key_field(s);
	char buf[64];
	for (size_t i = 0; i < n; i++) {
		cp_profile_clear(p);
		snprintf(buf, sizeof(buf), "13%09zu", i);
		if (cp_profile_set_text(p, key, 0, buf) != CP_OK)
			die("key", p, CP_EINVAL);
		for (int f = 0; f < nf; f++) {
			int type = cp_schema_field_type(s, f), months = cp_schema_field_months(s, f);
			for (int m = 0; m < months; m++) {
				if (rnd() % 10 == 0)
					continue;
				switch (type) {
				case CP_TYPE_INT:
					cp_profile_set_int(p, f, m, (int64_t)(rnd() % 40));
					break;
				case CP_TYPE_FLOAT:
					cp_profile_set_float(p, f, m, (double)(rnd() % 10000) / 100.0);
					break;
				case CP_TYPE_MONEY:
					cp_profile_set_money(p, f, m, (int64_t)(rnd() % 20000));
					break;
				case CP_TYPE_BOOL:
					cp_profile_set_bool(p, f, m, (int)(rnd() % 2));
					break;
				case CP_TYPE_DATE:
					cp_profile_set_date(p, f, m, (cp_date)(19000 + rnd() % 2000));
					break;
				case CP_TYPE_ENUM:
					if (cp_schema_field_is_closed(s, f) && cp_schema_field_value_count(s, f) > 0)
						cp_profile_set_string(p, f, m, cp_schema_field_value(s, f,
						                      (int)(rnd() % (uint64_t)cp_schema_field_value_count(s, f))));
					break;
				default:
					break;
				}
			}
		}
		if (cp_store_put(st, p, NULL) != CP_OK)
			die("put", st, CP_EINVAL);
	}
	cp_profile_free(p);
	return st;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Tag-all on one thread: profiles per second (wall time; *cpu_rate: CPU time). */
static double tag_all(const cp_store *st, const cp_ruleset *rs, size_t *applying, double *cpu_rate)
{
	cp_result *res;
	cp_view *v;
	cp_iter *it;
	cp_result_new(&res, rs);
	cp_view_new(&v, st);
	cp_iter_new(&it, st);
	size_t n = 0, tags = 0;
	double t0 = now(), c0 = cpu();
	while (cp_iter_next(it, v) == CP_OK) {
		cp_eval(res, v);
		tags += (size_t)cp_result_tag_count(res);
		n++;
	}
	double t = now() - t0;
	*cpu_rate = n / (cpu() - c0);
	*applying = tags;
	cp_iter_free(it);
	cp_view_free(v);
	cp_result_free(res);
	return n / t;
}

int main(int argc, char **argv)
{
	size_t nprof = 1000000, nkeys = 1000000;
	const char *path = NULL;
	cp_set_allocator(count_malloc, count_realloc, free);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			nprof = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc)
			nkeys = strtoull(argv[++i], NULL, 10);
		else
			path = argv[i];
	}
	cp_schema *s;
	cp_store *st;
	double t0 = now();
	if (path) {
		cp_diag *d;
		cp_diag_new(&d);
		int rc = cp_store_open(&st, path, d);
		if (rc != CP_OK)
			die(path, NULL, rc);
		cp_diag_free(d);
		s = NULL;
	} else {
		if (cp_schema_default(&s) != CP_OK)
			die("schema", NULL, CP_ENOMEM);
		st = make_store(s, nprof);
	}
	const cp_schema *schema = cp_store_schema(st);
	nprof = cp_store_count(st);
	printf("store: %zu profiles (%s, %.1f s), row %zu bytes\n", nprof, path ? path : "synthetic",
	       now() - t0, cp_store_row_bytes(st));

	/* 1. compile time */
	size_t len;
	char *many = many_rules(10000, &len);
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		t0 = now();
		cp_ruleset *rs = compile(schema, many, len, "many.yaml");
		double t = now() - t0;
		best = t < best ? t : best;
		cp_ruleset_free(rs);
	}
	free(many);
	printf("compile: 10000 rules in %.3f s (best of 3), %.1f us per rule\n", best, best * 100);

	cp_ruleset *rs = compile(schema, pack30, strlen(pack30), "pack30.yaml");
	int ntags = cp_ruleset_tag_count(rs);

	/* 2. point evaluation: lookup + 30 tags, each timed */
	char (*keys)[32] = malloc(nkeys * sizeof(*keys));
	double *lat = malloc(nkeys * sizeof(double));
	{
		/* keys of the store, drawn at random */
		char **all = malloc(nprof * sizeof(char *));
		cp_iter *it;
		cp_view *v;
		cp_iter_new(&it, st);
		cp_view_new(&v, st);
		size_t k = 0;
		while (cp_iter_next(it, v) == CP_OK && k < nprof)
			all[k++] = strdup(cp_view_key(v));
		for (size_t i = 0; i < nkeys; i++)
			snprintf(keys[i], sizeof(keys[i]), "%s", all[rnd() % k]);
		for (size_t i = 0; i < k; i++)
			free(all[i]);
		free(all);
		cp_iter_free(it);
		cp_view_free(v);
	}
	cp_result *res;
	cp_view *view;
	cp_result_new(&res, rs);
	cp_view_new(&view, st);
	size_t a0 = allocs;
	for (size_t i = 0; i < nkeys; i++) {
		double t = now();
		if (cp_eval_key(res, st, keys[i]) != CP_OK)
			die("eval_key", res, CP_ENOTFOUND);
		lat[i] = now() - t;
	}
	size_t a1 = allocs;
	qsort(lat, nkeys, sizeof(double), cmp_double);
	printf("point (lookup + %d tags): p50 %.2f us, p99 %.2f us, p99.9 %.2f us over %zu random keys\n",
	       ntags, lat[nkeys / 2] * 1e6, lat[nkeys * 99 / 100] * 1e6, lat[nkeys * 999 / 1000] * 1e6,
	       nkeys);
	printf("allocations: %zu in %zu evaluations (%.3f per evaluation)\n", a1 - a0, nkeys,
	       (double)(a1 - a0) / (double)nkeys);

	/* 3. evaluation alone, one profile over and over, and over random views */
	cp_store_get(st, keys[0], view);
	size_t reps = 2000000;
	t0 = cpu();
	for (size_t i = 0; i < reps; i++)
		cp_eval(res, view);
	double t = cpu() - t0;
	printf("evaluation alone (one hot profile, CPU time): %.0f ns per profile, %.1f ns per tag\n",
	       t / reps * 1e9, t / reps / ntags * 1e9);

	/* 4. tag-all, one thread */
	size_t applying;
	double crate;
	double rate = tag_all(st, rs, &applying, &crate);
	printf("tag-all (%d-tag pack, 1 thread): %.2f M profiles/s wall, %.2f M/s CPU time (%.0f ns per profile, %.1f ns per tag), %.2f tags per profile\n",
	       ntags, rate / 1e6, crate / 1e6, 1e9 / crate, 1e9 / crate / ntags,
	       (double)applying / (double)nprof);
	cp_ruleset *defaults = compile(schema, NULL, 0, NULL);
	rate = tag_all(st, defaults, &applying, &crate);
	printf("tag-all (built-in packs: %d tags, %d tracks, 1 thread): %.2f M profiles/s wall, %.2f M/s CPU time\n",
	       cp_ruleset_tag_count(defaults), cp_ruleset_track_count(defaults), rate / 1e6,
	       crate / 1e6);

	cp_ruleset_free(defaults);
	cp_view_free(view);
	cp_result_free(res);
	cp_ruleset_free(rs);
	free(keys);
	free(lat);
	cp_store_free(st);
	cp_schema_free(s);
	return 0;
}
