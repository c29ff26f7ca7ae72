"""Training throughput of the project's tagger, for a side-by-side ratio with PyTorch's fused CPU LSTM.

Same arguments and the same one-line JSON as the PyTorch reference tagger (a stacked bidirectional
LSTM over random token ids, one epoch), but the model comes from `models.tagger.build_tagger`, the
batches from `models.input_pipeline.tagger_dataset` over SequenceExample shards, and the compile
settings from the train stage. Lengths come from `--lengths FILE` (one integer a line) or from the
reference's fixed-seed draw, so both programs train on the same sentence lengths.

    .venv/bin/python benchmarks/train_throughput.py --sentences 4096
    .venv/bin/python benchmarks/train_throughput.py --lengths lengths.txt --jit-compile

Thread pools are the trainer's (the `threads` config section: two ops at once, half of the cores
each); `--intra-op-threads 0 --inter-op-threads 0` measures TensorFlow's defaults instead. Levers
(each off by default, to measure one at a time): --jit-compile (XLA, batches padded to their
bucket's boundary), --bucket-width (finer length buckets), --bfloat16 (mixed precision),
--tokens-per-batch (batches by a token budget; not comparable with the reference's 64-sentence
batches, so reported apart). The README's performance section has what each measured.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", help="file with one sentence length per line")
    p.add_argument("--sentences", type=int, default=4096, help="when no --lengths: how many to draw")
    p.add_argument("--vocab", type=int, default=20000)
    p.add_argument("--classes", type=int, default=18)
    p.add_argument("--embedding-dim", type=int, default=128)
    p.add_argument("--hidden-dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64, help="sentences per batch")
    p.add_argument("--intra-op-threads", type=int, help="threads within an op (0: TensorFlow's default)")
    p.add_argument("--inter-op-threads", type=int, help="ops run at once (0: TensorFlow's default)")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    p.add_argument("--bucket-width", type=int, default=0, help="length bucket width; 0: the trainer's buckets")
    p.add_argument("--bfloat16", action="store_true", help="mixed precision with bfloat16 compute")
    p.add_argument(
        "--tokens-per-batch", type=int, default=0, help="batches by a token budget instead of --batch-size sentences"
    )
    return p.parse_args()


def draw_lengths(args: argparse.Namespace):
    import numpy as np

    rng = np.random.default_rng(args.seed)
    if args.lengths:
        lengths = np.array([int(x) for x in open(args.lengths) if x.strip()], dtype=np.int64)
    else:  # the reference's draw: roughly the Brown corpus sentence lengths
        lengths = np.clip(rng.gamma(2.2, 9.5, size=args.sentences).astype(np.int64), 1, 180)
    return lengths[lengths > 0], rng


def write_shard(path: pathlib.Path, lengths, rng, vocab: int, classes: int) -> None:
    """Random sentences as the preprocess stage writes them (SequenceExamples with the same features)."""
    import tensorflow as tf

    from models import text

    def feature_list(values, kind):
        if kind == "bytes":
            return tf.train.FeatureList(
                feature=[tf.train.Feature(bytes_list=tf.train.BytesList(value=[v])) for v in values]
            )
        return tf.train.FeatureList(
            feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=[v])) for v in values]
        )

    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, length in enumerate(lengths):
            ids = rng.integers(1, vocab, size=length).tolist()
            tags = rng.integers(2, classes, size=length).tolist()
            example = tf.train.SequenceExample(
                context=tf.train.Features(
                    feature={text.KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(i).encode()]))}
                ),
                feature_lists=tf.train.FeatureLists(
                    feature_list={
                        text.TOKENS: feature_list([b"w"] * length, "bytes"),
                        text.TAGS: feature_list([b"t"] * length, "bytes"),
                        text.TOKEN_IDS: feature_list(ids, "int"),
                        text.TAG_IDS: feature_list(tags, "int"),
                        text.CHAR_IDS: tf.train.FeatureList(
                            feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=[4]))] * length
                        ),
                    }
                ),
            )
            writer.write(example.SerializeToString(deterministic=True))


def main() -> None:
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from pipeline import runtime
    from pipeline.config import ThreadsConfig

    intra, inter = runtime.configure_threads(ThreadsConfig(args.intra_op_threads, args.inter_op_threads))
    if args.bfloat16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    from kinds.base.recipe import compile_model
    from kinds.tagger.settings import TaggerModel
    from models import input_pipeline
    from models.tagger import TaggerSizes, build_tagger
    from pipeline.config import TrainConfig

    lengths, rng = draw_lengths(args)
    keras.utils.set_random_seed(args.seed)
    model_config = TaggerModel(
        cell="lstm",
        layers=args.layers,
        bidirectional=True,
        embedding_dim=args.embedding_dim,
        hidden_dim=args.hidden_dim,
        dropout=0.0,  # the reference has none
        char_features=False,
    )
    train_config = TrainConfig(batch_size=args.batch_size, learning_rate=1e-3, clip_norm=5.0)
    model = build_tagger(TaggerSizes(args.vocab, 8, args.classes), model_config)
    compile_model(model, train_config, jit_compile=args.jit_compile)

    with tempfile.TemporaryDirectory() as folder:
        shard = pathlib.Path(folder) / "train.tfrecord"
        write_shard(shard, lengths, rng, args.vocab, args.classes)
        if args.bucket_width:
            boundaries = tuple(range(args.bucket_width, int(lengths.max()) + args.bucket_width, args.bucket_width))
        else:
            boundaries = input_pipeline.BUCKET_BOUNDARIES
        if args.jit_compile:  # XLA compiles one program per shape: pad to the bucket boundaries
            boundaries = (*boundaries, int(lengths.max()) + 1)
        dataset = input_pipeline.tagger_dataset(
            [shard],
            args.batch_size,
            char_features=False,
            shuffle_buffer=len(lengths),
            seed=args.seed,
            bucket_boundaries=boundaries,
            pad_to_boundary=args.jit_compile,
            tokens_per_batch=args.tokens_per_batch,
        )
        dataset = dataset.cache()  # parsing is not what is measured: the reference builds its tensors up front
        batches = sum(1 for _ in dataset)
        model.fit(dataset.take(3), epochs=1, verbose=0)  # warm-up, as the reference does
        start = time.perf_counter()
        history = model.fit(dataset, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    tokens = int(lengths.sum())
    report = {
        "framework": f"keras {keras.__version__} / tensorflow {tf.__version__}",
        "threads": {"intra_op": intra, "inter_op": inter},
        "levers": {
            "jit_compile": args.jit_compile,
            "bucket_width": args.bucket_width or "trainer default",
            "bfloat16": args.bfloat16,
            "tokens_per_batch": args.tokens_per_batch or "off",
        },
        "sentences": len(lengths),
        "batches": batches,
        "real_tokens": tokens,
        "epoch_seconds": round(seconds, 3),
        "real_tokens_per_second": round(tokens / seconds, 1),
        "loss_after_epoch": round(float(history.history["loss"][-1]), 4),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
