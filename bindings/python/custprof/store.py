"""Store: the profiles of one schema, keyed by phone number; Profile: one of
them, read through a view; loading CSV exports; snapshots."""

import ctypes
import datetime
import decimal

from ._lib import C, Diag, Handle, check, dec, enc, new_handle, raise_error, text_call
from ._prototypes import PROGRESS_FN
from .errors import CanceledError, NotFoundError, TypeMismatchError
from .schema import Schema

EPOCH = datetime.date(1970, 1, 1)
DONE = 101


def date_from_days(days):
    return EPOCH + datetime.timedelta(days=days)


def days_from_date(d):
    return (d - EPOCH).days


def yuan(fen):
    """fen (int) as an exact Decimal of yuan: 1250 -> Decimal('12.50')."""
    return decimal.Decimal(fen).scaleb(-2)


def _yyyymm(value):
    if isinstance(value, int):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.year * 100 + value.month
    text = str(value).replace("-", "")
    if len(text) != 6 or not text.isdigit():
        raise ValueError("as-of month must be YYYY-MM or YYYYMM, not %r" % (value,))
    return int(text)


class LoadReport:
    """What one load read: rows, loaded, rejected, duplicates, bytes;
    rejects: the first rejected rows as (line, column, reason);
    duplicate_lines; unknown_columns (ignored, each named once)."""

    def __init__(self, ptr):
        r = ptr
        self.rows = C.cp_load_report_rows(r)
        self.loaded = C.cp_load_report_loaded(r)
        self.rejected = C.cp_load_report_rejected(r)
        self.duplicates = C.cp_load_report_duplicates(r)
        self.bytes = C.cp_load_report_bytes(r)
        self.rejects = [(C.cp_load_report_reject_line(r, i),
                         dec(C.cp_load_report_reject_column(r, i)),
                         dec(C.cp_load_report_reject_reason(r, i)))
                        for i in range(C.cp_load_report_reject_count(r))]
        self.duplicate_lines = [C.cp_load_report_duplicate_line(r, i)
                                for i in range(C.cp_load_report_duplicate_count(r))]
        self.unknown_columns = [dec(C.cp_load_report_unknown_column(r, i))
                                for i in range(C.cp_load_report_unknown_column_count(r))]

    def __repr__(self):
        return "<LoadReport %d rows: %d loaded, %d rejected, %d duplicates>" % (
            self.rows, self.loaded, self.rejected, self.duplicates)


class Store(Handle):
    """Profiles keyed by the schema's key field.

    Store(schema=None, as_of=None)   an empty store (default schema)
    Store.open(path)                 a snapshot (.cps)
    len(store), key in store, store[key] (a Profile; NotFoundError if
    absent), store.get(key) (None if absent), iter(store) (every Profile).
    """

    _free = "cp_store_free"

    def __init__(self, schema=None, as_of=None, _ptr=None):
        if _ptr is None:
            own = None
            if schema is None:
                schema = own = Schema.default()
            try:
                _ptr = new_handle(C.cp_store_new, schema._p, context="new store")
            finally:
                if own is not None:
                    own.close()  # the store keeps its own reference
        super().__init__(_ptr)
        self._schema = None
        # Bumped by every change made through this object: a Profile read
        # before a change looks its key up again (the C view is invalid).
        self._generation = 0
        if as_of is not None:
            self.as_of = as_of

    @classmethod
    def open(cls, path):
        """Open a snapshot file (custprof-snapshot(5))."""
        with Diag() as diag:
            return cls(_ptr=new_handle(C.cp_store_open, enc(path), diag.ptr, diag=diag,
                                       context=str(path)))

    @property
    def schema(self):
        if self._schema is None or self._schema.closed:
            self._schema = Schema(C.cp_store_schema(self._p), parent=self, owned=False)
        return self._schema

    def __len__(self):
        return C.cp_store_count(self._p)

    @property
    def as_of(self):
        """The as-of month, month 0 of every series: an int yyyymm (202610),
        0 when unset.  Set it with an int or "2026-10"."""
        return C.cp_store_as_of(self._p)

    @as_of.setter
    def as_of(self, value):
        check(C.cp_store_set_as_of(self._p, _yyyymm(value)), self._p)
        self._generation += 1

    def _changed(self):
        self._generation += 1

    # ---- loading and saving -----------------------------------------------

    def load_csv(self, path, delimiter=None, rejects=None, progress=None):
        """Load a CSV, PSV or TSV export (custprof-schema(5)).  Returns a
        LoadReport; rows that do not fit are rejected (and written to the
        rejects file if given), not raised.  progress(done, total) may
        return True to cancel (CanceledError)."""
        return self._load(path, None, delimiter, rejects, progress)

    def load_csv_text(self, text, name=None, delimiter=None, rejects=None):
        """Load CSV text (str or bytes); name labels messages."""
        return self._load(None, (enc(text), name), delimiter, rejects, None)

    def _load(self, path, memory, delimiter, rejects, progress):
        opts = new_handle(C.cp_load_opts_new)
        report = None
        try:
            if delimiter is not None:
                check(C.cp_load_opts_set_delimiter(opts, ord(delimiter)), opts)
            if rejects is not None:
                check(C.cp_load_opts_set_rejects_path(opts, enc(rejects)), opts)
            callback = None
            if progress is not None:
                callback = PROGRESS_FN(lambda done, total, _: 1 if progress(done, total) else 0)
                check(C.cp_load_opts_set_progress(opts, callback, None), opts)
            report = new_handle(C.cp_load_report_new)
            if memory is None:
                rc = C.cp_store_load_csv(self._p, enc(path), opts, report)
            else:
                data, name = memory
                rc = C.cp_store_load_csv_memory(self._p, data, len(data),
                                                enc(name) if name else None, opts, report)
            self._changed()
            check(rc, self._p)
            return LoadReport(report)
        finally:
            C.cp_load_report_free(report)
            C.cp_load_opts_free(opts)

    def save(self, path, compress=False):
        """Write a snapshot atomically (temporary file, fsync, rename)."""
        check(C.cp_store_save(self._p, enc(path), 1 if compress else 0), self._p)

    # ---- writing ------------------------------------------------------------

    def put(self, values):
        """Insert or replace the profile given as a mapping field -> value
        (the key field is required).  A series takes a list, month 0 first
        (a single value sets month 0).  Values: None (null), bool, int,
        float, str in the CSV text form, Decimal/int/str yuan for money,
        datetime.date, a list of str for a set or list.  Returns True when
        a profile with that key was replaced."""
        schema = self.schema
        draft = new_handle(C.cp_profile_new, schema._p)
        try:
            for name, value in values.items():
                field = schema.field(name)
                months = value if field.series and isinstance(value, (list, tuple)) else [value]
                if len(months) > field.months:
                    raise TypeMismatchError("%s holds %d months, got %d values"
                                            % (name, field.months, len(months)), -6)
                for month, cell in enumerate(months):
                    _set_cell(draft, field, month, cell)
            replaced = ctypes.c_int(0)
            rc = C.cp_store_put(self._p, draft, ctypes.byref(replaced))
            self._changed()
            check(rc, self._p)
            return bool(replaced.value)
        finally:
            C.cp_profile_free(draft)

    def delete(self, key):
        """Remove the profile with this key; NotFoundError if there is none."""
        rc = C.cp_store_delete(self._p, enc(key))
        self._changed()
        check(rc, self._p)

    # ---- reading ------------------------------------------------------------

    def get(self, key):
        """The Profile with this key (normalized: +86... works), or None."""
        try:
            return self[key]
        except NotFoundError:
            return None

    def __getitem__(self, key):
        view = new_handle(C.cp_view_new, self._p)
        rc = C.cp_store_get(self._p, enc(key), view)
        if rc != 0:
            try:
                raise_error(rc, view)
            finally:
                C.cp_view_free(view)
        return Profile(view, self)

    def __contains__(self, key):
        return self.get(key) is not None

    def __iter__(self):
        """Every profile, in store order.  Each is its own Profile."""
        it = Iterator(self)
        try:
            while True:
                p = it.next()
                if p is None:
                    return
                yield p
        finally:
            it.close()

    def memory_bytes(self):
        return C.cp_store_memory_bytes(self._p)

    def __repr__(self):
        if self.closed:
            return "<Store (closed)>"
        return "<Store %s: %d profiles as of %d>" % (self.schema.name, len(self), self.as_of)


def _set_cell(draft, field, month, value):
    f = field.index
    if value is None:
        rc = C.cp_profile_set_null(draft, f, month)
    elif field.type == "bool" and isinstance(value, bool):
        rc = C.cp_profile_set_bool(draft, f, month, int(value))
    elif field.type == "int" and isinstance(value, int) and not isinstance(value, bool):
        rc = C.cp_profile_set_int(draft, f, month, value)
    elif field.type == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        rc = C.cp_profile_set_float(draft, f, month, float(value))
    elif field.type == "date" and isinstance(value, datetime.date):
        rc = C.cp_profile_set_date(draft, f, month, days_from_date(value))
    elif field.type in ("set", "list") and isinstance(value, (list, tuple, set, frozenset)):
        rc = C.cp_profile_set_null(draft, f, month)
        for item in value:
            if rc == 0:
                rc = C.cp_profile_add_item(draft, f, month, enc(item))
    else:
        # the CSV text form: money in yuan, "2026-10-31", "Y", "a;b", ...
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        rc = C.cp_profile_set_text(draft, f, month, enc(str(value)))
    check(rc, draft)


class Iterator(Handle):
    """cp_iter over a store: next() gives a new Profile, None at the end."""

    _free = "cp_iter_free"

    def __init__(self, store):
        super().__init__(new_handle(C.cp_iter_new, store._p), store)
        self._store = store
        self._generation = store._generation

    def next(self):
        store = self._store
        if store._generation != self._generation:
            raise_error(-11, context="the store changed during the iteration")
        view = new_handle(C.cp_view_new, store._p)
        rc = C.cp_iter_next(self._p, view)
        if rc == DONE:
            C.cp_view_free(view)
            return None
        if rc != 0:
            try:
                check(rc, view)
            finally:
                C.cp_view_free(view)
        return Profile(view, store)


class Profile(Handle):
    """One subscriber's profile, read from a store (a cp_view).

    p.key                 the normalized key
    p["arpu"]             month 0 (or the scalar); p["arpu", 2] month 2
    p.series("arpu")      every month, 0 first
    p.text("arpu", m)     the CSV text form ("12.50", "" for null)
    p.label("brand")      an enum value's label (神州行)
    Values: None for null, bool, int, float, Decimal yuan for money,
    datetime.date, str for string/enum, a list of str for a set or list.
    """

    _free = "cp_view_free"

    def __init__(self, view, store):
        super().__init__(view, store)
        self.store = store
        self.key = dec(C.cp_view_key(view))
        self._generation = store._generation

    def _view(self):
        """The view, looked up again if the store changed since it was read."""
        view = self._p
        if self._generation != self.store._generation:
            rc = C.cp_store_get(self.store._p, enc(self.key), view)
            if rc != 0:
                raise_error(rc, view, context="the store changed")
            self._generation = self.store._generation
        return view

    def _field(self, name):
        return self.store.schema.field(name)

    def get(self, name, month=0):
        field = self._field(name)
        view = self._view()
        f = field.index
        if C.cp_view_is_null(view, f, month):
            return None
        t = field.type
        if t == "bool":
            return bool(C.cp_view_bool(view, f, month))
        if t == "int":
            return C.cp_view_int(view, f, month)
        if t == "float":
            return C.cp_view_float(view, f, month)
        if t == "money":
            return yuan(C.cp_view_money(view, f, month))
        if t == "date":
            return date_from_days(C.cp_view_date(view, f, month))
        if t in ("set", "list"):
            return [dec(C.cp_view_item(view, f, month, i))
                    for i in range(C.cp_view_item_count(view, f, month))]
        return dec(C.cp_view_string(view, f, month))

    def __getitem__(self, item):
        if isinstance(item, tuple):
            return self.get(*item)
        return self.get(item)

    def fen(self, name, month=0):
        """A money cell in integer fen (None for null)."""
        field = self._field(name)
        view = self._view()
        if C.cp_view_is_null(view, field.index, month):
            return None
        return C.cp_view_money(view, field.index, month)

    def series(self, name):
        return [self.get(name, m) for m in range(self._field(name).months)]

    def text(self, name, month=0):
        field = self._field(name)
        view = self._view()
        rc, text = text_call(C.cp_view_text, view, field.index, month)
        check(rc, view)
        return text

    def label(self, name, month=0):
        field = self._field(name)
        value = self.get(name, month)
        return field.value_label(value) if field.type == "enum" else value

    def to_dict(self):
        """Every field: scalars as values, series as lists (month 0 first)."""
        return {f.name: self.series(f.name) if f.series else self.get(f.name)
                for f in self.store.schema.fields}

    def __repr__(self):
        return "<Profile %s>" % self.key


def verify_snapshot(path):
    """Check every checksum of a snapshot file; CorruptError (with every
    problem in .diagnostics) if it is damaged."""
    with Diag() as diag:
        check(C.cp_snapshot_verify(enc(path), diag.ptr), None, diag, str(path))


