/*
 * boss-counter — the billing counter's pop-up (营业前台) for one subscriber:
 * basic information, tags, the lifecycle stage of every track with the rule
 * that decided it, and what to recommend.
 *
 *   boss-counter STORE.cps MSISDN [RULES.yaml...]
 *
 * Without rule files the built-in packs are used.  Build against an
 * installed library with
 *   cc -std=c11 boss-counter.c $(pkg-config --cflags --libs custprof)
 */
#include <stdio.h>
#include <string.h>

#include <custprof/custprof.h>

/* What to recommend: a tag id, or a track's stage as "track=stage". */
static const struct {
	const char *when;
	const char *offer;
} offers[] = {
	{"crbt.total_silent", "彩铃简易下载方式（短信点播、按键复制）或1元音乐盒"},
	{"crbt=silent", "1元音乐盒：每月精选彩铃，免去自己挑选"},
	{"crbt.price_sensitive", "彩铃优惠下载包"},
	{"crbt=prospect", "彩铃首月免费体验"},
	{"gprs.heavy", "升级到更大的GPRS流量套餐"},
	{"gprs.impulsive", "GPRS包月套餐，避免超出流量按量计费"},
	{"gprs=prospect", "GPRS免费体验"},
	{"subscriber=churn_risk", "挽留优惠：预存话费送话费，或合约续签赠送流量"},
	{"subscriber=decline", "资费调整：推荐更合适的套餐"},
};

/* The label of an enum value (神州行 for szx); the value when it has none. */
static const char *value_label(const cp_schema *schema, int field, const char *value)
{
	for (int i = 0; i < cp_schema_field_value_count(schema, field); i++)
		if (strcmp(cp_schema_field_value(schema, field, i), value) == 0)
			return cp_schema_field_value_label(schema, field, i);
	return value;
}

static void print_field(const cp_schema *schema, const cp_view *view, const char *name)
{
	int f = cp_schema_field_index(schema, name);
	char text[256];

	if (f < 0)
		return;
	cp_view_text(view, f, 0, text, sizeof(text));
	if (cp_schema_field_type(schema, f) == CP_TYPE_ENUM && text[0])
		snprintf(text, sizeof(text), "%s", value_label(schema, f, cp_view_string(view, f, 0)));
	printf("  %s: %s\n", cp_schema_field_label(schema, f), text[0] ? text : "-");
}

/* The lines of an explanation about one rule of a track: its line and the
 * indented lines below it (custprof-rules(5), "Explain"). */
static void print_rule_lines(const char *text, const char *rule_id)
{
	char head[128];
	const char *line = text;
	int in_rule = 0;

	snprintf(head, sizeof(head), "  %s -> ", rule_id);
	while (*line) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);
		if (strncmp(line, head, strlen(head)) == 0)
			in_rule = 1;
		else if (in_rule && strncmp(line, "    ", 4) != 0)
			break;
		if (in_rule)
			printf("      %.*s\n", len, line);
		line += len + (end != NULL);
	}
}

static int applies(const cp_ruleset *rs, const cp_result *res, const char *when)
{
	const char *eq = strchr(when, '=');
	if (!eq)
		return cp_result_tag(res, cp_ruleset_tag_index(rs, when));
	char track[64];
	snprintf(track, sizeof(track), "%.*s", (int)(eq - when), when);
	int t = cp_ruleset_track_index(rs, track);
	return t >= 0 && strcmp(cp_stage_name(cp_result_stage(res, t)), eq + 1) == 0;
}

int main(int argc, char *argv[])
{
	cp_store *store = NULL;
	cp_diag *diag = NULL;
	cp_rules_opts *opts = NULL;
	cp_ruleset *rs = NULL;
	cp_result *res = NULL;
	cp_view *view = NULL;
	int rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: boss-counter STORE.cps MSISDN [RULES.yaml...]\n");
		return 2;
	}
	if (cp_diag_new(&diag) != CP_OK || cp_rules_opts_new(&opts) != CP_OK)
		goto out;
	if (cp_store_open(&store, argv[1], diag) != CP_OK) {
		fprintf(stderr, "boss-counter: %s\n", cp_diag_format(diag, 0));
		goto out;
	}
	for (int i = 3; i < argc; i++)
		if (cp_rules_opts_add_file(opts, argv[i]) != CP_OK) {
			fprintf(stderr, "boss-counter: %s\n", cp_errmsg(opts));
			goto out;
		}
	const cp_schema *schema = cp_store_schema(store);
	if (cp_ruleset_compile(&rs, schema, argc > 3 ? opts : NULL, diag) != CP_OK) {
		for (size_t i = 0; i < cp_diag_count(diag); i++)
			fprintf(stderr, "%s\n", cp_diag_format(diag, i));
		goto out;
	}
	if (cp_result_new(&res, rs) != CP_OK || cp_view_new(&view, store) != CP_OK)
		goto out;
	if (cp_store_get(store, argv[2], view) != CP_OK || cp_eval(res, view) != CP_OK) {
		fprintf(stderr, "boss-counter: %s\n", cp_errmsg(view));
		goto out;
	}

	printf("客户 %s\n", cp_view_key(view));
	const char *basics[] = {"name", "brand", "plan", "arpu", "status", "region"};
	for (size_t i = 0; i < sizeof(basics) / sizeof(basics[0]); i++)
		print_field(schema, view, basics[i]);

	printf("\n标签\n");
	for (int i = 0; i < cp_result_tag_count(res); i++) {
		int tag = cp_result_tag_at(res, i);
		printf("  %-22s %s\n", cp_ruleset_tag_id(rs, tag), cp_ruleset_tag_label(rs, tag));
	}

	printf("\n生命周期\n");
	for (int t = 0; t < cp_ruleset_track_count(rs); t++) {
		int stage = cp_result_stage(res, t);
		printf("  %-10s %-12s %s  (%s)\n", cp_ruleset_track_name(rs, t), cp_stage_name(stage),
		       cp_ruleset_stage_label(rs, stage), cp_result_stage_rule_id(res, t));
		cp_explain *ex;
		if (cp_result_stage_rule(res, t) >= 0 && cp_explain_track(&ex, res, view, t) == CP_OK) {
			print_rule_lines(cp_explain_text(ex), cp_result_stage_rule_id(res, t));
			cp_explain_free(ex);
		}
	}

	printf("\n推荐\n");
	int offered = 0;
	for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++)
		if (applies(rs, res, offers[i].when)) {
			printf("  %-22s %s\n", offers[i].when, offers[i].offer);
			offered++;
		}
	if (!offered)
		printf("  (无)\n");
	rc = 0;
out:
	cp_view_free(view);
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_rules_opts_free(opts);
	cp_store_free(store);
	cp_diag_free(diag);
	return rc;
}
