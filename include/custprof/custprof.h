/*
 * custprof.h — public API of libcustprof, the telecom customer-profiling engine.
 *
 * Conventions (see custprof(7)):
 *  - Every exported name starts with cp_ (types cp_*, macros CP_*).
 *  - Handles are opaque; created through an out-parameter placed first; every
 *    _new/_open/_load/_compile has a _free that accepts NULL.
 *  - Fallible functions return int: CP_OK (0) or a negative CP_E* code.
 *    cp_strerror() names a code; cp_errmsg(handle) gives the message of the
 *    handle's last failure.  Constructors take an optional cp_diag * that
 *    collects every diagnostic with file, line and column.
 *  - Strings are UTF-8.  Returned const char * are owned by the object that
 *    returned them, valid until that object is freed (or modified, where noted).
 *  - Money is exact: integer fen (1 yuan = 100 fen).  Dates are calendar days,
 *    counted from 1970-01-01 (cp_date).
 *  - No varargs, no struct by value, no callback is ever required.
 *
 * Thread safety: a cp_schema and a compiled ruleset are immutable and may be
 * shared by any number of threads.  Any number of threads may read a
 * cp_store while one thread updates it (see "Store" below).  Other handles
 * are used by one thread at a time unless their documentation says otherwise.
 */
#ifndef CUSTPROF_H
#define CUSTPROF_H

#include <stddef.h>
#include <stdint.h>

#include <custprof/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CP_BUILDING_LIBRARY) && defined(CP_HAVE_VISIBILITY)
#define CP_API __attribute__((visibility("default")))
#else
#define CP_API
#endif

/* ------------------------------------------------------------------------
 * Status codes.  Values are part of the ABI: append only.
 * ------------------------------------------------------------------------ */
enum cp_status {
	CP_OK = 0,          /* success */
	CP_ERROR = -1,      /* unspecified failure */
	CP_ENOMEM = -2,     /* out of memory */
	CP_EINVAL = -3,     /* invalid argument or value */
	CP_EIO = -4,        /* I/O error (open, read, write, fsync, rename) */
	CP_ESYNTAX = -5,    /* malformed input text (YAML, CSV, expression) */
	CP_ETYPE = -6,      /* type error: a value does not fit its field's type */
	CP_ENOTFOUND = -7,  /* no such key, field, tag or file */
	CP_ECORRUPT = -8,   /* damaged or truncated file */
	CP_EVERSION = -9,   /* unsupported format version */
	CP_ELIMIT = -10,    /* a size limit was exceeded */
	CP_EMISUSE = -11,   /* API used out of order */
	CP_ECANCELED = -12, /* cancelled by a callback */
	CP_EEXIST = -13,    /* duplicate id or key */

	CP_DONE = 101       /* not an error: an iteration has no more items */
};

/* Name of a status code ("CP_ENOMEM: out of memory").  Static storage. */
CP_API const char *cp_strerror(int code);

/* Version of the library actually linked (may differ from CP_VERSION_*). */
CP_API const char *cp_version(void);        /* "0.1.0", static storage */
CP_API int cp_version_number(void);         /* CP_VERSION_NUMBER of the build */

/*
 * Message of the last failure of any libcustprof handle (cp_store *,
 * cp_profile *, cp_view *, ...).  Returns "" when the handle has not failed,
 * and a static string when handle is NULL.  Owned by the handle; valid until
 * its next failing call or its free.
 */
CP_API const char *cp_errmsg(const void *handle);

/*
 * Install the allocator used for every allocation of the library.  Call it
 * once, before any other call that allocates; later calls return CP_EMISUSE.
 * realloc_fn(NULL, n) must behave as malloc_fn(n).  free_fn(NULL) is never
 * called.
 */
CP_API int cp_set_allocator(void *(*malloc_fn)(size_t size),
                            void *(*realloc_fn)(void *ptr, size_t size),
                            void (*free_fn)(void *ptr));

/* ------------------------------------------------------------------------
 * Diagnostics: every error and warning of a load or compile, in order.
 * ------------------------------------------------------------------------ */
typedef struct cp_diag cp_diag;

enum cp_severity {
	CP_SEV_ERROR = 0,
	CP_SEV_WARNING = 1,
	CP_SEV_NOTE = 2
};

/* Create an empty collection.  Free with cp_diag_free(). */
CP_API int cp_diag_new(cp_diag **out);
CP_API void cp_diag_free(cp_diag *diag);
/* Remove every entry (the collection can be reused). */
CP_API void cp_diag_clear(cp_diag *diag);
CP_API size_t cp_diag_count(const cp_diag *diag);
CP_API size_t cp_diag_error_count(const cp_diag *diag);
/* Accessors of entry i (0-based, < cp_diag_count).  Out of range: -1 / 0 / NULL. */
CP_API int cp_diag_severity(const cp_diag *diag, size_t i);
CP_API const char *cp_diag_file(const cp_diag *diag, size_t i);    /* "" if none */
CP_API unsigned cp_diag_line(const cp_diag *diag, size_t i);       /* 1-based, 0 if none */
CP_API unsigned cp_diag_column(const cp_diag *diag, size_t i);     /* 1-based, 0 if none */
CP_API const char *cp_diag_message(const cp_diag *diag, size_t i);
/*
 * Entry i as one line, "file:line:col: error: message" (parts that are unknown
 * are left out).  Owned by diag; valid until the next call of
 * cp_diag_format on the same diag, cp_diag_clear or cp_diag_free.
 */
CP_API const char *cp_diag_format(cp_diag *diag, size_t i);

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

/* Field types (custprof-schema(5)).  Values are part of the ABI. */
enum cp_type {
	CP_TYPE_BOOL = 1,
	CP_TYPE_INT = 2,    /* 64-bit signed */
	CP_TYPE_FLOAT = 3,  /* double */
	CP_TYPE_MONEY = 4,  /* integer fen; text form is yuan with at most 2 decimals */
	CP_TYPE_STRING = 5,
	CP_TYPE_ENUM = 6,   /* interned; closed (listed values) or open */
	CP_TYPE_SET = 7,    /* unordered interned strings */
	CP_TYPE_LIST = 8,   /* ordered strings, at most max items */
	CP_TYPE_DATE = 9    /* calendar day */
};

/* "bool", "int", ... ; NULL for an unknown value.  Static storage. */
CP_API const char *cp_type_name(int type);

/* A calendar day: days since 1970-01-01 (negative before). */
typedef int32_t cp_date;
/* Build a date; CP_EINVAL if the day does not exist (2026-02-30). */
CP_API int cp_date_from_ymd(cp_date *out, int year, int month, int day);
CP_API void cp_date_to_ymd(cp_date date, int *year, int *month, int *day);
/* Parse "YYYY-MM-DD" or "YYYYMMDD" (the whole string); CP_EINVAL otherwise. */
CP_API int cp_date_parse(cp_date *out, const char *text);

/* ------------------------------------------------------------------------
 * Schema (custprof-schema(5)).  Immutable once loaded; shareable.
 * ------------------------------------------------------------------------ */
typedef struct cp_schema cp_schema;

/*
 * Load a schema from a YAML file or buffer.  On failure *out is NULL, the
 * status is returned and every problem found is added to diag (if not NULL)
 * with its file, line and column.  name labels diagnostics (may be NULL).
 * Free with cp_schema_free().
 */
CP_API int cp_schema_load_file(cp_schema **out, const char *path, cp_diag *diag);
CP_API int cp_schema_load_memory(cp_schema **out, const char *yaml, size_t len,
                                 const char *name, cp_diag *diag);
/* The built-in default schema "cmcc-default" (no file needed). */
CP_API int cp_schema_default(cp_schema **out);
/* Schemas are reference counted: stores and rulesets keep their own
 * reference, so the caller may free its schema at any time. */
CP_API void cp_schema_free(cp_schema *schema);
/* The YAML text the schema was loaded from; owned by the schema. */
CP_API const char *cp_schema_source(const cp_schema *schema, size_t *len);

CP_API const char *cp_schema_name(const cp_schema *schema);
CP_API int cp_schema_months(const cp_schema *schema);      /* depth of every series */
CP_API int cp_schema_field_count(const cp_schema *schema);
/* Sum of the cell widths of one profile (8 bytes for int/float/money, 1 for
 * bool, 4 for the others; times the months of a series): the payload of a
 * row, without its presence bits and padding. */
CP_API size_t cp_schema_cell_bytes(const cp_schema *schema);
CP_API int cp_schema_key_field(const cp_schema *schema);   /* index of the key field */
/* Index of the field called name, or CP_ENOTFOUND. */
CP_API int cp_schema_field_index(const cp_schema *schema, const char *name);

/* Field introspection; field is an index < cp_schema_field_count().
 * Out of range: NULL / 0 / CP_EINVAL. */
CP_API const char *cp_schema_field_name(const cp_schema *schema, int field);
CP_API const char *cp_schema_field_label(const cp_schema *schema, int field); /* name if no label */
CP_API int cp_schema_field_type(const cp_schema *schema, int field);          /* enum cp_type */
CP_API int cp_schema_field_is_series(const cp_schema *schema, int field);     /* 1 or 0 */
/* Number of months held: cp_schema_months() for a series, 1 for a scalar. */
CP_API int cp_schema_field_months(const cp_schema *schema, int field);
CP_API int cp_schema_field_is_closed(const cp_schema *schema, int field);     /* closed enum */
CP_API int cp_schema_field_max_items(const cp_schema *schema, int field);     /* list: max; else 0 */
CP_API const char *cp_schema_field_normalize(const cp_schema *schema, int field); /* "" or "msisdn-cn" */
/* 1 if the field holds personal data (never written to logs or messages). */
CP_API int cp_schema_field_is_personal(const cp_schema *schema, int field);
CP_API const char *cp_schema_field_description(const cp_schema *schema, int field); /* "" if none */
/* Listed enum values (closed or open) and their labels (value if none). */
CP_API int cp_schema_field_value_count(const cp_schema *schema, int field);
CP_API const char *cp_schema_field_value(const cp_schema *schema, int field, int i);
CP_API const char *cp_schema_field_value_label(const cp_schema *schema, int field, int i);

/* ------------------------------------------------------------------------
 * Profiles: a draft profile to write into a store (the writer side).
 * ------------------------------------------------------------------------ */
typedef struct cp_profile cp_profile;

/* A draft with every field null.  Free with cp_profile_free(). */
CP_API int cp_profile_new(cp_profile **out, const cp_schema *schema);
CP_API void cp_profile_free(cp_profile *profile);
/* Set every field back to null. */
CP_API void cp_profile_clear(cp_profile *profile);

/*
 * Typed setters.  month is 0 (current) .. cp_schema_months()-1 for a series
 * field and must be 0 for a scalar.  A setter of the wrong type, a month out
 * of range, a closed-enum value not listed, or a list longer than its max
 * returns CP_ETYPE/CP_EINVAL and leaves the cell unchanged
 * (message: cp_errmsg(profile)).  Strings are copied.
 */
CP_API int cp_profile_set_null(cp_profile *p, int field, int month);
CP_API int cp_profile_set_bool(cp_profile *p, int field, int month, int value);
CP_API int cp_profile_set_int(cp_profile *p, int field, int month, int64_t value);
CP_API int cp_profile_set_float(cp_profile *p, int field, int month, double value);
CP_API int cp_profile_set_money(cp_profile *p, int field, int month, int64_t fen);
CP_API int cp_profile_set_date(cp_profile *p, int field, int month, cp_date value);
/* string and enum fields */
CP_API int cp_profile_set_string(cp_profile *p, int field, int month, const char *utf8);
/* set and list fields: append one item (a set ignores a repeated item). */
CP_API int cp_profile_add_item(cp_profile *p, int field, int month, const char *utf8);
/*
 * Any type, from its text form exactly as in a CSV cell (custprof-schema(5)):
 * "" is null; money in yuan; dates YYYY-MM-DD or YYYYMMDD; bool 1/0 true/false
 * Y/N 是/否; set and list items joined by ';'.  The key field is normalized.
 */
CP_API int cp_profile_set_text(cp_profile *p, int field, int month, const char *text);

/* ------------------------------------------------------------------------
 * Store: profiles keyed by the schema's key field.
 *
 * Thread safety (cp_store_new(3)): any number of threads may read a store
 * (cp_store_get, views, iterators, cp_store_foreach, cp_store_count,
 * cp_store_as_of, evaluation), each with its own views, iterators and
 * results, while one thread updates it (put, delete, set_as_of, load_csv,
 * save, compact, refresh, set_sync, sync, memory_bytes, index_bytes).  No
 * lock is taken on the read path, and a reader never sees half an update.
 * ------------------------------------------------------------------------ */
typedef struct cp_store cp_store;
typedef struct cp_view cp_view;

/* An empty in-memory store.  It keeps its own reference to schema.
 * Free with cp_store_free(). */
CP_API int cp_store_new(cp_store **out, const cp_schema *schema);
/* Frees a store made by cp_store_new() or cp_store_open(). */
CP_API void cp_store_free(cp_store *store);
CP_API const cp_schema *cp_store_schema(const cp_store *store);
/* Number of profiles. */
CP_API size_t cp_store_count(const cp_store *store);

/* As-of month: month 0 of every series.  yyyymm, e.g. 202610; 0 = unset. */
CP_API int cp_store_set_as_of(cp_store *store, int yyyymm);
CP_API int cp_store_as_of(const cp_store *store);

/*
 * Insert or replace the profile with the draft's key (the key field must be
 * set).  Returns CP_OK; *replaced (if not NULL) is set to 1 when a profile
 * with that key existed.  The draft is not modified.  A store opened from a
 * file logs the update before it returns (cp_store_set_sync).
 */
CP_API int cp_store_put(cp_store *store, const cp_profile *profile, int *replaced);
/* Remove the profile with this key (normalized as the key field says).
 * CP_ENOTFOUND if there is none. */
CP_API int cp_store_delete(cp_store *store, const char *key);

/* Memory figures for cp_store_stats-like reports. */
CP_API size_t cp_store_row_bytes(const cp_store *store);     /* bytes of one profile row */
CP_API size_t cp_store_memory_bytes(const cp_store *store);  /* everything the store holds */
CP_API size_t cp_store_index_bytes(const cp_store *store);   /* the key index alone */

/* ------------------------------------------------------------------------
 * Views: read access to one profile.  A view is reused across lookups; it
 * holds one whole version of the profile it shows, unchanged until the
 * next lookup into it, whatever a writer does meanwhile.  One thread uses
 * a view at a time.
 * ------------------------------------------------------------------------ */

/* Free with cp_view_free(). */
CP_API int cp_view_new(cp_view **out, const cp_store *store);
CP_API void cp_view_free(cp_view *view);
/* Point the view at the profile with this key (normalized).  CP_ENOTFOUND
 * if there is none (the view is then empty); CP_ECORRUPT if its row is
 * damaged in the snapshot the store was opened from. */
CP_API int cp_store_get(const cp_store *store, const char *key, cp_view *view);

/*
 * Typed getters.  A null cell, a month out of range or a getter of the wrong
 * type give 0 (or NULL, or 0 items); use cp_view_is_null() to tell null from
 * zero.  Returned strings are owned by the store.
 */
CP_API int cp_view_is_null(const cp_view *v, int field, int month);
CP_API const char *cp_view_key(const cp_view *v);
CP_API int cp_view_bool(const cp_view *v, int field, int month);
CP_API int64_t cp_view_int(const cp_view *v, int field, int month);
CP_API double cp_view_float(const cp_view *v, int field, int month);
CP_API int64_t cp_view_money(const cp_view *v, int field, int month);   /* fen */
CP_API cp_date cp_view_date(const cp_view *v, int field, int month);
CP_API const char *cp_view_string(const cp_view *v, int field, int month); /* string, enum */
CP_API int cp_view_item_count(const cp_view *v, int field, int month);     /* set, list */
CP_API const char *cp_view_item(const cp_view *v, int field, int month, int i);
/*
 * Any cell in its CSV text form ("" for null), written into buf (always
 * NUL-terminated when size > 0).  Returns the length the full text needs,
 * as snprintf does, or a negative CP_E* code.
 */
CP_API int cp_view_text(const cp_view *v, int field, int month, char *buf, size_t size);

/* Iteration in store order.  Iterator form: */
typedef struct cp_iter cp_iter;
CP_API int cp_iter_new(cp_iter **out, const cp_store *store);
CP_API void cp_iter_free(cp_iter *it);
/* Point view at the next profile: CP_OK, or CP_DONE when there is none. */
CP_API int cp_iter_next(cp_iter *it, cp_view *view);
/* Callback form: fn is called for every profile; a non-zero return stops the
 * iteration and is returned by cp_store_foreach. */
typedef int (*cp_foreach_fn)(const cp_view *view, void *userdata);
CP_API int cp_store_foreach(const cp_store *store, cp_foreach_fn fn, void *userdata);

/* ------------------------------------------------------------------------
 * CSV / PSV ingest (custprof-schema(5), "Input files").
 * ------------------------------------------------------------------------ */
typedef struct cp_load_opts cp_load_opts;
typedef struct cp_load_report cp_load_report;

/* Progress: called now and then with bytes done and total (0 if unknown).
 * A non-zero return cancels the load (CP_ECANCELED). */
typedef int (*cp_progress_fn)(uint64_t done, uint64_t total, void *userdata);

/* Defaults: delimiter detected, no rejects file, no progress.  Free with
 * cp_load_opts_free(). */
CP_API int cp_load_opts_new(cp_load_opts **out);
CP_API void cp_load_opts_free(cp_load_opts *opts);
/* ',', '|', '\t', or 0 to detect from the header row. */
CP_API int cp_load_opts_set_delimiter(cp_load_opts *opts, int delimiter);
/* Write every rejected row as "line,column,reason" to this file (copied). */
CP_API int cp_load_opts_set_rejects_path(cp_load_opts *opts, const char *path);
CP_API int cp_load_opts_set_progress(cp_load_opts *opts, cp_progress_fn fn, void *userdata);
/*
 * 1: a row updates the stored profile of its key, cell by cell: the cells
 * of the columns present in the file are set (an empty one to null), every
 * other cell keeps its value; a key not stored yet gets a new profile.  A
 * row is not a duplicate for updating a profile.  0 (the default): a row
 * replaces the whole profile.
 */
CP_API int cp_load_opts_set_merge(cp_load_opts *opts, int merge);

/* A report of one or more loads (counts accumulate).  Free with
 * cp_load_report_free(). */
CP_API int cp_load_report_new(cp_load_report **out);
CP_API void cp_load_report_free(cp_load_report *report);
CP_API uint64_t cp_load_report_rows(const cp_load_report *r);      /* data rows read */
CP_API uint64_t cp_load_report_loaded(const cp_load_report *r);    /* rows stored */
CP_API uint64_t cp_load_report_rejected(const cp_load_report *r);
CP_API uint64_t cp_load_report_duplicates(const cp_load_report *r); /* rows that replaced an earlier row */
CP_API uint64_t cp_load_report_bytes(const cp_load_report *r);
/* The first rejects kept in memory (all of them go to the rejects file). */
CP_API size_t cp_load_report_reject_count(const cp_load_report *r);
CP_API uint64_t cp_load_report_reject_line(const cp_load_report *r, size_t i);
CP_API const char *cp_load_report_reject_column(const cp_load_report *r, size_t i);
CP_API const char *cp_load_report_reject_reason(const cp_load_report *r, size_t i);
/* Line numbers of the first duplicate keys kept in memory. */
CP_API size_t cp_load_report_duplicate_count(const cp_load_report *r);
CP_API uint64_t cp_load_report_duplicate_line(const cp_load_report *r, size_t i);
/* Columns the schema does not know (ignored), each named once. */
CP_API size_t cp_load_report_unknown_column_count(const cp_load_report *r);
CP_API const char *cp_load_report_unknown_column(const cp_load_report *r, size_t i);

/*
 * Load a CSV/PSV/TSV file into the store.  Rows that do not fit the schema
 * are rejected (and reported); the others are stored.  Returns CP_OK when
 * the file was read to the end, even if rows were rejected; a missing key
 * column, an unreadable file or a malformed header fail with the file's
 * name and line in cp_errmsg(store).  opts and report may be NULL.
 */
CP_API int cp_store_load_csv(cp_store *store, const char *path,
                             const cp_load_opts *opts, cp_load_report *report);
/* The same from a buffer; name labels messages (may be NULL). */
CP_API int cp_store_load_csv_memory(cp_store *store, const char *data, size_t len,
                                    const char *name, const cp_load_opts *opts,
                                    cp_load_report *report);

/* ------------------------------------------------------------------------
 * Snapshots (.cps, custprof-snapshot(5)).
 * ------------------------------------------------------------------------ */

/* Flags for cp_store_save. */
#define CP_SAVE_COMPRESS 0x1 /* zlib-compressed transfer form */

/*
 * Write the store to path atomically: a temporary file beside it, fsync,
 * rename.  A crash leaves the old file or the new one, never a torn one.
 * Saving a store opened from path to path is cp_store_compact().
 */
CP_API int cp_store_save(cp_store *store, const char *path, int flags);
/*
 * Open a snapshot: mapped read-only and used in place (no parse, no copy),
 * then the updates of its log (path + "-wal") replayed.  Opening checks
 * the header, the structure and the embedded schema; a damaged or hostile
 * file can make a lookup fail (CP_ECORRUPT) but never read outside the
 * mapping.  Damage found fails with CP_ECORRUPT and a message naming the
 * offset, added to diag; a torn last log record (a crash while it was
 * written) is cut and reported as a warning.  The store may be updated: it
 * logs every update (cp_store_set_sync).  Free with cp_store_free().
 */
CP_API int cp_store_open(cp_store **out, const char *path, cp_diag *diag);
/* Check every checksum of a snapshot file.  CP_OK, or CP_ECORRUPT with each
 * problem (section and offset) added to diag (CP_EVERSION, CP_ENOTFOUND or
 * CP_EIO when the file cannot be read as a snapshot at all). */
CP_API int cp_snapshot_verify(const char *path, cp_diag *diag);

/* Options of cp_store_open_ex (all off by default).  Free with
 * cp_open_opts_free(). */
typedef struct cp_open_opts cp_open_opts;
CP_API int cp_open_opts_new(cp_open_opts **out);
CP_API void cp_open_opts_free(cp_open_opts *opts);
/* 1: never write a file (no update, no cut of a torn log tail). */
CP_API int cp_open_opts_set_read_only(cp_open_opts *opts, int read_only);
/* 1: open a store whose log is damaged before its end, dropping the log
 * from the first damaged record on (each drop reported as a warning). */
CP_API int cp_open_opts_set_repair(cp_open_opts *opts, int repair);
/* 1: check every byte of the snapshot as cp_snapshot_verify does. */
CP_API int cp_open_opts_set_verify(cp_open_opts *opts, int verify);
/* The store's initial sync mode (see cp_store_set_sync). */
CP_API int cp_open_opts_set_sync(cp_open_opts *opts, int mode, unsigned interval_ms);
/* cp_store_open with options (opts may be NULL: the defaults). */
CP_API int cp_store_open_ex(cp_store **out, const char *path, const cp_open_opts *opts,
                            cp_diag *diag);

/* When an update of an opened store is flushed to disk (cp_store_set_sync).
 * Values are part of the ABI. */
enum cp_sync_mode {
	CP_SYNC_NONE = 0,     /* never: the operating system writes back */
	CP_SYNC_INTERVAL = 1, /* at an update when interval_ms have passed since the last */
	CP_SYNC_FULL = 2      /* at every update, before it returns (the default) */
};
/*
 * Set the sync mode of a store opened from a file.  Every update is
 * written to the log before it returns, so a crash of the process loses
 * nothing in any mode; the mode says what a crash of the system may lose
 * (custprof-wal(5)).  CP_EINVAL for an unknown mode; CP_OK and no effect
 * for a store with no file.
 */
CP_API int cp_store_set_sync(cp_store *store, int mode, unsigned interval_ms);
/* Flush the log to disk now.  CP_OK (also for a store with no file), or
 * CP_EIO. */
CP_API int cp_store_sync(cp_store *store);
/*
 * Write the store to its snapshot file (a new generation, atomically) and
 * start an empty log for it.  CP_EMISUSE for a store with no file or one
 * opened read-only.
 */
CP_API int cp_store_compact(cp_store *store);
/*
 * Apply the updates another process logged since the store was opened (or
 * last refreshed).  CP_OK; CP_EMISUSE when the snapshot was replaced since
 * (a compaction): open it again.
 */
CP_API int cp_store_refresh(cp_store *store);

/* ------------------------------------------------------------------------
 * Rules (custprof-rules(5)): rule packs compiled into a ruleset, evaluated
 * for one profile at a time into a cp_result.
 *
 * A ruleset is immutable and may be shared by any number of threads; each
 * thread evaluates into its own cp_result (its scratch space: evaluating
 * allocates nothing).
 * ------------------------------------------------------------------------ */
typedef struct cp_rules_opts cp_rules_opts;
typedef struct cp_ruleset cp_ruleset;
typedef struct cp_result cp_result;
typedef struct cp_explain cp_explain;

/* Lifecycle stages (DESIGN §6).  Values are part of the ABI: append only. */
enum cp_stage {
	CP_STAGE_UNKNOWN = 0,
	CP_STAGE_PROSPECT = 1,
	CP_STAGE_ACQUISITION = 2,
	CP_STAGE_GROWTH = 3,
	CP_STAGE_MATURITY = 4,
	CP_STAGE_DECLINE = 5,
	CP_STAGE_SILENT = 6,
	CP_STAGE_CHURN_RISK = 7,
	CP_STAGE_CHURNED = 8,
	CP_STAGE_WINBACK = 9,
	CP_STAGE_BAD_DEBT = 10
};

/* "churn_risk", ...; NULL for a value outside the enum.  Static storage. */
CP_API const char *cp_stage_name(int stage);
/* The stage called name (>= 0), or CP_ENOTFOUND. */
CP_API int cp_stage_from_name(const char *name);

/*
 * Compile options: which packs, which parameter values.  Free with
 * cp_rules_opts_free().  Failures leave a message in cp_errmsg(opts).
 */
CP_API int cp_rules_opts_new(cp_rules_opts **out);
CP_API void cp_rules_opts_free(cp_rules_opts *opts);
/* Add a rule pack file (read now: CP_EIO if it cannot be read). */
CP_API int cp_rules_opts_add_file(cp_rules_opts *opts, const char *path);
/* Add a rule pack from a buffer (copied); name labels diagnostics (may be NULL). */
CP_API int cp_rules_opts_add_memory(cp_rules_opts *opts, const char *yaml, size_t len,
                                    const char *name);
/* Add the built-in default packs (custprof-rules(5), DESIGN §7.2, §7.3). */
CP_API int cp_rules_opts_add_defaults(cp_rules_opts *opts);
/*
 * Override a parameter before compiling.  name is "pack.param" (one pack) or
 * "param" (every pack that declares it).  value is a literal as written in a
 * rule: 10, 2.5, -3, 'text', true, null, [1, 2]; any other text is taken as
 * a string.  Both are copied.  An unknown name is a compile error.
 */
CP_API int cp_rules_opts_set_param(cp_rules_opts *opts, const char *name, const char *value);

/*
 * Compile every pack of opts (NULL: the built-in packs) against schema into
 * one ruleset.  Every error and warning goes to diag (if not NULL) with its
 * file, line and column; on failure *out is NULL and the status of the first
 * error is returned.  The ruleset keeps its own reference to schema.  Free
 * with cp_ruleset_free() (after every cp_result made from it).
 */
CP_API int cp_ruleset_compile(cp_ruleset **out, const cp_schema *schema,
                              const cp_rules_opts *opts, cp_diag *diag);
CP_API void cp_ruleset_free(cp_ruleset *rs);
CP_API const cp_schema *cp_ruleset_schema(const cp_ruleset *rs);

/*
 * Introspection.  Indexes count from 0 in definition order (packs in the
 * order they were added).  Out of range: NULL / -1.  Strings are owned by
 * the ruleset.
 */
CP_API int cp_ruleset_pack_count(const cp_ruleset *rs);
CP_API const char *cp_ruleset_pack_name(const cp_ruleset *rs, int pack);
CP_API const char *cp_ruleset_pack_label(const cp_ruleset *rs, int pack);   /* "" if none */

CP_API int cp_ruleset_tag_count(const cp_ruleset *rs);
/* Index of the tag with this id ("gprs.heavy"), or CP_ENOTFOUND. */
CP_API int cp_ruleset_tag_index(const cp_ruleset *rs, const char *id);
CP_API const char *cp_ruleset_tag_id(const cp_ruleset *rs, int tag);
CP_API const char *cp_ruleset_tag_label(const cp_ruleset *rs, int tag);       /* id if none */
CP_API const char *cp_ruleset_tag_description(const cp_ruleset *rs, int tag); /* "" if none */
/* The 'when' expression as written; "" for a group's otherwise tag without one. */
CP_API const char *cp_ruleset_tag_expr(const cp_ruleset *rs, int tag);
CP_API int cp_ruleset_tag_pack(const cp_ruleset *rs, int tag);
/* The exclusive group the tag belongs to (as member or otherwise), or -1. */
CP_API int cp_ruleset_tag_group(const cp_ruleset *rs, int tag);

CP_API int cp_ruleset_group_count(const cp_ruleset *rs);
CP_API int cp_ruleset_group_index(const cp_ruleset *rs, const char *id); /* or CP_ENOTFOUND */
CP_API const char *cp_ruleset_group_id(const cp_ruleset *rs, int group);
CP_API const char *cp_ruleset_group_label(const cp_ruleset *rs, int group); /* id if none */
CP_API int cp_ruleset_group_member_count(const cp_ruleset *rs, int group);
/* Tag index of member i, in priority order. */
CP_API int cp_ruleset_group_member(const cp_ruleset *rs, int group, int i);
/* Tag index of the otherwise tag, or -1 if the group has none. */
CP_API int cp_ruleset_group_otherwise(const cp_ruleset *rs, int group);

CP_API int cp_ruleset_metric_count(const cp_ruleset *rs);
CP_API int cp_ruleset_metric_index(const cp_ruleset *rs, const char *id); /* or CP_ENOTFOUND */
CP_API const char *cp_ruleset_metric_id(const cp_ruleset *rs, int metric);
CP_API const char *cp_ruleset_metric_label(const cp_ruleset *rs, int metric); /* id if none */
/* enum cp_type of the metric's value (an open enum is CP_TYPE_STRING); 0 if
 * it is always null. */
CP_API int cp_ruleset_metric_type(const cp_ruleset *rs, int metric);
/* 0 for a single value, n for a window of n values. */
CP_API int cp_ruleset_metric_window(const cp_ruleset *rs, int metric);

CP_API int cp_ruleset_track_count(const cp_ruleset *rs);
CP_API int cp_ruleset_track_index(const cp_ruleset *rs, const char *name); /* or CP_ENOTFOUND */
CP_API const char *cp_ruleset_track_name(const cp_ruleset *rs, int track);
CP_API const char *cp_ruleset_track_label(const cp_ruleset *rs, int track); /* name if none */
CP_API int cp_ruleset_track_rule_count(const cp_ruleset *rs, int track);
/* Rule i of a track, in order: its id ("crbt.churned" unless the pack names
 * it), its stage (enum cp_stage) and its 'when' as written. */
CP_API const char *cp_ruleset_track_rule_id(const cp_ruleset *rs, int track, int i);
CP_API int cp_ruleset_track_rule_stage(const cp_ruleset *rs, int track, int i);
CP_API const char *cp_ruleset_track_rule_expr(const cp_ruleset *rs, int track, int i);
/* Rule i's label (the label of its stage if it has none) and description
 * ("" if none): the reason for a stage in words, for a clerk's screen. */
CP_API const char *cp_ruleset_track_rule_label(const cp_ruleset *rs, int track, int i);
CP_API const char *cp_ruleset_track_rule_description(const cp_ruleset *rs, int track, int i);
/* The track's description; "" if none. */
CP_API const char *cp_ruleset_track_description(const cp_ruleset *rs, int track);
/* The stage given when no rule applies. */
CP_API int cp_ruleset_track_otherwise(const cp_ruleset *rs, int track);

/* The label of a stage given by the packs' stage_info ("潜在流失"), else its
 * name; and the value drivers acting on it (DESIGN §6: "churn", ...).
 * Out of range: NULL / -1. */
CP_API const char *cp_ruleset_stage_label(const cp_ruleset *rs, int stage);
CP_API int cp_ruleset_stage_driver_count(const cp_ruleset *rs, int stage);
CP_API const char *cp_ruleset_stage_driver(const cp_ruleset *rs, int stage, int i);
/* The name of that driver in the model ("离网" for "churn").  Static
 * storage; NULL out of range. */
CP_API const char *cp_ruleset_stage_driver_label(const cp_ruleset *rs, int stage, int i);

/* Parameters after overrides: "pack.name" and the value as a literal. */
CP_API int cp_ruleset_param_count(const cp_ruleset *rs);
CP_API const char *cp_ruleset_param_name(const cp_ruleset *rs, int param);
CP_API const char *cp_ruleset_param_value(const cp_ruleset *rs, int param);

/*
 * Per-thread evaluation state, sized for rs.  Free with cp_result_free()
 * before rs.
 */
CP_API int cp_result_new(cp_result **out, const cp_ruleset *rs);
CP_API void cp_result_free(cp_result *res);
/*
 * The as-of date of months_since()/days_since().  By default it is the last
 * day of the store's as-of month (null results when the store has none);
 * cp_result_set_as_of fixes a full date instead, cp_result_clear_as_of
 * goes back to the store's.
 */
CP_API int cp_result_set_as_of(cp_result *res, cp_date date);
CP_API void cp_result_clear_as_of(cp_result *res);

/*
 * Evaluate every metric, tag and track for the profile view points at.
 * CP_EINVAL for an empty view or a store whose schema does not match the
 * ruleset's (message in cp_errmsg(res)).  Allocates nothing.
 */
CP_API int cp_eval(cp_result *res, const cp_view *view);
/* The same for the profile with this key; CP_ENOTFOUND if there is none
 * (the result is then empty: no tag applies). */
CP_API int cp_eval_key(cp_result *res, const cp_store *store, const char *key);

/* 1 if tag applies to the evaluated profile, else 0. */
CP_API int cp_result_tag(const cp_result *res, int tag);
/* The applying tags, in ruleset order: how many, and the tag index of the i-th. */
CP_API int cp_result_tag_count(const cp_result *res);
CP_API int cp_result_tag_at(const cp_result *res, int i);
/* The stage of a track (enum cp_stage; -1 if out of range), and the rule
 * that decided it: its index in the track, or -1 for the otherwise stage. */
CP_API int cp_result_stage(const cp_result *res, int track);
CP_API int cp_result_stage_rule(const cp_result *res, int track);
/* Id of that rule; "<track>.otherwise" for the otherwise stage.  Owned by
 * the ruleset. */
CP_API const char *cp_result_stage_rule_id(const cp_result *res, int track);

/* A metric's value.  is_null is 1 for null (or out of range).  int: bool,
 * int, money (fen), date (days); float: any number (money in yuan).  For a
 * window metric these read element 0; text gives the whole window. */
CP_API int cp_result_metric_is_null(const cp_result *res, int metric);
CP_API int64_t cp_result_metric_int(const cp_result *res, int metric);
CP_API double cp_result_metric_float(const cp_result *res, int metric);
/* Text form ("12.50", "2026-10-31", "'gotone'", "[1, null, 3]", "null") into
 * buf, as snprintf: returns the length the full text needs, or a negative
 * CP_E* code. */
CP_API int cp_result_metric_text(const cp_result *res, int metric, char *buf, size_t size);

/*
 * Explain (DESIGN §5.4): evaluate view into res and describe why a tag
 * applies or not (or how a track decided): a tree of nodes, node 0 the tag
 * or track, then every sub-expression with its source text and value, in
 * pre-order.  Free with cp_explain_free().  The values of personal fields
 * show as "(personal)".
 */
CP_API int cp_explain_tag(cp_explain **out, cp_result *res, const cp_view *view, int tag);
CP_API int cp_explain_track(cp_explain **out, cp_result *res, const cp_view *view, int track);
CP_API void cp_explain_free(cp_explain *ex);
/* The tree as indented text, as in DESIGN §5.4.  Owned by ex. */
CP_API const char *cp_explain_text(const cp_explain *ex);

/* Kinds of explain nodes.  Values are part of the ABI: append only. */
enum cp_explain_kind {
	CP_EXPLAIN_TAG = 1,      /* node 0 of cp_explain_tag */
	CP_EXPLAIN_TRACK = 2,    /* node 0 of cp_explain_track */
	CP_EXPLAIN_RULE = 3,     /* one rule (stage, when) of a track */
	CP_EXPLAIN_LOGIC = 4,    /* and, or, not */
	CP_EXPLAIN_COMPARE = 5,  /* == != < <= > >=, in, not in, between */
	CP_EXPLAIN_CALL = 6,     /* a function */
	CP_EXPLAIN_ARITH = 7,    /* + - * / %, unary - */
	CP_EXPLAIN_FIELD = 8,    /* a field, a month or a window of one */
	CP_EXPLAIN_METRIC = 9,   /* a metric by name */
	CP_EXPLAIN_CONST = 10,   /* a literal or a $parameter */
	CP_EXPLAIN_LIST = 11     /* [a, b] */
};

CP_API int cp_explain_node_count(const cp_explain *ex);
/* Parent index (-1 for node 0) and depth (0 for node 0). */
CP_API int cp_explain_node_parent(const cp_explain *ex, int node);
CP_API int cp_explain_node_depth(const cp_explain *ex, int node);
CP_API int cp_explain_node_kind(const cp_explain *ex, int node);   /* enum cp_explain_kind */
/* Source text ("all(web_sessions[0..5] > $heavy_sessions)"); for node 0 the
 * tag id or track name; for a rule its id. */
CP_API const char *cp_explain_node_text(const cp_explain *ex, int node);
/* The value as text: "true", "false", "null", "14", "2.5", "20.00",
 * "'gotone'", "[14, 12, null]", "churned" (a stage). */
CP_API const char *cp_explain_node_value(const cp_explain *ex, int node);
/* 1 true, 0 false, -1 null, -2 not a true/false value. */
CP_API int cp_explain_node_truth(const cp_explain *ex, int node);
/* A remark on node 0 or a rule ("gprs.silent applies first in group
 * gprs.attr"), or "". */
CP_API const char *cp_explain_node_note(const cp_explain *ex, int node);

/* ------------------------------------------------------------------------
 * Month close and the stage history (DESIGN §6).
 * ------------------------------------------------------------------------ */

/* "No stage": a subscriber not recorded at a close (from), or without a
 * profile now (to). */
#define CP_STAGE_NONE (-1)

/*
 * Close the store's as-of month: evaluate every profile with rs on the
 * month being closed and record its stage per track of rs in the stage
 * history; then shift every series one month back (month i becomes month
 * i+1, the oldest month drops off, month 0 becomes null) and advance the
 * as-of month by one.  A new month's export is then loaded on top
 * (cp_load_opts_set_merge).  The history keeps the last
 * cp_schema_months() closes.  Either every profile is closed or, on
 * failure, none is.  A store opened from a file is written anew at the end
 * (as cp_store_compact does); if that fails the store takes no further
 * update.  CP_EMISUSE when the store has no as-of month or was opened
 * read-only, CP_EINVAL when rs was compiled for another schema; the
 * message is in cp_errmsg(store).
 */
CP_API int cp_store_close_month(cp_store *store, const cp_ruleset *rs);

/* Closes recorded, 0 .. cp_schema_months(); close 0 is the latest. */
CP_API int cp_store_stage_history_count(const cp_store *store);
/* The month (yyyymm) close recorded; 0 out of range. */
CP_API int cp_store_stage_history_month(const cp_store *store, int close);
/* Subscribers recorded by the close; 0 out of range. */
CP_API size_t cp_store_stage_history_size(const cp_store *store, int close);
/* The tracks the close recorded (those of the ruleset it was made with):
 * how many, the name of each, and the index of a name (or CP_ENOTFOUND).
 * Names are owned by the store. */
CP_API int cp_store_stage_history_track_count(const cp_store *store, int close);
CP_API const char *cp_store_stage_history_track(const cp_store *store, int close, int track);
CP_API int cp_store_stage_history_track_index(const cp_store *store, int close,
                                              const char *name);
/* Entry i (< cp_store_stage_history_size) of a close, in no particular
 * order: the subscriber's key (owned by the store; NULL out of range) and
 * the stage recorded on track (enum cp_stage; CP_STAGE_NONE out of range). */
CP_API const char *cp_store_stage_history_key(const cp_store *store, int close, size_t i);
CP_API int cp_store_stage_history_stage(const cp_store *store, int close, size_t i,
                                        int track);
/* The stage recorded for the profile view points at, on a track of the
 * close (an index of cp_store_stage_history_track); CP_STAGE_NONE when the
 * profile was not recorded (or out of range). */
CP_API int cp_view_stage_history(const cp_view *view, int close, int track);

/*
 * Stage transitions: for every track of a ruleset, how many subscribers
 * went from the stage recorded at a close to the stage the ruleset gives
 * now, as a from/to matrix.  from is CP_STAGE_NONE for a subscriber the
 * close did not record (new since, or a track it did not record); to is
 * CP_STAGE_NONE for a subscriber recorded but without a profile now.
 */
typedef struct cp_transitions cp_transitions;

/*
 * Evaluate every profile of store with res's ruleset and count the
 * transitions since close (0: the latest).  res is the caller's scratch;
 * failures leave their message in cp_errmsg(res): CP_ENOTFOUND when the
 * store has no such close, CP_EINVAL for a store of another schema.  Free
 * with cp_transitions_free().
 */
CP_API int cp_transitions_new(cp_transitions **out, cp_result *res, const cp_store *store,
                              int close);
CP_API void cp_transitions_free(cp_transitions *tr);
/* The month of the close compared with (yyyymm). */
CP_API int cp_transitions_month(const cp_transitions *tr);
/* Subscribers counted on every track: profiles now plus those recorded
 * and gone. */
CP_API uint64_t cp_transitions_total(const cp_transitions *tr);
/* Subscribers who went from stage from to stage to on track (a track index
 * of the ruleset); 0 out of range. */
CP_API uint64_t cp_transitions_count(const cp_transitions *tr, int track, int from, int to);

#ifdef __cplusplus
}
#endif

#endif /* CUSTPROF_H */
