"""Render a Cython Tempita template (``name.pyx.tp``) into ``name.pyx``: the build runs this
before cythonizing, so generated kernels are never committed (scikit-learn's approach)."""
import argparse
import pathlib

from Cython import Tempita


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("template", type=pathlib.Path, help="the .pyx.tp file")
    parser.add_argument("output", type=pathlib.Path, help="the .pyx file to write")
    args = parser.parse_args()
    text = Tempita.sub(args.template.read_text(encoding="utf-8"))
    header = f"# Generated from {args.template.name} by cmake/tempita.py; edit the template.\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    main()
