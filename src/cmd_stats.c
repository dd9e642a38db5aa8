/*
 * cmd_stats.c — custprof stats: counts, memory, as-of month and schema of a
 * snapshot.
 */
#include "config.h"

#include "cli.h"

static const char stats_usage[] = "custprof stats STORE.cps";
static const char stats_help[] =
	"Print what a snapshot holds: profiles, as-of month, schema, the month\n"
	"closes whose stages it keeps, the bytes of a profile row against the\n"
	"memory target (1.25 x the cell bytes + 16), and the memory the opened\n"
	"store takes.\n"
	"\n"
	"options:\n"
	"  -h, --help   show this help\n";

static void print_stats(const char *path, const cp_store *store)
{
	const cp_schema *schema = cp_store_schema(store);
	size_t count = cp_store_count(store), row = cp_store_row_bytes(store);
	size_t cells = cp_schema_cell_bytes(schema), memory = cp_store_memory_bytes(store);
	double index = count ? (double)cp_store_index_bytes(store) / (double)count : 0;
	double target = 1.25 * (double)cells + 16;
	char a[32], b[32];

	printf("file          %s\n", path);
	printf("file size     %s\n", cli_format_bytes(cli_file_size(path), a, sizeof(a)));
	printf("schema        %s\n", cp_schema_name(schema));
	printf("fields        %d (series of %d months)\n", cp_schema_field_count(schema),
	       cp_schema_months(schema));
	printf("as of         %s\n", cli_format_month(cp_store_as_of(store), a, sizeof(a)));
	printf("profiles      %zu\n", count);
	int closes = cp_store_stage_history_count(store);
	if (closes > 0) {
		/* the month closes whose stages the store keeps, latest first */
		printf("month closes  %d:", closes);
		for (int c = 0; c < closes; c++)
			printf(" %s", cli_format_month(cp_store_stage_history_month(store, c), a,
			                               sizeof(a)));
		putchar('\n');
	}
	printf("row bytes     %zu (cells %zu)\n", row, cells);
	printf("index bytes   %.1f a profile\n", index);
	printf("target        %.0f bytes a profile (1.25 x cells + 16): %s\n", target,
	       (double)row + index <= target ? "met" : "missed");
	printf("memory        %s\n", cli_format_bytes(memory, a, sizeof(a)));
	if (count > 0)
		printf("per profile   %s (rows %zu, strings, lists and index %s)\n",
		       cli_format_bytes(memory / count, a, sizeof(a)), row,
		       cli_format_bytes(memory / count > row ? memory / count - row : 0, b, sizeof(b)));
}

int cmd_stats(int argc, char **argv)
{
	const cli_opt opts[] = {{NULL, 0, 0, NULL}};
	const cli_spec spec = {"stats", stats_usage, stats_help, opts, 1, 1};
	cli_list operands;
	cp_store *store = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		return rc;
	rc = cli_open_store(operands.items[0], &store);
	if (rc == CLI_GO) {
		print_stats(operands.items[0], store);
		rc = EXIT_OK;
	}
	cp_store_free(store);
	cli_list_free(&operands);
	return rc;
}
