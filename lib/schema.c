/*
 * schema.c — the schema object: building, validation, row layout and
 * introspection.  The YAML front end is schema_yaml.c.
 */
#include "schema.h"

#include <stdatomic.h>
#include <string.h>

const char *cp_type_name(int type)
{
	switch (type) {
	case CP_TYPE_BOOL: return "bool";
	case CP_TYPE_INT: return "int";
	case CP_TYPE_FLOAT: return "float";
	case CP_TYPE_MONEY: return "money";
	case CP_TYPE_STRING: return "string";
	case CP_TYPE_ENUM: return "enum";
	case CP_TYPE_SET: return "set";
	case CP_TYPE_LIST: return "list";
	case CP_TYPE_DATE: return "date";
	default: return NULL;
	}
}

static uint32_t type_width(int type)
{
	switch (type) {
	case CP_TYPE_INT:
	case CP_TYPE_FLOAT:
	case CP_TYPE_MONEY:
		return 8;
	case CP_TYPE_BOOL:
		return 1;
	default:
		return 4; /* date, and every interned kind (string, enum, set, list) */
	}
}

cp_schema *cp__schema_new(const char *name)
{
	cp_schema *s = cp__calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	cp__obj_init(&s->obj, CP_OBJ_SCHEMA);
	s->refs = 1;
	s->months = CP_DEFAULT_MONTHS;
	s->key = -1;
	s->name = cp__strdup(name ? name : "");
	if (!s->name) {
		cp__free(s);
		return NULL;
	}
	return s;
}

static void field_free(cp_field *f)
{
	cp__free(f->name);
	cp__free(f->label);
	cp__free(f->description);
	for (int i = 0; i < f->nvalues; i++) {
		cp__free(f->values[i]);
		cp__free(f->value_labels[i]);
	}
	cp__free(f->values);
	cp__free(f->value_labels);
}

void cp_schema_free(cp_schema *s)
{
	if (!s)
		return;
	if (atomic_fetch_sub_explicit((_Atomic int *)&s->refs, 1, memory_order_acq_rel) > 1)
		return;
	for (int i = 0; i < s->nfields; i++)
		field_free(&s->fields[i]);
	cp__free(s->fields);
	cp__free(s->field_hash);
	cp__free(s->name);
	cp__free(s->source);
	cp__obj_fini(&s->obj);
	cp__free(s);
}

const cp_schema *cp__schema_ref(const cp_schema *s)
{
	if (s)
		atomic_fetch_add_explicit((_Atomic int *)&((cp_schema *)s)->refs, 1,
		                          memory_order_relaxed);
	return s;
}

/* ---- name index ---- */

static uint32_t name_hash(const char *name)
{
	return cp__hash(name, strlen(name));
}

static int find_field(const cp_schema *s, const char *name)
{
	if (!s->field_hash) {
		for (int i = 0; i < s->nfields; i++)
			if (strcmp(s->fields[i].name, name) == 0)
				return i;
		return -1;
	}
	for (uint32_t h = name_hash(name) & s->field_hash_mask;; h = (h + 1) & s->field_hash_mask) {
		int i = s->field_hash[h];
		if (i < 0)
			return -1;
		if (strcmp(s->fields[i].name, name) == 0)
			return i;
	}
}

static int build_field_hash(cp_schema *s)
{
	uint32_t size = 16;
	while (size < (uint32_t)s->nfields * 2)
		size *= 2;
	int *h = cp__malloc(size * sizeof(int));
	if (!h)
		return CP_ENOMEM;
	memset(h, 0xff, size * sizeof(int));
	for (int i = 0; i < s->nfields; i++) {
		uint32_t k = name_hash(s->fields[i].name) & (size - 1);
		while (h[k] >= 0)
			k = (k + 1) & (size - 1);
		h[k] = i;
	}
	cp__free(s->field_hash);
	s->field_hash = h;
	s->field_hash_mask = size - 1;
	return CP_OK;
}

/* ---- building ---- */

int cp__schema_add_field(cp_schema *s, const char *name, int type, bool series,
                         const char *label)
{
	if (find_field(s, name) >= 0)
		return CP_EEXIST;
	if (s->nfields >= CP_MAX_FIELDS)
		return CP_ELIMIT;
	if (s->nfields == s->cap) {
		int cap = s->cap ? s->cap * 2 : 32;
		cp_field *f = cp__reallocarray(s->fields, (size_t)cap, sizeof(*f));
		if (!f)
			return CP_ENOMEM;
		s->fields = f;
		s->cap = cap;
	}
	cp_field *f = &s->fields[s->nfields];
	memset(f, 0, sizeof(*f));
	f->name = cp__strdup(name);
	f->label = label ? cp__strdup(label) : NULL;
	if (!f->name || (label && !f->label)) {
		field_free(f);
		return CP_ENOMEM;
	}
	f->type = type;
	f->series = series;
	/* Building by hand (tests) skips the hash; finish builds it. */
	cp__free(s->field_hash);
	s->field_hash = NULL;
	return s->nfields++;
}

int cp__schema_add_value(cp_schema *s, int fi, const char *value, const char *label)
{
	cp_field *f = &s->fields[fi];
	char **v = cp__reallocarray(f->values, (size_t)f->nvalues + 1, sizeof(char *));
	if (!v)
		return CP_ENOMEM;
	f->values = v;
	char **l = cp__reallocarray(f->value_labels, (size_t)f->nvalues + 1, sizeof(char *));
	if (!l)
		return CP_ENOMEM;
	f->value_labels = l;
	v[f->nvalues] = cp__strdup(value);
	l[f->nvalues] = cp__strdup(label ? label : value);
	if (!v[f->nvalues] || !l[f->nvalues]) {
		cp__free(v[f->nvalues]);
		cp__free(l[f->nvalues]);
		return CP_ENOMEM;
	}
	f->nvalues++;
	return CP_OK;
}

int cp__field_value_index(const cp_field *f, const char *value, size_t len)
{
	for (int i = 0; i < f->nvalues; i++)
		if (strlen(f->values[i]) == len && memcmp(f->values[i], value, len) == 0)
			return i;
	return -1;
}

/* Cells grouped by width (8, then 4, then 1) keep each naturally aligned. */
static void compute_layout(cp_schema *s)
{
	uint32_t cell = 0;
	for (int i = 0; i < s->nfields; i++) {
		cp_field *f = &s->fields[i];
		f->months = f->series ? s->months : 1;
		f->width = type_width(f->type);
		f->cell = cell;
		cell += (uint32_t)f->months;
	}
	s->ncells = cell;
	s->presence_off = CP_ROW_HEADER_BYTES;
	s->presence_bytes = (cell + 7) / 8;
	uint32_t off = (CP_ROW_HEADER_BYTES + s->presence_bytes + 7) & ~7u;
	s->cell_bytes = 0;
	static const uint32_t widths[] = {8, 4, 1};
	for (size_t w = 0; w < 3; w++) {
		for (int i = 0; i < s->nfields; i++) {
			cp_field *f = &s->fields[i];
			if (f->width != widths[w])
				continue;
			f->offset = off;
			off += f->width * (uint32_t)f->months;
			s->cell_bytes += f->width * (uint32_t)f->months;
		}
	}
	s->row_size = (off + 7) & ~7u;
}

int cp__schema_finish(cp_schema *s, const char *key_name, cp_diag *diag, const char *file)
{
	int rc = CP_OK;
	if (s->months < 1 || s->months > CP_MAX_MONTHS) {
		cp__diag_add(diag, CP_SEV_ERROR, file, 0, 0,
		             "months must be between 1 and %d, not %d", CP_MAX_MONTHS, s->months);
		rc = CP_EINVAL;
	}
	if (s->nfields == 0) {
		cp__diag_add(diag, CP_SEV_ERROR, file, 0, 0, "the schema has no fields");
		return CP_EINVAL;
	}
	for (int i = 0; i < s->nfields; i++) {
		cp_field *f = &s->fields[i];
		if (!f->label && !(f->label = cp__strdup(f->name)))
			return CP_ENOMEM;
	}
	if (build_field_hash(s) != CP_OK)
		return CP_ENOMEM;
	s->key = key_name ? find_field(s, key_name) : -1;
	if (!key_name) {
		cp__diag_add(diag, CP_SEV_ERROR, file, 0, 0, "the schema names no key field");
		rc = CP_EINVAL;
	} else if (s->key < 0) {
		cp__diag_add(diag, CP_SEV_ERROR, file, 0, 0,
		             "key field '%s' is not defined in fields", key_name);
		rc = CP_EINVAL;
	} else {
		const cp_field *k = &s->fields[s->key];
		if (k->type != CP_TYPE_STRING || k->series) {
			cp__diag_add(diag, CP_SEV_ERROR, file, k->line, k->col,
			             "key field '%s' must be a scalar string field, not %s%s",
			             k->name, k->series ? "a series of " : "", cp_type_name(k->type));
			rc = CP_EINVAL;
		}
	}
	if (rc == CP_OK)
		compute_layout(s);
	return rc;
}

/* ---- introspection ---- */

static const cp_field *field_at(const cp_schema *s, int i)
{
	return s && i >= 0 && i < s->nfields ? &s->fields[i] : NULL;
}

const char *cp_schema_name(const cp_schema *s) { return s ? s->name : NULL; }
int cp_schema_months(const cp_schema *s) { return s ? s->months : 0; }
int cp_schema_field_count(const cp_schema *s) { return s ? s->nfields : 0; }
int cp_schema_key_field(const cp_schema *s) { return s ? s->key : CP_EINVAL; }
size_t cp_schema_cell_bytes(const cp_schema *s) { return s ? s->cell_bytes : 0; }

const char *cp_schema_source(const cp_schema *s, size_t *len)
{
	if (len)
		*len = s && s->source ? s->source_len : 0;
	return s ? s->source : NULL;
}

int cp_schema_field_index(const cp_schema *s, const char *name)
{
	if (!s || !name)
		return CP_EINVAL;
	int i = find_field(s, name);
	return i >= 0 ? i : CP_ENOTFOUND;
}

const char *cp_schema_field_name(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? f->name : NULL;
}

const char *cp_schema_field_label(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? (f->label ? f->label : f->name) : NULL;
}

int cp_schema_field_type(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? f->type : CP_EINVAL;
}

int cp_schema_field_is_series(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? f->series : 0;
}

int cp_schema_field_months(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? (f->series ? s->months : 1) : 0;
}

int cp_schema_field_is_closed(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? f->closed : 0;
}

int cp_schema_field_max_items(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f && f->type == CP_TYPE_LIST ? f->max_items : 0;
}

const char *cp_schema_field_normalize(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	if (!f)
		return NULL;
	return f->normalize == CP_NORM_MSISDN_CN ? "msisdn-cn" : "";
}

int cp_schema_field_value_count(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? f->nvalues : 0;
}

const char *cp_schema_field_value(const cp_schema *s, int i, int v)
{
	const cp_field *f = field_at(s, i);
	return f && v >= 0 && v < f->nvalues ? f->values[v] : NULL;
}

const char *cp_schema_field_value_label(const cp_schema *s, int i, int v)
{
	const cp_field *f = field_at(s, i);
	return f && v >= 0 && v < f->nvalues ? f->value_labels[v] : NULL;
}

int cp_schema_field_is_personal(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? f->personal : 0;
}

const char *cp_schema_field_description(const cp_schema *s, int i)
{
	const cp_field *f = field_at(s, i);
	return f ? (f->description ? f->description : "") : NULL;
}
