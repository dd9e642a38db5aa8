/*
 * value.c — calendar dates and the text forms of cell values (the CSV cell
 * grammar of custprof-schema(5)), shared by CSV ingest, profile setters and
 * the rule language.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- calendar (proleptic Gregorian; H. Hinnant's algorithms) ---- */

cp_date cp__days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153u * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (cp_date)(era * 146097 + (int)doe - 719468);
}

void cp__civil_from_days(cp_date z0, int *y, int *m, int *d)
{
	/* 64 bits: every cp_date is a day, and z0 + 719468 overflows an int
	 * near INT32_MAX (years then reach about 5.9 million: an int holds them) */
	int64_t z = (int64_t)z0 + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int yy = (int)((int64_t)yoe + era * 400);
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned dd = doy - (153 * mp + 2) / 5 + 1;
	unsigned mm = mp < 10 ? mp + 3 : mp - 9;
	if (y)
		*y = yy + (mm <= 2);
	if (m)
		*m = (int)mm;
	if (d)
		*d = (int)dd;
}

int cp__days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return m >= 1 && m <= 12 ? days[m - 1] : 0;
}

int cp_date_from_ymd(cp_date *out, int y, int m, int d)
{
	if (!out || y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > cp__days_in_month(y, m))
		return CP_EINVAL;
	*out = cp__days_from_civil(y, m, d);
	return CP_OK;
}

void cp_date_to_ymd(cp_date date, int *y, int *m, int *d)
{
	cp__civil_from_days(date, y, m, d);
}

int cp_date_parse(cp_date *out, const char *text)
{
	const char *why;
	if (!out || !text)
		return CP_EINVAL;
	return cp__parse_date(text, strlen(text), out, &why) == CP_OK ? CP_OK : CP_EINVAL;
}

/* ---- cell parsers ---- */

static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int cp__parse_date(const char *s, size_t len, cp_date *out, const char **why)
{
	int y, m, d;
	if (len == 10 && s[4] == '-' && s[7] == '-') {
		y = digits(s, 4);
		m = digits(s + 5, 2);
		d = digits(s + 8, 2);
	} else if (len == 8) {
		y = digits(s, 4);
		m = digits(s + 4, 2);
		d = digits(s + 6, 2);
	} else {
		*why = "not a date (YYYY-MM-DD or YYYYMMDD)";
		return CP_ETYPE;
	}
	if (y < 0 || m < 0 || d < 0) {
		*why = "not a date (YYYY-MM-DD or YYYYMMDD)";
		return CP_ETYPE;
	}
	if (cp_date_from_ymd(out, y, m, d) != CP_OK) {
		*why = "no such calendar day";
		return CP_ETYPE;
	}
	return CP_OK;
}

int cp__parse_bool(const char *s, size_t len, int *out, const char **why)
{
	/* Called for every bool cell of an ingest: compare lengths first. */
	static const struct {
		const char *text;
		unsigned char len, value;
	} words[] = {{"1", 1, 1},     {"0", 1, 0},     {"Y", 1, 1},     {"N", 1, 0},
	             {"y", 1, 1},     {"n", 1, 0},     {"true", 4, 1},  {"false", 5, 0},
	             {"是", 3, 1},    {"否", 3, 0},    {"TRUE", 4, 1},  {"FALSE", 5, 0},
	             {"True", 4, 1},  {"False", 5, 0}};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (words[i].len == len && memcmp(s, words[i].text, len) == 0) {
			*out = words[i].value;
			return CP_OK;
		}
	}
	*why = "not a bool (1/0, true/false, Y/N, 是/否)";
	return CP_ETYPE;
}

int cp__parse_int(const char *s, size_t len, int64_t *out, const char **why)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (i == len) {
		*why = "not an integer";
		return CP_ETYPE;
	}
	const unsigned char *p = (const unsigned char *)s + i, *end = (const unsigned char *)s + len;
	uint64_t v = 0;
	if (len - i <= 18) {
		/* up to 18 digits cannot overflow */
		for (; p < end; p++) {
			unsigned dgt = (unsigned)*p - '0';
			if (dgt > 9) {
				*why = "not an integer";
				return CP_ETYPE;
			}
			v = v * 10 + dgt;
		}
	} else {
		uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (; p < end; p++) {
			unsigned dgt = (unsigned)*p - '0';
			if (dgt > 9) {
				*why = "not an integer";
				return CP_ETYPE;
			}
			if (v > (limit - dgt) / 10) {
				*why = "integer out of range";
				return CP_ETYPE;
			}
			v = v * 10 + dgt;
		}
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return CP_OK;
}

/*
 * Plain decimals of at most 15 digits ("12.75", "-0.5", "300"): the digits
 * as an integer and the power of ten are exact doubles, so one division
 * gives the correctly rounded value (Clinger's fast path).  0 if s is not
 * of that form.
 */
static int parse_float_fast(const char *s, size_t len, double *out)
{
	static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	                               1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	uint64_t m = 0;
	int digits = 0, frac = -1;
	for (; i < len; i++) {
		unsigned dgt = (unsigned)(unsigned char)s[i] - '0';
		if (dgt <= 9) {
			m = m * 10 + dgt;
			digits++;
			if (frac >= 0)
				frac++;
		} else if (s[i] == '.' && frac < 0) {
			frac = 0;
		} else {
			return 0;
		}
	}
	if (digits == 0 || digits > 15)
		return 0;
	double v = (double)m;
	if (frac > 0)
		v /= pow10[frac];
	*out = neg ? -v : v;
	return 1;
}

int cp__parse_float(const char *s, size_t len, double *out, const char **why)
{
	char tmp[64];
	if (parse_float_fast(s, len, out))
		return CP_OK;
	/* Only plain decimal notation with an optional exponent: no hex, inf, nan. */
	if (len == 0 || len >= sizeof(tmp)) {
		*why = "not a number";
		return CP_ETYPE;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' ||
		      c == 'E')) {
			*why = "not a number";
			return CP_ETYPE;
		}
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	char *end;
	errno = 0;
	double v = strtod(tmp, &end);
	if (end != tmp + len || !(tmp[0] == '-' || tmp[0] == '+' || tmp[0] == '.' ||
	                          (tmp[0] >= '0' && tmp[0] <= '9'))) {
		*why = "not a number";
		return CP_ETYPE;
	}
	if (errno == ERANGE && isinf(v)) {
		*why = "number out of range";
		return CP_ETYPE;
	}
	*out = v;
	return CP_OK;
}

int cp__parse_money(const char *s, size_t len, int64_t *fen, const char **why)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	size_t int_start = i;
	uint64_t yuan = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		yuan = yuan * 10 + (uint64_t)(s[i] - '0');
		if (yuan > (uint64_t)INT64_MAX / 100 - 1) {
			*why = "amount out of range";
			return CP_ETYPE;
		}
	}
	size_t int_digits = i - int_start;
	uint64_t frac = 0;
	size_t frac_digits = 0;
	if (i < len && s[i] == '.') {
		i++;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, frac_digits++)
			frac = frac * 10 + (uint64_t)(s[i] - '0');
		if (frac_digits > 2) {
			*why = "money has more than 2 decimals (yuan.fen)";
			return CP_ETYPE;
		}
	}
	if (i != len || (int_digits == 0 && frac_digits == 0)) {
		*why = "not an amount of money (yuan with at most 2 decimals)";
		return CP_ETYPE;
	}
	if (frac_digits == 1)
		frac *= 10;
	uint64_t v = yuan * 100 + frac;
	*fen = neg ? -(int64_t)v : (int64_t)v;
	return CP_OK;
}

void cp__format_money(int64_t fen, char *buf, size_t size)
{
	uint64_t a = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	const char *sign = fen < 0 ? "-" : "";
	if (a % 100 == 0)
		snprintf(buf, size, "%s%llu", sign, (unsigned long long)(a / 100));
	else
		snprintf(buf, size, "%s%llu.%02llu", sign, (unsigned long long)(a / 100),
		         (unsigned long long)(a % 100));
}

int cp__normalize_msisdn_cn(const char *s, size_t len, char *out, size_t outsize,
                            const char **why)
{
	size_t skip = 0;
	if (len >= 13) {
		if (len >= 3 && memcmp(s, "+86", 3) == 0)
			skip = 3;
		else if (len >= 4 && memcmp(s, "0086", 4) == 0)
			skip = 4;
		else if (memcmp(s, "86", 2) == 0)
			skip = 2;
	}
	s += skip;
	len -= skip;
	if (len != 11) {
		*why = "not an 11-digit mobile number";
		return CP_ETYPE;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*why = "not an 11-digit mobile number";
			return CP_ETYPE;
		}
	}
	if (outsize < len + 1) {
		*why = "number too long";
		return CP_ETYPE;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return CP_OK;
}
