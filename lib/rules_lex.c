/*
 * rules_lex.c — tokens of the rule language (DESIGN §5.1): numbers, strings
 * with \\ \' \" \n \t \uXXXX escapes, identifiers, $parameters, lower-case
 * keywords, operators and comments from '#' to the end of the line.
 */
#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static void lex_error(cp__lexer *lx, cp__token *t, size_t off, const char *fmt, ...)
	CP_PRINTF(4, 5);

static void lex_error(cp__lexer *lx, cp__token *t, size_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lx->errs)
		cp__expr_error(lx->errs, lx->expr, CP_ESYNTAX, off, "%s", msg);
	t->kind = TK_ERROR;
	t->off = (uint32_t)off;
	t->len = 0;
}

static const struct {
	const char *word;
	int kind;
} keywords[] = {
	{"and", TK_AND}, {"or", TK_OR}, {"not", TK_NOT}, {"in", TK_IN},
	{"between", TK_BETWEEN}, {"true", TK_TRUE}, {"false", TK_FALSE}, {"null", TK_NULL},
};

/* Decode one UTF-8 sequence at s[0..n) for a message; the code point or -1. */
static long utf8_at(const unsigned char *s, size_t n, size_t *len)
{
	unsigned c = s[0];
	size_t k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
	*len = k + 1;
	if (c >= 0x80 && (k == 0 || k >= n || !cp__utf8_valid((const char *)s, k + 1))) {
		*len = 1;
		return -1;
	}
	long cp = k == 0 ? c : (long)(c & (0x3F >> k));
	for (size_t i = 1; i <= k; i++)
		cp = (cp << 6) | (s[i] & 0x3F);
	return cp;
}

static void put_utf8(char *out, size_t *o, unsigned long cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xC0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xE0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*o)++] = (char)(0xF0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	}
}

static int hex4(const char *s, size_t n, unsigned long *v)
{
	if (n < 4)
		return -1;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int c = s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = *v * 16 + (unsigned long)d;
	}
	return 0;
}

static void lex_string(cp__lexer *lx, cp__token *t)
{
	const char *s = lx->text;
	size_t start = lx->pos, i = start + 1, n = lx->len;
	char quote = s[start];
	/* the decoded text is never longer than the source */
	size_t end = i;
	while (end < n && s[end] != quote) {
		if (s[end] == '\\' && end + 1 < n)
			end++;
		end++;
	}
	if (end >= n) {
		lex_error(lx, t, start, "unterminated string: missing the closing %c", quote);
		lx->pos = n;
		return;
	}
	if (end - start - 1 > CP_RULES_MAX_STRING) {
		lex_error(lx, t, start, "string is %zu bytes long; the limit is %d",
		          end - start - 1, CP_RULES_MAX_STRING);
		lx->pos = end + 1;
		return;
	}
	char *out = cp__arena_alloc(lx->arena, end - start + 1);
	if (!out) {
		lex_error(lx, t, start, "out of memory");
		return;
	}
	size_t o = 0;
	while (i < end) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			char e = s[i + 1];
			switch (e) {
			case '\\': out[o++] = '\\'; i += 2; continue;
			case '\'': out[o++] = '\''; i += 2; continue;
			case '"': out[o++] = '"'; i += 2; continue;
			case 'n': out[o++] = '\n'; i += 2; continue;
			case 't': out[o++] = '\t'; i += 2; continue;
			case 'u': {
				unsigned long cp, lo;
				if (hex4(s + i + 2, end - i - 2, &cp) != 0) {
					lex_error(lx, t, i, "\\u needs four hex digits (\\u00e9)");
					lx->pos = end + 1;
					return;
				}
				size_t used = 6;
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					/* a surrogate pair: \uD83D\uDE00 */
					if (i + 12 <= end && s[i + 6] == '\\' && s[i + 7] == 'u' &&
					    hex4(s + i + 8, 4, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						used = 12;
					} else {
						lex_error(lx, t, i, "\\u%04lX is half of a surrogate pair; the second half (\\uDC00-\\uDFFF) must follow", cp);
						lx->pos = end + 1;
						return;
					}
				} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
					lex_error(lx, t, i, "\\u%04lX is the second half of a surrogate pair without a first", cp);
					lx->pos = end + 1;
					return;
				} else if (cp == 0) {
					lex_error(lx, t, i, "\\u0000 is not allowed in a string");
					lx->pos = end + 1;
					return;
				}
				put_utf8(out, &o, cp);
				i += used;
				continue;
			}
			default: {
				size_t l;
				long cp = utf8_at((const unsigned char *)s + i + 1, end - i - 1, &l);
				if (cp >= 0x20 && cp < 0x7F)
					lex_error(lx, t, i, "unknown escape '\\%c' (use \\\\ \\' \\\" \\n \\t or \\uXXXX)", (int)cp);
				else
					lex_error(lx, t, i, "unknown escape (use \\\\ \\' \\\" \\n \\t or \\uXXXX)");
				lx->pos = end + 1;
				return;
			}
			}
		}
		if (c >= 0x80) {
			size_t l;
			if (utf8_at((const unsigned char *)s + i, end - i, &l) < 0) {
				lex_error(lx, t, i, "invalid UTF-8 in string");
				lx->pos = end + 1;
				return;
			}
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		out[o++] = (char)c;
		i++;
	}
	out[o] = '\0';
	t->kind = TK_STRING;
	t->s = out;
	t->slen = (uint32_t)o;
	t->len = (uint32_t)(end + 1 - start);
	lx->pos = end + 1;
}

static void lex_number(cp__lexer *lx, cp__token *t)
{
	const char *s = lx->text;
	size_t i = lx->pos, n = lx->len, start = i;
	while (i < n && is_digit(s[i]))
		i++;
	bool is_float = false;
	/* "0..5" is 0, '..', 5: a fraction needs a digit after the dot */
	if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
		is_float = true;
		i++;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < n && is_digit(s[j])) {
			is_float = true;
			i = j;
			while (i < n && is_digit(s[i]))
				i++;
		}
	}
	if (i < n && (is_ident_char(s[i]) || (s[i] == '.' && !(i + 1 < n && s[i + 1] == '.')))) {
		size_t e = i;
		while (e < n && (is_ident_char(s[e]) || s[e] == '.'))
			e++;
		lex_error(lx, t, start, "malformed number '%.*s'", (int)(e - start), s + start);
		lx->pos = e;
		return;
	}
	t->len = (uint32_t)(i - start);
	lx->pos = i;
	char buf[400];
	if (i - start >= sizeof(buf)) {
		lex_error(lx, t, start, "number is too long");
		return;
	}
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	if (is_float) {
		errno = 0;
		double v = strtod(buf, NULL);
		if (errno == ERANGE && fabs(v) > 1) {
			lex_error(lx, t, start, "number '%s' is too large", buf);
			return;
		}
		t->kind = TK_FLOAT;
		t->f = v;
		return;
	}
	uint64_t v = 0;
	bool over = false;
	for (size_t k = start; k < i; k++) {
		unsigned d = (unsigned)(s[k] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			over = true;
			break;
		}
		v = v * 10 + d;
	}
	t->kind = TK_INT;
	if (over || v > (uint64_t)INT64_MAX + 1) {
		lex_error(lx, t, start, "integer '%s' is out of range (at most 9223372036854775807)", buf);
		return;
	}
	/* 9223372036854775808 is only valid after a minus sign: the parser checks */
	t->int_overflow = v > (uint64_t)INT64_MAX;
	t->i = t->int_overflow ? INT64_MIN : (int64_t)v;
}

void cp__lex_next(cp__lexer *lx, cp__token *t)
{
	const char *s = lx->text;
	size_t n = lx->len;
	memset(t, 0, sizeof(*t));
	for (;;) {
		while (lx->pos < n && (s[lx->pos] == ' ' || s[lx->pos] == '\t' ||
		                       s[lx->pos] == '\n' || s[lx->pos] == '\r'))
			lx->pos++;
		if (lx->pos < n && s[lx->pos] == '#') {
			while (lx->pos < n && s[lx->pos] != '\n')
				lx->pos++;
			continue;
		}
		break;
	}
	size_t p = lx->pos;
	t->off = (uint32_t)p;
	if (p >= n) {
		t->kind = TK_EOF;
		return;
	}
	int c = (unsigned char)s[p];
	int c2 = p + 1 < n ? (unsigned char)s[p + 1] : 0;
	if (is_digit(c)) {
		lex_number(lx, t);
		return;
	}
	if (c == '\'' || c == '"') {
		lex_string(lx, t);
		return;
	}
	if (is_ident_start(c) || (c == '$' && is_ident_start(c2))) {
		size_t b = c == '$' ? p + 1 : p, e = b;
		while (e < n && is_ident_char(s[e]))
			e++;
		/* $pack.name: a parameter of one pack (ad-hoc queries) */
		if (c == '$' && e + 1 < n && s[e] == '.' && is_ident_start((unsigned char)s[e + 1]))
			for (e++; e < n && is_ident_char(s[e]);)
				e++;
		t->len = (uint32_t)(e - p);
		lx->pos = e;
		if (e - b > CP_RULES_MAX_NAME) {
			lex_error(lx, t, p, "name is %zu bytes long; the limit is %d", e - b,
			          CP_RULES_MAX_NAME);
			return;
		}
		if (c != '$') {
			for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
				if (strlen(keywords[k].word) == e - b &&
				    memcmp(keywords[k].word, s + b, e - b) == 0) {
					t->kind = keywords[k].kind;
					return;
				}
			}
		}
		t->s = cp__arena_strndup(lx->arena, s + b, e - b);
		if (!t->s) {
			lex_error(lx, t, p, "out of memory");
			return;
		}
		t->slen = (uint32_t)(e - b);
		t->kind = c == '$' ? TK_PARAM : TK_IDENT;
		return;
	}
	int kind = TK_ERROR;
	size_t len = 1;
	switch (c) {
	case '(': kind = TK_LPAREN; break;
	case ')': kind = TK_RPAREN; break;
	case '[': kind = TK_LBRACK; break;
	case ']': kind = TK_RBRACK; break;
	case ',': kind = TK_COMMA; break;
	case '+': kind = TK_PLUS; break;
	case '-': kind = TK_MINUS; break;
	case '*': kind = TK_STAR; break;
	case '/': kind = TK_SLASH; break;
	case '%': kind = TK_PERCENT; break;
	case '.':
		if (c2 == '.') {
			kind = TK_DOTDOT;
			len = 2;
		}
		break;
	case '=':
		if (c2 == '=') {
			kind = TK_EQ;
			len = 2;
		} else {
			lex_error(lx, t, p, "'=' is not an operator: write '==' to compare");
			lx->pos = p + 1;
			return;
		}
		break;
	case '!':
		if (c2 == '=') {
			kind = TK_NE;
			len = 2;
		} else {
			kind = TK_NOT;
		}
		break;
	case '<':
		if (c2 == '=') {
			kind = TK_LE;
			len = 2;
		} else if (c2 == '>') {
			lex_error(lx, t, p, "'<>' is not an operator: write '!='");
			lx->pos = p + 2;
			return;
		} else {
			kind = TK_LT;
		}
		break;
	case '>':
		if (c2 == '=') {
			kind = TK_GE;
			len = 2;
		} else {
			kind = TK_GT;
		}
		break;
	case '&':
		if (c2 == '&') {
			kind = TK_AND;
			len = 2;
		} else {
			lex_error(lx, t, p, "'&' is not an operator: write '&&' or 'and'");
			lx->pos = p + 1;
			return;
		}
		break;
	case '|':
		if (c2 == '|') {
			kind = TK_OR;
			len = 2;
		} else {
			lex_error(lx, t, p, "'|' is not an operator: write '||' or 'or'");
			lx->pos = p + 1;
			return;
		}
		break;
	default:
		break;
	}
	if (kind == TK_ERROR) {
		size_t l;
		long cp = utf8_at((const unsigned char *)s + p, n - p, &l);
		if (cp < 0)
			lex_error(lx, t, p, "invalid UTF-8 in expression");
		else if (cp == 0x2018 || cp == 0x2019 || cp == 0x201C || cp == 0x201D)
			lex_error(lx, t, p, "typographic quote '%.*s': strings use ' or \"", (int)l, s + p);
		else if (cp == 0xFF08 || cp == 0xFF09 || cp == 0xFF0C)
			lex_error(lx, t, p, "full-width '%.*s': write the ASCII character", (int)l, s + p);
		else if (cp >= 0x20 && cp < 0x7F)
			lex_error(lx, t, p, "unexpected character '%c'", (int)cp);
		else if (cp < 0x20 || cp == 0x7F)
			lex_error(lx, t, p, "unexpected control character U+%04lX", cp);
		else
			lex_error(lx, t, p, "unexpected character '%.*s' (U+%04lX)", (int)l, s + p, cp);
		lx->pos = p + l;
		return;
	}
	t->kind = kind;
	t->len = (uint32_t)len;
	lx->pos = p + len;
}

const char *cp__tok_describe(const cp__lexer *lx, const cp__token *t, char *buf, size_t size)
{
	switch (t->kind) {
	case TK_EOF:
		snprintf(buf, size, "end of expression");
		break;
	case TK_INT:
	case TK_FLOAT:
		snprintf(buf, size, "number %.*s", (int)(t->len > 40 ? 40 : t->len), lx->text + t->off);
		break;
	case TK_STRING:
		snprintf(buf, size, "string %.*s%s", (int)(t->len > 40 ? 40 : t->len),
		         lx->text + t->off, t->len > 40 ? "..." : "");
		break;
	case TK_IDENT:
		snprintf(buf, size, "name '%s'", t->s);
		break;
	case TK_PARAM:
		snprintf(buf, size, "parameter '$%s'", t->s);
		break;
	default:
		snprintf(buf, size, "'%.*s'", (int)t->len, lx->text + t->off);
		break;
	}
	return buf;
}
