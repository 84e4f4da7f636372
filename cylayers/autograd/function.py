"""One differentiable op = one Function subclass with a forward/backward pair.

``forward(ctx, *args)`` receives numpy arrays for Tensor arguments (anything else as given) and
returns a numpy array; ``backward(ctx, grad)`` returns one gradient (array or None) per
argument. ``apply`` wraps the result in a Tensor and, when some input requires grad, records the
ctx as that tensor's node on the tape. ``ctx`` is the node itself: it keeps only what backward
needs, and the engine drops that after backward unless the graph is retained.
"""
from cylayers.autograd.grad_mode import grad_state

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class Function:
    # True for ops whose output is a view of their first input (reshape, transpose, indexing):
    # the output then shares the input's version counter, so in-place edits through either are
    # seen by backward.
    returns_view = False
    __slots__ = ("next_nodes", "needs_input_grad", "saved_tensors", "_saved_versions",
                 "_freed", "out", "__dict__")

    def __init__(self):
        self.saved_tensors = ()
        self._saved_versions = None
        self._freed = False
        self.out = None  # set by apply_inplace: the array forward must write into

    # ---- what subclasses use
    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    def name(self):
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    # ---- tape bookkeeping
    def _record_versions(self, tensors):
        """Remember the version of every Tensor whose array was saved, to catch in-place edits."""
        saved = self.saved_tensors
        if not saved:
            return
        versions = []
        for t in tensors:
            data = t.data
            for s in saved:
                if s is data:
                    versions.append((t._vc, t._vc[0]))
                    break
        self._saved_versions = versions

    def _check_saved(self):
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE)
        if self._saved_versions:
            for counter, expected in self._saved_versions:
                if counter[0] != expected:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified "
                        f"by an inplace operation: the input or output of {self.name()} is at "
                        f"version {counter[0]}; expected version {expected} instead."
                    )

    def _release(self):
        # Everything forward kept for backward goes, so a second backward must be refused.
        self.saved_tensors = ()
        self._saved_versions = None
        self._freed = True
        self.__dict__.clear()

    @classmethod
    def apply(cls, *args):
        ctx = cls()
        raw = []
        tensors = []
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                tensors.append(a)
                if a.requires_grad:
                    requires = True
            else:
                raw.append(a)
        requires = requires and grad_state.enabled
        if requires:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        if cls.returns_view:
            out = args[0]._make_view(cls.forward(ctx, *raw), requires)
        else:
            out = Tensor._make(cls.forward(ctx, *raw), requires)
        if requires:
            ctx.next_nodes = tuple(
                (a._node if a._node is not None else a) if isinstance(a, Tensor) and a.requires_grad
                else None
                for a in args
            )
            tensors.append(out)
            ctx._record_versions(tensors)
            out._node = ctx
        return out

    @classmethod
    def apply_inplace(cls, target, *args):
        """Run the op writing into ``target`` and make target the op's output on the tape."""
        grad_on = grad_state.enabled
        if grad_on and target.requires_grad and target._node is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        requires = grad_on and (target.requires_grad or any(
            isinstance(a, Tensor) and a.requires_grad for a in args))
        if requires and target._base is not None and target._base.requires_grad:
            raise RuntimeError(
                f"in-place {cls.__name__} on a view of a tensor that requires grad is not "
                "supported by cylayers; apply it out of place (inplace=False) instead")
        ctx = cls()
        ctx.out = target.data
        full = (target,) + args
        raw = [a.data if isinstance(a, Tensor) else a for a in full]
        if requires:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in full)
            ctx.next_nodes = tuple(
                (a._node if a._node is not None else a) if isinstance(a, Tensor) and a.requires_grad
                else None
                for a in full
            )
        result = cls.forward(ctx, *raw)
        if result is not target.data:
            raise AssertionError(f"{cls.__name__}.forward ignored ctx.out")
        target._vc[0] += 1
        if requires:
            ctx._record_versions([a for a in args if isinstance(a, Tensor)] + [target])
            target._node = ctx
            target.requires_grad = True
        ctx.out = None
        return target


# Set by cylayers._tensor once Tensor exists (the two modules need each other).
Tensor = None
