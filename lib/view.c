/*
 * view.c — read access to stored profiles: views, typed getters, the text
 * form of a cell, and iteration.
 */
#include "store.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

struct cp_iter {
	cp_obj obj;
	const cp_store *store;
	uint32_t next; /* row to look at next */
};

int cp__view_prepare(cp_view *v, const cp_store *s)
{
	size_t rs = s->schema->row_size;
	if (v->buf_size >= rs)
		return CP_OK;
	uint8_t *b = cp__malloc(rs);
	if (!b)
		return CP_ENOMEM;
	cp__free(v->buf);
	v->buf = b;
	v->buf_size = rs;
	return CP_OK;
}

int cp_view_new(cp_view **out, const cp_store *store)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!store)
		return CP_EINVAL;
	cp_view *v = cp__calloc(1, sizeof(*v));
	if (!v)
		return CP_ENOMEM;
	cp__obj_init(&v->obj, CP_OBJ_VIEW);
	v->store = store;
	if (cp__view_prepare(v, store) != CP_OK) {
		cp_view_free(v);
		return CP_ENOMEM;
	}
	*out = v;
	return CP_OK;
}

void cp_view_free(cp_view *v)
{
	if (!v)
		return;
	cp__free(v->buf);
	cp__obj_fini(&v->obj);
	cp__free(v);
}

int cp_store_get(const cp_store *s, const char *key, cp_view *v)
{
	if (!v)
		return CP_EINVAL;
	v->row = NULL;
	if (!s || !key)
		return cp__fail(&v->obj, CP_EINVAL, "cp_store_get: NULL %s", s ? "key" : "store");
	v->store = s;
	if (cp__view_prepare(v, s) != CP_OK)
		return cp__fail(&v->obj, CP_ENOMEM, "out of memory");
	char buf[CP_KEY_BUF];
	return cp__store_lookup(s, key, strlen(key), buf, v->buf, &v->row, &v->obj);
}

/* ---- getters ---- */

/* The field of (field, month) if the view shows a profile and both are in
 * range, else NULL. */
static const cp_field *field_of(const cp_view *v, int field, int month)
{
	if (!v || !v->row)
		return NULL;
	const cp_schema *s = v->store->schema;
	if (field < 0 || field >= s->nfields)
		return NULL;
	const cp_field *f = &s->fields[field];
	return month >= 0 && month < f->months ? f : NULL;
}

/* The cell of (field, month) if it is present and of one of the types,
 * else NULL. */
static const void *cell_of(const cp_view *v, int field, int month, int t1, int t2,
                           const cp_field **fo)
{
	const cp_field *f = field_of(v, field, month);
	if (!f || (f->type != t1 && f->type != t2) ||
	    !cp__row_present(v->row, f->cell + (uint32_t)month))
		return NULL;
	if (fo)
		*fo = f;
	return cp__row_cell(v->row, f, month);
}

int cp_view_is_null(const cp_view *v, int field, int month)
{
	const cp_field *f = field_of(v, field, month);
	return !f || !cp__row_present(v->row, f->cell + (uint32_t)month);
}

const char *cp_view_key(const cp_view *v)
{
	if (!v || !v->row)
		return NULL;
	return cp__store_str(v->store, cp__row_key_id(v->store->schema, v->row));
}

int cp_view_bool(const cp_view *v, int field, int month)
{
	const uint8_t *c = cell_of(v, field, month, CP_TYPE_BOOL, CP_TYPE_BOOL, NULL);
	return c ? *c != 0 : 0;
}

static int64_t cell_i64(const void *c)
{
	int64_t x = 0;
	if (c)
		memcpy(&x, c, sizeof(x));
	return x;
}

int64_t cp_view_int(const cp_view *v, int field, int month)
{
	return cell_i64(cell_of(v, field, month, CP_TYPE_INT, CP_TYPE_INT, NULL));
}

int64_t cp_view_money(const cp_view *v, int field, int month)
{
	return cell_i64(cell_of(v, field, month, CP_TYPE_MONEY, CP_TYPE_MONEY, NULL));
}

double cp_view_float(const cp_view *v, int field, int month)
{
	const void *c = cell_of(v, field, month, CP_TYPE_FLOAT, CP_TYPE_FLOAT, NULL);
	double d = 0;
	if (c)
		memcpy(&d, c, sizeof(d));
	return d;
}

cp_date cp_view_date(const cp_view *v, int field, int month)
{
	const void *c = cell_of(v, field, month, CP_TYPE_DATE, CP_TYPE_DATE, NULL);
	cp_date d = 0;
	if (c)
		memcpy(&d, c, sizeof(d));
	return d;
}

static uint32_t cell_u32(const void *c)
{
	uint32_t x;
	memcpy(&x, c, sizeof(x));
	return x;
}

const char *cp_view_string(const cp_view *v, int field, int month)
{
	const cp_field *f;
	const void *c = cell_of(v, field, month, CP_TYPE_STRING, CP_TYPE_ENUM, &f);
	if (!c)
		return NULL;
	uint32_t id = cell_u32(c);
	if (f->type == CP_TYPE_ENUM && f->closed)
		return id < (uint32_t)f->nvalues ? f->values[id] : NULL;
	return cp__store_str(v->store, id);
}

/* The item list of a set or list cell, or NULL. */
static const uint32_t *items_of(const cp_view *v, int field, int month, uint32_t *n)
{
	const void *c = cell_of(v, field, month, CP_TYPE_SET, CP_TYPE_LIST, NULL);
	if (!c)
		return NULL;
	const uint32_t *l = cp__store_list(v->store, cell_u32(c));
	*n = l[0];
	return l + 1;
}

int cp_view_item_count(const cp_view *v, int field, int month)
{
	uint32_t n = 0;
	items_of(v, field, month, &n);
	return n > INT_MAX ? INT_MAX : (int)n;
}

const char *cp_view_item(const cp_view *v, int field, int month, int i)
{
	uint32_t n = 0;
	const uint32_t *ids = items_of(v, field, month, &n);
	if (!ids || i < 0 || (uint32_t)i >= n)
		return NULL;
	return cp__store_str(v->store, ids[i]);
}

/* ---- text form ---- */

/* Shortest "%.Ng" that reads back as d: 15 digits are enough for every
 * decimal of up to 15 digits; otherwise 16 or 17. */
static void format_float(double d, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* Append s[0..len) at *pos of buf (as much as fits, keeping room for the
 * NUL); *pos counts the full length. */
static void emit(char *buf, size_t size, size_t *pos, const char *s, size_t len)
{
	if (*pos + 1 < size) {
		size_t room = size - 1 - *pos;
		memcpy(buf + *pos, s, len < room ? len : room);
	}
	*pos += len;
}

int cp_view_text(const cp_view *v, int field, int month, char *buf, size_t size)
{
	if (!v || (size && !buf))
		return CP_EINVAL;
	if (!v->row)
		return CP_EMISUSE;
	const cp_field *f = field_of(v, field, month);
	if (!f)
		return CP_EINVAL;
	size_t pos = 0;
	char tmp[40];
	const char *s = tmp;
	tmp[0] = '\0';
	if (cp__row_present(v->row, f->cell + (uint32_t)month)) {
		switch (f->type) {
		case CP_TYPE_BOOL:
			s = cp_view_bool(v, field, month) ? "1" : "0";
			break;
		case CP_TYPE_INT:
			snprintf(tmp, sizeof(tmp), "%" PRId64, cp_view_int(v, field, month));
			break;
		case CP_TYPE_FLOAT:
			format_float(cp_view_float(v, field, month), tmp, sizeof(tmp));
			break;
		case CP_TYPE_MONEY:
			cp__format_money(cp_view_money(v, field, month), tmp, sizeof(tmp));
			break;
		case CP_TYPE_DATE: {
			int y, m, d;
			cp__civil_from_days(cp_view_date(v, field, month), &y, &m, &d);
			snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y, m, d);
			break;
		}
		case CP_TYPE_STRING:
		case CP_TYPE_ENUM:
			s = cp_view_string(v, field, month);
			if (!s)
				s = "";
			break;
		case CP_TYPE_SET:
		case CP_TYPE_LIST: {
			uint32_t n = 0;
			const uint32_t *ids = items_of(v, field, month, &n);
			for (uint32_t i = 0; i < n; i++) {
				const char *item = cp__store_str(v->store, ids[i]);
				if (i)
					emit(buf, size, &pos, ";", 1);
				emit(buf, size, &pos, item, strlen(item));
			}
			s = "";
			break;
		}
		default:
			break;
		}
	}
	emit(buf, size, &pos, s, strlen(s));
	if (size)
		buf[pos < size ? pos : size - 1] = '\0';
	return pos > INT_MAX ? CP_ELIMIT : (int)pos;
}

/* ---- iteration ---- */

int cp_iter_new(cp_iter **out, const cp_store *s)
{
	if (!out)
		return CP_EINVAL;
	*out = NULL;
	if (!s)
		return CP_EINVAL;
	cp_iter *it = cp__calloc(1, sizeof(*it));
	if (!it)
		return CP_ENOMEM;
	cp__obj_init(&it->obj, CP_OBJ_ITER);
	it->store = s;
	*out = it;
	return CP_OK;
}

void cp_iter_free(cp_iter *it)
{
	if (!it)
		return;
	cp__obj_fini(&it->obj);
	cp__free(it);
}

/*
 * Point v at the next profile at or after row *next: CP_OK, CP_DONE, or
 * CP_ECORRUPT for a damaged base row (skipped: the next call goes on after
 * it) with a message on err.
 */
static int next_live(const cp_store *s, uint32_t *next, cp_view *v, cp_obj *err)
{
	if (cp__view_prepare(v, s) != CP_OK)
		return cp__fail(err, CP_ENOMEM, "out of memory");
	v->store = s;
	v->row = NULL;
	uint32_t n = cp__store_nrows(s);
	while (*next < n) {
		uint32_t row = (*next)++;
		const char *why = NULL;
		if ((v->row = cp__store_read(s, row, v->buf, &why)))
			return CP_OK;
		if (why)
			return cp__fail(err, CP_ECORRUPT, "the profile of row %u is damaged in the "
			                "snapshot (%s); cp_snapshot_verify lists the damage", row, why);
	}
	return CP_DONE;
}

int cp_iter_next(cp_iter *it, cp_view *v)
{
	if (!it || !v)
		return CP_EINVAL;
	return next_live(it->store, &it->next, v, &it->obj);
}

int cp_store_foreach(const cp_store *s, cp_foreach_fn fn, void *userdata)
{
	if (!s || !fn)
		return CP_EINVAL;
	cp_view v;
	memset(&v, 0, sizeof(v));
	cp__obj_init(&v.obj, CP_OBJ_VIEW);
	uint32_t next = 0;
	int rc;
	/* no message: the store is shared with other readers */
	while ((rc = next_live(s, &next, &v, NULL)) == CP_OK &&
	       (rc = fn(&v, userdata)) == 0)
		;
	cp__free(v.buf);
	cp__obj_fini(&v.obj);
	return rc == CP_DONE ? CP_OK : rc;
}
