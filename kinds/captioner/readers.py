"""The captioner's format, ``image_captions``: one caption a line, ``image_path<TAB>caption`` (Flickr8k's
``Flickr8k.token.txt`` is such a file once its ``#n`` suffixes are cut), the rules of
`kinds.base.readers.read_columns`. The path is relative to the file's folder (or absolute); the record's
``image`` is the resolved path and its ``group`` the hash of the image's bytes, so that one image's
captions are split together, under any name. A missing, empty, unreadable or undecodable image (TensorFlow
decodes PNG, JPEG, GIF and BMP) rejects its line.
"""

from __future__ import annotations

import functools
import pathlib
import stat
from collections.abc import Iterable, Iterator

from kinds.base.readers import (
    MAX_REJECT_TEXT,
    Format,
    Line,
    Options,
    Record,
    Reject,
    example,
    is_blank,
    os_reason,
    parse_columns,
)
from pipeline import content

# The first bytes of the image files TensorFlow's `decode_image` reads.
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_PARSE = functools.partial(parse_columns, columns=("image", "caption"), fields=("image", "caption"))


# --- image_captions -----------------------------------------------------------------------------------


def _read_image_captions(lines: Iterable[Line], source: str, options: Options) -> Iterator[Record | Reject]:
    """Yields one Record or Reject for each non-blank line; each image is opened and decoded once."""
    checked: dict[pathlib.Path, tuple[str | None, str]] = {}  # image -> (its problem, the hash of its bytes)
    for line in lines:
        if is_blank(line):
            continue
        parsed = example(source, line.number, [line], _PARSE, name_line=False)
        if isinstance(parsed, Reject):
            yield parsed
            continue
        written = parsed.fields["image"]
        image = (options.folder / written).resolve()
        if image not in checked:
            checked[image] = _check_image(image)
        problem, digest = checked[image]
        if problem is not None:
            yield Reject(source, line.number, f"image {written}: {problem}", line.text[:MAX_REJECT_TEXT])
            continue
        yield Record(source, line.number, {"image": str(image), "caption": parsed.fields["caption"]}, group=digest)


def _check_image(path: pathlib.Path) -> tuple[str | None, str]:
    """Why an image file cannot be used (missing, not a file, empty, unreadable, not an image TensorFlow
    decodes), or None; and the hash of its bytes ("" when it cannot be read)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return "not a regular file", ""
        data = path.read_bytes()
    except FileNotFoundError:
        return "not found", ""
    except (OSError, ValueError) as err:
        return f"cannot read: {os_reason(err)}", ""
    if not data:
        return "empty file", ""
    if not data.startswith(_IMAGE_SIGNATURES):
        return "not a PNG, JPEG, GIF or BMP file", ""
    import tensorflow as tf  # only this format needs it, and only once it has an image to check

    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        return f"cannot decode: {' '.join(err.message.split())[:100]}", ""
    return None, content.hash_bytes(data)


IMAGE_CAPTIONS = Format("image_captions", ("image", "caption"), _read_image_captions)
