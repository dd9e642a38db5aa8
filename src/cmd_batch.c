/*
 * cmd_batch.c — custprof count and select: segment sizes and cross-tabs,
 * and target lists (目标用户清单), over every profile on every core
 * (custprof(1)).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- shared ---- */

static int on_progress(uint64_t done, uint64_t total, void *userdata)
{
	cli_batch_progress *p = userdata;
	char text[160];

	if (!cli_progress_due(&p->line) || total == 0)
		return 0;
	snprintf(text, sizeof(text), "%s: %llu%% (%llu of %llu rows)", p->cmd,
	         (unsigned long long)(done * 100 / total), (unsigned long long)done,
	         (unsigned long long)total);
	cli_progress_show(&p->line, text);
	return 0;
}

/* (cli.h) */
int cli_batch_opts(const char *cmd, const char *threads, cli_batch_progress *progress,
                   cp_batch_opts **out)
{
	uint64_t n = 0;

	*out = NULL;
	if (threads && cli_parse_uint("--threads", threads, CP_BATCH_MAX_THREADS, &n) != CLI_GO)
		return EXIT_ERROR;
	if (cp_batch_opts_new(out) != CP_OK) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	cp_batch_opts_set_threads(*out, (int)n);
	progress->cmd = cmd;
	cli_progress_begin(&progress->line);
	cp_batch_opts_set_progress(*out, on_progress, progress);
	return CLI_GO;
}

/* Open the store and compile the rules against its schema. */
static int open_and_compile(const char *cmd, const char *path, const cli_list *files,
                            const cli_list *params, cp_store **store, cp_ruleset **rs)
{
	int rc = cli_open_store(path, store);
	if (rc != CLI_GO)
		return rc;
	return cli_compile_rules(cmd, cp_store_schema(*store), files, params, 0, rs);
}

/* Print the diagnostics of an expression option and say it failed. */
static int bad_expr(const char *cmd, const char *option, cp_diag *diag, const void *handle)
{
	if (cp_diag_count(diag))
		cli_print_diag(diag);
	else
		cli_error("%s: %s", cmd, cp_errmsg(handle));
	cli_error("%s: %s does not compile", cmd, option);
	return EXIT_ERROR;
}

/*
 * Split an option's value at the commas outside (), [] and quotes (a
 * column or a dimension may be an expression with commas); call add for
 * each piece.  CLI_GO or the first failure.
 */
static int split_top(const char *text, int (*add)(const char *item, void *data), void *data)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	int depth = 0, rc = CLI_GO;
	char quote = 0;
	size_t start = 0;

	if (!buf) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	memcpy(buf, text, len + 1);
	for (size_t i = 0; i <= len && rc == CLI_GO; i++) {
		char c = buf[i];
		if (quote) {
			if (c == '\\' && buf[i + 1])
				i++;
			else if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '\'' || c == '"')
			quote = c;
		else if (c == '(' || c == '[')
			depth++;
		else if ((c == ')' || c == ']') && depth > 0)
			depth--;
		else if ((c == ',' && depth == 0) || c == '\0') {
			buf[i] = '\0';
			char *item = buf + start;
			while (*item == ' ')
				item++;
			for (char *e = buf + i; e > item && e[-1] == ' ';)
				*--e = '\0';
			start = i + 1;
			if (*item)
				rc = add(item, data);
		}
	}
	free(buf);
	return rc;
}

/* ---- aligned text tables ---- */

typedef struct table {
	size_t ncols;
	char **cells;       /* row-major */
	size_t n, cap;
	unsigned right;     /* bit c: column c is right-aligned (numbers) */
	int failed;
} table;

static void table_add(table *t, const char *text)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **cells = realloc(t->cells, cap * sizeof(*cells));
		if (!cells) {
			t->failed = 1;
			return;
		}
		t->cells = cells;
		t->cap = cap;
	}
	if (!(t->cells[t->n] = strdup(text)))
		t->failed = 1;
	else
		t->n++;
}

static void table_addu(table *t, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	table_add(t, buf);
}

/* share of total, "12.3%" */
static void table_add_share(table *t, uint64_t v, uint64_t total)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%.1f%%", total ? 100.0 * (double)v / (double)total : 0.0);
	table_add(t, buf);
}

static void spaces(FILE *out, size_t n)
{
	while (n--)
		fputc(' ', out);
}

/* Columns padded to their widest cell (display width), two spaces apart. */
static int table_print(table *t, FILE *out)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (t->failed || !w) {
		free(w);
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t dw = cli_display_width(t->cells[i]);
		if (dw > w[i % t->ncols])
			w[i % t->ncols] = dw;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t c = i % t->ncols, dw = cli_display_width(t->cells[i]);
		int last = c + 1 == t->ncols;
		if (t->right & (1u << c)) {
			spaces(out, w[c] - dw);
			fputs(t->cells[i], out);
		} else {
			fputs(t->cells[i], out);
			if (!last)
				spaces(out, w[c] - dw);
		}
		fputs(last ? "\n" : "  ", out);
	}
	free(w);
	return EXIT_OK;
}

static void table_free(table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---- count ---- */

static const char count_usage[] =
	"custprof count STORE.cps [--rules R.yaml]... [--param NAME=VALUE]... [--where EXPR]\n"
	"       [--by DIM[,DIM]] [--format text|csv] [--labels] [--threads N]";
static const char count_help[] =
	"Count profiles: per tag and per stage of every lifecycle track, or, with\n"
	"--by, per category of one dimension or of two (a cross-tab).  A dimension\n"
	"is 'tag' (every tag), 'group:ID' (an exclusive group's tags), 'stage' (the\n"
	"first track), 'stage:TRACK', a field (region, brand, arpu_m0), a metric, or\n"
	"an expression of type bool, enum, string, set or list.  Text output is\n"
	"aligned and shows labels; csv prints 'tag,count', 'DIM,count' or the\n"
	"cross-tab with a header row.\n"
	"\n"
	"options:\n"
	"  --rules R.yaml        rule packs (default: the built-in packs), repeatable\n"
	"  --param NAME=VALUE    override a parameter (NAME or PACK.NAME), repeatable\n"
	"  --where EXPR          count only the profiles for which EXPR is true\n"
	"  --by DIM[,DIM]        rows, and columns, of a cross-tab\n"
	"  --format F            text (default) or csv\n"
	"  --labels              csv: labels instead of ids and values\n"
	"  --threads N           threads (default: one per processor)\n"
	"  -h, --help            show this help\n";

typedef struct dims_arg {
	cp_counts *counts;
	cp_diag *diag;
} dims_arg;

static int add_dim(const char *item, void *data)
{
	dims_arg *a = data;
	if (cp_counts_add_dim(a->counts, item, a->diag) == CP_OK)
		return CLI_GO;
	return bad_expr("count", "--by", a->diag, a->counts);
}

/* 1 if the labels of dimension d are all different (so they name its
 * categories on their own). */
static int labels_unique(const cp_counts *c, int d)
{
	size_t n = cp_counts_category_count(c, d);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(cp_counts_category_label(c, d, i), cp_counts_category_label(c, d, j)) == 0)
				return 0;
	return 1;
}

/* 1 if some category of d has a label other than its name. */
static int has_labels(const cp_counts *c, int d)
{
	for (size_t i = 0; i < cp_counts_category_count(c, d); i++)
		if (strcmp(cp_counts_category_label(c, d, i), cp_counts_category_name(c, d, i)) != 0)
			return 1;
	return 0;
}

static const char *shown(const cp_counts *c, int d, size_t i, int labels)
{
	return labels ? cp_counts_category_label(c, d, i) : cp_counts_category_name(c, d, i);
}

static int count_csv(const cp_counts *c, const cp_ruleset *rs, int labels)
{
	int dims = cp_counts_dim_count(c);

	if (dims == 0) {
		puts("tag,count");
		for (int t = 0; t < cp_ruleset_tag_count(rs); t++) {
			cli_csv_field(stdout, labels ? cp_ruleset_tag_label(rs, t) : cp_ruleset_tag_id(rs, t));
			printf(",%llu\n", (unsigned long long)cp_counts_tag(c, t));
		}
		return EXIT_OK;
	}
	if (dims == 1) {
		cli_csv_field(stdout, labels ? cp_counts_dim_label(c, 0) : cp_counts_dim_name(c, 0));
		puts(",count");
		for (size_t i = 0; i < cp_counts_category_count(c, 0); i++) {
			cli_csv_field(stdout, shown(c, 0, i, labels));
			printf(",%llu\n", (unsigned long long)cp_counts_cell(c, i, 0));
		}
		return EXIT_OK;
	}
	size_t rows = cp_counts_category_count(c, 0), cols = cp_counts_category_count(c, 1);
	char corner[512];
	snprintf(corner, sizeof(corner), "%s/%s",
	         labels ? cp_counts_dim_label(c, 0) : cp_counts_dim_name(c, 0),
	         labels ? cp_counts_dim_label(c, 1) : cp_counts_dim_name(c, 1));
	cli_csv_field(stdout, corner);
	for (size_t j = 0; j < cols; j++) {
		fputc(',', stdout);
		cli_csv_field(stdout, shown(c, 1, j, labels));
	}
	fputc('\n', stdout);
	for (size_t i = 0; i < rows; i++) {
		cli_csv_field(stdout, shown(c, 0, i, labels));
		for (size_t j = 0; j < cols; j++)
			printf(",%llu", (unsigned long long)cp_counts_cell(c, i, j));
		fputc('\n', stdout);
	}
	return EXIT_OK;
}

/* No dimension: a table of tags and one of stages. */
static int count_text_plain(const cp_counts *c, const cp_ruleset *rs)
{
	uint64_t total = cp_counts_total(c);
	table t = {4, NULL, 0, 0, 1u << 2 | 1u << 3, 0};
	int rc;

	table_add(&t, "tag");
	table_add(&t, "label");
	table_add(&t, "profiles");
	table_add(&t, "share");
	for (int k = 0; k < cp_ruleset_tag_count(rs); k++) {
		table_add(&t, cp_ruleset_tag_id(rs, k));
		table_add(&t, cp_ruleset_tag_label(rs, k));
		table_addu(&t, cp_counts_tag(c, k));
		table_add_share(&t, cp_counts_tag(c, k), total);
	}
	rc = table_print(&t, stdout);
	table_free(&t);
	if (rc != EXIT_OK || cp_ruleset_track_count(rs) == 0)
		return rc;
	table s = {5, NULL, 0, 0, 1u << 3 | 1u << 4, 0};
	table_add(&s, "track");
	table_add(&s, "stage");
	table_add(&s, "label");
	table_add(&s, "profiles");
	table_add(&s, "share");
	for (int k = 0; k < cp_ruleset_track_count(rs); k++) {
		for (int st = 0; cp_stage_name(st); st++) {
			uint64_t n = cp_counts_stage(c, k, st);
			if (!n)
				continue;
			table_add(&s, cp_ruleset_track_name(rs, k));
			table_add(&s, cp_stage_name(st));
			table_add(&s, cp_ruleset_stage_label(rs, st));
			table_addu(&s, n);
			table_add_share(&s, n, total);
		}
	}
	fputc('\n', stdout);
	rc = table_print(&s, stdout);
	table_free(&s);
	return rc;
}

static int count_text_one(const cp_counts *c)
{
	uint64_t total = cp_counts_total(c);
	int both = has_labels(c, 0);
	size_t ncols = both ? 4 : 3;
	table t = {ncols, NULL, 0, 0, 3u << (ncols - 2), 0};
	int rc;

	/* the categories' names, and their labels when they have some */
	const char *name = cp_counts_dim_name(c, 0), *label = cp_counts_dim_label(c, 0);
	table_add(&t, both ? name : label);
	if (both)
		table_add(&t, strcmp(label, name) != 0 ? label : "label");
	table_add(&t, "profiles");
	table_add(&t, "share");
	for (size_t i = 0; i < cp_counts_category_count(c, 0); i++) {
		table_add(&t, cp_counts_category_is_null(c, 0, i) ? "(null)" : cp_counts_category_name(c, 0, i));
		if (both)
			table_add(&t, cp_counts_category_label(c, 0, i));
		table_addu(&t, cp_counts_cell(c, i, 0));
		table_add_share(&t, cp_counts_cell(c, i, 0), total);
	}
	rc = table_print(&t, stdout);
	table_free(&t);
	return rc;
}

static int count_text_two(const cp_counts *c)
{
	size_t rows = cp_counts_category_count(c, 0), cols = cp_counts_category_count(c, 1);
	int col_labels = labels_unique(c, 1), row_labels = labels_unique(c, 0);
	char corner[512];
	int rc;

	if (cols + 2 > 32) {
		cli_error("count: %zu columns are too many for text: use --format csv", cols);
		return EXIT_ERROR;
	}
	table t = {cols + 2, NULL, 0, 0, ~1u, 0};
	snprintf(corner, sizeof(corner), "%s \\ %s", cp_counts_dim_label(c, 0), cp_counts_dim_label(c, 1));
	table_add(&t, corner);
	for (size_t j = 0; j < cols; j++)
		table_add(&t, col_labels ? cp_counts_category_label(c, 1, j) : cp_counts_category_name(c, 1, j));
	table_add(&t, "total");
	for (size_t i = 0; i < rows; i++) {
		table_add(&t, row_labels ? cp_counts_category_label(c, 0, i) : cp_counts_category_name(c, 0, i));
		for (size_t j = 0; j < cols; j++)
			table_addu(&t, cp_counts_cell(c, i, j));
		table_addu(&t, cp_counts_category_total(c, 0, i));
	}
	table_add(&t, "total");
	for (size_t j = 0; j < cols; j++)
		table_addu(&t, cp_counts_category_total(c, 1, j));
	table_addu(&t, cp_counts_total(c));
	rc = table_print(&t, stdout);
	table_free(&t);
	return rc;
}

static int count_text(const cp_counts *c, const cp_ruleset *rs, const cp_store *store,
                      const char *where)
{
	if (where)
		printf("profiles: %llu of %llu where %s\n\n", (unsigned long long)cp_counts_total(c),
		       (unsigned long long)cp_store_count(store), where);
	else
		printf("profiles: %llu\n\n", (unsigned long long)cp_counts_total(c));
	switch (cp_counts_dim_count(c)) {
	case 0:
		return count_text_plain(c, rs);
	case 1:
		return count_text_one(c);
	default:
		return count_text_two(c);
	}
}

int cmd_count(int argc, char **argv)
{
	const char *where = NULL, *format = NULL, *threads = NULL;
	int labels = 0, csv = 0;
	cli_list files = {NULL, 0}, params = {NULL, 0}, by = {NULL, 0};
	const cli_opt opts[] = {
		{"rules", 0, CLI_LIST, &files},
		{"param", 0, CLI_LIST, &params},
		{"where", 0, CLI_VALUE, &where},
		{"by", 0, CLI_LIST, &by},
		{"format", 0, CLI_VALUE, &format},
		{"labels", 0, CLI_FLAG, &labels},
		{"threads", 0, CLI_VALUE, &threads},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"count", count_usage, count_help, opts, 1, 1};
	cli_list operands = {NULL, 0};
	cp_store *store = NULL;
	cp_ruleset *rs = NULL;
	cp_counts *counts = NULL;
	cp_batch_opts *bopts = NULL;
	cp_diag *diag = NULL;
	cli_batch_progress progress;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		goto out;
	if (format && strcmp(format, "csv") == 0) {
		csv = 1;
	} else if (format && strcmp(format, "text") != 0) {
		cli_error("invalid --format '%s': text or csv", format);
		rc = EXIT_ERROR;
		goto out;
	}
	if ((rc = cli_batch_opts("count", threads, &progress, &bopts)) != CLI_GO ||
	    (rc = open_and_compile("count", operands.items[0], &files, &params, &store, &rs)) != CLI_GO ||
	    (rc = cli_diag_new(&diag)) != CLI_GO)
		goto out;
	if (cp_counts_new(&counts, rs) != CP_OK) {
		cli_error("out of memory");
		rc = EXIT_ERROR;
		goto out;
	}
	if (where && cp_counts_set_where(counts, where, diag) != CP_OK) {
		rc = bad_expr("count", "--where", diag, counts);
		goto out;
	}
	dims_arg da = {counts, diag};
	for (size_t i = 0; i < by.count; i++)
		if ((rc = split_top(by.items[i], add_dim, &da)) != CLI_GO)
			goto out;
	int ran = cp_counts_run(counts, store, bopts);
	cli_progress_end(&progress.line);
	if (ran != CP_OK) {
		cli_error("count: %s", cp_errmsg(counts));
		rc = EXIT_ERROR;
		goto out;
	}
	rc = csv ? count_csv(counts, rs, labels) : count_text(counts, rs, store, where);
out:
	cp_counts_free(counts);
	cp_diag_free(diag);
	cp_batch_opts_free(bopts);
	cp_ruleset_free(rs);
	cp_store_free(store);
	cli_list_free(&operands);
	cli_list_free(&files);
	cli_list_free(&params);
	cli_list_free(&by);
	return rc;
}

/* ---- select ---- */

static const char select_usage[] =
	"custprof select STORE.cps [--rules R.yaml]... [--param NAME=VALUE]... --where EXPR\n"
	"       [--order-by EXPR [--desc]] [--limit N] [--columns COL[,COL]...] [--labels]\n"
	"       [-o LIST.csv] [--safe-csv] [--crlf] [--threads N]";
static const char select_help[] =
	"Write a target list: the subscribers for which the --where expression is\n"
	"true, ordered by --order-by (nulls last, ties by key), at most --limit of\n"
	"them, as CSV with a header row.  A column is 'tags' (the tags that apply,\n"
	"joined by ';'), 'stage' (the first track's stage), 'stage:TRACK', a field\n"
	"(arpu_m0 is arpu[0]), a metric or an expression; the default is the key.\n"
	"An empty list is not an error.\n"
	"\n"
	"options:\n"
	"  --rules R.yaml        rule packs (default: the built-in packs), repeatable\n"
	"  --param NAME=VALUE    override a parameter (NAME or PACK.NAME), repeatable\n"
	"  --where EXPR          the condition, e.g. \"tag('crbt.total_silent')\" (required)\n"
	"  --order-by EXPR       order by this value, e.g. churn_score (default: store order)\n"
	"  --desc                largest first\n"
	"  --limit N             at most N subscribers\n"
	"  --columns LIST        the columns, separated by commas, repeatable\n"
	"  --labels              labels in the header and for enum values, tags, stages\n"
	"  -o, --output F        write the list to F (default: standard output)\n"
	"  --safe-csv            a cell starting with = + - @ gets a leading ' (spreadsheets)\n"
	"  --crlf                end lines with CR LF\n"
	"  --threads N           threads (default: one per processor)\n"
	"  -h, --help            show this help\n";

typedef struct cols_arg {
	cp_select *sel;
	cp_diag *diag;
} cols_arg;

static int add_col(const char *item, void *data)
{
	cols_arg *a = data;
	if (cp_select_add_column(a->sel, item, a->diag) == CP_OK)
		return CLI_GO;
	return bad_expr("select", "--columns", a->diag, a->sel);
}

/* The select's options, checked and set. */
static int select_setup(cp_select *sel, cp_diag *diag, const char *where, const char *order,
                        int desc, const char *limit, const cli_list *columns, int labels)
{
	uint64_t n;
	int rc;

	if (cp_select_set_where(sel, where, diag) != CP_OK)
		return bad_expr("select", "--where", diag, sel);
	if (order && cp_select_set_order(sel, order, desc, diag) != CP_OK)
		return bad_expr("select", "--order-by", diag, sel);
	if (limit) {
		if ((rc = cli_parse_uint("--limit", limit, INT64_MAX, &n)) != CLI_GO)
			return rc;
		cp_select_set_limit(sel, (int64_t)n);
	}
	cols_arg ca = {sel, diag};
	for (size_t i = 0; i < columns->count; i++)
		if ((rc = split_top(columns->items[i], add_col, &ca)) != CLI_GO)
			return rc;
	cp_select_set_labels(sel, labels);
	return CLI_GO;
}

static int write_list(cp_select *sel, const char *output, int flags)
{
	const char *line;
	int rc;

	if (output) {
		if (cp_select_write_csv(sel, output, flags) != CP_OK) {
			cli_error("select: %s", cp_errmsg(sel));
			return EXIT_ERROR;
		}
		fprintf(stderr, "select: %llu of %llu matching subscribers written to %s\n",
		        (unsigned long long)cp_select_count(sel), (unsigned long long)cp_select_matched(sel),
		        output);
		return EXIT_OK;
	}
	if (!(line = cp_select_csv_header(sel, flags))) {
		cli_error("select: %s", cp_errmsg(sel));
		return EXIT_ERROR;
	}
	fputs(line, stdout);
	while ((rc = cp_select_next(sel)) == CP_OK) {
		if (!(line = cp_select_csv_row(sel, flags)))
			break;
		fputs(line, stdout);
	}
	if (rc != CP_DONE) {
		cli_error("select: %s", cp_errmsg(sel));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

int cmd_select(int argc, char **argv)
{
	const char *where = NULL, *order = NULL, *limit = NULL, *output = NULL, *threads = NULL;
	int desc = 0, labels = 0, safe = 0, crlf = 0;
	cli_list files = {NULL, 0}, params = {NULL, 0}, columns = {NULL, 0};
	const cli_opt opts[] = {
		{"rules", 0, CLI_LIST, &files},
		{"param", 0, CLI_LIST, &params},
		{"where", 0, CLI_VALUE, &where},
		{"order-by", 0, CLI_VALUE, &order},
		{"desc", 0, CLI_FLAG, &desc},
		{"limit", 0, CLI_VALUE, &limit},
		{"columns", 0, CLI_LIST, &columns},
		{"labels", 0, CLI_FLAG, &labels},
		{"output", 'o', CLI_VALUE, &output},
		{"safe-csv", 0, CLI_FLAG, &safe},
		{"crlf", 0, CLI_FLAG, &crlf},
		{"threads", 0, CLI_VALUE, &threads},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"select", select_usage, select_help, opts, 1, 1};
	cli_list operands = {NULL, 0};
	cp_store *store = NULL;
	cp_ruleset *rs = NULL;
	cp_select *sel = NULL;
	cp_batch_opts *bopts = NULL;
	cp_diag *diag = NULL;
	cli_batch_progress progress;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		goto out;
	if ((rc = cli_require(&spec, "--where", where)) != CLI_GO)
		goto out;
	if (desc && !order) {
		cli_error("select: --desc needs --order-by");
		rc = EXIT_ERROR;
		goto out;
	}
	if ((rc = cli_batch_opts("select", threads, &progress, &bopts)) != CLI_GO ||
	    (rc = open_and_compile("select", operands.items[0], &files, &params, &store, &rs)) != CLI_GO ||
	    (rc = cli_diag_new(&diag)) != CLI_GO)
		goto out;
	if (cp_select_new(&sel, rs) != CP_OK) {
		cli_error("out of memory");
		rc = EXIT_ERROR;
		goto out;
	}
	if ((rc = select_setup(sel, diag, where, order, desc, limit, &columns, labels)) != CLI_GO)
		goto out;
	int ran = cp_select_run(sel, store, bopts);
	cli_progress_end(&progress.line);
	if (ran != CP_OK) {
		cli_error("select: %s", cp_errmsg(sel));
		rc = EXIT_ERROR;
		goto out;
	}
	rc = write_list(sel, output, (safe ? CP_CSV_SAFE : 0) | (crlf ? CP_CSV_CRLF : 0));
out:
	cp_select_free(sel);
	cp_diag_free(diag);
	cp_batch_opts_free(bopts);
	cp_ruleset_free(rs);
	cp_store_free(store);
	cli_list_free(&operands);
	cli_list_free(&files);
	cli_list_free(&params);
	cli_list_free(&columns);
	return rc;
}
