"""Training throughput of a plain PyTorch character language model: the reference for lm_throughput.py.

What a user would otherwise write: PyTorch's word_language_model example with an LSTM (nn.Embedding,
dropout, nn.LSTM with batch_first, dropout, nn.Linear), trained with truncated backpropagation
through time: the corpus cut into `--batch-size` contiguous streams, windows of `--bptt` steps, the
hidden state carried from one window to the next and detached. Adam with gradients clipped to a
global norm of `--clip-norm`, cross-entropy per real unit (padding and `[START]` targets weigh 0),
one epoch. The same arguments, the same synthetic corpus (`--total-units` random units in
[4, vocab), cut into `--documents` documents, each `[START]` first) laid out in the same streams as
`models.input_pipeline.language_model_streams`, and the same one-line JSON as lm_throughput.py, so
both programs train on the same units. Unlike seqpipe's model, the state is not zeroed where a
document starts inside a stream (the example does not either); with `--documents 1` there is no
such place and the two models compute the same thing.

It imports nothing from the project and runs in its own virtual environment (PyPI's torch wheel
for Linux x86-64 is the CPU build here; `--index-url https://download.pytorch.org/whl/cpu` if not):

    python3.11 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch==2.13.0 numpy
    /tmp/torchref/bin/python benchmarks/torch_lm_reference.py

Thread pools are PyTorch's defaults unless `--intra-op-threads` (torch.set_num_threads) or
`--inter-op-threads` (torch.set_num_interop_threads) are given. A few windows are trained first,
untimed, and the weights, the optimizer's state and the hidden state are then put back. After the
epoch, PyTorch's matrix product is timed at the recurrence's shape ([batch, embedding + hidden] x
[embedding + hidden, 4 hidden]) and at a large square one, and the JSON reports the model's
achieved GFLOP/s against both.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time

START_ID = 2  # models.text.START_ID
PAD_ID = 0  # models.text.PAD_ID
FIRST_UNIT = 4  # after the reserved units: padding, unknown, start, end


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total-units", type=int, default=400_000, help="units in the corpus, [START]s included")
    p.add_argument("--documents", type=int, default=1, help="documents the units are cut into")
    p.add_argument("--vocab", type=int, default=100, help="unit vocabulary, the 4 reserved units included")
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument("--hidden-dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32, help="parallel streams")
    p.add_argument("--bptt", type=int, default=64, help="steps of a window (truncated backpropagation)")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--learning-rate", type=float, default=0.003)
    p.add_argument("--clip-norm", type=float, default=5.0)
    p.add_argument("--warmup-batches", type=int, default=3, help="untimed windows first")
    p.add_argument("--intra-op-threads", type=int, help="torch.set_num_threads (default: PyTorch's)")
    p.add_argument("--inter-op-threads", type=int, help="torch.set_num_interop_threads (default: PyTorch's)")
    p.add_argument("--square", type=int, default=1024, help="side of the square matrix product timed")
    p.add_argument("--seed", type=int, default=8)
    return p.parse_args()


def make_documents(args: argparse.Namespace):
    """`--total-units` random units in [4, vocab), cut into `--documents` documents, each `[START]` first."""
    import numpy as np

    rng = np.random.default_rng(args.seed)
    units = rng.integers(FIRST_UNIT, args.vocab, size=args.total_units).astype(np.int32)
    documents = np.array_split(units, args.documents)
    for document in documents:
        document[0] = START_ID
    return [document for document in documents if len(document)]


def streams_of(documents, batch_size: int, bptt: int, seed: int):
    """The layout of `models.input_pipeline.language_model_streams`: inputs, targets, weights [batch, steps]."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(documents))
    joined = np.concatenate([np.asarray(documents[index], dtype=np.int64) for index in order])
    bounds = np.arange(batch_size + 1) * max(len(joined) - 1, 0) // batch_size
    steps = max(int(math.ceil(int(np.diff(bounds).max()) / bptt)), 1) * bptt
    inputs = np.zeros((batch_size, steps), dtype=np.int64)
    targets = np.zeros((batch_size, steps), dtype=np.int64)
    for row, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        inputs[row, : end - start] = joined[start:end]
        targets[row, : end - start] = joined[start + 1 : end + 1]
    weights = ((targets != PAD_ID) & (targets != START_ID)).astype(np.float32)
    return inputs, targets, weights


def flops_per_unit(args: argparse.Namespace) -> int:
    """Training FLOPs of one unit: the gates' and the output layer's products, forward and backward (x3)."""
    hidden = args.hidden_dim
    gates = sum(2 * ((args.embedding_dim if i == 0 else hidden) + hidden) * 4 * hidden for i in range(args.layers))
    return 3 * (gates + 2 * hidden * args.vocab)


def matmul_gflops(rows: int, inner: int, cols: int, seconds: float = 0.5) -> float:
    """GFLOP/s of PyTorch's [rows, inner] x [inner, cols] product, one after another into the same output."""
    import torch

    generator = torch.Generator().manual_seed(1)
    a = torch.randn(rows, inner, generator=generator)
    w = torch.randn(inner, cols, generator=generator) / inner**0.5
    out = torch.empty(rows, cols)
    for _ in range(3):
        torch.mm(a, w, out=out)
    n = 4
    while True:
        start = time.perf_counter()
        for _ in range(n):
            torch.mm(a, w, out=out)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or n >= 1 << 20:
            break
        n = max(n * 2, int(n * seconds / max(elapsed, 1e-6) * 1.1))
    return 2.0 * rows * inner * cols * n / elapsed / 1e9


def main() -> None:
    args = parse_args()
    import numpy as np
    import torch
    from torch import nn

    if args.intra_op_threads:
        torch.set_num_threads(args.intra_op_threads)
    if args.inter_op_threads:
        torch.set_num_interop_threads(args.inter_op_threads)
    torch.manual_seed(args.seed)

    class LanguageModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(args.vocab, args.embedding_dim)
            self.lstm = nn.LSTM(
                args.embedding_dim,
                args.hidden_dim,
                args.layers,
                batch_first=True,
                dropout=args.dropout if args.layers > 1 else 0.0,
            )
            self.dropout = nn.Dropout(args.dropout)
            self.output = nn.Linear(args.hidden_dim, args.vocab)

        def forward(self, ids, hidden):
            features, hidden = self.lstm(self.dropout(self.embedding(ids)), hidden)
            return self.output(self.dropout(features)), hidden

    documents = make_documents(args)
    inputs, targets, weights = streams_of(documents, args.batch_size, args.bptt, args.seed)
    inputs, targets, weights = torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(weights)
    windows = inputs.shape[1] // args.bptt
    model = LanguageModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)

    def zero_state():
        shape = (args.layers, args.batch_size, args.hidden_dim)
        return torch.zeros(shape), torch.zeros(shape)

    def train_window(index: int, hidden):
        window = slice(index * args.bptt, (index + 1) * args.bptt)
        hidden = tuple(state.detach() for state in hidden)  # truncated backpropagation through time
        logits, hidden = model(inputs[:, window], hidden)
        losses = nn.functional.cross_entropy(
            logits.reshape(-1, args.vocab), targets[:, window].reshape(-1), reduction="none"
        )
        w = weights[:, window].reshape(-1)
        loss = (losses * w).sum() / w.sum().clamp(min=1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
        optimizer.step()
        return float(loss.detach()), hidden

    model.train()
    # Warm-up: a few windows untimed, then put back what they changed.
    model_state, optimizer_state = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    hidden = zero_state()
    for index in range(min(args.warmup_batches, windows)):
        _, hidden = train_window(index, hidden)
    model.load_state_dict(model_state)
    optimizer.load_state_dict(optimizer_state)

    start = time.perf_counter()
    hidden, losses = zero_state(), []
    for index in range(windows):
        loss, hidden = train_window(index, hidden)
        losses.append(loss)
    seconds = time.perf_counter() - start

    real_units = int(weights.sum())
    units_per_second = real_units / seconds
    flops = flops_per_unit(args)
    achieved = units_per_second * flops / 1e9
    recurrence = (args.batch_size, args.embedding_dim + args.hidden_dim, 4 * args.hidden_dim)
    recurrence_gflops = matmul_gflops(*recurrence)
    square_gflops = matmul_gflops(args.square, args.square, args.square)
    report = {
        "program": "torch",
        "framework": f"torch {torch.__version__} / numpy {np.__version__}",
        "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
        "units": args.vocab,
        "embedding_dim": args.embedding_dim,
        "hidden_dim": args.hidden_dim,
        "layers": args.layers,
        "batch_size": args.batch_size,
        "bptt": args.bptt,
        "documents": len(documents),
        "total_units": args.total_units,
        "batches": windows,
        "real_units": real_units,
        "seconds": round(seconds, 3),
        "units_per_second": round(units_per_second, 1),
        "ms_per_batch": round(1000 * seconds / windows, 2),
        "loss": round(sum(losses) / len(losses), 4),
        "flops_per_unit": flops,
        "achieved_gflops": round(achieved, 2),
        "matmul": {
            "recurrence_shape": list(recurrence),
            "recurrence_gflops": round(recurrence_gflops, 1),
            "square_shape": [args.square] * 3,
            "square_gflops": round(square_gflops, 1),
        },
        "fraction_of_recurrence_matmul": round(achieved / recurrence_gflops, 4),
        "fraction_of_square_matmul": round(achieved / square_gflops, 4),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
