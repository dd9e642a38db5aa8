/*
 * check_store.c — the in-memory store: pools, drafts and their setters,
 * put/replace/delete, lookups, getters, the text form, iteration, memory.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* Field indexes of tu_schema(). */
enum {
	F_MSISDN, F_BRAND, F_REGION, F_NAME, F_AGE, F_SCORE, F_VIP, F_OVERDUE, F_JOIN,
	F_ADDONS, F_TONES, F_ARPU, F_GPRS, F_SESSIONS, F_ACTIVE, F_LAST_CALL, F_APPS, F_COUNT
};

static cp_schema *schema;
static cp_store *store;
static cp_profile *prof;
static cp_view *view;

static void setup(void)
{
	schema = tu_schema();
	ck_assert_int_eq(cp_schema_field_index(schema, "apps"), F_APPS);
	ck_assert_int_eq(cp_schema_field_count(schema), F_COUNT);
	ck_assert_int_eq(cp_store_new(&store, schema), CP_OK);
	ck_assert_int_eq(cp_profile_new(&prof, schema), CP_OK);
	ck_assert_int_eq(cp_view_new(&view, store), CP_OK);
}

static void teardown(void)
{
	cp_view_free(view);
	cp_profile_free(prof);
	cp_store_free(store);
	cp_schema_free(schema);
}

/* Put a profile with only its key set. */
static void put_key(const char *key)
{
	cp_profile_clear(prof);
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, key), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
}


/* The view of key, which must exist. */
static void get(const char *key)
{
	ck_assert_msg(cp_store_get(store, key, view) == CP_OK, "get %s: %s", key, cp_errmsg(view));
}

/* Put the draft (key 13800000001), then point the view at it. */
static void put_and_get(void)
{
	ck_assert_msg(cp_store_put(store, prof, NULL) == CP_OK, "%s", cp_errmsg(store));
	get("13800000001");
}

/* ---- pools ---- */

START_TEST(test_strpool_interns)
{
	cp_strpool p;
	ck_assert_int_eq(cp__strpool_init(&p), CP_OK);
	uint32_t id, a, b;
	ck_assert_int_eq(cp__strpool_intern(&p, "", 0, &id), CP_OK);
	ck_assert_uint_eq(id, 0);
	ck_assert_str_eq(cp__strpool_get(&p, 0), "");
	ck_assert_int_eq(cp__strpool_intern(&p, "gotone,x", 6, &a), CP_OK);
	ck_assert_int_eq(cp__strpool_intern(&p, "szx", 3, &b), CP_OK);
	ck_assert_uint_ne(a, b);
	ck_assert_str_eq(cp__strpool_get(&p, a), "gotone");
	ck_assert_int_eq(cp__strpool_intern(&p, "gotone", 6, &id), CP_OK);
	ck_assert_uint_eq(id, a);
	ck_assert_uint_eq(cp__strpool_find(&p, "szx", 3), b);
	ck_assert_uint_eq(cp__strpool_find(&p, "sz", 2), CP_NO_ID);
	ck_assert_uint_eq(p.count, 3);
	/* growth of the bytes and the hash keeps every id */
	uint32_t ids[5000];
	char buf[32];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(buf, sizeof(buf), "s%d", i);
		ck_assert_int_eq(cp__strpool_intern(&p, buf, (size_t)n, &ids[i]), CP_OK);
	}
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(buf, sizeof(buf), "s%d", i);
		ck_assert_uint_eq(cp__strpool_find(&p, buf, (size_t)n), ids[i]);
		ck_assert_str_eq(cp__strpool_get(&p, ids[i]), buf);
	}
	ck_assert_uint_eq(p.count, 5003);
	ck_assert_uint_le(p.count, (p.mask + 1) / 2);
	ck_assert_uint_eq(cp__strpool_find(&p, "gotone", 6), a);
	cp__strpool_reset(&p);
	ck_assert_uint_eq(p.count, 1);
	ck_assert_uint_eq(cp__strpool_find(&p, "gotone", 6), CP_NO_ID);
	ck_assert_uint_eq(cp__strpool_find(&p, "", 0), 0);
	cp__strpool_free(&p);
}
END_TEST

START_TEST(test_strpool_limit)
{
	cp_strpool p;
	ck_assert_int_eq(cp__strpool_init(&p), CP_OK);
	uint32_t id;
	ck_assert_int_eq(cp__strpool_intern(&p, "a", 1, &id), CP_OK);
	/* Pretend the pool is nearly 4 GiB: a new string must not get an id
	 * whose slot (id + 1) would overflow; known strings are still found. */
	size_t len = p.len;
	p.len = (size_t)UINT32_MAX - 8;
	ck_assert_int_eq(cp__strpool_intern(&p, "abcdefgh", 8, &id), CP_ELIMIT);
	ck_assert_int_eq(cp__strpool_intern(&p, "a", 1, &id), CP_OK);
	ck_assert_int_eq(cp__strpool_intern(&p, "abcdef", 6, &id), CP_OK);
	ck_assert_uint_eq(id, (size_t)UINT32_MAX - 8);
	ck_assert_uint_eq(p.len, (size_t)UINT32_MAX - 1);
	p.len = len;
	cp__strpool_free(&p);
}
END_TEST

START_TEST(test_listpool_interns)
{
	cp_listpool p;
	ck_assert_int_eq(cp__listpool_init(&p), CP_OK);
	uint32_t id, a, b, c;
	ck_assert_int_eq(cp__listpool_intern(&p, NULL, 0, &id), CP_OK);
	ck_assert_uint_eq(id, 0);
	const uint32_t x[] = {5, 9, 12}, y[] = {9, 5, 12};
	ck_assert_int_eq(cp__listpool_intern(&p, x, 3, &a), CP_OK);
	ck_assert_int_eq(cp__listpool_intern(&p, y, 3, &b), CP_OK);
	ck_assert_int_eq(cp__listpool_intern(&p, x, 2, &c), CP_OK);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_ne(a, c);
	ck_assert_int_eq(cp__listpool_intern(&p, x, 3, &id), CP_OK);
	ck_assert_uint_eq(id, a);
	ck_assert_uint_eq(cp__listpool_count(&p, a), 3);
	ck_assert_uint_eq(cp__listpool_ids(&p, b)[0], 9);
	uint32_t ids[3000];
	for (uint32_t i = 0; i < 3000; i++) {
		uint32_t l[2] = {i, i * 7};
		ck_assert_int_eq(cp__listpool_intern(&p, l, 1 + i % 2, &ids[i]), CP_OK);
	}
	for (uint32_t i = 0; i < 3000; i++) {
		uint32_t l[2] = {i, i * 7};
		ck_assert_int_eq(cp__listpool_intern(&p, l, 1 + i % 2, &id), CP_OK);
		ck_assert_uint_eq(id, ids[i]);
		ck_assert_uint_eq(cp__listpool_count(&p, id), 1 + i % 2);
		ck_assert_uint_eq(cp__listpool_ids(&p, id)[0], i);
	}
	size_t len = p.len;
	p.len = (size_t)UINT32_MAX - 3;
	const uint32_t z[] = {1, 2, 3};
	ck_assert_int_eq(cp__listpool_intern(&p, z, 3, &id), CP_ELIMIT);
	ck_assert_int_eq(cp__listpool_intern(&p, x, 3, &id), CP_OK); /* known */
	ck_assert_uint_eq(id, a);
	p.len = len;
	cp__listpool_free(&p);
}
END_TEST

/* ---- drafts: setters and getters of every type ---- */

START_TEST(test_handles_and_null_arguments)
{
	cp_store *s = (cp_store *)1;
	ck_assert_int_eq(cp_store_new(&s, NULL), CP_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(cp_store_new(NULL, schema), CP_EINVAL);
	cp_profile *p = (cp_profile *)1;
	ck_assert_int_eq(cp_profile_new(&p, NULL), CP_EINVAL);
	ck_assert_ptr_null(p);
	cp_view *v = (cp_view *)1;
	ck_assert_int_eq(cp_view_new(&v, NULL), CP_EINVAL);
	ck_assert_ptr_null(v);
	cp_iter *it = (cp_iter *)1;
	ck_assert_int_eq(cp_iter_new(&it, NULL), CP_EINVAL);
	ck_assert_ptr_null(it);
	cp_store_free(NULL);
	cp_profile_free(NULL);
	cp_profile_clear(NULL);
	cp_view_free(NULL);
	cp_iter_free(NULL);
	ck_assert_int_eq(cp_profile_set_int(NULL, F_AGE, 0, 1), CP_EINVAL);
	ck_assert_int_eq(cp_profile_set_text(prof, F_AGE, 0, NULL), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'age': NULL text (\"\" is null)");
	ck_assert_int_eq(cp_profile_set_string(prof, F_NAME, 0, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_profile_add_item(prof, F_APPS, 0, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_store_put(NULL, prof, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_store_put(store, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_store_delete(store, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_store_get(store, NULL, view), CP_EINVAL);
	ck_assert_int_eq(cp_store_get(store, "13800000001", NULL), CP_EINVAL);
	ck_assert_ptr_eq(cp_store_schema(store), schema);
	ck_assert_ptr_null(cp_store_schema(NULL));
	ck_assert_uint_eq(cp_store_count(NULL), 0);
	ck_assert_int_eq(cp_store_foreach(store, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_iter_next(NULL, view), CP_EINVAL);
	ck_assert_int_eq(cp_view_text(NULL, F_AGE, 0, NULL, 0), CP_EINVAL);
}
END_TEST

START_TEST(test_store_keeps_its_schema)
{
	/* The store and the draft hold their own references. */
	cp_schema *s = tu_schema();
	cp_store *st;
	cp_profile *p;
	ck_assert_int_eq(cp_store_new(&st, s), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, s), CP_OK);
	cp_schema_free(s);
	ck_assert_int_eq(cp_profile_set_text(p, F_MSISDN, 0, "13800000009"), CP_OK);
	ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	ck_assert_int_eq(cp_schema_field_count(cp_store_schema(st)), F_COUNT);
	cp_profile_free(p);
	cp_store_free(st);
}
END_TEST

START_TEST(test_typed_setters_and_getters)
{
	cp_date d1, d2;
	ck_assert_int_eq(cp_date_from_ymd(&d1, 2008, 3, 15), CP_OK);
	ck_assert_int_eq(cp_date_from_ymd(&d2, 1969, 12, 31), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_BRAND, 0, "mzone"), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_REGION, 0, "杭州"), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_NAME, 0, "张三"), CP_OK);
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, INT64_MIN), CP_OK);
	ck_assert_int_eq(cp_profile_set_float(prof, F_SCORE, 0, 0.625), CP_OK);
	ck_assert_int_eq(cp_profile_set_bool(prof, F_VIP, 0, 7), CP_OK);
	ck_assert_int_eq(cp_profile_set_money(prof, F_OVERDUE, 0, -5), CP_OK);
	ck_assert_int_eq(cp_profile_set_date(prof, F_JOIN, 0, d1), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_ADDONS, 0, "流量包"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_TONES, 0, "t9"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_TONES, 0, "t1"), CP_OK);
	for (int m = 0; m < 6; m++) {
		ck_assert_int_eq(cp_profile_set_money(prof, F_ARPU, m, 1000 + m), CP_OK);
		ck_assert_int_eq(cp_profile_set_float(prof, F_GPRS, m, m / 4.0), CP_OK);
		ck_assert_int_eq(cp_profile_set_int(prof, F_SESSIONS, m, INT64_MAX - m), CP_OK);
		ck_assert_int_eq(cp_profile_set_bool(prof, F_ACTIVE, m, m % 2), CP_OK);
		ck_assert_int_eq(cp_profile_set_date(prof, F_LAST_CALL, m, d2 - m), CP_OK);
		ck_assert_int_eq(cp_profile_add_item(prof, F_APPS, m, m % 2 ? "wap" : "mms"), CP_OK);
	}
	put_and_get();
	ck_assert_str_eq(cp_view_key(view), "13800000001");
	ck_assert_str_eq(cp_view_string(view, F_MSISDN, 0), "13800000001");
	ck_assert_str_eq(cp_view_string(view, F_BRAND, 0), "mzone");
	ck_assert_str_eq(cp_view_string(view, F_REGION, 0), "杭州");
	ck_assert_str_eq(cp_view_string(view, F_NAME, 0), "张三");
	ck_assert(cp_view_int(view, F_AGE, 0) == INT64_MIN);
	ck_assert(cp_view_float(view, F_SCORE, 0) == 0.625);
	ck_assert_int_eq(cp_view_bool(view, F_VIP, 0), 1);
	ck_assert_int_eq(cp_view_money(view, F_OVERDUE, 0), -5);
	ck_assert_int_eq(cp_view_date(view, F_JOIN, 0), d1);
	ck_assert_int_eq(cp_view_item_count(view, F_ADDONS, 0), 1);
	ck_assert_str_eq(cp_view_item(view, F_ADDONS, 0, 0), "流量包");
	ck_assert_int_eq(cp_view_item_count(view, F_TONES, 0), 2);
	ck_assert_str_eq(cp_view_item(view, F_TONES, 0, 0), "t9"); /* list order kept */
	ck_assert_str_eq(cp_view_item(view, F_TONES, 0, 1), "t1");
	ck_assert_ptr_null(cp_view_item(view, F_TONES, 0, 2));
	ck_assert_ptr_null(cp_view_item(view, F_TONES, 0, -1));
	for (int m = 0; m < 6; m++) {
		ck_assert_int_eq(cp_view_money(view, F_ARPU, m), 1000 + m);
		ck_assert(cp_view_float(view, F_GPRS, m) == m / 4.0);
		ck_assert(cp_view_int(view, F_SESSIONS, m) == INT64_MAX - m);
		ck_assert_int_eq(cp_view_bool(view, F_ACTIVE, m), m % 2);
		ck_assert_int_eq(cp_view_is_null(view, F_ACTIVE, m), 0);
		ck_assert_int_eq(cp_view_date(view, F_LAST_CALL, m), d2 - m);
		ck_assert_str_eq(cp_view_item(view, F_APPS, m, 0), m % 2 ? "wap" : "mms");
	}
	/* getters of the wrong type, out of range: 0 / NULL */
	ck_assert_int_eq(cp_view_int(view, F_ARPU, 0), 0);
	ck_assert(cp_view_float(view, F_AGE, 0) == 0);
	ck_assert_int_eq(cp_view_money(view, F_AGE, 0), 0);
	ck_assert_int_eq(cp_view_bool(view, F_AGE, 0), 0);
	ck_assert_int_eq(cp_view_date(view, F_AGE, 0), 0);
	ck_assert_ptr_null(cp_view_string(view, F_AGE, 0));
	ck_assert_ptr_null(cp_view_string(view, F_APPS, 0));
	ck_assert_int_eq(cp_view_item_count(view, F_NAME, 0), 0);
	ck_assert_ptr_null(cp_view_item(view, F_NAME, 0, 0));
	ck_assert_int_eq(cp_view_money(view, F_ARPU, 6), 0);
	ck_assert_int_eq(cp_view_money(view, F_ARPU, -1), 0);
	ck_assert_int_eq(cp_view_int(view, F_AGE, 1), 0);
	ck_assert_int_eq(cp_view_int(view, -1, 0), 0);
	ck_assert_int_eq(cp_view_int(view, F_COUNT, 0), 0);
	ck_assert_int_eq(cp_view_is_null(view, F_COUNT, 0), 1);
	ck_assert_int_eq(cp_view_is_null(view, F_ARPU, 6), 1);
	ck_assert_int_eq(cp_view_is_null(NULL, F_AGE, 0), 1);
	ck_assert_ptr_null(cp_view_key(NULL));
}
END_TEST

START_TEST(test_null_is_not_zero)
{
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, 0), CP_OK);
	ck_assert_int_eq(cp_profile_set_bool(prof, F_VIP, 0, 0), CP_OK);
	ck_assert_int_eq(cp_profile_set_money(prof, F_ARPU, 5, 0), CP_OK);
	ck_assert_int_eq(cp_profile_set_date(prof, F_JOIN, 0, 0), CP_OK); /* 1970-01-01 */
	ck_assert_int_eq(cp_profile_set_float(prof, F_SCORE, 0, -0.0), CP_OK);
	put_and_get();
	ck_assert_int_eq(cp_view_is_null(view, F_AGE, 0), 0);
	ck_assert_int_eq(cp_view_is_null(view, F_VIP, 0), 0);
	ck_assert_int_eq(cp_view_is_null(view, F_ARPU, 5), 0);
	ck_assert_int_eq(cp_view_is_null(view, F_JOIN, 0), 0);
	ck_assert_int_eq(cp_view_is_null(view, F_SCORE, 0), 0);
	for (int m = 0; m < 5; m++)
		ck_assert_int_eq(cp_view_is_null(view, F_ARPU, m), 1);
	for (int f = F_BRAND; f < F_COUNT; f++) {
		if (f == F_AGE || f == F_VIP || f == F_ARPU || f == F_JOIN || f == F_SCORE)
			continue;
		ck_assert_msg(cp_view_is_null(view, f, 0) == 1, "field %d", f);
		char buf[8] = "x";
		ck_assert_int_eq(cp_view_text(view, f, 0, buf, sizeof(buf)), 0);
		ck_assert_str_eq(buf, "");
	}
	char buf[8];
	ck_assert_int_eq(cp_view_text(view, F_AGE, 0, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "0");
	ck_assert_int_eq(cp_view_text(view, F_JOIN, 0, buf, sizeof(buf)), 10);
	ck_assert_str_eq(buf, "1970-01"); /* truncated, as snprintf */
	/* set_null and set_text "" make a cell null again */
	ck_assert_int_eq(cp_profile_set_null(prof, F_AGE, 0), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_VIP, 0, ""), CP_OK);
	ck_assert_int_eq(cp_profile_set_null(prof, F_ARPU, 6), CP_EINVAL);
	put_and_get();
	ck_assert_int_eq(cp_view_is_null(view, F_AGE, 0), 1);
	ck_assert_int_eq(cp_view_is_null(view, F_VIP, 0), 1);
	ck_assert_int_eq(cp_view_is_null(view, F_ARPU, 5), 0);
}
END_TEST

START_TEST(test_month_bounds)
{
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 1, 5), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'age' is not a series: month must be 0, not 1");
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, -1, 5), CP_EINVAL);
	ck_assert_int_eq(cp_profile_set_money(prof, F_ARPU, 6, 5), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'arpu': month 6 is out of range 0..5");
	ck_assert_int_eq(cp_profile_set_money(prof, F_ARPU, -1, 5), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'arpu': month -1 is out of range 0..5");
	ck_assert_int_eq(cp_profile_set_money(prof, F_ARPU, 5, 5), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 6, "a"), CP_EINVAL);
	ck_assert_int_eq(cp_profile_add_item(prof, F_APPS, 6, "a"), CP_EINVAL);
	ck_assert_int_eq(cp_profile_set_int(prof, -1, 0, 5), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "no field -1 (the schema has 17 fields)");
	ck_assert_int_eq(cp_profile_set_int(prof, F_COUNT, 0, 5), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "no field 17 (the schema has 17 fields)");
	const char *why;
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &schema->fields[F_ARPU], 6, "1", 1, &why),
	                 CP_EINVAL);
	ck_assert_str_eq(why, "month out of range");
}
END_TEST

START_TEST(test_wrong_setter_type)
{
	ck_assert_int_eq(cp_profile_set_int(prof, F_BRAND, 0, 1), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'brand' is enum, cannot be set as int");
	ck_assert_int_eq(cp_profile_set_string(prof, F_AGE, 0, "1"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'age' is int, cannot be set as string");
	ck_assert_int_eq(cp_profile_set_float(prof, F_ARPU, 0, 1.5), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'arpu' is money, cannot be set as float");
	ck_assert_int_eq(cp_profile_set_money(prof, F_GPRS, 0, 1), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'gprs_mb' is float, cannot be set as money");
	ck_assert_int_eq(cp_profile_set_bool(prof, F_SESSIONS, 0, 1), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'sessions' is int, cannot be set as bool");
	ck_assert_int_eq(cp_profile_set_date(prof, F_AGE, 0, 1), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'age' is int, cannot be set as date");
	ck_assert_int_eq(cp_profile_add_item(prof, F_NAME, 0, "x"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof),
	                 "field 'name' is string, cannot be set as a set or list item");
	ck_assert_int_eq(cp_profile_set_string(prof, F_APPS, 0, "x"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'apps' is set, cannot be set as string");
	ck_assert_int_eq(cp_profile_set_int(prof, F_VIP, 0, 1), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'vip' is bool, cannot be set as int");
	/* nothing was set */
	for (int f = 0; f < F_COUNT; f++)
		ck_assert(!cp__row_present(prof->row, schema->fields[f].cell));
}
END_TEST

START_TEST(test_closed_enum)
{
	ck_assert_int_eq(cp_profile_set_string(prof, F_BRAND, 0, "szx"), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_BRAND, 0, "gotonee"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'brand': 'gotonee': not one of the listed "
	                                  "values of the enum (did you mean 'gotone'?)");
	ck_assert_int_eq(cp_profile_set_text(prof, F_BRAND, 0, "MZONE"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'brand': 'MZONE': not one of the listed values "
	                                  "of the enum");
	ck_assert_int_eq(cp_profile_set_string(prof, F_BRAND, 0, "全球通"), CP_ETYPE);
	/* the cell is unchanged */
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	put_and_get();
	ck_assert_str_eq(cp_view_string(view, F_BRAND, 0), "szx");
	/* closed enums are stored as the value's index, open ones as strings */
	uint32_t v;
	memcpy(&v, cp__row_cell(view->row, &schema->fields[F_BRAND], 0), sizeof(v));
	ck_assert_uint_eq(v, 1);
	/* the fast path gives the suggestion as its reason */
	const char *why;
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &schema->fields[F_BRAND], 0, "szxx|", 4,
	                                           &why), CP_ETYPE);
	ck_assert_str_eq(why, "not one of the listed values of the enum (did you mean 'szx'?)");
	/* no suggestion from a personal field */
	schema->fields[F_BRAND].personal = true;
	ck_assert_int_eq(cp_profile_set_string(prof, F_BRAND, 0, "gotonee"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof), "field 'brand': not one of the listed values of the enum");
	schema->fields[F_BRAND].personal = false;
}
END_TEST

START_TEST(test_list_max_and_order)
{
	ck_assert_int_eq(cp_profile_add_item(prof, F_TONES, 0, "c"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_TONES, 0, "a"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_TONES, 0, "c"), CP_OK); /* lists keep repeats */
	ck_assert_int_eq(cp_profile_add_item(prof, F_TONES, 0, "b"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof),
	                 "field 'tones': 'b': 4 items, more than the list's max of 3");
	ck_assert_int_eq(cp_profile_set_text(prof, F_TONES, 0, "1;2;3;4"), CP_ETYPE);
	ck_assert_str_eq(cp_errmsg(prof),
	                 "field 'tones': '1;2;3;4': 4 items, more than the list's max of 3");
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	put_and_get();
	char buf[32];
	ck_assert_int_eq(cp_view_text(view, F_TONES, 0, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "c;a;c");
	ck_assert_int_eq(cp_profile_set_text(prof, F_TONES, 0, "z;y;x"), CP_OK);
	put_and_get();
	ck_assert_int_eq(cp_view_text(view, F_TONES, 0, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "z;y;x");
}
END_TEST

START_TEST(test_set_dedup_and_canonical_order)
{
	ck_assert_int_eq(cp_profile_add_item(prof, F_ADDONS, 0, "wap"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_ADDONS, 0, "彩铃"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_ADDONS, 0, "3g"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_ADDONS, 0, "wap"), CP_OK);
	ck_assert_int_eq(cp_profile_add_item(prof, F_ADDONS, 0, "Wap"), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	put_and_get();
	char buf[64];
	/* byte order: digits, upper case, lower case, then multi-byte UTF-8 */
	ck_assert_int_eq(cp_view_text(view, F_ADDONS, 0, buf, sizeof(buf)), 17);
	ck_assert_str_eq(buf, "3g;Wap;wap;彩铃");
	ck_assert_int_eq(cp_view_item_count(view, F_ADDONS, 0), 4);
	/* the same set given in another order interns to the same id */
	cp_profile_clear(prof);
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000002"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_ADDONS, 0, "彩铃;wap;Wap;3g;wap"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 2, "Wap;3g;彩铃;wap"), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
	uint32_t a, b, c;
	get("13800000001");
	memcpy(&a, cp__row_cell(view->row, &schema->fields[F_ADDONS], 0), 4);
	get("13800000002");
	memcpy(&b, cp__row_cell(view->row, &schema->fields[F_ADDONS], 0), 4);
	memcpy(&c, cp__row_cell(view->row, &schema->fields[F_APPS], 2), 4);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_eq(a, c);
	/* a big set (the merge-sort path) */
	cp_profile_clear(prof);
	char items[400 * 6] = "";
	size_t len = 0;
	for (int i = 0; i < 400; i++)
		len += (size_t)snprintf(items + len, sizeof(items) - len, "%s%03d", i ? ";" : "",
		                        (i * 37) % 200);
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000003"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_ADDONS, 0, items), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
	get("13800000003");
	ck_assert_int_eq(cp_view_item_count(view, F_ADDONS, 0), 200);
	for (int i = 0; i < 200; i++) {
		char want[16];
		snprintf(want, sizeof(want), "%03d", i);
		ck_assert_str_eq(cp_view_item(view, F_ADDONS, 0, i), want);
	}
}
END_TEST

START_TEST(test_text_validation)
{
	/* invalid UTF-8: stray continuation, overlong, surrogate, truncated */
	static const char *const bad[] = {"a\x80", "\xc0\xaf", "\xed\xa0\x80", "\xe5\xbc"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(cp_profile_set_string(prof, F_NAME, 0, bad[i]), CP_EINVAL);
		ck_assert_str_eq(cp_errmsg(prof), "field 'name': not valid UTF-8");
		ck_assert_int_eq(cp_profile_set_text(prof, F_REGION, 0, bad[i]), CP_EINVAL);
		ck_assert_int_eq(cp_profile_add_item(prof, F_APPS, 3, bad[i]), CP_EINVAL);
		ck_assert_str_eq(cp_errmsg(prof), "field 'apps' month 3: not valid UTF-8");
	}
	ck_assert_int_eq(cp_profile_set_string(prof, F_NAME, 0, "\xf0\x9f\x98\x80"), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_NAME, 0, ""), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof),
	                 "field 'name': an empty string is not a value (use cp_profile_set_null)");
	const char *why;
	const cp_field *name = &schema->fields[F_NAME];
	ck_assert_int_eq(cp__profile_set_cell_text(prof, name, 0, "a\0b", 3, &why), CP_EINVAL);
	ck_assert_str_eq(why, "contains a NUL byte");
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &schema->fields[F_APPS], 0, "a\0b", 3, &why),
	                 CP_EINVAL);
	/* items: not empty, no ';' in an added item */
	ck_assert_int_eq(cp_profile_add_item(prof, F_APPS, 0, ""), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'apps' month 0: an empty item (items are joined "
	                                  "by ';' and may not be empty)");
	ck_assert_int_eq(cp_profile_add_item(prof, F_APPS, 0, "a;b"), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'apps' month 0: 'a;b': an item may not contain "
	                                  "';' (it joins items in the text form)");
	static const char *const empty_items[] = {"a;;b", "a;", ";a", ";"};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(cp_profile_set_text(prof, F_TONES, 0, empty_items[i]), CP_EINVAL);
		ck_assert_int_eq(cp_profile_set_text(prof, F_ADDONS, 0, empty_items[i]), CP_EINVAL);
	}
	ck_assert_int_eq(cp_profile_set_float(prof, F_SCORE, 0, NAN), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof),
	                 "field 'score': not a finite number (NaN and infinities cannot be stored)");
	ck_assert_int_eq(cp_profile_set_float(prof, F_GPRS, 2, -INFINITY), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'gprs_mb' month 2: not a finite number (NaN "
	                                  "and infinities cannot be stored)");
	ck_assert_int_eq(cp_profile_set_date(prof, F_JOIN, 0, -719163), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'join_date': date out of range "
	                                  "0001-01-01..9999-12-31");
	ck_assert_int_eq(cp_profile_set_date(prof, F_JOIN, 0, 2932897), CP_EINVAL);
	ck_assert_int_eq(cp_profile_set_date(prof, F_JOIN, 0, -719162), CP_OK);
	ck_assert_int_eq(cp_profile_set_date(prof, F_JOIN, 0, 2932896), CP_OK);
	/* none of the failures set a cell */
	ck_assert(!cp__row_present(prof->row, schema->fields[F_APPS].cell));
	ck_assert(!cp__row_present(prof->row, schema->fields[F_SCORE].cell));
	ck_assert(!cp__row_present(prof->row, schema->fields[F_TONES].cell));
}
END_TEST

START_TEST(test_personal_values_never_in_messages)
{
	schema->fields[F_NAME].personal = true;
	ck_assert_int_eq(cp_profile_set_text(prof, F_NAME, 0, "张\xff"), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(prof), "field 'name': not valid UTF-8");
	schema->fields[F_NAME].personal = false;
	/* and a long value is cut in the message, at a character boundary */
	char longv[200];
	memset(longv, 'x', 59);
	strcpy(longv + 59, "张三丰张三丰张三丰张三丰张三丰");
	ck_assert_int_eq(cp_profile_set_text(prof, F_AGE, 0, longv), CP_ETYPE);
	ck_assert_msg(strstr(cp_errmsg(prof), "xxxxx...': not an integer") != NULL, "%s",
	              cp_errmsg(prof));
	ck_assert(cp__utf8_valid(cp_errmsg(prof), strlen(cp_errmsg(prof))));
}
END_TEST

/* ---- text form ---- */

struct text_case {
	int field, month;
	const char *in, *out; /* out NULL: rejected */
	int code;
	const char *msg;
};

static const struct text_case text_cases[] = {
	{F_VIP, 0, "1", "1", 0, NULL},
	{F_VIP, 0, "true", "1", 0, NULL},
	{F_VIP, 0, "Y", "1", 0, NULL},
	{F_VIP, 0, "是", "1", 0, NULL},
	{F_VIP, 0, "0", "0", 0, NULL},
	{F_VIP, 0, "false", "0", 0, NULL},
	{F_VIP, 0, "N", "0", 0, NULL},
	{F_ACTIVE, 5, "否", "0", 0, NULL},
	{F_VIP, 0, "yes", NULL, CP_ETYPE,
	 "field 'vip': 'yes': not a bool (1/0, true/false, Y/N, 是/否)"},
	{F_AGE, 0, "42", "42", 0, NULL},
	{F_AGE, 0, "+7", "7", 0, NULL},
	{F_AGE, 0, "-0", "0", 0, NULL},
	{F_AGE, 0, "9223372036854775807", "9223372036854775807", 0, NULL},
	{F_SESSIONS, 1, "-9223372036854775808", "-9223372036854775808", 0, NULL},
	{F_AGE, 0, "9223372036854775808", NULL, CP_ETYPE,
	 "field 'age': '9223372036854775808': integer out of range"},
	{F_SESSIONS, 4, "1.5", NULL, CP_ETYPE, "field 'sessions' month 4: '1.5': not an integer"},
	{F_AGE, 0, " 1", NULL, CP_ETYPE, "field 'age': ' 1': not an integer"},
	{F_SCORE, 0, "2.5", "2.5", 0, NULL},
	{F_SCORE, 0, "0.1", "0.1", 0, NULL},
	{F_SCORE, 0, "3.0", "3", 0, NULL},
	{F_SCORE, 0, "-0", "-0", 0, NULL},
	{F_SCORE, 0, "1e20", "1e+20", 0, NULL},
	{F_SCORE, 0, ".5", "0.5", 0, NULL},
	{F_SCORE, 0, "0.30000000000000004", "0.30000000000000004", 0, NULL},
	{F_SCORE, 0, "1.7976931348623157e308", "1.7976931348623157e+308", 0, NULL},
	{F_SCORE, 0, "5e-324", "4.94065645841247e-324", 0, NULL},
	{F_GPRS, 3, "123456.789", "123456.789", 0, NULL},
	{F_SCORE, 0, "1e999", NULL, CP_ETYPE, "field 'score': '1e999': number out of range"},
	{F_SCORE, 0, "nan", NULL, CP_ETYPE, "field 'score': 'nan': not a number"},
	{F_SCORE, 0, "0x10", NULL, CP_ETYPE, "field 'score': '0x10': not a number"},
	{F_OVERDUE, 0, "12.5", "12.50", 0, NULL},
	{F_OVERDUE, 0, "12.50", "12.50", 0, NULL},
	{F_OVERDUE, 0, "3", "3", 0, NULL},
	{F_OVERDUE, 0, "3.00", "3", 0, NULL},
	{F_OVERDUE, 0, "-0.05", "-0.05", 0, NULL},
	{F_OVERDUE, 0, ".1", "0.10", 0, NULL},
	{F_ARPU, 2, "12.345", NULL, CP_ETYPE,
	 "field 'arpu' month 2: '12.345': money has more than 2 decimals (yuan.fen)"},
	{F_ARPU, 0, "¥5", NULL, CP_ETYPE,
	 "field 'arpu' month 0: '¥5': not an amount of money (yuan with at most 2 decimals)"},
	{F_JOIN, 0, "2026-10-31", "2026-10-31", 0, NULL},
	{F_JOIN, 0, "20080229", "2008-02-29", 0, NULL},
	{F_JOIN, 0, "0001-01-01", "0001-01-01", 0, NULL},
	{F_LAST_CALL, 5, "9999-12-31", "9999-12-31", 0, NULL},
	{F_JOIN, 0, "2026-02-30", NULL, CP_ETYPE, "field 'join_date': '2026-02-30': no such "
	                                          "calendar day"},
	{F_JOIN, 0, "2026/10/31", NULL, CP_ETYPE, "field 'join_date': '2026/10/31': not a date "
	                                          "(YYYY-MM-DD or YYYYMMDD)"},
	{F_NAME, 0, "张三", "张三", 0, NULL},
	{F_NAME, 0, " padded ", " padded ", 0, NULL},
	{F_BRAND, 0, "gotone", "gotone", 0, NULL},
	{F_REGION, 0, "杭州", "杭州", 0, NULL},
	{F_ADDONS, 0, "b;a;b", "a;b", 0, NULL},
	{F_ADDONS, 0, "only", "only", 0, NULL},
	{F_APPS, 5, "飞信;wap", "wap;飞信", 0, NULL},
	{F_TONES, 0, "x;y;x", "x;y;x", 0, NULL},
	{F_TONES, 0, "a;;b", NULL, CP_EINVAL, "field 'tones': 'a;;b': an empty item (items are "
	                                      "joined by ';' and may not be empty)"},
	{F_MSISDN, 0, "+8613800000001", "13800000001", 0, NULL},
	{F_MSISDN, 0, "008613800000001", "13800000001", 0, NULL},
	{F_MSISDN, 0, "8613800000001", "13800000001", 0, NULL},
	{F_MSISDN, 0, "13800000001", "13800000001", 0, NULL},
	{F_MSISDN, 0, "1380000000", NULL, CP_ETYPE,
	 "field 'msisdn': '1380000000': not an 11-digit mobile number"},
	{F_MSISDN, 0, "+861380000000a", NULL, CP_ETYPE,
	 "field 'msisdn': '+861380000000a': not an 11-digit mobile number"},
};

START_TEST(test_text_forms)
{
	const struct text_case *c = &text_cases[_i];
	char buf[64];
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	int rc = cp_profile_set_text(prof, c->field, c->month, c->in);
	if (!c->out) {
		ck_assert_msg(rc == c->code, "'%s': %d, %s", c->in, rc, cp_errmsg(prof));
		ck_assert_str_eq(cp_errmsg(prof), c->msg);
		ck_assert(!cp__row_present(prof->row, schema->fields[c->field].cell + (uint32_t)c->month) ||
		          c->field == F_MSISDN);
		return;
	}
	ck_assert_msg(rc == CP_OK, "'%s': %s", c->in, cp_errmsg(prof));
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
	get(c->field == F_MSISDN ? c->out : "13800000001");
	ck_assert_int_eq(cp_view_text(view, c->field, c->month, buf, sizeof(buf)),
	                 (int)strlen(c->out));
	ck_assert_str_eq(buf, c->out);
	/* the canonical form reads back as itself */
	ck_assert_int_eq(cp_profile_set_text(prof, c->field, c->month, buf), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
	get(c->field == F_MSISDN ? c->out : "13800000001");
	char again[64];
	cp_view_text(view, c->field, c->month, again, sizeof(again));
	ck_assert_str_eq(again, c->out);
}
END_TEST

START_TEST(test_float_text_round_trips)
{
	/* random bit patterns: the text form always reads back exactly */
	uint64_t x = 88172645463325252u;
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	for (int i = 0; i < 2000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double d;
		memcpy(&d, &x, sizeof(d));
		if (!isfinite(d))
			continue;
		int m = i % 6;
		ck_assert_int_eq(cp_profile_set_float(prof, F_GPRS, m, d), CP_OK);
		ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
		get("13800000001");
		char buf[40];
		int n = cp_view_text(view, F_GPRS, m, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		ck_assert_int_le(n, 24);
		ck_assert_int_eq(cp_profile_set_text(prof, F_GPRS, m, buf), CP_OK);
		ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
		get("13800000001");
		double back = cp_view_float(view, F_GPRS, m);
		ck_assert_msg(memcmp(&back, &d, sizeof(d)) == 0, "%s", buf);
	}
}
END_TEST

START_TEST(test_parsers_fast_paths)
{
	/* The fast paths of value.c used by every cell of an ingest agree with
	 * the general ones: plain decimals against strtod, ints around 18/19
	 * digits. */
	uint64_t x = 0x2545F4914F6CDD1Du;
	const char *why;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		char buf[40];
		int digits = 1 + (int)(x % 17), point = (int)((x >> 8) % (uint64_t)(digits + 1));
		size_t n = 0;
		if ((x >> 16) & 1)
			buf[n++] = '-';
		uint64_t y = x;
		for (int d = 0; d < digits; d++) {
			if (d == point && d > 0)
				buf[n++] = '.';
			buf[n++] = (char)('0' + y % 10);
			y = y / 10 ? y / 10 : x >> 3;
		}
		buf[n] = '\0';
		double got, want = strtod(buf, NULL);
		ck_assert_int_eq(cp__parse_float(buf, n, &got, &why), CP_OK);
		ck_assert_msg(memcmp(&got, &want, sizeof(got)) == 0, "%s: %.17g != %.17g", buf, got, want);
	}
	double d;
	ck_assert_int_eq(cp__parse_float("-0", 2, &d, &why), CP_OK);
	ck_assert(d == 0 && signbit(d));
	ck_assert_int_eq(cp__parse_float("1.", 2, &d, &why), CP_OK);
	ck_assert(d == 1.0);
	ck_assert_int_eq(cp__parse_float(".", 1, &d, &why), CP_ETYPE);
	ck_assert_int_eq(cp__parse_float("-", 1, &d, &why), CP_ETYPE);
	ck_assert_int_eq(cp__parse_float("+-1", 3, &d, &why), CP_ETYPE);
	ck_assert_int_eq(cp__parse_float("1.2.3", 5, &d, &why), CP_ETYPE);
	ck_assert_int_eq(cp__parse_float("0.1234567890123456789", 21, &d, &why), CP_OK);
	ck_assert(d == 0.1234567890123456789);
	int64_t v;
	ck_assert_int_eq(cp__parse_int("999999999999999999", 18, &v, &why), CP_OK);
	ck_assert(v == 999999999999999999);
	ck_assert_int_eq(cp__parse_int("-000000000000000000001", 22, &v, &why), CP_OK);
	ck_assert(v == -1);
	ck_assert_int_eq(cp__parse_int("+9223372036854775807", 20, &v, &why), CP_OK);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(cp__parse_int("-9223372036854775809", 20, &v, &why), CP_ETYPE);
	ck_assert_str_eq(why, "integer out of range");
	ck_assert_int_eq(cp__parse_int("12345678901234567x", 18, &v, &why), CP_ETYPE);
	ck_assert_str_eq(why, "not an integer");
	int b;
	static const char *const yes[] = {"1", "true", "Y", "是", "TRUE", "y", "True"};
	static const char *const no[] = {"0", "false", "N", "否", "FALSE", "n", "False"};
	for (int i = 0; i < 7; i++) {
		ck_assert_int_eq(cp__parse_bool(yes[i], strlen(yes[i]), &b, &why), CP_OK);
		ck_assert_int_eq(b, 1);
		ck_assert_int_eq(cp__parse_bool(no[i], strlen(no[i]), &b, &why), CP_OK);
		ck_assert_int_eq(b, 0);
	}
	ck_assert_int_eq(cp__parse_bool("tru", 3, &b, &why), CP_ETYPE);
	ck_assert_int_eq(cp__parse_bool("是的", 6, &b, &why), CP_ETYPE);
}
END_TEST

START_TEST(test_view_text_buffer)
{
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 1, "fetion;mms;wap"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_NAME, 0, "张三"), CP_OK);
	put_and_get();
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(cp_view_text(view, F_APPS, 1, buf, 5), 14);
	ck_assert_str_eq(buf, "feti");
	ck_assert_int_eq(buf[5], 'x');
	ck_assert_int_eq(cp_view_text(view, F_APPS, 1, buf, 8), 14);
	ck_assert_str_eq(buf, "fetion;");
	ck_assert_int_eq(cp_view_text(view, F_APPS, 1, NULL, 0), 14);
	ck_assert_int_eq(cp_view_text(view, F_APPS, 1, buf, 1), 14);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(cp_view_text(view, F_NAME, 0, buf, 4), 6);
	ck_assert_int_eq(cp_view_text(view, F_APPS, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(cp_view_text(view, F_APPS, 6, buf, sizeof(buf)), CP_EINVAL);
	ck_assert_int_eq(cp_view_text(view, F_AGE, 1, buf, sizeof(buf)), CP_EINVAL);
	ck_assert_int_eq(cp_view_text(view, F_COUNT, 0, buf, sizeof(buf)), CP_EINVAL);
	ck_assert_int_eq(cp_view_text(view, F_AGE, 0, NULL, 4), CP_EINVAL);
	cp_view *empty;
	ck_assert_int_eq(cp_view_new(&empty, store), CP_OK);
	ck_assert_int_eq(cp_view_text(empty, F_AGE, 0, buf, sizeof(buf)), CP_EMISUSE);
	ck_assert_ptr_null(cp_view_key(empty));
	ck_assert_int_eq(cp_view_is_null(empty, F_AGE, 0), 1);
	cp_view_free(empty);
}
END_TEST

START_TEST(test_cell_text_takes_slices)
{
	/* CSV ingest hands over slices of its buffer: nothing past len is read */
	const char line[] = "42,2.5,12.30,2026-10-31,szx,a;b,Y";
	const char *why = NULL;
	const cp_field *fs = schema->fields;
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_AGE], 0, line, 2, &why), CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_GPRS], 1, line + 3, 3, &why), CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_ARPU], 2, line + 7, 5, &why), CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_JOIN], 0, line + 13, 10, &why),
	                 CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_BRAND], 0, line + 24, 3, &why), CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_ADDONS], 0, line + 28, 3, &why),
	                 CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_VIP], 0, line + 32, 1, &why), CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_MSISDN], 0, "+8613800000001,", 14,
	                                           &why), CP_OK);
	ck_assert_int_eq(cp__profile_set_cell_text(prof, &fs[F_AGE], 0, "4x", 2, &why), CP_ETYPE);
	ck_assert_str_eq(why, "not an integer");
	ck_assert_str_eq(cp_errmsg(prof), ""); /* the fast path leaves no message */
	put_and_get();
	ck_assert_int_eq(cp_view_int(view, F_AGE, 0), 42);
	ck_assert(cp_view_float(view, F_GPRS, 1) == 2.5);
	ck_assert_int_eq(cp_view_money(view, F_ARPU, 2), 1230);
	ck_assert_str_eq(cp_view_string(view, F_BRAND, 0), "szx");
	ck_assert_int_eq(cp_view_item_count(view, F_ADDONS, 0), 2);
	ck_assert_int_eq(cp_view_bool(view, F_VIP, 0), 1);
	char buf[16];
	cp_view_text(view, F_JOIN, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-10-31");
}
END_TEST

/* ---- put, replace, delete ---- */

/* Keys in iteration order, joined by ' '. */
static const char *keys_in_order(void)
{
	static char buf[4096];
	size_t len = 0;
	buf[0] = '\0';
	cp_iter *it;
	ck_assert_int_eq(cp_iter_new(&it, store), CP_OK);
	cp_view *v;
	ck_assert_int_eq(cp_view_new(&v, store), CP_OK);
	int rc;
	while ((rc = cp_iter_next(it, v)) == CP_OK)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? " " : "",
		                        cp_view_key(v) + 8);
	ck_assert_int_eq(rc, CP_DONE);
	ck_assert_int_eq(cp_iter_next(it, v), CP_DONE); /* and stays done */
	ck_assert_ptr_null(cp_view_key(v));
	cp_view_free(v);
	cp_iter_free(it);
	return buf;
}

START_TEST(test_put_replace_delete_reuse)
{
	put_key("13800000001");
	put_key("13800000002");
	put_key("13800000003");
	ck_assert_uint_eq(cp_store_count(store), 3);
	ck_assert_str_eq(keys_in_order(), "001 002 003");
	/* replace keeps the slot, and the new content replaces the old */
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, 30), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "8613800000002"), CP_OK);
	int replaced = 0;
	ck_assert_int_eq(cp_store_put(store, prof, &replaced), CP_OK);
	ck_assert_int_eq(replaced, 1);
	ck_assert_uint_eq(cp_store_count(store), 3);
	ck_assert_str_eq(keys_in_order(), "001 002 003");
	get("13800000002");
	ck_assert_int_eq(cp_view_int(view, F_AGE, 0), 30);
	cp_profile_clear(prof);
	ck_assert_int_eq(cp_profile_set_string(prof, F_MSISDN, 0, "13800000002"), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, &replaced), CP_OK);
	ck_assert_int_eq(replaced, 1);
	get("13800000002");
	ck_assert_int_eq(cp_view_is_null(view, F_AGE, 0), 1);
	/* delete, then a new key takes the freed slot */
	ck_assert_int_eq(cp_store_delete(store, "+8613800000002"), CP_OK);
	ck_assert_uint_eq(cp_store_count(store), 2);
	ck_assert_int_eq(cp_store_get(store, "13800000002", view), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(view), "no profile with key '13800000002'");
	ck_assert_str_eq(keys_in_order(), "001 003");
	ck_assert_int_eq(cp_store_delete(store, "13800000002"), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(store), "no profile with key '13800000002'");
	ck_assert_int_eq(cp_store_delete(store, "12"), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(store), "no profile with key '12': not an 11-digit mobile number");
	put_key("13800000004");
	ck_assert_uint_eq(store->nrows, 3);
	ck_assert_str_eq(keys_in_order(), "001 004 003");
	put_key("13800000005");
	ck_assert_str_eq(keys_in_order(), "001 004 003 005");
	ck_assert_int_eq(cp_store_delete(store, "13800000001"), CP_OK);
	ck_assert_int_eq(cp_store_delete(store, "13800000005"), CP_OK);
	ck_assert_int_eq(cp_store_delete(store, "13800000004"), CP_OK);
	ck_assert_int_eq(cp_store_delete(store, "13800000003"), CP_OK);
	ck_assert_uint_eq(cp_store_count(store), 0);
	ck_assert_str_eq(keys_in_order(), "");
	put_key("13800000006");
	ck_assert_str_eq(keys_in_order(), "006");
	ck_assert_uint_eq(store->nrows, 4);
}
END_TEST

START_TEST(test_put_needs_a_key)
{
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, 1), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(store), "the profile has no key: its key field 'msisdn' is null");
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, ""), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_EINVAL);
	ck_assert_uint_eq(cp_store_count(store), 0);
}
END_TEST

START_TEST(test_put_leaves_the_draft_and_shares_strings)
{
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_REGION, 0, "温州"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 0, "b;a"), CP_OK);
	uint8_t before[512];
	ck_assert_uint_le(schema->row_size, sizeof(before));
	memcpy(before, prof->row, schema->row_size);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
	ck_assert_mem_eq(before, prof->row, schema->row_size);
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "13800000002"), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
	size_t strings = store->strings.count, lists = store->lists.count;
	/* a third profile with the same texts adds only its key */
	cp_profile_clear(prof);
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "13800000003"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_REGION, 0, "温州"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 4, "a;b"), CP_OK);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_OK);
	ck_assert_uint_eq(store->strings.count, strings + 1);
	ck_assert_uint_eq(store->lists.count, lists);
	get("13800000003");
	ck_assert_str_eq(cp_view_string(view, F_REGION, 0), "温州");
	ck_assert_str_eq(cp_view_item(view, F_APPS, 4, 1), "b");
}
END_TEST

START_TEST(test_put_checks_the_schema)
{
	/* an equal schema built separately is accepted */
	cp_schema *same = tu_schema();
	cp_profile *p;
	ck_assert_int_eq(cp_profile_new(&p, same), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(p, F_MSISDN, 0, "13800000001"), CP_OK);
	ck_assert_int_eq(cp_store_put(store, p, NULL), CP_OK);
	cp_profile_free(p);
	cp_schema_free(same);
	/* a different one is not */
	cp_schema *other = cp__schema_new("other");
	cp__schema_add_field(other, "msisdn", CP_TYPE_STRING, false, NULL);
	cp__schema_add_field(other, "age", CP_TYPE_INT, false, NULL);
	ck_assert_int_eq(cp__schema_finish(other, "msisdn", NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, other), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(p, 0, 0, "k1"), CP_OK);
	ck_assert_int_eq(cp_store_put(store, p, NULL), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(store), "the profile was made for schema 'other', which does "
	                                   "not match the store's schema 'test'");
	cp_profile_free(p);
	cp_schema_free(other);
}
END_TEST

START_TEST(test_plain_keys)
{
	/* a key field without normalization: keys are taken as they are */
	cp_schema *s = cp__schema_new("plain");
	cp__schema_add_field(s, "id", CP_TYPE_STRING, false, NULL);
	cp__schema_add_field(s, "n", CP_TYPE_INT, false, NULL);
	ck_assert_int_eq(cp__schema_finish(s, "id", NULL, NULL), CP_OK);
	s->fields[0].personal = true;
	cp_store *st;
	cp_profile *p;
	cp_view *v;
	ck_assert_int_eq(cp_store_new(&st, s), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, s), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, st), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(p, 0, 0, "+86 abc"), CP_OK);
	ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	ck_assert_int_eq(cp_store_get(st, "+86 abc", v), CP_OK);
	ck_assert_str_eq(cp_view_key(v), "+86 abc");
	ck_assert_int_eq(cp_store_get(st, "abc", v), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(v), "no profile with that key"); /* personal key */
	ck_assert_int_eq(cp_store_get(st, "", v), CP_ENOTFOUND);
	ck_assert_int_eq(cp_store_delete(st, "+86 abc"), CP_OK);
	ck_assert_uint_eq(cp_store_count(st), 0);
	cp_view_free(v);
	cp_profile_free(p);
	cp_store_free(st);
	cp_schema_free(s);
}
END_TEST

/* ---- lookups ---- */

START_TEST(test_get_normalizes_keys)
{
	put_key("13800000001");
	static const char *const forms[] = {"13800000001", "+8613800000001", "008613800000001",
	                                    "8613800000001"};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(cp_store_get(store, forms[i], view), CP_OK);
		ck_assert_str_eq(cp_view_key(view), "13800000001");
	}
	static const char *const misses[] = {"13800000002", "3800000001", "+86138000000011", "",
	                                     "1380000000x", "+8513800000001"};
	for (size_t i = 0; i < 6; i++) {
		ck_assert_int_eq(cp_store_get(store, misses[i], view), CP_ENOTFOUND);
		ck_assert_ptr_null(cp_view_key(view)); /* the view is empty */
		ck_assert_int_eq(cp_view_is_null(view, F_MSISDN, 0), 1);
	}
	ck_assert_int_eq(cp_store_get(store, "+8613800000002", view), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(view), "no profile with key '13800000002'");
	ck_assert_int_eq(cp_store_get(store, "\xff\xfe", view), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(view), "no profile with that key: not an 11-digit mobile number");
}
END_TEST

/* ---- iteration ---- */

static int count_until(const cp_view *v, void *ud)
{
	int *n = ud;
	ck_assert_ptr_nonnull(cp_view_key(v));
	return ++*n == 3 ? 77 : 0;
}

static int count_all(const cp_view *v, void *ud)
{
	(void)v;
	++*(int *)ud;
	return 0;
}

START_TEST(test_foreach)
{
	int n = 0;
	ck_assert_int_eq(cp_store_foreach(store, count_all, &n), CP_OK);
	ck_assert_int_eq(n, 0);
	char key[32];
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "138000000%02d", i);
		put_key(key);
	}
	ck_assert_int_eq(cp_store_delete(store, "13800000001"), CP_OK);
	n = 0;
	ck_assert_int_eq(cp_store_foreach(store, count_all, &n), CP_OK);
	ck_assert_int_eq(n, 9);
	n = 0;
	ck_assert_int_eq(cp_store_foreach(store, count_until, &n), 77);
	ck_assert_int_eq(n, 3);
}
END_TEST

/* ---- differential: random puts and deletes against a plain array ---- */

#define DIFF_KEYS 1500

START_TEST(test_random_against_reference)
{
	static int64_t ref[DIFF_KEYS]; /* age, or -1 when absent */
	static int ref_apps[DIFF_KEYS];
	size_t live = 0;
	for (int i = 0; i < DIFF_KEYS; i++)
		ref[i] = -1;
	uint64_t x = 0x9E3779B97F4A7C15u;
	char key[16], apps[64];
	for (int op = 0; op < 100000; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int k = (int)(x % DIFF_KEYS);
		snprintf(key, sizeof(key), "1390%07d", k * 7919 % 10000000);
		if ((x >> 32) % 3 == 0) {
			int rc = cp_store_delete(store, key);
			ck_assert_int_eq(rc, ref[k] >= 0 ? CP_OK : CP_ENOTFOUND);
			if (ref[k] >= 0)
				live--;
			ref[k] = -1;
		} else {
			int64_t age = (int64_t)((x >> 20) % 100);
			int a = (int)((x >> 40) % 8);
			cp_profile_clear(prof);
			ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, key), CP_OK);
			ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, age), CP_OK);
			snprintf(apps, sizeof(apps), "a%d;b%d;a%d", a, a % 3, a);
			ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, a % 6, apps), CP_OK);
			int replaced = -1;
			ck_assert_int_eq(cp_store_put(store, prof, &replaced), CP_OK);
			ck_assert_int_eq(replaced, ref[k] >= 0);
			if (ref[k] < 0)
				live++;
			ref[k] = age;
			ref_apps[k] = a;
		}
		ck_assert_uint_eq(cp_store_count(store), live);
		if (op % 997 == 0) {
			/* a probe for a key right after a delete */
			snprintf(key, sizeof(key), "1390%07d", k * 7919 % 10000000);
			ck_assert_int_eq(cp_store_get(store, key, view) == CP_OK, ref[k] >= 0);
		}
	}
	for (int k = 0; k < DIFF_KEYS; k++) {
		snprintf(key, sizeof(key), "1390%07d", k * 7919 % 10000000);
		int rc = cp_store_get(store, key, view);
		if (ref[k] < 0) {
			ck_assert_int_eq(rc, CP_ENOTFOUND);
			continue;
		}
		ck_assert_int_eq(rc, CP_OK);
		ck_assert_int_eq(cp_view_int(view, F_AGE, 0), ref[k]);
		int a = ref_apps[k];
		char want[64], got[64];
		snprintf(want, sizeof(want), "a%d;b%d", a, a % 3);
		cp_view_text(view, F_APPS, a % 6, got, sizeof(got));
		ck_assert_str_eq(got, want);
	}
	/* iteration visits exactly the live keys, each once */
	static char seen[DIFF_KEYS];
	memset(seen, 0, sizeof(seen));
	cp_iter *it;
	ck_assert_int_eq(cp_iter_new(&it, store), CP_OK);
	size_t n = 0;
	while (cp_iter_next(it, view) == CP_OK) {
		int64_t age = cp_view_int(view, F_AGE, 0);
		ck_assert_int_ge(age, 0);
		n++;
	}
	cp_iter_free(it);
	ck_assert_uint_eq(n, live);
	ck_assert_uint_eq(store->index->used, live);
	ck_assert_uint_eq(store->nrows - store->nfree, live);
	/* every index slot points at a live row whose key hashes into its chain */
	for (uint32_t i = 0; i <= store->index->mask; i++) {
		uint32_t slot = store->index->slots[i];
		if (!slot || slot == CP_INDEX_TOMB)
			continue;
		const uint8_t *row = cp__store_wrow(store, slot - 1);
		ck_assert_ptr_nonnull(row);
		ck_assert(cp__row_live(row));
		const char *k = cp__store_str(store, cp__row_key_id(store->schema, row));
		ck_assert_uint_eq(cp__store_find(store, k, strlen(k)), slot - 1);
	}
	(void)seen;
}
END_TEST

/* ---- memory ---- */

/* DESIGN: memory per profile within 1.25 x (sum of cell widths) + 16 bytes
 * of index; strings and item lists are shared pools, counted apart. */
static void check_memory_target(cp_schema *s, int n)
{
	cp_store *st;
	cp_profile *p;
	ck_assert_int_eq(cp_store_new(&st, s), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, s), CP_OK);
	char key[16];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "1380%07d", i);
		ck_assert_int_eq(cp_profile_set_text(p, s->key, 0, key), CP_OK);
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	}
	double rows = (double)cp_store_row_bytes(st);
	double index = (double)(st->index->mask + 1) * sizeof(uint32_t) / (double)n;
	double target = 1.25 * s->cell_bytes + 16;
	ck_assert_msg(rows + index <= target, "%s: row %.0f + index %.1f > %.1f (cells %u)",
	              s->name, rows, index, target, s->cell_bytes);
	ck_assert_uint_ge(cp_store_memory_bytes(st),
	                  (size_t)n * cp_store_row_bytes(st) + cp__spool_len(&st->strings));
	/* and the total stays near the rows: growth slack is bounded (the index
	 * tables a larger one replaced are kept: at most as large again) */
	size_t pools = st->strings.seg.bytes + ((size_t)st->strings.mask + 1) * 4 +
	               st->lists.seg.bytes + ((size_t)st->lists.mask + 1) * 4;
	ck_assert_uint_le(cp_store_memory_bytes(st),
	                  (size_t)(n * 1.5 + 64) * cp_store_row_bytes(st) + (size_t)n * 32 +
	                          pools + sizeof(cp_store) + 4096);
	cp_profile_free(p);
	cp_store_free(st);
}

/* A schema shaped like data/schema/cmcc-default.yaml: its 78 fields with
 * their types; 34 of them are series of 6 months. */
static cp_schema *default_like_schema(void)
{
	static const char *const spec =
		"msisdn:string region:enum county:enum home_location:enum name:string "
		"gender:enum age:int brand:enum plan:enum addon_plans:set status:enum "
		"join_date:date close_date:date contract_end:date overdue_amount:money "
		"overdue_days:int info_preference:enum channel_preference:enum persona:enum "
		"churn_score:float influence_index:float account_manager:enum "
		"terminal_model:string terminal_features:set terminal_changed:date "
		"do_not_disturb:bool total_spend:money* arpu:money* new_biz_fee:money* "
		"voice_minutes:int* sms_count:int* crbt_subscribed:bool* crbt_since:date "
		"crbt_unsubscribed:date crbt_fee:money* crbt_downloads:int* "
		"crbt_promo_downloads:int* crbt_change_fee:money* crbt_channel:enum "
		"music_club:enum fav_content_types:list fav_contents:list recent_tones:list "
		"crbt_campaign_contacts:int* crbt_campaign_responses:int* gprs_package:enum "
		"gprs_quota_mb:float web_sessions:int* gprs_mb:float* gprs_info_fee:money* "
		"monternet_visited:bool monternet_paid:bool wap_push_clicks:int* promo_joins:int* "
		"gprs_trial_end:date mms_sent:int* mms_received:int* caixiu_uses:int* "
		"mms_orders:int* mms_fee:money* gprs_fee:money* info_fee:money* "
		"newspaper_types:set newspaper_since:date newspaper_received:int* "
		"new_biz_arpu:money* fetion_sms:int* fetion_voice_min:int* fetion_logins:int* "
		"fetion_client_ip:string ivr_national_magazine:bool ivr_local_magazine:bool "
		"ivr_national_calls:int* ivr_local_calls:int* ivr_national_min:int* "
		"ivr_local_min:int* ivr_fee:money* ivr_trial_end:date";
	static const char *const types[] = {"", "bool", "int", "float", "money", "string",
	                                    "enum", "set", "list", "date"};
	cp_schema *s = cp__schema_new("cmcc-default-like");
	int series = 0;
	for (const char *p = spec; *p;) {
		char name[64], type[16];
		int n = 0;
		ck_assert_int_eq(sscanf(p, "%63[a-z_]:%15[a-z*]%n", name, type, &n), 2);
		p += n;
		while (*p == ' ')
			p++;
		bool is_series = type[strlen(type) - 1] == '*';
		if (is_series) {
			type[strlen(type) - 1] = '\0';
			series++;
		}
		int t = 0;
		for (int i = 1; i <= 9; i++)
			if (strcmp(types[i], type) == 0)
				t = i;
		ck_assert_int_ne(t, 0);
		int f = cp__schema_add_field(s, name, t, is_series, NULL);
		ck_assert_int_ge(f, 0);
		if (t == CP_TYPE_LIST)
			s->fields[f].max_items = 3;
	}
	s->fields[0].normalize = CP_NORM_MSISDN_CN;
	ck_assert_int_eq(cp__schema_finish(s, "msisdn", NULL, NULL), CP_OK);
	ck_assert_int_eq(s->nfields, 78);
	ck_assert_int_eq(series, 34);
	return s;
}

START_TEST(test_memory_target)
{
	check_memory_target(schema, 20000);
	cp_schema *d = default_like_schema();
	check_memory_target(d, 20000);
	/* and at the worst moment of the index: just after it doubled */
	cp_store *st;
	cp_profile *p;
	ck_assert_int_eq(cp_store_new(&st, d), CP_OK);
	ck_assert_int_eq(cp_profile_new(&p, d), CP_OK);
	char key[16];
	ck_assert_ptr_null(st->index); /* made at the first key, with 16 slots */
	uint32_t mask = 15;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "1380%07d", i);
		ck_assert_int_eq(cp_profile_set_text(p, 0, 0, key), CP_OK);
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
		if (st->index->mask != mask) {
			mask = st->index->mask;
			ck_assert_uint_le((size_t)(mask + 1) * sizeof(uint32_t), 16 * (size_t)(i + 1));
		}
	}
	cp_profile_free(p);
	cp_store_free(st);
	cp_schema_free(d);
	/* the built-in default schema itself */
	cp_schema *def;
	ck_assert_int_eq(cp_schema_default(&def), CP_OK);
	ck_assert_int_eq(cp_schema_field_count(def), 78);
	check_memory_target(def, 20000);
	cp_schema_free(def);
}
END_TEST

START_TEST(test_as_of)
{
	ck_assert_int_eq(cp_store_as_of(store), 0);
	ck_assert_int_eq(cp_store_set_as_of(store, 202610), CP_OK);
	ck_assert_int_eq(cp_store_as_of(store), 202610);
	static const int bad[] = {202613, 202600, 189912, 1000001, -202610, 12, 99991201};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(cp_store_set_as_of(store, bad[i]), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(store), "as-of month 99991201 is not a month yyyymm (year "
	                                   "1900..9999, month 1..12)");
	ck_assert_int_eq(cp_store_as_of(store), 202610);
	ck_assert_int_eq(cp_store_set_as_of(store, 190001), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(store, 999912), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(store, 0), CP_OK);
	ck_assert_int_eq(cp_store_as_of(store), 0);
	ck_assert_int_eq(cp_store_set_as_of(NULL, 202610), CP_EINVAL);
	ck_assert_int_eq(cp_store_as_of(NULL), 0);
	ck_assert_uint_eq(cp_store_row_bytes(store), schema->row_size);
	ck_assert_uint_eq(cp_store_row_bytes(NULL), 0);
	ck_assert_uint_eq(cp_store_memory_bytes(NULL), 0);
	ck_assert_uint_gt(cp_store_memory_bytes(store), sizeof(cp_store));
	/* tu_schema: 53 bytes of scalar cells + 6 months x 33 bytes of series */
	ck_assert_uint_eq(cp_schema_cell_bytes(schema), 53 + 6 * 33);
	ck_assert_uint_eq(cp_schema_cell_bytes(NULL), 0);
	ck_assert_uint_eq(cp_store_index_bytes(store), 0); /* no key yet */
	put_key("13800000001");
	ck_assert_uint_eq(cp_store_index_bytes(store), ((size_t)store->index->mask + 1) * 4);
	ck_assert_uint_lt(cp_store_index_bytes(store), cp_store_memory_bytes(store));
	ck_assert_uint_eq(cp_store_index_bytes(NULL), 0);
}
END_TEST

START_TEST(test_clear_resets_the_draft)
{
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "13800000001"), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 0, "a;b;c"), CP_OK);
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, 5), CP_OK);
	cp_profile_clear(prof);
	for (uint32_t c = 0; c < schema->ncells; c++)
		ck_assert(!cp__row_present(prof->row, c));
	ck_assert_uint_eq(prof->strings.count, 1);
	ck_assert_uint_eq(prof->lists.count, 1);
	ck_assert_int_eq(cp_store_put(store, prof, NULL), CP_EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_strpool_interns);
	tcase_add_test(tc, test_strpool_limit);
	tcase_add_test(tc, test_listpool_interns);
	tcase_add_test(tc, test_handles_and_null_arguments);
	tcase_add_test(tc, test_store_keeps_its_schema);
	tcase_add_test(tc, test_typed_setters_and_getters);
	tcase_add_test(tc, test_null_is_not_zero);
	tcase_add_test(tc, test_month_bounds);
	tcase_add_test(tc, test_wrong_setter_type);
	tcase_add_test(tc, test_closed_enum);
	tcase_add_test(tc, test_list_max_and_order);
	tcase_add_test(tc, test_set_dedup_and_canonical_order);
	tcase_add_test(tc, test_text_validation);
	tcase_add_test(tc, test_personal_values_never_in_messages);
	tcase_add_loop_test(tc, test_text_forms, 0, (int)(sizeof(text_cases) / sizeof(text_cases[0])));
	tcase_add_test(tc, test_float_text_round_trips);
	tcase_add_test(tc, test_parsers_fast_paths);
	tcase_add_test(tc, test_view_text_buffer);
	tcase_add_test(tc, test_cell_text_takes_slices);
	tcase_add_test(tc, test_put_replace_delete_reuse);
	tcase_add_test(tc, test_put_needs_a_key);
	tcase_add_test(tc, test_put_leaves_the_draft_and_shares_strings);
	tcase_add_test(tc, test_put_checks_the_schema);
	tcase_add_test(tc, test_plain_keys);
	tcase_add_test(tc, test_get_normalizes_keys);
	tcase_add_test(tc, test_foreach);
	tcase_add_test(tc, test_random_against_reference);
	tcase_add_test(tc, test_memory_target);
	tcase_add_test(tc, test_as_of);
	tcase_add_test(tc, test_clear_resets_the_draft);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
