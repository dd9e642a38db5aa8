/*
 * check_csv.c — CSV / PSV ingest: the reader (records, quoting, line
 * numbers, chunk boundaries, delimiter detection), the header mapping, and
 * cp_store_load_csv end to end (rows stored or rejected, report, rejects
 * file, progress).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "store.h"

/* ---- a counting allocator that can be told to fail (installed by main) ---- */

static long live_allocs;     /* allocations not yet freed */
static long fail_after = -1; /* allocations left before failing; -1 = never */

static bool should_fail(void)
{
	if (fail_after == 0)
		return true;
	if (fail_after > 0)
		fail_after--;
	return false;
}

static void *t_malloc(size_t n)
{
	void *p = should_fail() ? NULL : malloc(n);
	if (p)
		live_allocs++;
	return p;
}

static void *t_realloc(void *p, size_t n)
{
	if (!p)
		return t_malloc(n);
	return should_fail() ? NULL : realloc(p, n);
}

static void t_free(void *p)
{
	live_allocs--;
	free(p);
}

/* ---------------------------------------------------------------------
 * Reader
 * --------------------------------------------------------------------- */

/* Chunk sizes every reader case runs with: records cross every boundary. */
static const size_t chunks[] = {1, 2, 3, 5, 7, 16, 64, 0};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

static void render_cell(cp_buf *b, const char *p, size_t len)
{
	cp__buf_putc(b, '[');
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n')
			cp__buf_puts(b, "\\n");
		else if (p[i] == '\r')
			cp__buf_puts(b, "\\r");
		else
			cp__buf_putc(b, p[i]);
	}
	cp__buf_putc(b, ']');
}

/*
 * Every record of data as text, "LINE:[cell][cell]\n" ("!N why" after a
 * malformed record, N its cell), read with the given chunk size; delim 0
 * detects it.  The status that ended the reading is put in *status, its
 * message in msg (if not NULL).  free() the result.
 */
static char *read_all(const char *data, size_t len, size_t chunk, int delim, int *status,
                      char *msg, size_t msgsize)
{
	cp_load_opts *opts;
	ck_assert_int_eq(cp_load_opts_new(&opts), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_delimiter(opts, delim), CP_OK);
	ck_assert_int_eq(cp__load_opts_set_limits(opts, chunk, 0, 0), CP_OK);
	cp_csv_reader r;
	cp__csv_reader_init(&r, "t.csv", (cp_obj *)opts, opts);
	cp__csv_reader_set_memory(&r, data, len);
	cp_buf out;
	cp__buf_init(&out);
	int rc = cp__csv_skip_bom(&r);
	if (rc == CP_OK && !delim)
		rc = cp__csv_detect_delimiter(&r);
	while (rc == CP_OK && (rc = cp__csv_next_record(&r, 100)) == CP_OK) {
		cp__buf_printf(&out, "%llu:", (unsigned long long)r.rec_line);
		for (size_t i = 0; i < r.ncells && i < 100; i++)
			render_cell(&out, r.cells[i].p, r.cells[i].len);
		if (r.malformed)
			cp__buf_printf(&out, "!%zu %s", r.malformed_cell, r.malformed);
		cp__buf_putc(&out, '\n');
	}
	*status = rc;
	if (msg)
		snprintf(msg, msgsize, "%s", cp_errmsg(opts));
	cp__csv_reader_fini(&r);
	cp_load_opts_free(opts);
	char *s = cp__buf_steal(&out);
	char *copy = strdup(s);
	cp__free(s);
	return copy;
}

/* Read data with every chunk size; each must give want and end with CP_DONE. */
static void expect_records(const char *data, size_t len, int delim, const char *want)
{
	for (size_t k = 0; k < NCHUNKS; k++) {
		int rc;
		char *got = read_all(data, len, chunks[k], delim, &rc, NULL, 0);
		ck_assert_msg(strcmp(got, want) == 0, "chunk %zu:\n got: %s\nwant: %s", chunks[k],
		              got, want);
		ck_assert_int_eq(rc, CP_DONE);
		free(got);
	}
}
#define EXPECT(data, delim, want) expect_records(data, sizeof(data) - 1, delim, want)

/* Read data with every chunk size; each must fail with code and message. */
static void expect_failure(const char *data, size_t len, int delim, int code,
                           const char *message)
{
	for (size_t k = 0; k < NCHUNKS; k++) {
		int rc;
		char msg[512];
		free(read_all(data, len, chunks[k], delim, &rc, msg, sizeof(msg)));
		ck_assert_int_eq(rc, code);
		ck_assert_str_eq(msg, message);
	}
}
#define EXPECT_FAIL(data, delim, code, msg) \
	expect_failure(data, sizeof(data) - 1, delim, code, msg)

START_TEST(test_reader_plain_lf_crlf_and_last_line)
{
	EXPECT("a,b,c\n1,2,3\n", ',', "1:[a][b][c]\n2:[1][2][3]\n");
	EXPECT("a,b\r\n1,2\r\n", ',', "1:[a][b]\n2:[1][2]\n");
	EXPECT("a,b\n1,2", ',', "1:[a][b]\n2:[1][2]\n");          /* no final newline */
	EXPECT("a,b\r\n1,2\r", ',', "1:[a][b]\n2:[1][2]\n");      /* CR at the very end */
	EXPECT("a,b,\n,,\n", ',', "1:[a][b][]\n2:[][][]\n");      /* empty cells */
	/* a CR that does not end the line is text */
	EXPECT("a,b\r1\n", ',', "1:[a][b\\r1]\n");
}
END_TEST

START_TEST(test_reader_blank_lines_keep_physical_numbers)
{
	EXPECT("a,b\n\n1,2\r\n\r\n\n3,4\n\n", ',', "1:[a][b]\n3:[1][2]\n6:[3][4]\n");
	EXPECT("\n\r\na,b\n1,2\n", ',', "3:[a][b]\n4:[1][2]\n");
	EXPECT("", ',', "");
	EXPECT("\n\n", ',', "");
}
END_TEST

START_TEST(test_reader_quotes)
{
	/* delimiter, doubled quote and empty string inside quotes */
	EXPECT("a,\"b,c\",\"d\"\"e\",\"\"\n", ',', "1:[a][b,c][d\"e][]\n");
	/* newlines inside quotes: the next record's line counts them */
	EXPECT("h1,h2\n\"x\ny\",2\n3,\"p\n\nq\"\n4,5\n", ',',
	       "1:[h1][h2]\n2:[x\\ny][2]\n4:[3][p\\n\\nq]\n7:[4][5]\n");
	/* CRLF inside quotes is kept; CRLF after the closing quote ends the line */
	EXPECT("\"x\r\ny\",2\r\n\"z\"\r\n", ',', "1:[x\\r\\ny][2]\n3:[z]\n");
	/* a quote inside a plain cell is text */
	EXPECT("5\" screen,b\n", ',', "1:[5\" screen][b]\n");
	/* the last record ends with a quoted cell and no newline */
	EXPECT("a,\"b\"", ',', "1:[a][b]\n");
	/* quoted cells with pipe and tab delimiters */
	EXPECT("a|\"b|c\"\n", '|', "1:[a][b|c]\n");
	EXPECT("a\t\"b\tc\"\n", '\t', "1:[a][b\tc]\n");
}
END_TEST

START_TEST(test_reader_malformed_quotes)
{
	/* text after the closing quote: the record is marked, the next is fine */
	EXPECT("\"ab\"c,d\n1,2\n", ',',
	       "1:[ab][d]!0 text after the closing quote of a quoted cell\n2:[1][2]\n");
	EXPECT("x,\"ab\"\rc\n", ',',
	       "1:[x][ab]!1 text after the closing quote of a quoted cell\n");
	/* a quote never closed runs to the end of the input */
	EXPECT("a,b\n1,\"2\n3,4\n", ',',
	       "1:[a][b]\n2:[1][2\\n3,4\\n]!1 quoted cell not closed before the end of the input\n");
}
END_TEST

START_TEST(test_reader_bom)
{
	EXPECT("\xEF\xBB\xBF" "a,b\n1,2\n", ',', "1:[a][b]\n2:[1][2]\n");
	EXPECT("\xEF\xBB\xBF" "a,b\n1,2\n", 0, "1:[a][b]\n2:[1][2]\n");
	/* only at the start: elsewhere it is text */
	EXPECT("a,b\n\xEF\xBB\xBF" "1,2\n", ',', "1:[a][b]\n2:[\xEF\xBB\xBF" "1][2]\n");
	EXPECT("\xEF\xBB", ',', "1:[\xEF\xBB]\n"); /* too short to be a BOM */
}
END_TEST

START_TEST(test_reader_detects_delimiter)
{
	EXPECT("a,b\n1,2\n", 0, "1:[a][b]\n2:[1][2]\n");
	EXPECT("a|b\n1|2,3\n", 0, "1:[a][b]\n2:[1][2,3]\n");
	EXPECT("a\tb\n1\t2|3\n", 0, "1:[a][b]\n2:[1][2|3]\n");
	/* delimiters inside quotes do not count */
	EXPECT("\"a,b\"|c\n", 0, "1:[a,b][c]\n");
	EXPECT("\"a,\nb\"|c\n1|2\n", 0, "1:[a,\\nb][c]\n3:[1][2]\n");
	/* blank lines before the header */
	EXPECT("\n\na|b\n", 0, "3:[a][b]\n");
	EXPECT_FAIL("a,b|c\n1,2\n", 0, CP_ESYNTAX,
	            "t.csv:1: cannot tell the delimiter from the header row (more than one of "
	            "',', '|' or TAB outside quotes); give it with cp_load_opts_set_delimiter");
	EXPECT_FAIL("\r\nmsisdn\n1\n", 0, CP_ESYNTAX,
	            "t.csv:2: cannot tell the delimiter from the header row (no "
	            "',', '|' or TAB outside quotes); give it with cp_load_opts_set_delimiter");
	EXPECT_FAIL("", 0, CP_ESYNTAX, "t.csv:1: no header row (the input is empty)");
	EXPECT_FAIL("\xEF\xBB\xBF\n\r\n", 0, CP_ESYNTAX, "t.csv:3: no header row (the input is blank)");
}
END_TEST

START_TEST(test_reader_counts_cells_beyond_the_maximum)
{
	cp_csv_reader r;
	cp__csv_reader_init(&r, "t.csv", NULL, NULL);
	r.delim = ',';
	cp__csv_reader_set_memory(&r, "a,b,c,d\n", 8);
	ck_assert_int_eq(cp__csv_next_record(&r, 2), CP_OK);
	ck_assert_uint_eq(r.ncells, 4);
	ck_assert_uint_eq(r.cells[1].len, 1);
	ck_assert_int_eq(r.cells[1].p[0], 'b');
	ck_assert_int_eq(cp__csv_next_record(&r, 2), CP_DONE);
	cp__csv_reader_fini(&r);
}
END_TEST

/* The word-at-a-time split against a byte-by-byte one, on lines with the
 * delimiter at every offset, next to high and low bytes. */
START_TEST(test_reader_split_matches_naive)
{
	static const char fill[] = {'a', '\x80', '\xff', '\x01', '\x2b', '\x2d', '|'};
	uint32_t seed = 12345;
	for (int round = 0; round < 3000; round++) {
		char line[40];
		size_t len = (size_t)(round % 37) + 1;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			line[i] = (seed >> 16) % 3 == 0 ? ',' : fill[(seed >> 20) % sizeof(fill)];
		}
		line[len] = '\n';
		cp_csv_reader r;
		cp__csv_reader_init(&r, "t.csv", NULL, NULL);
		r.delim = ',';
		cp__csv_reader_set_memory(&r, line, len + 1);
		ck_assert_int_eq(cp__csv_next_record(&r, 64), CP_OK);
		size_t n = 0, start = 0;
		for (size_t i = 0; i <= len; i++) {
			if (i == len || line[i] == ',') {
				ck_assert_uint_lt(n, r.ncells);
				ck_assert_uint_eq((size_t)(r.cells[n].p - r.cells[0].p), start);
				ck_assert_uint_eq(r.cells[n].len, i - start);
				n++;
				start = i + 1;
			}
		}
		ck_assert_uint_eq(r.ncells, n);
		cp__csv_reader_fini(&r);
	}
}
END_TEST

/* Read with a record limit: CP_ELIMIT naming the line. */
static int read_limited(const char *data, size_t max_record, size_t chunk, char *msg,
                        size_t msgsize, int *records)
{
	cp_load_opts *opts;
	cp_load_opts_new(&opts);
	cp__load_opts_set_limits(opts, chunk, max_record, 0);
	cp_csv_reader r;
	cp__csv_reader_init(&r, "big.csv", (cp_obj *)opts, opts);
	r.delim = ',';
	cp__csv_reader_set_memory(&r, data, strlen(data));
	int rc;
	*records = 0;
	while ((rc = cp__csv_next_record(&r, 10)) == CP_OK)
		(*records)++;
	snprintf(msg, msgsize, "%s", cp_errmsg(opts));
	cp__csv_reader_fini(&r);
	cp_load_opts_free(opts);
	return rc;
}

START_TEST(test_reader_record_limit)
{
	char msg[256];
	int n;
	/* 20-byte limit: a 19-byte record passes, a 30-byte one does not */
	const char *data = "a,b\n123456789,12345678\n123456789012345,12345678901234\n";
	for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
		ck_assert_int_eq(read_limited(data, 20, chunk, msg, sizeof(msg), &n), CP_ELIMIT);
		ck_assert_int_eq(n, 2);
		ck_assert_str_eq(msg, "big.csv:3: record longer than 20 bytes (a quote that is "
		                      "never closed?)");
	}
	/* an unclosed quote does not swallow more than the limit */
	ck_assert_int_eq(read_limited("a,\"b\n1,2\n3,4\n5,6\n7,8\n9,10\n", 12, 4, msg,
	                              sizeof(msg), &n), CP_ELIMIT);
	ck_assert_int_eq(n, 0);
	ck_assert_str_eq(msg, "big.csv:1: record longer than 12 bytes (a quote that is never "
	                      "closed?)");
	/* without the limit the same input is one record */
	ck_assert_int_eq(read_limited("a,\"b\n1,2\n", 0, 4, msg, sizeof(msg), &n), CP_DONE);
	ck_assert_int_eq(n, 1);
}
END_TEST

/* ---------------------------------------------------------------------
 * Header mapping
 * --------------------------------------------------------------------- */

START_TEST(test_column_field_names)
{
	cp_schema *s = tu_schema();
	int f, m;
	ck_assert_int_eq(cp__csv_column_field(s, "age", &f, &m), CP_OK);
	ck_assert_int_eq(f, cp_schema_field_index(s, "age"));
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(cp__csv_column_field(s, "arpu_m0", &f, &m), CP_OK);
	ck_assert_int_eq(f, cp_schema_field_index(s, "arpu"));
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(cp__csv_column_field(s, "gprs_mb_m5", &f, &m), CP_OK);
	ck_assert_int_eq(f, cp_schema_field_index(s, "gprs_mb"));
	ck_assert_int_eq(m, 5);
	static const char *const unknown[] = {
		"arpu_m6",  /* beyond the schema's 6 months */
		"arpu",     /* a series needs its month */
		"age_m0",   /* a scalar has none */
		"arpu_m05", "arpu_m", "arpu_mx", "_m1", "arpu_1", "Age", "", "arpu_m100",
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		ck_assert_msg(cp__csv_column_field(s, unknown[i], &f, &m) == CP_ENOTFOUND, "%s",
		              unknown[i]);
	cp_schema_free(s);
}
END_TEST

/* Split a header line (comma-separated, no quotes) into cells. */
static size_t header_cells(const char *line, cp_csv_cell *cells, size_t max)
{
	size_t n = 0;
	const char *p = line;
	for (;;) {
		const char *q = strchr(p, ',');
		size_t len = q ? (size_t)(q - p) : strlen(p);
		ck_assert_uint_lt(n, max);
		cells[n].p = p;
		cells[n].len = len;
		n++;
		if (!q)
			return n;
		p = q + 1;
	}
}

static int map_header(const char *line, cp_csv_header *h, cp_load_report *report, char *msg,
                      size_t msgsize)
{
	cp_schema *s = tu_schema();
	cp_load_opts *err;
	cp_load_opts_new(&err);
	cp_csv_cell cells[64];
	size_t n = header_cells(line, cells, 64);
	int rc = cp__csv_header_map(h, s, cells, n, "h.csv", 1, (cp_obj *)err, report);
	snprintf(msg, msgsize, "%s", cp_errmsg(err));
	cp_load_opts_free(err);
	cp_schema_free(s); /* fields stay valid while h is used: not here */
	return rc;
}

START_TEST(test_header_maps_columns_once)
{
	cp_schema *s = tu_schema();
	cp_load_report *rep;
	cp_load_report_new(&rep);
	cp_csv_cell cells[16];
	size_t n = header_cells("age,extra,msisdn,arpu_m1,arpu_m0,note,gprs_mb_m5", cells, 16);
	cp_csv_header h;
	ck_assert_int_eq(cp__csv_header_map(&h, s, cells, n, "h.csv", 1, NULL, rep), CP_OK);
	ck_assert_uint_eq(h.ncols, 7);
	ck_assert_uint_eq(h.key_col, 2);
	ck_assert_str_eq(h.cols[0].field->name, "age");
	ck_assert_ptr_null(h.cols[1].field);
	ck_assert_str_eq(h.cols[3].field->name, "arpu");
	ck_assert_int_eq(h.cols[3].month, 1);
	ck_assert_int_eq(h.cols[4].month, 0);
	ck_assert_ptr_null(h.cols[5].field);
	ck_assert_str_eq(h.cols[6].field->name, "gprs_mb");
	ck_assert_int_eq(h.cols[6].month, 5);
	ck_assert_str_eq(h.names[5], "note");
	cp__csv_header_free(&h);
	/* the same unknown columns from a second load are not named again */
	n = header_cells("msisdn,note,other", cells, 16);
	ck_assert_int_eq(cp__csv_header_map(&h, s, cells, n, "h2.csv", 1, NULL, rep), CP_OK);
	cp__csv_header_free(&h);
	ck_assert_uint_eq(cp_load_report_unknown_column_count(rep), 3);
	ck_assert_str_eq(cp_load_report_unknown_column(rep, 0), "extra");
	ck_assert_str_eq(cp_load_report_unknown_column(rep, 1), "note");
	ck_assert_str_eq(cp_load_report_unknown_column(rep, 2), "other");
	ck_assert_ptr_null(cp_load_report_unknown_column(rep, 3));
	cp_load_report_free(rep);
	cp_schema_free(s);
}
END_TEST

START_TEST(test_header_errors)
{
	cp_csv_header h;
	char msg[256];
	cp_load_report *rep;
	cp_load_report_new(&rep);
	ck_assert_int_eq(map_header("age,arpu_m0,name", &h, rep, msg, sizeof(msg)), CP_EINVAL);
	ck_assert_str_eq(msg, "h.csv:1: the header has no key column 'msisdn'");
	ck_assert_int_eq(map_header("msisdn,arpu_m0,age,arpu_m0", &h, rep, msg, sizeof(msg)),
	                 CP_ESYNTAX);
	ck_assert_str_eq(msg, "h.csv:1: column 'arpu_m0' appears twice in the header "
	                      "(columns 2 and 4)");
	ck_assert_int_eq(map_header("msisdn,x,age,x", &h, rep, msg, sizeof(msg)), CP_ESYNTAX);
	ck_assert_str_eq(msg, "h.csv:1: column 'x' appears twice in the header (columns 2 and 4)");
	ck_assert_int_eq(map_header("msisdn,\xff", &h, rep, msg, sizeof(msg)), CP_ESYNTAX);
	ck_assert_str_eq(msg, "h.csv:1: header column 2: invalid UTF-8 (the input must be UTF-8 "
	                      "text)");
	/* a failed header names no unknown column */
	ck_assert_uint_eq(cp_load_report_unknown_column_count(rep), 0);
	/* the passing counterpart: key present, series partial */
	ck_assert_int_eq(map_header("arpu_m3,msisdn", &h, rep, msg, sizeof(msg)), CP_OK);
	ck_assert_uint_eq(h.key_col, 1);
	cp__csv_header_free(&h);
	cp_load_report_free(rep);
}
END_TEST

/* ---------------------------------------------------------------------
 * Options and report objects
 * --------------------------------------------------------------------- */

START_TEST(test_opts)
{
	cp_load_opts *o;
	ck_assert_int_eq(cp_load_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_delimiter(o, ';'), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(o), "delimiter 59: use ',', '|', '\\t' or 0 (detect)");
	ck_assert_int_eq(cp_load_opts_set_delimiter(o, '|'), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_delimiter(o, '\t'), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_delimiter(o, 0), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_rejects_path(o, "r.csv"), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_rejects_path(o, NULL), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_progress(o, NULL, NULL), CP_OK);
	ck_assert_int_eq(cp_load_opts_set_delimiter(NULL, ','), CP_EINVAL);
	ck_assert_int_eq(cp_load_opts_set_rejects_path(NULL, "x"), CP_EINVAL);
	ck_assert_int_eq(cp_load_opts_set_progress(NULL, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_load_opts_new(NULL), CP_EINVAL);
	cp_load_opts_free(o);
	cp_load_opts_free(NULL);
}
END_TEST

START_TEST(test_empty_report)
{
	cp_load_report *r;
	ck_assert_int_eq(cp_load_report_new(&r), CP_OK);
	ck_assert_uint_eq(cp_load_report_rows(r), 0);
	ck_assert_uint_eq(cp_load_report_reject_count(r), 0);
	ck_assert_ptr_null(cp_load_report_reject_reason(r, 0));
	ck_assert_ptr_null(cp_load_report_reject_column(r, 0));
	ck_assert_uint_eq(cp_load_report_reject_line(r, 0), 0);
	ck_assert_uint_eq(cp_load_report_duplicate_line(r, 0), 0);
	ck_assert_str_eq(cp_errmsg(r), "");
	cp_load_report_free(r);
	cp_load_report_free(NULL);
	ck_assert_uint_eq(cp_load_report_loaded(NULL), 0);
	ck_assert_uint_eq(cp_load_report_unknown_column_count(NULL), 0);
}
END_TEST

/* ---------------------------------------------------------------------
 * Loading: fixture
 * --------------------------------------------------------------------- */

typedef struct fx {
	cp_schema *schema;
	cp_store *store;
	cp_load_report *report;
	cp_view *view;
	char text[512];
} fx;

static void fx_init(fx *f)
{
	f->schema = tu_schema();
	ck_assert_int_eq(cp_store_new(&f->store, f->schema), CP_OK);
	ck_assert_int_eq(cp_load_report_new(&f->report), CP_OK);
	ck_assert_int_eq(cp_view_new(&f->view, f->store), CP_OK);
}

static void fx_free(fx *f)
{
	cp_view_free(f->view);
	cp_load_report_free(f->report);
	cp_store_free(f->store);
	cp_schema_free(f->schema);
}

static int fx_load(fx *f, const char *csv, const cp_load_opts *opts)
{
	return cp_store_load_csv_memory(f->store, csv, strlen(csv), "t.csv", opts, f->report);
}

/* The text form of a cell of the profile with this key; "<null>" or
 * "<no profile>" when there is none. */
static const char *fx_cell(fx *f, const char *key, const char *field, int month)
{
	if (cp_store_get(f->store, key, f->view) != CP_OK)
		return "<no profile>";
	int i = cp_schema_field_index(f->schema, field);
	ck_assert_msg(i >= 0, "no field %s", field);
	if (cp_view_is_null(f->view, i, month))
		return "<null>";
	ck_assert_int_ge(cp_view_text(f->view, i, month, f->text, sizeof(f->text)), 0);
	return f->text;
}

/* The report's rejects as "LINE|COLUMN|REASON\n" lines. */
static const char *fx_rejects(fx *f)
{
	size_t pos = 0;
	f->text[0] = '\0';
	for (size_t i = 0; i < cp_load_report_reject_count(f->report); i++)
		pos += (size_t)snprintf(f->text + pos, sizeof(f->text) - pos, "%llu|%s|%s\n",
		                        (unsigned long long)cp_load_report_reject_line(f->report, i),
		                        cp_load_report_reject_column(f->report, i),
		                        cp_load_report_reject_reason(f->report, i));
	ck_assert_uint_lt(pos, sizeof(f->text));
	return f->text;
}

/* ---------------------------------------------------------------------
 * Loading: delimiters, BOM, line ends, quotes, text
 * --------------------------------------------------------------------- */

START_TEST(test_load_each_delimiter)
{
	static const char *const files[] = {
		"msisdn,age,name\n13800000001,30,a|b\n",
		"msisdn|age|name\n13800000001|30|a,b\n",
		"msisdn\tage\tname\n13800000001\t30\ta|b,c\n",
	};
	static const char *const names[] = {"a|b", "a,b", "a|b,c"};
	static const int delims[] = {',', '|', '\t'};
	for (int k = 0; k < 3; k++) {
		for (int given = 0; given < 2; given++) {
			fx f;
			fx_init(&f);
			cp_load_opts *o;
			cp_load_opts_new(&o);
			cp_load_opts_set_delimiter(o, given ? delims[k] : 0);
			ck_assert_int_eq(fx_load(&f, files[k], o), CP_OK);
			ck_assert_uint_eq(cp_load_report_loaded(f.report), 1);
			ck_assert_str_eq(fx_cell(&f, "13800000001", "age", 0), "30");
			ck_assert_str_eq(fx_cell(&f, "13800000001", "name", 0), names[k]);
			cp_load_opts_free(o);
			fx_free(&f);
		}
	}
}
END_TEST

START_TEST(test_load_delimiter_errors)
{
	fx f;
	fx_init(&f);
	cp_load_opts *o;
	cp_load_opts_new(&o);
	/* a PSV file read as CSV: the header is one unknown column */
	cp_load_opts_set_delimiter(o, ',');
	ck_assert_int_eq(fx_load(&f, "msisdn|age\n13800000001|30\n", o), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(f.store), "t.csv:1: the header has no key column 'msisdn'");
	/* nothing to detect, or too much */
	ck_assert_int_eq(fx_load(&f, "msisdn\n13800000001\n", NULL), CP_ESYNTAX);
	ck_assert_str_eq(cp_errmsg(f.store),
	                 "t.csv:1: cannot tell the delimiter from the header row (no ',', '|' or "
	                 "TAB outside quotes); give it with cp_load_opts_set_delimiter");
	ck_assert_int_eq(fx_load(&f, "msisdn,age|name\n", NULL), CP_ESYNTAX);
	/* given, a one-column file loads */
	cp_load_opts_set_delimiter(o, '|');
	ck_assert_int_eq(fx_load(&f, "msisdn\n13800000001\n", o), CP_OK);
	ck_assert_uint_eq(cp_store_count(f.store), 1);
	cp_load_opts_free(o);
	fx_free(&f);
}
END_TEST

START_TEST(test_load_bom_crlf_chinese)
{
	fx f;
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "\xEF\xBB\xBFmsisdn,name,region\r\n"
	                             "13800000001,张三,广东省\r\n"
	                             "13800000002,李四,\r\n",
	                         NULL),
	                 CP_OK);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 2);
	ck_assert_uint_eq(cp_load_report_unknown_column_count(f.report), 0);
	ck_assert_str_eq(fx_cell(&f, "13800000001", "name", 0), "张三");
	ck_assert_str_eq(fx_cell(&f, "13800000001", "region", 0), "广东省");
	ck_assert_str_eq(fx_cell(&f, "13800000002", "region", 0), "<null>");
	fx_free(&f);
	/* a BOM in the middle of the file is text, and the key column after
	 * two BOMs is not 'msisdn' */
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "\xEF\xBB\xBF\xEF\xBB\xBFmsisdn,name\n", NULL), CP_EINVAL);
	fx_free(&f);
}
END_TEST

START_TEST(test_load_quotes_keep_physical_lines)
{
	fx f;
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "msisdn,name,age\n"
	                             "13800000001,\"Li, \"\"Xiao\"\" Ming\",30\n"
	                             "13800000002,\"two\nlines\",31\n"
	                             "13800000003,\"x\",abc\n"
	                             "\"13800000004\",\"\",\"40\"\n",
	                         NULL),
	                 CP_OK);
	ck_assert_str_eq(fx_cell(&f, "13800000001", "name", 0), "Li, \"Xiao\" Ming");
	ck_assert_str_eq(fx_cell(&f, "13800000002", "name", 0), "two\nlines");
	ck_assert_str_eq(fx_cell(&f, "13800000004", "name", 0), "<null>");
	ck_assert_str_eq(fx_cell(&f, "13800000004", "age", 0), "40");
	ck_assert_str_eq(fx_rejects(&f), "5|age|'abc': not an integer\n");
	fx_free(&f);
}
END_TEST

START_TEST(test_load_rejects_bad_text)
{
	fx f;
	fx_init(&f);
	static const char csv[] = "msisdn,name,note\n"
	                          "13800000001,a\0b,x\n"
	                          "13800000002,ok,\xe4\xbd\n"       /* truncated UTF-8, unknown column */
	                          "13800000003,\xc0\xaf,x\n"        /* overlong */
	                          "13800000004,\"ab\"c,x\n"         /* junk after the closing quote */
	                          "13800000005,\"好\",x\n";
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, csv, sizeof(csv) - 1, "t.csv", NULL,
	                                          f.report),
	                 CP_OK);
	ck_assert_str_eq(fx_rejects(&f),
	                 "2|name|NUL byte in the cell\n"
	                 "3|note|invalid UTF-8 (the input must be UTF-8 text)\n"
	                 "4|name|invalid UTF-8 (the input must be UTF-8 text)\n"
	                 "5|name|text after the closing quote of a quoted cell\n");
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 1);
	ck_assert_str_eq(fx_cell(&f, "13800000005", "name", 0), "好");
	fx_free(&f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Loading: every type's good and bad cells
 * --------------------------------------------------------------------- */

static const struct type_case {
	const char *column, *text;
	const char *stored;  /* text form after loading, or NULL: rejected */
	const char *reason;  /* when rejected */
} type_cases[] = {
	{"vip", "1", "1", NULL},
	{"vip", "true", "1", NULL},
	{"vip", "N", "0", NULL},
	{"vip", "是", "1", NULL},
	{"vip", "否", "0", NULL},
	{"vip", "yes", NULL, "'yes': not a bool (1/0, true/false, Y/N, 是/否)"},
	{"age", "-42", "-42", NULL},
	{"age", "4.2", NULL, "'4.2': not an integer"},
	{"age", " 42", NULL, "' 42': not an integer"},
	{"age", "9223372036854775808", NULL, "'9223372036854775808': integer out of range"},
	{"score", "0.75", "0.75", NULL},
	{"score", "1e3", "1000", NULL},
	{"score", "abc", NULL, "'abc': not a number"},
	{"score", "nan", NULL, "'nan': not a number"},
	{"overdue", "12.5", "12.50", NULL},
	{"overdue", "-0.05", "-0.05", NULL},
	{"overdue", "3", "3", NULL},
	{"overdue", "12.345", NULL, "'12.345': money has more than 2 decimals (yuan.fen)"},
	{"overdue", "1,000", NULL, "'1,000': not an amount of money (yuan with at most 2 decimals)"},
	{"join_date", "2026-02-28", "2026-02-28", NULL},
	{"join_date", "20240229", "2024-02-29", NULL},
	{"join_date", "2026-02-30", NULL, "'2026-02-30': no such calendar day"},
	{"join_date", "2026/02/01", NULL, "'2026/02/01': not a date (YYYY-MM-DD or YYYYMMDD)"},
	{"brand", "gotone", "gotone", NULL},
	{"brand", "gotnoe", NULL,
	 "'gotnoe': not one of the listed values of the enum (did you mean 'gotone'?)"},
	{"brand", "全球通", NULL, "'全球通': not one of the listed values of the enum"},
	{"region", "广州", "广州", NULL}, /* open enum */
	{"name", "张三", "张三", NULL},
	{"addons", "b;a;b", "a;b", NULL},
	{"addons", "a;;b", NULL, "'a;;b': an empty item (items are joined by ';' and may not be empty)"},
	{"tones", "x;y;z", "x;y;z", NULL},
	{"tones", "w;x;y;z", NULL, "'w;x;y;z': 4 items, more than the list's max of 3"},
	{"arpu_m0", "88.8", "88.80", NULL},
	{"arpu_m5", "1.001", NULL, "'1.001': money has more than 2 decimals (yuan.fen)"},
	{"sessions_m2", "7", "7", NULL},
	{"active_m1", "Y", "1", NULL},
	{"last_call_m3", "20261101", "2026-11-01", NULL},
	{"apps_m0", "微信;QQ", "QQ;微信", NULL},
	/* long values are cut in reasons */
	{"age", "12345678901234567890123456789012345678901234567890123", NULL,
	 "'123456789012345678901234567890123456789012345678...': integer out of range"},
	{"score", "一二三四五六七八九十一二三四五六七", NULL,
	 "'一二三四五六七八九十一二三四五六...': not a number"},
};

START_TEST(test_load_type_cells)
{
	const struct type_case *c = &type_cases[_i];
	fx f;
	fx_init(&f);
	char csv[256];
	snprintf(csv, sizeof(csv), "msisdn|%s\n13800000001|%s\n", c->column, c->text);
	ck_assert_int_eq(fx_load(&f, csv, NULL), CP_OK);
	ck_assert_uint_eq(cp_load_report_rows(f.report), 1);
	char field[32];
	snprintf(field, sizeof(field), "%s", c->column);
	int month = 0;
	char *m = strstr(field, "_m");
	if (m && strchr("012345", m[2]) && !m[3]) {
		month = m[2] - '0';
		*m = '\0';
	}
	if (c->stored) {
		ck_assert_msg(cp_load_report_rejected(f.report) == 0, "%s=%s: %s", c->column,
		              c->text, fx_rejects(&f));
		ck_assert_str_eq(fx_cell(&f, "13800000001", field, month), c->stored);
	} else {
		ck_assert_uint_eq(cp_load_report_loaded(f.report), 0);
		ck_assert_uint_eq(cp_store_count(f.store), 0);
		ck_assert_uint_eq(cp_load_report_reject_count(f.report), 1);
		ck_assert_uint_eq(cp_load_report_reject_line(f.report, 0), 2);
		ck_assert_str_eq(cp_load_report_reject_column(f.report, 0), c->column);
		ck_assert_str_eq(cp_load_report_reject_reason(f.report, 0), c->reason);
	}
	fx_free(&f);
}
END_TEST

START_TEST(test_load_keys)
{
	fx f;
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "msisdn,age\n"
	                             "+8613800000001,1\n"
	                             "008613800000002,2\n"
	                             "8613800000003,3\n"
	                             "13800000004,4\n"
	                             "1380000,5\n"
	                             "+86138000000061,6\n"
	                             ",7\n"
	                             "1380000000x,8\n",
	                         NULL),
	                 CP_OK);
	ck_assert_uint_eq(cp_load_report_rows(f.report), 8);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 4);
	ck_assert_uint_eq(cp_load_report_rejected(f.report), 4);
	ck_assert_str_eq(fx_rejects(&f), "6|msisdn|'1380000': not an 11-digit mobile number\n"
	                                 "7|msisdn|'+86138000000061': not an 11-digit mobile number\n"
	                                 "8|msisdn|the key is empty\n"
	                                 "9|msisdn|'1380000000x': not an 11-digit mobile number\n");
	ck_assert_str_eq(fx_cell(&f, "13800000001", "age", 0), "1");
	ck_assert_str_eq(fx_cell(&f, "13800000002", "age", 0), "2");
	ck_assert_str_eq(fx_cell(&f, "+8613800000003", "age", 0), "3");
	ck_assert_str_eq(fx_cell(&f, "13800000004", "msisdn", 0), "13800000004");
	ck_assert_str_eq(fx_cell(&f, "13800000001", "msisdn", 0), "13800000001");
	ck_assert_str_eq(fx_cell(&f, "1380000", "age", 0), "<no profile>");
	fx_free(&f);
}
END_TEST

START_TEST(test_load_wrong_cell_count)
{
	fx f;
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "msisdn,age,vip\n"
	                             "13800000001,1\n"
	                             "13800000002,2,Y,extra\n"
	                             "13800000003,3,N\n"
	                             "13800000004,4,\n",
	                         NULL),
	                 CP_OK);
	ck_assert_str_eq(fx_rejects(&f), "2||the row has 2 cells, the header has 3\n"
	                                 "3||the row has 4 cells, the header has 3\n");
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 2);
	ck_assert_str_eq(fx_cell(&f, "13800000004", "vip", 0), "<null>");
	ck_assert_str_eq(fx_cell(&f, "13800000003", "vip", 0), "0");
	fx_free(&f);
}
END_TEST

START_TEST(test_load_partial_series_and_unknown_columns)
{
	fx f;
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "msisdn,arpu_m0,foo,arpu_m2,arpu_m6,bar\n"
	                             "13800000001,1,not checked,3,x,\n",
	                         NULL),
	                 CP_OK);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 1);
	ck_assert_str_eq(fx_cell(&f, "13800000001", "arpu", 0), "1");
	ck_assert_str_eq(fx_cell(&f, "13800000001", "arpu", 1), "<null>");
	ck_assert_str_eq(fx_cell(&f, "13800000001", "arpu", 2), "3");
	ck_assert_str_eq(fx_cell(&f, "13800000001", "arpu", 5), "<null>");
	ck_assert_int_eq(fx_load(&f, "msisdn,bar,baz\n13800000002,1,2\n", NULL), CP_OK);
	ck_assert_uint_eq(cp_load_report_unknown_column_count(f.report), 4);
	ck_assert_str_eq(cp_load_report_unknown_column(f.report, 0), "foo");
	ck_assert_str_eq(cp_load_report_unknown_column(f.report, 1), "arpu_m6");
	ck_assert_str_eq(cp_load_report_unknown_column(f.report, 2), "bar");
	ck_assert_str_eq(cp_load_report_unknown_column(f.report, 3), "baz");
	/* counts accumulate over loads */
	ck_assert_uint_eq(cp_load_report_rows(f.report), 2);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 2);
	fx_free(&f);
}
END_TEST

START_TEST(test_load_duplicate_keys)
{
	fx f;
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "msisdn,age,vip\n"
	                             "13800000001,1,Y\n"
	                             "13800000002,2,Y\n"
	                             "13800000001,3,\n"
	                             "\n"
	                             "+8613800000002,4,N\n"
	                             "13800000001,5,\n",
	                         NULL),
	                 CP_OK);
	ck_assert_uint_eq(cp_load_report_rows(f.report), 5);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 5);
	ck_assert_uint_eq(cp_load_report_duplicates(f.report), 3);
	ck_assert_uint_eq(cp_load_report_duplicate_count(f.report), 3);
	ck_assert_uint_eq(cp_load_report_duplicate_line(f.report, 0), 4);
	ck_assert_uint_eq(cp_load_report_duplicate_line(f.report, 1), 6);
	ck_assert_uint_eq(cp_load_report_duplicate_line(f.report, 2), 7);
	ck_assert_uint_eq(cp_load_report_duplicate_line(f.report, 3), 0);
	ck_assert_uint_eq(cp_store_count(f.store), 2);
	/* the later row replaces the earlier one entirely */
	ck_assert_str_eq(fx_cell(&f, "13800000001", "age", 0), "5");
	ck_assert_str_eq(fx_cell(&f, "13800000001", "vip", 0), "<null>");
	ck_assert_str_eq(fx_cell(&f, "13800000002", "vip", 0), "0");
	fx_free(&f);
	/* no duplicates: nothing reported */
	fx_init(&f);
	ck_assert_int_eq(fx_load(&f, "msisdn,age\n13800000001,1\n13800000002,1\n", NULL), CP_OK);
	ck_assert_uint_eq(cp_load_report_duplicates(f.report), 0);
	ck_assert_uint_eq(cp_load_report_duplicate_count(f.report), 0);
	fx_free(&f);
}
END_TEST

START_TEST(test_load_keeps_first_1000)
{
	fx f;
	fx_init(&f);
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_puts(&b, "msisdn,age\n");
	for (int i = 0; i < 1200; i++)
		cp__buf_printf(&b, "13800000001,%s\n", i % 2 ? "x" : "1");
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, b.data, b.len, "t.csv", NULL, f.report),
	                 CP_OK);
	ck_assert_uint_eq(cp_load_report_rejected(f.report), 600);
	ck_assert_uint_eq(cp_load_report_reject_count(f.report), 600);
	ck_assert_uint_eq(cp_load_report_duplicates(f.report), 599);
	ck_assert_uint_eq(cp_load_report_duplicate_count(f.report), 599);
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, b.data, b.len, "t.csv", NULL, f.report),
	                 CP_OK);
	ck_assert_uint_eq(cp_load_report_rejected(f.report), 1200);
	ck_assert_uint_eq(cp_load_report_reject_count(f.report), 1000);
	ck_assert_uint_eq(cp_load_report_reject_line(f.report, 999), 2 * 399 + 3);
	ck_assert_uint_eq(cp_load_report_duplicates(f.report), 1199);
	ck_assert_uint_eq(cp_load_report_duplicate_count(f.report), 1000);
	ck_assert_uint_eq(cp_load_report_duplicate_line(f.report, 599), 2); /* from the 2nd load */
	ck_assert_uint_eq(cp_load_report_bytes(f.report), 2 * b.len);
	cp__buf_free(&b);
	fx_free(&f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Loading: rejects file, personal data
 * --------------------------------------------------------------------- */

START_TEST(test_rejects_file_golden)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "rejects.csv"));
	fx f;
	fx_init(&f);
	cp_load_opts *o;
	cp_load_opts_new(&o);
	ck_assert_int_eq(cp_load_opts_set_rejects_path(o, path), CP_OK);
	ck_assert_int_eq(fx_load(&f, "msisdn,age,brand,\"we,ird\"\n"
	                             "13800000001,1,gotone,\n"
	                             "13800000002,x,gotone,\n"
	                             "13800000003,\"1,5\",szx,\n"
	                             "13800000004,4\"2,szx,\n"
	                             "13800000005,\"1\n2\",szx,\n"
	                             "13800000006,6,gotnoe,\n"
	                             "13800000007,7\n"
	                             "13800000008,8,mzone,\"a\"b\n",
	                         o),
	                 CP_OK);
	char *got = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got,
	                 "line,column,reason\n"
	                 "3,age,'x': not an integer\n"
	                 "4,age,\"'1,5': not an integer\"\n"
	                 "5,age,\"'4\"\"2': not an integer\"\n"
	                 "6,age,\"'1\n2': not an integer\"\n"
	                 "8,brand,'gotnoe': not one of the listed values of the enum (did you mean "
	                 "'gotone'?)\n"
	                 "9,,\"the row has 2 cells, the header has 4\"\n"
	                 "10,\"we,ird\",text after the closing quote of a quoted cell\n");
	free(got);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 1);
	ck_assert_uint_eq(cp_load_report_rejected(f.report), 7);
	ck_assert_str_eq(cp_load_report_unknown_column(f.report, 0), "we,ird");
	/* a clean load writes the header only */
	ck_assert_int_eq(fx_load(&f, "msisdn\n13800000001\n", NULL), CP_ESYNTAX);
	ck_assert_int_eq(fx_load(&f, "msisdn,age\n13800000001,1\n", o), CP_OK);
	got = tu_read_file(path, NULL);
	ck_assert_str_eq(got, "line,column,reason\n");
	free(got);
	/* a rejects file that cannot be created fails the load before any row */
	ck_assert_int_eq(cp_load_opts_set_rejects_path(o, tu_path(dir, "no/such/dir.csv")), CP_OK);
	ck_assert_int_eq(fx_load(&f, "msisdn,age\n13800000009,1\n", o), CP_EIO);
	ck_assert_ptr_nonnull(strstr(cp_errmsg(f.store), "no/such/dir.csv: cannot create the rejects "
	                                                 "file: No such file or directory"));
	ck_assert_str_eq(fx_cell(&f, "13800000009", "age", 0), "<no profile>");
	/* nor one that is the input file: it would be truncated */
	char input[4096];
	snprintf(input, sizeof(input), "%s", tu_path(dir, "in.csv"));
	tu_write_file(input, "msisdn,age\n13800000009,1\n", 25);
	ck_assert_int_eq(cp_load_opts_set_rejects_path(o, input), CP_OK);
	ck_assert_int_eq(cp_store_load_csv(f.store, input, o, f.report), CP_EINVAL);
	ck_assert_str_eq(strstr(cp_errmsg(f.store), "in.csv:"),
	                 "in.csv: the rejects file is the input file");
	got = tu_read_file(input, NULL);
	ck_assert_str_eq(got, "msisdn,age\n13800000009,1\n");
	free(got);
	cp_load_opts_free(o);
	fx_free(&f);
	tu_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_personal_values_never_in_reasons)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "rejects.csv"));
	fx f;
	f.schema = tu_schema();
	f.schema->fields[cp_schema_field_index(f.schema, "age")].personal = true;
	f.schema->fields[cp_schema_field_index(f.schema, "brand")].personal = true;
	ck_assert_int_eq(cp_store_new(&f.store, f.schema), CP_OK);
	cp_load_report_new(&f.report);
	cp_view_new(&f.view, f.store);
	cp_load_opts *o;
	cp_load_opts_new(&o);
	cp_load_opts_set_rejects_path(o, path);
	ck_assert_int_eq(fx_load(&f, "msisdn,age,brand,overdue\n"
	                             "13800000001,secret42,,\n"
	                             "13800000002,,gotnoe,\n"
	                             "13800000003,,,public.123\n",
	                         o),
	                 CP_OK);
	ck_assert_str_eq(fx_rejects(&f),
	                 "2|age|not an integer (value not shown: personal data)\n"
	                 "3|brand|not one of the listed values of the enum (value not shown: "
	                 "personal data)\n"
	                 "4|overdue|'public.123': not an amount of money (yuan with at most 2 "
	                 "decimals)\n");
	char *got = tu_read_file(path, NULL);
	ck_assert_ptr_null(strstr(got, "secret42"));
	ck_assert_ptr_null(strstr(got, "gotnoe"));
	ck_assert_ptr_nonnull(strstr(got, "public.123"));
	free(got);
	cp_load_opts_free(o);
	fx_free(&f);
	tu_rmdir(dir);
	free(dir);
}
END_TEST

/* ---------------------------------------------------------------------
 * Loading: fatal errors
 * --------------------------------------------------------------------- */

START_TEST(test_fatal_errors)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	fx f;
	fx_init(&f);
	snprintf(path, sizeof(path), "%s", tu_path(dir, "missing.csv"));
	ck_assert_int_eq(cp_store_load_csv(f.store, path, NULL, f.report), CP_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(cp_errmsg(f.store), "missing.csv: cannot open: No such file"));
	ck_assert_int_eq(cp_store_load_csv(f.store, dir, NULL, f.report), CP_EIO);
	ck_assert_ptr_nonnull(strstr(cp_errmsg(f.store), ":1: read error: Is a directory"));
	snprintf(path, sizeof(path), "%s", tu_path(dir, "empty.csv"));
	tu_write_file(path, "", 0);
	ck_assert_int_eq(cp_store_load_csv(f.store, path, NULL, f.report), CP_ESYNTAX);
	ck_assert_ptr_nonnull(strstr(cp_errmsg(f.store), "empty.csv:1: no header row (the input is "
	                                                 "empty)"));
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, "", 0, NULL, NULL, NULL), CP_ESYNTAX);
	ck_assert_str_eq(cp_errmsg(f.store), "<memory>:1: no header row (the input is empty)");
	/* the delimiter given: no detection, the same message */
	cp_load_opts *o;
	cp_load_opts_new(&o);
	cp_load_opts_set_delimiter(o, ',');
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, "\n\n", 2, "b.csv", o, NULL), CP_ESYNTAX);
	ck_assert_str_eq(cp_errmsg(f.store), "b.csv:3: no header row (the input is blank)");
	cp_load_opts_free(o);
	ck_assert_int_eq(fx_load(&f, "\n\nmsisdn,age,age\n", NULL), CP_ESYNTAX);
	ck_assert_str_eq(cp_errmsg(f.store),
	                 "t.csv:3: column 'age' appears twice in the header (columns 2 and 3)");
	ck_assert_int_eq(fx_load(&f, "msisdn,\"age\"x\n", NULL), CP_ESYNTAX);
	ck_assert_str_eq(cp_errmsg(f.store),
	                 "t.csv:1: header column 2: text after the closing quote of a quoted cell");
	ck_assert_int_eq(fx_load(&f, "name,age\n张三,1\n", NULL), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(f.store), "t.csv:1: the header has no key column 'msisdn'");
	ck_assert_int_eq(cp_store_load_csv(NULL, path, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_store_load_csv(f.store, NULL, NULL, NULL), CP_EINVAL);
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, NULL, 3, "x", NULL, NULL), CP_EINVAL);
	/* nothing was loaded or reported by the failed loads */
	ck_assert_uint_eq(cp_store_count(f.store), 0);
	ck_assert_uint_eq(cp_load_report_rows(f.report), 0);
	fx_free(&f);
	tu_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_record_limit_keeps_earlier_rows)
{
	fx f;
	fx_init(&f);
	cp_load_opts *o;
	cp_load_opts_new(&o);
	cp__load_opts_set_limits(o, 16, 40, 0);
	ck_assert_int_eq(fx_load(&f, "msisdn,name\n"
	                             "13800000001,short\n"
	                             "13800000002,a name that is much too long for the limit\n"
	                             "13800000003,short\n",
	                         o),
	                 CP_ELIMIT);
	ck_assert_str_eq(cp_errmsg(f.store),
	                 "t.csv:3: record longer than 40 bytes (a quote that is never closed?)");
	ck_assert_uint_eq(cp_store_count(f.store), 1);
	ck_assert_str_eq(fx_cell(&f, "13800000001", "name", 0), "short");
	cp_load_opts_free(o);
	fx_free(&f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Loading: progress and cancel
 * --------------------------------------------------------------------- */

typedef struct progress_log {
	int calls;
	uint64_t last_done, total;
	uint64_t cancel_at; /* return 1 once done reaches this (0: never) */
	int monotonic;
} progress_log;

static int on_progress(uint64_t done, uint64_t total, void *userdata)
{
	progress_log *log = userdata;
	if (done <= log->last_done)
		log->monotonic = 0;
	log->calls++;
	log->last_done = done;
	log->total = total;
	return log->cancel_at && done >= log->cancel_at;
}

static char *numbered_rows(int n, size_t *len)
{
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_puts(&b, "msisdn,age,name\n");
	for (int i = 0; i < n; i++)
		cp__buf_printf(&b, "138%08d,%d,用户%d\n", i, i % 90, i);
	*len = b.len;
	char *s = cp__buf_steal(&b);
	char *copy = strdup(s);
	cp__free(s);
	return copy;
}

START_TEST(test_progress_and_cancel)
{
	size_t len;
	char *csv = numbered_rows(200, &len);
	fx f;
	fx_init(&f);
	cp_load_opts *o;
	cp_load_opts_new(&o);
	cp__load_opts_set_limits(o, 100, 0, 1000);
	progress_log log = {0, 0, 0, 0, 1};
	cp_load_opts_set_progress(o, on_progress, &log);
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, csv, len, "p.csv", o, f.report), CP_OK);
	ck_assert_int_ge(log.calls, (int)(len / 1000));
	ck_assert_int_le(log.calls, (int)(len / 1000) + 1);
	ck_assert(log.monotonic);
	ck_assert_uint_eq(log.last_done, len);
	ck_assert_uint_eq(log.total, len);
	ck_assert_uint_eq(cp_store_count(f.store), 200);
	fx_free(&f);

	/* cancel once 2000 bytes are read: the rows before stay stored */
	fx_init(&f);
	log = (progress_log){0, 0, 0, 2000, 1};
	ck_assert_int_eq(cp_store_load_csv_memory(f.store, csv, len, "p.csv", o, f.report),
	                 CP_ECANCELED);
	ck_assert_int_eq(log.calls, 2);
	ck_assert_ptr_nonnull(strstr(cp_errmsg(f.store), ": load cancelled by the progress callback"));
	ck_assert_int_eq(strncmp(cp_errmsg(f.store), "p.csv:", 6), 0);
	size_t stored = cp_store_count(f.store);
	ck_assert_uint_gt(stored, 0);
	ck_assert_uint_lt(stored, 200);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), stored);
	ck_assert_str_eq(fx_cell(&f, "13800000000", "name", 0), "用户0");
	fx_free(&f);

	/* from a file: total is the file's size */
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "p.csv"));
	tu_write_file(path, csv, len);
	fx_init(&f);
	log = (progress_log){0, 0, 0, 0, 1};
	cp__load_opts_set_limits(o, 0, 0, 0);
	ck_assert_int_eq(cp_store_load_csv(f.store, path, o, f.report), CP_OK);
	ck_assert_int_eq(log.calls, 1);
	ck_assert_uint_eq(log.total, len);
	ck_assert_uint_eq(log.last_done, len);
	ck_assert_uint_eq(cp_load_report_bytes(f.report), len);
	fx_free(&f);
	tu_rmdir(dir);
	free(dir);
	cp_load_opts_free(o);
	free(csv);
}
END_TEST

/* ---------------------------------------------------------------------
 * Loading: chunk boundaries and a tricky file end to end
 * --------------------------------------------------------------------- */

/* A file of every kind of row, n data rows long. */
static char *tricky_rows(int n, size_t *len)
{
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_puts(&b, "\xEF\xBB\xBFmsisdn,name,age,arpu_m0,arpu_m1,brand,tones,extra\r\n");
	for (int i = 0; i < n; i++) {
		switch (i % 9) {
		case 0:
			cp__buf_printf(&b, "+86138%08d,\"张, \"\"%d\"\"\",%d,%d.%02d,,gotone,a;b,x\r\n", i,
			               i, i % 80, i, i % 100);
			break;
		case 1:
			cp__buf_printf(&b, "138%08d,\"多\r\n行\n%d\",,1,2,szx,,\r\n", i, i);
			break;
		case 2:
			cp__buf_printf(&b, "138%08d,bad money,1,1.234,,,,\r\n", i);
			break;
		case 3:
			cp__buf_puts(&b, "\r\n\n");
			break;
		case 4:
			cp__buf_printf(&b, "138%08d,short\r\n", i);
			break;
		case 5: /* a duplicate of the row before the last case 0 */
			cp__buf_printf(&b, "0086138%08d,dup,%d,,,mzone,,\n", i - 5, i % 50);
			break;
		case 6:
			cp__buf_printf(&b, "138%08d,\"q\"\"uote\",%d,,,gotnoe,,\n", i, i % 70);
			break;
		case 7:
			cp__buf_printf(&b, "138%08d,%d,%d,,,,w;x;y;z,\"unknown\ncolumn\"\n", i, i, i);
			break;
		default:
			cp__buf_printf(&b, "138%08d,末行,%d,,,,,", i, i % 60);
			if (i + 1 < n)
				cp__buf_putc(&b, '\n');
			break;
		}
	}
	*len = b.len;
	char *s = cp__buf_steal(&b);
	char *copy = strdup(s);
	cp__free(s);
	return copy;
}

static int dump_profile(const cp_view *v, void *userdata)
{
	cp_buf *b = userdata;
	const cp_schema *s = cp_store_schema(v->store);
	char text[256];
	for (int i = 0; i < cp_schema_field_count(s); i++) {
		for (int m = 0; m < cp_schema_field_months(s, i); m++) {
			if (cp_view_is_null(v, i, m))
				continue;
			cp_view_text(v, i, m, text, sizeof(text));
			cp__buf_printf(b, "%s[%d]=%s;", cp_schema_field_name(s, i), m, text);
		}
	}
	cp__buf_putc(b, '\n');
	return 0;
}

/* Everything a load produced, as text: report and every stored cell. */
static char *load_dump(const char *csv, size_t len, size_t chunk, const char *file)
{
	fx f;
	fx_init(&f);
	cp_load_opts *o;
	cp_load_opts_new(&o);
	cp__load_opts_set_limits(o, chunk, 0, 0);
	int rc = file ? cp_store_load_csv(f.store, file, o, f.report)
	              : cp_store_load_csv_memory(f.store, csv, len, "t.csv", o, f.report);
	ck_assert_int_eq(rc, CP_OK);
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_printf(&b, "rows %llu loaded %llu rejected %llu duplicates %llu bytes %llu\n",
	               (unsigned long long)cp_load_report_rows(f.report),
	               (unsigned long long)cp_load_report_loaded(f.report),
	               (unsigned long long)cp_load_report_rejected(f.report),
	               (unsigned long long)cp_load_report_duplicates(f.report),
	               (unsigned long long)cp_load_report_bytes(f.report));
	for (size_t i = 0; i < cp_load_report_reject_count(f.report); i++)
		cp__buf_printf(&b, "reject %llu %s %s\n",
		               (unsigned long long)cp_load_report_reject_line(f.report, i),
		               cp_load_report_reject_column(f.report, i),
		               cp_load_report_reject_reason(f.report, i));
	for (size_t i = 0; i < cp_load_report_duplicate_count(f.report); i++)
		cp__buf_printf(&b, "duplicate %llu\n",
		               (unsigned long long)cp_load_report_duplicate_line(f.report, i));
	cp_store_foreach(f.store, dump_profile, &b);
	cp_load_opts_free(o);
	fx_free(&f);
	char *s = cp__buf_steal(&b);
	char *copy = strdup(s);
	cp__free(s);
	return copy;
}

START_TEST(test_chunk_boundaries_do_not_change_the_result)
{
	size_t len;
	char *csv = tricky_rows(90, &len);
	char *want = load_dump(csv, len, 0, NULL);
	/* per 9 rows: 4 stored (one replacing an earlier row), 4 rejected, 1 blank */
	ck_assert_ptr_nonnull(strstr(want, "rows 80 loaded 40 rejected 40 duplicates 10 "));
	static const size_t sizes[] = {1, 2, 3, 4, 7, 13, 64, 1000};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char *got = load_dump(csv, len, sizes[k], NULL);
		ck_assert_msg(strcmp(got, want) == 0, "chunk %zu differs", sizes[k]);
		free(got);
	}
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "t.csv"));
	tu_write_file(path, csv, len);
	char *got = load_dump(NULL, 0, 5, path);
	ck_assert_str_eq(got, want);
	free(got);
	tu_rmdir(dir);
	free(dir);
	free(want);
	free(csv);
}
END_TEST

START_TEST(test_tricky_csv_end_to_end)
{
	fx f;
	fx_init(&f);
	static const char csv[] =
		"\xEF\xBB\xBFmsisdn|name|age|vip|overdue|join_date|brand|tones|arpu_m0|arpu_m1|remark\r\n" /* 1 */
		"+8613800000001|张三|30|是|12.5|2020-01-31|gotone|a;b|88|77.7|ok\r\n"         /* 2 */
		"13800000002|\"李|四\"|31|N|0|20200229|szx||||\r\n"                          /* 3 */
		"\r\n"                                                                          /* 4 */
		"13800000003|\"王\r\n五\"|32|1|1.005|2020-01-01|mzone||||\r\n"               /* 5-6: money */
		"13800000004|赵六|33|0||2026-02-30|||||\r\n"                                   /* 7: date */
		"13800000005|钱七|34|yes|||||||\r\n"                                           /* 8: bool */
		"13800000006|\"孙\"\"八\"\"\"|35||||gotnoe||||\r\n"                            /* 9: enum */
		"13800000007|周九|36|||||a;b;c;d|||\r\n"                                       /* 10: list */
		"13800000008|吴十|37\r\n"                                                      /* 11: cells */
		"1380000000|郑一|38||||||||\r\n"                                               /* 12: key */
		"008613800000002|李四二|39|Y|1.5||szx|x|1|2|\r\n"                             /* 13: dup */
		"13800000009|\"多\n行\n文本\"|40|||||||9.99|end";                             /* 14-16 */
	ck_assert_int_eq(fx_load(&f, csv, NULL), CP_OK);
	ck_assert_str_eq(fx_rejects(&f),
	                 "5|overdue|'1.005': money has more than 2 decimals (yuan.fen)\n"
	                 "7|join_date|'2026-02-30': no such calendar day\n"
	                 "8|vip|'yes': not a bool (1/0, true/false, Y/N, 是/否)\n"
	                 "9|brand|'gotnoe': not one of the listed values of the enum (did you "
	                 "mean 'gotone'?)\n"
	                 "10|tones|'a;b;c;d': 4 items, more than the list's max of 3\n"
	                 "11||the row has 3 cells, the header has 11\n"
	                 "12|msisdn|'1380000000': not an 11-digit mobile number\n");
	ck_assert_uint_eq(cp_load_report_rows(f.report), 11);
	ck_assert_uint_eq(cp_load_report_loaded(f.report), 4);
	ck_assert_uint_eq(cp_load_report_rejected(f.report), 7);
	ck_assert_uint_eq(cp_load_report_duplicates(f.report), 1);
	ck_assert_uint_eq(cp_load_report_duplicate_line(f.report, 0), 13);
	ck_assert_uint_eq(cp_load_report_unknown_column_count(f.report), 1);
	ck_assert_str_eq(cp_load_report_unknown_column(f.report, 0), "remark");
	ck_assert_uint_eq(cp_store_count(f.store), 3);

	/* row 2, read back through the getters */
	ck_assert_int_eq(cp_store_get(f.store, "13800000001", f.view), CP_OK);
	const cp_schema *s = f.schema;
	ck_assert_str_eq(cp_view_key(f.view), "13800000001");
	ck_assert_str_eq(cp_view_string(f.view, cp_schema_field_index(s, "name"), 0), "张三");
	ck_assert_int_eq(cp_view_int(f.view, cp_schema_field_index(s, "age"), 0), 30);
	ck_assert_int_eq(cp_view_bool(f.view, cp_schema_field_index(s, "vip"), 0), 1);
	ck_assert_int_eq(cp_view_money(f.view, cp_schema_field_index(s, "overdue"), 0), 1250);
	cp_date d;
	cp_date_from_ymd(&d, 2020, 1, 31);
	ck_assert_int_eq(cp_view_date(f.view, cp_schema_field_index(s, "join_date"), 0), d);
	ck_assert_str_eq(cp_view_string(f.view, cp_schema_field_index(s, "brand"), 0), "gotone");
	int tones = cp_schema_field_index(s, "tones");
	ck_assert_int_eq(cp_view_item_count(f.view, tones, 0), 2);
	ck_assert_str_eq(cp_view_item(f.view, tones, 0, 1), "b");
	int arpu = cp_schema_field_index(s, "arpu");
	ck_assert_int_eq(cp_view_money(f.view, arpu, 0), 8800);
	ck_assert_int_eq(cp_view_money(f.view, arpu, 1), 7770);
	ck_assert(cp_view_is_null(f.view, arpu, 2));

	/* row 3 was replaced by line 13 */
	ck_assert_str_eq(fx_cell(&f, "13800000002", "name", 0), "李四二");
	ck_assert_str_eq(fx_cell(&f, "13800000002", "join_date", 0), "<null>");
	ck_assert_str_eq(fx_cell(&f, "13800000002", "tones", 0), "x");
	/* lines 14-16: a quoted cell over three lines, the last line unterminated */
	ck_assert_str_eq(fx_cell(&f, "13800000009", "name", 0), "多\n行\n文本");
	ck_assert_str_eq(fx_cell(&f, "13800000009", "arpu", 1), "9.99");
	/* rejected rows left nothing behind */
	ck_assert_str_eq(fx_cell(&f, "13800000003", "name", 0), "<no profile>");
	ck_assert_str_eq(fx_cell(&f, "13800000008", "name", 0), "<no profile>");
	fx_free(&f);
}
END_TEST

/* ---------------------------------------------------------------------
 * Allocation failures: CP_ENOMEM (or success), nothing leaked
 * --------------------------------------------------------------------- */

START_TEST(test_out_of_memory)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "rejects.csv"));
	size_t len;
	char *csv = tricky_rows(30, &len);
	cp_schema *schema = tu_schema();
	int failures = 0;
	for (long k = 0;; k++) {
		long before = live_allocs;
		cp_store *store = NULL;
		cp_load_report *report = NULL;
		cp_load_opts *opts = NULL;
		ck_assert_int_eq(cp_store_new(&store, schema), CP_OK);
		ck_assert_int_eq(cp_load_report_new(&report), CP_OK);
		ck_assert_int_eq(cp_load_opts_new(&opts), CP_OK);
		ck_assert_int_eq(cp_load_opts_set_rejects_path(opts, path), CP_OK);
		cp__load_opts_set_limits(opts, 7, 0, 0);
		fail_after = k;
		int rc = cp_store_load_csv_memory(store, csv, len, "t.csv", opts, report);
		bool ran_out = fail_after == 0;
		fail_after = -1;
		if (rc == CP_ENOMEM) {
			failures++; /* no message: every later allocation fails too */
		} else {
			ck_assert_msg(rc == CP_OK, "allocation %ld: %s", k, cp_strerror(rc));
			ck_assert_uint_eq(cp_load_report_loaded(report) - cp_load_report_duplicates(report),
			                  cp_store_count(store));
		}
		cp_load_opts_free(opts);
		cp_load_report_free(report);
		cp_store_free(store);
		ck_assert_int_eq(live_allocs, before);
		if (rc != CP_ENOMEM && !ran_out)
			break; /* no allocation failed: the whole load was covered */
	}
	ck_assert_int_gt(failures, 20);
	cp_schema_free(schema);
	free(csv);
	tu_rmdir(dir);
	free(dir);
}
END_TEST

int main(void)
{
	/* before any other call: every allocation of the library is counted */
	if (cp_set_allocator(t_malloc, t_realloc, t_free) != CP_OK)
		return EXIT_FAILURE;
	Suite *s = suite_create("csv");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, test_reader_plain_lf_crlf_and_last_line);
	tcase_add_test(tc, test_reader_blank_lines_keep_physical_numbers);
	tcase_add_test(tc, test_reader_quotes);
	tcase_add_test(tc, test_reader_malformed_quotes);
	tcase_add_test(tc, test_reader_bom);
	tcase_add_test(tc, test_reader_detects_delimiter);
	tcase_add_test(tc, test_reader_counts_cells_beyond_the_maximum);
	tcase_add_test(tc, test_reader_record_limit);
	tcase_add_test(tc, test_reader_split_matches_naive);
	suite_add_tcase(s, tc);
	tc = tcase_create("header");
	tcase_add_test(tc, test_column_field_names);
	tcase_add_test(tc, test_header_maps_columns_once);
	tcase_add_test(tc, test_header_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("load");
	tcase_add_test(tc, test_load_each_delimiter);
	tcase_add_test(tc, test_load_delimiter_errors);
	tcase_add_test(tc, test_load_bom_crlf_chinese);
	tcase_add_test(tc, test_load_quotes_keep_physical_lines);
	tcase_add_test(tc, test_load_rejects_bad_text);
	tcase_add_loop_test(tc, test_load_type_cells, 0,
	                    (int)(sizeof(type_cases) / sizeof(type_cases[0])));
	tcase_add_test(tc, test_load_keys);
	tcase_add_test(tc, test_load_wrong_cell_count);
	tcase_add_test(tc, test_load_partial_series_and_unknown_columns);
	tcase_add_test(tc, test_load_duplicate_keys);
	tcase_add_test(tc, test_load_keeps_first_1000);
	tcase_add_test(tc, test_rejects_file_golden);
	tcase_add_test(tc, test_personal_values_never_in_reasons);
	tcase_add_test(tc, test_fatal_errors);
	tcase_add_test(tc, test_record_limit_keeps_earlier_rows);
	tcase_add_test(tc, test_progress_and_cancel);
	tcase_add_test(tc, test_chunk_boundaries_do_not_change_the_result);
	tcase_add_test(tc, test_tricky_csv_end_to_end);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);
	tc = tcase_create("objects");
	tcase_add_test(tc, test_opts);
	tcase_add_test(tc, test_empty_report);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
