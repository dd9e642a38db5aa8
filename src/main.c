/*
 * main.c — the custprof command: dispatch to subcommands.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
} commands[] = {
	{"load", cmd_load, "load CSV/PSV exports into a snapshot"},
	{"stats", cmd_stats, "counts, memory, as-of month and schema of a snapshot"},
	{"verify", cmd_verify, "check every checksum of a snapshot"},
	{"show", cmd_show, "one subscriber's profile as labelled text"},
	{"gen", cmd_gen, "write synthetic subscribers as CSV"},
	{"check", cmd_check, "compile rule packs and print every diagnostic"},
	{"tag", cmd_tag, "the tags of one subscriber or of all"},
	{"explain", cmd_explain, "why a tag applies, or how a track chose a stage"},
	{"stage", cmd_stage, "lifecycle stages per track, and transitions since a month close"},
	{"close-month", cmd_close_month, "record the stages, shift every series, next month"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: custprof COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'custprof COMMAND --help' describes a command; see custprof(1).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("custprof %s\n", cp_version());
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	cli_error("unknown command '%s' (see 'custprof --help')", argv[1]);
	return EXIT_ERROR;
}
