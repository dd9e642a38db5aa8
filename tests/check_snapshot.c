/*
 * check_snapshot.c — the .cps snapshot: round trips (every field type,
 * deleted rows, Chinese text, sets and lists, as-of, compressed), damage
 * (truncation at every length, a flipped bit at every offset, crafted
 * contents with valid checksums), version and byte order, missing files,
 * atomic save under injected I/O failures.
 *
 * Open checks only what costs the same for any size (header, table,
 * padding, schema); damage elsewhere is found by verify, and an opened
 * store must then read without ever leaving its mapping (run under
 * valgrind or ASan to see that) and report damaged profiles as CP_ECORRUPT.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <zlib.h>

#include "io.h"
#include "snapshot.h"

/* The fields of tu_schema(), from YAML: open needs the embedded source. */
static const char schema_yaml[] =
	"custprof: 1\n"
	"schema: snaptest\n"
	"months: 6\n"
	"key: msisdn\n"
	"fields:\n"
	"  msisdn:    {type: string, label: 号码, normalize: msisdn-cn}\n"
	"  brand:     {type: enum, label: 品牌, values: {gotone: 全球通, szx: 神州行, mzone: 动感地带}}\n"
	"  region:    {type: enum, label: 地区}\n"
	"  name:      {type: string, label: 姓名, personal: true}\n"
	"  age:       {type: int}\n"
	"  score:     {type: float}\n"
	"  vip:       {type: bool}\n"
	"  overdue:   {type: money}\n"
	"  join_date: {type: date}\n"
	"  addons:    {type: set}\n"
	"  tones:     {type: list, max: 3}\n"
	"  arpu:      {type: money, series: true, label: ARPU}\n"
	"  gprs_mb:   {type: float, series: true}\n"
	"  sessions:  {type: int, series: true}\n"
	"  active:    {type: bool, series: true}\n"
	"  last_call: {type: date, series: true}\n"
	"  apps:      {type: set, series: true}\n";

enum {
	F_MSISDN, F_BRAND, F_REGION, F_NAME, F_AGE, F_SCORE, F_VIP, F_OVERDUE, F_JOIN,
	F_ADDONS, F_TONES, F_ARPU, F_GPRS, F_SESSIONS, F_ACTIVE, F_LAST_CALL, F_APPS, F_COUNT
};

static cp_schema *schema;
static cp_store *store;
static cp_profile *prof;
static char *dir;
static cp_diag *diag;

static void setup(void)
{
	ck_assert_int_eq(cp_schema_load_memory(&schema, schema_yaml, strlen(schema_yaml),
	                                       "snaptest.yaml", NULL), CP_OK);
	ck_assert_int_eq(cp_schema_field_count(schema), F_COUNT);
	ck_assert_int_eq(cp_schema_field_index(schema, "apps"), F_APPS);
	ck_assert_int_eq(cp_store_new(&store, schema), CP_OK);
	ck_assert_int_eq(cp_profile_new(&prof, schema), CP_OK);
	ck_assert_int_eq(cp_diag_new(&diag), CP_OK);
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	cp_diag_free(diag);
	cp_profile_free(prof);
	cp_store_free(store);
	cp_schema_free(schema);
	chmod(dir, 0700);
	tu_rmdir(dir);
	free(dir);
	cp__io_inject(0, 0, 0, false);
}

/* ---- building stores ---- */

static void set(int field, int month, const char *text)
{
	ck_assert_msg(cp_profile_set_text(prof, field, month, text) == CP_OK, "field %d '%s': %s",
	              field, text, cp_errmsg(prof));
}

static void put(void)
{
	ck_assert_msg(cp_store_put(store, prof, NULL) == CP_OK, "%s", cp_errmsg(store));
	cp_profile_clear(prof);
}

/* Profile i: most fields set, some null, with Chinese text. */
static void put_numbered(int i)
{
	static const char *const brands[] = {"gotone", "szx", "mzone"};
	static const char *const regions[] = {"杭州", "宁波", "温州", "绍兴"};
	char buf[64];
	snprintf(buf, sizeof(buf), "138%08d", i);
	set(F_MSISDN, 0, buf);
	set(F_BRAND, 0, brands[i % 3]);
	set(F_REGION, 0, regions[i % 4]);
	snprintf(buf, sizeof(buf), "张%d", i);
	set(F_NAME, 0, buf);
	snprintf(buf, sizeof(buf), "%d", 18 + i);
	set(F_AGE, 0, buf);
	set(F_SCORE, 0, i % 2 ? "0.75" : "");
	set(F_VIP, 0, i % 3 ? "是" : "否");
	set(F_OVERDUE, 0, "12.50");
	set(F_JOIN, 0, "2019-03-01");
	set(F_ADDONS, 0, i % 2 ? "流量包;彩铃;来电显示;家庭网" : "");
	set(F_TONES, 0, "最炫民族风;月亮之上");
	for (int m = 0; m < 6; m++) {
		snprintf(buf, sizeof(buf), "%d.%02d", 30 + i + m, m * 7);
		set(F_ARPU, m, buf);
		snprintf(buf, sizeof(buf), "%d.5", m + i);
		set(F_GPRS, m, m == 2 ? "" : buf);
		snprintf(buf, sizeof(buf), "%d", -m * i);
		set(F_SESSIONS, m, buf);
		set(F_ACTIVE, m, m % 2 ? "1" : "0");
		set(F_LAST_CALL, m, "20261015");
		set(F_APPS, m, m == i % 6 ? "wap;飞信;手机报" : "wap");
	}
	put();
}

/* A store with every field type, deleted rows and an as-of month. */
static void fill(int n)
{
	for (int i = 0; i < n; i++)
		put_numbered(i);
	char key[32];
	for (int i = 1; i < n; i += 3) {
		snprintf(key, sizeof(key), "138%08d", i);
		ck_assert_int_eq(cp_store_delete(store, key), CP_OK);
	}
	ck_assert_int_eq(cp_store_set_as_of(store, 202610), CP_OK);
}

/* Every profile of a is in b with every cell equal (text form), and b has
 * no other profile. */
static void assert_same(const cp_store *a, const cp_store *b)
{
	ck_assert_uint_eq(cp_store_count(a), cp_store_count(b));
	ck_assert_int_eq(cp_store_as_of(a), cp_store_as_of(b));
	ck_assert_uint_eq(cp_store_row_bytes(a), cp_store_row_bytes(b));
	const cp_schema *sa = cp_store_schema(a);
	cp_iter *it;
	cp_view *va, *vb;
	ck_assert_int_eq(cp_iter_new(&it, a), CP_OK);
	ck_assert_int_eq(cp_view_new(&va, a), CP_OK);
	ck_assert_int_eq(cp_view_new(&vb, b), CP_OK);
	size_t n = 0;
	while (cp_iter_next(it, va) == CP_OK) {
		n++;
		ck_assert_int_eq(cp_store_get(b, cp_view_key(va), vb), CP_OK);
		for (int f = 0; f < cp_schema_field_count(sa); f++) {
			for (int m = 0; m < cp_schema_field_months(sa, f); m++) {
				char ta[512], tb[512];
				ck_assert_int_ge(cp_view_text(va, f, m, ta, sizeof(ta)), 0);
				ck_assert_int_ge(cp_view_text(vb, f, m, tb, sizeof(tb)), 0);
				ck_assert_msg(strcmp(ta, tb) == 0, "key %s field %d month %d: '%s' != '%s'",
				              cp_view_key(va), f, m, ta, tb);
				ck_assert_int_eq(cp_view_is_null(va, f, m), cp_view_is_null(vb, f, m));
			}
		}
	}
	ck_assert_uint_eq(n, cp_store_count(b));
	cp_view_free(vb);
	cp_view_free(va);
	cp_iter_free(it);
}

/* Two snapshots hold the same image but for their identity (generation,
 * random id) and so their header CRC. */
static bool same_but_identity(const char *a, const char *b, size_t len)
{
	return memcmp(a, b, CPS_H_GENERATION) == 0 &&
	       memcmp(a + CPS_H_RESERVED, b + CPS_H_RESERVED, CPS_H_HEADER_CRC - CPS_H_RESERVED) == 0 &&
	       memcmp(a + CPS_H_HEADER_CRC + 4, b + CPS_H_HEADER_CRC + 4,
	              len - CPS_H_HEADER_CRC - 4) == 0;
}

static int count_files(void)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *path_of(const char *name)
{
	return strdup(tu_path(dir, name));
}

static void save_ok(const char *path, int flags)
{
	ck_assert_msg(cp_store_save(store, path, flags) == CP_OK, "%s", cp_errmsg(store));
}

/* Some diagnostic of diag contains s (and names file). */
static void assert_diag(const char *file, const char *s)
{
	for (size_t i = 0; i < cp_diag_count(diag); i++)
		if (strstr(cp_diag_message(diag, i), s)) {
			ck_assert_str_eq(cp_diag_file(diag, i), file);
			ck_assert_int_eq(cp_diag_severity(diag, i), CP_SEV_ERROR);
			return;
		}
	ck_abort_msg("no diagnostic contains '%s' (first: '%s')", s,
	             cp_diag_count(diag) ? cp_diag_message(diag, 0) : "none");
}

/* ---- round trips ---- */

START_TEST(test_round_trip_every_type)
{
	fill(20);
	ck_assert_uint_eq(store->nrows - store->live, 7); /* deleted slots are there */
	char *path = path_of("s.cps");
	mode_t old = umask(022);
	save_ok(path, 0);
	umask(old);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(count_files(), 1); /* no temporary file left */

	cp_store *back;
	ck_assert_int_eq(cp_store_open(&back, path, diag), CP_OK);
	ck_assert_uint_eq(cp_diag_count(diag), 0);
	assert_same(store, back);
	ck_assert_int_eq(cp_store_as_of(back), 202610);
	ck_assert_str_eq(cp_schema_name(cp_store_schema(back)), "snaptest");
	ck_assert_str_eq(cp_schema_field_label(cp_store_schema(back), F_BRAND), "品牌");

	/* Spot checks of the typed getters through the reopened store. */
	cp_view *v;
	ck_assert_int_eq(cp_view_new(&v, back), CP_OK);
	ck_assert_int_eq(cp_store_get(back, "+8613800000005", v), CP_OK);
	ck_assert_str_eq(cp_view_string(v, F_REGION, 0), "宁波");
	ck_assert_str_eq(cp_view_string(v, F_BRAND, 0), "mzone");
	ck_assert_str_eq(cp_view_string(v, F_NAME, 0), "张5");
	ck_assert_int_eq(cp_view_money(v, F_ARPU, 5), 4035);
	ck_assert_int_eq(cp_view_item_count(v, F_ADDONS, 0), 4);
	ck_assert_int_eq(cp_view_item_count(v, F_TONES, 0), 2);
	ck_assert_str_eq(cp_view_item(v, F_TONES, 0, 0), "最炫民族风");
	ck_assert_int_eq(cp_view_item_count(v, F_APPS, 5), 3);
	ck_assert(cp_view_is_null(v, F_GPRS, 2));
	ck_assert_int_eq(cp_store_get(back, "13800000004", v), CP_ENOTFOUND); /* deleted */
	cp_view_free(v);

	/* Compacted: only live rows, no free slots. */
	ck_assert_uint_eq(back->nrows, 13);
	ck_assert_uint_eq(back->nfree, 0);
	cp_store_free(back);
	free(path);
}
END_TEST

START_TEST(test_round_trip_compressed)
{
	fill(40);
	char *plain = path_of("plain.cps"), *packed = path_of("packed.cps");
	save_ok(plain, 0);
	save_ok(packed, CP_SAVE_COMPRESS);
	size_t plen, zlen;
	char *p = tu_read_file(plain, &plen), *z = tu_read_file(packed, &zlen);
	ck_assert_uint_lt(zlen, plen / 2);
	uint32_t flags;
	memcpy(&flags, z + CPS_H_FLAGS, 4);
	ck_assert_uint_eq(flags, CPS_FLAG_COMPRESSED);
	uint64_t image;
	memcpy(&image, z + CPS_H_IMAGE_SIZE, 8);
	ck_assert_uint_eq(image, plen);

	cp_store *back;
	ck_assert_int_eq(cp_store_open(&back, packed, diag), CP_OK);
	assert_same(store, back);
	/* The inflated image is the uncompressed file. */
	char *again = path_of("again.cps");
	ck_assert_int_eq(cp_store_save(back, again, 0), CP_OK);
	size_t alen;
	char *a = tu_read_file(again, &alen);
	ck_assert_uint_eq(alen, plen);
	ck_assert(same_but_identity(a, p, plen));
	ck_assert_int_eq(cp_snapshot_verify(packed, diag), CP_OK);
	ck_assert_uint_eq(cp_diag_count(diag), 0);
	cp_store_free(back);
	free(a);
	free(p);
	free(z);
	free(again);
	free(plain);
	free(packed);
}
END_TEST

START_TEST(test_round_trip_empty_store)
{
	char *path = path_of("empty.cps");
	save_ok(path, 0);
	cp_store *back;
	ck_assert_int_eq(cp_store_open(&back, path, diag), CP_OK);
	ck_assert_uint_eq(cp_store_count(back), 0);
	ck_assert_int_eq(cp_store_as_of(back), 0);
	cp_view *v;
	ck_assert_int_eq(cp_view_new(&v, back), CP_OK);
	ck_assert_int_eq(cp_store_get(back, "13800000001", v), CP_ENOTFOUND);
	cp_view_free(v);
	cp_store_free(back);
	save_ok(path, CP_SAVE_COMPRESS);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_OK);
	free(path);
}
END_TEST

/* An opened store is an ordinary store: it grows, and saves again. */
START_TEST(test_reopened_store_changes_and_saves)
{
	fill(10);
	char *path = path_of("s.cps");
	save_ok(path, 0);
	cp_store *back;
	ck_assert_int_eq(cp_store_open(&back, path, NULL), CP_OK);
	cp_store *orig = store;
	store = back;
	for (int i = 100; i < 140; i++)
		put_numbered(i); /* grows rows, pools and index past the opened sizes */
	set(F_MSISDN, 0, "13800000000");
	set(F_REGION, 0, "丽水");
	put(); /* replaces */
	ck_assert_int_eq(cp_store_delete(back, "13800000003"), CP_OK);
	save_ok(path, CP_SAVE_COMPRESS);
	cp_store *third;
	ck_assert_int_eq(cp_store_open(&third, path, diag), CP_OK);
	assert_same(back, third);
	ck_assert_uint_eq(cp_store_count(third), 7 - 1 + 40);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_OK);
	cp_store_free(third);
	store = orig;
	cp_store_free(back);
	free(path);
}
END_TEST

/* ---- damage ---- */

/* A small snapshot of a few profiles, its bytes in *len. */
static char *small_snapshot(const char *path, int flags, size_t *len)
{
	fill(4);
	save_ok(path, flags);
	return tu_read_file(path, len);
}

/*
 * Read everything an opened store serves: every profile through the
 * iterator (a damaged one is CP_ECORRUPT), every cell of the others, and a
 * lookup of each key.  Returns the number of damaged profiles met.
 */
static int walk(const cp_store *s)
{
	cp_iter *it;
	cp_view *v, *w;
	ck_assert_int_eq(cp_iter_new(&it, s), CP_OK);
	ck_assert_int_eq(cp_view_new(&v, s), CP_OK);
	ck_assert_int_eq(cp_view_new(&w, s), CP_OK);
	const cp_schema *sc = cp_store_schema(s);
	int damaged = 0, rc;
	while ((rc = cp_iter_next(it, v)) != CP_DONE) {
		if (rc == CP_ECORRUPT) {
			ck_assert_msg(strstr(cp_errmsg(it), "is damaged in the snapshot"), "%s",
			              cp_errmsg(it));
			damaged++;
			continue;
		}
		ck_assert_int_eq(rc, CP_OK);
		char buf[512];
		for (int f = 0; f < cp_schema_field_count(sc); f++)
			for (int m = 0; m < cp_schema_field_months(sc, f); m++)
				ck_assert_int_ge(cp_view_text(v, f, m, buf, sizeof(buf)), 0);
		rc = cp_store_get(s, cp_view_key(v), w);
		ck_assert_msg(rc == CP_OK || rc == CP_ENOTFOUND, "get: %d", rc);
	}
	cp_view_free(w);
	cp_view_free(v);
	cp_iter_free(it);
	return damaged;
}

/* verify fails with want; open either fails the same way (header, table,
 * padding, schema), or opens a store that reads safely. */
static void expect_damage(const char *path, int want, const char *what)
{
	cp_store *s = (cp_store *)1;
	cp_diag_clear(diag);
	int rc = cp_store_open(&s, path, diag);
	if (rc == CP_OK) {
		walk(s);
		cp_store_free(s);
	} else {
		ck_assert_msg(rc == want, "%s: open gave %d (%s), want %d", what, rc,
		              cp_diag_count(diag) ? cp_diag_message(diag, 0) : "", want);
		ck_assert_ptr_null(s);
		ck_assert_uint_ge(cp_diag_count(diag), 1);
		ck_assert_str_eq(cp_diag_file(diag, 0), path);
		ck_assert_msg(strstr(cp_diag_message(diag, 0), "offset"), "%s: '%s' names no offset",
		              what, cp_diag_message(diag, 0));
	}
	cp_diag_clear(diag);
	rc = cp_snapshot_verify(path, diag);
	ck_assert_msg(rc == want, "%s: verify gave %d", what, rc);
	ck_assert_uint_ge(cp_diag_count(diag), 1);
	ck_assert_str_eq(cp_diag_file(diag, 0), path);
	ck_assert_msg(strstr(cp_diag_message(diag, 0), "offset"), "%s: '%s' names no offset",
	              what, cp_diag_message(diag, 0));
}

static void truncate_every_length(int flags)
{
	char *path = path_of("s.cps"), *cut = path_of("cut.cps");
	size_t len;
	char *bytes = small_snapshot(path, flags, &len);
	for (size_t n = 0; n < len; n++) {
		tu_write_file(cut, bytes, n);
		char what[64];
		snprintf(what, sizeof(what), "truncated to %zu of %zu", n, len);
		expect_damage(cut, CP_ECORRUPT, what);
		if (n < 8)
			continue;
		ck_assert_msg(strstr(cp_diag_message(diag, 0), "truncated"), "%s: %s", what,
		              cp_diag_message(diag, 0));
	}
	free(bytes);
	free(cut);
	free(path);
}

START_TEST(test_truncation_at_every_length)
{
	truncate_every_length(0);
}
END_TEST

START_TEST(test_truncation_at_every_length_compressed)
{
	truncate_every_length(CP_SAVE_COMPRESS);
}
END_TEST

START_TEST(test_truncation_names_the_section)
{
	char *path = path_of("s.cps");
	size_t len;
	char *bytes = small_snapshot(path, 0, &len);
	uint64_t rows_off;
	memcpy(&rows_off, bytes + CPS_FIXED_HEADER + (CPS_SEC_ROWS - 1) * CPS_ENTRY_SIZE +
	       CPS_E_OFFSET, 8);
	tu_write_file(path, bytes, rows_off + 10);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	char want[128];
	snprintf(want, sizeof(want), "truncated: the file ends at offset %llu, inside section rows",
	         (unsigned long long)rows_off + 10);
	assert_diag(path, want);
	free(bytes);
	free(path);
}
END_TEST

/* Name of the part of an uncompressed snapshot that holds offset off, as
 * the messages name it. */
static const char *part_of(const char *bytes, size_t off)
{
	static const char *const names[] = {
		"", "section schema", "section rows", "section strings", "section string-hash",
		"section lists", "section list-hash", "section index"
	};
	if (off < CPS_MAGIC_LEN)
		return "bad magic";
	if (off >= CPS_H_VERSION && off < CPS_H_VERSION + 4)
		return "format version";
	if (off >= CPS_H_BYTE_ORDER && off < CPS_H_BYTE_ORDER + 4)
		return "byte-order mark";
	if ((off >= CPS_H_HEADER_SIZE && off < CPS_H_HEADER_SIZE + 4) ||
	    (off >= CPS_H_NSECTIONS && off < CPS_H_NSECTIONS + 4))
		return "header size";
	if (off < CPS_HEADER_SIZE)
		return "header at offset 0";
	for (int k = 1; k <= CPS_SEC_COUNT; k++) {
		const char *e = bytes + CPS_FIXED_HEADER + (size_t)(k - 1) * CPS_ENTRY_SIZE;
		uint64_t so, sl;
		memcpy(&so, e + CPS_E_OFFSET, 8);
		memcpy(&sl, e + CPS_E_LENGTH, 8);
		if (off < so)
			return "padding byte";
		if (off < so + sl)
			return names[k];
	}
	return "?";
}

static void flip_every_byte(int flags)
{
	char *path = path_of("s.cps"), *bad = path_of("bad.cps");
	size_t len;
	char *bytes = small_snapshot(path, flags, &len);
	for (size_t off = 0; off < len; off++) {
		unsigned bit = 1u << (off % 8);
		bytes[off] ^= (char)bit;
		tu_write_file(bad, bytes, len);
		bytes[off] ^= (char)bit;
		char what[64];
		snprintf(what, sizeof(what), "bit %u flipped at offset %zu of %zu", (unsigned)(off % 8), off, len);
		bool version = off >= CPS_H_VERSION && off < CPS_H_VERSION + 4;
		expect_damage(bad, version ? CP_EVERSION : CP_ECORRUPT, what);
		if (flags)
			continue;
		/* verify names the part that holds the flipped bit */
		const char *part = part_of(bytes, off);
		ck_assert_msg(strstr(cp_diag_message(diag, 0), part), "%s: '%s' does not name %s",
		              what, cp_diag_message(diag, 0), part);
	}
	free(bytes);
	free(bad);
	free(path);
}

START_TEST(test_flipped_bit_at_every_offset)
{
	flip_every_byte(0);
}
END_TEST

START_TEST(test_flipped_bit_at_every_offset_compressed)
{
	flip_every_byte(CP_SAVE_COMPRESS);
}
END_TEST

/* ---- crafted files: valid checksums, wrong contents ---- */

static uint32_t crc_of(const void *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static char *entry(char *bytes, int kind)
{
	return bytes + CPS_FIXED_HEADER + (size_t)(kind - 1) * CPS_ENTRY_SIZE;
}

static uint64_t sec_offset(char *bytes, int kind)
{
	uint64_t v;
	memcpy(&v, entry(bytes, kind) + CPS_E_OFFSET, 8);
	return v;
}

static uint64_t sec_length(char *bytes, int kind)
{
	uint64_t v;
	memcpy(&v, entry(bytes, kind) + CPS_E_LENGTH, 8);
	return v;
}

/* Recompute every section CRC and the header CRC, as a writer would. */
static void reseal(char *bytes)
{
	for (int k = 1; k <= CPS_SEC_COUNT; k++) {
		uint32_t crc = crc_of(bytes + sec_offset(bytes, k), sec_length(bytes, k));
		memcpy(entry(bytes, k) + CPS_E_CRC, &crc, 4);
	}
	uint32_t zero = 0;
	memcpy(bytes + CPS_H_HEADER_CRC, &zero, 4);
	uint32_t crc = crc_of(bytes, CPS_HEADER_SIZE);
	memcpy(bytes + CPS_H_HEADER_CRC, &crc, 4);
}

static void put32_at(char *bytes, uint64_t off, uint32_t v)
{
	memcpy(bytes + off, &v, 4);
}

static uint32_t get32_at(const char *bytes, uint64_t off)
{
	uint32_t v;
	memcpy(&v, bytes + off, 4);
	return v;
}

/* Offset in the file of the cell (row, field, month). */
static uint64_t cell_off(char *bytes, size_t row, int field, int month)
{
	const cp_field *f = &schema->fields[field];
	return sec_offset(bytes, CPS_SEC_ROWS) + row * schema->row_size + f->offset +
	       (uint64_t)month * f->width;
}

typedef void (*damage_fn)(char *bytes, char *want, size_t size);

/* What open does with a crafted file: refuse it, open it and report the
 * damaged profile when it is read, or open it and read it safely (damage
 * a read does not follow, or follows only sometimes). */
enum { OPEN_FAILS, ROW_DAMAGED, READS_SAFELY };

static void crafted(damage_fn damage, int expect)
{
	char *path = path_of("s.cps");
	size_t len;
	char *bytes = small_snapshot(path, 0, &len);
	char want[256];
	damage(bytes, want, sizeof(want));
	reseal(bytes);
	tu_write_file(path, bytes, len);
	cp_store *s = (cp_store *)1;
	int rc = cp_store_open(&s, path, diag);
	if (expect == OPEN_FAILS) {
		ck_assert_int_eq(rc, CP_ECORRUPT);
		ck_assert_ptr_null(s);
		ck_assert_uint_ge(cp_diag_count(diag), 1);
		ck_assert_msg(strstr(cp_diag_message(diag, 0), want), "'%s' does not contain '%s'",
		              cp_diag_message(diag, 0), want);
	} else {
		ck_assert_msg(rc == CP_OK, "open: %s", cp_diag_count(diag) ?
		              cp_diag_message(diag, 0) : "");
		int damaged = walk(s);
		if (expect == ROW_DAMAGED)
			ck_assert_int_eq(damaged, 1);
		/* a store with damage is not saved with it */
		char *again = path_of("again.cps");
		rc = cp_store_save(s, again, 0);
		if (damaged)
			ck_assert_int_eq(rc, CP_ECORRUPT);
		else if (rc == CP_OK)
			ck_assert_int_eq(cp_snapshot_verify(again, NULL), CP_OK);
		free(again);
		cp_store_free(s);
	}
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_ECORRUPT);
	assert_diag(path, want);
	free(bytes);
	free(path);
}

static void closed_enum_out_of_range(char *b, char *want, size_t size)
{
	uint64_t off = cell_off(b, 1, F_BRAND, 0);
	put32_at(b, off, 3);
	snprintf(want, size, "section rows at offset %llu: row 1, field 'brand' month 0: enum "
	         "index 3, the field has 3 values", (unsigned long long)off);
}

static void string_id_past_end(char *b, char *want, size_t size)
{
	uint64_t off = cell_off(b, 2, F_REGION, 0);
	put32_at(b, off, (uint32_t)sec_length(b, CPS_SEC_STRINGS));
	snprintf(want, size, "section rows at offset %llu: row 2, field 'region' month 0: "
	         "string id %u is not a string", (unsigned long long)off,
	         (unsigned)sec_length(b, CPS_SEC_STRINGS));
}

static void string_id_inside_a_string(char *b, char *want, size_t size)
{
	uint64_t off = cell_off(b, 0, F_NAME, 0);
	uint32_t id = get32_at(b, off) + 1; /* the middle of "张0" */
	put32_at(b, off, id);
	snprintf(want, size, "row 0, field 'name' month 0: string id %u is not a string", id);
}

static void list_id_not_a_list(char *b, char *want, size_t size)
{
	uint64_t off = cell_off(b, 0, F_APPS, 3);
	uint32_t id = get32_at(b, off) + 1;
	put32_at(b, off, id);
	snprintf(want, size, "row 0, field 'apps' month 3: list id %u is not a list", id);
}

/* Start of the last list of the lists section (walked like a reader). */
static uint64_t last_list(char *b)
{
	uint64_t lists = sec_offset(b, CPS_SEC_LISTS), n = sec_length(b, CPS_SEC_LISTS) / 4;
	uint64_t i = 0, last = 0;
	while (i < n) {
		last = i;
		i += 1 + get32_at(b, lists + i * 4);
	}
	ck_assert_uint_eq(i, n);
	return last;
}

static void list_over_max(char *b, char *want, size_t size)
{
	/* tones (max 3) of row 0 pointed at the 4-item addons set of row 2 */
	uint64_t off = cell_off(b, 0, F_TONES, 0);
	put32_at(b, off, get32_at(b, cell_off(b, 2, F_ADDONS, 0)));
	snprintf(want, size, "section rows at offset %llu: row 0, field 'tones' month 0: 4 items, "
	         "the field holds at most 3", (unsigned long long)off);
}

static void list_count_overruns(char *b, char *want, size_t size)
{
	uint64_t lists = sec_offset(b, CPS_SEC_LISTS), n = sec_length(b, CPS_SEC_LISTS) / 4;
	uint64_t last = last_list(b);
	put32_at(b, lists + last * 4, (uint32_t)(n - last));
	snprintf(want, size, "section lists at offset %llu: list %llu has %u items, past the end",
	         (unsigned long long)(lists + last * 4), (unsigned long long)last,
	         (unsigned)(n - last));
}

static void list_item_not_a_string(char *b, char *want, size_t size)
{
	uint64_t lists = sec_offset(b, CPS_SEC_LISTS), n = sec_length(b, CPS_SEC_LISTS) / 4;
	uint64_t last = last_list(b);
	ck_assert_uint_gt(n - last, 1); /* the last list has items */
	put32_at(b, lists + (n - 1) * 4, 0x7fffffffu);
	snprintf(want, size, "section lists at offset %llu: item of list %llu: string id "
	         "2147483647 is not a string", (unsigned long long)(lists + (n - 1) * 4),
	         (unsigned long long)last);
}

static void strings_not_terminated(char *b, char *want, size_t size)
{
	uint64_t off = sec_offset(b, CPS_SEC_STRINGS) + sec_length(b, CPS_SEC_STRINGS) - 1;
	b[off] = 'x';
	snprintf(want, size, "section strings at offset %llu: the last string is not "
	         "NUL-terminated", (unsigned long long)off);
}

static void index_past_rows(char *b, char *want, size_t size)
{
	uint64_t off = sec_offset(b, CPS_SEC_INDEX);
	uint64_t n = sec_length(b, CPS_SEC_INDEX) / 4, i = 0;
	while (!get32_at(b, off + i * 4))
		i++;
	ck_assert_uint_lt(i, n);
	put32_at(b, off + i * 4, 4); /* row 3: the store has 3 rows */
	snprintf(want, size, "section index at offset %llu: slot %llu: row 3, the snapshot has "
	         "3 rows", (unsigned long long)(off + i * 4), (unsigned long long)i);
}

static void index_loses_a_row(char *b, char *want, size_t size)
{
	uint64_t off = sec_offset(b, CPS_SEC_INDEX), i = 0;
	while (!get32_at(b, off + i * 4))
		i++;
	put32_at(b, off + i * 4, 0);
	snprintf(want, size, "section index at offset %llu: 2 rows indexed, the header records "
	         "3 profiles", (unsigned long long)off);
}

static void string_hash_full(char *b, char *want, size_t size)
{
	uint64_t off = sec_offset(b, CPS_SEC_STRING_HASH);
	uint64_t n = sec_length(b, CPS_SEC_STRING_HASH) / 4;
	for (uint64_t i = 0; i < n; i++)
		if (!get32_at(b, off + i * 4))
			put32_at(b, off + i * 4, 1); /* "" everywhere */
	snprintf(want, size, "section string-hash at offset %llu: %llu slots in use",
	         (unsigned long long)off, (unsigned long long)n);
}

static void row_size_differs(char *b, char *want, size_t size)
{
	put32_at(b, CPS_H_ROW_SIZE, schema->row_size + 8);
	snprintf(want, size, "section rows at offset %llu: %llu bytes, not the header's row "
	         "slots times its row size", (unsigned long long)sec_offset(b, CPS_SEC_ROWS),
	         (unsigned long long)sec_length(b, CPS_SEC_ROWS));
}

static void layout_differs(char *b, char *want, size_t size)
{
	put32_at(b, CPS_H_LAYOUT_CRC, get32_at(b, CPS_H_LAYOUT_CRC) ^ 1u);
	snprintf(want, size, "section schema at offset %u: the embedded schema gives a row "
	         "layout", CPS_HEADER_SIZE);
}

static void schema_yaml_broken(char *b, char *want, size_t size)
{
	uint64_t off = sec_offset(b, CPS_SEC_SCHEMA);
	memcpy(b + off, "custprof: 7", 11);
	snprintf(want, size, "section schema at offset %llu: the embedded schema does not load",
	         (unsigned long long)off);
}

static void row_not_live(char *b, char *want, size_t size)
{
	uint64_t off = sec_offset(b, CPS_SEC_ROWS) + schema->row_size;
	put32_at(b, off, 0);
	snprintf(want, size, "section rows at offset %llu: row 1 holds no profile",
	         (unsigned long long)off);
}

static void as_of_not_a_month(char *b, char *want, size_t size)
{
	put32_at(b, CPS_H_AS_OF, 202613);
	snprintf(want, size, "header at offset %u: as-of month 202613 is not yyyymm", CPS_H_AS_OF);
}

static const struct {
	damage_fn damage;
	int expect;
} damages[] = {
	{closed_enum_out_of_range, ROW_DAMAGED},
	{string_id_past_end, ROW_DAMAGED},
	{string_id_inside_a_string, ROW_DAMAGED},
	{list_id_not_a_list, READS_SAFELY},
	{list_over_max, ROW_DAMAGED},
	{list_count_overruns, READS_SAFELY},
	{list_item_not_a_string, READS_SAFELY},
	{strings_not_terminated, OPEN_FAILS},
	{index_past_rows, READS_SAFELY},
	{index_loses_a_row, READS_SAFELY},
	{string_hash_full, READS_SAFELY},
	{row_size_differs, OPEN_FAILS},
	{layout_differs, OPEN_FAILS},
	{schema_yaml_broken, OPEN_FAILS},
	{row_not_live, ROW_DAMAGED},
	{as_of_not_a_month, OPEN_FAILS},
};

START_TEST(test_crafted_contents)
{
	crafted(damages[_i].damage, damages[_i].expect);
}
END_TEST

/* verify lists every problem; open stops at the first. */
START_TEST(test_verify_lists_every_problem)
{
	char *path = path_of("s.cps");
	size_t len;
	char *b = small_snapshot(path, 0, &len);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_OK);
	ck_assert_uint_eq(cp_diag_count(diag), 0);
	/* two damaged sections, one damaged padding byte */
	b[sec_offset(b, CPS_SEC_ROWS) + 5] ^= 0x10;
	b[sec_offset(b, CPS_SEC_LISTS) + 4] ^= 0x01;
	uint64_t pad = sec_offset(b, CPS_SEC_SCHEMA) + sec_length(b, CPS_SEC_SCHEMA);
	ck_assert_uint_lt(pad, sec_offset(b, CPS_SEC_ROWS)); /* the schema section is padded */
	b[pad] = 1;
	tu_write_file(path, b, len);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_ECORRUPT);
	ck_assert_uint_eq(cp_diag_count(diag), 3);
	char want[128];
	snprintf(want, sizeof(want), "padding byte 0x01 at offset %llu (before section rows)",
	         (unsigned long long)pad);
	assert_diag(path, want);
	snprintf(want, sizeof(want), "section rows at offset %llu (%llu bytes): CRC32",
	         (unsigned long long)sec_offset(b, CPS_SEC_ROWS),
	         (unsigned long long)sec_length(b, CPS_SEC_ROWS));
	assert_diag(path, want);
	snprintf(want, sizeof(want), "section lists at offset %llu",
	         (unsigned long long)sec_offset(b, CPS_SEC_LISTS));
	assert_diag(path, want);
	cp_diag_clear(diag);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	ck_assert_uint_eq(cp_diag_count(diag), 1);
	/* verify of content problems: each listed, up to 10 per section */
	b[pad] = 0;
	b[sec_offset(b, CPS_SEC_ROWS) + 5] ^= 0x10;
	b[sec_offset(b, CPS_SEC_LISTS) + 4] ^= 0x01;
	for (size_t row = 0; row < 3; row++)
		for (int m = 0; m < 6; m++)
			put32_at(b, cell_off(b, row, F_APPS, m), 0xfffffff0u);
	reseal(b);
	tu_write_file(path, b, len);
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_ECORRUPT);
	ck_assert_uint_eq(cp_diag_count(diag), 11);
	ck_assert_str_eq(cp_diag_message(diag, 10), "section rows: 8 more problems not listed");
	free(b);
	free(path);
}
END_TEST

/* Index slots swapped: every row is indexed once, yet lookups fail.  open
 * does not probe (it would cost a lookup per profile); verify does. */
START_TEST(test_verify_looks_every_key_up)
{
	char *path = path_of("s.cps");
	size_t len;
	char *b = small_snapshot(path, 0, &len);
	uint64_t off = sec_offset(b, CPS_SEC_INDEX), n = sec_length(b, CPS_SEC_INDEX) / 4;
	uint64_t first = n, second = n;
	for (uint64_t i = 0; i < n; i++)
		if (get32_at(b, off + i * 4)) {
			if (first == n)
				first = i;
			else if (second == n)
				second = i;
		}
	ck_assert_uint_lt(second, n);
	uint32_t a = get32_at(b, off + first * 4), c = get32_at(b, off + second * 4);
	put32_at(b, off + first * 4, c);
	put32_at(b, off + second * 4, a);
	reseal(b);
	tu_write_file(path, b, len);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_OK);
	cp_store_free(s);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_ECORRUPT);
	char want[128];
	snprintf(want, sizeof(want), "section index at offset %llu: the profile of row %u is not "
	         "found under its key", (unsigned long long)off, a - 1);
	assert_diag(path, want);
	free(b);
	free(path);
}
END_TEST

static void rewrite_header_field(const char *path, unsigned off, uint32_t value, bool seal)
{
	size_t len;
	char *b = tu_read_file(path, &len);
	put32_at(b, off, value);
	if (seal) {
		uint32_t zero = 0;
		memcpy(b + CPS_H_HEADER_CRC, &zero, 4);
		uint32_t crc = crc_of(b, CPS_HEADER_SIZE);
		memcpy(b + CPS_H_HEADER_CRC, &crc, 4);
	}
	tu_write_file(path, b, len);
	free(b);
}

START_TEST(test_version_mismatch)
{
	char *path = path_of("s.cps");
	fill(3);
	save_ok(path, 0);
	rewrite_header_field(path, CPS_H_VERSION, 3, true);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_EVERSION);
	ck_assert_ptr_null(s);
	assert_diag(path, "header at offset 8: format version 3, this library reads versions 1 "
	            "and 2");
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_EVERSION);
	assert_diag(path, "format version 3");
	/* a version from before the CRC could be recomputed: still the version */
	save_ok(path, 0);
	rewrite_header_field(path, CPS_H_VERSION, 0, false);
	ck_assert_int_eq(cp_store_open(&s, path, NULL), CP_EVERSION);
	free(path);
}
END_TEST

START_TEST(test_other_byte_order)
{
	char *path = path_of("s.cps");
	save_ok(path, 0);
	rewrite_header_field(path, CPS_H_BYTE_ORDER, CPS_BYTE_ORDER_SWAPPED, true);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_EVERSION);
	assert_diag(path, "header at offset 12: written on a machine of the other byte order");
	free(path);
}
END_TEST

START_TEST(test_unknown_flags)
{
	char *path = path_of("s.cps");
	save_ok(path, 0);
	rewrite_header_field(path, CPS_H_FLAGS, 0x4, true);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_EVERSION);
	assert_diag(path, "header at offset 20: unknown flags 0x4");
	free(path);
}
END_TEST

START_TEST(test_missing_file)
{
	char *path = path_of("none.cps");
	cp_store *s = (cp_store *)1;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ENOTFOUND);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(cp_diag_count(diag), 1);
	ck_assert_str_eq(cp_diag_message(diag, 0), "cannot open: No such file or directory");
	ck_assert_str_eq(cp_diag_file(diag, 0), path);
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_snapshot_verify(path, diag), CP_ENOTFOUND);
	ck_assert_uint_eq(cp_diag_count(diag), 1);
	/* a directory is not a snapshot */
	ck_assert_int_eq(cp_store_open(&s, dir, NULL), CP_EIO);
	free(path);
}
END_TEST

START_TEST(test_not_a_snapshot)
{
	char *path = path_of("x.csv");
	tu_write_file(path, "msisdn,brand\n13800000001,szx\n", 29);
	cp_store *s;
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	ck_assert_str_eq(cp_diag_message(diag, 0), "not a custprof snapshot: bad magic at offset 0");
	tu_write_file(path, "", 0);
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	ck_assert_str_eq(cp_diag_message(diag, 0),
	                 "truncated: the file ends at offset 0, inside the header (128 bytes)");
	/* more bytes than the header records */
	save_ok(path, 0);
	size_t len;
	char *b = tu_read_file(path, &len);
	b = realloc(b, len + 3);
	memcpy(b + len, "abc", 3);
	tu_write_file(path, b, len + 3);
	cp_diag_clear(diag);
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	char want[128];
	snprintf(want, sizeof(want), "3 bytes follow offset %zu, where the header says the file "
	         "ends", len);
	ck_assert_str_eq(cp_diag_message(diag, 0), want);
	free(b);
	free(path);
}
END_TEST

/* Set the image size and the index length (the last section, so the table
 * stays consistent) of a compressed snapshot, and reseal its header. */
static void claim_image_size(const char *path, char *b, size_t len, uint64_t image,
                             uint64_t index_len)
{
	memcpy(b + CPS_H_IMAGE_SIZE, &image, 8);
	memcpy(entry(b, CPS_SEC_INDEX) + CPS_E_LENGTH, &index_len, 8);
	uint32_t zero = 0, crc;
	memcpy(b + CPS_H_HEADER_CRC, &zero, 4);
	crc = crc_of(b, CPS_HEADER_SIZE);
	memcpy(b + CPS_H_HEADER_CRC, &crc, 4);
	tu_write_file(path, b, len);
	cp_diag_clear(diag);
}

/* Compressed bodies that inflate to more than the header says are refused. */
START_TEST(test_decompression_bomb)
{
	char *path = path_of("s.cps");
	fill(30);
	save_ok(path, CP_SAVE_COMPRESS);
	size_t len;
	char *b = tu_read_file(path, &len);
	uint64_t image = 0, index = sec_length(b, CPS_SEC_INDEX);
	memcpy(&image, b + CPS_H_IMAGE_SIZE, 8);
	ck_assert_uint_gt(index, 100);
	cp_store *s;
	claim_image_size(path, b, len, image - 100, index - 100);
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	assert_diag(path, "compressed body at offset 384: it inflates to more bytes (refused)");
	/* and fewer bytes than recorded */
	claim_image_size(path, b, len, image + 100, index + 100);
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	assert_diag(path, "compressed body at offset 384: it inflates to fewer bytes");
	/* a claim beyond what deflate can reach is refused before allocating */
	claim_image_size(path, b, len, UINT64_C(1) << 50, (UINT64_C(1) << 50) - image + index);
	ck_assert_int_eq(cp_store_open(&s, path, diag), CP_ECORRUPT);
	assert_diag(path, "cannot inflate to the 1125899906842624 recorded (refused)");
	free(b);
	free(path);
}
END_TEST

/* ---- saving ---- */

START_TEST(test_save_arguments)
{
	ck_assert_int_eq(cp_store_save(NULL, "x", 0), CP_EINVAL);
	ck_assert_int_eq(cp_store_save(store, NULL, 0), CP_EINVAL);
	ck_assert_int_eq(cp_store_save(store, "x.cps", 0x8), CP_EINVAL);
	ck_assert_str_eq(cp_errmsg(store), "cp_store_save: unknown flags 0x8");
	ck_assert_int_eq(cp_store_open(NULL, "x", NULL), CP_EINVAL);
	cp_store *s = (cp_store *)1;
	ck_assert_int_eq(cp_store_open(&s, NULL, NULL), CP_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(cp_snapshot_verify(NULL, NULL), CP_EINVAL);

	/* a schema built without YAML has nothing to embed */
	cp_schema *bare = tu_schema();
	cp_store *st;
	ck_assert_int_eq(cp_store_new(&st, bare), CP_OK);
	char *path = path_of("bare.cps");
	ck_assert_int_eq(cp_store_save(st, path, 0), CP_EINVAL);
	ck_assert(strstr(cp_errmsg(st), "schema 'test' has no YAML source to embed"));
	ck_assert_int_eq(count_files(), 0);
	cp_store_free(st);
	cp_schema_free(bare);
	free(path);
}
END_TEST

START_TEST(test_save_failure_keeps_old_file)
{
	fill(5);
	char *path = path_of("s.cps");
	save_ok(path, 0);
	size_t olen;
	char *old = tu_read_file(path, &olen);
	put_numbered(77);

	/* the directory of the target does not exist */
	char *nodir = path_of("missing/s.cps");
	ck_assert_int_eq(cp_store_save(store, nodir, 0), CP_EIO);
	ck_assert_msg(strstr(cp_errmsg(store), "cannot create '") &&
	              strstr(cp_errmsg(store), "missing/s.cps.tmp.") &&
	              strstr(cp_errmsg(store), "': No such file or directory"), "%s",
	              cp_errmsg(store));
	/* the target is a directory: the rename fails, the temporary file goes */
	char *sub = path_of("sub");
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(cp_store_save(store, sub, 0), CP_EIO);
	ck_assert_msg(strstr(cp_errmsg(store), "cannot rename '"), "%s", cp_errmsg(store));
	ck_assert_msg(strstr(cp_errmsg(store), "Is a directory"), "%s", cp_errmsg(store));
	ck_assert_int_eq(count_files(), 2); /* s.cps and sub */
	ck_assert_int_eq(rmdir(sub), 0);

	/* a read-only directory (root may write anyway: then nothing to test) */
	ck_assert_int_eq(chmod(dir, 0500), 0);
	if (access(dir, W_OK) != 0) {
		ck_assert_int_eq(cp_store_save(store, path, 0), CP_EIO);
		ck_assert_msg(strstr(cp_errmsg(store), "Permission denied"), "%s", cp_errmsg(store));
		ck_assert_msg(strstr(cp_errmsg(store), path), "%s", cp_errmsg(store));
	}
	ck_assert_int_eq(chmod(dir, 0700), 0);
	size_t len;
	char *now = tu_read_file(path, &len);
	ck_assert_uint_eq(len, olen);
	ck_assert(memcmp(now, old, olen) == 0);
	free(now);
	free(old);
	free(sub);
	free(nodir);
	free(path);
}
END_TEST

/*
 * Fail each I/O step of a save in turn (create, every write, fsync, close,
 * rename, the directory's open and fsync): until the rename, the old file
 * stays byte for byte and no temporary file is left; after it, the new one
 * is complete.
 */
static void fail_every_step(int flags)
{
	fill(300); /* several buffers of output */
	char *path = path_of("s.cps"), *fresh = path_of("fresh.cps");
	save_ok(path, flags);
	size_t olen;
	char *old = tu_read_file(path, &olen);
	for (int i = 500; i < 520; i++)
		put_numbered(i);
	save_ok(fresh, flags);
	size_t nlen;
	char *want_new = tu_read_file(fresh, &nlen);
	unlink(fresh);

	int step, steps_before_rename = 0;
	for (step = 1;; step++) {
		cp__io_inject(step, EIO, CP_IO_ALL, false);
		int rc = cp_store_save(store, path, flags);
		cp__io_inject(0, 0, 0, false);
		if (rc == CP_OK)
			break;
		ck_assert_int_eq(rc, CP_EIO);
		ck_assert_msg(strstr(cp_errmsg(store), "Input/output error"), "%s", cp_errmsg(store));
		ck_assert_int_eq(count_files(), 1);
		size_t len;
		char *now = tu_read_file(path, &len);
		if (strstr(cp_errmsg(store), "cannot fsync its directory")) {
			ck_assert_uint_eq(len, nlen);
			ck_assert(same_but_identity(now, want_new, nlen));
		} else {
			ck_assert_msg(strstr(cp_errmsg(store), ".tmp."), "%s", cp_errmsg(store));
			ck_assert_uint_eq(len, olen);
			ck_assert(memcmp(now, old, olen) == 0);
			steps_before_rename++;
		}
		free(now);
	}
	ck_assert_int_ge(steps_before_rename, 6); /* create, writes..., header, fsync, close, rename */
	ck_assert_int_eq(step, steps_before_rename + 3); /* + open and fsync of the directory */
	size_t len;
	char *now = tu_read_file(path, &len);
	ck_assert_uint_eq(len, nlen);
	ck_assert(same_but_identity(now, want_new, nlen));
	free(now);
	free(want_new);
	free(old);
	free(fresh);
	free(path);
}

START_TEST(test_save_is_atomic)
{
	fail_every_step(0);
}
END_TEST

START_TEST(test_save_is_atomic_compressed)
{
	fail_every_step(CP_SAVE_COMPRESS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("round trip");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip_every_type);
	tcase_add_test(tc, test_round_trip_compressed);
	tcase_add_test(tc, test_round_trip_empty_store);
	tcase_add_test(tc, test_reopened_store_changes_and_saves);
	suite_add_tcase(s, tc);

	tc = tcase_create("damage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_truncation_at_every_length);
	tcase_add_test(tc, test_truncation_at_every_length_compressed);
	tcase_add_test(tc, test_truncation_names_the_section);
	tcase_add_test(tc, test_flipped_bit_at_every_offset);
	tcase_add_test(tc, test_flipped_bit_at_every_offset_compressed);
	tcase_add_loop_test(tc, test_crafted_contents, 0, sizeof(damages) / sizeof(damages[0]));
	tcase_add_test(tc, test_verify_lists_every_problem);
	tcase_add_test(tc, test_verify_looks_every_key_up);
	tcase_add_test(tc, test_version_mismatch);
	tcase_add_test(tc, test_other_byte_order);
	tcase_add_test(tc, test_unknown_flags);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_not_a_snapshot);
	tcase_add_test(tc, test_decompression_bomb);
	suite_add_tcase(s, tc);

	tc = tcase_create("save");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120); /* many fsyncs */
	tcase_add_test(tc, test_save_arguments);
	tcase_add_test(tc, test_save_failure_keeps_old_file);
	tcase_add_test(tc, test_save_is_atomic);
	tcase_add_test(tc, test_save_is_atomic_compressed);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
