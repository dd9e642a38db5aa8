/* quickstart.c — tags, stages and why, for one number; then a target list.
 * cc -std=c11 quickstart.c $(pkg-config --cflags --libs custprof)
 * ./a.out subscribers.cps 13800138000 */
#include <stdio.h>
#include <custprof/custprof.h>

int main(int argc, char *argv[])
{
	cp_store *store; cp_ruleset *rs; cp_result *res; cp_view *view;
	cp_explain *ex; cp_select *sel;
	if (argc != 3 || cp_store_open(&store, argv[1], NULL) != CP_OK ||
	    cp_ruleset_compile(&rs, cp_store_schema(store), NULL, NULL) != CP_OK ||
	    cp_result_new(&res, rs) != CP_OK || cp_view_new(&view, store) != CP_OK ||
	    cp_store_get(store, argv[2], view) != CP_OK || cp_eval(res, view) != CP_OK)
		return 1;
	for (int i = 0; i < cp_result_tag_count(res); i++)
		printf("tag %s %s\n", cp_ruleset_tag_id(rs, cp_result_tag_at(res, i)),
		       cp_ruleset_tag_label(rs, cp_result_tag_at(res, i)));
	for (int t = 0; t < cp_ruleset_track_count(rs); t++)
		printf("%s: %s (%s)\n", cp_ruleset_track_name(rs, t),
		       cp_stage_name(cp_result_stage(res, t)), cp_result_stage_rule_id(res, t));
	if (cp_explain_track(&ex, res, view, cp_ruleset_track_index(rs, "crbt")) == CP_OK)
		fputs(cp_explain_text(ex), stdout);
	if (cp_select_new(&sel, rs) != CP_OK ||
	    cp_select_set_where(sel, "stage('crbt') == 'churned'", NULL) != CP_OK ||
	    cp_select_set_order(sel, "arpu", 1, NULL) != CP_OK || cp_select_set_limit(sel, 10) != CP_OK ||
	    cp_select_run(sel, store, NULL) != CP_OK)
		return 1;
	while (cp_select_next(sel) == CP_OK)
		printf("call %s\n", cp_select_key(sel));
	cp_select_free(sel);
	cp_explain_free(ex);
	cp_view_free(view);
	cp_result_free(res);
	cp_ruleset_free(rs);
	cp_store_free(store);
	return 0;
}
