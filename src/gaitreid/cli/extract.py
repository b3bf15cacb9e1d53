"""`gaitreid extract VIDEO OUT`: silhouette sequences of the people walking past a static camera."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "extract", help="silhouette sequences from a static-camera video of people walking across",
        description="Background subtraction (OpenCV MOG2 or KNN, warmed up on frames sampled across the "
        "whole video), clean-up, one track per person, the standard pretreatment; writes "
        "OUT/track-NNN/0000.png... (or OUT/track-NNN/CONDITION/VIEW/ with --condition/--view). "
        "Needs a fixed camera; people who overlap each other are merged.",
    )
    parser.add_argument("video", metavar="VIDEO")
    parser.add_argument("out", metavar="OUT", help="output folder (created; must not already hold these tracks)")
    parser.add_argument("--height", type=int, default=64, help="pretreated frame height (default 64)")
    parser.add_argument("--width", type=int, default=44, help="pretreated frame width (default 44)")
    parser.add_argument("--method", choices=("mog2", "knn"), default="mog2", help="background subtractor")
    parser.add_argument("--min-frames", type=int, default=10, help="whole-body frames a track needs (default 10)")
    parser.add_argument("--condition", help="write a SUBJECT/CONDITION/VIEW tree with this condition (e.g. nm-01)")
    parser.add_argument("--view", help="... and this view (e.g. 090)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from gaitreid.data.pretreat import PretreatConfig
    from gaitreid.video.background import BackgroundConfig
    from gaitreid.video.extract import ExtractConfig, extract_tracks, write_tracks

    cfg = ExtractConfig(
        pretreat=PretreatConfig(height=args.height, width=args.width),
        background=BackgroundConfig(method=args.method),
        min_track_frames=args.min_frames,
    )
    tracks = extract_tracks(args.video, cfg)
    folders = write_tracks(tracks, args.out, args.condition, args.view)
    for track, folder in zip(tracks, folders):
        first, last = int(track.frame_indices[0]), int(track.frame_indices[-1])
        print(f"{track.name}: video frames {first}-{last}, {len(track.silhouettes)} silhouettes -> {folder}")
    print(f"{len(tracks)} track(s) written to {args.out}")
    return 0
