"""Exceptions: one class per libcustprof status code, all subclasses of Error."""

from collections import namedtuple

_SEVERITIES = {0: "error", 1: "warning", 2: "note"}


class Diagnostic(namedtuple("Diagnostic", "file line column severity message")):
    """One error or warning of a load or compile: (file, line, column,
    severity, message).  file is None and line/column 0 when unknown;
    severity is "error", "warning" or "note"."""

    __slots__ = ()

    def __new__(cls, file, line, column, severity, message):
        severity = _SEVERITIES.get(severity, severity)
        return super().__new__(cls, file, line, column, severity, message)

    def __str__(self):
        # the form of cp_diag_format(3): file:line:col: severity: message
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += ":%d" % self.line
                if self.column:
                    where += ":%d" % self.column
            where += ": "
        return "%s%s: %s" % (where, self.severity, self.message)


class Error(Exception):
    """A libcustprof call failed.

    code         the status code (negative, custprof.ENOTFOUND, ...)
    name         its name ("CP_ENOTFOUND")
    message      the library's message (cp_errmsg), naming file, line,
                 column or offset and the offending value where it can
    diagnostics  every Diagnostic collected by the call (loads, compiles)
    """

    code = -1

    def __init__(self, message, code=None, diagnostics=()):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.diagnostics = list(diagnostics)

    @property
    def name(self):
        return STATUS_NAMES.get(self.code, "CP_ERROR")

    def __str__(self):
        lines = [self.message]
        lines += ["  " + str(d) for d in self.diagnostics]
        return "\n".join(lines)


class NoMemoryError(Error, MemoryError):
    code = -2


class InvalidError(Error, ValueError):
    code = -3


class FileError(Error):
    """CP_EIO: a file could not be opened, read, written, synced or renamed."""
    code = -4


class ParseError(Error):
    """CP_ESYNTAX: malformed YAML, CSV or expression."""
    code = -5


class TypeMismatchError(Error):
    """CP_ETYPE: a value does not fit its field's type (or a rule's types)."""
    code = -6


class NotFoundError(Error, LookupError):
    code = -7


class CorruptError(Error):
    code = -8


class VersionError(Error):
    code = -9


class LimitError(Error):
    code = -10


class MisuseError(Error):
    code = -11


class CanceledError(Error):
    code = -12


class ExistsError(Error):
    code = -13


STATUS_NAMES = {
    0: "CP_OK", -1: "CP_ERROR", -2: "CP_ENOMEM", -3: "CP_EINVAL", -4: "CP_EIO",
    -5: "CP_ESYNTAX", -6: "CP_ETYPE", -7: "CP_ENOTFOUND", -8: "CP_ECORRUPT",
    -9: "CP_EVERSION", -10: "CP_ELIMIT", -11: "CP_EMISUSE", -12: "CP_ECANCELED",
    -13: "CP_EEXIST", 101: "CP_DONE",
}

_CLASSES = {cls.code: cls for cls in (
    NoMemoryError, InvalidError, FileError, ParseError, TypeMismatchError, NotFoundError,
    CorruptError, VersionError, LimitError, MisuseError, CanceledError, ExistsError)}


def error_class(code):
    """The Error subclass raised for a status code (Error for an unknown one)."""
    return _CLASSES.get(code, Error)
