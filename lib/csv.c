/*
 * csv.c — CSV / PSV / TSV ingest (DESIGN §4 "CSV / PSV input").
 *
 *   options and report   cp_load_opts_*, cp_load_report_*
 *   reader               fixed chunks -> records -> cells (RFC 4180),
 *                        physical line numbers (csv.h)
 *   header               column -> (field, month), resolved once
 *   loader               each record's cells into one reused draft profile,
 *                        then cp_store_put; or the whole row is rejected
 *
 * Speed comes from the reader's fast path: a line without a quote is found
 * with memchr and cut a word at a time, and its cells point into the read
 * buffer; nothing is allocated per row or per cell.
 */
#include "csv.h"
#include "store.h"
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* Longest offending value quoted in a reject reason, in bytes. */
#define REASON_VALUE_MAX 48
/* cells[] index meaning "no particular column" (wrong cell count). */
#define NO_COLUMN SIZE_MAX

/* The array p of *cap elements of size bytes, grown to hold at least
 * need: the (maybe moved) array with *cap updated, or NULL without memory
 * (p is then unchanged). */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	void *q = cp__reallocarray(p, n, size);
	if (q)
		*cap = n;
	return q;
}

/* ======================================================================
 * Options
 * ====================================================================== */

struct cp_load_opts {
	cp_obj obj;
	int delimiter; /* 0 = detect */
	char *rejects_path;
	cp_progress_fn progress;
	void *progress_data;
	size_t chunk, max_record; /* test knobs; 0 = default */
	uint64_t progress_step;
	bool merge;               /* a row updates the stored profile (month.c) */
};

int cp_load_opts_new(cp_load_opts **out)
{
	if (!out)
		return CP_EINVAL;
	*out = cp__calloc(1, sizeof(**out));
	if (!*out)
		return CP_ENOMEM;
	cp__obj_init(&(*out)->obj, CP_OBJ_LOAD_OPTS);
	return CP_OK;
}

void cp_load_opts_free(cp_load_opts *opts)
{
	if (!opts)
		return;
	cp__free(opts->rejects_path);
	cp__obj_fini(&opts->obj);
	cp__free(opts);
}

int cp_load_opts_set_delimiter(cp_load_opts *opts, int delimiter)
{
	if (!opts)
		return CP_EINVAL;
	if (delimiter != 0 && delimiter != ',' && delimiter != '|' && delimiter != '\t')
		return cp__fail(&opts->obj, CP_EINVAL,
		                "delimiter %d: use ',', '|', '\\t' or 0 (detect)", delimiter);
	opts->delimiter = delimiter;
	return CP_OK;
}

int cp_load_opts_set_rejects_path(cp_load_opts *opts, const char *path)
{
	if (!opts)
		return CP_EINVAL;
	char *copy = NULL;
	if (path && !(copy = cp__strdup(path)))
		return cp__fail(&opts->obj, CP_ENOMEM, "out of memory");
	cp__free(opts->rejects_path);
	opts->rejects_path = copy;
	return CP_OK;
}

int cp_load_opts_set_progress(cp_load_opts *opts, cp_progress_fn fn, void *userdata)
{
	if (!opts)
		return CP_EINVAL;
	opts->progress = fn;
	opts->progress_data = userdata;
	return CP_OK;
}

int cp_load_opts_set_merge(cp_load_opts *opts, int merge)
{
	if (!opts)
		return CP_EINVAL;
	opts->merge = merge != 0;
	return CP_OK;
}

int cp__load_opts_set_limits(cp_load_opts *opts, size_t chunk, size_t max_record,
                             uint64_t progress_step)
{
	if (!opts)
		return CP_EINVAL;
	opts->chunk = chunk;
	opts->max_record = max_record;
	opts->progress_step = progress_step;
	return CP_OK;
}

/* ======================================================================
 * Report
 * ====================================================================== */

typedef struct cp_reject {
	uint64_t line;
	char *column;
	char *reason;
} cp_reject;

struct cp_load_report {
	cp_obj obj;
	uint64_t rows, loaded, rejected, duplicates, bytes;
	cp_reject *rejects; /* the first CP_LOAD_REPORT_KEEP */
	size_t nrejects, cap_rejects;
	uint64_t *dup_lines; /* the first CP_LOAD_REPORT_KEEP */
	size_t ndups, cap_dups;
	char **unknown;
	size_t nunknown, cap_unknown;
};

static void report_init(cp_load_report *r)
{
	memset(r, 0, sizeof(*r));
	cp__obj_init(&r->obj, CP_OBJ_LOAD_REPORT);
}

static void report_fini(cp_load_report *r)
{
	for (size_t i = 0; i < r->nrejects; i++) {
		cp__free(r->rejects[i].column);
		cp__free(r->rejects[i].reason);
	}
	cp__free(r->rejects);
	cp__free(r->dup_lines);
	for (size_t i = 0; i < r->nunknown; i++)
		cp__free(r->unknown[i]);
	cp__free(r->unknown);
	cp__obj_fini(&r->obj);
}

int cp_load_report_new(cp_load_report **out)
{
	if (!out)
		return CP_EINVAL;
	*out = cp__malloc(sizeof(**out));
	if (!*out)
		return CP_ENOMEM;
	report_init(*out);
	return CP_OK;
}

void cp_load_report_free(cp_load_report *report)
{
	if (!report)
		return;
	report_fini(report);
	cp__free(report);
}

uint64_t cp_load_report_rows(const cp_load_report *r) { return r ? r->rows : 0; }
uint64_t cp_load_report_loaded(const cp_load_report *r) { return r ? r->loaded : 0; }
uint64_t cp_load_report_rejected(const cp_load_report *r) { return r ? r->rejected : 0; }
uint64_t cp_load_report_duplicates(const cp_load_report *r) { return r ? r->duplicates : 0; }
uint64_t cp_load_report_bytes(const cp_load_report *r) { return r ? r->bytes : 0; }
size_t cp_load_report_reject_count(const cp_load_report *r) { return r ? r->nrejects : 0; }
size_t cp_load_report_duplicate_count(const cp_load_report *r) { return r ? r->ndups : 0; }

uint64_t cp_load_report_reject_line(const cp_load_report *r, size_t i)
{
	return r && i < r->nrejects ? r->rejects[i].line : 0;
}

const char *cp_load_report_reject_column(const cp_load_report *r, size_t i)
{
	return r && i < r->nrejects ? r->rejects[i].column : NULL;
}

const char *cp_load_report_reject_reason(const cp_load_report *r, size_t i)
{
	return r && i < r->nrejects ? r->rejects[i].reason : NULL;
}

uint64_t cp_load_report_duplicate_line(const cp_load_report *r, size_t i)
{
	return r && i < r->ndups ? r->dup_lines[i] : 0;
}

size_t cp_load_report_unknown_column_count(const cp_load_report *r)
{
	return r ? r->nunknown : 0;
}

const char *cp_load_report_unknown_column(const cp_load_report *r, size_t i)
{
	return r && i < r->nunknown ? r->unknown[i] : NULL;
}

/* Count a reject and keep it if there is room.  CP_OK or CP_ENOMEM. */
static int report_add_reject(cp_load_report *r, uint64_t line, const char *column,
                             const char *reason)
{
	r->rejected++;
	if (r->nrejects >= CP_LOAD_REPORT_KEEP)
		return CP_OK;
	cp_reject *all = grow(r->rejects, &r->cap_rejects, r->nrejects + 1, sizeof(*all));
	if (!all)
		return CP_ENOMEM;
	r->rejects = all;
	cp_reject *j = &all[r->nrejects];
	j->line = line;
	j->column = cp__strdup(column);
	j->reason = cp__strdup(reason);
	if (!j->column || !j->reason) {
		cp__free(j->column);
		cp__free(j->reason);
		return CP_ENOMEM;
	}
	r->nrejects++;
	return CP_OK;
}

static int report_add_duplicate(cp_load_report *r, uint64_t line)
{
	r->duplicates++;
	if (r->ndups >= CP_LOAD_REPORT_KEEP)
		return CP_OK;
	uint64_t *lines = grow(r->dup_lines, &r->cap_dups, r->ndups + 1, sizeof(*lines));
	if (!lines)
		return CP_ENOMEM;
	r->dup_lines = lines;
	lines[r->ndups++] = line;
	return CP_OK;
}

/* Name an unknown column once, however many loads report it. */
static int report_add_unknown(cp_load_report *r, const char *name)
{
	for (size_t i = 0; i < r->nunknown; i++) {
		if (strcmp(r->unknown[i], name) == 0)
			return CP_OK;
	}
	char **names = grow(r->unknown, &r->cap_unknown, r->nunknown + 1, sizeof(*names));
	if (!names)
		return CP_ENOMEM;
	r->unknown = names;
	if (!(names[r->nunknown] = cp__strdup(name)))
		return CP_ENOMEM;
	r->nunknown++;
	return CP_OK;
}

/* ======================================================================
 * Reader
 * ====================================================================== */

void cp__csv_reader_init(cp_csv_reader *r, const char *name, cp_obj *err,
                         const cp_load_opts *opts)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->err = err;
	r->fd = -1;
	r->line = 1;
	r->chunk = opts && opts->chunk ? opts->chunk : CP_CSV_CHUNK;
	r->max_record = opts && opts->max_record ? opts->max_record : CP_CSV_MAX_RECORD;
	r->progress_step = opts && opts->progress_step ? opts->progress_step
	                                               : CP_CSV_PROGRESS_STEP;
	if (opts) {
		r->progress = opts->progress;
		r->progress_data = opts->progress_data;
		r->delim = opts->delimiter;
	}
	cp__buf_init(&r->scratch);
}

void cp__csv_reader_set_fd(cp_csv_reader *r, int fd, uint64_t total)
{
	r->fd = fd;
	r->total = total;
}

void cp__csv_reader_set_memory(cp_csv_reader *r, const char *data, size_t len)
{
	r->mem = data;
	r->mem_len = len;
	r->total = len;
}

void cp__csv_reader_fini(cp_csv_reader *r)
{
	cp__free(r->buf);
	cp__free(r->cells);
	cp__buf_free(&r->scratch);
	r->buf = NULL;
	r->cells = NULL;
}

/* Read up to n bytes of input into dst: the count, 0 at the end, -1 on error. */
static ssize_t input_read(cp_csv_reader *r, char *dst, size_t n)
{
	if (r->fd < 0) {
		size_t left = r->mem_len - r->mem_pos;
		if (n > left)
			n = left;
		if (n)
			memcpy(dst, r->mem + r->mem_pos, n);
		r->mem_pos += n;
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t got = read(r->fd, dst, n);
		if (got >= 0 || errno != EINTR)
			return got;
	}
}

static int report_progress(cp_csv_reader *r)
{
	if (!r->progress || r->bytes_read == r->progress_last)
		return CP_OK;
	bool finished = r->eof || (r->total && r->bytes_read >= r->total);
	if (!finished && r->bytes_read - r->progress_last < r->progress_step)
		return CP_OK;
	r->progress_last = r->bytes_read;
	if (r->progress(r->bytes_read, r->total, r->progress_data) != 0)
		return cp__fail(r->err, CP_ECANCELED, "%s:%" PRIu64 ": load cancelled by the progress callback",
		                r->name, r->line);
	return CP_OK;
}

/*
 * Move the unconsumed bytes to the front of the buffer and read one more
 * chunk after them (growing the buffer when a record fills it).
 */
static int read_more(cp_csv_reader *r)
{
	if (r->eof)
		return CP_OK;
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len == r->cap) {
		/* the first buffer: a chunk, or less for a small input */
		size_t cap = r->chunk;
		if (r->cap)
			cap = r->cap * 2;
		else if (r->total && r->total < cap)
			cap = (size_t)r->total + 1;
		char *p = cp__realloc(r->buf, cap);
		if (!p)
			return cp__fail(r->err, CP_ENOMEM, "%s: out of memory", r->name);
		r->buf = p;
		r->cap = cap;
	}
	size_t want = r->cap - r->len;
	if (want > r->chunk)
		want = r->chunk;
	ssize_t got = input_read(r, r->buf + r->len, want);
	if (got < 0)
		return cp__fail(r->err, CP_EIO, "%s:%" PRIu64 ": read error: %s", r->name,
		                r->line, strerror(errno));
	if (got == 0)
		r->eof = true;
	r->len += (size_t)got;
	r->bytes_read += (uint64_t)got;
	return report_progress(r);
}

static int too_long(cp_csv_reader *r)
{
	return cp__fail(r->err, CP_ELIMIT,
	                "%s:%" PRIu64 ": record longer than %zu bytes "
	                "(a quote that is never closed?)",
	                r->name, r->line, r->max_record);
}

/* The current record is incomplete: read more unless it is too long. */
static int need_more(cp_csv_reader *r)
{
	if (r->len - r->pos > r->max_record)
		return too_long(r);
	return read_more(r);
}

int cp__csv_skip_bom(cp_csv_reader *r)
{
	while (r->len - r->pos < 3 && !r->eof) {
		int rc = read_more(r);
		if (rc != CP_OK)
			return rc;
	}
	if (r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
		r->pos += 3;
	return CP_OK;
}

/* The input ends before a header row; line is where it ends. */
static int no_header(cp_csv_reader *r, uint64_t line)
{
	return cp__fail(r->err, CP_ESYNTAX, "%s:%" PRIu64 ": no header row (the input is %s)",
	                r->name, line, r->bytes_read ? "blank" : "empty");
}

/* A blank line: nothing, or a lone CR (of a CRLF). */
static bool is_blank(const char *s, size_t len)
{
	return len == 0 || (len == 1 && s[0] == '\r');
}

int cp__csv_detect_delimiter(cp_csv_reader *r)
{
	static const char cand[3] = {',', '|', '\t'};
	for (;;) {
		const char *s = r->buf + r->pos;
		size_t avail = r->len - r->pos, count[3] = {0, 0, 0}, start = 0;
		uint64_t blank = 0;
		bool quoted = false, complete = false;
		for (size_t i = 0; i < avail && !complete; i++) {
			char c = s[i];
			if (c == '"') {
				quoted = !quoted;
			} else if (c == '\n' && !quoted) {
				complete = !is_blank(s + start, i - start);
				blank += !complete;
				start = i + 1;
			} else if (!quoted) {
				for (int k = 0; k < 3; k++)
					count[k] += c == cand[k];
			}
		}
		if (!complete && !r->eof) {
			int rc = need_more(r);
			if (rc != CP_OK)
				return rc;
			continue;
		}
		if (!complete && is_blank(s + start, avail - start))
			return no_header(r, r->line + blank);
		int found = 0, which = 0;
		for (int k = 0; k < 3; k++) {
			if (count[k]) {
				found++;
				which = k;
			}
		}
		if (found == 1) {
			r->delim = cand[which];
			return CP_OK;
		}
		return cp__fail(r->err, CP_ESYNTAX,
		                "%s:%" PRIu64 ": cannot tell the delimiter from the header row "
		                "(%s ',', '|' or TAB outside quotes); "
		                "give it with cp_load_opts_set_delimiter",
		                r->name, r->line + blank, found ? "more than one of" : "no");
	}
}

/* Append a cell to the record (keeping at most max_cells of them). */
static inline int add_cell(cp_csv_reader *r, const char *p, size_t len)
{
	size_t n = r->ncells++;
	if (n >= r->max_cells)
		return CP_OK;
	if (CP_UNLIKELY(n >= r->cap_cells)) {
		cp_csv_cell *cells = grow(r->cells, &r->cap_cells, n + 1, sizeof(*cells));
		if (!cells)
			return cp__fail(r->err, CP_ENOMEM, "%s: out of memory", r->name);
		r->cells = cells;
	}
	r->cells[n].p = p;
	r->cells[n].len = len;
	return CP_OK;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
	(defined(__GNUC__) || defined(__clang__))
#define CP_CSV_SWAR 1
#endif

/*
 * Cut a line without quotes into cells: they point into the buffer.
 * Cells are short (a few bytes), so instead of one memchr per cell the
 * line is scanned 8 bytes at a time for the delimiter (SWAR: a byte equal
 * to d becomes a set high bit in m, exactly; then one cell per bit).
 */
static int split_plain(cp_csv_reader *r, const char *s, size_t len)
{
	const char d = (char)r->delim;
	size_t start = 0, i = 0;
#ifdef CP_CSV_SWAR
	const uint64_t ones = 0x0101010101010101ull, low7 = 0x7F7F7F7F7F7F7F7Full;
	const uint64_t pattern = ones * (unsigned char)d;
	for (; i + 8 <= len; i += 8) {
		uint64_t v;
		memcpy(&v, s + i, 8);
		uint64_t x = v ^ pattern; /* bytes equal to d are now 0 */
		uint64_t m = ~(((x & low7) + low7) | x | low7);
		while (m) {
			size_t at = i + ((size_t)__builtin_ctzll(m) >> 3);
			if (add_cell(r, s + start, at - start) != CP_OK)
				return CP_ENOMEM;
			start = at + 1;
			m &= m - 1;
		}
	}
#endif
	for (; i < len; i++) {
		if (s[i] == d) {
			if (add_cell(r, s + start, i - start) != CP_OK)
				return CP_ENOMEM;
			start = i + 1;
		}
	}
	return add_cell(r, s + start, len - start);
}

static void set_malformed(cp_csv_reader *r, const char *why)
{
	if (!r->malformed) {
		r->malformed = why;
		r->malformed_cell = r->ncells;
	}
}

enum quote_state {
	Q_START,   /* at the start of a cell */
	Q_PLAIN,   /* in a cell that does not start with a quote */
	Q_QUOTED,  /* inside quotes */
	Q_QUOTE,   /* a quote inside quotes: doubled, or the closing one */
	Q_CLOSED_CR, /* a CR after the closing quote */
	Q_JUNK     /* text after the closing quote (malformed) */
};

/*
 * Cut a record that has quotes (RFC 4180), unescaping its cells into the
 * scratch buffer.  Returns 1 with *used (bytes of the record and its
 * newline) and *newlines (inside quotes), 0 if the record does not end
 * within s[0..avail) and more input may come, or a negative error.
 */
static int split_quoted(cp_csv_reader *r, const char *s, size_t avail, size_t *used,
                        uint64_t *newlines)
{
	if (cp__buf_reserve(&r->scratch, avail) != CP_OK)
		return cp__fail(r->err, CP_ENOMEM, "%s: out of memory", r->name);
	char *o = r->scratch.data, *cell = o;
	const char d = (char)r->delim;
	enum quote_state st = Q_START;
	uint64_t nl = 0;
	size_t i = 0;
	r->ncells = 0;
	r->malformed = NULL;

#define END_CELL(len) \
	do { \
		if (add_cell(r, cell, (len)) != CP_OK) \
			return CP_ENOMEM; \
		cell = o; \
	} while (0)
#define PLAIN_LEN() ((size_t)(o - cell) - (o > cell && o[-1] == '\r'))

	while (i < avail) {
		char c = s[i++];
		switch (st) {
		case Q_START:
			if (c == '"') {
				st = Q_QUOTED;
				break;
			}
			st = Q_PLAIN;
			/* fall through */
		case Q_PLAIN:
			if (c == d) {
				END_CELL((size_t)(o - cell));
				st = Q_START;
			} else if (c == '\n') {
				END_CELL(PLAIN_LEN());
				goto done;
			} else {
				*o++ = c; /* a quote inside a plain cell is kept as text */
			}
			break;
		case Q_QUOTED:
			if (c == '"') {
				st = Q_QUOTE;
			} else {
				nl += c == '\n';
				*o++ = c;
			}
			break;
		case Q_QUOTE:
			if (c == '"') {
				*o++ = '"';
				st = Q_QUOTED;
			} else if (c == d) {
				END_CELL((size_t)(o - cell));
				st = Q_START;
			} else if (c == '\n') {
				END_CELL((size_t)(o - cell));
				goto done;
			} else if (c == '\r') {
				st = Q_CLOSED_CR;
			} else {
				set_malformed(r, "text after the closing quote of a quoted cell");
				st = Q_JUNK;
			}
			break;
		case Q_CLOSED_CR:
			if (c == '\n') {
				END_CELL((size_t)(o - cell));
				goto done;
			}
			set_malformed(r, "text after the closing quote of a quoted cell");
			st = Q_JUNK;
			/* fall through */
		case Q_JUNK:
			if (c == d) {
				END_CELL((size_t)(o - cell));
				st = Q_START;
			} else if (c == '\n') {
				END_CELL((size_t)(o - cell));
				goto done;
			}
			break;
		}
	}
	if (!r->eof)
		return 0;
	/* the input ends inside this record */
	if (st == Q_QUOTED)
		set_malformed(r, "quoted cell not closed before the end of the input");
	END_CELL(st == Q_PLAIN ? PLAIN_LEN() : (size_t)(o - cell));
done:
	*used = i;
	*newlines = nl;
	return 1;
#undef END_CELL
#undef PLAIN_LEN
}

int cp__csv_next_record(cp_csv_reader *r, size_t max_cells)
{
	r->max_cells = max_cells;
	for (;;) {
		const char *s = r->buf + r->pos;
		size_t avail = r->len - r->pos;
		const char *nl = avail ? memchr(s, '\n', avail) : NULL;
		if (!nl && !r->eof) {
			int rc = need_more(r);
			if (rc != CP_OK)
				return rc;
			continue;
		}
		if (!avail)
			return CP_DONE;
		size_t line_len = nl ? (size_t)(nl - s) : avail;
		size_t used = line_len + (nl != NULL);
		size_t len = line_len - (line_len && s[line_len - 1] == '\r');
		if (is_blank(s, line_len)) {
			r->pos += used;
			r->line++;
			continue;
		}
		r->ncells = 0;
		r->malformed = NULL;
		r->rec_line = r->line;
		if (CP_UNLIKELY(line_len > r->max_record))
			return too_long(r);
		if (CP_LIKELY(!memchr(s, '"', len))) {
			if (split_plain(r, s, len) != CP_OK)
				return CP_ENOMEM;
			r->pos += used;
			r->line++;
			return CP_OK;
		}
		uint64_t newlines = 0;
		int rc = split_quoted(r, s, avail, &used, &newlines);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if ((rc = need_more(r)) != CP_OK)
				return rc;
			continue;
		}
		if (used - (s[used - 1] == '\n') > r->max_record)
			return too_long(r);
		r->pos += used;
		r->line += 1 + newlines;
		return CP_OK;
	}
}

/* ======================================================================
 * Header
 * ====================================================================== */

int cp__csv_column_field(const cp_schema *schema, const char *name, int *field, int *month)
{
	int f = cp_schema_field_index(schema, name);
	if (f >= 0 && !schema->fields[f].series) {
		*field = f;
		*month = 0;
		return CP_OK;
	}
	/* "f_mN": N without leading zeros, below the schema's months */
	size_t len = strlen(name), d = len;
	while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
		d--;
	size_t ndigits = len - d;
	if (ndigits == 0 || ndigits > 2 || d < 3 || name[d - 1] != 'm' || name[d - 2] != '_' ||
	    (ndigits == 2 && name[d] == '0'))
		return CP_ENOTFOUND;
	int m = 0;
	for (size_t i = d; i < len; i++)
		m = m * 10 + (name[i] - '0');
	char base[256];
	if (d - 2 >= sizeof(base))
		return CP_ENOTFOUND; /* longer than any field name we could hold */
	memcpy(base, name, d - 2);
	base[d - 2] = '\0';
	f = cp_schema_field_index(schema, base);
	if (f < 0 || !schema->fields[f].series || m >= schema->fields[f].months)
		return CP_ENOTFOUND;
	*field = f;
	*month = m;
	return CP_OK;
}

void cp__csv_header_free(cp_csv_header *h)
{
	if (h->names) {
		for (size_t i = 0; i < h->ncols; i++)
			cp__free(h->names[i]);
	}
	cp__free(h->names);
	cp__free(h->cols);
	memset(h, 0, sizeof(*h));
}

/* Bytes that make a cell not text: a NUL, or invalid UTF-8. */
static const char *text_problem(const char *s, size_t len)
{
	if (memchr(s, '\0', len))
		return "NUL byte in the cell";
	if (!cp__utf8_valid(s, len))
		return "invalid UTF-8 (the input must be UTF-8 text)";
	return NULL;
}

int cp__csv_header_map(cp_csv_header *h, const cp_schema *schema, const cp_csv_cell *cells,
                       size_t n, const char *file, uint64_t line, cp_obj *err,
                       cp_load_report *report)
{
	memset(h, 0, sizeof(*h));
	/* column + 1 of each (field, month) cell seen so far; 0 = none */
	size_t *seen = cp__calloc(schema->ncells, sizeof(*seen));
	h->cols = cp__calloc(n, sizeof(*h->cols));
	h->names = cp__calloc(n, sizeof(*h->names));
	if (!seen || !h->cols || !h->names) {
		cp__free(seen);
		cp__free(h->cols);
		cp__free(h->names);
		h->cols = NULL;
		h->names = NULL;
		return cp__fail(err, CP_ENOMEM, "%s: out of memory", file);
	}
	h->ncols = n;
	int rc = CP_OK;
	for (size_t c = 0; c < n && rc == CP_OK; c++) {
		const char *why = text_problem(cells[c].p, cells[c].len);
		if (why) {
			rc = cp__fail(err, CP_ESYNTAX, "%s:%" PRIu64 ": header column %zu: %s", file,
			              line, c + 1, why);
			break;
		}
		if (!(h->names[c] = cp__strndup(cells[c].p, cells[c].len))) {
			rc = cp__fail(err, CP_ENOMEM, "%s: out of memory", file);
			break;
		}
		int f, m;
		size_t first = 0;
		if (cp__csv_column_field(schema, h->names[c], &f, &m) == CP_OK) {
			uint32_t cell = schema->fields[f].cell + (uint32_t)m;
			first = seen[cell];
			seen[cell] = c + 1;
			h->cols[c].field = &schema->fields[f];
			h->cols[c].month = m;
		} else {
			for (size_t j = 0; j < c && !first; j++)
				if (!h->cols[j].field && strcmp(h->names[j], h->names[c]) == 0)
					first = j + 1;
		}
		if (first)
			rc = cp__fail(err, CP_ESYNTAX,
			              "%s:%" PRIu64 ": column '%s' appears twice in the header "
			              "(columns %zu and %zu)",
			              file, line, h->names[c], first, c + 1);
	}
	if (rc == CP_OK) {
		const cp_field *key = &schema->fields[schema->key];
		if (!seen[key->cell])
			rc = cp__fail(err, CP_EINVAL,
			              "%s:%" PRIu64 ": the header has no key column '%s'", file,
			              line, key->name);
		else
			h->key_col = seen[key->cell] - 1;
	}
	for (size_t c = 0; c < n && rc == CP_OK && report; c++)
		if (!h->cols[c].field && report_add_unknown(report, h->names[c]) != CP_OK)
			rc = cp__fail(err, CP_ENOMEM, "%s: out of memory", file);
	cp__free(seen);
	if (rc != CP_OK)
		cp__csv_header_free(h);
	return rc;
}

/* ======================================================================
 * Loader
 * ====================================================================== */

typedef struct csv_load {
	cp_store *store;
	const cp_schema *schema;
	const char *name;
	cp_load_report *report;
	const char *rejects_path;
	FILE *rejects;
	cp_csv_reader rd;
	cp_csv_header hdr;
	cp_profile *draft;
	uint8_t *merge_row;    /* merge: a stored row read for the draft, else NULL */
	cp_buf reason;
} csv_load;

/* Write s as one CSV field, quoted when it needs to be. */
static void put_csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* 1 if path names the file open as fd. */
static bool same_file(int fd, const char *path)
{
	struct stat a, b;
	return fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int open_rejects(csv_load *L)
{
	if (!L->rejects_path)
		return CP_OK;
	/* creating the rejects file truncates it: never the input */
	if (same_file(L->rd.fd, L->rejects_path))
		return cp__fail(&L->store->obj, CP_EINVAL,
		                "%s: the rejects file is the input file", L->rejects_path);
	L->rejects = fopen(L->rejects_path, "w");
	if (!L->rejects)
		return cp__fail(&L->store->obj, CP_EIO, "%s: cannot create the rejects file: %s",
		                L->rejects_path, strerror(errno));
	fputs("line,column,reason\n", L->rejects);
	return CP_OK;
}

static int close_rejects(csv_load *L, int rc)
{
	if (!L->rejects)
		return rc;
	bool bad = ferror(L->rejects) != 0;
	bad |= fclose(L->rejects) != 0;
	L->rejects = NULL;
	if (bad && (rc == CP_OK || rc == CP_ECANCELED))
		rc = cp__fail(&L->store->obj, CP_EIO, "%s: cannot write the rejects file: %s",
		              L->rejects_path, strerror(errno));
	return rc;
}

/* Reject the current row: count it, keep it, write it.  The reason is in
 * L->reason.  CP_OK (go on with the next row) or CP_ENOMEM. */
static int reject_row(csv_load *L, size_t col)
{
	const char *column = col == NO_COLUMN ? "" : L->hdr.names[col];
	const char *reason = L->reason.data ? L->reason.data : "";
	uint64_t line = L->rd.rec_line;
	if (L->reason.failed ||
	    report_add_reject(L->report, line, column, reason) != CP_OK)
		return cp__fail(&L->store->obj, CP_ENOMEM, "%s: out of memory", L->name);
	if (L->rejects) {
		fprintf(L->rejects, "%" PRIu64 ",", line);
		put_csv_field(L->rejects, column);
		fputc(',', L->rejects);
		put_csv_field(L->rejects, reason);
		fputc('\n', L->rejects);
	}
	return CP_OK;
}

/* Quote a cell's value at the start of a reason: at most REASON_VALUE_MAX
 * bytes, cut at a character boundary. */
static void append_value(cp_buf *b, const char *s, size_t len)
{
	size_t n = len;
	if (n > REASON_VALUE_MAX) {
		n = REASON_VALUE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	cp__buf_putc(b, '\'');
	cp__buf_append(b, s, n);
	cp__buf_puts(b, n < len ? "...': " : "': ");
}

/* Reject the row for a value that does not fit its column:
 * "'12.345': money has more than 2 decimals (yuan.fen)".  The value of a
 * personal field is never shown. */
static int reject_value(csv_load *L, size_t col, const char *why)
{
	const cp_field *f = L->hdr.cols[col].field;
	const cp_csv_cell *cell = &L->rd.cells[col];
	cp__buf_reset(&L->reason);
	if (f->personal) {
		cp__buf_puts(&L->reason, why);
		cp__buf_puts(&L->reason, " (value not shown: personal data)");
	} else {
		append_value(&L->reason, cell->p, cell->len);
		cp__buf_puts(&L->reason, why);
	}
	return reject_row(L, col);
}

/* The first cell of the row that is not text, or NO_COLUMN. */
static size_t find_bad_text(const cp_csv_cell *cells, size_t n, const char **why)
{
	for (size_t c = 0; c < n; c++) {
		if ((*why = text_problem(cells[c].p, cells[c].len)))
			return c;
	}
	return NO_COLUMN;
}

/* Check that every cell is UTF-8 text: one pass over the whole record
 * (its cells are contiguous and delimiters are ASCII, so a valid record
 * has valid cells), cell by cell only when it fails. */
static int check_text(csv_load *L)
{
	const cp_csv_cell *cells = L->rd.cells;
	size_t n = L->rd.ncells;
	if (n == 0)
		return CP_OK;
	const char *start = cells[0].p, *end = cells[n - 1].p + cells[n - 1].len;
	size_t len = (size_t)(end - start);
	if (CP_LIKELY(!memchr(start, '\0', len) && cp__utf8_valid(start, len)))
		return CP_OK;
	const char *why;
	size_t bad = find_bad_text(cells, n, &why);
	if (bad == NO_COLUMN)
		return CP_OK;
	cp__buf_reset(&L->reason);
	cp__buf_puts(&L->reason, why);
	return reject_row(L, bad) == CP_OK ? CP_DONE : CP_ENOMEM;
}

/* Put the draft into the store and count the row. */
static int store_row(csv_load *L)
{
	int replaced = 0;
	int rc = cp_store_put(L->store, L->draft, &replaced);
	if (rc != CP_OK)
		return cp__fail(&L->store->obj, rc, "%s:%" PRIu64 ": %s", L->name, L->rd.rec_line,
		                cp_errmsg(L->store));
	L->report->loaded++;
	if (replaced && !L->merge_row && report_add_duplicate(L->report, L->rd.rec_line) != CP_OK)
		return cp__fail(&L->store->obj, CP_ENOMEM, "%s: out of memory", L->name);
	return CP_OK;
}

/* Merge: the draft starts as the stored profile of the row's key (none:
 * empty).  A key that cannot be normalized is rejected later, with the
 * key cell. */
static int merge_start(csv_load *L)
{
	const cp_csv_cell *k = &L->rd.cells[L->hdr.key_col];
	char kbuf[CP_KEY_BUF];
	const uint8_t *row;
	int rc = cp__store_lookup(L->store, k->p, k->len, kbuf, L->merge_row, &row, NULL);
	if (rc == CP_OK)
		rc = cp__profile_from_row(L->draft, L->store, row);
	else if (rc == CP_ENOTFOUND)
		rc = (cp_profile_clear(L->draft), CP_OK);
	else if (rc == CP_ECORRUPT)
		return cp__fail(&L->store->obj, rc, "%s:%" PRIu64 ": the stored profile of this "
		                "row's key is damaged", L->name, L->rd.rec_line);
	if (rc != CP_OK)
		return cp__fail(&L->store->obj, rc, "%s: out of memory", L->name);
	return CP_OK;
}

/* One data record: into the store, or rejected.  CP_OK or a fatal error. */
static int load_row(csv_load *L)
{
	const cp_csv_reader *r = &L->rd;
	const cp_csv_header *h = &L->hdr;
	L->report->rows++;
	if (r->malformed) {
		cp__buf_reset(&L->reason);
		cp__buf_puts(&L->reason, r->malformed);
		return reject_row(L, r->malformed_cell < h->ncols ? r->malformed_cell : NO_COLUMN);
	}
	if (r->ncells != h->ncols) {
		cp__buf_reset(&L->reason);
		cp__buf_printf(&L->reason, "the row has %zu cells, the header has %zu",
		               r->ncells, h->ncols);
		return reject_row(L, NO_COLUMN);
	}
	int rc = check_text(L);
	if (rc != CP_OK)
		return rc == CP_DONE ? CP_OK : rc;
	if (r->cells[h->key_col].len == 0) {
		cp__buf_reset(&L->reason);
		cp__buf_puts(&L->reason, "the key is empty");
		return reject_row(L, h->key_col);
	}
	if (!L->merge_row)
		cp_profile_clear(L->draft);
	else if ((rc = merge_start(L)) != CP_OK)
		return rc;
	for (size_t c = 0; c < h->ncols; c++) {
		const cp_csv_col *col = &h->cols[c];
		const cp_csv_cell *cell = &r->cells[c];
		if (!col->field)
			continue;
		if (cell->len == 0) {
			/* merge: the file says the value is missing */
			if (L->merge_row)
				cp_profile_set_null(L->draft, (int)(col->field - L->schema->fields),
				                    col->month);
			continue;
		}
		const char *why;
		rc = cp__profile_set_cell_text(L->draft, col->field, col->month, cell->p,
		                               cell->len, &why);
		if (CP_UNLIKELY(rc != CP_OK)) {
			if (rc == CP_ENOMEM)
				return cp__fail(&L->store->obj, rc, "%s: out of memory", L->name);
			return reject_value(L, c, why);
		}
	}
	return store_row(L);
}

/* The header row: delimiter, columns. */
static int load_header(csv_load *L, const cp_load_opts *opts)
{
	cp_csv_reader *r = &L->rd;
	int rc = cp__csv_skip_bom(r);
	if (rc == CP_OK && !(opts && opts->delimiter))
		rc = cp__csv_detect_delimiter(r);
	if (rc != CP_OK)
		return rc;
	rc = cp__csv_next_record(r, CP_CSV_MAX_COLUMNS + 1);
	if (rc == CP_DONE)
		return no_header(r, r->line);
	if (rc != CP_OK)
		return rc;
	if (r->malformed)
		return cp__fail(&L->store->obj, CP_ESYNTAX, "%s:%" PRIu64 ": header column %zu: %s",
		                L->name, r->rec_line, r->malformed_cell + 1, r->malformed);
	if (r->ncells > CP_CSV_MAX_COLUMNS)
		return cp__fail(&L->store->obj, CP_ELIMIT,
		                "%s:%" PRIu64 ": the header has more than %d columns", L->name,
		                r->rec_line, CP_CSV_MAX_COLUMNS);
	return cp__csv_header_map(&L->hdr, L->schema, r->cells, r->ncells, L->name,
	                          r->rec_line, &L->store->obj, L->report);
}

static int load(cp_store *store, const char *name, int fd, uint64_t total,
                const char *data, size_t len, const cp_load_opts *opts,
                cp_load_report *report)
{
	cp_load_report scratch_report;
	csv_load L;
	memset(&L, 0, sizeof(L));
	if (!report) {
		report_init(&scratch_report);
		report = &scratch_report;
	}
	L.store = store;
	L.schema = store->schema;
	L.name = name;
	L.report = report;
	L.rejects_path = opts ? opts->rejects_path : NULL;
	cp__buf_init(&L.reason);
	cp__csv_reader_init(&L.rd, name, &store->obj, opts);
	if (fd >= 0)
		cp__csv_reader_set_fd(&L.rd, fd, total);
	else
		cp__csv_reader_set_memory(&L.rd, data, len);

	int rc = load_header(&L, opts);
	if (rc == CP_OK && (cp_profile_new(&L.draft, L.schema) != CP_OK ||
	                    (opts && opts->merge && !(L.merge_row = cp__malloc(L.schema->row_size)))))
		rc = cp__fail(&store->obj, CP_ENOMEM, "%s: out of memory", name);
	if (rc == CP_OK)
		rc = open_rejects(&L);
	while (rc == CP_OK) {
		rc = cp__csv_next_record(&L.rd, L.hdr.ncols + 1);
		if (rc == CP_OK)
			rc = load_row(&L);
	}
	if (rc == CP_DONE)
		rc = CP_OK;
	rc = close_rejects(&L, rc);
	report->bytes += L.rd.bytes_read;

	cp_profile_free(L.draft);
	cp__free(L.merge_row);
	cp__csv_header_free(&L.hdr);
	cp__csv_reader_fini(&L.rd);
	cp__buf_free(&L.reason);
	if (report == &scratch_report)
		report_fini(&scratch_report);
	return rc;
}

int cp_store_load_csv(cp_store *store, const char *path, const cp_load_opts *opts,
                      cp_load_report *report)
{
	if (!store)
		return CP_EINVAL;
	if (!path)
		return cp__fail(&store->obj, CP_EINVAL, "cp_store_load_csv: no path");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cp__fail(&store->obj, errno == ENOENT ? CP_ENOTFOUND : CP_EIO,
		                "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	int rc = load(store, path, fd, total, NULL, 0, opts, report);
	close(fd);
	return rc;
}

int cp_store_load_csv_memory(cp_store *store, const char *data, size_t len, const char *name,
                             const cp_load_opts *opts, cp_load_report *report)
{
	if (!store)
		return CP_EINVAL;
	if (!data && len)
		return cp__fail(&store->obj, CP_EINVAL, "cp_store_load_csv_memory: no data");
	return load(store, name ? name : "<memory>", -1, 0, data ? data : "", len, opts,
	            report);
}
