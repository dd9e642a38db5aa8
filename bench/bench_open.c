/*
 * bench_open.c — how long cp_store_open takes, and what lookups cost on a
 * mapped snapshot.
 *
 *   bench_open [N [DIR]]
 *
 * Builds a store of N default-schema subscribers (default 1000000), saves
 * it to DIR/open-N.cps (kept: a second run reuses it), then times, with the
 * file in the page cache (as when many worker processes share it): open
 * (median and worst of 21), a first lookup, random lookups, an open with
 * the verify option, and cp_snapshot_verify.  Target: open under 50 ms,
 * independent of N.
 */
#include "benchgen.h"

#include <sys/stat.h>

#define OPENS 21
#define LOOKUPS 1000000

/* Seconds per random lookup (key formatting included). */
static double lookups(const cp_store *s, long n)
{
	cp_view *v;
	char key[32];
	int rc;
	cp_view_new(&v, s);
	uint64_t x = 88172645463325252u, sum = 0;
	double t0 = bench_now();
	for (int i = 0; i < LOOKUPS; i++) {
		snprintf(key, sizeof(key), "138%08ld", (long)(bench_rand(&x) % (uint64_t)n));
		if ((rc = cp_store_get(s, key, v)) != CP_OK)
			bench_die("get", rc, v);
		sum += (uint64_t)cp_view_int(v, 6, 0);
	}
	double dt = bench_now() - t0;
	cp_view_free(v);
	return sum ? dt / LOOKUPS : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	const char *dir = argc > 2 ? argv[2] : ".";
	char path[4096];
	snprintf(path, sizeof(path), "%s/open-%ld.cps", dir, n);
	cp_schema *schema;
	int rc;
	if ((rc = cp_schema_default(&schema)) != CP_OK)
		bench_die("schema", rc, NULL);

	struct stat st;
	if (stat(path, &st) != 0) {
		double t0 = bench_now();
		cp_store *s = bench_store(schema, n);
		double t1 = bench_now();
		if ((rc = cp_store_save(s, path, 0)) != CP_OK)
			bench_die("save", rc, s);
		double t2 = bench_now();
		printf("build %ld profiles: %.2f s; save: %.2f s\n", n, t1 - t0, t2 - t1);
		printf("in-memory store: lookups %.0f ns each\n", lookups(s, n) * 1e9);
		cp_store_free(s);
		stat(path, &st);
	}
	printf("snapshot %s: %.1f MiB, %ld profiles\n", path, (double)st.st_size / 1048576.0, n);

	/* warm the page cache, as a running system has it */
	cp_store *s;
	if ((rc = cp_snapshot_verify(path, NULL)) != CP_OK)
		bench_die("verify", rc, NULL);

	double t[OPENS];
	for (int i = 0; i < OPENS; i++) {
		double t0 = bench_now();
		if ((rc = cp_store_open(&s, path, NULL)) != CP_OK)
			bench_die("open", rc, NULL);
		t[i] = bench_now() - t0;
		if (i + 1 < OPENS)
			cp_store_free(s);
	}
	qsort(t, OPENS, sizeof(t[0]), cmp_double);
	printf("cp_store_open: median %.3f ms, worst %.3f ms (%d opens)\n", t[OPENS / 2] * 1e3,
	       t[OPENS - 1] * 1e3, OPENS);
	printf("  row bytes %zu, store memory %.1f MiB (the mapping included)\n",
	       cp_store_row_bytes(s), (double)cp_store_memory_bytes(s) / 1048576.0);

	cp_view *v;
	char key[32];
	cp_view_new(&v, s);
	double t0 = bench_now();
	snprintf(key, sizeof(key), "138%08ld", n / 2);
	if ((rc = cp_store_get(s, key, v)) != CP_OK)
		bench_die("get", rc, v);
	printf("first lookup after open: %.1f us\n", (bench_now() - t0) * 1e6);
	cp_view_free(v);
	printf("random lookups: %.0f ns each (%d, key formatting included)\n",
	       lookups(s, n) * 1e9, LOOKUPS);
	cp_store_free(s);

	cp_open_opts *o;
	cp_open_opts_new(&o);
	cp_open_opts_set_verify(o, 1);
	t0 = bench_now();
	if ((rc = cp_store_open_ex(&s, path, o, NULL)) != CP_OK)
		bench_die("open verify", rc, NULL);
	printf("cp_store_open_ex with verify: %.1f ms\n", (bench_now() - t0) * 1e3);
	cp_store_free(s);
	cp_open_opts_free(o);
	t0 = bench_now();
	cp_snapshot_verify(path, NULL);
	printf("cp_snapshot_verify: %.1f ms\n", (bench_now() - t0) * 1e3);
	cp_schema_free(schema);
	return 0;
}
