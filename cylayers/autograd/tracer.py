"""The hook through which an exporter sees every op as it runs (cylayers.onnx.export).

``active`` is None except while an exporter traces a forward pass: then Function.apply hands it
each op's class, arguments and output. One module-level slot, read once per op."""
active = None
