"""The hook through which an exporter sees every op as it runs (cylayers.onnx.export).

``state.active`` is None except while an exporter traces a forward pass in this thread: then
Function.apply hands it each op's class, arguments and output. Per thread, so that a model
trained in another thread meanwhile never lands in the exported graph."""
from cylayers._tensor_base import trace_state as state  # noqa: F401  (one switch for both)
