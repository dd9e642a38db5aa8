/*
 * yamlpos.c — map offsets of a parsed YAML scalar back to source positions.
 *
 * The source between a scalar's marks is scanned again following the rules
 * of libyaml 0.2.5's scanner for the scalar's style (src/scanner.c:
 * yaml_parser_scan_plain_scalar, _flow_scalar, _block_scalar and
 * _block_scalar_breaks), producing the value once more together with the
 * source position of every byte.  The functions below mirror those, step
 * for step, so that a difference is easy to spot.  The reproduction is
 * compared with the value libyaml gave as it is produced: only an identical
 * value is trusted.
 *
 * What libyaml does and we must match:
 * - a line break is CR LF, CR, LF, NEL (U+0085), LS (U+2028) or PS
 *   (U+2029); the first four read as "\n", LS and PS are kept;
 * - marks: index counts characters (CR LF is two), line counts breaks,
 *   column counts characters since the last break; a leading BOM is not
 *   counted;
 * - a block scalar's indentation is the parent node's indentation plus the
 *   indicator, or detected from the first non-empty line but at least the
 *   parent's plus one.  The parent's indentation is not in the event, so we
 *   try the likely indentations in turn and keep the one that reproduces the
 *   value (with content lines, only the right one can).
 */
#include "internal.h"
#include "yamlpos.h"

#include <string.h>

typedef struct ypos {
	unsigned line, col; /* 0-based, as in yaml_mark_t */
} ypos;

struct cp_yamlpos {
	size_t n;    /* entries of map: value length + 1, or 1 when not exact */
	bool exact;
	ypos *map;   /* map[i]: source of value byte i; map[len]: the end */
};

/* Try at most this many indentations for a block scalar before giving up. */
#define MAX_INDENT_TRIES 256

/* ---- source text ---------------------------------------------------- */

void cp__yamlsrc_init(cp_yamlsrc *src, const char *text, size_t len)
{
	src->text = text;
	src->len = text ? len : 0;
	src->start = 0;
	if (src->len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		src->start = 3;
	src->index = 0;
	src->byte = src->start;
}

/* Byte offset of the character whose mark index is index: a character is a
 * lead byte and its continuation bytes (what libyaml counts in UTF-8). */
static int src_seek(cp_yamlsrc *src, size_t index, size_t *byte)
{
	if (index < src->index) {
		src->index = 0;
		src->byte = src->start;
	}
	const unsigned char *s = (const unsigned char *)src->text;
	while (src->index < index) {
		if (src->byte >= src->len)
			return CP_EINVAL;
		src->byte++;
		while (src->byte < src->len && (s[src->byte] & 0xC0) == 0x80)
			src->byte++;
		src->index++;
	}
	*byte = src->byte;
	return CP_OK;
}

/* ---- a cursor over the scalar's source ------------------------------ */

typedef struct cursor {
	const unsigned char *s;
	size_t pos, end; /* bytes; end is the scalar's end mark */
	ypos at;         /* position of s[pos] */
} cursor;

/* Length of the line break at p (left bytes available), 0 if none. */
static size_t break_len(const unsigned char *p, size_t left)
{
	if (left == 0)
		return 0;
	if (p[0] == '\r')
		return left >= 2 && p[1] == '\n' ? 2 : 1;
	if (p[0] == '\n')
		return 1;
	if (left >= 2 && p[0] == 0xC2 && p[1] == 0x85)
		return 2;
	if (left >= 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
		return 3;
	return 0;
}

static bool at_end(const cursor *c)
{
	return c->pos >= c->end;
}

static int peek(const cursor *c)
{
	return at_end(c) ? -1 : c->s[c->pos];
}

static size_t at_break(const cursor *c)
{
	return at_end(c) ? 0 : break_len(c->s + c->pos, c->end - c->pos);
}

static bool at_blank(const cursor *c)
{
	return peek(c) == ' ' || peek(c) == '\t';
}

static bool at_breakz(const cursor *c)
{
	return at_end(c) || at_break(c) > 0;
}

static bool at_blankz(const cursor *c)
{
	return at_blank(c) || at_breakz(c);
}

static size_t char_len(const cursor *c)
{
	unsigned char b = c->s[c->pos];
	size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
	return n <= c->end - c->pos ? n : c->end - c->pos;
}

static void skip_char(cursor *c)
{
	if (at_end(c))
		return;
	c->pos += char_len(c);
	c->at.col++;
}

static void skip_break(cursor *c)
{
	c->pos += at_break(c);
	c->at.line++;
	c->at.col = 0;
}

/* ---- the reproduced value ------------------------------------------- */

typedef struct output {
	const unsigned char *value;
	size_t len;     /* of value */
	size_t n;       /* bytes produced so far */
	ypos *map;      /* len + 1 entries */
	ypos end;       /* just after the last produced character */
	bool diverged;  /* differs from value, or the source is not well formed */
	bool nomem;
} output;

static void put(output *o, const unsigned char *b, size_t k, ypos at, ypos after)
{
	for (size_t i = 0; i < k && !o->diverged; i++) {
		if (o->n >= o->len || o->value[o->n] != b[i]) {
			o->diverged = true;
			return;
		}
		o->map[o->n++] = at;
	}
	o->end = after;
}

/* READ: copy one character. */
static void copy_char(cursor *c, output *o)
{
	ypos at = c->at;
	const unsigned char *p = c->s + c->pos;
	size_t k = char_len(c);
	skip_char(c);
	put(o, p, k, at, c->at);
}

/* Pending blanks and line breaks (libyaml's whitespaces, leading_break and
 * trailing_breaks strings), each with its source position. */
typedef struct piece {
	ypos at;
	unsigned char n, b[3];
	bool is_break;
} piece;

typedef struct pieces {
	piece *v;
	size_t n, cap;
} pieces;

static piece *pieces_add(pieces *ps, output *o)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 8;
		piece *v = cp__reallocarray(ps->v, cap, sizeof(*v));
		if (!v) {
			o->nomem = o->diverged = true;
			return NULL;
		}
		ps->v = v;
		ps->cap = cap;
	}
	return &ps->v[ps->n++];
}

/* READ into a pending string: a blank. */
static void push_blank(pieces *ps, cursor *c, output *o)
{
	piece *p = pieces_add(ps, o);
	if (p) {
		*p = (piece){.at = c->at, .n = 1, .b = {c->s[c->pos]}};
	}
	skip_char(c);
}

/* READ_LINE: CR LF, CR, LF and NEL read as "\n"; LS and PS are kept. */
static void push_break(pieces *ps, cursor *c, output *o)
{
	size_t k = at_break(c);
	piece *p = pieces_add(ps, o);
	if (p) {
		*p = (piece){.at = c->at, .n = 1, .b = {'\n'}, .is_break = true};
		if (k == 3) {
			p->n = 3;
			memcpy(p->b, c->s + c->pos, 3);
		}
	}
	skip_break(c);
}

/* JOIN a pending string to the value. */
static void put_pieces(output *o, pieces *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		ypos after = ps->v[i].at;
		if (!ps->v[i].is_break)
			after.col++;
		put(o, ps->v[i].b, ps->v[i].n, ps->v[i].at, after);
	}
	ps->n = 0;
}

static bool is_lf(const pieces *ps)
{
	return ps->n > 0 && ps->v[0].n == 1 && ps->v[0].b[0] == '\n';
}

typedef struct blanks {
	pieces ws, lead, trail; /* whitespaces, leading_break, trailing_breaks */
	bool leading;           /* leading_blanks */
} blanks;

static void blanks_free(blanks *bl)
{
	cp__free(bl->ws.v);
	cp__free(bl->lead.v);
	cp__free(bl->trail.v);
}

/* Consume blanks and line breaks between words (plain and flow scalars). */
static void eat_blanks(blanks *bl, cursor *c, output *o)
{
	while (!o->diverged && (at_blank(c) || at_break(c))) {
		if (at_blank(c)) {
			if (!bl->leading)
				push_blank(&bl->ws, c, o);
			else
				skip_char(c);
		} else if (!bl->leading) {
			bl->ws.n = 0;
			push_break(&bl->lead, c, o);
			bl->leading = true;
		} else {
			push_break(&bl->trail, c, o);
		}
	}
}

/* Join the whitespaces or fold the line breaks. */
static void join_blanks(blanks *bl, output *o)
{
	if (!bl->leading) {
		put_pieces(o, &bl->ws);
		return;
	}
	if (is_lf(&bl->lead)) {
		if (bl->trail.n == 0)
			put(o, (const unsigned char *)" ", 1, bl->lead.v[0].at, bl->lead.v[0].at);
		else
			put_pieces(o, &bl->trail);
		bl->lead.n = 0;
	} else {
		put_pieces(o, &bl->lead);
		put_pieces(o, &bl->trail);
	}
	bl->leading = false;
}

/* ---- plain scalars ------------------------------------------------------ */

/* The end mark is just after the last character: no indicator, comment or
 * trailing blank lies inside the region, so only folding matters. */
static void scan_plain(cursor *c, output *o)
{
	blanks bl = {0};
	while (!at_end(c) && !o->diverged) {
		while (!at_blankz(c) && !o->diverged) {
			if (bl.leading || bl.ws.n)
				join_blanks(&bl, o);
			copy_char(c, o);
		}
		eat_blanks(&bl, c, o);
	}
	blanks_free(&bl);
}

/* ---- quoted scalars ----------------------------------------------------- */

static size_t utf8_encode(unsigned long v, unsigned char *b)
{
	if (v <= 0x7F) {
		b[0] = (unsigned char)v;
		return 1;
	}
	if (v <= 0x7FF) {
		b[0] = (unsigned char)(0xC0 + (v >> 6));
		b[1] = (unsigned char)(0x80 + (v & 0x3F));
		return 2;
	}
	if (v <= 0xFFFF) {
		b[0] = (unsigned char)(0xE0 + (v >> 12));
		b[1] = (unsigned char)(0x80 + ((v >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 + (v & 0x3F));
		return 3;
	}
	b[0] = (unsigned char)(0xF0 + (v >> 18));
	b[1] = (unsigned char)(0x80 + ((v >> 12) & 0x3F));
	b[2] = (unsigned char)(0x80 + ((v >> 6) & 0x3F));
	b[3] = (unsigned char)(0x80 + (v & 0x3F));
	return 4;
}

static int hex_digit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The escapes of double-quoted scalars that stand for fixed bytes. */
static const struct {
	char name;
	unsigned char n;
	const char *bytes;
} fixed_escapes[] = {
	{'0', 1, "\0"}, {'a', 1, "\a"}, {'b', 1, "\b"}, {'t', 1, "\t"}, {'\t', 1, "\t"},
	{'n', 1, "\n"}, {'v', 1, "\v"}, {'f', 1, "\f"}, {'r', 1, "\r"}, {'e', 1, "\x1B"},
	{' ', 1, " "}, {'"', 1, "\""}, {'\'', 1, "'"}, {'\\', 1, "\\"}, {'/', 1, "/"},
	{'N', 2, "\xC2\x85"}, {'_', 2, "\xC2\xA0"}, {'L', 3, "\xE2\x80\xA8"},
	{'P', 3, "\xE2\x80\xA9"},
};

/* An escape sequence of a double-quoted scalar; c is at the backslash. */
static void copy_escape(cursor *c, output *o)
{
	ypos at = c->at;
	int e = c->end - c->pos >= 2 ? c->s[c->pos + 1] : -1;
	unsigned char b[4];
	size_t n = 0, hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
	for (size_t i = 0; i < sizeof(fixed_escapes) / sizeof(fixed_escapes[0]); i++) {
		if (fixed_escapes[i].name == e) {
			n = fixed_escapes[i].n;
			memcpy(b, fixed_escapes[i].bytes, n);
		}
	}
	if (!n && !hex) { /* libyaml rejects it */
		o->diverged = true;
		return;
	}
	skip_char(c);
	skip_char(c);
	if (hex) {
		unsigned long v = 0;
		for (size_t i = 0; i < hex; i++) {
			int d = hex_digit(peek(c));
			if (d < 0) {
				o->diverged = true;
				return;
			}
			v = (v << 4) + (unsigned long)d;
			skip_char(c);
		}
		if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) {
			o->diverged = true;
			return;
		}
		n = utf8_encode(v, b);
	}
	put(o, b, n, at, c->at);
}

static void scan_quoted(cursor *c, output *o, bool single)
{
	const int quote = single ? '\'' : '"';
	blanks bl = {0};
	skip_char(c); /* the left quote */
	o->end = c->at;
	while (!o->diverged) {
		if (at_end(c)) { /* no right quote before the end mark */
			o->diverged = true;
			break;
		}
		bl.leading = false;
		while (!at_blankz(c) && !o->diverged) {
			const unsigned char *p = c->s + c->pos;
			size_t left = c->end - c->pos;
			if (single && p[0] == '\'' && left >= 2 && p[1] == '\'') {
				ypos at = c->at;
				skip_char(c);
				skip_char(c);
				put(o, p, 1, at, c->at);
			} else if (p[0] == quote) {
				break;
			} else if (!single && p[0] == '\\' && break_len(p + 1, left - 1)) {
				/* an escaped line break: both vanish */
				skip_char(c);
				skip_break(c);
				bl.leading = true;
				break;
			} else if (!single && p[0] == '\\') {
				copy_escape(c, o);
			} else {
				copy_char(c, o);
			}
		}
		if (peek(c) == quote || o->diverged)
			break;
		eat_blanks(&bl, c, o);
		join_blanks(&bl, o);
	}
	blanks_free(&bl);
}

/* ---- block scalars ------------------------------------------------------ */

typedef struct block_header {
	int chomping;      /* -1 strip, 0 clip, +1 keep */
	unsigned increment; /* indentation indicator, 0 if none */
} block_header;

/* The indicator line: | or >, chomping and indentation indicators in either
 * order, blanks, an optional comment, the line break. */
static void scan_block_header(cursor *c, output *o, block_header *h)
{
	*h = (block_header){0};
	skip_char(c);
	for (int i = 0; i < 2; i++) {
		int ch = peek(c);
		if ((ch == '+' || ch == '-') && h->chomping == 0) {
			h->chomping = ch == '+' ? 1 : -1;
			skip_char(c);
		} else if (ch >= '1' && ch <= '9' && h->increment == 0) {
			h->increment = (unsigned)(ch - '0');
			skip_char(c);
		}
	}
	while (at_blank(c))
		skip_char(c);
	if (peek(c) == '#')
		while (!at_breakz(c))
			skip_char(c);
	if (!at_breakz(c))
		o->diverged = true;
	else if (at_break(c))
		skip_break(c);
}

/* yaml_parser_scan_block_scalar_breaks: indentation spaces and empty lines.
 * *indent 0 means "detect". */
static void block_breaks(cursor *c, output *o, unsigned *indent, pieces *breaks)
{
	unsigned max_indent = 0;
	while (!o->diverged) {
		while ((!*indent || c->at.col < *indent) && peek(c) == ' ')
			skip_char(c);
		if (c->at.col > max_indent)
			max_indent = c->at.col;
		if ((!*indent || c->at.col < *indent) && peek(c) == '\t') {
			o->diverged = true; /* libyaml rejects a tab in the indentation */
			return;
		}
		if (!at_break(c))
			break;
		push_break(breaks, c, o);
	}
	if (!*indent)
		*indent = max_indent > 1 ? max_indent : 1;
}

static void scan_block(cursor *c, output *o, bool literal, unsigned indent)
{
	block_header h;
	pieces lead = {0}, trail = {0};
	bool leading_blank = false;
	scan_block_header(c, o, &h);
	block_breaks(c, o, &indent, &trail);
	while (c->at.col == indent && !at_end(c) && !o->diverged) {
		bool trailing_blank = at_blank(c);
		if (!literal && is_lf(&lead) && !leading_blank && !trailing_blank) {
			if (trail.n == 0)
				put(o, (const unsigned char *)" ", 1, lead.v[0].at, lead.v[0].at);
			lead.n = 0;
		} else {
			put_pieces(o, &lead);
		}
		put_pieces(o, &trail);
		leading_blank = at_blank(c);
		while (!at_breakz(c) && !o->diverged)
			copy_char(c, o);
		if (at_break(c))
			push_break(&lead, c, o);
		block_breaks(c, o, &indent, &trail);
	}
	if (h.chomping != -1)
		put_pieces(o, &lead);
	if (h.chomping == 1)
		put_pieces(o, &trail);
	cp__free(lead.v);
	cp__free(trail.v);
}

/* The indentation that makes the first content line of the value start
 * where it does in the source, or 0.  c is just after the indicator line. */
static unsigned guess_indent(cursor c, const output *o)
{
	while (!at_end(&c)) { /* the first source line with a non-space character */
		while (peek(&c) == ' ')
			skip_char(&c);
		if (!at_break(&c))
			break;
		skip_break(&c);
	}
	size_t i = 0, spaces = 0;
	while (i < o->len && o->value[i] == '\n')
		i++;
	while (i + spaces < o->len && o->value[i + spaces] == ' ')
		spaces++;
	return c.at.col > spaces ? c.at.col - (unsigned)spaces : 0;
}

/* One attempt with one indentation (0: detect); true when it is final. */
static bool scan_block_with(const cursor *start, output *o, const output *fresh,
                            bool literal, unsigned indent)
{
	cursor c = *start;
	*o = *fresh;
	scan_block(&c, o, literal, indent);
	return o->nomem || (!o->diverged && o->n == o->len);
}

/* Scan with one indentation after another until the value is reproduced:
 * libyaml's own choice first (detection, unless there is an indentation
 * indicator), then the one the value suggests, then 1, 2, ... */
static void scan_block_any_indent(const cursor *start, output *o, bool literal)
{
	const output fresh = *o;
	cursor c = *start;
	block_header h;
	scan_block_header(&c, o, &h);
	if (o->diverged)
		return;
	unsigned guess = guess_indent(c, o);
	if (!h.increment && scan_block_with(start, o, &fresh, literal, 0))
		return;
	if (guess && scan_block_with(start, o, &fresh, literal, guess))
		return;
	for (unsigned indent = 1; indent <= MAX_INDENT_TRIES; indent++)
		if (indent != guess && scan_block_with(start, o, &fresh, literal, indent))
			return;
}

/* ---- the map ------------------------------------------------------------ */

/* Anchors and tags before the scalar: start marks point at them. */
static void skip_properties(cursor *c)
{
	while (peek(c) == '&' || peek(c) == '!') {
		while (!at_blankz(c))
			skip_char(c);
		for (;;) {
			if (at_blank(c)) {
				skip_char(c);
			} else if (at_break(c)) {
				skip_break(c);
			} else if (peek(c) == '#') {
				while (!at_breakz(c))
					skip_char(c);
			} else {
				break;
			}
		}
	}
}

static yaml_scalar_style_t style_at(const cursor *c)
{
	switch (peek(c)) {
	case '\'': return YAML_SINGLE_QUOTED_SCALAR_STYLE;
	case '"': return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	case '|': return YAML_LITERAL_SCALAR_STYLE;
	case '>': return YAML_FOLDED_SCALAR_STYLE;
	default: return YAML_PLAIN_SCALAR_STYLE;
	}
}

int cp__yamlpos_new(cp_yamlpos **out, cp_yamlsrc *src, const yaml_mark_t *start,
                    const yaml_mark_t *end, yaml_scalar_style_t style,
                    const char *value, size_t value_len)
{
	size_t from, to;
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!src || !start || !end || (!value && value_len) || end->index < start->index ||
	    value_len == SIZE_MAX)
		return CP_EINVAL;
	if (src_seek(src, start->index, &from) != CP_OK || src_seek(src, end->index, &to) != CP_OK)
		return CP_EINVAL;

	cp_yamlpos *pos = cp__calloc(1, sizeof(*pos));
	ypos *map = cp__calloc(value_len + 1, sizeof(*map));
	if (!pos || !map) {
		cp__free(pos);
		cp__free(map);
		return CP_ENOMEM;
	}
	cursor c = {
		.s = (const unsigned char *)src->text,
		.pos = from,
		.end = to,
		.at = {(unsigned)start->line, (unsigned)start->column},
	};
	skip_properties(&c);
	ypos token = c.at;
	output o = {.value = (const unsigned char *)value, .len = value_len, .map = map, .end = token};
	yaml_scalar_style_t found = style_at(&c);
	if (style != YAML_ANY_SCALAR_STYLE && style != found)
		o.diverged = true;
	else if (found == YAML_PLAIN_SCALAR_STYLE)
		scan_plain(&c, &o);
	else if (found == YAML_SINGLE_QUOTED_SCALAR_STYLE || found == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		scan_quoted(&c, &o, found == YAML_SINGLE_QUOTED_SCALAR_STYLE);
	else
		scan_block_any_indent(&c, &o, found == YAML_LITERAL_SCALAR_STYLE);

	if (o.nomem) {
		cp__free(map);
		cp__free(pos);
		return CP_ENOMEM;
	}
	pos->map = map;
	pos->exact = !o.diverged && o.n == value_len;
	if (pos->exact) {
		pos->n = value_len + 1;
		map[value_len] = o.end;
	} else {
		pos->n = 1;
		map[0] = token;
	}
	*out = pos;
	return CP_OK;
}

void cp__yamlpos_locate(const cp_yamlpos *pos, size_t offset, unsigned *line, unsigned *col)
{
	unsigned l = 0, c = 0; /* unknown */
	if (pos) {
		ypos p = pos->map[offset < pos->n ? offset : pos->n - 1];
		l = p.line + 1;
		c = p.col + 1;
	}
	if (line)
		*line = l;
	if (col)
		*col = c;
}

bool cp__yamlpos_exact(const cp_yamlpos *pos)
{
	return pos && pos->exact;
}

void cp__yamlpos_free(cp_yamlpos *pos)
{
	if (!pos)
		return;
	cp__free(pos->map);
	cp__free(pos);
}
