/*
 * cmd_show.c — custprof show: one profile as labelled text, for the
 * operator's own screen (personal fields included).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char show_usage[] = "custprof show STORE.cps --msisdn N";
static const char show_help[] =
	"Print one subscriber's profile: each field's label, name and value, then\n"
	"the monthly series as a table with one column per month (month 0, the\n"
	"as-of month, first).  Empty cells show as '-'.  Personal fields are shown:\n"
	"this is the operator's own screen, not a log.\n"
	"\n"
	"options:\n"
	"  --msisdn N   the subscriber's number (normalized as the key field says)\n"
	"  -h, --help   show this help\n";

/* A growing buffer for the text of one cell at a time. */
typedef struct text_buf {
	char *p;
	size_t cap;
} text_buf;

/* The text of a cell, "-" when it is empty; valid until the next call. */
static const char *cell_text(text_buf *b, const cp_view *view, int field, int month)
{
	int need;

	if (cp_view_is_null(view, field, month))
		return "-";
	need = cp_view_text(view, field, month, b->p, b->cap);
	if (need >= 0 && (size_t)need >= b->cap) {
		char *bigger = realloc(b->p, (size_t)need + 1);
		if (!bigger)
			return "?";
		b->p = bigger;
		b->cap = (size_t)need + 1;
		need = cp_view_text(view, field, month, b->p, b->cap);
	}
	return need < 0 || !b->p ? "?" : b->p;
}

typedef struct widths {
	size_t label, name;
	size_t month[64];
} widths;

static void measure(text_buf *b, const cp_view *view, const cp_schema *schema, int months,
                    widths *w)
{
	memset(w, 0, sizeof(*w));
	for (int f = 0; f < cp_schema_field_count(schema); f++) {
		size_t lw = cli_display_width(cp_schema_field_label(schema, f));
		size_t nw = strlen(cp_schema_field_name(schema, f));
		w->label = lw > w->label ? lw : w->label;
		w->name = nw > w->name ? nw : w->name;
		if (!cp_schema_field_is_series(schema, f))
			continue;
		for (int m = 0; m < months && m < 64; m++) {
			size_t vw = cli_display_width(cell_text(b, view, f, m));
			w->month[m] = vw > w->month[m] ? vw : w->month[m];
		}
	}
	for (int m = 0; m < months && m < 64; m++)
		if (w->month[m] < 7)
			w->month[m] = 7; /* "YYYY-MM" */
}

static void print_right(const char *s, size_t width)
{
	for (size_t w = cli_display_width(s); w < width; w++)
		putchar(' ');
	fputs(s, stdout);
}

static void print_profile(const cp_store *store, const cp_view *view)
{
	const cp_schema *schema = cp_store_schema(store);
	int months = cp_schema_months(schema), as_of = cp_store_as_of(store);
	int nfields = cp_schema_field_count(schema);
	char month[16];
	text_buf b = {NULL, 0};
	widths w;

	measure(&b, view, schema, months, &w);
	printf("profile %s (schema %s, as of %s)\n\n", cp_view_key(view), cp_schema_name(schema),
	       cli_format_month(as_of, month, sizeof(month)));
	for (int f = 0; f < nfields; f++) {
		if (cp_schema_field_is_series(schema, f))
			continue;
		cli_print_padded(stdout, cp_schema_field_label(schema, f), w.label + 2);
		cli_print_padded(stdout, cp_schema_field_name(schema, f), w.name + 2);
		printf("%s\n", cell_text(&b, view, f, 0));
	}

	int series = 0;
	for (int f = 0; f < nfields; f++) {
		if (!cp_schema_field_is_series(schema, f))
			continue;
		if (!series++) {
			/* header: the calendar month of each column */
			printf("\n");
			cli_print_padded(stdout, "", w.label + 2);
			cli_print_padded(stdout, "", w.name + 2);
			for (int m = 0; m < months && m < 64; m++) {
				int t = (as_of / 100) * 12 + as_of % 100 - 1 - m;
				if (as_of > 0)
					snprintf(month, sizeof(month), "%04d-%02d", t / 12, t % 12 + 1);
				else
					snprintf(month, sizeof(month), "m%d", m);
				print_right(month, w.month[m] + (m ? 2 : 0));
			}
			printf("\n");
		}
		cli_print_padded(stdout, cp_schema_field_label(schema, f), w.label + 2);
		cli_print_padded(stdout, cp_schema_field_name(schema, f), w.name + 2);
		for (int m = 0; m < months && m < 64; m++)
			print_right(cell_text(&b, view, f, m), w.month[m] + (m ? 2 : 0));
		printf("\n");
	}
	free(b.p);
}

int cmd_show(int argc, char **argv)
{
	const char *msisdn = NULL;
	const cli_opt opts[] = {
		{"msisdn", 0, CLI_VALUE, &msisdn},
		{NULL, 0, 0, NULL},
	};
	const cli_spec spec = {"show", show_usage, show_help, opts, 1, 1};
	cli_list operands;
	cp_store *store = NULL;
	cp_view *view = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		return rc;
	if ((rc = cli_require(&spec, "--msisdn", msisdn)) == CLI_GO &&
	    (rc = cli_open_store(operands.items[0], &store)) == CLI_GO) {
		if (cp_view_new(&view, store) != CP_OK) {
			cli_error("out of memory");
			rc = EXIT_ERROR;
		} else if (cp_store_get(store, msisdn, view) != CP_OK) {
			cli_error("show: %s: no profile with key '%s'", operands.items[0], msisdn);
			rc = EXIT_ERROR;
		} else {
			print_profile(store, view);
			rc = EXIT_OK;
		}
	}
	cp_view_free(view);
	cp_store_free(store);
	cli_list_free(&operands);
	return rc;
}
