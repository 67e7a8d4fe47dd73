"""The intermediate store in an S3 bucket (AWS, or any S3-compatible server), through s3fs.

Layout under `s3://bucket/prefix`: `<key[:2]>/<key>.<token>.arrow` or `.bin` (the data, a new
object for every write), `<key[:2]>/<key>.meta` (the sidecar, naming the data object) and the
Parquet dataset directories of `datasets`. S3 cannot rename, so nothing is written under a
temporary name: a writer puts its data object under a name of its own, which no reader looks
at until a sidecar names it, and commits by putting the sidecar with `If-None-Match: *`. Of
two writers of one key, the first sidecar wins and the other writer deletes its data object;
a damaged output, or any output that a run without memoization replaces, is replaced by a
put with `If-Match` on the stored sidecar's ETag, so that of two writers replacing it one
wins at a time, and the replaced data object is deleted (a reader that read the old sidecar
just before then finds the output MISSING and computes it again). Data objects that no
sidecar names (a writer killed before its commit) are removed by `reclaim` once they are
older than every live run.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from s3fs import S3FileSystem

from solidflow.engine.store.datasets import PARQUET, DatasetDirectories
from solidflow.engine.store.files import Reclaimed
from solidflow.engine.store.records import (
    SAMPLE_BLOCK,
    Assessment,
    HashingSink,
    Staged,
    StoredOutput,
    assess,
    missing,
    pack_sidecar,
    sample_ranges,
)
from solidflow.engine.store.remote import FsspecStore, modified_time
from solidflow.engine.store.serialization import DATA_SUFFIXES, Encoded, data_suffix

_DATA_OBJECT = re.compile(r"(?P<key>[0-9a-f]{64})\.[0-9a-f]+(?P<suffix>\.arrow|\.bin)")
_COMMIT_ATTEMPTS = 5
"""How often a commit looks again when the sidecar it found changes under it."""


class S3Store(FsspecStore):
    """Stored outputs under `s3://bucket/prefix`, shared safely by processes on any host.

    `storage_options` go to s3fs (`endpoint_url`, `key`, `secret`, `client_kwargs`, ...);
    credentials come from the usual AWS environment variables and files when not given.
    """

    writes_guarded = True
    """Commits are conditional puts: a valid output is never replaced or duplicated."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        # Listings are never cached: other hosts write into the bucket meanwhile.
        super().__init__(url, {"use_listings_cache": False, **(storage_options or {})})
        if not isinstance(self.fs, S3FileSystem):
            raise ValueError(f"the s3 storage backend needs an s3:// root, not {url!r}")
        # A dataset is written where it stays: a move on S3 copies every object.
        self.datasets = DatasetDirectories(
            self.fs, self.root, contextlib.nullcontext, self.fs.unstrip_protocol, moves=False
        )

    def __repr__(self) -> str:
        return f"S3Store({self.fs.unstrip_protocol(self.root)!r})"

    def _data_of(self, record: StoredOutput) -> str:
        """The data object that the sidecar `record` names."""
        return str(self.fs._strip_protocol(record.location))

    def _assess_data(self, record: StoredOutput) -> Assessment:
        """The assessment of `record`'s data object: its size, the sampled ranges fetched
        together, and for Arrow its footer."""
        path = self._data_of(record)
        try:
            size = int(self.fs.info(path)["size"])
        except FileNotFoundError:
            return missing("no data file")
        ranges = [(offset, min(size, offset + length)) for offset, length in sample_ranges(size)]
        ranges = [(start, end) for start, end in ranges if start < end]
        fetched = self.fs.cat_ranges(
            [path] * len(ranges), [start for start, _ in ranges], [end for _, end in ranges]
        )
        blocks: dict[int, bytes] = {
            start: block for (start, _), block in zip(ranges, fetched, strict=True)
        }

        def read(offset: int, length: int) -> bytes:
            return blocks.get(offset, b"")[:length]

        with self.fs.open(path, "rb", block_size=SAMPLE_BLOCK) as source:
            return assess(record, size, read, source)

    def stage(
        self,
        key: str,
        encoded: Encoded,
        describe: Callable[..., StoredOutput],
        sync: bool,
        replace: bool = False,
    ) -> Staged:
        """Put the data of `key` under a new name that no reader looks at until `publish`
        puts the sidecar naming it. `sync` means nothing here: a put is durable."""
        directory, meta = self._paths(key)
        data = f"{directory}/{key}.{secrets.token_hex(8)}{data_suffix(encoded.serializer)}"
        try:
            size = encoded.size()
            with self.fs.open(data, "wb") as file, HashingSink(size, file.write) as sink:
                encoded.write_to(sink)
            checksum, full = sink.finish()
        except BaseException:
            self._remove_quietly([data])
            raise
        location = self.fs.unstrip_protocol(data)
        record = describe(bytes=size, checksum=checksum, full_checksum=full, location=location)
        return Staged(key=key, record=record, files=(data, meta, data, meta), replace=replace)

    def _publish_one(self, staged: Staged) -> StoredOutput:
        """Commit a staged output by a conditional put of its sidecar; the output stored
        under its key: this one, or a valid one that another writer committed first (unless
        this one replaces it)."""
        data, meta = staged.files[0], staged.files[3]  # type: ignore[index]
        record: StoredOutput = staged.record  # type: ignore[assignment]
        sidecar = pack_sidecar(record)
        committed = False
        try:
            if not staged.replace and self._put_sidecar(meta, sidecar, None):
                committed = True  # the usual case: no output under the key
                return record
            for _ in range(_COMMIT_ATTEMPTS):
                stored = self._stored_sidecar(staged.key, meta)
                if stored is None:  # none (any more): create it
                    committed = self._put_sidecar(meta, sidecar, None)
                    if committed:
                        return record
                    continue
                etag, found = stored
                if found.present is not None and not staged.replace:
                    return found.present
                committed = self._put_sidecar(meta, sidecar, etag)
                if committed:
                    if found.record is not None and self._data_of(found.record) != data:
                        self._remove_quietly([self._data_of(found.record)])  # replaced
                    return record
            raise OSError(f"the sidecar of key {staged.key} kept changing while it was written")
        finally:
            if not committed:
                self._remove_quietly([data])

    def _stored_sidecar(self, key: str, meta: str) -> tuple[str, Assessment] | None:
        """The ETag of `key`'s sidecar and the assessment of the output it describes; None
        if there is no sidecar. (Should it change in between, a put `If-Match` that ETag
        fails.)"""
        try:
            etag = self.fs.info(meta)["ETag"]
            return etag, self._assess(key, self.fs.cat_file(meta))
        except FileNotFoundError:
            return None

    def _put_sidecar(self, meta: str, sidecar: bytes, etag: str | None) -> bool:
        """Put `sidecar` at `meta` if there is no object there (`etag` None) or if the one
        there still has `etag`; whether it did."""
        if etag is None:
            try:
                self.fs.pipe_file(meta, sidecar, mode="create")
            except FileExistsError:
                return False
            return True
        bucket, key, _ = self.fs.split_path(meta)
        try:
            self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=sidecar, IfMatch=etag)
        except OSError:  # 412 Precondition Failed, or deleted meanwhile (FileNotFoundError)
            return False
        return True

    def publish(self, staged: Sequence[Staged], sync: bool) -> None:
        """Commit staged outputs; a valid output stored meanwhile is kept instead."""
        for item in staged:
            self._publish_one(item)

    def discard(self, staged: Sequence[Staged]) -> None:
        """Delete the data objects of staged outputs that will not be committed."""
        self._remove_quietly([item.files[0] for item in staged if item.files is not None])

    def _data_objects(self, key: str) -> list[str]:
        """Every data object of `key`, whether a sidecar names it or not."""
        directory = self._paths(key)[0]
        found = []
        for path in self.fs.glob(f"{directory}/{key}.*"):
            match = _DATA_OBJECT.fullmatch(path.rsplit("/", 1)[-1])
            if match is not None and match.group("key") == key:
                found.append(path)
        return found

    def delete(self, key: str, dry_run: bool = False) -> int:
        """Remove `key`'s sidecar, then its data objects (unless `dry_run`); the number of
        bytes freed (or that would be)."""
        directory, meta = self._paths(key)
        named = (f"{directory}/{key}{suffix}" for suffix in DATA_SUFFIXES)  # older layouts
        paths = [meta, *named, *self._data_objects(key)]
        freed = self._remove_quietly(paths, self.fs.size, dry_run)
        return freed + self.datasets.delete(key, dry_run)

    def reclaim(self, before: float, dry_run: bool) -> list[Reclaimed]:
        """Remove what killed writes left: temporary dataset directories (see FsspecStore)
        and data objects that no sidecar names, last modified before `before`."""
        reclaimed = super().reclaim(before, dry_run)
        named = {
            self._data_of(record)
            for record in self.records()
            if record.serializer != PARQUET and record.location
        }
        for path, info in self.fs.find(self.root, detail=True).items():
            name = path.rsplit("/", 1)[-1]
            modified = modified_time(info)
            if _DATA_OBJECT.fullmatch(name) is None or path in named:
                continue
            if modified is None or modified >= before:
                continue
            if not dry_run:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(path)
            reclaimed.append(Reclaimed(path=self.fs.unstrip_protocol(path), bytes=info["size"]))
        return reclaimed
