"""Render a Tempita template (``name.pyx.tp``, or a C header ``name.h.tp``) into ``name.pyx``
(``name.h``): the build runs this before cythonizing and compiling, so generated code is never
committed (scikit-learn's approach)."""
import argparse
import pathlib

from Cython import Tempita


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("template", type=pathlib.Path, help="the .pyx.tp or .h.tp file")
    parser.add_argument("output", type=pathlib.Path, help="the .pyx or .h file to write")
    args = parser.parse_args()
    text = Tempita.sub(args.template.read_text(encoding="utf-8"))
    note = f"Generated from {args.template.name} by cmake/tempita.py; edit the template."
    header = f"/* {note} */\n" if args.output.suffix in (".h", ".c") else f"# {note}\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    main()
