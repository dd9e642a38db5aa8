/*
 * cli_util.c — helpers shared by the subcommands: messages, option parsing,
 * value parsers, opening schemas and snapshots, output formatting and the
 * progress line.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---- messages ---- */

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("custprof: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_print_diag(cp_diag *diag)
{
	for (size_t i = 0; i < cp_diag_count(diag); i++)
		fprintf(stderr, "%s\n", cp_diag_format(diag, i));
}

/* ---- option parsing ---- */

void cli_list_free(cli_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static int list_add(cli_list *list, const char *item)
{
	const char **items = realloc(list->items, (list->count + 1) * sizeof(*items));
	if (!items) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	items[list->count++] = item;
	list->items = items;
	return CLI_GO;
}

static void print_help(const cli_spec *spec)
{
	printf("usage: %s\n\n%s", spec->usage, spec->help);
}

static int usage_error(const cli_spec *spec)
{
	fprintf(stderr, "usage: %s\n(see 'custprof %s --help')\n", spec->usage, spec->name);
	return EXIT_ERROR;
}

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len)
{
	for (; opts->name; opts++)
		if (strlen(opts->name) == len && memcmp(opts->name, name, len) == 0)
			return opts;
	return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char letter)
{
	for (; opts->name; opts++)
		if (opts->letter && opts->letter == letter)
			return opts;
	return NULL;
}

static int store_value(const cli_opt *opt, const char *value)
{
	switch (opt->kind) {
	case CLI_FLAG:
		*(int *)opt->target = 1;
		return CLI_GO;
	case CLI_VALUE:
		*(const char **)opt->target = value;
		return CLI_GO;
	default:
		return list_add(opt->target, value);
	}
}

/*
 * One option argv[*i] (which starts with '-').  Its value is the text after
 * '=' (long form), the rest of the word (-ovalue) or the next word.
 */
static int parse_option(const cli_spec *spec, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *value = NULL;
	const cli_opt *opt;
	char shown[64];

	if (arg[1] == '-') {
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		opt = find_long(spec->opts, name, len);
		snprintf(shown, sizeof(shown), "--%.*s", (int)(len < 40 ? len : 40), name);
		if (eq)
			value = eq + 1;
	} else {
		opt = find_short(spec->opts, arg[1]);
		snprintf(shown, sizeof(shown), "-%c", arg[1]);
		if (arg[2])
			value = arg + 2;
	}
	if (!opt) {
		cli_error("%s: unknown option '%s'", spec->name, shown);
		return usage_error(spec);
	}
	if (opt->kind == CLI_FLAG) {
		if (value) {
			cli_error("%s: option '%s' takes no value", spec->name, shown);
			return usage_error(spec);
		}
		return store_value(opt, NULL);
	}
	if (!value) {
		if (*i + 1 >= argc) {
			cli_error("%s: option '%s' needs a value", spec->name, shown);
			return usage_error(spec);
		}
		value = argv[++*i];
	}
	return store_value(opt, value);
}

int cli_parse(const cli_spec *spec, int argc, char **argv, cli_list *operands)
{
	int rc, only_operands = 0;

	operands->items = NULL;
	operands->count = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!only_operands && strcmp(arg, "--") == 0) {
			only_operands = 1;
			continue;
		}
		if (!only_operands && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
			print_help(spec);
			cli_list_free(operands);
			return EXIT_OK;
		}
		if (!only_operands && arg[0] == '-' && arg[1] != '\0')
			rc = parse_option(spec, argc, argv, &i);
		else
			rc = list_add(operands, arg);
		if (rc != CLI_GO) {
			cli_list_free(operands);
			return rc;
		}
	}
	if ((int)operands->count < spec->min_operands ||
	    (spec->max_operands >= 0 && (int)operands->count > spec->max_operands)) {
		if (operands->count == 0)
			cli_error("%s: missing operand", spec->name);
		else
			cli_error("%s: wrong number of operands (%zu)", spec->name, operands->count);
		cli_list_free(operands);
		return usage_error(spec);
	}
	return CLI_GO;
}

int cli_require(const cli_spec *spec, const char *option, const char *value)
{
	if (value)
		return CLI_GO;
	cli_error("%s: option '%s' is required", spec->name, option);
	return usage_error(spec);
}

/* ---- value parsers ---- */

static int bad_value(const char *option, const char *text, const char *why)
{
	cli_error("invalid %s '%s': %s", option, text, why);
	return EXIT_ERROR;
}

int cli_parse_uint(const char *option, const char *text, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (text[0] < '0' || text[0] > '9')
		return bad_value(option, text, "expected a non-negative integer");
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end != '\0')
		return bad_value(option, text, "expected a non-negative integer");
	if (errno == ERANGE || v > max) {
		char why[64];
		snprintf(why, sizeof(why), "at most %llu", (unsigned long long)max);
		return bad_value(option, text, why);
	}
	*out = v;
	return CLI_GO;
}

int cli_parse_month(const char *option, const char *text, int *yyyymm)
{
	int year = 0, month = 0, digits = 0;
	const char *p = text;

	for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		year = year * 10 + (*p - '0');
	if (digits == 4 && *p == '-')
		p++;
	for (digits = 0; *p >= '0' && *p <= '9' && digits < 2; p++, digits++)
		month = month * 10 + (*p - '0');
	if (*p != '\0' || digits != 2 || year < 1900 || month < 1 || month > 12)
		return bad_value(option, text, "expected a month YYYY-MM");
	*yyyymm = year * 100 + month;
	return CLI_GO;
}

int cli_parse_delimiter(const char *option, const char *text, int *out)
{
	if (strcmp(text, ",") == 0 || strcmp(text, "|") == 0 || strcmp(text, "\t") == 0)
		*out = text[0];
	else if (strcmp(text, "tab") == 0)
		*out = '\t';
	else
		return bad_value(option, text, "expected ',', '|' or 'tab'");
	return CLI_GO;
}

/* ---- library objects ---- */

int cli_diag_new(cp_diag **out)
{
	if (cp_diag_new(out) == CP_OK)
		return CLI_GO;
	cli_error("out of memory");
	return EXIT_ERROR;
}

/* The end of a load that filled diag: print its entries on failure (or the
 * status, when it recorded no error), free it, map the status. */
static int loaded(int rc, cp_diag *diag, const char *path)
{
	if (rc != CP_OK) {
		cli_print_diag(diag);
		if (cp_diag_error_count(diag) == 0)
			cli_error("%s: %s", path, cp_strerror(rc));
	}
	cp_diag_free(diag);
	return rc == CP_OK ? CLI_GO : EXIT_ERROR;
}

int cli_load_schema(const char *path, cp_schema **out)
{
	cp_diag *diag = NULL;
	int rc;

	if (!path) {
		rc = cp_schema_default(out);
		if (rc != CP_OK) {
			cli_error("built-in schema: %s", cp_strerror(rc));
			return EXIT_ERROR;
		}
		return CLI_GO;
	}
	if ((rc = cli_diag_new(&diag)) != CLI_GO)
		return rc;
	return loaded(cp_schema_load_file(out, path, diag), diag, path);
}

int cli_open_store(const char *path, cp_store **out)
{
	cp_diag *diag = NULL;
	int rc;

	if ((rc = cli_diag_new(&diag)) != CLI_GO)
		return rc;
	return loaded(cp_store_open(out, path, diag), diag, path);
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (strcmp(a, b) == 0)
		return 1;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int cli_open_for_update(const char *cmd, const char *path, const char *output, cp_store **out)
{
	int rc = cli_open_store(path, out);
	if (rc != CLI_GO)
		return rc;
	if (output && !same_file(path, output)) {
		if (cp_store_save(*out, output, 0) != CP_OK) {
			cli_error("%s: %s", cmd, cp_errmsg(*out));
			return EXIT_ERROR;
		}
		cp_store_free(*out);
		*out = NULL;
		if ((rc = cli_open_store(output, out)) != CLI_GO)
			return rc;
	}
	/* the updates are many and the command ends with a compaction, which
	 * makes them durable: no fdatasync each */
	cp_store_set_sync(*out, CP_SYNC_NONE, 0);
	return CLI_GO;
}

/* ---- output ---- */

uint64_t cli_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

const char *cli_format_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

const char *cli_format_month(int yyyymm, char *buf, size_t size)
{
	if (yyyymm <= 0)
		snprintf(buf, size, "unset");
	else
		snprintf(buf, size, "%04d-%02d", yyyymm / 100, yyyymm % 100);
	return buf;
}

/* East Asian wide and fullwidth ranges (the CJK text of labels). */
static int wide(uint32_t c)
{
	return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
	       (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
	       (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
	       (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);
}

size_t cli_display_width(const char *utf8)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t width = 0;

	while (*s) {
		uint32_t c = *s;
		int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
		s++;
		if (more)
			c &= 0x3Fu >> more;
		for (; more > 0 && (*s & 0xC0) == 0x80; more--)
			c = (c << 6) | (*s++ & 0x3Fu);
		width += wide(c) ? 2 : 1;
	}
	return width;
}

void cli_print_padded(FILE *out, const char *s, size_t width)
{
	size_t w = cli_display_width(s);
	fputs(s, out);
	do
		fputc(' ', out);
	while (++w < width);
}

void cli_csv_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* ---- progress ---- */

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_begin(cli_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->enabled = isatty(STDERR_FILENO);
}

int cli_progress_due(const cli_progress *p)
{
	return p->enabled && cli_now() - p->last >= 0.25;
}

void cli_progress_show(cli_progress *p, const char *text)
{
	size_t len;

	if (!p->enabled)
		return;
	len = cli_display_width(text);
	fprintf(stderr, "\r%s", text);
	for (size_t i = len; i < p->width; i++)
		fputc(' ', stderr);
	fflush(stderr);
	p->width = len;
	p->shown = 1;
	p->last = cli_now();
}

void cli_progress_end(cli_progress *p)
{
	if (!p->shown)
		return;
	fputc('\r', stderr);
	for (size_t i = 0; i < p->width; i++)
		fputc(' ', stderr);
	fputc('\r', stderr);
	fflush(stderr);
	p->shown = 0;
	p->width = 0;
}
