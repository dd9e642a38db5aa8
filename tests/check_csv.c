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
	EXPECT_FAIL("", 0, CP_ESYNTAX, "t.csv: no header row (the input is empty)");
	EXPECT_FAIL("\xEF\xBB\xBF\n\r\n", 0, CP_ESYNTAX, "t.csv: no header row (the input is empty)");
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

int main(void)
{
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
	suite_add_tcase(s, tc);
	tc = tcase_create("header");
	tcase_add_test(tc, test_column_field_names);
	tcase_add_test(tc, test_header_maps_columns_once);
	tcase_add_test(tc, test_header_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("objects");
	tcase_add_test(tc, test_opts);
	tcase_add_test(tc, test_empty_report);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
