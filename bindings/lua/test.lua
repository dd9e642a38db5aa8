-- test.lua — tests of the LuaJIT binding (run by tests/lua.sh):
--   CUSTPROF_LIB=lib/.libs/libcustprof.so luajit bindings/lua/test.lua
local dir = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
package.path = dir .. "/?.lua;" .. package.path
local cp = require("custprof")

local failures, count = 0, 0

local function test(name, f)
	count = count + 1
	local ok, err = xpcall(f, function(e)
		return (cp.is_error(e) and tostring(e) or tostring(e)) .. "\n" .. debug.traceback()
	end)
	if ok then
		print("ok " .. count .. " - " .. name)
	else
		failures = failures + 1
		print("not ok " .. count .. " - " .. name)
		print("# " .. err:gsub("\n", "\n# "))
	end
end

local function eq(got, want, what)
	if got ~= want then
		error(string.format("%s: got %s, want %s", what or "value", tostring(got),
			tostring(want)), 2)
	end
end

local function contains(s, part, what)
	if type(s) ~= "string" or not s:find(part, 1, true) then
		error(string.format("%s: %q does not contain %q", what or "text", tostring(s), part), 2)
	end
end

-- The error f(...) raises; fails when it raises none or not a library error.
local function raises(f, ...)
	local ok, err = pcall(f, ...)
	if ok then
		error("no error raised", 2)
	end
	if not cp.is_error(err) then
		error("not a custprof error: " .. tostring(err), 2)
	end
	return err
end

local HEAVY, CHURNED, NEW = "13800000001", "13800000002", "13800000003"

local CSV = "msisdn,brand,arpu_m0,arpu_m1,status,join_date\n"
	.. "13800000002,szx,12.50,13,closed,2019-05-01\n"
	.. "13800000003,mzone,30,,active,2026-09-15\n"
	.. "13800000004,nokia,1,1,active,2020-01-01\n"

local function fixture()
	local store = cp.store_new(nil, "2026-10")
	store:put({
		msisdn = "+86" .. HEAVY, name = "张三", region = "福州", brand = "gotone",
		status = "active", join_date = "2015-03-01",
		arpu = { "88.50", 90, "91.20", 80, 85, 86 },
		web_sessions = { 20, 25, 30, 22, 21, 40 },
		gprs_mb = { 5.5, 6, 7, 8, 9, 10 },
		crbt_subscribed = { false, true, true, true, true, true },
		crbt_unsubscribed = "2026-10-02",
		fav_content_types = { "流行", "DJ" },
		churn_score = 0.2,
	})
	local report = store:load_csv_text(CSV, "export.csv")
	return store, report
end

local store, report = fixture()
local rules = cp.ruleset(store)

test("version and library", function()
	assert(cp.version():match("^%d+%.%d+%.%d+$"))
	assert(cp.library_path)
end)

test("schema", function()
	local schema = store:schema()
	eq(schema:name(), "cmcc-default")
	eq(schema:months(), 6)
	eq(schema:key(), "msisdn")
	local arpu = schema:field("arpu")
	eq(arpu.type, "money")
	eq(arpu.series, true)
	eq(arpu.months, 6)
	eq(schema:field("brand").labels.szx, "神州行")
	eq(schema:field("name").personal, true)
	local err = raises(schema.field, schema, "arpuu")
	eq(err.code, cp.ENOTFOUND)
	eq(err.name, "CP_ENOTFOUND")
end)

test("schema from YAML and its diagnostics", function()
	local good = "custprof: 1\nschema: tiny\nmonths: 3\nkey: msisdn\nfields:\n"
		.. "  msisdn: {type: string, normalize: msisdn-cn}\n"
		.. "  spend: {type: money, series: true}\n"
	local schema = cp.schema_from_yaml(good, "tiny.yaml")
	eq(schema:months(), 3)
	local s = cp.store_new(schema)
	schema:close()   -- the store keeps its own reference
	s:put({ msisdn = "13900000000", spend = { 1, 2.5, cp.null } })
	local series = s:profile("13900000000"):series("spend")
	eq(series[1], 1)
	eq(series[2], 2.5)
	eq(series[3], nil)
	eq(series.n, 3)
	s:close()
	local err = raises(cp.schema_from_yaml, good:gsub("type: money", "type: moneyy"), "bad.yaml")
	local d = err.diagnostics[1]
	eq(d.file, "bad.yaml")
	eq(d.line, 7)
	eq(d.severity, "error")
	assert(d.column > 0)
	contains(d.message, "moneyy")
	contains(tostring(err), "bad.yaml:7:")
end)

test("load report", function()
	eq(report.rows, 3)
	eq(report.loaded, 2)
	eq(report.rejected, 1)
	eq(report.rejects[1].line, 4)
	eq(report.rejects[1].column, "brand")
	contains(report.rejects[1].reason, "nokia")
	eq(store:count(), 3)
end)

test("profile values", function()
	local p = store:profile(HEAVY)
	eq(p.key, HEAVY)
	eq(p:get("arpu"), 88.5)
	eq(p:fen("arpu", 2), 9120)
	eq(p:get("web_sessions", 5), 40)
	eq(p:get("gprs_mb", 1), 6)
	eq(p:get("crbt_subscribed"), false)
	eq(p:get("crbt_subscribed", 1), true)
	eq(p:get("join_date"), "2015-03-01")
	eq(p:get("fav_content_types")[2], "DJ")
	eq(p:label("brand"), "全球通")
	eq(p:get("age"), nil)
	eq(p:text("arpu", 1), "90")
	eq(p:text("age"), "")
	eq(store:profile(NEW):get("arpu", 1), nil)
end)

test("missing keys", function()
	local p, err = store:get("13800000099")
	eq(p, nil)
	eq(err.code, cp.ENOTFOUND)
	contains(err.message, "13800000099")
	raises(store.profile, store, "13800000099")
	eq(raises(store.delete, store, "13800000099").code, cp.ENOTFOUND)
end)

test("put errors name the field", function()
	local err = raises(store.put, store, { msisdn = "13800000005", arpu = "1.234" })
	eq(err.code, cp.ETYPE)
	contains(err.message, "arpu")
	raises(store.put, store, { msisdn = "13800000005", arpuu = 1 })
	eq(store:get("13800000005"), nil)
end)

test("a profile follows changes of its store", function()
	local s = fixture()
	local p = s:profile(HEAVY)
	eq(s:put({ msisdn = HEAVY, arpu = { 1 } }), true)
	eq(p:get("arpu"), 1)
	s:delete(HEAVY)
	eq(raises(p.get, p, "arpu").code, cp.ENOTFOUND)
	s:close()
end)

test("iteration", function()
	local keys = {}
	for p in store:profiles() do
		keys[#keys + 1] = p.key
	end
	table.sort(keys)
	eq(table.concat(keys, ","), table.concat({ HEAVY, CHURNED, NEW }, ","))
end)

test("snapshots", function()
	local path = os.tmpname()
	store:save(path)
	cp.verify_snapshot(path)
	local opened = cp.open(path)
	eq(opened:count(), 3)
	eq(opened:as_of(), 202610)
	eq(opened:profile(HEAVY):get("gprs_mb", 5), 10)
	opened:close()
	local f = io.open(path, "r+b")
	local size = f:seek("end")
	f:seek("set", math.floor(size / 2))
	local byte = f:read(1)
	f:seek("set", math.floor(size / 2))
	f:write(string.char((byte:byte() + 1) % 256))
	f:close()
	local err = raises(cp.verify_snapshot, path)
	eq(err.code, cp.ECORRUPT)
	assert(#err.diagnostics > 0)
	os.remove(path)
	contains(raises(cp.open, path .. ".none").message, ".none")
end)

test("ruleset introspection", function()
	local heavy = rules:tag("gprs.heavy")
	eq(heavy.label, "重度消费型")
	eq(heavy.pack, "gprs")
	eq(heavy.group, "gprs.attr")
	eq(rules:track("crbt").otherwise, "maturity")
	eq(rules:stage_label("churn_risk"), "潜在流失")
	eq(rules:stage_drivers("churned")[1], "churn")
	eq(rules.params["lifecycle.churn_score"], "0.6")
	eq(raises(rules.tag, rules, "gprs.nope").code, cp.ENOTFOUND)
	eq(cp.stage_name(7), "churn_risk")
	eq(cp.stage_from_name("bad_debt"), 10)
	eq(cp.STAGES[8], "churned")
end)

test("tags, stages and explain", function()
	local r = rules:evaluate(store, HEAVY)
	local ids = table.concat(r:tag_ids(), " ")
	contains(ids, "gprs.heavy")
	eq(r:has("gprs.heavy"), true)
	eq(r:has("gprs.silent"), false)
	local s = r:stage("crbt")
	eq(s.stage, "churned")
	eq(s.rule, "crbt.churned")
	eq(s.code, 8)
	eq(s.label, "已流失")
	contains(s.expr, "crbt_subscribed")
	eq(r:stages()[1].track, "subscriber")
	eq(rules:evaluate(store:profile(CHURNED)):stage("subscriber").stage, "churned")
	eq(rules:evaluate(store, NEW):stage("subscriber").stage, "acquisition")
	local ex = r:explain({ tag = "gprs.heavy" })
	eq(ex.text:sub(1, 17), "gprs.heavy = true")
	contains(ex.text, "web_sessions[0..5] = [20, 25, 30, 22, 21, 40]")
	eq(ex.nodes[1].kind, "tag")
	eq(ex.nodes[1].truth, true)
	eq(ex.nodes[1].parent, -1)
	local tr = rules:explain(store, HEAVY, { track = "crbt" })
	local section = tr:section("crbt.churned")
	eq(section:sub(1, 26), "  crbt.churned -> churned ")
	assert(not section:find("crbt.prospect", 1, true))
	eq(tr:section("crbt.nope"), "")
	eq(raises(r.explain, r, {}).code, cp.EINVAL)
	eq(raises(rules.evaluate, rules, store, "13800000099").code, cp.ENOTFOUND)
end)

test("params, metrics and compile errors", function()
	local pack = "custprof: 1\npack: t\nparams:\n  min: 10\nmetrics:\n"
		.. "  - id: web6\n    expr: sum(web_sessions[0..5])\n"
		.. "  - id: arpu0\n    expr: arpu[0]\n"
		.. "tags:\n  - id: t.busy\n    when: web6 > $min\n"
	local rs = cp.ruleset(store, { sources = { ["t.yaml"] = pack } })
	local r = rs:evaluate(store, HEAVY)
	eq(table.concat(r:tag_ids(), " "), "t.busy")
	eq(r:metric("web6"), 158)
	eq(r:metric("arpu0"), 88.5)
	eq(r:metric_text("arpu0"), "88.50")
	local strict = cp.ruleset(store, { sources = { ["t.yaml"] = pack }, params = { ["t.min"] = 1000 } })
	eq(#strict:evaluate(store, HEAVY):tag_ids(), 0)
	local bad = "custprof: 1\npack: b\ntags:\n  - id: b.one\n    when: arpuu > 3\n"
		.. "  - id: b.two\n    when: brand == 'nokia'\n"
	local err = raises(cp.ruleset, store, { sources = { ["b.yaml"] = bad } })
	local errors = {}
	for _, d in ipairs(err.diagnostics) do
		if d.severity == "error" then
			errors[#errors + 1] = d
		end
	end
	eq(#errors, 2)
	eq(errors[1].line, 5)
	eq(errors[1].column, 11)
	contains(errors[1].message, "did you mean 'arpu'")
	eq(errors[2].line, 7)
	contains(err.message, "the rules do not compile: ")
	eq(raises(cp.ruleset, store, { packs = { "/nonexistent/x.yaml" } }).code, cp.ENOTFOUND)
end)

test("scan", function()
	local stages = {}
	for p, r in rules:scan(store) do
		stages[p.key] = r:stage("subscriber").stage
	end
	eq(stages[NEW], "acquisition")
	eq(stages[CHURNED], "churned")
end)

test("as-of override", function()
	local r = rules:result()
	r:set_as_of("2027-06-30")
	eq(r:evaluate(store, NEW):stage("subscriber").stage, "growth")
	r:set_as_of(nil)
	eq(r:evaluate(store, NEW):stage("subscriber").stage, "acquisition")
	eq(raises(r.set_as_of, r, "2027-02-30").code, cp.EINVAL)
end)

test("select", function()
	local sel = rules:select(store, { where = "status == 'active' or status == 'closed'",
		order_by = "arpu", desc = true, limit = 2,
		columns = { "msisdn", "arpu", "stage:subscriber", "tags" } })
	eq(sel.matched, 3)
	eq(sel:count(), 2)
	eq(table.concat(sel.columns, ","), "msisdn,arpu,stage:subscriber,tags")
	local rows = {}
	for row in sel:rows() do
		rows[#rows + 1] = row
	end
	eq(#rows, 2)
	eq(rows[1].key, HEAVY)
	eq(rows[1].arpu, "88.50")
	eq(rows[2].key, NEW)
	eq(rows[2].values[3], "acquisition")
	contains(rows[1].tags, "gprs.heavy")
	local csv = sel:csv()
	eq(csv:match("^[^\n]*"), "msisdn,arpu,stage:subscriber,tags")
	contains(csv, "\n" .. HEAVY .. ",88.50,")
	local path = os.tmpname()
	sel:write_csv(path)
	local f = io.open(path)
	eq(f:read("*a"), csv)
	f:close()
	os.remove(path)
	local churned = rules:select(store, { where = "stage('crbt') == 'churned'",
		columns = "msisdn, fav_content_types" })
	local got = {}
	for row in churned:rows() do
		got[#got + 1] = row.key .. "=" .. row.fav_content_types
	end
	eq(table.concat(got, " "), HEAVY .. "=流行;DJ")
	local labelled = rules:select(store, { where = "tag('gprs.heavy')", columns = "brand",
		labels = true })
	eq(labelled.columns[1], "品牌")
	eq(labelled:rows()().values[1], "全球通")
	local err = raises(rules.select, rules, store, { where = "arpuu > 1" })
	eq(err.diagnostics[1].file, "where")
	eq(err.diagnostics[1].column, 1)
	contains(err.diagnostics[1].message, "did you mean 'arpu'")
	eq(raises(rules.select, rules, store, { progress = function() return true end }).code,
		cp.ECANCELED)
end)

test("counts, tag table and queries", function()
	local c = rules:count(store, { by = { "brand", "stage:subscriber" } })
	eq(c.total, 3)
	eq(c.tags["gprs.heavy"], 1)
	eq(c.stages.subscriber.acquisition, 1)
	eq(c.dims[1].categories[1].name, "gotone")
	eq(c.dims[1].categories[1].label, "全球通")
	eq(c.cell("mzone", "acquisition"), 1)
	eq(c.cell("szx", "churned"), 1)
	eq(c.cell("gotone", "acquisition"), 0)
	eq(rules:count(store, { by = "region", where = "brand == 'gotone'" }).cell("福州"), 1)
	local t = rules:tag_all(store, { threads = 2 })
	eq(t:count(), 3)
	local row
	for i = 1, t:count() do
		if t:key(i) == HEAVY then
			row = i
		end
	end
	assert(row, "no row of " .. HEAVY)
	eq(t:has(row, "gprs.heavy"), true)
	eq(t:stage(row, "crbt"), "churned")
	eq(table.concat(t:tag_ids(row), " "), table.concat(rules:evaluate(store, HEAVY):tag_ids(), " "))
	eq(raises(t.key, t, 4).code, cp.EINVAL)
	local q = rules:query("sum(web_sessions[0..2])")
	eq(q.type, "int")
	eq(q:value(store, HEAVY), 75)
	eq(q:value(store, NEW), nil)
	eq(rules:query("stage('crbt')"):value(store:profile(HEAVY)), "churned")
	eq(rules:query("arpu[0..1]"):text(store, HEAVY), "88.50;90")
	eq(raises(rules.query, rules, "sum(nope)", "q").diagnostics[1].file, "q")
end)

test("closing an owner makes its dependents unusable", function()
	local s = fixture()
	local rs = cp.ruleset(s)
	local p = s:profile(HEAVY)
	local r = rs:evaluate(p)
	local sel = rs:select(s)
	rs:close()
	eq(r:closed(), true)
	eq(sel:closed(), true)
	eq(raises(r.tags, r).code, cp.EMISUSE)
	s:close()
	eq(p:closed(), true)
	local err = raises(p.get, p, "arpu")
	eq(err.code, cp.EMISUSE)
	contains(err.message, "closed store")
	s:close()  -- twice is fine
	p, r = nil, nil
	collectgarbage()
	collectgarbage()
end)

test("garbage collection frees in a safe order", function()
	for _ = 1, 50 do
		local s = fixture()
		local rs = cp.ruleset(s)
		for p, r in rs:scan(s) do
			local _ = r:tag_ids()
		end
		local keep = { s:profile(HEAVY), rs:evaluate(s, NEW) }
		s, rs = nil, nil
		collectgarbage()
		eq(keep[1]:get("brand"), "gotone")
		eq(keep[2]:stage("subscriber").stage, "acquisition")
	end
	collectgarbage()
end)

rules:close()
store:close()
print(string.format("1..%d", count))
if failures > 0 then
	print(string.format("# %d of %d failed", failures, count))
	os.exit(1)
end
