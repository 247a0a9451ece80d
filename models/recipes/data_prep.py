"""Collects the training data of the default models from Debian packages into models/recipes/.data/.

Nothing can be downloaded on the build machines, so the data are what Debian installs:

  text   (byte-gpt):  fortunes (package `fortunes`), WordNet glosses (`wordnet-base`) and English man
                      pages (/usr/share/man/man[1-8], roff markup stripped). Whole documents (one fortune,
                      one synset, one man page) are held out by a hash of their id, ~5%.
  photos (nested-ae): photographs from scikit-image's bundled data (`python3-skimage`) and from the
                      wallpaper packages `mate-backgrounds`, `plasma-workspace-wallpapers`,
                      `lomiri-wallpapers`, `lomiri-wallpapers-20.04` (only the photographs, not the
                      illustrations). Whole photos are held out (a seeded ~20% draw), never crops.

Outputs (gitignored, small enough to travel to a GPU machine):
  .data/text.npz                 uint8 arrays  train_<source>, heldout_<source>
  .data/photos/{train,heldout}/  PNG files, longer side scaled down to at most 640 px
  .data/data.json                what was collected (counts, bytes, file lists)

Usage: /usr/bin/python3 models/recipes/data_prep.py [--text] [--photos]   (both by default)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from common import DATA_DIR, log

HELDOUT_EVERY = 20  # text: a document is held out when hash(id) % 20 == 0 (~5%)
MAN_PAGE_CAP = 60_000  # bytes of stripped text kept per man page, so a few huge pages do not dominate


def heldout_doc(source: str, doc_id: str) -> bool:
    h = hashlib.sha1(f"{source}:{doc_id}".encode()).digest()
    return int.from_bytes(h[:4], "big") % HELDOUT_EVERY == 0


# ---------------------------------------------------------------- text sources


def fortunes_docs(root=Path("/usr/share/games/fortunes")):
    """One document per fortune; the files are UTF-8 text with fortunes separated by '%' lines."""
    if not root.is_dir():
        return
    for f in sorted(root.iterdir()):
        # skip index files (.dat), the .u8 symlinks to the same files, and ASCII drawings
        if f.suffix or f.is_symlink() or f.name in ("ascii-art",) or not f.is_file():
            continue
        text = f.read_bytes().decode("utf-8", errors="replace")
        for i, chunk in enumerate(re.split(r"^%\s*$", text, flags=re.M)):
            chunk = chunk.strip("\n")
            if chunk.strip():
                yield f"{f.name}/{i}", chunk


def wordnet_docs(root=Path("/usr/share/wordnet")):
    """One document per synset: 'lemma, lemma: gloss' from the data.<pos> files."""
    for pos in ("noun", "verb", "adj", "adv"):
        path = root / f"data.{pos}"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:  # licence header lines start with spaces
                continue
            head, gloss = line.split(" | ", 1)
            fields = head.split()
            n_words = int(fields[3], 16)
            words = [fields[4 + 2 * k].replace("_", " ") for k in range(n_words)]
            # adjective markers like "(a)" / "(p)" are syntax annotations, not text
            words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]
            yield f"{pos}/{fields[0]}", f"{', '.join(words)}: {gloss.strip()}"


# roff named glyphs worth keeping as text; everything else unknown is dropped
_GLYPHS = {
    "em": "--", "en": "-", "hy": "-", "mi": "-", "lq": '"', "rq": '"', "oq": "'", "cq": "'", "aq": "'",
    "dq": '"', "bu": "*", "co": "(c)", "rg": "(R)", "tm": "(TM)", "dg": "+", "ga": "`", "ti": "~",
    "ha": "^", "ba": "|", "rs": "\\", "sl": "/", "pl": "+", "eq": "=", "<=": "<=", ">=": ">=", "->": "->",
    "<-": "<-", "mu": "x", "de": " degrees", "sc": "S", "lB": "[", "rB": "]", "lC": "{", "rC": "}",
    "la": "<", "ra": ">", "fo": "<", "fc": ">", "Fo": "<<", "Fc": ">>",
}
_STRINGS = {"lq": '"', "rq": '"', "R": "(R)", "Tm": "(TM)", "(Tm": "(TM)", "Aq": "'", "dq": '"'}


def _inline(s: str) -> str:
    """Removes roff inline escapes from one line of text."""
    s = re.sub(r'\\".*$', "", s)  # comment to end of line
    s = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", s)  # font changes
    s = re.sub(r"\\s[+-]?(\d|\(\d\d|\[\d+\])", "", s)  # size changes
    s = re.sub(r"\\\((..)", lambda m: _GLYPHS.get(m.group(1), ""), s)
    s = re.sub(r"\\\[([^\]]*)\]", lambda m: _GLYPHS.get(m.group(1), ""), s)
    s = re.sub(r"\\\*(\[[^\]]*\]|\(..|.)", lambda m: _STRINGS.get(m.group(1).strip("[]("), ""), s)
    s = re.sub(r"\\[nwhvlLkMmYzoDxbZ](\[[^\]]*\]|\(..|'[^']*'|.)", "", s)  # registers, motions
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\~", " ").replace("\\ ", " ").replace("\\0", " ")
    s = re.sub(r"\\[&|^%:,/c!)dutp{}]", "", s)
    s = re.sub(r"\\(.)", r"\1", s)
    return s.rstrip("\\")  # a trailing backslash only joins lines in roff


_ALTERNATING = {"BR", "BI", "IB", "IR", "RB", "RI"}
_TEXT_MACROS = {"B", "I", "SM", "SB", "SH", "SS"}
_BREAKS = {"PP", "LP", "P", "sp", "TP", "IP", "HP", "br", "SH", "SS", "RS", "RE", "EX", "EE", "nf", "fi"}


def _macro_args(rest: str) -> list[str]:
    return [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', rest)]


def strip_roff(src: str) -> str | None:
    """Turns a man(7) page into plain text; returns None for redirects (.so) and mdoc pages."""
    if re.search(r"^\.(so|Dd|Sh)\s", src, flags=re.M):
        return None
    out: list[str] = []
    skip_until = None
    for line in src.splitlines():
        if skip_until:
            if line.startswith(skip_until):
                skip_until = None
            continue
        if line.startswith((".\\\"", "'\\\"", '\\"')):
            continue
        if line.startswith((".", "'")):
            m = re.match(r"[.'][ \t]*(\S+)[ \t]*(.*)$", line)
            if not m:
                continue
            name, rest = m.group(1), m.group(2)
            if name in ("de", "ig", "am"):
                skip_until = ".."  # macro definitions and ignored blocks
                continue
            if name == "TS":
                skip_until = ".TE"  # tables rarely survive as readable text
                continue
            if name in _BREAKS:
                out.append("")
            if name in ("SH", "SS"):
                out.append(_inline(" ".join(_macro_args(rest))))
            elif name in _TEXT_MACROS and rest:
                out.append(_inline(" ".join(_macro_args(rest))))
            elif name in _ALTERNATING:
                out.append(_inline("".join(_macro_args(rest))))
            elif name == "IP" and rest:
                args = _macro_args(rest)
                if args:
                    out.append(_inline(args[0]))
            continue  # every other request (.TH, .ft, .in, .ad, .ne, ...) carries no text
        out.append(_inline(line))
    text = "\n".join(out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text or None


def man_docs(root=Path("/usr/share/man")):
    """One document per English man page (sections 1-8); translations live in other folders."""
    for section in sorted(root.glob("man[1-8]")):
        for f in sorted(section.iterdir()):
            if f.is_symlink() or not f.name.endswith(".gz"):
                continue
            try:
                src = gzip.decompress(f.read_bytes()).decode("utf-8", errors="replace")
            except (OSError, EOFError):
                continue
            text = strip_roff(src)
            if text and len(text) > 200:
                yield f"{section.name}/{f.name}", text[:MAN_PAGE_CAP]


TEXT_SOURCES = {
    # name: (documents, separator written after every document)
    "fortunes": (fortunes_docs, "\n%\n"),
    "wordnet": (wordnet_docs, "\n"),
    "man": (man_docs, "\n\n"),
}


def prepare_text() -> dict:
    arrays, stats = {}, {}
    for source, (docs_fn, sep) in TEXT_SOURCES.items():
        parts = {"train": [], "heldout": []}
        n = {"train": 0, "heldout": 0}
        for doc_id, text in docs_fn():
            split = "heldout" if heldout_doc(source, doc_id) else "train"
            parts[split].append(text + sep)
            n[split] += 1
        for split in ("train", "heldout"):
            data = "".join(parts[split]).encode("utf-8")
            arrays[f"{split}_{source}"] = np.frombuffer(data, dtype=np.uint8)
        stats[source] = {
            "documents": n,
            "bytes": {s: int(arrays[f"{s}_{source}"].size) for s in ("train", "heldout")},
        }
        log(f"text {source}: {stats[source]}")
    np.savez_compressed(DATA_DIR / "text.npz", **arrays)
    log("wrote", DATA_DIR / "text.npz", f"{(DATA_DIR / 'text.npz').stat().st_size / 1e6:.1f} MB")
    return stats


# ---------------------------------------------------------------- photographs

SKIMAGE_DIR = Path("/usr/lib/python3/dist-packages/skimage/data")
# Photographs among scikit-image's bundled images (drawings, masks and synthetic images left out;
# motorcycle_right is left out because it is nearly the same picture as motorcycle_left).
SKIMAGE_PHOTOS = [
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "coffee.png", "coins.png",
    "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "microaneurysms.png", "moon.png",
    "motorcycle_left.png", "page.png", "retina.jpg", "rocket.jpg", "text.png",
]
# Photographs among the wallpapers (the packages also hold many illustrations, left out).
WALLPAPER_PHOTOS = [
    # mate-backgrounds
    "/usr/share/backgrounds/mate/nature/*.jpg",
    # plasma-workspace-wallpapers
    *[f"/usr/share/wallpapers/{n}/contents/images/*.jpg" for n in (
        "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
        "Kite", "OneStandsOut", "Path", "Volna", "summer_1am")],
    # lomiri-wallpapers, lomiri-wallpapers-20.04
    *[f"/usr/share/backgrounds/{n}_by_*.jpg" for n in (
        "Bridge", "Dragonfly", "Kleiber", "Picture_0B", "Picture_1A", "Wine", "aitzgorri",
        "analogpattern", "free", "friends", "greentock", "life", "picosdeeuropa", "seeding", "sunset")],
]
MAX_SIDE = 640
HELDOUT_FRACTION = 0.2


def photo_files() -> list[Path]:
    import glob

    files = [SKIMAGE_DIR / f for f in SKIMAGE_PHOTOS if (SKIMAGE_DIR / f).exists()]
    for pattern in WALLPAPER_PHOTOS:
        found = sorted(glob.glob(pattern))
        # a plasma wallpaper ships several sizes of one picture: take the largest landscape one
        if "/wallpapers/" in pattern and found:
            found = [max(found, key=lambda p: os.path.getsize(p))]
        files += [Path(p) for p in found]
    return files


def load_photo(path: Path) -> np.ndarray:
    """RGB uint8, longer side scaled down (anti-aliased) to at most MAX_SIDE."""
    from skimage import io, transform

    im = io.imread(path)
    if im.ndim == 2:
        im = np.stack([im] * 3, axis=-1)
    im = im[..., :3]
    if im.dtype != np.uint8:
        im = (255 * (im.astype(np.float64) / im.max())).astype(np.uint8)
    scale = MAX_SIDE / max(im.shape[:2])
    if scale < 1:
        h, w = round(im.shape[0] * scale), round(im.shape[1] * scale)
        im = transform.resize(im, (h, w), anti_aliasing=True, preserve_range=True)
        im = np.clip(np.round(im), 0, 255).astype(np.uint8)
    return im


def prepare_photos() -> dict:
    from skimage import io

    files = photo_files()
    rng = np.random.default_rng(1234)
    order = rng.permutation(len(files))
    n_held = max(1, round(HELDOUT_FRACTION * len(files)))
    held = {files[i] for i in order[:n_held]}
    listing = {"train": [], "heldout": []}
    for split in listing:
        (DATA_DIR / "photos" / split).mkdir(parents=True, exist_ok=True)
        for old in (DATA_DIR / "photos" / split).glob("*.png"):
            old.unlink()
    for path in files:
        split = "heldout" if path in held else "train"
        im = load_photo(path)
        # a short unique name: file stem, prefixed with the plasma wallpaper's folder where needed
        stem = path.parts[4] if "/wallpapers/" in str(path) else path.stem
        io.imsave(DATA_DIR / "photos" / split / f"{stem}.png", im, check_contrast=False)
        listing[split].append({"file": str(path), "stored": f"{stem}.png", "shape": list(im.shape)})
    log(f"photos: {len(listing['train'])} train, {len(listing['heldout'])} held out")
    return listing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", action="store_true", help="only the text corpus")
    ap.add_argument("--photos", action="store_true", help="only the photographs")
    args = ap.parse_args()
    both = not (args.text or args.photos)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    info_path = DATA_DIR / "data.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if both or args.text:
        info["text"] = prepare_text()
    if both or args.photos:
        info["photos"] = prepare_photos()
    info_path.write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
