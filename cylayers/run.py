"""python -m cylayers.run script.py [args]: run a PyTorch script unmodified on cylayers.

Every ``import torch`` / ``import torch.nn as nn`` / ``from torch.utils.data import DataLoader``
in the script (and in the modules it imports) resolves to cylayers: an import hook placed ahead
of every other maps ``torch`` to ``cylayers`` and ``torch.X`` to ``cylayers.X`` (with PyTorch's
submodule paths that cylayers keeps elsewhere, such as ``torch.utils.data.dataloader``). The
real PyTorch, if installed, is never loaded, so the two never meet in one process.

What it cannot cover: packages built on PyTorch's C++ core (torchvision, torchaudio, their
compiled ops) would receive cylayers where they expect torch; CUDA-only code paths; and any API
cylayers does not have, which fails with a clear AttributeError or ImportError naming it."""
import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys

# PyTorch module paths whose cylayers home has another name; anything else maps torch.X to
# cylayers.X.
ALIASES = {
    "torch.utils.data": "cylayers.data",
    "torch.utils.data.dataloader": "cylayers.data.loader",
    "torch.utils.data.dataset": "cylayers.data.dataset",
    "torch.utils.data.sampler": "cylayers.data.sampler",
    "torch.utils.data.distributed": "cylayers.data.distributed",
    "torch.nn.modules.linear": "cylayers.nn.modules.linear",
    "torch.autograd.function": "cylayers.autograd.custom",
    "torch.optim.optimizer": "cylayers.optim.optimizer",
}


def cylayers_name(torch_name):
    """The cylayers module that stands for the PyTorch module ``torch_name``."""
    if torch_name in ALIASES:
        return ALIASES[torch_name]
    return "cylayers" + torch_name[len("torch"):]


class TorchToCylayers(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``torch`` and ``torch.*`` imports to the cylayers modules that stand for them."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        target = cylayers_name(spec.name)
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"cylayers.run: the script imports {spec.name!r}, which cylayers does not "
                f"provide (looked for {target!r}: {exc})", name=spec.name) from None

    def exec_module(self, module):
        pass  # the cylayers module is imported already


def install():
    """Put the hook first on sys.meta_path and drop any torch modules already imported."""
    for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
        del sys.modules[name]
    if not any(isinstance(f, TorchToCylayers) for f in sys.meta_path):
        sys.meta_path.insert(0, TorchToCylayers())


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0])
        print("\nusage: python -m cylayers.run script.py [args...]")
        return 0 if argv else 2
    script = argv[0]
    if not os.path.isfile(script):
        print(f"cylayers.run: no such script: {script}", file=sys.stderr)
        return 2
    install()
    sys.argv = argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
