"""Unit tests of kinds.base.plots: the PNG files are written and hold a real image."""

import numpy as np
import pytest
from matplotlib import image as mpimg

from kinds.base.plots import _metric_families, plot_confusion_matrix, plot_learning_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_is_nontrivial_png(path):
    """The file exists, starts with the PNG signature and is not a blank canvas."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000
    pixels = mpimg.imread(path)
    # Text, cells and lines give many intensities; an empty white figure gives one.
    assert len(np.unique(pixels)) > 10


@pytest.mark.parametrize("normalize", [True, False])
def test_plot_confusion_matrix_writes_png(tmp_path, normalize):
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 0]])  # the empty last row must not divide by zero
    path = tmp_path / "nested" / "confusion.png"
    returned = plot_confusion_matrix(matrix, ["DET", "NOUN", "VERB"], path, normalize=normalize)
    assert returned == path
    assert_is_nontrivial_png(path)


def test_plot_confusion_matrix_with_many_labels_skips_annotations(tmp_path):
    rng = np.random.default_rng(0)
    labels = [f"TAG{i}" for i in range(30)]
    matrix = rng.integers(0, 50, size=(30, 30))
    path = plot_confusion_matrix(matrix, labels, tmp_path / "big.png", title="30 tags")
    assert_is_nontrivial_png(path)


def test_plot_confusion_matrix_rejects_shape_mismatch(tmp_path):
    with pytest.raises(ValueError, match="does not match 3 labels"):
        plot_confusion_matrix(np.zeros((2, 2), dtype=int), ["A", "B", "C"], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_learning_curves_writes_png(tmp_path):
    history = {
        "loss": [1.2, 0.8, 0.6, 0.5],
        "accuracy": [0.6, 0.75, 0.81, 0.84],
        "val_loss": [1.0, 0.9, 0.85, 0.86],
        "val_accuracy": [0.65, 0.7, 0.72, 0.72],
    }
    path = plot_learning_curves(history, tmp_path / "curves.png", title="BiLSTM tagger")
    assert path == tmp_path / "curves.png"
    assert_is_nontrivial_png(path)


def test_plot_learning_curves_rejects_empty_history(tmp_path):
    with pytest.raises(ValueError, match="no metrics"):
        plot_learning_curves({}, tmp_path / "curves.png")


def test_metric_families_pair_training_and_validation_keys():
    history = {"val_loss": [1.0], "loss": [1.0], "accuracy": [0.5], "val_accuracy": [0.5], "lr": [0.1]}
    assert _metric_families(history) == {
        "loss": ["loss", "val_loss"],
        "accuracy": ["accuracy", "val_accuracy"],
        "lr": ["lr"],
    }
