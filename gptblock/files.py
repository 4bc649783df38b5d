"""Paths in, files out: the checks every path argument gets, and writes that never leave half a file.

Every function of gptblock that takes a path checks it with :func:`check_path` (a ``None`` or a
number would otherwise become a file literally named ``None`` or ``123``), and every file it writes
goes through :func:`write_atomically`: the bytes go to a temporary file beside the target, which is
renamed over the target only once complete. A reader never sees a half-written file, and a write
that fails (a full disk, Ctrl-C) leaves the previous file as it was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PathLike = str | os.PathLike


def check_path(path: Any, name: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path`, or a clear error naming the argument.

    Raises:
        TypeError: ``path`` is not a ``str`` or an ``os.PathLike`` (``None``, a number, bytes, a list...).
        ValueError: ``path`` is empty.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    if os.fspath(path) in ("", b""):  # Path("") would silently mean the current folder
        raise ValueError(f"{name} is empty")
    return Path(path)


def _temporary_beside(path: Path) -> tuple[Path, int]:
    """A new, empty file in ``path``'s folder, and the permissions a new file gets there.

    The file is created like any new file (mode 0o666 less the umask), so its mode tells what the
    umask allows without reading the process-wide umask (which only :func:`os.umask` can, by changing it).
    """
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:  # another writer's temporary file: draw another name
            continue
        try:
            mode = os.fstat(fd).st_mode & 0o777
        finally:
            os.close(fd)
        return tmp, mode


def _sync(path: Path) -> None:
    """Push a file's bytes to the disk, so that a rename after a power cut never points at an empty file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(writes: Sequence[tuple[Path, Callable[[Path], None]]]) -> None:
    """Write files through temporary files, then rename them into place, in order.

    Args:
        writes: ``(target, write)`` pairs; ``write(tmp)`` writes the complete file at the path ``tmp``.
            Every file is written before the first rename, so a failure while writing (a full disk,
            an exception, Ctrl-C) leaves every target as it was and no temporary file behind.

    The written files get the permissions of a new file (0o666 less the umask), whatever the writer
    used (safetensors writes 0o600). The folders must exist.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, write in writes:
            tmp, mode = _temporary_beside(target)
            staged.append((tmp, target))
            write(tmp)
            os.chmod(tmp, mode)
            _sync(tmp)
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
