/*
 * check_schema.c — the schema module: the YAML front end (every type and
 * attribute, every diagnostic with its position), introspection, the
 * default schema, reference counting, limits and allocation failures.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builtin.h"

/* ---- a counting allocator that can be told to fail (installed by main) ---- */

static long live_allocs;     /* allocations not yet freed */
static long fail_after = -1; /* allocations left before failing; -1 = never */

static bool should_fail(void)
{
	if (fail_after == 0)
		return true;
	if (fail_after > 0)
		fail_after--;
	return false;
}

static void *t_malloc(size_t n)
{
	void *p = should_fail() ? NULL : malloc(n);
	if (p)
		live_allocs++;
	return p;
}

static void *t_realloc(void *p, size_t n)
{
	if (!p)
		return t_malloc(n);
	return should_fail() ? NULL : realloc(p, n);
}

static void t_free(void *p)
{
	live_allocs--;
	free(p);
}

/* ---- helpers ---- */

/* Every diagnostic of the last try_load, formatted, one per line. */
static char diag_text[1 << 16];

static void format_diags(cp_diag *d)
{
	size_t n = 0;
	diag_text[0] = '\0';
	for (size_t i = 0; i < cp_diag_count(d); i++) {
		ck_assert_int_eq(cp_diag_severity(d, i), CP_SEV_ERROR);
		int w = snprintf(diag_text + n, sizeof(diag_text) - n, "%s\n", cp_diag_format(d, i));
		ck_assert_int_lt(w, (int)(sizeof(diag_text) - n));
		n += (size_t)w;
	}
}

static int try_load_len(const char *yaml, size_t len, cp_schema **out)
{
	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	*out = (cp_schema *)&diag_text; /* must be reset */
	int rc = cp_schema_load_memory(out, yaml, len, "t.yaml", d);
	format_diags(d);
	cp_diag_free(d);
	if (rc != CP_OK)
		ck_assert_ptr_null(*out);
	return rc;
}

static int try_load(const char *yaml, cp_schema **out)
{
	return try_load_len(yaml, strlen(yaml), out);
}

static cp_schema *load_ok(const char *yaml)
{
	cp_schema *s;
	int rc = try_load(yaml, &s);
	ck_assert_msg(rc == CP_OK, "%s\n%s", cp_strerror(rc), diag_text);
	ck_assert_str_eq(diag_text, "");
	return s;
}

/* The load fails with status and exactly these diagnostics. */
static void expect_errors_len(const char *yaml, size_t len, int status, const char *expected)
{
	cp_schema *s;
	int rc = try_load_len(yaml, len, &s);
	ck_assert_msg(rc == status, "status %s, expected %s, for\n%s\n%s", cp_strerror(rc),
	              cp_strerror(status), yaml, diag_text);
	ck_assert_str_eq(diag_text, expected);
}

static void expect_errors(const char *yaml, int status, const char *expected)
{
	expect_errors_len(yaml, strlen(yaml), status, expected);
}

static int field(const cp_schema *s, const char *name)
{
	int i = cp_schema_field_index(s, name);
	ck_assert_msg(i >= 0, "no field %s", name);
	return i;
}

static const char *srcdir(void)
{
	const char *d = getenv("top_srcdir");
	return d && *d ? d : ".";
}

/* ---- every type and attribute ---- */

static const char full_yaml[] =
	"# every type and attribute\n"
	"custprof: 1\n"
	"schema: 测试画像\n"
	"description: 每种类型\n"
	"months: 3\n"
	"key: msisdn\n"
	"fields:\n"
	"  msisdn:  {type: string, label: 号码, normalize: msisdn-cn}\n"
	"  flag:    bool\n"
	"  age:     {type: int, label: 年龄, description: 周岁}\n"
	"  score:   float\n"
	"  fee:     {type: money, series: true, label: 月费}\n"
	"  name:    {type: string, label: 姓名, personal: true}\n"
	"  brand:   {type: enum, label: 品牌, values: {gotone: 全球通, szx: 神州行, mzone: 动感地带}}\n"
	"  status:  {type: enum, values: [active, suspended]}\n"
	"  pref:\n"
	"    type: enum\n"
	"    open: true\n"
	"    values:\n"
	"      - news\n"
	"      - music\n"
	"  region:  enum\n"
	"  shut:    {type: enum, open: false, values: {a: , b: 'B'}}\n"
	"  addons:  {type: set, series: false, personal: false}\n"
	"  tones:   {type: list, max: 3}\n"
	"  free:    list\n"
	"  joined:  date\n"
	"  active:  {type: bool, series: true}\n"
	"  apps:    {type: set, series: true}\n";

START_TEST(test_every_type_and_attribute)
{
	cp_schema *s = load_ok(full_yaml);
	ck_assert_str_eq(cp_schema_name(s), "测试画像");
	ck_assert_int_eq(cp_schema_months(s), 3);
	ck_assert_int_eq(cp_schema_field_count(s), 17);
	ck_assert_int_eq(cp_schema_key_field(s), 0);

	/* fields keep the order of the file */
	static const char *const names[] = {"msisdn", "flag", "age", "score", "fee", "name",
	                                    "brand", "status", "pref", "region", "shut",
	                                    "addons", "tones", "free", "joined", "active", "apps"};
	static const int types[] = {CP_TYPE_STRING, CP_TYPE_BOOL, CP_TYPE_INT, CP_TYPE_FLOAT,
	                            CP_TYPE_MONEY, CP_TYPE_STRING, CP_TYPE_ENUM, CP_TYPE_ENUM,
	                            CP_TYPE_ENUM, CP_TYPE_ENUM, CP_TYPE_ENUM, CP_TYPE_SET,
	                            CP_TYPE_LIST, CP_TYPE_LIST, CP_TYPE_DATE, CP_TYPE_BOOL,
	                            CP_TYPE_SET};
	for (int i = 0; i < 17; i++) {
		ck_assert_str_eq(cp_schema_field_name(s, i), names[i]);
		ck_assert_int_eq(cp_schema_field_index(s, names[i]), i);
		ck_assert_int_eq(cp_schema_field_type(s, i), types[i]);
		bool series = i == 4 || i == 15 || i == 16;
		ck_assert_int_eq(cp_schema_field_is_series(s, i), series);
		ck_assert_int_eq(cp_schema_field_months(s, i), series ? 3 : 1);
		ck_assert_int_eq(cp_schema_field_is_personal(s, i), i == 5);
		ck_assert_str_eq(cp_schema_field_normalize(s, i), i == 0 ? "msisdn-cn" : "");
		ck_assert_int_eq(cp_schema_field_max_items(s, i), i == 12 ? 3 : 0);
		ck_assert_int_eq(cp_schema_field_is_closed(s, i), i == 6 || i == 7 || i == 10);
		ck_assert_str_eq(cp_schema_field_description(s, i), i == 2 ? "周岁" : "");
	}
	/* labels (the name when there is none) */
	ck_assert_str_eq(cp_schema_field_label(s, 0), "号码");
	ck_assert_str_eq(cp_schema_field_label(s, 1), "flag");
	ck_assert_str_eq(cp_schema_field_label(s, 2), "年龄");
	ck_assert_str_eq(cp_schema_field_label(s, 4), "月费");
	ck_assert_str_eq(cp_schema_field_label(s, 6), "品牌");

	/* values as a mapping value -> label */
	int b = field(s, "brand");
	ck_assert_int_eq(cp_schema_field_value_count(s, b), 3);
	ck_assert_str_eq(cp_schema_field_value(s, b, 0), "gotone");
	ck_assert_str_eq(cp_schema_field_value_label(s, b, 0), "全球通");
	ck_assert_str_eq(cp_schema_field_value(s, b, 1), "szx");
	ck_assert_str_eq(cp_schema_field_value_label(s, b, 1), "神州行");
	ck_assert_str_eq(cp_schema_field_value(s, b, 2), "mzone");
	ck_assert_str_eq(cp_schema_field_value_label(s, b, 2), "动感地带");
	/* values as a list: the value is its own label */
	int st = field(s, "status");
	ck_assert_int_eq(cp_schema_field_value_count(s, st), 2);
	ck_assert_str_eq(cp_schema_field_value(s, st, 1), "suspended");
	ck_assert_str_eq(cp_schema_field_value_label(s, st, 1), "suspended");
	/* open: true keeps the listed values known, others allowed */
	int p = field(s, "pref");
	ck_assert_int_eq(cp_schema_field_is_closed(s, p), 0);
	ck_assert_int_eq(cp_schema_field_value_count(s, p), 2);
	ck_assert_str_eq(cp_schema_field_value(s, p, 0), "news");
	/* no values: open, none listed */
	int r = field(s, "region");
	ck_assert_int_eq(cp_schema_field_is_closed(s, r), 0);
	ck_assert_int_eq(cp_schema_field_value_count(s, r), 0);
	/* open: false with values; a value with an empty label keeps its own */
	int sh = field(s, "shut");
	ck_assert_int_eq(cp_schema_field_value_count(s, sh), 2);
	ck_assert_str_eq(cp_schema_field_value_label(s, sh, 0), "a");
	ck_assert_str_eq(cp_schema_field_value_label(s, sh, 1), "B");

	/* positions of the definitions are kept for later messages */
	ck_assert_uint_eq(s->fields[0].line, 8);
	ck_assert_uint_eq(s->fields[0].col, 3);
	ck_assert_uint_eq(s->fields[8].line, 16);

	/* the row layout was computed: 3 cells for each series */
	ck_assert_uint_eq(s->ncells, 14 + 3 * 3);
	ck_assert_uint_eq(s->row_size % 8, 0);
	cp_schema_free(s);
}
END_TEST

START_TEST(test_months_bounds_and_default)
{
	cp_schema *s = load_ok("custprof: 1\nschema: t\nkey: k\nfields:\n  k: string\n"
	                       "  m: {type: int, series: true}\n");
	ck_assert_int_eq(cp_schema_months(s), 6);
	ck_assert_int_eq(cp_schema_field_months(s, 1), 6);
	ck_assert_int_eq(cp_schema_field_months(s, 0), 1);
	cp_schema_free(s);
	s = load_ok("custprof: 1\nschema: t\nmonths: 1\nkey: k\nfields: {k: string}\n");
	ck_assert_int_eq(cp_schema_months(s), 1);
	cp_schema_free(s);
	s = load_ok("custprof: 1\nschema: t\nmonths: 36\nkey: k\n"
	            "fields: {k: string, m: {type: int, series: true}}\n");
	ck_assert_int_eq(cp_schema_months(s), 36);
	ck_assert_int_eq(cp_schema_field_months(s, 1), 36);
	cp_schema_free(s);
}
END_TEST

START_TEST(test_byte_order_mark_and_source)
{
	static const char yaml[] = "\xEF\xBB\xBF" "custprof: 1\nschema: t\nkey: k\nfields: {k: string}\n";
	cp_schema *s = load_ok(yaml);
	size_t len = 0;
	const char *src = cp_schema_source(s, &len);
	ck_assert_uint_eq(len, strlen(yaml));
	ck_assert_mem_eq(src, yaml, len);
	ck_assert_int_eq(src[len], '\0');
	ck_assert_ptr_eq(cp_schema_source(s, NULL), src);
	cp_schema_free(s);
	len = 99;
	ck_assert_ptr_null(cp_schema_source(NULL, &len));
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_series_column_names)
{
	/* arpu_m6 and arpu_m05 are no column of arpu (6 months: m0..m5) */
	cp_schema *s = load_ok("custprof: 1\nschema: t\nkey: k\nfields:\n  k: string\n"
	                       "  arpu: {type: money, series: true}\n  arpu_m6: int\n"
	                       "  arpu_m05: int\n  k_m0: int\n  _m0: int\n");
	ck_assert_int_eq(cp_schema_field_count(s), 6);
	cp_schema_free(s);
	expect_errors("custprof: 1\nschema: t\nkey: k\nfields:\n  k: string\n"
	              "  arpu_m0: int\n  arpu: {type: money, series: true}\n  arpu_m5: bool\n",
	              CP_EINVAL,
	              "t.yaml:6:3: error: field 'arpu_m0' has the CSV column name of month 0 of "
	              "series field 'arpu'\n"
	              "t.yaml:8:3: error: field 'arpu_m5' has the CSV column name of month 5 of "
	              "series field 'arpu'\n");
}
END_TEST

/* ---- introspection ---- */

START_TEST(test_introspection_out_of_range)
{
	cp_schema *s = tu_schema();
	int n = cp_schema_field_count(s);
	ck_assert_int_eq(n, 17);
	int brand = field(s, "brand");
	const int bad[] = {-1, n, 1 << 30};
	for (size_t k = 0; k < 3; k++) {
		int i = bad[k];
		ck_assert_ptr_null(cp_schema_field_name(s, i));
		ck_assert_ptr_null(cp_schema_field_label(s, i));
		ck_assert_int_eq(cp_schema_field_type(s, i), CP_EINVAL);
		ck_assert_int_eq(cp_schema_field_is_series(s, i), 0);
		ck_assert_int_eq(cp_schema_field_months(s, i), 0);
		ck_assert_int_eq(cp_schema_field_is_closed(s, i), 0);
		ck_assert_int_eq(cp_schema_field_max_items(s, i), 0);
		ck_assert_ptr_null(cp_schema_field_normalize(s, i));
		ck_assert_int_eq(cp_schema_field_is_personal(s, i), 0);
		ck_assert_ptr_null(cp_schema_field_description(s, i));
		ck_assert_int_eq(cp_schema_field_value_count(s, i), 0);
		ck_assert_ptr_null(cp_schema_field_value(s, i, 0));
		ck_assert_ptr_null(cp_schema_field_value_label(s, i, 0));
		/* value index out of range on a valid field */
		ck_assert_ptr_null(cp_schema_field_value(s, brand, i < 0 ? i : 3));
		ck_assert_ptr_null(cp_schema_field_value_label(s, brand, i < 0 ? i : 3));
	}
	ck_assert_int_eq(cp_schema_field_index(s, "nosuch"), CP_ENOTFOUND);
	ck_assert_int_eq(cp_schema_field_index(s, ""), CP_ENOTFOUND);
	ck_assert_int_eq(cp_schema_field_index(s, NULL), CP_EINVAL);
	/* a value count on a non-enum field is 0 */
	ck_assert_int_eq(cp_schema_field_value_count(s, field(s, "age")), 0);

	/* a NULL schema */
	ck_assert_ptr_null(cp_schema_name(NULL));
	ck_assert_int_eq(cp_schema_months(NULL), 0);
	ck_assert_int_eq(cp_schema_field_count(NULL), 0);
	ck_assert_int_eq(cp_schema_key_field(NULL), CP_EINVAL);
	ck_assert_int_eq(cp_schema_field_index(NULL, "msisdn"), CP_EINVAL);
	ck_assert_ptr_null(cp_schema_field_name(NULL, 0));
	ck_assert_ptr_null(cp_schema_field_label(NULL, 0));
	ck_assert_int_eq(cp_schema_field_type(NULL, 0), CP_EINVAL);
	ck_assert_int_eq(cp_schema_field_is_series(NULL, 0), 0);
	ck_assert_int_eq(cp_schema_field_months(NULL, 0), 0);
	ck_assert_int_eq(cp_schema_field_is_closed(NULL, 0), 0);
	ck_assert_int_eq(cp_schema_field_max_items(NULL, 0), 0);
	ck_assert_ptr_null(cp_schema_field_normalize(NULL, 0));
	ck_assert_int_eq(cp_schema_field_is_personal(NULL, 0), 0);
	ck_assert_ptr_null(cp_schema_field_description(NULL, 0));
	ck_assert_int_eq(cp_schema_field_value_count(NULL, 0), 0);
	ck_assert_ptr_null(cp_schema_field_value(NULL, 0, 0));
	ck_assert_ptr_null(cp_schema_field_value_label(NULL, 0, 0));
	/* a schema built without YAML has no source */
	size_t len = 7;
	ck_assert_ptr_null(cp_schema_source(s, &len));
	ck_assert_uint_eq(len, 0);
	cp_schema_free(s);
	cp_schema_free(NULL);
}
END_TEST

START_TEST(test_type_names)
{
	static const char *const names[] = {"bool", "int", "float", "money", "string",
	                                    "enum", "set", "list", "date"};
	for (int t = CP_TYPE_BOOL; t <= CP_TYPE_DATE; t++)
		ck_assert_str_eq(cp_type_name(t), names[t - 1]);
	ck_assert_ptr_null(cp_type_name(0));
	ck_assert_ptr_null(cp_type_name(10));
	ck_assert_ptr_null(cp_type_name(-3));
}
END_TEST

/* ---- the default schema ---- */

START_TEST(test_default_schema)
{
	cp_schema *s;
	ck_assert_int_eq(cp_schema_default(&s), CP_OK);
	ck_assert_str_eq(cp_schema_name(s), "cmcc-default");
	ck_assert_int_eq(cp_schema_months(s), 6);
	ck_assert_int_eq(cp_schema_field_count(s), 78);
	int key = cp_schema_key_field(s);
	ck_assert_int_eq(key, field(s, "msisdn"));
	ck_assert_int_eq(cp_schema_field_type(s, key), CP_TYPE_STRING);
	ck_assert_str_eq(cp_schema_field_normalize(s, key), "msisdn-cn");
	ck_assert_str_eq(cp_schema_field_label(s, key), "号码");

	int f = field(s, "brand");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_ENUM);
	ck_assert_int_eq(cp_schema_field_is_closed(s, f), 1);
	ck_assert_int_eq(cp_schema_field_value_count(s, f), 3);
	ck_assert_str_eq(cp_schema_field_value(s, f, 0), "gotone");
	ck_assert_str_eq(cp_schema_field_value_label(s, f, 0), "全球通");
	ck_assert_str_eq(cp_schema_field_value_label(s, f, 2), "动感地带");
	f = field(s, "gender");
	ck_assert_str_eq(cp_schema_field_value(s, f, 0), "M");
	ck_assert_str_eq(cp_schema_field_value_label(s, f, 1), "女");
	f = field(s, "info_preference");
	ck_assert_int_eq(cp_schema_field_is_closed(s, f), 0);
	ck_assert_int_eq(cp_schema_field_value_count(s, f), 5);
	f = field(s, "persona");
	ck_assert_int_eq(cp_schema_field_is_closed(s, f), 0);
	ck_assert_int_eq(cp_schema_field_value_count(s, f), 0);
	ck_assert_str_eq(cp_schema_field_description(s, f), "经分系统聚类得到的人群分类");
	f = field(s, "arpu");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_MONEY);
	ck_assert_int_eq(cp_schema_field_is_series(s, f), 1);
	ck_assert_int_eq(cp_schema_field_months(s, f), 6);
	f = field(s, "gprs_mb");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_FLOAT);
	ck_assert_str_eq(cp_schema_field_label(s, f), "GPRS流量(MB)");
	f = field(s, "crbt_subscribed");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_BOOL);
	ck_assert_int_eq(cp_schema_field_is_series(s, f), 1);
	f = field(s, "fav_content_types");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_LIST);
	ck_assert_int_eq(cp_schema_field_max_items(s, f), 3);
	f = field(s, "join_date");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_DATE);
	ck_assert_int_eq(cp_schema_field_months(s, f), 1);
	f = field(s, "addon_plans");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_SET);
	f = field(s, "churn_score");
	ck_assert_int_eq(cp_schema_field_type(s, f), CP_TYPE_FLOAT);

	int personal = 0, series = 0;
	for (int i = 0; i < 78; i++) {
		personal += cp_schema_field_is_personal(s, i);
		series += cp_schema_field_is_series(s, i);
	}
	ck_assert_int_eq(personal, 2); /* name, fetion_client_ip */
	ck_assert_int_eq(cp_schema_field_is_personal(s, field(s, "name")), 1);
	ck_assert_int_eq(cp_schema_field_is_personal(s, field(s, "fetion_client_ip")), 1);
	ck_assert_int_eq(series, 34);

	/* the source is the shipped file, byte for byte */
	char path[4096];
	snprintf(path, sizeof(path), "%s/data/schema/cmcc-default.yaml", srcdir());
	size_t flen;
	char *file = tu_read_file(path, &flen);
	ck_assert_ptr_nonnull(file);
	size_t len;
	const char *src = cp_schema_source(s, &len);
	ck_assert_uint_eq(len, flen);
	ck_assert_mem_eq(src, file, len);
	ck_assert_uint_eq(cp__builtin_schema.len, flen);
	free(file);

	/* and loading the file gives the same schema */
	cp_schema *t;
	ck_assert_int_eq(cp_schema_load_file(&t, path, NULL), CP_OK);
	ck_assert_int_eq(cp_schema_field_count(t), 78);
	ck_assert_uint_eq(t->row_size, s->row_size);
	for (int i = 0; i < 78; i++) {
		ck_assert_str_eq(cp_schema_field_name(t, i), cp_schema_field_name(s, i));
		ck_assert_uint_eq(t->fields[i].offset, s->fields[i].offset);
	}
	cp_schema_free(t);
	cp_schema_free(s);
	ck_assert_int_eq(cp_schema_default(NULL), CP_EINVAL);
}
END_TEST

START_TEST(test_refcount)
{
	cp_schema *s = load_ok(full_yaml);
	ck_assert_ptr_eq(cp__schema_ref(s), s);
	ck_assert_ptr_eq(cp__schema_ref(s), s);
	ck_assert_int_eq(s->refs, 3);
	cp_schema_free(s);
	cp_schema_free(s);
	/* one reference left: still whole */
	ck_assert_int_eq(s->refs, 1);
	ck_assert_str_eq(cp_schema_name(s), "测试画像");
	ck_assert_str_eq(cp_schema_field_label(s, 6), "品牌");
	cp_schema_free(s); /* valgrind: everything freed, exactly once */
	ck_assert_ptr_null(cp__schema_ref(NULL));
}
END_TEST

/* ---- files and arguments ---- */

START_TEST(test_load_file)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "s.yaml"));
	tu_write_file(path, full_yaml, strlen(full_yaml));
	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	cp_schema *s;
	ck_assert_int_eq(cp_schema_load_file(&s, path, d), CP_OK);
	ck_assert_uint_eq(cp_diag_count(d), 0);
	size_t len;
	ck_assert_str_eq(cp_schema_source(s, &len), full_yaml);
	ck_assert_uint_eq(len, strlen(full_yaml));
	cp_schema_free(s);

	/* diagnostics name the file */
	static const char bad[] = "custprof: 1\nschema: t\nkey: k\nfields: {k: strng}\n";
	tu_write_file(path, bad, strlen(bad));
	ck_assert_int_eq(cp_schema_load_file(&s, path, d), CP_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(cp_diag_count(d), 1);
	ck_assert_str_eq(cp_diag_file(d, 0), path);
	ck_assert_uint_eq(cp_diag_line(d, 0), 4);
	ck_assert_uint_eq(cp_diag_column(d, 0), 13);
	ck_assert_str_eq(cp_diag_message(d, 0),
	                 "unknown type 'strng' for field 'k' (did you mean 'string'?)");

	/* a missing file */
	char msg[8192];
	cp_diag_clear(d);
	snprintf(path, sizeof(path), "%s", tu_path(dir, "missing.yaml"));
	s = (cp_schema *)d;
	ck_assert_int_eq(cp_schema_load_file(&s, path, d), CP_EIO);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(cp_diag_count(d), 1);
	ck_assert_str_eq(cp_diag_file(d, 0), path);
	ck_assert_uint_eq(cp_diag_line(d, 0), 0);
	snprintf(msg, sizeof(msg), "cannot open schema file '%s': %s", path, strerror(ENOENT));
	ck_assert_str_eq(cp_diag_message(d, 0), msg);
	ck_assert_int_eq(cp_schema_load_file(&s, path, NULL), CP_EIO);

	/* a directory opens but cannot be read */
	cp_diag_clear(d);
	ck_assert_int_eq(cp_schema_load_file(&s, dir, d), CP_EIO);
	ck_assert_ptr_null(s);
	snprintf(msg, sizeof(msg), "cannot read schema file '%s': %s", dir, strerror(EISDIR));
	ck_assert_str_eq(cp_diag_message(d, 0), msg);

	/* arguments */
	ck_assert_int_eq(cp_schema_load_file(NULL, path, d), CP_EINVAL);
	ck_assert_int_eq(cp_schema_load_file(&s, NULL, d), CP_EINVAL);
	ck_assert_ptr_null(s);
	cp_diag_free(d);
	tu_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_load_memory_arguments)
{
	cp_schema *s = (cp_schema *)&s;
	ck_assert_int_eq(cp_schema_load_memory(&s, NULL, 3, "x", NULL), CP_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(cp_schema_load_memory(NULL, "a: 1", 4, "x", NULL), CP_EINVAL);
	/* NULL with length 0 is an empty text */
	expect_errors_len(NULL, 0, CP_EINVAL, "t.yaml: error: the schema file is empty\n");
	/* only len bytes are read: the rest of the buffer is not YAML */
	static const char yaml[] = "custprof: 1\nschema: t\nkey: k\nfields: {k: string}\n@@@";
	s = NULL;
	ck_assert_int_eq(cp_schema_load_memory(&s, yaml, sizeof(yaml) - 4, NULL, NULL), CP_OK);
	ck_assert_uint_eq(s->source_len, sizeof(yaml) - 4);
	cp_schema_free(s);
	/* no diag: the status still tells */
	ck_assert_int_eq(cp_schema_load_memory(&s, "custprof: 9\n", 12, NULL, NULL), CP_EVERSION);
	ck_assert_ptr_null(s);
	/* no name: entries have no file, but keep their position */
	cp_diag *d;
	cp_diag_new(&d);
	ck_assert_int_eq(cp_schema_load_memory(&s, "custprof: 9\n", 12, NULL, d), CP_EVERSION);
	ck_assert_str_eq(cp_diag_file(d, 0), "");
	ck_assert_uint_eq(cp_diag_line(d, 0), 1);
	ck_assert_uint_eq(cp_diag_column(d, 0), 11);
	ck_assert_str_eq(cp_diag_format(d, 0),
	                 "error: unsupported schema format version '9' (this library reads "
	                 "version 1)");
	cp_diag_free(d);
}
END_TEST

/* ---- the catalogue of broken schemas: one problem each ---- */

#define H "custprof: 1\nschema: t\nkey: k\nfields:\n  k: string\n" /* fields from line 6 */

typedef struct bad_case {
	const char *yaml;
	int status;
	const char *diags;
} bad_case;

static const bad_case bad_cases[] = {
	/* types */
	{H "  a: strng\n", CP_EINVAL,
	 "t.yaml:6:6: error: unknown type 'strng' for field 'a' (did you mean 'string'?)\n"},
	{H "  a: {type: flaot}\n", CP_EINVAL,
	 "t.yaml:6:13: error: unknown type 'flaot' for field 'a' (did you mean 'float'?)\n"},
	{H "  a: integer\n", CP_EINVAL,
	 "t.yaml:6:6: error: unknown type 'integer' for field 'a' (did you mean 'int'?)\n"},
	{H "  a: varchar\n", CP_EINVAL,
	 "t.yaml:6:6: error: unknown type 'varchar' for field 'a'\n"},
	{H "  a: {type: [int]}\n", CP_EINVAL,
	 "t.yaml:6:13: error: 'type' of field 'a' must be a single value, not a list\n"},
	{H "  a: {label: A}\n", CP_EINVAL, "t.yaml:6:3: error: field 'a' has no 'type'\n"},
	{H "  a:\n", CP_EINVAL, "t.yaml:6:3: error: field 'a' has no type\n"},
	{H "  a: ~\n", CP_EINVAL, "t.yaml:6:3: error: field 'a' has no type\n"},
	{H "  a: [int]\n", CP_EINVAL,
	 "t.yaml:6:6: error: field 'a' must be a type name or a mapping of attributes, not a "
	 "list\n"},
	/* field keys */
	{H "  a: {type: int, lable: x}\n", CP_EINVAL,
	 "t.yaml:6:18: error: unknown key 'lable' in field 'a' (did you mean 'label'?)\n"},
	{H "  a: {type: int, colour: red}\n", CP_EINVAL,
	 "t.yaml:6:18: error: unknown key 'colour' in field 'a'\n"},
	{H "  a: {type: int, type: float}\n", CP_EINVAL,
	 "t.yaml:6:18: error: duplicate key 'type' (first at line 6, column 7)\n"},
	{H "  a: {type: int, [x]: 1}\n", CP_EINVAL,
	 "t.yaml:6:18: error: a key must be a single value, not a list\n"},
	/* attributes on the wrong type */
	{H "  a: {type: int, values: [x]}\n", CP_EINVAL,
	 "t.yaml:6:18: error: 'values' applies to enum fields only, and field 'a' is an int\n"},
	{H "  a: {type: set, open: true}\n", CP_EINVAL,
	 "t.yaml:6:18: error: 'open' applies to enum fields only, and field 'a' is a set\n"},
	{H "  a: {type: string, max: 3}\n", CP_EINVAL,
	 "t.yaml:6:21: error: 'max' applies to list fields only, and field 'a' is a string\n"},
	{H "  a: {type: enum, normalize: msisdn-cn}\n", CP_EINVAL,
	 "t.yaml:6:19: error: 'normalize' applies to string fields only, and field 'a' is an "
	 "enum\n"},
	/* booleans */
	{H "  a: {type: bool, series: yes}\n", CP_EINVAL,
	 "t.yaml:6:27: error: 'series' of field 'a' must be true or false, not 'yes'\n"},
	{H "  a: {type: int, personal: 1}\n", CP_EINVAL,
	 "t.yaml:6:28: error: 'personal' of field 'a' must be true or false, not '1'\n"},
	{H "  a: {type: int, series: \"true\"}\n", CP_EINVAL,
	 "t.yaml:6:26: error: 'series' of field 'a' must be true or false, not 'true' (write "
	 "it without quotes)\n"},
	{H "  a: {type: enum, open: [true]}\n", CP_EINVAL,
	 "t.yaml:6:25: error: 'open' of field 'a' must be a single value, not a list\n"},
	{H "  a: {type: int, series: }\n", CP_EINVAL,
	 "t.yaml:6:18: error: 'series' of field 'a' has no value\n"},
	/* max */
	{H "  a: {type: list, max: 0}\n", CP_EINVAL,
	 "t.yaml:6:24: error: 'max' of field 'a' must be a positive integer, not '0'\n"},
	{H "  a: {type: list, max: -2}\n", CP_EINVAL,
	 "t.yaml:6:24: error: 'max' of field 'a' must be a positive integer, not '-2'\n"},
	{H "  a: {type: list, max: 2.5}\n", CP_EINVAL,
	 "t.yaml:6:24: error: 'max' of field 'a' must be a positive integer, not '2.5'\n"},
	{H "  a: {type: list, max: 99999999999}\n", CP_EINVAL,
	 "t.yaml:6:24: error: 'max' of field 'a' must be a positive integer, not "
	 "'99999999999'\n"},
	{H "  a: {type: list, max: '3'}\n", CP_EINVAL,
	 "t.yaml:6:24: error: 'max' of field 'a' must be a positive integer, not '3' (write it "
	 "without quotes)\n"},
	/* normalize */
	{H "  a: {type: string, normalize: msisdn}\n", CP_EINVAL,
	 "t.yaml:6:32: error: unknown normalization 'msisdn' (the only one is 'msisdn-cn')\n"},
	{H "  a: {type: string, normalize: msisdn_cn}\n", CP_EINVAL,
	 "t.yaml:6:32: error: unknown normalization 'msisdn_cn' (the only one is 'msisdn-cn') "
	 "(did you mean 'msisdn-cn'?)\n"},
	/* enum values */
	{H "  a: {type: enum, values: [x, y, x]}\n", CP_EINVAL,
	 "t.yaml:6:34: error: value 'x' of field 'a' is listed twice (first at line 6, column "
	 "28)\n"},
	{H "  a:\n    type: enum\n    values: {x: X, y: Y}\n  b:\n    type: enum\n"
	   "    values:\n      x: X\n      y: Y\n      x: Z\n", CP_EINVAL,
	 "t.yaml:14:7: error: value 'x' of field 'b' is listed twice (first at line 12, column "
	 "7)\n"},
	{H "  a: {type: enum, values: [x, '', ~]}\n", CP_EINVAL,
	 "t.yaml:6:31: error: field 'a' lists an empty value\n"
	 "t.yaml:6:35: error: field 'a' lists an empty value\n"},
	{H "  a: {type: enum, values: [x, {y: z}]}\n", CP_EINVAL,
	 "t.yaml:6:31: error: a value of field 'a' must be a string, not a mapping\n"},
	{H "  a: {type: enum, values: []}\n", CP_EINVAL,
	 "t.yaml:6:27: error: 'values' of field 'a' must be a non-empty list of values or a "
	 "mapping of values to labels\n"},
	{H "  a: {type: enum, values: x}\n", CP_EINVAL,
	 "t.yaml:6:27: error: 'values' of field 'a' must be a non-empty list of values or a "
	 "mapping of values to labels\n"},
	{H "  a: {type: enum, values: }\n", CP_EINVAL,
	 "t.yaml:6:19: error: 'values' of field 'a' must be a non-empty list of values or a "
	 "mapping of values to labels\n"},
	{H "  a: {type: enum, values: {~: x}}\n", CP_EINVAL,
	 "t.yaml:6:28: error: field 'a' lists an empty value\n"},
	{H "  a: {type: enum, values: {x: [1]}}\n", CP_EINVAL,
	 "t.yaml:6:31: error: the label of value 'x' of field 'a' must be a single value, not "
	 "a list\n"},
	{H "  a: {type: enum, values: {x: ''}}\n", CP_EINVAL,
	 "t.yaml:6:31: error: the label of value 'x' of field 'a' is empty\n"},
	{H "  a: {type: enum, open: false}\n", CP_EINVAL,
	 "t.yaml:6:19: error: field 'a' is a closed enum ('open: false') but lists no "
	 "'values'\n"},
	/* labels and descriptions */
	{H "  a: {type: int, label: ''}\n", CP_EINVAL,
	 "t.yaml:6:25: error: 'label' of field 'a' is empty\n"},
	{H "  a: {type: int, label: }\n", CP_EINVAL,
	 "t.yaml:6:18: error: 'label' of field 'a' has no value\n"},
	{H "  a: {type: int, label: {x: y}}\n", CP_EINVAL,
	 "t.yaml:6:25: error: 'label' of field 'a' must be a single value, not a mapping\n"},
	{H "  a: {type: int, description: [x]}\n", CP_EINVAL,
	 "t.yaml:6:31: error: 'description' of field 'a' must be a single value, not a list\n"},
	/* field names */
	{H "  a: int\n  a: float\n", CP_EINVAL,
	 "t.yaml:7:3: error: field 'a' is defined twice (first at line 6, column 3)\n"},
	{H "  Age: int\n", CP_EINVAL,
	 "t.yaml:6:3: error: field name 'Age' is not valid: use a-z, 0-9 and '_', starting "
	 "with a letter or '_' (did you mean 'age'?)\n"},
	{H "  1a: int\n", CP_EINVAL,
	 "t.yaml:6:3: error: field name '1a' is not valid: use a-z, 0-9 and '_', starting "
	 "with a letter or '_'\n"},
	{H "  a-b: int\n", CP_EINVAL,
	 "t.yaml:6:3: error: field name 'a-b' is not valid: use a-z, 0-9 and '_', starting "
	 "with a letter or '_'\n"},
	{H "  号码: string\n", CP_EINVAL,
	 "t.yaml:6:3: error: field name '号码' is not valid: use a-z, 0-9 and '_', starting "
	 "with a letter or '_'\n"},
	{H "  '': int\n", CP_EINVAL, "t.yaml:6:3: error: a field name is empty\n"},
	{H "  ~: int\n", CP_EINVAL,
	 "t.yaml:6:3: error: field name '~' is not valid: use a-z, 0-9 and '_', starting with "
	 "a letter or '_'\n"},
	{H "  NULL: int\n", CP_EINVAL, /* no suggestion of a keyword */
	 "t.yaml:6:3: error: field name 'NULL' is not valid: use a-z, 0-9 and '_', starting "
	 "with a letter or '_'\n"},
	{H "  ? [a, b]\n  : int\n", CP_EINVAL,
	 "t.yaml:6:5: error: a key must be a single value, not a list\n"},
	/* anchors, aliases, tags */
	{H "  a: &x int\n", CP_EINVAL, "t.yaml:6:6: error: YAML anchors ('&x') are not supported\n"},
	{H "  a: &x int\n  b: *x\n", CP_EINVAL,
	 "t.yaml:6:6: error: YAML anchors ('&x') are not supported\n"
	 "t.yaml:7:6: error: YAML aliases ('*x') are not supported: write the value out\n"},
	{H "  a: !!str int\n", CP_EINVAL,
	 "t.yaml:6:6: error: YAML tags ('tag:yaml.org,2002:str') are not supported\n"},
	{H "  a: !custom {type: int}\n", CP_EINVAL,
	 "t.yaml:6:6: error: YAML tags ('!custom') are not supported\n"},
	/* a NUL character written as an escape */
	{H "  a: {type: int, label: \"x\\0y\"}\n", CP_EINVAL,
	 "t.yaml:6:25: error: a NUL character is not allowed in a value\n"},

	/* the top level */
	{"schema: t\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:1:1: error: missing 'custprof' (the format version, 'custprof: 1')\n"},
	{"custprof: 2\nschema: t\nkey: k\nfields: {k: string}\n", CP_EVERSION,
	 "t.yaml:1:11: error: unsupported schema format version '2' (this library reads "
	 "version 1)\n"},
	{"custprof: 0\nnonsense: [\n]\n", CP_EVERSION,
	 "t.yaml:1:11: error: unsupported schema format version '0' (this library reads "
	 "version 1)\n"},
	{"custprof: one\nschema: t\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:1:11: error: 'custprof' must be the format version 1, not 'one'\n"},
	{"custprof: '1'\nschema: t\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:1:11: error: 'custprof' must be the format version 1, not '1' (write it "
	 "without quotes)\n"},
	{"custprof:\nschema: t\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:1:1: error: 'custprof' has no value\n"},
	{"custprof: 1\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:1:1: error: missing 'schema' (the schema's name)\n"},
	{"custprof: 1\nschema:\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:2:1: error: 'schema' has no value\n"},
	{"custprof: 1\nschema: {a: b}\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:2:9: error: 'schema' must be a single value, not a mapping\n"},
	{"custprof: 1\nschema: t\ndescription: [x]\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:3:14: error: 'description' must be a single value, not a list\n"},
	{"custprof: 1\nschema: t\nmonths: 0\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:3:9: error: 'months' must be an integer between 1 and 36, not '0'\n"},
	{"custprof: 1\nschema: t\nmonths: 37\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:3:9: error: 'months' must be an integer between 1 and 36, not '37'\n"},
	{"custprof: 1\nschema: t\nmonths: six\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:3:9: error: 'months' must be an integer between 1 and 36, not 'six'\n"},
	{"custprof: 1\nschema: t\nmonths: \"6\"\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:3:9: error: 'months' must be an integer between 1 and 36, not '6' (write it "
	 "without quotes)\n"},
	{"custprof: 1\nschema: t\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:1:1: error: missing 'key' (the name of the key field)\n"},
	{"custprof: 1\nschema: t\nkey: [k]\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:3:6: error: 'key' must be a single value, not a list\n"},
	{"custprof: 1\nschema: t\nkey: msisd\nfields: {msisdn: string}\n", CP_EINVAL,
	 "t.yaml:3:6: error: key field 'msisd' is not defined in 'fields' (did you mean "
	 "'msisdn'?)\n"},
	{"custprof: 1\nschema: t\nkey: phone\nfields: {msisdn: string}\n", CP_EINVAL,
	 "t.yaml:3:6: error: key field 'phone' is not defined in 'fields'\n"},
	{"custprof: 1\nschema: t\nkey: age\nfields:\n  age: int\n", CP_EINVAL,
	 "t.yaml:3:6: error: key field 'age' must be a scalar string field, not int (defined "
	 "at line 5)\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields:\n  k: {type: string, series: true}\n",
	 CP_EINVAL,
	 "t.yaml:3:6: error: key field 'k' must be a scalar string field, not a series of "
	 "string (defined at line 5)\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields:\n  k: {type: enum, values: [a]}\n", CP_EINVAL,
	 "t.yaml:3:6: error: key field 'k' must be a scalar string field, not enum (defined "
	 "at line 5)\n"},
	/* the key field has its own error: no second one about the key */
	{"custprof: 1\nschema: t\nkey: k\nfields: {k: strin}\n", CP_EINVAL,
	 "t.yaml:4:13: error: unknown type 'strin' for field 'k' (did you mean 'string'?)\n"},
	{"custprof: 1\nschema: t\nkey: k\nfeilds: {k: string}\n", CP_EINVAL,
	 "t.yaml:1:1: error: missing 'fields' (the field definitions)\n"
	 "t.yaml:4:1: error: unknown key 'feilds' (did you mean 'fields'?)\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields: {k: string}\ncolour: red\n", CP_EINVAL,
	 "t.yaml:5:1: error: unknown key 'colour'\n"},
	{"custprof: 1\nschema: t\nschema: u\nkey: k\nfields: {k: string}\n", CP_EINVAL,
	 "t.yaml:3:1: error: duplicate key 'schema' (first at line 2, column 1)\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields: []\n", CP_EINVAL,
	 "t.yaml:4:9: error: 'fields' must be a non-empty mapping of field names to "
	 "definitions\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields: {}\n", CP_EINVAL,
	 "t.yaml:4:9: error: 'fields' must be a non-empty mapping of field names to "
	 "definitions\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields:\n", CP_EINVAL,
	 "t.yaml:4:1: error: 'fields' must be a non-empty mapping of field names to "
	 "definitions\n"},
	/* the document */
	{"", CP_EINVAL, "t.yaml: error: the schema file is empty\n"},
	{"# nothing but a comment\n", CP_EINVAL, "t.yaml: error: the schema file is empty\n"},
	{"just text\n", CP_EINVAL,
	 "t.yaml:1:1: error: the top level must be a mapping (custprof, schema, key, fields, "
	 "...), not a single value\n"},
	{"- custprof: 1\n", CP_EINVAL,
	 "t.yaml:1:1: error: the top level must be a mapping (custprof, schema, key, fields, "
	 "...), not a list\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields: {k: string}\n---\ncustprof: 1\n", CP_EINVAL,
	 "t.yaml:5:1: error: a schema file holds one YAML document, not several\n"},
	/* YAML syntax: the first error stops the load */
	{"custprof: 1\nschema: t\nkey: k\nfields:\n  k: string\n   a: int\n  b: strng\n",
	 CP_ESYNTAX,
	 "t.yaml:6:5: error: YAML syntax error: mapping values are not allowed in this "
	 "context\n"},
	{"custprof: 1\nschema: t\nkey: k\nfields:\n\tk: string\n", CP_ESYNTAX,
	 "t.yaml:5:1: error: YAML syntax error: found character that cannot start any token "
	 "(while scanning for the next token)\n"},
	{"custprof: 1\nschema: \"t\nkey: k\n", CP_ESYNTAX,
	 "t.yaml:4:1: error: YAML syntax error: found unexpected end of stream (while scanning "
	 "a quoted scalar at line 2, column 9)\n"},
	{"custprof: 1\nfields: {a: int\n", CP_ESYNTAX,
	 "t.yaml:3:1: error: YAML syntax error: did not find expected ',' or '}' (while "
	 "parsing a flow mapping at line 2, column 9)\n"},
	/* text that is not UTF-8 */
	{"custprof: 1\nschema: t\xFF\n", CP_ESYNTAX,
	 "t.yaml:2:10: error: invalid UTF-8 (invalid leading UTF-8 octet)\n"},
	{"custprof: 1\nschema: 号\xC0\xAF\n", CP_ESYNTAX,
	 "t.yaml:2:10: error: invalid UTF-8 (invalid length of a UTF-8 sequence)\n"},
	{"custprof: 1\nschema: \xED\xA0\x80\n", CP_ESYNTAX,
	 "t.yaml:2:9: error: invalid UTF-8 (invalid Unicode character)\n"},
	{"custprof: 1\nschema: 号\xE5", CP_ESYNTAX,
	 "t.yaml:2:10: error: invalid UTF-8 (incomplete UTF-8 octet sequence)\n"},
	{"\xFF\xFE" "c\0u\0", CP_ESYNTAX,
	 "t.yaml:1:1: error: invalid UTF-8 (invalid leading UTF-8 octet)\n"},
	{"\xEF\xBB\xBF" "custprof: 1\nschema: \xFF\n", CP_ESYNTAX,
	 "t.yaml:2:9: error: invalid UTF-8 (invalid leading UTF-8 octet)\n"},
	{"custprof: 1\nschema: t\x01\n", CP_ESYNTAX,
	 "t.yaml:2:10: error: control characters are not allowed (byte 0x01)\n"},
	/* a limit: nesting */
	{"x: [[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]\n", CP_ELIMIT,
	 "t.yaml:1:19: error: YAML nesting is too deep (at most 16 levels)\n"},
};

START_TEST(test_broken_schema)
{
	const bad_case *c = &bad_cases[_i];
	expect_errors(c->yaml, c->status, c->diags);
}
END_TEST

START_TEST(test_keywords_are_not_field_names)
{
	static const char *const words[] = {"and", "or", "not", "in", "between",
	                                    "true", "false", "null"};
	char yaml[256], expected[256];
	for (size_t i = 0; i < 8; i++) {
		snprintf(yaml, sizeof(yaml), H "  %s: int\n", words[i]);
		snprintf(expected, sizeof(expected),
		         "t.yaml:6:3: error: field name '%s' is a keyword of the rule language\n",
		         words[i]);
		expect_errors(yaml, CP_EINVAL, expected);
	}
	/* a keyword with more letters is a name */
	cp_schema *s = load_ok(H "  notes: string\n  android: bool\n  _in: int\n");
	cp_schema_free(s);
}
END_TEST

START_TEST(test_nul_byte_in_text)
{
	static const char yaml[] = "custprof: 1\nschema: t\0x\n";
	expect_errors_len(yaml, sizeof(yaml) - 1, CP_ESYNTAX,
	                  "t.yaml:2:10: error: control characters are not allowed (byte 0x00)\n");
}
END_TEST

START_TEST(test_alias_expansion_is_refused)
{
	/* the start of a "billion laughs": every anchor and alias is an error */
	expect_errors("custprof: 1\nschema: t\nkey: k\nfields: {k: string}\n"
	              "a: &a [lol, lol]\nb: &b [*a, *a]\nc: [*b, *b]\n",
	              CP_EINVAL,
	              "t.yaml:5:1: error: unknown key 'a'\n"
	              "t.yaml:5:4: error: YAML anchors ('&a') are not supported\n"
	              "t.yaml:6:1: error: unknown key 'b'\n"
	              "t.yaml:6:4: error: YAML anchors ('&b') are not supported\n"
	              "t.yaml:6:8: error: YAML aliases ('*a') are not supported: write the value "
	              "out\n"
	              "t.yaml:6:12: error: YAML aliases ('*a') are not supported: write the value "
	              "out\n"
	              "t.yaml:7:1: error: unknown key 'c'\n"
	              "t.yaml:7:5: error: YAML aliases ('*b') are not supported: write the value "
	              "out\n"
	              "t.yaml:7:9: error: YAML aliases ('*b') are not supported: write the value "
	              "out\n");
}
END_TEST

/* ---- several problems in one file: golden files ---- */

static void check_golden(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/schema/%s.yaml", srcdir(), name);
	size_t len;
	char *yaml = tu_read_file(path, &len);
	ck_assert_msg(yaml != NULL, "cannot read %s", path);
	snprintf(path, sizeof(path), "%s/tests/data/schema/%s.expected", srcdir(), name);
	char *expected = tu_read_file(path, NULL);
	ck_assert_msg(expected != NULL, "cannot read %s", path);

	cp_diag *d;
	ck_assert_int_eq(cp_diag_new(&d), CP_OK);
	char file[256];
	snprintf(file, sizeof(file), "%s.yaml", name);
	cp_schema *s;
	int rc = cp_schema_load_memory(&s, yaml, len, file, d);
	ck_assert_ptr_null(s);
	/* first line: the status name; then every diagnostic */
	const char *status = cp_strerror(rc);
	snprintf(diag_text, sizeof(diag_text), "%.*s\n", (int)strcspn(status, ":"), status);
	size_t n = strlen(diag_text);
	for (size_t i = 0; i < cp_diag_count(d); i++)
		n += (size_t)snprintf(diag_text + n, sizeof(diag_text) - n, "%s\n",
		                      cp_diag_format(d, i));
	ck_assert_str_eq(diag_text, expected);
	cp_diag_free(d);
	free(yaml);
	free(expected);
}

START_TEST(test_golden_many_field_errors)
{
	check_golden("many-field-errors");
}
END_TEST

START_TEST(test_golden_many_top_errors)
{
	check_golden("many-top-errors");
}
END_TEST

/* ---- limits ---- */

static char *fields_yaml(int nfields)
{
	size_t size = 64 + (size_t)nfields * 16;
	char *y = malloc(size);
	ck_assert_ptr_nonnull(y);
	size_t n = (size_t)snprintf(y, size, H);
	for (int i = 1; i < nfields; i++)
		n += (size_t)snprintf(y + n, size - n, "  f%d: int\n", i);
	return y;
}

START_TEST(test_limit_fields)
{
	char *y = fields_yaml(CP_MAX_FIELDS);
	cp_schema *s = load_ok(y);
	ck_assert_int_eq(cp_schema_field_count(s), CP_MAX_FIELDS);
	ck_assert_int_eq(cp_schema_field_index(s, "f4095"), 4095);
	cp_schema_free(s);
	free(y);
	/* one more: reported once, at the field that does not fit */
	y = fields_yaml(CP_MAX_FIELDS + 2);
	expect_errors(y, CP_ELIMIT, "t.yaml:4101:3: error: too many fields (at most 4096)\n");
	free(y);
}
END_TEST

START_TEST(test_limit_lengths)
{
	char yaml[8192], name[128], text[5000];
	/* field names: 64 bytes */
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(yaml, sizeof(yaml), H "  %s: int\n", name);
	cp_schema_free(load_ok(yaml));
	snprintf(yaml, sizeof(yaml), H "  %sn: int\n", name);
	expect_errors(yaml, CP_ELIMIT,
	              "t.yaml:6:3: error: field name "
	              "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is too "
	              "long (65 bytes; at most 64)\n");
	/* labels: 256 bytes (85 characters of 3 bytes fit, 86 do not) */
	text[0] = '\0';
	for (int i = 0; i < 85; i++)
		strcat(text, "号");
	snprintf(yaml, sizeof(yaml), H "  a: {type: int, label: %s}\n", text);
	cp_schema *s = load_ok(yaml);
	ck_assert_str_eq(cp_schema_field_label(s, 1), text);
	cp_schema_free(s);
	snprintf(yaml, sizeof(yaml), H "  a: {type: int, label: %s号}\n", text);
	expect_errors(yaml, CP_ELIMIT,
	              "t.yaml:6:25: error: 'label' of field 'a' is too long (258 bytes; at most "
	              "256)\n");
	/* enum values and the schema name: 256 bytes too */
	snprintf(yaml, sizeof(yaml), H "  a: {type: enum, values: [%s号]}\n", text);
	expect_errors(yaml, CP_ELIMIT,
	              "t.yaml:6:28: error: a value of field 'a' is too long (258 bytes; at most "
	              "256)\n");
	snprintf(yaml, sizeof(yaml), "custprof: 1\nschema: %s号\nkey: k\nfields: {k: string}\n",
	         text);
	expect_errors(yaml, CP_ELIMIT,
	              "t.yaml:2:9: error: 'schema' is too long (258 bytes; at most 256)\n");
	/* descriptions: 4096 bytes */
	memset(text, 'd', 4096);
	text[4096] = '\0';
	snprintf(yaml, sizeof(yaml), H "  a: {type: int, description: %s}\n", text);
	s = load_ok(yaml);
	ck_assert_uint_eq(strlen(cp_schema_field_description(s, 1)), 4096);
	cp_schema_free(s);
	snprintf(yaml, sizeof(yaml), H "  a: {type: int, description: %sd}\n", text);
	expect_errors(yaml, CP_ELIMIT,
	              "t.yaml:6:31: error: 'description' of field 'a' is too long (4097 bytes; at "
	              "most 4096)\n");
}
END_TEST

START_TEST(test_limit_nodes_and_size)
{
	/* 2^18 YAML nodes at most */
	size_t n = 1u << 18, size = 16 + 2 * n;
	char *y = malloc(size);
	ck_assert_ptr_nonnull(y);
	strcpy(y, "x: [");
	size_t len = 4;
	for (size_t i = 0; i < n; i++) {
		y[len++] = '1';
		y[len++] = ',';
	}
	strcpy(y + len, "]\n");
	/* the root mapping, 'x' and the list are 3 nodes: item 262142 is one too many */
	expect_errors(y, CP_ELIMIT, "t.yaml:1:524287: error: too many YAML nodes (at most 262144)\n");
	free(y);

	/* 8 MiB of text at most */
	size = (8u << 20) + 1;
	y = calloc(1, size);
	ck_assert_ptr_nonnull(y);
	memset(y, '#', size);
	expect_errors_len(y, size, CP_ELIMIT,
	                  "t.yaml: error: the schema file is too large (at most 8388608 bytes)\n");
	char *dir = tu_mkdtemp();
	char path[4096];
	snprintf(path, sizeof(path), "%s", tu_path(dir, "big.yaml"));
	tu_write_file(path, y, size);
	cp_diag *d;
	cp_diag_new(&d);
	cp_schema *s;
	ck_assert_int_eq(cp_schema_load_file(&s, path, d), CP_ELIMIT);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(cp_diag_message(d, 0),
	                 "the schema file is too large (at most 8388608 bytes)");
	cp_diag_free(d);
	free(y);
	tu_rmdir(dir);
	free(dir);
}
END_TEST

/* ---- allocation failures: a clean status, nothing leaked ---- */

static void oom_loop(const char *yaml, int final_status, bool with_diag)
{
	int failures = 0;
	for (long k = 0;; k++) {
		long before = live_allocs;
		cp_diag *d = NULL;
		if (with_diag)
			ck_assert_int_eq(cp_diag_new(&d), CP_OK);
		cp_schema *s;
		fail_after = k;
		int rc = cp_schema_load_memory(&s, yaml, strlen(yaml), "t.yaml", d);
		bool ran_out = fail_after == 0;
		fail_after = -1;
		if (rc == CP_ENOMEM)
			failures++;
		else
			ck_assert_msg(rc == final_status, "allocation %ld: %s", k, cp_strerror(rc));
		if (rc != CP_OK)
			ck_assert_ptr_null(s);
		cp_schema_free(s);
		cp_diag_free(d);
		ck_assert_int_eq(live_allocs, before);
		if (rc != CP_ENOMEM && !ran_out)
			break; /* no allocation failed: the whole load was covered */
	}
	ck_assert_int_gt(failures, 50);
}

START_TEST(test_out_of_memory)
{
	oom_loop(full_yaml, CP_OK, false);
	oom_loop(full_yaml, CP_OK, true);
	oom_loop("custprof: 1\nschema: t\nkey: k\nfields:\n  k: strng\n  a: {type: int, "
	         "lable: x, values: [a, a]}\n  B: int\n",
	         CP_EINVAL, true);
}
END_TEST

int main(void)
{
	/* before any other call: every allocation of the library is counted */
	if (cp_set_allocator(t_malloc, t_realloc, t_free) != CP_OK)
		return EXIT_FAILURE;
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("yaml");
	tcase_add_test(tc, test_every_type_and_attribute);
	tcase_add_test(tc, test_months_bounds_and_default);
	tcase_add_test(tc, test_byte_order_mark_and_source);
	tcase_add_test(tc, test_series_column_names);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_memory_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("introspection");
	tcase_add_test(tc, test_introspection_out_of_range);
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_default_schema);
	tcase_add_test(tc, test_refcount);
	suite_add_tcase(s, tc);

	tc = tcase_create("diagnostics");
	tcase_add_loop_test(tc, test_broken_schema, 0,
	                    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_keywords_are_not_field_names);
	tcase_add_test(tc, test_nul_byte_in_text);
	tcase_add_test(tc, test_alias_expansion_is_refused);
	tcase_add_test(tc, test_golden_many_field_errors);
	tcase_add_test(tc, test_golden_many_top_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 120); /* valgrind */
	tcase_add_test(tc, test_limit_fields);
	tcase_add_test(tc, test_limit_lengths);
	tcase_add_test(tc, test_limit_nodes_and_size);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
