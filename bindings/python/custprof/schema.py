"""Schema: the fields of a profile (custprof-schema(5))."""

import ctypes

from ._lib import C, Diag, Handle, dec, enc, new_handle
from .errors import NotFoundError

TYPE_NAMES = {1: "bool", 2: "int", 3: "float", 4: "money", 5: "string", 6: "enum", 7: "set",
              8: "list", 9: "date"}


class Field:
    """One field of a schema, read once (a schema is immutable).

    index, name, label, type ("money", ...), series (bool), months (held:
    the schema's months for a series, 1 for a scalar), closed (closed enum),
    max_items (list), normalize ("" or "msisdn-cn"), personal, description,
    values: the listed enum values as (value, label) pairs.
    """

    def __init__(self, schema_ptr, index):
        s, i = schema_ptr, index
        self.index = i
        self.name = dec(C.cp_schema_field_name(s, i))
        self.label = dec(C.cp_schema_field_label(s, i))
        self.type = TYPE_NAMES.get(C.cp_schema_field_type(s, i), "?")
        self.series = bool(C.cp_schema_field_is_series(s, i))
        self.months = C.cp_schema_field_months(s, i)
        self.closed = bool(C.cp_schema_field_is_closed(s, i))
        self.max_items = C.cp_schema_field_max_items(s, i)
        self.normalize = dec(C.cp_schema_field_normalize(s, i))
        self.personal = bool(C.cp_schema_field_is_personal(s, i))
        self.description = dec(C.cp_schema_field_description(s, i))
        self.values = [(dec(C.cp_schema_field_value(s, i, v)),
                        dec(C.cp_schema_field_value_label(s, i, v)))
                       for v in range(C.cp_schema_field_value_count(s, i))]
        self._labels = dict(self.values)

    def value_label(self, value):
        """The label of an enum value (神州行 for 'szx'); the value itself
        when it has none (an open enum's new value), None for None."""
        if value is None:
            return None
        return self._labels.get(value, value)

    def __repr__(self):
        return "<Field %s %s%s %r>" % (self.name, self.type, "[%d]" % self.months
                                       if self.series else "", self.label)


class Schema(Handle):
    """The fields of a profile.  Immutable: share it between threads freely.

    Schema.default()            the built-in cmcc-default schema
    Schema.load(path)           a YAML file
    Schema.from_yaml(text)      a YAML string
    A store or ruleset keeps its own reference, so a Schema may be closed
    as soon as they exist; store.schema borrows the store's.
    """

    _free = "cp_schema_free"

    def __init__(self, ptr, parent=None, owned=True):
        super().__init__(ptr, parent)
        if not owned:
            self._free = None
        self._fields = None
        self._by_name = None

    @classmethod
    def default(cls):
        return cls(new_handle(C.cp_schema_default, context="default schema"))

    @classmethod
    def load(cls, path):
        with Diag() as diag:
            return cls(new_handle(C.cp_schema_load_file, enc(path), diag.ptr, diag=diag))

    @classmethod
    def from_yaml(cls, text, name=None):
        data = enc(text)
        with Diag() as diag:
            return cls(new_handle(C.cp_schema_load_memory, data, len(data),
                                  enc(name) if name is not None else None, diag.ptr,
                                  diag=diag))

    @property
    def name(self):
        return dec(C.cp_schema_name(self._p))

    @property
    def months(self):
        """Depth of every series: month 0 (the as-of month) to months-1."""
        return C.cp_schema_months(self._p)

    @property
    def key(self):
        """Name of the key field (the phone number)."""
        return self.fields[C.cp_schema_key_field(self._p)].name

    @property
    def source(self):
        """The YAML text the schema was loaded from."""
        n = ctypes.c_size_t()
        return dec(C.cp_schema_source(self._p, ctypes.byref(n))) or ""

    @property
    def fields(self):
        """Every Field, in schema order."""
        if self._fields is None:
            p = self._p
            self._fields = [Field(p, i) for i in range(C.cp_schema_field_count(p))]
            self._by_name = {f.name: f for f in self._fields}
        return self._fields

    def field(self, name):
        """The Field called name; NotFoundError if there is none."""
        self.fields
        f = self._by_name.get(name)
        if f is None:
            raise NotFoundError("no field '%s' in schema %s" % (name, self.name))
        return f

    def __contains__(self, name):
        self.fields
        return name in self._by_name

    def __repr__(self):
        if self.closed:
            return "<Schema (closed)>"
        return "<Schema %s: %d fields, %d months>" % (self.name, len(self.fields), self.months)
