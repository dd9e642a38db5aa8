/*
 * internal.h — shared by every module of lib/.  Never installed.
 *
 * Naming: functions shared between modules start with cp__ (two
 * underscores); they are hidden by -fvisibility=hidden and the version
 * script, so they are not part of the ABI.
 */
#ifndef CP_INTERNAL_H
#define CP_INTERNAL_H

#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_BUILDING_LIBRARY 1
#include <custprof/custprof.h>

#if defined(__GNUC__) || defined(__clang__)
#define CP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CP_LIKELY(x) __builtin_expect(!!(x), 1)
#define CP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CP_PRINTF(f, a)
#define CP_LIKELY(x) (x)
#define CP_UNLIKELY(x) (x)
#endif

/* ---- allocation (core.c): every allocation of the library goes here ---- */
void *cp__malloc(size_t size);
void *cp__calloc(size_t n, size_t size);  /* overflow-checked, zeroed */
void *cp__realloc(void *ptr, size_t size);
/* realloc of n elements of size each, overflow-checked */
void *cp__reallocarray(void *ptr, size_t n, size_t size);
void cp__free(void *ptr);
char *cp__strdup(const char *s);
char *cp__strndup(const char *s, size_t n);

/* ---- handles: every public handle struct starts with a cp_obj ---- */
enum cp_obj_kind {
	CP_OBJ_SCHEMA = 0x43500001,
	CP_OBJ_STORE,
	CP_OBJ_PROFILE,
	CP_OBJ_VIEW,
	CP_OBJ_ITER,
	CP_OBJ_LOAD_OPTS,
	CP_OBJ_LOAD_REPORT,
	CP_OBJ_DIAG,
	CP_OBJ_RULES_OPTS,
	CP_OBJ_RULESET,
	CP_OBJ_RESULT,
	CP_OBJ_EXPLAIN,
	CP_OBJ_OTHER
};

typedef struct cp_obj {
	uint32_t kind;  /* enum cp_obj_kind; 0 once freed */
	char *errmsg;   /* last failure, or NULL */
} cp_obj;

void cp__obj_init(cp_obj *obj, uint32_t kind);
void cp__obj_fini(cp_obj *obj);
/* Record a failure message on a handle and return code (for `return
 * cp__fail(...)`).  Never fails: without memory the message is dropped. */
int cp__fail(cp_obj *obj, int code, const char *fmt, ...) CP_PRINTF(3, 4);
int cp__vfail(cp_obj *obj, int code, const char *fmt, va_list ap) CP_PRINTF(3, 0);
void cp__clear_error(cp_obj *obj);

/* ---- growable byte buffer ---- */
typedef struct cp_buf {
	char *data; /* NUL-terminated while len < cap */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; content is truncated */
} cp_buf;

void cp__buf_init(cp_buf *b);
void cp__buf_free(cp_buf *b);
void cp__buf_reset(cp_buf *b);
int cp__buf_reserve(cp_buf *b, size_t extra);
int cp__buf_append(cp_buf *b, const void *data, size_t len);
int cp__buf_puts(cp_buf *b, const char *s);
int cp__buf_putc(cp_buf *b, char c);
int cp__buf_printf(cp_buf *b, const char *fmt, ...) CP_PRINTF(2, 3);
int cp__buf_vprintf(cp_buf *b, const char *fmt, va_list ap) CP_PRINTF(2, 0);
/* Detach the content (NUL-terminated) and reset b; NULL without memory. */
char *cp__buf_steal(cp_buf *b);

/* ---- diagnostics (diag.c) ---- */
/* Add an entry; diag may be NULL (then nothing happens).  Returns CP_OK
 * or CP_ENOMEM. */
int cp__diag_add(cp_diag *diag, int severity, const char *file, unsigned line,
                 unsigned col, const char *fmt, ...) CP_PRINTF(6, 7);
int cp__diag_vadd(cp_diag *diag, int severity, const char *file, unsigned line,
                  unsigned col, const char *fmt, va_list ap) CP_PRINTF(6, 0);

/* ---- text helpers (text.c) ---- */
/* Levenshtein distance, capped: returns > max as soon as it exceeds max. */
size_t cp__edit_distance(const char *a, const char *b, size_t max);
/* The candidate closest to name within a sensible distance, or NULL. */
const char *cp__closest(const char *name, const char *const *candidates, size_t n);
/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int cp__utf8_valid(const char *s, size_t len);
/* 32-bit hash of bytes (FNV-1a variant; stable across builds: it may be
 * stored in files). */
uint32_t cp__hash(const void *data, size_t len);

/* ---- dates and numbers (value.c) ---- */
cp_date cp__days_from_civil(int y, int m, int d);
void cp__civil_from_days(cp_date z, int *y, int *m, int *d);
int cp__days_in_month(int y, int m);
/* Parsers of CSV cell text (the whole of s[0..len) must match): CP_OK or
 * CP_ETYPE, with a short reason in *why (static string). */
int cp__parse_bool(const char *s, size_t len, int *out, const char **why);
int cp__parse_int(const char *s, size_t len, int64_t *out, const char **why);
int cp__parse_float(const char *s, size_t len, double *out, const char **why);
int cp__parse_money(const char *s, size_t len, int64_t *fen, const char **why);
int cp__parse_date(const char *s, size_t len, cp_date *out, const char **why);
/* Format money as yuan ("12.50", "-0.05", "3"): trailing zero decimals are
 * dropped only when both are zero.  buf needs 32 bytes. */
void cp__format_money(int64_t fen, char *buf, size_t size);
/* Normalize a Chinese MSISDN: strip +86 / 0086 / 86 from numbers of 13 or
 * more digits, require 11 digits.  out needs len+1 bytes.  CP_OK or CP_ETYPE. */
int cp__normalize_msisdn_cn(const char *s, size_t len, char *out, size_t outsize,
                            const char **why);

#endif /* CP_INTERNAL_H */
