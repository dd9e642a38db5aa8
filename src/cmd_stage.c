/*
 * cmd_stage.c — custprof stage and close-month: lifecycle stages per
 * track, the transitions since the last month close, and the month close
 * itself (custprof(1), DESIGN §6).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { FMT_TEXT, FMT_CSV };

static int parse_format(const char *text, int *format)
{
	if (!text || strcmp(text, "text") == 0)
		*format = FMT_TEXT;
	else if (strcmp(text, "csv") == 0)
		*format = FMT_CSV;
	else {
		cli_error("invalid --format '%s': text or csv", text);
		return EXIT_ERROR;
	}
	return CLI_GO;
}

/* "growth" or, for CP_STAGE_NONE, what it stands for on that side. */
static const char *stage_word(int stage, int from)
{
	if (stage == CP_STAGE_NONE)
		return from ? "new" : "gone";
	return cp_stage_name(stage);
}

/* "growth 成长", "(new)" */
static const char *stage_text(const cp_ruleset *rs, int stage, int from, char *buf, size_t size)
{
	if (stage == CP_STAGE_NONE)
		snprintf(buf, size, "(%s)", stage_word(stage, from));
	else
		snprintf(buf, size, "%s %s", cp_stage_name(stage), cp_ruleset_stage_label(rs, stage));
	return buf;
}

/* The drivers of a stage: labels ("经常收入, 交叉销售") or ids ("a;b"). */
static const char *drivers_text(const cp_ruleset *rs, int stage, int ids, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	int n = stage == CP_STAGE_NONE ? 0 : cp_ruleset_stage_driver_count(rs, stage);
	for (int i = 0; i < n && o < size; i++) {
		const char *d = ids ? cp_ruleset_stage_driver(rs, stage, i)
		                    : cp_ruleset_stage_driver_label(rs, stage, i);
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? (ids ? ";" : ", ") : "",
		                      d ? d : "?");
	}
	return buf;
}

/* Track chosen by --track (or -1: every track); EXIT_ERROR if unknown. */
static int pick_track(const cp_ruleset *rs, const char *name, int *track)
{
	*track = -1;
	if (!name)
		return CLI_GO;
	if ((*track = cp_ruleset_track_index(rs, name)) < 0) {
		cli_error("stage: no track '%s' in the rules", name);
		return EXIT_ERROR;
	}
	return CLI_GO;
}

static int first_track(int only)
{
	return only >= 0 ? only : 0;
}

static int end_track(const cp_ruleset *rs, int only)
{
	return only >= 0 ? only + 1 : cp_ruleset_track_count(rs);
}

/* ---- stage: one subscriber ---- */

/* The stage recorded at the last close on the ruleset's track t. */
static int recorded(const cp_store *store, const cp_view *view, const cp_ruleset *rs, int t)
{
	if (cp_store_stage_history_count(store) == 0)
		return CP_STAGE_NONE;
	int ht = cp_store_stage_history_track_index(store, 0, cp_ruleset_track_name(rs, t));
	return ht < 0 ? CP_STAGE_NONE : cp_view_stage_history(view, 0, ht);
}

static void print_one(const cp_store *store, const cp_ruleset *rs, const cp_result *res,
                      const cp_view *view, int only, int transitions, int format)
{
	const char *key = cp_view_key(view);
	char a[128], b[128], d[256], month[16], closed[16];
	int history = cp_store_stage_history_count(store) > 0;
	cli_format_month(cp_store_as_of(store), month, sizeof(month));
	cli_format_month(history ? cp_store_stage_history_month(store, 0) : 0, closed,
	                 sizeof(closed));
	if (format == FMT_TEXT) {
		if (transitions)
			printf("%s: stages at the close of %s -> as of %s\n", key, closed, month);
		else
			printf("%s: as of %s\n", key, month);
	}
	for (int t = first_track(only); t < end_track(rs, only); t++) {
		int stage = cp_result_stage(res, t), was = recorded(store, view, rs, t);
		const char *rule = cp_result_stage_rule_id(res, t);
		const char *track = cp_ruleset_track_name(rs, t);
		if (format == FMT_CSV) {
			cli_csv_field(stdout, key);
			printf(",%s,", track);
			if (transitions)
				printf("%s,", stage_word(was, 1));
			printf("%s,", cp_stage_name(stage));
			cli_csv_field(stdout, rule);
			putchar('\n');
			continue;
		}
		printf("  ");
		cli_print_padded(stdout, track, 12);
		if (transitions) {
			cli_print_padded(stdout, stage_text(rs, was, 1, a, sizeof(a)), 22);
			printf("-> ");
		}
		cli_print_padded(stdout, stage_text(rs, stage, 0, b, sizeof(b)), 22);
		cli_print_padded(stdout, rule, 24);
		printf("%s\n", drivers_text(rs, stage, 0, d, sizeof(d)));
		if (transitions)
			continue;
		/* the reason in words, as the pack gives it */
		int r = cp_result_stage_rule(res, t);
		const char *why = r >= 0 ? cp_ruleset_track_rule_description(rs, t, r) : "";
		if (*why)
			printf("  %12s%s\n", "", why);
		if (was != CP_STAGE_NONE && was != stage)
			printf("  %12s(at the close of %s: %s)\n", "", closed,
			       stage_text(rs, was, 1, a, sizeof(a)));
	}
}

/* ---- stage: every subscriber ---- */

typedef struct stage_job {
	const cp_store *store;
	const cp_ruleset *rs;
	cp_result *res;
	cp_view *view;
	int only, transitions, list, format;
} stage_job;

static void print_row(const stage_job *j)
{
	const char *key = cp_view_key(j->view);
	if (j->format == FMT_CSV && !j->list) {
		for (int t = first_track(j->only); t < end_track(j->rs, j->only); t++) {
			cli_csv_field(stdout, key);
			printf(",%s,%s,", cp_ruleset_track_name(j->rs, t),
			       cp_stage_name(cp_result_stage(j->res, t)));
			cli_csv_field(stdout, cp_result_stage_rule_id(j->res, t));
			putchar('\n');
		}
		return;
	}
	if (j->list) {
		/* the subscriber's changes since the close, one per track */
		for (int t = first_track(j->only); t < end_track(j->rs, j->only); t++) {
			int to = cp_result_stage(j->res, t), from = recorded(j->store, j->view, j->rs, t);
			if (from == to)
				continue;
			if (j->format == FMT_CSV) {
				cli_csv_field(stdout, key);
				printf(",%s,%s,%s,", cp_ruleset_track_name(j->rs, t), stage_word(from, 1),
				       cp_stage_name(to));
				cli_csv_field(stdout, cp_result_stage_rule_id(j->res, t));
				putchar('\n');
			} else {
				printf("%s %s: %s -> %s (%s)\n", key, cp_ruleset_track_name(j->rs, t),
				       stage_word(from, 1), cp_stage_name(to),
				       cp_result_stage_rule_id(j->res, t));
			}
		}
		return;
	}
	printf("%s", key);
	for (int t = first_track(j->only); t < end_track(j->rs, j->only); t++)
		printf(" %s:%s", cp_ruleset_track_name(j->rs, t),
		       cp_stage_name(cp_result_stage(j->res, t)));
	putchar('\n');
}

static int stage_all(stage_job *j)
{
	cp_iter *it;
	cli_progress progress;
	size_t done = 0, total = cp_store_count(j->store);
	int rc;

	if (cp_iter_new(&it, j->store) != CP_OK) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	if (j->format == FMT_CSV)
		puts(j->list ? "msisdn,track,from,to,rule" : "msisdn,track,stage,rule");
	cli_progress_begin(&progress);
	while ((rc = cp_iter_next(it, j->view)) == CP_OK) {
		if ((rc = cp_eval(j->res, j->view)) != CP_OK)
			break;
		print_row(j);
		if (++done % 4096 == 0 && cli_progress_due(&progress)) {
			char line[64];
			snprintf(line, sizeof(line), "stage: %zu of %zu", done, total);
			cli_progress_show(&progress, line);
		}
	}
	cli_progress_end(&progress);
	cp_iter_free(it);
	if (rc != CP_DONE) {
		cli_error("stage: %s", cp_errmsg(j->res));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* ---- stage --all --transitions: the matrix ---- */

static void print_matrix(const stage_job *j, const cp_transitions *tr)
{
	const cp_ruleset *rs = j->rs;
	char a[128], b[128], d[256], month[16], now[16];
	cli_format_month(cp_transitions_month(tr), month, sizeof(month));
	cli_format_month(cp_store_as_of(j->store), now, sizeof(now));
	if (j->format == FMT_CSV)
		puts("track,from,from_label,to,to_label,count,drivers");
	else
		printf("transitions from the close of %s to %s: %llu subscribers\n", month, now,
		       (unsigned long long)cp_transitions_total(tr));
	for (int t = first_track(j->only); t < end_track(rs, j->only); t++) {
		if (j->format == FMT_TEXT) {
			printf("\n%s (%s)\n  ", cp_ruleset_track_name(rs, t), cp_ruleset_track_label(rs, t));
			cli_print_padded(stdout, "from", 22);
			cli_print_padded(stdout, "to", 22);
			printf("%10s  drivers of the target stage\n", "count");
		}
		for (int from = CP_STAGE_NONE; cp_stage_name(from) || from == CP_STAGE_NONE; from++) {
			for (int to = CP_STAGE_NONE; cp_stage_name(to) || to == CP_STAGE_NONE; to++) {
				uint64_t n = cp_transitions_count(tr, t, from, to);
				if (!n)
					continue;
				if (j->format == FMT_CSV) {
					printf("%s,%s,%s,%s,%s,%llu,%s\n", cp_ruleset_track_name(rs, t),
					       stage_word(from, 1),
					       from == CP_STAGE_NONE ? "" : cp_ruleset_stage_label(rs, from),
					       stage_word(to, 0),
					       to == CP_STAGE_NONE ? "" : cp_ruleset_stage_label(rs, to),
					       (unsigned long long)n, drivers_text(rs, to, 1, d, sizeof(d)));
					continue;
				}
				printf("  ");
				cli_print_padded(stdout, stage_text(rs, from, 1, a, sizeof(a)), 22);
				cli_print_padded(stdout, stage_text(rs, to, 0, b, sizeof(b)), 22);
				printf("%10llu  %s\n", (unsigned long long)n,
				       from == to ? "" : drivers_text(rs, to, 0, d, sizeof(d)));
			}
		}
	}
}

static const char stage_usage[] =
	"custprof stage STORE.cps [--rules R.yaml]... [--param NAME=VALUE]...\n"
	"       (--msisdn N | --all) [--track T] [--transitions [--list]] [--format text|csv]";
static const char stage_help[] =
	"Print the lifecycle stage of a subscriber (--msisdn) or of every one\n"
	"(--all) on every track of the rules (or --track T), with the rule that\n"
	"decided it (for one subscriber, also its definition in words) and the\n"
	"value drivers of the stage.  csv: a header 'msisdn,track,stage,rule' and\n"
	"one row per subscriber and track.\n"
	"\n"
	"--transitions compares with the stages recorded at the last month close\n"
	"(custprof close-month): for --msisdn, the subscriber's stage then and now\n"
	"per track; for --all, the from/to matrix of every track with its counts\n"
	"and the drivers of the target stage (csv: track,from,from_label,to,\n"
	"to_label,count,drivers); with --list, every subscriber whose stage\n"
	"changed instead (csv: msisdn,track,from,to,rule).  'new' stands for a\n"
	"subscriber the close did not record, 'gone' for one without a profile now.\n"
	"\n"
	"options:\n"
	"  --rules R.yaml        rule packs (default: the built-in packs), repeatable\n"
	"  --param NAME=VALUE    override a parameter (NAME or PACK.NAME), repeatable\n"
	"  --msisdn N            one subscriber\n"
	"  --all                 every subscriber, in store order\n"
	"  --track T             one track (default: every track)\n"
	"  --transitions         compare with the last month close\n"
	"  --list                with --all --transitions: list the changes\n"
	"  --format F            text (default) or csv\n"
	"  -h, --help            show this help\n";

static int stage_transitions(stage_job *j)
{
	cp_transitions *tr;
	if (cp_transitions_new(&tr, j->res, j->store, 0) != CP_OK) {
		cli_error("stage: %s", cp_errmsg(j->res));
		return EXIT_ERROR;
	}
	print_matrix(j, tr);
	cp_transitions_free(tr);
	return EXIT_OK;
}

int cmd_stage(int argc, char **argv)
{
	const char *msisdn = NULL, *format_text = NULL, *track = NULL;
	int all = 0, transitions = 0, list = 0, format;
	cli_list files = {NULL, 0}, params = {NULL, 0};
	const cli_opt opts[] = {
		{"rules", 0, CLI_LIST, &files},
		{"param", 0, CLI_LIST, &params},
		{"msisdn", 0, CLI_VALUE, &msisdn},
		{"all", 0, CLI_FLAG, &all},
		{"track", 0, CLI_VALUE, &track},
		{"transitions", 0, CLI_FLAG, &transitions},
		{"list", 0, CLI_FLAG, &list},
		{"format", 0, CLI_VALUE, &format_text},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"stage", stage_usage, stage_help, opts, 1, 1};
	cli_list operands;
	stage_job j = {0};
	cp_store *store = NULL;
	cp_ruleset *rs = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		goto out_lists;
	rc = EXIT_ERROR;
	if (parse_format(format_text, &format) != CLI_GO)
		goto out;
	if (!msisdn == !all) {
		cli_error("stage: give --msisdn N or --all (see 'custprof stage --help')");
		goto out;
	}
	if (list && !(all && transitions)) {
		cli_error("stage: --list goes with --all --transitions");
		goto out;
	}
	if ((rc = cli_open_store(operands.items[0], &store)) != CLI_GO ||
	    (rc = cli_compile_rules("stage", cp_store_schema(store), &files, &params, 0, &rs)) !=
	        CLI_GO ||
	    (rc = pick_track(rs, track, &j.only)) != CLI_GO)
		goto out;
	if (cp_result_new(&j.res, rs) != CP_OK || cp_view_new(&j.view, store) != CP_OK) {
		cli_error("out of memory");
		rc = EXIT_ERROR;
		goto out;
	}
	j.store = store;
	j.rs = rs;
	j.transitions = transitions;
	j.list = list;
	j.format = format;
	rc = EXIT_ERROR;
	if (transitions && cp_store_stage_history_count(store) == 0)
		cli_error("stage: %s: no month was closed yet, so there is nothing to compare "
		          "with (custprof close-month)", operands.items[0]);
	else if (all && transitions && !list)
		rc = stage_transitions(&j);
	else if (all)
		rc = stage_all(&j);
	else if (cp_store_get(store, msisdn, j.view) != CP_OK)
		cli_error("stage: %s: no profile with key '%s'", operands.items[0], msisdn);
	else if (cp_eval(j.res, j.view) != CP_OK)
		cli_error("stage: %s", cp_errmsg(j.res));
	else {
		if (format == FMT_CSV)
			puts(transitions ? "msisdn,track,from,to,rule" : "msisdn,track,stage,rule");
		print_one(store, rs, j.res, j.view, j.only, transitions, format);
		rc = EXIT_OK;
	}
out:
	cp_view_free(j.view);
	cp_result_free(j.res);
	cp_ruleset_free(rs);
	cp_store_free(store);
	cli_list_free(&operands);
out_lists:
	cli_list_free(&files);
	cli_list_free(&params);
	return rc;
}

/* ---- close-month ---- */

static const char close_usage[] =
	"custprof close-month STORE.cps [--rules R.yaml]... [--param NAME=VALUE]... [-o OUT.cps]";
static const char close_help[] =
	"Close the store's as-of month: record every subscriber's stage per track\n"
	"of the rules in the stage history, shift every monthly series one month\n"
	"back (month 0 becomes empty, the oldest month drops off) and advance the\n"
	"as-of month.  Load the new month's export on top with\n"
	"'custprof load --base STORE.cps --merge'.  The store is rewritten in place,\n"
	"or written to OUT.cps (STORE.cps is then left as it was).\n"
	"\n"
	"options:\n"
	"  --rules R.yaml        rule packs (default: the built-in packs), repeatable\n"
	"  --param NAME=VALUE    override a parameter (NAME or PACK.NAME), repeatable\n"
	"  -o, --output F        write the closed store here instead\n"
	"  -h, --help            show this help\n";

int cmd_close_month(int argc, char **argv)
{
	const char *output = NULL;
	cli_list files = {NULL, 0}, params = {NULL, 0};
	const cli_opt opts[] = {
		{"rules", 0, CLI_LIST, &files},
		{"param", 0, CLI_LIST, &params},
		{"output", 'o', CLI_VALUE, &output},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"close-month", close_usage, close_help, opts, 1, 1};
	cli_list operands;
	cp_store *store = NULL;
	cp_ruleset *rs = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		goto out_lists;
	const char *path = operands.items[0];
	if ((rc = cli_open_for_update("close-month", path, output, &store)) != CLI_GO ||
	    (rc = cli_compile_rules("close-month", cp_store_schema(store), &files, &params, 0,
	                            &rs)) != CLI_GO)
		goto out;
	int month = cp_store_as_of(store);
	if (!month) {
		cli_error("close-month: %s has no as-of month", path);
		rc = EXIT_ERROR;
		goto out;
	}
	char closed[16], now[16];
	if (cp_store_close_month(store, rs) != CP_OK) {
		cli_error("close-month: %s", cp_errmsg(store));
		rc = EXIT_ERROR;
		goto out;
	}
	fprintf(stderr, "close-month: closed %s: stages of %zu subscribers on %d track%s "
	        "recorded; %s is now as of %s\n", cli_format_month(month, closed, sizeof(closed)),
	        cp_store_stage_history_size(store, 0), cp_ruleset_track_count(rs),
	        cp_ruleset_track_count(rs) == 1 ? "" : "s", output ? output : path,
	        cli_format_month(cp_store_as_of(store), now, sizeof(now)));
	rc = EXIT_OK;
out:
	cp_ruleset_free(rs);
	cp_store_free(store);
	cli_list_free(&operands);
out_lists:
	cli_list_free(&files);
	cli_list_free(&params);
	return rc;
}
