/*
 * benchgen.h — synthetic profiles of the default schema for the store
 * benchmarks (public API only).  Every field gets a value: numbers vary,
 * texts come from small vocabularies (as regions and plans do) except the
 * key and the name, which are unique.
 */
#ifndef BENCHGEN_H
#define BENCHGEN_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif

#include <custprof/custprof.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t bench_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static inline void bench_die(const char *what, int rc, const void *handle)
{
	fprintf(stderr, "%s: %s (%s)\n", what, cp_strerror(rc), handle ? cp_errmsg(handle) : "");
	exit(1);
}

/* Fill p as subscriber i (seq: a counter the updates bump). */
static inline void bench_fill(cp_profile *p, const cp_schema *s, long i, uint64_t seq)
{
	static const char *const vocab[] = {"wap", "飞信", "手机报", "彩铃", "music", "news",
	                                    "sports", "game", "video", "mail"};
	uint64_t x = 0x9E3779B97F4A7C15u ^ ((uint64_t)i * 0x100000001b3u) ^ seq;
	char buf[64];
	cp_profile_clear(p);
	for (int f = 0; f < cp_schema_field_count(s); f++) {
		int type = cp_schema_field_type(s, f), months = cp_schema_field_months(s, f);
		for (int m = 0; m < months; m++) {
			uint64_t r = bench_rand(&x);
			int rc = CP_OK;
			if (f == cp_schema_key_field(s)) {
				snprintf(buf, sizeof(buf), "138%08ld", i);
				rc = cp_profile_set_string(p, f, 0, buf);
			} else if (r % 8 == 0) {
				continue; /* some nulls */
			} else switch (type) {
			case CP_TYPE_BOOL: rc = cp_profile_set_bool(p, f, m, (int)(r & 1)); break;
			case CP_TYPE_INT: rc = cp_profile_set_int(p, f, m, (int64_t)(r % 1000)); break;
			case CP_TYPE_FLOAT: rc = cp_profile_set_float(p, f, m, (double)(r % 10000) / 7.0); break;
			case CP_TYPE_MONEY: rc = cp_profile_set_money(p, f, m, (int64_t)(r % 50000)); break;
			case CP_TYPE_DATE: rc = cp_profile_set_date(p, f, m, (cp_date)(15000 + r % 5000)); break;
			case CP_TYPE_ENUM:
				if (cp_schema_field_is_closed(s, f)) {
					int n = cp_schema_field_value_count(s, f);
					rc = cp_profile_set_string(p, f, m, cp_schema_field_value(s, f, (int)(r % (uint64_t)n)));
				} else {
					snprintf(buf, sizeof(buf), "v%d", (int)(r % 20));
					rc = cp_profile_set_string(p, f, m, buf);
				}
				break;
			case CP_TYPE_STRING:
				if (cp_schema_field_is_personal(s, f))
					snprintf(buf, sizeof(buf), "客户%ld", i);
				else
					snprintf(buf, sizeof(buf), "s%d", (int)(r % 50));
				rc = cp_profile_set_string(p, f, m, buf);
				break;
			case CP_TYPE_SET:
			case CP_TYPE_LIST: {
				int n = 1 + (int)(r % 3);
				for (int k = 0; k < n && rc == CP_OK; k++)
					rc = cp_profile_add_item(p, f, m, vocab[(r >> (8 * k)) % 10]);
				break;
			}
			default:
				break;
			}
			if (rc != CP_OK)
				bench_die("set", rc, p);
		}
	}
}

/* A store of n subscribers of the default schema. */
static inline cp_store *bench_store(const cp_schema *s, long n)
{
	cp_store *st;
	cp_profile *p;
	int rc;
	if ((rc = cp_store_new(&st, s)) != CP_OK || (rc = cp_profile_new(&p, s)) != CP_OK)
		bench_die("new", rc, NULL);
	for (long i = 0; i < n; i++) {
		bench_fill(p, s, i, 0);
		if ((rc = cp_store_put(st, p, NULL)) != CP_OK)
			bench_die("put", rc, st);
	}
	cp_store_set_as_of(st, 202610);
	cp_profile_free(p);
	return st;
}

#endif
