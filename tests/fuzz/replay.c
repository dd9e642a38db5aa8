/*
 * replay.c — runs a fuzz harness without libFuzzer: over every file of
 * each directory given (in name order), or each file given, or, with no
 * argument, over the harness's committed corpus (FZ_CORPUS, set by the
 * build).  A property that fails aborts (fuzz.h), so a crash names the
 * input on the line before.  Used by make check (tests/fuzz_replay.sh),
 * under valgrind and the sanitizers in CI.
 *
 *   replay_csv [-v] [DIR|FILE]...
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int verbose;

static int run_file(const char *path)
{
	size_t len;
	char *data = fz_read_file(path, &len);
	if (!data) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		return 1;
	}
	if (verbose)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	/* an exact-size copy, so that a read past the input is caught */
	uint8_t *input = malloc(len ? len : 1);
	if (!input) {
		fprintf(stderr, "replay: out of memory for %s\n", path);
		free(data);
		return 1;
	}
	memcpy(input, data, len);
	free(data);
	LLVMFuzzerTestOneInput(input, len);
	free(input);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order.  *count gets how many ran. */
static int run_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: cannot open %s\n", dir);
		return 1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **p = realloc(names, cap * sizeof(*names));
			if (!p)
				abort();
			names = p;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		if (!(names[n] = malloc(len)))
			abort();
		snprintf(names[n++], len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			bad |= run_file(names[i]);
			++*count;
		}
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0, args = 0;
	size_t count = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0) {
			verbose = 1;
			continue;
		}
		args++;
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			bad |= run_dir(argv[i], &count);
		} else {
			bad |= run_file(argv[i]);
			count++;
		}
	}
#ifdef FZ_CORPUS
	if (!args)
		bad |= run_dir(FZ_CORPUS, &count);
#else
	if (!args) {
		fprintf(stderr, "usage: %s [-v] DIR|FILE...\n", argv[0]);
		return 2;
	}
#endif
	printf("replay: %zu inputs%s\n", count, bad ? ", some unreadable" : "");
	return bad;
}
