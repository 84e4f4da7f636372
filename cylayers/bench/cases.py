"""The benchmark cases: single layers at the layer tutorial's shapes (its (20, 64, 32, 32) image
batch), whole training epochs and steps of the example models, size sweeps."""
import numpy as np

from cylayers.bench.registry import register


def _jax_dropout(p, alpha=False):
    """JAX dropout with a fixed key, as a jitted training step would draw it."""
    def fn(jnp, x):
        import jax
        keep = jax.random.bernoulli(jax.random.PRNGKey(0), 1 - p, x.shape)
        if not alpha:
            return jnp.where(keep, x / (1 - p), 0)
        a = (1.7580993408473766 ** 2 * p + 1) ** -0.5 * (1 - p) ** -0.5
        return a * jnp.where(keep, x, -1.7580993408473766) + a * 1.7580993408473766 * p
    return fn


def _jax_selu(jnp, x):
    return 1.0507009873554805 * jnp.where(x > 0, x, 1.6732632423543772 * jnp.expm1(x))


def _jax_prelu(jnp, x):
    w = jnp.full((1, x.shape[1], 1, 1), 0.25, dtype=x.dtype)
    return jnp.where(x > 0, x, w * x)


def _lib(name):
    if name == "cylayers":
        import cylayers
        return cylayers
    if name == "torch":
        import torch
        return torch
    return None


def _data(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _jax_build(jax_fn, shape, dtype):
    """fwd / fwd+bwd of jax_fn(jnp, x) under jax.jit (vjp for backward), when JAX is installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    x = jnp.asarray(_data(shape, dtype))
    g = jnp.asarray(_data(shape, dtype, 1))
    fwd = jax.jit(lambda a: jax_fn(jnp, a))
    def forward_backward(a, b):
        y, vjp = jax.vjp(lambda t: jax_fn(jnp, t), a)
        return y, vjp(b)[0]  # the output is returned too, as a training step uses it
    fwd_bwd = jax.jit(forward_backward)
    return {"fwd": lambda: fwd(x).block_until_ready(),
            "fwd+bwd": lambda: jax.block_until_ready(fwd_bwd(x, g))}


def _module_case(make_module, shape, numpy_fwd=None, numpy_fwd_bwd=None, train=True,
                 jax_fn=None):
    """fwd / fwd+bwd callables for a module built by make_module(lib)."""
    def build(lib_name, dtype):
        if lib_name == "jax":
            return _jax_build(jax_fn, shape, dtype) if jax_fn is not None else None
        if lib_name == "numpy":
            if numpy_fwd is None:
                return None
            x = _data(shape, dtype)
            out = {"fwd": lambda: numpy_fwd(x)}
            if numpy_fwd_bwd is not None:
                g = _data(shape, dtype, 1)
                out["fwd+bwd"] = lambda: numpy_fwd_bwd(x, g)
            return out
        lib = _lib(lib_name)
        m = make_module(lib)
        m.train(train)
        if dtype == np.float64:
            m = m.double()
        x_arr = _data(shape, dtype)
        x = lib.tensor(x_arr) if lib_name == "cylayers" else lib.from_numpy(x_arr)
        x.requires_grad_(True)
        probe = m(x)
        g_arr = _data(tuple(probe.shape), dtype, 1)
        g = lib.tensor(g_arr) if lib_name == "cylayers" else lib.from_numpy(g_arr)
        no_grad = lib.no_grad

        def fwd():
            with no_grad():
                m(x)

        def fwd_bwd():
            x.grad = None
            m(x).backward(g)

        def saved():
            return saved_bytes_per_element(lib_name, lambda: m(x), x)
        return {"fwd": fwd, "fwd+bwd": fwd_bwd, "saved": saved}
    return build


def saved_bytes_per_element(lib_name, run, x):
    """Bytes the autograd graph of run() keeps for backward, per input element (the input
    itself, which the caller holds anyway, is not counted)."""
    numel = max(int(np.prod(tuple(x.shape))), 1)
    if lib_name == "torch":
        import torch
        total = [0]

        def pack(t):
            if t.data_ptr() != x.data_ptr():
                total[0] += t.numel() * t.element_size()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = run()
        del out
        return total[0] / numel
    from cylayers.autograd.function import AccumulateGrad
    out = run()
    seen, stack, total = set(), [out._node], 0
    while stack:
        node = stack.pop()
        if node is None or type(node) is AccumulateGrad or id(node) in seen:
            continue
        seen.add(id(node))
        arrays = list(node.saved_tensors)
        for v in vars(node).values():  # what backward keeps besides: arrays, or tuples of them
            arrays.extend(v if isinstance(v, tuple) else (v,))
        for a in arrays:
            if isinstance(a, np.ndarray) and not np.shares_memory(a, x._array):
                total += a.nbytes
        stack.extend(node.next_nodes)
    return total / numel


def _numpy_relu(x):
    return np.maximum(x, 0)


def _numpy_relu_fb(x, g):
    y = np.maximum(x, 0)
    return y, g * (y > 0)


def _numpy_sigmoid_fb(x, g):
    y = 1 / (1 + np.exp(-x))
    return y, g * y * (1 - y)


def _numpy_tanh_fb(x, g):
    y = np.tanh(x)
    return y, g * (1 - y * y)


def _numpy_softmax(x):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=1, keepdims=True)


def _numpy_softmax_fb(x, g):
    y = _numpy_softmax(x)
    return y, y * (g - (g * y).sum(axis=1, keepdims=True))


TUTORIAL_IMAGES = (20, 64, 32, 32)
F32 = 4

# ---------------------------------------------------------------- foundation
register("Linear(512,256) on (256,512)", "foundation")(
    _module_case(lambda L: L.nn.Linear(512, 256), (256, 512),
                 numpy_fwd=None))


@register("autograd overhead: 1000-op chain on (4,)", "foundation", ops=1000,
          note="time per op (forward + backward)")
def _chain(lib_name, dtype):
    if lib_name not in ("cylayers", "torch"):
        return None
    lib = _lib(lib_name)
    x_arr = _data((4,), dtype)
    x = lib.tensor(x_arr, requires_grad=True) if lib_name == "cylayers" else \
        lib.from_numpy(x_arr).requires_grad_(True)

    def fwd():
        with lib.no_grad():
            y = x
            for _ in range(1000):
                y = y * 1.0001
    def fwd_bwd():
        x.grad = None
        y = x
        for _ in range(1000):
            y = y * 1.0001
        y.sum().backward()
    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


# ---------------------------------------------------------------- activations
_ACT_BYTES = 4 * int(np.prod(TUTORIAL_IMAGES)) * F32  # read x, write y; read g, y, write gx (approx)
register("ReLU on (20,64,32,32)", "activation", _ACT_BYTES)(
    _module_case(lambda L: L.nn.ReLU(), TUTORIAL_IMAGES, _numpy_relu, _numpy_relu_fb,
                 jax_fn=lambda jnp, x: jnp.maximum(x, 0)))
register("Sigmoid on (20,64,32,32)", "activation", _ACT_BYTES)(
    _module_case(lambda L: L.nn.Sigmoid(), TUTORIAL_IMAGES, lambda x: 1 / (1 + np.exp(-x)),
                 _numpy_sigmoid_fb, jax_fn=lambda jnp, x: 1 / (1 + jnp.exp(-x))))
register("Tanh on (20,64,32,32)", "activation", _ACT_BYTES)(
    _module_case(lambda L: L.nn.Tanh(), TUTORIAL_IMAGES, np.tanh, _numpy_tanh_fb,
                 jax_fn=lambda jnp, x: jnp.tanh(x)))
register("SELU on (20,64,32,32)", "activation", _ACT_BYTES)(
    _module_case(lambda L: L.nn.SELU(), TUTORIAL_IMAGES, jax_fn=_jax_selu))
register("PReLU(64) on (20,64,32,32)", "activation", _ACT_BYTES)(
    _module_case(lambda L: L.nn.PReLU(64), TUTORIAL_IMAGES, jax_fn=_jax_prelu))
register("Softmax(dim=1) on (4096,1000)", "activation")(
    _module_case(lambda L: L.nn.Softmax(dim=1), (4096, 1000), _numpy_softmax,
                 _numpy_softmax_fb))
register("LogSoftmax(dim=1) on (4096,1000)", "activation")(
    _module_case(lambda L: L.nn.LogSoftmax(dim=1), (4096, 1000)))

# ---------------------------------------------------------------- dropout family
register("Dropout(0.5) on (20,64,32,32)", "dropout", _ACT_BYTES)(
    _module_case(lambda L: L.nn.Dropout(0.5), TUTORIAL_IMAGES, jax_fn=_jax_dropout(0.5)))
register("Dropout2d(0.2) on (20,64,32,32)", "dropout", _ACT_BYTES)(
    _module_case(lambda L: L.nn.Dropout2d(0.2), TUTORIAL_IMAGES))
register("Dropout3d(0.3) on (8,16,16,32,32)", "dropout")(
    _module_case(lambda L: L.nn.Dropout3d(0.3), (8, 16, 16, 32, 32)))
register("AlphaDropout(0.2) on (256,512)", "dropout")(
    _module_case(lambda L: L.nn.AlphaDropout(0.2), (256, 512),
                 jax_fn=_jax_dropout(0.2, alpha=True)))

# ---------------------------------------------------------------- normalization
def _norm_bytes(shape):
    # forward: read x twice (stats, normalize), write y; backward: read g and x twice, write dx
    return 8 * int(np.prod(shape)) * F32


def _numpy_bn_fwd(x):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5)


def _numpy_bn_fwd_bwd(x, g):
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    xhat = (x - mean) * inv_std
    gx = inv_std * (g - g.mean(axis=axes, keepdims=True)
                    - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    return xhat, gx


register("BatchNorm2d(64) on (20,64,32,32)", "normalization", _norm_bytes(TUTORIAL_IMAGES))(
    _module_case(lambda L: L.nn.BatchNorm2d(64), TUTORIAL_IMAGES, _numpy_bn_fwd, _numpy_bn_fwd_bwd))
register("BatchNorm2d(64) on (64,64,56,56)", "normalization", _norm_bytes((64, 64, 56, 56)))(
    _module_case(lambda L: L.nn.BatchNorm2d(64), (64, 64, 56, 56)))
register("LayerNorm([64,32]) on (20,64,32)", "normalization", _norm_bytes((20, 64, 32)))(
    _module_case(lambda L: L.nn.LayerNorm([64, 32]), (20, 64, 32)))
register("LayerNorm([64,32,32]) on (20,64,32,32)", "normalization", _norm_bytes(TUTORIAL_IMAGES))(
    _module_case(lambda L: L.nn.LayerNorm([64, 32, 32]), TUTORIAL_IMAGES))
register("InstanceNorm2d(64, affine) on (20,64,32,32)", "normalization", _norm_bytes(TUTORIAL_IMAGES))(
    _module_case(lambda L: L.nn.InstanceNorm2d(64, affine=True), TUTORIAL_IMAGES))
register("GroupNorm(8,64) on (20,64,32,32)", "normalization", _norm_bytes(TUTORIAL_IMAGES))(
    _module_case(lambda L: L.nn.GroupNorm(8, 64), TUTORIAL_IMAGES))

# ---------------------------------------------------------------- convolution and whole epochs
register("Conv2d(3,64,3) on (20,3,32,32)", "conv")(
    _module_case(lambda L: L.nn.Conv2d(3, 64, 3), (20, 3, 32, 32)))
register("Conv2d(3,16,3,p=1) [ConvBNReLU] on (20,3,32,32)", "conv")(
    _module_case(lambda L: L.nn.Conv2d(3, 16, 3, padding=1), (20, 3, 32, 32)))
register("Conv3d(1,16,3) [Conv3DNet] on (8,1,16,16,16)", "conv")(
    _module_case(lambda L: L.nn.Conv3d(1, 16, 3), (8, 1, 16, 16, 16)))
register("Conv2d(16,32,3,p=1) [digits CNN] on (64,16,8,8)", "conv")(
    _module_case(lambda L: L.nn.Conv2d(16, 32, 3, padding=1), (64, 16, 8, 8)))
register("MaxPool2d(2) on (20,64,32,32)", "conv")(
    _module_case(lambda L: L.nn.MaxPool2d(2), TUTORIAL_IMAGES))


def _digits_epoch(make_model, flatten, batch_size=64):
    """One training epoch (Adam, cross-entropy) of an example model on the digits training set,
    same data, batch order and architecture in both libraries."""
    def build(lib_name, dtype):
        if lib_name not in ("cylayers", "torch"):
            return None
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            return None
        from cylayers.bench import models
        lib = _lib(lib_name)
        digits = load_digits()
        x = (digits.images / 16.0).astype(dtype)
        x = x.reshape(len(x), 64) if flatten else x.reshape(len(x), 1, 8, 8)
        y = digits.target.astype(np.int64)
        lib.manual_seed(0)
        model = getattr(models, make_model)(lib)
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = lib.nn.CrossEntropyLoss()
        as_tensor = lib.tensor if lib_name == "cylayers" else lib.from_numpy
        order = np.random.default_rng(0).permutation(len(x))
        batches = [(as_tensor(np.ascontiguousarray(x[order[i:i + batch_size]])),
                    as_tensor(np.ascontiguousarray(y[order[i:i + batch_size]])))
                   for i in range(0, len(x), batch_size)]

        def epoch():
            for xb, yb in batches:
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
        return {"epoch": epoch}
    return build


register("epoch: SelfNormalizingNet on digits (batch 64)", "epoch")(
    _digits_epoch("self_normalizing_net", flatten=True))
register("epoch: ConvBNReLU CNN on digits (batch 64)", "epoch")(
    _digits_epoch("conv_bn_relu_net", flatten=False))
register("epoch: digits CNN (Conv16-BN-ReLU-Conv32-BN-ReLU-Dropout2d-Linear, batch 64)",
         "epoch")(_digits_epoch("digits_cnn", flatten=False))
register("epoch: ComplexNet on digits (batch 64)", "epoch")(
    _digits_epoch("complex_net", flatten=False))



def _tiny_cnn_step(batch_size=16):
    """One SGD step of a tiny Conv-BN-ReLU-Pool-Linear net on 8x8 images: a step so small that a
    parallel region's start, or a thread waiting for a busy core, is most of its time."""
    def build(lib_name, dtype):
        lib = _lib(lib_name)
        if lib is None:
            return None
        lib.manual_seed(0)
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
        model = model.to(getattr(lib, np.dtype(dtype).name))
        opt = lib.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = nn.CrossEntropyLoss()
        x = lib.tensor(_data((batch_size, 1, 8, 8), dtype))
        y = lib.tensor(np.random.default_rng(1).integers(0, 10, batch_size))

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        return {"step": step}
    return build


TINY_STEP_CASE = "step: tiny CNN (Conv-BN-ReLU-Pool-Linear, batch 16 of 8x8)"
register(TINY_STEP_CASE, "neighbour")(_tiny_cnn_step())

# ---------------------------------------------------------------- size sweeps (threads follow work)
SWEEP_ROWS = (1, 16, 64, 256, 1024, 4096, 16384)  # rows of 256: 256 .. 4M elements
for _rows in SWEEP_ROWS:
    register(f"sweep: LayerNorm(256) on ({_rows},256)", "sweep")(
        _module_case(lambda L: L.nn.LayerNorm(256), (_rows, 256)))
    register(f"sweep: Softmax(dim=1) on ({_rows},256)", "sweep")(
        _module_case(lambda L: L.nn.Softmax(dim=1), (_rows, 256)))


# ---------------------------------------------------------------- sequence models
def _lm_step(make_model, batch=32, length=128, vocab=80):
    """One AdamW training step of the char_lm example's model on random token windows."""
    def build(lib_name, dtype):
        if lib_name not in ("cylayers", "torch"):
            return None
        from cylayers.bench import models
        lib = _lib(lib_name)
        lib.manual_seed(0)
        model = getattr(models, make_model)(lib, vocab=vocab)
        if dtype == np.float64:
            model = model.double()
        opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
        tokens = np.random.default_rng(0).integers(0, vocab, (batch, length + 1))
        x, y = lib.tensor(tokens[:, :-1]), lib.tensor(tokens[:, 1:].reshape(-1))
        F = lib.nn.functional

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x).reshape(-1, vocab), y).backward()
            opt.step()
        return {"step": step}
    return build


register("step: char-LM Transformer (d128, 4 heads, 2 layers, batch 32 x 128)", "sequence")(
    _lm_step("char_transformer"))
register("step: char-LM LSTM (embed 64, hidden 256, 2 layers, batch 32 x 128)", "sequence")(
    _lm_step("char_lstm"))


def _attention_case(batch=8, heads=4, length=128, head_dim=32):
    def build(lib_name, dtype):
        if lib_name not in ("cylayers", "torch"):
            return None
        lib = _lib(lib_name)
        shape = (batch, heads, length, head_dim)
        q, k, v = (lib.tensor(_data(shape, dtype, s), requires_grad=True) for s in range(3))
        g = lib.tensor(_data(shape, dtype, 3))
        sdpa = lib.nn.functional.scaled_dot_product_attention

        def fwd():
            with lib.no_grad():
                return sdpa(q, k, v, is_causal=True)

        def fwd_bwd():
            sdpa(q, k, v, is_causal=True).backward(g)
        return {"fwd": fwd, "fwd+bwd": fwd_bwd}
    return build


register("causal attention (8, 4 heads, 128, 32)", "sequence")(_attention_case())
