/*
 * bench_wal.c — updates of an opened store through its log, per sync mode,
 * and what reopening (log replay) and compaction cost.
 *
 *   bench_wal [N [DIR]]
 *
 * Saves a store of min(N, 100000) default-schema subscribers to DIR, then
 * for each sync mode opens it afresh and replaces existing profiles
 * (prepared drafts: the figure is the store and its log, not the building
 * of drafts) for a fixed number of updates or two seconds, whichever comes
 * first.  Then reopens (replaying the log) and compacts.
 */
#include "benchgen.h"

#include <unistd.h>

#define DRAFTS 1000

static const struct {
	const char *name;
	int mode;
	unsigned interval_ms;
	long updates;
} modes[] = {
	{"CP_SYNC_FULL", CP_SYNC_FULL, 0, 5000},
	{"CP_SYNC_INTERVAL 10 ms", CP_SYNC_INTERVAL, 10, 200000},
	{"CP_SYNC_INTERVAL 1000 ms", CP_SYNC_INTERVAL, 1000, 200000},
	{"CP_SYNC_NONE", CP_SYNC_NONE, 0, 200000},
};

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	if (n > 100000)
		n = 100000;
	const char *dir = argc > 2 ? argv[2] : ".";
	char base[4096], path[4096], log[4200];
	snprintf(base, sizeof(base), "%s/wal-base.cps", dir);
	snprintf(path, sizeof(path), "%s/wal.cps", dir);
	snprintf(log, sizeof(log), "%s-wal", path);
	cp_schema *schema;
	int rc;
	if ((rc = cp_schema_default(&schema)) != CP_OK)
		bench_die("schema", rc, NULL);
	cp_store *s = bench_store(schema, n);
	cp_profile *drafts[DRAFTS];
	for (int i = 0; i < DRAFTS; i++) {
		cp_profile_new(&drafts[i], schema);
		bench_fill(drafts[i], schema, (long)((uint64_t)i * 7919 % (uint64_t)n), 1);
	}
	printf("store of %ld profiles, %zu-byte rows; updates replace existing profiles\n", n,
	       cp_store_row_bytes(s));

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		unlink(log);
		if ((rc = cp_store_save(s, path, 0)) != CP_OK)
			bench_die("save", rc, s);
		cp_store *o;
		if ((rc = cp_store_open(&o, path, NULL)) != CP_OK)
			bench_die("open", rc, NULL);
		cp_store_set_sync(o, modes[m].mode, modes[m].interval_ms);
		double t0 = bench_now(), dt;
		long u = 0;
		for (; u < modes[m].updates; u++) {
			if ((rc = cp_store_put(o, drafts[u % DRAFTS], NULL)) != CP_OK)
				bench_die("put", rc, o);
			if ((u & 255) == 255 && bench_now() - t0 > 2.0) {
				u++;
				break;
			}
		}
		cp_store_free(o); /* an interval mode syncs what is left */
		dt = bench_now() - t0;
		printf("%-26s %9.0f updates/s (%ld updates in %.2f s)\n", modes[m].name, u / dt, u,
		       dt);
		if (m + 1 < sizeof(modes) / sizeof(modes[0]))
			continue;
		/* the last log: replay and compaction */
		FILE *f = fopen(log, "rb");
		long bytes = 0;
		if (f) {
			fseek(f, 0, SEEK_END);
			bytes = ftell(f);
			fclose(f);
		}
		t0 = bench_now();
		if ((rc = cp_store_open(&o, path, NULL)) != CP_OK)
			bench_die("reopen", rc, NULL);
		dt = bench_now() - t0;
		printf("reopen replaying %ld records (%.1f MiB of log): %.1f ms (%.0f records/s)\n",
		       u, bytes / 1048576.0, dt * 1e3, u / dt);
		t0 = bench_now();
		if ((rc = cp_store_compact(o)) != CP_OK)
			bench_die("compact", rc, o);
		printf("cp_store_compact: %.1f ms\n", (bench_now() - t0) * 1e3);
		cp_store_free(o);
	}
	for (int i = 0; i < DRAFTS; i++)
		cp_profile_free(drafts[i]);
	cp_store_free(s);
	cp_schema_free(schema);
	unlink(log);
	unlink(path);
	return 0;
}
