"""Batch over a whole store on every core (DESIGN §8): target lists
(Selection), counts and cross-tabs (Counts), the tag table (TagTable); and
ad-hoc expressions (Query)."""

from collections import namedtuple

from ._lib import C, Diag, Handle, check, dec, enc, new_handle, text_call
from ._prototypes import PROGRESS_FN
from .schema import TYPE_NAMES
from .store import Profile, Store, date_from_days, yuan

CSV_SAFE = 0x1
CSV_CRLF = 0x2
DONE = 101


class _BatchOpts:
    """A cp_batch_opts for one run: threads (0: one per processor) and a
    progress(done, total) callback that may return True to cancel."""

    def __init__(self, threads=0, progress=None):
        self.ptr = new_handle(C.cp_batch_opts_new)
        self.callback = None  # kept alive during the run
        try:
            check(C.cp_batch_opts_set_threads(self.ptr, threads), self.ptr)
            if progress is not None:
                self.callback = PROGRESS_FN(
                    lambda done, total, _: 1 if progress(done, total) else 0)
                check(C.cp_batch_opts_set_progress(self.ptr, self.callback, None), self.ptr)
        except BaseException:
            C.cp_batch_opts_free(self.ptr)
            raise

    def __enter__(self):
        return self.ptr

    def __exit__(self, *exc):
        C.cp_batch_opts_free(self.ptr)


def _set(fn, handle, expr, *args):
    """Call a setter that compiles an expression, with a diag for its errors."""
    with Diag() as diag:
        check(fn(handle, enc(expr) if expr is not None else None, *args, diag.ptr), handle,
              diag)


class Row:
    """A row of a target list: key and the text of each column as a CSV
    cell would hold it ("" for null).  row["region"] or row[1]."""

    __slots__ = ("key", "values", "_selection")

    def __init__(self, selection, key, values):
        self._selection = selection
        self.key = key
        self.values = values

    def __getitem__(self, column):
        if isinstance(column, int):
            return self.values[column]
        return self.values[self._selection._column_index(column)]

    def get(self, column, default=None):
        try:
            return self[column]
        except (KeyError, IndexError):
            return default

    def as_dict(self):
        return dict(zip(self._selection.columns, self.values))

    def profile(self):
        """The subscriber's Profile (typed values), from the store."""
        return self._selection.store[self.key]

    def __repr__(self):
        return "<Row %s %r>" % (self.key, self.values)


class Selection(Handle):
    """A target list (目标用户清单): made by Ruleset.select().  Iterate it
    for its Rows; .matched (profiles for which the condition was true),
    len() (rows kept, at most the limit), .columns, .csv(), .write_csv()."""

    _free = "cp_select_free"

    def __init__(self, ruleset, store, where=None, order_by=None, desc=False, limit=None,
                 columns=None, labels=False, threads=0, progress=None):
        super().__init__(new_handle(C.cp_select_new, ruleset._p), ruleset, also=(store,))
        self.ruleset, self.store = ruleset, store
        p = self._p
        if where is not None:
            _set(C.cp_select_set_where, p, where)
        if order_by is not None:
            _set(C.cp_select_set_order, p, order_by, 1 if desc else 0)
        if limit is not None:
            check(C.cp_select_set_limit(p, limit), p)
        if labels:
            check(C.cp_select_set_labels(p, 1), p)
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(",")]
        for column in columns or ():
            _set(C.cp_select_add_column, p, column)
        with _BatchOpts(threads, progress) as opts:
            check(C.cp_select_run(p, store._p, opts), p)
        self.matched = C.cp_select_matched(p)
        self.columns = [dec(C.cp_select_column_name(p, i))
                        for i in range(C.cp_select_column_count(p))]
        self._index = {name: i for i, name in enumerate(self.columns)}

    def _column_index(self, name):
        try:
            return self._index[name]
        except KeyError:
            raise KeyError("no column '%s' (columns: %s)" % (name, ", ".join(self.columns)))

    def __len__(self):
        return C.cp_select_count(self._p)

    def __iter__(self):
        p = self._p
        C.cp_select_rewind(p)
        ncol = len(self.columns)
        while True:
            rc = C.cp_select_next(p)
            if rc == DONE:
                return
            check(rc, p)
            yield Row(self, dec(C.cp_select_key(p)),
                      tuple(dec(C.cp_select_value(p, i)) for i in range(ncol)))

    def csv(self, safe=True, crlf=False):
        """The list as CSV text: a header line and one line per row."""
        p = self._p
        flags = (CSV_SAFE if safe else 0) | (CSV_CRLF if crlf else 0)
        parts = [dec(C.cp_select_csv_header(p, flags))]
        C.cp_select_rewind(p)
        while True:
            rc = C.cp_select_next(p)
            if rc == DONE:
                break
            check(rc, p)
            parts.append(dec(C.cp_select_csv_row(p, flags)))
        return "".join(parts)

    def write_csv(self, path, safe=True, crlf=False):
        """Write the list to path (replaced).  safe: a cell that a
        spreadsheet would take for a formula gets a leading '."""
        flags = (CSV_SAFE if safe else 0) | (CSV_CRLF if crlf else 0)
        check(C.cp_select_write_csv(self._p, enc(path), flags), self._p)

    def __repr__(self):
        if self.closed:
            return "<Selection (closed)>"
        return "<Selection %d of %d matched: %s>" % (len(self), self.matched,
                                                     ",".join(self.columns))


Category = namedtuple("Category", "name label null total")
Dimension = namedtuple("Dimension", "name label categories")


class Counts:
    """Counts of one run (Ruleset.count()), copied out of the library.

    total              profiles counted (the where condition true)
    tags               {tag id: profiles}
    stages             {track: {stage name: profiles}}
    dims               [Dimension(name, label, [Category(name, label, null,
                       total)])]: the cross-tab's rows, then its columns
    cell(row, col)     profiles in a row and column category (by name or
                       index; col omitted with one dimension)
    """

    def __init__(self, ruleset, store, by=(), where=None, threads=0, progress=None):
        if isinstance(by, str):
            by = [by]
        c = new_handle(C.cp_counts_new, ruleset._p)
        try:
            if where is not None:
                _set(C.cp_counts_set_where, c, where)
            for dim in by:
                _set(C.cp_counts_add_dim, c, dim)
            with _BatchOpts(threads, progress) as opts:
                check(C.cp_counts_run(c, store._p, opts), c)
            self.total = C.cp_counts_total(c)
            self.tags = {t.id: C.cp_counts_tag(c, t.index) for t in ruleset.tags}
            self.stages = {tr.name: {name: C.cp_counts_stage(c, tr.index, code)
                                     for code, name in enumerate(_stage_names())}
                           for tr in ruleset.tracks}
            self.dims = []
            for d in range(C.cp_counts_dim_count(c)):
                cats = [Category(dec(C.cp_counts_category_name(c, d, i)),
                                 dec(C.cp_counts_category_label(c, d, i)),
                                 bool(C.cp_counts_category_is_null(c, d, i)),
                                 C.cp_counts_category_total(c, d, i))
                        for i in range(C.cp_counts_category_count(c, d))]
                self.dims.append(Dimension(dec(C.cp_counts_dim_name(c, d)),
                                           dec(C.cp_counts_dim_label(c, d)), cats))
            rows = len(self.dims[0].categories) if self.dims else 0
            cols = len(self.dims[1].categories) if len(self.dims) > 1 else 1
            self.cells = [[C.cp_counts_cell(c, r, k) for k in range(cols)] for r in range(rows)]
        finally:
            C.cp_counts_free(c)

    def _index(self, dim, key):
        if isinstance(key, int):
            return key
        for i, cat in enumerate(self.dims[dim].categories):
            if cat.name == key or (key is None and cat.null):
                return i
        raise KeyError("no category '%s' in %s" % (key, self.dims[dim].name))

    def cell(self, row, col=0):
        return self.cells[self._index(0, row)][self._index(1, col) if len(self.dims) > 1 else 0]

    def __repr__(self):
        return "<Counts %d profiles by %s>" % (self.total, [d.name for d in self.dims])


def _stage_names():
    from .rules import STAGES
    return STAGES


class TagTable(Handle):
    """Every profile's tags and stages (Ruleset.tag_all()), in store order:
    len(table), table.key(i), table.tag_ids(i), table.has(i, tag_id),
    table.stage(i, track); iterating gives (key, tag ids)."""

    _free = "cp_tagtable_free"

    def __init__(self, ruleset, store, threads=0, progress=None):
        super().__init__(new_handle(C.cp_tagtable_new, ruleset._p), ruleset)
        self.ruleset = ruleset
        with _BatchOpts(threads, progress) as opts:
            check(C.cp_tagtable_build(self._p, store._p, opts), self._p)

    def __len__(self):
        return C.cp_tagtable_count(self._p)

    def _row(self, i):
        if not 0 <= i < len(self):
            raise IndexError("row %d of %d" % (i, len(self)))
        return i

    def key(self, i):
        return dec(C.cp_tagtable_key(self._p, self._row(i)))

    def tag_ids(self, i):
        p, tags, out = self._p, self.ruleset.tags, []
        k = C.cp_tagtable_next_tag(p, self._row(i), 0)
        while k >= 0:
            out.append(tags[k].id)
            k = C.cp_tagtable_next_tag(p, i, k + 1)
        return out

    def has(self, i, tag_id):
        return bool(C.cp_tagtable_tag(self._p, self._row(i), self.ruleset.tag(tag_id).index))

    def stage(self, i, track):
        from .rules import stage_name
        return stage_name(C.cp_tagtable_stage(self._p, self._row(i),
                                              self.ruleset.track(track).index))

    def __iter__(self):
        for i in range(len(self)):
            yield self.key(i), self.tag_ids(i)


class _QueryResult(Handle):
    _free = "cp_result_free"


class Query(Handle):
    """One expression of the rule language compiled against a ruleset
    (Ruleset.query()): q.value(profile) or q.value(store, key) gives its
    value as a Python value; q.text(...) as a CSV cell.  .type, .window."""

    _free = "cp_query_free"

    def __init__(self, ruleset, expr, name=None):
        with Diag() as diag:
            ptr = new_handle(C.cp_query_compile, ruleset._p, enc(expr),
                             enc(name) if name else None, diag.ptr, diag=diag)
        super().__init__(ptr, ruleset)
        self.expr = expr
        self.type = TYPE_NAMES.get(C.cp_query_type(ptr))
        self.window = C.cp_query_window(ptr)
        # evaluation scratch, made from the query's own ruleset (freed first)
        self._res = _QueryResult(new_handle(C.cp_result_new, C.cp_query_ruleset(ptr)), self)

    def _eval(self, target, key):
        profile = target[key] if isinstance(target, Store) else target
        if not isinstance(profile, Profile):
            raise TypeError("value() takes a Profile, or a Store and a key")
        res = self._res._p
        check(C.cp_eval(res, profile._view()), res)
        return res

    def text(self, target, key=None):
        res = self._eval(target, key)
        rc, text = text_call(C.cp_query_value_text, self._p, res)
        check(rc, self._p)
        return text

    def value(self, target, key=None):
        """None for null; bool, int, float, Decimal yuan, datetime.date, str;
        a window as its text (elements joined by ';')."""
        res = self._eval(target, key)
        q = self._p
        if C.cp_query_is_null(q, res):
            return None
        t = self.type
        if self.window or t in ("string", "enum", "set", "list"):
            rc, text = text_call(C.cp_query_value_text, q, res)
            check(rc, q)
            return text
        if t == "bool":
            return bool(C.cp_query_int(q, res))
        if t == "int":
            return C.cp_query_int(q, res)
        if t == "money":
            return yuan(C.cp_query_int(q, res))
        if t == "date":
            return date_from_days(C.cp_query_int(q, res))
        return C.cp_query_float(q, res)

    def __repr__(self):
        return "<Query %r: %s>" % (self.expr, self.type)
