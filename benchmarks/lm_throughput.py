"""Training throughput of the project's character language model, for a side-by-side ratio with PyTorch.

Same arguments and the same one-line JSON as the PyTorch reference (`torch_lm_reference.py`: a plain
stateful LSTM language model with truncated BPTT, one epoch), but the model comes from
`models.language_model.build_language_model` (stateful, over `--batch-size` streams), the batches from
`models.input_pipeline.language_model_streams` and `language_model_dataset`, and the compile settings
from the train stage. The corpus is synthetic: `--total-units` random unit ids in [4, vocab), cut into
`--documents` documents, each `[START]` first (1: one long document, char-rnn's `input.txt`).

    .venv/bin/python benchmarks/lm_throughput.py
    .venv/bin/python benchmarks/lm_throughput.py --total-units 100000 --documents 100

Thread pools are the trainer's (the `threads` config section: two ops at once, half of the cores
each); `--intra-op-threads 0 --inter-op-threads 0` measures TensorFlow's defaults instead. A few
batches are trained first, untimed, so that tracing is not measured; the weights, the optimizer's
state and the streams' states are then put back, so the timed epoch starts where it would have
without them. After the epoch, TensorFlow's matrix product is timed at the recurrence's shape
([batch, embedding + hidden] x [embedding + hidden, 4 hidden]) and at a large square one, with the
same thread pools, and the JSON reports the model's achieved GFLOP/s against both.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

START_ID = 2  # models.text.START_ID; the reference cannot import it, main() checks they agree
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
    p.add_argument("--warmup-batches", type=int, default=3, help="untimed batches first (tracing)")
    p.add_argument("--intra-op-threads", type=int, help="threads within an op (0: TensorFlow's default)")
    p.add_argument("--inter-op-threads", type=int, help="ops run at once (0: TensorFlow's default)")
    p.add_argument("--square", type=int, default=1024, help="side of the square matrix product timed")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
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


def flops_per_unit(args: argparse.Namespace) -> int:
    """Training FLOPs of one unit: the gates' and the output layer's products, forward and backward (x3)."""
    hidden = args.hidden_dim
    gates = sum(2 * ((args.embedding_dim if i == 0 else hidden) + hidden) * 4 * hidden for i in range(args.layers))
    return 3 * (gates + 2 * hidden * args.vocab)


def matmul_gflops(rows: int, inner: int, cols: int, seconds: float = 0.5) -> float:
    """GFLOP/s of TensorFlow's [rows, inner] x [inner, cols] product, one after another in a graph loop.

    Each product's input depends on the one before (a [rows, 1] slice added back, 1/(2 cols) of the
    work), so none is hoisted out of the loop or run at once with another.
    """
    import tensorflow as tf

    a = tf.random.stateless_normal([rows, inner], seed=[1, 2])
    w = tf.random.stateless_normal([inner, cols], seed=[3, 4]) / float(inner) ** 0.5

    @tf.function
    def loop(n):
        def body(i, x):
            y = tf.matmul(x, w)
            return i + 1, x + y[:, :1] * 1e-6

        return tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), a))[1]

    loop(tf.constant(2)).numpy()  # trace
    n = 4
    while True:
        start = time.perf_counter()
        loop(tf.constant(n)).numpy()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or n >= 1 << 20:
            break
        n = max(n * 2, int(n * seconds / max(elapsed, 1e-6) * 1.1))
    return 2.0 * rows * inner * cols * n / elapsed / 1e9


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pipeline import runtime
    from pipeline.config import ThreadsConfig

    intra, inter = runtime.configure_threads(ThreadsConfig(args.intra_op_threads, args.inter_op_threads))
    import keras
    import numpy as np
    import tensorflow as tf

    from kinds.base.recipe import compile_model
    from kinds.language_model.settings import LanguageModelTrain
    from models import input_pipeline, text
    from models.language_model import LanguageModelSizes, build_language_model, reset_states
    from pipeline.config import ModelConfig

    assert text.START_ID == START_ID and len(text.RESERVED_TOKENS) == FIRST_UNIT
    documents = make_documents(args)
    keras.utils.set_random_seed(args.seed)
    model_config = ModelConfig(
        cell="lstm",
        layers=args.layers,
        bidirectional=False,
        embedding_dim=args.embedding_dim,
        hidden_dim=args.hidden_dim,
        dropout=args.dropout,
    )
    train_config = LanguageModelTrain(
        batch_size=args.batch_size, bptt=args.bptt, learning_rate=args.learning_rate, clip_norm=args.clip_norm
    )
    model = build_language_model(
        LanguageModelSizes(args.vocab), model_config, batch_size=args.batch_size, stateful=True
    )
    compile_model(model, train_config, jit_compile=args.jit_compile)

    streams = input_pipeline.language_model_streams(documents, args.batch_size, args.bptt, args.seed)
    dataset = input_pipeline.language_model_dataset(streams, args.bptt)
    batches = int(dataset.cardinality())

    # Warm-up: trace the train step on a few batches, then put back what they changed.
    model.optimizer.build(model.trainable_variables)
    weights = model.get_weights()
    optimizer_state = [variable.numpy() for variable in model.optimizer.variables]
    model.fit(dataset.take(args.warmup_batches), epochs=1, verbose=0)
    model.set_weights(weights)
    for variable, value in zip(model.optimizer.variables, optimizer_state, strict=True):
        variable.assign(value)
    reset_states(model)

    start = time.perf_counter()
    history = model.fit(dataset, epochs=1, verbose=0)
    seconds = time.perf_counter() - start

    real_units = int(np.sum(streams["weights"]))
    units_per_second = real_units / seconds
    flops = flops_per_unit(args)
    achieved = units_per_second * flops / 1e9
    recurrence = (args.batch_size, args.embedding_dim + args.hidden_dim, 4 * args.hidden_dim)
    recurrence_gflops = matmul_gflops(*recurrence)
    square_gflops = matmul_gflops(args.square, args.square, args.square)
    report = {
        "program": "seqpipe",
        "framework": f"keras {keras.__version__} / tensorflow {tf.__version__}",
        "threads": {"intra_op": intra, "inter_op": inter},
        "units": args.vocab,
        "embedding_dim": args.embedding_dim,
        "hidden_dim": args.hidden_dim,
        "layers": args.layers,
        "batch_size": args.batch_size,
        "bptt": args.bptt,
        "documents": len(documents),
        "total_units": args.total_units,
        "batches": batches,
        "real_units": real_units,
        "seconds": round(seconds, 3),
        "units_per_second": round(units_per_second, 1),
        "ms_per_batch": round(1000 * seconds / batches, 2),
        "loss": round(float(history.history["loss"][-1]), 4),
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
