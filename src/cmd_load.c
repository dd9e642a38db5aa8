/* cmd_load.c — custprof load (to be written). */
#include "config.h"
#include "cli.h"

int cmd_load(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("load: not implemented yet");
	return EXIT_ERROR;
}
