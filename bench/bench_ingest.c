/*
 * bench_ingest.c — CSV ingest speed and memory per profile (`make bench`).
 *
 *   bench_ingest [-n ROWS] [-r RUNS] [-s SCHEMA.yaml] [-o OUT.csv] [FILE.csv]
 *
 * Without FILE, writes ROWS rows (default 200000) shaped like an export of
 * the default schema (every column, realistic values, about a fifth of the
 * cells empty) to a temporary file, or to OUT.csv, which is kept.  Then
 * loads the file RUNS times (default 5) into a fresh store on one thread
 * and prints the median MB/s and rows/s (from the process's CPU time: the
 * load uses one thread, and CPU time does not count other processes of a
 * busy machine; the wall time is shown beside it), and the store's bytes
 * per profile.  Uses the public API only.
 */
#define _POSIX_C_SOURCE 200809L
#include <custprof/custprof.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: deterministic, so every run sees the same data */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32) % n;
}

/* CPU time of this process: the machine may be shared, and the load runs
 * on one thread, so CPU time is what one core spends on it. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_ingest: %s: %s\n", what, msg);
	exit(1);
}

static const char *const words[] = {"news", "music", "sports", "video", "game", "finance",
                                    "彩铃", "手机报", "飞信", "梦网", "天气", "笑话"};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* One cell of field f of row i in its CSV text form ("" = null). */
static void put_cell(FILE *out, const cp_schema *s, int f, long row)
{
	int type = cp_schema_field_type(s, f);
	if (f == cp_schema_key_field(s)) {
		fprintf(out, "%s138%08ld", row % 10 == 0 ? "+86" : "", row);
		return;
	}
	if (rnd(5) == 0)
		return; /* null */
	int nvalues = cp_schema_field_value_count(s, f);
	switch (type) {
	case CP_TYPE_BOOL:
		fputs(rnd(2) ? "1" : "0", out);
		break;
	case CP_TYPE_INT:
		fprintf(out, "%u", rnd(rnd(10) ? 200 : 100000));
		break;
	case CP_TYPE_FLOAT:
		fprintf(out, "%u.%03u", rnd(5000), rnd(1000));
		break;
	case CP_TYPE_MONEY:
		fprintf(out, "%u.%02u", rnd(300), rnd(100));
		break;
	case CP_TYPE_DATE:
		fprintf(out, "20%02u-%02u-%02u", 10 + rnd(17), 1 + rnd(12), 1 + rnd(28));
		break;
	case CP_TYPE_ENUM:
		if (nvalues)
			fputs(cp_schema_field_value(s, f, (int)rnd((uint32_t)nvalues)), out);
		else
			fprintf(out, "%s_%u", cp_schema_field_name(s, f), rnd(40));
		break;
	case CP_TYPE_STRING:
		if (cp_schema_field_is_personal(s, f))
			fprintf(out, "用户%ld", row);
		else
			fprintf(out, "型号-%u", rnd(500));
		break;
	case CP_TYPE_SET:
	case CP_TYPE_LIST: {
		int max = cp_schema_field_max_items(s, f);
		int n = 1 + (int)rnd(max ? (uint32_t)max : 4);
		for (int k = 0; k < n; k++)
			fprintf(out, "%s%s", k ? ";" : "", words[rnd(NWORDS)]);
		break;
	}
	default:
		break;
	}
}

static void generate(const char *path, const cp_schema *s, long rows)
{
	FILE *out = fopen(path, "w");
	if (!out)
		die(path, "cannot create");
	int nf = cp_schema_field_count(s);
	int first = 1;
	for (int f = 0; f < nf; f++) {
		const char *name = cp_schema_field_name(s, f);
		if (!cp_schema_field_is_series(s, f)) {
			fprintf(out, "%s%s", first ? "" : ",", name);
			first = 0;
			continue;
		}
		for (int m = 0; m < cp_schema_field_months(s, f); m++) {
			fprintf(out, "%s%s_m%d", first ? "" : ",", name, m);
			first = 0;
		}
	}
	fputc('\n', out);
	for (long i = 0; i < rows; i++) {
		for (int f = 0; f < nf; f++) {
			for (int m = 0; m < cp_schema_field_months(s, f); m++) {
				if (f || m)
					fputc(',', out);
				put_cell(out, s, f, i);
			}
		}
		fputc('\n', out);
	}
	if (fclose(out) != 0)
		die(path, "write error");
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long rows = 200000;
	int runs = 5, opt;
	const char *schema_path = NULL, *out = NULL;
	while ((opt = getopt(argc, argv, "n:r:s:o:")) != -1) {
		switch (opt) {
		case 'n': rows = atol(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 's': schema_path = optarg; break;
		case 'o': out = optarg; break;
		default:
			fprintf(stderr, "usage: bench_ingest [-n ROWS] [-r RUNS] [-s SCHEMA.yaml] "
			                "[-o OUT.csv] [FILE.csv]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 99 || rows < 1)
		die("arguments", "RUNS must be 1..99 and ROWS positive");

	cp_schema *schema = NULL;
	cp_diag *diag = NULL;
	cp_diag_new(&diag);
	int rc = schema_path ? cp_schema_load_file(&schema, schema_path, diag)
	                     : cp_schema_default(&schema);
	if (rc != CP_OK)
		die(schema_path ? schema_path : "default schema",
		    cp_diag_count(diag) ? cp_diag_format(diag, 0) : cp_strerror(rc));
	cp_diag_free(diag);

	char tmp[4096];
	const char *path;
	if (optind < argc) {
		path = argv[optind];
	} else if (out) {
		path = out;
	} else {
		const char *dir = getenv("TMPDIR");
		snprintf(tmp, sizeof(tmp), "%s/bench_ingest.%ld.csv", dir && *dir ? dir : "/tmp",
		         (long)getpid());
		path = tmp;
	}
	if (optind >= argc) {
		double t0 = now();
		generate(path, schema, rows);
		printf("generated %ld rows in %.1f s: %s\n", rows, now() - t0, path);
		fflush(stdout);
	}

	double secs[99], wall[99];
	uint64_t bytes = 0, loaded = 0, nrows = 0;
	size_t mem = 0, row_bytes = 0, count = 0;
	for (int r = 0; r < runs; r++) {
		cp_store *store = NULL;
		cp_load_report *report = NULL;
		if (cp_store_new(&store, schema) != CP_OK || cp_load_report_new(&report) != CP_OK)
			die("setup", "out of memory");
		double t0 = now(), c0 = cpu_now();
		rc = cp_store_load_csv(store, path, NULL, report);
		secs[r] = cpu_now() - c0;
		wall[r] = now() - t0;
		if (rc != CP_OK)
			die(path, cp_errmsg(store));
		if (cp_load_report_rejected(report))
			die(path, cp_load_report_reject_reason(report, 0));
		bytes = cp_load_report_bytes(report);
		nrows = cp_load_report_rows(report);
		loaded = cp_load_report_loaded(report);
		mem = cp_store_memory_bytes(store);
		row_bytes = cp_store_row_bytes(store);
		count = cp_store_count(store);
		cp_load_report_free(report);
		cp_store_free(store);
	}
	qsort(secs, (size_t)runs, sizeof(secs[0]), by_value);
	qsort(wall, (size_t)runs, sizeof(wall[0]), by_value);
	double median = secs[runs / 2];
	int columns = 0;
	for (int f = 0; f < cp_schema_field_count(schema); f++)
		columns += cp_schema_field_months(schema, f);
	printf("input: %" PRIu64 " bytes, %" PRIu64 " rows (%" PRIu64 " stored), "
	       "%d schema columns\n", bytes, nrows, loaded, columns);
	printf("ingest: median of %d runs %.3f s CPU (min %.3f, max %.3f; wall %.3f): "
	       "%.1f MB/s, %.0f rows/s\n",
	       runs, median, secs[0], secs[runs - 1], wall[runs / 2],
	       (double)bytes / 1e6 / median, (double)nrows / median);
	printf("memory: %zu bytes per profile (row %zu bytes), %zu profiles, %.1f MB in all\n",
	       count ? mem / count : 0, row_bytes, count, (double)mem / 1e6);
	if (optind >= argc && !out)
		unlink(path);
	cp_schema_free(schema);
	return 0;
}
