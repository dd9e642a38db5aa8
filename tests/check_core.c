/*
 * check_core.c — status names, version, diagnostics, buffers, text helpers,
 * dates and the cell parsers of value.c.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

START_TEST(test_strerror_names_every_code)
{
	static const int codes[] = {CP_OK, CP_ERROR, CP_ENOMEM, CP_EINVAL, CP_EIO,
	                            CP_ESYNTAX, CP_ETYPE, CP_ENOTFOUND, CP_ECORRUPT,
	                            CP_EVERSION, CP_ELIMIT, CP_EMISUSE, CP_ECANCELED,
	                            CP_EEXIST, CP_DONE};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		ck_assert_msg(strncmp(cp_strerror(codes[i]), "CP_", 3) == 0, "code %d", codes[i]);
	ck_assert_str_eq(cp_strerror(-999), "unknown status code");
}
END_TEST

START_TEST(test_version)
{
	ck_assert_str_eq(cp_version(), CP_VERSION_STRING);
	ck_assert_int_eq(cp_version_number(), CP_VERSION_NUMBER);
}
END_TEST

START_TEST(test_allocator_is_fixed_after_first_allocation)
{
	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	cp_diag_free(d);
	ck_assert_int_eq(cp_set_allocator(malloc, realloc, free), CP_EMISUSE);
	ck_assert_int_eq(cp_set_allocator(NULL, realloc, free), CP_EINVAL);
}
END_TEST

START_TEST(test_diag_collects_and_formats)
{
	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	ck_assert_uint_eq(cp_diag_count(d), 0);
	cp__diag_add(d, CP_SEV_ERROR, "a.yaml", 3, 7, "unknown type '%s'", "strng");
	cp__diag_add(d, CP_SEV_WARNING, "a.yaml", 4, 0, "odd");
	cp__diag_add(d, CP_SEV_ERROR, NULL, 0, 0, "no file");
	ck_assert_uint_eq(cp_diag_count(d), 3);
	ck_assert_uint_eq(cp_diag_error_count(d), 2);
	ck_assert_int_eq(cp_diag_severity(d, 1), CP_SEV_WARNING);
	ck_assert_str_eq(cp_diag_file(d, 0), "a.yaml");
	ck_assert_uint_eq(cp_diag_line(d, 0), 3);
	ck_assert_uint_eq(cp_diag_column(d, 0), 7);
	ck_assert_str_eq(cp_diag_message(d, 0), "unknown type 'strng'");
	ck_assert_str_eq(cp_diag_format(d, 0), "a.yaml:3:7: error: unknown type 'strng'");
	ck_assert_str_eq(cp_diag_format(d, 1), "a.yaml:4: warning: odd");
	ck_assert_str_eq(cp_diag_format(d, 2), "error: no file");
	ck_assert_str_eq(cp_diag_file(d, 2), "");
	ck_assert_ptr_null(cp_diag_message(d, 3));
	ck_assert_int_eq(cp_diag_severity(d, 3), -1);
	cp_diag_clear(d);
	ck_assert_uint_eq(cp_diag_count(d), 0);
	ck_assert_uint_eq(cp_diag_error_count(d), 0);
	cp_diag_free(d);
	cp_diag_free(NULL);
	ck_assert_int_eq(cp__diag_add(NULL, CP_SEV_ERROR, "x", 1, 1, "ignored"), CP_OK);
}
END_TEST

START_TEST(test_errmsg)
{
	ck_assert_str_eq(cp_errmsg(NULL), "no handle (NULL)");
	cp_diag *d;
	cp_diag_new(&d);
	ck_assert_str_eq(cp_errmsg(d), "");
	ck_assert_int_eq(cp__fail((cp_obj *)d, CP_EINVAL, "bad %d", 42), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(d), "bad 42");
	cp_diag_free(d);
	int not_a_handle[4] = {0};
	ck_assert_str_eq(cp_errmsg(not_a_handle), "not a libcustprof handle");
}
END_TEST

START_TEST(test_buf)
{
	cp_buf b;
	cp__buf_init(&b);
	for (int i = 0; i < 1000; i++)
		cp__buf_printf(&b, "%d,", i % 10);
	ck_assert_uint_eq(b.len, 2000);
	ck_assert_int_eq(b.data[1998], '9');
	char *s = cp__buf_steal(&b);
	ck_assert_uint_eq(strlen(s), 2000);
	ck_assert_ptr_null(b.data);
	cp__free(s);
	s = cp__buf_steal(&b); /* empty buffer gives "" */
	ck_assert_str_eq(s, "");
	cp__free(s);
}
END_TEST

START_TEST(test_edit_distance_and_closest)
{
	ck_assert_uint_eq(cp__edit_distance("gprs_mb", "gprs_mb", 3), 0);
	ck_assert_uint_eq(cp__edit_distance("gprs_bm", "gprs_mb", 3), 2);
	ck_assert_uint_eq(cp__edit_distance("kitten", "sitting", 5), 3);
	ck_assert_uint_gt(cp__edit_distance("a", "abcdefgh", 3), 3);
	const char *names[] = {"gprs_mb", "arpu", "web_sessions", "gotone"};
	ck_assert_str_eq(cp__closest("gprs_m", names, 4), "gprs_mb");
	ck_assert_str_eq(cp__closest("gotnoe", names, 4), "gotone");
	ck_assert_str_eq(cp__closest("web_sesions", names, 4), "web_sessions");
	ck_assert_ptr_null(cp__closest("zzzzzz", names, 4));
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(cp__utf8_valid("abc", 3));
	ck_assert(cp__utf8_valid("价格敏感型", strlen("价格敏感型")));
	ck_assert(!cp__utf8_valid("\xe4\xbb", 2));       /* truncated */
	ck_assert(!cp__utf8_valid("\xc0\xaf", 2));       /* overlong */
	ck_assert(!cp__utf8_valid("\xed\xa0\x80", 3));   /* surrogate */
	ck_assert(!cp__utf8_valid("\xff", 1));
	ck_assert(cp__utf8_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
}
END_TEST

START_TEST(test_dates)
{
	cp_date d;
	ck_assert_int_eq(cp_date_from_ymd(&d, 1970, 1, 1), CP_OK);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(cp_date_from_ymd(&d, 2026, 10, 31), CP_OK);
	int y, m, dd;
	cp_date_to_ymd(d, &y, &m, &dd);
	ck_assert_int_eq(y, 2026);
	ck_assert_int_eq(m, 10);
	ck_assert_int_eq(dd, 31);
	ck_assert_int_eq(cp_date_from_ymd(&d, 2026, 2, 29), CP_EINVAL);
	ck_assert_int_eq(cp_date_from_ymd(&d, 2024, 2, 29), CP_OK);
	ck_assert_int_eq(cp_date_from_ymd(&d, 1900, 2, 29), CP_EINVAL);
	ck_assert_int_eq(cp_date_from_ymd(&d, 2000, 2, 29), CP_OK);
	ck_assert_int_eq(cp_date_parse(&d, "2026-10-31"), CP_OK);
	cp_date d2;
	ck_assert_int_eq(cp_date_parse(&d2, "20261031"), CP_OK);
	ck_assert_int_eq(d, d2);
	ck_assert_int_eq(cp_date_parse(&d, "2026-1-31"), CP_EINVAL);
	ck_assert_int_eq(cp_date_parse(&d, "2026-13-01"), CP_EINVAL);
	ck_assert_int_eq(cp_date_parse(&d, "2026/10/31"), CP_EINVAL);
	/* round trip over a long range */
	for (cp_date z = -700000; z < 2900000; z += 37) /* years 53..9909 */ {
		cp_date_to_ymd(z, &y, &m, &dd);
		ck_assert_int_eq(cp_date_from_ymd(&d, y, m, dd), CP_OK);
		ck_assert_int_eq(d, z);
	}
	/* every cp_date is a day (a snapshot may hold any): no overflow at the ends */
	cp_date_to_ymd(INT32_MAX, &y, &m, &dd);
	ck_assert(y == 5881580 && m == 7 && dd == 11);
	cp_date_to_ymd(INT32_MIN, &y, &m, &dd);
	ck_assert(y == -5877641 && m == 6 && dd == 23);
}
END_TEST

#define PARSE_OK(fn, text, type, expect)                                  \
	do {                                                                  \
		type v_;                                                          \
		const char *why_ = NULL;                                          \
		ck_assert_int_eq(fn(text, strlen(text), &v_, &why_), CP_OK);      \
		ck_assert(v_ == (expect));                                        \
	} while (0)
#define PARSE_BAD(fn, text, type)                                         \
	do {                                                                  \
		type v_;                                                          \
		const char *why_ = NULL;                                          \
		ck_assert_int_eq(fn(text, strlen(text), &v_, &why_), CP_ETYPE);   \
		ck_assert_ptr_nonnull(why_);                                      \
	} while (0)

START_TEST(test_parse_bool)
{
	PARSE_OK(cp__parse_bool, "1", int, 1);
	PARSE_OK(cp__parse_bool, "0", int, 0);
	PARSE_OK(cp__parse_bool, "true", int, 1);
	PARSE_OK(cp__parse_bool, "false", int, 0);
	PARSE_OK(cp__parse_bool, "Y", int, 1);
	PARSE_OK(cp__parse_bool, "N", int, 0);
	PARSE_OK(cp__parse_bool, "是", int, 1);
	PARSE_OK(cp__parse_bool, "否", int, 0);
	PARSE_BAD(cp__parse_bool, "2", int);
	PARSE_BAD(cp__parse_bool, "yes", int);
	PARSE_BAD(cp__parse_bool, " 1", int);
}
END_TEST

START_TEST(test_parse_int)
{
	PARSE_OK(cp__parse_int, "0", int64_t, 0);
	PARSE_OK(cp__parse_int, "-42", int64_t, -42);
	PARSE_OK(cp__parse_int, "9223372036854775807", int64_t, INT64_MAX);
	PARSE_OK(cp__parse_int, "-9223372036854775808", int64_t, INT64_MIN);
	PARSE_BAD(cp__parse_int, "9223372036854775808", int64_t);
	PARSE_BAD(cp__parse_int, "1.5", int64_t);
	PARSE_BAD(cp__parse_int, "12a", int64_t);
	PARSE_BAD(cp__parse_int, "-", int64_t);
	PARSE_BAD(cp__parse_int, "", int64_t);
}
END_TEST

START_TEST(test_parse_float)
{
	PARSE_OK(cp__parse_float, "2.5", double, 2.5);
	PARSE_OK(cp__parse_float, "-1e3", double, -1000.0);
	PARSE_OK(cp__parse_float, ".5", double, 0.5);
	PARSE_BAD(cp__parse_float, "nan", double);
	PARSE_BAD(cp__parse_float, "inf", double);
	PARSE_BAD(cp__parse_float, "0x10", double);
	PARSE_BAD(cp__parse_float, "1e999", double);
	PARSE_BAD(cp__parse_float, "1.2.3", double);
	PARSE_BAD(cp__parse_float, "e5", double);
}
END_TEST

START_TEST(test_parse_money)
{
	PARSE_OK(cp__parse_money, "12.34", int64_t, 1234);
	PARSE_OK(cp__parse_money, "12.3", int64_t, 1230);
	PARSE_OK(cp__parse_money, "12", int64_t, 1200);
	PARSE_OK(cp__parse_money, "-0.05", int64_t, -5);
	PARSE_OK(cp__parse_money, "0.10", int64_t, 10);
	PARSE_BAD(cp__parse_money, "12.345", int64_t);   /* 3 decimals: never rounded */
	PARSE_BAD(cp__parse_money, "1,000", int64_t);
	PARSE_BAD(cp__parse_money, "¥12", int64_t);
	PARSE_BAD(cp__parse_money, ".", int64_t);
	PARSE_BAD(cp__parse_money, "99999999999999999999", int64_t);
	char buf[32];
	cp__format_money(1234, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12.34");
	cp__format_money(1200, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12");
	cp__format_money(-5, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-0.05");
	cp__format_money(1230, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12.30");
}
END_TEST

START_TEST(test_parse_date)
{
	cp_date expect;
	cp_date_from_ymd(&expect, 2026, 2, 28);
	PARSE_OK(cp__parse_date, "2026-02-28", cp_date, expect);
	PARSE_OK(cp__parse_date, "20260228", cp_date, expect);
	PARSE_BAD(cp__parse_date, "2026-02-29", cp_date);
	PARSE_BAD(cp__parse_date, "2026-2-28", cp_date);
	PARSE_BAD(cp__parse_date, "2026022", cp_date);
	PARSE_BAD(cp__parse_date, "2026-02-2x", cp_date);
}
END_TEST

static void msisdn_ok(const char *in, const char *expect)
{
	char out[64];
	const char *why;
	ck_assert_int_eq(cp__normalize_msisdn_cn(in, strlen(in), out, sizeof(out), &why), CP_OK);
	ck_assert_str_eq(out, expect);
}

static void msisdn_bad(const char *in)
{
	char out[64];
	const char *why = NULL;
	ck_assert_int_eq(cp__normalize_msisdn_cn(in, strlen(in), out, sizeof(out), &why),
	                 CP_ETYPE);
	ck_assert_ptr_nonnull(why);
}

START_TEST(test_msisdn)
{
	msisdn_ok("13800000001", "13800000001");
	msisdn_ok("+8613800000001", "13800000001");
	msisdn_ok("008613800000001", "13800000001");
	msisdn_ok("8613800000001", "13800000001");
	msisdn_bad("1380000000");      /* 10 digits */
	msisdn_bad("138000000012");    /* 12 digits, no prefix */
	msisdn_bad("+86138000000");    /* prefix + 9 digits */
	msisdn_bad("1380000000a");
	msisdn_bad("");
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_strerror_names_every_code);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_allocator_is_fixed_after_first_allocation);
	tcase_add_test(tc, test_diag_collects_and_formats);
	tcase_add_test(tc, test_errmsg);
	tcase_add_test(tc, test_buf);
	tcase_add_test(tc, test_edit_distance_and_closest);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_dates);
	tcase_add_test(tc, test_parse_bool);
	tcase_add_test(tc, test_parse_int);
	tcase_add_test(tc, test_parse_float);
	tcase_add_test(tc, test_parse_money);
	tcase_add_test(tc, test_parse_date);
	tcase_add_test(tc, test_msisdn);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(core_suite());
}
