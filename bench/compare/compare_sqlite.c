/*
 * compare_sqlite.c — SQLite's side of bench/compare (run.sh builds it with
 * -lsqlite3 and drives it).
 *
 *   compare_sqlite COLUMNS.txt DATA.csv SEGMENTS.sql OUTDIR
 *
 * Loads the CSV into an in-memory table `subs` (one column per CSV column,
 * typed from COLUMNS.txt as `compare_cp columns` writes it: money as
 * integer fen, dates as days since 1970-01-01, bools 0/1, empty cells
 * NULL) and indexes the key; creates the view seg_tags from SEGMENTS.sql;
 * then times tag-all (per-tag counts), the select (top 10,000 by
 * churn_score among seg.arpu_drop) and point lookups of every tag, best of
 * 3 (lookups: p50/p99).  Figures go to standard output as "name value"
 * lines; OUTDIR/sqlite.masks, sqlite.counts and sqlite.select hold the
 * answers (the formats of compare_cp's).
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXCOLS 1024

enum { T_KEY, T_TEXT, T_INT, T_FLOAT, T_MONEY, T_DATE, T_BOOL };

static char *names[MAXCOLS];
static int types[MAXCOLS];
static int ncols;
static sqlite3 *db;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
	fprintf(stderr, "compare_sqlite: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
	exit(1);
}

static void exec(const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "compare_sqlite: %s\n  in: %.200s\n", err, sql);
		exit(1);
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void read_columns(const char *path)
{
	FILE *f = fopen(path, "r");
	char name[256], type[32];
	if (!f) {
		perror(path);
		exit(1);
	}
	while (fscanf(f, "%255s %31s", name, type) == 2 && ncols < MAXCOLS) {
		static const char *const tn[] = {"key", "text", "int", "float", "money", "date", "bool"};
		int t = -1;
		for (int i = 0; i < 7; i++)
			if (strcmp(type, tn[i]) == 0)
				t = i;
		if (t < 0) {
			fprintf(stderr, "compare_sqlite: %s: unknown type %s\n", path, type);
			exit(1);
		}
		names[ncols] = strdup(name);
		types[ncols++] = t;
	}
	fclose(f);
}

/* days since 1970-01-01 of a civil date (H. Hinnant's algorithm) */
static long days_from_civil(long y, long m, long d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Bind one cell (s[0..len)) of column c; false if it does not parse. */
static int bind_cell(sqlite3_stmt *st, int c, const char *s, size_t len)
{
	char buf[64];
	if (len == 0)
		return sqlite3_bind_null(st, c + 1) == SQLITE_OK;
	if (types[c] == T_KEY && len >= 13) {
		/* msisdn-cn, as the schema says: +86, 0086 or 86 before 11 digits */
		size_t skip = !strncmp(s, "+86", 3) ? 3 : !strncmp(s, "0086", 4) ? 4
		              : !strncmp(s, "86", 2) ? 2 : 0;
		s += skip;
		len -= skip;
	}
	if (types[c] == T_KEY || types[c] == T_TEXT)
		return sqlite3_bind_text(st, c + 1, s, (int)len, SQLITE_TRANSIENT) == SQLITE_OK;
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	switch (types[c]) {
	case T_INT: {
		long long v = strtoll(buf, &end, 10);
		return *end == '\0' && sqlite3_bind_int64(st, c + 1, v) == SQLITE_OK;
	}
	case T_FLOAT: {
		double v = strtod(buf, &end); /* correctly rounded, as the library's */
		return *end == '\0' && sqlite3_bind_double(st, c + 1, v) == SQLITE_OK;
	}
	case T_MONEY: {
		/* yuan with at most 2 decimals -> exact fen */
		const char *p = buf;
		int neg = *p == '-';
		if (neg || *p == '+')
			p++;
		long long yuan = 0, fen = 0;
		int digits = 0;
		while (*p >= '0' && *p <= '9')
			yuan = yuan * 10 + (*p++ - '0'), digits++;
		if (*p == '.') {
			p++;
			for (int i = 0; i < 2; i++) {
				fen *= 10;
				if (*p >= '0' && *p <= '9')
					fen += *p++ - '0', digits++;
			}
		}
		if (*p || !digits)
			return 0;
		long long v = yuan * 100 + fen;
		return sqlite3_bind_int64(st, c + 1, neg ? -v : v) == SQLITE_OK;
	}
	case T_DATE: {
		int y, m, d;
		if (sscanf(buf, "%4d-%2d-%2d", &y, &m, &d) != 3 && sscanf(buf, "%4d%2d%2d", &y, &m, &d) != 3)
			return 0;
		return sqlite3_bind_int64(st, c + 1, days_from_civil(y, m, d)) == SQLITE_OK;
	}
	case T_BOOL: {
		int v;
		if (!strcmp(buf, "1") || !strcmp(buf, "true") || !strcmp(buf, "Y") || !strcmp(buf, "是"))
			v = 1;
		else if (!strcmp(buf, "0") || !strcmp(buf, "false") || !strcmp(buf, "N") || !strcmp(buf, "否"))
			v = 0;
		else
			return 0;
		return sqlite3_bind_int(st, c + 1, v) == SQLITE_OK;
	}
	default:
		return 0;
	}
}

static void load(const char *csv)
{
	/* the table */
	size_t cap = 64 * (size_t)ncols + 256, o = 0;
	char *sql = malloc(cap);
	o += (size_t)snprintf(sql + o, cap - o, "CREATE TABLE subs (");
	for (int c = 0; c < ncols; c++) {
		static const char *const st[] = {"TEXT NOT NULL", "TEXT", "INTEGER", "REAL", "INTEGER",
		                                 "INTEGER", "INTEGER"};
		o += (size_t)snprintf(sql + o, cap - o, "%s%s %s", c ? ", " : "", names[c], st[types[c]]);
	}
	snprintf(sql + o, cap - o, ")");
	exec(sql);
	o = (size_t)snprintf(sql, cap, "INSERT INTO subs VALUES (");
	for (int c = 0; c < ncols; c++)
		o += (size_t)snprintf(sql + o, cap - o, "%s?", c ? ", " : "");
	snprintf(sql + o, cap - o, ")");
	sqlite3_stmt *ins;
	if (sqlite3_prepare_v2(db, sql, -1, &ins, NULL) != SQLITE_OK)
		fail("prepare insert");
	free(sql);

	/* the rows: the header must name the columns in order */
	size_t len;
	char *data = slurp(csv, &len);
	char *p = data, *end = data + len;
	char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		fail("no header");
	p = nl + 1;
	exec("BEGIN");
	long line = 1;
	while (p < end) {
		line++;
		char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		char *q = p;
		for (int c = 0; c < ncols; c++) {
			char *f = q;
			if (*f == '"') {
				fprintf(stderr, "compare_sqlite: line %ld: quoted cells are not supported\n", line);
				exit(1);
			}
			while (q < eol && *q != ',')
				q++;
			size_t flen = (size_t)(q - f);
			if (flen && f[flen - 1] == '\r')
				flen--;
			if (!bind_cell(ins, c, f, flen)) {
				fprintf(stderr, "compare_sqlite: line %ld, column %s: bad value\n", line, names[c]);
				exit(1);
			}
			if (q < eol)
				q++;
		}
		if (sqlite3_step(ins) != SQLITE_DONE)
			fail("insert");
		sqlite3_reset(ins);
		p = eol + 1;
	}
	exec("COMMIT");
	sqlite3_finalize(ins);
	free(data);
	exec("CREATE UNIQUE INDEX subs_key ON subs(msisdn)");
}

static sqlite3_stmt *prepare(const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "compare_sqlite: %s\n  in: %.300s\n", sqlite3_errmsg(db), sql);
		exit(1);
	}
	return st;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
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

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: compare_sqlite COLUMNS.txt DATA.csv SEGMENTS.sql OUTDIR\n");
		return 2;
	}
	const char *outdir = argv[4];
	read_columns(argv[1]);
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		fail("open");
	printf("sqlite_version %s\n", sqlite3_libversion());
	exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4000000");
	double t0 = now(), c0 = cpu();
	load(argv[2]);
	printf("load_s %.4f\nload_cpu_s %.4f\n", now() - t0, cpu() - c0);

	size_t len;
	char *seg = slurp(argv[3], &len);
	char *view = malloc(len + 64);
	snprintf(view, len + 64, "CREATE VIEW seg_tags AS %s", seg);
	exec(view);
	free(view);
	free(seg);

	/* the tag columns: every column of seg_tags after msisdn, churn_score */
	sqlite3_stmt *st = prepare("SELECT * FROM seg_tags LIMIT 0");
	int ntags = sqlite3_column_count(st) - 2;
	char counts_sql[8192];
	size_t o = (size_t)snprintf(counts_sql, sizeof(counts_sql), "SELECT count(*)");
	for (int t = 0; t < ntags; t++)
		o += (size_t)snprintf(counts_sql + o, sizeof(counts_sql) - o, ", sum(%s)",
		                      sqlite3_column_name(st, t + 2));
	snprintf(counts_sql + o, sizeof(counts_sql) - o, " FROM seg_tags");
	char **tagnames = malloc((size_t)ntags * sizeof(char *));
	for (int t = 0; t < ntags; t++)
		tagnames[t] = strdup(sqlite3_column_name(st, t + 2));
	sqlite3_finalize(st);

	/* tag-all: per-tag counts, best of 3 */
	double best = 1e30, best_cpu = 0;
	long long *counts = calloc((size_t)ntags + 1, sizeof(long long));
	for (int r = 0; r < 3; r++) {
		t0 = now();
		c0 = cpu();
		st = prepare(counts_sql);
		if (sqlite3_step(st) != SQLITE_ROW)
			fail("counts");
		for (int t = 0; t <= ntags; t++)
			counts[t] = sqlite3_column_int64(st, t);
		sqlite3_finalize(st);
		double t = now() - t0;
		if (t < best) {
			best = t;
			best_cpu = cpu() - c0;
		}
	}
	printf("tagall1_s %.4f\ntagall1_cpu_s %.4f\n", best, best_cpu);
	FILE *f = open_out(outdir, "sqlite.counts");
	fprintf(f, "profiles %lld\n", counts[0]);
	for (int t = 0; t < ntags; t++)
		fprintf(f, "seg.%s %lld\n", tagnames[t], counts[t + 1]);
	fclose(f);

	/* every subscriber's tags */
	f = open_out(outdir, "sqlite.masks");
	st = prepare("SELECT * FROM seg_tags ORDER BY msisdn");
	while (sqlite3_step(st) == SQLITE_ROW) {
		unsigned long m = 0;
		for (int t = 0; t < ntags; t++)
			if (sqlite3_column_int(st, t + 2))
				m |= 1ul << t;
		fprintf(f, "%s %lu\n", (const char *)sqlite3_column_text(st, 0), m);
	}
	sqlite3_finalize(st);
	fclose(f);

	/* select */
	best = 1e30;
	for (int r = 0; r < 3; r++) {
		t0 = now();
		st = prepare("SELECT msisdn FROM seg_tags WHERE arpu_drop = 1 "
		             "ORDER BY churn_score DESC NULLS LAST, msisdn LIMIT 10000");
		FILE *out = r == 0 ? open_out(outdir, "sqlite.select") : NULL;
		while (sqlite3_step(st) == SQLITE_ROW)
			if (out)
				fprintf(out, "%s\n", (const char *)sqlite3_column_text(st, 0));
		if (out)
			fclose(out);
		sqlite3_finalize(st);
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	printf("select1_s %.4f\n", best);

	/* point lookups: random keys */
	st = prepare("SELECT msisdn FROM subs");
	size_t nk = 0, capk = 1 << 20;
	char **keys = malloc(capk * sizeof(char *));
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (nk == capk)
			keys = realloc(keys, (capk *= 2) * sizeof(char *));
		keys[nk++] = strdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	size_t nlook = 20000;
	double *lat = malloc(nlook * sizeof(double));
	uint64_t x = 88172645463325252ull;
	st = prepare("SELECT * FROM seg_tags WHERE msisdn = ?");
	long sink = 0;
	for (size_t i = 0; i < nlook; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const char *k = keys[x % nk];
		t0 = now();
		sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			fail("point");
		for (int t = 0; t < ntags; t++)
			sink += sqlite3_column_int(st, t + 2);
		sqlite3_reset(st);
		lat[i] = now() - t0;
	}
	sqlite3_finalize(st);
	qsort(lat, nlook, sizeof(double), cmp_double);
	printf("point_p50_us %.3f\npoint_p99_us %.3f\n", lat[nlook / 2] * 1e6,
	       lat[nlook * 99 / 100] * 1e6);
	if (sink == -1)
		printf("#\n");
	sqlite3_close(db);
	return 0;
}
