"""The `image_captions` reader: captions of image files, each image opened and decoded before it is used."""

import numpy as np
import pytest
import tensorflow as tf

import kinds
from components.ingest import executor
from kinds import read_file
from kinds.base.readers import Record, Reject
from pipeline import content
from pipeline.config import SplitConfig


def _png(shape=(5, 7, 1)) -> bytes:
    return tf.io.encode_png(np.full(shape, 9, np.uint8)).numpy()


@pytest.fixture
def corpus(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "dog.png").write_bytes(_png())
    (images / "cat.jpg").write_bytes(tf.io.encode_jpeg(np.zeros((4, 4, 3), np.uint8)).numpy())
    (images / "empty.png").write_bytes(b"")
    (images / "cut.png").write_bytes(_png((40, 40, 3))[:60])  # a PNG's header, then nothing
    (images / "notes.png").write_bytes(b"not an image at all")
    (images / "folder.png").mkdir()
    (tmp_path / "captions.tsv").write_text(
        "images/dog.png\ta dog runs\n"
        "images/dog.png\ta brown dog\n"
        "\n"
        "images/cat.jpg\ta cat sleeps\n"
        "images/missing.png\ta caption\n"
        "images/empty.png\tan empty file\n"
        "images/cut.png\ta cut file\n"
        "images/notes.png\ttext\n"
        "images/folder.png\ta folder\n"
        "images/dog.png\t\n"
    )
    return tmp_path / "captions.tsv"


def test_each_line_is_a_record_or_a_reject_that_names_its_image(corpus):
    results = list(read_file(corpus, "image_captions", source="captions.tsv"))
    assert [(type(r).__name__, r.line) for r in results] == [
        ("Record", 1),
        ("Record", 2),
        ("Record", 4),
        *[("Reject", line) for line in range(5, 11)],
    ]
    reasons = [r.reason for r in results if isinstance(r, Reject)]
    assert reasons[:5] == [
        "image images/missing.png: not found",
        "image images/empty.png: empty file",
        reasons[2],
        "image images/notes.png: not a PNG, JPEG, GIF or BMP file",
        "image images/folder.png: not a regular file",
    ]
    assert reasons[2].startswith("image images/cut.png: cannot decode: ")
    assert reasons[5] == "empty caption"
    assert all(r.source == "captions.tsv" and r.text for r in results if isinstance(r, Reject))


def test_a_record_holds_the_resolved_image_and_is_grouped_by_its_bytes(corpus):
    records = [r for r in read_file(corpus, "image_captions", source="captions.tsv") if isinstance(r, Record)]
    assert records[0].fields == {"image": str(corpus.parent / "images" / "dog.png"), "caption": "a dog runs"}
    assert list(records[0].fields) == list(kinds.format("image_captions").fields)
    assert records[0].key == "captions.tsv:1" != records[1].key
    assert records[0].group == records[1].group == content.hash_bytes(_png())
    assert records[2].group == content.hash_bytes((corpus.parent / "images" / "cat.jpg").read_bytes())


def test_one_image_under_two_names_is_one_input(tmp_path):
    for name in ("a.png", "copy of a.png"):
        (tmp_path / name).write_bytes(_png())
    (tmp_path / "captions.tsv").write_text("a.png\tone caption\ncopy of a.png\tanother caption\n")
    first, second = read_file(tmp_path / "captions.tsv", "image_captions")
    assert first.group == second.group and first.fields["image"] != second.fields["image"]


def test_one_images_captions_go_to_one_split():
    split = SplitConfig(eval=0.3, test=0.3)
    for image in range(50):
        group = content.hash_bytes(f"image {image}".encode())
        captions = [Record("c.tsv", line, {}, group=group) for line in range(5)]
        assert len({executor.assign_split(r.group, split) for r in captions}) == 1


def test_an_absolute_path_is_kept(tmp_path):
    image = tmp_path / "elsewhere.png"
    image.write_bytes(_png())
    (tmp_path / "sub").mkdir()
    listing = tmp_path / "sub" / "captions.tsv"
    listing.write_text(f"{image}\tone image\n")
    (record,) = read_file(listing, "image_captions")
    assert record.fields["image"] == str(image)
