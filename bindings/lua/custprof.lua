--[[
custprof.lua — LuaJIT FFI binding of libcustprof, the telecom
customer-profiling engine.

  local cp = require("custprof")
  local store = cp.open("subscribers.cps")
  local rules = cp.ruleset(store)                 -- the built-in packs
  local r = rules:evaluate(store, "13800000001")
  for _, t in ipairs(r:tags()) do print(t.id, t.label) end
  print(r:stage("crbt").stage, r:explain{track = "crbt"}.text)

The library: $CUSTPROF_LIB (a path) if set, else the source tree's
lib/.libs/libcustprof.so next to this file, else libcustprof.so from the
dynamic loader's search path.

Errors: a failing call raises (error()) a table with code (CP_E*, negative),
name ("CP_ENOTFOUND"), message (the library's message) and diagnostics (a
list of {file=, line=, column=, severity=, message=}); tostring() gives the
message and the diagnostics.  Catch with pcall; cp.is_error(e) tells them
from other errors.

Ownership: every handle is freed by the garbage collector (ffi.gc) or by
obj:close().  A Profile keeps its Store alive and a Result its Ruleset.
Closing an owner makes it and what depends on it unusable at once; its
memory is freed when the last of its dependents is closed or collected, so
the library's order (views before their store, results before their
ruleset) always holds.

Values: nil for null; booleans; numbers (64-bit integers converted with
tonumber, exact below 2^53); money as a number of yuan (p:fen() gives the
exact integer fen); dates as "YYYY-MM-DD" strings; sets and lists as arrays
of strings.  Months count from 0 (the as-of month) as in C; p:series()
returns an array whose [1] is month 0.

Threads: LuaJIT states are single-threaded; one state per thread, each with
its own objects.  The ffi.cdef below is the text of custprof.h
(tools/check_bindings.py checks it and prints a new one with --cdef).
--]]

local ffi = require("ffi")

ffi.cdef[[
enum cp_status {
	CP_OK = 0,
	CP_ERROR = -1,
	CP_ENOMEM = -2,
	CP_EINVAL = -3,
	CP_EIO = -4,
	CP_ESYNTAX = -5,
	CP_ETYPE = -6,
	CP_ENOTFOUND = -7,
	CP_ECORRUPT = -8,
	CP_EVERSION = -9,
	CP_ELIMIT = -10,
	CP_EMISUSE = -11,
	CP_ECANCELED = -12,
	CP_EEXIST = -13,
	CP_DONE = 101
};
const char *cp_strerror(int code);
const char *cp_version(void);
int cp_version_number(void);
const char *cp_errmsg(const void *handle);
int cp_set_allocator(void *(*malloc_fn)(size_t size), void *(*realloc_fn)(void *ptr, size_t size), void (*free_fn)(void *ptr));
typedef struct cp_diag cp_diag;
enum cp_severity {
	CP_SEV_ERROR = 0,
	CP_SEV_WARNING = 1,
	CP_SEV_NOTE = 2
};
int cp_diag_new(cp_diag **out);
void cp_diag_free(cp_diag *diag);
void cp_diag_clear(cp_diag *diag);
size_t cp_diag_count(const cp_diag *diag);
size_t cp_diag_error_count(const cp_diag *diag);
int cp_diag_severity(const cp_diag *diag, size_t i);
const char *cp_diag_file(const cp_diag *diag, size_t i);
unsigned cp_diag_line(const cp_diag *diag, size_t i);
unsigned cp_diag_column(const cp_diag *diag, size_t i);
const char *cp_diag_message(const cp_diag *diag, size_t i);
const char *cp_diag_format(cp_diag *diag, size_t i);
enum cp_type {
	CP_TYPE_BOOL = 1,
	CP_TYPE_INT = 2,
	CP_TYPE_FLOAT = 3,
	CP_TYPE_MONEY = 4,
	CP_TYPE_STRING = 5,
	CP_TYPE_ENUM = 6,
	CP_TYPE_SET = 7,
	CP_TYPE_LIST = 8,
	CP_TYPE_DATE = 9
};
const char *cp_type_name(int type);
typedef int32_t cp_date;
int cp_date_from_ymd(cp_date *out, int year, int month, int day);
void cp_date_to_ymd(cp_date date, int *year, int *month, int *day);
int cp_date_parse(cp_date *out, const char *text);
typedef struct cp_schema cp_schema;
int cp_schema_load_file(cp_schema **out, const char *path, cp_diag *diag);
int cp_schema_load_memory(cp_schema **out, const char *yaml, size_t len, const char *name, cp_diag *diag);
int cp_schema_default(cp_schema **out);
void cp_schema_free(cp_schema *schema);
const char *cp_schema_source(const cp_schema *schema, size_t *len);
const char *cp_schema_name(const cp_schema *schema);
int cp_schema_months(const cp_schema *schema);
int cp_schema_field_count(const cp_schema *schema);
size_t cp_schema_cell_bytes(const cp_schema *schema);
int cp_schema_key_field(const cp_schema *schema);
int cp_schema_field_index(const cp_schema *schema, const char *name);
const char *cp_schema_field_name(const cp_schema *schema, int field);
const char *cp_schema_field_label(const cp_schema *schema, int field);
int cp_schema_field_type(const cp_schema *schema, int field);
int cp_schema_field_is_series(const cp_schema *schema, int field);
int cp_schema_field_months(const cp_schema *schema, int field);
int cp_schema_field_is_closed(const cp_schema *schema, int field);
int cp_schema_field_max_items(const cp_schema *schema, int field);
const char *cp_schema_field_normalize(const cp_schema *schema, int field);
int cp_schema_field_is_personal(const cp_schema *schema, int field);
const char *cp_schema_field_description(const cp_schema *schema, int field);
int cp_schema_field_value_count(const cp_schema *schema, int field);
const char *cp_schema_field_value(const cp_schema *schema, int field, int i);
const char *cp_schema_field_value_label(const cp_schema *schema, int field, int i);
typedef struct cp_profile cp_profile;
int cp_profile_new(cp_profile **out, const cp_schema *schema);
void cp_profile_free(cp_profile *profile);
void cp_profile_clear(cp_profile *profile);
int cp_profile_set_null(cp_profile *p, int field, int month);
int cp_profile_set_bool(cp_profile *p, int field, int month, int value);
int cp_profile_set_int(cp_profile *p, int field, int month, int64_t value);
int cp_profile_set_float(cp_profile *p, int field, int month, double value);
int cp_profile_set_money(cp_profile *p, int field, int month, int64_t fen);
int cp_profile_set_date(cp_profile *p, int field, int month, cp_date value);
int cp_profile_set_string(cp_profile *p, int field, int month, const char *utf8);
int cp_profile_add_item(cp_profile *p, int field, int month, const char *utf8);
int cp_profile_set_text(cp_profile *p, int field, int month, const char *text);
typedef struct cp_store cp_store;
typedef struct cp_view cp_view;
int cp_store_new(cp_store **out, const cp_schema *schema);
void cp_store_free(cp_store *store);
const cp_schema *cp_store_schema(const cp_store *store);
size_t cp_store_count(const cp_store *store);
int cp_store_set_as_of(cp_store *store, int yyyymm);
int cp_store_as_of(const cp_store *store);
int cp_store_put(cp_store *store, const cp_profile *profile, int *replaced);
int cp_store_delete(cp_store *store, const char *key);
size_t cp_store_row_bytes(const cp_store *store);
size_t cp_store_memory_bytes(const cp_store *store);
size_t cp_store_index_bytes(const cp_store *store);
int cp_view_new(cp_view **out, const cp_store *store);
void cp_view_free(cp_view *view);
int cp_store_get(const cp_store *store, const char *key, cp_view *view);
int cp_view_is_null(const cp_view *v, int field, int month);
const char *cp_view_key(const cp_view *v);
int cp_view_bool(const cp_view *v, int field, int month);
int64_t cp_view_int(const cp_view *v, int field, int month);
double cp_view_float(const cp_view *v, int field, int month);
int64_t cp_view_money(const cp_view *v, int field, int month);
cp_date cp_view_date(const cp_view *v, int field, int month);
const char *cp_view_string(const cp_view *v, int field, int month);
int cp_view_item_count(const cp_view *v, int field, int month);
const char *cp_view_item(const cp_view *v, int field, int month, int i);
int cp_view_text(const cp_view *v, int field, int month, char *buf, size_t size);
typedef struct cp_iter cp_iter;
int cp_iter_new(cp_iter **out, const cp_store *store);
void cp_iter_free(cp_iter *it);
int cp_iter_next(cp_iter *it, cp_view *view);
typedef int (*cp_foreach_fn)(const cp_view *view, void *userdata);
int cp_store_foreach(const cp_store *store, cp_foreach_fn fn, void *userdata);
typedef struct cp_load_opts cp_load_opts;
typedef struct cp_load_report cp_load_report;
typedef int (*cp_progress_fn)(uint64_t done, uint64_t total, void *userdata);
int cp_load_opts_new(cp_load_opts **out);
void cp_load_opts_free(cp_load_opts *opts);
int cp_load_opts_set_delimiter(cp_load_opts *opts, int delimiter);
int cp_load_opts_set_rejects_path(cp_load_opts *opts, const char *path);
int cp_load_opts_set_progress(cp_load_opts *opts, cp_progress_fn fn, void *userdata);
int cp_load_report_new(cp_load_report **out);
void cp_load_report_free(cp_load_report *report);
uint64_t cp_load_report_rows(const cp_load_report *r);
uint64_t cp_load_report_loaded(const cp_load_report *r);
uint64_t cp_load_report_rejected(const cp_load_report *r);
uint64_t cp_load_report_duplicates(const cp_load_report *r);
uint64_t cp_load_report_bytes(const cp_load_report *r);
size_t cp_load_report_reject_count(const cp_load_report *r);
uint64_t cp_load_report_reject_line(const cp_load_report *r, size_t i);
const char *cp_load_report_reject_column(const cp_load_report *r, size_t i);
const char *cp_load_report_reject_reason(const cp_load_report *r, size_t i);
size_t cp_load_report_duplicate_count(const cp_load_report *r);
uint64_t cp_load_report_duplicate_line(const cp_load_report *r, size_t i);
size_t cp_load_report_unknown_column_count(const cp_load_report *r);
const char *cp_load_report_unknown_column(const cp_load_report *r, size_t i);
int cp_store_load_csv(cp_store *store, const char *path, const cp_load_opts *opts, cp_load_report *report);
int cp_store_load_csv_memory(cp_store *store, const char *data, size_t len, const char *name, const cp_load_opts *opts, cp_load_report *report);
int cp_store_save(cp_store *store, const char *path, int flags);
int cp_store_open(cp_store **out, const char *path, cp_diag *diag);
int cp_snapshot_verify(const char *path, cp_diag *diag);
typedef struct cp_rules_opts cp_rules_opts;
typedef struct cp_ruleset cp_ruleset;
typedef struct cp_result cp_result;
typedef struct cp_explain cp_explain;
enum cp_stage {
	CP_STAGE_UNKNOWN = 0,
	CP_STAGE_PROSPECT = 1,
	CP_STAGE_ACQUISITION = 2,
	CP_STAGE_GROWTH = 3,
	CP_STAGE_MATURITY = 4,
	CP_STAGE_DECLINE = 5,
	CP_STAGE_SILENT = 6,
	CP_STAGE_CHURN_RISK = 7,
	CP_STAGE_CHURNED = 8,
	CP_STAGE_WINBACK = 9,
	CP_STAGE_BAD_DEBT = 10
};
const char *cp_stage_name(int stage);
int cp_stage_from_name(const char *name);
int cp_rules_opts_new(cp_rules_opts **out);
void cp_rules_opts_free(cp_rules_opts *opts);
int cp_rules_opts_add_file(cp_rules_opts *opts, const char *path);
int cp_rules_opts_add_memory(cp_rules_opts *opts, const char *yaml, size_t len, const char *name);
int cp_rules_opts_add_defaults(cp_rules_opts *opts);
int cp_rules_opts_set_param(cp_rules_opts *opts, const char *name, const char *value);
int cp_ruleset_compile(cp_ruleset **out, const cp_schema *schema, const cp_rules_opts *opts, cp_diag *diag);
void cp_ruleset_free(cp_ruleset *rs);
const cp_schema *cp_ruleset_schema(const cp_ruleset *rs);
int cp_ruleset_pack_count(const cp_ruleset *rs);
const char *cp_ruleset_pack_name(const cp_ruleset *rs, int pack);
const char *cp_ruleset_pack_label(const cp_ruleset *rs, int pack);
int cp_ruleset_tag_count(const cp_ruleset *rs);
int cp_ruleset_tag_index(const cp_ruleset *rs, const char *id);
const char *cp_ruleset_tag_id(const cp_ruleset *rs, int tag);
const char *cp_ruleset_tag_label(const cp_ruleset *rs, int tag);
const char *cp_ruleset_tag_description(const cp_ruleset *rs, int tag);
const char *cp_ruleset_tag_expr(const cp_ruleset *rs, int tag);
int cp_ruleset_tag_pack(const cp_ruleset *rs, int tag);
int cp_ruleset_tag_group(const cp_ruleset *rs, int tag);
int cp_ruleset_group_count(const cp_ruleset *rs);
int cp_ruleset_group_index(const cp_ruleset *rs, const char *id);
const char *cp_ruleset_group_id(const cp_ruleset *rs, int group);
const char *cp_ruleset_group_label(const cp_ruleset *rs, int group);
int cp_ruleset_group_member_count(const cp_ruleset *rs, int group);
int cp_ruleset_group_member(const cp_ruleset *rs, int group, int i);
int cp_ruleset_group_otherwise(const cp_ruleset *rs, int group);
int cp_ruleset_metric_count(const cp_ruleset *rs);
int cp_ruleset_metric_index(const cp_ruleset *rs, const char *id);
const char *cp_ruleset_metric_id(const cp_ruleset *rs, int metric);
const char *cp_ruleset_metric_label(const cp_ruleset *rs, int metric);
int cp_ruleset_metric_type(const cp_ruleset *rs, int metric);
int cp_ruleset_metric_window(const cp_ruleset *rs, int metric);
int cp_ruleset_track_count(const cp_ruleset *rs);
int cp_ruleset_track_index(const cp_ruleset *rs, const char *name);
const char *cp_ruleset_track_name(const cp_ruleset *rs, int track);
const char *cp_ruleset_track_label(const cp_ruleset *rs, int track);
int cp_ruleset_track_rule_count(const cp_ruleset *rs, int track);
const char *cp_ruleset_track_rule_id(const cp_ruleset *rs, int track, int i);
int cp_ruleset_track_rule_stage(const cp_ruleset *rs, int track, int i);
const char *cp_ruleset_track_rule_expr(const cp_ruleset *rs, int track, int i);
int cp_ruleset_track_otherwise(const cp_ruleset *rs, int track);
const char *cp_ruleset_stage_label(const cp_ruleset *rs, int stage);
int cp_ruleset_stage_driver_count(const cp_ruleset *rs, int stage);
const char *cp_ruleset_stage_driver(const cp_ruleset *rs, int stage, int i);
int cp_ruleset_param_count(const cp_ruleset *rs);
const char *cp_ruleset_param_name(const cp_ruleset *rs, int param);
const char *cp_ruleset_param_value(const cp_ruleset *rs, int param);
int cp_result_new(cp_result **out, const cp_ruleset *rs);
void cp_result_free(cp_result *res);
int cp_result_set_as_of(cp_result *res, cp_date date);
void cp_result_clear_as_of(cp_result *res);
int cp_eval(cp_result *res, const cp_view *view);
int cp_eval_key(cp_result *res, const cp_store *store, const char *key);
int cp_result_tag(const cp_result *res, int tag);
int cp_result_tag_count(const cp_result *res);
int cp_result_tag_at(const cp_result *res, int i);
int cp_result_stage(const cp_result *res, int track);
int cp_result_stage_rule(const cp_result *res, int track);
const char *cp_result_stage_rule_id(const cp_result *res, int track);
int cp_result_metric_is_null(const cp_result *res, int metric);
int64_t cp_result_metric_int(const cp_result *res, int metric);
double cp_result_metric_float(const cp_result *res, int metric);
int cp_result_metric_text(const cp_result *res, int metric, char *buf, size_t size);
int cp_explain_tag(cp_explain **out, cp_result *res, const cp_view *view, int tag);
int cp_explain_track(cp_explain **out, cp_result *res, const cp_view *view, int track);
void cp_explain_free(cp_explain *ex);
const char *cp_explain_text(const cp_explain *ex);
enum cp_explain_kind {
	CP_EXPLAIN_TAG = 1,
	CP_EXPLAIN_TRACK = 2,
	CP_EXPLAIN_RULE = 3,
	CP_EXPLAIN_LOGIC = 4,
	CP_EXPLAIN_COMPARE = 5,
	CP_EXPLAIN_CALL = 6,
	CP_EXPLAIN_ARITH = 7,
	CP_EXPLAIN_FIELD = 8,
	CP_EXPLAIN_METRIC = 9,
	CP_EXPLAIN_CONST = 10,
	CP_EXPLAIN_LIST = 11
};
int cp_explain_node_count(const cp_explain *ex);
int cp_explain_node_parent(const cp_explain *ex, int node);
int cp_explain_node_depth(const cp_explain *ex, int node);
int cp_explain_node_kind(const cp_explain *ex, int node);
const char *cp_explain_node_text(const cp_explain *ex, int node);
const char *cp_explain_node_value(const cp_explain *ex, int node);
int cp_explain_node_truth(const cp_explain *ex, int node);
const char *cp_explain_node_note(const cp_explain *ex, int node);
typedef struct cp_query cp_query;
int cp_query_compile(cp_query **out, const cp_ruleset *rs, const char *expr, const char *name, cp_diag *diag);
void cp_query_free(cp_query *q);
const char *cp_query_expr(const cp_query *q);
int cp_query_type(const cp_query *q);
int cp_query_window(const cp_query *q);
const cp_ruleset *cp_query_ruleset(const cp_query *q);
int cp_query_is_null(const cp_query *q, const cp_result *res);
int64_t cp_query_int(const cp_query *q, const cp_result *res);
double cp_query_float(const cp_query *q, const cp_result *res);
int cp_query_value_text(const cp_query *q, const cp_result *res, char *buf, size_t size);
typedef struct cp_batch_opts cp_batch_opts;
int cp_batch_opts_new(cp_batch_opts **out);
void cp_batch_opts_free(cp_batch_opts *opts);
int cp_batch_opts_set_threads(cp_batch_opts *opts, int threads);
int cp_batch_opts_set_progress(cp_batch_opts *opts, cp_progress_fn fn, void *userdata);
typedef struct cp_tagtable cp_tagtable;
int cp_tagtable_new(cp_tagtable **out, const cp_ruleset *rs);
void cp_tagtable_free(cp_tagtable *t);
int cp_tagtable_build(cp_tagtable *t, const cp_store *store, const cp_batch_opts *opts);
size_t cp_tagtable_count(const cp_tagtable *t);
const char *cp_tagtable_key(const cp_tagtable *t, size_t i);
int cp_tagtable_tag(const cp_tagtable *t, size_t i, int tag);
int cp_tagtable_next_tag(const cp_tagtable *t, size_t i, int tag);
int cp_tagtable_stage(const cp_tagtable *t, size_t i, int track);
typedef struct cp_counts cp_counts;
int cp_counts_new(cp_counts **out, const cp_ruleset *rs);
void cp_counts_free(cp_counts *c);
int cp_counts_set_where(cp_counts *c, const char *expr, cp_diag *diag);
int cp_counts_add_dim(cp_counts *c, const char *dim, cp_diag *diag);
int cp_counts_run(cp_counts *c, const cp_store *store, const cp_batch_opts *opts);
uint64_t cp_counts_total(const cp_counts *c);
uint64_t cp_counts_tag(const cp_counts *c, int tag);
uint64_t cp_counts_stage(const cp_counts *c, int track, int stage);
int cp_counts_dim_count(const cp_counts *c);
const char *cp_counts_dim_name(const cp_counts *c, int dim);
const char *cp_counts_dim_label(const cp_counts *c, int dim);
size_t cp_counts_category_count(const cp_counts *c, int dim);
const char *cp_counts_category_name(const cp_counts *c, int dim, size_t i);
const char *cp_counts_category_label(const cp_counts *c, int dim, size_t i);
int cp_counts_category_is_null(const cp_counts *c, int dim, size_t i);
uint64_t cp_counts_category_total(const cp_counts *c, int dim, size_t i);
uint64_t cp_counts_cell(const cp_counts *c, size_t row, size_t col);
typedef struct cp_select cp_select;
int cp_select_new(cp_select **out, const cp_ruleset *rs);
void cp_select_free(cp_select *s);
int cp_select_set_where(cp_select *s, const char *expr, cp_diag *diag);
int cp_select_set_order(cp_select *s, const char *expr, int descending, cp_diag *diag);
int cp_select_set_limit(cp_select *s, int64_t limit);
int cp_select_set_labels(cp_select *s, int labels);
int cp_select_add_column(cp_select *s, const char *column, cp_diag *diag);
int cp_select_run(cp_select *s, const cp_store *store, const cp_batch_opts *opts);
uint64_t cp_select_matched(const cp_select *s);
uint64_t cp_select_count(const cp_select *s);
int cp_select_column_count(const cp_select *s);
const char *cp_select_column_name(const cp_select *s, int col);
int cp_select_next(cp_select *s);
void cp_select_rewind(cp_select *s);
const char *cp_select_key(const cp_select *s);
const char *cp_select_value(cp_select *s, int col);
typedef int (*cp_select_fn)(cp_select *s, void *userdata);
int cp_select_foreach(cp_select *s, cp_select_fn fn, void *userdata);
const char *cp_select_csv_header(cp_select *s, int flags);
const char *cp_select_csv_row(cp_select *s, int flags);
int cp_select_write_csv(cp_select *s, const char *path, int flags);
]]

local M = {}

-- ---- the library -----------------------------------------------------------

local function script_dir()
	local src = debug.getinfo(1, "S").source
	if src:sub(1, 1) == "@" then
		return (src:sub(2):match("^(.*)/[^/]*$") or ".")
	end
	return "."
end

local function load_library()
	local env = os.getenv("CUSTPROF_LIB")
	local tried = {}
	local candidates
	if env and env ~= "" then
		candidates = { env }  -- an explicit choice is the only one
	else
		candidates = { script_dir() .. "/../../lib/.libs/libcustprof.so", "custprof",
			"libcustprof.so.0" }
	end
	for _, name in ipairs(candidates) do
		local ok, lib = pcall(ffi.load, name)
		if ok then
			return lib, name
		end
		tried[#tried + 1] = name .. " (" .. tostring(lib) .. ")"
	end
	error("libcustprof not found; set CUSTPROF_LIB to the path of libcustprof.so. Tried: "
		.. table.concat(tried, "; "), 0)
end

local C, library_path = load_library()
M.C = C                    -- the raw functions, for what this module does not wrap
M.library_path = library_path

local function str(p)
	if p == nil then
		return nil
	end
	return ffi.string(p)
end

function M.version()
	return str(C.cp_version())
end

-- ---- errors ------------------------------------------------------------------

local STATUS_NAMES = {
	[0] = "CP_OK", [-1] = "CP_ERROR", [-2] = "CP_ENOMEM", [-3] = "CP_EINVAL", [-4] = "CP_EIO",
	[-5] = "CP_ESYNTAX", [-6] = "CP_ETYPE", [-7] = "CP_ENOTFOUND", [-8] = "CP_ECORRUPT",
	[-9] = "CP_EVERSION", [-10] = "CP_ELIMIT", [-11] = "CP_EMISUSE", [-12] = "CP_ECANCELED",
	[-13] = "CP_EEXIST", [101] = "CP_DONE",
}
for code, name in pairs(STATUS_NAMES) do
	M[name:sub(4)] = code      -- cp.ENOTFOUND, cp.OK, cp.DONE, ...
end
local SEVERITIES = { [0] = "error", [1] = "warning", [2] = "note" }

local function format_diagnostic(d)
	local where = ""
	if d.file then
		where = d.file
		if d.line > 0 then
			where = where .. ":" .. d.line
			if d.column > 0 then
				where = where .. ":" .. d.column
			end
		end
		where = where .. ": "
	end
	return where .. d.severity .. ": " .. d.message
end
M.format_diagnostic = format_diagnostic

local Error = {}
Error.__index = Error
Error.__tostring = function(e)
	local lines = { e.message }
	for _, d in ipairs(e.diagnostics) do
		lines[#lines + 1] = "  " .. format_diagnostic(d)
	end
	return table.concat(lines, "\n")
end

function M.is_error(e)
	return getmetatable(e) == Error
end

local function diag_entries(d)
	local out = {}
	for i = 0, tonumber(C.cp_diag_count(d)) - 1 do
		local file = str(C.cp_diag_file(d, i))
		out[#out + 1] = {
			file = file ~= "" and file or nil,
			line = tonumber(C.cp_diag_line(d, i)),
			column = tonumber(C.cp_diag_column(d, i)),
			severity = SEVERITIES[C.cp_diag_severity(d, i)] or "error",
			message = str(C.cp_diag_message(d, i)),
		}
	end
	return out
end

local function new_error(code, message, diagnostics)
	return setmetatable({ code = code, name = STATUS_NAMES[code] or "CP_ERROR",
		message = message, diagnostics = diagnostics or {} }, Error)
end

-- Raise the error of status code: the handle's message, else the first
-- error of the diagnostics, else the code's name.
local function raise(code, handle, diagnostics, context)
	local message = ""
	if handle ~= nil then
		message = str(C.cp_errmsg(handle)) or ""
	end
	if message == "" and diagnostics then
		for _, d in ipairs(diagnostics) do
			if d.severity == "error" then
				message = d.message
				break
			end
		end
	end
	if message == "" then
		message = str(C.cp_strerror(code))
	end
	if context then
		message = context .. ": " .. message
	end
	error(new_error(code, message, diagnostics), 0)
end

local function check(rc, handle, context)
	if rc < 0 then
		raise(rc, handle, nil, context)
	end
	return rc
end

local function misuse(message)
	error(new_error(M.EMISUSE, message), 0)
end

-- ---- handles -----------------------------------------------------------------
--
-- Each C handle has a record {raw, free, parents, children, closed, freed}
-- that its finalizer closes over.  The record never references the
-- ffi.gc'd pointer (only the Lua object holds it), so the object can be
-- collected.  A record counts its live children: an owner closed (or
-- collected) while a child still lives is marked closed at once and freed
-- when its last child is, so the library's order (views before their store,
-- results before their ruleset) holds whatever order the collector picks.

local function release(h)
	h.closed = true
	if h.freed or h.children > 0 then
		return
	end
	h.freed = true
	h.free(h.raw)
	if h.counted then
		for _, parent in ipairs(h.parents) do
			parent.children = parent.children - 1
			if parent.closed then
				release(parent)
			end
		end
	end
end

-- Own raw (a pointer of type ctype) with free; parent (and also) are the
-- objects it depends on.  free nil: raw is borrowed from parent (valid
-- while it is open).
local function own(obj, raw, ctype, free, parent, also)
	local h = { raw = ffi.cast(ctype, raw), free = free or function() end, children = 0,
		parents = {}, counted = free ~= nil, closed = false, freed = false }
	for _, owner in ipairs({ parent, also }) do
		if owner then
			h.parents[#h.parents + 1] = owner._h
			if h.counted then
				owner._h.children = owner._h.children + 1
			end
		end
	end
	obj._h = h
	obj._owners = { parent, also }   -- keeps the owners alive as long as obj
	obj._gc = ffi.gc(ffi.cast(ctype, raw), function() release(h) end)
	return obj
end

-- The closed owner of a handle record, if any.
local function closed_owner(h)
	for i, parent in ipairs(h.parents) do
		if parent.closed then
			return i
		end
	end
end

-- The raw pointer of obj; an EMISUSE error once it or an owner is closed.
local function ptr(obj)
	local h = obj._h
	if h.closed then
		misuse("this " .. (obj._kind or "object") .. " is closed")
	end
	local i = closed_owner(h)
	if i then
		misuse("this " .. (obj._kind or "object") .. " belongs to a closed "
			.. (obj._owners[i]._kind or "object"))
	end
	return h.raw
end

local function close(obj)
	release(obj._h)
	if obj._h.freed then
		ffi.gc(obj._gc, nil)
	end
end

local function is_closed(obj)
	local h = obj._h
	return h.closed or closed_owner(h) ~= nil
end

-- Call constructor fn(&out, ...) and return out[0]; raise with the
-- diagnostics collected in diag (if any) on failure.
local function construct(ctype, fn, diag, context, ...)
	local out = ffi.new(ctype .. "*[1]")
	local rc = fn(out, ...)
	if rc ~= 0 then
		raise(rc, nil, diag and diag_entries(diag) or nil, context)
	end
	return out[0]
end

-- Run f(diag) with a fresh cp_diag, freed afterwards (also on error).
local function with_diag(f)
	local d = construct("cp_diag", C.cp_diag_new)
	local results = { pcall(f, d) }
	C.cp_diag_free(d)
	if not results[1] then
		error(results[2], 0)
	end
	return unpack(results, 2)
end

-- ---- dates -----------------------------------------------------------------

local function date_text(days)
	local y, m, d = ffi.new("int[1]"), ffi.new("int[1]"), ffi.new("int[1]")
	C.cp_date_to_ymd(days, y, m, d)
	return string.format("%04d-%02d-%02d", y[0], m[0], d[0])
end

local function date_days(text)
	local out = ffi.new("cp_date[1]")
	if C.cp_date_parse(out, text) ~= 0 then
		error(new_error(M.EINVAL, "not a date (YYYY-MM-DD): " .. tostring(text)), 0)
	end
	return out[0]
end
M.date_text, M.date_days = date_text, date_days

-- ---- schema --------------------------------------------------------------------

local TYPE_NAMES = { "bool", "int", "float", "money", "string", "enum", "set", "list", "date" }

local Schema = { _kind = "schema" }
Schema.__index = Schema

local function wrap_schema(raw, owner)
	local s = setmetatable({}, Schema)
	if owner then
		-- borrowed from a store or ruleset: valid while it is
		return own(s, raw, "const cp_schema *", nil, owner)
	end
	return own(s, raw, "cp_schema *", C.cp_schema_free)
end

function M.schema_default()
	return wrap_schema(construct("cp_schema", C.cp_schema_default))
end

function M.schema_load(path)
	return with_diag(function(d)
		return wrap_schema(construct("cp_schema", C.cp_schema_load_file, d, path, path, d))
	end)
end

function M.schema_from_yaml(text, name)
	return with_diag(function(d)
		return wrap_schema(construct("cp_schema", C.cp_schema_load_memory, d, name, text,
			#text, name, d))
	end)
end

function Schema:name() return str(C.cp_schema_name(ptr(self))) end
function Schema:months() return C.cp_schema_months(ptr(self)) end
function Schema:key() return self:fields()[C.cp_schema_key_field(ptr(self)) + 1].name end
Schema.close, Schema.closed = close, is_closed

-- Every field as a table: index (0-based, as in C), name, label, type,
-- series, months, closed, max_items, normalize, personal, description,
-- values (array of {value, label}) and labels (value -> label).
function Schema:fields()
	if self._fields then
		return self._fields
	end
	local s = ptr(self)
	local fields, by_name = {}, {}
	for i = 0, C.cp_schema_field_count(s) - 1 do
		local f = {
			index = i,
			name = str(C.cp_schema_field_name(s, i)),
			label = str(C.cp_schema_field_label(s, i)),
			type = TYPE_NAMES[C.cp_schema_field_type(s, i)],
			series = C.cp_schema_field_is_series(s, i) == 1,
			months = C.cp_schema_field_months(s, i),
			closed = C.cp_schema_field_is_closed(s, i) == 1,
			max_items = C.cp_schema_field_max_items(s, i),
			normalize = str(C.cp_schema_field_normalize(s, i)),
			personal = C.cp_schema_field_is_personal(s, i) == 1,
			description = str(C.cp_schema_field_description(s, i)),
			values = {},
			labels = {},
		}
		for v = 0, C.cp_schema_field_value_count(s, i) - 1 do
			local value, label = str(C.cp_schema_field_value(s, i, v)),
				str(C.cp_schema_field_value_label(s, i, v))
			f.values[#f.values + 1] = { value, label }
			f.labels[value] = label
		end
		fields[#fields + 1] = f
		by_name[f.name] = f
	end
	self._fields, self._by_name = fields, by_name
	return fields
end

function Schema:field(name)
	self:fields()
	local f = self._by_name[name]
	if not f then
		error(new_error(M.ENOTFOUND, "no field '" .. tostring(name) .. "' in schema "
			.. self:name()), 0)
	end
	return f
end

function Schema:has_field(name)
	self:fields()
	return self._by_name[name] ~= nil
end

-- ---- store ------------------------------------------------------------------

local Store = { _kind = "store" }
Store.__index = Store
local Profile = { _kind = "profile" }
Profile.__index = Profile

local function yyyymm(v)
	if type(v) == "number" then
		return v
	end
	local y, m = tostring(v):match("^(%d%d%d%d)-?(%d%d)$")
	if not y then
		error(new_error(M.EINVAL, "as-of month must be YYYY-MM or YYYYMM: " .. tostring(v)), 0)
	end
	return tonumber(y) * 100 + tonumber(m)
end

local function wrap_store(raw)
	local s = setmetatable({ _generation = 0 }, Store)
	return own(s, raw, "cp_store *", C.cp_store_free)
end

-- An empty store of schema (default: the built-in schema), as_of optional.
function M.store_new(schema, as_of)
	local tmp
	if not schema then
		tmp = M.schema_default()
		schema = tmp
	end
	local s = wrap_store(construct("cp_store", C.cp_store_new, nil, "new store", ptr(schema)))
	if tmp then
		tmp:close()  -- the store keeps its own reference
	end
	if as_of then
		s:set_as_of(as_of)
	end
	return s
end

-- Open a snapshot (.cps).
function M.open(path)
	return with_diag(function(d)
		return wrap_store(construct("cp_store", C.cp_store_open, d, path, path, d))
	end)
end

-- Check every checksum of a snapshot; raises CP_ECORRUPT with every problem.
function M.verify_snapshot(path)
	with_diag(function(d)
		local rc = C.cp_snapshot_verify(path, d)
		if rc ~= 0 then
			raise(rc, nil, diag_entries(d), path)
		end
	end)
end

Store.close, Store.closed = close, is_closed

function Store:schema()
	if not self._schema then
		self._schema = wrap_schema(C.cp_store_schema(ptr(self)), self)
	end
	return self._schema
end

function Store:count() return tonumber(C.cp_store_count(ptr(self))) end
function Store:as_of() return C.cp_store_as_of(ptr(self)) end

function Store:set_as_of(v)
	check(C.cp_store_set_as_of(ptr(self), yyyymm(v)), ptr(self))
	self._generation = self._generation + 1
end

-- Load a CSV/PSV/TSV export.  opts: delimiter (",", "|", "\t"), rejects
-- (a path).  Returns the report: rows, loaded, rejected, duplicates, bytes,
-- rejects ({line, column, reason} ...), unknown_columns.
function Store:load_csv(path, opts)
	return self:_load(path, nil, nil, opts)
end

function Store:load_csv_text(text, name, opts)
	return self:_load(nil, text, name, opts)
end

function Store:_load(path, text, name, opts)
	opts = opts or {}
	local lo = construct("cp_load_opts", C.cp_load_opts_new)
	local rep = construct("cp_load_report", C.cp_load_report_new)
	local ok, result = pcall(function()
		if opts.delimiter then
			check(C.cp_load_opts_set_delimiter(lo, opts.delimiter:byte()), lo)
		end
		if opts.rejects then
			check(C.cp_load_opts_set_rejects_path(lo, opts.rejects), lo)
		end
		local rc
		if path then
			rc = C.cp_store_load_csv(ptr(self), path, lo, rep)
		else
			rc = C.cp_store_load_csv_memory(ptr(self), text, #text, name, lo, rep)
		end
		self._generation = self._generation + 1
		check(rc, ptr(self))
		local r = {
			rows = tonumber(C.cp_load_report_rows(rep)),
			loaded = tonumber(C.cp_load_report_loaded(rep)),
			rejected = tonumber(C.cp_load_report_rejected(rep)),
			duplicates = tonumber(C.cp_load_report_duplicates(rep)),
			bytes = tonumber(C.cp_load_report_bytes(rep)),
			rejects = {}, unknown_columns = {},
		}
		for i = 0, tonumber(C.cp_load_report_reject_count(rep)) - 1 do
			r.rejects[#r.rejects + 1] = {
				line = tonumber(C.cp_load_report_reject_line(rep, i)),
				column = str(C.cp_load_report_reject_column(rep, i)),
				reason = str(C.cp_load_report_reject_reason(rep, i)),
			}
		end
		for i = 0, tonumber(C.cp_load_report_unknown_column_count(rep)) - 1 do
			r.unknown_columns[#r.unknown_columns + 1] = str(C.cp_load_report_unknown_column(rep, i))
		end
		return r
	end)
	C.cp_load_report_free(rep)
	C.cp_load_opts_free(lo)
	if not ok then
		error(result, 0)
	end
	return result
end

function Store:save(path, opts)
	local flags = (opts and opts.compress) and 1 or 0
	check(C.cp_store_save(ptr(self), path, flags), ptr(self))
end

local function set_cell(draft, f, month, v)
	local i, rc = f.index, nil
	local t = type(v)
	if v == nil or v == M.null then
		rc = C.cp_profile_set_null(draft, i, month)
	elseif t == "boolean" then
		rc = f.type == "bool" and C.cp_profile_set_bool(draft, i, month, v and 1 or 0)
			or C.cp_profile_set_text(draft, i, month, v and "1" or "0")
	elseif t == "table" then
		rc = C.cp_profile_set_null(draft, i, month)
		for _, item in ipairs(v) do
			if rc == 0 then
				rc = C.cp_profile_add_item(draft, i, month, tostring(item))
			end
		end
	elseif t == "number" and f.type == "int" and v == math.floor(v) then
		rc = C.cp_profile_set_int(draft, i, month, v)
	elseif t == "number" and f.type == "float" then
		rc = C.cp_profile_set_float(draft, i, month, v)
	else
		-- the CSV text form: money in yuan, dates YYYY-MM-DD, ...
		rc = C.cp_profile_set_text(draft, i, month, tostring(v))
	end
	check(rc, draft)
end

-- A placeholder for null inside a series array (Lua arrays cannot hold nil).
M.null = setmetatable({}, { __tostring = function() return "null" end })

-- Insert or replace the profile given as {field = value}: a series takes
-- an array with month 0 first (cp.null for a missing month).  Returns true
-- when a profile with that key was replaced.
function Store:put(values)
	local schema = self:schema()
	local draft = construct("cp_profile", C.cp_profile_new, nil, nil, C.cp_store_schema(ptr(self)))
	local ok, result = pcall(function()
		for name, v in pairs(values) do
			local f = schema:field(name)
			if f.series and type(v) == "table" and v ~= M.null then
				if #v > f.months then
					error(new_error(M.ETYPE, name .. " holds " .. f.months .. " months, got "
						.. #v .. " values"), 0)
				end
				for m = 1, #v do
					set_cell(draft, f, m - 1, v[m])
				end
			else
				set_cell(draft, f, 0, v)
			end
		end
		local replaced = ffi.new("int[1]")
		local rc = C.cp_store_put(ptr(self), draft, replaced)
		self._generation = self._generation + 1
		check(rc, ptr(self))
		return replaced[0] == 1
	end)
	C.cp_profile_free(draft)
	if not ok then
		error(result, 0)
	end
	return result
end

function Store:delete(key)
	local rc = C.cp_store_delete(ptr(self), key)
	self._generation = self._generation + 1
	check(rc, ptr(self))
end

local function wrap_profile(store, view)
	local p = setmetatable({ store = store, _generation = store._generation }, Profile)
	own(p, view, "cp_view *", C.cp_view_free, store)
	p.key = str(C.cp_view_key(view))
	return p
end

local function new_view(store)
	local view = construct("cp_view", C.cp_view_new, nil, nil, ptr(store))
	return view
end

-- The profile with this key (normalized), or nil and the error.
function Store:get(key)
	local view = new_view(self)
	local rc = C.cp_store_get(ptr(self), key, view)
	if rc ~= 0 then
		local ok, err = pcall(raise, rc, view)
		C.cp_view_free(view)
		if rc == M.ENOTFOUND then
			return nil, err
		end
		error(err, 0)
	end
	return wrap_profile(self, view)
end

-- The profile with this key; raises CP_ENOTFOUND if there is none.
function Store:profile(key)
	local p, err = self:get(key)
	if not p then
		error(err, 0)
	end
	return p
end

-- for profile in store:profiles() do ... end  (each a new Profile)
function Store:profiles()
	local it = own({ _kind = "iteration" }, construct("cp_iter", C.cp_iter_new, nil, nil,
		ptr(self)), "cp_iter *", C.cp_iter_free, self)
	local generation = self._generation
	return function()
		if is_closed(it) then
			return nil
		end
		if self._generation ~= generation then
			misuse("the store changed during the iteration")
		end
		local view = new_view(self)
		local rc = C.cp_iter_next(ptr(it), view)
		if rc == M.DONE then
			C.cp_view_free(view)
			close(it)
			return nil
		end
		if rc ~= 0 then
			local ok, err = pcall(raise, rc, view)
			C.cp_view_free(view)
			error(err, 0)
		end
		return wrap_profile(self, view)
	end
end

-- ---- profile ---------------------------------------------------------------

Profile.close, Profile.closed = close, is_closed

-- The view, looked up again when the store changed since it was read.
function Profile:_view()
	local view = ptr(self)
	if self._generation ~= self.store._generation then
		local rc = C.cp_store_get(ptr(self.store), self.key, view)
		if rc ~= 0 then
			raise(rc, view, nil, "the store changed")
		end
		self._generation = self.store._generation
	end
	return view
end

-- One cell: month 0 (or the scalar) unless month is given.
function Profile:get(name, month)
	month = month or 0
	local view = self:_view()
	local f = self.store:schema():field(name)
	local i = f.index
	if C.cp_view_is_null(view, i, month) == 1 then
		return nil
	end
	local t = f.type
	if t == "bool" then
		return C.cp_view_bool(view, i, month) == 1
	elseif t == "int" then
		return tonumber(C.cp_view_int(view, i, month))
	elseif t == "float" then
		return C.cp_view_float(view, i, month)
	elseif t == "money" then
		return tonumber(C.cp_view_money(view, i, month)) / 100
	elseif t == "date" then
		return date_text(C.cp_view_date(view, i, month))
	elseif t == "set" or t == "list" then
		local items = {}
		for k = 0, C.cp_view_item_count(view, i, month) - 1 do
			items[#items + 1] = str(C.cp_view_item(view, i, month, k))
		end
		return items
	end
	return str(C.cp_view_string(view, i, month))
end

-- A money cell in exact integer fen (nil for null).
function Profile:fen(name, month)
	month = month or 0
	local view = self:_view()
	local f = self.store:schema():field(name)
	if C.cp_view_is_null(view, f.index, month) == 1 then
		return nil
	end
	return tonumber(C.cp_view_money(view, f.index, month))
end

-- Every month of a series: [1] is month 0; .n is the number of months.
function Profile:series(name)
	local f = self.store:schema():field(name)
	local out = { n = f.months }
	for m = 0, f.months - 1 do
		out[m + 1] = self:get(name, m)
	end
	return out
end

-- The CSV text form of a cell ("" for null).
function Profile:text(name, month)
	local view = self:_view()
	local f = self.store:schema():field(name)
	local size = 128
	while true do
		local buf = ffi.new("char[?]", size)
		local n = check(C.cp_view_text(view, f.index, month or 0, buf, size), view)
		if n < size then
			return ffi.string(buf, n)
		end
		size = n + 1
	end
end

-- An enum value's label (神州行 for szx); other values as get() gives them.
function Profile:label(name, month)
	local f = self.store:schema():field(name)
	local v = self:get(name, month)
	if f.type == "enum" and v ~= nil then
		return f.labels[v] or v
	end
	return v
end

-- ---- rules ------------------------------------------------------------------

M.STAGES = { [0] = "unknown", "prospect", "acquisition", "growth", "maturity", "decline",
	"silent", "churn_risk", "churned", "winback", "bad_debt" }

function M.stage_name(code) return str(C.cp_stage_name(code)) end

function M.stage_from_name(name)
	local rc = C.cp_stage_from_name(name)
	if rc < 0 then
		error(new_error(rc, "no stage '" .. tostring(name) .. "'"), 0)
	end
	return rc
end

local EXPLAIN_KINDS = { "tag", "track", "rule", "logic", "compare", "call", "arith", "field",
	"metric", "const", "list" }

local Ruleset = { _kind = "ruleset" }
Ruleset.__index = Ruleset
local Result = { _kind = "result" }
Result.__index = Result

-- A value as a literal of the rule language.
local function literal(v)
	local t = type(v)
	if v == nil or v == M.null then
		return "null"
	elseif t == "boolean" or t == "number" then
		return tostring(v)
	elseif t == "table" then
		local parts = {}
		for _, x in ipairs(v) do
			parts[#parts + 1] = literal(x)
		end
		return "[" .. table.concat(parts, ", ") .. "]"
	end
	return "'" .. tostring(v):gsub("\\", "\\\\"):gsub("'", "\\'"):gsub("\n", "\\n") .. "'"
end

-- Compile rule packs against a schema (or a store's).  opts: packs (array
-- of paths), sources ({name = yaml text}), params ({name = value}),
-- defaults (the built-in packs; default: true when no packs or sources).
-- A compile error raises an error whose diagnostics list every problem;
-- the warnings of a good compile are in rs.diagnostics.
function M.ruleset(schema, opts)
	opts = opts or {}
	local tmp
	if schema == nil then
		tmp = M.schema_default()
		schema = tmp
	elseif getmetatable(schema) == Store then
		schema = schema:schema()
	end
	local defaults = opts.defaults
	if defaults == nil then
		defaults = not (opts.packs and #opts.packs > 0) and not opts.sources
	end
	local ro = construct("cp_rules_opts", C.cp_rules_opts_new)
	local ok, result = pcall(function()
		if defaults then
			check(C.cp_rules_opts_add_defaults(ro), ro)
		end
		for _, path in ipairs(opts.packs or {}) do
			check(C.cp_rules_opts_add_file(ro, path), ro)
		end
		local names = {}
		for name in pairs(opts.sources or {}) do
			names[#names + 1] = name
		end
		table.sort(names)
		for _, name in ipairs(names) do
			local text = opts.sources[name]
			check(C.cp_rules_opts_add_memory(ro, text, #text, name), ro)
		end
		for name, value in pairs(opts.params or {}) do
			check(C.cp_rules_opts_set_param(ro, name, literal(value)), ro)
		end
		return with_diag(function(d)
			local raw = construct("cp_ruleset", C.cp_ruleset_compile, d,
				"the rules do not compile", ptr(schema), ro, d)
			local rs = own(setmetatable({}, Ruleset), raw, "cp_ruleset *", C.cp_ruleset_free)
			rs.diagnostics = diag_entries(d)
			return rs
		end)
	end)
	C.cp_rules_opts_free(ro)
	if tmp then
		tmp:close()
	end
	if not ok then
		error(result, 0)
	end
	result:_load_metadata()
	return result
end

Ruleset.close, Ruleset.closed = close, is_closed

function Ruleset:_load_metadata()
	local rs = ptr(self)
	self.packs = {}
	for i = 0, C.cp_ruleset_pack_count(rs) - 1 do
		self.packs[#self.packs + 1] = str(C.cp_ruleset_pack_name(rs, i))
	end
	local group_ids = {}
	for g = 0, C.cp_ruleset_group_count(rs) - 1 do
		group_ids[g] = str(C.cp_ruleset_group_id(rs, g))
	end
	self.tags, self._tag = {}, {}
	for t = 0, C.cp_ruleset_tag_count(rs) - 1 do
		local tag = {
			index = t,
			id = str(C.cp_ruleset_tag_id(rs, t)),
			label = str(C.cp_ruleset_tag_label(rs, t)),
			description = str(C.cp_ruleset_tag_description(rs, t)),
			expr = str(C.cp_ruleset_tag_expr(rs, t)),
			pack = self.packs[C.cp_ruleset_tag_pack(rs, t) + 1],
			group = group_ids[C.cp_ruleset_tag_group(rs, t)],
		}
		self.tags[#self.tags + 1] = tag
		self._tag[tag.id] = tag
	end
	self.tracks, self._track = {}, {}
	for k = 0, C.cp_ruleset_track_count(rs) - 1 do
		local track = {
			index = k,
			name = str(C.cp_ruleset_track_name(rs, k)),
			label = str(C.cp_ruleset_track_label(rs, k)),
			otherwise = M.stage_name(C.cp_ruleset_track_otherwise(rs, k)),
			rules = {},
		}
		for i = 0, C.cp_ruleset_track_rule_count(rs, k) - 1 do
			track.rules[#track.rules + 1] = {
				index = i,
				id = str(C.cp_ruleset_track_rule_id(rs, k, i)),
				stage = M.stage_name(C.cp_ruleset_track_rule_stage(rs, k, i)),
				expr = str(C.cp_ruleset_track_rule_expr(rs, k, i)),
			}
		end
		self.tracks[#self.tracks + 1] = track
		self._track[track.name] = track
	end
	self.metrics, self._metric = {}, {}
	for m = 0, C.cp_ruleset_metric_count(rs) - 1 do
		local metric = {
			index = m,
			id = str(C.cp_ruleset_metric_id(rs, m)),
			label = str(C.cp_ruleset_metric_label(rs, m)),
			type = TYPE_NAMES[C.cp_ruleset_metric_type(rs, m)],
			window = C.cp_ruleset_metric_window(rs, m),
		}
		self.metrics[#self.metrics + 1] = metric
		self._metric[metric.id] = metric
	end
	self.params = {}
	for i = 0, C.cp_ruleset_param_count(rs) - 1 do
		self.params[str(C.cp_ruleset_param_name(rs, i))] = str(C.cp_ruleset_param_value(rs, i))
	end
end

local function lookup(map, kind, key)
	local v = map[key]
	if not v then
		error(new_error(M.ENOTFOUND, "no " .. kind .. " '" .. tostring(key) .. "' in the ruleset"), 0)
	end
	return v
end

function Ruleset:tag(id) return lookup(self._tag, "tag", id) end
function Ruleset:track(name) return lookup(self._track, "track", name) end
function Ruleset:metric(id) return lookup(self._metric, "metric", id) end

local function stage_code(stage)
	return type(stage) == "number" and stage or M.stage_from_name(stage)
end

-- The label of a stage (name or code) from the packs (潜在流失).
function Ruleset:stage_label(stage)
	return str(C.cp_ruleset_stage_label(ptr(self), stage_code(stage)))
end

-- The value drivers acting on a stage ({"churn"}).
function Ruleset:stage_drivers(stage)
	local rs, code, out = ptr(self), stage_code(stage), {}
	for i = 0, C.cp_ruleset_stage_driver_count(rs, code) - 1 do
		out[#out + 1] = str(C.cp_ruleset_stage_driver(rs, code, i))
	end
	return out
end

-- A new Result: evaluation scratch space.
function Ruleset:result()
	local raw = construct("cp_result", C.cp_result_new, nil, nil, ptr(self))
	local r = own(setmetatable({ ruleset = self }, Result), raw, "cp_result *",
		C.cp_result_free, self)
	return r
end

-- evaluate(profile) or evaluate(store, key): a new Result.
function Ruleset:evaluate(target, key)
	return self:result():evaluate(target, key)
end

-- explain(store, key, {tag = id} or {track = name}), or explain(profile, nil, ...)
function Ruleset:explain(target, key, what)
	return self:evaluate(target, key):explain(what)
end

-- for profile, result in rules:scan(store) do ... end  (one Result reused)
function Ruleset:scan(store)
	local r = self:result()
	local next_profile = store:profiles()
	return function()
		local p = next_profile()
		if p == nil then
			r:close()
			return nil
		end
		return p, r:evaluate(p)
	end
end

-- ---- result -------------------------------------------------------------------

Result.close, Result.closed = close, is_closed

function Result:evaluate(target, key)
	local profile = target
	if getmetatable(target) == Store then
		profile = target:profile(key)
	end
	if getmetatable(profile) ~= Profile then
		error(new_error(M.EINVAL, "evaluate() takes a profile, or a store and a key"), 0)
	end
	check(C.cp_eval(ptr(self), profile:_view()), ptr(self))
	self.profile = profile
	self.key = profile.key
	return self
end

-- Fix the as-of date of months_since()/days_since() ("YYYY-MM-DD"), or
-- nil for the store's as-of month again.
function Result:set_as_of(date)
	if date == nil then
		C.cp_result_clear_as_of(ptr(self))
	else
		check(C.cp_result_set_as_of(ptr(self), date_days(date)), ptr(self))
	end
end

-- The applying tags (tables of ruleset.tags), in ruleset order.
function Result:tags()
	local res, out = ptr(self), {}
	for i = 0, C.cp_result_tag_count(res) - 1 do
		out[#out + 1] = self.ruleset.tags[C.cp_result_tag_at(res, i) + 1]
	end
	return out
end

function Result:tag_ids()
	local out = {}
	for _, t in ipairs(self:tags()) do
		out[#out + 1] = t.id
	end
	return out
end

function Result:has(id)
	return C.cp_result_tag(ptr(self), self.ruleset:tag(id).index) == 1
end

-- The stage of a track: {track, stage, code, label, rule, rule_index, expr,
-- drivers}; rule is "<track>.otherwise" (rule_index -1) when none applied.
function Result:stage(name)
	local track = self.ruleset:track(name)
	local res = ptr(self)
	local code = C.cp_result_stage(res, track.index)
	local i = C.cp_result_stage_rule(res, track.index)
	return {
		track = track.name,
		stage = M.stage_name(code),
		code = code,
		label = self.ruleset:stage_label(code),
		rule = str(C.cp_result_stage_rule_id(res, track.index)),
		rule_index = i,
		expr = i >= 0 and track.rules[i + 1].expr or "",
		drivers = self.ruleset:stage_drivers(code),
	}
end

function Result:stages()
	local out = {}
	for _, t in ipairs(self.ruleset.tracks) do
		out[#out + 1] = self:stage(t.name)
	end
	return out
end

-- A metric's value as text ("12.50", "[1, null, 3]", "null").
function Result:metric_text(id)
	local m = self.ruleset:metric(id)
	local size = 128
	while true do
		local buf = ffi.new("char[?]", size)
		local n = check(C.cp_result_metric_text(ptr(self), m.index, buf, size), ptr(self))
		if n < size then
			return ffi.string(buf, n)
		end
		size = n + 1
	end
end

-- A metric's value: nil, a number (money in yuan), a boolean, a date or
-- string; a window metric as its text.
function Result:metric(id)
	local m = self.ruleset:metric(id)
	local res = ptr(self)
	if C.cp_result_metric_is_null(res, m.index) == 1 then
		return nil
	end
	if m.window > 0 then
		return self:metric_text(id)
	end
	if m.type == "bool" then
		return C.cp_result_metric_int(res, m.index) ~= 0
	elseif m.type == "int" then
		return tonumber(C.cp_result_metric_int(res, m.index))
	elseif m.type == "money" then
		return tonumber(C.cp_result_metric_int(res, m.index)) / 100
	elseif m.type == "date" then
		return date_text(tonumber(C.cp_result_metric_int(res, m.index)))
	elseif m.type == "float" then
		return C.cp_result_metric_float(res, m.index)
	end
	local text = self:metric_text(id)
	return text:match("^'(.*)'$") or text
end

-- ---- explain -------------------------------------------------------------------

local Explain = {}
Explain.__index = Explain
Explain.__tostring = function(e) return e.text end

-- The lines of the text about one rule of a track ("" if none).
function Explain:section(rule_id)
	local lines = {}
	for line in (self.text .. ""):gmatch("([^\n]*)\n") do
		lines[#lines + 1] = line
	end
	local head = "  " .. rule_id .. " -> "
	for i, line in ipairs(lines) do
		if line:sub(1, #head) == head then
			local out = { line }
			local j = i + 1
			while lines[j] and lines[j]:sub(1, 4) == "    " do
				out[#out + 1] = lines[j]
				j = j + 1
			end
			return table.concat(out, "\n") .. "\n"
		end
	end
	return ""
end

-- Explain a tag ({tag = id}) or a track ({track = name}) for the profile
-- last evaluated: {text = indented tree, nodes = {...}}; each node has
-- index, parent, depth, kind, text, value, truth (true/false/nil; "n/a"
-- when not a truth value) and note.
function Result:explain(what)
	what = what or {}
	if (what.tag == nil) == (what.track == nil) then
		error(new_error(M.EINVAL, "explain{} takes tag = ID or track = NAME"), 0)
	end
	if not self.profile then
		misuse("explain() before evaluate()")
	end
	local out = ffi.new("cp_explain *[1]")
	local rc
	if what.tag then
		rc = C.cp_explain_tag(out, ptr(self), self.profile:_view(), self.ruleset:tag(what.tag).index)
	else
		rc = C.cp_explain_track(out, ptr(self), self.profile:_view(),
			self.ruleset:track(what.track).index)
	end
	check(rc, ptr(self))
	local ex = out[0]
	local truths = { [1] = true, [0] = false, [-1] = nil, [-2] = "n/a" }
	local e = setmetatable({ text = str(C.cp_explain_text(ex)), nodes = {} }, Explain)
	for i = 0, C.cp_explain_node_count(ex) - 1 do
		e.nodes[#e.nodes + 1] = {
			index = i,
			parent = C.cp_explain_node_parent(ex, i),
			depth = C.cp_explain_node_depth(ex, i),
			kind = EXPLAIN_KINDS[C.cp_explain_node_kind(ex, i)],
			text = str(C.cp_explain_node_text(ex, i)),
			value = str(C.cp_explain_node_value(ex, i)),
			truth = truths[C.cp_explain_node_truth(ex, i)],
			note = str(C.cp_explain_node_note(ex, i)),
		}
	end
	C.cp_explain_free(ex)
	return e
end

-- ---- batch: every profile of a store, on every core ------------------------

local CSV_SAFE, CSV_CRLF = 1, 2

-- A cp_batch_opts for opts.threads (0: one per processor) and
-- opts.progress(done, total) (return true to cancel); free after the run.
local function batch_opts(opts)
	local bo = construct("cp_batch_opts", C.cp_batch_opts_new)
	local cb
	local ok, err = pcall(function()
		check(C.cp_batch_opts_set_threads(bo, opts.threads or 0), bo)
		if opts.progress then
			cb = ffi.cast("cp_progress_fn", function(done, total)
				return opts.progress(tonumber(done), tonumber(total)) and 1 or 0
			end)
			check(C.cp_batch_opts_set_progress(bo, cb, nil), bo)
		end
	end)
	local function free()
		C.cp_batch_opts_free(bo)
		if cb then
			cb:free()
		end
	end
	if not ok then
		free()
		error(err, 0)
	end
	return bo, free
end

-- Call setter(handle, expr, ..., diag): an expression compiled with its
-- errors (named where, order or the column) in the diagnostics.
local function set_expr(setter, handle, expr, ...)
	local args = { ... }
	with_diag(function(d)
		args[#args + 1] = d
		local rc = setter(handle, expr, unpack(args))
		if rc ~= 0 then
			raise(rc, handle, diag_entries(d))
		end
	end)
end

local Selection = { _kind = "selection" }
Selection.__index = Selection
Selection.close, Selection.closed = close, is_closed

-- A target list (目标用户清单) of store.  opts: where (an expression, may use
-- tag() and stage()), order_by, desc, limit, columns (an array or "a,b";
-- "tags", "stage", "stage:TRACK", fields, metrics, expressions; default
-- the key), labels, threads, progress.  sel.matched, sel:count(),
-- sel.columns, sel:rows(), sel:csv(), sel:write_csv(path).
function Ruleset:select(store, opts)
	opts = opts or {}
	local raw = construct("cp_select", C.cp_select_new, nil, nil, ptr(self))
	local sel = own(setmetatable({ ruleset = self, store = store }, Selection), raw,
		"cp_select *", C.cp_select_free, self, store)
	local p = ptr(sel)
	local ok, err = pcall(function()
		if opts.where then
			set_expr(C.cp_select_set_where, p, opts.where)
		end
		if opts.order_by then
			set_expr(C.cp_select_set_order, p, opts.order_by, opts.desc and 1 or 0)
		end
		if opts.limit then
			check(C.cp_select_set_limit(p, opts.limit), p)
		end
		if opts.labels then
			check(C.cp_select_set_labels(p, 1), p)
		end
		local columns = opts.columns
		if type(columns) == "string" then
			local list = {}
			for c in columns:gmatch("[^,]+") do
				list[#list + 1] = c:match("^%s*(.-)%s*$")
			end
			columns = list
		end
		for _, column in ipairs(columns or {}) do
			set_expr(C.cp_select_add_column, p, column)
		end
		local bo, free = batch_opts(opts)
		local rc = C.cp_select_run(p, ptr(store), bo)
		free()
		check(rc, p)
	end)
	if not ok then
		close(sel)
		error(err, 0)
	end
	sel.matched = tonumber(C.cp_select_matched(p))
	sel.columns, sel._index = {}, {}
	for i = 0, C.cp_select_column_count(p) - 1 do
		local name = str(C.cp_select_column_name(p, i))
		sel.columns[#sel.columns + 1] = name
		sel._index[name] = i + 1
	end
	return sel
end

function Selection:count()
	return tonumber(C.cp_select_count(ptr(self)))
end

-- for row in sel:rows() do ... end: row.key, row.values (array of the
-- columns' text as CSV cells hold it, "" for null), row[column name].
function Selection:rows()
	local p = ptr(self)
	C.cp_select_rewind(p)
	local columns = self.columns
	return function()
		local rc = C.cp_select_next(ptr(self))
		if rc == M.DONE then
			return nil
		end
		check(rc, p)
		local row = { key = str(C.cp_select_key(p)), values = {} }
		for i, name in ipairs(columns) do
			local v = str(C.cp_select_value(p, i - 1))
			row.values[i] = v
			row[name] = v
		end
		return row
	end
end

local function csv_flags(opts)
	opts = opts or {}
	return (opts.safe == false and 0 or CSV_SAFE) + (opts.crlf and CSV_CRLF or 0)
end

-- The list as CSV text (opts: safe = false, crlf = true).
function Selection:csv(opts)
	local p, flags = ptr(self), csv_flags(opts)
	local parts = { str(C.cp_select_csv_header(p, flags)) }
	C.cp_select_rewind(p)
	while true do
		local rc = C.cp_select_next(p)
		if rc == M.DONE then
			break
		end
		check(rc, p)
		parts[#parts + 1] = str(C.cp_select_csv_row(p, flags))
	end
	return table.concat(parts)
end

function Selection:write_csv(path, opts)
	check(C.cp_select_write_csv(ptr(self), path, csv_flags(opts)), ptr(self))
end

-- Counts of store: {total, tags = {id = n}, stages = {track = {stage = n}},
-- dims = {{name, label, categories = {{name, label, null, total}}}},
-- cell(row, col)}.  opts: by (a dimension or an array of up to two:
-- "region", "tag", "stage:crbt", "group:gprs.attr", an expression), where,
-- threads, progress.
function Ruleset:count(store, opts)
	opts = opts or {}
	local by = opts.by or {}
	if type(by) == "string" then
		by = { by }
	end
	local c = construct("cp_counts", C.cp_counts_new, nil, nil, ptr(self))
	local ok, result = pcall(function()
		if opts.where then
			set_expr(C.cp_counts_set_where, c, opts.where)
		end
		for _, dim in ipairs(by) do
			set_expr(C.cp_counts_add_dim, c, dim)
		end
		local bo, free = batch_opts(opts)
		local rc = C.cp_counts_run(c, ptr(store), bo)
		free()
		check(rc, c)
		local out = { total = tonumber(C.cp_counts_total(c)), tags = {}, stages = {}, dims = {},
			cells = {} }
		for _, t in ipairs(self.tags) do
			out.tags[t.id] = tonumber(C.cp_counts_tag(c, t.index))
		end
		for _, tr in ipairs(self.tracks) do
			out.stages[tr.name] = {}
			for code = 0, #M.STAGES do
				out.stages[tr.name][M.STAGES[code]] = tonumber(C.cp_counts_stage(c, tr.index, code))
			end
		end
		for d = 0, C.cp_counts_dim_count(c) - 1 do
			local dim = { name = str(C.cp_counts_dim_name(c, d)),
				label = str(C.cp_counts_dim_label(c, d)), categories = {} }
			for i = 0, tonumber(C.cp_counts_category_count(c, d)) - 1 do
				dim.categories[#dim.categories + 1] = {
					name = str(C.cp_counts_category_name(c, d, i)),
					label = str(C.cp_counts_category_label(c, d, i)),
					null = C.cp_counts_category_is_null(c, d, i) == 1,
					total = tonumber(C.cp_counts_category_total(c, d, i)),
				}
			end
			out.dims[#out.dims + 1] = dim
		end
		local rows = out.dims[1] and #out.dims[1].categories or 0
		local cols = out.dims[2] and #out.dims[2].categories or 1
		for r = 1, rows do
			out.cells[r] = {}
			for k = 1, cols do
				out.cells[r][k] = tonumber(C.cp_counts_cell(c, r - 1, k - 1))
			end
		end
		return out
	end)
	C.cp_counts_free(c)
	if not ok then
		error(result, 0)
	end
	-- cell(row, col): by category name or 1-based index
	function result.cell(row, col)
		local function index(dim, key)
			if type(key) == "number" then
				return key
			end
			for i, cat in ipairs(result.dims[dim].categories) do
				if cat.name == key then
					return i
				end
			end
			error(new_error(M.ENOTFOUND, "no category '" .. tostring(key) .. "' in "
				.. result.dims[dim].name), 0)
		end
		return result.cells[index(1, row)][result.dims[2] and index(2, col) or 1]
	end
	return result
end

local TagTable = { _kind = "tag table" }
TagTable.__index = TagTable
TagTable.close, TagTable.closed = close, is_closed

-- The tags and stages of every profile of store (opts: threads, progress):
-- t:count(), t:key(i), t:tag_ids(i), t:has(i, id), t:stage(i, track);
-- rows count from 1.
function Ruleset:tag_all(store, opts)
	local raw = construct("cp_tagtable", C.cp_tagtable_new, nil, nil, ptr(self))
	local t = own(setmetatable({ ruleset = self }, TagTable), raw, "cp_tagtable *",
		C.cp_tagtable_free, self)
	local bo, free = batch_opts(opts or {})
	local rc = C.cp_tagtable_build(ptr(t), ptr(store), bo)
	free()
	check(rc, ptr(t))
	return t
end

function TagTable:count() return tonumber(C.cp_tagtable_count(ptr(self))) end

function TagTable:_row(i)
	if i < 1 or i > self:count() then
		error(new_error(M.EINVAL, "no row " .. tostring(i) .. " (1.." .. self:count() .. ")"), 0)
	end
	return i - 1
end

function TagTable:key(i) return str(C.cp_tagtable_key(ptr(self), self:_row(i))) end

function TagTable:tag_ids(i)
	local p, row, out = ptr(self), self:_row(i), {}
	local k = C.cp_tagtable_next_tag(p, row, 0)
	while k >= 0 do
		out[#out + 1] = self.ruleset.tags[k + 1].id
		k = C.cp_tagtable_next_tag(p, row, k + 1)
	end
	return out
end

function TagTable:has(i, id)
	return C.cp_tagtable_tag(ptr(self), self:_row(i), self.ruleset:tag(id).index) == 1
end

function TagTable:stage(i, track)
	return M.stage_name(C.cp_tagtable_stage(ptr(self), self:_row(i),
		self.ruleset:track(track).index))
end

local Query = { _kind = "query" }
Query.__index = Query
Query.close, Query.closed = close, is_closed

-- One expression compiled against the ruleset: q:value(profile) or
-- q:value(store, key); q:text(...) as a CSV cell; q.type, q.window.
function Ruleset:query(expr, name)
	return with_diag(function(d)
		local raw = construct("cp_query", C.cp_query_compile, d, nil, ptr(self), expr, name, d)
		local q = own(setmetatable({ expr = expr }, Query), raw, "cp_query *", C.cp_query_free,
			self)
		q.type = TYPE_NAMES[C.cp_query_type(raw)]
		q.window = C.cp_query_window(raw)
		-- evaluation scratch from the query's own ruleset, freed before it
		local res = construct("cp_result", C.cp_result_new, nil, nil, C.cp_query_ruleset(raw))
		q._res = own({ _kind = "result" }, res, "cp_result *", C.cp_result_free, q)
		return q
	end)
end

function Query:_eval(target, key)
	local profile = target
	if getmetatable(target) == Store then
		profile = target:profile(key)
	end
	local res = ptr(self._res)
	check(C.cp_eval(res, profile:_view()), res)
	return res
end

function Query:text(target, key)
	local res = self:_eval(target, key)
	local size = 128
	while true do
		local buf = ffi.new("char[?]", size)
		local n = check(C.cp_query_value_text(ptr(self), res, buf, size), ptr(self))
		if n < size then
			return ffi.string(buf, n)
		end
		size = n + 1
	end
end

-- nil for null; a boolean, number (money in yuan), date or string; a
-- window as its text (elements joined by ';').
function Query:value(target, key)
	local res = self:_eval(target, key)
	local q = ptr(self)
	if C.cp_query_is_null(q, res) == 1 then
		return nil
	end
	local t = self.type
	if self.window > 0 or t == "string" or t == "enum" or t == "set" or t == "list" then
		return self:text(target, key)
	elseif t == "bool" then
		return C.cp_query_int(q, res) ~= 0
	elseif t == "int" then
		return tonumber(C.cp_query_int(q, res))
	elseif t == "money" then
		return tonumber(C.cp_query_int(q, res)) / 100
	elseif t == "date" then
		return date_text(tonumber(C.cp_query_int(q, res)))
	end
	return C.cp_query_float(q, res)
end

M.Schema, M.Store, M.Profile, M.Ruleset, M.Result, M.Explain = Schema, Store, Profile, Ruleset,
	Result, Explain
M.Selection, M.TagTable, M.Query = Selection, TagTable, Query

return M
