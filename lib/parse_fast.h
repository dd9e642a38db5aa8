/*
 * parse_fast.h — inline fast paths of the cell parsers of value.c for the
 * short forms that make up most of an export ("152", "222.92",
 * "2095.534", "2016-09-07", "1"), for bulk loading (store_bulk.c).
 *
 * Each cp__parse_X_fast takes what cp__parse_X takes and gives exactly its
 * result: the same value, or the same failure and reason, because whatever
 * is not of its fast form goes to cp__parse_X itself.  tests/check_core.c
 * compares the two on many random strings.
 *
 * Unlike the reference parsers they read a whole 8-byte word at s or
 * after a sign, so the caller guarantees CP_PARSE_PAD readable bytes
 * after s[len - 1] (the CSV reader pads its buffers so).  Bytes past the
 * text are read but never change the result.
 */
#ifndef CP_PARSE_FAST_H
#define CP_PARSE_FAST_H

#include "internal.h"

#include <string.h>

#define CP_PARSE_PAD 8u

/* ---- the calendar (proleptic Gregorian; H. Hinnant's algorithms), inline
 * for the date parser; value.c's cp__days_from_civil and
 * cp__days_in_month are these ---- */

static inline cp_date cp__civil_days(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153u * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (cp_date)(era * 146097 + (int)doe - 719468);
}

/* Days in month m (1..12) of year y; 0 for another m. */
static inline int cp__month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return m >= 1 && m <= 12 ? days[m - 1] : 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
	(defined(__GNUC__) || defined(__clang__))
#define CP_PARSE_SWAR 1
#endif

#ifdef CP_PARSE_SWAR

#define CP_SWAR_ZEROS 0x3030303030303030ull /* "00000000" */

/* 1 if all 8 bytes of v are ASCII digits. */
static inline bool cp__swar_digits8(uint64_t v)
{
	return ((v & 0xF0F0F0F0F0F0F0F0ull) |
	        (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ==
	       0x3333333333333333ull;
}

/* The number written by 8 digits (first in memory = most significant). */
static inline uint32_t cp__swar_value8(uint64_t v)
{
	const uint64_t mask = 0x000000FF000000FFull;
	v -= CP_SWAR_ZEROS;
	v = v * 10 + (v >> 8);
	v = ((v & mask) * (100 + (1000000ull << 32)) +
	     ((v >> 16) & mask) * (1 + (10000ull << 32))) >> 32;
	return (uint32_t)v;
}

/* The 8 bytes at s with s[0..n) (1 <= n <= 8) right-aligned and '0' in
 * front: "12.5" -> "00012.5". */
static inline uint64_t cp__swar_load(const char *s, size_t n)
{
	uint64_t v;
	memcpy(&v, s, 8);
	unsigned shift = (unsigned)(8 - n) * 8;
	return (v << shift) | (CP_SWAR_ZEROS & ~(~0ull << shift));
}

/* s[0..n) as 1 to 8 digits: their value in *value, or 0 if it is not. */
static inline int cp__swar_uint(const char *s, size_t n, uint32_t *value)
{
	if (n - 1 >= 8)
		return 0;
	uint64_t v = cp__swar_load(s, n);
	if (!cp__swar_digits8(v))
		return 0;
	*value = cp__swar_value8(v);
	return 1;
}

/*
 * s[0..n), 1 <= n <= 8, made of digits with at most one '.' (and not "."
 * alone): *value gets the digits as an integer, *frac the number of digits
 * after the dot (-1 without a dot).  0 if s is not of that form.
 */
static inline int cp__swar_decimal(const char *s, size_t n, uint32_t *value, int *frac)
{
	const uint64_t low7 = 0x7F7F7F7F7F7F7F7Full;
	if (n - 1 >= 8)
		return 0;
	uint64_t v = cp__swar_load(s, n);
	uint64_t x = v ^ 0x2E2E2E2E2E2E2E2Eull; /* '.' bytes are now 0 */
	uint64_t dots = ~(((x & low7) + low7) | x | low7);
	*frac = -1;
	if (dots) {
		if ((dots & (dots - 1)) || n == 1)
			return 0; /* two dots, or "." */
		unsigned at = (unsigned)__builtin_ctzll(dots) >> 3;
		*frac = 7 - (int)at;
		/* drop the dot: the bytes before it move up one, a '0' enters */
		uint64_t before = v & ((1ull << (8 * at)) - 1);
		v = (before << 8) | (v & (~0ull << 8 << (8 * at))) | 0x30u;
	}
	if (!cp__swar_digits8(v))
		return 0;
	*value = cp__swar_value8(v);
	return 1;
}

/* Unsigned money of at most 8 characters: yuan, at most 2 decimals. */
static inline int cp__swar_money(const char *s, size_t n, int64_t *fen)
{
	uint32_t v;
	int frac;
	if (n - 3 < 6) {
		/* the usual "yuan.fen": the dot third from the end (byte 5 of the
		 * right-aligned word) is dropped at a known place */
		uint64_t w = cp__swar_load(s, n);
		if (((w >> 40) & 0xFF) == '.') {
			w = ((w & 0xFFFFFFFFFFull) << 8) | (w & 0xFFFF000000000000ull) | 0x30u;
			if (!cp__swar_digits8(w))
				return 0; /* another dot, or not a digit */
			*fen = cp__swar_value8(w);
			return 1;
		}
	}
	if (!cp__swar_decimal(s, n, &v, &frac) || frac > 2)
		return 0;
	*fen = (int64_t)v * (frac == 2 ? 1 : frac == 1 ? 10 : 100);
	return 1;
}

/* An unsigned plain decimal of at most 8 characters.  As the reference's
 * own fast path: at most 15 digits are exact in a double, and so is a
 * power of ten up to 1e15, so one division gives the correctly rounded
 * value, the same double. */
static inline int cp__swar_float(const char *s, size_t n, double *out)
{
	static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
	uint32_t v;
	int frac;
	if (!cp__swar_decimal(s, n, &v, &frac))
		return 0;
	*out = frac > 0 ? (double)v / pow10[frac] : (double)v;
	return 1;
}

/* A date "YYYY-MM-DD" or "YYYYMMDD" of a real day (year 1 on); reads only
 * s[0..n). */
static inline int cp__swar_date(const char *s, size_t n, cp_date *out)
{
	uint64_t w;
	if (n == 10 && s[4] == '-' && s[7] == '-') {
		/* "YYYY-MM-DD" -> "YYYYMMDD" from two overlapping words */
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + 2, 8);
		w = (a & 0xFFFFFFFFull) | ((a >> 8) & 0x0000FFFF00000000ull) |
		    (b & 0xFFFF000000000000ull);
	} else if (n == 8) {
		memcpy(&w, s, 8);
	} else {
		return 0;
	}
	if (!cp__swar_digits8(w))
		return 0;
	uint32_t ymd = cp__swar_value8(w);
	int y = (int)(ymd / 10000), m = (int)(ymd / 100 % 100), d = (int)(ymd % 100);
	if (y < 1 || d < 1 || d > cp__month_days(y, m))
		return 0;
	*out = cp__civil_days(y, m, d);
	return 1;
}

#endif /* CP_PARSE_SWAR */

/*
 * The unsigned forms inline (most cells); anything else is the _rest
 * function's (value.c): signed short forms, then the reference parser.
 * Both read as the fast parsers do (CP_PARSE_PAD bytes after the text).
 */
int cp__parse_int_rest(const char *s, size_t len, int64_t *out, const char **why);
int cp__parse_money_rest(const char *s, size_t len, int64_t *fen, const char **why);
int cp__parse_float_rest(const char *s, size_t len, double *out, const char **why);

static inline int cp__parse_int_fast(const char *s, size_t len, int64_t *out, const char **why)
{
#ifdef CP_PARSE_SWAR
	uint32_t v;
	if (CP_LIKELY(cp__swar_uint(s, len, &v))) {
		*out = (int64_t)v;
		return CP_OK;
	}
#endif
	return cp__parse_int_rest(s, len, out, why);
}

static inline int cp__parse_money_fast(const char *s, size_t len, int64_t *fen,
                                       const char **why)
{
#ifdef CP_PARSE_SWAR
	if (CP_LIKELY(cp__swar_money(s, len, fen)))
		return CP_OK;
#endif
	return cp__parse_money_rest(s, len, fen, why);
}

static inline int cp__parse_float_fast(const char *s, size_t len, double *out,
                                       const char **why)
{
#ifdef CP_PARSE_SWAR
	if (CP_LIKELY(cp__swar_float(s, len, out)))
		return CP_OK;
#endif
	return cp__parse_float_rest(s, len, out, why);
}

static inline int cp__parse_date_fast(const char *s, size_t len, cp_date *out, const char **why)
{
#ifdef CP_PARSE_SWAR
	if (CP_LIKELY(cp__swar_date(s, len, out)))
		return CP_OK;
#endif
	return cp__parse_date(s, len, out, why);
}

static inline int cp__parse_bool_fast(const char *s, size_t len, int *out, const char **why)
{
	if (len == 1 && (s[0] == '0' || s[0] == '1')) {
		*out = s[0] == '1';
		return CP_OK;
	}
	return cp__parse_bool(s, len, out, why);
}

#endif /* CP_PARSE_FAST_H */
