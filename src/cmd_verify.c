/* cmd_verify.c — custprof verify (to be written). */
#include "config.h"
#include "cli.h"

int cmd_verify(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("verify: not implemented yet");
	return EXIT_ERROR;
}
