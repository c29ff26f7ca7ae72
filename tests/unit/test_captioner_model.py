"""The captioner's model: a CNN grid as the translator decoder's memory, the attention penalty, decoding,
saving; and the image function shared by preprocessing and serving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kinds.base.recipe import token_loss
from kinds.base.settings import DecodeConfig
from models import captioner, images
from models.captioner import Captioner
from models.text import END_ID, START_ID, TARGET_IN

SIZE = 32
WORDS = 12


def tiny(**changes) -> Captioner:
    arguments = dict(target_words=WORDS, image_size=SIZE, encoder_filters=4, embedding_dim=8, hidden_dim=16)
    model = Captioner(**{**arguments, **changes})
    model.build()
    return model


def batch(n=3, length=5, seed=0):
    rng = np.random.default_rng(seed)
    pictures = rng.integers(0, 256, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
    target = rng.integers(4, WORDS, size=(n, length)).astype(np.int32)
    target[:, 0] = START_ID
    target[0, 3:] = 0  # padding in one row
    return {images.IMAGE: tf.constant(pictures), TARGET_IN: tf.constant(target)}


def test_the_grid_is_the_memory_and_every_location_is_real():
    model = tiny()
    memory = model.encode(batch()[images.IMAGE])
    assert model.grid == SIZE // 8
    assert memory.outputs.shape == (3, model.grid**2, 16)  # 4 filters doubled twice
    assert bool(tf.reduce_all(memory.mask))


def test_each_location_of_the_grid_carries_its_learned_position():
    # The memory is the CNN's features plus one position vector a location, learned with the rest; without
    # them it is the features alone (which know where they are only from the zero padding's reach).
    plain = tf.fill([1, SIZE, SIZE, 3], tf.constant(128, tf.uint8))
    model = tiny()
    outputs = model.encode(plain).outputs.numpy()[0]
    features = model.features(plain).numpy().reshape(model.grid**2, -1)
    np.testing.assert_allclose(outputs - features, model.positions.numpy(), atol=1e-6)
    assert np.abs(model.positions.numpy()).max() > 1e-3
    assert any("grid_positions" in weight.path for weight in model.trainable_weights)
    without = tiny(grid_positions=False)
    assert without.positions is None
    np.testing.assert_array_equal(
        without.encode(plain).outputs.numpy()[0], without.features(plain).numpy().reshape(without.grid**2, -1)
    )


def test_attention_maps_are_distributions_over_the_grid():
    model = tiny()
    inputs = batch()
    maps = model.attention_maps(inputs[images.IMAGE], inputs[TARGET_IN]).numpy()
    assert maps.shape == (3, 5, model.grid, model.grid)
    np.testing.assert_allclose(maps.sum(axis=(2, 3)), 1.0, rtol=1e-5)


def test_the_doubly_stochastic_penalty_is_added_in_training_only():
    inputs = batch()
    model = tiny(attention_penalty=2.0)
    model(inputs, training=False)
    assert not model.losses
    model(inputs, training=True)
    (penalty,) = model.losses
    weights = model.teacher_forced(inputs[images.IMAGE], inputs[TARGET_IN], training=True).attention.numpy()
    real = (inputs[TARGET_IN].numpy() != 0)[:, :, None]
    expected = 2.0 * np.mean((1.0 - (weights * real).sum(axis=1)) ** 2)
    # Dropout is 0, so the two training passes attend alike (batch norm uses the batch's statistics).
    np.testing.assert_allclose(float(penalty), expected, rtol=1e-4)
    without = tiny(attention_penalty=0.0)
    without(inputs, training=True)
    assert not without.losses


def test_a_fit_lowers_the_loss_and_the_model_reloads_with_the_same_captions(tmp_path):
    inputs = batch(n=8, length=4)
    target_out = tf.concat([inputs[TARGET_IN][:, 1:], tf.fill([8, 1], END_ID)], axis=1)
    weights = tf.cast(target_out > 0, tf.float32)
    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=token_loss())
    history = model.fit(inputs, target_out, sample_weight=weights, epochs=15, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.5
    path = tmp_path / "captioner.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    config = DecodeConfig(max_length_extra=6)
    for strategy in ("greedy", "beam", "wrong_start"):
        ids = captioner.decode(model, inputs[images.IMAGE], config, strategy).numpy()
        again = tf.function(lambda x, s=strategy: captioner.decode(loaded, x, config, s))(inputs[images.IMAGE])
        np.testing.assert_array_equal(ids, again.numpy())
        assert ids.shape[0] == 8 and ids.shape[1] <= 6


def test_attention_none_is_refused():
    with pytest.raises(ValueError, match="one corner"):
        tiny(attention_type="none")


def test_a_keras_application_can_be_the_encoder():
    model = tiny(encoder="MobileNetV2", hidden_dim=8)
    memory = model.encode(batch()[images.IMAGE])
    assert memory.outputs.shape[-1] == 1280 and model.grid == 1


def test_images_are_decoded_to_squares_of_three_channels_and_png_round_trips():
    grey = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30, 1)
    square = images.decode_and_resize(tf.io.encode_png(grey), 16).numpy()
    assert square.shape == (16, 16, 3) and (square[..., 0] == square[..., 2]).all()
    # What preprocessing stores (decoded, resized, PNG again) decodes to the very pixels serving computes.
    stored = tf.io.encode_png(square)
    np.testing.assert_array_equal(images.decode_and_resize(stored, 16).numpy(), square)
    jpeg = tf.io.encode_jpeg(np.repeat(grey, 3, axis=2))
    assert images.decode_batch(tf.stack([jpeg, tf.io.encode_png(grey)]), 8).shape == (2, 8, 8, 3)


def test_scheduled_sampling_feeds_the_captioners_own_words_at_the_schedules_rate():
    inputs = batch(n=64, length=8, seed=1)
    inputs[TARGET_IN] = tf.where(inputs[TARGET_IN] == 0, 5, inputs[TARGET_IN])  # no padding: every step counts
    model = tiny(scheduled_sampling="argmax")
    model.teacher_forcing_probability.assign(0.25)
    model(inputs, training=True)
    assert abs(float(model.fed_from_truth.result()) - 0.25) < 0.05
    model.fed_from_truth.reset_state()
    model(inputs, training=False)  # no sampling outside training
    assert float(model.fed_from_truth.result()) == 0.0
