/*
 * cmd_rules.c — custprof check, tag and explain: compile rule packs, tag
 * subscribers, and say why a tag applies (custprof(1)).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- shared: compiling the rules of a command ---- */

/* (cli.h) */
int cli_compile_rules(const char *cmd, const cp_schema *schema, const cli_list *files,
                      const cli_list *params, int print_warnings, cp_ruleset **out)
{
	cp_rules_opts *opts = NULL;
	cp_diag *diag = NULL;
	int rc = EXIT_ERROR;

	*out = NULL;
	if (cp_rules_opts_new(&opts) != CP_OK || cp_diag_new(&diag) != CP_OK) {
		cli_error("out of memory");
		goto out;
	}
	if (files->count == 0 && cp_rules_opts_add_defaults(opts) != CP_OK) {
		cli_error("%s: %s", cmd, cp_errmsg(opts));
		goto out;
	}
	for (size_t i = 0; i < files->count; i++) {
		if (cp_rules_opts_add_file(opts, files->items[i]) != CP_OK) {
			cli_error("%s: %s", cmd, cp_errmsg(opts));
			goto out;
		}
	}
	for (size_t i = 0; i < params->count; i++) {
		const char *eq = strchr(params->items[i], '=');
		if (!eq || eq == params->items[i]) {
			cli_error("%s: invalid --param '%s': write NAME=VALUE (NAME or PACK.NAME)", cmd,
			          params->items[i]);
			goto out;
		}
		char *name = strndup(params->items[i], (size_t)(eq - params->items[i]));
		int prc = name ? cp_rules_opts_set_param(opts, name, eq + 1) : CP_ENOMEM;
		free(name);
		if (prc != CP_OK) {
			cli_error("%s: --param '%s': %s", cmd, params->items[i], cp_errmsg(opts));
			goto out;
		}
	}
	if (cp_ruleset_compile(out, schema, opts, diag) != CP_OK) {
		cli_print_diag(diag);
		cli_error("%s: the rules do not compile (%zu error%s)", cmd, cp_diag_error_count(diag),
		          cp_diag_error_count(diag) == 1 ? "" : "s");
		goto out;
	}
	if (print_warnings)
		cli_print_diag(diag);
	rc = CLI_GO;
out:
	cp_diag_free(diag);
	cp_rules_opts_free(opts);
	return rc;
}

/* ---- check ---- */

static const char check_usage[] = "custprof check [--schema S.yaml] [--param NAME=VALUE]... [RULES.yaml...]";
static const char check_help[] =
	"Compile rule packs against a schema and print every diagnostic, one per\n"
	"line as FILE:LINE:COLUMN: error|warning: MESSAGE, on stderr.  Without\n"
	"files, the built-in packs are checked.  Exit status 1 if there is an error.\n"
	"\n"
	"options:\n"
	"  --schema S.yaml       the schema (default: the built-in cmcc-default)\n"
	"  --param NAME=VALUE    override a parameter (NAME or PACK.NAME), repeatable\n"
	"  -h, --help            show this help\n";

int cmd_check(int argc, char **argv)
{
	const char *schema_path = NULL;
	cli_list params = {NULL, 0};
	const cli_opt opts[] = {
		{"schema", 0, CLI_VALUE, &schema_path},
		{"param", 0, CLI_LIST, &params},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"check", check_usage, check_help, opts, 0, -1};
	cli_list files;
	cp_schema *schema = NULL;
	cp_ruleset *rs = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &files)) != CLI_GO) {
		cli_list_free(&params);
		return rc;
	}
	if ((rc = cli_load_schema(schema_path, &schema)) == CLI_GO &&
	    (rc = cli_compile_rules("check", schema, &files, &params, 1, &rs)) == CLI_GO) {
		printf("ok: %d tag%s, %d group%s, %d metric%s, %d track%s in %d pack%s\n",
		       cp_ruleset_tag_count(rs), cp_ruleset_tag_count(rs) == 1 ? "" : "s",
		       cp_ruleset_group_count(rs), cp_ruleset_group_count(rs) == 1 ? "" : "s",
		       cp_ruleset_metric_count(rs), cp_ruleset_metric_count(rs) == 1 ? "" : "s",
		       cp_ruleset_track_count(rs), cp_ruleset_track_count(rs) == 1 ? "" : "s",
		       cp_ruleset_pack_count(rs), cp_ruleset_pack_count(rs) == 1 ? "" : "s");
		rc = EXIT_OK;
	}
	cp_ruleset_free(rs);
	cp_schema_free(schema);
	cli_list_free(&files);
	cli_list_free(&params);
	return rc;
}

/* ---- tag ---- */

static const char tag_usage[] =
	"custprof tag STORE.cps [--rules R.yaml]... [--param NAME=VALUE]... (--msisdn N | --all)\n"
	"       [--format text|csv|json]";
static const char tag_help[] =
	"Print the tags that apply to one subscriber (--msisdn) or to every one\n"
	"(--all), in the order of the rules.  csv: a header 'msisdn,tags' and one\n"
	"row per subscriber, tags joined by ';'.  json: an object per subscriber\n"
	"({\"msisdn\": ..., \"tags\": [...]}), in an array for --all.\n"
	"\n"
	"options:\n"
	"  --rules R.yaml        rule packs (default: the built-in packs), repeatable\n"
	"  --param NAME=VALUE    override a parameter (NAME or PACK.NAME), repeatable\n"
	"  --msisdn N            one subscriber\n"
	"  --all                 every subscriber, in store order\n"
	"  --format F            text (default), csv or json\n"
	"  -h, --help            show this help\n";

enum { FMT_TEXT, FMT_CSV, FMT_JSON };

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void print_tags(FILE *out, int format, const cp_ruleset *rs, const cp_result *res,
                       const char *key, int one, int first)
{
	int n = cp_result_tag_count(res);
	switch (format) {
	case FMT_CSV: {
		cli_csv_field(out, key);
		fputc(',', out);
		/* the joined list is one field: quoted as a whole if it must be */
		size_t len = 1;
		for (int i = 0; i < n; i++)
			len += strlen(cp_ruleset_tag_id(rs, cp_result_tag_at(res, i))) + 1;
		char *joined = malloc(len);
		if (!joined)
			break;
		joined[0] = '\0';
		for (int i = 0; i < n; i++) {
			if (i)
				strcat(joined, ";");
			strcat(joined, cp_ruleset_tag_id(rs, cp_result_tag_at(res, i)));
		}
		cli_csv_field(out, joined);
		free(joined);
		fputc('\n', out);
		break;
	}
	case FMT_JSON:
		fputs(one ? "" : first ? "[\n  " : ",\n  ", out);
		fputs("{\"msisdn\": ", out);
		json_string(out, key);
		fputs(", \"tags\": [", out);
		for (int i = 0; i < n; i++) {
			fputs(i ? ", " : "", out);
			json_string(out, cp_ruleset_tag_id(rs, cp_result_tag_at(res, i)));
		}
		fputs(one ? "]}\n" : "]}", out);
		break;
	default:
		if (one) {
			printf("%s: %d tag%s\n", key, n, n == 1 ? "" : "s");
			size_t w = 0;
			for (int i = 0; i < n; i++) {
				size_t l = strlen(cp_ruleset_tag_id(rs, cp_result_tag_at(res, i)));
				w = l > w ? l : w;
			}
			for (int i = 0; i < n; i++) {
				int t = cp_result_tag_at(res, i);
				fputs("  ", out);
				cli_print_padded(out, cp_ruleset_tag_id(rs, t), w + 2);
				fprintf(out, "%s\n", cp_ruleset_tag_label(rs, t));
			}
		} else {
			fprintf(out, "%s:", key);
			for (int i = 0; i < n; i++)
				fprintf(out, " %s", cp_ruleset_tag_id(rs, cp_result_tag_at(res, i)));
			fputc('\n', out);
		}
		break;
	}
}

static int parse_format(const char *text, int *format)
{
	if (!text || strcmp(text, "text") == 0)
		*format = FMT_TEXT;
	else if (strcmp(text, "csv") == 0)
		*format = FMT_CSV;
	else if (strcmp(text, "json") == 0)
		*format = FMT_JSON;
	else {
		cli_error("invalid --format '%s': text, csv or json", text);
		return EXIT_ERROR;
	}
	return CLI_GO;
}

static int tag_all(const cp_store *store, const cp_ruleset *rs, cp_result *res, cp_view *view,
                   int format)
{
	cp_iter *it;
	cli_progress progress;
	size_t done = 0, total = cp_store_count(store);
	int rc;

	if (cp_iter_new(&it, store) != CP_OK) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	cli_progress_begin(&progress);
	if (format == FMT_CSV)
		puts("msisdn,tags");
	while ((rc = cp_iter_next(it, view)) == CP_OK) {
		if ((rc = cp_eval(res, view)) != CP_OK)
			break;
		print_tags(stdout, format, rs, res, cp_view_key(view), 0, done == 0);
		if (++done % 4096 == 0 && cli_progress_due(&progress)) {
			char line[64];
			snprintf(line, sizeof(line), "tag: %zu of %zu", done, total);
			cli_progress_show(&progress, line);
		}
	}
	cli_progress_end(&progress);
	cp_iter_free(it);
	if (format == FMT_JSON)
		puts(done ? "\n]" : "[]");
	if (rc != CP_DONE) {
		cli_error("tag: %s", cp_errmsg(res));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* Open the store and compile the rules against its schema. */
static int open_and_compile(const char *cmd, const char *path, const cli_list *files,
                            const cli_list *params, cp_store **store, cp_ruleset **rs,
                            cp_result **res, cp_view **view)
{
	int rc = cli_open_store(path, store);
	if (rc != CLI_GO)
		return rc;
	if ((rc = cli_compile_rules(cmd, cp_store_schema(*store), files, params, 0, rs)) != CLI_GO)
		return rc;
	if (cp_result_new(res, *rs) != CP_OK || cp_view_new(view, *store) != CP_OK) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	return CLI_GO;
}

int cmd_tag(int argc, char **argv)
{
	const char *msisdn = NULL, *format_text = NULL;
	int all = 0, format;
	cli_list files = {NULL, 0}, params = {NULL, 0};
	const cli_opt opts[] = {
		{"rules", 0, CLI_LIST, &files},
		{"param", 0, CLI_LIST, &params},
		{"msisdn", 0, CLI_VALUE, &msisdn},
		{"all", 0, CLI_FLAG, &all},
		{"format", 0, CLI_VALUE, &format_text},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"tag", tag_usage, tag_help, opts, 1, 1};
	cli_list operands;
	cp_store *store = NULL;
	cp_ruleset *rs = NULL;
	cp_result *res = NULL;
	cp_view *view = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		goto out_lists;
	if ((rc = parse_format(format_text, &format)) != CLI_GO)
		goto out;
	if (!msisdn == !all) {
		cli_error("tag: give --msisdn N or --all (see 'custprof tag --help')");
		rc = EXIT_ERROR;
		goto out;
	}
	if ((rc = open_and_compile("tag", operands.items[0], &files, &params, &store, &rs, &res,
	                           &view)) != CLI_GO)
		goto out;
	if (all) {
		rc = tag_all(store, rs, res, view, format);
	} else if (cp_store_get(store, msisdn, view) != CP_OK) {
		cli_error("tag: %s: no profile with key '%s'", operands.items[0], msisdn);
		rc = EXIT_ERROR;
	} else if (cp_eval(res, view) != CP_OK) {
		cli_error("tag: %s", cp_errmsg(res));
		rc = EXIT_ERROR;
	} else {
		if (format == FMT_CSV)
			puts("msisdn,tags");
		print_tags(stdout, format, rs, res, cp_view_key(view), 1, 1);
		rc = EXIT_OK;
	}
out:
	cp_view_free(view);
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_store_free(store);
	cli_list_free(&operands);
out_lists:
	cli_list_free(&files);
	cli_list_free(&params);
	return rc;
}

/* ---- explain ---- */

static const char explain_usage[] =
	"custprof explain STORE.cps [--rules R.yaml]... [--param NAME=VALUE]... --msisdn N\n"
	"       (--tag ID | --track T)";
static const char explain_help[] =
	"Explain why a tag applies to a subscriber or not, or how a lifecycle\n"
	"track chose the subscriber's stage: every condition with its value\n"
	"(true, false or null) and the values it compares.  Personal fields show\n"
	"as (personal).\n"
	"\n"
	"options:\n"
	"  --rules R.yaml        rule packs (default: the built-in packs), repeatable\n"
	"  --param NAME=VALUE    override a parameter (NAME or PACK.NAME), repeatable\n"
	"  --msisdn N            the subscriber\n"
	"  --tag ID              the tag (e.g. gprs.heavy)\n"
	"  --track T             the lifecycle track (e.g. subscriber)\n"
	"  -h, --help            show this help\n";

int cmd_explain(int argc, char **argv)
{
	const char *msisdn = NULL, *tag = NULL, *track = NULL;
	cli_list files = {NULL, 0}, params = {NULL, 0};
	const cli_opt opts[] = {
		{"rules", 0, CLI_LIST, &files},
		{"param", 0, CLI_LIST, &params},
		{"msisdn", 0, CLI_VALUE, &msisdn},
		{"tag", 0, CLI_VALUE, &tag},
		{"track", 0, CLI_VALUE, &track},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"explain", explain_usage, explain_help, opts, 1, 1};
	cli_list operands;
	cp_store *store = NULL;
	cp_ruleset *rs = NULL;
	cp_result *res = NULL;
	cp_view *view = NULL;
	cp_explain *ex = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		goto out_lists;
	if ((rc = cli_require(&spec, "--msisdn", msisdn)) != CLI_GO)
		goto out;
	if (!tag == !track) {
		cli_error("explain: give --tag ID or --track T (see 'custprof explain --help')");
		rc = EXIT_ERROR;
		goto out;
	}
	if ((rc = open_and_compile("explain", operands.items[0], &files, &params, &store, &rs,
	                           &res, &view)) != CLI_GO)
		goto out;
	int index = tag ? cp_ruleset_tag_index(rs, tag) : cp_ruleset_track_index(rs, track);
	rc = EXIT_ERROR;
	if (index < 0)
		cli_error("explain: no %s '%s' in the rules", tag ? "tag" : "track", tag ? tag : track);
	else if (cp_store_get(store, msisdn, view) != CP_OK)
		cli_error("explain: %s: no profile with key '%s'", operands.items[0], msisdn);
	else if ((tag ? cp_explain_tag(&ex, res, view, index)
	              : cp_explain_track(&ex, res, view, index)) != CP_OK)
		cli_error("explain: %s", cp_errmsg(res));
	else {
		fputs(cp_explain_text(ex), stdout);
		rc = EXIT_OK;
	}
out:
	cp_explain_free(ex);
	cp_view_free(view);
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_store_free(store);
	cli_list_free(&operands);
out_lists:
	cli_list_free(&files);
	cli_list_free(&params);
	return rc;
}
