/*
 * mkseed_wal.c — the seed logs of tests/fuzz/corpus/wal: a store of the
 * harness's schema (fuzz_wal.c) opened from a snapshot and updated, its
 * log copied after each session.
 *
 *   mkseed_wal OUTDIR
 *
 * Writes OUTDIR/empty.cpw (a header only), updates.cpw (puts of every
 * field type, replacements, deletes, as-of), long-lists.cpw (sets and
 * lists at their limits), torn.cpw (the last record cut), damaged.cpw (a
 * byte of the second record changed).
 */
#include "config.h"

#include <custprof/custprof.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char schema_yaml[] =
	"custprof: 1\n"
	"schema: fuzzwal\n"
	"months: 3\n"
	"key: msisdn\n"
	"fields:\n"
	"  msisdn: {type: string, normalize: msisdn-cn}\n"
	"  brand:  {type: enum, values: [gotone, szx, mzone]}\n"
	"  region: {type: enum}\n"
	"  name:   {type: string, personal: true}\n"
	"  age:    {type: int}\n"
	"  vip:    {type: bool}\n"
	"  apps:   {type: set, series: true}\n"
	"  tones:  {type: list, max: 3}\n"
	"  arpu:   {type: money, series: true}\n"
	"  seen:   {type: date}\n";

static char snap[4096], logp[4200];

static void die(const char *what)
{
	fprintf(stderr, "mkseed_wal: %s\n", what);
	exit(1);
}

static void copy_log(const char *out, const char *name, long cut, long flip)
{
	FILE *f = fopen(logp, "rb");
	if (!f)
		die("no log");
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (cut > 0 && (size_t)cut < n)
		n -= (size_t)cut;
	if (flip > 0 && (size_t)flip < n)
		buf[flip] ^= 0x40;
	char path[4300];
	snprintf(path, sizeof(path), "%s/%s", out, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0)
		die(path);
}

static void set(cp_profile *p, int field, int month, const char *text)
{
	if (cp_profile_set_text(p, field, month, text) != CP_OK)
		die(cp_errmsg(p));
}

int main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: mkseed_wal OUTDIR");
	char tmpl[] = "/tmp/mkseed_wal.XXXXXX";
	const char *dir = mkdtemp(tmpl);
	if (!dir)
		die("mkdtemp");
	snprintf(snap, sizeof(snap), "%s/s.cps", dir);
	snprintf(logp, sizeof(logp), "%s/s.cps-wal", dir);
	cp_schema *schema = NULL;
	cp_store *s = NULL;
	cp_profile *p = NULL;
	if (cp_schema_load_memory(&schema, schema_yaml, strlen(schema_yaml), "fuzzwal", NULL) ||
	    cp_store_new(&s, schema) || cp_profile_new(&p, schema))
		die("setup");
	set(p, 0, 0, "13800000001");
	cp_store_put(s, p, NULL);
	if (cp_store_save(s, snap, 0) != CP_OK)
		die(cp_errmsg(s));
	cp_store_free(s);

	if (cp_store_open(&s, snap, NULL) != CP_OK)
		die("open");
	cp_store_set_sync(s, CP_SYNC_NONE, 0);
	cp_store_set_as_of(s, 202610); /* the log starts with an as-of */
	cp_store_free(s);
	copy_log(argv[1], "asof.cpw", 0, 0);
	if (cp_store_open(&s, snap, NULL) != CP_OK || cp_store_compact(s) != CP_OK)
		die("compact");
	cp_store_free(s);
	copy_log(argv[1], "empty.cpw", 0, 0);

	if (cp_store_open(&s, snap, NULL) != CP_OK)
		die("open");
	cp_store_set_sync(s, CP_SYNC_NONE, 0);
	static const char *const brands[] = {"gotone", "szx", "mzone"};
	char buf[64];
	for (int i = 0; i < 6; i++) {
		cp_profile_clear(p);
		snprintf(buf, sizeof(buf), "+86139%08d", i);
		set(p, 0, 0, buf);
		set(p, 1, 0, brands[i % 3]);
		set(p, 2, 0, i % 2 ? "杭州" : "宁波");
		snprintf(buf, sizeof(buf), "张%d", i);
		set(p, 3, 0, buf);
		snprintf(buf, sizeof(buf), "%d", 20 + i);
		set(p, 4, 0, buf);
		set(p, 5, 0, i % 2 ? "是" : "否");
		set(p, 6, i % 3, "wap;飞信;mms");
		set(p, 7, 0, "a;b");
		set(p, 8, 2, "12.50");
		set(p, 9, 0, "2026-10-01");
		if (cp_store_put(s, p, NULL) != CP_OK)
			die(cp_errmsg(s));
	}
	cp_store_delete(s, "13900000002");
	cp_store_delete(s, "13800000001");
	cp_store_set_as_of(s, 202611);
	cp_store_free(s);
	copy_log(argv[1], "updates.cpw", 0, 0);
	copy_log(argv[1], "torn.cpw", 37, 0);
	copy_log(argv[1], "damaged.cpw", 0, 64 + 16 + 200);

	if (cp_store_open(&s, snap, NULL) != CP_OK || cp_store_compact(s) != CP_OK)
		die("compact");
	cp_profile_clear(p);
	set(p, 0, 0, "13700000000");
	set(p, 7, 0, "x;y;z");
	for (int m = 0; m < 3; m++)
		set(p, 6, m, "a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p");
	cp_store_put(s, p, NULL);
	cp_store_free(s);
	copy_log(argv[1], "long-lists.cpw", 0, 0);

	cp_profile_free(p);
	cp_schema_free(schema);
	unlink(logp);
	unlink(snap);
	rmdir(dir);
	return 0;
}
