/*
 * cli_util.c — helpers shared by the subcommands.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

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
