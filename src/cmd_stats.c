/* cmd_stats.c — custprof stats (to be written). */
#include "config.h"
#include "cli.h"

int cmd_stats(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("stats: not implemented yet");
	return EXIT_ERROR;
}
