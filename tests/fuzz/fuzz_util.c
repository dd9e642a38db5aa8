/*
 * fuzz_util.c — helpers of the fuzz harnesses (fuzz.h): reading a whole
 * store back through the public getters, the store as CSV, scratch files.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

uint64_t fz_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("fuzz: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* ---- reading a store back ---- */

/* A buffer reused for the text form of cells. */
typedef struct fz_text {
	char *p;
	size_t cap;
} fz_text;

/*
 * The text form of a cell, into t (valid until the next call).  thorough
 * also checks the buffer sizes that matter: too small gets a truncated,
 * terminated prefix; size 1 just the NUL.
 */
static const char *cell_text(fz_text *t, const cp_view *v, int f, int m, int thorough)
{
	if (!t->cap) {
		t->cap = 256;
		t->p = xmalloc(t->cap);
	}
	/* one call when the text fits (most cells: this runs for every cell) */
	int n = cp_view_text(v, f, m, t->p, t->cap);
	FZ_CHECK(n >= 0);
	if ((size_t)n + 1 > t->cap) {
		free(t->p);
		t->cap = (size_t)n + 64;
		t->p = xmalloc(t->cap);
		FZ_CHECK(cp_view_text(v, f, m, t->p, (size_t)n + 1) == n);
	}
	FZ_CHECK(strlen(t->p) == (size_t)n);
	if (thorough) {
		FZ_CHECK(cp_view_text(v, f, m, NULL, 0) == n);
		char small[4];
		FZ_CHECK(cp_view_text(v, f, m, small, sizeof(small)) == n);
		size_t keep = (size_t)n < sizeof(small) - 1 ? (size_t)n : sizeof(small) - 1;
		FZ_CHECK(strlen(small) == keep && memcmp(small, t->p, keep) == 0);
		char one = 'x';
		FZ_CHECK(cp_view_text(v, f, m, &one, 1) == n && one == '\0');
	}
	return t->p;
}

/* One cell: typed getters against the text form.  Returns its hash. */
static uint64_t walk_cell(const cp_schema *sc, const cp_view *v, int f, int m, fz_text *t,
                          int thorough)
{
	int null = cp_view_is_null(v, f, m);
	FZ_CHECK(null == 0 || null == 1);
	const char *text = cell_text(t, v, f, m, thorough);
	uint64_t h = fz_hash(FZ_HASH_INIT, &f, sizeof(f));
	h = fz_hash(h, &m, sizeof(m));
	h = fz_hash(h, &null, sizeof(null));
	h = fz_hash(h, text, strlen(text) + 1);
	if (null)
		FZ_CHECK(text[0] == '\0');
	switch (cp_schema_field_type(sc, f)) {
	case CP_TYPE_BOOL: {
		int b = cp_view_bool(v, f, m);
		FZ_CHECK(b == 0 || b == 1);
		FZ_CHECK(null || strcmp(text, b ? "1" : "0") == 0);
		break;
	}
	case CP_TYPE_INT:
	case CP_TYPE_MONEY: {
		int64_t x = cp_schema_field_type(sc, f) == CP_TYPE_INT ? cp_view_int(v, f, m)
		            : cp_view_money(v, f, m);
		FZ_CHECK(!null || x == 0);
		break;
	}
	case CP_TYPE_FLOAT:
		FZ_CHECK(!null || cp_view_float(v, f, m) == 0);
		break;
	case CP_TYPE_DATE: {
		cp_date d = cp_view_date(v, f, m);
		FZ_CHECK(!null || d == 0);
		int y, mo, da;
		cp_date_to_ymd(d, &y, &mo, &da);
		FZ_CHECK(mo >= 1 && mo <= 12 && da >= 1 && da <= 31);
		break;
	}
	case CP_TYPE_STRING:
	case CP_TYPE_ENUM: {
		const char *s = cp_view_string(v, f, m);
		FZ_CHECK(null == (s == NULL));
		FZ_CHECK(null || strcmp(s, text) == 0);
		break;
	}
	case CP_TYPE_SET:
	case CP_TYPE_LIST: {
		int n = cp_view_item_count(v, f, m);
		FZ_CHECK(n >= 0 && (!null || n == 0));
		int max = cp_schema_field_max_items(sc, f);
		FZ_CHECK(max == 0 || n <= max);
		/* the text form is the items joined by ';' */
		size_t pos = 0;
		for (int i = 0; i < n; i++) {
			const char *item = cp_view_item(v, f, m, i);
			FZ_CHECK(item != NULL);
			size_t len = strlen(item);
			if (i)
				FZ_CHECK(text[pos++] == ';');
			FZ_CHECK(strncmp(text + pos, item, len) == 0);
			pos += len;
		}
		FZ_CHECK(text[pos] == '\0');
		FZ_CHECK(cp_view_item(v, f, m, n) == NULL && cp_view_item(v, f, m, -1) == NULL);
		break;
	}
	default:
		FZ_CHECK(!"unknown field type");
	}
	return h;
}

static int count_profile(const cp_view *v, void *userdata)
{
	(void)v;
	++*(size_t *)userdata;
	return 0;
}

uint64_t fz_walk_store(const cp_store *store, int flags)
{
	const cp_schema *sc = cp_store_schema(store);
	FZ_CHECK(sc != NULL);
	int nf = cp_schema_field_count(sc);
	FZ_CHECK(nf > 0);
	cp_view *v = NULL, *w = NULL;
	cp_iter *it = NULL;
	FZ_CHECK(cp_view_new(&v, store) == CP_OK && cp_view_new(&w, store) == CP_OK);
	FZ_CHECK(cp_iter_new(&it, store) == CP_OK);
	FZ_CHECK(cp_store_row_bytes(store) > 0);
	FZ_CHECK(cp_store_memory_bytes(store) >= cp_store_count(store) * cp_store_row_bytes(store));

	uint64_t digest = 0;
	size_t n = 0;
	fz_text t = {NULL, 0};
	int rc;
	while ((rc = cp_iter_next(it, v)) == CP_OK) {
		n++;
		const char *key = cp_view_key(v);
		FZ_CHECK(key != NULL && (key[0] != '\0' || (flags & FZ_LOOKUP_MAY_FAIL)));
		/* the index finds the profile under its key */
		int found = cp_store_get(store, key, w);
		if (found == CP_OK)
			FZ_CHECK(strcmp(cp_view_key(w), key) == 0);
		else
			FZ_CHECK(found == CP_ENOTFOUND && (flags & FZ_LOOKUP_MAY_FAIL));
		uint64_t h = fz_hash(FZ_HASH_INIT, key, strlen(key) + 1);
		for (int f = 0; f < nf; f++) {
			int months = cp_schema_field_months(sc, f);
			FZ_CHECK(months >= 1);
			for (int m = 0; m < months; m++)
				h = fz_hash(h, &(uint64_t){walk_cell(sc, v, f, m, &t, n <= 2)},
				            sizeof(uint64_t));
			/* out of range: refused, never read */
			char buf[8];
			FZ_CHECK(cp_view_text(v, f, months, buf, sizeof(buf)) < 0);
			FZ_CHECK(cp_view_text(v, f, -1, buf, sizeof(buf)) < 0);
			FZ_CHECK(cp_view_is_null(v, f, months) == 1);
		}
		FZ_CHECK(cp_view_is_null(v, nf, 0) == 1 && cp_view_string(v, nf, 0) == NULL);
		digest += h; /* order of the profiles does not matter */
	}
	FZ_CHECK(rc == CP_DONE);
	FZ_CHECK(n == cp_store_count(store));
	size_t counted = 0;
	FZ_CHECK(cp_store_foreach(store, count_profile, &counted) == 0 && counted == n);
	free(t.p);
	cp_iter_free(it);
	cp_view_free(v);
	cp_view_free(w);
	return digest ^ (uint64_t)n;
}

/* ---- diagnostics ---- */

void fz_check_diag(cp_diag *diag, int failed)
{
	size_t n = cp_diag_count(diag), errors = 0;
	for (size_t i = 0; i < n; i++) {
		int sev = cp_diag_severity(diag, i);
		FZ_CHECK(sev == CP_SEV_ERROR || sev == CP_SEV_WARNING || sev == CP_SEV_NOTE);
		errors += sev == CP_SEV_ERROR;
		FZ_CHECK(cp_diag_file(diag, i) != NULL);
		const char *msg = cp_diag_message(diag, i);
		FZ_CHECK(msg != NULL && msg[0] != '\0');
		const char *line = cp_diag_format(diag, i);
		FZ_CHECK(line != NULL && strstr(line, msg) != NULL);
	}
	FZ_CHECK(errors == cp_diag_error_count(diag));
	FZ_CHECK(cp_diag_message(diag, n) == NULL);
	if (failed)
		FZ_CHECK(errors > 0);
}

/* ---- the store as CSV ---- */

typedef struct fz_out {
	char *p;
	size_t len, cap;
} fz_out;

static void out_put(fz_out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *q = realloc(o->p, cap);
		if (!q) {
			fputs("fuzz: out of memory\n", stderr);
			abort();
		}
		o->p = q;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* RFC 4180: quoted when it holds a delimiter, a quote or a line break. */
static void out_cell(fz_out *o, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		out_put(o, s, strlen(s));
		return;
	}
	out_put(o, "\"", 1);
	for (; *s; s++) {
		if (*s == '"')
			out_put(o, "\"", 1);
		out_put(o, s, 1);
	}
	out_put(o, "\"", 1);
}

char *fz_store_csv(const cp_store *store, size_t *len)
{
	const cp_schema *sc = cp_store_schema(store);
	int nf = cp_schema_field_count(sc);
	fz_out o = {NULL, 0, 0};
	char name[300];
	for (int f = 0; f < nf; f++) {
		int months = cp_schema_field_months(sc, f);
		for (int m = 0; m < months; m++) {
			if (cp_schema_field_is_series(sc, f))
				snprintf(name, sizeof(name), "%s_m%d", cp_schema_field_name(sc, f), m);
			else
				snprintf(name, sizeof(name), "%s", cp_schema_field_name(sc, f));
			if (o.len)
				out_put(&o, ",", 1);
			out_cell(&o, name);
		}
	}
	out_put(&o, "\n", 1);
	cp_view *v = NULL;
	cp_iter *it = NULL;
	fz_text t = {NULL, 0};
	FZ_CHECK(cp_view_new(&v, store) == CP_OK && cp_iter_new(&it, store) == CP_OK);
	while (cp_iter_next(it, v) == CP_OK) {
		for (int f = 0; f < nf; f++) {
			int months = cp_schema_field_months(sc, f);
			for (int m = 0; m < months; m++) {
				if (f || m)
					out_put(&o, ",", 1);
				out_cell(&o, cell_text(&t, v, f, m, 0));
			}
		}
		out_put(&o, "\n", 1);
	}
	free(t.p);
	cp_iter_free(it);
	cp_view_free(v);
	*len = o.len;
	return o.p;
}

/* ---- scratch files ---- */

#define FZ_SLOTS 4
static char scratch[FZ_SLOTS][4096];

/* A scratch file and the update log an opened store may have written
 * beside it (STORE-wal): a log left from one input would belong to another
 * snapshot at the next, and open rightly refuses a foreign log. */
static void remove_with_log(const char *path)
{
	char log[4096 + 8];
	unlink(path);
	snprintf(log, sizeof(log), "%s-wal", path);
	unlink(log);
}

static void remove_scratch(void)
{
	for (int i = 0; i < FZ_SLOTS; i++)
		if (scratch[i][0])
			remove_with_log(scratch[i]);
}

const char *fz_scratch_path(int slot, const char *suffix)
{
	static int registered;
	FZ_CHECK(slot >= 0 && slot < FZ_SLOTS);
	if (!scratch[slot][0]) {
		const char *dir = getenv("TMPDIR");
		if (access("/dev/shm", W_OK) == 0)
			dir = "/dev/shm";
		else if (!dir || !*dir)
			dir = "/tmp";
		snprintf(scratch[slot], sizeof(scratch[slot]), "%s/cpfuzz.%ld.%d%s", dir,
		         (long)getpid(), slot, suffix);
		if (!registered++)
			atexit(remove_scratch);
	}
	return scratch[slot];
}

void fz_write_file(const char *path, const void *data, size_t len)
{
	remove_with_log(path);
	FILE *f = fopen(path, "wb");
	FZ_CHECK(f != NULL);
	FZ_CHECK(fwrite(data, 1, len, f) == len);
	FZ_CHECK(fclose(f) == 0);
}

char *fz_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fz_out o = {NULL, 0, 0};
	char buf[65536];
	size_t n;
	out_put(&o, "", 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		out_put(&o, buf, n);
	fclose(f);
	if (len)
		*len = o.len;
	return o.p;
}
