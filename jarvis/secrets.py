"""Handling secrets without leaking them: masking, reading secret files, checking shapes.

Error messages raised here never contain the secret itself, only where it came from.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "check_digest", "mask_url", "read_secret", "split_tokens"]

#: What a secret is shown as.
MASK = "***"


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: safe to log."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def read_secret(path: Path) -> str:
    """The first line of a secret file, stripped. Raises ValueError without the content."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    lines = text.strip().splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    return lines[0].strip()


def check_digest(value: str) -> None:
    """Raise ValueError unless ``value`` is ``user:password`` with neither part empty."""
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("expected user:password (neither part empty)")


def split_tokens(text: str) -> tuple[str, ...]:
    """Tokens separated by commas or newlines, blanks dropped."""
    return tuple(t.strip() for t in text.replace("\n", ",").split(",") if t.strip())
