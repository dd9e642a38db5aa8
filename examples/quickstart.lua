-- quickstart.lua — tags, stages and why, for one number; then a target list.
-- luajit quickstart.lua subscribers.cps 13800138000
local cp = require("custprof")

local store = cp.open(arg[1])
local rules = cp.ruleset(store)                       -- the built-in rule packs
local r = rules:evaluate(store, arg[2])
for _, tag in ipairs(r:tags()) do
	print("tag " .. tag.id .. " " .. tag.label)
end
for _, s in ipairs(r:stages()) do
	print(string.format("%s: %s (%s)", s.track, s.stage, s.rule))
end
io.write(r:explain({ track = "crbt" }).text)
local list = rules:select(store, { where = "stage('crbt') == 'churned'",
	order_by = "arpu", desc = true, limit = 10 })
for row in list:rows() do
	print("call " .. row.key)
end
