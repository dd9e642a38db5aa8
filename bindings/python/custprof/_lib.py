"""Loading libcustprof and the plumbing shared by every class: prototypes,
string conversion, errors from status codes, and the handle base class."""

import ctypes
import ctypes.util
import os
import weakref

from . import _prototypes
from .errors import Diagnostic, Error, MisuseError, error_class

LIBRARY_ENV = "CUSTPROF_LIB"


def _candidates():
    """Where to look for the shared library, in order."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        # An explicit choice is the only candidate: a typo must not silently
        # fall back to another copy of the library.
        return [env]
    found = []
    here = os.path.dirname(os.path.abspath(__file__))
    intree = os.path.normpath(os.path.join(here, "..", "..", "..", "lib", ".libs",
                                           "libcustprof.so"))
    if os.path.exists(intree):
        found.append(intree)
    try:
        from . import _installed  # written by `make install`
        found.append(os.path.join(_installed.LIBDIR, "libcustprof.so.0"))
    except ImportError:
        pass
    name = ctypes.util.find_library("custprof")
    if name:
        found.append(name)
    found.append("libcustprof.so.0")  # the dynamic loader's own search path
    return found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            tried.append("%s (%s)" % (path, exc))
    raise ImportError("libcustprof not found; set %s to the path of libcustprof.so. Tried: %s"
                      % (LIBRARY_ENV, "; ".join(tried)))


class _Functions:
    """The library's functions as attributes, each with its prototype."""

    def __init__(self, dll):
        self.missing = []
        for name, (restype, argtypes) in _prototypes.PROTOTYPES.items():
            fn = getattr(dll, name, None)
            if fn is None:
                self.missing.append(name)
                setattr(self, name, _absent(name))
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)


def _absent(name):
    def call(*args):
        raise Error("%s is not in the loaded libcustprof (version %s): it is older than "
                    "this binding" % (name, version()), -1)
    return call


DLL, LIBRARY_PATH = _load()
C = _Functions(DLL)


def version():
    return C.cp_version().decode()


# ---- strings -------------------------------------------------------------

def enc(text):
    """A str, bytes or path-like as the NUL-terminated bytes C expects."""
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, os.PathLike):
        return os.fsencode(text)
    raise TypeError("expected a string, got %s" % type(text).__name__)


def dec(raw):
    """bytes from the library as str (None stays None)."""
    return None if raw is None else raw.decode("utf-8")


def text_call(fn, *args):
    """Call fn(*args, buf, size), an snprintf-like function, and return its
    text.  A negative return is an error code."""
    size = 128
    while True:
        buf = ctypes.create_string_buffer(size)
        n = fn(*args, buf, size)
        if n < 0:
            return n, None
        if n < size:
            return n, buf.value.decode("utf-8")
        size = n + 1


# ---- diagnostics and errors ---------------------------------------------

class Diag:
    """A cp_diag for one call: created, read into Diagnostic tuples, freed."""

    def __init__(self):
        out = ctypes.c_void_p()
        rc = C.cp_diag_new(ctypes.byref(out))
        if rc != 0:
            raise error_class(rc)("cannot create a diagnostics list: " + strerror(rc), rc)
        self.ptr = out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        C.cp_diag_free(self.ptr)
        self.ptr = None

    def entries(self):
        d = self.ptr
        return [Diagnostic(dec(C.cp_diag_file(d, i)) or None, C.cp_diag_line(d, i),
                           C.cp_diag_column(d, i), C.cp_diag_severity(d, i),
                           dec(C.cp_diag_message(d, i)))
                for i in range(C.cp_diag_count(d))]


def strerror(code):
    return dec(C.cp_strerror(code)) or "status %d" % code


def raise_error(code, handle=None, diag=None, context=None):
    """Raise the Error subclass of code, with the handle's message (or the
    first error of diag, or the code's name) and diag's entries."""
    diagnostics = diag.entries() if diag is not None else []
    message = ""
    if handle:
        message = dec(C.cp_errmsg(handle)) or ""
    if not message:
        errors = [d for d in diagnostics if d.severity == "error"]
        message = errors[0].message if errors else strerror(code)
    if context:
        message = "%s: %s" % (context, message)
    raise error_class(code)(message, code, diagnostics)


def check(rc, handle=None, diag=None, context=None):
    """rc if it is not an error (>= 0), else raise."""
    if rc < 0:
        raise_error(rc, handle, diag, context)
    return rc


# ---- handles ---------------------------------------------------------------

class Handle:
    """Owner of one C handle.

    close() frees it (idempotent), and so do `with` and garbage collection.
    A handle that depends on another (a Profile on its Store, a Result on
    its Ruleset) holds a reference to it, so the parent is never collected
    first, and an explicit close() of the parent closes its children first.
    """

    _free = None  # name of the C function that frees the handle

    def __init__(self, ptr, parent=None, also=()):
        self._ptr = ptr
        # every owner: the parent and any other handle this one reads
        self._parent = [p for p in (parent,) + tuple(also) if p is not None]
        self._children = weakref.WeakSet()
        for owner in self._parent:
            owner._children.add(self)

    @property
    def _p(self):
        ptr = getattr(self, "_ptr", None)
        if ptr is None:
            raise MisuseError("this %s is closed" % type(self).__name__, -11)
        return ptr

    @property
    def closed(self):
        return getattr(self, "_ptr", None) is None

    def close(self):
        ptr = getattr(self, "_ptr", None)
        if ptr is None:
            return
        for child in list(self._children):
            child.close()
        self._ptr = None
        if self._free is not None:
            getattr(C, self._free)(ptr)
        self._parent = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: module globals may be gone
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def new_handle(fn, *args, context=None, diag=None):
    """Call a constructor fn(&out, *args) and return out; raise on failure
    (the message comes from diag, as the handle does not exist)."""
    out = ctypes.c_void_p()
    rc = fn(ctypes.byref(out), *args)
    if rc != 0:
        raise_error(rc, None, diag, context)
    return out
