/*
 * compare_cp.c — libcustprof's side of bench/compare (run.sh drives it).
 *
 *   compare_cp columns
 *       the CSV columns of the default schema with their types, one
 *       "name type" line each: what the SQL drivers load
 *   compare_cp run DATA.csv RULES.yaml OUTDIR THREADS
 *       load the CSV (timed); measure the machine's single-core read
 *       bandwidth and the bytes of a row the rules read; tag-all with 1
 *       and THREADS threads (best of 3; per-tag counts, one tag mask per
 *       profile); select the top 10,000 by churn_score (descending, nulls
 *       last, ties by key) among the profiles with tag seg.arpu_drop (that
 *       tag compiled alone, as a target-list query would); point
 *       lookups with every tag (p50/p99), for RULES and for the built-in
 *       packs with their stages.  Figures go to standard output as
 *       "name value" lines; OUTDIR/cp.masks ("key mask", sorted by key),
 *       cp.counts and cp.select hold the answers run.sh compares.
 *   compare_cp diff RULES.yaml A.masks B.masks NAME_A NAME_B
 *       exit 1 naming the first subscriber and tag where two mask files
 *       differ
 *   compare_cp profile DATA.csv RULES.yaml
 *       tag-all once on one thread (for callgrind)
 *
 * It links the internal library: the scan walks the store's rows and
 * evaluates them a block at a time (cp__block_eval), as the batch module's
 * tag-all does.
 */
#define _POSIX_C_SOURCE 200809L
#include "rules.h"
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SELECT_LIMIT 10000
#define SELECT_TAG "seg.arpu_drop"

/*
 * Rows of the store.  The benchmark loads the store, then only reads it:
 * no thread writes while the scans run, so the writer's view of a row
 * (cp__store_wrow: no copy) is safe here.  A scan of a store that another
 * thread may be writing reads rows with cp__store_read (a consistent copy).
 */
static const uint8_t *row_at(const cp_store *st, size_t r)
{
	return cp__store_wrow(st, (uint32_t)r);
}

static bool row_ok(const uint8_t *row)
{
	return row != NULL;
}

static size_t store_rows(const cp_store *st)
{
	return cp__store_nrows(st);
}

static const char *row_key(const cp_store *st, const uint8_t *row)
{
	return cp__store_str(st, cp__row_key_id(st->schema, row));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_process(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

_Noreturn static void die(const char *what, const void *handle, int rc)
{
	fprintf(stderr, "compare_cp: %s: %s (%s)\n", what, handle ? cp_errmsg(handle) : "",
	        cp_strerror(rc));
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "compare_cp: out of memory\n");
		exit(1);
	}
	return p;
}

static const char *sql_type(const cp_schema *s, int f)
{
	switch (cp_schema_field_type(s, f)) {
	case CP_TYPE_BOOL: return "bool";
	case CP_TYPE_INT: return "int";
	case CP_TYPE_FLOAT: return "float";
	case CP_TYPE_MONEY: return "money";
	case CP_TYPE_DATE: return "date";
	default: return "text";
	}
}

static int cmd_columns(void)
{
	cp_schema *s;
	if (cp_schema_default(&s) != CP_OK)
		die("schema", NULL, CP_ENOMEM);
	for (int f = 0; f < cp_schema_field_count(s); f++) {
		const char *name = cp_schema_field_name(s, f);
		if (cp_schema_field_is_series(s, f)) {
			for (int m = 0; m < cp_schema_field_months(s, f); m++)
				printf("%s_m%d %s\n", name, m, sql_type(s, f));
		} else {
			printf("%s %s\n", name, f == cp_schema_key_field(s) ? "key" : sql_type(s, f));
		}
	}
	cp_schema_free(s);
	return 0;
}

static cp_ruleset *compile(const cp_schema *s, const char *path)
{
	cp_rules_opts *o;
	cp_diag *d;
	cp_ruleset *rs;
	cp_rules_opts_new(&o);
	cp_diag_new(&d);
	int rc = path ? cp_rules_opts_add_file(o, path) : cp_rules_opts_add_defaults(o);
	if (rc != CP_OK)
		die(path, o, rc);
	rc = cp_ruleset_compile(&rs, s, o, d);
	if (rc != CP_OK) {
		for (size_t i = 0; i < cp_diag_count(d); i++)
			fprintf(stderr, "%s\n", cp_diag_format(d, i));
		die("compile", NULL, rc);
	}
	cp_diag_free(d);
	cp_rules_opts_free(o);
	return rs;
}

/* A ruleset of one tag: tag `filter` of rs (its expression as written,
 * with rs's parameters of its pack). */
static cp_ruleset *compile_filter(const cp_schema *s, const cp_ruleset *rs, int filter)
{
	const char *pack = cp_ruleset_pack_name(rs, cp_ruleset_tag_pack(rs, filter));
	size_t plen = strlen(pack);
	char yaml[8192];
	size_t o = (size_t)snprintf(yaml, sizeof(yaml), "custprof: 1\npack: %s\nparams:\n", pack);
	for (int i = 0; i < cp_ruleset_param_count(rs); i++) {
		const char *name = cp_ruleset_param_name(rs, i);
		if (strncmp(name, pack, plen) == 0 && name[plen] == '.')
			o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "  %s: %s\n", name + plen + 1,
			                      cp_ruleset_param_value(rs, i));
	}
	snprintf(yaml + o, sizeof(yaml) - o, "tags:\n  - id: where\n    when: \"%s\"\n",
	         cp_ruleset_tag_expr(rs, filter));
	cp_rules_opts *opts;
	cp_ruleset *out;
	cp_rules_opts_new(&opts);
	cp_rules_opts_add_memory(opts, yaml, strlen(yaml), "where.yaml");
	int rc = cp_ruleset_compile(&out, s, opts, NULL);
	if (rc != CP_OK)
		die("compile the filter", NULL, rc);
	cp_rules_opts_free(opts);
	return out;
}

/* ---- tag-all: threads over ranges of rows ---- */

typedef struct job {
	const cp_store *st;
	const cp_ruleset *rs;
	size_t lo, hi;          /* rows */
	uint32_t *masks;        /* per row: bit t = tag t applies */
	size_t *counts;         /* per tag (this job's) */
	size_t live;
	/* select: top SELECT_LIMIT rows of the filter tag (heap) */
	int filter;             /* tag index, or -1: no select */
	int score_field;
	uint32_t *heap;
	size_t nheap;
} job;

/* Order of the select: churn_score descending, nulls last, then key
 * ascending.  > 0 when row a comes after row b. */
static int select_cmp(const job *j, uint32_t a, uint32_t b)
{
	const uint8_t *ra = row_at(j->st, a), *rb = row_at(j->st, b);
	const cp_field *f = &j->st->schema->fields[j->score_field];
	bool na = !cp__row_present(ra, f->cell), nb = !cp__row_present(rb, f->cell);
	if (na != nb)
		return na ? 1 : -1;
	if (!na) {
		double x, y;
		memcpy(&x, cp__row_cell(ra, f, 0), 8);
		memcpy(&y, cp__row_cell(rb, f, 0), 8);
		if (x != y)
			return x > y ? -1 : 1;
	}
	return strcmp(row_key(j->st, ra), row_key(j->st, rb));
}

/* The heap keeps the SELECT_LIMIT first rows; its root is the last of them. */
static void heap_sift_down(job *j, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < j->nheap && select_cmp(j, j->heap[l], j->heap[m]) > 0)
			m = l;
		if (r < j->nheap && select_cmp(j, j->heap[r], j->heap[m]) > 0)
			m = r;
		if (m == i)
			return;
		uint32_t t = j->heap[i];
		j->heap[i] = j->heap[m];
		j->heap[m] = t;
		i = m;
	}
}

static void heap_offer(job *j, uint32_t row)
{
	if (j->nheap < SELECT_LIMIT) {
		size_t i = j->nheap++;
		j->heap[i] = row;
		while (i > 0) {
			size_t p = (i - 1) / 2;
			if (select_cmp(j, j->heap[i], j->heap[p]) <= 0)
				break;
			uint32_t t = j->heap[i];
			j->heap[i] = j->heap[p];
			j->heap[p] = t;
			i = p;
		}
	} else if (select_cmp(j, row, j->heap[0]) < 0) {
		j->heap[0] = row;
		heap_sift_down(j, 0);
	}
}

/* Rows per block (CP_BLOCK_ROWS, or COMPARE_BLOCK_ROWS for experiments). */
static unsigned block_rows = CP_BLOCK_ROWS;
static int prefetch = 1; /* COMPARE_PREFETCH=0: no prefetch of the next block */

/* The next block of live rows of the job's range, from row *r on. */
static unsigned next_rows(const job *j, size_t *r, const uint8_t **rows, uint32_t *nums)
{
	unsigned n = 0;
	for (; *r < j->hi && n < block_rows; (*r)++) {
		const uint8_t *row = row_at(j->st, *r);
		if (row_ok(row)) {
			rows[n] = row;
			nums[n++] = (uint32_t)*r;
		}
	}
	return n;
}

static void *run_job(void *arg)
{
	job *j = arg;
	int ntags = cp_ruleset_tag_count(j->rs);
	cp__block *b;
	if (cp__block_new(&b, j->rs) != CP_OK)
		die("block", NULL, CP_ENOMEM);
	/* two blocks of rows: the next one is prefetched while the current one
	 * is evaluated */
	const uint8_t *rowbuf[2][CP_BLOCK_ROWS];
	uint32_t numbuf[2][CP_BLOCK_ROWS];
	unsigned count[2];
	size_t r = j->lo;
	int cur = 0;
	memset(j->counts, 0, (size_t)ntags * sizeof(size_t));
	j->live = 0;
	j->nheap = 0;
	count[cur] = next_rows(j, &r, rowbuf[cur], numbuf[cur]);
	while (count[cur]) {
		const uint8_t **rows = rowbuf[cur];
		uint32_t *nums = numbuf[cur];
		unsigned n = count[cur];
		count[!cur] = next_rows(j, &r, rowbuf[!cur], numbuf[!cur]);
		if (prefetch)
			cp__block_prefetch(b, rowbuf[!cur], count[!cur]);
		cp__block_eval(b, rows, n, j->st, cp_store_as_of(j->st));
		uint32_t m[CP_BLOCK_ROWS] = {0};
		for (int t = 0; t < ntags; t++) {
			uint64_t bits = cp__block_tag_mask(b, t);
			j->counts[t] += (size_t)__builtin_popcountll(bits);
			for (uint64_t w = bits; w; w &= w - 1)
				m[__builtin_ctzll(w)] |= UINT32_C(1) << t;
		}
		for (unsigned k = 0; k < n; k++)
			j->masks[nums[k]] = m[k];
		if (j->filter >= 0)
			for (uint64_t w = cp__block_tag_mask(b, j->filter); w; w &= w - 1)
				heap_offer(j, nums[__builtin_ctzll(w)]);
		j->live += n;
		cur = !cur;
	}
	cp__block_free(b);
	return NULL;
}

typedef struct scan {
	double wall, cpu;
	size_t live;
} scan;

static scan tag_all(job *jobs, int threads)
{
	pthread_t tid[64];
	scan s = {0, 0, 0};
	double t0 = now(), c0 = cpu_process();
	for (int i = 1; i < threads; i++)
		if (pthread_create(&tid[i], NULL, run_job, &jobs[i]) != 0)
			die("pthread_create", NULL, CP_ERROR);
	run_job(&jobs[0]);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	s.wall = now() - t0;
	s.cpu = cpu_process() - c0;
	for (int i = 0; i < threads; i++)
		s.live += jobs[i].live;
	return s;
}

static job *make_jobs(const cp_store *st, const cp_ruleset *rs, int threads, uint32_t *masks,
                      int filter)
{
	job *jobs = calloc((size_t)threads, sizeof(job));
	int ntags = cp_ruleset_tag_count(rs);
	size_t nrows = store_rows(st);
	for (int i = 0; i < threads; i++) {
		job *j = &jobs[i];
		j->st = st;
		j->rs = rs;
		j->lo = nrows * (size_t)i / (size_t)threads;
		j->hi = nrows * (size_t)(i + 1) / (size_t)threads;
		j->masks = masks;
		j->counts = xmalloc((size_t)ntags * sizeof(size_t));
		j->filter = filter;
		j->score_field = cp_schema_field_index(st->schema, "churn_score");
		j->heap = filter >= 0 ? xmalloc(SELECT_LIMIT * sizeof(uint32_t)) : NULL;
	}
	return jobs;
}

static void free_jobs(job *jobs, int threads)
{
	for (int i = 0; i < threads; i++) {
		free(jobs[i].counts);
		free(jobs[i].heap);
	}
	free(jobs);
}

/* best of `runs` tag-all runs (by wall time) */
static scan best_tag_all(job *jobs, int threads, int runs)
{
	scan best = {1e30, 0, 0};
	for (int r = 0; r < runs; r++) {
		scan s = tag_all(jobs, threads);
		if (s.wall < best.wall)
			best = s;
	}
	return best;
}

/* ---- single-core read bandwidth ---- */

static double read_bandwidth(void)
{
	size_t n = (size_t)512 << 20 >> 3; /* 512 MiB of words */
	uint64_t *buf = xmalloc(n * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++)
		buf[i] = i;
	double best = 1e30;
	uint64_t sink = 0;
	for (int r = 0; r < 5; r++) {
		double t0 = now();
		uint64_t a = 0, b = 0, c = 0, d = 0;
		for (size_t i = 0; i < n; i += 4) {
			a += buf[i];
			b += buf[i + 1];
			c += buf[i + 2];
			d += buf[i + 3];
		}
		double t = now() - t0;
		sink += a + b + c + d;
		if (t < best)
			best = t;
	}
	free(buf);
	if (sink == 42)
		printf("#\n");
	return (double)n * 8 / best;
}

/* ---- where the time of tag-all goes ---- */

static double cpu_thread(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Two bounds of tag-all on one thread: memory alone (touch one byte of
 * every cache line the rules read, in every row: what the scan must bring
 * in, with no evaluation) and evaluation alone (one block of 64 profiles
 * evaluated again and again: in cache); and cp_eval on one hot profile
 * (ns per tag).
 */
static void split_costs(const cp_store *st, const cp_ruleset *rs)
{
	double best = 1e30;
	uint64_t sink = 0;
	for (int r = 0; r < 3; r++) {
		double t0 = now();
		for (size_t i = 0; i < store_rows(st); i++) {
			const uint8_t *row = row_at(st, i);
			if (!row_ok(row))
				continue;
			for (size_t k = 0; k < rs->nprefetch; k++)
				sink += row[rs->prefetch[k]];
		}
		double t = now() - t0;
		best = t < best ? t : best;
	}
	printf("touch_s %.4f\nlines_per_row %zu\n", best, rs->nprefetch);
	const uint8_t *rows[CP_BLOCK_ROWS];
	unsigned n = 0;
	for (size_t i = 0; i < store_rows(st) && n < CP_BLOCK_ROWS; i++)
		if (row_ok(row_at(st, i)))
			rows[n++] = row_at(st, i);
	cp__block *b;
	if (cp__block_new(&b, rs) != CP_OK)
		die("block", NULL, CP_ENOMEM);
	size_t reps = 4000;
	double c0 = cpu_thread();
	for (size_t r = 0; r < reps; r++)
		cp__block_eval(b, rows, n, st, cp_store_as_of(st));
	double c = cpu_thread() - c0;
	sink += cp__block_tag_mask(b, 0);
	printf("hot_block_ns %.1f\n", c / ((double)reps * n) * 1e9);
	cp__block_free(b);
	cp_result *res;
	cp_view *v;
	cp_result_new(&res, rs);
	cp_view_new(&v, st);
	v->store = st;
	v->row = rows[0];
	reps = 200000;
	c0 = cpu_thread();
	for (size_t r = 0; r < reps; r++)
		cp_eval(res, v);
	c = cpu_thread() - c0;
	printf("hot_eval_ns %.1f\nhot_eval_ns_per_tag %.2f\n", c / reps * 1e9,
	       c / reps * 1e9 / cp_ruleset_tag_count(rs));
	cp_view_free(v);
	cp_result_free(res);
	if (sink == 1)
		printf("#\n");
}

/* ---- point lookups ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* p50 and p99 (seconds) of cp_eval_key + reading every tag and stage */
static void point(const cp_store *st, const cp_ruleset *rs, char (*keys)[32], size_t nkeys,
                  double *p50, double *p99, double *p999)
{
	cp_result *res;
	if (cp_result_new(&res, rs) != CP_OK)
		die("result", NULL, CP_ENOMEM);
	double *lat = xmalloc(nkeys * sizeof(double));
	int ntracks = cp_ruleset_track_count(rs);
	size_t sink = 0;
	for (size_t i = 0; i < nkeys; i++) {
		double t = now();
		if (cp_eval_key(res, st, keys[i]) != CP_OK)
			die("eval_key", res, CP_ENOTFOUND);
		sink += (size_t)cp_result_tag_count(res);
		for (int k = 0; k < ntracks; k++)
			sink += (size_t)cp_result_stage(res, k);
		lat[i] = now() - t;
	}
	qsort(lat, nkeys, sizeof(double), cmp_double);
	*p50 = lat[nkeys / 2];
	*p99 = lat[nkeys * 99 / 100];
	*p999 = lat[nkeys * 999 / 1000];
	if (sink == 1)
		printf("#\n");
	free(lat);
	cp_result_free(res);
}

/* ---- output files ---- */

typedef struct keyrow {
	const char *key;
	uint32_t row;
} keyrow;

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const keyrow *)a)->key, ((const keyrow *)b)->key);
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	return f;
}

static int cmd_run(const char *csv, const char *rules, const char *outdir, int threads)
{
	if (threads < 1 || threads > 64)
		threads = 1;
	cp_schema *s;
	cp_store *st;
	if (cp_schema_default(&s) != CP_OK || cp_store_new(&st, s) != CP_OK)
		die("store", NULL, CP_ENOMEM);
	cp_load_report *rep;
	cp_load_report_new(&rep);
	double t0 = now(), c0 = cpu_process();
	int rc = cp_store_load_csv(st, csv, NULL, rep);
	if (rc != CP_OK)
		die(csv, st, rc);
	printf("load_s %.4f\nload_cpu_s %.4f\n", now() - t0, cpu_process() - c0);
	if (cp_load_report_rejected(rep))
		die("rows rejected", NULL, CP_EINVAL);
	cp_load_report_free(rep);
	cp_store_set_as_of(st, 202610);
	size_t nprof = cp_store_count(st);
	printf("profiles %zu\nrow_bytes %zu\n", nprof, cp_store_row_bytes(st));

	cp_ruleset *rs = compile(s, rules);
	int ntags = cp_ruleset_tag_count(rs);
	size_t pres;
	size_t cells = cp__ruleset_row_reads(rs, &pres);
	printf("tags %d\nrule_cell_bytes %zu\nrule_presence_bytes %zu\n", ntags, cells, pres);
	printf("fast_insns %zu\n", rs->nfast);
	printf("bandwidth_Bps %.0f\n", read_bandwidth());

	split_costs(st, rs);

	uint32_t *masks = calloc(store_rows(st) + 1, sizeof(uint32_t));
	int filter = cp_ruleset_tag_index(rs, SELECT_TAG);
	if (!masks || filter < 0)
		die("setup", NULL, CP_EINVAL);

	/* tag-all: 1 thread, then all threads */
	job *jobs = make_jobs(st, rs, 1, masks, -1);
	scan one = best_tag_all(jobs, 1, 3);
	printf("tagall1_s %.4f\ntagall1_cpu_s %.4f\n", one.wall, one.cpu);
	free_jobs(jobs, 1);
	jobs = make_jobs(st, rs, threads, masks, -1);
	scan all = best_tag_all(jobs, threads, 3);
	printf("tagallN_s %.4f\ntagallN_cpu_s %.4f\nthreads %d\n", all.wall, all.cpu, threads);
	size_t *counts = calloc((size_t)ntags, sizeof(size_t));
	for (int i = 0; i < threads; i++)
		for (int t = 0; t < ntags; t++)
			counts[t] += jobs[i].counts[t];
	free_jobs(jobs, threads);
	if (one.live != nprof || all.live != nprof)
		die("tag-all missed profiles", NULL, CP_ERROR);
	FILE *f = open_out(outdir, "cp.counts");
	fprintf(f, "profiles %zu\n", nprof);
	for (int t = 0; t < ntags; t++)
		fprintf(f, "%s %zu\n", cp_ruleset_tag_id(rs, t), counts[t]);
	fclose(f);

	/* every profile's tags, by key */
	keyrow *kr = xmalloc(nprof * sizeof(keyrow));
	size_t k = 0;
	for (size_t r = 0; r < store_rows(st); r++) {
		const uint8_t *row = row_at(st, r);
		if (row_ok(row)) {
			kr[k].key = row_key(st, row);
			kr[k++].row = (uint32_t)r;
		}
	}
	qsort(kr, k, sizeof(keyrow), cmp_key);
	f = open_out(outdir, "cp.masks");
	for (size_t i = 0; i < k; i++)
		fprintf(f, "%s %u\n", kr[i].key, masks[kr[i].row]);
	fclose(f);

	/* select: 1 thread and all threads (the heaps merged).  The filter is
	 * compiled alone, as a target-list query compiles its --where: the scan
	 * evaluates that one tag, not the 30. */
	cp_ruleset *where = compile_filter(s, rs, filter);
	uint32_t *scratch = calloc(store_rows(st) + 1, sizeof(uint32_t));
	for (int pass = 0; pass < 2; pass++) {
		int nt = pass ? threads : 1;
		jobs = make_jobs(st, where, nt, scratch, 0);
		scan sel = best_tag_all(jobs, nt, 3);
		job merged = jobs[0];
		merged.heap = xmalloc(SELECT_LIMIT * sizeof(uint32_t));
		merged.nheap = 0;
		for (int i = 0; i < nt; i++)
			for (size_t h = 0; h < jobs[i].nheap; h++)
				heap_offer(&merged, jobs[i].heap[h]);
		/* the heap's rows in order: pop the last one repeatedly */
		size_t n = merged.nheap;
		uint32_t *order = xmalloc((n + 1) * sizeof(uint32_t));
		for (size_t i = n; i-- > 0;) {
			order[i] = merged.heap[0];
			merged.heap[0] = merged.heap[--merged.nheap];
			heap_sift_down(&merged, 0);
		}
		double tsort = now();
		(void)tsort;
		printf("select%s_s %.4f\n", pass ? "N" : "1", sel.wall);
		if (pass) {
			f = open_out(outdir, "cp.select");
			for (size_t i = 0; i < n; i++)
				fprintf(f, "%s\n", row_key(st, row_at(st, order[i])));
			fclose(f);
		}
		free(order);
		free(merged.heap);
		free_jobs(jobs, nt);
	}

	cp_ruleset_free(where);
	free(scratch);

	/* point lookups: random keys of the store */
	size_t nkeys = 200000;
	char (*keys)[32] = xmalloc(nkeys * sizeof(*keys));
	for (size_t i = 0; i < nkeys; i++)
		snprintf(keys[i], sizeof(keys[i]), "%s", kr[rnd() % k].key);
	double p50, p99, p999;
	point(st, rs, keys, nkeys, &p50, &p99, &p999);
	printf("point_p50_us %.3f\npoint_p99_us %.3f\npoint_p999_us %.3f\n", p50 * 1e6, p99 * 1e6,
	       p999 * 1e6);
	cp_ruleset *defaults = compile(s, NULL);
	printf("default_tags %d\ndefault_tracks %d\n", cp_ruleset_tag_count(defaults),
	       cp_ruleset_track_count(defaults));
	point(st, defaults, keys, nkeys, &p50, &p99, &p999);
	printf("point_default_p50_us %.3f\npoint_default_p99_us %.3f\npoint_default_p999_us %.3f\n",
	       p50 * 1e6, p99 * 1e6, p999 * 1e6);
	/* tag-all of the built-in packs, 1 thread (for the figure) */
	uint32_t *dm = calloc(store_rows(st) + 1, sizeof(uint32_t));
	jobs = make_jobs(st, defaults, 1, dm, -1);
	scan d1 = best_tag_all(jobs, 1, 3);
	printf("default_tagall1_s %.4f\ndefault_tagall1_cpu_s %.4f\n", d1.wall, d1.cpu);
	free_jobs(jobs, 1);
	free(dm);

	cp_ruleset_free(defaults);
	free(keys);
	free(kr);
	free(counts);
	free(masks);
	cp_ruleset_free(rs);
	cp_store_free(st);
	cp_schema_free(s);
	return 0;
}

/* ---- diff of two mask files ---- */

static int cmd_diff(const char *rules, const char *pa, const char *pb, const char *na,
                    const char *nb)
{
	FILE *a = fopen(pa, "r"), *b = fopen(pb, "r");
	if (!a || !b) {
		perror(!a ? pa : pb);
		return 2;
	}
	cp_schema *s;
	cp_schema_default(&s);
	cp_ruleset *rs = compile(s, rules);
	char ka[64], kb[64];
	unsigned long ma, mb;
	size_t line = 0;
	for (;;) {
		int ra = fscanf(a, "%63s %lu", ka, &ma), rb = fscanf(b, "%63s %lu", kb, &mb);
		line++;
		if (ra != 2 && rb != 2)
			break;
		if (ra != 2 || rb != 2 || strcmp(ka, kb) != 0) {
			fprintf(stderr,
			        "DIFFERENT: line %zu: %s has subscriber %s, %s has %s (a subscriber is missing)\n",
			        line, na, ra == 2 ? ka : "(end)", nb, rb == 2 ? kb : "(end)");
			return 1;
		}
		if (ma != mb) {
			int t = __builtin_ctzl(ma ^ mb);
			fprintf(stderr,
			        "DIFFERENT: subscriber %s, tag %s: %s says %s, %s says %s\n", ka,
			        cp_ruleset_tag_id(rs, t), na, (ma >> t) & 1 ? "applies" : "does not apply",
			        nb, (mb >> t) & 1 ? "applies" : "does not apply");
			return 1;
		}
	}
	printf("same tags for all %zu subscribers: %s and %s\n", line - 1, na, nb);
	cp_ruleset_free(rs);
	cp_schema_free(s);
	fclose(a);
	fclose(b);
	return 0;
}

static int cmd_profile(const char *csv, const char *rules)
{
	cp_schema *s;
	cp_store *st;
	if (cp_schema_default(&s) != CP_OK || cp_store_new(&st, s) != CP_OK)
		die("store", NULL, CP_ENOMEM);
	int rc = cp_store_load_csv(st, csv, NULL, NULL);
	if (rc != CP_OK)
		die(csv, st, rc);
	cp_store_set_as_of(st, 202610);
	cp_ruleset *rs = compile(s, rules);
	uint32_t *masks = calloc(store_rows(st) + 1, sizeof(uint32_t));
	job *jobs = make_jobs(st, rs, 1, masks, -1);
	scan one = tag_all(jobs, 1);
	printf("profiles %zu\n", one.live);
	free_jobs(jobs, 1);
	free(masks);
	cp_ruleset_free(rs);
	cp_store_free(st);
	cp_schema_free(s);
	return 0;
}

/* point lookups with the built-in packs, for callgrind */
static int cmd_profile_point(const char *csv, size_t nkeys)
{
	cp_schema *s;
	cp_store *st;
	if (cp_schema_default(&s) != CP_OK || cp_store_new(&st, s) != CP_OK)
		die("store", NULL, CP_ENOMEM);
	int rc = cp_store_load_csv(st, csv, NULL, NULL);
	if (rc != CP_OK)
		die(csv, st, rc);
	cp_store_set_as_of(st, 202610);
	cp_ruleset *rs = compile(s, NULL);
	char (*keys)[32] = xmalloc(nkeys * sizeof(*keys));
	for (size_t i = 0; i < nkeys; i++) {
		const uint8_t *row;
		do
			row = row_at(st, rnd() % store_rows(st));
		while (!row_ok(row));
		snprintf(keys[i], sizeof(keys[i]), "%s", row_key(st, row));
	}
	double p50, p99, p999;
	point(st, rs, keys, nkeys, &p50, &p99, &p999);
	printf("fast_insns %zu p50 %.3f us p99 %.3f us\n", rs->nfast, p50 * 1e6, p99 * 1e6);
	free(keys);
	cp_ruleset_free(rs);
	cp_store_free(st);
	cp_schema_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	const char *pf = getenv("COMPARE_PREFETCH");
	if (pf)
		prefetch = atoi(pf);
	const char *br = getenv("COMPARE_BLOCK_ROWS");
	if (br && atoi(br) > 0 && atoi(br) <= CP_BLOCK_ROWS)
		block_rows = (unsigned)atoi(br);
	if (argc >= 3 && strcmp(argv[1], "profile-point") == 0)
		return cmd_profile_point(argv[2], 20000);
	if (argc >= 2 && strcmp(argv[1], "columns") == 0)
		return cmd_columns();
	if (argc >= 6 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv[2], argv[3], argv[4], atoi(argv[5]));
	if (argc >= 7 && strcmp(argv[1], "diff") == 0)
		return cmd_diff(argv[2], argv[3], argv[4], argv[5], argv[6]);
	if (argc >= 4 && strcmp(argv[1], "profile") == 0)
		return cmd_profile(argv[2], argv[3]);
	fprintf(stderr, "usage: compare_cp columns | run DATA.csv RULES.yaml OUTDIR THREADS |\n"
	                "       diff RULES.yaml A.masks B.masks NAME_A NAME_B | profile DATA.csv RULES.yaml\n");
	return 2;
}
