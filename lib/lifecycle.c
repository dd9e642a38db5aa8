/*
 * lifecycle.c — the customer-lifecycle value drivers (DESIGN §6) and the
 * lifecycle introspection of a ruleset that reports need beyond the rule
 * language: a driver's name, a stage rule's label and description.
 *
 * The operator's customer-lifecycle model (客户生命周期管理) names eleven
 * value drivers along a customer's lifetime; a pack's stage_info maps each
 * stage to the drivers acting on it.  The set is closed: a driver id of
 * stage_info that is not one of these is a compile error (a misspelt
 * driver would otherwise vanish from every report).
 */
#include "lifecycle.h"
#include "rules.h"

#include <string.h>

const char *const cp__driver_ids[CP_DRIVER_COUNT] = {
	"purchase_intent", "acquisition_cost", "recurring_revenue", "cost_to_serve",
	"cross_sell", "tariff_adjustment", "renewal", "migration", "churn", "bad_debt",
	"winback",
};

static const char *const driver_labels[CP_DRIVER_COUNT] = {
	"购买意向", "获取成本", "经常收入", "服务现金成本", "交叉销售", "优惠和话费调整",
	"续签", "转移", "离网", "坏帐", "赢回",
};

int cp__driver_index(const char *id)
{
	for (int i = 0; id && i < CP_DRIVER_COUNT; i++)
		if (strcmp(cp__driver_ids[i], id) == 0)
			return i;
	return -1;
}

const char *cp_ruleset_stage_driver_label(const cp_ruleset *rs, int stage, int i)
{
	int d = cp__driver_index(cp_ruleset_stage_driver(rs, stage, i));
	return d >= 0 ? driver_labels[d] : NULL;
}

static const cp__rule *rule_of(const cp_ruleset *rs, int track, int i)
{
	if (!rs || track < 0 || track >= rs->ntracks || i < 0 || i >= rs->tracks[track].nrules)
		return NULL;
	return &rs->tracks[track].rules[i];
}

const char *cp_ruleset_track_rule_label(const cp_ruleset *rs, int track, int i)
{
	const cp__rule *r = rule_of(rs, track, i);
	if (!r)
		return NULL;
	return r->label ? r->label : cp_ruleset_stage_label(rs, r->stage);
}

const char *cp_ruleset_track_rule_description(const cp_ruleset *rs, int track, int i)
{
	const cp__rule *r = rule_of(rs, track, i);
	if (!r)
		return NULL;
	return r->description ? r->description : "";
}

const char *cp_ruleset_track_description(const cp_ruleset *rs, int track)
{
	if (!rs || track < 0 || track >= rs->ntracks)
		return NULL;
	return rs->tracks[track].description ? rs->tracks[track].description : "";
}
