/*
 * fuzz_wal.c — log replay (custprof-wal(5)) under libFuzzer: the input is
 * a log file.
 *
 * A log's CRCs would stop nearly every mutation at the first record, so
 * each input is replayed three ways:
 *   1. as it is, from memory (cp__wal_replay_memory: a test knob that
 *      applies a log image to a store whatever snapshot it names);
 *   2. "repaired": the header's CRC, and each record's salt and CRC,
 *      recomputed as a writer would, so that mutations reach the payload
 *      checks (a forged record with a valid CRC must still be refused);
 *   3. the repaired log written beside a snapshot, its header naming that
 *      snapshot, and the store opened with cp_store_open: the file paths
 *      (torn tails cut, damage refused, repair), then one more update.
 * After each, the store must read back whole through every getter, hold
 * no more profiles than it counts, and survive a save and a reopen.
 *
 * Properties that fail abort, which libFuzzer reports as a crash.
 *
 * Build: `make fuzz-wal` (clang -fsanitize=fuzzer,address,undefined), or
 * with -DFUZZ_WAL_MAIN as a program that replays files and directories
 * (make check runs it over tests/fuzz/corpus/wal).  Seeds:
 * tests/fuzz/mkseed_wal.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store.h"
#include "wal.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) ((c) ? (void)0 : fail(__LINE__, #c))

static void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_wal.c:%d: property failed: %s\n", line, what);
	abort();
}

/* The schema of the seeds (tests/fuzz/mkseed_wal.c uses the same text). */
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

static cp_schema *schema;
static char dir[256], snap[300], logp[310], again[310];

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint32_t crc(uint32_t c, const void *p, size_t n)
{
	return (uint32_t)crc32(c, (const Bytef *)p, (uInt)n);
}

static void cleanup(void)
{
	unlink(snap);
	unlink(logp);
	unlink(again);
	rmdir(dir);
}

/* Once: the schema, a scratch directory, and a snapshot of two profiles. */
static void init(void)
{
	if (schema)
		return;
	CHECK(cp_schema_load_memory(&schema, schema_yaml, strlen(schema_yaml), "fuzzwal", NULL)
	      == CP_OK);
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_wal.%ld", base, (long)getpid());
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(snap, sizeof(snap), "%s/s.cps", dir);
	snprintf(logp, sizeof(logp), "%s/s.cps-wal", dir);
	snprintf(again, sizeof(again), "%s/again.cps", dir);
	atexit(cleanup);
}

static void base_snapshot(void)
{
	cp_store *s;
	cp_profile *p;
	CHECK(cp_store_new(&s, schema) == CP_OK);
	CHECK(cp_profile_new(&p, schema) == CP_OK);
	CHECK(cp_profile_set_text(p, 0, 0, "13800000001") == CP_OK);
	CHECK(cp_profile_set_text(p, 6, 0, "wap;mms") == CP_OK);
	CHECK(cp_store_put(s, p, NULL) == CP_OK);
	CHECK(cp_profile_set_text(p, 0, 0, "13800000002") == CP_OK);
	CHECK(cp_store_put(s, p, NULL) == CP_OK);
	unlink(logp);
	CHECK(cp_store_save(s, snap, 0) == CP_OK);
	cp_profile_free(p);
	cp_store_free(s);
}

/* Everything the store serves reads back: every profile through the
 * iterator and by its key, every cell's text. */
static void walk(const cp_store *s)
{
	cp_iter *it;
	cp_view *v, *w;
	CHECK(cp_iter_new(&it, s) == CP_OK);
	CHECK(cp_view_new(&v, s) == CP_OK);
	CHECK(cp_view_new(&w, s) == CP_OK);
	size_t n = 0;
	char buf[256];
	while (cp_iter_next(it, v) == CP_OK) {
		n++;
		CHECK(cp_view_key(v) && *cp_view_key(v));
		CHECK(cp_store_get(s, cp_view_key(v), w) == CP_OK);
		for (int f = 0; f < schema->nfields; f++)
			for (int m = 0; m < schema->fields[f].months; m++) {
				int a = cp_view_text(v, f, m, buf, sizeof(buf));
				CHECK(a >= 0 && a == cp_view_text(w, f, m, NULL, 0));
			}
		CHECK(cp_view_item_count(v, 7, 0) <= 3); /* tones: max 3 */
	}
	CHECK(n == cp_store_count(s));
	cp_view_free(w);
	cp_view_free(v);
	cp_iter_free(it);
}

/* Saved and opened again, the store is the same size. */
static void round_trip(cp_store *s)
{
	unlink(again);
	CHECK(cp_store_save(s, again, 0) == CP_OK);
	cp_store *b;
	CHECK(cp_store_open(&b, again, NULL) == CP_OK);
	CHECK(cp_store_count(b) == cp_store_count(s));
	CHECK(cp_store_as_of(b) == cp_store_as_of(s));
	walk(b);
	cp_store_free(b);
	CHECK(cp_snapshot_verify(again, NULL) == CP_OK);
}

/* Recompute the header CRC and every record's salt and CRC (walking the
 * records as a reader does, as far as their lengths allow). */
static void repair(uint8_t *img, size_t len, const uint8_t *ident)
{
	if (len < CPW_HEADER_SIZE)
		return;
	if (ident) /* name the scratch snapshot */
		memcpy(img + CPW_H_GENERATION, ident, 20);
	uint32_t salt = get32(img + CPW_H_SALT);
	if (!salt)
		put32(img + CPW_H_SALT, salt = 1);
	put32(img + CPW_H_HEADER_CRC, crc(crc(0, NULL, 0), img, CPW_H_HEADER_CRC));
	size_t off = CPW_HEADER_SIZE;
	while (off + CPW_RECORD_HEADER <= len) {
		uint8_t *r = img + off;
		uint32_t n = get32(r + CPW_R_LENGTH);
		if (n > len - off - CPW_RECORD_HEADER)
			break;
		put32(r + CPW_R_SALT, salt);
		put32(r + CPW_R_CRC, crc(crc(crc(0, NULL, 0), r, CPW_R_CRC), r + CPW_RECORD_HEADER, n));
		off += (CPW_RECORD_HEADER + (size_t)n + 7) & ~(size_t)7;
	}
}

static void replay_memory(const uint8_t *img, size_t len)
{
	cp_store *s;
	CHECK(cp_store_new(&s, schema) == CP_OK);
	size_t applied;
	int rc = cp__wal_replay_memory(s, img, len, &applied);
	CHECK(rc == CP_OK || rc == CP_ECORRUPT || rc == CP_ENOMEM || rc == CP_ELIMIT);
	CHECK(rc == CP_OK || *cp_errmsg(s));
	walk(s);
	round_trip(s);
	cp_store_free(s);
}

/* The repaired log beside the snapshot, through cp_store_open. */
static void replay_file(uint8_t *img, size_t len)
{
	base_snapshot();
	cp_store *s;
	CHECK(cp_store_open(&s, snap, NULL) == CP_OK);
	cp_store_free(s);
	/* the identity of the snapshot: generation, id, layout (header) */
	uint8_t ident[20];
	FILE *f = fopen(snap, "rb");
	CHECK(f && fseek(f, CPS_H_GENERATION, SEEK_SET) == 0 && fread(ident, 1, 16, f) == 16);
	CHECK(fseek(f, CPS_H_LAYOUT_CRC, SEEK_SET) == 0 && fread(ident + 16, 1, 4, f) == 4);
	fclose(f);
	repair(img, len, ident);
	f = fopen(logp, "wb");
	CHECK(f && fwrite(img, 1, len, f) == len && fclose(f) == 0);
	cp_diag *d;
	CHECK(cp_diag_new(&d) == CP_OK);
	int rc = cp_store_open(&s, snap, d);
	CHECK((rc == CP_OK) == (s != NULL));
	for (size_t i = 0; i < cp_diag_count(d); i++)
		CHECK(*cp_diag_message(d, i) && cp_diag_format(d, i));
	if (rc != CP_OK) {
		CHECK(rc == CP_ECORRUPT || rc == CP_ENOMEM || rc == CP_ELIMIT);
		CHECK(cp_diag_error_count(d) > 0);
		/* the repair option opens it */
		cp_open_opts *o;
		CHECK(cp_open_opts_new(&o) == CP_OK);
		cp_open_opts_set_repair(o, 1);
		cp_diag_clear(d);
		rc = cp_store_open_ex(&s, snap, o, d);
		cp_open_opts_free(o);
		CHECK(rc == CP_OK || rc == CP_ENOMEM);
	}
	if (rc == CP_OK) {
		walk(s);
		/* one more update goes on from where the log was left */
		cp_profile *p;
		CHECK(cp_profile_new(&p, schema) == CP_OK);
		CHECK(cp_profile_set_text(p, 0, 0, "13999999999") == CP_OK);
		CHECK(cp_store_put(s, p, NULL) == CP_OK);
		cp_profile_free(p);
		size_t n = cp_store_count(s);
		cp_store_free(s);
		CHECK(cp_store_open(&s, snap, NULL) == CP_OK);
		CHECK(cp_store_count(s) == n);
		walk(s);
		cp_store_free(s);
	}
	cp_diag_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size > (1u << 20))
		return 0;
	/* an aligned copy (records are read in place) */
	uint8_t *img = malloc(size ? size : 1);
	CHECK(img);
	memcpy(img, data, size);
	replay_memory(img, size);
	repair(img, size, NULL);
	replay_memory(img, size);
	replay_file(img, size);
	free(img);
	return 0;
}

#ifdef FUZZ_WAL_MAIN
/* Without libFuzzer: replay each file, or each file of each directory. */
#include <dirent.h>

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 1;
	static uint8_t buf[1u << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fprintf(stderr, "fuzz_wal: %s (%zu bytes)\n", path, n);
	uint8_t *exact = malloc(n ? n : 1); /* an exact size: reads past it are caught */
	memcpy(exact, buf, n);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	int bad = 0, count = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			bad = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]);
			count++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		char p[4096];
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
			bad |= run_file(p);
			count++;
		}
		if (d)
			closedir(d);
	}
	printf("fuzz_wal: %d inputs replayed\n", count);
	cp_schema_free(schema);
	return bad || count == 0;
}
#endif
