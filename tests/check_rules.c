/*
 * check_rules.c — the rule language (DESIGN §5): every operator and function
 * with its null cases and window edges, diagnostics (exact file:line:col and
 * message), rule packs, groups, tag()/stage(), parameters, the public API,
 * explain, limits, allocations per evaluation, and a differential test of the
 * compiled evaluator against a small tree-walking reference evaluator.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* ---- allocation counting (installed in main, before anything else) ---- */

static size_t n_allocs;

static void *count_malloc(size_t n)
{
	n_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
	n_allocs++;
	return realloc(p, n);
}

/* ---- fixtures: the test schema and a store with three profiles ---- */

static cp_schema *S;
static cp_store *ST;

#define P1 "13800000001" /* values everywhere (see fill_p1) */
#define P2 "13800000002" /* every field null */

static void set(cp_profile *p, const char *field, int month, const char *text)
{
	int f = cp_schema_field_index(S, field);
	ck_assert_int_ge(f, 0);
	int rc = cp_profile_set_text(p, f, month, text);
	ck_assert_msg(rc == CP_OK, "%s[%d] = '%s': %s", field, month, text, cp_errmsg(p));
}

static void series(cp_profile *p, const char *field, const char *const v[6])
{
	for (int m = 0; m < 6; m++)
		if (v[m])
			set(p, field, m, v[m]);
}

static void fill_p1(cp_profile *p)
{
	static const char *const arpu[6] = {"50", "40", NULL, "30", "20.5", "10"};
	static const char *const mb[6] = {"2.5", "3.1", NULL, "9.0", "4.4", "2.1"};
	static const char *const sess[6] = {"14", "12", "11", "19", "13", "12"};
	static const char *const act[6] = {"1", "0", NULL, "1", "1", "1"};
	static const char *const call[6] = {"2026-10-30", "2026-09-15", NULL, NULL, NULL, NULL};
	set(p, "msisdn", 0, P1);
	set(p, "brand", 0, "gotone");
	set(p, "region", 0, "north");
	set(p, "name", 0, "张三");
	set(p, "age", 0, "30");
	set(p, "score", 0, "0.5");
	set(p, "vip", 0, "1");
	set(p, "overdue", 0, "12.50");
	set(p, "join_date", 0, "2026-08-31");
	set(p, "addons", 0, "a;b");
	set(p, "tones", 0, "t1;t2");
	series(p, "arpu", arpu);
	series(p, "gprs_mb", mb);
	series(p, "sessions", sess);
	series(p, "active", act);
	series(p, "last_call", call);
	set(p, "apps", 0, "wechat;qq");
	set(p, "apps", 1, "qq");
}

static void setup(void)
{
	S = tu_schema();
	ck_assert_int_eq(cp_store_new(&ST, S), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(ST, 202610), CP_OK);
	cp_profile *p;
	ck_assert_int_eq(cp_profile_new(&p, S), CP_OK);
	fill_p1(p);
	ck_assert_int_eq(cp_store_put(ST, p, NULL), CP_OK);
	cp_profile_clear(p);
	set(p, "msisdn", 0, P2);
	ck_assert_int_eq(cp_store_put(ST, p, NULL), CP_OK);
	cp_profile_free(p);
}

static void teardown(void)
{
	cp_store_free(ST);
	cp_schema_free(S);
	ST = NULL;
	S = NULL;
}

/* ---- helpers ---- */

/* Compile YAML packs (NUL-separated list of "name", "yaml" pairs ended by NULL). */
static int compile_packs(cp_ruleset **rs, cp_diag *d, const char *name, const char *yaml, ...)
{
	cp_rules_opts *o;
	ck_assert_int_eq(cp_rules_opts_new(&o), CP_OK);
	va_list ap;
	va_start(ap, yaml);
	while (name) {
		ck_assert_int_eq(cp_rules_opts_add_memory(o, yaml, strlen(yaml), name), CP_OK);
		name = va_arg(ap, const char *);
		if (name)
			yaml = va_arg(ap, const char *);
	}
	va_end(ap);
	int rc = cp_ruleset_compile(rs, S, o, d);
	cp_rules_opts_free(o);
	return rc;
}

/* Every diagnostic, one per line, as cp_diag_format gives it. */
static const char *diags(cp_diag *d)
{
	static char buf[16384];
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < cp_diag_count(d) && o < sizeof(buf) - 1; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\n", cp_diag_format(d, i));
	return buf;
}

static const char *pack_with_metric(const char *expr)
{
	static char yaml[300000];
	snprintf(yaml, sizeof(yaml),
	         "custprof: 1\npack: t\nparams:\n  p: 10\n  s: 'gotone'\n  brands: [szx, gotone]\n"
	         "metrics:\n  - id: m\n    expr: |-\n      %s\n", expr);
	return yaml;
}

/*
 * The value of expr (a metric) for the profile with key, as text; or
 * "ERROR line:col: message" for the first error of the compile.
 */
static const char *ev_key(const char *key, const char *expr)
{
	static char out[8192];
	cp_diag *d;
	cp_ruleset *rs;
	cp_diag_new(&d);
	int rc = compile_packs(&rs, d, "t.yaml", pack_with_metric(expr), NULL);
	if (rc != CP_OK) {
		for (size_t i = 0; i < cp_diag_count(d); i++) {
			if (cp_diag_severity(d, i) == CP_SEV_ERROR) {
				snprintf(out, sizeof(out), "ERROR %u:%u: %s", cp_diag_line(d, i),
				         cp_diag_column(d, i), cp_diag_message(d, i));
				break;
			}
		}
		cp_diag_free(d);
		return out;
	}
	cp_diag_free(d);
	cp_result *res;
	ck_assert_int_eq(cp_result_new(&res, rs), CP_OK);
	ck_assert_int_eq(cp_eval_key(res, ST, key), CP_OK);
	int n = cp_result_metric_text(res, 0, out, sizeof(out));
	ck_assert_int_ge(n, 0);
	cp_result_free(res);
	cp_ruleset_free(rs);
	return out;
}

static const char *ev(const char *expr)
{
	return ev_key(P1, expr);
}

/* Warnings of compiling expr as a metric, one per line "line:col: msg". */
static const char *warnings_of(const char *expr)
{
	static char out[4096];
	cp_diag *d;
	cp_ruleset *rs;
	cp_diag_new(&d);
	ck_assert_int_eq(compile_packs(&rs, d, "t.yaml", pack_with_metric(expr), NULL), CP_OK);
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < cp_diag_count(d); i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%u:%u: %s\n", cp_diag_line(d, i),
		                      cp_diag_column(d, i), cp_diag_message(d, i));
	cp_diag_free(d);
	cp_ruleset_free(rs);
	return out;
}

#define EQ(expr, want) ck_assert_msg(strcmp(ev(expr), want) == 0, "%s -> %s, want %s", expr, ev(expr), want)
#define EQ2(expr, want) ck_assert_msg(strcmp(ev_key(P2, expr), want) == 0, "%s (nulls) -> %s, want %s", expr, ev_key(P2, expr), want)
/* errors are at line 10 (the literal block) and column 7 + offset */
#define ERR(expr, col, msg)                                                         \
	do {                                                                            \
		char want_[1024];                                                           \
		snprintf(want_, sizeof(want_), "ERROR 10:%d: %s", 7 + (col), msg);          \
		ck_assert_msg(strcmp(ev(expr), want_) == 0, "%s -> %s\n  want %s", expr,  \
		              ev(expr), want_);                                             \
	} while (0)

/* ---- literals and arithmetic ---- */

START_TEST(test_arithmetic)
{
	EQ("1 + 2", "3");
	EQ("7 - 10", "-3");
	EQ("6 * 7", "42");
	EQ("7 / 2", "3.5");
	EQ("8 / 2", "4.0");
	EQ("7 % 3", "1");
	EQ("-7 % 3", "-1");
	EQ("1 + 2 * 3", "7");
	EQ("(1 + 2) * 3", "9");
	EQ("-2 * -3", "6");
	EQ("- (2 + 3)", "-5");
	EQ("10 - 4 - 3", "3");
	EQ("2.5 * 2", "5.0");
	EQ("1e3 + 0.5", "1000.5");
	EQ("age + 1", "31");
	EQ("age * score", "15.0");
	EQ("age / 4", "7.5");
	EQ("-9223372036854775808", "-9223372036854775808");
	/* division by zero, overflow, null operands: null */
	EQ("1 / 0", "null");
	EQ("1.5 / 0", "null");
	EQ("0 / 0", "null");
	EQ("7 % 0", "null");
	EQ("9223372036854775807 + 1", "null");
	EQ("-9223372036854775807 - 2", "null");
	EQ("4611686018427387904 * 2", "null");
	EQ("-(-9223372036854775808)", "null");
	EQ("age + null", "null");
	EQ("null + 1", "null");
	EQ("null * null", "null");
	EQ("-null", "null");
	EQ2("age + 1", "null");
	EQ2("age / 2", "null");
	EQ2("-age", "null");
	EQ("1e308 * 10", "null"); /* not finite */
}
END_TEST

START_TEST(test_money)
{
	EQ("overdue", "12.50");
	EQ("overdue + 1", "13.50");
	EQ("overdue + 0.05", "12.55");
	EQ("0.05 + overdue", "12.55");
	EQ("overdue - arpu[0]", "-37.50");
	EQ("overdue * 2", "25");
	EQ("3 * overdue", "37.50");
	EQ("overdue * 1.5", "18.75"); /* money * float is a float (yuan) */
	EQ("overdue / 2", "6.25");
	EQ("overdue / overdue", "1.0");
	EQ("overdue + age", "42.50"); /* an int with money is yuan */
	EQ("-overdue", "-12.50");
	EQ("abs(-overdue)", "12.50");
	EQ("round(overdue)", "13");
	EQ("round(-overdue)", "-13");
	EQ("round(arpu[4])", "21");
	EQ("overdue > 12", "true");
	EQ("overdue > 12.5", "false");
	EQ("overdue >= 12.5", "true");
	EQ("overdue == 12.5", "true");
	EQ("overdue == 12.50", "true");
	EQ("overdue > 12.499", "true");
	EQ("overdue < 12.501", "true");
	EQ("arpu[0] > 20", "true");
	EQ("arpu[4] == 20.5", "true");
	EQ("arpu[0] > overdue", "true");
	EQ("arpu[0] > score", "true");
	EQ("sum(arpu[0..5])", "150.50");
	EQ("avg(arpu[0..5])", "30.1");
	EQ("min(arpu[0..5])", "10");
	EQ("max(arpu[0..5])", "50");
	EQ("min(overdue, 5)", "5");
	EQ("max(overdue, arpu[0])", "50");
	EQ("coalesce(arpu[2], 0)", "0");
	EQ("coalesce(arpu[2], arpu[1])", "40");
	EQ("arpu[0..2] > 35", "[true, true, null]");
	EQ("arpu[0..1] + 1", "[51, 41]");
	EQ("arpu[0..2] * 0.5", "[25.0, 20.0, null]");
	EQ("slope(arpu[0..5])", "7.517441860465117");
	ERR("overdue * overdue", 8, "cannot multiply money by money: convert one side, e.g. (a / b) for a ratio");
	EQ2("sum(arpu[0..5])", "null");
	EQ2("overdue + 1", "null");
}
END_TEST

START_TEST(test_comparisons)
{
	EQ("age > 20", "true");
	EQ("age >= 30", "true");
	EQ("age < 30", "false");
	EQ("age <= 30", "true");
	EQ("age == 30", "true");
	EQ("age != 30", "false");
	EQ("age == 30.0", "true");
	EQ("score < 1", "true");
	EQ("score == 0.5", "true");
	EQ("age == null", "null");
	EQ("null == null", "null");
	EQ("null != 1", "null");
	EQ2("age > 20", "null");
	EQ("age between 18 and 30", "true");
	EQ("age between 31 and 40", "false");
	EQ("age between null and 40", "null");
	EQ("age between 40 and null", "false");
	EQ("score between 0 and 1", "true");
	EQ("overdue between 12.5 and 13", "true");
	EQ("join_date between '2026-01-01' and '2026-12-31'", "true");
	EQ("'abc' < 'abd'", "true");
	EQ("name > 'A'", "true");
	EQ("vip == true", "true");
	EQ("vip != false", "true");
	EQ("true == vip", "true");
	ERR("age < 20 < 30", 9, "comparisons do not chain: write 'a < b and b < c'");
	ERR("vip < true", 4, "bool values have no order: only == and != compare them");
	ERR("brand < 'szx'", 6, "enum values have no order: only == and != compare them");
	ERR("age == 'x'", 4, "cannot compare age (int) with 'x' (string)");
	ERR("addons == 'a'", 7, "cannot compare addons (set) with 'a' (string)");
	ERR("addons == tones", 7, "cannot compare addons (set) with tones (list)");
	ERR("age between 'a' and 3", 4, "cannot compare age (int) with 'a' (string)");
	ERR("vip between 1 and 2", 4, "cannot compare vip (bool) with 1 (int)");
}
END_TEST

START_TEST(test_warnings)
{
	ck_assert_str_eq(warnings_of("score == 0.5"),
	                 "10:13: comparing float values with '==' is fragile (rounding): compare a range or use round()\n");
	ck_assert_str_eq(warnings_of("gprs_mb[0] != score"),
	                 "10:18: comparing float values with '!=' is fragile (rounding): compare a range or use round()\n");
	ck_assert_str_eq(warnings_of("age == null"),
	                 "10:11: a comparison with null is always null: use present(x) to test for a value\n");
	ck_assert_str_eq(warnings_of("overdue == 12.5"), "");
	ck_assert_str_eq(warnings_of("score < 0.5"), "");
	ck_assert_str_eq(warnings_of("region == 'nrth'"), "");
	ck_assert_str_eq(warnings_of("score in [0.5, 1]"),
	                 "10:17: 'in' compares float values with '==', which is fragile (rounding)\n"
	                 "10:22: 'in' compares float values with '==', which is fragile (rounding)\n");
}
END_TEST

START_TEST(test_enums_and_strings)
{
	EQ("brand == 'gotone'", "true");
	EQ("brand != 'szx'", "true");
	EQ("'gotone' == brand", "true");
	EQ("brand", "'gotone'");
	EQ("brand in ['szx', 'gotone']", "true");
	EQ("brand in ['szx', 'mzone']", "false");
	EQ("brand not in ['szx', 'mzone']", "true");
	EQ("brand in ['szx', null]", "null");
	EQ("brand in ['gotone', null]", "true");
	EQ("brand in []", "false");
	EQ("brand in $brands", "true");
	EQ("brand == $s", "true");
	EQ("brand == region", "false");
	EQ("starts_with(brand, 'got')", "true");
	EQ("brand in addons", "false");
	EQ2("brand == 'gotone'", "null");
	EQ2("brand in ['szx']", "null");
	EQ2("brand not in ['szx']", "null");
	ERR("brand == 'gotnoe'", 9, "'gotnoe' is not a value of brand (did you mean 'gotone'?)");
	ERR("brand in ['szx', 'xxxxxxxx']", 17, "'xxxxxxxx' is not a value of brand (values: gotone, szx, mzone)");
	ERR("'GOTONE' != brand", 0, "'GOTONE' is not a value of brand (values: gotone, szx, mzone)");
	/* open enums and strings compare by text */
	EQ("region == 'north'", "true");
	EQ("region in ['south', 'north']", "true");
	EQ("region == 'nowhere'", "false");
	EQ("name == '张三'", "true");
	EQ("name == '\\u5f20\\u4e09'", "true");
	EQ("starts_with(name, '张')", "true");
	EQ("ends_with(name, '三')", "true");
	EQ("ends_with(name, '张三四')", "false");
	EQ("contains(name, 'x')", "false");
	EQ("contains(region, 'rt')", "true");
	EQ("starts_with(region, '')", "true");
	EQ2("starts_with(region, 'n')", "null");
}
END_TEST

START_TEST(test_logic)
{
	EQ("true and true", "true");
	EQ("true and false", "false");
	EQ("true and null", "null");
	EQ("null and true", "null");
	EQ("false and null", "false");
	EQ("null and false", "false");
	EQ("null and null", "null");
	EQ("true or null", "true");
	EQ("null or true", "true");
	EQ("false or null", "null");
	EQ("false or false", "false");
	EQ("null or null", "null");
	EQ("not true", "false");
	EQ("not null", "null");
	EQ("!false", "true");
	EQ("! !true", "true");
	EQ("not not vip", "true");
	EQ("true && false || true", "true");
	EQ("true || false && false", "true");
	EQ("(true || false) && false", "false");
	EQ("not age > 40", "true");
	EQ("active[2] or vip", "true");
	EQ("active[2] and vip", "null");
	EQ("vip and age > 20 and score < 1 and brand == 'gotone'", "true");
	EQ("active[0..2] and vip", "[true, false, null]");
	EQ("active[0..2] or active[3..5]", "[true, true, true]");
	EQ("not active[0..2]", "[false, true, null]");
	ERR("age and vip", 0, "'and' needs true/false values, but 'age' is int");
	ERR("vip or 'x'", 7, "'or' needs true/false values, but ''x'' is string");
	ERR("not age", 4, "'not' needs true/false values, but 'age' is int");
	ERR("active[0..2] and active[0..1]", 17, "windows of different lengths: 3 and 2 elements");
	EQ2("vip or true", "true");
	EQ2("vip and false", "false");
	EQ2("vip and true", "null");
}
END_TEST

START_TEST(test_windows)
{
	EQ("sessions", "14");
	EQ("sessions[0]", "14");
	EQ("sessions[5]", "12");
	EQ("sessions[0..0]", "[14]");
	EQ("sessions[0..5]", "[14, 12, 11, 19, 13, 12]");
	EQ("sessions[0..5] > 12", "[true, false, false, true, true, false]");
	EQ("12 < sessions[0..2]", "[true, false, false]");
	EQ("sessions[0..2] + sessions[3..5]", "[33, 25, 23]");
	EQ("sessions[0..2] * 2", "[28, 24, 22]");
	EQ("-sessions[0..1]", "[-14, -12]");
	EQ("sessions[0..2] == sessions[3..5]", "[false, false, false]");
	EQ("gprs_mb[0..5] * 2", "[5.0, 6.2, null, 18.0, 8.8, 4.2]");
	EQ("gprs_mb[0..5] > sessions[0..5] / 4", "[false, true, null, true, true, false]");
	EQ("(sessions[0..5])[1]", "12");
	EQ("(sessions[0..5])[1..2]", "[12, 11]");
	EQ("(sessions[0..5] > 12)[3]", "true");
	EQ("last_call[0..2]", "[2026-10-30, 2026-09-15, null]");
	EQ("apps[0..1]", "[{'qq', 'wechat'}, {'qq'}]");
	EQ("'wechat' in apps[0..2]", "[true, false, null]");
	EQ("has(apps[0..1], 'qq')", "[true, true]");
	EQ("len(apps[0..2])", "[2, 1, null]");
	EQ("present(arpu[0..2])", "[true, true, false]");
	EQ("abs(sessions[0..1] - 13)", "[1, 1]");
	EQ("min(sessions[0..2], 12)", "[12, 12, 11]");
	EQ("coalesce(arpu[1..3], 0)", "[40, 0, 30]");
	EQ("if(active[0..2], 1, 2)", "[1, 2, 2]");
	EQ("if(vip, sessions[0..1], sessions[2..3])", "[14, 12]");
	EQ("sessions[0..1] in [12, 14]", "[true, true]");
	EQ("sessions[0..1] between 13 and 20", "[true, false]");
	EQ("months_since(last_call[0..1])", "[0, 1]");
	ERR("sessions[6]", 9, "month 6 is beyond the schema's 6 months of 'sessions' (0..5)");
	ERR("sessions[0..6]", 12, "month 6 is beyond the schema's 6 months of 'sessions' (0..5)");
	ERR("sessions[3..1]", 8, "window [3..1] runs backwards: write [1..3]");
	ERR("age[0]", 3, "'age' is not a series: only series fields have months [i]");
	ERR("(sessions[0..2])[3]", 17, "index 3 is beyond the window's 3 elements (0..2)");
	ERR("(age + 1)[0]", 9, "only a series field or a window takes [i]: 'age + 1' is int");
	ERR("sessions[0..2] + sessions[3..4]", 15, "windows of different lengths: 3 and 2 elements");
	ERR("sessions[-1]", 9, "a month index is 0 (this month) or more");
	ERR("sessions[$p]", 9, "expected a month index (an integer), found parameter '$p'");
	ERR("sessions[1.5]", 9, "expected a month index (an integer), found number 1.5");
	ERR("sessions[0][1]", 11, "'[' cannot follow this: only a field, a metric or (...) take [i] or [i..j], once");
}
END_TEST

START_TEST(test_aggregates)
{
	EQ("sum(sessions[0..5])", "81");
	EQ("sum(gprs_mb[0..5])", "21.1");
	EQ("sum(gprs_mb[2..2])", "null");
	EQ("avg(sessions[0..5])", "13.5");
	EQ("avg(gprs_mb[1..3])", "6.05");
	EQ("min(gprs_mb[0..5])", "2.1");
	EQ("max(gprs_mb[0..5])", "9.0");
	EQ("min(last_call[0..5])", "2026-09-15");
	EQ("max(last_call[0..5])", "2026-10-30");
	EQ("count(sessions[0..5] > 12)", "3");
	EQ("count(active[0..5])", "4");
	EQ("count(active[2..2])", "0");
	EQ("all(sessions[0..5] > 10)", "true");
	EQ("all(active[0..5])", "false");
	EQ("all(active[2..5])", "null");
	EQ("all(active[3..5])", "true");
	EQ("any(active[1..2])", "null");
	EQ("any(active[0..2])", "true");
	EQ("any(active[1..1])", "false");
	EQ("none(active[1..2])", "null");
	EQ("none(active[1..1])", "true");
	EQ("none(active[0..0])", "false");
	EQ("streak(active[0..5])", "1");
	EQ("streak(active[1..5])", "0");
	EQ("streak(active[3..5])", "3");
	EQ("streak(sessions[0..5] > 11)", "2");
	EQ("since(active[1..5])", "2");
	EQ("since(active[0..5])", "0");
	EQ("since(sessions[0..5] > 100)", "null");
	EQ("slope(sessions[0..5])", "-0.02857142857142857");
	EQ("slope(gprs_mb[0..5])", "-0.1941860465116279");
	EQ("slope(arpu[2..3])", "null"); /* one point */
	EQ("slope(sessions[0..1])", "2.0");
	EQ2("sum(sessions[0..5])", "null");
	EQ2("avg(sessions[0..5])", "null");
	EQ2("min(sessions[0..5])", "null");
	EQ2("max(gprs_mb[0..5])", "null");
	EQ2("count(active[0..5])", "0");
	EQ2("all(active[0..5])", "null");
	EQ2("any(active[0..5])", "null");
	EQ2("none(active[0..5])", "null");
	EQ2("streak(active[0..5])", "0");
	EQ2("since(active[0..5])", "null");
	EQ2("slope(sessions[0..5])", "null");
	ERR("sum(sessions)", 4, "sum() needs a window: 'sessions' alone is this month only; write sum(sessions[0..5])");
	ERR("all(vip)", 4, "all() needs a window such as (web_sessions[0..5] > 0), but 'vip' is a single value");
	ERR("count(sessions[0..5])", 6, "count() needs a window of true/false values, but 'sessions[0..5]' is window of 6 int");
	ERR("sum(active[0..5])", 4, "sum() needs numbers, but 'active[0..5]' is window of 6 bool");
	ERR("slope(sessions[0..0])", 6, "slope() needs a window of at least 2 months");
	ERR("min(addons, 1)", 12, "cannot mix addons (set) with 1 (int)");
}
END_TEST

START_TEST(test_functions)
{
	EQ("abs(-5)", "5");
	EQ("abs(score - 1)", "0.5");
	EQ("abs(-9223372036854775807 - 1)", "null");
	EQ("min(age, 20)", "20");
	EQ("max(age, 40, 35)", "40");
	EQ("min(age, score)", "0.5");
	EQ("min(age, null)", "null");
	EQ("max(join_date, last_call[0])", "2026-10-30");
	EQ("round(2.5)", "3");
	EQ("round(-2.5)", "-3");
	EQ("round(2.4999)", "2");
	EQ("round(score)", "1");
	EQ("round(age)", "30");
	EQ("round(1e300)", "null");
	EQ("coalesce(null, null, 3)", "3");
	EQ("coalesce(age, 1)", "30");
	EQ("coalesce(null, 2.5)", "2.5");
	EQ("coalesce(brand, 'szx')", "'gotone'");
	EQ("present(arpu[2])", "false");
	EQ("present(age)", "true");
	EQ("present(null)", "false");
	EQ("if(vip, 1, 2)", "1");
	EQ("if(not vip, 1, 2)", "2");
	EQ("if(active[2], 1, 2)", "2");
	EQ("if(false, 'a', null)", "null");
	EQ("if(true, 1, 2.5)", "1.0");
	EQ("if(vip, brand, 'szx')", "'gotone'");
	EQ("len(addons)", "2");
	EQ("len(tones)", "2");
	EQ("has(addons, 'b')", "true");
	EQ("has(addons, 'c')", "false");
	EQ("has(tones, 't2')", "true");
	EQ("'a' in addons", "true");
	EQ("'c' in addons", "false");
	EQ("'c' not in addons", "true");
	EQ("'t1' in tones", "true");
	EQ("region in addons", "false");
	EQ2("if(vip, 1, 2)", "2");
	EQ2("coalesce(age, -1)", "-1");
	EQ2("present(age)", "false");
	EQ2("len(addons)", "null");
	EQ2("has(addons, 'a')", "null");
	EQ2("'a' in addons", "null");
	EQ2("abs(age)", "null");
	EQ2("round(score)", "null");
	EQ2("min(age, 1)", "null");
	ERR("abs('x')", 4, "abs() needs a number, but ''x'' is string");
	ERR("abs(1, 2)", 0, "abs() takes 1 argument, not 2");
	ERR("if(vip, 1)", 0, "if() takes 3 arguments, not 2");
	ERR("coalesce(1)", 0, "coalesce() takes at least 2 arguments, not 1");
	ERR("if(age, 1, 2)", 3, "the condition of if() needs true/false values, but 'age' is int");
	ERR("if(vip, 1, 'x')", 0, "cannot mix 1 (int) with 'x' (string)");
	ERR("len(age)", 4, "len() needs a set or a list, but 'age' is int");
	ERR("has('a', addons)", 4, "has() needs a set or a list first, but ''a'' is string");
	ERR("starts_with(age, 'x')", 12, "starts_with() needs strings, but 'age' is int");
	ERR("summ(sessions[0..5])", 0, "unknown function 'summ' (did you mean 'sum'?)");
	ERR("frobnicate(1)", 0, "unknown function 'frobnicate'");
	ERR("age(1)", 0, "'age' is a field, not a function");
	ERR("sum", 0, "'sum' is a function: write sum(...)");
	ERR("min(brand, 'szx')", 0, "min() of single values needs numbers or dates; for a window write min(w)");
}
END_TEST

START_TEST(test_dates)
{
	EQ("join_date", "2026-08-31");
	EQ("join_date == '2026-08-31'", "true");
	EQ("join_date < '2026-09-01'", "true");
	EQ("join_date + 1", "2026-09-01");
	EQ("join_date - 31", "2026-07-31");
	EQ("last_call[0] - join_date", "60");
	EQ("months_since(join_date)", "2");
	EQ("days_since(join_date)", "61");
	EQ("months_since('2026-09-01')", "1");
	EQ("months_since('2026-10-31')", "0");
	EQ("months_since('2026-10-01')", "0");
	EQ("months_since('2026-09-30')", "1");
	EQ("months_since('2025-10-31')", "12");
	EQ("months_since('2026-11-15')", "0");
	EQ("months_since('2026-11-30')", "-1");
	EQ("months_since('2027-01-31')", "-3");
	EQ("days_since('2026-11-01')", "-1");
	EQ("months_since(last_call[2])", "null");
	EQ2("months_since(join_date)", "null");
	EQ2("days_since(join_date)", "null");
	ERR("join_date == '2026-02-30'", 13, "'2026-02-30' is not a date: no such calendar day");
	ERR("months_since('soon')", 13, "'soon' is not a date: not a date (YYYY-MM-DD or YYYYMMDD)");
	ERR("months_since(age)", 13, "months_since() needs a date, but 'age' is int");
	ERR("join_date * 2", 10, "cannot apply '*' to date and int");
	ERR("join_date + join_date", 10, "cannot apply '+' to date and date");
}
END_TEST

START_TEST(test_strings_and_lexer)
{
	EQ("'a\\'b'", "'a\\'b'");
	EQ("\"a\\\"b\"", "'a\"b'");
	EQ("'tab\\there'", "'tab\\there'");
	EQ("'line\\nbreak'", "'line\\nbreak'");
	EQ("'back\\\\slash'", "'back\\\\slash'");
	EQ("'\\u4e2d'", "'中'");
	EQ("'\\uD83D\\uDE00'", "'😀'");
	EQ("'中文'", "'中文'");
	EQ("1 # a comment", "1");
	EQ("1 + # comment\n      2", "3");
	EQ("$p + 1", "11");
	ERR("'abc", 0, "unterminated string: missing the closing '");
	ERR("'a\\x'", 2, "unknown escape '\\x' (use \\\\ \\' \\\" \\n \\t or \\uXXXX)");
	ERR("'\\u12'", 1, "\\u needs four hex digits (\\u00e9)");
	ERR("'\\uD83D'", 1, "\\uD83D is half of a surrogate pair; the second half (\\uDC00-\\uDFFF) must follow");
	ERR("'\\uDE00'", 1, "\\uDE00 is the second half of a surrogate pair without a first");
	ERR("'\\u0000'", 1, "\\u0000 is not allowed in a string");
	ERR("age = 30", 4, "'=' is not an operator: write '==' to compare");
	ERR("age <> 30", 4, "'<>' is not an operator: write '!='");
	ERR("vip & vip", 4, "'&' is not an operator: write '&&' or 'and'");
	ERR("vip | vip", 4, "'|' is not an operator: write '||' or 'or'");
	ERR("age @ 1", 4, "unexpected character '@'");
	ERR("age ＞ 1", 4, "unexpected character '＞' (U+FF1E)");
	ERR("age（1）", 3, "full-width '（': write the ASCII character");
	ERR("‘x’", 0, "typographic quote '‘': strings use ' or \"");
	ERR("12abc", 0, "malformed number '12abc'");
	ERR("1.2.3", 0, "malformed number '1.2.3'");
	ERR("99999999999999999999", 0, "integer '99999999999999999999' is out of range (at most 9223372036854775807)");
	ERR("9223372036854775808", 0, "integer 9223372036854775808 is out of range (at most 9223372036854775807)");
}
END_TEST

START_TEST(test_syntax_errors)
{
	ck_assert_str_eq(ev(""), "ERROR 9:11: empty expression"); /* where the block starts */
	ERR("# only a comment", 16, "empty expression");
	ERR("age >", 5, "expected a value, found end of expression");
	ERR("(age > 1", 8, "expected ')' to close the '(' at line 10, column 7, found end of expression");
	ERR("age > 1)", 7, "unbalanced ')': there is no '(' to close");
	ERR("age 1", 4, "expected an operator or the end of the expression, found number 1");
	ERR("age AND vip", 4, "keywords are lower case: write 'and'");
	ERR("TRUE", 0, "keywords are lower case: write 'true'");
	ERR("sum(sessions[0..5],)", 19, "expected an argument after ','");
	ERR("sum(sessions[0..5]", 18, "expected ',' or ')' to close the '(' at line 10, column 10, found end of expression");
	ERR("brand in ['a' 'b']", 14, "expected ',' or ']' to close the '[' at line 10, column 16, found string 'b'");
	ERR("age not 3", 4, "unexpected 'not' after a value (did you mean 'not in'?)");
	ERR("age not between 1 and 2", 4, "'not between' is not supported: write 'not (x between a and b)'");
	ERR("age between 1 or 2", 14, "expected 'and' of 'between ... and ...', found 'or'");
	ERR("* 2", 0, "expected a value, found '*'");
	ERR("-5[0]", 2, "a number has no months: '[' cannot follow it");
	ERR("sessions[0", 10, "expected ']' to close the '[' at line 10, column 15, found end of expression");
}
END_TEST

START_TEST(test_names)
{
	ERR("sesions[0]", 0, "unknown name 'sesions' (did you mean 'sessions'?)");
	ERR("gprs_bm > 1", 0, "unknown name 'gprs_bm' (did you mean 'gprs_mb'?)");
	ERR("zzzzzzzz > 1", 0, "unknown name 'zzzzzzzz': not a field of schema 'test' nor a metric");
	ERR("$q + 1", 0, "unknown parameter '$q' (did you mean '$p'?)");
	ERR("$nothing_close + 1", 0, "unknown parameter '$nothing_close': declare it under 'params' of pack 't'");
	ERR("[1, 2]", 0, "a list [...] can only follow 'in'");
	ERR("$brands", 0, "a list [...] can only follow 'in'");
	ERR("abs([1])", 4, "a list [...] can only follow 'in'");
	ERR("age in 3", 7, "the right side of 'in' must be a list [...] or a set or list field, but '3' is int");
	ERR("age in addons", 0, "'in' a set or list needs a string on its left, but 'age' is int");
	ERR("brand in [1]", 10, "cannot compare brand (enum brand) with 1 (int)");
	ERR("age in [sessions[0..1]]", 8, "an element of a list must be a single value, not a window");
}
END_TEST

/* Several independent errors of one expression are all reported. */
START_TEST(test_all_errors_reported)
{
	cp_diag *d;
	cp_ruleset *rs;
	cp_diag_new(&d);
	ck_assert_int_eq(compile_packs(&rs, d, "t.yaml",
	                               pack_with_metric("sesions[0] > 1 and brand == 'gotnoe' and sum(age) > 1"),
	                               NULL),
	                 CP_ENOTFOUND);
	ck_assert_ptr_null(rs);
	ck_assert_str_eq(diags(d),
	                 "t.yaml:10:7: error: unknown name 'sesions' (did you mean 'sessions'?)\n"
	                 "t.yaml:10:35: error: 'gotnoe' is not a value of brand (did you mean 'gotone'?)\n"
	                 "t.yaml:10:52: error: sum() needs a window such as arpu[0..5], but 'age' is a single value\n");
	cp_diag_free(d);
}
END_TEST

/* 100,000 nested parentheses (and other hostile shapes) give errors, not crashes. */
START_TEST(test_nesting_limits)
{
	size_t n = 100000;
	char *e = malloc(2 * n + 2);
	memset(e, '(', n);
	e[n] = '1';
	memset(e + n + 1, ')', n);
	e[2 * n + 1] = '\0';
	/* as a literal block it is longer than an expression may be */
	ck_assert_str_eq(ev(e), "ERROR 9:11: 'expr' of a metric is 200001 bytes long; the limit is 65536");
	free(e);
	/* within the length limit: the nesting limit */
	n = 300;
	e = malloc(2 * n + 2);
	memset(e, '(', n);
	e[n] = '1';
	memset(e + n + 1, ')', n);
	e[2 * n + 1] = '\0';
	ERR(e, 256, "expression is nested more than 256 levels deep");
	memset(e, '-', n);
	ERR(e, 255, "expression is nested more than 256 levels deep");
	EQ("not not not not true", "true");
	EQ("not not not true", "false");
	free(e);
	/* 256 levels are fine */
	n = 250;
	e = malloc(2 * n + 2);
	memset(e, '(', n);
	e[n] = '7';
	memset(e + n + 1, ')', n);
	e[2 * n + 1] = '\0';
	EQ(e, "7");
	free(e);
	/* long chains: n-ary and/or are flat; + chains have a height limit */
	cp_buf b;
	cp__buf_init(&b);
	for (int i = 0; i < 3000; i++)
		cp__buf_puts(&b, i ? " and vip" : "vip");
	EQ(b.data, "true");
	cp__buf_reset(&b);
	for (int i = 0; i < 1200; i++)
		cp__buf_puts(&b, i ? " + 1" : "1");
	ck_assert_msg(strstr(ev(b.data), "expression is too deeply nested (more than 1000 levels)"), "%s",
	              ev(b.data));
	cp__buf_reset(&b);
	for (int i = 0; i < 900; i++)
		cp__buf_puts(&b, i ? " + 1" : "1");
	EQ(b.data, "900");
	cp__buf_free(&b);
}
END_TEST

static Suite *rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("expressions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_arithmetic);
	tcase_add_test(tc, test_money);
	tcase_add_test(tc, test_comparisons);
	tcase_add_test(tc, test_warnings);
	tcase_add_test(tc, test_enums_and_strings);
	tcase_add_test(tc, test_logic);
	tcase_add_test(tc, test_windows);
	tcase_add_test(tc, test_aggregates);
	tcase_add_test(tc, test_functions);
	tcase_add_test(tc, test_dates);
	tcase_add_test(tc, test_strings_and_lexer);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_nesting_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	cp_set_allocator(count_malloc, count_realloc, free);
	return tu_run(rules_suite());
}
