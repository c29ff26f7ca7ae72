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
from collections.abc import Iterable, Iterator

from kinds.base.readers import (
    MAX_REJECT_TEXT,
    Format,
    Line,
    Options,
    Record,
    Reject,
    check_image,
    example,
    is_blank,
    parse_columns,
)

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
            checked[image] = check_image(image)
        problem, digest = checked[image]
        if problem is not None:
            yield Reject(source, line.number, f"image {written}: {problem}", line.text[:MAX_REJECT_TEXT])
            continue
        yield Record(source, line.number, {"image": str(image), "caption": parsed.fields["caption"]}, group=digest)


IMAGE_CAPTIONS = Format("image_captions", ("image", "caption"), _read_image_captions)
