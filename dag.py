"""The pipeline of a task: which stage's outputs feed which stage. Connects stages and nothing else.

Every task runs the same stages in the same order, with the parts of its kind plugged in (see
`kinds/`); a kind whose decoder learns from a curriculum gets the curriculum stage before training.
Each input is wired to the output it reads, by name, as in TFX's pipeline.py:

    ingest -> statistics -> preprocess -> [curriculum] -> train -> evaluate -> export

A task that reads other tasks' models (a tagger's `model.lm_features`) has their trained model, vocabulary
and examples wired into its train stage, as cross-task inputs named `upstream.TASK.OUTPUT`: fingerprinted like
any input, so retraining the language model retrains the tagger. The model they go into carries them to
evaluate and export.
"""

from __future__ import annotations

import kinds
from components.curriculum import spec as curriculum
from components.evaluate import spec as evaluate
from components.export import spec as export
from components.ingest import spec as ingest
from components.preprocess import spec as preprocess
from components.statistics import spec as statistics
from components.train import spec as train
from pipeline.component import Channel, Component
from pipeline.config import PipelineConfig, TaskConfig, upstream_tasks

# What a task's train stage reads of each task it reads: the other task's stage and output.
UPSTREAM_OUTPUTS = {"model": "train", "vocabulary": "preprocess", "examples": "ingest"}


def build(task: TaskConfig, config: PipelineConfig) -> list[Component]:
    """The components of `task`'s pipeline, producers before consumers, every input wired."""
    kind = kinds.get(task.kind)
    ingested = ingest.component(task, config).wire()
    validated = statistics.component(task, config).wire(
        examples=ingested.output("examples"), rejects=ingested.output("rejects")
    )
    preprocessed = preprocess.component(task, config).wire(
        examples=ingested.output("examples"), statistics=validated.output("statistics")
    )
    stages = [ingested, validated, preprocessed]
    data = {"shards": preprocessed.output("shards"), "vocabulary": preprocessed.output("vocabulary")}
    if kind.curriculum:  # the real number of steps an epoch comes from the shards
        scheduled = curriculum.component(task, config).wire(shards=preprocessed.output("shards"))
        stages.append(scheduled)
        data["schedule"] = scheduled.output("schedule")
    if upstream_tasks(task):  # its train stage also checks that the upstream tasks saw none of its held-out records
        data["examples"] = ingested.output("examples")
        data.update(upstream_channels(task, config))
    trained = train.component(task, config).wire(**data)
    evaluated = evaluate.component(task, config).wire(
        model=trained.output("model"),
        shards=preprocessed.output("shards"),
        vocabulary=preprocessed.output("vocabulary"),
        examples=ingested.output("examples"),
    )
    exported = export.component(task, config).wire(
        model=trained.output("model"),
        vocabulary=preprocessed.output("vocabulary"),
        blessing=evaluated.output("blessing"),
        evaluation=evaluated.output("evaluation"),  # the Keras model's answers, to validate the SavedModel against
        examples=ingested.output("examples"),  # the records both it and the champion are scored on
    )
    return [*stages, trained, evaluated, exported]


def upstream(task: TaskConfig, config: PipelineConfig) -> dict[str, list[Component]]:
    """The stages, through train, of each task whose outputs `task` reads, by name (`runner.run_task`)."""
    found = {}
    for name in upstream_tasks(task):
        stages = build(config.variants_of(name)[0], config)  # never swept: one variant (`config.load` checks)
        found[name] = stages[: [stage.name for stage in stages].index("train") + 1]
    return found


def upstream_channels(task: TaskConfig, config: PipelineConfig) -> dict[str, Channel]:
    """`upstream.TASK.OUTPUT` -> the channel of that output of that task, for each task `task` reads."""
    channels = {}
    for name, stages in upstream(task, config).items():
        by_name = {stage.name: stage for stage in stages}
        for output, stage in UPSTREAM_OUTPUTS.items():
            channels[f"upstream.{name}.{output}"] = by_name[stage].output(output).of_task(name)
    return channels
