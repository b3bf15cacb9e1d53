"""`python -m gaitreid ...` is the same as the `gaitreid` command (and what torchrun launches)."""

from gaitreid.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
