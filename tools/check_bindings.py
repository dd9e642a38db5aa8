#!/usr/bin/env python3
"""check_bindings.py — keep the bindings in step with the public header.

    check_bindings.py HEADER LUA_FILE PYTHON_DIR      check (exit 1 on a mismatch)
    check_bindings.py --cdef HEADER                   print the LuaJIT cdef of HEADER

Checks:
  - every function the LuaJIT binding's ffi.cdef declares is declared in the
    header with the same signature (after normalizing blanks), and the
    cdef's enums and typedefs match the header's;
  - every function of the Python binding's prototype table
    (custprof/_prototypes.py) is declared in the header with as many
    parameters, each of a compatible kind (pointer, integer of the same
    width, double), and a compatible return type (a pointer is never an
    int);
  - and lists the header's functions that a binding does not declare (a
    failure when CUSTPROF_STRICT_BINDINGS=1).

The cdef is text copied from the header (--cdef prints it): when the header
changes, paste the new output into bindings/lua/custprof.lua.
"""

import os
import re
import sys

# ---- C declarations as text ------------------------------------------------


def strip_c(text):
    """Text without comments, preprocessor lines and extern "C" braces."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"(?m)^\s*#.*$", " ", text)
    text = re.sub(r'extern\s+"C"\s*\{', " ", text)
    return text


def norm(decl):
    """One declaration with canonical blanks."""
    d = " ".join(decl.replace("CP_API", " ").split())
    d = re.sub(r"\s*\*\s*", " *", d)
    d = re.sub(r"\s*([(),\[\]{}=;])\s*", r"\1", d)
    d = d.replace(",", ", ")
    return d.strip()


def statements(text):
    """Top-level statements (split at ';' outside braces)."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            s = "".join(cur).strip()
            if s:
                out.append(s)
            cur = []
        else:
            cur.append(ch)
    return out


FUNC_RE = re.compile(r"\b(cp_\w+)\s*\(")


def parse(text):
    """functions {name: normalized decl}, other declarations {key: normalized}."""
    funcs, others = {}, {}
    for s in statements(strip_c(text)):
        s = s.strip()
        if s in ("}",) or not s:
            continue
        if s.startswith("typedef") or s.startswith("enum") or s.startswith("struct"):
            names = re.findall(r"\b(cp_\w+|CP_\w+)\b", s)
            key = names[-1] if s.startswith("typedef") and names else (names[0] if names else s)
            if s.startswith("typedef") and "(*" in s:
                key = re.search(r"\(\s*\*\s*(\w+)\s*\)", s).group(1)
            others[key] = norm(s)
            continue
        m = FUNC_RE.search(s)
        if m:
            funcs[m.group(1)] = norm(s)
    return funcs, others


def header_decls(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # only what the header declares after the CP_API macro is set up
    return parse(text)


def lua_cdef(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"ffi\.cdef\s*\[(=*)\[(.*?)\]\1\]", text, flags=re.S)
    if not blocks:
        raise SystemExit("%s: no ffi.cdef[[ ... ]] block" % path)
    funcs, others = {}, {}
    for _, body in blocks:
        f, o = parse(body)
        funcs.update(f)
        others.update(o)
    return funcs, others


def print_cdef(header):
    """The cdef of a header: its typedefs, enums and functions, in order."""
    with open(header, encoding="utf-8") as f:
        text = f.read()
    out = []
    for s in statements(strip_c(text)):
        s = s.strip()
        if not s or s == "}":
            continue
        if s.startswith(("typedef", "enum", "struct")) or "CP_API" in s:
            body = s.replace("CP_API ", "")
            if body.startswith("enum"):
                body = "\n".join(line.rstrip() for line in body.splitlines() if line.strip())
            else:
                body = " ".join(body.split())
            out.append(body + ";")
    print("\n".join(out))


# ---- Python prototypes -----------------------------------------------------

C_KINDS = {
    "int": "i32", "unsigned": "u32", "unsigned int": "u32", "int32_t": "i32",
    "cp_date": "i32", "int64_t": "i64", "uint64_t": "u64", "size_t": "u64",
    "double": "f64", "void": "void",
}


def c_kind(ctype):
    """The ABI class of a C type: "ptr", "i32", "u64", "fn", ..."""
    t = " ".join(ctype.replace("const ", "").split())
    if "*" in t:
        return "ptr"
    if t.endswith("_fn"):
        return "fn"
    return C_KINDS.get(t, "?" + t)


def split_decl(decl):
    """(return type, [parameter types]) of a normalized function declaration."""
    m = re.match(r"(.*?)\b(cp_\w+)\((.*)\)$", decl.rstrip(";"))
    ret, params = m.group(1), m.group(3)
    ret = ret.strip()
    if ret.endswith("*"):
        ret_kind = "ptr"
    else:
        ret_kind = c_kind(ret)
    kinds = []
    if params.strip() not in ("", "void"):
        depth, cur, parts = 0, [], []
        for ch in params:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append("".join(cur))
                cur = []
            else:
                cur.append(ch)
        parts.append("".join(cur))
        for p in parts:
            p = p.strip()
            if "(*" in p:
                kinds.append("fn")
                continue
            name = re.search(r"(\w+)$", p).group(1)
            kinds.append(c_kind(p[: -len(name)] if p.endswith(name) and p != name else p))
    return ret_kind, kinds


def ctypes_kind(t):
    import ctypes
    if t is None:
        return "void"
    if isinstance(t, type) and issubclass(t, ctypes._CFuncPtr):
        return "fn"
    if t in (ctypes.c_void_p, ctypes.c_char_p) or (
            isinstance(t, type) and issubclass(t, ctypes._Pointer)):
        return "ptr"
    size = ctypes.sizeof(t)
    if t in (ctypes.c_double, ctypes.c_float):
        return "f%d" % (8 * size)
    signed = t(-1).value < 0
    return ("i" if signed else "u") + str(8 * size)


def check_python(pydir, header_funcs, problems):
    # the module alone: importing the package would load the library
    import importlib.util
    path = os.path.join(pydir, "custprof", "_prototypes.py")
    spec = importlib.util.spec_from_file_location("custprof_prototypes", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, (restype, argtypes) in mod.PROTOTYPES.items():
        decl = header_funcs.get(name)
        if decl is None:
            problems.append("python: %s is not declared in the header" % name)
            continue
        ret_kind, kinds = split_decl(decl)
        got_ret = ctypes_kind(restype)
        if got_ret != ret_kind:
            problems.append("python: %s returns %s in the header, restype is %s"
                            % (name, ret_kind, got_ret))
        got = [ctypes_kind(t) for t in argtypes]
        if len(got) != len(kinds):
            problems.append("python: %s takes %d parameters in the header, %d declared"
                            % (name, len(kinds), len(got)))
            continue
        for i, (want, have) in enumerate(zip(kinds, got)):
            if want != have:
                problems.append("python: %s parameter %d is %s in the header, declared %s"
                                % (name, i + 1, want, have))
    return set(mod.PROTOTYPES)


def main(argv):
    if len(argv) == 3 and argv[1] == "--cdef":
        print_cdef(argv[2])
        return 0
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    header, lua, pydir = argv[1:]
    h_funcs, h_others = header_decls(header)
    problems = []

    l_funcs, l_others = lua_cdef(lua)
    for name, decl in sorted(l_funcs.items()):
        if name not in h_funcs:
            problems.append("lua: %s is not declared in the header" % name)
        elif decl != h_funcs[name]:
            problems.append("lua: %s differs from the header:\n  cdef:   %s\n  header: %s"
                            % (name, decl, h_funcs[name]))
    for key, decl in sorted(l_others.items()):
        if key not in h_others:
            problems.append("lua: %s is not in the header" % key)
        elif decl != h_others[key]:
            problems.append("lua: %s differs from the header:\n  cdef:   %s\n  header: %s"
                            % (key, decl, h_others[key]))

    py_names = check_python(pydir, h_funcs, problems)

    unbound = []
    for name in sorted(h_funcs):
        missing = [b for b, names in (("lua", l_funcs), ("python", py_names)) if name not in names]
        if missing:
            unbound.append("%s (%s)" % (name, ", ".join(missing)))
    for p in problems:
        print("FAIL: " + p)
    strict = os.environ.get("CUSTPROF_STRICT_BINDINGS") == "1"
    for u in unbound:
        print("%s: not bound: %s" % ("FAIL" if strict else "note", u))
    if problems or (strict and unbound):
        return 1
    print("ok: %d cdef functions and %d Python prototypes match %s (%d functions)"
          % (len(l_funcs), len(py_names), os.path.basename(header), len(h_funcs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
