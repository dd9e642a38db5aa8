/*
 * cli.h — the custprof command: shared helpers of the subcommands.  The
 * command uses only the public API.
 *
 * Adding a subcommand: write src/cmd_NAME.c with `int cmd_NAME(int, char **)`
 * built on cli_parse(), declare it below, list it in main.c's table and in
 * Makefile.am (src_custprof_SOURCES), and document it in man/man1/custprof.1.
 */
#ifndef CUSTPROF_CLI_H
#define CUSTPROF_CLI_H

#include <custprof/custprof.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (custprof(1)). */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_PARTIAL = 2 };

typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_load(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_check(int argc, char **argv);   /* cmd_rules.c */
int cmd_tag(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_stage(int argc, char **argv);   /* cmd_stage.c */
int cmd_close_month(int argc, char **argv);

/* ---- messages ---- */

/* "custprof: " + message on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print every entry of diag on stderr, one per line. */
void cli_print_diag(cp_diag *diag);

/* ---- option parsing ---- */

/* A list of strings that point into argv (operands, repeated options). */
typedef struct cli_list {
	const char **items;
	size_t count;
} cli_list;

void cli_list_free(cli_list *list);

enum cli_opt_kind {
	CLI_FLAG,  /* no argument; target is int *, set to 1 */
	CLI_VALUE, /* one argument; target is const char **, the last one wins */
	CLI_LIST   /* one argument, repeatable; target is cli_list *, in order */
};

typedef struct cli_opt {
	const char *name; /* long name without "--"; NULL ends a table */
	char letter;      /* short form (-o), or 0 */
	int kind;         /* enum cli_opt_kind */
	void *target;
} cli_opt;

typedef struct cli_spec {
	const char *name;    /* subcommand, for messages */
	const char *usage;   /* the synopsis line(s), without "usage: " */
	const char *help;    /* description and options, printed by --help */
	const cli_opt *opts; /* table ended by {NULL} */
	int min_operands;
	int max_operands;    /* -1: no limit */
} cli_spec;

/* cli_parse() result when the command should go on. */
#define CLI_GO (-1)

/*
 * Parse argv[1..argc) (argv[0] is the subcommand) GNU style: options and
 * operands in any order, "--name value", "--name=value", "-o value",
 * "--" ends the options, "-" alone is an operand.  --help/-h prints the
 * usage and the help on stdout.  Returns CLI_GO with the operands in
 * *operands (free with cli_list_free), or the exit code the command must
 * return: EXIT_OK after --help, EXIT_ERROR after a message for an unknown
 * option, a missing value or a wrong number of operands.
 */
int cli_parse(const cli_spec *spec, int argc, char **argv, cli_list *operands);

/* An option that the command requires: message + EXIT_ERROR if it is NULL. */
int cli_require(const cli_spec *spec, const char *option, const char *value);

/* Value parsers: on a bad value, print "invalid OPTION 'text': why" and
 * return EXIT_ERROR; CLI_GO otherwise. */
int cli_parse_uint(const char *option, const char *text, uint64_t max, uint64_t *out);
/* "YYYY-MM" or "YYYYMM" -> yyyymm */
int cli_parse_month(const char *option, const char *text, int *yyyymm);
/* ",", "|", "tab" or a TAB character -> the delimiter byte */
int cli_parse_delimiter(const char *option, const char *text, int *out);

/* ---- library objects ---- */

/* A new cp_diag; "out of memory" and EXIT_ERROR if it cannot be made. */
int cli_diag_new(cp_diag **out);

/* The schema of --schema PATH, or the built-in one when path is NULL.
 * Every diagnostic is printed on failure.  CLI_GO or EXIT_ERROR. */
int cli_load_schema(const char *path, cp_schema **out);
/* Open a snapshot, printing every diagnostic on failure. */
int cli_open_store(const char *path, cp_store **out);
/*
 * Open a snapshot to update it and write the result to output (NULL: to
 * path itself): an update of an opened store goes to its file and log, so
 * when output names another file, path is copied there first and the copy
 * is opened (path stays as it was).  Updates are logged without an
 * fdatasync each: the command ends with cp_store_save(output), a
 * compaction, which makes them durable.  CLI_GO or EXIT_ERROR.
 */
int cli_open_for_update(const char *cmd, const char *path, const char *output,
                        cp_store **out);

/* ---- output ---- */

/* Size of a file in bytes, 0 if it cannot be read. */
uint64_t cli_file_size(const char *path);
/* Human-readable size: "812 B", "12.3 KiB", "1.4 GiB". */
const char *cli_format_bytes(uint64_t bytes, char *buf, size_t size);
/* yyyymm -> "YYYY-MM" ("unset" for 0). */
const char *cli_format_month(int yyyymm, char *buf, size_t size);
/* Columns a UTF-8 string takes on a terminal (East Asian wide = 2). */
size_t cli_display_width(const char *utf8);
/* Print s then spaces up to width columns (at least one space). */
void cli_print_padded(FILE *out, const char *s, size_t width);
/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
 * break, quotes doubled. */
void cli_csv_field(FILE *out, const char *s);

/*
 * A progress line on stderr, only when stderr is a terminal: rewritten in
 * place with \r at most a few times a second and erased by cli_progress_end,
 * so nothing of it stays in the terminal or reaches a redirected stderr.
 */
typedef struct cli_progress {
	int enabled;
	int shown;        /* something is on the line */
	double last;      /* time of the last update, seconds */
	size_t width;     /* length of the text on the line */
} cli_progress;

void cli_progress_begin(cli_progress *p);
/* 1 when the line is enabled and was last drawn long enough ago. */
int cli_progress_due(const cli_progress *p);
/* Replace the line with text ("load: data.csv 45%"). */
void cli_progress_show(cli_progress *p, const char *text);
void cli_progress_end(cli_progress *p);
/* Monotonic clock in seconds. */
double cli_now(void);

/* ---- rules and batch work ---- */

/*
 * Compile the packs (the built-in ones when files is empty) with --param
 * NAME=VALUE overrides against schema (cmd_rules.c).  Errors and warnings
 * are printed when the compile fails; warnings alone only with
 * print_warnings.  CLI_GO or EXIT_ERROR.
 */
int cli_compile_rules(const char *cmd, const cp_schema *schema, const cli_list *files,
                      const cli_list *params, int print_warnings, cp_ruleset **out);

#endif
