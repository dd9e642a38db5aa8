#!/usr/bin/env luajit
--[[
callcenter.lua — an outbound list for the call center (外呼) and the call
script for each customer: churned ringback-tone (彩铃) users of a region,
highest ARPU first, with their favourite content types and recent tones.

  callcenter.lua STORE.cps [REGION] [LIMIT]      ("" for every region)

Needs custprof.lua (bindings/lua) on package.path, e.g.
LUA_PATH='bindings/lua/?.lua;;', and the library (CUSTPROF_LIB=...).
--]]
local cp = require("custprof")

local path, region, limit = arg[1], arg[2], tonumber(arg[3] or 10)
if region == "" then
	region = nil  -- every region
end
if not path then
	io.stderr:write("usage: callcenter.lua STORE.cps [REGION] [LIMIT]\n")
	os.exit(2)
end

local where = "stage('crbt') == 'churned' and not coalesce(do_not_disturb, false)"
if region then
	assert(not region:find("'", 1, true), "a quote in the region")
	where = where .. " and region == '" .. region .. "'"
end

local ok, err = pcall(function()
	local store = cp.open(path)
	local rules = cp.ruleset(store)
	local targets = rules:select(store, { where = where, order_by = "arpu", desc = true,
		limit = limit, columns = "msisdn,region,arpu" })
	print(string.format("外呼清单: %d 位已流失的彩铃用户%s，按ARPU从高到低，取前 %d 位\n",
		targets.matched, region and ("（" .. region .. "）") or "", targets:count()))
	local n = 0
	for row in targets:rows() do
		n = n + 1
		local profile = store:profile(row.key)
		local stage = rules:evaluate(profile):stage("crbt")
		local favs = profile:get("fav_content_types") or {}
		local tones = profile:get("recent_tones") or {}
		print(string.format("[%d] %s  %s  ARPU %s 元  彩铃: %s (%s)", n, row.key, row.region,
			row.arpu ~= "" and row.arpu or "-", stage.label, stage.rule))
		print("    您好，这里是中国移动10086。您的彩铃业务目前已停用，我们为您准备了回归优惠：")
		print("    本月重新开通彩铃，首月功能费全免。")
		print(#favs > 0 and "    根据您喜欢的" .. table.concat(favs, "、") .. "类铃音，为您推荐本周新歌。"
			or "    为您推荐本周最热门的铃音。")
		print(#tones > 0 and "    您最近下载的铃音（编号 " .. table.concat(tones, "、") .. "）可一键恢复。"
			or "    开通后回复编号即可设置铃音。")
		print()
	end
	rules:close()
	store:close()
end)
if not ok then
	io.stderr:write("callcenter.lua: ", tostring(err), "\n")
	os.exit(1)
end
