/*
 * testutil.h — helpers shared by the Check unit tests.
 */
#ifndef CP_TESTUTIL_H
#define CP_TESTUTIL_H

#include "config.h"

#include <check.h>
#include <stddef.h>

#include "schema.h"

/*
 * A small schema built without YAML, one field of every kind:
 *   msisdn  string key (normalize msisdn-cn)   brand  closed enum gotone/szx/mzone
 *   region  open enum      name string   age int    score float
 *   vip bool   overdue money   join_date date   addons set   tones list (max 3)
 *   arpu money series   gprs_mb float series   sessions int series
 *   active bool series  last_call date series  apps set series
 * months = 6.  Free with cp_schema_free().
 */
cp_schema *tu_schema(void);

/* A fresh empty directory under $TMPDIR (removed by tu_rmdir). */
char *tu_mkdtemp(void);
void tu_rmdir(const char *dir);
/* path = dir/name, in a static buffer that the next call overwrites */
const char *tu_path(const char *dir, const char *name);
void tu_write_file(const char *path, const char *data, size_t len);
/* Whole file, NUL-terminated; *len (if not NULL) gets its size.  free() it. */
char *tu_read_file(const char *path, size_t *len);

/* Run a suite and return the process exit status. */
int tu_run(Suite *s);

#endif
