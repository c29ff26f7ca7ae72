"""The tagger recipe's fits to the corpus: the output layer for `auto`, the batch size when the kind chose
it, and the notice when a config's batch size leaves an epoch only a few updates."""

from __future__ import annotations

from kinds.base.parameters import TrainParameters
from kinds.base.settings import TokenBudgetTrain
from kinds.tagger import train as tagger_train
from kinds.tagger.settings import TaggerModel, TaggerPreprocess
from models import text

BIO_TAGS = [*text.RESERVED_TAGS, "O", "B-PER", "I-PER"]
POS_TAGS = [*text.RESERVED_TAGS, "NOUN", "VERB"]


class Vocabulary:
    def __init__(self, tags):
        self.tags = tags

    def tokens(self, name):
        return self.tags if name == "tags" else [*text.RESERVED_TOKENS, "a"]


class Shards:
    """Only the manifest; a CRF on BIO tags would also read the training shards, so the tests keep to
    `constrain_bio: false` there."""

    def __init__(self, sentences):
        self.sentences = sentences

    def manifest(self):
        return {"splits": {"train": {"records": self.sentences, "tokens": 10 * self.sentences}}}


def recipe(tags, chosen_by_kind=("batch_size",), batch_size=32, **model):
    model = TaggerModel(constrain_bio=False, **model)
    params = TrainParameters(
        "tagger", model, TokenBudgetTrain(batch_size=batch_size), TaggerPreprocess(), chosen_by_kind
    )
    return tagger_train.TaggerRecipe(params, Vocabulary(tags))


def choices(made, sentences):
    return {choice.key: choice for choice in made.fit_to_corpus(Shards(sentences))}


def test_the_batch_is_halved_until_an_epoch_has_200_updates_down_to_8():
    assert tagger_train.batch_size_for(6_369, 32) == 32  # 200 updates already (the last one partial)
    assert tagger_train.batch_size_for(6_368, 32) == 16  # 199
    assert tagger_train.batch_size_for(1_700, 32) == 8  # WNUT 2016: 54 updates at 32, 213 at 8
    assert tagger_train.batch_size_for(100, 32) == tagger_train.MIN_BATCH_SIZE


def test_auto_is_a_crf_for_bio_tags_and_a_softmax_otherwise():
    bio, pos = recipe(BIO_TAGS), recipe(POS_TAGS)

    assert choices(bio, 10_000)["model.output"].value == "crf" and bio.crf
    assert choices(pos, 10_000)["model.output"].value == "softmax" and not pos.crf
    assert "model.output" not in choices(recipe(BIO_TAGS, output="softmax"), 10_000)


def test_a_small_corpus_gets_smaller_batches_only_when_the_kind_chose_the_batch_size():
    chosen = recipe(POS_TAGS)
    fitted = choices(chosen, 1_700)["train.batch_size"]
    assert (fitted.value, chosen.batch_size) == (8, 8)
    assert "54 updates an epoch in batches of 32; 8 make 213" in fitted.reason

    given = recipe(POS_TAGS, chosen_by_kind=(), batch_size=32)
    notice = choices(given, 1_700)
    assert given.batch_size == 32 and "train.batch_size" not in notice
    assert notice["train.updates_per_epoch"].value == 54  # said, not changed

    assert "train.updates_per_epoch" not in choices(recipe(POS_TAGS, chosen_by_kind=()), 10_000)
