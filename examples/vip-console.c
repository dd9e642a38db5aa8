/*
 * vip-console — an account manager's accounts (大客户经理): the profiles
 * whose account_manager is the manager's id, highest churn risk first, with
 * their tags, one page at a time.
 *
 *   vip-console STORE.cps MANAGER_ID [--min-churn X] [--tag ID]
 *               [--page N] [--page-size K]
 *
 * The list is a select (cp_select_new(3)): a where condition, an order, a
 * limit and columns, evaluated on every core.  Build against an installed
 * library with
 *   cc -std=c11 vip-console.c $(pkg-config --cflags --libs custprof)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <custprof/custprof.h>

static const char *columns[] = {"msisdn", "name", "brand", "arpu", "churn_score",
                                "stage:subscriber", "tags"};

static int fail(const char *what, const void *handle, cp_diag *diag)
{
	fprintf(stderr, "vip-console: %s: %s\n", what, cp_errmsg(handle));
	for (size_t i = 0; diag && i < cp_diag_count(diag); i++)
		fprintf(stderr, "  %s\n", cp_diag_format(diag, i));
	return 1;
}

int main(int argc, char *argv[])
{
	const char *min_churn = NULL, *tag = NULL;
	long page = 1, page_size = 10;
	cp_store *store = NULL;
	cp_ruleset *rs = NULL;
	cp_select *sel = NULL;
	cp_diag *diag = NULL;
	char where[512];
	int rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: vip-console STORE.cps MANAGER_ID [--min-churn X] [--tag ID] "
		                "[--page N] [--page-size K]\n");
		return 2;
	}
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--min-churn") == 0)
			min_churn = argv[i + 1];
		else if (strcmp(argv[i], "--tag") == 0)
			tag = argv[i + 1];
		else if (strcmp(argv[i], "--page") == 0)
			page = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--page-size") == 0)
			page_size = strtol(argv[i + 1], NULL, 10);
	}
	if (page < 1 || page_size < 1) {
		fprintf(stderr, "vip-console: --page and --page-size count from 1\n");
		return 2;
	}
	/* The manager id goes into the expression as a string literal: refuse
	 * a quote rather than escape it. */
	if (strchr(argv[2], '\'') || (tag && strchr(tag, '\''))) {
		fprintf(stderr, "vip-console: a quote in an id\n");
		return 2;
	}
	int n = snprintf(where, sizeof(where), "account_manager == '%s'", argv[2]);
	if (min_churn)
		n += snprintf(where + n, sizeof(where) - (size_t)n, " and churn_score >= %s", min_churn);
	if (tag)
		snprintf(where + n, sizeof(where) - (size_t)n, " and tag('%s')", tag);

	if (cp_diag_new(&diag) != CP_OK)
		goto out;
	if (cp_store_open(&store, argv[1], diag) != CP_OK) {
		rc = fail(argv[1], NULL, diag);
		goto out;
	}
	if (cp_ruleset_compile(&rs, cp_store_schema(store), NULL, diag) != CP_OK ||
	    cp_select_new(&sel, rs) != CP_OK) {
		rc = fail("rules", NULL, diag);
		goto out;
	}
	/* The page's rows are the last of the first page * page_size. */
	if (cp_select_set_where(sel, where, diag) != CP_OK ||
	    cp_select_set_order(sel, "churn_score", 1, diag) != CP_OK ||
	    cp_select_set_limit(sel, (int64_t)page * page_size) != CP_OK) {
		rc = fail("select", sel, diag);
		goto out;
	}
	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
		if (cp_select_add_column(sel, columns[i], diag) != CP_OK) {
			rc = fail(columns[i], sel, diag);
			goto out;
		}
	if (cp_select_run(sel, store, NULL) != CP_OK) {
		rc = fail("select", sel, NULL);
		goto out;
	}

	uint64_t matched = cp_select_matched(sel);
	long pages = (long)((matched + (uint64_t)page_size - 1) / (uint64_t)page_size);
	printf("客户经理 %s: %llu 个客户，第 %ld/%ld 页（按流失概率排序）\n", argv[2],
	       (unsigned long long)matched, page, pages > 0 ? pages : 1);
	for (int c = 0; c < cp_select_column_count(sel); c++)
		printf("%s%s", c ? " | " : "", cp_select_column_name(sel, c));
	printf("\n");
	long row = 0;
	while (cp_select_next(sel) == CP_OK) {
		if (row++ < (page - 1) * page_size)
			continue;
		for (int c = 0; c < cp_select_column_count(sel); c++)
			printf("%s%s", c ? " | " : "", cp_select_value(sel, c));
		printf("\n");
	}
	rc = 0;
out:
	cp_select_free(sel);
	cp_ruleset_free(rs);
	cp_store_free(store);
	cp_diag_free(diag);
	return rc;
}
