# quickstart.py — tags, stages and why, for one number; then a target list.
# python3 quickstart.py subscribers.cps 13800138000
import sys
import custprof

store = custprof.Store.open(sys.argv[1])
rules = custprof.Ruleset(store)                       # the built-in rule packs
r = rules.evaluate(store, sys.argv[2])
for tag in r.tags:
    print("tag", tag.id, tag.label)
for s in r.stages:
    print("%s: %s (%s)" % (s.track, s.stage, s.rule))
print(r.explain(track="crbt"), end="")
for row in rules.select(store, where="stage('crbt') == 'churned'",
                        order_by="arpu", desc=True, limit=10):
    print("call", row.key)
