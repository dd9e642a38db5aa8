/*
 * fuzz_csv.c — CSV / PSV / TSV ingest (cp_store_load_csv_memory).
 *
 * Input: a CSV file.  It is loaded into a store of a small schema with one
 * field of every kind (FUZZ_SCHEMA below) and into one of the default
 * schema, with the delimiter detected and given as each of ',', '|', TAB.
 * For each load:
 *   - a failed load says why; the report's counts add up, and the store
 *     holds loaded - duplicates profiles, every one readable (fz_walk_store);
 * and for the detected delimiter:
 *   - read in tiny chunks (a test knob: cp__load_opts_set_limits), the same
 *     input gives the same store and the same report;
 *   - the rejects file has one row per rejected row;
 *   - the store written back as CSV (its text form) loads into a new store
 *     without a reject and with the same contents;
 *   - a progress callback that cancels the load leaves nothing behind.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* from lib/csv.h: the reader's test knob (chunk size, record limit) */
int cp__load_opts_set_limits(cp_load_opts *opts, size_t chunk, size_t max_record,
                             uint64_t progress_step);

static const char FUZZ_SCHEMA[] =
	"custprof: 1\n"
	"schema: fuzz\n"
	"months: 3\n"
	"key: msisdn\n"
	"fields:\n"
	"  msisdn:  {type: string, normalize: msisdn-cn}\n"
	"  brand:   {type: enum, values: {gotone: 全球通, szx: 神州行, mzone: 动感地带}}\n"
	"  region:  {type: enum}\n"
	"  pref:    {type: enum, open: true, values: [news, sports]}\n"
	"  name:    {type: string, personal: true}\n"
	"  age:     {type: int}\n"
	"  score:   {type: float}\n"
	"  vip:     {type: bool}\n"
	"  owed:    {type: money}\n"
	"  joined:  {type: date}\n"
	"  addons:  {type: set}\n"
	"  tones:   {type: list, max: 2}\n"
	"  arpu:    {type: money, series: true}\n"
	"  gprs_mb: {type: float, series: true}\n"
	"  calls:   {type: int, series: true}\n"
	"  active:  {type: bool, series: true}\n"
	"  last:    {type: date, series: true}\n"
	"  apps:    {type: set, series: true}\n"
	"  plan:    {type: enum, series: true, values: [a, b]}\n";

static cp_schema *schemas[2];

static void free_schemas(void)
{
	for (int i = 0; i < 2; i++)
		cp_schema_free(schemas[i]);
}

static void init(void)
{
	if (schemas[0])
		return;
	FZ_CHECK(cp_schema_load_memory(&schemas[0], FUZZ_SCHEMA, sizeof(FUZZ_SCHEMA) - 1,
	                               "fuzz schema", NULL) == CP_OK);
	FZ_CHECK(cp_schema_default(&schemas[1]) == CP_OK);
	atexit(free_schemas);
}

typedef struct outcome {
	int rc;
	uint64_t rows, loaded, rejected, duplicates, bytes;
	size_t count;
	uint64_t digest;
	uint64_t report_digest; /* kept rejects, duplicates, unknown columns */
} outcome;

/* A digest of the report's lists; checks each entry on the way.  The value
 * of a personal field is never quoted in a reason ('value': why). */
static uint64_t report_digest(const cp_schema *sc, const cp_load_report *r)
{
	uint64_t h = FZ_HASH_INIT;
	size_t n = cp_load_report_reject_count(r);
	FZ_CHECK(n <= cp_load_report_rejected(r));
	for (size_t i = 0; i < n; i++) {
		uint64_t line = cp_load_report_reject_line(r, i);
		const char *col = cp_load_report_reject_column(r, i);
		const char *why = cp_load_report_reject_reason(r, i);
		FZ_CHECK(line >= 2 && col != NULL && why != NULL && why[0] != '\0');
		int f = cp_schema_field_index(sc, col);
		if (f >= 0 && cp_schema_field_is_personal(sc, f))
			FZ_CHECK(why[0] != '\'');
		h = fz_hash(h, &line, sizeof(line));
		h = fz_hash(h, col, strlen(col) + 1);
		h = fz_hash(h, why, strlen(why) + 1);
	}
	FZ_CHECK(cp_load_report_reject_column(r, n) == NULL);
	n = cp_load_report_duplicate_count(r);
	FZ_CHECK(n <= cp_load_report_duplicates(r));
	for (size_t i = 0; i < n; i++) {
		uint64_t line = cp_load_report_duplicate_line(r, i);
		FZ_CHECK(line >= 3);
		h = fz_hash(h, &line, sizeof(line));
	}
	n = cp_load_report_unknown_column_count(r);
	for (size_t i = 0; i < n; i++) {
		const char *col = cp_load_report_unknown_column(r, i);
		FZ_CHECK(col != NULL);
		h = fz_hash(h, col, strlen(col) + 1);
	}
	return h;
}

/*
 * One load into a new store.  chunk > 0 reads the input that many bytes at
 * a time.  The store is returned in *keep if keep is not NULL.
 */
static outcome load(const cp_schema *sc, const char *data, size_t size, int delim,
                    size_t chunk, const char *rejects, cp_store **keep)
{
	cp_store *store = NULL;
	cp_load_opts *opts = NULL;
	cp_load_report *rep = NULL;
	FZ_CHECK(cp_store_new(&store, sc) == CP_OK);
	FZ_CHECK(cp_load_opts_new(&opts) == CP_OK && cp_load_report_new(&rep) == CP_OK);
	FZ_CHECK(cp_load_opts_set_delimiter(opts, delim) == CP_OK);
	if (chunk)
		FZ_CHECK(cp__load_opts_set_limits(opts, chunk, 0, 0) == CP_OK);
	if (rejects)
		FZ_CHECK(cp_load_opts_set_rejects_path(opts, rejects) == CP_OK);

	outcome o;
	memset(&o, 0, sizeof(o));
	o.rc = cp_store_load_csv_memory(store, data, size, "fuzz.csv", opts, rep);
	FZ_CHECK(o.rc <= 0);
	if (o.rc != CP_OK) {
		const char *msg = cp_errmsg(store);
		FZ_CHECK(msg != NULL && msg[0] != '\0');
	}
	o.rows = cp_load_report_rows(rep);
	o.loaded = cp_load_report_loaded(rep);
	o.rejected = cp_load_report_rejected(rep);
	o.duplicates = cp_load_report_duplicates(rep);
	o.bytes = cp_load_report_bytes(rep);
	FZ_CHECK(o.loaded + o.rejected == o.rows);
	FZ_CHECK(o.duplicates <= o.loaded);
	FZ_CHECK(o.bytes <= size);
	if (o.rc == CP_OK)
		FZ_CHECK(o.bytes == size);
	o.count = cp_store_count(store);
	FZ_CHECK(o.count == o.loaded - o.duplicates);
	o.digest = fz_walk_store(store, 0);
	o.report_digest = report_digest(sc, rep);

	cp_load_report_free(rep);
	cp_load_opts_free(opts);
	if (keep)
		*keep = store;
	else
		cp_store_free(store);
	return o;
}

static void same(const outcome *a, const outcome *b)
{
	FZ_CHECK(a->rc == b->rc);
	FZ_CHECK(a->rows == b->rows && a->loaded == b->loaded && a->rejected == b->rejected);
	FZ_CHECK(a->duplicates == b->duplicates && a->count == b->count);
	FZ_CHECK(a->digest == b->digest && a->report_digest == b->report_digest);
}

/* Records of a CSV text (RFC 4180, ',' delimiter; quoted line breaks are
 * inside a record). */
static size_t count_records(const char *s, size_t len)
{
	size_t n = 0;
	int quoted = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (s[i] == '\n' && !quoted)
			n++;
	}
	return n;
}

static void check_rejects_file(const char *path, const outcome *o)
{
	size_t len;
	char *text = fz_read_file(path, &len);
	if (!text) {
		/* written only once the header row is read */
		FZ_CHECK(o->rc != CP_OK && o->rows == 0);
		return;
	}
	FZ_CHECK(strncmp(text, "line,column,reason\n", 19) == 0);
	FZ_CHECK(count_records(text, len) == 1 + o->rejected);
	free(text);
}

/* The store written as CSV loads again, with no reject, to the same contents. */
static void round_trip(const cp_schema *sc, cp_store *store, const outcome *o)
{
	size_t len;
	char *csv = fz_store_csv(store, &len);
	outcome back = load(sc, csv, len, ',', 0, NULL, NULL);
	FZ_CHECK(back.rc == CP_OK);
	FZ_CHECK(back.rejected == 0 && back.duplicates == 0 && back.count == o->count);
	FZ_CHECK(back.digest == o->digest);
	free(csv);
}

static int cancel_at(uint64_t done, uint64_t total, void *userdata)
{
	(void)done;
	(void)total;
	int *left = userdata;
	return --*left <= 0;
}

/* A load cancelled by its progress callback stops with CP_ECANCELED. */
static void cancelled(const cp_schema *sc, const char *data, size_t size)
{
	cp_store *store = NULL;
	cp_load_opts *opts = NULL;
	int left = (int)(fz_hash(FZ_HASH_INIT, data, size) % 4) + 1;
	FZ_CHECK(cp_store_new(&store, sc) == CP_OK && cp_load_opts_new(&opts) == CP_OK);
	FZ_CHECK(cp_load_opts_set_progress(opts, cancel_at, &left) == CP_OK);
	FZ_CHECK(cp__load_opts_set_limits(opts, 7, 0, 1) == CP_OK);
	int rc = cp_store_load_csv_memory(store, data, size, NULL, opts, NULL);
	FZ_CHECK(rc <= 0);
	if (left <= 0)
		FZ_CHECK(rc == CP_ECANCELED);
	else
		FZ_CHECK(rc != CP_ECANCELED);
	fz_walk_store(store, 0);
	cp_load_opts_free(opts);
	cp_store_free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int delims[] = {0, ',', '|', '\t'};
	const char *text = (const char *)data;
	init();
	/* Chunks of 1 to 8 bytes split every token somewhere; but the reader
	 * rescans an incomplete header or quoted record after each read, so a
	 * large input gets larger chunks to keep the fuzzer fast. */
	uint64_t h = fz_hash(FZ_HASH_INIT, data, size);
	size_t chunk = size <= 512 ? 1 + h % 8 : 64 + h % 64;
	const char *rejects = fz_scratch_path(0, ".rejects.csv");
	for (int s = 0; s < 2; s++) {
		for (int d = 0; d < 4; d++) {
			cp_store *store = NULL;
			if (d == 0)
				remove(rejects);
			outcome o = load(schemas[s], text, size, delims[d], 0, d == 0 ? rejects : NULL,
			                 &store);
			if (d == 0) {
				/* the chunk boundaries do not depend on the delimiter */
				outcome tiny = load(schemas[s], text, size, 0, chunk, NULL, NULL);
				same(&o, &tiny);
				check_rejects_file(rejects, &o);
				if (o.rc == CP_OK)
					round_trip(schemas[s], store, &o);
			}
			cp_store_free(store);
		}
		cancelled(schemas[s], text, size);
	}
	return 0;
}
