"""A character-level language model: a small causal Transformer (or an LSTM) trained on a bundled
public-domain English text (examples/data/founding_texts.txt), then sampled.

    python examples/char_lm.py                         # Transformer on the bundled text
    python examples/char_lm.py --model lstm
    python examples/char_lm.py --text my_book.txt --epochs 20
    python examples/char_lm.py --export runs/char_lm.onnx
    mpiexec -n 2 python examples/char_lm.py --distributed

Each epoch is --steps-per-epoch AdamW steps on random windows of --context characters from the
first 90% of the text; the last 10% is the validation text. The validation loss is reported in
bits per character (cross-entropy / ln 2). At the end a sample is generated from a prompt.
"""
import math
import os
import pathlib
import sys
import time

import numpy as np

import cylayers as torch
from cylayers import nn
import cylayers.nn.functional as F

from training import (ExampleParser, HelpFormatter, distribute, plot_panels, positive_int,
                      progress)

BUNDLED_TEXT = pathlib.Path(__file__).resolve().parent / "data" / "founding_texts.txt"


class CharTransformer(nn.Module):
    """Token and position embeddings, pre-norm causal Transformer encoder layers, a final
    LayerNorm and a linear head over the characters."""

    def __init__(self, vocab, d_model=128, heads=4, layers=2, context=128, dropout=0.1):
        super().__init__()
        self.context = context
        self.token = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx):
        n = idx.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(n)
        h = self.token(idx) + self.position(torch.arange(n))
        return self.head(self.blocks(h, mask=mask, is_causal=True))


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed=64, hidden=256, layers=2, dropout=0.1):
        super().__init__()
        self.token = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx):
        out, _ = self.lstm(self.token(idx))
        return self.head(out)


class Corpus:
    """The text as character ids: a training part and a validation part."""

    def __init__(self, path, val_fraction=0.1):
        text = pathlib.Path(path).read_text(encoding="utf-8")
        if len(text) < 64:
            raise SystemExit(f"{path}: {len(text)} characters is too short a text to learn from")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        ids = np.array([self.index[c] for c in text], dtype=np.int64)
        cut = int(len(ids) * (1 - val_fraction))
        self.train, self.val = ids[:cut], ids[cut:]

    def encode(self, text):
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise SystemExit(f"the prompt has characters the text never uses: {unknown}")
        return [self.index[c] for c in text]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


def windows(ids, batch, context, rng):
    """A batch of random (input, next-character target) windows."""
    starts = rng.integers(0, len(ids) - context - 1, batch)
    x = np.stack([ids[s:s + context] for s in starts])
    y = np.stack([ids[s + 1:s + context + 1] for s in starts])
    return torch.tensor(x), torch.tensor(y)


def validation_bits_per_char(model, ids, context, vocab):
    """Mean cross-entropy over consecutive validation windows, in bits per character."""
    model.eval()
    total, count = 0.0, 0
    context = min(context, len(ids) - 1)
    with torch.no_grad():
        for s in range(0, len(ids) - context - 1 + 1, context):
            x = torch.tensor(ids[None, s:s + context])
            y = torch.tensor(ids[s + 1:s + context + 1])
            loss = F.cross_entropy(model(x).reshape(-1, vocab), y, reduction="sum")
            total += loss.item()
            count += context
    model.train()
    return total / max(count, 1) / math.log(2)


def generate(model, corpus, prompt, length, context, temperature=0.8, top_k=10, seed=0):
    """Sample ``length`` characters after ``prompt``: top-k, temperature, multinomial."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    ids = corpus.encode(prompt)
    with torch.no_grad():
        for _ in range(length):
            x = torch.tensor([ids[-context:]])
            logits = model(x)[0, -1] / temperature
            values, indices = logits.topk(min(top_k, logits.shape[0]))
            probs = F.softmax(values, dim=-1)
            choice = torch.multinomial(probs, 1, generator=generator).item()
            ids.append(int(indices[choice].item()))
    model.train()
    return corpus.decode(ids)


def make_parser():
    p = ExampleParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model", choices=["transformer", "lstm"], default="transformer",
                   help="a causal Transformer or an LSTM")
    p.add_argument("--text", default=str(BUNDLED_TEXT),
                   help="a UTF-8 text file to learn (default: the bundled public-domain text)")
    p.add_argument("--epochs", type=positive_int, default=6, help="epochs of --steps-per-epoch steps")
    p.add_argument("--steps-per-epoch", type=positive_int, default=50, help="optimizer steps per epoch")
    p.add_argument("--batch-size", type=positive_int, default=32, help="windows per step")
    p.add_argument("--context", type=positive_int, default=128, help="characters per window")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout in the model")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, windows and sampling")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="threads for kernels and matrix products (default: OMP_NUM_THREADS, "
                        "else all cores, shared out between the MPI ranks on this node)")
    p.add_argument("--checkpoint", default="runs/char_lm.cyl", help="saved after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--plot", default="runs/char_lm.png", help="loss curves (PNG)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI ranks (launch with mpiexec -n N): each rank "
                        "draws its own windows, gradients are averaged, rank 0 logs and saves")
    p.add_argument("--export", default=None, metavar="FILE.onnx",
                   help="after training, write the model as ONNX (needs cylayers[onnx])")
    p.add_argument("--prompt", default="We hold these", help="start of the generated sample")
    p.add_argument("--sample-length", type=int, default=300, help="characters to generate")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")
    p.add_argument("--top-k", type=positive_int, default=10, help="sample among the k likeliest")
    return p


def main(argv=None):
    args = make_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = Corpus(args.text)
    vocab = len(corpus.chars)
    if len(corpus.train) <= args.context + 1 or len(corpus.val) < 2:
        raise SystemExit(f"{args.text}: the text is too short for --context {args.context}")
    torch.manual_seed(args.seed)
    if args.model == "transformer":
        model = CharTransformer(vocab, context=args.context, dropout=args.dropout)
    else:
        model = CharLSTM(vocab, dropout=args.dropout)
    trained = distribute(model, args, sync_batchnorm=False)
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    log = print if rank == 0 else (lambda *a, **k: None)
    log(f"{args.model}: {sum(p.numel() for p in model.parameters())} parameters, "
        f"{vocab} characters, {len(corpus.train)} training / {len(corpus.val)} validation")
    optimizer = torch.optim.AdamW(trained.parameters(), lr=args.lr)
    history, start = {"train_bpc": [], "val_bpc": []}, 0
    if args.resume and os.path.exists(args.checkpoint):
        state = torch.load(args.checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, start = state["history"], state["epoch"]
        torch.random.set_rng_state(state["rng"])
        log(f"resumed from {args.checkpoint} at epoch {start}")
    try:
        train(args, corpus, model, trained, optimizer, history, start, rank, world, log)
    except KeyboardInterrupt:  # Ctrl-C: what is saved, and how to go on
        done = len(history["val_bpc"])
        log(f"\ninterrupted during epoch {done + 1}; " + (
            f"{args.checkpoint} holds epoch {done}: run the same command with --resume to "
            "continue from there" if done else "nothing was saved"))
        raise SystemExit(130) from None  # the shell's status for Ctrl-C
    if args.distributed:
        torch.distributed.destroy_process_group()
    if rank != 0:
        return history["val_bpc"][-1] if history["val_bpc"] else float("nan")
    finish(args, corpus, model, history, vocab, log)
    return history["val_bpc"][-1] if history["val_bpc"] else float("nan")


def train(args, corpus, model, trained, optimizer, history, start, rank, world, log):
    """The epochs from ``start``: steps, validation, a checkpoint after each (rank 0)."""
    vocab = len(corpus.chars)
    for epoch in range(start, args.epochs):
        # each rank its own windows; an epoch draws the same ones when resumed
        rng = np.random.default_rng([args.seed, rank, epoch])
        t0, total = time.perf_counter(), 0.0
        bar = progress(range(args.steps_per_epoch), args.no_progress or rank != 0,
                       args.steps_per_epoch, f"epoch {epoch + 1}/{args.epochs}")
        for step in bar:
            x, y = windows(corpus.train, args.batch_size, args.context, rng)
            optimizer.zero_grad()
            loss = F.cross_entropy(trained(x).reshape(-1, vocab), y.reshape(-1))
            loss.backward()
            optimizer.step()
            total += loss.item()
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(bpc=f"{total / (step + 1) / math.log(2):.3f}", refresh=False)
        train_bpc = total / args.steps_per_epoch / math.log(2)
        if world > 1:  # the epoch's mean over every rank's steps
            mean = torch.tensor([train_bpc], dtype=torch.float64)
            torch.distributed.all_reduce(mean, op=torch.distributed.ReduceOp.AVG)
            train_bpc = mean.item()
        val_bpc = validation_bits_per_char(model, corpus.val, args.context, vocab)
        history["train_bpc"].append(train_bpc)
        history["val_bpc"].append(val_bpc)
        log(f"epoch {epoch + 1:3d}  train {train_bpc:.3f} bpc  validation {val_bpc:.3f} bpc  "
            f"({time.perf_counter() - t0:.1f}s)")
        if rank == 0:
            os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch + 1, "history": history, "chars": corpus.chars,
                        "args": vars(args), "rng": torch.random.get_rng_state()},
                       args.checkpoint)
        if world > 1:
            torch.distributed.barrier()  # the checkpoint is complete before any rank reads it


def finish(args, corpus, model, history, vocab, log):
    """Rank 0's end of a run: the curves, the export, a sample and the validation loss."""
    if history["val_bpc"]:
        plot_panels([("bits per character", {"training": history["train_bpc"],
                                             "validation": history["val_bpc"]})],
                    args.plot, f"{args.model} on {pathlib.Path(args.text).name}")
        log(f"checkpoint: {args.checkpoint}  curves: {args.plot}")
    if args.export:
        import cylayers.onnx
        model.eval()
        example = torch.tensor([corpus.encode(args.prompt)])
        cylayers.onnx.export(model, example, args.export, input_names=["chars"],
                             output_names=["logits"],
                             dynamic_axes={"chars": {0: "batch", 1: "length"}})
        print(f"exported the model to {args.export} (input 'chars': character ids, any batch "
              f"and length up to {args.context})")
    sample = generate(model, corpus, args.prompt, args.sample_length, args.context,
                      args.temperature, args.top_k, args.seed)
    val = history["val_bpc"][-1] if history["val_bpc"] else \
        validation_bits_per_char(model, corpus.val, args.context, vocab)
    print(f"\n--- sample ---\n{sample}\n--------------\nvalidation loss: {val:.3f} bits per "
          "character")


if __name__ == "__main__":
    sys.exit(0 if math.isfinite(main()) else 1)
