/*
 * cli.h — the custprof command: shared helpers of the subcommands.  The
 * command uses only the public API.
 */
#ifndef CUSTPROF_CLI_H
#define CUSTPROF_CLI_H

#include <custprof/custprof.h>
#include <stdio.h>

/* Exit codes (custprof(1)). */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_PARTIAL = 2 };

typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_load(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_gen(int argc, char **argv);

/* "custprof: " + message on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print every entry of diag on stderr, one per line. */
void cli_print_diag(cp_diag *diag);

#endif
