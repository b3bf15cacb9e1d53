"""`gaitreid enrol | identify | gallery | calibrate`: use a trained model on people of your own.

    gaitreid enrol --gallery people.db --model runs/demo --identity alice walk1/ walk2.pkl walk3.avi
    gaitreid identify --gallery people.db --top-k 5 someone.avi
    gaitreid gallery list --gallery people.db
    gaitreid gallery remove --gallery people.db alice
    gaitreid calibrate --gallery people.db --data VALIDATION_TREE --far 0.01
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    _register_enrol(subparsers)
    _register_identify(subparsers)
    _register_gallery(subparsers)
    _register_calibrate(subparsers)


def _gallery_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gallery", required=True, metavar="GALLERY", help="gallery database file (SQLite)")


# ------------------------------------------------------------------------------------------ enrol


def _register_enrol(subparsers) -> None:
    parser = subparsers.add_parser(
        "enrol", help="embed sequences of one person and add them to a gallery",
        description="Embed each SEQUENCE (a folder of PNG frames, a .pkl of frames, or a video of one "
        "person walking past a static camera) and store them under IDENTITY, all in one transaction.",
    )
    _gallery_argument(parser)
    parser.add_argument("--model", required=True, metavar="CKPT", help="run, phase or checkpoint directory")
    parser.add_argument("--identity", required=True, metavar="NAME", help="who walks in these sequences")
    parser.add_argument("sequences", nargs="+", metavar="SEQUENCE")
    parser.set_defaults(func=run_enrol)


def run_enrol(args) -> int:
    from gaitreid.gallery.workflow import enrol_paths

    _, sequences = enrol_paths(args.gallery, args.model, args.identity, args.sequences)
    for seq in sequences:
        print(f"enrolled {args.identity}: {seq.source} ({seq.frames} frames)")
    print(f"{len(sequences)} sequence(s) added to {args.gallery}")
    return 0


# --------------------------------------------------------------------------------------- identify


def _register_identify(subparsers) -> None:
    parser = subparsers.add_parser(
        "identify", help="who walks in this sequence? top-k enrolled identities, or unknown",
        description="Rank the gallery's identities by distance to SEQUENCE (an identity's distance is its "
        "nearest enrolled sequence). With a calibrated threshold, a nearest distance above it is 'unknown'.",
    )
    _gallery_argument(parser)
    parser.add_argument("sequence", metavar="SEQUENCE")
    parser.add_argument("--top-k", type=int, default=5, help="identities to list (default 5)")
    parser.add_argument("--model", metavar="CKPT", help="checkpoint to use (default: the one the gallery was built with)")
    parser.add_argument("--search", choices=("auto", "exact", "index"), default="auto",
                        help="exact search, a faiss index, or chosen by gallery size (default)")
    parser.set_defaults(func=run_identify)


def run_identify(args) -> int:
    from gaitreid.errors import GaitReidError
    from gaitreid.gallery.workflow import identify_path

    if args.top_k < 1:
        raise GaitReidError(f"--top-k must be >= 1, got {args.top_k}")
    result = identify_path(args.gallery, args.sequence, args.top_k, args.model, args.search)
    threshold = "not calibrated (closed set)" if result.threshold is None else f"{result.threshold:.5g}"
    print(f"threshold: {threshold}")
    for rank, match in enumerate(result.matches, 1):
        print(f"{rank:>3}  {match.identity:<24} {match.distance:.5g}")
    print(f"answer: {result.identity if result.identity is not None else 'unknown'}")
    return 0


# ---------------------------------------------------------------------------------------- gallery


def _register_gallery(subparsers) -> None:
    parser = subparsers.add_parser("gallery", help="list, remove or check a gallery's identities")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="identities, sequence counts, the model and the threshold")
    _gallery_argument(listing)
    listing.set_defaults(func=run_gallery_list)
    remove = actions.add_parser("remove", help="delete an identity and all its sequences")
    _gallery_argument(remove)
    remove.add_argument("identity", metavar="NAME")
    remove.set_defaults(func=run_gallery_remove)
    check = actions.add_parser("check", help="full integrity check of the database file")
    _gallery_argument(check)
    check.set_defaults(func=run_gallery_check)


def run_gallery_list(args) -> int:
    from gaitreid.gallery.database import Gallery
    from gaitreid.gallery.identify import OPEN_SET_SETTING

    with Gallery.open(args.gallery) as gallery:
        bound = gallery.model()
        people = gallery.identities()
        calibration = gallery.setting(OPEN_SET_SETTING)
    if bound is None:
        print(f"{args.gallery}: empty (no model bound yet)")
        return 0
    c, p = bound.embedding_shape
    print(f"model: {bound.fingerprint} ({bound.description.get('checkpoint')}), embeddings [{c}, {p}]")
    if calibration:
        rates = (f"; target FAR {calibration['target_far']:.2%}, measured FAR {calibration['far']:.2%}, "
                 f"FRR {calibration['frr']:.2%}") if "far" in calibration else ""
        print(f"threshold: {calibration['threshold']:.5g} ({calibration['metric']}{rates})")
    else:
        print("threshold: not calibrated (identify answers the nearest identity, never unknown)")
    print(f"{len(people)} identities, {sum(p.sequences for p in people)} sequences")
    for person in people:
        print(f"  {person.name:<24} {person.sequences:>4} sequences  last enrolled {person.last_enrolled_at}")
    return 0


def run_gallery_remove(args) -> int:
    from gaitreid.gallery.database import Gallery

    with Gallery.open(args.gallery) as gallery:
        count = gallery.remove(args.identity)
    print(f"removed {args.identity} ({count} sequences) from {args.gallery}")
    return 0


def run_gallery_check(args) -> int:
    from gaitreid.errors import GaitReidError
    from gaitreid.gallery.database import Gallery

    with Gallery.open(args.gallery) as gallery:
        problems = gallery.integrity_problems()
    if problems:
        raise GaitReidError(f"{args.gallery}: integrity check failed: " + "; ".join(problems[:5]))
    print(f"{args.gallery}: ok")
    return 0


# -------------------------------------------------------------------------------------- calibrate


def _register_calibrate(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="choose the open-set threshold for a target false-accept rate",
        description="Embed labelled validation sequences (a dataset tree SUBJECT/CONDITION/VIEW or a "
        "store) with the gallery's model, treat each subject in turn as unknown, pick the distance "
        "threshold that falsely accepts at most --far of the unknowns, report FAR and FRR, and store "
        "the threshold in the gallery. Use subjects that are neither enrolled nor in your test set.",
    )
    _gallery_argument(parser)
    parser.add_argument("--data", required=True, metavar="PATH", help="validation dataset tree or store")
    parser.add_argument("--layout", default="casia-b", help="dataset tree layout (casia-b, ou-mvlp, any)")
    parser.add_argument("--subjects", metavar="LIST", help="subjects to use: comma list and ranges (075-124); default all")
    parser.add_argument("--far", type=float, default=0.01, help="target false-accept rate (default 0.01)")
    parser.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean")
    parser.add_argument("--gallery-conditions", default="nm-01,nm-02,nm-03,nm-04",
                        help="conditions enrolled per subject; the rest are probes (default CASIA-B nm-01..04)")
    parser.add_argument("--model", metavar="CKPT", help="checkpoint (default: the gallery's)")
    parser.add_argument("--dry-run", action="store_true", help="report, but do not store the threshold")
    parser.set_defaults(func=run_calibrate)


def parse_subjects(text: str | None, available: list[str]) -> list[str]:
    """'001-010,015' -> the listed subjects present in `available` (ranges compare as numbers)."""
    from gaitreid.errors import GaitReidError

    if not text:
        return list(available)
    wanted: set[str] = set()
    for item in text.split(","):
        item = item.strip()
        if "-" in item and all(part.isdigit() for part in item.split("-", 1)):
            low, high = (int(part) for part in item.split("-", 1))
            wanted |= {s for s in available if s.isdigit() and low <= int(s) <= high}
        elif item:
            wanted.add(item)
    chosen = [s for s in available if s in wanted]
    if not chosen:
        raise GaitReidError(f"--subjects {text!r} matches none of the data's {len(available)} subjects")
    return chosen


def run_calibrate(args) -> int:
    from gaitreid.data.store import build_store
    from gaitreid.gallery.calibrate import calibrate_threshold
    from gaitreid.gallery.database import Gallery
    from gaitreid.gallery.identify import OPEN_SET_SETTING
    from gaitreid.gallery.workflow import gallery_embedder

    with Gallery.open(args.gallery) as gallery:
        embedder = gallery_embedder(gallery, args.model)
        store = build_store(args.data, pretreat=embedder.pretreat, layout=args.layout)
        subjects = parse_subjects(args.subjects, store.subjects)
        indices = store.indices(subjects=subjects)
        log.info("embedding %d sequences of %d subjects", len(indices), len(subjects))
        embeddings = embedder.embed_store(store, indices)
        keys = [store.keys[i] for i in indices]
        conditions = tuple(c.strip() for c in args.gallery_conditions.split(",") if c.strip())
        result = calibrate_threshold(embeddings, keys, args.far, args.metric, conditions)
        from dataclasses import replace

        result = replace(result, fingerprint=embedder.fingerprint, data=str(args.data))
        if not args.dry_run:
            gallery.set_setting(OPEN_SET_SETTING, result.to_dict())
    print(f"calibrated on {result.subjects} subjects ({result.genuine_trials} genuine, "
          f"{result.impostor_trials} impostor trials, {result.protocol}), metric {result.metric}")
    print(f"threshold {result.threshold:.4f} for target FAR {result.target_far:.2%}: "
          f"FAR {result.far:.2%}, FRR {result.frr:.2%}, identification rate {result.identification_rate:.2%}")
    print("not stored (--dry-run)" if args.dry_run else f"stored in {args.gallery}")
    return 0
