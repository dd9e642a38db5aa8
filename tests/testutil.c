/*
 * testutil.c — helpers shared by the Check unit tests.
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cp_schema *tu_schema(void)
{
	cp_schema *s = cp__schema_new("test");
	ck_assert_ptr_nonnull(s);
	int f = cp__schema_add_field(s, "msisdn", CP_TYPE_STRING, false, "号码");
	s->fields[f].normalize = CP_NORM_MSISDN_CN;
	f = cp__schema_add_field(s, "brand", CP_TYPE_ENUM, false, "品牌");
	s->fields[f].closed = true;
	cp__schema_add_value(s, f, "gotone", "全球通");
	cp__schema_add_value(s, f, "szx", "神州行");
	cp__schema_add_value(s, f, "mzone", "动感地带");
	cp__schema_add_field(s, "region", CP_TYPE_ENUM, false, "地区");
	cp__schema_add_field(s, "name", CP_TYPE_STRING, false, "姓名");
	cp__schema_add_field(s, "age", CP_TYPE_INT, false, NULL);
	cp__schema_add_field(s, "score", CP_TYPE_FLOAT, false, NULL);
	cp__schema_add_field(s, "vip", CP_TYPE_BOOL, false, NULL);
	cp__schema_add_field(s, "overdue", CP_TYPE_MONEY, false, NULL);
	cp__schema_add_field(s, "join_date", CP_TYPE_DATE, false, NULL);
	cp__schema_add_field(s, "addons", CP_TYPE_SET, false, NULL);
	f = cp__schema_add_field(s, "tones", CP_TYPE_LIST, false, NULL);
	s->fields[f].max_items = 3;
	cp__schema_add_field(s, "arpu", CP_TYPE_MONEY, true, "ARPU");
	cp__schema_add_field(s, "gprs_mb", CP_TYPE_FLOAT, true, NULL);
	cp__schema_add_field(s, "sessions", CP_TYPE_INT, true, NULL);
	cp__schema_add_field(s, "active", CP_TYPE_BOOL, true, NULL);
	cp__schema_add_field(s, "last_call", CP_TYPE_DATE, true, NULL);
	cp__schema_add_field(s, "apps", CP_TYPE_SET, true, NULL);
	ck_assert_int_eq(cp__schema_finish(s, "msisdn", NULL, NULL), CP_OK);
	return s;
}

char *tu_mkdtemp(void)
{
	const char *t = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/cptest.XXXXXX", t && *t ? t : "/tmp");
	char *d = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(d);
	return strdup(d);
}

void tu_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlink(tu_path(dir, e->d_name));
		}
		closedir(d);
	}
	rmdir(dir);
}

const char *tu_path(const char *dir, const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

void tu_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
