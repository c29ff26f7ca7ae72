"""Unit tests of keras-hub's config rule for every custom layer and model of models/ (the CRF's loss and
metric, registered too, are saved and loaded in tests/unit/test_crf.py).

Each constructor argument is an attribute of the same name and a key of `get_config`, which chains to
`super().get_config()`; a layer rebuilt from its config has the same config and, given the same weights,
the same outputs; and it is registered under its class name in the `seqpipe` package, which saved models
name it by.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.attention import BahdanauAttention, FinalStateAttention, LuongAttention
from models.captioner import Captioner, ImageEncoder
from models.crf import CRF
from models.encoder import RecurrentEncoder
from models.language_model import LanguageModelSizes, ResettableCell, ResettableRNN, build_language_model
from models.lm_features import LanguageModelStates, states_reader
from models.pooling import AttentionPooling, LastStatePooling, MaskedMaxPooling, MaskedMeanPooling
from models.seq2seq import Seq2Seq
from models.tagger import CharacterBiLSTM, CharacterCNN
from models.text import SOURCE_IDS, TARGET_IN
from models.vqa import ApplicationInput, AttentionHop, BlindGrid, GridLocations

RNG = np.random.default_rng(0)
# Two sequences of 3 steps, 3 and 1 of them real.
MASK = np.array([[True, True, True], [True, False, False]])
STATES = RNG.normal(size=(2, 3, 4)).astype("float32")  # encoder states, also the attention's keys
QUERY = RNG.normal(size=(2, 4)).astype("float32")
CHAR_IDS = np.array([[[3, 4, 0], [5, 0, 0], [0, 0, 0]], [[6, 7, 8], [0, 0, 0], [0, 0, 0]]], "int32")
# One recurrent step: 3 features and the reset flag (the second row is reset).
STEP = np.concatenate([RNG.normal(size=(2, 3)), [[0.0], [1.0]]], axis=1).astype("float32")
EMISSIONS = RNG.normal(size=(2, 3, 4)).astype("float32")  # 4 tags
ALLOWED = [[True, True, False, True], [True] * 4, [False, True, True, True], [True] * 4]
PIXELS = RNG.integers(0, 256, size=(2, 16, 16, 3)).astype("uint8")  # two images, for the captioner
GRID = RNG.normal(size=(2, 2, 3, 4)).astype("float32")  # a CNN grid of 2x3 locations, for the question answerer
TRANSLATOR_INPUTS = {
    SOURCE_IDS: np.array([[4, 5, 6], [7, 0, 0]], "int32"),
    TARGET_IN: np.array([[2, 5, 6, 0], [2, 4, 0, 0]], "int32"),  # [START] first
}


def language_model_states() -> LanguageModelStates:
    """A tiny character language model's states of the words of `CHAR_IDS` (ids 0 to 8, each its own unit)."""
    settings = type("Settings", (), {"cell": "gru", "layers": 1, "embedding_dim": 3, "hidden_dim": 2, "dropout": 0.1})
    reader = states_reader(build_language_model(LanguageModelSizes(12), settings), LanguageModelSizes(12), settings)
    return LanguageModelStates(reader, table=list(range(9)), space_id=10, direction="backward", name="lm")


def translator(**changes) -> Seq2Seq:
    arguments = dict(
        source_words=10,
        target_words=9,
        cell="gru",
        num_layers=2,
        bidirectional=True,
        embedding_dim=3,
        hidden_dim=2,
        dropout=0.1,
        attention_type="bahdanau",
        scheduled_sampling="sample",
        name="translator",
    )
    return Seq2Seq(**{**arguments, **changes})


# name: (a tiny instance, its call on a tiny input).
CASES = {
    "CharacterCNN": (
        lambda: CharacterCNN(vocabulary_size=10, embedding_dim=3, filters=4, kernel_size=2, name="chars"),
        lambda layer: layer(CHAR_IDS),
    ),
    "CRF": (
        lambda: CRF(allowed_start=[False, True, True, True], allowed=ALLOWED, name="crf"),
        lambda layer: layer(EMISSIONS),
    ),
    "CharacterBiLSTM": (
        lambda: CharacterBiLSTM(vocabulary_size=10, embedding_dim=3, units=4, name="chars"),
        lambda layer: layer(CHAR_IDS),
    ),
    "RecurrentEncoder": (
        lambda: RecurrentEncoder("gru", layers=2, hidden_dim=3, bidirectional=True, dropout=0.1, name="encoder"),
        lambda layer: layer(STATES, mask=MASK),
    ),
    "LastStatePooling": (lambda: LastStatePooling(bidirectional=True, name="last"), lambda layer: layer(STATES, MASK)),
    "MaskedMeanPooling": (lambda: MaskedMeanPooling(name="mean"), lambda layer: layer(STATES, MASK)),
    "MaskedMaxPooling": (lambda: MaskedMaxPooling(name="max"), lambda layer: layer(STATES, MASK)),
    "AttentionPooling": (
        lambda: AttentionPooling(units=3, name="attention"),
        lambda layer: layer(STATES, MASK, return_weights=True),
    ),
    "BahdanauAttention": (lambda: BahdanauAttention(units=3, name="a"), lambda layer: layer(QUERY, STATES, MASK)),
    "LuongAttention": (lambda: LuongAttention(mode="general", name="a"), lambda layer: layer(QUERY, STATES, MASK)),
    "LuongAttention_dot": (lambda: LuongAttention(mode="dot", name="a"), lambda layer: layer(QUERY, STATES, MASK)),
    "FinalStateAttention": (
        lambda: FinalStateAttention(bidirectional=True, name="a"),
        lambda layer: layer(QUERY, STATES, MASK),
    ),
    "ResettableCell": (
        lambda: ResettableCell(keras.layers.GRUCell(3, name="gru_cell"), name="resettable"),
        lambda layer: layer(STEP, [np.ones((2, 3), "float32")]),
    ),
    "ResettableRNN": (
        lambda: ResettableRNN(
            ResettableCell(keras.layers.LSTMCell(4, name="lstm_cell"), name="resettable"),
            return_sequences=True,
            name="lstm",
        ),
        lambda layer: layer(np.stack([STEP, STEP, STEP], axis=1)),
    ),
    "LanguageModelStates": (language_model_states, lambda layer: layer(CHAR_IDS)),
    "Seq2Seq": (translator, lambda model: model(TRANSLATOR_INPUTS, training=False)),
    "ImageEncoder": (lambda: ImageEncoder(filters=2, name="cnn"), lambda layer: layer(PIXELS, training=False)),
    "Captioner": (
        lambda: Captioner(target_words=9, image_size=16, encoder_filters=2, embedding_dim=3, hidden_dim=4, name="c"),
        lambda model: model({"image": PIXELS, TARGET_IN: TRANSLATOR_INPUTS[TARGET_IN]}, training=False),
    ),
    "ApplicationInput": (lambda: ApplicationInput("MobileNetV2", name="pixels"), lambda layer: layer(PIXELS)),
    "GridLocations": (lambda: GridLocations(positions=True, name="grid"), lambda layer: layer(GRID)),
    "GridLocations_plain": (lambda: GridLocations(positions=False, name="grid"), lambda layer: layer(GRID)),
    "AttentionHop": (lambda: AttentionHop(units=3, name="hop"), lambda layer: layer(QUERY, STATES)),
    "BlindGrid": (lambda: BlindGrid(side=2, channels=3, name="blind"), lambda layer: layer(PIXELS)),
}


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def constructor_arguments(cls) -> list[str]:
    """The names of `cls.__init__`'s arguments, without self and **kwargs."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return [p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def outputs(result) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(tensor) for tensor in tf.nest.flatten(result)]


def test_every_registered_layer_of_models_is_tested():
    # Registering happens on import: the modules imported above register every layer of models/, and a
    # layer registered by another module of models/ (imported by another test, say) must be tested too.
    registered = {
        obj.__name__
        for name, obj in keras.saving.get_custom_objects().items()
        if name.startswith("seqpipe>") and obj.__module__.startswith("models.") and issubclass(obj, keras.layers.Layer)
    }
    assert registered == {case.split("_")[0] for case in CASES}


@pytest.mark.parametrize("case", CASES)
def test_every_constructor_argument_is_an_attribute_and_a_config_key(case):
    make, call = CASES[case]
    layer = make()
    call(layer)
    config = layer.get_config()

    # Chained to super().get_config(): the base layer's keys are there too.
    assert {"name", "trainable", "dtype"} <= config.keys()
    for name in constructor_arguments(type(layer)):
        assert name in config, name
        assert hasattr(layer, name), name
        value = getattr(layer, name)
        if isinstance(value, keras.layers.Layer):
            assert config[name] == keras.saving.serialize_keras_object(value)
        else:
            assert config[name] == value, name


@pytest.mark.parametrize("case", CASES)
def test_from_config_gives_the_same_config_and_with_the_same_weights_the_same_outputs(case):
    make, call = CASES[case]
    layer = make()
    expected = outputs(call(layer))

    rebuilt = type(layer).from_config(layer.get_config())

    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()
    call(rebuilt)  # builds it
    assert len(rebuilt.weights) == len(layer.weights)
    rebuilt.set_weights(layer.get_weights())
    for got, want in zip(outputs(call(rebuilt)), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", CASES)
def test_serialization_names_the_seqpipe_registration_and_deserializes_to_the_same_config(case):
    make, call = CASES[case]
    layer = make()
    call(layer)

    serialized = keras.saving.serialize_keras_object(layer)
    revived = keras.saving.deserialize_keras_object(serialized)

    assert serialized["registered_name"] == f"seqpipe>{type(layer).__name__}"
    assert type(revived) is type(layer)
    assert revived.get_config() == layer.get_config()


def test_a_translator_config_saved_before_the_arguments_were_renamed_still_loads():
    model = translator(attention_type="luong_general")
    config = model.get_config()
    # Such a config held the name and the arguments only, two of them under their old keys.
    legacy = {key: value for key, value in config.items() if key not in ("trainable", "dtype")}
    legacy["layers"], legacy["attention"] = legacy.pop("num_layers"), legacy.pop("attention_type")

    rebuilt = Seq2Seq.from_config(legacy)

    assert rebuilt.get_config() == config
    assert (rebuilt.num_layers, rebuilt.attention_type, type(rebuilt.attention)) == (2, "luong_general", LuongAttention)
