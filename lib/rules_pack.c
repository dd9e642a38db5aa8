/*
 * rules_pack.c — rule packs (DESIGN §5.3): compile options, and the YAML
 * reader that turns each pack into the ruleset's packs, params, metrics,
 * tags, groups and tracks (expressions are parsed here; resolving, checking
 * and compiling is rules_set.c).
 *
 * Every problem of a file is reported, with its line and column; unknown
 * keys are errors with a suggestion.
 */
#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "builtin.h"
#include "lifecycle.h"
#include "yamlpos.h"

/* ---- options ---- */

typedef struct rules_src {
	char *name;
	char *text;
	size_t len;
} rules_src;

typedef struct rules_override {
	char *name;
	char *value;
} rules_override;

struct cp_rules_opts {
	cp_obj obj;
	rules_src *srcs;
	size_t nsrcs, cap_srcs;
	rules_override *ovr;
	size_t novr, cap_ovr;
};

int cp_rules_opts_new(cp_rules_opts **out)
{
	if (!out)
		return CP_EINVAL;
	*out = cp__calloc(1, sizeof(**out));
	if (!*out)
		return CP_ENOMEM;
	cp__obj_init(&(*out)->obj, CP_OBJ_RULES_OPTS);
	return CP_OK;
}

void cp_rules_opts_free(cp_rules_opts *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nsrcs; i++) {
		cp__free(o->srcs[i].name);
		cp__free(o->srcs[i].text);
	}
	for (size_t i = 0; i < o->novr; i++) {
		cp__free(o->ovr[i].name);
		cp__free(o->ovr[i].value);
	}
	cp__free(o->srcs);
	cp__free(o->ovr);
	cp__obj_fini(&o->obj);
	cp__free(o);
}

static int add_src(cp_rules_opts *o, const char *name, const char *text, size_t len)
{
	if (o->nsrcs == o->cap_srcs) {
		size_t cap = o->cap_srcs ? o->cap_srcs * 2 : 8;
		rules_src *s = cp__reallocarray(o->srcs, cap, sizeof(*s));
		if (!s)
			return cp__fail(&o->obj, CP_ENOMEM, "out of memory");
		o->srcs = s;
		o->cap_srcs = cap;
	}
	rules_src *s = &o->srcs[o->nsrcs];
	s->name = cp__strdup(name ? name : "<memory>");
	s->text = cp__strndup(text, len);
	s->len = len;
	if (!s->name || !s->text) {
		cp__free(s->name);
		cp__free(s->text);
		return cp__fail(&o->obj, CP_ENOMEM, "out of memory");
	}
	o->nsrcs++;
	return CP_OK;
}

int cp_rules_opts_add_memory(cp_rules_opts *o, const char *yaml, size_t len, const char *name)
{
	if (!o || (!yaml && len))
		return CP_EINVAL;
	cp__clear_error(&o->obj);
	return add_src(o, name, yaml ? yaml : "", len);
}

int cp_rules_opts_add_file(cp_rules_opts *o, const char *path)
{
	if (!o || !path)
		return CP_EINVAL;
	cp__clear_error(&o->obj);
	FILE *f = fopen(path, "rb");
	if (!f)
		return cp__fail(&o->obj, errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "%s: %s", path,
		                strerror(errno));
	cp_buf b;
	cp__buf_init(&b);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (cp__buf_append(&b, chunk, n) != CP_OK) {
			fclose(f);
			cp__buf_free(&b);
			return cp__fail(&o->obj, CP_ENOMEM, "%s: out of memory", path);
		}
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		cp__buf_free(&b);
		return cp__fail(&o->obj, CP_EIO, "%s: read error", path);
	}
	int rc = add_src(o, path, b.data ? b.data : "", b.len);
	cp__buf_free(&b);
	return rc;
}

int cp_rules_opts_add_defaults(cp_rules_opts *o)
{
	if (!o)
		return CP_EINVAL;
	cp__clear_error(&o->obj);
	for (size_t i = 0; i < cp__builtin_pack_count; i++) {
		const cp_builtin_file *f = &cp__builtin_packs[i];
		int rc = add_src(o, f->name, f->data, f->len);
		if (rc != CP_OK)
			return rc;
	}
	return CP_OK;
}

int cp_rules_opts_set_param(cp_rules_opts *o, const char *name, const char *value)
{
	if (!o || !name || !value)
		return CP_EINVAL;
	cp__clear_error(&o->obj);
	if (!*name)
		return cp__fail(&o->obj, CP_EINVAL, "empty parameter name");
	for (size_t i = 0; i < o->novr; i++) {
		if (strcmp(o->ovr[i].name, name) == 0) {
			char *v = cp__strdup(value);
			if (!v)
				return cp__fail(&o->obj, CP_ENOMEM, "out of memory");
			cp__free(o->ovr[i].value);
			o->ovr[i].value = v;
			return CP_OK;
		}
	}
	if (o->novr == o->cap_ovr) {
		size_t cap = o->cap_ovr ? o->cap_ovr * 2 : 8;
		rules_override *v = cp__reallocarray(o->ovr, cap, sizeof(*v));
		if (!v)
			return cp__fail(&o->obj, CP_ENOMEM, "out of memory");
		o->ovr = v;
		o->cap_ovr = cap;
	}
	rules_override *r = &o->ovr[o->novr];
	r->name = cp__strdup(name);
	r->value = cp__strdup(value);
	if (!r->name || !r->value) {
		cp__free(r->name);
		cp__free(r->value);
		return cp__fail(&o->obj, CP_ENOMEM, "out of memory");
	}
	o->novr++;
	return CP_OK;
}

size_t cp__rules_opts_count(const cp_rules_opts *o)
{
	return o ? o->nsrcs : 0;
}

void cp__rules_opts_source(const cp_rules_opts *o, size_t i, const char **name,
                           const char **text, size_t *len)
{
	*name = o->srcs[i].name;
	*text = o->srcs[i].text;
	*len = o->srcs[i].len;
}

size_t cp__rules_opts_override_count(const cp_rules_opts *o)
{
	return o ? o->novr : 0;
}

void cp__rules_opts_override(const cp_rules_opts *o, size_t i, const char **name,
                             const char **value)
{
	*name = o->ovr[i].name;
	*value = o->ovr[i].value;
}

/* ---- growing the ruleset's arrays ---- */

#define GROW(rs, arr, n, cap)                                                      \
	((n) < (cap) ? 0 : grow((void **)&(rs)->arr, &(cap), sizeof(*(rs)->arr)))

static int grow(void **arr, int *cap, size_t size)
{
	int c = *cap ? *cap * 2 : 16;
	void *p = cp__reallocarray(*arr, (size_t)c, size);
	if (!p)
		return CP_ENOMEM;
	memset((char *)p + (size_t)*cap * size, 0, (size_t)(c - *cap) * size);
	*arr = p;
	*cap = c;
	return 0;
}

/* ---- the YAML reader ---- */

typedef struct reader {
	cp_ruleset *rs;
	cp__errs *errs;
	const char *file;     /* arena copy */
	const char *text;
	size_t len;
	yaml_document_t doc;
	cp_yamlsrc src;       /* for exact positions inside expressions */
	int pack;             /* index of this file's pack */
	bool oom;
} reader;

static void rerr(reader *r, const yaml_node_t *at, int code, const char *fmt, ...)
	CP_PRINTF(4, 5);

static void rerr(reader *r, const yaml_node_t *at, int code, const char *fmt, ...)
{
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp__rules_error_at(r->errs, code, r->file, at ? (unsigned)at->start_mark.line + 1 : 0,
	                   at ? (unsigned)at->start_mark.column + 1 : 0, "%s", msg);
}

static void rwarn(reader *r, const yaml_node_t *at, const char *fmt, ...) CP_PRINTF(3, 4);

static void rwarn(reader *r, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp__rules_warning_at(r->errs, r->file, (unsigned)at->start_mark.line + 1,
	                     (unsigned)at->start_mark.column + 1, "%s", msg);
}

static yaml_node_t *node(reader *r, int id)
{
	return yaml_document_get_node(&r->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default: return "a text";
	}
}

/* An arena copy of a text scalar, or NULL after reporting. */
static const char *text_of(reader *r, const yaml_node_t *v, const char *key, const char *what)
{
	const char *s = scalar(v);
	if (!s) {
		rerr(r, v, CP_ESYNTAX, "'%s' of %s must be a text, not %s", key, what, kind_name(v));
		return NULL;
	}
	if (!cp__utf8_valid(s, v->data.scalar.length)) {
		rerr(r, v, CP_ESYNTAX, "'%s' of %s is not valid UTF-8", key, what);
		return NULL;
	}
	char *c = cp__arena_strndup(&r->rs->arena, s, v->data.scalar.length);
	if (!c)
		r->oom = true;
	return c;
}

/* Names usable in expressions and ids: letters, digits, '_' (and '.', '-'
 * for ids). */
static bool valid_name(const char *s, bool id)
{
	if (!*s || (!id && (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (id && (c == '.' || c == '-'))))
			return false;
	}
	return true;
}

static const char *const rule_keywords[] = {"and", "or", "not", "in", "between",
                                            "true", "false", "null"};

static bool is_keyword(const char *s)
{
	for (size_t i = 0; i < sizeof(rule_keywords) / sizeof(rule_keywords[0]); i++)
		if (strcmp(s, rule_keywords[i]) == 0)
			return true;
	return false;
}

/*
 * Walk a mapping's pairs, checking keys against the allowed list: unknown
 * and repeated keys are errors.  vals[i] gets the value of allowed[i] (NULL
 * if absent); keys[i] the key node.
 */
static bool mapping(reader *r, const yaml_node_t *m, const char *what,
                    const char *const *allowed, size_t nallowed, yaml_node_t **vals,
                    yaml_node_t **keys)
{
	const yaml_node_t *keys_seen[16]; /* enough for the longest list of keys */
	if (nallowed > sizeof(keys_seen) / sizeof(keys_seen[0]))
		return false;
	for (size_t i = 0; i < nallowed; i++) {
		vals[i] = NULL;
		keys_seen[i] = NULL;
		if (keys)
			keys[i] = NULL;
	}
	if (m->type != YAML_MAPPING_NODE) {
		rerr(r, m, CP_ESYNTAX, "%s must be a mapping (key: value), not %s", what, kind_name(m));
		return false;
	}
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(r, p->key), *v = node(r, p->value);
		const char *ks = scalar(k);
		if (!ks) {
			rerr(r, k, CP_ESYNTAX, "a key of %s must be a text", what);
			continue;
		}
		size_t i;
		for (i = 0; i < nallowed; i++)
			if (strcmp(ks, allowed[i]) == 0)
				break;
		if (i == nallowed) {
			const char *near = cp__closest(ks, allowed, nallowed);
			if (near)
				rerr(r, k, CP_ESYNTAX, "unknown key '%s' in %s (did you mean '%s'?)", ks, what, near);
			else {
				char list[300];
				size_t o = 0;
				for (size_t j = 0; j < nallowed && o < sizeof(list) - 32; j++)
					o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", j ? ", " : "",
					                      allowed[j]);
				rerr(r, k, CP_ESYNTAX, "unknown key '%s' in %s (known keys: %s)", ks, what, list);
			}
			continue;
		}
		if (vals[i]) {
			const yaml_node_t *first = keys_seen[i];
			rerr(r, k, CP_ESYNTAX, "duplicate key '%s' in %s (first at line %u, column %u)", ks,
			     what, (unsigned)first->start_mark.line + 1, (unsigned)first->start_mark.column + 1);
			continue;
		}
		vals[i] = v;
		keys_seen[i] = k;
		if (keys)
			keys[i] = k;
	}
	return true;
}

/* The position of the first character of a scalar's value. */
static void value_start(reader *r, const yaml_node_t *v, cp__where *w)
{
	w->file = r->file;
	w->yaml = r->text;
	w->yaml_len = r->len;
	w->start = v->start_mark.index;
	w->end = v->end_mark.index;
	w->style = v->data.scalar.style;
	w->line = (unsigned)v->start_mark.line + 1;
	w->col = (unsigned)v->start_mark.column + 1;
	w->indent = 0;
	switch (v->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		w->col++; /* after the quote */
		break;
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE: {
		/* the content starts on the line after the indicator, indented */
		size_t i = v->start_mark.index;
		while (i < r->len && r->text[i] != '\n')
			i++;
		unsigned line = w->line;
		/* skip blank lines */
		for (;;) {
			if (i >= r->len)
				break;
			i++;
			line++;
			size_t j = i;
			unsigned ind = 0;
			while (j < r->len && r->text[j] == ' ') {
				j++;
				ind++;
			}
			if (j < r->len && r->text[j] != '\n') {
				w->line = line;
				w->col = ind + 1;
				w->indent = ind;
				break;
			}
			i = j;
		}
		break;
	}
	default:
		break;
	}
}

/* An expression from a scalar: copied, parsed; false after reporting. */
static bool expression(reader *r, const yaml_node_t *v, const char *key, const char *what,
                       cp__expr *x)
{
	memset(x, 0, sizeof(*x));
	x->pack = r->pack;
	const char *s = scalar(v);
	if (!s) {
		rerr(r, v, CP_ESYNTAX, "'%s' of %s must be an expression (a text), not %s", key, what,
		     kind_name(v));
		x->failed = true;
		return false;
	}
	if (!cp__utf8_valid(s, v->data.scalar.length)) {
		rerr(r, v, CP_ESYNTAX, "'%s' of %s is not valid UTF-8", key, what);
		x->failed = true;
		return false;
	}
	size_t len = v->data.scalar.length;
	if (len > CP_RULES_MAX_EXPR) {
		rerr(r, v, CP_ELIMIT, "'%s' of %s is %zu bytes long; the limit is %d", key, what, len,
		     CP_RULES_MAX_EXPR);
		x->failed = true;
		return false;
	}
	x->text = cp__arena_strndup(&r->rs->arena, s, len);
	if (!x->text) {
		r->oom = true;
		return false;
	}
	x->len = (uint32_t)len;
	value_start(r, v, &x->where);
	/* without memory for the map, positions are approximate (value_start) */
	if (cp__yamlpos_new(&x->where.ypos, &r->src, &v->start_mark, &v->end_mark,
	                    v->data.scalar.style, s, len) == CP_OK &&
	    !cp__yamlpos_exact(x->where.ypos)) {
		cp__yamlpos_free(x->where.ypos);
		x->where.ypos = NULL;
	}
	return cp__rules_parse(&r->rs->arena, x, r->errs) == CP_OK;
}

/* A parameter's value: a literal tree from a YAML scalar or list of scalars. */
static cp__node *literal_node(reader *r, const yaml_node_t *v, bool in_list)
{
	cp__arena *a = &r->rs->arena;
	if (v->type == YAML_SEQUENCE_NODE && !in_list) {
		yaml_node_item_t *it = v->data.sequence.items.start;
		size_t n = (size_t)(v->data.sequence.items.top - it);
		cp__node *l = cp__arena_alloc(a, sizeof(*l));
		cp__node **kids = cp__arena_alloc(a, (n ? n : 1) * sizeof(*kids));
		if (!l || !kids) {
			r->oom = true;
			return NULL;
		}
		l->kind = N_LIST;
		l->slot = CP_NO_SLOT;
		l->kids = kids;
		for (size_t i = 0; i < n; i++) {
			kids[i] = literal_node(r, node(r, it[i]), true);
			if (!kids[i])
				return NULL;
		}
		l->nkids = (uint32_t)n;
		l->height = 2;
		return l;
	}
	const char *s = scalar(v);
	if (!s) {
		rerr(r, v, CP_ESYNTAX, "a parameter's value must be a number, a text, true/false or a list of them, not %s",
		     kind_name(v));
		return NULL;
	}
	size_t len = v->data.scalar.length;
	if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (strcmp(s, "~") == 0)
			s = "null", len = 4;
		cp__node *n = cp__rules_parse_literal(a, s, len);
		if (n && n->kind != N_LIST)
			return n;
	}
	if (!cp__utf8_valid(s, len)) {
		rerr(r, v, CP_ESYNTAX, "parameter value is not valid UTF-8");
		return NULL;
	}
	cp__node *n = cp__arena_alloc(a, sizeof(*n));
	char *c = cp__arena_strndup(a, s, len);
	if (!n || !c) {
		r->oom = true;
		return NULL;
	}
	n->kind = N_STR;
	n->slot = CP_NO_SLOT;
	n->height = 1;
	n->s = c;
	n->slen = (uint32_t)len;
	return n;
}

static void read_params(reader *r, const yaml_node_t *m)
{
	cp_ruleset *rs = r->rs;
	if (m->type != YAML_MAPPING_NODE) {
		rerr(r, m, CP_ESYNTAX, "'params' must be a mapping (name: value), not %s", kind_name(m));
		return;
	}
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(r, p->key), *v = node(r, p->value);
		const char *name = scalar(k);
		if (!name || !valid_name(name, false) || is_keyword(name)) {
			rerr(r, k, CP_ESYNTAX, "parameter name '%s' must be letters, digits and '_' (it is used as $name)",
			     name ? name : "?");
			continue;
		}
		cp__node *val = literal_node(r, v, false);
		if (!val)
			continue;
		char key[2 * CP_RULES_MAX_NAME + 512];
		snprintf(key, sizeof(key), "%s\x1f%s", rs->packs[r->pack].name, name);
		if (strlen(name) > CP_RULES_MAX_NAME) {
			rerr(r, k, CP_ELIMIT, "parameter name is longer than %d bytes", CP_RULES_MAX_NAME);
			continue;
		}
		const char *akey = cp__arena_strdup(&rs->arena, key);
		const char *aname = cp__arena_strdup(&rs->arena, name);
		if (!akey || !aname || GROW(rs, params, rs->nparams, rs->cap_params)) {
			r->oom = true;
			return;
		}
		int old;
		int rc = cp__strmap_put(&rs->param_ids, akey, rs->nparams, &old);
		if (rc == CP_EEXIST) {
			rerr(r, k, CP_EEXIST, "parameter '%s' is already declared (line %u, column %u)", name,
			     rs->params[old].line, rs->params[old].col);
			continue;
		}
		if (rc != CP_OK) {
			r->oom = true;
			return;
		}
		cp__param *pm = &rs->params[rs->nparams++];
		pm->name = aname;
		pm->pack = r->pack;
		pm->value = val;
		pm->file = r->file;
		pm->line = (unsigned)k->start_mark.line + 1;
		pm->col = (unsigned)k->start_mark.column + 1;
	}
}

static const yaml_node_t *seq_of(reader *r, const yaml_node_t *v, const char *key,
                                 const char *example)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		rerr(r, v, CP_ESYNTAX, "'%s' must be a list (- %s), not %s", key, example, kind_name(v));
		return NULL;
	}
	return v;
}

/* "pack.name" for an id written without a pack, else the id itself. */
static const char *qualify(reader *r, const char *id, const yaml_node_t *at, const char *what)
{
	const char *pack = r->rs->packs[r->pack].name;
	if (strchr(id, '.')) {
		size_t pl = strlen(pack);
		if (strncmp(id, pack, pl) != 0 || id[pl] != '.')
			rwarn(r, at, "%s id '%s' is outside this pack's namespace '%s.'", what, id, pack);
		return id;
	}
	char buf[512];
	snprintf(buf, sizeof(buf), "%s.%s", pack, id);
	const char *q = cp__arena_strdup(&r->rs->arena, buf);
	if (!q)
		r->oom = true;
	return q;
}

static const char *read_id(reader *r, yaml_node_t *v, yaml_node_t *owner, const char *what,
                           bool qualified)
{
	if (!v) {
		rerr(r, owner, CP_ESYNTAX, "%s has no 'id'", what);
		return NULL;
	}
	const char *id = text_of(r, v, "id", what);
	if (!id)
		return NULL;
	if (strlen(id) > 200) {
		rerr(r, v, CP_ELIMIT, "%s id is longer than 200 bytes", what);
		return NULL;
	}
	if (!valid_name(id, qualified) || (!qualified && is_keyword(id))) {
		rerr(r, v, CP_ESYNTAX, "%s id '%s' must be letters, digits and '_'%s", what, id,
		     qualified ? " ('.' and '-' too)" : " (it is used as a name in expressions)");
		return NULL;
	}
	return qualified ? qualify(r, id, v, what) : id;
}

static void read_metrics(reader *r, const yaml_node_t *v)
{
	static const char *const keys[] = {"id", "expr", "label", "description"};
	cp_ruleset *rs = r->rs;
	if (!seq_of(r, v, "metrics", "id: ..., expr: ..."))
		return;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *m = node(r, *it), *val[4];
		if (!mapping(r, m, "a metric", keys, 4, val, NULL))
			continue;
		const char *id = read_id(r, val[0], m, "metric", false);
		if (!id)
			continue;
		if (GROW(rs, metrics, rs->nmetrics, rs->cap_metrics)) {
			r->oom = true;
			return;
		}
		cp__metric *mt = &rs->metrics[rs->nmetrics];
		memset(mt, 0, sizeof(*mt));
		mt->id = id;
		mt->pack = r->pack;
		mt->line = (unsigned)val[0]->start_mark.line + 1;
		mt->col = (unsigned)val[0]->start_mark.column + 1;
		if (cp_schema_field_index(rs->schema, id) >= 0) {
			rerr(r, val[0], CP_EEXIST, "metric '%s' has the name of a field of schema '%s'", id,
			     rs->schema->name);
			continue;
		}
		if (cp__fn_lookup(id) >= 0) {
			rerr(r, val[0], CP_EEXIST, "metric '%s' has the name of a function", id);
			continue;
		}
		int old;
		int rc = cp__strmap_put(&rs->metric_ids, id, rs->nmetrics, &old);
		if (rc == CP_EEXIST) {
			const cp__metric *o = &rs->metrics[old];
			rerr(r, val[0], CP_EEXIST, "metric '%s' is already defined (%s:%u:%u)", id,
			     rs->packs[o->pack].file, o->line, o->col);
			continue;
		}
		if (rc != CP_OK) {
			r->oom = true;
			return;
		}
		mt->label = val[2] ? text_of(r, val[2], "label", "a metric") : NULL;
		mt->description = val[3] ? text_of(r, val[3], "description", "a metric") : NULL;
		if (!val[1]) {
			rerr(r, m, CP_ESYNTAX, "metric '%s' has no 'expr'", id);
			mt->expr.failed = true;
		} else {
			expression(r, val[1], "expr", "a metric", &mt->expr);
		}
		rs->nmetrics++;
	}
}

static int add_tag(reader *r, const char *id, yaml_node_t *at)
{
	cp_ruleset *rs = r->rs;
	if (GROW(rs, tags, rs->ntags, rs->cap_tags)) {
		r->oom = true;
		return -1;
	}
	int old;
	int rc = cp__strmap_put(&rs->tag_ids, id, rs->ntags, &old);
	if (rc == CP_EEXIST) {
		const cp__tag *o = &rs->tags[old];
		rerr(r, at, CP_EEXIST, "tag '%s' is already defined (%s:%u:%u)", id,
		     rs->packs[o->pack].file, o->line, o->col);
		return -1;
	}
	if (rc != CP_OK) {
		r->oom = true;
		return -1;
	}
	cp__tag *t = &rs->tags[rs->ntags];
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->pack = r->pack;
	t->group = -1;
	t->member = -1;
	t->raw_slot = t->final_slot = CP_NO_SLOT;
	t->line = (unsigned)at->start_mark.line + 1;
	t->col = (unsigned)at->start_mark.column + 1;
	return rs->ntags++;
}

static void read_tags(reader *r, const yaml_node_t *v)
{
	static const char *const keys[] = {"id", "label", "description", "when"};
	if (!seq_of(r, v, "tags", "id: ..., label: ..., when: ..."))
		return;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *m = node(r, *it), *val[4];
		if (!mapping(r, m, "a tag", keys, 4, val, NULL))
			continue;
		const char *id = read_id(r, val[0], m, "tag", true);
		if (!id)
			continue;
		int ti = add_tag(r, id, val[0]);
		if (ti < 0)
			continue;
		cp__tag *t = &r->rs->tags[ti];
		t->label = val[1] ? text_of(r, val[1], "label", "a tag") : NULL;
		t->description = val[2] ? text_of(r, val[2], "description", "a tag") : NULL;
		t->when.pack = r->pack;
		if (val[3]) {
			t->has_when = true;
			char what[300];
			snprintf(what, sizeof(what), "tag '%s'", id);
			expression(r, val[3], "when", what, &r->rs->tags[ti].when);
		}
	}
}

static void read_groups(reader *r, const yaml_node_t *v)
{
	static const char *const keys[] = {"id", "label", "description", "mode", "members",
	                                   "otherwise"};
	static const char *const modes[] = {"first-match"};
	cp_ruleset *rs = r->rs;
	if (!seq_of(r, v, "groups", "id: ..., mode: first-match, members: [...]"))
		return;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *m = node(r, *it), *val[6];
		if (!mapping(r, m, "a group", keys, 6, val, NULL))
			continue;
		const char *id = read_id(r, val[0], m, "group", true);
		if (!id)
			continue;
		if (val[3]) {
			const char *mode = scalar(val[3]);
			if (!mode || strcmp(mode, "first-match") != 0) {
				const char *near = mode ? cp__closest(mode, modes, 1) : NULL;
				if (near)
					rerr(r, val[3], CP_ESYNTAX, "unknown group mode '%s' (did you mean '%s'?)", mode, near);
				else
					rerr(r, val[3], CP_ESYNTAX, "unknown group mode%s%s%s: the only mode is 'first-match'",
					     mode ? " '" : "", mode ? mode : "", mode ? "'" : "");
				/* go on: the members may have problems of their own */
			}
		}
		if (!val[4]) {
			rerr(r, m, CP_ESYNTAX, "group '%s' has no 'members'", id);
			continue;
		}
		if (!seq_of(r, val[4], "members", "tag id"))
			continue;
		if (GROW(rs, groups, rs->ngroups, rs->cap_groups)) {
			r->oom = true;
			return;
		}
		int old;
		int rc = cp__strmap_put(&rs->group_ids, id, rs->ngroups, &old);
		if (rc == CP_EEXIST) {
			const cp__group *o = &rs->groups[old];
			rerr(r, val[0], CP_EEXIST, "group '%s' is already defined (%s:%u:%u)", id,
			     rs->packs[o->pack].file, o->line, o->col);
			continue;
		}
		if (rc != CP_OK) {
			r->oom = true;
			return;
		}
		cp__group *g = &rs->groups[rs->ngroups];
		memset(g, 0, sizeof(*g));
		g->id = id;
		g->pack = r->pack;
		g->otherwise = -1;
		g->line = (unsigned)val[0]->start_mark.line + 1;
		g->col = (unsigned)val[0]->start_mark.column + 1;
		g->label = val[1] ? text_of(r, val[1], "label", "a group") : NULL;
		g->description = val[2] ? text_of(r, val[2], "description", "a group") : NULL;
		yaml_node_item_t *mi = val[4]->data.sequence.items.start;
		size_t n = (size_t)(val[4]->data.sequence.items.top - mi);
		/* members are kept as names here and resolved once every pack is read */
		const char **names = cp__arena_alloc(&rs->arena, (n ? n : 1) * sizeof(*names));
		g->members = cp__arena_alloc(&rs->arena, (n ? n : 1) * sizeof(int));
		g->mline = cp__arena_alloc(&rs->arena, (n ? n : 1) * sizeof(unsigned));
		g->mcol = cp__arena_alloc(&rs->arena, (n ? n : 1) * sizeof(unsigned));
		if (!names || !g->members || !g->mline || !g->mcol) {
			r->oom = true;
			return;
		}
		int k = 0;
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *e = node(r, mi[i]);
			const char *name = text_of(r, e, "members", "a group");
			if (!name)
				continue;
			names[k] = name;
			g->mline[k] = (unsigned)e->start_mark.line + 1;
			g->mcol[k] = (unsigned)e->start_mark.column + 1;
			k++;
		}
		g->nmembers = k;
		g->member_names = names;
		if (val[5]) {
			g->otherwise_name = text_of(r, val[5], "otherwise", "a group");
			g->oline = (unsigned)val[5]->start_mark.line + 1;
			g->ocol = (unsigned)val[5]->start_mark.column + 1;
		}
		rs->ngroups++;
	}
}

static int stage_of(reader *r, yaml_node_t *v, const char *key)
{
	const char *s = scalar(v);
	if (!s) {
		rerr(r, v, CP_ESYNTAX, "'%s' must be a stage name, not %s", key, kind_name(v));
		return -1;
	}
	int st = cp_stage_from_name(s);
	if (st >= 0)
		return st;
	const char *near = cp__closest(s, cp__stage_enum.values, (size_t)cp__stage_enum.nvalues);
	if (near)
		rerr(r, v, CP_ENOTFOUND, "unknown stage '%s' (did you mean '%s'?)", s, near);
	else
		rerr(r, v, CP_ENOTFOUND, "unknown stage '%s' (stages: prospect, acquisition, growth, maturity, decline, silent, churn_risk, churned, winback, bad_debt, unknown)",
		     s);
	return -1;
}

/* The value of a 'replace' key: true or false, else -1 after reporting. */
static int bool_of(reader *r, const yaml_node_t *v, const char *key, const char *what)
{
	const char *s = scalar(v);
	if (s && strcmp(s, "true") == 0)
		return 1;
	if (s && strcmp(s, "false") == 0)
		return 0;
	rerr(r, v, CP_ESYNTAX, "'%s' of %s must be true or false", key, what);
	return -1;
}

/*
 * Where a track goes: a new slot, or (replace: true) the slot of the track
 * of that name defined by an earlier pack, which it replaces in place (its
 * position among the tracks stays, so the order of reports does not change
 * when a province replaces a default track).  A second definition without
 * replace, a replacement within one pack, and a replacement of a track that
 * no earlier pack defines are errors.  Returns the slot, or -1.
 */
static int track_slot(reader *r, const yaml_node_t *at, const char *name, int replace)
{
	cp_ruleset *rs = r->rs;
	int old = cp__strmap_get(&rs->track_ids, name);
	if (old >= 0) {
		const cp__track *o = &rs->tracks[old];
		if (!replace && o->pack == r->pack)
			rerr(r, at, CP_EEXIST, "track '%s' is already defined (%s:%u:%u)", name,
			     rs->packs[o->pack].file, o->line, o->col);
		else if (!replace)
			rerr(r, at, CP_EEXIST, "track '%s' is already defined (%s:%u:%u); add "
			     "'replace: true' to replace it", name, rs->packs[o->pack].file, o->line,
			     o->col);
		else if (o->pack == r->pack)
			rerr(r, at, CP_EEXIST, "track '%s' is defined twice in pack '%s' (first at "
			     "line %u, column %u): 'replace' replaces a track of an earlier pack", name,
			     rs->packs[r->pack].name, o->line, o->col);
		else
			return old;
		return -1;
	}
	if (replace) {
		const char *near = cp__rules_suggest_track(rs, name);
		if (near)
			rerr(r, at, CP_ENOTFOUND, "track '%s' has 'replace: true', but no earlier pack "
			     "defines it (did you mean '%s'?)", name, near);
		else
			rerr(r, at, CP_ENOTFOUND, "track '%s' has 'replace: true', but no earlier pack "
			     "defines it", name);
		return -1;
	}
	if (GROW(rs, tracks, rs->ntracks, rs->cap_tracks)) {
		r->oom = true;
		return -1;
	}
	if (cp__strmap_put(&rs->track_ids, name, rs->ntracks, &old) != CP_OK) {
		r->oom = true;
		return -1;
	}
	return rs->ntracks++;
}

static void read_track(reader *r, yaml_node_t *m)
{
	static const char *const keys[] = {"track", "label", "description", "stages", "otherwise",
	                                   "replace"};
	static const char *const rkeys[] = {"stage", "when", "id", "label", "description"};
	cp_ruleset *rs = r->rs;
	yaml_node_t *val[6];
	if (!mapping(r, m, "a lifecycle track", keys, 6, val, NULL))
		return;
	if (!val[0]) {
		rerr(r, m, CP_ESYNTAX, "a lifecycle track has no 'track' (its name)");
		return;
	}
	const char *name = text_of(r, val[0], "track", "a lifecycle track");
	if (!name)
		return;
	if (!valid_name(name, false)) {
		rerr(r, val[0], CP_ESYNTAX, "track name '%s' must be letters, digits and '_'", name);
		return;
	}
	int replace = val[5] ? bool_of(r, val[5], "replace", "a lifecycle track") : 0;
	if (replace < 0)
		return;
	if (!val[3]) {
		rerr(r, m, CP_ESYNTAX, "track '%s' has no 'stages'", name);
		return;
	}
	if (!seq_of(r, val[3], "stages", "stage: ..., when: ..."))
		return;
	int slot = track_slot(r, val[0], name, replace);
	if (slot < 0)
		return;
	cp__track *t = &rs->tracks[slot];
	/* a replaced track: its position maps go (the rest is in the arena) */
	for (int i = 0; i < t->nrules; i++)
		cp__yamlpos_free(t->rules[i].when.where.ypos);
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->pack = r->pack;
	t->slot = CP_NO_SLOT;
	t->line = (unsigned)val[0]->start_mark.line + 1;
	t->col = (unsigned)val[0]->start_mark.column + 1;
	t->label = val[1] ? text_of(r, val[1], "label", "a track") : NULL;
	t->description = val[2] ? text_of(r, val[2], "description", "a track") : NULL;
	t->otherwise = CP_STAGE_UNKNOWN;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s.otherwise", name);
	t->otherwise_id = cp__arena_strdup(&rs->arena, buf);
	yaml_node_item_t *it = val[3]->data.sequence.items.start;
	size_t n = (size_t)(val[3]->data.sequence.items.top - it);
	t->rules = cp__arena_alloc(&rs->arena, (n ? n : 1) * sizeof(*t->rules));
	if (!t->rules || !t->otherwise_id) {
		r->oom = true;
		return;
	}
	cp__strmap ids = {0};
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *rm = node(r, it[i]), *rv[5];
		if (!mapping(r, rm, "a stage rule", rkeys, 5, rv, NULL))
			continue;
		if (!rv[0]) {
			rerr(r, rm, CP_ESYNTAX, "a stage rule of track '%s' has no 'stage'", name);
			continue;
		}
		int st = stage_of(r, rv[0], "stage");
		if (st < 0)
			continue;
		if (!rv[1]) {
			rerr(r, rm, CP_ESYNTAX, "stage rule '%s' of track '%s' has no 'when'",
			     cp__stage_enum.values[st], name);
			continue;
		}
		cp__rule *ru = &t->rules[t->nrules];
		memset(ru, 0, sizeof(*ru));
		ru->stage = st;
		ru->line = (unsigned)rm->start_mark.line + 1;
		ru->col = (unsigned)rm->start_mark.column + 1;
		const char *rid = NULL;
		if (rv[2]) {
			rid = text_of(r, rv[2], "id", "a stage rule");
			if (rid && !valid_name(rid, true)) {
				rerr(r, rv[2], CP_ESYNTAX, "rule id '%s' must be letters, digits, '_', '.' and '-'", rid);
				rid = NULL;
			}
			if (!rid)
				continue;
		} else {
			/* track.stage, track.stage.2 for a second rule of the same stage */
			snprintf(buf, sizeof(buf), "%s.%s", name, cp__stage_enum.values[st]);
			for (int k = 2; cp__strmap_get(&ids, buf) >= 0; k++)
				snprintf(buf, sizeof(buf), "%s.%s.%d", name, cp__stage_enum.values[st], k);
			rid = cp__arena_strdup(&rs->arena, buf);
			if (!rid) {
				r->oom = true;
				break;
			}
		}
		int prev;
		int rc2 = cp__strmap_put(&ids, rid, t->nrules, &prev);
		if (rc2 == CP_EEXIST) {
			rerr(r, rv[2] ? rv[2] : rm, CP_EEXIST, "rule id '%s' is used twice in track '%s'", rid, name);
			continue;
		}
		if (rc2 != CP_OK) {
			r->oom = true;
			break;
		}
		ru->id = rid;
		ru->label = rv[3] ? text_of(r, rv[3], "label", "a stage rule") : NULL;
		ru->description = rv[4] ? text_of(r, rv[4], "description", "a stage rule") : NULL;
		snprintf(buf, sizeof(buf), "stage rule '%s'", rid);
		expression(r, rv[1], "when", buf, &ru->when);
		t->nrules++;
	}
	cp__strmap_free(&ids);
	if (val[4]) {
		int st = stage_of(r, val[4], "otherwise");
		if (st >= 0)
			t->otherwise = st;
	}
}

static void read_lifecycle(reader *r, const yaml_node_t *v)
{
	if (!seq_of(r, v, "lifecycle", "track: ..., stages: [...]"))
		return;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
		read_track(r, node(r, *it));
}

/* stage_info: the label of each stage and the value drivers acting on it
 * (DESIGN §6), for reports. */
static void read_stage_info(reader *r, const yaml_node_t *v)
{
	static const char *const keys[] = {"label", "drivers"};
	cp_ruleset *rs = r->rs;
	if (v->type != YAML_MAPPING_NODE) {
		rerr(r, v, CP_ESYNTAX, "'stage_info' must be a mapping (stage: {label: ..., drivers: [...]}), not %s",
		     kind_name(v));
		return;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(r, p->key), *m = node(r, p->value), *val[2];
		int st = stage_of(r, k, "stage_info");
		if (st < 0)
			continue;
		if (rs->stage_info_file[st]) {
			rerr(r, k, CP_EEXIST, "stage_info of '%s' is already given (in %s)",
			     cp__stage_enum.values[st], rs->stage_info_file[st]);
			continue;
		}
		if (!mapping(r, m, "a stage_info entry", keys, 2, val, NULL))
			continue;
		rs->stage_info_file[st] = r->file;
		if (val[0])
			rs->stage_label[st] = text_of(r, val[0], "label", "a stage_info entry");
		if (!val[1])
			continue;
		if (!seq_of(r, val[1], "drivers", "driver id"))
			continue;
		yaml_node_item_t *it = val[1]->data.sequence.items.start;
		size_t n = (size_t)(val[1]->data.sequence.items.top - it);
		const char **d = cp__arena_alloc(&rs->arena, (n ? n : 1) * sizeof(*d));
		if (!d) {
			r->oom = true;
			return;
		}
		int nd = 0;
		for (size_t i = 0; i < n; i++) {
			const char *id = text_of(r, node(r, it[i]), "drivers", "a stage_info entry");
			if (id && cp__driver_index(id) < 0) {
				const char *near = cp__closest(id, cp__driver_ids, CP_DRIVER_COUNT);
				if (near)
					rerr(r, node(r, it[i]), CP_ENOTFOUND, "unknown value driver '%s' "
					     "(did you mean '%s'?)", id, near);
				else
					rerr(r, node(r, it[i]), CP_ENOTFOUND, "unknown value driver '%s' "
					     "(drivers: purchase_intent, acquisition_cost, recurring_revenue, "
					     "cost_to_serve, cross_sell, tariff_adjustment, renewal, migration, "
					     "churn, bad_debt, winback)", id);
				continue;
			}
			if (id)
				d[nd++] = id;
		}
		rs->stage_drivers[st] = d;
		rs->nstage_drivers[st] = nd;
	}
}

enum { K_CUSTPROF, K_PACK, K_LABEL, K_DESCRIPTION, K_PARAMS, K_METRICS, K_TAGS, K_GROUPS,
       K_LIFECYCLE, K_STAGE_INFO, K_NKEYS };

static void read_pack(reader *r, yaml_node_t *root)
{
	static const char *const keys[K_NKEYS] = {"custprof", "pack", "label", "description",
	                                          "params", "metrics", "tags", "groups",
	                                          "lifecycle", "stage_info"};
	cp_ruleset *rs = r->rs;
	yaml_node_t *val[K_NKEYS], *key[K_NKEYS];
	if (!mapping(r, root, "a rule pack", keys, K_NKEYS, val, key))
		return;
	if (!val[K_CUSTPROF]) {
		rerr(r, root, CP_ESYNTAX, "not a rule pack: 'custprof: 1' (the format version) is missing");
		return;
	}
	const char *ver = scalar(val[K_CUSTPROF]);
	if (!ver || strcmp(ver, "1") != 0) {
		rerr(r, val[K_CUSTPROF], CP_EVERSION, "unsupported rule pack format '%s' (this library reads custprof: 1)",
		     ver ? ver : "?");
		return;
	}
	if (!val[K_PACK]) {
		rerr(r, root, CP_ESYNTAX, "the pack has no name: add 'pack: NAME'");
		return;
	}
	const char *name = text_of(r, val[K_PACK], "pack", "the rule pack");
	if (!name)
		return;
	if (!valid_name(name, false) || strlen(name) > 100) {
		rerr(r, val[K_PACK], CP_ESYNTAX, "pack name '%s' must be letters, digits and '_'", name);
		return;
	}
	if (GROW(rs, packs, rs->npacks, rs->cap_packs)) {
		r->oom = true;
		return;
	}
	int old;
	int rc = cp__strmap_put(&rs->pack_ids, name, rs->npacks, &old);
	if (rc == CP_EEXIST) {
		rerr(r, val[K_PACK], CP_EEXIST, "pack '%s' is already loaded (from %s)", name,
		     rs->packs[old].file);
		return;
	}
	if (rc != CP_OK) {
		r->oom = true;
		return;
	}
	cp__pack *p = &rs->packs[rs->npacks];
	p->name = name;
	p->file = r->file;
	p->label = val[K_LABEL] ? text_of(r, val[K_LABEL], "label", "the rule pack") : NULL;
	p->description = val[K_DESCRIPTION]
	                     ? text_of(r, val[K_DESCRIPTION], "description", "the rule pack")
	                     : NULL;
	r->pack = rs->npacks++;
	/* params first: the expressions of this pack use them */
	if (val[K_PARAMS])
		read_params(r, val[K_PARAMS]);
	if (val[K_METRICS])
		read_metrics(r, val[K_METRICS]);
	if (val[K_TAGS])
		read_tags(r, val[K_TAGS]);
	if (val[K_GROUPS])
		read_groups(r, val[K_GROUPS]);
	if (val[K_LIFECYCLE])
		read_lifecycle(r, val[K_LIFECYCLE]);
	if (val[K_STAGE_INFO])
		read_stage_info(r, val[K_STAGE_INFO]);
}

int cp__rules_read_pack(cp_ruleset *rs, const char *file, const char *text, size_t len,
                        cp__errs *errs)
{
	reader r;
	memset(&r, 0, sizeof(r));
	r.rs = rs;
	r.errs = errs;
	r.text = text;
	r.len = len;
	r.file = cp__arena_strdup(&rs->arena, file);
	if (!r.file)
		return CP_ENOMEM;
	cp__yamlsrc_init(&r.src, text, len);
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return CP_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &r.doc)) {
		cp__rules_error_at(errs, CP_ESYNTAX, r.file, (unsigned)parser.problem_mark.line + 1,
		                   (unsigned)parser.problem_mark.column + 1, "YAML: %s%s%s",
		                   parser.problem ? parser.problem : "malformed",
		                   parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return CP_ESYNTAX;
	}
	yaml_node_t *root = yaml_document_get_root_node(&r.doc);
	if (!root)
		cp__rules_error_at(errs, CP_ESYNTAX, r.file, 0, 0, "empty rule pack: expected 'custprof: 1' and 'pack: NAME'");
	else
		read_pack(&r, root);
	yaml_document_delete(&r.doc);
	/* one pack per file: a second document is a mistake */
	yaml_document_t more;
	if (root && yaml_parser_load(&parser, &more)) {
		yaml_node_t *m = yaml_document_get_root_node(&more);
		if (m)
			cp__rules_error_at(errs, CP_ESYNTAX, r.file, (unsigned)m->start_mark.line + 1,
			                   (unsigned)m->start_mark.column + 1,
			                   "a second YAML document: a file holds one rule pack");
		yaml_document_delete(&more);
	}
	yaml_parser_delete(&parser);
	return r.oom ? CP_ENOMEM : CP_OK;
}
