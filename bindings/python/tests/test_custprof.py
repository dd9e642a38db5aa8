"""Tests of the Python binding against the library it finds (CUSTPROF_LIB).

Run: CUSTPROF_LIB=lib/.libs/libcustprof.so PYTHONPATH=bindings/python \
     /usr/bin/python3 -m unittest discover -s bindings/python/tests
"""

import datetime
import decimal
import gc
import os
import shutil
import tempfile
import threading
import unittest
import weakref

import custprof

HEAVY = "13800000001"     # gprs.heavy, crbt churned
CHURNED = "13800000002"   # crbt churned (unsubscribed), subscriber closed
NEW = "13800000003"       # joined last month

# A subscriber who used mobile internet heavily every month, had ringback
# tones until last month and unsubscribed.
HEAVY_PROFILE = {
    "msisdn": "+86" + HEAVY,
    "name": "张三",
    "region": "福州",
    "brand": "gotone",
    "status": "active",
    "join_date": datetime.date(2015, 3, 1),
    "arpu": [decimal.Decimal("88.50"), 90, "91.20", 80, 85, 86],
    "web_sessions": [20, 25, 30, 22, 21, 40],
    "gprs_mb": [5.5, 6, 7, 8, 9, 10],
    "crbt_subscribed": [False, True, True, True, True, True],
    "crbt_unsubscribed": "2026-10-02",
    "fav_content_types": ["流行", "DJ"],
    "addon_plans": ["来电显示", "彩铃"],
    "churn_score": 0.2,
}

CSV = (
    "msisdn,brand,arpu_m0,arpu_m1,status,join_date\n"
    "13800000002,szx,12.50,13,closed,2019-05-01\n"
    "13800000003,mzone,30,,active,2026-09-15\n"
    "13800000004,nokia,1,1,active,2020-01-01\n"       # line 4: brand not listed
)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cp-py-")
        self.store = custprof.Store(as_of="2026-10")
        self.store.put(HEAVY_PROFILE)
        self.report = self.store.load_csv_text(CSV, name="export.csv")
        self.rules = custprof.Ruleset(self.store.schema)

    def tearDown(self):
        self.rules.close()
        self.store.close()
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)


class TestLibrary(Base):
    def test_version_and_path(self):
        self.assertRegex(custprof.version(), r"^\d+\.\d+\.\d+$")
        self.assertTrue(custprof.LIBRARY_PATH)

    def test_declared_function_missing_from_library_raises(self):
        from custprof import _lib
        stub = _lib._absent("cp_not_there")
        with self.assertRaises(custprof.Error) as cm:
            stub()
        self.assertIn("cp_not_there is not in the loaded libcustprof", str(cm.exception))


class TestSchema(Base):
    def test_default_schema(self):
        schema = self.store.schema
        self.assertEqual(schema.name, "cmcc-default")
        self.assertEqual(schema.months, 6)
        self.assertEqual(schema.key, "msisdn")
        arpu = schema.field("arpu")
        self.assertEqual((arpu.type, arpu.series, arpu.months, arpu.label),
                         ("money", True, 6, "ARPU"))
        brand = schema.field("brand")
        self.assertTrue(brand.closed)
        self.assertEqual(brand.value_label("szx"), "神州行")
        self.assertIn(("gotone", "全球通"), brand.values)
        self.assertTrue(schema.field("name").personal)
        self.assertEqual(schema.field("recent_tones").max_items, 3)
        self.assertIn("msisdn", schema)
        self.assertNotIn("nope", schema)
        self.assertIn("schema: cmcc-default", schema.source)

    def test_unknown_field(self):
        with self.assertRaises(custprof.NotFoundError) as cm:
            self.store.schema.field("arpuu")
        self.assertEqual(cm.exception.code, -7)
        self.assertEqual(cm.exception.name, "CP_ENOTFOUND")

    def test_schema_from_yaml_and_its_errors(self):
        good = ("custprof: 1\nschema: tiny\nmonths: 3\nkey: msisdn\nfields:\n"
                "  msisdn: {type: string, normalize: msisdn-cn}\n"
                "  spend: {type: money, series: true}\n")
        with custprof.Schema.from_yaml(good, name="tiny.yaml") as schema:
            self.assertEqual((schema.name, schema.months, len(schema.fields)), ("tiny", 3, 2))
            store = custprof.Store(schema)
        schema_closed = schema.closed
        self.assertTrue(schema_closed)
        # the store keeps its own reference to the schema
        store.put({"msisdn": "13900000000", "spend": [1, 2, 3]})
        self.assertEqual(store["13900000000"].series("spend"),
                         [decimal.Decimal("1.00"), decimal.Decimal("2.00"),
                          decimal.Decimal("3.00")])
        store.close()
        bad = good.replace("type: money", "type: moneyy")
        with self.assertRaises(custprof.Error) as cm:
            custprof.Schema.from_yaml(bad, name="bad.yaml")
        err = cm.exception
        self.assertTrue(err.diagnostics)
        d = err.diagnostics[0]
        self.assertEqual((d.file, d.line, d.severity), ("bad.yaml", 7, "error"))
        self.assertGreater(d.column, 0)
        self.assertIn("moneyy", d.message)
        self.assertEqual(err.message, d.message)
        self.assertTrue(str(d).startswith("bad.yaml:7:%d: error: " % d.column))

    def test_schema_file_missing(self):
        with self.assertRaises(custprof.Error) as cm:
            custprof.Schema.load(self.path("missing.yaml"))
        self.assertIn(cm.exception.code, (-4, -7))
        self.assertIn("missing.yaml", str(cm.exception))


class TestStore(Base):
    def test_load_report(self):
        r = self.report
        self.assertEqual((r.rows, r.loaded, r.rejected, r.duplicates), (3, 2, 1, 0))
        self.assertEqual(len(r.rejects), 1)
        line, column, reason = r.rejects[0]
        self.assertEqual((line, column), (4, "brand"))
        self.assertIn("nokia", reason)
        self.assertEqual(len(self.store), 3)

    def test_values(self):
        p = self.store[HEAVY]              # the +86 form was normalized
        self.assertEqual(p.key, HEAVY)
        self.assertEqual(p["arpu"], decimal.Decimal("88.50"))
        self.assertEqual(p["arpu", 2], decimal.Decimal("91.20"))
        self.assertEqual(p.fen("arpu", 2), 9120)
        self.assertEqual(p.series("web_sessions"), [20, 25, 30, 22, 21, 40])
        self.assertEqual(p["gprs_mb", 1], 6.0)
        self.assertIs(p["crbt_subscribed"], False)
        self.assertIs(p["crbt_subscribed", 1], True)
        self.assertEqual(p["join_date"], datetime.date(2015, 3, 1))
        self.assertEqual(p["crbt_unsubscribed"], datetime.date(2026, 10, 2))
        self.assertEqual(p["fav_content_types"], ["流行", "DJ"])
        self.assertEqual(sorted(p["addon_plans"]), ["彩铃", "来电显示"])
        self.assertEqual(p["brand"], "gotone")
        self.assertEqual(p.label("brand"), "全球通")
        self.assertIsNone(p["age"])
        self.assertIsNone(p["arpu", 5 + 1])  # beyond the series: null
        self.assertEqual(p.text("arpu", 1), "90")
        self.assertEqual(p.text("age"), "")
        self.assertEqual(p.to_dict()["web_sessions"][5], 40)
        self.assertEqual(self.store["13800000003"]["arpu", 1], None)

    def test_missing_key(self):
        self.assertIsNone(self.store.get("13800000099"))
        self.assertNotIn("13800000099", self.store)
        self.assertIn(HEAVY, self.store)
        with self.assertRaises(custprof.NotFoundError) as cm:
            self.store["13800000099"]
        self.assertIn("13800000099", cm.exception.message)
        self.assertIsInstance(cm.exception, LookupError)

    def test_put_errors_name_the_field(self):
        with self.assertRaises(custprof.TypeMismatchError) as cm:
            self.store.put({"msisdn": "13800000005", "arpu": "1.234"})
        self.assertIn("arpu", cm.exception.message)
        self.assertIn("2 decimals", cm.exception.message)
        with self.assertRaises(custprof.TypeMismatchError):
            self.store.put({"msisdn": "13800000005", "arpu": [1] * 7})
        with self.assertRaises(custprof.NotFoundError):
            self.store.put({"msisdn": "13800000005", "arpuu": 1})
        self.assertNotIn("13800000005", self.store)

    def test_profile_follows_store_changes(self):
        p = self.store[HEAVY]
        replaced = self.store.put(dict(HEAVY_PROFILE, arpu=[1]))
        self.assertTrue(replaced)
        self.assertEqual(p["arpu"], decimal.Decimal("1.00"))
        self.store.delete(HEAVY)
        with self.assertRaises(custprof.NotFoundError):
            p["arpu"]
        with self.assertRaises(custprof.NotFoundError):
            self.store.delete(HEAVY)

    def test_iteration(self):
        keys = sorted(p.key for p in self.store)
        self.assertEqual(keys, [HEAVY, CHURNED, NEW])
        it = iter(self.store)
        next(it)
        self.store.put({"msisdn": "13800000006"})
        with self.assertRaises(custprof.MisuseError):
            next(it)

    def test_snapshot_round_trip_and_damage(self):
        path = self.path("s.cps")
        self.store.save(path)
        custprof.verify_snapshot(path)
        with custprof.Store.open(path) as opened:
            self.assertEqual(len(opened), 3)
            self.assertEqual(opened.as_of, 202610)
            self.assertEqual(opened[HEAVY]["gprs_mb", 5], 10.0)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        with open(path, "wb") as f:
            f.write(data)
        with self.assertRaises(custprof.CorruptError) as cm:
            custprof.verify_snapshot(path)
        self.assertTrue(cm.exception.diagnostics)
        self.assertIn("offset", str(cm.exception))

    def test_open_missing_file(self):
        with self.assertRaises(custprof.Error) as cm:
            custprof.Store.open(self.path("none.cps"))
        self.assertIn("none.cps", str(cm.exception))

    def test_load_csv_file_with_rejects_and_progress(self):
        src, rejects = self.path("in.csv"), self.path("rejects.csv")
        with open(src, "w", encoding="utf-8") as f:
            f.write(CSV.replace(",", "|"))
        calls = []
        store = custprof.Store()
        report = store.load_csv(src, delimiter="|", rejects=rejects,
                                progress=lambda done, total: calls.append((done, total)))
        self.assertEqual((report.loaded, report.rejected), (2, 1))
        with open(rejects, encoding="utf-8") as f:
            self.assertEqual(f.readline().strip(), "line,column,reason")
            self.assertTrue(f.readline().startswith("4,brand,"))
        self.assertTrue(calls)
        cancelled = custprof.Store()
        with self.assertRaises(custprof.CanceledError):
            cancelled.load_csv(src, progress=lambda done, total: True)
        with self.assertRaises(custprof.NotFoundError) as cm:
            store.load_csv(self.path("nope.csv"))
        self.assertIn("nope.csv", cm.exception.message)


class TestRules(Base):
    def test_introspection(self):
        rs = self.rules
        self.assertIn("gprs", rs.packs)
        heavy = rs.tag("gprs.heavy")
        self.assertEqual((heavy.label, heavy.pack, heavy.group), ("重度消费型", "gprs", "gprs.attr"))
        self.assertIn("web_sessions", heavy.expr)
        crbt = rs.track("crbt")
        self.assertEqual(crbt.otherwise, "maturity")
        self.assertIn("crbt.churned", [r.id for r in crbt.rules])
        self.assertEqual(rs.stage_label("churn_risk"), "潜在流失")
        self.assertEqual(rs.stage_drivers("churned"), ["churn"])
        self.assertEqual(rs.params["lifecycle.churn_score"], "0.6")
        group = [g for g in rs.groups if g.id == "gprs.attr"][0]
        self.assertEqual(group.otherwise, "gprs.other")
        with self.assertRaises(custprof.NotFoundError):
            rs.tag("gprs.nope")
        with self.assertRaises(custprof.NotFoundError):
            rs.track("nope")

    def test_tags_and_stages(self):
        r = self.rules.evaluate(self.store, HEAVY)
        self.assertIn("gprs.heavy", r.tag_ids)
        self.assertTrue(r.has("gprs.heavy"))
        self.assertIn("gprs.heavy", r)
        self.assertNotIn("gprs.silent", r)
        self.assertEqual([t.id for t in r.tags], r.tag_ids)
        stage = r.stage("crbt")
        self.assertEqual((stage.stage, stage.rule, stage.code), ("churned", "crbt.churned", 8))
        self.assertEqual(stage.label, "已流失")
        self.assertIn("crbt_subscribed", stage.expr)
        self.assertEqual(stage.drivers, ["churn"])
        self.assertEqual([s.track for s in r.stages][0], "subscriber")
        closed = self.rules.evaluate(self.store[CHURNED])
        self.assertEqual(closed.stage("subscriber").stage, "churned")
        new = self.rules.evaluate(self.store, NEW)
        self.assertEqual(new.stage("subscriber").stage, "acquisition")
        with self.assertRaises(custprof.NotFoundError):
            self.rules.evaluate(self.store, "13800000099")

    def test_explain(self):
        r = self.rules.evaluate(self.store, HEAVY)
        ex = r.explain(tag="gprs.heavy")
        self.assertTrue(ex.text.startswith("gprs.heavy = true"))
        self.assertEqual(str(ex), ex.text)
        self.assertIn("web_sessions[0..5] = [20, 25, 30, 22, 21, 40]", ex.text)
        root = ex.nodes[0]
        self.assertEqual((root.kind, root.text, root.truth, root.parent), ("tag", "gprs.heavy",
                                                                           True, -1))
        kinds = {n.kind for n in ex.nodes}
        self.assertIn("field", kinds)
        track = self.rules.explain(self.store, HEAVY, track="crbt")
        self.assertTrue(track.text.startswith("crbt = churned"))
        section = track.section("crbt.churned")
        self.assertTrue(section.startswith("  crbt.churned -> churned"))
        self.assertNotIn("crbt.prospect", section)
        self.assertEqual(track.section("crbt.nope"), "")
        with self.assertRaises(TypeError):
            r.explain()

    def test_personal_values_hidden_in_explain(self):
        rs = custprof.Ruleset(self.store, sources={"p.yaml": (
            "custprof: 1\npack: p\ntags:\n  - id: p.zhang\n    when: name == '张三'\n")})
        ex = rs.explain(self.store, HEAVY, tag="p.zhang")
        self.assertTrue(ex.text.startswith("p.zhang = true"))
        self.assertIn("name = (personal)", ex.text)
        self.assertNotIn("name = '张三'", ex.text)

    def test_params_and_metrics(self):
        pack = ("custprof: 1\npack: t\nparams:\n  min: 10\nmetrics:\n"
                "  - id: web6\n    expr: sum(web_sessions[0..5])\n"
                "  - id: arpu0\n    expr: arpu[0]\n"
                "  - id: web01\n    expr: web_sessions[0..1]\n"
                "tags:\n  - id: t.busy\n    when: web6 > $min\n")
        rs = custprof.Ruleset(self.store.schema, sources={"t.yaml": pack})
        r = rs.evaluate(self.store, HEAVY)
        self.assertEqual(r.tag_ids, ["t.busy"])
        self.assertEqual(r.metric("web6"), 158)
        self.assertEqual(r.metric("arpu0"), decimal.Decimal("88.50"))
        self.assertEqual(r.metric("web01"), "[20, 25]")
        self.assertIsNone(rs.evaluate(self.store, NEW).metric("web6"))
        strict = custprof.Ruleset(self.store.schema, sources={"t.yaml": pack},
                                  params={"t.min": 1000})
        self.assertEqual(strict.evaluate(self.store, HEAVY).tag_ids, [])
        self.assertEqual(strict.params["t.min"], "1000")

    def test_compile_errors_carry_every_diagnostic(self):
        pack = ("custprof: 1\npack: b\ntags:\n"
                "  - id: b.one\n    when: arpuu > 3\n"
                "  - id: b.two\n    when: brand == 'nokia'\n")
        with self.assertRaises(custprof.Error) as cm:
            custprof.Ruleset(self.store.schema, sources={"b.yaml": pack})
        err = cm.exception
        errors = [d for d in err.diagnostics if d.severity == "error"]
        self.assertEqual([(d.file, d.line) for d in errors], [("b.yaml", 5), ("b.yaml", 7)])
        self.assertEqual(errors[0].column, 11)
        self.assertIn("did you mean 'arpu'", errors[0].message)
        self.assertIn("nokia", errors[1].message)
        self.assertTrue(err.message.startswith("the rules do not compile: "))
        self.assertIn("b.yaml:7:", str(err))
        with self.assertRaises(custprof.Error) as cm:
            custprof.Ruleset(self.store.schema, params={"nope": 1})
        self.assertIn("nope", str(cm.exception))
        with self.assertRaises(custprof.NotFoundError) as cm:
            custprof.Ruleset(self.store.schema, packs=[self.path("none.yaml")])
        self.assertIn("none.yaml", cm.exception.message)

    def test_scan(self):
        seen = {p.key: r.stage("subscriber").stage for p, r in self.rules.scan(self.store)}
        self.assertEqual(seen[NEW], "acquisition")
        self.assertEqual(len(seen), 3)

    def test_as_of_override(self):
        r = self.rules.result()
        r.set_as_of(datetime.date(2027, 6, 30))
        self.assertEqual(r.evaluate(self.store, NEW).stage("subscriber").stage, "growth")
        r.set_as_of(None)
        self.assertEqual(r.evaluate(self.store, NEW).stage("subscriber").stage, "acquisition")

    def test_stage_names(self):
        self.assertEqual(custprof.stage_name(7), "churn_risk")
        self.assertEqual(custprof.stage_from_name("bad_debt"), 10)
        self.assertIsNone(custprof.stage_name(99))
        with self.assertRaises(custprof.NotFoundError):
            custprof.stage_from_name("lost")
        self.assertEqual(len(custprof.STAGES), 11)


class TestBatch(Base):
    def test_select_orders_filters_and_limits(self):
        sel = self.rules.select(self.store, where="status == 'active' or status == 'closed'",
                                order_by="arpu", desc=True, limit=2,
                                columns=["msisdn", "arpu", "stage:subscriber", "tags"])
        self.assertEqual(sel.matched, 3)
        self.assertEqual(len(sel), 2)
        self.assertEqual(sel.columns, ["msisdn", "arpu", "stage:subscriber", "tags"])
        rows = list(sel)
        self.assertEqual([r.key for r in rows], [HEAVY, NEW])
        self.assertEqual(rows[0]["arpu"], "88.50")
        self.assertEqual(rows[1][2], "acquisition")
        self.assertIn("gprs.heavy", rows[0]["tags"].split(";"))
        self.assertEqual(rows[0].as_dict()["msisdn"], HEAVY)
        self.assertEqual(rows[0].profile()["region"], "福州")
        self.assertEqual(list(sel)[0].key, HEAVY)  # iterating again rewinds
        with self.assertRaises(KeyError):
            rows[0]["nope"]
        csv = sel.csv().splitlines()
        self.assertEqual(csv[0], "msisdn,arpu,stage:subscriber,tags")
        self.assertTrue(csv[1].startswith(HEAVY + ",88.50,"))
        path = self.path("list.csv")
        sel.write_csv(path)
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), sel.csv())

    def test_select_uses_stages_and_tags(self):
        sel = self.rules.select(self.store, where="stage('crbt') == 'churned'",
                                columns="msisdn,fav_content_types")
        self.assertEqual([(r.key, r["fav_content_types"]) for r in sel], [(HEAVY, "流行;DJ")])
        labelled = self.rules.select(self.store, where="tag('gprs.heavy')", columns="brand",
                                     labels=True)
        self.assertEqual(labelled.columns, ["品牌"])
        self.assertEqual([r.values for r in labelled], [("全球通",)])

    def test_select_errors(self):
        with self.assertRaises(custprof.Error) as cm:
            self.rules.select(self.store, where="arpuu > 1")
        d = cm.exception.diagnostics[0]
        self.assertEqual((d.file, d.line, d.column), ("where", 1, 1))
        self.assertIn("did you mean 'arpu'", d.message)
        with self.assertRaises(custprof.Error) as cm:
            self.rules.select(self.store, order_by="fav_content_types")
        self.assertEqual(cm.exception.diagnostics[0].file, "order")
        with self.assertRaises(custprof.CanceledError):
            self.rules.select(self.store, progress=lambda done, total: True)

    def test_select_closed_with_its_store(self):
        sel = self.rules.select(self.store)
        self.store.close()
        self.assertTrue(sel.closed)

    def test_counts(self):
        c = self.rules.count(self.store, by=["brand", "stage:subscriber"])
        self.assertEqual(c.total, 3)
        self.assertEqual(c.tags["gprs.heavy"], 1)
        self.assertEqual(c.stages["subscriber"]["acquisition"], 1)
        self.assertEqual([d.name for d in c.dims], ["brand", "stage:subscriber"])
        brands = c.dims[0].categories
        self.assertEqual([b.name for b in brands][:3], ["gotone", "szx", "mzone"])
        self.assertEqual(brands[0].label, "全球通")
        self.assertEqual(c.cell("mzone", "acquisition"), 1)
        self.assertEqual(c.cell("szx", "churned"), 1)
        self.assertEqual(c.cell("gotone", "acquisition"), 0)
        where = self.rules.count(self.store, by="region", where="brand == 'gotone'")
        self.assertEqual(where.total, 1)
        self.assertEqual(where.cell("福州"), 1)
        with self.assertRaises(custprof.Error):
            self.rules.count(self.store, by=["a", "b", "c"])

    def test_tag_table(self):
        table = self.rules.tag_all(self.store, threads=2)
        self.assertEqual(len(table), 3)
        rows = dict(table)
        self.assertIn("gprs.heavy", rows[HEAVY])
        i = [table.key(k) for k in range(len(table))].index(HEAVY)
        self.assertTrue(table.has(i, "gprs.heavy"))
        self.assertEqual(table.stage(i, "crbt"), "churned")
        self.assertEqual(rows[HEAVY], self.rules.evaluate(self.store, HEAVY).tag_ids)
        with self.assertRaises(IndexError):
            table.key(3)

    def test_query(self):
        q = self.rules.query("sum(web_sessions[0..2])")
        self.assertEqual((q.type, q.window), ("int", 0))
        self.assertEqual(q.value(self.store, HEAVY), 75)
        self.assertIsNone(q.value(self.store, NEW))
        self.assertEqual(self.rules.query("arpu[0] * 2").value(self.store, HEAVY), 177.0)
        self.assertEqual(self.rules.query("stage('crbt')").value(self.store[HEAVY]), "churned")
        self.assertEqual(self.rules.query("arpu[0..1]").text(self.store, HEAVY), "88.50;90")
        with self.assertRaises(custprof.Error) as cm:
            self.rules.query("sum(nope)", name="q")
        self.assertEqual(cm.exception.diagnostics[0].file, "q")


class TestLifetimes(Base):
    def test_close_closes_dependents(self):
        p = self.store[HEAVY]
        r = self.rules.evaluate(p)
        self.rules.close()
        self.assertTrue(r.closed)
        with self.assertRaises(custprof.MisuseError):
            r.tag_ids
        self.store.close()
        self.assertTrue(p.closed)
        with self.assertRaises(custprof.MisuseError):
            p["arpu"]
        self.store.close()  # twice is fine

    def test_dependents_keep_owners_alive(self):
        store = custprof.Store()
        store.put({"msisdn": HEAVY})
        ref = weakref.ref(store)
        p = store[HEAVY]
        del store
        gc.collect()
        self.assertIsNotNone(ref())
        self.assertEqual(p.key, HEAVY)
        del p
        gc.collect()
        self.assertIsNone(ref())

    def test_context_managers(self):
        with custprof.Store() as store, custprof.Ruleset() as rules:
            store.put({"msisdn": HEAVY})
            with rules.result() as r:
                r.evaluate(store, HEAVY)
        self.assertTrue(store.closed and rules.closed and r.closed)


class TestThreads(Base):
    def test_shared_ruleset_one_result_per_thread(self):
        expected = self.rules.evaluate(self.store, HEAVY).tag_ids
        failures = []

        def work():
            with self.rules.result() as r:
                for _ in range(200):
                    if r.evaluate(self.store, HEAVY).tag_ids != expected:
                        failures.append(1)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main()
