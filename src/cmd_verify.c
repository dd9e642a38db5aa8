/*
 * cmd_verify.c — custprof verify: check every checksum of a snapshot.
 */
#include "config.h"

#include "cli.h"

static const char verify_usage[] = "custprof verify STORE.cps";
static const char verify_help[] =
	"Check a snapshot's header, structure and every section checksum.  Each\n"
	"problem found is printed on standard error with its section and offset.\n"
	"Exit status: 0 intact, 1 damaged or unreadable.\n"
	"\n"
	"options:\n"
	"  -h, --help   show this help\n";

int cmd_verify(int argc, char **argv)
{
	const cli_opt opts[] = {{NULL, 0, 0, NULL}};
	const cli_spec spec = {"verify", verify_usage, verify_help, opts, 1, 1};
	cli_list operands;
	cp_diag *diag = NULL;
	int rc;

	if ((rc = cli_parse(&spec, argc, argv, &operands)) != CLI_GO)
		return rc;
	const char *path = operands.items[0];
	if ((rc = cli_diag_new(&diag)) != CLI_GO) {
		cli_list_free(&operands);
		return rc;
	}
	rc = cp_snapshot_verify(path, diag);
	cli_print_diag(diag);
	if (rc == CP_OK) {
		printf("%s: ok\n", path);
		rc = EXIT_OK;
	} else {
		size_t n = cp_diag_error_count(diag);
		if (n == 0)
			cli_error("verify: %s: %s", path, cp_strerror(rc));
		cli_error("verify: %s: %s", path, rc == CP_ECORRUPT ? "damaged" : "cannot be checked");
		rc = EXIT_ERROR;
	}
	cp_diag_free(diag);
	cli_list_free(&operands);
	return rc;
}
