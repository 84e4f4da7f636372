"""Render a Tempita template (``name.pyx.tp``, or a C header ``name.h.tp``) into ``name.pyx``
(``name.h``): the build runs this before cythonizing and compiling, so generated code is never
committed (scikit-learn's approach)."""
import argparse
import pathlib
import re

from Cython import Tempita


def fused_c_functions(header, functions, declarations=()):
    """Cython text declaring ``header``'s C functions, each there for float (``cyl_NAME_f``)
    and double (``cyl_NAME_d``), and one fused nogil wrapper ``_NAME`` per function, so a
    kernel calls one name for both types. ``functions``: (NAME, parameters[, return type])
    with ``T`` for the array type, e.g. ("affine", "const T* x, T* out, Py_ssize_t n") (the
    return type is void unless given); ``declarations``: further lines of the extern block
    (constants, functions without a type suffix)."""
    def typed(text, t):
        return re.sub(r"\bT\b", t, text)
    lines = [f'cdef extern from "{header}" nogil:']
    lines += [f"    {d}" for d in declarations]
    entries = [(f[0], f[1], f[2] if len(f) > 2 else "void") for f in functions]
    for name, params, ret in entries:
        lines += [f"    {typed(ret, 'float')} cyl_{name}_f({typed(params, 'float')})",
                  f"    {typed(ret, 'double')} cyl_{name}_d({typed(params, 'double')})"]
    for name, params, ret in entries:
        args = ", ".join(p.split()[-1] for p in params.split(", "))
        give = "" if ret == "void" else "return "
        lines += ["", "", f"cdef inline {typed(ret, 'floating')} _{name}("
                  f"{typed(params, 'floating')}) noexcept nogil:",
                  "    if floating is float:", f"        {give}cyl_{name}_f({args})",
                  "    else:", f"        {give}cyl_{name}_d({args})"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("template", type=pathlib.Path, help="the .pyx.tp or .h.tp file")
    parser.add_argument("output", type=pathlib.Path, help="the .pyx or .h file to write")
    args = parser.parse_args()
    text = Tempita.sub(args.template.read_text(encoding="utf-8"),
                       fused_c_functions=fused_c_functions)
    note = f"Generated from {args.template.name} by cmake/tempita.py; edit the template."
    header = f"/* {note} */\n" if args.output.suffix in (".h", ".c") else f"# {note}\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    main()
