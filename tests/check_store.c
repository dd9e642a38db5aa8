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

START_TEST(test_put_get_smoke)
{
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, "+8613800000001"), CP_OK);
	ck_assert_int_eq(cp_profile_set_string(prof, F_BRAND, 0, "szx"), CP_OK);
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, 42), CP_OK);
	ck_assert_int_eq(cp_profile_set_money(prof, F_ARPU, 3, 1250), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 1, "wap;fetion;mms;fetion"), CP_OK);
	int replaced = -1;
	ck_assert_int_eq(cp_store_put(store, prof, &replaced), CP_OK);
	ck_assert_int_eq(replaced, 0);
	ck_assert_uint_eq(cp_store_count(store), 1);
	ck_assert_int_eq(cp_store_get(store, "13800000001", view), CP_OK);
	ck_assert_str_eq(cp_view_key(view), "13800000001");
	ck_assert_str_eq(cp_view_string(view, F_BRAND, 0), "szx");
	ck_assert_int_eq(cp_view_int(view, F_AGE, 0), 42);
	ck_assert_int_eq(cp_view_money(view, F_ARPU, 3), 1250);
	ck_assert_int_eq(cp_view_item_count(view, F_APPS, 1), 3);
	ck_assert_str_eq(cp_view_item(view, F_APPS, 1, 0), "fetion");
	char buf[64];
	ck_assert_int_eq(cp_view_text(view, F_APPS, 1, buf, sizeof(buf)), 14);
	ck_assert_str_eq(buf, "fetion;mms;wap");
	put_key("13800000002");
	ck_assert_uint_eq(cp_store_count(store), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_get_smoke);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
