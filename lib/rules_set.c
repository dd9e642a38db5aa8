/*
 * rules_set.c — the ruleset: several packs compiled into one.
 *
 *   1. read every pack (rules_pack.c), expressions parsed;
 *   2. apply parameter overrides;
 *   3. resolve groups (members, otherwise tags);
 *   4. order the units by their references — metrics, tag conditions
 *      ("raw"), tag final values (after their group), tracks — so each is
 *      computed after what it reads; a cycle is an error naming it;
 *   5. type-check every unit, then (if nothing failed) compile every unit
 *      into one program, in that order;
 *   6. warn about what can never apply.
 *
 * Introspection of a compiled ruleset is at the end.
 */
#include "rules.h"

#include <stdio.h>
#include <string.h>

#include "yamlpos.h"

/* ---- lookups shared with the checker ---- */

int cp__rules_find_tag(const cp_ruleset *rs, int pack, const char *id)
{
	int t = cp__strmap_get(&rs->tag_ids, id);
	if (t >= 0 || strchr(id, '.') || pack < 0)
		return t;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s.%s", rs->packs[pack].name, id);
	return cp__strmap_get(&rs->tag_ids, buf);
}

int cp__rules_find_param(const cp_ruleset *rs, int pack, const char *name)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s\x1f%s", rs->packs[pack].name, name);
	return cp__strmap_get(&rs->param_ids, buf);
}

static const char *suggest(const char *name, const char **cands, size_t n)
{
	const char *r = cp__closest(name, cands, n);
	cp__free(cands);
	return r;
}

const char *cp__rules_suggest_tag(const cp_ruleset *rs, const char *id)
{
	const char **c = cp__calloc((size_t)rs->ntags + 1, sizeof(*c));
	if (!c)
		return NULL;
	for (int i = 0; i < rs->ntags; i++)
		c[i] = rs->tags[i].id;
	return suggest(id, c, (size_t)rs->ntags);
}

const char *cp__rules_suggest_track(const cp_ruleset *rs, const char *name)
{
	const char **c = cp__calloc((size_t)rs->ntracks + 1, sizeof(*c));
	if (!c)
		return NULL;
	for (int i = 0; i < rs->ntracks; i++)
		c[i] = rs->tracks[i].name;
	return suggest(name, c, (size_t)rs->ntracks);
}

const char *cp__rules_suggest_param(const cp_ruleset *rs, int pack, const char *name)
{
	const char **c = cp__calloc((size_t)rs->nparams + 1, sizeof(*c));
	if (!c)
		return NULL;
	size_t n = 0;
	for (int i = 0; i < rs->nparams; i++)
		if (rs->params[i].pack == pack)
			c[n++] = rs->params[i].name;
	return suggest(name, c, n);
}

/* ---- literal text (parameter values) ---- */

void cp__format_float(char *buf, size_t size, double v);

static void format_literal(cp_buf *b, const cp__node *n)
{
	char tmp[64];
	switch (n->kind) {
	case N_INT:
		cp__buf_printf(b, "%lld", (long long)n->i);
		break;
	case N_FLOAT:
		cp__format_float(tmp, sizeof(tmp), n->f);
		cp__buf_puts(b, tmp);
		break;
	case N_BOOL:
		cp__buf_puts(b, n->i ? "true" : "false");
		break;
	case N_NULL:
		cp__buf_puts(b, "null");
		break;
	case N_STR:
		cp__buf_putc(b, '\'');
		for (const char *s = n->s; *s; s++) {
			if (*s == '\'' || *s == '\\')
				cp__buf_putc(b, '\\');
			if (*s == '\n')
				cp__buf_puts(b, "\\n");
			else if (*s == '\t')
				cp__buf_puts(b, "\\t");
			else
				cp__buf_putc(b, *s);
		}
		cp__buf_putc(b, '\'');
		break;
	case N_LIST:
		cp__buf_putc(b, '[');
		for (uint32_t i = 0; i < n->nkids; i++) {
			if (i)
				cp__buf_puts(b, ", ");
			format_literal(b, n->kids[i]);
		}
		cp__buf_putc(b, ']');
		break;
	default:
		break;
	}
}

/* ---- 2. parameter overrides ---- */

static const char *literal_class(const cp__node *n)
{
	switch (n->kind) {
	case N_INT:
	case N_FLOAT:
		return "number";
	case N_STR:
		return "text";
	case N_BOOL:
		return "true/false";
	case N_LIST:
		return "list";
	default:
		return "null";
	}
}

static void apply_overrides(cp_ruleset *rs, const cp_rules_opts *opts, cp__errs *errs)
{
	for (size_t i = 0; i < cp__rules_opts_override_count(opts); i++) {
		const char *name, *value;
		cp__rules_opts_override(opts, i, &name, &value);
		const char *dot = strchr(name, '.');
		size_t plen = dot ? (size_t)(dot - name) : 0;
		const char *pname = dot ? dot + 1 : name;
		cp__node *v = cp__rules_parse_literal(&rs->arena, value, strlen(value));
		if (!v) {
			v = cp__arena_alloc(&rs->arena, sizeof(*v));
			char *s = cp__arena_strdup(&rs->arena, value);
			if (!v || !s) {
				errs->first_code = CP_ENOMEM;
				return;
			}
			if (!cp__utf8_valid(value, strlen(value))) {
				cp__rules_error_at(errs, CP_EINVAL, NULL, 0, 0,
				                   "parameter override '%s': the value is not valid UTF-8", name);
				continue;
			}
			v->kind = N_STR;
			v->s = s;
			v->slen = (uint32_t)strlen(s);
			v->height = 1;
			v->slot = CP_NO_SLOT;
		}
		int matches = 0;
		for (int p = 0; p < rs->nparams; p++) {
			cp__param *pm = &rs->params[p];
			const char *pack = rs->packs[pm->pack].name;
			if (strcmp(pm->name, pname) != 0 ||
			    (dot && (strlen(pack) != plen || strncmp(pack, name, plen) != 0)))
				continue;
			matches++;
			const char *was = literal_class(pm->value), *now = literal_class(v);
			if (strcmp(was, now) != 0 && strcmp(was, "null") != 0 && strcmp(now, "null") != 0) {
				cp__rules_error_at(errs, CP_ETYPE, NULL, 0, 0,
				                   "parameter override '%s.%s' = '%s': the value is a %s, but the pack's value is a %s",
				                   pack, pm->name, value, now, was);
				continue;
			}
			pm->value = v;
			pm->overridden = true;
		}
		if (matches)
			continue;
		/* a suggestion among "pack.param" (or bare names) */
		const char **c = cp__calloc((size_t)rs->nparams + 1, sizeof(*c));
		char **q = cp__calloc((size_t)rs->nparams + 1, sizeof(*q));
		const char *near = NULL;
		if (c && q) {
			for (int p = 0; p < rs->nparams; p++) {
				char buf[512];
				snprintf(buf, sizeof(buf), "%s.%s", rs->packs[rs->params[p].pack].name,
				         rs->params[p].name);
				q[p] = dot ? cp__strdup(buf) : NULL;
				c[p] = dot ? q[p] : rs->params[p].name;
			}
			near = cp__closest(name, c, (size_t)rs->nparams);
		}
		if (near)
			cp__rules_error_at(errs, CP_ENOTFOUND, NULL, 0, 0,
			                   "parameter override '%s': no pack declares it (did you mean '%s'?)",
			                   name, near);
		else
			cp__rules_error_at(errs, CP_ENOTFOUND, NULL, 0, 0,
			                   "parameter override '%s': no pack declares it", name);
		for (int p = 0; q && p < rs->nparams; p++)
			cp__free(q[p]);
		cp__free(q);
		cp__free(c);
	}
}

/* ---- 3. groups ---- */

static const char *pack_file(const cp_ruleset *rs, int pack)
{
	return rs->packs[pack].file;
}

static int implicit_tag(cp_ruleset *rs, const cp__group *g, const char *name)
{
	char buf[512];
	const char *id = name;
	if (!strchr(name, '.')) {
		snprintf(buf, sizeof(buf), "%s.%s", rs->packs[g->pack].name, name);
		id = cp__arena_strdup(&rs->arena, buf);
		if (!id)
			return CP_ENOMEM;
	}
	if (rs->ntags == rs->cap_tags) {
		int cap = rs->cap_tags ? rs->cap_tags * 2 : 16;
		cp__tag *t = cp__reallocarray(rs->tags, (size_t)cap, sizeof(*t));
		if (!t)
			return CP_ENOMEM;
		rs->tags = t;
		rs->cap_tags = cap;
	}
	if (cp__strmap_put(&rs->tag_ids, id, rs->ntags, NULL) != CP_OK)
		return CP_ENOMEM;
	cp__tag *t = &rs->tags[rs->ntags];
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->pack = g->pack;
	t->group = -1;
	t->member = -1;
	t->implicit = true;
	t->raw_slot = t->final_slot = CP_NO_SLOT;
	t->line = g->oline;
	t->col = g->ocol;
	return rs->ntags++;
}

static void resolve_groups(cp_ruleset *rs, cp__errs *errs)
{
	for (int gi = 0; gi < rs->ngroups; gi++) {
		cp__group *g = &rs->groups[gi];
		const char *file = pack_file(rs, g->pack);
		int k = 0;
		for (int i = 0; i < g->nmembers; i++) {
			const char *name = g->member_names[i];
			int t = cp__rules_find_tag(rs, g->pack, name);
			unsigned line = g->mline[i], col = g->mcol[i];
			if (t < 0) {
				const char *near = cp__rules_suggest_tag(rs, name);
				if (near)
					cp__rules_error_at(errs, CP_ENOTFOUND, file, line, col,
					                   "unknown tag '%s' in group '%s' (did you mean '%s'?)",
					                   name, g->id, near);
				else
					cp__rules_error_at(errs, CP_ENOTFOUND, file, line, col,
					                   "unknown tag '%s' in group '%s'", name, g->id);
				continue;
			}
			cp__tag *tag = &rs->tags[t];
			if (tag->group == gi) {
				cp__rules_warning_at(errs, file, line, col,
				                     "tag '%s' is listed twice in group '%s': the second can never apply",
				                     tag->id, g->id);
				continue;
			}
			if (tag->group >= 0) {
				cp__rules_error_at(errs, CP_EEXIST, file, line, col,
				                   "tag '%s' is already in group '%s': a tag belongs to one group at most",
				                   tag->id, rs->groups[tag->group].id);
				continue;
			}
			tag->group = gi;
			tag->member = k;
			g->members[k] = t;
			g->mline[k] = line;
			g->mcol[k] = col;
			k++;
		}
		g->nmembers = k;
		if (!g->otherwise_name)
			continue;
		int t = cp__rules_find_tag(rs, g->pack, g->otherwise_name);
		if (t < 0) {
			/* an otherwise tag need not be declared: it is made here */
			t = implicit_tag(rs, g, g->otherwise_name);
			if (t < 0) {
				errs->first_code = CP_ENOMEM;
				return;
			}
		}
		cp__tag *tag = &rs->tags[t];
		if (tag->group >= 0) {
			cp__rules_error_at(errs, CP_EEXIST, file, g->oline, g->ocol,
			                   "the otherwise tag '%s' of group '%s' is already in group '%s'",
			                   tag->id, g->id, rs->groups[tag->group].id);
			continue;
		}
		tag->group = gi;
		tag->member = -1;
		g->otherwise = t;
	}
	for (int t = 0; t < rs->ntags; t++) {
		const cp__tag *tag = &rs->tags[t];
		if (!tag->has_when && !tag->implicit && (tag->group < 0 || tag->member >= 0))
			cp__rules_error_at(errs, CP_ESYNTAX, pack_file(rs, tag->pack), tag->line, tag->col,
			                   "tag '%s' has no 'when': only a group's otherwise tag may leave it out",
			                   tag->id);
	}
}

/* ---- 4. the order of units ---- */

/* Units: metrics, tag conditions, tag final values, tracks. */
typedef struct graph {
	const cp_ruleset *rs;
	int nm, nt, nk, n;
	/* edges, collected then bucketed by source (CSR) */
	struct edge {
		int from, to;
		const cp__expr *x; /* where the reference is written (NULL: a group) */
		uint32_t off;
	} *e;
	size_t ne, cap;
	size_t *start; /* n + 1 */
	struct edge *sorted;
	bool oom;
} graph;

#define U_METRIC(g, i) (i)
#define U_RAW(g, i) ((g)->nm + (i))
#define U_FINAL(g, i) ((g)->nm + (g)->nt + (i))
#define U_TRACK(g, i) ((g)->nm + 2 * (g)->nt + (i))

static void add_edge(graph *g, int from, int to, const cp__expr *x, uint32_t off)
{
	if (g->ne == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 256;
		struct edge *e = cp__reallocarray(g->e, cap, sizeof(*e));
		if (!e) {
			g->oom = true;
			return;
		}
		g->e = e;
		g->cap = cap;
	}
	g->e[g->ne].from = from;
	g->e[g->ne].to = to;
	g->e[g->ne].x = x;
	g->e[g->ne].off = off;
	g->ne++;
}

/* The literal string argument of tag('x') / stage('x'), through a $param. */
static const char *name_arg(const cp_ruleset *rs, const cp__expr *x, const cp__node *a)
{
	if (a->kind == N_PARAM) {
		int p = cp__rules_find_param(rs, x->pack, a->s);
		a = p >= 0 ? rs->params[p].value : NULL;
	}
	return a && a->kind == N_STR ? a->s : NULL;
}

static void refs(graph *g, int from, const cp__expr *x, const cp__node *n)
{
	const cp_ruleset *rs = g->rs;
	if (n->kind == N_NAME) {
		int m = cp__strmap_get(&rs->metric_ids, n->s);
		if (m >= 0)
			add_edge(g, from, U_METRIC(g, m), x, n->pos);
	} else if (n->kind == N_CALL && n->nkids == 1 &&
	           (strcmp(n->s, "tag") == 0 || strcmp(n->s, "stage") == 0)) {
		const char *name = name_arg(rs, x, n->kids[0]);
		if (name && n->s[0] == 't') {
			int t = cp__rules_find_tag(rs, x->pack, name);
			if (t >= 0)
				add_edge(g, from, U_FINAL(g, t), x, n->pos);
		} else if (name) {
			int k = cp__strmap_get(&rs->track_ids, name);
			if (k >= 0)
				add_edge(g, from, U_TRACK(g, k), x, n->pos);
		}
	}
	for (uint32_t i = 0; i < n->nkids; i++)
		refs(g, from, x, n->kids[i]);
}

static void build_graph(graph *g, const cp_ruleset *rs)
{
	memset(g, 0, sizeof(*g));
	g->rs = rs;
	g->nm = rs->nmetrics;
	g->nt = rs->ntags;
	g->nk = rs->ntracks;
	g->n = g->nm + 2 * g->nt + g->nk;
	for (int i = 0; i < rs->nmetrics; i++)
		if (rs->metrics[i].expr.root)
			refs(g, U_METRIC(g, i), &rs->metrics[i].expr, rs->metrics[i].expr.root);
	for (int i = 0; i < rs->ntags; i++) {
		const cp__tag *t = &rs->tags[i];
		if (t->when.root)
			refs(g, U_RAW(g, i), &t->when, t->when.root);
		if (t->group < 0) {
			add_edge(g, U_FINAL(g, i), U_RAW(g, i), NULL, 0);
			continue;
		}
		/* first-match: a member's final value reads the conditions of the
		 * members before it; the otherwise tag reads them all */
		const cp__group *gr = &rs->groups[t->group];
		int upto = t->member >= 0 ? t->member : gr->nmembers;
		for (int k = 0; k < upto; k++)
			add_edge(g, U_FINAL(g, i), U_RAW(g, gr->members[k]), NULL, 0);
		if (t->has_when)
			add_edge(g, U_FINAL(g, i), U_RAW(g, i), NULL, 0);
	}
	for (int i = 0; i < rs->ntracks; i++) {
		const cp__track *k = &rs->tracks[i];
		for (int r = 0; r < k->nrules; r++)
			if (k->rules[r].when.root)
				refs(g, U_TRACK(g, i), &k->rules[r].when, k->rules[r].when.root);
	}
	/* bucket by source */
	g->start = cp__calloc((size_t)g->n + 1, sizeof(size_t));
	g->sorted = cp__calloc(g->ne + 1, sizeof(*g->sorted));
	if (!g->start || !g->sorted) {
		g->oom = true;
		return;
	}
	for (size_t i = 0; i < g->ne; i++)
		g->start[g->e[i].from + 1]++;
	for (int u = 0; u < g->n; u++)
		g->start[u + 1] += g->start[u];
	size_t *fill = cp__calloc((size_t)g->n + 1, sizeof(size_t));
	if (!fill) {
		g->oom = true;
		return;
	}
	for (size_t i = 0; i < g->ne; i++) {
		int f = g->e[i].from;
		g->sorted[g->start[f] + fill[f]++] = g->e[i];
	}
	cp__free(fill);
}

static void free_graph(graph *g)
{
	cp__free(g->e);
	cp__free(g->start);
	cp__free(g->sorted);
}

static const char *unit_name(const graph *g, int u, char *buf, size_t size, bool typed)
{
	const cp_ruleset *rs = g->rs;
	if (u < g->nm)
		snprintf(buf, size, "%s%s", typed ? "metric " : "", rs->metrics[u].id);
	else if (u < g->nm + 2 * g->nt)
		snprintf(buf, size, "%s%s", typed ? "tag " : "", rs->tags[(u - g->nm) % g->nt].id);
	else
		snprintf(buf, size, "%s%s", typed ? "track " : "", rs->tracks[u - g->nm - 2 * g->nt].name);
	return buf;
}

static void report_cycle(graph *g, const int *cyc, int len, const struct edge *first,
                         cp__errs *errs)
{
	bool all_tags = true;
	for (int i = 0; i < len; i++)
		if (cyc[i] < g->nm || cyc[i] >= g->nm + 2 * g->nt)
			all_tags = false;
	/* names of the units, a tag's condition and final value as one name */
	char (*names)[300] = cp__calloc((size_t)len + 1, sizeof(*names));
	int nn = 0;
	for (int i = 0; names && i < len; i++) {
		char cur[300];
		unit_name(g, cyc[i], cur, sizeof(cur), !all_tags);
		if (nn && strcmp(cur, names[nn - 1]) == 0)
			continue;
		snprintf(names[nn++], sizeof(names[0]), "%s", cur);
	}
	if (nn > 1 && strcmp(names[0], names[nn - 1]) == 0)
		nn--;
	cp_buf b;
	cp__buf_init(&b);
	cp__buf_puts(&b, all_tags ? "tag cycle: " : "reference cycle: ");
	for (int i = 0; i < nn; i++)
		cp__buf_printf(&b, "%s -> ", names[i]);
	if (nn)
		cp__buf_puts(&b, names[0]);
	cp__free(names);
	const char *msg = b.data ? b.data : "reference cycle";
	if (first && first->x) {
		cp__expr_error(errs, first->x, CP_EINVAL, first->off, "%s", msg);
	} else {
		/* at the definition of the first tag of the cycle */
		int u = cyc[0];
		const char *file = NULL;
		unsigned line = 0, col = 0;
		if (u >= g->nm && u < g->nm + 2 * g->nt) {
			const cp__tag *t = &g->rs->tags[(u - g->nm) % g->nt];
			file = pack_file(g->rs, t->pack);
			line = t->line;
			col = t->col;
		}
		cp__rules_error_at(errs, CP_EINVAL, file, line, col, "%s", msg);
	}
	cp__buf_free(&b);
}

/* Depth-first, iteratively (reference chains can be long): units in an
 * order where every unit comes after the units it reads. */
static int order_units(graph *g, int *order, cp__errs *errs)
{
	int n = g->n, norder = 0;
	uint8_t *state = cp__calloc((size_t)n + 1, 1);
	uint8_t *in_cycle = cp__calloc((size_t)n + 1, 1);
	int *stack = cp__calloc((size_t)n + 1, sizeof(int));
	size_t *next = cp__calloc((size_t)n + 1, sizeof(size_t));
	int *pos = cp__calloc((size_t)n + 1, sizeof(int));
	if (!state || !in_cycle || !stack || !next || !pos) {
		cp__free(state);
		cp__free(in_cycle);
		cp__free(stack);
		cp__free(next);
		cp__free(pos);
		return CP_ENOMEM;
	}
	for (int root = 0; root < n; root++) {
		if (state[root])
			continue;
		int top = 0;
		stack[0] = root;
		next[0] = g->start[root];
		pos[root] = 0;
		state[root] = 1;
		while (top >= 0) {
			int u = stack[top];
			if (next[top] < g->start[u + 1]) {
				const struct edge *e = &g->sorted[next[top]++];
				int v = e->to;
				if (state[v] == 0) {
					state[v] = 1;
					stack[++top] = v;
					next[top] = g->start[v];
					pos[v] = top;
				} else if (state[v] == 1) {
					int from = pos[v], len = top - from + 1;
					bool known = true;
					for (int i = from; i <= top; i++)
						if (!in_cycle[stack[i]])
							known = false;
					if (!known) {
						/* the edge leaving the cycle's first unit */
						const struct edge *first = from == top ? e : &g->sorted[next[from] - 1];
						report_cycle(g, stack + from, len, first, errs);
						for (int i = from; i <= top; i++)
							in_cycle[stack[i]] = 1;
					}
				}
			} else {
				state[u] = 2;
				order[norder++] = u;
				top--;
			}
		}
	}
	cp__free(state);
	cp__free(in_cycle);
	cp__free(stack);
	cp__free(next);
	cp__free(pos);
	return CP_OK;
}

/* ---- 5. check and compile ---- */

static void check_units(cp_ruleset *rs, const graph *g, const int *order, cp__errs *errs)
{
	char what[300];
	for (int i = 0; i < g->n; i++) {
		int u = order[i];
		if (u < g->nm) {
			cp__metric *m = &rs->metrics[u];
			snprintf(what, sizeof(what), "metric '%s'", m->id);
			if (m->expr.root && cp__rules_check(rs, &m->expr, false, what, errs) == CP_OK)
				m->type = m->expr.root->type;
			else
				m->type.base = B_ERR;
			m->checked = true;
		} else if (u < g->nm + g->nt) {
			cp__tag *t = &rs->tags[u - g->nm];
			snprintf(what, sizeof(what), "tag '%s'", t->id);
			if (t->when.root)
				cp__rules_check(rs, &t->when, true, what, errs);
		} else if (u >= g->nm + 2 * g->nt) {
			cp__track *k = &rs->tracks[u - g->nm - 2 * g->nt];
			for (int r = 0; r < k->nrules; r++) {
				snprintf(what, sizeof(what), "stage rule '%s'", k->rules[r].id);
				cp__rules_check(rs, &k->rules[r].when, true, what, errs);
			}
		}
	}
}

static int compile_units(cp_ruleset *rs, const graph *g, const int *order, cp__errs *errs)
{
	cp__compiler c;
	if (cp__compiler_init(&c, rs, errs) != CP_OK) {
		cp__compiler_fini(&c);
		return CP_ENOMEM;
	}
	uint32_t *rule_slots = NULL;
	for (int i = 0; i < g->n && !c.failed; i++) {
		int u = order[i];
		if (u < g->nm) {
			cp__compile_expr(&c, &rs->metrics[u].expr);
		} else if (u < g->nm + g->nt) {
			cp__tag *t = &rs->tags[u - g->nm];
			if (t->when.root)
				t->raw_slot = cp__compile_expr(&c, &t->when);
		} else if (u < g->nm + 2 * g->nt) {
			cp__tag *t = &rs->tags[u - g->nm - g->nt];
			t->final_slot = cp__compile_tag_final(&c, u - g->nm - g->nt);
		} else {
			int ti = u - g->nm - 2 * g->nt;
			cp__track *k = &rs->tracks[ti];
			uint32_t *rsl = cp__reallocarray(rule_slots, (size_t)k->nrules + 1, sizeof(uint32_t));
			if (!rsl) {
				c.failed = CP_ENOMEM;
				break;
			}
			rule_slots = rsl;
			for (int r = 0; r < k->nrules; r++)
				rule_slots[r] = cp__compile_expr(&c, &k->rules[r].when);
			k->slot = cp__compile_track(&c, ti, rule_slots);
		}
	}
	cp__free(rule_slots);
	int rc = c.failed;
	cp__compiler_fini(&c);
	if (rc == CP_ELIMIT)
		cp__rules_error_at(errs, CP_ELIMIT, NULL, 0, 0,
		                   "the ruleset needs more than %u value slots: split it", CP_RULES_MAX_SLOTS);
	else if (rc == CP_ENOMEM)
		cp__rules_error_at(errs, CP_ENOMEM, NULL, 0, 0, "out of memory while compiling");
	else if (rc)
		cp__rules_error_at(errs, CP_ERROR, NULL, 0, 0, "internal error while compiling");
	return rc ? rc : CP_OK;
}

/* ---- 6. warnings: what can never apply ---- */

static bool slot_const(const cp_ruleset *rs, uint32_t s, int *truth)
{
	if (s == CP_NO_SLOT || s >= rs->prog.nslots || !rs->prog.is_const[s])
		return false;
	const cp__slot *v = &rs->prog.init[s];
	*truth = v->null ? -1 : (int)(v->v.i != 0);
	return true;
}

static void warn_unreachable(cp_ruleset *rs, cp__errs *errs)
{
	for (int t = 0; t < rs->ntags; t++) {
		const cp__tag *tag = &rs->tags[t];
		int truth;
		if (slot_const(rs, tag->raw_slot, &truth) && truth != 1)
			cp__rules_warning_at(errs, pack_file(rs, tag->pack), tag->line, tag->col,
			                     "the condition of tag '%s' is never true (always %s)", tag->id,
			                     truth ? "null" : "false");
	}
	for (int gi = 0; gi < rs->ngroups; gi++) {
		const cp__group *g = &rs->groups[gi];
		const char *file = pack_file(rs, g->pack);
		int always = -1;
		for (int i = 0; i < g->nmembers; i++) {
			const cp__tag *tag = &rs->tags[g->members[i]];
			if (always >= 0) {
				cp__rules_warning_at(errs, file, g->mline[i], g->mcol[i],
				                     "tag '%s' can never apply: it comes after '%s' in first-match group '%s', and the condition of '%s' is always true",
				                     tag->id, rs->tags[g->members[always]].id, g->id,
				                     rs->tags[g->members[always]].id);
				continue;
			}
			for (int j = 0; j < i; j++) {
				const cp__tag *e = &rs->tags[g->members[j]];
				if (e->raw_slot == tag->raw_slot && tag->raw_slot != CP_NO_SLOT) {
					cp__rules_warning_at(errs, file, g->mline[i], g->mcol[i],
					                     "tag '%s' can never apply: its condition is the same as that of '%s', which comes earlier in first-match group '%s'",
					                     tag->id, e->id, g->id);
					break;
				}
			}
			int truth;
			if (slot_const(rs, tag->raw_slot, &truth) && truth == 1)
				always = i;
		}
		if (always >= 0 && g->otherwise >= 0)
			cp__rules_warning_at(errs, file, g->oline, g->ocol,
			                     "the otherwise tag '%s' can never apply: the condition of '%s' is always true",
			                     rs->tags[g->otherwise].id, rs->tags[g->members[always]].id);
	}
	for (int k = 0; k < rs->ntracks; k++) {
		const cp__track *tr = &rs->tracks[k];
		const char *file = pack_file(rs, tr->pack);
		int always = -1;
		for (int i = 0; i < tr->nrules; i++) {
			const cp__rule *r = &tr->rules[i];
			uint32_t s = r->when.root ? r->when.root->slot : CP_NO_SLOT;
			if (always >= 0) {
				cp__rules_warning_at(errs, file, r->line, r->col,
				                     "stage rule '%s' can never apply: rule '%s' before it is always true",
				                     r->id, tr->rules[always].id);
				continue;
			}
			for (int j = 0; j < i; j++) {
				const cp__rule *e = &tr->rules[j];
				if (e->when.root && s != CP_NO_SLOT && e->when.root->slot == s) {
					cp__rules_warning_at(errs, file, r->line, r->col,
					                     "stage rule '%s' can never apply: its condition is the same as that of '%s' before it",
					                     r->id, e->id);
					break;
				}
			}
			int truth;
			if (slot_const(rs, s, &truth) && truth == 1)
				always = i;
		}
	}
}

/* ---- the whole compile ---- */

static int init_names(cp_ruleset *rs)
{
	const cp_schema *s = rs->schema;
	rs->field_enums = cp__arena_alloc(&rs->arena, ((size_t)s->nfields + 1) * sizeof(cp__enumdef));
	size_t n = (size_t)s->nfields + (size_t)rs->nmetrics + F_COUNT_;
	rs->names = cp__arena_alloc(&rs->arena, (n + 1) * sizeof(char *));
	if (!rs->field_enums || !rs->names)
		return CP_ENOMEM;
	for (int f = 0; f < s->nfields; f++) {
		rs->field_enums[f].name = s->fields[f].name;
		rs->field_enums[f].values = (const char *const *)s->fields[f].values;
		rs->field_enums[f].nvalues = s->fields[f].nvalues;
		rs->names[rs->nnames++] = s->fields[f].name;
	}
	for (int m = 0; m < rs->nmetrics; m++)
		rs->names[rs->nnames++] = rs->metrics[m].id;
	for (int i = 0; i < F_COUNT_; i++)
		rs->names[rs->nnames++] = cp__fn_names[i];
	return CP_OK;
}

static int compile_all(cp_ruleset *rs, const cp_rules_opts *opts, cp__errs *errs)
{
	for (size_t i = 0; i < cp__rules_opts_count(opts); i++) {
		const char *name, *text;
		size_t len;
		cp__rules_opts_source(opts, i, &name, &text, &len);
		if (cp__rules_read_pack(rs, name, text, len, errs) != CP_OK)
			return CP_ENOMEM;
	}
	if (init_names(rs) != CP_OK)
		return CP_ENOMEM;
	apply_overrides(rs, opts, errs);
	resolve_groups(rs, errs);
	if (errs->first_code == CP_ENOMEM)
		return CP_ENOMEM;
	graph g;
	build_graph(&g, rs);
	int *order = cp__calloc((size_t)g.n + 1, sizeof(int));
	int rc = CP_OK;
	if (g.oom || !order || order_units(&g, order, errs) != CP_OK) {
		rc = CP_ENOMEM;
		goto out;
	}
	check_units(rs, &g, order, errs);
	if (errs->errors)
		goto out;
	rc = compile_units(rs, &g, order, errs);
	if (rc == CP_OK)
		rc = cp__prog_optimize(rs);
	if (rc == CP_OK)
		warn_unreachable(rs, errs);
out:
	cp__free(order);
	free_graph(&g);
	return rc;
}

/* The position maps are only needed for diagnostics, while compiling. */
static void free_positions(cp_ruleset *rs)
{
	for (int i = 0; i < rs->nmetrics; i++) {
		cp__yamlpos_free(rs->metrics[i].expr.where.ypos);
		rs->metrics[i].expr.where.ypos = NULL;
	}
	for (int i = 0; i < rs->ntags; i++) {
		cp__yamlpos_free(rs->tags[i].when.where.ypos);
		rs->tags[i].when.where.ypos = NULL;
	}
	for (int k = 0; k < rs->ntracks; k++) {
		for (int i = 0; i < rs->tracks[k].nrules; i++) {
			cp__yamlpos_free(rs->tracks[k].rules[i].when.where.ypos);
			rs->tracks[k].rules[i].when.where.ypos = NULL;
		}
	}
}

static void ruleset_destroy(cp_ruleset *rs)
{
	free_positions(rs);
	cp__prog_free(&rs->prog);
	cp__free(rs->fast);
	cp__free(rs->prefetch);
	cp__strmap_free(&rs->pack_ids);
	cp__strmap_free(&rs->metric_ids);
	cp__strmap_free(&rs->tag_ids);
	cp__strmap_free(&rs->group_ids);
	cp__strmap_free(&rs->track_ids);
	cp__strmap_free(&rs->param_ids);
	cp__free(rs->packs);
	cp__free(rs->params);
	cp__free(rs->metrics);
	cp__free(rs->tags);
	cp__free(rs->groups);
	cp__free(rs->tracks);
	cp__free(rs->param_texts);
	cp__arena_free(&rs->arena);
	cp_schema_free((cp_schema *)rs->schema);
	cp__obj_fini(&rs->obj);
	cp__free(rs);
}

static int finish(cp_ruleset *rs)
{
	rs->param_texts = cp__calloc((size_t)rs->nparams + 1, sizeof(char *));
	if (!rs->param_texts)
		return CP_ENOMEM;
	cp_buf b;
	cp__buf_init(&b);
	for (int p = 0; p < rs->nparams; p++) {
		cp__buf_reset(&b);
		format_literal(&b, rs->params[p].value);
		rs->param_texts[p] = cp__arena_strdup(&rs->arena, b.data ? b.data : "");
		cp__buf_reset(&b);
		cp__buf_printf(&b, "%s.%s", rs->packs[rs->params[p].pack].name, rs->params[p].name);
		rs->params[p].qname = cp__arena_strdup(&rs->arena, b.data ? b.data : "");
		if (b.failed || !rs->param_texts[p] || !rs->params[p].qname) {
			cp__buf_free(&b);
			return CP_ENOMEM;
		}
	}
	cp__buf_free(&b);
	return CP_OK;
}

int cp_ruleset_compile(cp_ruleset **out, const cp_schema *schema, const cp_rules_opts *opts,
                       cp_diag *diag)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!schema)
		return CP_EINVAL;
	cp_rules_opts *defaults = NULL;
	if (!opts) {
		if (cp_rules_opts_new(&defaults) != CP_OK || cp_rules_opts_add_defaults(defaults) != CP_OK) {
			cp_rules_opts_free(defaults);
			return CP_ENOMEM;
		}
		opts = defaults;
	}
	cp_ruleset *rs = cp__calloc(1, sizeof(*rs));
	if (!rs) {
		cp_rules_opts_free(defaults);
		return CP_ENOMEM;
	}
	cp__obj_init(&rs->obj, CP_OBJ_RULESET);
	rs->schema = cp__schema_ref(schema);
	cp__arena_init(&rs->arena);
	cp__errs errs;
	memset(&errs, 0, sizeof(errs));
	errs.diag = diag;
	int rc = compile_all(rs, opts, &errs);
	if (rc == CP_OK && !errs.errors)
		rc = finish(rs);
	free_positions(rs);
	cp__errs_flush(&errs);
	cp_rules_opts_free(defaults);
	if (rc != CP_OK || errs.errors) {
		if (rc == CP_ENOMEM && !errs.errors)
			cp__diag_add(diag, CP_SEV_ERROR, NULL, 0, 0, "out of memory while compiling rules");
		ruleset_destroy(rs);
		return rc != CP_OK ? rc : (errs.first_code ? errs.first_code : CP_ERROR);
	}
	*out = rs;
	return CP_OK;
}

void cp_ruleset_free(cp_ruleset *rs)
{
	if (rs && !rs->derived)
		ruleset_destroy(rs);
}

const cp_schema *cp_ruleset_schema(const cp_ruleset *rs)
{
	return rs ? rs->schema : NULL;
}

/* ---- introspection ---- */

#define IN_RANGE(rs, i, n) ((rs) && (i) >= 0 && (i) < (rs)->n)

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

int cp_ruleset_pack_count(const cp_ruleset *rs)
{
	return rs ? rs->npacks : 0;
}

const char *cp_ruleset_pack_name(const cp_ruleset *rs, int pack)
{
	return IN_RANGE(rs, pack, npacks) ? rs->packs[pack].name : NULL;
}

const char *cp_ruleset_pack_label(const cp_ruleset *rs, int pack)
{
	return IN_RANGE(rs, pack, npacks) ? or_empty(rs->packs[pack].label) : NULL;
}

int cp_ruleset_tag_count(const cp_ruleset *rs)
{
	return rs ? rs->ntags : 0;
}

int cp_ruleset_tag_index(const cp_ruleset *rs, const char *id)
{
	int t = rs && id ? cp__strmap_get(&rs->tag_ids, id) : -1;
	return t >= 0 ? t : CP_ENOTFOUND;
}

const char *cp_ruleset_tag_id(const cp_ruleset *rs, int tag)
{
	return IN_RANGE(rs, tag, ntags) ? rs->tags[tag].id : NULL;
}

const char *cp_ruleset_tag_label(const cp_ruleset *rs, int tag)
{
	if (!IN_RANGE(rs, tag, ntags))
		return NULL;
	return rs->tags[tag].label ? rs->tags[tag].label : rs->tags[tag].id;
}

const char *cp_ruleset_tag_description(const cp_ruleset *rs, int tag)
{
	return IN_RANGE(rs, tag, ntags) ? or_empty(rs->tags[tag].description) : NULL;
}

const char *cp_ruleset_tag_expr(const cp_ruleset *rs, int tag)
{
	return IN_RANGE(rs, tag, ntags) ? or_empty(rs->tags[tag].when.text) : NULL;
}

int cp_ruleset_tag_pack(const cp_ruleset *rs, int tag)
{
	return IN_RANGE(rs, tag, ntags) ? rs->tags[tag].pack : -1;
}

int cp_ruleset_tag_group(const cp_ruleset *rs, int tag)
{
	return IN_RANGE(rs, tag, ntags) ? rs->tags[tag].group : -1;
}

int cp_ruleset_group_count(const cp_ruleset *rs)
{
	return rs ? rs->ngroups : 0;
}

int cp_ruleset_group_index(const cp_ruleset *rs, const char *id)
{
	int g = rs && id ? cp__strmap_get(&rs->group_ids, id) : -1;
	return g >= 0 ? g : CP_ENOTFOUND;
}

const char *cp_ruleset_group_id(const cp_ruleset *rs, int group)
{
	return IN_RANGE(rs, group, ngroups) ? rs->groups[group].id : NULL;
}

const char *cp_ruleset_group_label(const cp_ruleset *rs, int group)
{
	if (!IN_RANGE(rs, group, ngroups))
		return NULL;
	return rs->groups[group].label ? rs->groups[group].label : rs->groups[group].id;
}

int cp_ruleset_group_member_count(const cp_ruleset *rs, int group)
{
	return IN_RANGE(rs, group, ngroups) ? rs->groups[group].nmembers : -1;
}

int cp_ruleset_group_member(const cp_ruleset *rs, int group, int i)
{
	if (!IN_RANGE(rs, group, ngroups) || i < 0 || i >= rs->groups[group].nmembers)
		return -1;
	return rs->groups[group].members[i];
}

int cp_ruleset_group_otherwise(const cp_ruleset *rs, int group)
{
	return IN_RANGE(rs, group, ngroups) ? rs->groups[group].otherwise : -1;
}

int cp_ruleset_metric_count(const cp_ruleset *rs)
{
	return rs ? rs->nmetrics : 0;
}

int cp_ruleset_metric_index(const cp_ruleset *rs, const char *id)
{
	int m = rs && id ? cp__strmap_get(&rs->metric_ids, id) : -1;
	return m >= 0 ? m : CP_ENOTFOUND;
}

const char *cp_ruleset_metric_id(const cp_ruleset *rs, int metric)
{
	return IN_RANGE(rs, metric, nmetrics) ? rs->metrics[metric].id : NULL;
}

const char *cp_ruleset_metric_label(const cp_ruleset *rs, int metric)
{
	if (!IN_RANGE(rs, metric, nmetrics))
		return NULL;
	return rs->metrics[metric].label ? rs->metrics[metric].label : rs->metrics[metric].id;
}

int cp_ruleset_metric_type(const cp_ruleset *rs, int metric)
{
	if (!IN_RANGE(rs, metric, nmetrics))
		return -1;
	switch (rs->metrics[metric].type.base) {
	case B_BOOL: return CP_TYPE_BOOL;
	case B_INT: return CP_TYPE_INT;
	case B_FLOAT: return CP_TYPE_FLOAT;
	case B_MONEY: return CP_TYPE_MONEY;
	case B_DATE: return CP_TYPE_DATE;
	case B_STRING: return CP_TYPE_STRING;
	case B_ENUM: return CP_TYPE_ENUM;
	case B_SET: return CP_TYPE_SET;
	case B_LIST: return CP_TYPE_LIST;
	default: return 0;
	}
}

int cp_ruleset_metric_window(const cp_ruleset *rs, int metric)
{
	return IN_RANGE(rs, metric, nmetrics) ? rs->metrics[metric].type.n : -1;
}

int cp_ruleset_track_count(const cp_ruleset *rs)
{
	return rs ? rs->ntracks : 0;
}

int cp_ruleset_track_index(const cp_ruleset *rs, const char *name)
{
	int k = rs && name ? cp__strmap_get(&rs->track_ids, name) : -1;
	return k >= 0 ? k : CP_ENOTFOUND;
}

const char *cp_ruleset_track_name(const cp_ruleset *rs, int track)
{
	return IN_RANGE(rs, track, ntracks) ? rs->tracks[track].name : NULL;
}

const char *cp_ruleset_track_label(const cp_ruleset *rs, int track)
{
	if (!IN_RANGE(rs, track, ntracks))
		return NULL;
	return rs->tracks[track].label ? rs->tracks[track].label : rs->tracks[track].name;
}

int cp_ruleset_track_rule_count(const cp_ruleset *rs, int track)
{
	return IN_RANGE(rs, track, ntracks) ? rs->tracks[track].nrules : -1;
}

static const cp__rule *track_rule(const cp_ruleset *rs, int track, int i)
{
	if (!IN_RANGE(rs, track, ntracks) || i < 0 || i >= rs->tracks[track].nrules)
		return NULL;
	return &rs->tracks[track].rules[i];
}

const char *cp_ruleset_track_rule_id(const cp_ruleset *rs, int track, int i)
{
	const cp__rule *r = track_rule(rs, track, i);
	return r ? r->id : NULL;
}

int cp_ruleset_track_rule_stage(const cp_ruleset *rs, int track, int i)
{
	const cp__rule *r = track_rule(rs, track, i);
	return r ? r->stage : -1;
}

const char *cp_ruleset_track_rule_expr(const cp_ruleset *rs, int track, int i)
{
	const cp__rule *r = track_rule(rs, track, i);
	return r ? r->when.text : NULL;
}

int cp_ruleset_track_otherwise(const cp_ruleset *rs, int track)
{
	return IN_RANGE(rs, track, ntracks) ? rs->tracks[track].otherwise : -1;
}

int cp_ruleset_param_count(const cp_ruleset *rs)
{
	return rs ? rs->nparams : 0;
}

const char *cp_ruleset_param_name(const cp_ruleset *rs, int param)
{
	return IN_RANGE(rs, param, nparams) ? rs->params[param].qname : NULL;
}

const char *cp_ruleset_param_value(const cp_ruleset *rs, int param)
{
	return IN_RANGE(rs, param, nparams) ? rs->param_texts[param] : NULL;
}

/* ---- stages ---- */

const char *cp_ruleset_stage_label(const cp_ruleset *rs, int stage)
{
	if (!rs || stage < 0 || stage >= cp__stage_enum.nvalues)
		return NULL;
	return rs->stage_label[stage] ? rs->stage_label[stage] : cp__stage_enum.values[stage];
}

int cp_ruleset_stage_driver_count(const cp_ruleset *rs, int stage)
{
	if (!rs || stage < 0 || stage >= cp__stage_enum.nvalues)
		return -1;
	return rs->nstage_drivers[stage];
}

const char *cp_ruleset_stage_driver(const cp_ruleset *rs, int stage, int i)
{
	if (!rs || stage < 0 || stage >= cp__stage_enum.nvalues || i < 0 ||
	    i >= rs->nstage_drivers[stage])
		return NULL;
	return rs->stage_drivers[stage][i];
}

const char *cp_stage_name(int stage)
{
	return stage >= 0 && stage < cp__stage_enum.nvalues ? cp__stage_enum.values[stage] : NULL;
}

int cp_stage_from_name(const char *name)
{
	for (int i = 0; name && i < cp__stage_enum.nvalues; i++)
		if (strcmp(cp__stage_enum.values[i], name) == 0)
			return i;
	return CP_ENOTFOUND;
}
