/*
 * parse_fast.h — inline fast paths of the cell parsers of value.c for the
 * short forms that make up most of an export ("152", "222.92",
 * "2095.534", "1"), for bulk loading (store_bulk.c).
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

static inline int cp__parse_bool_fast(const char *s, size_t len, int *out, const char **why)
{
	if (len == 1 && (s[0] == '0' || s[0] == '1')) {
		*out = s[0] == '1';
		return CP_OK;
	}
	return cp__parse_bool(s, len, out, why);
}

#endif /* CP_PARSE_FAST_H */
