/*
 * fuzz_rules.c — the rule compiler (cp_rules_opts_add_memory,
 * cp_ruleset_compile) and the evaluator: rule packs.
 *
 * Input: a rule pack (custprof-rules(5)), compiled alone against the
 * default schema.  A compile that fails leaves no ruleset and says why.  A
 * ruleset that compiles is introspected, and "a rule that compiles never
 * fails at run time" (DESIGN §5.2) is checked: every profile of a small
 * store (full, empty, extreme values) evaluates, under several as-of dates,
 * every result getter agrees with itself, and every tag and track explains.
 *
 * fuzz_expr.c includes this file for the evaluation part (FZ_RULES_NO_MAIN).
 */
#include "fuzz.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Profiles to evaluate: the default schema's columns in every state. */
static const char FUZZ_RULES_CSV[] =
	"msisdn,brand,status,join_date,close_date,overdue_days,churn_score,gprs_package,"
	"web_sessions_m0,web_sessions_m1,web_sessions_m2,web_sessions_m3,web_sessions_m4,"
	"web_sessions_m5,gprs_mb_m0,gprs_mb_m1,arpu_m0,arpu_m1,arpu_m2,arpu_m3,arpu_m4,arpu_m5,"
	"crbt_subscribed_m0,crbt_subscribed_m1,fav_contents,addon_plans,crbt_since\n"
	"13800000001,gotone,active,2020-01-15,,0,0.75,g10,12,11,0,3,30,1,2.5,12.25,"
	"88.50,90,75.25,0,0.01,100,1,0,a;b,p1;p2,2026-08-31\n"
	"13800000002,szx,closed,2026-10-31,2026-10-01,120,1e300,,-5,0,,,,,-1e300,,"
	"-9999999.99,92233720368547.57,,,,,0,1,,,1970-01-01\n"
	"13800000003,,,,,,,,,,,,,,,,,,,,,,,,,,\n";

static cp_schema *rules_schema;
static cp_store *rules_store;

static void rules_fini(void)
{
	cp_store_free(rules_store);
	cp_schema_free(rules_schema);
}

/* The default schema and a store of its profiles, once. */
static void rules_init(void)
{
	if (rules_store)
		return;
	FZ_CHECK(cp_schema_default(&rules_schema) == CP_OK);
	FZ_CHECK(cp_store_new(&rules_store, rules_schema) == CP_OK);
	FZ_CHECK(cp_store_load_csv_memory(rules_store, FUZZ_RULES_CSV, sizeof(FUZZ_RULES_CSV) - 1,
	                                  NULL, NULL, NULL) == CP_OK);
	FZ_CHECK(cp_store_count(rules_store) == 3);
	/* dates at the ends of their range (cp_profile_set_date: 0001-01-01 to
	 * 9999-12-31), numbers at the ends of int64_t */
	cp_profile *p = NULL;
	FZ_CHECK(cp_profile_new(&p, rules_schema) == CP_OK);
	FZ_CHECK(cp_profile_set_text(p, cp_schema_key_field(rules_schema), 0, "13800000004") ==
	         CP_OK);
	int f = cp_schema_field_index(rules_schema, "join_date");
	FZ_CHECK(f >= 0 && cp_profile_set_date(p, f, 0, -719162) == CP_OK);
	f = cp_schema_field_index(rules_schema, "crbt_since");
	FZ_CHECK(f >= 0 && cp_profile_set_date(p, f, 0, 2932896) == CP_OK);
	f = cp_schema_field_index(rules_schema, "overdue_days");
	FZ_CHECK(f >= 0 && cp_profile_set_int(p, f, 0, INT64_MIN) == CP_OK);
	f = cp_schema_field_index(rules_schema, "arpu");
	FZ_CHECK(f >= 0 && cp_profile_set_money(p, f, 0, INT64_MAX) == CP_OK);
	FZ_CHECK(cp_profile_set_money(p, f, 1, INT64_MIN) == CP_OK);
	FZ_CHECK(cp_store_put(rules_store, p, NULL) == CP_OK);
	cp_profile_free(p);
	FZ_CHECK(cp_store_set_as_of(rules_store, 202610) == CP_OK);
	atexit(rules_fini);
}

static void check_explain(cp_explain *ex)
{
	FZ_CHECK(cp_explain_text(ex) != NULL);
	int n = cp_explain_node_count(ex);
	FZ_CHECK(n >= 1);
	FZ_CHECK(cp_explain_node_parent(ex, 0) == -1 && cp_explain_node_depth(ex, 0) == 0);
	for (int i = 0; i < n; i++) {
		int parent = cp_explain_node_parent(ex, i);
		FZ_CHECK(i == 0 || (parent >= 0 && parent < i));
		if (i)
			FZ_CHECK(cp_explain_node_depth(ex, i) == cp_explain_node_depth(ex, parent) + 1);
		int kind = cp_explain_node_kind(ex, i);
		FZ_CHECK(kind >= CP_EXPLAIN_TAG && kind <= CP_EXPLAIN_LIST);
		FZ_CHECK(cp_explain_node_text(ex, i) != NULL);
		FZ_CHECK(cp_explain_node_value(ex, i) != NULL);
		FZ_CHECK(cp_explain_node_note(ex, i) != NULL);
		int truth = cp_explain_node_truth(ex, i);
		FZ_CHECK(truth >= -2 && truth <= 1);
	}
	FZ_CHECK(cp_explain_node_text(ex, n) == NULL);
}

static void check_result(const cp_ruleset *rs, cp_result *res, cp_view *v)
{
	int ntags = cp_ruleset_tag_count(rs), applying = 0;
	for (int t = 0; t < ntags; t++) {
		int on = cp_result_tag(res, t);
		FZ_CHECK(on == 0 || on == 1);
		applying += on;
	}
	FZ_CHECK(cp_result_tag_count(res) == applying);
	for (int i = 0; i < applying; i++) {
		int t = cp_result_tag_at(res, i);
		FZ_CHECK(t >= 0 && t < ntags && cp_result_tag(res, t) == 1);
	}
	/* an exclusive group: at most one member applies */
	for (int g = 0; g < cp_ruleset_group_count(rs); g++) {
		int on = 0;
		for (int i = 0; i < cp_ruleset_group_member_count(rs, g); i++)
			on += cp_result_tag(res, cp_ruleset_group_member(rs, g, i));
		FZ_CHECK(on <= 1);
	}
	for (int k = 0; k < cp_ruleset_track_count(rs); k++) {
		int stage = cp_result_stage(res, k), rule = cp_result_stage_rule(res, k);
		FZ_CHECK(cp_stage_name(stage) != NULL);
		FZ_CHECK(rule >= -1 && rule < cp_ruleset_track_rule_count(rs, k));
		FZ_CHECK(cp_result_stage_rule_id(res, k) != NULL);
		if (rule >= 0)
			FZ_CHECK(stage == cp_ruleset_track_rule_stage(rs, k, rule));
		else
			FZ_CHECK(stage == cp_ruleset_track_otherwise(rs, k));
	}
	for (int m = 0; m < cp_ruleset_metric_count(rs); m++) {
		int null = cp_result_metric_is_null(res, m);
		FZ_CHECK(null == 0 || null == 1);
		cp_result_metric_int(res, m);
		cp_result_metric_float(res, m);
		int n = cp_result_metric_text(res, m, NULL, 0);
		FZ_CHECK(n >= 0);
		char *buf = malloc((size_t)n + 1);
		FZ_CHECK(buf != NULL);
		FZ_CHECK(cp_result_metric_text(res, m, buf, (size_t)n + 1) == n);
		FZ_CHECK(strlen(buf) == (size_t)n);
		free(buf);
	}
	for (int t = 0; t < ntags; t++) {
		cp_explain *ex = NULL;
		FZ_CHECK(cp_explain_tag(&ex, res, v, t) == CP_OK);
		check_explain(ex);
		FZ_CHECK(strncmp(cp_explain_node_text(ex, 0), cp_ruleset_tag_id(rs, t),
		                 strlen(cp_ruleset_tag_id(rs, t))) == 0);
		cp_explain_free(ex);
	}
	for (int k = 0; k < cp_ruleset_track_count(rs); k++) {
		cp_explain *ex = NULL;
		FZ_CHECK(cp_explain_track(&ex, res, v, k) == CP_OK);
		check_explain(ex);
		cp_explain_free(ex);
	}
}

static void introspect(const cp_ruleset *rs)
{
	FZ_CHECK(cp_ruleset_schema(rs) == rules_schema);
	for (int i = 0; i < cp_ruleset_pack_count(rs); i++)
		FZ_CHECK(cp_ruleset_pack_name(rs, i) && cp_ruleset_pack_label(rs, i));
	int ntags = cp_ruleset_tag_count(rs);
	for (int t = 0; t < ntags; t++) {
		const char *id = cp_ruleset_tag_id(rs, t);
		FZ_CHECK(id != NULL && cp_ruleset_tag_index(rs, id) == t);
		FZ_CHECK(cp_ruleset_tag_label(rs, t) && cp_ruleset_tag_description(rs, t));
		FZ_CHECK(cp_ruleset_tag_expr(rs, t) != NULL);
		int pack = cp_ruleset_tag_pack(rs, t), group = cp_ruleset_tag_group(rs, t);
		FZ_CHECK(pack >= 0 && pack < cp_ruleset_pack_count(rs));
		FZ_CHECK(group >= -1 && group < cp_ruleset_group_count(rs));
	}
	FZ_CHECK(cp_ruleset_tag_id(rs, ntags) == NULL);
	for (int g = 0; g < cp_ruleset_group_count(rs); g++) {
		const char *id = cp_ruleset_group_id(rs, g);
		FZ_CHECK(id != NULL && cp_ruleset_group_index(rs, id) == g);
		FZ_CHECK(cp_ruleset_group_label(rs, g) != NULL);
		for (int i = 0; i < cp_ruleset_group_member_count(rs, g); i++) {
			int t = cp_ruleset_group_member(rs, g, i);
			FZ_CHECK(t >= 0 && t < ntags);
		}
		int other = cp_ruleset_group_otherwise(rs, g);
		FZ_CHECK(other >= -1 && other < ntags);
	}
	for (int m = 0; m < cp_ruleset_metric_count(rs); m++) {
		const char *id = cp_ruleset_metric_id(rs, m);
		FZ_CHECK(id != NULL && cp_ruleset_metric_index(rs, id) == m);
		FZ_CHECK(cp_ruleset_metric_label(rs, m) != NULL);
		int type = cp_ruleset_metric_type(rs, m); /* 0: always null */
		FZ_CHECK(type == 0 || cp_type_name(type) != NULL);
		FZ_CHECK(cp_ruleset_metric_window(rs, m) >= 0);
	}
	for (int k = 0; k < cp_ruleset_track_count(rs); k++) {
		const char *name = cp_ruleset_track_name(rs, k);
		FZ_CHECK(name != NULL && cp_ruleset_track_index(rs, name) == k);
		FZ_CHECK(cp_ruleset_track_label(rs, k) != NULL);
		for (int i = 0; i < cp_ruleset_track_rule_count(rs, k); i++) {
			FZ_CHECK(cp_ruleset_track_rule_id(rs, k, i) != NULL);
			FZ_CHECK(cp_stage_name(cp_ruleset_track_rule_stage(rs, k, i)) != NULL);
			FZ_CHECK(cp_ruleset_track_rule_expr(rs, k, i) != NULL);
		}
		FZ_CHECK(cp_stage_name(cp_ruleset_track_otherwise(rs, k)) != NULL);
	}
	for (int s = CP_STAGE_UNKNOWN; s <= CP_STAGE_BAD_DEBT; s++) {
		FZ_CHECK(cp_ruleset_stage_label(rs, s) != NULL);
		for (int i = 0; i < cp_ruleset_stage_driver_count(rs, s); i++)
			FZ_CHECK(cp_ruleset_stage_driver(rs, s, i) != NULL);
	}
	for (int i = 0; i < cp_ruleset_param_count(rs); i++)
		FZ_CHECK(cp_ruleset_param_name(rs, i) && cp_ruleset_param_value(rs, i));
}

/* Every profile of the store, under the store's as-of and fixed ones. */
static void evaluate(const cp_ruleset *rs)
{
	static const cp_date as_of[] = {-719162 /* 0001-01-01 */, 0, 20757, 2932896 /* 9999-12-31 */,
	                                INT32_MIN, INT32_MAX};
	cp_result *res = NULL;
	cp_view *v = NULL;
	cp_iter *it = NULL;
	FZ_CHECK(cp_result_new(&res, rs) == CP_OK);
	FZ_CHECK(cp_view_new(&v, rules_store) == CP_OK);
	for (int a = -1; a < (int)(sizeof(as_of) / sizeof(as_of[0])); a++) {
		if (a < 0) {
			cp_result_clear_as_of(res);
		} else {
			int rc = cp_result_set_as_of(res, as_of[a]);
			FZ_CHECK(rc == CP_OK || rc == CP_EINVAL);
			if (rc != CP_OK)
				continue;
		}
		FZ_CHECK(cp_iter_new(&it, rules_store) == CP_OK);
		while (cp_iter_next(it, v) == CP_OK) {
			FZ_CHECK(cp_eval(res, v) == CP_OK);
			check_result(rs, res, v);
		}
		cp_iter_free(it);
	}
	FZ_CHECK(cp_eval_key(res, rules_store, "13900000000") == CP_ENOTFOUND);
	FZ_CHECK(cp_result_tag_count(res) == 0);
	cp_view_free(v);
	cp_result_free(res);
}

/* Compile the pack yaml[0..len) alone; evaluate it if it compiles. */
static void compile_pack(const char *yaml, size_t len)
{
	rules_init();
	cp_rules_opts *opts = NULL;
	cp_diag *diag = NULL;
	FZ_CHECK(cp_rules_opts_new(&opts) == CP_OK && cp_diag_new(&diag) == CP_OK);
	FZ_CHECK(cp_rules_opts_add_memory(opts, yaml, len, "fuzz.yaml") == CP_OK);
	cp_ruleset *rs = (cp_ruleset *)1;
	int rc = cp_ruleset_compile(&rs, rules_schema, opts, diag);
	FZ_CHECK(rc <= 0);
	FZ_CHECK((rc == CP_OK) == (rs != NULL));
	fz_check_diag(diag, rc != CP_OK);
	if (rc == CP_OK) {
		introspect(rs);
		evaluate(rs);
		cp_ruleset_free(rs);
	}
	cp_diag_free(diag);
	cp_rules_opts_free(opts);
}

#ifndef FZ_RULES_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	compile_pack((const char *)data, size);
	return 0;
}
#endif
