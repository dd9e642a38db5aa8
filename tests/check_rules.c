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
#include <time.h>

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
	S->fields[cp_schema_field_index(S, "name")].personal = true;
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
	EQ("slope(arpu[0..5])", "7.517441860465116"); /* correctly rounded */
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

/* ---- rule packs ---- */

/* Tag ids that apply to the profile with key, joined by ';'. */
static const char *applying(const cp_ruleset *rs, const char *key)
{
	static char out[4096];
	cp_result *res;
	ck_assert_int_eq(cp_result_new(&res, rs), CP_OK);
	ck_assert_int_eq(cp_eval_key(res, ST, key), CP_OK);
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < cp_result_tag_count(res); i++) {
		int t = cp_result_tag_at(res, i);
		ck_assert_int_eq(cp_result_tag(res, t), 1);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? ";" : "",
		                      cp_ruleset_tag_id(rs, t));
	}
	cp_result_free(res);
	return out;
}

static cp_ruleset *must_compile(const char *yaml)
{
	cp_diag *d;
	cp_ruleset *rs;
	cp_diag_new(&d);
	int rc = compile_packs(&rs, d, "p.yaml", yaml, NULL);
	ck_assert_msg(rc == CP_OK, "compile failed:\n%s", diags(d));
	cp_diag_free(d);
	return rs;
}

/* The diagnostics of a failing (or warning) compile, with the status first. */
static const char *compile_diags(const char *yaml)
{
	static char out[16384];
	cp_diag *d;
	cp_ruleset *rs;
	cp_diag_new(&d);
	int rc = compile_packs(&rs, d, "p.yaml", yaml, NULL);
	const char *status = cp_strerror(rc);
	snprintf(out, sizeof(out), "%.*s\n%s", (int)strcspn(status, ":"), status, diags(d));
	cp_ruleset_free(rs);
	cp_diag_free(d);
	return out;
}

static const char groups_yaml[] =
	"custprof: 1\n"
	"pack: g\n"
	"label: 测试\n"
	"params:\n"
	"  old: 20\n"
	"tags:\n"
	"  - {id: young, label: 年轻, when: age < 25}\n"
	"  - {id: grown, when: age >= 25}\n"
	"  - {id: rich, when: 'arpu[0] > 45'}\n"
	"  - {id: vip, label: 贵宾, description: 大客户, when: vip}\n"
	"  - id: old_and_rich\n"
	"    when: tag('g.rich') and age > $old\n"
	"  - id: not_young\n"
	"    when: not tag('young')\n"
	"  - {id: ungrouped_rich, when: \"tag('rich')\"}\n"
	"groups:\n"
	"  - id: age\n"
	"    label: 年龄段\n"
	"    mode: first-match\n"
	"    members: [young, grown]\n"
	"    otherwise: unknown_age\n"
	"  - id: value\n"
	"    members: [g.vip, rich]\n"
	"    otherwise: g.plain\n";

START_TEST(test_groups_and_references)
{
	cp_ruleset *rs = must_compile(groups_yaml);
	ck_assert_int_eq(cp_ruleset_tag_count(rs), 9);
	ck_assert_int_eq(cp_ruleset_group_count(rs), 2);
	/* P1: age 30, vip, arpu 50: grown; vip first in 'value', so rich does not apply */
	ck_assert_str_eq(applying(rs, P1), "g.grown;g.vip;g.not_young");
	/* P2: nulls: nothing in 'age' applies, so its otherwise does; same in 'value' */
	ck_assert_str_eq(applying(rs, P2), "g.not_young;g.unknown_age;g.plain");
	/* tag() reads final values: g.rich is false for P1 (g.vip came first) */
	int t = cp_ruleset_tag_index(rs, "g.old_and_rich");
	ck_assert_int_ge(t, 0);
	ck_assert_str_eq(cp_ruleset_tag_expr(rs, t), "tag('g.rich') and age > $old");
	/* introspection */
	int y = cp_ruleset_tag_index(rs, "g.young");
	ck_assert_str_eq(cp_ruleset_tag_label(rs, y), "年轻");
	ck_assert_str_eq(cp_ruleset_tag_label(rs, cp_ruleset_tag_index(rs, "g.grown")), "g.grown");
	ck_assert_str_eq(cp_ruleset_tag_description(rs, cp_ruleset_tag_index(rs, "g.vip")), "大客户");
	ck_assert_str_eq(cp_ruleset_tag_description(rs, y), "");
	ck_assert_int_eq(cp_ruleset_tag_pack(rs, y), 0);
	ck_assert_str_eq(cp_ruleset_pack_name(rs, 0), "g");
	ck_assert_str_eq(cp_ruleset_pack_label(rs, 0), "测试");
	ck_assert_int_eq(cp_ruleset_pack_count(rs), 1);
	int g = cp_ruleset_group_index(rs, "g.age");
	ck_assert_int_eq(g, 0);
	ck_assert_str_eq(cp_ruleset_group_id(rs, g), "g.age");
	ck_assert_str_eq(cp_ruleset_group_label(rs, g), "年龄段");
	ck_assert_int_eq(cp_ruleset_group_member_count(rs, g), 2);
	ck_assert_int_eq(cp_ruleset_group_member(rs, g, 0), y);
	ck_assert_int_eq(cp_ruleset_group_member(rs, g, 2), -1);
	int other = cp_ruleset_group_otherwise(rs, g);
	ck_assert_str_eq(cp_ruleset_tag_id(rs, other), "g.unknown_age");
	ck_assert_str_eq(cp_ruleset_tag_expr(rs, other), "");
	ck_assert_int_eq(cp_ruleset_tag_group(rs, other), g);
	ck_assert_int_eq(cp_ruleset_tag_group(rs, y), g);
	ck_assert_int_eq(cp_ruleset_tag_group(rs, t), -1);
	ck_assert_int_eq(cp_ruleset_tag_index(rs, "g.nope"), CP_ENOTFOUND);
	ck_assert_int_eq(cp_ruleset_group_index(rs, "nope"), CP_ENOTFOUND);
	ck_assert_ptr_null(cp_ruleset_tag_id(rs, 9));
	ck_assert_ptr_null(cp_ruleset_tag_id(rs, -1));
	ck_assert_int_eq(cp_ruleset_param_count(rs), 1);
	ck_assert_str_eq(cp_ruleset_param_name(rs, 0), "g.old");
	ck_assert_str_eq(cp_ruleset_param_value(rs, 0), "20");
	cp_ruleset_free(rs);
}
END_TEST

/* An earlier member's condition can use a later member's final value only
 * if that does not loop back: a later member's final value reads the
 * earlier member's condition. */
START_TEST(test_cycles)
{
	ck_assert_str_eq(compile_diags("custprof: 1\npack: c\ntags:\n"
	                               "  - {id: a, when: \"tag('b')\"}\n"
	                               "  - {id: b, when: \"tag('a')\"}\n"),
	                 "CP_EINVAL\np.yaml:4:20: error: tag cycle: c.a -> c.b -> c.a\n");
	ck_assert_str_eq(compile_diags("custprof: 1\npack: c\ntags:\n"
	                               "  - {id: a, when: \"tag('a') or vip\"}\n"),
	                 "CP_EINVAL\np.yaml:4:20: error: tag cycle: c.a -> c.a\n");
	/* through a group: b's final value reads a's condition */
	ck_assert_str_eq(compile_diags("custprof: 1\npack: c\ntags:\n"
	                               "  - {id: a, when: \"vip and not tag('b')\"}\n"
	                               "  - {id: b, when: vip}\n"
	                               "groups:\n  - {id: g, members: [a, b]}\n"),
	                 "CP_EINVAL\np.yaml:4:32: error: tag cycle: c.a -> c.b -> c.a\n");
	/* the other way round is fine: b reads a, which comes first */
	cp_ruleset *rs = must_compile("custprof: 1\npack: c\ntags:\n"
	                              "  - {id: a, when: vip}\n"
	                              "  - {id: b, when: \"vip and not tag('a')\"}\n"
	                              "groups:\n  - {id: g, members: [a, b]}\n");
	ck_assert_str_eq(applying(rs, P1), "c.a");
	cp_ruleset_free(rs);
	/* metrics and tracks */
	ck_assert_str_eq(compile_diags("custprof: 1\npack: c\n"
	                               "metrics:\n  - {id: m1, expr: m2 + 1}\n  - {id: m2, expr: m1 * 2}\n"),
	                 "CP_EINVAL\np.yaml:4:20: error: reference cycle: metric m1 -> metric m2 -> metric m1\n");
	ck_assert_str_eq(compile_diags("custprof: 1\npack: c\n"
	                               "metrics:\n  - {id: m1, expr: \"if(tag('t'), 1, 0)\"}\n"
	                               "tags:\n  - {id: t, when: \"stage('k') == 'growth' and m1 > 0\"}\n"
	                               "lifecycle:\n  - track: k\n    stages:\n"
	                               "      - {stage: growth, when: m1 == 1}\n"),
	                 "CP_EINVAL\np.yaml:4:24: error: reference cycle: metric m1 -> tag c.t -> track k -> metric m1\n");
}
END_TEST

static const char tracks_yaml[] =
	"custprof: 1\n"
	"pack: life\n"
	"params: {young: 25}\n"
	"tags:\n"
	"  - {id: growing, when: \"stage('sub') == 'growth'\"}\n"
	"  - {id: settled, when: \"stage('sub') in ['maturity', 'decline']\"}\n"
	"lifecycle:\n"
	"  - track: sub\n"
	"    label: 客户\n"
	"    stages:\n"
	"      - {stage: churned, when: \"brand == 'szx'\"}\n"
	"      - {stage: growth, id: young, label: 年轻, description: 年轻客户, when: age < $young}\n"
	"      - {stage: growth, when: \"vip and arpu[0] > 100\"}\n"
	"      - {stage: maturity, when: vip}\n"
	"    otherwise: unknown\n"
	"  - track: other\n"
	"    stages:\n"
	"      - {stage: silent, when: \"none(active[0..1])\"}\n"
	"    otherwise: growth\n"
	"stage_info:\n"
	"  churn_risk: {label: 潜在流失, drivers: [churn]}\n"
	"  growth: {drivers: [recurring_revenue, cross_sell]}\n";

START_TEST(test_tracks)
{
	cp_ruleset *rs = must_compile(tracks_yaml);
	ck_assert_int_eq(cp_ruleset_track_count(rs), 2);
	int k = cp_ruleset_track_index(rs, "sub");
	ck_assert_int_eq(k, 0);
	ck_assert_int_eq(cp_ruleset_track_index(rs, "nope"), CP_ENOTFOUND);
	ck_assert_str_eq(cp_ruleset_track_name(rs, k), "sub");
	ck_assert_str_eq(cp_ruleset_track_label(rs, k), "客户");
	ck_assert_str_eq(cp_ruleset_track_label(rs, 1), "other");
	ck_assert_int_eq(cp_ruleset_track_rule_count(rs, k), 4);
	ck_assert_str_eq(cp_ruleset_track_rule_id(rs, k, 0), "sub.churned");
	ck_assert_str_eq(cp_ruleset_track_rule_id(rs, k, 1), "young");
	ck_assert_str_eq(cp_ruleset_track_rule_id(rs, k, 2), "sub.growth");
	ck_assert_str_eq(cp_ruleset_track_rule_id(rs, k, 3), "sub.maturity");
	ck_assert_int_eq(cp_ruleset_track_rule_stage(rs, k, 1), CP_STAGE_GROWTH);
	ck_assert_str_eq(cp_ruleset_track_rule_expr(rs, k, 1), "age < $young");
	ck_assert_ptr_null(cp_ruleset_track_rule_id(rs, k, 4));
	ck_assert_int_eq(cp_ruleset_track_otherwise(rs, k), CP_STAGE_UNKNOWN);
	ck_assert_int_eq(cp_ruleset_track_otherwise(rs, 1), CP_STAGE_GROWTH);
	ck_assert_str_eq(cp_ruleset_stage_label(rs, CP_STAGE_CHURN_RISK), "潜在流失");
	ck_assert_str_eq(cp_ruleset_stage_label(rs, CP_STAGE_GROWTH), "growth");
	ck_assert_int_eq(cp_ruleset_stage_driver_count(rs, CP_STAGE_GROWTH), 2);
	ck_assert_str_eq(cp_ruleset_stage_driver(rs, CP_STAGE_GROWTH, 1), "cross_sell");
	ck_assert_int_eq(cp_ruleset_stage_driver_count(rs, CP_STAGE_SILENT), 0);
	ck_assert_ptr_null(cp_ruleset_stage_label(rs, 11));

	cp_result *res;
	ck_assert_int_eq(cp_result_new(&res, rs), CP_OK);
	/* P1: gotone, age 30, vip, arpu 50: not young, arpu not > 100: maturity by rule 3 */
	ck_assert_int_eq(cp_eval_key(res, ST, P1), CP_OK);
	ck_assert_int_eq(cp_result_stage(res, k), CP_STAGE_MATURITY);
	ck_assert_int_eq(cp_result_stage_rule(res, k), 3);
	ck_assert_str_eq(cp_result_stage_rule_id(res, k), "sub.maturity");
	ck_assert_int_eq(cp_result_stage(res, 1), CP_STAGE_GROWTH); /* active[0] is true */
	ck_assert_int_eq(cp_result_stage_rule(res, 1), -1);
	ck_assert_str_eq(cp_result_stage_rule_id(res, 1), "other.otherwise");
	ck_assert_int_eq(cp_result_tag(res, cp_ruleset_tag_index(rs, "life.settled")), 1);
	ck_assert_int_eq(cp_result_tag(res, cp_ruleset_tag_index(rs, "life.growing")), 0);
	/* P2: all null: every condition null, so the otherwise stage */
	ck_assert_int_eq(cp_eval_key(res, ST, P2), CP_OK);
	ck_assert_int_eq(cp_result_stage(res, k), CP_STAGE_UNKNOWN);
	ck_assert_str_eq(cp_result_stage_rule_id(res, k), "sub.otherwise");
	ck_assert_int_eq(cp_result_stage(res, 2), -1);
	ck_assert_int_eq(cp_result_stage_rule(res, -1), -1);
	ck_assert_ptr_null(cp_result_stage_rule_id(res, 2));
	cp_result_free(res);
	cp_ruleset_free(rs);

	/* a parameter override decides another rule */
	cp_rules_opts *o;
	cp_rules_opts_new(&o);
	cp_rules_opts_add_memory(o, tracks_yaml, strlen(tracks_yaml), "t.yaml");
	ck_assert_int_eq(cp_rules_opts_set_param(o, "life.young", "31"), CP_OK);
	ck_assert_int_eq(cp_ruleset_compile(&rs, S, o, NULL), CP_OK);
	cp_result_new(&res, rs);
	cp_eval_key(res, ST, P1);
	ck_assert_str_eq(cp_result_stage_rule_id(res, 0), "young");
	ck_assert_int_eq(cp_result_tag(res, cp_ruleset_tag_index(rs, "life.growing")), 1);
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_rules_opts_free(o);

	ck_assert_str_eq(cp_stage_name(CP_STAGE_CHURN_RISK), "churn_risk");
	ck_assert_str_eq(cp_stage_name(CP_STAGE_UNKNOWN), "unknown");
	ck_assert_str_eq(cp_stage_name(CP_STAGE_BAD_DEBT), "bad_debt");
	ck_assert_ptr_null(cp_stage_name(11));
	ck_assert_ptr_null(cp_stage_name(-1));
	ck_assert_int_eq(cp_stage_from_name("winback"), CP_STAGE_WINBACK);
	ck_assert_int_eq(cp_stage_from_name("Winback"), CP_ENOTFOUND);
	ck_assert_int_eq(cp_stage_from_name(NULL), CP_ENOTFOUND);
}
END_TEST

START_TEST(test_params)
{
	static const char two[] =
		"custprof: 1\npack: a\nparams: {limit: 20, name: gotone, flag: true, none: null, list: [1, 2]}\n"
		"metrics:\n  - {id: m, expr: $limit}\n  - {id: s, expr: $name}\n"
		"  - {id: f, expr: $flag}\n  - {id: n, expr: $none}\n  - {id: l, expr: age in $list}\n";
	static const char other[] = "custprof: 1\npack: b\nparams: {limit: 5}\n"
	                            "metrics:\n  - {id: bm, expr: $limit * 2}\n";
	cp_rules_opts *o;
	cp_ruleset *rs;
	cp_diag *d;
	cp_diag_new(&d);
	cp_rules_opts_new(&o);
	cp_rules_opts_add_memory(o, two, strlen(two), "a.yaml");
	cp_rules_opts_add_memory(o, other, strlen(other), "b.yaml");
	/* unqualified: every pack that declares it; qualified: that pack */
	ck_assert_int_eq(cp_rules_opts_set_param(o, "limit", "7"), CP_OK);
	ck_assert_int_eq(cp_rules_opts_set_param(o, "a.name", "'szx'"), CP_OK);
	ck_assert_int_eq(cp_rules_opts_set_param(o, "a.flag", "false"), CP_OK);
	ck_assert_int_eq(cp_rules_opts_set_param(o, "a.list", "[30, 40]"), CP_OK);
	ck_assert_int_eq(cp_ruleset_compile(&rs, S, o, d), CP_OK);
	ck_assert_uint_eq(cp_diag_count(d), 0);
	cp_result *res;
	cp_result_new(&res, rs);
	cp_eval_key(res, ST, P1);
	char buf[64];
	cp_result_metric_text(res, cp_ruleset_metric_index(rs, "m"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "7");
	cp_result_metric_text(res, cp_ruleset_metric_index(rs, "bm"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "14");
	cp_result_metric_text(res, cp_ruleset_metric_index(rs, "s"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "'szx'");
	cp_result_metric_text(res, cp_ruleset_metric_index(rs, "f"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "false");
	cp_result_metric_text(res, cp_ruleset_metric_index(rs, "n"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "null");
	cp_result_metric_text(res, cp_ruleset_metric_index(rs, "l"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "true");
	ck_assert_str_eq(cp_ruleset_param_name(rs, 0), "a.limit");
	ck_assert_str_eq(cp_ruleset_param_value(rs, 0), "7");
	ck_assert_str_eq(cp_ruleset_param_value(rs, 1), "'szx'");
	ck_assert_str_eq(cp_ruleset_param_value(rs, 4), "[30, 40]");
	cp_result_free(res);
	cp_ruleset_free(rs);

	/* bad overrides: unknown (with suggestions), wrong kind of value */
	cp_diag_clear(d);
	ck_assert_int_eq(cp_rules_opts_set_param(o, "a.limt", "1"), CP_OK);
	ck_assert_int_eq(cp_rules_opts_set_param(o, "lmit", "1"), CP_OK);
	ck_assert_int_eq(cp_rules_opts_set_param(o, "a.name", "5"), CP_OK);
	ck_assert_int_eq(cp_rules_opts_set_param(o, "a.limit", "lots"), CP_OK);
	ck_assert_int_eq(cp_ruleset_compile(&rs, S, o, d), CP_ETYPE); /* the first error's */
	ck_assert_ptr_null(rs);
	ck_assert_str_eq(diags(d),
	                 "error: parameter override 'a.name' = '5': the value is a number, but the pack's value is a text\n"
	                 "error: parameter override 'a.limt': no pack declares it (did you mean 'a.limit'?)\n"
	                 "error: parameter override 'lmit': no pack declares it (did you mean 'limit'?)\n"
	                 "error: parameter override 'a.limit' = 'lots': the value is a text, but the pack's value is a number\n");
	ck_assert_int_eq(cp_rules_opts_set_param(o, "", "1"), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(o), "empty parameter name");
	ck_assert_int_eq(cp_rules_opts_set_param(o, NULL, "1"), CP_EINVAL);
	cp_rules_opts_free(o);
	cp_diag_free(d);
}
END_TEST

START_TEST(test_metrics)
{
	cp_ruleset *rs = must_compile(
		"custprof: 1\npack: m\n"
		"metrics:\n"
		"  - {id: total, label: 总数, expr: \"sum(sessions[0..5])\"}\n"
		"  - {id: doubled, expr: total * 2}\n"
		"  - {id: win, expr: \"sessions[0..2] > 12\"}\n"
		"  - {id: money, expr: \"arpu[0] + 0.5\"}\n"
		"  - {id: day, expr: join_date}\n"
		"  - {id: nothing, expr: \"null\"}\n"
		"  - {id: b, expr: brand}\n"
		"tags:\n  - {id: busy, when: \"doubled > 100 and win[0]\"}\n");
	ck_assert_int_eq(cp_ruleset_metric_count(rs), 7);
	ck_assert_int_eq(cp_ruleset_metric_index(rs, "doubled"), 1);
	ck_assert_int_eq(cp_ruleset_metric_index(rs, "nope"), CP_ENOTFOUND);
	ck_assert_str_eq(cp_ruleset_metric_id(rs, 0), "total");
	ck_assert_str_eq(cp_ruleset_metric_label(rs, 0), "总数");
	ck_assert_str_eq(cp_ruleset_metric_label(rs, 1), "doubled");
	ck_assert_int_eq(cp_ruleset_metric_type(rs, 0), CP_TYPE_INT);
	ck_assert_int_eq(cp_ruleset_metric_type(rs, 2), CP_TYPE_BOOL);
	ck_assert_int_eq(cp_ruleset_metric_window(rs, 2), 3);
	ck_assert_int_eq(cp_ruleset_metric_window(rs, 0), 0);
	ck_assert_int_eq(cp_ruleset_metric_type(rs, 3), CP_TYPE_MONEY);
	ck_assert_int_eq(cp_ruleset_metric_type(rs, 4), CP_TYPE_DATE);
	ck_assert_int_eq(cp_ruleset_metric_type(rs, 5), 0);
	ck_assert_int_eq(cp_ruleset_metric_type(rs, 6), CP_TYPE_ENUM);
	ck_assert_int_eq(cp_ruleset_metric_type(rs, 7), -1);
	cp_result *res;
	cp_result_new(&res, rs);
	char buf[64];
	/* before any evaluation */
	ck_assert_int_eq(cp_result_metric_text(res, 0, buf, sizeof(buf)), CP_EMISUSE);
	ck_assert_int_eq(cp_result_tag_count(res), 0);
	ck_assert_int_eq(cp_result_metric_is_null(res, 0), 1);
	ck_assert_int_eq(cp_eval_key(res, ST, P1), CP_OK);
	ck_assert_int_eq(cp_result_metric_is_null(res, 0), 0);
	ck_assert_int_eq(cp_result_metric_int(res, 0), 81);
	ck_assert(cp_result_metric_float(res, 1) == 162.0);
	ck_assert_int_eq(cp_result_metric_int(res, 2), 1);
	ck_assert_int_eq(cp_result_metric_int(res, 3), 5050);
	ck_assert(cp_result_metric_float(res, 3) == 50.5);
	ck_assert_int_eq(cp_result_metric_int(res, 4), cp__days_from_civil(2026, 8, 31));
	ck_assert_int_eq(cp_result_metric_is_null(res, 5), 1);
	ck_assert_int_eq(cp_result_metric_int(res, 6), 0);
	ck_assert_int_eq(cp_result_metric_text(res, 2, buf, sizeof(buf)), 20);
	ck_assert_str_eq(buf, "[true, false, false]");
	/* truncation as snprintf */
	ck_assert_int_eq(cp_result_metric_text(res, 2, buf, 5), 20);
	ck_assert_str_eq(buf, "[tru");
	ck_assert_int_eq(cp_result_metric_text(res, 2, NULL, 0), 20);
	ck_assert_int_eq(cp_result_metric_text(res, 9, buf, sizeof(buf)), CP_EINVAL);
	ck_assert_str_eq(applying(rs, P1), "m.busy");
	/* a missing key empties the result */
	ck_assert_int_eq(cp_eval_key(res, ST, "13899999999"), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(res), "no profile with this key");
	ck_assert_int_eq(cp_result_tag_count(res), 0);
	ck_assert_int_eq(cp_result_tag(res, 0), 0);
	ck_assert_int_eq(cp_result_metric_is_null(res, 0), 1);
	ck_assert_int_eq(cp_eval_key(res, ST, "not a number"), CP_ENOTFOUND);
	/* keys are normalized as the key field says */
	ck_assert_int_eq(cp_eval_key(res, ST, "+8613800000001"), CP_OK);
	ck_assert_int_eq(cp_result_tag_count(res), 1);
	cp_result_free(res);
	cp_ruleset_free(rs);
}
END_TEST

/* ---- explain ---- */

static const char explain_yaml[] =
	"custprof: 1\n"
	"pack: x\n"
	"params: {heavy: 10, mb: 2}\n"
	"tags:\n"
	"  - id: heavy\n"
	"    when: all(sessions[0..5] > $heavy) and all(gprs_mb[0..1] > $mb)\n"
	"  - id: quiet\n"
	"    when: vip and (age > 40 or not present(score)) and brand == 'gotone'\n"
	"  - id: named\n"
	"    when: name == '李四' or starts_with(name, '张')\n"
	"  - {id: first, when: vip}\n"
	"groups:\n"
	"  - {id: g, members: [first, heavy], otherwise: rest}\n"
	"lifecycle:\n"
	"  - track: sub\n"
	"    stages:\n"
	"      - {stage: churned, when: \"brand == 'szx'\"}\n"
	"      - {stage: growth, when: \"sum(arpu[0..2]) > 80 and age < 40\"}\n"
	"    otherwise: maturity\n";

static const char *explain_text(cp_ruleset *rs, const char *key, const char *tag, const char *track)
{
	static char out[8192];
	cp_result *res;
	cp_view *v;
	cp_explain *ex;
	ck_assert_int_eq(cp_result_new(&res, rs), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, ST), CP_OK);
	ck_assert_int_eq(cp_store_get(ST, key, v), CP_OK);
	if (tag)
		ck_assert_int_eq(cp_explain_tag(&ex, res, v, cp_ruleset_tag_index(rs, tag)), CP_OK);
	else
		ck_assert_int_eq(cp_explain_track(&ex, res, v, cp_ruleset_track_index(rs, track)), CP_OK);
	snprintf(out, sizeof(out), "%s", cp_explain_text(ex));
	cp_explain_free(ex);
	cp_view_free(v);
	cp_result_free(res);
	return out;
}

START_TEST(test_explain_text)
{
	cp_ruleset *rs = must_compile(explain_yaml);
	ck_assert_str_eq(explain_text(rs, P1, "x.heavy", NULL),
	                 "x.heavy = false  (x.first applies first in group x.g)\n"
	                 "  all(sessions[0..5] > 10)   true   sessions[0..5] = [14, 12, 11, 19, 13, 12]\n"
	                 "  all(gprs_mb[0..1] > 2)     true   gprs_mb[0..1] = [2.5, 3.1]\n");
	ck_assert_str_eq(explain_text(rs, P1, "x.quiet", NULL),
	                 "x.quiet = false\n"
	                 "  vip                  true\n"
	                 "  any of               false\n"
	                 "    age > 40           false   age = 30\n"
	                 "    not                false\n"
	                 "      present(score)   true    score = 0.5\n"
	                 "  brand == 'gotone'    true    brand = 'gotone'\n");
	/* personal data is never shown */
	ck_assert_str_eq(explain_text(rs, P1, "x.named", NULL),
	                 "x.named = true\n"
	                 "  any of                      true\n"
	                 "    name == '李四'            false   name = (personal)\n"
	                 "    starts_with(name, '张')   true    name = (personal)\n");
	ck_assert_str_eq(explain_text(rs, P2, "x.heavy", NULL),
	                 "x.heavy = false\n"
	                 "  all(sessions[0..5] > 10)   null   sessions[0..5] = [null, null, null, null, null, null]\n"
	                 "  all(gprs_mb[0..1] > 2)     null   gprs_mb[0..1] = [null, null]\n");
	ck_assert_str_eq(explain_text(rs, P2, "x.rest", NULL), "x.rest = true  (no member of group x.g applies)\n");
	ck_assert_str_eq(explain_text(rs, P1, NULL, "sub"),
	                 "sub = growth  (rule sub.growth)\n"
	                 "  sub.churned -> churned   false\n"
	                 "    brand == 'szx'         false   brand = 'gotone'\n"
	                 "  sub.growth -> growth     true\n"
	                 "    sum(arpu[0..2]) > 80   true    sum(arpu[0..2]) = 90\n"
	                 "    age < 40               true    age = 30\n");
	cp_ruleset_free(rs);
}
END_TEST

START_TEST(test_explain_nodes)
{
	cp_ruleset *rs = must_compile(explain_yaml);
	cp_result *res;
	cp_view *v;
	cp_explain *ex;
	cp_result_new(&res, rs);
	cp_view_new(&v, ST);
	cp_store_get(ST, P1, v);
	ck_assert_int_eq(cp_explain_tag(&ex, res, v, cp_ruleset_tag_index(rs, "x.heavy")), CP_OK);
	/* x.heavy, and, all(), >, sessions[0..5], $heavy, all(), >, gprs_mb[0..1], $mb */
	ck_assert_int_eq(cp_explain_node_count(ex), 10);
	ck_assert_int_eq(cp_explain_node_kind(ex, 0), CP_EXPLAIN_TAG);
	ck_assert_str_eq(cp_explain_node_text(ex, 0), "x.heavy");
	ck_assert_str_eq(cp_explain_node_value(ex, 0), "false");
	ck_assert_int_eq(cp_explain_node_truth(ex, 0), 0);
	ck_assert_str_eq(cp_explain_node_note(ex, 0), "x.first applies first in group x.g");
	ck_assert_int_eq(cp_explain_node_parent(ex, 0), -1);
	ck_assert_int_eq(cp_explain_node_kind(ex, 1), CP_EXPLAIN_LOGIC);
	ck_assert_int_eq(cp_explain_node_truth(ex, 1), 1);
	ck_assert_int_eq(cp_explain_node_kind(ex, 2), CP_EXPLAIN_CALL);
	ck_assert_str_eq(cp_explain_node_text(ex, 2), "all(sessions[0..5] > $heavy)");
	ck_assert_int_eq(cp_explain_node_kind(ex, 3), CP_EXPLAIN_COMPARE);
	ck_assert_str_eq(cp_explain_node_value(ex, 3), "[true, true, true, true, true, true]");
	ck_assert_int_eq(cp_explain_node_truth(ex, 3), -2);
	ck_assert_int_eq(cp_explain_node_kind(ex, 4), CP_EXPLAIN_FIELD);
	ck_assert_str_eq(cp_explain_node_text(ex, 4), "sessions[0..5]");
	ck_assert_int_eq(cp_explain_node_parent(ex, 4), 3);
	ck_assert_int_eq(cp_explain_node_depth(ex, 4), 4);
	ck_assert_int_eq(cp_explain_node_kind(ex, 5), CP_EXPLAIN_CONST);
	ck_assert_str_eq(cp_explain_node_text(ex, 5), "$heavy");
	ck_assert_str_eq(cp_explain_node_value(ex, 5), "10");
	ck_assert_str_eq(cp_explain_node_note(ex, 5), "");
	ck_assert_ptr_null(cp_explain_node_text(ex, 10));
	ck_assert_int_eq(cp_explain_node_kind(ex, -1), -1);
	ck_assert_int_eq(cp_explain_node_truth(ex, 99), -2);
	cp_explain_free(ex);
	/* tracks: root, then each rule tried */
	ck_assert_int_eq(cp_explain_track(&ex, res, v, 0), CP_OK);
	ck_assert_int_eq(cp_explain_node_kind(ex, 0), CP_EXPLAIN_TRACK);
	ck_assert_str_eq(cp_explain_node_value(ex, 0), "growth");
	ck_assert_str_eq(cp_explain_node_note(ex, 0), "rule sub.growth");
	ck_assert_int_eq(cp_explain_node_kind(ex, 1), CP_EXPLAIN_RULE);
	ck_assert_str_eq(cp_explain_node_text(ex, 1), "sub.churned");
	ck_assert_str_eq(cp_explain_node_note(ex, 1), "churned");
	ck_assert_int_eq(cp_explain_node_truth(ex, 1), 0);
	cp_explain_free(ex);
	/* misuse */
	ck_assert_int_eq(cp_explain_tag(&ex, res, v, 99), CP_EINVAL);
	ck_assert_ptr_null(ex);
	ck_assert_str_eq(cp_errmsg(res), "no tag 99 (the ruleset has 5)");
	ck_assert_int_eq(cp_explain_track(&ex, res, v, 1), CP_EINVAL);
	ck_assert_int_eq(cp_explain_tag(NULL, res, v, 0), CP_EINVAL);
	cp_view *empty;
	cp_view_new(&empty, ST);
	ck_assert_int_eq(cp_explain_tag(&ex, res, empty, 0), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(res), "the view points at no profile");
	cp_view_free(empty);
	cp_explain_free(NULL);
	ck_assert_str_eq(cp_explain_text(NULL), "");
	cp_view_free(v);
	cp_result_free(res);
	cp_ruleset_free(rs);
}
END_TEST

/* ---- the public API around the compile ---- */

START_TEST(test_api)
{
	cp_rules_opts *o;
	cp_ruleset *rs;
	cp_result *res;
	ck_assert_int_eq(cp_rules_opts_new(NULL), CP_EINVAL);
	ck_assert_int_eq(cp_rules_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_rules_opts_add_file(o, "/nonexistent/rules.yaml"), CP_ENOTFOUND);
	ck_assert_str_eq(cp_errmsg(o), "/nonexistent/rules.yaml: No such file or directory");
	ck_assert_int_eq(cp_rules_opts_add_file(o, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_rules_opts_add_memory(o, NULL, 3, "x"), CP_EINVAL);
	ck_assert_int_eq(cp_ruleset_compile(NULL, S, o, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_ruleset_compile(&rs, NULL, o, NULL), CP_EINVAL);
	ck_assert_ptr_null(rs);
	/* no packs: an empty ruleset */
	ck_assert_int_eq(cp_ruleset_compile(&rs, S, o, NULL), CP_OK);
	ck_assert_int_eq(cp_ruleset_tag_count(rs), 0);
	ck_assert_ptr_eq(cp_ruleset_schema(rs), S);
	ck_assert_int_eq(cp_result_new(&res, rs), CP_OK);
	ck_assert_int_eq(cp_eval_key(res, ST, P1), CP_OK);
	ck_assert_int_eq(cp_result_tag_count(res), 0);
	cp_result_free(res);
	cp_ruleset_free(rs);
	/* a file, read at once */
	char *dir = tu_mkdtemp();
	const char *path = tu_path(dir, "r.yaml");
	tu_write_file(path, groups_yaml, strlen(groups_yaml));
	ck_assert_int_eq(cp_rules_opts_add_file(o, path), CP_OK);
	tu_rmdir(dir);
	free(dir);
	ck_assert_int_eq(cp_ruleset_compile(&rs, S, o, NULL), CP_OK);
	ck_assert_int_eq(cp_ruleset_tag_count(rs), 9);
	/* the ruleset keeps the schema; the store a matching one */
	ck_assert_int_eq(cp_result_new(&res, rs), CP_OK);
	ck_assert_int_eq(cp_result_new(NULL, rs), CP_EINVAL);
	ck_assert_int_eq(cp_eval(res, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_eval_key(res, ST, NULL), CP_EINVAL);
	cp_schema *other = tu_schema();
	other->fields[1].nvalues = 2; /* a closed enum with other values */
	cp_store *st2;
	ck_assert_int_eq(cp_store_new(&st2, other), CP_OK);
	ck_assert_int_eq(cp_eval_key(res, st2, P1), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(res), "the store's schema 'test' does not match the ruleset's schema 'test'");
	other->fields[1].nvalues = 3;
	cp_store_free(st2);
	cp_schema_free(other);
	/* a store with an equal schema (another object) is fine */
	cp_schema *same = tu_schema();
	ck_assert_int_eq(cp_store_new(&st2, same), CP_OK);
	ck_assert_int_eq(cp_eval_key(res, st2, P1), CP_ENOTFOUND);
	cp_store_free(st2);
	cp_schema_free(same);
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_rules_opts_free(o);
	cp_rules_opts_free(NULL);
	cp_ruleset_free(NULL);
	cp_result_free(NULL);
	ck_assert_int_eq(cp_ruleset_tag_count(NULL), 0);
	ck_assert_ptr_null(cp_ruleset_tag_id(NULL, 0));
}
END_TEST

/* The as-of date: the store's month, or a date given to the result. */
START_TEST(test_as_of)
{
	cp_ruleset *rs = must_compile("custprof: 1\npack: a\nmetrics:\n"
	                              "  - {id: d, expr: days_since(join_date)}\n"
	                              "  - {id: m, expr: months_since(join_date)}\n");
	cp_result *res;
	cp_result_new(&res, rs);
	cp_eval_key(res, ST, P1);
	ck_assert_int_eq(cp_result_metric_int(res, 0), 61);
	cp_date d;
	cp_date_from_ymd(&d, 2026, 9, 30);
	ck_assert_int_eq(cp_result_set_as_of(res, d), CP_OK);
	cp_eval_key(res, ST, P1);
	ck_assert_int_eq(cp_result_metric_int(res, 0), 30);
	ck_assert_int_eq(cp_result_metric_int(res, 1), 1);
	cp_result_clear_as_of(res);
	ck_assert_int_eq(cp_store_set_as_of(ST, 202612), CP_OK);
	cp_eval_key(res, ST, P1);
	ck_assert_int_eq(cp_result_metric_int(res, 1), 4);
	ck_assert_int_eq(cp_store_set_as_of(ST, 0), CP_OK);
	cp_eval_key(res, ST, P1);
	ck_assert_int_eq(cp_result_metric_is_null(res, 0), 1);
	ck_assert_int_eq(cp_result_set_as_of(NULL, d), CP_EINVAL);
	cp_result_free(res);
	cp_ruleset_free(rs);
}
END_TEST

/* The default packs compile against the default schema with no diagnostic. */
START_TEST(test_default_packs)
{
	cp_schema *s;
	ck_assert_int_eq(cp_schema_default(&s), CP_OK);
	cp_diag *d;
	cp_diag_new(&d);
	cp_ruleset *rs;
	ck_assert_int_eq(cp_ruleset_compile(&rs, s, NULL, d), CP_OK);
	ck_assert_msg(cp_diag_count(d) == 0, "%s", diags(d));
	ck_assert_int_gt(cp_ruleset_tag_count(rs), 20);
	ck_assert_int_ge(cp_ruleset_track_index(rs, "subscriber"), 0);
	ck_assert_int_ge(cp_ruleset_tag_index(rs, "gprs.heavy"), 0);
	cp_ruleset_free(rs);
	cp_diag_free(d);
	cp_schema_free(s);
}
END_TEST

/* ---- evaluation allocates nothing ---- */

START_TEST(test_no_allocation_per_evaluation)
{
	cp_schema *s;
	ck_assert_int_eq(cp_schema_default(&s), CP_OK);
	cp_ruleset *rs;
	ck_assert_int_eq(cp_ruleset_compile(&rs, s, NULL, NULL), CP_OK);
	cp_store *st;
	cp_store_new(&st, s);
	cp_store_set_as_of(st, 202610);
	cp_profile *p;
	cp_profile_new(&p, s);
	cp_profile_set_text(p, cp_schema_key_field(s), 0, "13900000001");
	int f = cp_schema_field_index(s, "arpu");
	cp_profile_set_text(p, f, 0, "12.5");
	cp_store_put(st, p, NULL);
	cp_profile_free(p);
	cp_result *res;
	cp_view *v;
	cp_result_new(&res, rs);
	cp_view_new(&v, st);
	cp_store_get(st, "13900000001", v);
	size_t before = n_allocs;
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(cp_eval(res, v), CP_OK);
		ck_assert_int_eq(cp_eval_key(res, st, "13900000001"), CP_OK);
	}
	ck_assert_uint_eq(n_allocs, before);
	ck_assert_uint_gt(before, 0); /* the counting allocator is in use */
	cp_view_free(v);
	cp_result_free(res);
	cp_store_free(st);
	cp_ruleset_free(rs);
	cp_schema_free(s);
}
END_TEST

/* ---- differential: compiled evaluator against a tree-walking reference ---- */

/*
 * Random well-typed expressions over the test schema, printed fully
 * parenthesised, compiled as metrics by the library and evaluated by the
 * reference below, which follows DESIGN §5.2 directly: it reads the profile
 * through the public cp_view getters and computes with plain C.
 */

typedef struct rng {
	uint64_t s;
} rng;

static uint32_t rnd(rng *r)
{
	r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(r->s >> 33);
}

static int pick(rng *r, int n)
{
	return (int)(rnd(r) % (uint32_t)n);
}

/* Value kinds of the generator. */
enum { GB = 'b', GI = 'i', GF = 'f', GM = 'm', GD = 'd' };

typedef struct gval {
	bool null;
	int64_t i; /* bool, int, money (fen), date */
	double f;
} gval;

typedef struct gres {
	int n; /* 0: a single value */
	gval v[6];
} gres;

typedef struct gnode {
	const char *op; /* "lit", "field", "win", an operator or a function name */
	char t;         /* kind of the value */
	int w;          /* window length, 0 for one value */
	struct gnode *k[3];
	int nk;
	gval lit;
	int field, lo, hi;
	bool exact_fen; /* a float literal with at most 2 decimals */
} gnode;

typedef struct gen {
	rng r;
	gnode pool[4096];
	int used;
	char *buf;
	size_t len, cap;
} gen;

static gnode *gnew(gen *g, const char *op, char t, int w)
{
	ck_assert_int_lt(g->used, 4096);
	gnode *n = &g->pool[g->used++];
	memset(n, 0, sizeof(*n));
	n->op = op;
	n->t = t;
	n->w = w;
	return n;
}

static const char *const series_of[] = {"sessions", "gprs_mb", "arpu", "active", "last_call"};

static int series_kind(int s)
{
	static const char k[] = {GI, GF, GM, GB, GD};
	return k[s];
}

static gnode *gen_expr(gen *g, char t, int w, int depth);

/* A field (or window of a series field) of kind t, or NULL if none fits. */
static gnode *gen_field(gen *g, char t, int w)
{
	int s = -1;
	for (int i = 0; i < 5; i++)
		if (series_kind(i) == t)
			s = i;
	if (w) {
		if (s < 0)
			return NULL;
		gnode *n = gnew(g, "win", t, w);
		n->field = s;
		n->lo = pick(&g->r, 6 - w + 1);
		n->hi = n->lo + w - 1;
		return n;
	}
	/* a scalar field, or one month of a series */
	const char *scalars = t == GI ? "age" : t == GF ? "score" : t == GM ? "overdue" :
	                      t == GB ? "vip" : "join_date";
	if (s < 0 || pick(&g->r, 2)) {
		gnode *n = gnew(g, "field", t, 0);
		n->field = -1;
		n->lit.i = 0;
		n->op = scalars;
		return n;
	}
	gnode *n = gnew(g, "win", t, 0);
	n->field = s;
	n->lo = n->hi = pick(&g->r, 6);
	return n;
}

static gnode *gen_lit(gen *g, char t)
{
	/* a number is money only beside money: a money "literal" is a field */
	if (t == GM)
		return gen_field(g, GM, 0);
	gnode *n = gnew(g, "lit", t, 0);
	if (pick(&g->r, 12) == 0) {
		n->lit.null = true;
		return n;
	}
	switch (t) {
	case GB: n->lit.i = pick(&g->r, 2); break;
	case GI: n->lit.i = pick(&g->r, 41) - 20; break;
	case GF:
		n->lit.f = (pick(&g->r, 2001) - 1000) / 100.0;
		n->exact_fen = true;
		if (pick(&g->r, 4) == 0) {
			n->lit.f = (pick(&g->r, 20001) - 10000) / 1000.0;
			n->exact_fen = fmod(fabs(n->lit.f * 100.0), 1.0) == 0;
		}
		break;
	case GM: n->lit.i = (pick(&g->r, 41) - 20) * 100; break; /* written as int yuan */
	case GD: n->lit.i = cp__days_from_civil(2026, 1, 1) + pick(&g->r, 400) - 100; break;
	}
	return n;
}

static gnode *bin(gen *g, const char *op, char t, int w, gnode *a, gnode *b)
{
	gnode *n = gnew(g, op, t, w);
	n->k[0] = a;
	n->k[1] = b;
	n->nk = 2;
	return n;
}

static gnode *un(gen *g, const char *op, char t, int w, gnode *a)
{
	gnode *n = gnew(g, op, t, w);
	n->k[0] = a;
	n->nk = 1;
	return n;
}

/* Operands of an element-wise operation giving a window of w: each a window
 * of w or a single value. */
static int operand_w(gen *g, int w)
{
	return w && pick(&g->r, 3) ? w : 0;
}

static char num_kind(gen *g)
{
	static const char k[] = {GI, GF, GM};
	return k[pick(&g->r, 3)];
}

static gnode *gen_bool(gen *g, int w, int depth)
{
	switch (pick(&g->r, w ? 6 : 12)) {
	case 0: {
		static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
		char t = pick(&g->r, 5) ? num_kind(g) : GD;
		char u = t == GM ? (pick(&g->r, 2) ? GM : GI) : t == GI ? (pick(&g->r, 2) ? GI : GF) : t;
		const char *op = ops[pick(&g->r, 6)];
		gnode *a = gen_expr(g, t, operand_w(g, w), depth + 1);
		gnode *b = t == GD && pick(&g->r, 2) ? gen_lit(g, GD) : gen_expr(g, u, operand_w(g, w), depth + 1);
		if (w && !a->w && !b->w)
			a = gen_field(g, t, w);
		return bin(g, op, GB, w, a, b);
	}
	case 1:
	case 2: {
		gnode *a = gen_expr(g, GB, operand_w(g, w), depth + 1);
		gnode *b = gen_expr(g, GB, operand_w(g, w), depth + 1);
		if (w && !a->w && !b->w)
			a = gen_field(g, GB, w);
		return bin(g, pick(&g->r, 2) ? "and" : "or", GB, w, a, b);
	}
	case 3:
		return un(g, "not", GB, w, gen_expr(g, GB, w, depth + 1));
	case 4: {
		char t = pick(&g->r, 2) ? GD : num_kind(g);
		return un(g, "present", GB, w, gen_expr(g, t, w, depth + 1));
	}
	case 5: {
		gnode *n = gnew(g, "between", GB, w);
		char t = num_kind(g);
		n->k[0] = w ? gen_field(g, t, w) : gen_expr(g, t, 0, depth + 1);
		n->k[1] = gen_expr(g, t, 0, depth + 1);
		n->k[2] = gen_expr(g, t, 0, depth + 1);
		n->nk = 3;
		return n;
	}
	case 6:
	case 7: {
		static const char *const fns[] = {"all", "any", "none"};
		int ww = 1 + pick(&g->r, 6);
		return un(g, fns[pick(&g->r, 3)], GB, 0, gen_expr(g, GB, ww, depth + 1));
	}
	case 8: {
		gnode *n = gnew(g, "if", GB, 0);
		n->k[0] = gen_expr(g, GB, 0, depth + 1);
		n->k[1] = gen_expr(g, GB, 0, depth + 1);
		n->k[2] = gen_expr(g, GB, 0, depth + 1);
		n->nk = 3;
		return n;
	}
	case 9: {
		/* x in [int literals] */
		gnode *n = gnew(g, "in", GB, 0);
		n->k[0] = gen_expr(g, GI, 0, depth + 1);
		n->nk = 1 + 1 + pick(&g->r, 2);
		for (int i = 1; i < n->nk; i++)
			n->k[i] = gen_lit(g, GI);
		return n;
	}
	default:
		return gen_field(g, GB, w);
	}
}

static gnode *gen_num(gen *g, char t, int w, int depth)
{
	int choice = pick(&g->r, w ? 4 : 12);
	switch (choice) {
	case 0:
	case 1: {
		/* + - * with kinds that give t */
		const char *op = t == GF && pick(&g->r, 3) == 0 ? "/" : (const char *[]){"+", "-", "*"}[pick(&g->r, 3)];
		char a = t, b = t;
		if (t == GF && !strcmp(op, "/")) {
			a = num_kind(g);
			b = num_kind(g);
		} else if (t == GF && pick(&g->r, 3) == 0) {
			a = GI;
		} else if (t == GM) {
			if (!strcmp(op, "*"))
				b = GI;
			else if (pick(&g->r, 3) == 0)
				b = GI; /* int as yuan */
		} else if (t == GI && !strcmp(op, "*") && pick(&g->r, 4) == 0) {
			op = "%";
		}
		gnode *x = gen_expr(g, a, operand_w(g, w), depth + 1);
		gnode *y = gen_expr(g, b, operand_w(g, w), depth + 1);
		if (w && !x->w && !y->w)
			x = gen_field(g, a, w);
		if (t == GM && !strcmp(op, "*") && x->t == GI && y->t == GI)
			x = gen_field(g, GM, x->w);
		if (t == GF && x->t == GM && y->t == GM && !strcmp(op, "*"))
			op = "/";
		return bin(g, op, t, w, x, y);
	}
	case 2:
		return un(g, "-", t, w, gen_expr(g, t, w, depth + 1));
	case 3:
		return un(g, "abs", t, w, gen_expr(g, t, w, depth + 1));
	case 4:
	case 5: {
		/* aggregates of a window */
		int ww = 1 + pick(&g->r, 6);
		if (t == GI) {
			if (pick(&g->r, 2))
				return un(g, (const char *[]){"count", "streak", "since"}[pick(&g->r, 3)], GI, 0,
				          gen_expr(g, GB, ww, depth + 1));
			return un(g, (const char *[]){"sum", "min", "max"}[pick(&g->r, 3)], GI, 0,
			          gen_expr(g, GI, ww, depth + 1));
		}
		if (t == GF) {
			char k = num_kind(g);
			const char *fn = (const char *[]){"avg", "slope", "sum", "min", "max"}[pick(&g->r, k == GF ? 5 : 2)];
			if (!strcmp(fn, "slope") && ww < 2)
				ww = 2;
			return un(g, fn, GF, 0, gen_expr(g, k, ww, depth + 1));
		}
		return un(g, (const char *[]){"sum", "min", "max"}[pick(&g->r, 3)], GM, 0,
		          gen_expr(g, GM, ww, depth + 1));
	}
	case 6: {
		gnode *n = gnew(g, "if", t, 0);
		n->k[0] = gen_expr(g, GB, 0, depth + 1);
		n->k[1] = gen_expr(g, t, 0, depth + 1);
		n->k[2] = gen_expr(g, t, 0, depth + 1);
		n->nk = 3;
		return n;
	}
	case 7:
		return bin(g, pick(&g->r, 2) ? "coalesce" : (pick(&g->r, 2) ? "min" : "max"), t, 0,
		           gen_expr(g, t, 0, depth + 1), gen_expr(g, t, 0, depth + 1));
	case 8:
		if (t == GI)
			return un(g, pick(&g->r, 2) ? "months_since" : "days_since", GI, 0,
			          pick(&g->r, 3) ? gen_expr(g, GD, 0, depth + 1) : gen_lit(g, GD));
		if (t == GM)
			return un(g, "round", GM, 0, gen_expr(g, GM, 0, depth + 1));
		return gen_field(g, t, 0);
	case 9:
		if (t == GI)
			return un(g, "round", GI, 0, gen_expr(g, GF, 0, depth + 1));
		return gen_lit(g, t);
	default:
		return pick(&g->r, 2) ? gen_field(g, t, 0) : gen_lit(g, t);
	}
}

static gnode *gen_expr(gen *g, char t, int w, int depth)
{
	if (depth >= 4) {
		if (w || t == GD)
			return gen_field(g, t, w);
		return pick(&g->r, 3) ? gen_field(g, t, 0) : gen_lit(g, t);
	}
	if (t == GB)
		return gen_bool(g, w, depth);
	if (t == GD) {
		if (w)
			return gen_field(g, GD, w);
		if (pick(&g->r, 4) == 0)
			return bin(g, "+", GD, 0, gen_field(g, GD, 0), gen_lit(g, GI));
		if (pick(&g->r, 4) == 0)
			return bin(g, "coalesce", GD, 0, gen_field(g, GD, 0), gen_lit(g, GD));
		return gen_field(g, GD, 0);
	}
	return gen_num(g, t, w, depth);
}

static void out(gen *g, const char *fmt, ...) CP_PRINTF(2, 3);

static void out(gen *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (g->len + (size_t)n + 1 > g->cap) {
		g->cap = (g->len + (size_t)n + 1) * 2;
		g->buf = realloc(g->buf, g->cap);
	}
	va_start(ap, fmt);
	vsnprintf(g->buf + g->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	g->len += (size_t)n;
}

static void print(gen *g, const gnode *n)
{
	if (!strcmp(n->op, "lit")) {
		if (n->lit.null) {
			out(g, "null");
			return;
		}
		switch (n->t) {
		case GB: out(g, "%s", n->lit.i ? "true" : "false"); break;
		case GI: out(g, "(%lld)", (long long)n->lit.i); break;
		case GF: out(g, "(%.3f)", n->lit.f); break;
		case GM: out(g, "(%lld)", (long long)(n->lit.i / 100)); break;
		case GD: {
			int y, m, d;
			cp__civil_from_days((cp_date)n->lit.i, &y, &m, &d);
			out(g, "'%04d-%02d-%02d'", y, m, d);
			break;
		}
		}
		return;
	}
	if (!strcmp(n->op, "win")) {
		if (n->w)
			out(g, "%s[%d..%d]", series_of[n->field], n->lo, n->hi);
		else
			out(g, "%s[%d]", series_of[n->field], n->lo);
		return;
	}
	if (n->field == -1 && n->nk == 0) {
		out(g, "%s", n->op);
		return;
	}
	if (!strcmp(n->op, "between")) {
		out(g, "(");
		print(g, n->k[0]);
		out(g, " between ");
		print(g, n->k[1]);
		out(g, " and ");
		print(g, n->k[2]);
		out(g, ")");
		return;
	}
	if (!strcmp(n->op, "in")) {
		out(g, "(");
		print(g, n->k[0]);
		out(g, " in [");
		for (int i = 1; i < n->nk; i++) {
			out(g, i > 1 ? ", " : "");
			print(g, n->k[i]);
		}
		out(g, "])");
		return;
	}
	bool fn = (n->op[0] >= 'a' && n->op[0] <= 'z') && strcmp(n->op, "and") && strcmp(n->op, "or") &&
	          strcmp(n->op, "not");
	if (fn) {
		out(g, "%s(", n->op);
		for (int i = 0; i < n->nk; i++) {
			out(g, i ? ", " : "");
			print(g, n->k[i]);
		}
		out(g, ")");
		return;
	}
	if (n->nk == 1) {
		out(g, "(%s ", n->op);
		print(g, n->k[0]);
		out(g, ")");
		return;
	}
	out(g, "(");
	print(g, n->k[0]);
	out(g, " %s ", n->op);
	print(g, n->k[1]);
	out(g, ")");
}

/* ---- the reference evaluator ---- */

typedef struct refctx {
	const cp_view *v;
	int64_t asof;
} refctx;

static gval vnull(void)
{
	gval v = {true, 0, 0};
	return v;
}

static gval vi(int64_t i)
{
	gval v = {false, i, 0};
	return v;
}

static gval vf(double f)
{
	gval v = {!isfinite(f), 0, f};
	return v;
}

static gval read_cell(const refctx *c, const char *name, int month, char t)
{
	int f = cp_schema_field_index(S, name);
	if (cp_view_is_null(c->v, f, month))
		return vnull();
	switch (t) {
	case GB: return vi(cp_view_bool(c->v, f, month));
	case GI: return vi(cp_view_int(c->v, f, month));
	case GF: return vf(cp_view_float(c->v, f, month));
	case GM: return vi(cp_view_money(c->v, f, month));
	default: return vi(cp_view_date(c->v, f, month));
	}
}

/* As a double: money in yuan. */
static double dbl(gval v, char t)
{
	return t == GF ? v.f : t == GM ? (double)v.i / 100.0 : (double)v.i;
}

static gres ref(const refctx *c, const gnode *n);

static gval el(const gres *r, int k)
{
	return r->n ? r->v[k] : r->v[0];
}

/* Months from a to b (a <= b): how many times one month can be added to a
 * (the day clamped to the month's end) without passing b. */
static int64_t ref_months(int64_t a, int64_t b)
{
	int y, m, d;
	cp__civil_from_days((cp_date)a, &y, &m, &d);
	int64_t k = 0;
	for (;;) {
		int mm = m + (int)k + 1, yy = y + (mm - 1) / 12;
		mm = (mm - 1) % 12 + 1;
		int dd = d < cp__days_in_month(yy, mm) ? d : cp__days_in_month(yy, mm);
		if (cp__days_from_civil(yy, mm, dd) > b)
			return k;
		k++;
	}
}

static gval compare(const char *op, gval x, char tx, gval y, char ty, const gnode *ny)
{
	if (x.null || y.null)
		return vnull();
	int c;
	if (tx == GF || ty == GF) {
		/* money with a float literal exact to the fen compares in fen */
		if (tx == GM && ny && ny->exact_fen && !strcmp(ny->op, "lit")) {
			int64_t f = llround(y.f * 100);
			c = (x.i > f) - (x.i < f);
		} else {
			double a = dbl(x, tx), b = dbl(y, ty);
			c = (a > b) - (a < b);
		}
	} else {
		int64_t a = x.i, b = y.i;
		if (tx == GM && ty == GI)
			b *= 100;
		if (tx == GI && ty == GM)
			a *= 100;
		c = (a > b) - (a < b);
	}
	if (!strcmp(op, "=="))
		return vi(c == 0);
	if (!strcmp(op, "!="))
		return vi(c != 0);
	if (!strcmp(op, "<"))
		return vi(c < 0);
	if (!strcmp(op, "<="))
		return vi(c <= 0);
	if (!strcmp(op, ">"))
		return vi(c > 0);
	return vi(c >= 0);
}

static gval arith(const char *op, char t, gval x, char tx, gval y, char ty)
{
	if (x.null || y.null)
		return vnull();
	if (t == GF) {
		double a = dbl(x, tx), b = dbl(y, ty);
		switch (op[0]) {
		case '+': return vf(a + b);
		case '-': return vf(a - b);
		case '*': return vf(a * b);
		default: return b == 0 ? vnull() : vf(a / b);
		}
	}
	int64_t a = x.i, b = y.i, r;
	if (t == GM && op[0] != '*') {
		if (tx == GI && __builtin_mul_overflow(a, 100, &a))
			return vnull();
		if (ty == GI && __builtin_mul_overflow(b, 100, &b))
			return vnull();
	}
	bool over;
	switch (op[0]) {
	case '+': over = __builtin_add_overflow(a, b, &r); break;
	case '-': over = __builtin_sub_overflow(a, b, &r); break;
	case '*': over = __builtin_mul_overflow(a, b, &r); break;
	default:
		if (b == 0)
			return vnull();
		r = a % b;
		over = false;
		break;
	}
	return over ? vnull() : vi(r);
}

static gres ref(const refctx *c, const gnode *n)
{
	gres r;
	memset(&r, 0, sizeof(r));
	r.n = n->w;
	int len = n->w ? n->w : 1;
	const char *op = n->op;
	if (!strcmp(op, "lit")) {
		r.v[0] = n->lit;
		if (n->t == GF)
			r.v[0].null = n->lit.null;
		return r;
	}
	if (!strcmp(op, "win")) {
		for (int k = 0; k < len; k++)
			r.v[k] = read_cell(c, series_of[n->field], n->lo + k, n->t);
		return r;
	}
	if (n->field == -1 && n->nk == 0) {
		r.v[0] = read_cell(c, op, 0, n->t);
		return r;
	}
	gres a = n->nk > 0 ? ref(c, n->k[0]) : r;
	gres b = n->nk > 1 ? ref(c, n->k[1]) : r;
	gres d = n->nk > 2 ? ref(c, n->k[2]) : r;
	char ta = n->nk > 0 ? n->k[0]->t : 0, tb = n->nk > 1 ? n->k[1]->t : 0;
	if (!strcmp(op, "in")) {
		/* x == e1 or x == e2 ... with Kleene or */
		bool any_null = false, found = false;
		gval x = a.v[0];
		for (int i = 1; i < n->nk; i++) {
			gres e = ref(c, n->k[i]);
			if (x.null || e.v[0].null)
				any_null = true;
			else if (x.i == e.v[0].i)
				found = true;
		}
		r.v[0] = found ? vi(1) : any_null ? vnull() : vi(0);
		return r;
	}
	for (int k = 0; k < len; k++) {
		gval x = el(&a, k), y = el(&b, k), z = el(&d, k);
		gval *o = &r.v[k];
		if (!strcmp(op, "and") || !strcmp(op, "or")) {
			bool and = op[0] == 'a';
			bool xv = !x.null && x.i, yv = !y.null && y.i;
			bool xf = !x.null && !x.i, yf = !y.null && !y.i;
			if (and)
				*o = (xf || yf) ? vi(0) : (x.null || y.null) ? vnull() : vi(1);
			else
				*o = (xv || yv) ? vi(1) : (x.null || y.null) ? vnull() : vi(0);
		} else if (!strcmp(op, "not")) {
			*o = x.null ? vnull() : vi(!x.i);
		} else if (!strcmp(op, "present")) {
			*o = vi(!x.null);
		} else if (!strcmp(op, "between")) {
			gval ge = compare(">=", x, ta, y, tb, n->k[1]);
			gval le = compare("<=", x, ta, z, n->k[2]->t, n->k[2]);
			bool f = (!ge.null && !ge.i) || (!le.null && !le.i);
			*o = f ? vi(0) : (ge.null || le.null) ? vnull() : vi(1);
		} else if (strchr("=!<>", op[0])) {
			*o = compare(op, x, ta, y, tb, n->k[1]);
		} else if (strchr("+-*/%", op[0]) && n->nk == 2) {
			*o = arith(op, n->t, x, ta, y, tb);
		} else if (!strcmp(op, "-")) {
			if (x.null)
				*o = vnull();
			else if (n->t == GF)
				*o = vf(-x.f);
			else
				*o = x.i == INT64_MIN ? vnull() : vi(-x.i);
		} else if (!strcmp(op, "abs")) {
			if (x.null)
				*o = vnull();
			else if (n->t == GF)
				*o = vf(fabs(x.f));
			else
				*o = x.i == INT64_MIN ? vnull() : vi(x.i < 0 ? -x.i : x.i);
		} else if (!strcmp(op, "if")) {
			*o = (!x.null && x.i) ? y : z;
		} else if (!strcmp(op, "coalesce")) {
			*o = x.null ? y : x;
		} else if ((!strcmp(op, "min") || !strcmp(op, "max")) && n->nk == 2) {
			if (x.null || y.null)
				*o = vnull();
			else if (n->t == GF)
				*o = vf(op[1] == 'i' ? fmin(x.f, y.f) : fmax(x.f, y.f));
			else
				*o = vi(op[1] == 'i' ? (x.i < y.i ? x.i : y.i) : (x.i > y.i ? x.i : y.i));
		} else if (!strcmp(op, "round")) {
			if (x.null)
				*o = vnull();
			else if (ta == GF)
				*o = fabs(x.f) < 9e18 ? vi((int64_t)round(x.f)) : vnull();
			else /* money: whole yuan, half away from zero */
				*o = vi((int64_t)round((double)x.i / 100.0) * 100);
		} else if (!strcmp(op, "months_since") || !strcmp(op, "days_since")) {
			if (x.null)
				*o = vnull();
			else if (op[0] == 'd')
				*o = vi(c->asof - x.i);
			else
				*o = vi(x.i <= c->asof ? ref_months(x.i, c->asof) : -ref_months(c->asof, x.i));
		} else {
			/* aggregates over a's window */
			int m = a.n, cnt = 0;
			if (!strcmp(op, "count") || !strcmp(op, "streak") || !strcmp(op, "since")) {
				int first = -1, streak = 0;
				bool broken = false;
				for (int j = 0; j < m; j++) {
					bool tv = !a.v[j].null && a.v[j].i;
					cnt += tv;
					if (tv && first < 0)
						first = j;
					if (!tv)
						broken = true;
					if (!broken)
						streak++;
				}
				*o = op[1] == 'o' ? vi(cnt) : op[1] == 't' ? vi(streak) : first < 0 ? vnull() : vi(first);
			} else if (!strcmp(op, "all") || !strcmp(op, "any") || !strcmp(op, "none")) {
				bool t = false, f = false, nl = false;
				for (int j = 0; j < m; j++) {
					if (a.v[j].null)
						nl = true;
					else if (a.v[j].i)
						t = true;
					else
						f = true;
				}
				if (op[1] == 'l')
					*o = f ? vi(0) : nl ? vnull() : vi(1);
				else if (op[1] == 'n')
					*o = t ? vi(1) : nl ? vnull() : vi(0);
				else
					*o = t ? vi(0) : nl ? vnull() : vi(1);
			} else if (!strcmp(op, "slope")) {
				/* least squares over (x = -j, y): ints and fen from the sums,
				 * floats centred on the means */
				double sx = 0, sy = 0, sxx = 0, sxy = 0, xs[6], ys[6];
				for (int j = 0; j < m; j++) {
					if (a.v[j].null)
						continue;
					double xj = -j, yj = ta == GF ? a.v[j].f : (double)a.v[j].i;
					xs[cnt] = xj;
					ys[cnt] = yj;
					sx += xj;
					sy += yj;
					sxx += xj * xj;
					sxy += xj * yj;
					cnt++;
				}
				if (cnt < 2) {
					*o = vnull();
				} else if (ta != GF) {
					*o = vf((cnt * sxy - sx * sy) / ((cnt * sxx - sx * sx) * (ta == GM ? 100.0 : 1.0)));
				} else {
					double mx = sx / cnt, my = sy / cnt, cxx = 0, cxy = 0;
					for (int j = 0; j < cnt; j++) {
						cxx += (xs[j] - mx) * (xs[j] - mx);
						cxy += (xs[j] - mx) * (ys[j] - my);
					}
					*o = vf(cxy / cxx);
				}
			} else { /* sum avg min max */
				double sf = 0, best = 0;
				int64_t si = 0, bi = 0;
				for (int j = 0; j < m; j++) {
					gval e = a.v[j];
					if (e.null)
						continue;
					if (ta == GF) {
						if (!cnt || (op[1] == 'i' ? e.f < best : e.f > best))
							best = e.f;
						sf += e.f;
					} else {
						if (!cnt || (op[1] == 'i' ? e.i < bi : e.i > bi))
							bi = e.i;
						si += e.i;
					}
					cnt++;
				}
				if (!cnt)
					*o = vnull();
				else if (!strcmp(op, "avg"))
					*o = vf(ta == GF ? sf / cnt : (double)si / cnt / (ta == GM ? 100.0 : 1.0));
				else if (!strcmp(op, "sum"))
					*o = ta == GF ? vf(sf) : vi(si);
				else
					*o = ta == GF ? vf(best) : vi(bi);
			}
		}
	}
	return r;
}

static bool same(gval a, gval b, char t)
{
	if (a.null || b.null)
		return a.null == b.null;
	if (t == GF)
		return fabs(a.f - b.f) <= 1e-9 * fmax(1.0, fmax(fabs(a.f), fabs(b.f)));
	return a.i == b.i;
}

static void random_profile(rng *r, cp_profile *p, int i)
{
	char key[32], buf[64];
	cp_profile_clear(p);
	snprintf(key, sizeof(key), "139%08d", i);
	set(p, "msisdn", 0, key);
	static const char *const scal[] = {"age", "score", "overdue", "vip", "join_date"};
	const char *const *names = scal;
	for (int f = 0; f < 5 + 5 * 6; f++) {
		const char *name = f < 5 ? names[f] : series_of[(f - 5) / 6];
		int month = f < 5 ? 0 : (f - 5) % 6;
		char t = f < 5 ? "ifmbd"[f] : (char)series_kind((f - 5) / 6);
		if (pick(r, 5) == 0)
			continue; /* null */
		switch (t) {
		case GI: snprintf(buf, sizeof(buf), "%d", pick(r, 61) - 20); break;
		case GF: snprintf(buf, sizeof(buf), "%.2f", (pick(r, 4001) - 2000) / 100.0); break;
		case GM: snprintf(buf, sizeof(buf), "%.2f", (pick(r, 10001) - 2000) / 100.0); break;
		case GB: snprintf(buf, sizeof(buf), "%d", pick(r, 2)); break;
		default: {
			int y, m, d;
			cp__civil_from_days(cp__days_from_civil(2026, 10, 31) - pick(r, 900) + 100, &y, &m, &d);
			snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
		}
		}
		set(p, name, month, buf);
	}
}

/* The first instruction of the fast program whose results differ between
 * the block (row k) and cp_eval (res): its name, for messages. */
static const char *first_block_difference(const cp__block *b, const cp_result *res, unsigned k,
                                          char *buf, size_t size)
{
	const cp_ruleset *rs = res->rs;
	for (size_t i = 0; i < rs->nfast; i++) {
		const cp__insn *in = &rs->fast[i];
		for (uint32_t j = 0; j < cp__insn_writes(in); j++) {
			const cp__slot *x = &res->slots[in->dst + j];
			cp__slot y;
			cp__block_slot(b, in->dst + j, k, &y);
			if (x->null != y.null || (!x->null && x->v.i != y.v.i)) {
				snprintf(buf, size, "instruction %zu (%s, n %u, a %u, b %u, c %u, flags %u, element %u): cp_eval %s%lld, block %s%lld",
				         i, cp__op_name(in->op), in->n, in->a, in->b, in->c, in->flags, j, x->null ? "null " : "",
				         (long long)x->v.i, y.null ? "null " : "", (long long)y.v.i);
				return buf;
			}
		}
	}
	return "no instruction";
}

/*
 * Evaluate every live row of st with the block evaluator (blocks of 25
 * rows, then the rest) and compare every result slot (tags, tracks,
 * metrics) with cp_eval's for the same row.  texts names the metrics in
 * messages (may be NULL).  Returns the values compared.
 */
static long block_matches(const cp_store *st, const cp_ruleset *rs, cp_result *res,
                          uint64_t seed, const char *const *texts)
{
	cp__block *b;
	ck_assert_int_eq(cp__block_new(&b, rs), CP_OK);
	cp_view *v;
	cp_view_new(&v, st);
	long checked = 0;
	size_t row = 0, nrows = cp__store_nrows(st), size = st->schema->row_size;
	uint8_t *bufs = malloc(CP_BLOCK_ROWS * size);
	while (row < nrows) {
		const uint8_t *rows[CP_BLOCK_ROWS];
		unsigned n = 0, want = row == 0 ? 25 : CP_BLOCK_ROWS;
		for (; row < nrows && n < want; row++) {
			const uint8_t *r = cp__store_read(st, (uint32_t)row, bufs + n * size, NULL);
			if (r)
				rows[n++] = r;
		}
		cp__block_eval(b, rows, n, st, cp_store_as_of(st));
		for (unsigned k = 0; k < n; k++) {
			v->store = st;
			v->row = rows[k];
			ck_assert_int_eq(cp_eval(res, v), CP_OK);
			for (int t = 0; t < rs->ntags; t++) {
				char why[200];
				ck_assert_msg(((cp__block_tag_mask(b, t) >> k) & 1) == (uint64_t)cp_result_tag(res, t),
				              "seed %llu: block and cp_eval differ for tag %s of %s; first at %s",
				              (unsigned long long)seed, rs->tags[t].id, cp_view_key(v),
				              first_block_difference(b, res, k, why, sizeof(why)));
				checked++;
			}
			for (int t = 0; t < rs->ntracks; t++) {
				int rule;
				ck_assert_int_eq(cp__block_stage(b, t, k, &rule), cp_result_stage(res, t));
				ck_assert_int_eq(rule, cp_result_stage_rule(res, t));
				checked++;
			}
			for (int e = 0; e < rs->nmetrics; e++) {
				const cp__node *root = rs->metrics[e].expr.root;
				for (uint32_t i = 0; i < (root->type.n ? root->type.n : 1u); i++) {
					const cp__slot *x = &res->slots[root->slot + i];
					cp__slot y;
					cp__block_slot(b, root->slot + i, k, &y);
					char why[200];
					ck_assert_msg(x->null == y.null && (x->null || x->v.i == y.v.i),
					              "seed %llu: block and cp_eval differ for %s of %s: %s%lld, %s%lld; first at %s",
					              (unsigned long long)seed, texts ? texts[e] : rs->metrics[e].id,
					              cp_view_key(v), x->null ? "null " : "", (long long)x->v.i,
					              y.null ? "null " : "", (long long)y.v.i,
					              first_block_difference(b, res, k, why, sizeof(why)));
					checked++;
				}
			}
		}
	}
	ck_assert_int_eq(cp__block_new(NULL, rs), CP_EINVAL);
	free(bufs);
	cp_view_free(v);
	cp__block_free(b);
	return checked;
}

/* The built-in packs (groups, tag(), stage(), tracks, strings, sets,
 * dates) on random profiles of the default schema: the block evaluator
 * agrees with cp_eval on every tag, stage and rule. */
START_TEST(test_block_defaults)
{
	const char *env = getenv("CP_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	rng r = {seed};
	cp_schema *ds;
	ck_assert_int_eq(cp_schema_default(&ds), CP_OK);
	cp_store *st;
	ck_assert_int_eq(cp_store_new(&st, ds), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(st, 202610), CP_OK);
	cp_profile *p;
	cp_profile_new(&p, ds);
	char key[32];
	for (int i = 0; i < 150; i++) {
		cp_profile_clear(p);
		snprintf(key, sizeof(key), "138%08d", i);
		ck_assert_int_eq(cp_profile_set_text(p, ds->key, 0, key), CP_OK);
		for (int f = 0; f < ds->nfields; f++) {
			const cp_field *fd = &ds->fields[f];
			for (int m = 0; m < fd->months && f != ds->key; m++) {
				if (pick(&r, 8) == 0)
					continue; /* null */
				switch (fd->type) {
				case CP_TYPE_BOOL: cp_profile_set_bool(p, f, m, pick(&r, 2)); break;
				case CP_TYPE_INT: cp_profile_set_int(p, f, m, pick(&r, 4) ? pick(&r, 30) : 0); break;
				case CP_TYPE_FLOAT: cp_profile_set_float(p, f, m, pick(&r, 1000) / 100.0); break;
				case CP_TYPE_MONEY: cp_profile_set_money(p, f, m, pick(&r, 3) ? pick(&r, 20000) : 0); break;
				case CP_TYPE_DATE:
					cp_profile_set_date(p, f, m, cp__days_from_civil(2026, 10, 31) - 400 + pick(&r, 500));
					break;
				case CP_TYPE_ENUM:
					if (fd->nvalues)
						cp_profile_set_string(p, f, m, fd->values[pick(&r, fd->nvalues)]);
					break;
				case CP_TYPE_SET:
				case CP_TYPE_LIST:
					cp_profile_add_item(p, f, m, pick(&r, 2) ? "gprs" : "music");
					break;
				default:
					cp_profile_set_string(p, f, m, pick(&r, 2) ? "a" : "b");
					break;
				}
			}
		}
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	}
	cp_profile_free(p);
	/* deleted rows are skipped by the caller: delete a few */
	ck_assert_int_eq(cp_store_delete(st, "13800000007"), CP_OK);
	ck_assert_int_eq(cp_store_delete(st, "13800000100"), CP_OK);
	cp_ruleset *rs;
	ck_assert_int_eq(cp_ruleset_compile(&rs, ds, NULL, NULL), CP_OK);
	cp_result *res;
	cp_result_new(&res, rs);
	long checked = block_matches(st, rs, res, seed, NULL);
	ck_assert_int_ge(checked, 148 * (rs->ntags + rs->ntracks));
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_store_free(st);
	cp_schema_free(ds);
}
END_TEST

/* Extreme values: sums that overflow midway or only at the end, cells
 * just inside and outside the block's fast sum range (2^58), NaN-free
 * float extremes, windows of 1 to 6 months, min/max/avg/count/all: the
 * block evaluator agrees with cp_eval. */
START_TEST(test_block_extremes)
{
	static const int64_t ints[] = {INT64_MAX, INT64_MIN, INT64_MAX - 1, -(INT64_C(1) << 58),
	                               (INT64_C(1) << 58) - 1, INT64_C(1) << 58, 0, -1, 1, 7};
	static const char pack[] =
		"custprof: 1\npack: x\nmetrics:\n"
		"  - {id: s6, expr: \"sum(sessions[0..5])\"}\n"
		"  - {id: s3, expr: \"sum(sessions[1..3])\"}\n"
		"  - {id: s1, expr: \"sum(sessions[5..5])\"}\n"
		"  - {id: a6, expr: \"avg(sessions[0..5])\"}\n"
		"  - {id: m6, expr: \"avg(arpu[0..5])\"}\n"
		"  - {id: ms, expr: \"sum(arpu[0..4])\"}\n"
		"  - {id: mx, expr: \"max(sessions[0..5])\"}\n"
		"  - {id: mn, expr: \"min(sessions[2..5])\"}\n"
		"  - {id: fx, expr: \"max(gprs_mb[0..5])\"}\n"
		"  - {id: fs, expr: \"sum(gprs_mb[0..5])\"}\n"
		"  - {id: c6, expr: \"count(sessions[0..5] > 0)\"}\n"
		"  - {id: al, expr: \"all(sessions[0..3] >= -1)\"}\n"
		"  - {id: an, expr: \"any(gprs_mb[0..5] < -1e300)\"}\n"
		"  - {id: no, expr: \"none(arpu[0..5] == 0)\"}\n"
		"  - {id: ad, expr: \"sessions[0..5] + sessions[0..5]\"}\n";
	cp_store *st;
	ck_assert_int_eq(cp_store_new(&st, S), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(st, 202610), CP_OK);
	cp_profile *p;
	cp_profile_new(&p, S);
	rng r = {12345};
	int fs = cp_schema_field_index(S, "sessions"), fa = cp_schema_field_index(S, "arpu"),
	    fg = cp_schema_field_index(S, "gprs_mb");
	char key[32];
	for (int i = 0; i < 300; i++) {
		cp_profile_clear(p);
		snprintf(key, sizeof(key), "137%08d", i);
		set(p, "msisdn", 0, key);
		for (int m = 0; m < 6; m++) {
			if (pick(&r, 6) == 0)
				continue; /* null */
			int64_t v = ints[pick(&r, 10)];
			ck_assert_int_eq(cp_profile_set_int(p, fs, m, v), CP_OK);
			ck_assert_int_eq(cp_profile_set_money(p, fa, m, ints[pick(&r, 10)]), CP_OK);
			ck_assert_int_eq(cp_profile_set_float(p, fg, m, pick(&r, 2) ? 1e308 : -1e308), CP_OK);
		}
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	}
	cp_profile_free(p);
	cp_rules_opts *o;
	cp_rules_opts_new(&o);
	cp_rules_opts_add_memory(o, pack, strlen(pack), "x.yaml");
	cp_ruleset *rs;
	ck_assert_int_eq(cp_ruleset_compile(&rs, S, o, NULL), CP_OK);
	cp_result *res;
	cp_result_new(&res, rs);
	ck_assert_int_ge(block_matches(st, rs, res, 12345, NULL), 300 * 15);
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_rules_opts_free(o);
	cp_store_free(st);
}
END_TEST

START_TEST(test_differential)
{
	const char *env = getenv("CP_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	printf("check_rules differential: seed %llu (CP_SEED=%llu to repeat)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	rng r = {seed};
	enum { BATCHES = 8, EXPRS = 250, PROFILES = 40 };
	cp_store *st;
	ck_assert_int_eq(cp_store_new(&st, S), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(st, 202610), CP_OK);
	cp_profile *p;
	cp_profile_new(&p, S);
	for (int i = 0; i < PROFILES; i++) {
		random_profile(&r, p, i);
		ck_assert_int_eq(cp_store_put(st, p, NULL), CP_OK);
	}
	cp_profile_free(p);
	cp_view *v;
	cp_view_new(&v, st);
	long checked = 0, block_checked = 0;
	for (int batch = 0; batch < BATCHES; batch++) {
		gen *g = calloc(1, sizeof(*g));
		g->r.s = rnd(&r) | (uint64_t)rnd(&r) << 32;
		gnode *roots[EXPRS], *blocks[EXPRS];
		char *texts[EXPRS];
		out(g, "custprof: 1\npack: d\nmetrics:\n");
		for (int e = 0; e < EXPRS; e++) {
			g->used = 0;
			static const char kinds[] = {GB, GI, GF, GM, GD, GB, GI, GF, GM};
			char t = kinds[pick(&g->r, 9)];
			int w = pick(&g->r, 5) == 0 && t != GD ? 1 + pick(&g->r, 6) : 0;
			gnode *root = gen_expr(g, t, w, 0);
			size_t start = g->len;
			print(g, root);
			texts[e] = strndup(g->buf + start, g->len - start);
			g->len = start;
			out(g, "  - id: m%d\n    expr: \"%s\"\n", e, texts[e]);
			/* keep the tree: copy the pool, moving the child pointers */
			blocks[e] = malloc(sizeof(gnode) * (size_t)g->used);
			memcpy(blocks[e], g->pool, sizeof(gnode) * (size_t)g->used);
			for (int i = 0; i < g->used; i++)
				for (int k = 0; k < blocks[e][i].nk; k++)
					blocks[e][i].k[k] = blocks[e] + (g->pool[i].k[k] - g->pool);
			roots[e] = blocks[e] + (root - g->pool);
		}
		cp_diag *d;
		cp_ruleset *rs;
		cp_rules_opts *o;
		cp_diag_new(&d);
		cp_rules_opts_new(&o);
		cp_rules_opts_add_memory(o, g->buf, g->len, "diff.yaml");
		int rc = cp_ruleset_compile(&rs, S, o, d);
		for (size_t i = 0; i < cp_diag_count(d); i++) {
			if (cp_diag_severity(d, i) != CP_SEV_ERROR)
				continue;
			int e = (int)(cp_diag_line(d, i) - 4) / 2;
			ck_abort_msg("seed %llu: does not compile: %s\n  expression: %s",
			             (unsigned long long)seed, cp_diag_format(d, i),
			             e >= 0 && e < EXPRS ? texts[e] : "?");
		}
		ck_assert_int_eq(rc, CP_OK);
		cp_result *res, *full;
		cp_result_new(&res, rs);
		cp_result_new(&full, rs);
		cp_iter *it;
		cp_iter_new(&it, st);
		int prof = 0;
		while (cp_iter_next(it, v) == CP_OK) {
			/* half of the profiles against a date given to the result */
			int64_t asof = cp__days_from_civil(2026, 10, 31);
			bool fixed = prof++ % 2;
			if (fixed) {
				asof = cp__days_from_civil(2026, 1, 1) + pick(&r, 700);
				cp_result_set_as_of(res, (cp_date)asof);
			} else {
				cp_result_clear_as_of(res);
			}
			ck_assert_int_eq(cp_eval(res, v), CP_OK);
			/* the full program (explain's) gives the same values */
			if (fixed)
				cp_result_set_as_of(full, (cp_date)asof);
			else
				cp_result_clear_as_of(full);
			ck_assert_int_eq(cp__result_eval_view(full, v, true), CP_OK);
			for (int e = 0; e < EXPRS; e++) {
				const cp__node *root = rs->metrics[e].expr.root;
				for (uint32_t k = 0; k < (root->type.n ? root->type.n : 1u); k++) {
					const cp__slot *x = &res->slots[root->slot + k], *y = &full->slots[root->slot + k];
					ck_assert_msg(x->null == y->null && (x->null || x->v.i == y->v.i),
					              "seed %llu: fast and full programs differ for %s",
					              (unsigned long long)seed, texts[e]);
				}
			}
			refctx c = {v, asof};
			for (int e = 0; e < EXPRS; e++) {
				gres want = ref(&c, roots[e]);
				const cp__metric *m = &rs->metrics[e];
				const cp__slot *got = &res->slots[m->expr.root->slot];
				int len = roots[e]->w ? roots[e]->w : 1;
				ck_assert_int_eq(m->type.n, roots[e]->w);
				for (int k = 0; k < len; k++) {
					gval gv = {got[k].null != 0, got[k].v.i, got[k].v.f};
					char t = roots[e]->t;
					if (m->type.base == B_NULL)
						gv.null = true;
					if (!same(gv, want.v[k], t)) {
						char buf[256];
						cp_result_metric_text(res, e, buf, sizeof(buf));
						ck_abort_msg("seed %llu: mismatch for profile %s (as-of day %lld)\n"
						             "  expression: %s\n  element %d: compiled %s, reference %s%lld/%.17g",
						             (unsigned long long)seed, cp_view_key(v), (long long)asof,
						             texts[e], k, buf, want.v[k].null ? "null " : "",
						             (long long)want.v[k].i, want.v[k].f);
					}
				}
				checked++;
			}
		}
		cp_iter_free(it);
		/* the block evaluator gives the same values (store's as-of date),
		 * in two blocks of unequal sizes */
		cp_result_clear_as_of(res);
		block_checked += block_matches(st, rs, res, seed, (const char *const *)texts);
		cp_result_free(res);
		cp_result_free(full);
		cp_ruleset_free(rs);
		cp_rules_opts_free(o);
		cp_diag_free(d);
		for (int e = 0; e < EXPRS; e++) {
			free(blocks[e]);
			free(texts[e]);
		}
		free(g->buf);
		free(g);
	}
	ck_assert_int_eq(checked, (long)BATCHES * EXPRS * PROFILES);
	ck_assert_int_ge(block_checked, (long)BATCHES * EXPRS * PROFILES);
	cp_view_free(v);
	cp_store_free(st);
}
END_TEST

/* ---- several problems in one file: golden files under tests/data/rules ---- */

static const char *srcdir(void)
{
	const char *d = getenv("top_srcdir");
	return d && *d ? d : ".";
}

static void check_golden(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/rules/%s.yaml", srcdir(), name);
	size_t len;
	char *yaml = tu_read_file(path, &len);
	ck_assert_msg(yaml != NULL, "cannot read %s", path);
	snprintf(path, sizeof(path), "%s/tests/data/rules/%s.expected", srcdir(), name);
	char *expected = tu_read_file(path, NULL);
	char file[256];
	snprintf(file, sizeof(file), "%s.yaml", name);
	cp_diag *d;
	cp_diag_new(&d);
	cp_ruleset *rs;
	int rc = compile_packs(&rs, d, file, yaml, NULL);
	/* first line: the status; then every diagnostic */
	static char got[32768];
	const char *status = cp_strerror(rc);
	snprintf(got, sizeof(got), "%.*s\n%s", (int)strcspn(status, ":"), status, diags(d));
	if (getenv("CP_WRITE_GOLDEN")) /* to regenerate: review the diff before committing */
		tu_write_file(path, got, strlen(got));
	else
		ck_assert_msg(expected && strcmp(got, expected) == 0, "%s: got\n%s", path, got);
	cp_ruleset_free(rs);
	cp_diag_free(d);
	free(yaml);
	free(expected);
}

START_TEST(test_golden_structure)
{
	check_golden("broken-structure");
}
END_TEST

START_TEST(test_golden_exprs)
{
	check_golden("broken-exprs");
}
END_TEST

START_TEST(test_golden_refs)
{
	check_golden("broken-refs");
}
END_TEST

START_TEST(test_golden_unreachable)
{
	check_golden("warn-unreachable");
}
END_TEST

static Suite *rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("expressions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
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

	tc = tcase_create("packs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_groups_and_references);
	tcase_add_test(tc, test_cycles);
	tcase_add_test(tc, test_tracks);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_explain_text);
	tcase_add_test(tc, test_explain_nodes);
	tcase_add_test(tc, test_api);
	tcase_add_test(tc, test_as_of);
	tcase_add_test(tc, test_default_packs);
	tcase_add_test(tc, test_no_allocation_per_evaluation);
	tcase_add_test(tc, test_golden_structure);
	tcase_add_test(tc, test_golden_exprs);
	tcase_add_test(tc, test_golden_refs);
	tcase_add_test(tc, test_golden_unreachable);
	suite_add_tcase(s, tc);

	tc = tcase_create("differential");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_differential);
	tcase_add_test(tc, test_block_defaults);
	tcase_add_test(tc, test_block_extremes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* before anything allocates: evaluations are checked to allocate nothing */
	cp_set_allocator(count_malloc, count_realloc, free);
	return tu_run(rules_suite());
}
