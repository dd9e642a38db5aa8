/*
 * fuzz_schema.c — the schema YAML loader (cp_schema_load_memory).
 *
 * Input: a schema file.  A schema that loads is introspected completely,
 * and a store of it takes a profile with every cell set from a text value
 * that fits its type, which must read back the same.
 */
#include "fuzz.h"

#include <stdio.h>
#include <string.h>

/* A text value that fits a field (for a closed enum: its first value). */
static const char *sample_text(const cp_schema *sc, int f)
{
	switch (cp_schema_field_type(sc, f)) {
	case CP_TYPE_BOOL: return "1";
	case CP_TYPE_INT: return "-42";
	case CP_TYPE_FLOAT: return "2.5";
	case CP_TYPE_MONEY: return "12.34";
	case CP_TYPE_DATE: return "2026-02-28";
	case CP_TYPE_STRING: return "文本";
	case CP_TYPE_ENUM:
		if (cp_schema_field_is_closed(sc, f))
			return cp_schema_field_value(sc, f, 0);
		return "open";
	case CP_TYPE_SET:
	case CP_TYPE_LIST: return "a";
	}
	return NULL;
}

static void introspect(const cp_schema *sc, size_t len)
{
	size_t slen = 0;
	const char *src = cp_schema_source(sc, &slen);
	FZ_CHECK(src != NULL && slen == len);
	FZ_CHECK(cp_schema_name(sc) != NULL);
	int months = cp_schema_months(sc), nf = cp_schema_field_count(sc);
	FZ_CHECK(months >= 1 && nf >= 1);
	int key = cp_schema_key_field(sc);
	FZ_CHECK(key >= 0 && key < nf);
	FZ_CHECK(cp_schema_field_type(sc, key) == CP_TYPE_STRING);
	FZ_CHECK(!cp_schema_field_is_series(sc, key));
	for (int f = 0; f < nf; f++) {
		const char *name = cp_schema_field_name(sc, f);
		FZ_CHECK(name != NULL && cp_schema_field_index(sc, name) == f);
		FZ_CHECK(cp_schema_field_label(sc, f) != NULL);
		FZ_CHECK(cp_type_name(cp_schema_field_type(sc, f)) != NULL);
		int series = cp_schema_field_is_series(sc, f);
		FZ_CHECK(cp_schema_field_months(sc, f) == (series ? months : 1));
		FZ_CHECK(cp_schema_field_normalize(sc, f) != NULL);
		FZ_CHECK(cp_schema_field_description(sc, f) != NULL);
		cp_schema_field_is_personal(sc, f);
		int nv = cp_schema_field_value_count(sc, f);
		FZ_CHECK(nv >= 0);
		if (cp_schema_field_is_closed(sc, f))
			FZ_CHECK(nv > 0);
		for (int i = 0; i < nv; i++)
			FZ_CHECK(cp_schema_field_value(sc, f, i) != NULL &&
			         cp_schema_field_value_label(sc, f, i) != NULL);
		FZ_CHECK(cp_schema_field_value(sc, f, nv) == NULL);
		FZ_CHECK(cp_schema_field_max_items(sc, f) >= 0);
	}
	FZ_CHECK(cp_schema_field_name(sc, nf) == NULL && cp_schema_field_name(sc, -1) == NULL);
}

/* A store of the schema holds one profile with every cell set. */
static void use(const cp_schema *sc)
{
	cp_store *store = NULL;
	cp_profile *p = NULL;
	FZ_CHECK(cp_store_new(&store, sc) == CP_OK);
	FZ_CHECK(cp_profile_new(&p, sc) == CP_OK);
	int key = cp_schema_key_field(sc), nf = cp_schema_field_count(sc);
	FZ_CHECK(cp_profile_set_text(p, key, 0, "13800000000") == CP_OK);
	for (int f = 0; f < nf; f++) {
		if (f == key)
			continue;
		for (int m = 0; m < cp_schema_field_months(sc, f); m++)
			FZ_CHECK(cp_profile_set_text(p, f, m, sample_text(sc, f)) == CP_OK);
	}
	int replaced = -1;
	FZ_CHECK(cp_store_put(store, p, &replaced) == CP_OK && replaced == 0);
	FZ_CHECK(cp_store_count(store) == 1);
	fz_walk_store(store, 0);
	cp_view *v = NULL;
	FZ_CHECK(cp_view_new(&v, store) == CP_OK);
	FZ_CHECK(cp_store_get(store, "13800000000", v) == CP_OK);
	for (int f = 0; f < nf; f++) {
		if (f == key)
			continue;
		char buf[1024]; /* enum values have at most 256 bytes */
		int n = cp_view_text(v, f, 0, buf, sizeof(buf));
		FZ_CHECK(n >= 0 && (size_t)n < sizeof(buf));
		FZ_CHECK(strcmp(buf, sample_text(sc, f)) == 0);
	}
	cp_view_free(v);
	cp_profile_free(p);
	FZ_CHECK(cp_store_delete(store, "13800000000") == CP_OK);
	FZ_CHECK(cp_store_count(store) == 0);
	cp_store_free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cp_diag *diag = NULL;
	FZ_CHECK(cp_diag_new(&diag) == CP_OK);
	cp_schema *sc = (cp_schema *)1;
	int rc = cp_schema_load_memory(&sc, (const char *)data, size, "fuzz.yaml", diag);
	FZ_CHECK(rc <= 0);
	FZ_CHECK((rc == CP_OK) == (sc != NULL));
	fz_check_diag(diag, rc != CP_OK);
	if (rc == CP_OK) {
		FZ_CHECK(cp_diag_error_count(diag) == 0);
		introspect(sc, size);
		use(sc);
		cp_schema_free(sc);
	}
	cp_diag_free(diag);
	return 0;
}
