"""Beam's Dask runner (apache_beam.runners.dask, Beam 2.77) with its ParDo translation fixed.

Beam's translation runs a DoFn over a Dask partition with output receivers that are built once, when
the graph is, and shipped inside every task. A worker that runs two partitions of a step can see the
same receiver objects twice (Dask shares a task's arguments), and the second partition then returns
the first one's outputs again: the stage's counts came out about twice too large. It also gathers the
outputs before `finish_bundle`, so whatever a DoFn emits there (`BatchElements`'s last batch, a
combiner's partial sums) is lost. Here each partition gets its own copy of the DoFn and its own
receivers, and the outputs are gathered after the bundle has finished.

Beam's side inputs are iterators over a Dask bag that each task computes again when it reads them: the
preprocess stage on 19,503 Brown sentences took 116.8 s on one Dask worker with them, 44.4 s with
side inputs as here (`benchmarks/preprocess.py --dask-workers 1`; the DirectRunner: 16-20 s). Here a
side input is one Dask value that the graph computes once and hands to every partition.

The rest is Beam's: `Create`, `GroupByKey` and `Flatten`, and the run itself, which
computes the graph of the pipeline's last transform only (so a pipeline for this runner ends in one
sink, as the preprocess stage does). Reads (`beam.io.Read`) have no translation: the stage reads its
files in a `FlatMap`.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import dask
from apache_beam import pvalue
from apache_beam.internal import pickler
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, _OutputHandler
from apache_beam.runners.dask import dask_runner, transform_evaluator
from apache_beam.transforms.sideinputs import SideInputMap


class DaskRunner(dask_runner.DaskRunner):
    """Beam's DaskRunner, translating ParDo by `_ParDo`."""

    @staticmethod
    def to_dask_bag_visitor(bag_kwargs: dict | None = None) -> PipelineVisitor:
        return _BagVisitor(bag_kwargs or {})


@dataclasses.dataclass(frozen=True)
class _SideView:
    """How a DoFn sees a side input (`AsSingleton`, `AsDict`, ...), without its values."""

    view_class: type
    view_options: Any
    window_fn: Any

    def bind(self, values: list) -> SideInputMap:
        windowed = [transform_evaluator.get_windowed_value(value, self.window_fn) for value in values]
        return SideInputMap(self.view_class, self.view_options, windowed)


def _concatenate(partitions: Iterable[list]) -> list:
    return list(itertools.chain.from_iterable(partitions))


class _ParDo(transform_evaluator.DaskBagOp):
    """A DoFn over each partition: its own DoFn copy and receivers, outputs gathered after finish_bundle.

    `side_inputs` are (`_SideView`, Dask value of the whole side PCollection) pairs.
    """

    def apply(self, input_bag, side_inputs=None):
        transform = self.transform
        args, kwargs = transform.raw_side_inputs
        main_input = next(iter(self.applied.main_inputs.values()))
        window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
        invoker_kwargs = {"input_args": list(args), "input_kwargs": kwargs}
        views = [view for view, _ in side_inputs or ()]
        values = [value for _, value in side_inputs or ()]  # computed once; each partition gets the list
        return input_bag.map(transform_evaluator.get_windowed_value, window_fn).map_partitions(
            _run_bundle, pickler.dumps(transform.fn), transform.label, window_fn, invoker_kwargs, views, *values
        )


def _run_bundle(
    items, serialized_fn: bytes, label: str, window_fn, invoker_kwargs: dict[str, Any], views: list, *side_values
) -> list:
    side_inputs = [view.bind(values) for view, values in zip(views, side_values, strict=True)] or None
    receivers = transform_evaluator.OneReceiver()
    output = _OutputHandler(
        window_fn=window_fn,
        main_receivers=receivers[None],
        tagged_receivers=receivers,
        per_element_output_counter=None,
        output_batch_converter=None,
        process_yields_batches=False,
        process_batch_yields_elements=False,
    )
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(pickler.loads(serialized_fn)),
        output,
        context=DoFnContext(label, state=None),
        user_state_context=None,
        bundle_finalizer_param=beam.DoFn.BundleFinalizerParam(),
        side_inputs=side_inputs,
        **invoker_kwargs,
    )
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for item in items:
        invoker.invoke_process(item)
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return [received.value for received in receivers.values]


_TRANSLATIONS = {**transform_evaluator.TRANSLATIONS, beam.ParDo: _ParDo}


@dataclasses.dataclass
class _BagVisitor(PipelineVisitor):
    """Beam's DaskBagVisitor (one Dask bag a transform), with `_TRANSLATIONS`."""

    bag_kwargs: dict
    bags: dict[AppliedPTransform, Any] = dataclasses.field(default_factory=collections.OrderedDict)

    def visit_transform(self, transform_node: AppliedPTransform) -> None:
        op_class = _TRANSLATIONS.get(transform_node.transform.__class__, transform_evaluator.NoOp)
        op = op_class(transform_node, bag_kwargs=self.bag_kwargs)
        inputs = []
        for value in transform_node.inputs:
            if isinstance(value, pvalue.PBegin):
                inputs.append(None)
            if value.producer in self.bags:
                inputs.append(self.bags[value.producer])
        flatten = isinstance(op, transform_evaluator.Flatten)
        input_bag = (inputs[0] if len(inputs) == 1 and not flatten else inputs) if inputs else None
        side_inputs = []
        for side in transform_node.side_inputs:
            values = dask.delayed(_concatenate)(self.bags[side.pvalue.producer].to_delayed())
            side_inputs.append((_SideView(type(side), side._view_options(), side._window_mapping_fn), values))
        self.bags[transform_node] = op.apply(input_bag=input_bag, side_inputs=side_inputs or None)
