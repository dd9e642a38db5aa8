/*
 * check_lifecycle.c — the default content and the lifecycle (DESIGN §6,
 * §7): for every default tag and every stage of every track a crafted
 * profile that gets it and a boundary profile that does not (the test
 * checks that the cases cover the compiled ruleset); tracks replaced by a
 * later pack; value drivers; month close (shift of every type, history,
 * as-of, all-or-nothing, depth), its snapshot round trips and damage;
 * loading a month on top (merge); transitions on crafted data.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "snapshot.h"

/* =========================================================================
 * Crafted profiles on the default schema and packs
 * ========================================================================= */

static cp_schema *DS;
static cp_ruleset *DR;
static cp_store *DST;
static cp_result *DRES;
static char *DIR_;

static void default_setup(void)
{
	ck_assert_int_eq(cp_schema_default(&DS), CP_OK);
	cp_diag *d;
	cp_diag_new(&d);
	int rc = cp_ruleset_compile(&DR, DS, NULL, d);
	ck_assert_msg(rc == CP_OK, "%s", cp_diag_count(d) ? cp_diag_format(d, 0) : "?");
	ck_assert_uint_eq(cp_diag_count(d), 0); /* not even a warning */
	cp_diag_free(d);
	ck_assert_int_eq(cp_store_new(&DST, DS), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(DST, 202610), CP_OK); /* as of 2026-10-31 */
	ck_assert_int_eq(cp_result_new(&DRES, DR), CP_OK);
	DIR_ = tu_mkdtemp();
}

static void default_teardown(void)
{
	cp_result_free(DRES);
	cp_store_free(DST);
	cp_ruleset_free(DR);
	cp_schema_free(DS);
	tu_rmdir(DIR_);
	free(DIR_);
}

/*
 * Set cells from a spec: "field=v; field=v0,v1,..." — a scalar takes one
 * value, a series its months 0, 1, ... in order ("" = null; fewer values
 * leave the later months as they are); "field=v*" sets every month to v;
 * items of a set or list are joined by '|' (for ';').
 */
static void apply_spec(cp_profile *p, const cp_schema *s, const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	for (char *a = strtok_r(copy, ";", &save); a; a = strtok_r(NULL, ";", &save)) {
		while (*a == ' ' || *a == '\n' || *a == '\t')
			a++;
		if (!*a)
			continue;
		char *eq = strchr(a, '=');
		ck_assert_msg(eq != NULL, "bad spec item '%s'", a);
		*eq = '\0';
		int f = cp_schema_field_index(s, a);
		ck_assert_msg(f >= 0, "no field '%s'", a);
		char *v = eq + 1;
		for (char *q = v; *q; q++)
			if (*q == '|')
				*q = ';';
		size_t n = strlen(v);
		int months = cp_schema_field_months(s, f);
		if (n && v[n - 1] == '*') {
			v[n - 1] = '\0';
			for (int m = 0; m < months; m++)
				ck_assert_msg(cp_profile_set_text(p, f, m, v) == CP_OK, "%s*=%s: %s", a, v,
				              cp_errmsg(p));
			continue;
		}
		int m = 0;
		for (char *c = v;; m++) {
			char *comma = strchr(c, ',');
			if (comma)
				*comma = '\0';
			ck_assert_msg(m < months, "%s: too many values", a);
			ck_assert_msg(cp_profile_set_text(p, f, m, c) == CP_OK, "%s[%d]='%s': %s", a, m,
			              c, cp_errmsg(p));
			if (!comma)
				break;
			c = comma + 1;
		}
	}
	free(copy);
}

/*
 * The baseline: an ordinary customer of five years who is 'other' in every
 * pack's group and in 'maturity' on every track, with data everywhere.
 */
static const char baseline[] =
	"msisdn=13800000001; status=active; brand=gotone; join_date=2020-01-15;"
	"churn_score=0.1; overdue_days=0;"
	"arpu=100*; voice_minutes=300*; sms_count=50*; gprs_mb=1.5*;"
	"web_sessions=5*; wap_push_clicks=0*; promo_joins=0*;"
	"crbt_subscribed=1*; crbt_since=2024-01-01; crbt_downloads=1,0,0,1,0,0;"
	"crbt_promo_downloads=0*; crbt_campaign_contacts=0*; crbt_campaign_responses=0*;"
	"mms_sent=1,0,1,1,1,1; newspaper_received=30,0,30,30,30,30; fetion_logins=5,0,5,5,5,5;"
	"ivr_national_calls=3*; ivr_local_calls=0*; ivr_fee=5*";

/* Evaluate the baseline with spec on top. */
static void eval_spec(const char *spec)
{
	cp_profile *p;
	ck_assert_int_eq(cp_profile_new(&p, DS), CP_OK);
	apply_spec(p, DS, baseline);
	apply_spec(p, DS, spec);
	ck_assert_int_eq(cp_store_put(DST, p, NULL), CP_OK);
	cp_profile_free(p);
	ck_assert_int_eq(cp_eval_key(DRES, DST, "13800000001"), CP_OK);
}

/* What a case expects: "tag:ID" applies, or "stage:TRACK=STAGE"; with
 * expect 0, the opposite. */
typedef struct lc_case {
	const char *spec;
	const char *what;
	int expect;
} lc_case;

/* Per tag / (track, stage): 1 = a case expects it, 2 = a case expects not,
 * 3 = both. */
static int tag_cov[256];
static int stage_cov[64][16];

static void run_case(const lc_case *c)
{
	eval_spec(c->spec);
	if (strncmp(c->what, "tag:", 4) == 0) {
		int t = cp_ruleset_tag_index(DR, c->what + 4);
		ck_assert_msg(t >= 0, "no tag %s", c->what + 4);
		int got = cp_result_tag(DRES, t);
		ck_assert_msg(got == c->expect, "%s with '%s': applies %d, expected %d", c->what,
		              c->spec, got, c->expect);
		tag_cov[t] |= c->expect ? 1 : 2;
		return;
	}
	ck_assert_msg(strncmp(c->what, "stage:", 6) == 0, "bad case '%s'", c->what);
	char track[64];
	const char *eq = strchr(c->what, '=');
	snprintf(track, sizeof(track), "%.*s", (int)(eq - c->what - 6), c->what + 6);
	int k = cp_ruleset_track_index(DR, track), st = cp_stage_from_name(eq + 1);
	ck_assert_msg(k >= 0 && st >= 0, "bad case '%s'", c->what);
	int got = cp_result_stage(DRES, k);
	ck_assert_msg((got == st) == c->expect, "%s with '%s': stage %s (%s), expected %s%s",
	              track, c->spec, cp_stage_name(got), cp_result_stage_rule_id(DRES, k),
	              c->expect ? "" : "not ", eq + 1);
	stage_cov[k][st] |= c->expect ? 1 : 2;
}

static const lc_case tag_cases[] = {
	/* every group gives its 'other' tag to the baseline */
	{"", "tag:crbt.other", 1}, {"", "tag:gprs.other", 1}, {"", "tag:ivr.other", 1},
	{"", "tag:mms.other", 1}, {"", "tag:newspaper.other", 1}, {"", "tag:fetion.other", 1},

	/* crbt */
	{"crbt_downloads=0*; crbt_campaign_contacts=1,0,0,0,0,0", "tag:crbt.total_silent", 1},
	{"crbt_downloads=0*", "tag:crbt.total_silent", 0},          /* never contacted */
	{"crbt_downloads=0*; crbt_campaign_contacts=0,0,0,0,0,2; crbt_campaign_responses=0,0,0,0,1,0",
	 "tag:crbt.total_silent", 0},                               /* one response */
	{"crbt_downloads=2,0,0,1,0,0; crbt_promo_downloads=2,0,0,0,0,0", "tag:crbt.price_sensitive", 1},
	/* exactly half of the downloads at a discount is not "most" */
	{"crbt_downloads=2,0,0,2,0,0; crbt_promo_downloads=2,0,0,0,0,0", "tag:crbt.price_sensitive", 0},
	{"crbt_campaign_responses=0,0,1,0,0,0", "tag:crbt.trend_follower", 1},
	{"crbt_campaign_responses=0,0,0,1,0,0", "tag:crbt.trend_follower", 0}, /* 4 months ago */
	{"crbt_downloads=1,0,1,0,1,0", "tag:crbt.active", 1},
	{"crbt_downloads=1,0,1,0,0,0", "tag:crbt.active", 0},       /* 2 months of 6 */
	{"crbt_downloads=1,0,1,0,1,0", "tag:crbt.other", 0},

	/* gprs */
	{"wap_push_clicks=0,0,1,0,0,0", "tag:gprs.explorer", 1},
	{"promo_joins=1,0,0,0,0,0", "tag:gprs.explorer", 1},
	{"wap_push_clicks=0,0,0,1,0,0; promo_joins=0,0,0,0,2,0", "tag:gprs.explorer", 0},
	{"gprs_trial_end=2026-08-15; web_sessions=0,5,5,5,5,5", "tag:gprs.price_sensitive", 1},
	{"gprs_trial_end=2026-10-05; web_sessions=0,5,5,5,5,5", "tag:gprs.price_sensitive", 0},
	{"gprs_trial_end=2026-06-20; web_sessions=0,5,5,5,5,5", "tag:gprs.price_sensitive", 0},
	{"gprs_trial_end=2026-08-15; web_sessions=1,5,5,5,5,5", "tag:gprs.price_sensitive", 0},
	{"gprs_package=gprs20; gprs_mb=12,11,1,1,1,1", "tag:gprs.impulsive", 1},
	{"gprs_package=gprs20; gprs_mb=12,10,1,1,1,1", "tag:gprs.impulsive", 0}, /* 10 MB: not above */
	{"gprs_mb=12,11,1,1,1,1", "tag:gprs.impulsive", 0},          /* no package */
	{"web_sessions=0,0,0,3,0,0", "tag:gprs.flash", 1},           /* 3 silent months after use */
	{"web_sessions=0,0,0,0,0,2", "tag:gprs.flash", 1},
	{"web_sessions=0,0,3,0,0,0", "tag:gprs.flash", 0},           /* only 2 */
	{"web_sessions=0*", "tag:gprs.silent", 1},
	{"web_sessions=0,0,0,0,0,1", "tag:gprs.silent", 0},
	{"web_sessions=11*; gprs_mb=2.5*", "tag:gprs.heavy", 1},
	{"web_sessions=11,11,11,11,11,10; gprs_mb=2.5*", "tag:gprs.heavy", 0}, /* 10: not more */
	{"web_sessions=11*; gprs_mb=2.5,2.5,2,2.5,2.5,2.5", "tag:gprs.heavy", 0},
	{"web_sessions=0*", "tag:gprs.other", 0},

	/* ivr */
	{"ivr_local_calls=1,1,0,0,0,0", "tag:ivr.explorer", 1},
	{"ivr_local_calls=1,0,1,1,1,1", "tag:ivr.explorer", 0},     /* not last month */
	{"ivr_trial_end=2026-09-10; ivr_national_calls=0,3,3,3,3,3", "tag:ivr.price_sensitive", 1},
	{"ivr_trial_end=2026-10-01; ivr_national_calls=0,3,3,3,3,3", "tag:ivr.price_sensitive", 0},
	{"ivr_fee=5,5,5,20.01,5,5", "tag:ivr.impulsive", 1},
	{"ivr_fee=5,5,5,20,5,5", "tag:ivr.impulsive", 0},             /* 20 yuan: not above */
	{"ivr_national_calls=0,0,0,3,0,0", "tag:ivr.flash", 1},
	{"ivr_national_calls=0,0,0,0,0,0; ivr_local_calls=0,0,0,0,1,0", "tag:ivr.flash", 1},
	{"ivr_national_calls=0,0,3,0,0,0", "tag:ivr.flash", 0},
	{"ivr_national_calls=0*", "tag:ivr.silent", 1},
	{"ivr_national_calls=0,0,0,0,0,1", "tag:ivr.silent", 0},
	{"ivr_national_calls=6*; ivr_local_calls=5*", "tag:ivr.heavy", 1},
	{"ivr_national_calls=5*; ivr_local_calls=5*", "tag:ivr.heavy", 0}, /* 10: not more */
	{"ivr_national_calls=0*", "tag:ivr.other", 0},

	/* mms, newspaper, fetion */
	{"mms_sent=0,0,0,1,1,1", "tag:mms.silent", 1},
	{"mms_sent=0,0,1,0,0,0", "tag:mms.silent", 0},
	{"mms_sent=1,1,1,0,0,0", "tag:mms.active", 1},
	{"mms_sent=1,1,0,1,1,1", "tag:mms.active", 0},
	{"mms_sent=1,1,1,0,0,0", "tag:mms.other", 0},
	{"newspaper_received=0,0,0,30,30,30", "tag:newspaper.silent", 1},
	{"newspaper_received=0,0,1,0,0,0", "tag:newspaper.silent", 0},
	{"newspaper_received=28,30,31,0,0,0", "tag:newspaper.active", 1},
	{"newspaper_received=28,0,31,0,0,0", "tag:newspaper.active", 0},
	{"newspaper_received=0*", "tag:newspaper.other", 0},
	{"fetion_logins=0,0,0,5,5,5", "tag:fetion.silent", 1},
	{"fetion_logins=1,0,0,0,0,0", "tag:fetion.silent", 0},
	{"fetion_logins=2,1,1,0,0,0", "tag:fetion.active", 1},
	{"fetion_logins=2,1,,0,0,0", "tag:fetion.active", 0},         /* month 2 unknown */
	{"fetion_logins=0*", "tag:fetion.other", 0},
};

static const lc_case stage_cases[] = {
	/* subscriber (DESIGN §7.3), in the order of its rules */
	{"", "stage:subscriber=maturity", 1},
	{"status=closed; close_date=2026-09-10; arpu=,,150,150,150,150", "stage:subscriber=winback", 1},
	/* closed 3 months ago: no longer "recently" */
	{"status=closed; close_date=2026-07-20; arpu=,,150,150,150,150", "stage:subscriber=winback", 0},
	/* an average ARPU below 100 yuan: not valuable enough */
	{"status=closed; close_date=2026-09-10; arpu=,,99,99,99,99.99", "stage:subscriber=winback", 0},
	{"status=closed; close_date=2026-07-20; arpu=,,150,150,150,150", "stage:subscriber=churned", 1},
	{"status=suspended", "stage:subscriber=churned", 0},
	{"overdue_days=60", "stage:subscriber=bad_debt", 1},
	{"overdue_days=59", "stage:subscriber=bad_debt", 0},
	{"churn_score=0.6", "stage:subscriber=churn_risk", 1},
	{"churn_score=0.59", "stage:subscriber=churn_risk", 0},
	{"arpu=49.99,100,100,100,100,100; voice_minutes=149,300,300,300,300,300",
	 "stage:subscriber=churn_risk", 1},
	/* half of the average is not "below half", and a drop of ARPU alone is not sharp */
	{"arpu=50,100,100,100,100,100; voice_minutes=149,300,300,300,300,300",
	 "stage:subscriber=churn_risk", 0},
	{"arpu=49.99,100,100,100,100,100", "stage:subscriber=churn_risk", 0},
	{"join_date=2026-08-01", "stage:subscriber=acquisition", 1},
	{"join_date=2026-07-31", "stage:subscriber=acquisition", 0}, /* 3 whole months */
	{"voice_minutes=0,0,300,300,300,300; sms_count=0,0,50,50,50,50; gprs_mb=0,0,1,1,1,1",
	 "stage:subscriber=silent", 1},
	{"voice_minutes=0,1,300,300,300,300; sms_count=0,0,50,50,50,50; gprs_mb=0,0,1,1,1,1",
	 "stage:subscriber=silent", 0},
	{"arpu=60,60,60,100,100,100", "stage:subscriber=decline", 1},
	{"arpu=70,70,70,100,100,100", "stage:subscriber=decline", 0}, /* 70%: not below */
	{"join_date=2026-01-10", "stage:subscriber=growth", 1},
	{"join_date=2025-10-31", "stage:subscriber=growth", 0},      /* 12 whole months */
	{"arpu=130,120,110,100,90,80", "stage:subscriber=growth", 1}, /* +10/month of 105 */
	/* +5/month of an average of 112.5: below 5% a month */
	{"arpu=125,120,115,110,105,100", "stage:subscriber=growth", 0},
	/* flat spend with noise is not growth (a slope > 0 would say it is) */
	{"arpu=103,97,101,99,102,98", "stage:subscriber=growth", 0},
	{"join_date=2026-01-10", "stage:subscriber=maturity", 0},

	/* crbt */
	{"", "stage:crbt=maturity", 1},
	{"crbt_subscribed=,1,1,1,1,1", "stage:crbt=unknown", 1},
	{"crbt_subscribed=0,1,1,1,1,1", "stage:crbt=unknown", 0},
	{"crbt_unsubscribed=2026-03-01; crbt_since=2026-09-01", "stage:crbt=winback", 1},
	{"crbt_unsubscribed=2026-03-01; crbt_since=2026-07-31", "stage:crbt=winback", 0},
	{"crbt_since=2026-09-01", "stage:crbt=winback", 0},          /* never unsubscribed */
	{"crbt_subscribed=0,1,1,1,1,1", "stage:crbt=churned", 1},
	{"crbt_subscribed=0*; crbt_unsubscribed=2025-05-01", "stage:crbt=churned", 1},
	{"crbt_subscribed=0*", "stage:crbt=churned", 0},
	{"crbt_subscribed=0*", "stage:crbt=prospect", 1},
	{"crbt_subscribed=0,0,0,0,0,1", "stage:crbt=prospect", 0},
	{"crbt_since=2026-08-01", "stage:crbt=acquisition", 1},
	{"crbt_since=2026-07-31", "stage:crbt=acquisition", 0},
	{"churn_score=0.6", "stage:crbt=churn_risk", 1},
	{"churn_score=0.59", "stage:crbt=churn_risk", 0},
	{"crbt_downloads=0,0,0,1,0,0", "stage:crbt=silent", 1},
	{"crbt_downloads=0,0,1,1,0,0", "stage:crbt=silent", 0},
	{"crbt_downloads=1,0,1,1,0,0", "stage:crbt=growth", 1},
	{"crbt_downloads=1,0,0,1,0,0", "stage:crbt=growth", 0},
	{"crbt_downloads=1,0,1,1,0,0", "stage:crbt=maturity", 0},

	/* gprs: a package holder who does not use is silent, not churned nor a prospect */
	{"web_sessions=0*; gprs_package=gprs20", "stage:gprs=prospect", 0},
	{"web_sessions=0*; gprs_package=gprs20", "stage:gprs=silent", 1},
	{"web_sessions=0,0,0,5,5,5; gprs_package=gprs20", "stage:gprs=churned", 0},
};

/* The usage-based service tracks share one policy on their monthly use U. */
static const struct {
	const char *track, *field, *extra; /* extra: the rest of U's definition */
} usage_tracks[] = {
	{"gprs", "web_sessions", ""},
	{"mms", "mms_sent", ""},
	{"newspaper", "newspaper_received", ""},
	{"fetion", "fetion_logins", ""},
	{"ivr", "ivr_national_calls", "; ivr_local_calls=0*"},
};

static const struct {
	const char *use, *stage;
	int expect;
} usage_cases[] = {
	{"5,5,5,5,5,5", "maturity", 1},
	{",5,5,5,5,5", "unknown", 1},
	{"0,5,5,5,5,5", "unknown", 0},
	{"5,0,0,0,5,5", "winback", 1},
	{"5,0,0,5,5,5", "winback", 0},  /* 2 months without use: not a comeback */
	{"5,0,0,0,0,0", "winback", 0},  /* never used before: acquisition */
	{"0,0,0,5,5,5", "churned", 1},
	{"0,0,5,5,5,5", "churned", 0},  /* 2 months without use: silent */
	{"0,0,0,0,0,0", "prospect", 1},
	{"0,0,0,0,0,1", "prospect", 0},
	{"5,5,0,0,0,0", "acquisition", 1},
	{"0,5,0,0,0,0", "acquisition", 1},
	{"5,5,1,0,0,0", "acquisition", 0},
	{"2,5,5,5,5,5", "churn_risk", 1}, /* below half of the 3 months before */
	{"3,6,6,6,6,6", "churn_risk", 0}, /* exactly half */
	{"0,5,5,5,5,5", "silent", 1},
	{"1,5,5,5,5,5", "silent", 0},     /* 1 is use: a sharp fall, not silence */
	{"6,6,6,5,5,5", "growth", 1},
	{"6,6,6,6,6,6", "growth", 0},
	{"6,6,6,5,5,5", "maturity", 0},
	/* months without data before month 0 count as months without use (a
	 * customer of two months) */
	{"5,5,,,,", "acquisition", 1},
	{"0,0,,,,", "prospect", 1},
	{"0,,,5,5,5", "churned", 1},
	{"5,,,,5,", "winback", 1},
};

START_TEST(test_default_tags)
{
	for (size_t i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++)
		run_case(&tag_cases[i]);
	/* every tag of the packs: a profile that gets it, one that does not */
	for (int t = 0; t < cp_ruleset_tag_count(DR); t++)
		ck_assert_msg(tag_cov[t] == 3, "tag %s: %s", cp_ruleset_tag_id(DR, t),
		              tag_cov[t] == 1 ? "no case where it does not apply"
		              : tag_cov[t] == 2 ? "no case where it applies" : "no case");
}
END_TEST

START_TEST(test_default_stages)
{
	for (size_t i = 0; i < sizeof(stage_cases) / sizeof(stage_cases[0]); i++)
		run_case(&stage_cases[i]);
	for (size_t k = 0; k < sizeof(usage_tracks) / sizeof(usage_tracks[0]); k++) {
		for (size_t i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
			char spec[256], what[64];
			snprintf(spec, sizeof(spec), "%s=%s%s", usage_tracks[k].field, usage_cases[i].use,
			         usage_tracks[k].extra);
			snprintf(what, sizeof(what), "stage:%s=%s", usage_tracks[k].track,
			         usage_cases[i].stage);
			lc_case c = {spec, what, usage_cases[i].expect};
			run_case(&c);
		}
	}
	/* every stage a track can give (its rules' and its otherwise): both ways */
	for (int k = 0; k < cp_ruleset_track_count(DR); k++) {
		int can[16] = {0};
		for (int i = 0; i < cp_ruleset_track_rule_count(DR, k); i++)
			can[cp_ruleset_track_rule_stage(DR, k, i)] = 1;
		can[cp_ruleset_track_otherwise(DR, k)] = 1;
		for (int st = 0; st < 11; st++) {
			if (!can[st])
				continue;
			ck_assert_msg(stage_cov[k][st] == 3, "track %s, stage %s: %s",
			              cp_ruleset_track_name(DR, k), cp_stage_name(st),
			              stage_cov[k][st] == 1 ? "no case where it is not given"
			              : stage_cov[k][st] == 2 ? "no case where it is given" : "no case");
		}
	}
}
END_TEST

/* The deciding rule, its words and the drivers a counter screen shows. */
START_TEST(test_default_reports)
{
	eval_spec("crbt_downloads=0,0,0,1,0,0");
	int k = cp_ruleset_track_index(DR, "crbt");
	ck_assert_int_eq(cp_result_stage(DRES, k), CP_STAGE_SILENT);
	int rule = cp_result_stage_rule(DRES, k);
	ck_assert_str_eq(cp_result_stage_rule_id(DRES, k), "crbt.silent");
	ck_assert_str_eq(cp_ruleset_track_rule_label(DR, k, rule), "沉默");
	ck_assert_str_eq(cp_ruleset_track_rule_description(DR, k, rule),
	                 "已订购彩铃，但最近3个月没有下载铃音");
	ck_assert_str_eq(cp_ruleset_track_description(DR, k), "");
	ck_assert_int_eq(cp_ruleset_stage_driver_count(DR, CP_STAGE_SILENT), 1);
	ck_assert_str_eq(cp_ruleset_stage_driver(DR, CP_STAGE_SILENT, 0), "churn");
	ck_assert_str_eq(cp_ruleset_stage_driver_label(DR, CP_STAGE_SILENT, 0), "离网");
	ck_assert_str_eq(cp_ruleset_stage_driver_label(DR, CP_STAGE_GROWTH, 2), "交叉销售");
	ck_assert_ptr_null(cp_ruleset_stage_driver_label(DR, CP_STAGE_GROWTH, 3));
	ck_assert_ptr_null(cp_ruleset_stage_driver_label(DR, 11, 0));
	ck_assert_ptr_null(cp_ruleset_stage_driver_label(NULL, CP_STAGE_GROWTH, 0));
	ck_assert_ptr_null(cp_ruleset_track_rule_label(DR, k, 99));
	ck_assert_ptr_null(cp_ruleset_track_rule_description(DR, -1, 0));
	ck_assert_ptr_null(cp_ruleset_track_description(DR, 7));
	/* every stage has a label and every driver a name */
	for (int st = 0; st < 11; st++) {
		ck_assert_str_ne(cp_ruleset_stage_label(DR, st), cp_stage_name(st));
		for (int i = 0; i < cp_ruleset_stage_driver_count(DR, st); i++)
			ck_assert_ptr_nonnull(cp_ruleset_stage_driver_label(DR, st, i));
	}
	/* the otherwise rule: its stage's label via the rule id */
	eval_spec("");
	ck_assert_int_eq(cp_result_stage_rule(DRES, k), -1);
	ck_assert_str_eq(cp_result_stage_rule_id(DRES, k), "crbt.otherwise");
}
END_TEST

/* =========================================================================
 * Replacing a track; drivers
 * ========================================================================= */

static int compile_with(cp_ruleset **rs, cp_diag *d, const char *const *packs, int n)
{
	cp_rules_opts *o;
	ck_assert_int_eq(cp_rules_opts_new(&o), CP_OK);
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d.yaml", i + 1);
		ck_assert_int_eq(cp_rules_opts_add_memory(o, packs[i], strlen(packs[i]), name), CP_OK);
	}
	int rc = cp_ruleset_compile(rs, DS, o, d);
	cp_rules_opts_free(o);
	return rc;
}

static const char pack_a[] =
	"custprof: 1\n"
	"pack: a\n"
	"params: {young: 30}\n"
	"lifecycle:\n"
	"  - track: sub\n"
	"    label: 客户\n"
	"    stages:\n"
	"      - {stage: growth, when: age < $young}\n"
	"    otherwise: maturity\n"
	"  - track: other\n"
	"    stages:\n"
	"      - {stage: silent, when: voice_minutes == 0}\n"
	"tags:\n"
	"  - {id: a.young_sub, when: \"stage('sub') == 'growth'\"}\n";

static const char pack_b[] =
	"custprof: 1\n"
	"pack: b\n"
	"params: {old: 60}\n"
	"lifecycle:\n"
	"  - track: sub\n"
	"    replace: true\n"
	"    stages:\n"
	"      - {stage: decline, when: age >= $old, description: 老年客户}\n";

/* a diagnostic line of d */
static const char *diag_line(cp_diag *d, size_t i)
{
	return i < cp_diag_count(d) ? cp_diag_format(d, i) : "(none)";
}

START_TEST(test_track_replace)
{
	cp_ruleset *rs;
	cp_diag *d;
	cp_diag_new(&d);
	const char *const packs[] = {pack_a, pack_b};
	ck_assert_int_eq(compile_with(&rs, d, packs, 2), CP_OK);
	ck_assert_uint_eq(cp_diag_count(d), 0);
	/* in place: still the first track; the later pack's rules, otherwise, label */
	ck_assert_int_eq(cp_ruleset_track_count(rs), 2);
	ck_assert_int_eq(cp_ruleset_track_index(rs, "sub"), 0);
	ck_assert_int_eq(cp_ruleset_track_rule_count(rs, 0), 1);
	ck_assert_str_eq(cp_ruleset_track_rule_id(rs, 0, 0), "sub.decline");
	ck_assert_str_eq(cp_ruleset_track_rule_expr(rs, 0, 0), "age >= $old");
	ck_assert_str_eq(cp_ruleset_track_rule_description(rs, 0, 0), "老年客户");
	ck_assert_str_eq(cp_ruleset_track_rule_label(rs, 0, 0), "decline");
	ck_assert_int_eq(cp_ruleset_track_otherwise(rs, 0), CP_STAGE_UNKNOWN); /* optional */
	ck_assert_str_eq(cp_ruleset_track_label(rs, 0), "sub");
	ck_assert_int_eq(cp_ruleset_track_otherwise(rs, 1), CP_STAGE_UNKNOWN);
	/* stage('sub') in pack a now reads the replacement */
	cp_result *res;
	cp_result_new(&res, rs);
	cp_profile *p;
	cp_profile_new(&p, DS);
	apply_spec(p, DS, "msisdn=13800000009; age=70");
	cp_store_put(DST, p, NULL);
	ck_assert_int_eq(cp_eval_key(res, DST, "13800000009"), CP_OK);
	ck_assert_int_eq(cp_result_stage(res, 0), CP_STAGE_DECLINE);
	ck_assert_int_eq(cp_result_tag(res, cp_ruleset_tag_index(rs, "a.young_sub")), 0);
	apply_spec(p, DS, "age=20");
	cp_store_put(DST, p, NULL);
	cp_eval_key(res, DST, "13800000009");
	ck_assert_int_eq(cp_result_stage(res, 0), CP_STAGE_UNKNOWN);
	cp_profile_free(p);
	cp_result_free(res);
	cp_ruleset_free(rs);

	/* the default subscriber track replaced by a province's pack */
	cp_rules_opts *o;
	cp_rules_opts_new(&o);
	cp_rules_opts_add_defaults(o);
	static const char province[] =
		"custprof: 1\npack: fj\nlifecycle:\n"
		"  - track: subscriber\n    replace: true\n    label: 福建客户生命周期\n"
		"    stages:\n      - {stage: bad_debt, when: overdue_days >= 30}\n"
		"    otherwise: maturity\n";
	cp_rules_opts_add_memory(o, province, strlen(province), "fj.yaml");
	ck_assert_int_eq(cp_ruleset_compile(&rs, DS, o, NULL), CP_OK);
	ck_assert_int_eq(cp_ruleset_track_index(rs, "subscriber"), 0);
	ck_assert_str_eq(cp_ruleset_track_label(rs, 0), "福建客户生命周期");
	ck_assert_int_eq(cp_ruleset_track_count(rs), 7);
	cp_ruleset_free(rs);
	cp_rules_opts_free(o);
	cp_diag_free(d);
}
END_TEST

/* Each broken pack set and its first diagnostic. */
START_TEST(test_track_replace_errors)
{
	static const struct {
		const char *second, *message;
	} cases[] = {
		/* a silent duplicate */
		{"custprof: 1\npack: b\nlifecycle:\n  - track: sub\n    stages: []\n",
		 "p2.yaml:4:12: error: track 'sub' is already defined (p1.yaml:5:12); add "
		 "'replace: true' to replace it"},
		/* nothing to replace, with a suggestion */
		{"custprof: 1\npack: b\nlifecycle:\n  - track: subs\n    replace: true\n    stages: []\n",
		 "p2.yaml:4:12: error: track 'subs' has 'replace: true', but no earlier pack defines "
		 "it (did you mean 'sub'?)"},
		/* a replacement within one pack */
		{"custprof: 1\npack: b\nlifecycle:\n  - track: t\n    stages: []\n"
		 "  - track: t\n    replace: true\n    stages: []\n",
		 "p2.yaml:6:12: error: track 't' is defined twice in pack 'b' (first at line 4, "
		 "column 12): 'replace' replaces a track of an earlier pack"},
		{"custprof: 1\npack: b\nlifecycle:\n  - track: sub\n    replace: yes\n    stages: []\n",
		 "p2.yaml:5:14: error: 'replace' of a lifecycle track must be true or false"},
		{"custprof: 1\npack: b\nstage_info:\n  growth: {drivers: [chrun]}\n",
		 "p2.yaml:4:22: error: unknown value driver 'chrun' (did you mean 'churn'?)"},
		{"custprof: 1\npack: b\nstage_info:\n  growth: {drivers: [profit]}\n",
		 "p2.yaml:4:22: error: unknown value driver 'profit' (drivers: purchase_intent, "
		 "acquisition_cost, recurring_revenue, cost_to_serve, cross_sell, "
		 "tariff_adjustment, renewal, migration, churn, bad_debt, winback)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cp_ruleset *rs;
		cp_diag *d;
		cp_diag_new(&d);
		const char *const packs[] = {pack_a, cases[i].second};
		ck_assert_int_ne(compile_with(&rs, d, packs, 2), CP_OK);
		ck_assert_ptr_null(rs);
		ck_assert_msg(strcmp(diag_line(d, 0), cases[i].message) == 0, "case %zu: got\n%s", i,
		              diag_line(d, 0));
		cp_diag_free(d);
	}
}
END_TEST

/* =========================================================================
 * Month close on a schema with a series of every type
 * ========================================================================= */

static const char every_type_yaml[] =
	"custprof: 1\n"
	"schema: every\n"
	"months: 4\n"
	"key: id\n"
	"fields:\n"
	"  id: {type: string}\n"
	"  name: {type: string}\n"
	"  plan: {type: enum, values: [a, b, c]}\n"
	"  b: {type: bool, series: true}\n"
	"  i: {type: int, series: true}\n"
	"  f: {type: float, series: true}\n"
	"  m: {type: money, series: true}\n"
	"  s: {type: string, series: true}\n"
	"  ec: {type: enum, values: [x, y, z], series: true}\n"
	"  eo: {type: enum, series: true}\n"
	"  st: {type: set, series: true}\n"
	"  l: {type: list, max: 2, series: true}\n"
	"  d: {type: date, series: true}\n";

static const char every_rules[] =
	"custprof: 1\n"
	"pack: e\n"
	"lifecycle:\n"
	"  - track: use\n"
	"    stages:\n"
	"      - {stage: unknown, when: 'not present(i[0])'}\n"
	"      - {stage: silent, when: 'i[0] == 0'}\n"
	"      - {stage: growth, when: 'i[0] > i[1]'}\n"
	"    otherwise: maturity\n"
	"  - track: plan\n"
	"    stages:\n"
	"      - {stage: prospect, when: plan == 'a'}\n"
	"      - {stage: churned, when: plan == 'c'}\n"
	"    otherwise: maturity\n";

static cp_schema *ES;
static cp_ruleset *ER;
static cp_store *EST;

static void every_setup(void)
{
	cp_diag *d;
	cp_diag_new(&d);
	int rc = cp_schema_load_memory(&ES, every_type_yaml, strlen(every_type_yaml), "every.yaml", d);
	ck_assert_msg(rc == CP_OK, "%s", diag_line(d, 0));
	cp_rules_opts *o;
	cp_rules_opts_new(&o);
	cp_rules_opts_add_memory(o, every_rules, strlen(every_rules), "e.yaml");
	rc = cp_ruleset_compile(&ER, ES, o, d);
	ck_assert_msg(rc == CP_OK, "%s", diag_line(d, 0));
	cp_rules_opts_free(o);
	cp_diag_free(d);
	ck_assert_int_eq(cp_store_new(&EST, ES), CP_OK);
	ck_assert_int_eq(cp_store_set_as_of(EST, 202612), CP_OK);
	DIR_ = tu_mkdtemp();
}

static void every_teardown(void)
{
	cp_store_free(EST);
	cp_ruleset_free(ER);
	cp_schema_free(ES);
	tu_rmdir(DIR_);
	free(DIR_);
}

static void put_every(cp_store *st, const char *spec)
{
	cp_profile *p;
	ck_assert_int_eq(cp_profile_new(&p, ES), CP_OK);
	apply_spec(p, ES, spec);
	ck_assert_msg(cp_store_put(st, p, NULL) == CP_OK, "%s", cp_errmsg(st));
	cp_profile_free(p);
}

/* Every cell of a profile as text, "field[m]=v" joined by ' ' (nulls left
 * out). */
static char *cells_of(const cp_store *st, const char *key)
{
	cp_view *v;
	cp_view_new(&v, st);
	ck_assert_int_eq(cp_store_get(st, key, v), CP_OK);
	static char out[4096];
	size_t o = 0;
	const cp_schema *s = cp_store_schema(st);
	for (int f = 0; f < cp_schema_field_count(s); f++)
		for (int m = 0; m < cp_schema_field_months(s, f); m++) {
			if (cp_view_is_null(v, f, m))
				continue;
			char buf[256];
			cp_view_text(v, f, m, buf, sizeof(buf));
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s[%d]=%s", o ? " " : "",
			                      cp_schema_field_name(s, f), m, buf);
		}
	cp_view_free(v);
	return out;
}

static const char every_p1[] =
	"id=k1; name=张三; plan=b; b=1,0,1,; i=5,4,3,2; f=1.5,2.5,,4.5; m=10.01,20,30.5,;"
	"s=四,三,二,一; ec=x,y,z,x; eo=open1,open2,,open4; st=a|b,c,,d|e; l=p|q,r,s,t|u;"
	"d=2026-12-01,2026-11-01,2026-10-01,2026-09-01";

START_TEST(test_close_shift_every_type)
{
	put_every(EST, every_p1);
	put_every(EST, "id=k2; plan=a; i=0,1");
	put_every(EST, "id=k3; plan=c; i=,1");
	ck_assert_str_eq(cells_of(EST, "k1"),
	                 "id[0]=k1 name[0]=张三 plan[0]=b b[0]=1 b[1]=0 b[2]=1 i[0]=5 i[1]=4 "
	                 "i[2]=3 i[3]=2 f[0]=1.5 f[1]=2.5 f[3]=4.5 m[0]=10.01 m[1]=20 "
	                 "m[2]=30.50 s[0]=四 s[1]=三 s[2]=二 s[3]=一 ec[0]=x ec[1]=y ec[2]=z "
	                 "ec[3]=x eo[0]=open1 eo[1]=open2 eo[3]=open4 st[0]=a;b st[1]=c st[3]=d;e "
	                 "l[0]=p;q l[1]=r l[2]=s l[3]=t;u d[0]=2026-12-01 d[1]=2026-11-01 "
	                 "d[2]=2026-10-01 d[3]=2026-09-01");
	ck_assert_int_eq(cp_store_stage_history_count(EST), 0);
	ck_assert_int_eq(cp_store_close_month(EST, ER), CP_OK);
	/* every month moved one back, month 0 empty, the oldest dropped */
	ck_assert_str_eq(cells_of(EST, "k1"),
	                 "id[0]=k1 name[0]=张三 plan[0]=b b[1]=1 b[2]=0 b[3]=1 i[1]=5 i[2]=4 "
	                 "i[3]=3 f[1]=1.5 f[2]=2.5 m[1]=10.01 m[2]=20 m[3]=30.50 s[1]=四 "
	                 "s[2]=三 s[3]=二 ec[1]=x ec[2]=y ec[3]=z eo[1]=open1 eo[2]=open2 "
	                 "st[1]=a;b st[2]=c l[1]=p;q l[2]=r l[3]=s d[1]=2026-12-01 "
	                 "d[2]=2026-11-01 d[3]=2026-10-01");
	ck_assert_str_eq(cells_of(EST, "k2"), "id[0]=k2 plan[0]=a i[1]=0 i[2]=1");
	/* the as-of month advanced, across the year */
	ck_assert_int_eq(cp_store_as_of(EST), 202701);
	ck_assert_uint_eq(cp_store_count(EST), 3);
	/* the stages of the month closed, evaluated on it */
	ck_assert_int_eq(cp_store_stage_history_count(EST), 1);
	ck_assert_int_eq(cp_store_stage_history_month(EST, 0), 202612);
	ck_assert_uint_eq(cp_store_stage_history_size(EST, 0), 3);
	ck_assert_int_eq(cp_store_stage_history_track_count(EST, 0), 2);
	ck_assert_str_eq(cp_store_stage_history_track(EST, 0, 0), "use");
	ck_assert_str_eq(cp_store_stage_history_track(EST, 0, 1), "plan");
	ck_assert_int_eq(cp_store_stage_history_track_index(EST, 0, "plan"), 1);
	ck_assert_int_eq(cp_store_stage_history_track_index(EST, 0, "nope"), CP_ENOTFOUND);
	cp_view *v;
	cp_view_new(&v, EST);
	static const struct {
		const char *key;
		int use, plan;
	} want[] = {{"k1", CP_STAGE_GROWTH, CP_STAGE_MATURITY},
	            {"k2", CP_STAGE_SILENT, CP_STAGE_PROSPECT},
	            {"k3", CP_STAGE_UNKNOWN, CP_STAGE_CHURNED}};
	int seen = 0;
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(cp_store_get(EST, want[i].key, v), CP_OK);
		ck_assert_int_eq(cp_view_stage_history(v, 0, 0), want[i].use);
		ck_assert_int_eq(cp_view_stage_history(v, 0, 1), want[i].plan);
		/* the same through the entries */
		for (size_t e = 0; e < 3; e++)
			if (strcmp(cp_store_stage_history_key(EST, 0, e), want[i].key) == 0) {
				ck_assert_int_eq(cp_store_stage_history_stage(EST, 0, e, 0), want[i].use);
				ck_assert_int_eq(cp_store_stage_history_stage(EST, 0, e, 1), want[i].plan);
				seen |= 1 << i;
			}
	}
	ck_assert_int_eq(seen, 7);
	/* out of range */
	ck_assert_int_eq(cp_view_stage_history(v, 1, 0), CP_STAGE_NONE);
	ck_assert_int_eq(cp_view_stage_history(v, 0, 2), CP_STAGE_NONE);
	ck_assert_int_eq(cp_store_stage_history_month(EST, 1), 0);
	ck_assert_ptr_null(cp_store_stage_history_key(EST, 0, 3));
	ck_assert_int_eq(cp_store_stage_history_stage(EST, 0, 0, 2), CP_STAGE_NONE);
	ck_assert_ptr_null(cp_store_stage_history_track(EST, -1, 0));
	ck_assert_int_eq(cp_store_stage_history_count(NULL), 0);
	/* a profile added since the close was not recorded */
	put_every(EST, "id=k4; i=1");
	ck_assert_int_eq(cp_store_get(EST, "k4", v), CP_OK);
	ck_assert_int_eq(cp_view_stage_history(v, 0, 0), CP_STAGE_NONE);
	cp_view_free(v);
}
END_TEST

START_TEST(test_close_errors)
{
	cp_store *st;
	cp_store_new(&st, ES);
	put_every(st, "id=k1; i=1");
	ck_assert_int_eq(cp_store_close_month(st, ER), CP_EMISUSE);
	ck_assert_str_eq(cp_errmsg(st), "cannot close the month: the store has no as-of month "
	                 "(cp_store_set_as_of)");
	ck_assert_int_eq(cp_store_close_month(NULL, ER), CP_EINVAL);
	ck_assert_int_eq(cp_store_close_month(st, NULL), CP_EINVAL);
	/* the last month a store can hold */
	cp_store_set_as_of(st, 999912);
	ck_assert_int_eq(cp_store_close_month(st, ER), CP_EINVAL);
	/* rules of another schema */
	cp_store_set_as_of(st, 202601);
	cp_schema *dflt;
	cp_schema_default(&dflt);
	cp_ruleset *rs;
	ck_assert_int_eq(cp_ruleset_compile(&rs, dflt, NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_store_close_month(st, rs), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(st), "cannot close the month: the ruleset was compiled for "
	                 "schema 'cmcc-default', the store holds schema 'every'");
	/* nothing changed by the failures */
	ck_assert_int_eq(cp_store_as_of(st), 202601);
	ck_assert_int_eq(cp_store_stage_history_count(st), 0);
	ck_assert_str_eq(cells_of(st, "k1"), "id[0]=k1 i[0]=1");
	/* an empty store closes too */
	cp_store *empty;
	cp_store_new(&empty, ES);
	cp_store_set_as_of(empty, 202601);
	ck_assert_int_eq(cp_store_close_month(empty, ER), CP_OK);
	ck_assert_uint_eq(cp_store_stage_history_size(empty, 0), 0);
	ck_assert_int_eq(cp_store_as_of(empty), 202602);
	cp_store_free(empty);
	cp_ruleset_free(rs);
	cp_schema_free(dflt);
	cp_store_free(st);
}
END_TEST

/* ---- all or nothing: allocation failures ---- */

static long fail_after = -1; /* allocations left before one fails; -1: never */

static void *fail_malloc(size_t n)
{
	if (fail_after == 0)
		return NULL;
	if (fail_after > 0)
		fail_after--;
	return malloc(n);
}

static void *fail_realloc(void *p, size_t n)
{
	if (fail_after == 0)
		return NULL;
	if (fail_after > 0)
		fail_after--;
	return realloc(p, n);
}

START_TEST(test_close_all_or_nothing)
{
	put_every(EST, every_p1);
	put_every(EST, "id=k2; plan=a; i=0,1");
	char before[4096];
	snprintf(before, sizeof(before), "%s", cells_of(EST, "k1"));
	/* every allocation of a close fails in turn: the store stays as it was */
	int closed = 0;
	for (long n = 0; !closed && n < 200; n++) {
		fail_after = n;
		int rc = cp_store_close_month(EST, ER);
		fail_after = -1;
		if (rc == CP_OK) {
			closed = 1;
			break;
		}
		ck_assert_int_eq(rc, CP_ENOMEM);
		ck_assert_int_eq(cp_store_as_of(EST), 202612);
		ck_assert_int_eq(cp_store_stage_history_count(EST), 0);
		ck_assert_str_eq(cells_of(EST, "k1"), before);
	}
	ck_assert(closed);
	ck_assert_int_eq(cp_store_as_of(EST), 202701);
	ck_assert_int_eq(cp_store_stage_history_count(EST), 1);
}
END_TEST

START_TEST(test_close_depth)
{
	put_every(EST, "id=k1; plan=a; i=1");
	/* months + 1 closes: the history keeps the last 4 (the series' depth) */
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(cp_store_close_month(EST, ER), CP_OK);
		put_every(EST, "id=k1; plan=c; i=2");
	}
	ck_assert_int_eq(cp_store_stage_history_count(EST), 4);
	ck_assert_int_eq(cp_store_stage_history_month(EST, 0), 202704);
	ck_assert_int_eq(cp_store_stage_history_month(EST, 3), 202701);
	ck_assert_int_eq(cp_store_as_of(EST), 202705);
	cp_view *v;
	cp_view_new(&v, EST);
	cp_store_get(EST, "k1", v);
	/* put (plan c) after each close: every close recorded churned */
	for (int c = 0; c < 4; c++)
		ck_assert_int_eq(cp_view_stage_history(v, c, 1), CP_STAGE_CHURNED);
	cp_view_free(v);
}
END_TEST

/* ---- snapshots ---- */

/* The whole history as text, for comparing two stores. */
static char *history_text(const cp_store *st)
{
	static char out[8192];
	size_t o = 0;
	for (int c = 0; c < cp_store_stage_history_count(st); c++) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "close %d:", cp_store_stage_history_month(st, c));
		for (int t = 0; t < cp_store_stage_history_track_count(st, c); t++)
			o += (size_t)snprintf(out + o, sizeof(out) - o, " %s", cp_store_stage_history_track(st, c, t));
		/* entries sorted by key for a stable text */
		size_t n = cp_store_stage_history_size(st, c);
		for (int pass = 0; pass < 10; pass++) {
			char key[16];
			snprintf(key, sizeof(key), "k%d", pass);
			for (size_t e = 0; e < n; e++) {
				if (strcmp(cp_store_stage_history_key(st, c, e), key) != 0)
					continue;
				o += (size_t)snprintf(out + o, sizeof(out) - o, " %s", key);
				for (int t = 0; t < cp_store_stage_history_track_count(st, c); t++)
					o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", t ? "," : "=",
					                      cp_stage_name(cp_store_stage_history_stage(st, c, e, t)));
			}
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "\n");
	}
	return out;
}

static uint32_t header_u32(const char *path, size_t off)
{
	size_t len;
	char *b = tu_read_file(path, &len);
	uint32_t v;
	memcpy(&v, b + off, 4);
	free(b);
	return v;
}

START_TEST(test_close_snapshot_round_trip)
{
	put_every(EST, every_p1);
	put_every(EST, "id=k2; plan=a; i=0,1");
	char *path = strdup(tu_path(DIR_, "s.cps"));
	/* no history: written as version 1, 7 sections */
	ck_assert_int_eq(cp_store_save(EST, path, 0), CP_OK);
	ck_assert_uint_eq(header_u32(path, CPS_H_VERSION), 1);
	ck_assert_uint_eq(header_u32(path, CPS_H_NSECTIONS), 7);

	ck_assert_int_eq(cp_store_close_month(EST, ER), CP_OK);
	put_every(EST, "id=k3; plan=c; i=7");
	ck_assert_int_eq(cp_store_close_month(EST, ER), CP_OK);
	char want[8192], cells[4096];
	snprintf(want, sizeof(want), "%s", history_text(EST));
	/* k3 (added between the closes) has no month before: i[0] > i[1] is null */
	ck_assert_str_eq(want, "close 202701: use plan k1=unknown,maturity k2=unknown,prospect "
	                 "k3=maturity,churned\n"
	                 "close 202612: use plan k1=growth,maturity k2=silent,prospect\n");
	snprintf(cells, sizeof(cells), "%s", cells_of(EST, "k1"));
	for (int flags = 0; flags <= CP_SAVE_COMPRESS; flags += CP_SAVE_COMPRESS) {
		ck_assert_int_eq(cp_store_save(EST, path, flags), CP_OK);
		ck_assert_uint_eq(header_u32(path, CPS_H_VERSION), 2);
		ck_assert_uint_eq(header_u32(path, CPS_H_NSECTIONS), 8);
		ck_assert_int_eq(cp_snapshot_verify(path, NULL), CP_OK);
		cp_store *o;
		ck_assert_int_eq(cp_store_open(&o, path, NULL), CP_OK);
		ck_assert_str_eq(history_text(o), want);
		ck_assert_str_eq(cells_of(o, "k1"), cells);
		ck_assert_int_eq(cp_store_as_of(o), 202702);
		cp_view *v;
		cp_view_new(&v, o);
		cp_store_get(o, "k3", v);
		ck_assert_int_eq(cp_view_stage_history(v, 0, 1), CP_STAGE_CHURNED);
		ck_assert_int_eq(cp_view_stage_history(v, 1, 1), CP_STAGE_NONE);
		cp_view_free(v);
		/* a history read from a file saves as it was */
		char *again = strdup(tu_path(DIR_, "again.cps"));
		ck_assert_int_eq(cp_store_save(o, again, 0), CP_OK);
		cp_store *o2;
		ck_assert_int_eq(cp_store_open(&o2, again, NULL), CP_OK);
		ck_assert_str_eq(history_text(o2), want);
		/* a close of an opened store: its file is written anew */
		ck_assert_int_eq(cp_store_close_month(o2, ER), CP_OK);
		cp_store_free(o2);
		ck_assert_int_eq(cp_store_open(&o2, again, NULL), CP_OK);
		ck_assert_int_eq(cp_store_stage_history_count(o2), 3);
		ck_assert_int_eq(cp_store_stage_history_month(o2, 0), 202702);
		ck_assert_int_eq(cp_store_as_of(o2), 202703);
		ck_assert_str_eq(cells_of(o2, "k1"),
		                 "id[0]=k1 name[0]=张三 plan[0]=b b[3]=1 i[3]=5 f[3]=1.5 m[3]=10.01 "
		                 "s[3]=四 ec[3]=x eo[3]=open1 st[3]=a;b l[3]=p;q d[3]=2026-12-01");
		cp_store_free(o2);
		free(again);
		cp_store_free(o);
	}
	/* opened read-only: no close */
	cp_open_opts *oo;
	cp_open_opts_new(&oo);
	cp_open_opts_set_read_only(oo, 1);
	cp_store *ro;
	ck_assert_int_eq(cp_store_open_ex(&ro, path, oo, NULL), CP_OK);
	ck_assert_int_eq(cp_store_close_month(ro, ER), CP_EMISUSE);
	ck_assert_int_eq(cp_store_as_of(ro), 202702);
	ck_assert_str_eq(history_text(ro), want);
	cp_store_free(ro);
	cp_open_opts_free(oo);
	free(path);
}
END_TEST

/* Offset of the stages section of a snapshot file, and its length. */
static void stages_section(const char *bytes, uint64_t *off, uint64_t *len)
{
	const char *e = bytes + CPS_FIXED_HEADER + (size_t)(CPS_SEC_STAGES - 1) * CPS_ENTRY_SIZE;
	memcpy(off, e + CPS_E_OFFSET, 8);
	memcpy(len, e + CPS_E_LENGTH, 8);
}

/* Write bytes back with every CRC recomputed, so that only the content is
 * wrong. */
static void reseal_write(const char *path, char *b, size_t len);

START_TEST(test_close_snapshot_damage)
{
	put_every(EST, every_p1);
	put_every(EST, "id=k2; plan=a; i=0,1");
	ck_assert_int_eq(cp_store_close_month(EST, ER), CP_OK);
	char *path = strdup(tu_path(DIR_, "s.cps"));
	ck_assert_int_eq(cp_store_save(EST, path, 0), CP_OK);
	size_t len;
	char *orig = tu_read_file(path, &len);
	uint64_t off, slen;
	stages_section(orig, &off, &slen);
	/* section: header 16; close: month, ntracks, n, names_len; names "use\0plan\0"
	 * (9, padded to 16); 2 keys (8); 4 stages (padded to 8) */
	ck_assert_uint_eq(slen, 16 + 16 + 16 + 8 + 8);
	static const struct {
		uint64_t at;      /* where the damage is written */
		uint32_t value;
		int opens;        /* 1: opens (the damage shows at use and at verify) */
		uint64_t where;   /* offset in the section the message names */
		const char *why;
	} cases[] = {
		{0, 9, 0, 0, "unknown version of the stage history"},
		{4, 37, 0, 4, "more closes than months a series can hold"},
		{4, 2, 0, 64, "a close's header runs past the end"},
		{8, 1, 0, 8, "a reserved field is not zero"},
		{16, 202613, 0, 16, "a close's month is not yyyymm"},
		{20, 3, 0, 32, "the track names do not match the track count"},
		{24, 1000, 0, 16, "a close runs past the end of the section"},
		{32, 0x00657300, 0, 32, "an empty track name"},
		{48, 999999, 1, 48, "a key is not a string of the pool"},
		{56, 0x0b0b0b0b, 1, 56, "a stage outside enum cp_stage"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *b = malloc(len);
		memcpy(b, orig, len);
		memcpy(b + off + cases[i].at, &cases[i].value, 4);
		reseal_write(path, b, len);
		free(b);
		cp_diag *d;
		cp_diag_new(&d);
		cp_store *o;
		char msg[512];
		snprintf(msg, sizeof(msg), "section stages at offset %llu: %s",
		         (unsigned long long)(off + cases[i].where), cases[i].why);
		int rc = cp_store_open(&o, path, d);
		if (!cases[i].opens) {
			ck_assert_int_eq(rc, CP_ECORRUPT);
			ck_assert_ptr_null(o);
		} else {
			ck_assert_int_eq(rc, CP_OK);
			/* a bad key is never followed; a bad stage reads as unknown */
			if (cases[i].at == 48)
				ck_assert_ptr_null(cp_store_stage_history_key(o, 0, 0));
			else
				ck_assert_int_eq(cp_store_stage_history_stage(o, 0, 0, 0), CP_STAGE_UNKNOWN);
			cp_store_free(o);
			cp_diag_clear(d);
			ck_assert_int_eq(cp_snapshot_verify(path, d), CP_ECORRUPT);
		}
		ck_assert_msg(strstr(diag_line(d, 0), msg) != NULL, "case %zu: got '%s', expected '%s'",
		              i, diag_line(d, 0), msg);
		cp_diag_free(d);
	}
	free(orig);
	free(path);
}
END_TEST

static uint32_t crc_of(const char *data, uint64_t n);

static void reseal_write(const char *path, char *b, size_t len)
{
	uint32_t nsec;
	memcpy(&nsec, b + CPS_H_NSECTIONS, 4);
	for (uint32_t k = 1; k <= nsec; k++) {
		char *e = b + CPS_FIXED_HEADER + (size_t)(k - 1) * CPS_ENTRY_SIZE;
		uint64_t o, l;
		memcpy(&o, e + CPS_E_OFFSET, 8);
		memcpy(&l, e + CPS_E_LENGTH, 8);
		uint32_t crc = crc_of(b + o, l);
		memcpy(e + CPS_E_CRC, &crc, 4);
	}
	uint32_t zero = 0;
	memcpy(b + CPS_H_HEADER_CRC, &zero, 4);
	uint32_t crc = crc_of(b, CPS_HEADER_SIZE);
	memcpy(b + CPS_H_HEADER_CRC, &crc, 4);
	tu_write_file(path, b, len);
}

#include <zlib.h>

static uint32_t crc_of(const char *data, uint64_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)data, (uInt)n);
}

/* =========================================================================
 * Loading a month on top, transitions
 * ========================================================================= */

static int load_csv(cp_store *st, const char *csv, int merge, cp_load_report *rep)
{
	cp_load_opts *o;
	cp_load_opts_new(&o);
	ck_assert_int_eq(cp_load_opts_set_merge(o, merge), CP_OK);
	int rc = cp_store_load_csv_memory(st, csv, strlen(csv), "m.csv", o, rep);
	cp_load_opts_free(o);
	return rc;
}

START_TEST(test_merge_load)
{
	put_every(EST, every_p1);
	ck_assert_int_eq(cp_store_close_month(EST, ER), CP_OK);
	/* the new month's export: month 0 of some series, one scalar, a new key,
	 * an empty cell (null), a bad row (rejected whole), a key twice */
	static const char csv[] =
		"id,i_m0,s_m0,st_m0,plan,f_m1\n"
		"k1,9,五,x;y,c,\n"
		"k9,1,,,a,\n"
		"k1,10,六,z,,\n"
		"k2,nope,,,,\n";
	cp_load_report *rep;
	cp_load_report_new(&rep);
	ck_assert_int_eq(load_csv(EST, csv, 1, rep), CP_OK);
	ck_assert_uint_eq(cp_load_report_rows(rep), 4);
	ck_assert_uint_eq(cp_load_report_loaded(rep), 3);
	ck_assert_uint_eq(cp_load_report_rejected(rep), 1);
	ck_assert_uint_eq(cp_load_report_duplicates(rep), 0); /* updates are not duplicates */
	/* k1: the columns of the file set (plan and f[1] to null by the later
	 * row), the rest kept from before the close */
	ck_assert_str_eq(cells_of(EST, "k1"),
	                 "id[0]=k1 name[0]=张三 b[1]=1 b[2]=0 b[3]=1 i[0]=10 i[1]=5 i[2]=4 "
	                 "i[3]=3 f[2]=2.5 m[1]=10.01 m[2]=20 m[3]=30.50 s[0]=六 s[1]=四 "
	                 "s[2]=三 s[3]=二 ec[1]=x ec[2]=y ec[3]=z eo[1]=open1 eo[2]=open2 "
	                 "st[0]=z st[1]=a;b st[2]=c l[1]=p;q l[2]=r l[3]=s d[1]=2026-12-01 "
	                 "d[2]=2026-11-01 d[3]=2026-10-01");
	ck_assert_str_eq(cells_of(EST, "k9"), "id[0]=k9 plan[0]=a i[0]=1");
	cp_view *v;
	cp_view_new(&v, EST);
	ck_assert_int_eq(cp_store_get(EST, "k2", v), CP_ENOTFOUND);
	cp_view_free(v);
	/* without merge a row replaces the whole profile, and a repeat is a duplicate */
	cp_load_report_free(rep);
	cp_load_report_new(&rep);
	ck_assert_int_eq(load_csv(EST, "id,i_m0\nk1,3\nk1,4\n", 0, rep), CP_OK);
	ck_assert_uint_eq(cp_load_report_duplicates(rep), 2);
	ck_assert_str_eq(cells_of(EST, "k1"), "id[0]=k1 i[0]=4");
	cp_load_report_free(rep);
	ck_assert_int_eq(cp_load_opts_set_merge(NULL, 1), CP_EINVAL);
}
END_TEST

START_TEST(test_merge_load_opened_store)
{
	/* a store used from a snapshot: rows of the base merged through the log */
	put_every(EST, every_p1);
	char *path = strdup(tu_path(DIR_, "s.cps"));
	ck_assert_int_eq(cp_store_save(EST, path, 0), CP_OK);
	cp_store *o;
	ck_assert_int_eq(cp_store_open(&o, path, NULL), CP_OK);
	ck_assert_int_eq(load_csv(o, "id,i_m3,name\nk1,8,李四\n", 1, NULL), CP_OK);
	cp_store_free(o);
	ck_assert_int_eq(cp_store_open(&o, path, NULL), CP_OK);
	ck_assert_str_eq(cells_of(o, "k1"),
	                 "id[0]=k1 name[0]=李四 plan[0]=b b[0]=1 b[1]=0 b[2]=1 i[0]=5 i[1]=4 "
	                 "i[2]=3 i[3]=8 f[0]=1.5 f[1]=2.5 f[3]=4.5 m[0]=10.01 m[1]=20 "
	                 "m[2]=30.50 s[0]=四 s[1]=三 s[2]=二 s[3]=一 ec[0]=x ec[1]=y ec[2]=z "
	                 "ec[3]=x eo[0]=open1 eo[1]=open2 eo[3]=open4 st[0]=a;b st[1]=c st[3]=d;e "
	                 "l[0]=p;q l[1]=r l[2]=s l[3]=t;u d[0]=2026-12-01 d[1]=2026-11-01 "
	                 "d[2]=2026-10-01 d[3]=2026-09-01");
	cp_store_free(o);
	free(path);
}
END_TEST

START_TEST(test_transitions)
{
	/* k1 growth->silent, k2 silent->silent, k3 unknown->growth, k4 gone,
	 * k5 new; plan: k1 maturity->prospect ... */
	put_every(EST, "id=k1; plan=b; i=5,4");
	put_every(EST, "id=k2; plan=a; i=0,1");
	put_every(EST, "id=k3; plan=c; i=,1");
	put_every(EST, "id=k4; plan=b; i=1,1");
	cp_result *res;
	cp_result_new(&res, ER);
	cp_transitions *tr;
	ck_assert_int_eq(cp_transitions_new(&tr, res, EST, 0), CP_ENOTFOUND);
	ck_assert_ptr_null(tr);
	ck_assert_str_eq(cp_errmsg(res), "the store has no month close 0 (0 recorded)");
	ck_assert_int_eq(cp_store_close_month(EST, ER), CP_OK);
	put_every(EST, "id=k1; plan=a; i=0,5");
	put_every(EST, "id=k2; plan=a; i=0,0");
	put_every(EST, "id=k3; plan=c; i=2,1");
	ck_assert_int_eq(cp_store_delete(EST, "k4"), CP_OK);
	put_every(EST, "id=k5; plan=b; i=3,3");
	ck_assert_int_eq(cp_transitions_new(&tr, res, EST, 0), CP_OK);
	ck_assert_int_eq(cp_transitions_month(tr), 202612);
	ck_assert_uint_eq(cp_transitions_total(tr), 5);
	/* track "use" */
	ck_assert_uint_eq(cp_transitions_count(tr, 0, CP_STAGE_GROWTH, CP_STAGE_SILENT), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 0, CP_STAGE_SILENT, CP_STAGE_SILENT), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 0, CP_STAGE_UNKNOWN, CP_STAGE_GROWTH), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 0, CP_STAGE_MATURITY, CP_STAGE_NONE), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 0, CP_STAGE_NONE, CP_STAGE_MATURITY), 1);
	/* track "plan" */
	ck_assert_uint_eq(cp_transitions_count(tr, 1, CP_STAGE_MATURITY, CP_STAGE_PROSPECT), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 1, CP_STAGE_PROSPECT, CP_STAGE_PROSPECT), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 1, CP_STAGE_CHURNED, CP_STAGE_CHURNED), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 1, CP_STAGE_MATURITY, CP_STAGE_NONE), 1);
	ck_assert_uint_eq(cp_transitions_count(tr, 1, CP_STAGE_NONE, CP_STAGE_MATURITY), 1);
	/* every subscriber counted once per track */
	for (int t = 0; t < 2; t++) {
		uint64_t sum = 0;
		for (int f = CP_STAGE_NONE; f <= CP_STAGE_BAD_DEBT; f++)
			for (int to = CP_STAGE_NONE; to <= CP_STAGE_BAD_DEBT; to++)
				sum += cp_transitions_count(tr, t, f, to);
		ck_assert_uint_eq(sum, 5);
	}
	/* out of range */
	ck_assert_uint_eq(cp_transitions_count(tr, 2, 0, 0), 0);
	ck_assert_uint_eq(cp_transitions_count(tr, 0, -2, 0), 0);
	ck_assert_uint_eq(cp_transitions_count(tr, 0, 0, 11), 0);
	ck_assert_uint_eq(cp_transitions_count(NULL, 0, 0, 0), 0);
	cp_transitions_free(tr);
	cp_transitions_free(NULL);

	/* a ruleset with a track the close did not record: from is none */
	static const char more[] =
		"custprof: 1\npack: f\nlifecycle:\n  - track: extra\n    stages: []\n"
		"    otherwise: growth\n";
	cp_rules_opts *o;
	cp_rules_opts_new(&o);
	cp_rules_opts_add_memory(o, every_rules, strlen(every_rules), "e.yaml");
	cp_rules_opts_add_memory(o, more, strlen(more), "f.yaml");
	cp_ruleset *rs2;
	ck_assert_int_eq(cp_ruleset_compile(&rs2, ES, o, NULL), CP_OK);
	cp_result *res2;
	cp_result_new(&res2, rs2);
	ck_assert_int_eq(cp_transitions_new(&tr, res2, EST, 0), CP_OK);
	ck_assert_uint_eq(cp_transitions_count(tr, 2, CP_STAGE_NONE, CP_STAGE_GROWTH), 4);
	ck_assert_uint_eq(cp_transitions_count(tr, 2, CP_STAGE_NONE, CP_STAGE_NONE), 1);
	cp_transitions_free(tr);
	ck_assert_int_eq(cp_transitions_new(&tr, res2, EST, 1), CP_ENOTFOUND);
	ck_assert_int_eq(cp_transitions_new(NULL, res2, EST, 0), CP_EINVAL);
	ck_assert_int_eq(cp_transitions_new(&tr, NULL, EST, 0), CP_EINVAL);
	cp_result_free(res2);
	cp_ruleset_free(rs2);
	cp_rules_opts_free(o);

	/* a ruleset of another schema */
	cp_schema *dflt;
	cp_schema_default(&dflt);
	cp_ruleset *drs;
	ck_assert_int_eq(cp_ruleset_compile(&drs, dflt, NULL, NULL), CP_OK);
	cp_result *dres;
	cp_result_new(&dres, drs);
	ck_assert_int_eq(cp_transitions_new(&tr, dres, EST, 0), CP_EINVAL);
	ck_assert_ptr_null(tr);
	ck_assert_str_eq(cp_errmsg(dres), "the store's schema 'every' does not match the "
	                 "ruleset's schema 'cmcc-default'");
	cp_result_free(dres);
	cp_ruleset_free(drs);
	cp_schema_free(dflt);
	cp_result_free(res);
}
END_TEST

/* A store opened from a file: every allocation failing in turn.  Before
 * the shift nothing changes; a failure while the file is written anew
 * leaves the store closed in memory, refusing updates, and the file as it
 * was or (a failure after the new snapshot's rename) closed. */
START_TEST(test_close_all_or_nothing_opened)
{
	put_every(EST, every_p1);
	put_every(EST, "id=k2; plan=a; i=0,1");
	char *path = strdup(tu_path(DIR_, "s.cps"));
	ck_assert_int_eq(cp_store_save(EST, path, 0), CP_OK);
	char before[4096];
	snprintf(before, sizeof(before), "%s", cells_of(EST, "k1"));
	int closed = 0, broken = 0;
	for (long n = 0; !closed && n < 2000; n++) {
		cp_store *o;
		ck_assert_int_eq(cp_store_open(&o, path, NULL), CP_OK);
		fail_after = n;
		int rc = cp_store_close_month(o, ER);
		fail_after = -1;
		if (rc == CP_OK) {
			closed = 1;
		} else if (cp_store_as_of(o) == 202612) {
			ck_assert_int_eq(cp_store_stage_history_count(o), 0);
			ck_assert_str_eq(cells_of(o, "k1"), before);
		} else {
			/* closed in memory, not on disk */
			broken++;
			ck_assert_int_eq(cp_store_stage_history_count(o), 1);
			cp_profile *p;
			cp_profile_new(&p, ES);
			apply_spec(p, ES, "id=k7");
			ck_assert_int_ne(cp_store_put(o, p, NULL), CP_OK);
			cp_profile_free(p);
		}
		cp_store_free(o);
		if (!closed) {
			/* the file holds the month as it was, or the month closed */
			ck_assert_int_eq(cp_store_open(&o, path, NULL), CP_OK);
			if (cp_store_as_of(o) == 202612) {
				ck_assert_int_eq(cp_store_stage_history_count(o), 0);
				ck_assert_str_eq(cells_of(o, "k1"), before);
				cp_store_free(o);
			} else {
				ck_assert_int_eq(cp_store_as_of(o), 202701);
				ck_assert_int_eq(cp_store_stage_history_count(o), 1);
				ck_assert_str_ne(cells_of(o, "k1"), before);
				cp_store_free(o);
				/* start again from the month as it was */
				ck_assert_int_eq(cp_store_save(EST, path, 0), CP_OK);
			}
		}
	}
	ck_assert(closed);
	ck_assert_int_gt(broken, 0);
	cp_store *o;
	ck_assert_int_eq(cp_store_open(&o, path, NULL), CP_OK);
	ck_assert_int_eq(cp_store_as_of(o), 202701);
	ck_assert_int_eq(cp_store_stage_history_count(o), 1);
	cp_store_free(o);
	free(path);
}
END_TEST

static Suite *lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("default");
	tcase_add_checked_fixture(tc, default_setup, default_teardown);
	tcase_add_test(tc, test_default_tags);
	tcase_add_test(tc, test_default_stages);
	tcase_add_test(tc, test_default_reports);
	tcase_add_test(tc, test_track_replace);
	tcase_add_test(tc, test_track_replace_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("month");
	tcase_add_checked_fixture(tc, every_setup, every_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_close_shift_every_type);
	tcase_add_test(tc, test_close_errors);
	tcase_add_test(tc, test_close_all_or_nothing);
	tcase_add_test(tc, test_close_all_or_nothing_opened);
	tcase_add_test(tc, test_close_depth);
	tcase_add_test(tc, test_close_snapshot_round_trip);
	tcase_add_test(tc, test_close_snapshot_damage);
	tcase_add_test(tc, test_merge_load);
	tcase_add_test(tc, test_merge_load_opened_store);
	tcase_add_test(tc, test_transitions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* before anything allocates: the all-or-nothing tests fail allocations */
	if (cp_set_allocator(fail_malloc, fail_realloc, free) != CP_OK)
		return 1;
	return tu_run(lifecycle_suite());
}
