"""The captioner's format, ``image_captions``: one caption a line, ``image_path<TAB>caption`` (Flickr8k's
``Flickr8k.token.txt`` is such a file once its ``#n`` suffixes are cut), the rules of
`kinds.base.readers.read_columns`. The path is relative to the file's folder (or absolute); the record's
``image`` is the resolved path and its ``group`` the hash of the image's bytes, so that one image's
captions are split together, under any name. A missing, empty, unreadable or undecodable image (TensorFlow
decodes PNG, JPEG, GIF and BMP) rejects its line.
"""

from __future__ import annotations

import functools

from kinds.base.readers import Format, parse_columns, read_image_lines

_PARSE = functools.partial(parse_columns, columns=("image", "caption"), fields=("image", "caption"))


IMAGE_CAPTIONS = Format("image_captions", ("image", "caption"), functools.partial(read_image_lines, parse=_PARSE))
