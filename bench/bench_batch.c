/*
 * bench_batch.c — speed of the batch module (public API only), on a
 * snapshot of the default schema with the built-in packs:
 *
 *   1. the plain loop: cp_iter + cp_eval on one thread (what a caller
 *      without the batch module writes), profiles/s;
 *   2. tag-all into a tag table on 1 and 2 threads (and more with -t):
 *      profiles/s and the scaling;
 *   3. select: the top 10,000 by churn_score of the profiles with a tag
 *      (tag('gprs.silent')), on 1 and 2 threads, and reading the list (4
 *      columns, CSV);
 *   4. counts: region x stage:subscriber, on 1 and 2 threads.
 *
 * Each figure is the median wall time of RUNS runs, with the CPU time of
 * the process (every thread) beside it: on a busy machine the wall time
 * shows the contention, the CPU time what the work costs.
 *
 * usage: bench_batch [-r RUNS] [-t MAX_THREADS] STORE.cps
 */
#define _POSIX_C_SOURCE 200809L
#include <custprof/custprof.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process, user + system */
static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, int rc, const void *handle)
{
	fprintf(stderr, "bench_batch: %s: %s (%s)\n", what, cp_strerror(rc),
	        handle ? cp_errmsg(handle) : "");
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

#define MAX_RUNS 50

typedef struct timing {
	double wall[MAX_RUNS], cpu[MAX_RUNS];
	int n;
} timing;

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(const char *what, timing *t, size_t profiles, double base)
{
	double w = median(t->wall, t->n), c = median(t->cpu, t->n);
	printf("%-34s %8.3f s wall %8.3f s cpu  %10.0f profiles/s", what, w, c,
	       w > 0 ? (double)profiles / w : 0);
	if (base > 0)
		printf("  x%.2f", base / w);
	printf("\n");
}

/* ---- the measured work ---- */

typedef struct job {
	const cp_store *store;
	const cp_ruleset *rs;
	int threads;
	uint64_t out;   /* something the work produced (kept so it is not optimized away) */
} job;

static void plain_loop(job *j)
{
	cp_result *res;
	cp_view *v;
	cp_iter *it;
	int rc;
	if ((rc = cp_result_new(&res, j->rs)) != CP_OK || (rc = cp_view_new(&v, j->store)) != CP_OK ||
	    (rc = cp_iter_new(&it, j->store)) != CP_OK)
		die("plain loop", rc, NULL);
	uint64_t n = 0;
	while (cp_iter_next(it, v) == CP_OK) {
		if ((rc = cp_eval(res, v)) != CP_OK)
			die("cp_eval", rc, res);
		n += (uint64_t)cp_result_tag(res, 0);
	}
	j->out = n;
	cp_iter_free(it);
	cp_view_free(v);
	cp_result_free(res);
}

static cp_batch_opts *opts_for(int threads)
{
	cp_batch_opts *o;
	int rc;
	if ((rc = cp_batch_opts_new(&o)) != CP_OK || (rc = cp_batch_opts_set_threads(o, threads)) != CP_OK)
		die("options", rc, NULL);
	return o;
}

static void tag_all(job *j)
{
	cp_batch_opts *o = opts_for(j->threads);
	cp_tagtable *t;
	int rc;
	if ((rc = cp_tagtable_new(&t, j->rs)) != CP_OK || (rc = cp_tagtable_build(t, j->store, o)) != CP_OK)
		die("tag table", rc, t);
	j->out = cp_tagtable_count(t);
	cp_tagtable_free(t);
	cp_batch_opts_free(o);
}

static cp_select *make_select(const job *j)
{
	cp_select *s;
	int rc;
	if ((rc = cp_select_new(&s, j->rs)) != CP_OK ||
	    (rc = cp_select_set_where(s, "tag('gprs.silent')", NULL)) != CP_OK ||
	    (rc = cp_select_set_order(s, "churn_score", 1, NULL)) != CP_OK ||
	    (rc = cp_select_set_limit(s, 10000)) != CP_OK ||
	    (rc = cp_select_add_column(s, "msisdn", NULL)) != CP_OK ||
	    (rc = cp_select_add_column(s, "churn_score", NULL)) != CP_OK ||
	    (rc = cp_select_add_column(s, "region", NULL)) != CP_OK ||
	    (rc = cp_select_add_column(s, "stage:crbt", NULL)) != CP_OK)
		die("select", rc, s);
	return s;
}

static void select_run(job *j)
{
	cp_batch_opts *o = opts_for(j->threads);
	cp_select *s = make_select(j);
	int rc = cp_select_run(s, j->store, o);
	if (rc != CP_OK)
		die("cp_select_run", rc, s);
	j->out = cp_select_count(s);
	cp_select_free(s);
	cp_batch_opts_free(o);
}

/* the list of a run, read as CSV lines (what `custprof select` prints) */
static cp_select *read_list_select;

static void read_list(job *j)
{
	size_t bytes = 0;
	const char *line = cp_select_csv_header(read_list_select, 0);
	bytes += strlen(line);
	cp_select_rewind(read_list_select);
	while (cp_select_next(read_list_select) == CP_OK)
		bytes += strlen(cp_select_csv_row(read_list_select, 0));
	j->out = bytes;
}

static void counts(job *j)
{
	cp_batch_opts *o = opts_for(j->threads);
	cp_counts *c;
	int rc;
	if ((rc = cp_counts_new(&c, j->rs)) != CP_OK || (rc = cp_counts_add_dim(c, "region", NULL)) != CP_OK ||
	    (rc = cp_counts_add_dim(c, "stage:subscriber", NULL)) != CP_OK ||
	    (rc = cp_counts_run(c, j->store, o)) != CP_OK)
		die("counts", rc, c);
	j->out = cp_counts_total(c);
	cp_counts_free(c);
	cp_batch_opts_free(o);
}

static void measure(timing *t, int runs, void (*fn)(job *), job *j)
{
	t->n = runs;
	for (int i = 0; i < runs; i++) {
		double w0 = now(), c0 = cpu();
		fn(j);
		t->wall[i] = now() - w0;
		t->cpu[i] = cpu() - c0;
	}
}

int main(int argc, char **argv)
{
	int runs = 3, max_threads = 2;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			max_threads = atoi(argv[++i]);
		else
			path = argv[i];
	}
	if (!path || runs < 1 || runs > MAX_RUNS || max_threads < 1) {
		fprintf(stderr, "usage: bench_batch [-r RUNS] [-t MAX_THREADS] STORE.cps\n");
		return 2;
	}
	cp_store *store;
	cp_ruleset *rs;
	int rc;
	if ((rc = cp_store_open(&store, path, NULL)) != CP_OK)
		die(path, rc, NULL);
	if ((rc = cp_ruleset_compile(&rs, cp_store_schema(store), NULL, NULL)) != CP_OK)
		die("the built-in packs", rc, NULL);
	size_t n = cp_store_count(store);
	printf("bench_batch: %zu profiles, %d tags, %d tracks (built-in packs); median of %d runs\n\n", n,
	       cp_ruleset_tag_count(rs), cp_ruleset_track_count(rs), runs);

	job j = {store, rs, 1, 0};
	timing t;
	char what[80];

	measure(&t, runs, plain_loop, &j);
	report("cp_iter + cp_eval, 1 thread", &t, n, 0);

	double base = 0;
	for (int k = 1; k <= max_threads; k *= 2) {
		j.threads = k;
		measure(&t, runs, tag_all, &j);
		snprintf(what, sizeof(what), "tag-all (tag table), %d thread%s", k, k == 1 ? "" : "s");
		report(what, &t, n, base);
		if (k == 1)
			base = median(t.wall, t.n);
	}
	uint64_t listed = 0;
	base = 0;
	for (int k = 1; k <= max_threads; k *= 2) {
		j.threads = k;
		measure(&t, runs, select_run, &j);
		listed = j.out;
		snprintf(what, sizeof(what), "select top 10000, %d thread%s", k, k == 1 ? "" : "s");
		report(what, &t, n, base);
		if (k == 1)
			base = median(t.wall, t.n);
	}
	read_list_select = make_select(&j);
	if ((rc = cp_select_run(read_list_select, store, NULL)) != CP_OK)
		die("cp_select_run", rc, read_list_select);
	measure(&t, runs, read_list, &j);
	printf("%-34s %8.3f s wall %8.3f s cpu  %10.0f rows/s (%llu rows, %llu matched)\n",
	       "  reading the list (CSV, 4 columns)", median(t.wall, t.n), median(t.cpu, t.n),
	       median(t.wall, t.n) > 0 ? (double)listed / median(t.wall, t.n) : 0,
	       (unsigned long long)listed, (unsigned long long)cp_select_matched(read_list_select));
	cp_select_free(read_list_select);
	base = 0;
	for (int k = 1; k <= max_threads; k *= 2) {
		j.threads = k;
		measure(&t, runs, counts, &j);
		snprintf(what, sizeof(what), "count region x stage, %d thread%s", k, k == 1 ? "" : "s");
		report(what, &t, n, base);
		if (k == 1)
			base = median(t.wall, t.n);
	}
	cp_ruleset_free(rs);
	cp_store_free(store);
	return 0;
}
