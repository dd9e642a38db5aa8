/*
 * bench_csv_stages.c — where CSV ingest spends its time (`make bench`).
 *
 *   bench_csv_stages [-r RUNS] FILE.csv
 *
 * Reads a default-schema CSV file (bench_ingest -k writes one) through the
 * stages of cp_store_load_csv, each run adding one stage, and prints the
 * median MB/s (process CPU time) of each:
 *   read     chunked reading and cutting into records and cells (csv.c)
 *   text     + the UTF-8 check of every record (csv.c)
 *   cells    + every non-empty cell parsed into the draft profile
 *              (cp__profile_set_cell_text, profile.c)
 *   put      + cp_store_put of the draft (store.c): the whole ingest
 * Links the internal library: it measures internal stages.
 */
#define _POSIX_C_SOURCE 200809L
#include "csv.h"
#include "store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_csv_stages: %s\n", what);
	exit(1);
}

enum stage { READ, TEXT, CELLS, PUT, NSTAGES };
static const char *const stage_names[] = {"read", "text", "cells", "put"};

/* One pass over the file up to stage; returns CPU seconds. */
static double run(const char *path, const cp_schema *schema, enum stage stage,
                  uint64_t *bytes)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("cannot open the file");
	cp_store *store;
	cp_profile *draft;
	if (cp_store_new(&store, schema) != CP_OK || cp_profile_new(&draft, schema) != CP_OK)
		die("out of memory");
	cp_csv_reader r;
	cp__csv_reader_init(&r, path, &store->obj, NULL);
	cp__csv_reader_set_fd(&r, fd, 0);
	double t0 = cpu_now();
	cp_csv_header h;
	if (cp__csv_detect_delimiter(&r) != CP_OK ||
	    cp__csv_next_record(&r, CP_CSV_MAX_COLUMNS) != CP_OK ||
	    cp__csv_header_map(&h, schema, r.cells, r.ncells, path, 1, &store->obj, NULL) != CP_OK)
		die(cp_errmsg(store));
	while (cp__csv_next_record(&r, h.ncols + 1) == CP_OK) {
		if (r.ncells != h.ncols)
			die("a row has the wrong number of cells");
		if (stage >= TEXT) {
			const char *a = r.cells[0].p;
			const char *e = r.cells[r.ncells - 1].p + r.cells[r.ncells - 1].len;
			if (memchr(a, '\0', (size_t)(e - a)) || !cp__utf8_valid(a, (size_t)(e - a)))
				die("a row is not UTF-8 text");
		}
		if (stage >= CELLS) {
			cp_profile_clear(draft);
			for (size_t c = 0; c < h.ncols; c++) {
				const char *why;
				if (h.cols[c].field && r.cells[c].len &&
				    cp__profile_set_cell_text(draft, h.cols[c].field, h.cols[c].month,
				                              r.cells[c].p, r.cells[c].len, &why) != CP_OK)
					die(why);
			}
		}
		if (stage >= PUT && cp_store_put(store, draft, NULL) != CP_OK)
			die(cp_errmsg(store));
	}
	double t = cpu_now() - t0;
	*bytes = r.bytes_read;
	cp__csv_header_free(&h);
	cp__csv_reader_fini(&r);
	cp_profile_free(draft);
	cp_store_free(store);
	close(fd);
	return t;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int runs = 5, opt;
	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r')
			die("usage: bench_csv_stages [-r RUNS] FILE.csv");
		runs = atoi(optarg);
	}
	if (optind != argc - 1 || runs < 1 || runs > 99)
		die("usage: bench_csv_stages [-r RUNS] FILE.csv");
	cp_schema *schema;
	if (cp_schema_default(&schema) != CP_OK)
		die("no default schema");
	for (int st = READ; st < NSTAGES; st++) {
		double secs[99];
		uint64_t bytes = 0;
		for (int i = 0; i < runs; i++)
			secs[i] = run(argv[optind], schema, (enum stage)st, &bytes);
		qsort(secs, (size_t)runs, sizeof(secs[0]), by_value);
		printf("%-6s median of %d runs %.3f s CPU: %.1f MB/s\n", stage_names[st], runs,
		       secs[runs / 2], (double)bytes / 1e6 / secs[runs / 2]);
	}
	cp_schema_free(schema);
	return 0;
}
