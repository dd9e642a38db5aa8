/*
 * check_wal.c — the write-ahead log of an opened store (custprof-wal(5)):
 * updates replayed at reopen, a torn tail cut at every length, damage in
 * the middle refused (and dropped with the repair option), stale and
 * foreign logs, compaction, one writer at a time, catching up with another
 * process's records, refresh, read-only opens, sync modes, forged records
 * with valid CRCs, personal data kept out of messages, and every I/O call
 * failing in turn (EIO, ENOSPC, short writes): the files then hold the old
 * state or the new one.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io.h"
#include "snapshot.h"
#include "wal.h"

static const char schema_yaml[] =
	"custprof: 1\n"
	"schema: waltest\n"
	"months: 3\n"
	"key: msisdn\n"
	"fields:\n"
	"  msisdn:  {type: string, normalize: msisdn-cn}\n"
	"  brand:   {type: enum, values: [gotone, szx, mzone]}\n"
	"  region:  {type: enum}\n"
	"  name:    {type: string, personal: true}\n"
	"  age:     {type: int}\n"
	"  vip:     {type: bool}\n"
	"  apps:    {type: set, series: true}\n"
	"  tones:   {type: list, max: 3}\n"
	"  arpu:    {type: money, series: true}\n";

enum { F_MSISDN, F_BRAND, F_REGION, F_NAME, F_AGE, F_VIP, F_APPS, F_TONES, F_ARPU };

static cp_schema *schema;
static cp_profile *prof;
static cp_diag *diag;
static char *dir, *path, *logpath;

static void setup(void)
{
	ck_assert_int_eq(cp_schema_load_memory(&schema, schema_yaml, strlen(schema_yaml),
	                                       "waltest.yaml", NULL), CP_OK);
	ck_assert_int_eq(cp_profile_new(&prof, schema), CP_OK);
	ck_assert_int_eq(cp_diag_new(&diag), CP_OK);
	dir = tu_mkdtemp();
	path = strdup(tu_path(dir, "s.cps"));
	logpath = strdup(tu_path(dir, "s.cps-wal"));
	/* a snapshot of 10 profiles */
	cp_store *s;
	ck_assert_int_eq(cp_store_new(&s, schema), CP_OK);
	char key[16];
	for (int i = 0; i < 10; i++) {
		cp_profile_clear(prof);
		snprintf(key, sizeof(key), "138%08d", i);
		ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, key), CP_OK);
		ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, i), CP_OK);
		ck_assert_int_eq(cp_profile_set_text(prof, F_REGION, 0, "杭州"), CP_OK);
		ck_assert_int_eq(cp_store_put(s, prof, NULL), CP_OK);
	}
	ck_assert_int_eq(cp_store_set_as_of(s, 202609), CP_OK);
	ck_assert_int_eq(cp_store_save(s, path, 0), CP_OK);
	cp_store_free(s);
}

static void teardown(void)
{
	cp__io_inject(0, 0, 0, false);
	cp_diag_free(diag);
	cp_profile_free(prof);
	cp_schema_free(schema);
	chmod(dir, 0700);
	tu_rmdir(dir);
	free(dir);
	free(path);
	free(logpath);
}

/* ---- helpers ---- */

static cp_store *open_ok(void)
{
	cp_store *s;
	cp_diag_clear(diag);
	int rc = cp_store_open(&s, path, diag);
	ck_assert_msg(rc == CP_OK, "open: %d %s", rc,
	              cp_diag_count(diag) ? cp_diag_message(diag, 0) : "");
	return s;
}

static cp_store *open_opts(bool repair, bool read_only)
{
	cp_open_opts *o;
	ck_assert_int_eq(cp_open_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_open_opts_set_repair(o, repair), CP_OK);
	ck_assert_int_eq(cp_open_opts_set_read_only(o, read_only), CP_OK);
	cp_store *s = (cp_store *)1;
	cp_diag_clear(diag);
	int rc = cp_store_open_ex(&s, path, o, diag);
	cp_open_opts_free(o);
	if (rc != CP_OK)
		ck_assert_ptr_null(s);
	return rc == CP_OK ? s : NULL;
}

/* Put key with age (and a name, a set and a list). */
static int put(cp_store *s, const char *key, int age)
{
	char buf[64];
	cp_profile_clear(prof);
	ck_assert_int_eq(cp_profile_set_text(prof, F_MSISDN, 0, key), CP_OK);
	ck_assert_int_eq(cp_profile_set_int(prof, F_AGE, 0, age), CP_OK);
	snprintf(buf, sizeof(buf), "王%d", age);
	ck_assert_int_eq(cp_profile_set_text(prof, F_NAME, 0, buf), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_BRAND, 0, "szx"), CP_OK);
	snprintf(buf, sizeof(buf), "wap;飞信;a%d", age % 5);
	ck_assert_int_eq(cp_profile_set_text(prof, F_APPS, 2, buf), CP_OK);
	ck_assert_int_eq(cp_profile_set_text(prof, F_TONES, 0, "b;a"), CP_OK);
	ck_assert_int_eq(cp_profile_set_money(prof, F_ARPU, 1, age * 100 + 5), CP_OK);
	return cp_store_put(s, prof, NULL);
}

static void put_ok(cp_store *s, const char *key, int age)
{
	int rc = put(s, key, age);
	ck_assert_msg(rc == CP_OK, "put %s: %s", key, cp_errmsg(s));
}

/* Age of key, -1 if absent; the rest of the profile is checked. */
static int age_of(const cp_store *s, const char *key)
{
	cp_view *v;
	ck_assert_int_eq(cp_view_new(&v, s), CP_OK);
	int rc = cp_store_get(s, key, v), age = -1;
	if (rc == CP_OK) {
		age = (int)cp_view_int(v, F_AGE, 0);
		if (!cp_view_is_null(v, F_NAME, 0)) {
			char want[64], got[64];
			snprintf(want, sizeof(want), "王%d", age);
			ck_assert_str_eq(cp_view_string(v, F_NAME, 0), want);
			snprintf(want, sizeof(want), "a%d;wap;飞信", age % 5);
			cp_view_text(v, F_APPS, 2, got, sizeof(got));
			ck_assert_str_eq(got, want);
			cp_view_text(v, F_TONES, 0, got, sizeof(got));
			ck_assert_str_eq(got, "b;a");
			ck_assert_int_eq(cp_view_money(v, F_ARPU, 1), age * 100 + 5);
		}
	} else {
		ck_assert_int_eq(rc, CP_ENOTFOUND);
	}
	cp_view_free(v);
	return age;
}

static uint64_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Offsets of the records of the log (walked as a reader does), n of them. */
static size_t record_offsets(uint64_t *off, size_t max)
{
	size_t len, n = 0;
	char *b = tu_read_file(logpath, &len);
	ck_assert_ptr_nonnull(b);
	uint64_t o = CPW_HEADER_SIZE;
	while (o + CPW_RECORD_HEADER <= len && n < max) {
		uint32_t l;
		memcpy(&l, b + o + CPW_R_LENGTH, 4);
		off[n++] = o;
		o += (CPW_RECORD_HEADER + l + 7) & ~7u;
	}
	ck_assert_uint_eq(o, len);
	free(b);
	return n;
}

/* Some diagnostic contains s, with severity sev. */
static void assert_diag(int sev, const char *s)
{
	for (size_t i = 0; i < cp_diag_count(diag); i++)
		if (strstr(cp_diag_message(diag, i), s)) {
			ck_assert_int_eq(cp_diag_severity(diag, i), sev);
			return;
		}
	ck_abort_msg("no diagnostic contains '%s' (first: '%s')", s,
	             cp_diag_count(diag) ? cp_diag_message(diag, 0) : "none");
}

/* A store of 10 base profiles with 6 updates logged: puts of new and
 * existing keys, a delete, an as-of.  Returns the log's size. */
static uint64_t six_updates(void)
{
	cp_store *s = open_ok();
	put_ok(s, "13900000001", 31);               /* new */
	put_ok(s, "13800000003", 33);               /* replaces a base profile */
	ck_assert_int_eq(cp_store_delete(s, "13800000004"), CP_OK);
	put_ok(s, "13900000002", 32);               /* new */
	ck_assert_int_eq(cp_store_set_as_of(s, 202610), CP_OK);
	put_ok(s, "13900000001", 41);               /* replaces an overlay profile */
	cp_store_free(s);
	return file_size(logpath);
}

/* The state after the first k of six_updates' records (and extra other
 * profiles). */
static void assert_state(const cp_store *s, size_t k, size_t extra)
{
	ck_assert_int_eq(age_of(s, "13900000001"), k >= 6 ? 41 : k >= 1 ? 31 : -1);
	ck_assert_int_eq(age_of(s, "13800000003"), k >= 2 ? 33 : 3);
	ck_assert_int_eq(age_of(s, "13800000004"), k >= 3 ? -1 : 4);
	ck_assert_int_eq(age_of(s, "13900000002"), k >= 4 ? 32 : -1);
	ck_assert_int_eq(cp_store_as_of(s), k >= 5 ? 202610 : 202609);
	ck_assert_uint_eq(cp_store_count(s), 10 + (k >= 1) + (k >= 4) - (k >= 3) + extra);
	ck_assert_int_eq(age_of(s, "13800000009"), 9);
}

static void assert_prefix(const cp_store *s, size_t k)
{
	assert_state(s, k, 0);
}

/* ---- replay ---- */

START_TEST(test_updates_replayed)
{
	mode_t old = umask(022);
	six_updates();
	umask(old);
	struct stat st;
	ck_assert_int_eq(stat(logpath, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	uint64_t off[16];
	ck_assert_uint_eq(record_offsets(off, 16), 6);
	cp_store *s = open_ok();
	ck_assert_uint_eq(cp_diag_count(diag), 0);
	assert_prefix(s, 6);
	/* the snapshot itself is unchanged until a compaction */
	ck_assert_int_eq(cp_snapshot_verify(path, NULL), CP_OK);
	cp_store_free(s);
	/* a second session appends to the same log */
	s = open_ok();
	put_ok(s, "13900000003", 50);
	cp_store_free(s);
	ck_assert_uint_eq(record_offsets(off, 16), 7);
	s = open_ok();
	assert_state(s, 6, 1);
	ck_assert_int_eq(age_of(s, "13900000003"), 50);
	cp_store_free(s);
}
END_TEST

START_TEST(test_no_log_until_an_update)
{
	cp_store *s = open_ok();
	ck_assert_int_eq(age_of(s, "13800000005"), 5);
	ck_assert_int_eq(access(logpath, F_OK), -1);
	/* failed updates write nothing either */
	ck_assert_int_eq(cp_store_delete(s, "13800000099"), CP_ENOTFOUND);
	ck_assert_int_eq(cp_store_set_as_of(s, 202613), CP_EINVAL);
	ck_assert_int_eq(access(logpath, F_OK), -1);
	cp_store_free(s);
}
END_TEST

/* ---- torn and damaged logs ---- */

START_TEST(test_torn_tail_at_every_length)
{
	uint64_t full = six_updates();
	uint64_t off[16];
	size_t n = record_offsets(off, 16);
	ck_assert_uint_eq(n, 6);
	size_t len;
	char *bytes = tu_read_file(logpath, &len);
	for (uint64_t cut = CPW_HEADER_SIZE; cut < full; cut++) {
		tu_write_file(logpath, bytes, (size_t)cut);
		size_t whole = 0;
		while (whole < n && (whole + 1 == n ? full : off[whole + 1]) <= cut)
			whole++;
		cp_store *s = open_ok();
		assert_prefix(s, whole);
		uint64_t at = whole < n ? off[whole] : full;
		if (cut == at) {
			ck_assert_uint_eq(cp_diag_count(diag), 0);
		} else {
			char want[128];
			snprintf(want, sizeof(want), "a torn record (the last update was being written "
			         "when its writer stopped) at offset %llu", (unsigned long long)at);
			assert_diag(CP_SEV_WARNING, want);
			snprintf(want, sizeof(want), "cut (%llu bytes dropped)",
			         (unsigned long long)(cut - at));
			assert_diag(CP_SEV_WARNING, want);
			ck_assert_str_eq(cp_diag_file(diag, 0), logpath);
		}
		ck_assert_uint_eq(file_size(logpath), at); /* cut */
		/* and the log goes on from there */
		put_ok(s, "13900000009", 99);
		cp_store_free(s);
		s = open_ok();
		ck_assert_uint_eq(cp_diag_count(diag), 0);
		assert_state(s, whole, 1);
		ck_assert_int_eq(age_of(s, "13900000009"), 99);
		cp_store_free(s);
	}
	/* the header itself cut short: a log being created; ignored */
	for (uint64_t cut = 1; cut < CPW_HEADER_SIZE; cut += 13) {
		tu_write_file(logpath, bytes, (size_t)cut);
		cp_store *s = open_ok();
		assert_diag(CP_SEV_WARNING, "the log has no complete header at offset 0; ignored");
		assert_prefix(s, 0);
		put_ok(s, "13900000009", 99); /* a new log is started */
		cp_store_free(s);
		s = open_ok();
		ck_assert_int_eq(age_of(s, "13900000009"), 99);
		cp_store_free(s);
	}
	free(bytes);
}
END_TEST

START_TEST(test_zero_filled_tail_is_torn)
{
	uint64_t full = six_updates();
	size_t len;
	char *bytes = tu_read_file(logpath, &len);
	bytes = realloc(bytes, len + 4096);
	memset(bytes + len, 0, 4096);
	tu_write_file(logpath, bytes, len + 4096);
	cp_store *s = open_ok();
	assert_prefix(s, 6);
	assert_diag(CP_SEV_WARNING, "cut (4096 bytes dropped)");
	ck_assert_uint_eq(file_size(logpath), full);
	cp_store_free(s);
	free(bytes);
}
END_TEST

/* A bit flipped in each record in turn: the last one is a torn tail;
 * any other is damage in the middle, refused; the repair option drops the
 * log from there. */
START_TEST(test_damage_in_the_middle)
{
	six_updates();
	uint64_t off[16];
	size_t n = record_offsets(off, 16);
	size_t len;
	char *bytes = tu_read_file(logpath, &len);
	for (size_t k = 0; k < n; k++) {
		uint64_t at = off[k] + CPW_RECORD_HEADER + 2; /* in the payload */
		bytes[at] ^= 0x20;
		tu_write_file(logpath, bytes, len);
		bytes[at] ^= 0x20;
		cp_store *s = (cp_store *)1;
		cp_diag_clear(diag);
		int rc = cp_store_open(&s, path, diag);
		char want[256];
		if (k + 1 == n) {
			ck_assert_int_eq(rc, CP_OK);
			assert_prefix(s, k);
			cp_store_free(s);
			continue;
		}
		ck_assert_int_eq(rc, CP_ECORRUPT);
		ck_assert_ptr_null(s);
		snprintf(want, sizeof(want), "damaged at offset %llu (a record's CRC32 does not "
		         "match), and a valid record follows at offset %llu: open with the repair "
		         "option to drop the log from offset %llu (%llu bytes)",
		         (unsigned long long)off[k], (unsigned long long)off[k + 1],
		         (unsigned long long)off[k], (unsigned long long)(len - off[k]));
		assert_diag(CP_SEV_ERROR, want);
		ck_assert_str_eq(cp_diag_file(diag, 0), logpath);
		ck_assert_uint_eq(file_size(logpath), len); /* untouched */
		/* read-only with repair: opens, drops in memory only */
		s = open_opts(true, true);
		ck_assert_ptr_nonnull(s);
		assert_prefix(s, k);
		assert_diag(CP_SEV_WARNING, "ignored, not cut (read-only)");
		ck_assert_int_eq(put(s, "13900000009", 1), CP_EMISUSE);
		ck_assert_str_eq(cp_errmsg(s), "the store was opened read-only");
		cp_store_free(s);
		ck_assert_uint_eq(file_size(logpath), len);
		/* repair: opens with the records before the damage, and cuts */
		s = open_opts(true, false);
		ck_assert_ptr_nonnull(s);
		assert_prefix(s, k);
		assert_diag(CP_SEV_WARNING, "damage (repair option) at offset");
		ck_assert_uint_eq(file_size(logpath), off[k]);
		cp_store_free(s);
	}
	free(bytes);
}
END_TEST

/* ---- which log ---- */

START_TEST(test_stale_log_after_a_crashed_compaction)
{
	six_updates();
	size_t len;
	char *old = tu_read_file(logpath, &len);
	cp_store *s = open_ok();
	ck_assert_int_eq(cp_store_compact(s), CP_OK);
	ck_assert_uint_eq(file_size(logpath), CPW_HEADER_SIZE);
	cp_store_free(s);
	/* the crash: the new snapshot, but still the old log */
	tu_write_file(logpath, old, len);
	s = open_ok();
	assert_diag(CP_SEV_WARNING, "written for an older snapshot (generation 1; this one is "
	            "2): its updates are in the snapshot; ignored");
	assert_prefix(s, 6);
	/* the next update starts a new log for the new snapshot */
	put_ok(s, "13900000009", 99);
	cp_store_free(s);
	s = open_ok();
	ck_assert_uint_eq(cp_diag_count(diag), 0);
	assert_state(s, 6, 1);
	ck_assert_int_eq(age_of(s, "13900000009"), 99);
	cp_store_free(s);
	free(old);
}
END_TEST

START_TEST(test_foreign_log)
{
	six_updates();
	size_t len;
	char *log = tu_read_file(logpath, &len);
	/* the snapshot replaced by another of the same generation: say, a copy
	 * restored from elsewhere */
	cp_store *other;
	ck_assert_int_eq(cp_store_new(&other, schema), CP_OK);
	put_ok(other, "13700000000", 1);
	ck_assert_int_eq(cp_store_save(other, path, 0), CP_OK); /* removes the log */
	ck_assert_int_eq(access(logpath, F_OK), -1);
	cp_store_free(other);
	tu_write_file(logpath, log, len); /* and puts it back */
	uint64_t gen = cp__snapshot_generation(path);
	ck_assert_uint_eq(gen, 2);
	/* a log of generation 1 for a snapshot of generation 2: stale */
	cp_store *s = open_ok();
	assert_diag(CP_SEV_WARNING, "older snapshot");
	cp_store_free(s);
	/* a log claiming the snapshot's generation with another id: foreign */
	uint64_t two = 2;
	memcpy(log + CPW_H_GENERATION, &two, 8);
	uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)log, CPW_H_HEADER_CRC);
	memcpy(log + CPW_H_HEADER_CRC, &crc, 4);
	tu_write_file(logpath, log, len);
	s = (cp_store *)1;
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	assert_diag(CP_SEV_ERROR, "written for another snapshot (generation 2, id ");
	assert_diag(CP_SEV_ERROR, "open with the repair option to drop it");
	s = open_opts(true, false);
	ck_assert_ptr_nonnull(s);
	assert_diag(CP_SEV_WARNING, "written for another snapshot (generation 2); ignored "
	            "(repair option)");
	ck_assert_int_eq(age_of(s, "13700000000"), 1);
	put_ok(s, "13700000001", 2); /* a new log */
	cp_store_free(s);
	s = open_ok();
	ck_assert_uint_eq(cp_diag_count(diag), 0);
	ck_assert_int_eq(age_of(s, "13700000001"), 2);
	ck_assert_uint_eq(cp_store_count(s), 2);
	cp_store_free(s);
	free(log);
}
END_TEST

START_TEST(test_damaged_header)
{
	six_updates();
	size_t len;
	char *log = tu_read_file(logpath, &len);
	log[CPW_H_SALT] ^= 1;
	tu_write_file(logpath, log, len);
	cp_store *s = (cp_store *)1;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	assert_diag(CP_SEV_ERROR, "header at offset 0: the header's CRC32 does not match: open "
	            "with the repair option to drop the log");
	s = open_opts(true, false);
	ck_assert_ptr_nonnull(s);
	assert_prefix(s, 0);
	cp_store_free(s);
	free(log);
}
END_TEST

/* ---- compaction and save ---- */

START_TEST(test_compaction)
{
	six_updates();
	cp_store *s = open_ok();
	ck_assert_int_eq(cp_store_compact(s), CP_OK);
	ck_assert_uint_eq(cp__snapshot_generation(path), 2);
	ck_assert_uint_eq(file_size(logpath), CPW_HEADER_SIZE);
	ck_assert_int_eq(cp_snapshot_verify(path, NULL), CP_OK);
	/* updates go on into the new log, and readers of the handle see all */
	put_ok(s, "13900000007", 70);
	assert_state(s, 6, 1);
	ck_assert_int_eq(cp_store_delete(s, "13800000005"), CP_OK);
	/* cp_store_save to its own file is a compaction too */
	ck_assert_int_eq(cp_store_save(s, path, 0), CP_OK);
	ck_assert_uint_eq(cp__snapshot_generation(path), 3);
	ck_assert_uint_eq(file_size(logpath), CPW_HEADER_SIZE);
	put_ok(s, "13900000008", 80);
	cp_store_free(s);
	s = open_ok();
	ck_assert_uint_eq(cp_diag_count(diag), 0);
	assert_state(s, 6, 1); /* two more, one fewer */
	ck_assert_int_eq(age_of(s, "13900000007"), 70);
	ck_assert_int_eq(age_of(s, "13900000008"), 80);
	ck_assert_int_eq(age_of(s, "13800000005"), -1);
	cp_store_free(s);
	/* a store with no file has nothing to compact */
	cp_store *mem;
	ck_assert_int_eq(cp_store_new(&mem, schema), CP_OK);
	ck_assert_int_eq(cp_store_compact(mem), CP_EMISUSE);
	ck_assert_str_eq(cp_errmsg(mem), "the store was not opened from a file: save it with "
	                 "cp_store_save");
	ck_assert_int_eq(cp_store_set_sync(mem, CP_SYNC_NONE, 0), CP_OK);
	ck_assert_int_eq(cp_store_sync(mem), CP_OK);
	ck_assert_int_eq(cp_store_refresh(mem), CP_OK);
	cp_store_free(mem);
	ck_assert_int_eq(cp_store_compact(NULL), CP_EINVAL);
}
END_TEST

/* A save to another file leaves the store's own log alone, and replaces
 * the log of the file it overwrites. */
START_TEST(test_save_elsewhere)
{
	six_updates();
	cp_store *s = open_ok();
	char *copy = strdup(tu_path(dir, "copy.cps")), *copylog = strdup(tu_path(dir, "copy.cps-wal"));
	tu_write_file(copylog, "junk", 4);
	ck_assert_int_eq(cp_store_save(s, copy, CP_SAVE_COMPRESS), CP_OK);
	ck_assert_int_eq(access(copylog, F_OK), -1);
	ck_assert_uint_gt(file_size(logpath), CPW_HEADER_SIZE);
	put_ok(s, "13900000007", 70); /* still the store of path */
	cp_store_free(s);
	s = open_ok();
	ck_assert_int_eq(age_of(s, "13900000007"), 70);
	cp_store_free(s);
	cp_store *c;
	ck_assert_int_eq(cp_store_open(&c, copy, diag), CP_OK);
	assert_prefix(c, 6);
	ck_assert_int_eq(age_of(c, "13900000007"), -1);
	cp_store_free(c);
	free(copy);
	free(copylog);
}
END_TEST

/* ---- several handles ---- */

START_TEST(test_one_writer_at_a_time)
{
	cp_store *a = open_ok(), *b = open_ok();
	put_ok(a, "13900000001", 1);
	ck_assert_int_eq(put(b, "13900000002", 2), CP_EMISUSE);
	ck_assert_msg(strstr(cp_errmsg(b), "is updating") && strstr(cp_errmsg(b), "one writer at "
	              "a time"), "%s", cp_errmsg(b));
	ck_assert_int_eq(cp_store_compact(b), CP_EMISUSE);
	/* b reads, and catches up by refresh */
	ck_assert_int_eq(age_of(b, "13900000001"), -1);
	ck_assert_int_eq(cp_store_refresh(b), CP_OK);
	ck_assert_int_eq(age_of(b, "13900000001"), 1);
	put_ok(a, "13900000001", 11);
	ck_assert_int_eq(cp_store_delete(a, "13800000000"), CP_OK);
	ck_assert_int_eq(cp_store_refresh(b), CP_OK);
	ck_assert_int_eq(age_of(b, "13900000001"), 11);
	ck_assert_int_eq(age_of(b, "13800000000"), -1);
	ck_assert_int_eq(cp_store_refresh(a), CP_OK); /* the writer: nothing to do */
	/* once a is gone, b may write: it catches up first */
	put_ok(a, "13900000003", 3);
	cp_store_free(a);
	put_ok(b, "13900000004", 4);
	ck_assert_int_eq(age_of(b, "13900000003"), 3);
	/* a compaction by b: a reader opened before must open again */
	cp_store *c = open_ok();
	ck_assert_int_eq(cp_store_compact(b), CP_OK);
	ck_assert_int_eq(cp_store_refresh(c), CP_EMISUSE);
	ck_assert_msg(strstr(cp_errmsg(c), "was replaced since the store was opened"), "%s",
	              cp_errmsg(c));
	cp_store_free(b);
	ck_assert_int_eq(put(c, "13900000005", 5), CP_EMISUSE);
	cp_store_free(c);
	c = open_ok();
	ck_assert_int_eq(age_of(c, "13900000003"), 3);
	ck_assert_int_eq(age_of(c, "13900000004"), 4);
	ck_assert_int_eq(age_of(c, "13900000001"), 11);
	ck_assert_uint_eq(cp_store_count(c), 10 + 3 - 1);
	cp_store_free(c);
}
END_TEST

START_TEST(test_read_only_never_writes)
{
	uint64_t full = six_updates();
	size_t len;
	char *bytes = tu_read_file(logpath, &len);
	tu_write_file(logpath, bytes, len - 3); /* torn */
	cp_store *s = open_opts(false, true);
	ck_assert_ptr_nonnull(s);
	assert_diag(CP_SEV_WARNING, "were ignored, not cut (read-only)");
	assert_prefix(s, 5);
	ck_assert_uint_eq(file_size(logpath), full - 3);
	ck_assert_int_eq(cp_store_set_as_of(s, 202611), CP_EMISUSE);
	ck_assert_int_eq(cp_store_delete(s, "13800000001"), CP_EMISUSE);
	ck_assert_int_eq(cp_store_compact(s), CP_EMISUSE);
	ck_assert_int_eq(cp_store_save(s, path, 0), CP_EMISUSE);
	cp_store_free(s);
	ck_assert_uint_eq(file_size(logpath), full - 3);
	free(bytes);
}
END_TEST

START_TEST(test_unwritable_directory)
{
	cp_store *s = open_ok();
	ck_assert_int_eq(chmod(dir, 0500), 0);
	if (access(dir, W_OK) == 0) { /* root writes anyway: nothing to test */
		cp_store_free(s);
		return;
	}
	ck_assert_int_eq(put(s, "13900000001", 1), CP_EIO);
	ck_assert_msg(strstr(cp_errmsg(s), "cannot open the log '") &&
	              strstr(cp_errmsg(s), "Permission denied"), "%s", cp_errmsg(s));
	ck_assert_int_eq(age_of(s, "13900000001"), -1);
	cp_store_free(s);
	ck_assert_int_eq(chmod(dir, 0700), 0);
}
END_TEST

/* ---- sync modes ---- */

START_TEST(test_sync_modes)
{
	cp_store *s = open_ok();
	ck_assert_int_eq(cp_store_set_sync(s, 7, 0), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(s), "unknown sync mode 7");
	ck_assert_int_eq(cp_store_set_sync(s, CP_SYNC_INTERVAL, 0), CP_EINVAL);
	ck_assert_int_eq(cp_store_set_sync(NULL, CP_SYNC_NONE, 0), CP_EINVAL);
	put_ok(s, "13900000000", 1); /* takes the log */
	/* count the fdatasync calls of each mode */
	cp__io_inject(0, EIO, CP_IO_SYNC, false);
	put_ok(s, "13900000001", 1);
	ck_assert_int_eq(cp__io_calls(), 1); /* full (the default): one per update */
	ck_assert_int_eq(cp_store_set_sync(s, CP_SYNC_NONE, 0), CP_OK);
	cp__io_inject(0, EIO, CP_IO_SYNC, false);
	for (int i = 0; i < 5; i++)
		put_ok(s, "13900000001", i);
	ck_assert_int_eq(cp__io_calls(), 0);
	ck_assert_int_eq(cp_store_sync(s), CP_OK);
	ck_assert_int_eq(cp__io_calls(), 1);
	ck_assert_int_eq(cp_store_sync(s), CP_OK); /* nothing new */
	ck_assert_int_eq(cp__io_calls(), 1);
	ck_assert_int_eq(cp_store_set_sync(s, CP_SYNC_INTERVAL, 3600000), CP_OK);
	cp__io_inject(0, EIO, CP_IO_SYNC, false);
	for (int i = 0; i < 5; i++)
		put_ok(s, "13900000002", i);
	ck_assert_int_eq(cp__io_calls(), 0);
	ck_assert_int_eq(cp_store_set_sync(s, CP_SYNC_INTERVAL, 1), CP_OK);
	usleep(2000);
	put_ok(s, "13900000002", 9);
	ck_assert_int_eq(cp__io_calls(), 1);
	ck_assert_int_eq(cp_store_set_sync(s, CP_SYNC_NONE, 0), CP_OK);
	put_ok(s, "13900000003", 9);
	/* back to full: what was written meanwhile is synced at once */
	ck_assert_int_eq(cp_store_set_sync(s, CP_SYNC_FULL, 0), CP_OK);
	ck_assert_int_eq(cp__io_calls(), 2);
	cp_store_free(s);
	s = open_ok();
	ck_assert_int_eq(age_of(s, "13900000002"), 9);
	ck_assert_int_eq(age_of(s, "13900000003"), 9);
	cp_store_free(s);
	/* the option sets the mode from the open */
	cp_open_opts *o;
	ck_assert_int_eq(cp_open_opts_new(&o), CP_OK);
	ck_assert_int_eq(cp_open_opts_set_sync(o, 9, 0), CP_EINVAL);
	ck_assert_int_eq(cp_open_opts_set_sync(o, CP_SYNC_NONE, 0), CP_OK);
	ck_assert_int_eq(cp_store_open_ex(&s, path, o, NULL), CP_OK);
	cp__io_inject(0, EIO, CP_IO_SYNC, false);
	put_ok(s, "13900000004", 1);
	ck_assert_int_eq(cp__io_calls(), 0);
	cp_store_free(s);
	cp_open_opts_free(o);
	ck_assert_int_eq(cp_open_opts_new(NULL), CP_EINVAL);
	ck_assert_int_eq(cp_open_opts_set_repair(NULL, 1), CP_EINVAL);
	ck_assert_int_eq(cp_store_open_ex(NULL, path, NULL, NULL), CP_EINVAL);
	cp_open_opts_free(NULL);
}
END_TEST

/* ---- forged records: valid CRCs over payloads that do not check ---- */

/* Rewrite record k of the log with payload[at] = value (u32), resealed. */
static void forge(size_t k, uint32_t at, uint32_t value)
{
	uint64_t off[16];
	ck_assert_uint_gt(record_offsets(off, 16), k);
	size_t len;
	char *b = tu_read_file(logpath, &len);
	char *r = b + off[k];
	uint32_t l;
	memcpy(&l, r + CPW_R_LENGTH, 4);
	memcpy(r + CPW_RECORD_HEADER + at, &value, 4);
	uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)r, CPW_R_CRC);
	crc = (uint32_t)crc32(crc, (const Bytef *)r + CPW_RECORD_HEADER, l);
	memcpy(r + CPW_R_CRC, &crc, 4);
	tu_write_file(logpath, b, len);
	free(b);
}

static uint32_t cell_at(int field, int month)
{
	const cp_field *f = &schema->fields[field];
	return CPW_PUT_HEADER + f->offset + (uint32_t)month * f->width;
}

START_TEST(test_forged_records)
{
	static const struct {
		size_t record;
		int field, month;    /* -1: at the offset below */
		uint32_t at, value;
		const char *why;
	} forged[] = {
		{0, F_NAME, 0, 0, 9999, "a string id is not a string"},
		{0, F_NAME, 0, 0, 2, "a string id is not a string"},   /* inside the key */
		{0, F_BRAND, 0, 0, 3, "an enum index is not a listed value"},
		{0, F_APPS, 2, 0, 999, "a list id is not a list"},
		{0, F_MSISDN, 0, 0, 0, "the key is not a normalized key"},   /* "" */
		{0, -1, 0, 0, 8, "the sizes of a profile record do not add up"}, /* row size */
		{0, -1, 0, CPW_PUT_HEADER, 0, "the row holds no profile"},       /* header */
		{2, -1, 0, 0, 0x31, "a delete record holds no key"},   /* "1380..." -> "1\0.." */
		{4, -1, 0, 0, 202613, "an as-of record holds no month"},
	};
	six_updates();
	size_t len;
	char *good = tu_read_file(logpath, &len);
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		tu_write_file(logpath, good, len);
		uint32_t at = forged[i].field >= 0 ? cell_at(forged[i].field, forged[i].month)
		                                    : forged[i].at;
		uint32_t value = forged[i].value;
		if (i == 7)
			value = 0x00003831; /* "18\0\0": a NUL inside the key */
		forge(forged[i].record, at, value);
		cp_store *s = (cp_store *)1;
		cp_diag_clear(diag);
		int rc = cp_store_open(&s, path, diag);
		ck_assert_msg(rc == CP_ECORRUPT, "forged %zu: open gave %d", i, rc);
		assert_diag(CP_SEV_ERROR, forged[i].why);
		s = open_opts(true, true);
		ck_assert_ptr_nonnull(s);
		assert_prefix(s, forged[i].record);
		cp_store_free(s);
	}
	/* the whole good log replays from memory too */
	tu_write_file(logpath, good, len);
	cp_store *s;
	ck_assert_int_eq(cp_store_new(&s, schema), CP_OK);
	size_t applied;
	ck_assert_int_eq(cp__wal_replay_memory(s, (const uint8_t *)good, len, &applied), CP_OK);
	ck_assert_uint_eq(applied, 6);
	ck_assert_int_eq(age_of(s, "13900000001"), 41);
	ck_assert_int_eq(cp__wal_replay_memory(s, (const uint8_t *)good, 10, &applied),
	                 CP_ECORRUPT);
	ck_assert_str_eq(cp_errmsg(s), "not a log: shorter than a header");
	/* a set out of order: the apps (month 2) of the first record swapped */
	uint32_t apps, slen;
	char *p = good + CPW_HEADER_SIZE + CPW_RECORD_HEADER;
	memcpy(&apps, p + cell_at(F_APPS, 2), 4);
	memcpy(&slen, p + 4, 4);
	uint32_t *items = (uint32_t *)(void *)(p + CPW_PUT_HEADER + schema->row_size +
	                                       ((slen + 3) & ~3u));
	ck_assert_uint_eq(items[apps], 3);
	uint32_t t = items[apps + 1];
	items[apps + 1] = items[apps + 2];
	items[apps + 2] = t;
	tu_write_file(logpath, good, len);
	forge(0, 0, (uint32_t)schema->row_size); /* reseal, the row size as it was */
	cp_store *o = (cp_store *)1;
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_store_open(&o, path, diag), CP_ECORRUPT);
	assert_diag(CP_SEV_ERROR, "a set is not in canonical order");
	cp_store_free(s);
	free(good);
}
END_TEST

/* ---- personal data ---- */

START_TEST(test_personal_data_not_in_messages)
{
	six_updates();
	uint64_t off[16];
	record_offsets(off, 16);
	size_t len;
	char *b = tu_read_file(logpath, &len);
	b[off[0] + CPW_RECORD_HEADER + 40] ^= 1; /* damage the record holding 王31 */
	tu_write_file(logpath, b, len);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	for (size_t i = 0; i < cp_diag_count(diag); i++) {
		ck_assert_ptr_null(strstr(cp_diag_message(diag, i), "王"));
		ck_assert_ptr_null(strstr(cp_diag_message(diag, i), "13900000001"));
	}
	free(b);
}
END_TEST

/* ---- every I/O call failing in turn ---- */

/*
 * Each operation of a session (the first put, which starts the log, then a
 * put, a delete, an as-of, a compaction, a put into the new log) with the
 * step-th I/O call failing: the operation that meets the failure reports
 * CP_EIO (or succeeds where a failure is harmless), and the files then
 * hold every update acknowledged before, the failed one or not, and nothing
 * else: the old state or the new.
 */
static void fail_each_call(int err, bool short_write)
{
	int failures = 0;
	for (long step = 1; step < 400; step++) {
		tu_rmdir(dir);
		ck_assert_int_eq(mkdir(dir, 0700), 0);
		cp_store *s;
		ck_assert_int_eq(cp_store_new(&s, schema), CP_OK);
		for (int i = 0; i < 10; i++) {
			char key[16];
			snprintf(key, sizeof(key), "138%08d", i);
			put_ok(s, key, i);
		}
		ck_assert_int_eq(cp_store_set_as_of(s, 202609), CP_OK);
		ck_assert_int_eq(cp_store_save(s, path, 0), CP_OK);
		cp_store_free(s);
		s = open_ok();
		cp__io_inject(step, err, CP_IO_ALL & ~CP_IO_READ, short_write);
		int acked = 0, rc = CP_OK;
		for (int op = 0; op < 6 && rc == CP_OK; op++) {
			switch (op) {
			case 0: rc = put(s, "13900000001", 31); break;
			case 1: rc = put(s, "13800000003", 33); break;
			case 2: rc = cp_store_delete(s, "13800000004"); break;
			case 3: rc = cp_store_set_as_of(s, 202610); break;
			case 4: rc = cp_store_compact(s); break;
			case 5: rc = put(s, "13900000002", 32); break;
			}
			if (rc == CP_OK)
				acked = op + 1;
		}
		long calls = cp__io_calls();
		cp__io_inject(0, 0, 0, false);
		if (rc != CP_OK) {
			failures++;
			ck_assert_msg(rc == CP_EIO, "step %ld: %d %s", step, rc, cp_errmsg(s));
			const char *m = cp_errmsg(s);
			ck_assert_msg(strstr(m, strerror(err)) || strstr(m, "unknown"), "step %ld: %s",
			              step, m);
			/* the handle either goes on or refuses (outcome unknown) */
		}
		cp_store_free(s);
		/* the files: every acknowledged update, the failed one maybe */
		s = open_ok();
		ck_assert_int_eq(cp_snapshot_verify(path, NULL), CP_OK);
		int a31 = age_of(s, "13900000001"), a33 = age_of(s, "13800000003");
		int a4 = age_of(s, "13800000004"), a32 = age_of(s, "13900000002");
		int as_of = cp_store_as_of(s);
		int have = (a31 == 31) + (a33 == 33) + (a4 == -1) + (as_of == 202610) + (a32 == 32);
		/* the state is a prefix of the operations (compaction changes none) */
		int want_min = acked > 4 ? acked - 1 : acked, want_max = want_min + (rc != CP_OK);
		if (acked == 4 && rc != CP_OK)
			want_max = want_min; /* the compaction failed: no state change */
		ck_assert_msg(have >= want_min && have <= want_max,
		              "step %ld (calls %ld): acked %d, rc %d, state %d (%d %d %d %d %d)",
		              step, calls, acked, rc, have, a31, a33, a4, as_of, a32);
		ck_assert_int_eq(a31 == 31, have >= 1);
		ck_assert_int_eq(a33 == 33, have >= 2);
		ck_assert_int_eq(a4 == -1, have >= 3);
		ck_assert_int_eq(as_of == 202610, have >= 4);
		cp_store_free(s);
		if (rc == CP_OK)
			break; /* the fault came after the last call: every site was tried */
	}
	ck_assert_int_ge(failures, 20);
}

START_TEST(test_every_io_call_fails_eio)
{
	fail_each_call(EIO, false);
}
END_TEST

START_TEST(test_every_io_call_fails_enospc_short)
{
	fail_each_call(ENOSPC, true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wal");
	TCase *tc = tcase_create("log");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_updates_replayed);
	tcase_add_test(tc, test_no_log_until_an_update);
	tcase_add_test(tc, test_torn_tail_at_every_length);
	tcase_add_test(tc, test_zero_filled_tail_is_torn);
	tcase_add_test(tc, test_damage_in_the_middle);
	tcase_add_test(tc, test_stale_log_after_a_crashed_compaction);
	tcase_add_test(tc, test_foreign_log);
	tcase_add_test(tc, test_damaged_header);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_save_elsewhere);
	tcase_add_test(tc, test_one_writer_at_a_time);
	tcase_add_test(tc, test_read_only_never_writes);
	tcase_add_test(tc, test_unwritable_directory);
	tcase_add_test(tc, test_sync_modes);
	tcase_add_test(tc, test_forged_records);
	tcase_add_test(tc, test_personal_data_not_in_messages);
	tcase_add_test(tc, test_every_io_call_fails_eio);
	tcase_add_test(tc, test_every_io_call_fails_enospc_short);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
