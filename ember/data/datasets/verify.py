"""Checksums of local dataset files, checked on first use and remembered.

A file found on disk (a download, a copy, Debian's package) is hashed the first time it is
read and compared with the published checksums of the official file; a mismatch raises
``ChecksumError`` naming the file, so a corrupt or tampered label file is reported rather
than trained on. Only files that claim to be the official ones are checked: an IDX file
whose header declares another shape is the user's own data in that format and is read as is.

The result is cached in ``~/.ember/verified.json`` (one entry per real path, valid while the
file's size, mtime, ctime and inode are unchanged), so later loads skip the hashing. The
cache only remembers successes; it is advisory (an unwritable home just means hashing again).
"""
import hashlib
import json
import os
import tempfile
from pathlib import Path

from .errors import ChecksumError

CACHE_VERSION = 1
_CHUNK = 1 << 20


def cache_path():
    """Where verified-file records are kept: ``~/.ember/verified.json``."""
    return Path.home() / ".ember" / "verified.json"


def _identity(path):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_cache():
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError):  # RuntimeError: no home directory
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def is_verified(path, resource):
    """True if ``path`` was verified against ``resource`` and has not changed since."""
    entry = _read_cache().get(os.path.realpath(path))
    try:
        return (isinstance(entry, dict) and entry.get("resource") == resource.filename
                and entry.get("identity") == _identity(path))
    except OSError:
        return False


def remember(path, resource):
    """Record ``path`` as verified (best effort: errors writing the cache are ignored)."""
    files = _read_cache()
    try:
        files[os.path.realpath(path)] = {"resource": resource.filename, "identity": _identity(path)}
        target = cache_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".verified.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": CACHE_VERSION, "files": files}, f)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except (OSError, RuntimeError):
        pass


def _file_hashes(path):
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def check(path, resource, content_sha256, compressed, dataset):
    """Compare ``path`` with every checksum ``resource`` publishes that applies to it.

    ``content_sha256`` is the SHA-256 of the decompressed data (computed while reading);
    file-level SHA-256/MD5 apply only to a gzipped file (they are of the .gz archive).
    Returns True if some checksum matched, False if none applies; raises ChecksumError
    on a mismatch."""
    problems, matched = [], False
    if resource.content_sha256:
        if content_sha256 == resource.content_sha256:
            matched = True
        else:
            problems.append(f"content SHA-256 {content_sha256} != published {resource.content_sha256}")
    if not matched and compressed and (resource.sha256 or resource.md5):
        sha, md5 = _file_hashes(path)
        if (resource.sha256 and sha == resource.sha256) or (resource.md5 and md5 == resource.md5):
            matched = True
        else:
            if resource.sha256:
                problems.append(f"file SHA-256 {sha} != published {resource.sha256}")
            if resource.md5:
                problems.append(f"file MD5 {md5} != published {resource.md5}")
    if matched:
        return True
    if problems:
        raise ChecksumError(
            f"{path}: this {dataset} file ({resource.filename[:-3] if resource.filename.endswith('.gz') else resource.filename}) "
            f"does not match its published checksum ({'; '.join(problems)}). It is corrupt or has "
            "been modified: delete it and download it again (download=True) or reinstall the "
            "package it came from")
    return False
