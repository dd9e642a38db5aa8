/* gen.c — custprof gen (to be written). */
#include "config.h"
#include "cli.h"

int cmd_gen(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("gen: not implemented yet");
	return EXIT_ERROR;
}
