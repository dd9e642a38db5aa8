/*
 * mkseed.c — writes a snapshot seed for the fuzz corpus: a CSV loaded into
 * a store of a schema, some keys deleted, saved.  Public API only.
 *
 *   mkseed [-z] [-a YYYYMM] [-d KEY]... SCHEMA.yaml|- DATA.csv|- OUT.cps
 *
 * SCHEMA "-" is the built-in default schema; DATA "-" an empty store.
 * -z writes the compressed form.  Not installed (make tests/fuzz/mkseed).
 */
#include <custprof/custprof.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int rc, const void *handle)
{
	fprintf(stderr, "mkseed: %s: %s: %s\n", what, cp_strerror(rc),
	        handle ? cp_errmsg(handle) : "");
	return 1;
}

int main(int argc, char **argv)
{
	int flags = 0, as_of = 0, i = 1;
	const char *del[64];
	int ndel = 0;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "-z") == 0)
			flags |= CP_SAVE_COMPRESS;
		else if (strcmp(argv[i], "-a") == 0 && i + 1 < argc)
			as_of = atoi(argv[++i]);
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc && ndel < 64)
			del[ndel++] = argv[++i];
		else
			break;
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: mkseed [-z] [-a YYYYMM] [-d KEY]... "
		        "SCHEMA.yaml|- DATA.csv|- OUT.cps\n");
		return 2;
	}
	cp_schema *schema = NULL;
	int rc = strcmp(argv[i], "-") == 0 ? cp_schema_default(&schema)
	         : cp_schema_load_file(&schema, argv[i], NULL);
	if (rc != CP_OK)
		return fail(argv[i], rc, NULL);
	cp_store *store = NULL;
	if ((rc = cp_store_new(&store, schema)) != CP_OK)
		return fail("store", rc, NULL);
	cp_schema_free(schema);
	if (strcmp(argv[i + 1], "-") != 0 &&
	    (rc = cp_store_load_csv(store, argv[i + 1], NULL, NULL)) != CP_OK)
		return fail(argv[i + 1], rc, store);
	for (int k = 0; k < ndel; k++)
		if ((rc = cp_store_delete(store, del[k])) != CP_OK)
			return fail(del[k], rc, store);
	if (as_of && (rc = cp_store_set_as_of(store, as_of)) != CP_OK)
		return fail("as-of", rc, store);
	if ((rc = cp_store_save(store, argv[i + 2], flags)) != CP_OK)
		return fail(argv[i + 2], rc, store);
	printf("%s: %zu profiles\n", argv[i + 2], cp_store_count(store));
	cp_store_free(store);
	return 0;
}
