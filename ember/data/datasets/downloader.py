"""Verified downloads: stream to a temp file, check SHA-256 (and/or MD5), atomic rename.

A file is only ever visible under its final name once it has passed every checksum we
know for it; on any failure the temporary file is removed.
"""
import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ChecksumError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Resource:
    """A downloadable file: mirrors and the checksums it must match.

    ``sha256``/``md5`` are of the file as downloaded; ``content_sha256`` is of its
    gunzipped content (for archives re-compressed by mirrors/distributions).
    """

    filename: str
    urls: tuple
    sha256: str = None
    md5: str = None
    content_sha256: str = None


def _default_fetch(url):
    import urllib.request  # here, not at the top: it pulls in http, ssl and email (~40 ms)
    return urllib.request.urlopen(url, timeout=60)


fetch = _default_fetch  # replaced in tests (e.g. by a local file:// opener)


def _gunzip_sha256(path):
    h = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path, resource, sha256, md5):
    problems = []
    if resource.sha256 and sha256 != resource.sha256:
        problems.append(f"SHA-256 {sha256} != expected {resource.sha256}")
    if resource.md5 and md5 != resource.md5:
        problems.append(f"MD5 {md5} != expected {resource.md5}")
    if resource.content_sha256:
        try:
            got = _gunzip_sha256(path)
        except (OSError, EOFError) as exc:
            got = f"<not a valid gzip file: {exc}>"
        if got != resource.content_sha256:
            problems.append(f"content SHA-256 {got} != expected {resource.content_sha256}")
    return problems


def download(resource, directory):
    """Fetch ``resource`` into ``directory`` (tries each mirror); returns the final Path.

    Raises ChecksumError (no file left behind) if no mirror serves a matching file.
    """
    if not (resource.sha256 or resource.md5 or resource.content_sha256):
        raise ValueError(f"refusing to download {resource.filename}: no checksum to verify it against")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / resource.filename
    errors = []
    for url in resource.urls:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{resource.filename}.", suffix=".part")
        try:
            sha, md5 = hashlib.sha256(), hashlib.md5()
            with os.fdopen(fd, "wb") as out, fetch(url) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    sha.update(chunk)
                    md5.update(chunk)
            problems = _verify(tmp, resource, sha.hexdigest(), md5.hexdigest())
            if problems:
                errors.append(f"{url}: checksum mismatch ({'; '.join(problems)})")
                continue
            os.replace(tmp, dest)  # atomic on POSIX: readers never see a partial file
            return dest
        except OSError as exc:
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise ChecksumError(f"could not download {resource.filename} into {directory}:\n  " + "\n  ".join(errors))
