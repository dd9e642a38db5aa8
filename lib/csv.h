/*
 * csv.h — the CSV / PSV / TSV reader and header mapping behind
 * cp_store_load_csv (csv.c).  Internal: shared with the unit tests.
 *
 * The reader fills one buffer from a file or a memory block in fixed
 * chunks and cuts it into records (RFC 4180): cells point into the buffer
 * (unquoted records) or into a scratch buffer (records with quotes, which
 * are unescaped there), and stay valid until the next call.  Physical line
 * numbers are counted, newlines inside quotes included.
 */
#ifndef CP_CSV_H
#define CP_CSV_H

#include "schema.h"

#define CP_CSV_CHUNK (1u << 20)             /* bytes read at a time */
#define CP_CSV_MAX_RECORD (16u << 20)       /* longest record accepted */
#define CP_CSV_PROGRESS_STEP (4u << 20)     /* bytes between progress calls */
#define CP_CSV_MAX_COLUMNS 65536            /* header columns accepted */
#define CP_LOAD_REPORT_KEEP 1000            /* rejects / duplicate lines kept */

/*
 * Test knobs: tiny chunks, a small record limit or frequent progress calls
 * exercise the boundary cases of the reader.  0 keeps the default.
 */
int cp__load_opts_set_limits(cp_load_opts *opts, size_t chunk, size_t max_record,
                             uint64_t progress_step);

typedef struct cp_csv_cell {
	const char *p;
	size_t len;
} cp_csv_cell;

typedef struct cp_csv_reader {
	const char *name;      /* the input, for messages */
	cp_obj *err;           /* where fatal errors are recorded */
	int fd;                /* file input, or -1 */
	const char *mem;       /* memory input */
	size_t mem_len, mem_pos;
	uint64_t total;        /* input size, 0 if unknown */
	uint64_t bytes_read;
	uint64_t progress_last;
	cp_progress_fn progress;
	void *progress_data;
	uint64_t progress_step;

	char *buf;             /* buf[pos..len) is not consumed yet */
	size_t cap, len, pos;
	bool eof;
	size_t chunk, max_record;

	int delim;             /* ',', '|' or '\t' */
	uint64_t line;         /* physical line of buf[pos] (1-based) */

	/* the current record */
	uint64_t rec_line;     /* its first physical line */
	cp_csv_cell *cells;
	size_t ncells;         /* cells in the record (may exceed max_cells) */
	size_t cap_cells, max_cells;
	const char *malformed; /* why the record's quoting is malformed, or NULL */
	size_t malformed_cell; /* index of the cell where it is */
	cp_buf scratch;        /* unescaped cells of a quoted record */
} cp_csv_reader;

/* Set up a reader; opts may be NULL (defaults).  name labels messages. */
void cp__csv_reader_init(cp_csv_reader *r, const char *name, cp_obj *err,
                         const cp_load_opts *opts);
/* Input: a file descriptor (not closed by the reader) or a memory block. */
void cp__csv_reader_set_fd(cp_csv_reader *r, int fd, uint64_t total);
void cp__csv_reader_set_memory(cp_csv_reader *r, const char *data, size_t len);
void cp__csv_reader_fini(cp_csv_reader *r);

/*
 * Skip a UTF-8 BOM and find the delimiter of the header row (the first
 * non-blank line): the one of ',', '|', TAB that occurs outside quotes.
 * CP_OK (r->delim set), CP_ESYNTAX (none or several; or the input is
 * empty: CP_ENOTFOUND), or a reading error.
 */
int cp__csv_detect_delimiter(cp_csv_reader *r);
/* Skip a UTF-8 BOM (when the delimiter is given instead of detected). */
int cp__csv_skip_bom(cp_csv_reader *r);

/*
 * The next record (blank lines are skipped): CP_OK with r->cells,
 * r->ncells, r->rec_line (and r->malformed if its quoting is broken),
 * CP_DONE at the end, or a fatal error (CP_EIO, CP_ELIMIT, CP_ENOMEM,
 * CP_ECANCELED) recorded on r->err.  At most max_cells cells are kept;
 * r->ncells still counts them all.
 */
int cp__csv_next_record(cp_csv_reader *r, size_t max_cells);

/* What a column holds: a field's month, or nothing (unknown column). */
typedef struct cp_csv_col {
	const cp_field *field; /* NULL: ignored */
	int month;
} cp_csv_col;

typedef struct cp_csv_header {
	size_t ncols;
	cp_csv_col *cols;
	char **names;          /* column names as in the header */
	size_t key_col;
} cp_csv_header;

/*
 * The field and month a column name stands for: "f" for a scalar field f,
 * "f_mN" for month N of a series field f.  CP_OK or CP_ENOTFOUND.
 */
int cp__csv_column_field(const cp_schema *schema, const char *name, int *field,
                         int *month);
/*
 * Map the header row's cells.  Unknown columns are added to report (may be
 * NULL).  A duplicated column, a name that is not UTF-8 (CP_ESYNTAX) or a
 * missing key column (CP_EINVAL) fail, recorded on err naming file and line.
 */
int cp__csv_header_map(cp_csv_header *h, const cp_schema *schema,
                       const cp_csv_cell *cells, size_t n, const char *file,
                       uint64_t line, cp_obj *err, cp_load_report *report);
void cp__csv_header_free(cp_csv_header *h);

#endif /* CP_CSV_H */
