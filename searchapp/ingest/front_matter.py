"""Markdown front matter: the YAML (``---``) or TOML (``+++``) block a file may open with.

It is metadata, not text: it is not indexed, and its `title`, when it is a plain string,
names the document.
"""

from __future__ import annotations

import re
import tomllib


def front_matter_end(lines: list[str]) -> int:
    """The index of the line that closes a YAML front-matter block ("---" on line one), or -1.

    Its last key line followed by "---" would otherwise read as a setext heading.
    """
    if lines and lines[0] == "---":
        for i in range(1, min(len(lines), 200)):
            if lines[i] in ("---", "..."):
                return i
    return -1


# Front matter ends within this many lines, or it is not front matter.
_MAX_FRONT_MATTER_LINES = 1000
_YAML_KEY_RE = re.compile(r"^[A-Za-z_][\w.-]*[ \t]*:(?:[ \t]|$)")


def split_front_matter(raw: str) -> tuple[str, str, bool]:
    """`raw` without its front matter, the front matter's title (or ""), and whether it had any.

    YAML front matter is a block from a "---" first line to a "---" (or "...") line;
    TOML front matter the same between "+++" lines. It is metadata, not text to index:
    only its `title`, when a plain string, is used. Malformed front matter never fails
    the file: a "+++" block or a "---" block of only "key: value", indented and "- item"
    lines is dropped all the same, and a "---" block that is not clearly metadata stays as text.
    """
    lines = raw.split("\n", _MAX_FRONT_MATTER_LINES + 1)
    first = lines[0].rstrip()
    if first == "---":
        closers: tuple[str, ...] = ("---", "...")
    elif first == "+++":
        closers = ("+++",)
    else:
        return raw, "", False
    end = next(
        (i for i in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES)) if lines[i].rstrip() in closers), 0
    )
    if not end:
        return raw, "", False
    block = "\n".join(lines[1:end])
    rest = "\n".join(lines[end + 1 :])
    if first == "+++":
        try:
            meta: object = tomllib.loads(block)
        except (tomllib.TOMLDecodeError, ValueError, RecursionError):
            meta = None
        return rest, _front_matter_title(meta), True
    meta = _load_yaml(block)
    if isinstance(meta, dict) or not block.strip():  # an empty block ("---" twice) too, as in Jekyll
        return rest, _front_matter_title(meta), True
    keys = [line for line in block.split("\n") if line.strip() and not line.lstrip().startswith("#")]
    if keys and all(_YAML_KEY_RE.match(k) or k[0] in " \t-" for k in keys):
        return rest, "", True  # metadata that does not parse: dropped all the same
    return raw, "", False  # prose between two rules: text


_YAML_NOT_LOADED = object()


def _load_yaml(block: str) -> object:
    """The YAML document in `block`, or `_YAML_NOT_LOADED` when it does not parse."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(block, Loader=loader)  # a safe loader: no objects from tags
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return _YAML_NOT_LOADED


def _front_matter_title(meta: object) -> str:
    if not isinstance(meta, dict):
        return ""
    title = meta.get("title", meta.get("Title"))
    return " ".join(title.split())[:200] if isinstance(title, str) else ""
