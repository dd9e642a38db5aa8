"""custprof — Python binding of libcustprof, the telecom customer-profiling
engine (ctypes, standard library only).

    import custprof
    store = custprof.Store.open("subscribers.cps")
    rules = custprof.Ruleset(store.schema)            # the built-in packs
    r = rules.evaluate(store, "13800000001")
    print([t.label for t in r.tags], r.stage("crbt").stage)
    print(r.explain(track="crbt"))
    for row in rules.select(store, where="stage('crbt') == 'churned'",
                            order_by="arpu", desc=True, limit=10,
                            columns="msisdn,region,arpu"):
        print(row.key, row["arpu"])

The library is found through the environment variable CUSTPROF_LIB (the
path of libcustprof.so), else the source tree's lib/.libs, else the
installed copy (`make install`), else the dynamic loader's search path.

Errors: every failing call raises custprof.Error (a subclass per status
code: NotFoundError, ParseError, CorruptError, ...) with .code, .message
(the library's message) and .diagnostics, a list of (file, line, column,
severity, message).

Resources: every object holding a C handle has close() and works as a
context manager; garbage collection frees it too.  An object keeps what it
depends on alive (a Profile its Store, a Result its Ruleset), and closing
an owner closes what depends on it.

Threads: ctypes releases the GIL during each library call.  A Schema and a
Ruleset are immutable and may be used by any number of threads at once.
A Store may be read by several threads at once; changing it (put, delete,
load, as_of) must not overlap with any other use of it.  A Result, Profile
or iteration belongs to one thread at a time: give each thread its own
(ruleset.result()).  Close an object from the thread that uses it.
"""

from ._lib import LIBRARY_PATH, version
from .batch import Category, Counts, Dimension, Query, Row, Selection, TagTable
from .errors import (CanceledError, CorruptError, Diagnostic, Error, ExistsError, FileError,
                     InvalidError, LimitError, MisuseError, NoMemoryError, NotFoundError,
                     ParseError, TypeMismatchError, VersionError)
from .rules import (STAGES, Explain, Node, Result, Ruleset, Stage, Tag, Track, stage_from_name,
                    stage_name)
from .schema import Field, Schema
from .store import LoadReport, Profile, Store, verify_snapshot, yuan

__all__ = [
    "LIBRARY_PATH", "version",
    "Error", "NoMemoryError", "InvalidError", "FileError", "ParseError", "TypeMismatchError",
    "NotFoundError", "CorruptError", "VersionError", "LimitError", "MisuseError",
    "CanceledError", "ExistsError", "Diagnostic",
    "Schema", "Field", "Store", "Profile", "LoadReport", "verify_snapshot", "yuan",
    "Ruleset", "Result", "Explain", "Node", "Tag", "Track", "Stage", "STAGES",
    "stage_name", "stage_from_name",
    "Selection", "Row", "Counts", "Dimension", "Category", "TagTable", "Query",
]
