/*
 * cmd_load.c — custprof load: CSV/PSV/TSV exports into a snapshot.
 *
 * Every input file is loaded into one store with one report accumulating
 * the counts; the snapshot is written only when every file was read to its
 * end.  Rejected rows do not stop the load: they are counted, listed and
 * written to the rejects file, and the exit status is then 2 (partial).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Rejects and duplicates shown on stderr; the rejects file has them all. */
#define SHOW_REJECTS 10
#define SHOW_DUPLICATES 10

static const char load_usage[] =
	"custprof load [--schema S.yaml] --as-of YYYY-MM DATA.csv... -o STORE.cps\n"
	"                     [--rejects R.csv] [--delimiter C] [--compress]\n"
	"       custprof load --base BASE.cps [--merge] [--as-of YYYY-MM] DATA.csv... -o STORE.cps";
static const char load_help[] =
	"Load CSV, PSV or TSV exports into a new snapshot.  A row whose values do\n"
	"not fit the schema is rejected (nothing else of it is stored); a key seen\n"
	"again replaces the earlier row.  A report goes to standard error.\n"
	"Exit status: 0 every row loaded, 2 some rows rejected, 1 error (no\n"
	"snapshot written).\n"
	"\n"
	"--base starts from the profiles of a snapshot instead (its schema and\n"
	"as-of month).  With --merge a row updates the profile of its key: the\n"
	"columns of the file set their cells (an empty cell to null), the other\n"
	"cells keep their values; after 'custprof close-month', this loads the\n"
	"new month's export on top.\n"
	"\n"
	"options:\n"
	"  --schema S.yaml    schema of the profiles (default: the built-in cmcc-default)\n"
	"  --as-of YYYY-MM    month 0 of every series (required without --base)\n"
	"  --base BASE.cps    start from this snapshot (BASE.cps itself is not changed\n"
	"                     unless it is also the output)\n"
	"  --merge            a row updates its profile instead of replacing it\n"
	"  -o, --output F     snapshot to write (required; replaced atomically)\n"
	"  --rejects R.csv    write every rejected row as line,column,reason\n"
	"  --delimiter C      ',', '|' or 'tab' (default: detected from the header)\n"
	"  --compress         write the zlib-compressed transfer form\n"
	"  -h, --help         show this help\n";

/* One input file and where its entries of the shared report end. */
typedef struct loaded_file {
	const char *path;
	size_t rejects_end, duplicates_end;
} loaded_file;

typedef struct load_progress {
	cli_progress line;
	const char *path;
} load_progress;

static int on_progress(uint64_t done, uint64_t total, void *userdata)
{
	load_progress *p = userdata;
	char text[256], a[32], b[32];

	if (!cli_progress_due(&p->line))
		return 0;
	if (total > 0)
		snprintf(text, sizeof(text), "load: %s %llu%% (%s of %s)", p->path,
		         (unsigned long long)(done * 100 / total), cli_format_bytes(done, a, sizeof(a)),
		         cli_format_bytes(total, b, sizeof(b)));
	else
		snprintf(text, sizeof(text), "load: %s %s", p->path, cli_format_bytes(done, a, sizeof(a)));
	cli_progress_show(&p->line, text);
	return 0;
}

/* Append the rows of a per-file rejects file (its header skipped) to out. */
static int append_rejects(FILE *out, const char *part)
{
	FILE *in = fopen(part, "rb");
	char buf[65536];
	size_t n;
	int header = 1, rc = CLI_GO;

	if (!in) {
		cli_error("load: cannot read %s: %s", part, strerror(errno));
		return EXIT_ERROR;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		char *p = buf;
		if (header) {
			char *nl = memchr(buf, '\n', n);
			if (!nl)
				continue; /* a header longer than the buffer: not ours */
			header = 0;
			p = nl + 1;
		}
		if (fwrite(p, 1, n - (size_t)(p - buf), out) != n - (size_t)(p - buf)) {
			rc = EXIT_ERROR;
			break;
		}
	}
	if (ferror(in))
		rc = EXIT_ERROR;
	fclose(in);
	return rc;
}

static const char *file_of(const loaded_file *files, size_t nfiles, size_t entry, int dups)
{
	for (size_t i = 0; i < nfiles; i++)
		if (entry < (dups ? files[i].duplicates_end : files[i].rejects_end))
			return files[i].path;
	return "?";
}

static void print_report(const cp_load_report *rep, const loaded_file *files, size_t nfiles,
                         const char *rejects_path)
{
	uint64_t rejected = cp_load_report_rejected(rep), dups = cp_load_report_duplicates(rep);
	size_t kept = cp_load_report_reject_count(rep), shown;
	char size[32];

	fprintf(stderr, "load: %zu file%s, %s: %llu rows read, %llu loaded, %llu rejected, "
	        "%llu duplicate key%s\n", nfiles, nfiles == 1 ? "" : "s",
	        cli_format_bytes(cp_load_report_bytes(rep), size, sizeof(size)),
	        (unsigned long long)cp_load_report_rows(rep),
	        (unsigned long long)cp_load_report_loaded(rep), (unsigned long long)rejected,
	        (unsigned long long)dups, dups == 1 ? "" : "s");
	shown = kept < SHOW_REJECTS ? kept : SHOW_REJECTS;
	for (size_t i = 0; i < shown; i++) {
		const char *column = cp_load_report_reject_column(rep, i);
		fprintf(stderr, "  rejected %s:%llu:%s%s: %s\n", file_of(files, nfiles, i, 0),
		        (unsigned long long)cp_load_report_reject_line(rep, i),
		        column && *column ? " column " : "", column ? column : "",
		        cp_load_report_reject_reason(rep, i));
	}
	if (rejected > shown)
		fprintf(stderr, "  ... %llu more rejected row%s%s%s\n",
		        (unsigned long long)(rejected - shown), rejected - shown == 1 ? "" : "s",
		        rejects_path ? ": see " : " (write them all with --rejects)",
		        rejects_path ? rejects_path : "");
	kept = cp_load_report_duplicate_count(rep);
	shown = kept < SHOW_DUPLICATES ? kept : SHOW_DUPLICATES;
	for (size_t i = 0; i < shown; i++)
		fprintf(stderr, "  duplicate key %s:%llu: replaces an earlier row\n",
		        file_of(files, nfiles, i, 1),
		        (unsigned long long)cp_load_report_duplicate_line(rep, i));
	if (dups > shown)
		fprintf(stderr, "  ... %llu more duplicate key%s\n",
		        (unsigned long long)(dups - shown), dups - shown == 1 ? "" : "s");
	size_t nunknown = cp_load_report_unknown_column_count(rep);
	if (nunknown > 0) {
		fprintf(stderr, "  unknown column%s (ignored):", nunknown == 1 ? "" : "s");
		for (size_t i = 0; i < nunknown; i++)
			fprintf(stderr, "%s %s", i ? "," : "", cp_load_report_unknown_column(rep, i));
		fputc('\n', stderr);
	}
}

typedef struct load_job {
	const char *schema_path, *as_of_text, *output, *rejects_path, *delimiter_text;
	const char *base;
	int compress, merge;
	cli_list inputs;
	int as_of, delimiter;
	cp_schema *schema;
	cp_store *store;
	cp_load_opts *opts;
	cp_load_report *report;
	loaded_file *files;
	FILE *rejects;     /* the rejects file, when asked for */
	char *part;        /* per-file rejects, appended to it */
} load_job;

/* Load every input; CLI_GO when each was read to its end. */
static int load_inputs(load_job *job)
{
	load_progress progress;
	int rc = CLI_GO;

	cli_progress_begin(&progress.line);
	cp_load_opts_set_progress(job->opts, on_progress, &progress);
	for (size_t i = 0; i < job->inputs.count && rc == CLI_GO; i++) {
		const char *path = job->inputs.items[i];
		int st;
		progress.path = path;
		st = cp_store_load_csv(job->store, path, job->opts, job->report);
		cli_progress_end(&progress.line);
		if (st != CP_OK) {
			cli_error("load: %s", cp_errmsg(job->store));
			rc = EXIT_ERROR;
		} else if (job->rejects && append_rejects(job->rejects, job->part) != CLI_GO) {
			cli_error("load: cannot write %s: %s", job->rejects_path, strerror(errno));
			rc = EXIT_ERROR;
		}
		job->files[i].path = path;
		job->files[i].rejects_end = cp_load_report_reject_count(job->report);
		job->files[i].duplicates_end = cp_load_report_duplicate_count(job->report);
	}
	if (job->part)
		remove(job->part);
	return rc;
}

static int new_store(load_job *job)
{
	int rc = cli_load_schema(job->schema_path, &job->schema);
	if (rc != CLI_GO)
		return rc;
	if (cp_store_new(&job->store, job->schema) != CP_OK) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	if (cp_store_set_as_of(job->store, job->as_of) != CP_OK) {
		cli_error("load: %s", cp_errmsg(job->store));
		return EXIT_ERROR;
	}
	return CLI_GO;
}

/* --base: the snapshot's profiles, schema and as-of month.  An --as-of that
 * differs is refused: the rows would land in the wrong month (a new month
 * is opened by close-month). */
static int open_base(load_job *job)
{
	char a[16], b[16];
	if (job->schema_path) {
		cli_error("load: --schema and --base exclude each other (the snapshot has its schema)");
		return EXIT_ERROR;
	}
	int rc = cli_open_for_update("load", job->base, job->output, &job->store);
	if (rc != CLI_GO)
		return rc;
	int as_of = cp_store_as_of(job->store);
	if (job->as_of_text && as_of != job->as_of) {
		cli_error("load: %s is as of %s, not %s (close its month first: custprof "
		          "close-month)", job->base, cli_format_month(as_of, a, sizeof(a)),
		          cli_format_month(job->as_of, b, sizeof(b)));
		return EXIT_ERROR;
	}
	job->as_of = as_of;
	return CLI_GO;
}

static int prepare(load_job *job)
{
	int rc;

	if (job->delimiter_text &&
	    (rc = cli_parse_delimiter("--delimiter", job->delimiter_text, &job->delimiter)) != CLI_GO)
		return rc;
	if (job->as_of_text &&
	    (rc = cli_parse_month("--as-of", job->as_of_text, &job->as_of)) != CLI_GO)
		return rc;
	if ((rc = job->base ? open_base(job) : new_store(job)) != CLI_GO)
		return rc;
	job->files = calloc(job->inputs.count, sizeof(*job->files));
	if (!job->files || cp_load_opts_new(&job->opts) != CP_OK ||
	    cp_load_report_new(&job->report) != CP_OK) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	cp_load_opts_set_delimiter(job->opts, job->delimiter);
	cp_load_opts_set_merge(job->opts, job->merge);
	if (job->rejects_path) {
		/* created now, so a bad path fails before a long load */
		job->rejects = fopen(job->rejects_path, "w");
		size_t n = strlen(job->rejects_path) + sizeof(".part");
		job->part = malloc(n);
		if (!job->rejects || !job->part) {
			cli_error("load: cannot create %s: %s", job->rejects_path, strerror(errno));
			return EXIT_ERROR;
		}
		snprintf(job->part, n, "%s.part", job->rejects_path);
		fputs("line,column,reason\n", job->rejects);
		cp_load_opts_set_rejects_path(job->opts, job->part);
	}
	return CLI_GO;
}

static int finish(load_job *job)
{
	char month[16], size[32];
	int rc;

	if (job->rejects) {
		int bad = ferror(job->rejects) | fclose(job->rejects);
		job->rejects = NULL;
		if (bad) {
			cli_error("load: cannot write %s: %s", job->rejects_path, strerror(errno));
			return EXIT_ERROR;
		}
	}
	rc = cp_store_save(job->store, job->output, job->compress ? CP_SAVE_COMPRESS : 0);
	if (rc != CP_OK) {
		cli_error("load: %s", cp_errmsg(job->store));
		return EXIT_ERROR;
	}
	fprintf(stderr, "load: wrote %s: %zu profiles as of %s, %s\n", job->output,
	        cp_store_count(job->store), cli_format_month(job->as_of, month, sizeof(month)),
	        cli_format_bytes(cli_file_size(job->output), size, sizeof(size)));
	return cp_load_report_rejected(job->report) > 0 ? EXIT_PARTIAL : EXIT_OK;
}

int cmd_load(int argc, char **argv)
{
	load_job job = {0};
	const cli_opt opts[] = {
		{"schema", 0, CLI_VALUE, &job.schema_path},
		{"as-of", 0, CLI_VALUE, &job.as_of_text},
		{"output", 'o', CLI_VALUE, &job.output},
		{"rejects", 0, CLI_VALUE, &job.rejects_path},
		{"delimiter", 0, CLI_VALUE, &job.delimiter_text},
		{"compress", 0, CLI_FLAG, &job.compress},
		{"base", 0, CLI_VALUE, &job.base},
		{"merge", 0, CLI_FLAG, &job.merge},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"load", load_usage, load_help, opts, 1, -1};
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &job.inputs)) != CLI_GO)
		return rc;
	if ((job.base || (rc = cli_require(&spec, "--as-of", job.as_of_text)) == CLI_GO) &&
	    (rc = cli_require(&spec, "-o", job.output)) == CLI_GO &&
	    (rc = prepare(&job)) == CLI_GO &&
	    (rc = load_inputs(&job)) == CLI_GO) {
		print_report(job.report, job.files, job.inputs.count, job.rejects_path);
		rc = finish(&job);
	} else if (job.report && cp_load_report_rows(job.report) > 0) {
		print_report(job.report, job.files, job.inputs.count, job.rejects_path);
	}
	if (job.rejects)
		fclose(job.rejects);
	free(job.part);
	free(job.files);
	cp_load_report_free(job.report);
	cp_load_opts_free(job.opts);
	cp_store_free(job.store);
	cp_schema_free(job.schema);
	cli_list_free(&job.inputs);
	return rc;
}
