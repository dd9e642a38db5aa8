/*
 * schema_yaml.c — the YAML front end of the schema (custprof-schema(5)).
 *
 * The text is parsed with libyaml's event API into a small tree that keeps
 * the position of every node.  The tree is then checked as a whole, so one
 * run reports every problem of the file, each at the line and column of the
 * offending node; the problems are sorted by position before they reach the
 * caller's cp_diag.  Only a YAML syntax error (or a limit hit while parsing)
 * stops the load early: after it there is no tree to check.
 *
 * Anchors, aliases and tags are refused: a schema never needs them, and
 * refusing aliases closes the door to alias-expansion ("billion laughs")
 * attacks.  Duplicate mapping keys, which libyaml accepts, are errors.
 */
#include "schema.h"
#include "builtin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SCHEMA_FORMAT_VERSION 1
#define MAX_SOURCE_BYTES (8u << 20) /* a schema file is a few KiB */
#define MAX_DEPTH 16                /* a schema needs 4 levels */
#define MAX_NODES (1u << 18)        /* a 4096-field schema has ~80000 */
#define MAX_NAME 64                 /* field names */
#define MAX_TEXT 256                /* schema name, labels, enum values */
#define MAX_DESCRIPTION 4096

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the tree ---- */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

typedef struct ynode ynode;
struct ynode {
	enum ykind kind;
	bool plain;         /* scalar written without quotes: may read as null, bool, int */
	bool bad;           /* already reported (alias, NUL byte): checks skip it silently */
	unsigned line, col; /* 1-based */
	char *text;         /* scalar: the value, NUL-terminated */
	size_t len;
	ynode **kids;       /* sequence: items; mapping: key, value, key, value, ... */
	size_t nkids, cap;
};

static void node_free(ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]); /* depth is bounded by MAX_DEPTH */
	cp__free(n->kids);
	cp__free(n->text);
	cp__free(n);
}

/* Number of entries: items of a sequence, pairs of a mapping. */
static size_t node_size(const ynode *n)
{
	return n->kind == Y_MAP ? n->nkids / 2 : n->nkids;
}

static bool is_null(const ynode *n)
{
	if (n->kind != Y_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static bool is_word(const ynode *n, const char *word)
{
	return n->kind == Y_SCALAR && !n->bad && strcmp(n->text, word) == 0;
}

/* Value of the first pair of map whose key is word, or NULL. */
static const ynode *map_get(const ynode *map, const char *word)
{
	if (!map || map->kind != Y_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->nkids; i += 2)
		if (is_word(map->kids[i], word))
			return map->kids[i + 1];
	return NULL;
}

static const char *kind_name(const ynode *n)
{
	return n->kind == Y_SEQ ? "a list" : n->kind == Y_MAP ? "a mapping" : "a single value";
}

/* ---- problems: collected, sorted by position, then handed to cp_diag ---- */

typedef struct problem {
	unsigned line, col;
	int code; /* the status this problem gives */
	size_t seq;
	char *msg;
} problem;

typedef struct loader {
	const char *file;
	problem *problems;
	size_t nproblems, cap;
	bool nomem;
	size_t nodes;
	cp_schema *schema;
	const char *key;   /* name of the key field (text of a tree node) */
	bool over_limit;   /* too many fields: reported once */
} loader;

static void vreport_at(loader *ld, int code, unsigned line, unsigned col, const char *fmt,
                       va_list ap)
{
	if (ld->nproblems == ld->cap) {
		size_t cap = ld->cap ? ld->cap * 2 : 16;
		problem *p = cp__reallocarray(ld->problems, cap, sizeof(*p));
		if (!p) {
			ld->nomem = true;
			return;
		}
		ld->problems = p;
		ld->cap = cap;
	}
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_vprintf(&b, fmt, ap);
	char *msg = cp__buf_steal(&b);
	if (!msg) {
		ld->nomem = true;
		return;
	}
	problem *p = &ld->problems[ld->nproblems];
	p->line = line;
	p->col = col;
	p->code = code;
	p->seq = ld->nproblems++;
	p->msg = msg;
}

static void report_at(loader *ld, int code, unsigned line, unsigned col, const char *fmt, ...)
	CP_PRINTF(5, 6);
static void report_at(loader *ld, int code, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport_at(ld, code, line, col, fmt, ap);
	va_end(ap);
}

static void report(loader *ld, int code, const ynode *at, const char *fmt, ...) CP_PRINTF(4, 5);
static void report(loader *ld, int code, const ynode *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport_at(ld, code, at ? at->line : 0, at ? at->col : 0, fmt, ap);
	va_end(ap);
}

static int problem_cmp(const void *a, const void *b)
{
	const problem *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort the problems by position, add them to diag and return the status of
 * the first one (CP_OK if there is none). */
static int emit_problems(loader *ld, cp_diag *diag)
{
	if (ld->nproblems == 0)
		return CP_OK;
	qsort(ld->problems, ld->nproblems, sizeof(problem), problem_cmp);
	for (size_t i = 0; i < ld->nproblems; i++) {
		const problem *p = &ld->problems[i];
		int rc = cp__diag_add(diag, CP_SEV_ERROR, ld->file, p->line, p->col, "%s", p->msg);
		if (rc != CP_OK)
			return rc;
	}
	return ld->problems[0].code;
}

/* ---- showing text in messages ---- */

#define SHOW_MAX 60

/* A scalar as a message shows it: in single quotes, at most SHOW_MAX bytes
 * (cut at a character boundary, then "..."), control characters as '?', so
 * a message stays one short line. */
typedef struct shown {
	char s[SHOW_MAX + 8];
} shown;

static const char *show_text(shown *sh, const char *text, size_t len)
{
	size_t n = len;
	if (n > SHOW_MAX) {
		n = SHOW_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
	}
	char *o = sh->s;
	*o++ = '\'';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		*o++ = c < 0x20 || c == 0x7F ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(o, "...", 3);
		o += 3;
	}
	*o++ = '\'';
	*o = '\0';
	return sh->s;
}

static const char *show(shown *sh, const ynode *n)
{
	if (n->kind != Y_SCALAR)
		return n->kind == Y_SEQ ? "[...]" : "{...}";
	return show_text(sh, n->text, n->len);
}

/* " (did you mean 'x'?)" when a candidate is close to name, else "". */
typedef struct hint {
	char s[MAX_TEXT + 32];
} hint;

static const char *suggest(hint *h, const char *name, const char *const *candidates, size_t n)
{
	const char *best = cp__closest(name, candidates, n);
	if (!best)
		return "";
	shown sh;
	snprintf(h->s, sizeof(h->s), " (did you mean %s?)", show_text(&sh, best, strlen(best)));
	return h->s;
}

/* ---- parsing: YAML events to a tree ---- */

/* Line and column (1-based, in characters) of a byte offset of text. */
static void position_of(const char *text, size_t len, size_t offset, unsigned *line,
                        unsigned *col)
{
	unsigned l = 1, c = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static int syntax_error(loader *ld, const yaml_parser_t *p, const char *text, size_t len)
{
	const char *msg = p->problem ? p->problem : "unknown error";
	unsigned line = (unsigned)p->problem_mark.line + 1;
	unsigned col = (unsigned)p->problem_mark.column + 1;
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		ld->nomem = true;
		return CP_ENOMEM;
	case YAML_READER_ERROR:
		/* Reader errors have a byte offset, not a mark. */
		position_of(text, len, p->problem_offset, &line, &col);
		if (strstr(msg, "UTF-8") || strstr(msg, "Unicode"))
			report_at(ld, CP_ESYNTAX, line, col, "invalid UTF-8 (%s)", msg);
		else
			report_at(ld, CP_ESYNTAX, line, col, "%s (byte 0x%02X)", msg,
			          (unsigned)p->problem_value & 0xFF);
		return CP_ESYNTAX;
	default:
		if (p->context && (p->context_mark.line != p->problem_mark.line ||
		                   p->context_mark.column != p->problem_mark.column))
			report_at(ld, CP_ESYNTAX, line, col,
			          "YAML syntax error: %s (%s at line %u, column %u)", msg,
			          p->context, (unsigned)p->context_mark.line + 1,
			          (unsigned)p->context_mark.column + 1);
		else if (p->context)
			report_at(ld, CP_ESYNTAX, line, col, "YAML syntax error: %s (%s)", msg,
			          p->context);
		else
			report_at(ld, CP_ESYNTAX, line, col, "YAML syntax error: %s", msg);
		return CP_ESYNTAX;
	}
}

typedef struct parse_state {
	ynode *stack[MAX_DEPTH]; /* open collections */
	int depth;
	ynode *root;
} parse_state;

static int attach(loader *ld, parse_state *ps, ynode *n)
{
	if (ps->depth == 0) {
		ps->root = n;
		return CP_OK;
	}
	ynode *parent = ps->stack[ps->depth - 1];
	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		ynode **k = cp__reallocarray(parent->kids, cap, sizeof(*k));
		if (!k) {
			ld->nomem = true;
			return CP_ENOMEM;
		}
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->nkids++] = n;
	return CP_OK;
}

/* A node event (scalar, alias, sequence or mapping start) into the tree. */
static int add_node(loader *ld, parse_state *ps, const yaml_event_t *ev)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	unsigned col = (unsigned)ev->start_mark.column + 1;
	if (++ld->nodes > MAX_NODES) {
		report_at(ld, CP_ELIMIT, line, col, "too many YAML nodes (at most %u)", MAX_NODES);
		return CP_ELIMIT;
	}
	ynode *n = cp__calloc(1, sizeof(*n));
	if (!n) {
		ld->nomem = true;
		return CP_ENOMEM;
	}
	n->line = line;
	n->col = col;
	const yaml_char_t *anchor = NULL, *tag = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n->kind = Y_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		n->len = ev->data.scalar.length;
		n->text = cp__strndup((const char *)ev->data.scalar.value, n->len);
		if (n->text && memchr(n->text, '\0', n->len)) {
			report_at(ld, CP_EINVAL, line, col,
			          "a NUL character is not allowed in a value");
			n->bad = true;
		}
		break;
	case YAML_ALIAS_EVENT:
		/* Kept as a placeholder so mappings stay key/value pairs. */
		n->kind = Y_SCALAR;
		n->bad = true;
		n->text = cp__strdup("");
		report_at(ld, CP_EINVAL, line, col,
		          "YAML aliases ('*%.60s') are not supported: write the value out",
		          (const char *)ev->data.alias.anchor);
		break;
	case YAML_SEQUENCE_START_EVENT:
		n->kind = Y_SEQ;
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	default:
		n->kind = Y_MAP;
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	}
	if (n->kind == Y_SCALAR && !n->text) {
		cp__free(n);
		ld->nomem = true;
		return CP_ENOMEM;
	}
	/* anchors and tags are ASCII (libyaml checks): "%.60s" cuts no character */
	if (anchor)
		report_at(ld, CP_EINVAL, line, col, "YAML anchors ('&%.60s') are not supported",
		          (const char *)anchor);
	if (tag) {
		report_at(ld, CP_EINVAL, line, col, "YAML tags ('%.60s') are not supported",
		          (const char *)tag);
		n->bad = true;
	}
	if (n->kind != Y_SCALAR && ps->depth == MAX_DEPTH) {
		cp__free(n);
		report_at(ld, CP_ELIMIT, line, col, "YAML nesting is too deep (at most %d levels)",
		          MAX_DEPTH);
		return CP_ELIMIT;
	}
	if (attach(ld, ps, n) != CP_OK) {
		node_free(n);
		return CP_ENOMEM;
	}
	if (n->kind != Y_SCALAR)
		ps->stack[ps->depth++] = n;
	return CP_OK;
}

/*
 * Parse text into a tree (*root is NULL when the text holds no document).
 * A problem that leaves no usable tree (syntax error, limit, no memory) is
 * reported and its status returned; others are reported and parsing goes on.
 */
static int parse(loader *ld, const char *text, size_t len, ynode **root)
{
	yaml_parser_t p;
	parse_state ps = {.depth = 0, .root = NULL};
	*root = NULL;
	if (!yaml_parser_initialize(&p)) {
		ld->nomem = true;
		return CP_ENOMEM;
	}
	/* With the encoding set (no UTF-16 guessing), libyaml does not skip a
	 * UTF-8 byte order mark itself. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		text += 3;
		len -= 3;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	int rc = CP_OK, docs = 0;
	bool done = false;
	while (!done && rc == CP_OK) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			rc = syntax_error(ld, &p, text, len);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				report_at(ld, CP_EINVAL, (unsigned)ev.start_mark.line + 1,
				          (unsigned)ev.start_mark.column + 1,
				          "a schema file holds one YAML document, not several");
				done = true;
			}
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			rc = add_node(ld, &ps, &ev);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			ps.depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (rc != CP_OK) {
		node_free(ps.root);
		return rc;
	}
	*root = ps.root;
	return CP_OK;
}

/* ---- sets of names, to find duplicate keys and values ---- */

typedef struct nameset {
	const ynode **slot;
	size_t mask;
} nameset;

static bool nameset_init(loader *ld, nameset *s, size_t n)
{
	size_t size = 16;
	while (size < n * 2)
		size *= 2;
	s->mask = size - 1;
	s->slot = cp__calloc(size, sizeof(*s->slot));
	if (!s->slot)
		ld->nomem = true;
	return s->slot != NULL;
}

static void nameset_free(nameset *s)
{
	cp__free(s->slot);
}

/* Add a scalar; returns the node added earlier with the same text, or NULL. */
static const ynode *nameset_add(nameset *s, const ynode *n)
{
	size_t h = cp__hash(n->text, n->len) & s->mask;
	for (; s->slot[h]; h = (h + 1) & s->mask) {
		const ynode *o = s->slot[h];
		if (o->len == n->len && memcmp(o->text, n->text, n->len) == 0)
			return o;
	}
	s->slot[h] = n;
	return NULL;
}

/* ---- typed values ---- */

/* What a message calls a value: "'months'" or "'label' of field 'age'". */
typedef struct what {
	char s[2 * SHOW_MAX + 32];
} what;

static const char *describe(what *w, const char *attr, const ynode *field)
{
	shown sh;
	if (field)
		snprintf(w->s, sizeof(w->s), "'%s' of field %s", attr, show(&sh, field));
	else
		snprintf(w->s, sizeof(w->s), "'%s'", attr);
	return w->s;
}

/* A scalar usable as text; reports and returns false otherwise. */
static bool want_scalar(loader *ld, const ynode *key, const ynode *v, const char *w)
{
	if (v->bad)
		return false;
	if (v->kind != Y_SCALAR) {
		report(ld, CP_EINVAL, v, "%s must be a single value, not %s", w, kind_name(v));
		return false;
	}
	if (is_null(v)) {
		/* an empty value has no position of its own: point at its key */
		report(ld, CP_EINVAL, v->len ? v : key, "%s has no value", w);
		return false;
	}
	return true;
}

/* Non-empty text of at most max bytes, or NULL (reported). */
static const char *get_text(loader *ld, const ynode *key, const ynode *v, size_t max,
                            const char *w)
{
	if (!want_scalar(ld, key, v, w))
		return NULL;
	if (v->len == 0) {
		report(ld, CP_EINVAL, v, "%s is empty", w);
		return NULL;
	}
	if (v->len > max) {
		report(ld, CP_ELIMIT, v, "%s is too long (%zu bytes; at most %zu)", w, v->len, max);
		return NULL;
	}
	return v->text;
}

/* Quoted text that would be valid unquoted is a string to YAML: say so. */
static const char *quote_hint(const ynode *v)
{
	return v->plain ? "" : " (write it without quotes)";
}

static bool get_bool(loader *ld, const ynode *key, const ynode *v, const char *w, bool *out)
{
	static const char *const words[][2] = {{"false", "true"}, {"False", "True"},
	                                       {"FALSE", "TRUE"}};
	if (!want_scalar(ld, key, v, w))
		return false;
	int value = -1;
	for (size_t i = 0; i < COUNT(words); i++)
		for (int b = 0; b < 2; b++)
			if (strcmp(v->text, words[i][b]) == 0)
				value = b;
	if (value >= 0 && v->plain) {
		*out = value;
		return true;
	}
	shown sh;
	report(ld, CP_EINVAL, v, "%s must be true or false, not %s%s", w, show(&sh, v),
	       value >= 0 ? quote_hint(v) : "");
	return false;
}

/* An integer from min to max; max INT32_MAX reads "a positive integer". */
static bool get_int(loader *ld, const ynode *key, const ynode *v, const char *w, int min,
                    int max, int *out)
{
	if (!want_scalar(ld, key, v, w))
		return false;
	int64_t x = 0;
	const char *why;
	bool fits = cp__parse_int(v->text, v->len, &x, &why) == CP_OK && x >= min && x <= max;
	if (fits && v->plain) {
		*out = (int)x;
		return true;
	}
	shown sh;
	const char *advice = fits ? quote_hint(v) : "";
	if (max == INT32_MAX)
		report(ld, CP_EINVAL, v, "%s must be a positive integer, not %s%s", w, show(&sh, v),
		       advice);
	else
		report(ld, CP_EINVAL, v, "%s must be an integer between %d and %d, not %s%s", w,
		       min, max, show(&sh, v), advice);
	return false;
}

/* Walk a mapping's pairs; a non-scalar or duplicate key is reported and
 * skipped.  Calls fn(ld, key, value, ctx) for every other pair.  The keys
 * of a mapping of fields are field names, and messages say so. */
typedef void pair_fn(loader *ld, const ynode *key, const ynode *value, void *ctx);

static void each_pair(loader *ld, const ynode *map, bool of_fields, pair_fn *fn, void *ctx)
{
	nameset seen;
	if (!nameset_init(ld, &seen, node_size(map)))
		return;
	for (size_t i = 0; i + 1 < map->nkids; i += 2) {
		const ynode *k = map->kids[i], *v = map->kids[i + 1];
		if (k->bad)
			continue;
		if (k->kind != Y_SCALAR) {
			report(ld, CP_EINVAL, k, "a key must be a single value, not %s",
			       kind_name(k));
			continue;
		}
		const ynode *first = nameset_add(&seen, k);
		if (first) {
			shown sh;
			if (of_fields)
				report(ld, CP_EINVAL, k,
				       "field %s is defined twice (first at line %u, column %u)",
				       show(&sh, k), first->line, first->col);
			else
				report(ld, CP_EINVAL, k,
				       "duplicate key %s (first at line %u, column %u)",
				       show(&sh, k), first->line, first->col);
			continue;
		}
		fn(ld, k, v, ctx);
	}
	nameset_free(&seen);
}

/* ---- fields ---- */

static const char *const field_keys[] = {"type", "label", "description", "series", "values",
                                         "open", "max", "normalize", "personal"};
static const char *const type_names[] = {"bool", "int", "float", "money", "string",
                                         "enum", "set", "list", "date"};
static const char *const keywords[] = {"and", "or", "not", "in", "between",
                                       "true", "false", "null"};

typedef struct value_def {
	const ynode *value, *label; /* label may be NULL */
} value_def;

/* A field definition as read, before it is added to the schema. */
typedef struct field_def {
	const ynode *name;    /* the key node */
	bool ok;              /* no problem so far: the field can be added */
	int type;             /* 0 = missing or unknown (reported) */
	const char *label, *description;
	bool series, personal;
	const ynode *values_key, *open_key, *max_key, *normalize_key;
	value_def *values;
	size_t nvalues;
	int open;             /* -1 not given (or invalid), 0 or 1 */
	int max;
	int normalize;
} field_def;

static int type_from_name(const char *name)
{
	for (size_t i = 0; i < COUNT(type_names); i++)
		if (strcmp(name, type_names[i]) == 0)
			return (int)i + 1; /* CP_TYPE_BOOL .. CP_TYPE_DATE */
	return 0;
}

static void read_type(loader *ld, field_def *fd, const ynode *key, const ynode *v)
{
	/* Names other schema languages use, to suggest ours. */
	static const char *const alias[][2] = {
		{"integer", "int"}, {"boolean", "bool"}, {"double", "float"}, {"number", "float"},
		{"str", "string"}, {"text", "string"}, {"datetime", "date"}, {"array", "list"}};
	what w;
	const char *name = get_text(ld, key, v, MAX_TEXT, describe(&w, "type", fd->name));
	if (!name) {
		fd->ok = false;
		return;
	}
	fd->type = type_from_name(name);
	if (fd->type)
		return;
	fd->ok = false;
	hint h;
	const char *sug = suggest(&h, name, type_names, COUNT(type_names));
	for (size_t i = 0; i < COUNT(alias) && !*sug; i++) {
		if (strcmp(name, alias[i][0]) == 0) {
			snprintf(h.s, sizeof(h.s), " (did you mean '%s'?)", alias[i][1]);
			sug = h.s;
		}
	}
	shown a, b;
	report(ld, CP_EINVAL, v, "unknown type %s for field %s%s", show(&a, v), show(&b, fd->name),
	       sug);
}

static bool push_value(loader *ld, field_def *fd, const ynode *value, const ynode *label)
{
	value_def *v = cp__reallocarray(fd->values, fd->nvalues + 1, sizeof(*v));
	if (!v) {
		ld->nomem = true;
		return false;
	}
	fd->values = v;
	v[fd->nvalues].value = value;
	v[fd->nvalues].label = label;
	fd->nvalues++;
	return true;
}

/* One listed value (and its label node, NULL if none); false if it has a
 * problem (reported). */
static bool read_value(loader *ld, field_def *fd, nameset *seen, const ynode *value,
                       const ynode *label)
{
	what w;
	shown a, b;
	if (value->bad)
		return false;
	if (value->kind != Y_SCALAR) {
		report(ld, CP_EINVAL, value, "a value of field %s must be a string, not %s",
		       show(&a, fd->name), kind_name(value));
		return false;
	}
	if (is_null(value) || value->len == 0) {
		report(ld, CP_EINVAL, value, "field %s lists an empty value", show(&a, fd->name));
		return false;
	}
	snprintf(w.s, sizeof(w.s), "a value of field %s", show(&a, fd->name));
	if (!get_text(ld, value, value, MAX_TEXT, w.s))
		return false;
	const ynode *first = nameset_add(seen, value);
	if (first) {
		report(ld, CP_EINVAL, value,
		       "value %s of field %s is listed twice (first at line %u, column %u)",
		       show(&a, value), show(&b, fd->name), first->line, first->col);
		return false;
	}
	if (label && is_null(label) && !label->bad) {
		label = NULL; /* "value:" with no label: the value is its own label */
	} else if (label) {
		snprintf(w.s, sizeof(w.s), "the label of value %s of field %s", show(&a, value),
		         show(&b, fd->name));
		if (!get_text(ld, value, label, MAX_TEXT, w.s))
			return false;
	}
	return push_value(ld, fd, value, label);
}

static void read_values(loader *ld, field_def *fd, const ynode *key, const ynode *v)
{
	shown sh;
	fd->values_key = key;
	if (v->bad) {
		fd->ok = false;
		return;
	}
	if (v->kind == Y_SCALAR || node_size(v) == 0) {
		report(ld, CP_EINVAL, v->kind == Y_SCALAR && is_null(v) ? key : v,
		       "'values' of field %s must be a non-empty list of values or a mapping "
		       "of values to labels",
		       show(&sh, fd->name));
		fd->ok = false;
		return;
	}
	nameset seen;
	if (!nameset_init(ld, &seen, node_size(v))) {
		fd->ok = false;
		return;
	}
	if (v->kind == Y_SEQ) {
		for (size_t i = 0; i < v->nkids; i++)
			if (!read_value(ld, fd, &seen, v->kids[i], NULL))
				fd->ok = false;
	} else {
		for (size_t i = 0; i + 1 < v->nkids; i += 2)
			if (!read_value(ld, fd, &seen, v->kids[i], v->kids[i + 1]))
				fd->ok = false;
	}
	nameset_free(&seen);
}

static void read_normalize(loader *ld, field_def *fd, const ynode *key, const ynode *v)
{
	static const char *const names[] = {"msisdn-cn"};
	what w;
	fd->normalize_key = key;
	const char *name = get_text(ld, key, v, MAX_TEXT, describe(&w, "normalize", fd->name));
	if (name && strcmp(name, "msisdn-cn") == 0) {
		fd->normalize = CP_NORM_MSISDN_CN;
		return;
	}
	fd->ok = false;
	if (name) {
		hint h;
		shown sh;
		report(ld, CP_EINVAL, v, "unknown normalization %s (the only one is 'msisdn-cn')%s",
		       show(&sh, v), suggest(&h, name, names, COUNT(names)));
	}
}

/* One attribute of a field's mapping. */
static void read_attribute(loader *ld, const ynode *key, const ynode *v, void *ctx)
{
	field_def *fd = ctx;
	what w;
	const char *k = key->text;
	bool ok = true;
	if (strcmp(k, "type") == 0) {
		read_type(ld, fd, key, v);
	} else if (strcmp(k, "label") == 0) {
		fd->label = get_text(ld, key, v, MAX_TEXT, describe(&w, k, fd->name));
		ok = fd->label != NULL;
	} else if (strcmp(k, "description") == 0) {
		fd->description = get_text(ld, key, v, MAX_DESCRIPTION, describe(&w, k, fd->name));
		ok = fd->description != NULL;
	} else if (strcmp(k, "series") == 0) {
		ok = get_bool(ld, key, v, describe(&w, k, fd->name), &fd->series);
	} else if (strcmp(k, "personal") == 0) {
		ok = get_bool(ld, key, v, describe(&w, k, fd->name), &fd->personal);
	} else if (strcmp(k, "open") == 0) {
		bool open;
		fd->open_key = key;
		ok = get_bool(ld, key, v, describe(&w, k, fd->name), &open);
		if (ok)
			fd->open = open;
	} else if (strcmp(k, "max") == 0) {
		fd->max_key = key;
		ok = get_int(ld, key, v, describe(&w, k, fd->name), 1, INT32_MAX, &fd->max);
	} else if (strcmp(k, "values") == 0) {
		read_values(ld, fd, key, v);
	} else if (strcmp(k, "normalize") == 0) {
		read_normalize(ld, fd, key, v);
	} else {
		hint h;
		shown a, b;
		report(ld, CP_EINVAL, key, "unknown key %s in field %s%s", show(&a, key),
		       show(&b, fd->name), suggest(&h, k, field_keys, COUNT(field_keys)));
		ok = false;
	}
	if (!ok)
		fd->ok = false;
}

/* An attribute given to a field of a type it does not apply to. */
static void check_applies(loader *ld, field_def *fd, const ynode *attr_key, int type)
{
	if (!attr_key || fd->type == type)
		return;
	shown sh;
	report(ld, CP_EINVAL, attr_key, "'%s' applies to %s fields only, and field %s is %s %s",
	       attr_key->text, cp_type_name(type), show(&sh, fd->name),
	       fd->type == CP_TYPE_INT || fd->type == CP_TYPE_ENUM ? "an" : "a",
	       cp_type_name(fd->type));
	fd->ok = false;
}

static void read_field_def(loader *ld, field_def *fd, const ynode *v)
{
	shown sh;
	if (v->bad) {
		fd->ok = false;
		return;
	}
	if (v->kind == Y_SCALAR && is_null(v)) {
		report(ld, CP_EINVAL, fd->name, "field %s has no type", show(&sh, fd->name));
		fd->ok = false;
		return;
	}
	if (v->kind == Y_SCALAR) {
		/* shorthand: "age: int" */
		read_type(ld, fd, fd->name, v);
		return;
	}
	if (v->kind == Y_SEQ) {
		report(ld, CP_EINVAL, v, "field %s must be a type name or a mapping of attributes, "
		       "not a list", show(&sh, fd->name));
		fd->ok = false;
		return;
	}
	each_pair(ld, v, false, read_attribute, fd);
	if (!map_get(v, "type")) {
		report(ld, CP_EINVAL, fd->name, "field %s has no 'type'", show(&sh, fd->name));
		fd->ok = false;
	}
	if (!fd->type)
		return; /* unknown type: the checks below would only add noise */
	check_applies(ld, fd, fd->values_key, CP_TYPE_ENUM);
	check_applies(ld, fd, fd->open_key, CP_TYPE_ENUM);
	check_applies(ld, fd, fd->max_key, CP_TYPE_LIST);
	check_applies(ld, fd, fd->normalize_key, CP_TYPE_STRING);
	if (fd->type == CP_TYPE_ENUM && fd->open == 0 && !fd->values_key) {
		report(ld, CP_EINVAL, fd->open_key,
		       "field %s is a closed enum ('open: false') but lists no 'values'",
		       show(&sh, fd->name));
		fd->ok = false;
	}
}

static bool is_keyword(const char *name)
{
	for (size_t i = 0; i < COUNT(keywords); i++)
		if (strcmp(name, keywords[i]) == 0)
			return true;
	return false;
}

static bool valid_field_name(loader *ld, const ynode *k)
{
	shown sh;
	if (k->len == 0) {
		report(ld, CP_EINVAL, k, "a field name is empty");
		return false;
	}
	if (k->len > MAX_NAME) {
		report(ld, CP_ELIMIT, k, "field name %s is too long (%zu bytes; at most %d)",
		       show(&sh, k), k->len, MAX_NAME);
		return false;
	}
	bool valid = true, lower_valid = true;
	for (size_t i = 0; i < k->len; i++) {
		char c = k->text[i];
		bool first_ok = (c >= 'a' && c <= 'z') || c == '_';
		bool ok = first_ok || (i > 0 && c >= '0' && c <= '9');
		bool upper_ok = (c >= 'A' && c <= 'Z');
		valid = valid && ok;
		lower_valid = lower_valid && (ok || upper_ok);
	}
	if (!valid) {
		char lower[MAX_NAME + 1];
		for (size_t i = 0; i <= k->len; i++)
			lower[i] = (char)(k->text[i] >= 'A' && k->text[i] <= 'Z' ? k->text[i] + 32
			                                                       : k->text[i]);
		hint h;
		if (lower_valid && !is_keyword(lower))
			snprintf(h.s, sizeof(h.s), " (did you mean '%s'?)", lower);
		else
			h.s[0] = '\0';
		report(ld, CP_EINVAL, k,
		       "field name %s is not valid: use a-z, 0-9 and '_', starting with a letter "
		       "or '_'%s",
		       show(&sh, k), h.s);
		return false;
	}
	if (is_keyword(k->text)) {
		report(ld, CP_EINVAL, k, "field name %s is a keyword of the rule language",
		       show(&sh, k));
		return false;
	}
	return true;
}

static void add_field(loader *ld, const field_def *fd)
{
	cp_schema *s = ld->schema;
	int f = cp__schema_add_field(s, fd->name->text, fd->type, fd->series, fd->label);
	if (f < 0) {
		/* names are unique and counted before: only memory can fail */
		ld->nomem = true;
		return;
	}
	cp_field *field = &s->fields[f];
	field->line = fd->name->line;
	field->col = fd->name->col;
	field->personal = fd->personal;
	field->max_items = fd->max;
	field->normalize = fd->normalize;
	/* default: closed when values are listed, open when none are */
	field->closed = fd->type == CP_TYPE_ENUM && fd->nvalues > 0 && fd->open != 1;
	if (fd->description && !(field->description = cp__strdup(fd->description))) {
		ld->nomem = true;
		return;
	}
	for (size_t i = 0; i < fd->nvalues; i++) {
		const ynode *label = fd->values[i].label;
		if (cp__schema_add_value(s, f, fd->values[i].value->text,
		                         label ? label->text : NULL) != CP_OK) {
			ld->nomem = true;
			return;
		}
	}
}

static void read_field(loader *ld, const ynode *k, const ynode *v, void *ctx)
{
	(void)ctx;
	field_def fd = {.name = k, .ok = true, .open = -1};
	if (ld->schema->nfields >= CP_MAX_FIELDS) {
		if (!ld->over_limit)
			report(ld, CP_ELIMIT, k, "too many fields (at most %d)", CP_MAX_FIELDS);
		ld->over_limit = true;
		return;
	}
	fd.ok = valid_field_name(ld, k);
	read_field_def(ld, &fd, v);
	if (fd.ok && !ld->nomem)
		add_field(ld, &fd);
	cp__free(fd.values);
}

static void read_fields(loader *ld, const ynode *key, const ynode *v)
{
	if (v->bad)
		return;
	if (v->kind != Y_MAP || node_size(v) == 0) {
		report(ld, CP_EINVAL, is_null(v) ? key : v,
		       "'fields' must be a non-empty mapping of field names to definitions");
		return;
	}
	each_pair(ld, v, true, read_field, NULL);
}

/* ---- the whole document ---- */

static const char *const top_keys[] = {"custprof", "schema", "description",
                                       "months", "key", "fields"};

typedef struct top {
	const ynode *fields, *fields_key; /* the 'fields' mapping and its key */
	const ynode *key;                 /* the value of 'key' */
} top;

static void read_top(loader *ld, const ynode *key, const ynode *v, void *ctx)
{
	top *t = ctx;
	what w;
	const char *k = key->text;
	if (strcmp(k, "custprof") == 0) {
		/* another integer was refused before (CP_EVERSION) */
		if (want_scalar(ld, key, v, describe(&w, k, NULL)) &&
		    !(v->plain && strcmp(v->text, "1") == 0)) {
			shown sh;
			report(ld, CP_EINVAL, v,
			       "'custprof' must be the format version 1, not %s%s", show(&sh, v),
			       strcmp(v->text, "1") == 0 ? quote_hint(v) : "");
		}
	} else if (strcmp(k, "schema") == 0) {
		const char *name = get_text(ld, key, v, MAX_TEXT, describe(&w, k, NULL));
		if (name) {
			char *copy = cp__strdup(name);
			if (!copy) {
				ld->nomem = true;
				return;
			}
			cp__free(ld->schema->name);
			ld->schema->name = copy;
		}
	} else if (strcmp(k, "description") == 0) {
		get_text(ld, key, v, MAX_DESCRIPTION, describe(&w, k, NULL));
	} else if (strcmp(k, "months") == 0) {
		get_int(ld, key, v, describe(&w, k, NULL), 1, CP_MAX_MONTHS, &ld->schema->months);
	} else if (strcmp(k, "key") == 0) {
		if (get_text(ld, key, v, MAX_NAME, describe(&w, k, NULL)))
			t->key = v;
	} else if (strcmp(k, "fields") == 0) {
		t->fields = v;
		t->fields_key = key;
	} else {
		hint h;
		shown sh;
		report(ld, CP_EINVAL, key, "unknown key %s%s", show(&sh, key),
		       suggest(&h, k, top_keys, COUNT(top_keys)));
	}
}

/* The key field: defined, a scalar string. */
static void check_key(loader *ld, const top *t)
{
	const cp_schema *s = ld->schema;
	shown sh;
	const char *name = t->key->text;
	for (int i = 0; i < s->nfields; i++) {
		const cp_field *f = &s->fields[i];
		if (strcmp(f->name, name) != 0)
			continue;
		if (f->type != CP_TYPE_STRING || f->series) {
			report(ld, CP_EINVAL, t->key,
			       "key field %s must be a scalar string field, not %s%s (defined at "
			       "line %u)",
			       show(&sh, t->key), f->series ? "a series of " : "",
			       cp_type_name(f->type), f->line);
			return;
		}
		ld->key = name;
		return;
	}
	if (map_get(t->fields, name))
		return; /* defined, but with errors already reported */
	const char **names = cp__calloc((size_t)s->nfields + 1, sizeof(char *));
	if (!names) {
		ld->nomem = true;
		return;
	}
	for (int i = 0; i < s->nfields; i++)
		names[i] = s->fields[i].name;
	hint h;
	report(ld, CP_EINVAL, t->key, "key field %s is not defined in 'fields'%s",
	       show(&sh, t->key), suggest(&h, name, names, (size_t)s->nfields));
	cp__free(names);
}

/* The month of a series column name "base_m<i>" (i without leading zeros),
 * with *base_len the length of base; -1 if name has no such form. */
static int column_month(const char *name, size_t *base_len)
{
	const char *m = NULL;
	for (const char *p = strstr(name, "_m"); p; p = strstr(p + 1, "_m"))
		m = p;
	if (!m || m == name)
		return -1;
	const char *d = m + 2;
	size_t n = strspn(d, "0123456789");
	if (n == 0 || n > 2 || d[n] || (n > 1 && d[0] == '0'))
		return -1;
	*base_len = (size_t)(m - name);
	return atoi(d);
}

/* Month i of series f is the CSV column f_m<i>: no other field may have
 * that name. */
static void check_columns(loader *ld)
{
	const cp_schema *s = ld->schema;
	for (int i = 0; i < s->nfields; i++) {
		const cp_field *f = &s->fields[i];
		size_t base_len;
		int month = column_month(f->name, &base_len);
		if (month < 0 || month >= s->months)
			continue;
		for (int j = 0; j < s->nfields; j++) {
			const cp_field *g = &s->fields[j];
			if (g->series && strlen(g->name) == base_len &&
			    memcmp(g->name, f->name, base_len) == 0) {
				report_at(ld, CP_EINVAL, f->line, f->col,
				          "field '%s' has the CSV column name of month %d of "
				          "series field '%s'",
				          f->name, month, g->name);
				break;
			}
		}
	}
}

static void check_document(loader *ld, const ynode *root)
{
	shown sh;
	if (!root) {
		report_at(ld, CP_EINVAL, 0, 0, "the schema file is empty");
		return;
	}
	if (root->kind != Y_MAP) {
		if (!root->bad)
			report(ld, CP_EINVAL, root,
			       "the top level must be a mapping (custprof, schema, key, fields, "
			       "...), not %s",
			       root->kind == Y_SEQ ? "a list" : "a single value");
		return;
	}
	/* A file of another format version is not read any further. */
	const ynode *version = map_get(root, "custprof");
	int64_t v;
	const char *why;
	if (version && version->kind == Y_SCALAR && version->plain &&
	    cp__parse_int(version->text, version->len, &v, &why) == CP_OK &&
	    v != SCHEMA_FORMAT_VERSION) {
		report(ld, CP_EVERSION, version,
		       "unsupported schema format version %s (this library reads version %d)",
		       show(&sh, version), SCHEMA_FORMAT_VERSION);
		return;
	}
	if (!(ld->schema = cp__schema_new(NULL))) {
		ld->nomem = true;
		return;
	}
	top t = {0};
	each_pair(ld, root, false, read_top, &t);
	static const char *const required[][2] = {
		{"custprof", "the format version, 'custprof: 1'"},
		{"schema", "the schema's name"},
		{"key", "the name of the key field"},
		{"fields", "the field definitions"}};
	for (size_t i = 0; i < COUNT(required); i++)
		if (!map_get(root, required[i][0]))
			report(ld, CP_EINVAL, root, "missing '%s' (%s)", required[i][0],
			       required[i][1]);
	if (t.fields)
		read_fields(ld, t.fields_key, t.fields);
	if (t.key && t.fields && t.fields->kind == Y_MAP && node_size(t.fields) > 0)
		check_key(ld, &t);
	check_columns(ld);
}

/* ---- entry points ---- */

/* Load text (owned: it becomes the schema's source, or is freed). */
static int load(cp_schema **out, char *text, size_t len, const char *file, cp_diag *diag)
{
	loader ld = {.file = file};
	ynode *root = NULL;
	int rc;
	if (parse(&ld, text, len, &root) == CP_OK && !ld.nomem)
		check_document(&ld, root);
	rc = ld.nomem ? CP_ENOMEM : emit_problems(&ld, diag);
	if (rc == CP_OK)
		rc = cp__schema_finish(ld.schema, ld.key, diag, file);
	if (rc == CP_OK) {
		ld.schema->source = text;
		ld.schema->source_len = len;
		*out = ld.schema;
		text = NULL;
		ld.schema = NULL;
	}
	for (size_t i = 0; i < ld.nproblems; i++)
		cp__free(ld.problems[i].msg);
	cp__free(ld.problems);
	node_free(root);
	cp_schema_free(ld.schema);
	cp__free(text);
	return rc;
}

static int too_large(const char *file, cp_diag *diag)
{
	cp__diag_add(diag, CP_SEV_ERROR, file, 0, 0,
	             "the schema file is too large (at most %u bytes)", MAX_SOURCE_BYTES);
	return CP_ELIMIT;
}

int cp_schema_load_memory(cp_schema **out, const char *yaml, size_t len, const char *name,
                          cp_diag *diag)
{
	if (out)
		*out = NULL;
	if (!out || (!yaml && len))
		return CP_EINVAL;
	if (len > MAX_SOURCE_BYTES)
		return too_large(name, diag);
	char *text = cp__strndup(yaml ? yaml : "", len);
	if (!text)
		return CP_ENOMEM;
	return load(out, text, len, name, diag);
}

static int io_error(const char *path, const char *verb, int err, cp_diag *diag)
{
	cp__diag_add(diag, CP_SEV_ERROR, path, 0, 0, "cannot %s schema file '%s': %s", verb, path,
	             strerror(err));
	return CP_EIO;
}

int cp_schema_load_file(cp_schema **out, const char *path, cp_diag *diag)
{
	if (out)
		*out = NULL;
	if (!out || !path)
		return CP_EINVAL;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return io_error(path, "open", errno, diag);
	cp_buf b;
	cp__buf_init(&b);
	int rc = CP_OK;
	for (;;) {
		if (cp__buf_reserve(&b, 65536) != CP_OK) {
			rc = CP_ENOMEM;
			break;
		}
		size_t n = fread(b.data + b.len, 1, b.cap - b.len - 1, fp);
		b.len += n;
		b.data[b.len] = '\0';
		if (b.len > MAX_SOURCE_BYTES) {
			rc = too_large(path, diag);
			break;
		}
		if (n == 0) {
			if (ferror(fp))
				rc = io_error(path, "read", errno, diag);
			break;
		}
	}
	fclose(fp);
	if (rc != CP_OK) {
		cp__buf_free(&b);
		return rc;
	}
	size_t len = b.len;
	char *text = cp__buf_steal(&b);
	if (!text)
		return CP_ENOMEM;
	return load(out, text, len, path, diag);
}

int cp_schema_default(cp_schema **out)
{
	return cp_schema_load_memory(out, cp__builtin_schema.data, cp__builtin_schema.len,
	                             cp__builtin_schema.name, NULL);
}
