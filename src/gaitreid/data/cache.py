"""`build_store`: convert a dataset once, then reuse the cached store while nothing has changed.

Cache key = absolute source path + the source's listing signature (every file's path, size,
mtime) + layout + pretreatment parameters + store format version. A store for that key lives in
`CACHE_ROOT/<source name>-<layout>-<H>x<W>-<key[:12]>/`; other parameters give another folder.
A cached store that fails its checks (truncated, bad manifest, checksum) is rebuilt with a
warning; when the source is gone, a valid store made from it is still used, a damaged one is an
error. A store made before its source changed is removed once the new one is built. Builds of
one store are serialised by a lock file. CACHE_ROOT is `$GAITREID_CACHE`, else `~/.cache/gaitreid`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path

from gaitreid.data.convert import convert_scan
from gaitreid.data.pretreat import PretreatConfig
from gaitreid.data.scan import get_layout, scan_tree
from gaitreid.data.store import FORMAT_VERSION, SequenceStore, StoreWriter, is_store, read_manifest
from gaitreid.errors import ConfigError, DataError, StoreError

log = logging.getLogger("gaitreid.data")


def default_cache_root() -> Path:
    return Path(os.environ.get("GAITREID_CACHE") or Path.home() / ".cache" / "gaitreid").expanduser()


def source_listing_signature(root: Path) -> tuple[int, str]:
    """(file count, hex digest) over every visible file's relative path, size and mtime."""
    digest = hashlib.sha256()
    count = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=True):
                    stack.append(Path(entry.path))
                    continue
                stat = entry.stat()
                rel = os.path.relpath(entry.path, root)
                digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                count += 1
    return count, digest.hexdigest()


def cache_key(source: Path, signature: str, layout: str, cfg: PretreatConfig) -> str:
    identity = {
        "source": str(source),
        "signature": signature,
        "layout": layout,
        "pretreat": cfg.to_dict(),
        "format_version": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def store_dir_name(source: Path, layout: str, cfg: PretreatConfig, key: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", source.name) or "root"
    return f"{name}-{layout}-{cfg.height}x{cfg.width}-{key[:12]}"


def build_store(source_root, pretreat: PretreatConfig | None = None, cache_root=None,
                layout: str = "casia-b", workers: int | None = None, progress: bool = True,
                rebuild: bool = False) -> SequenceStore:
    """The store for `source_root` converted with `pretreat`, built now or reused from the cache.

    `source_root` may also be a store itself: it is opened (its parameters must match `pretreat`).
    """
    cfg = pretreat or PretreatConfig()
    get_layout(layout)
    source = Path(source_root).expanduser().absolute()
    if is_store(source):
        return _open_given_store(source, pretreat)
    cache_root = Path(cache_root).expanduser() if cache_root else default_cache_root()
    if not source.exists():
        return _store_for_vanished_source(source, cfg, layout, cache_root)
    if not source.is_dir():
        raise DataError(f"{source}: dataset root is not a folder")

    count, signature = source_listing_signature(source)
    key = cache_key(source, signature, layout, cfg)
    target = cache_root / store_dir_name(source, layout, cfg, key)
    cache_root.mkdir(parents=True, exist_ok=True)
    # One builder per store at a time: a second process (e.g. another DDP rank) waits, then reuses.
    with _exclusive_lock(cache_root / f".{target.name}.lock"):
        if target.exists() and not rebuild:
            try:
                store = SequenceStore.open(target)
                if store.manifest.get("cache_key") == key:
                    log.info("reusing cached store %s", target)
                    return store
                log.warning("warning: %s: cache key mismatch; rebuilding", target)
            except StoreError as err:
                log.warning("warning: cached store is damaged (%s); rebuilding", err)

        scan = scan_tree(source, layout)
        log.info("converting %d sequences from %s (%dx%d) into %s", len(scan.sequences), source, cfg.height, cfg.width, target)
        extra = {"cache_key": key, "layout": layout, "source_files": count, "source_signature": signature}
        with StoreWriter(target, cfg, source=str(source), extra=extra) as writer:
            summary = convert_scan(scan, cfg, writer, workers=workers, progress=progress)
            writer.extra["conversion"] = summary.to_dict()
        _remove_outdated(target, source, layout, cfg)
        return SequenceStore.open(target)


@contextlib.contextmanager
def _exclusive_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock, builds may race (the last rename wins)
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_outdated(current: Path, source: Path, layout: str, cfg: PretreatConfig) -> None:
    """Delete stores of the same source, layout and parameters made before the source changed."""
    for folder in current.parent.glob(store_dir_name(source, layout, cfg, key="") + "*"):
        if folder == current or not folder.is_dir():
            continue
        try:
            manifest = read_manifest(folder)
        except StoreError:
            continue  # damaged and unattributable: leave it to the user
        if manifest["source"] == str(source) and PretreatConfig.from_dict(manifest["pretreat"]) == cfg:
            log.info("removing outdated store %s (its source has changed since)", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _open_given_store(path: Path, pretreat: PretreatConfig | None) -> SequenceStore:
    store = SequenceStore.open(path)
    if pretreat is not None and store.pretreat != pretreat:
        h, w = store.frame_shape
        raise ConfigError(
            f"{path}: store was made at {h}x{w} with {store.pretreat}, asked for {pretreat}; "
            f"convert the source dataset ({store.manifest['source']}) instead"
        )
    return store


def _store_for_vanished_source(source: Path, cfg: PretreatConfig, layout: str, cache_root: Path) -> SequenceStore:
    """The source is gone: use a valid cached store made from it with these parameters, if any."""
    prefix = store_dir_name(source, layout, cfg, key="")
    folders = sorted(cache_root.glob(prefix + "*"), key=lambda p: p.stat().st_mtime, reverse=True) if cache_root.is_dir() else []
    damaged = None
    for folder in folders:
        try:
            manifest = read_manifest(folder)
            if manifest["source"] != str(source) or PretreatConfig.from_dict(manifest["pretreat"]) != cfg:
                continue
            store = SequenceStore.open(folder)
        except StoreError as err:
            damaged = damaged or err
            continue
        log.warning("warning: %s: dataset root not found; using its cached store %s", source, store.path)
        return store
    if damaged is not None:
        raise StoreError(f"{source}: dataset root not found, and its cached store is damaged ({damaged})")
    raise DataError(f"{source}: dataset root not found (and no cached store of it in {cache_root})")
