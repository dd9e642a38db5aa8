"""Ruleset: rule packs compiled against a schema; Result: the tags, stages
and metrics of one profile; Explain: why (custprof-rules(5))."""

import ctypes
import decimal
from collections import namedtuple

from ._lib import C, Diag, Handle, check, dec, enc, new_handle, raise_error, text_call
from .errors import NotFoundError
from .schema import TYPE_NAMES
from .store import Profile, Store, date_from_days, yuan

STAGES = ["unknown", "prospect", "acquisition", "growth", "maturity", "decline", "silent",
          "churn_risk", "churned", "winback", "bad_debt"]

EXPLAIN_KINDS = {1: "tag", 2: "track", 3: "rule", 4: "logic", 5: "compare", 6: "call",
                 7: "arith", 8: "field", 9: "metric", 10: "const", 11: "list"}


def stage_name(stage):
    """The name of a cp_stage value ("churn_risk"); None outside the enum."""
    return dec(C.cp_stage_name(stage))


def stage_from_name(name):
    """The cp_stage value of a name; NotFoundError for an unknown name."""
    rc = C.cp_stage_from_name(enc(name))
    if rc < 0:
        raise NotFoundError("no stage '%s' (stages: %s)" % (name, ", ".join(STAGES)), rc)
    return rc


def _literal(value):
    """A Python value as a literal of the rule language."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, decimal.Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(_literal(v) for v in value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'%s'" % text


Tag = namedtuple("Tag", "index id label description expr pack group")
Tag.__doc__ = """A tag of the ruleset: id ("gprs.heavy"), label (重度消费型),
description, expr (its 'when'), pack (name), group (id of its exclusive group
or None)."""
Tag.__str__ = lambda t: t.label

TrackRule = namedtuple("TrackRule", "index id stage expr")
Track = namedtuple("Track", "index name label rules otherwise")
Group = namedtuple("Group", "index id label members otherwise")
Metric = namedtuple("Metric", "index id label type window")

Stage = namedtuple("Stage", "track stage code label rule rule_index expr drivers")
Stage.__doc__ = """The stage a track gave a profile: track name, stage name
("churned"), code (enum cp_stage), label (已流失), rule (id of the deciding
rule, "<track>.otherwise" when none applied), rule_index (-1 for otherwise),
expr (the deciding rule's 'when', "" for otherwise) and the value drivers
acting on the stage."""
Stage.__str__ = lambda s: s.stage

Node = namedtuple("Node", "index parent depth kind text value truth note")
Node.__doc__ = """A node of an explanation: kind ("compare", "field", ...),
source text, value as text, truth (True, False, None for null, or
NotImplemented when the value is not true/false) and a note."""


class Ruleset(Handle):
    """Rule packs compiled against a schema.  Immutable: share it between
    threads (each thread evaluating into its own Result).

    Ruleset(schema)                             the built-in packs
    Ruleset(schema, packs=["my.yaml"])          files (no built-ins)
    Ruleset(schema, sources={"x.yaml": text})   YAML text
    Ruleset(schema, ..., defaults=True, params={"crbt.active_months": 4})
    A compile error raises an Error whose .diagnostics lists every problem
    with file, line and column; warnings of a good compile are in
    .diagnostics.
    """

    _free = "cp_ruleset_free"

    def __init__(self, schema=None, packs=(), sources=None, params=None, defaults=None):
        if isinstance(packs, str):
            packs = [packs]
        if defaults is None:
            defaults = not packs and not sources
        own = None
        if schema is None:
            from .schema import Schema
            schema = own = Schema.default()
        elif isinstance(schema, Store):
            schema = schema.schema
        opts = new_handle(C.cp_rules_opts_new)
        try:
            if defaults:
                check(C.cp_rules_opts_add_defaults(opts), opts)
            for path in packs:
                check(C.cp_rules_opts_add_file(opts, enc(path)), opts)
            for name, text in (sources or {}).items():
                data = enc(text)
                check(C.cp_rules_opts_add_memory(opts, data, len(data), enc(name)), opts)
            for name, value in (params or {}).items():
                check(C.cp_rules_opts_set_param(opts, enc(name), enc(_literal(value))), opts)
            with Diag() as diag:
                ptr = new_handle(C.cp_ruleset_compile, schema._p, opts, diag.ptr, diag=diag,
                                 context="the rules do not compile")
                self.diagnostics = diag.entries()
        finally:
            C.cp_rules_opts_free(opts)
            if own is not None:
                own.close()
        super().__init__(ptr)
        self._load_metadata()

    def _load_metadata(self):
        rs = self._p
        packs = [dec(C.cp_ruleset_pack_name(rs, i)) for i in range(C.cp_ruleset_pack_count(rs))]
        self.packs = packs
        groups_ids = [dec(C.cp_ruleset_group_id(rs, g))
                      for g in range(C.cp_ruleset_group_count(rs))]
        self.tags = []
        for t in range(C.cp_ruleset_tag_count(rs)):
            g = C.cp_ruleset_tag_group(rs, t)
            self.tags.append(Tag(t, dec(C.cp_ruleset_tag_id(rs, t)),
                                 dec(C.cp_ruleset_tag_label(rs, t)),
                                 dec(C.cp_ruleset_tag_description(rs, t)),
                                 dec(C.cp_ruleset_tag_expr(rs, t)),
                                 packs[C.cp_ruleset_tag_pack(rs, t)],
                                 groups_ids[g] if g >= 0 else None))
        self.groups = []
        for g, gid in enumerate(groups_ids):
            members = [self.tags[C.cp_ruleset_group_member(rs, g, i)].id
                       for i in range(C.cp_ruleset_group_member_count(rs, g))]
            o = C.cp_ruleset_group_otherwise(rs, g)
            self.groups.append(Group(g, gid, dec(C.cp_ruleset_group_label(rs, g)), members,
                                     self.tags[o].id if o >= 0 else None))
        self.metrics = [Metric(m, dec(C.cp_ruleset_metric_id(rs, m)),
                               dec(C.cp_ruleset_metric_label(rs, m)),
                               TYPE_NAMES.get(C.cp_ruleset_metric_type(rs, m)),
                               C.cp_ruleset_metric_window(rs, m))
                        for m in range(C.cp_ruleset_metric_count(rs))]
        self.tracks = []
        for k in range(C.cp_ruleset_track_count(rs)):
            rules = [TrackRule(i, dec(C.cp_ruleset_track_rule_id(rs, k, i)),
                               stage_name(C.cp_ruleset_track_rule_stage(rs, k, i)),
                               dec(C.cp_ruleset_track_rule_expr(rs, k, i)))
                     for i in range(C.cp_ruleset_track_rule_count(rs, k))]
            self.tracks.append(Track(k, dec(C.cp_ruleset_track_name(rs, k)),
                                     dec(C.cp_ruleset_track_label(rs, k)), rules,
                                     stage_name(C.cp_ruleset_track_otherwise(rs, k))))
        self.params = {dec(C.cp_ruleset_param_name(rs, i)): dec(C.cp_ruleset_param_value(rs, i))
                       for i in range(C.cp_ruleset_param_count(rs))}
        self._stage_labels = [dec(C.cp_ruleset_stage_label(rs, s)) for s in range(len(STAGES))]
        self._stage_drivers = [[dec(C.cp_ruleset_stage_driver(rs, s, i))
                                for i in range(C.cp_ruleset_stage_driver_count(rs, s))]
                               for s in range(len(STAGES))]
        self._tag_by_id = {t.id: t for t in self.tags}
        self._track_by_name = {t.name: t for t in self.tracks}
        self._metric_by_id = {m.id: m for m in self.metrics}

    # ---- introspection ------------------------------------------------------

    def tag(self, tag_id):
        """The Tag with this id; NotFoundError if there is none."""
        tag = self._tag_by_id.get(tag_id)
        if tag is None:
            raise NotFoundError("no tag '%s' in the ruleset" % tag_id)
        return tag

    def track(self, name):
        track = self._track_by_name.get(name)
        if track is None:
            raise NotFoundError("no track '%s' in the ruleset (tracks: %s)"
                                % (name, ", ".join(self._track_by_name)))
        return track

    def metric(self, metric_id):
        metric = self._metric_by_id.get(metric_id)
        if metric is None:
            raise NotFoundError("no metric '%s' in the ruleset" % metric_id)
        return metric

    def stage_label(self, stage):
        """The label of a stage (name or code) given by the packs (潜在流失)."""
        code = stage if isinstance(stage, int) else stage_from_name(stage)
        return self._stage_labels[code]

    def stage_drivers(self, stage):
        """The value drivers acting on a stage (["churn"])."""
        code = stage if isinstance(stage, int) else stage_from_name(stage)
        return list(self._stage_drivers[code])

    @property
    def schema(self):
        from .schema import Schema
        return Schema(C.cp_ruleset_schema(self._p), parent=self, owned=False)

    # ---- evaluation ---------------------------------------------------------

    def result(self):
        """A new, empty Result: evaluation scratch space for one thread."""
        return Result(self)

    def evaluate(self, target, key=None):
        """The Result of one profile: evaluate(profile) or
        evaluate(store, key).  NotFoundError if the store has no such key."""
        return Result(self).evaluate(target, key)

    def explain(self, target, key=None, tag=None, track=None):
        """Why a tag applies or not (tag="gprs.heavy"), or how a track chose
        its stage (track="crbt"), for evaluate()'s target."""
        return self.evaluate(target, key).explain(tag=tag, track=track)

    def scan(self, store):
        """(profile, result) for every profile of store, in store order.
        One Result is reused: read it before the next step."""
        result = Result(self)
        try:
            for profile in store:
                yield profile, result.evaluate(profile)
        finally:
            result.close()

    # ---- batch: every profile of a store, on every core ---------------------

    def select(self, store, where=None, order_by=None, desc=False, limit=None, columns=None,
               labels=False, threads=0, progress=None):
        """A target list: the profiles for which where (an expression, may
        use tag() and stage()) is true, ordered by order_by (nulls last,
        ties by key), at most limit, with columns ("tags", "stage",
        "stage:TRACK", fields, metrics, expressions; default the key).
        labels: label names and values.  Returns a Selection of Rows."""
        from .batch import Selection
        return Selection(self, store, where, order_by, desc, limit, columns, labels, threads,
                         progress)

    def count(self, store, by=(), where=None, threads=0, progress=None):
        """Profiles per tag and stage, and a cross-tab by one or two
        dimensions ("region", "tag", "stage:crbt", "group:gprs.attr", an
        expression), of the profiles for which where is true: Counts."""
        from .batch import Counts
        return Counts(self, store, by, where, threads, progress)

    def tag_all(self, store, threads=0, progress=None):
        """The tags and stages of every profile: a TagTable."""
        from .batch import TagTable
        return TagTable(self, store, threads, progress)

    def query(self, expr, name=None):
        """Compile one expression against this ruleset: a Query."""
        from .batch import Query
        return Query(self, expr, name)

    def __repr__(self):
        if self.closed:
            return "<Ruleset (closed)>"
        return "<Ruleset %s: %d tags, %d tracks>" % (",".join(self.packs), len(self.tags),
                                                      len(self.tracks))


class Result(Handle):
    """The tags, stages and metrics of the profile last evaluated into it
    (cp_result).  One per thread; evaluate() again to reuse it."""

    _free = "cp_result_free"

    def __init__(self, ruleset):
        super().__init__(new_handle(C.cp_result_new, ruleset._p), ruleset)
        self.ruleset = ruleset
        self.profile = None

    def set_as_of(self, date=None):
        """Fix the as-of date of months_since()/days_since() (a
        datetime.date), or None to use the store's as-of month again."""
        from .store import days_from_date
        if date is None:
            C.cp_result_clear_as_of(self._p)
        else:
            check(C.cp_result_set_as_of(self._p, days_from_date(date)), self._p)

    def evaluate(self, target, key=None):
        """Evaluate a Profile, or the profile of a Store with this key."""
        profile = target[key] if isinstance(target, Store) else target
        if not isinstance(profile, Profile):
            raise TypeError("evaluate() takes a Profile, or a Store and a key")
        check(C.cp_eval(self._p, profile._view()), self._p)
        self.profile = profile
        return self

    @property
    def key(self):
        return self.profile.key if self.profile is not None else None

    def has(self, tag_id):
        """True if the tag applies."""
        return bool(C.cp_result_tag(self._p, self.ruleset.tag(tag_id).index))

    def __contains__(self, tag_id):
        return self.has(tag_id)

    @property
    def tags(self):
        """The applying Tags, in ruleset order."""
        res, tags = self._p, self.ruleset.tags
        return [tags[C.cp_result_tag_at(res, i)] for i in range(C.cp_result_tag_count(res))]

    @property
    def tag_ids(self):
        return [t.id for t in self.tags]

    def stage(self, track):
        """The Stage of a track (by name)."""
        tr = self.ruleset.track(track)
        res = self._p
        code = C.cp_result_stage(res, tr.index)
        i = C.cp_result_stage_rule(res, tr.index)
        return Stage(tr.name, stage_name(code), code, self.ruleset.stage_label(code),
                     dec(C.cp_result_stage_rule_id(res, tr.index)), i,
                     tr.rules[i].expr if i >= 0 else "", self.ruleset.stage_drivers(code))

    @property
    def stages(self):
        """The Stage of every track, in ruleset order."""
        return [self.stage(t.name) for t in self.ruleset.tracks]

    def metric(self, metric_id):
        """A metric's value: None for null; int, float, Decimal yuan,
        datetime.date, bool or str; a window metric as its text form."""
        m = self.ruleset.metric(metric_id)
        res = self._p
        if C.cp_result_metric_is_null(res, m.index):
            return None
        if m.window:
            return self.metric_text(metric_id)
        if m.type == "bool":
            return bool(C.cp_result_metric_int(res, m.index))
        if m.type == "int":
            return C.cp_result_metric_int(res, m.index)
        if m.type == "money":
            return yuan(C.cp_result_metric_int(res, m.index))
        if m.type == "date":
            return date_from_days(C.cp_result_metric_int(res, m.index))
        if m.type == "float":
            return C.cp_result_metric_float(res, m.index)
        text = self.metric_text(metric_id)
        return text[1:-1] if text.startswith("'") else text

    def metric_text(self, metric_id):
        """A metric's value as text ("12.50", "[1, null, 3]", "null")."""
        m = self.ruleset.metric(metric_id)
        rc, text = text_call(C.cp_result_metric_text, self._p, m.index)
        check(rc, self._p)
        return text

    def explain(self, tag=None, track=None):
        """Explain a tag (by id) or a track (by name) for the profile last
        evaluated (which is evaluated again)."""
        if (tag is None) == (track is None):
            raise TypeError("explain() takes tag= or track=")
        if self.profile is None:
            raise_error(-11, context="explain() before evaluate()")
        out = ctypes.c_void_p()
        if tag is not None:
            rc = C.cp_explain_tag(ctypes.byref(out), self._p, self.profile._view(),
                                  self.ruleset.tag(tag).index)
        else:
            rc = C.cp_explain_track(ctypes.byref(out), self._p, self.profile._view(),
                                    self.ruleset.track(track).index)
        check(rc, self._p)
        try:
            return Explain(out)
        finally:
            C.cp_explain_free(out)

    def __repr__(self):
        return "<Result %s: %s>" % (self.key, " ".join(self.tag_ids) if self.profile else "-")


class Explain:
    """An explanation, copied out of the library: .text (the indented tree
    of custprof-rules(5), also str(explain)) and .nodes (every Node)."""

    def __init__(self, ptr):
        ex = ptr
        self.text = dec(C.cp_explain_text(ex))
        truths = {1: True, 0: False, -1: None}
        self.nodes = [Node(i, C.cp_explain_node_parent(ex, i), C.cp_explain_node_depth(ex, i),
                           EXPLAIN_KINDS.get(C.cp_explain_node_kind(ex, i), "?"),
                           dec(C.cp_explain_node_text(ex, i)),
                           dec(C.cp_explain_node_value(ex, i)),
                           truths.get(C.cp_explain_node_truth(ex, i), NotImplemented),
                           dec(C.cp_explain_node_note(ex, i)))
                      for i in range(C.cp_explain_node_count(ex))]

    def section(self, rule_id):
        """The lines of .text that explain one rule of a track (its line and
        the indented lines below it); "" if the text has none."""
        lines = self.text.splitlines()
        head = "  %s -> " % rule_id
        for i, line in enumerate(lines):
            if line.startswith(head):
                end = i + 1
                while end < len(lines) and lines[end].startswith("    "):
                    end += 1
                return "\n".join(lines[i:end]) + "\n"
        return ""

    def __str__(self):
        return self.text

    def __repr__(self):
        return "<Explain %s>" % (self.text.splitlines()[0] if self.text else "")
