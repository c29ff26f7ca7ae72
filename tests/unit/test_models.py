"""Unit tests of models.encoder and models.tagger, on tiny models."""

import dataclasses
import importlib

import keras
import numpy as np
import pytest

from kinds.tagger.settings import TaggerModel
from models.encoder import RecurrentEncoder
from models.tagger import CharacterBiLSTM, CharacterCNN, TaggerSizes, build_tagger
from models.text import CHAR_IDS, TOKEN_IDS
from pipeline.config import ModelConfig

SIZES = TaggerSizes(words=10, chars=12, tags=5)
TINY = dataclasses.replace(TaggerModel(), embedding_dim=4, hidden_dim=3, char_embedding_dim=3, char_filters=4)

# Two sentences right padded with 0 to 5 tokens, of 3 and 1 tokens; at most 4 characters a token.
TOKEN_IDS_5 = np.array([[4, 5, 6, 0, 0], [7, 0, 0, 0, 0]], "int32")
CHAR_IDS_5 = np.zeros((2, 5, 4), "int32")
CHAR_IDS_5[0, 0, :3] = [4, 5, 6]
CHAR_IDS_5[0, 1, :2] = [7, 8]
CHAR_IDS_5[0, 2, :1] = [9]
CHAR_IDS_5[1, 0, :4] = [4, 10, 11, 5]
LENGTHS = (3, 1)


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def tiny_config(**changes) -> ModelConfig:
    return dataclasses.replace(TINY, **changes)


def tagger_inputs(token_ids: np.ndarray, char_ids: np.ndarray | None) -> dict:
    return {TOKEN_IDS: token_ids} if char_ids is None else {TOKEN_IDS: token_ids, CHAR_IDS: char_ids}


def pad(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`array` right padded with 0 to `shape`."""
    padded = np.zeros(shape, array.dtype)
    padded[tuple(slice(0, n) for n in array.shape)] = array
    return padded


def features(batch: int = 2, time: int = 5, dim: int = 4) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(batch, time, dim)).astype("float32")


# --------------------------------------------------------------------------- RecurrentEncoder


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_encoder_output_shape(cell, layers, bidirectional):
    encoder = RecurrentEncoder(cell, layers, hidden_dim=3, bidirectional=bidirectional)

    outputs = encoder(features())

    expected = (2, 5, 6 if bidirectional else 3)
    assert tuple(outputs.shape) == expected
    assert tuple(encoder.compute_output_shape((2, 5, 4))) == expected


@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_encoder_stacks_one_recurrent_layer_per_layer(layers, bidirectional):
    encoder = RecurrentEncoder("gru", layers, hidden_dim=3, bidirectional=bidirectional)

    assert len(encoder.recurrent_layers) == layers
    assert all(isinstance(layer, keras.layers.Bidirectional) == bidirectional for layer in encoder.recurrent_layers)


def test_encoder_rejects_an_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell 'cnn'"):
        RecurrentEncoder("cnn")


def test_tagger_rejects_an_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell"):
        build_tagger(SIZES, tiny_config(cell="transformer"))


def test_encoder_config_round_trip():
    encoder = RecurrentEncoder("gru", layers=2, hidden_dim=3, bidirectional=False, dropout=0.5, name="enc")

    rebuilt = RecurrentEncoder.from_config(encoder.get_config())

    assert rebuilt.get_config() == encoder.get_config()
    assert (rebuilt.cell, rebuilt.layers, rebuilt.hidden_dim, rebuilt.bidirectional, rebuilt.dropout) == (
        "gru",
        2,
        3,
        False,
        0.5,
    )


def test_encoder_from_config_with_the_same_weights_gives_the_same_outputs():
    encoder = RecurrentEncoder("lstm", layers=2, hidden_dim=3, bidirectional=True)
    inputs = features()
    expected = encoder(inputs)
    rebuilt = RecurrentEncoder.from_config(encoder.get_config())
    rebuilt.build(inputs.shape)

    rebuilt.set_weights(encoder.get_weights())

    np.testing.assert_array_equal(rebuilt(inputs), expected)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_on_a_gpu_every_encoder_layer_would_take_the_cudnn_path(cell):
    """Keras's own rule (`keras.src.backend.tensorflow.rnn`), less the GPU being there: cuDNN's activations,
    a bias, a GRU's reset after the product, no unrolling and no recurrent dropout. Dropout between layers
    keeps the path open. (The rule's other half, right-padded masks, is the input pipelines' padding.)"""
    rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")  # the package's `rnn` is a function
    keras_rule = getattr(rnn, f"_do_{cell}_arguments_support_cudnn", None)  # private: checked where it exists

    encoder = RecurrentEncoder(cell, layers=2, hidden_dim=3, bidirectional=True, dropout=0.5)
    encoder.build((2, 5, 4))
    layers = [
        direction for layer in encoder.recurrent_layers for direction in (layer.forward_layer, layer.backward_layer)
    ]

    assert len(layers) == 4
    for layer in layers:
        assert type(layer) is {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[cell]
        assert layer.use_cudnn == "auto"
        assert layer.recurrent_dropout == 0 and not layer.unroll and layer.cell.use_bias
        assert layer.cell.activation is keras.activations.tanh
        assert layer.cell.recurrent_activation is keras.activations.sigmoid
        arguments = (layer.cell.activation, layer.cell.recurrent_activation, layer.unroll, layer.cell.use_bias)
        if cell == "gru":
            assert layer.cell.reset_after
            assert keras_rule is None or keras_rule(*arguments, reset_after=layer.cell.reset_after)
        else:
            assert keras_rule is None or keras_rule(*arguments)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_encoder_ignores_masked_padding(cell):
    encoder = RecurrentEncoder(cell, layers=2, hidden_dim=3, bidirectional=True)
    inputs = features(batch=1, time=3)
    mask = np.array([[True, True, True]])

    short = encoder(inputs, mask=mask)
    long = encoder(pad(inputs, (1, 7, 4)), mask=pad(mask, (1, 7)))

    np.testing.assert_allclose(long[:, :3], short, atol=1e-6)


# --------------------------------------------------------------------------- CharacterCNN


def test_character_cnn_output_shape():
    cnn = CharacterCNN(vocabulary_size=12, embedding_dim=3, filters=4, kernel_size=3)

    assert tuple(cnn(CHAR_IDS_5).shape) == (2, 5, 4)
    assert tuple(cnn.compute_output_shape((2, 5, 4))) == (2, 5, 4)


def test_character_cnn_gives_zeros_for_a_word_without_characters():
    outputs = keras.ops.convert_to_numpy(CharacterCNN(12, 3, 4, 3)(CHAR_IDS_5))

    np.testing.assert_array_equal(outputs[0, 3:], 0.0)
    np.testing.assert_array_equal(outputs[1, 1:], 0.0)
    assert np.all(outputs[0, :3] != 0.0)


def test_character_cnn_config_round_trip():
    cnn = CharacterCNN(vocabulary_size=12, embedding_dim=3, filters=4, kernel_size=2, name="chars")

    rebuilt = CharacterCNN.from_config(cnn.get_config())

    assert rebuilt.get_config() == cnn.get_config()
    assert (rebuilt.vocabulary_size, rebuilt.embedding_dim, rebuilt.filters, rebuilt.kernel_size) == (12, 3, 4, 2)


def test_character_cnn_from_config_with_the_same_weights_gives_the_same_outputs():
    cnn = CharacterCNN(12, 3, 4, 3)
    expected = cnn(CHAR_IDS_5)
    rebuilt = CharacterCNN.from_config(cnn.get_config())
    rebuilt.build(CHAR_IDS_5.shape)

    rebuilt.set_weights(cnn.get_weights())

    np.testing.assert_array_equal(rebuilt(CHAR_IDS_5), expected)


def test_character_cnn_ignores_character_padding():
    cnn = CharacterCNN(vocabulary_size=12, embedding_dim=3, filters=8, kernel_size=3)
    char_ids = CHAR_IDS_5[:, :2]  # [2, 2, 4]: the longest word fills all 4 characters

    narrow = cnn(char_ids)
    wide = cnn(pad(char_ids, (2, 2, 7)))

    np.testing.assert_allclose(wide, narrow, atol=1e-6)


def test_character_bilstm_gives_zeros_for_a_word_without_characters_and_ignores_character_padding():
    encoder = CharacterBiLSTM(vocabulary_size=12, embedding_dim=3, units=6)
    narrow = keras.ops.convert_to_numpy(encoder(CHAR_IDS_5))
    wide = keras.ops.convert_to_numpy(encoder(pad(CHAR_IDS_5, (2, 5, 7))))

    assert narrow.shape == (2, 5, 6) and tuple(encoder.compute_output_shape((2, 5, 4))) == (2, 5, 6)
    np.testing.assert_array_equal(narrow[0, 3:], 0.0)
    np.testing.assert_array_equal(narrow[1, 1:], 0.0)
    assert np.all(narrow[0, :3] != 0.0)
    np.testing.assert_allclose(wide, narrow, atol=1e-6)


def test_character_bilstm_reads_characters_in_order():
    encoder = CharacterBiLSTM(vocabulary_size=12, embedding_dim=3, units=6)
    word = np.array([[[3, 4, 5]]], "int32")

    forward, backward = (keras.ops.convert_to_numpy(encoder(w)) for w in (word, word[..., ::-1]))

    assert not np.allclose(forward, backward)  # a max over a convolution could not always tell


def test_character_bilstm_needs_an_even_size():
    with pytest.raises(ValueError, match="units must be even"):
        CharacterBiLSTM(vocabulary_size=12, units=5)


@pytest.mark.parametrize("char_encoder", ["cnn", "lstm"])
def test_the_tagger_uses_the_configured_character_encoder(char_encoder):
    model = build_tagger(SIZES, tiny_config(char_features=True, char_encoder=char_encoder, char_filters=4))
    expected = {"cnn": CharacterCNN, "lstm": CharacterBiLSTM}[char_encoder]

    assert [type(layer) for layer in model.layers if type(layer) in (CharacterCNN, CharacterBiLSTM)] == [expected]
    assert tuple(model(tagger_inputs(TOKEN_IDS_5, CHAR_IDS_5)).shape) == (2, 5, SIZES.tags)


# --------------------------------------------------------------------------- build_tagger


@pytest.mark.parametrize("char_features", [False, True])
@pytest.mark.parametrize(("cell", "layers", "bidirectional"), [("rnn", 1, False), ("gru", 2, True), ("lstm", 1, True)])
def test_tagger_gives_tag_logits_per_token(cell, layers, bidirectional, char_features):
    config = tiny_config(cell=cell, layers=layers, bidirectional=bidirectional, char_features=char_features)
    model = build_tagger(SIZES, config)

    logits = model(tagger_inputs(TOKEN_IDS_5, CHAR_IDS_5 if char_features else None), training=False)

    assert tuple(logits.shape) == (2, 5, SIZES.tags)
    assert model.name == f"{'bi' if bidirectional else ''}{cell}_tagger"


def test_tagger_without_char_features_has_only_the_token_ids_input():
    model = build_tagger(SIZES, tiny_config(char_features=False))

    assert [tensor.name for tensor in model.inputs] == [TOKEN_IDS]
    assert not any(isinstance(layer, CharacterCNN) for layer in model.layers)


def test_tagger_with_char_features_has_both_inputs():
    model = build_tagger(SIZES, tiny_config(char_features=True))

    assert sorted(tensor.name for tensor in model.inputs) == sorted([TOKEN_IDS, CHAR_IDS])


@pytest.mark.parametrize(
    "char_features",
    [
        False,
        True,
    ],
    ids=["words", "words_and_chars"],
)
def test_tagger_logits_at_real_tokens_do_not_depend_on_padding(char_features):
    model = build_tagger(SIZES, tiny_config(cell="lstm", bidirectional=True, char_features=char_features))
    chars_5 = CHAR_IDS_5 if char_features else None
    chars_9 = pad(CHAR_IDS_5, (2, 9, 4)) if char_features else None

    short = keras.ops.convert_to_numpy(model(tagger_inputs(TOKEN_IDS_5, chars_5), training=False))
    long = keras.ops.convert_to_numpy(model(tagger_inputs(pad(TOKEN_IDS_5, (2, 9)), chars_9), training=False))

    for sentence, length in enumerate(LENGTHS):
        np.testing.assert_allclose(long[sentence, :length], short[sentence, :length], atol=1e-6)


def test_saved_tagger_loads_back_with_identical_outputs(tmp_path):
    model = build_tagger(SIZES, tiny_config(layers=2, char_features=True))
    inputs = tagger_inputs(TOKEN_IDS_5, CHAR_IDS_5)
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    path = tmp_path / "tagger.keras"

    model.save(path)
    loaded = keras.models.load_model(path)

    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(inputs, training=False)), expected)
    assert isinstance(loaded.get_layer("encoder"), RecurrentEncoder)
    assert isinstance(loaded.get_layer("char_cnn"), CharacterCNN)


def test_one_training_step_changes_every_weight():
    model = build_tagger(SIZES, tiny_config(char_features=True))
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,  # one step: tracing a graph would take longer than the step
    )
    tags = np.array([[2, 3, 4, 0, 0], [3, 0, 0, 0, 0]], "int32")
    weights = (TOKEN_IDS_5 > 0).astype("float32")
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]

    loss = model.train_on_batch(tagger_inputs(TOKEN_IDS_5, CHAR_IDS_5), tags, sample_weight=weights)

    assert np.isfinite(loss)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    unchanged = [
        w.path for w, old, new in zip(model.trainable_weights, before, after, strict=True) if np.all(old == new)
    ]
    assert unchanged == []
