"""Rebuilds every default model trained by a recipe: data -> training -> export.

  /usr/bin/python3 models/recipes/build_all.py [--device auto|cpu|cuda] [--minutes M]
                                               [--stage all|prep|train|export] [--only a,b]
                                               [--parallel] [--weights-dir DIR]

bpe-gpt's export also writes bpe-gpt-with-past (the same weights exported with a key/value cache).
--minutes is the training budget of each of byte-gpt, bpe-gpt, llama-mini and nested-ae (digits-cls trains for a fixed
number of epochs, about a minute on a CPU; mini-sentence-encoder and mini-xlmr-encoder, which run only with --stage all, a fixed
number of steps, about 3 minutes on one core). --parallel trains the models concurrently (one GPU shared,
or CPU threads split between them) and writes each one's log to <weights-dir>/<name>.log.
Use Debian's /usr/bin/python3 (python3-torch 1.13 and friends); see README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from common import RECIPES_DIR, WEIGHTS_DIR, log

MODELS = {"byte-gpt": "byte_gpt.py", "bpe-gpt": "bpe_gpt.py", "llama-mini": "llama_mini.py", "nested-ae": "nested_ae.py",
          "digits-cls": "digits_cls.py"}
# Recipes that prepare, train (a fixed number of steps) and export in one run, with no stages of their own.
ONE_SHOT = {"mini-sentence-encoder": "mini_sentence_encoder.py", "mini-xlmr-encoder": "mini_xlmr_encoder.py"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--stage", choices=["all", "prep", "train", "export"], default="all")
    ap.add_argument("--only", default=",".join([*MODELS, *ONE_SHOT]), help="comma-separated model names")
    ap.add_argument("--parallel", action="store_true")
    ap.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    args = ap.parse_args()
    requested = [n for n in args.only.split(",") if n]
    unknown = set(requested) - set(MODELS) - set(ONE_SHOT)
    if unknown:
        raise SystemExit(f"unknown models: {sorted(unknown)}; known: {list(MODELS) + list(ONE_SHOT)}")
    names = [n for n in requested if n in MODELS]
    if args.stage == "all":
        for n in [n for n in requested if n in ONE_SHOT]:
            log("start", n)
            subprocess.run([sys.executable, str(RECIPES_DIR / ONE_SHOT[n])], check=True)
    py = sys.executable
    wdir = Path(args.weights_dir)
    wdir.mkdir(parents=True, exist_ok=True)

    if args.stage in ("all", "prep"):
        want = []
        if {"byte-gpt", "bpe-gpt", "llama-mini"} & set(names):
            want.append("--text")
        if "nested-ae" in names:
            want.append("--photos")
        if want:
            subprocess.run([py, str(RECIPES_DIR / "data_prep.py"), *want], check=True)
        if "bpe-gpt" in names or "llama-mini" in names:
            # learns the BPE vocabulary and writes the token streams llama-mini trains on too (needs python3-regex)
            subprocess.run([py, str(RECIPES_DIR / "bpe_gpt.py"), "tokenize"], check=True)

    if args.stage in ("all", "train"):
        threads = max(1, (os.cpu_count() or 1) // (len(names) if args.parallel else 1))
        cmds = {
            n: [py, str(RECIPES_DIR / MODELS[n]), "train", "--device", args.device, "--minutes", str(args.minutes),
                "--threads", str(threads), "--weights", str(wdir / f"{n}.npz")]
            for n in names
        }
        if args.parallel:
            procs = {}
            for n, cmd in cmds.items():
                log("start", " ".join(cmd))
                procs[n] = subprocess.Popen(cmd, stdout=open(wdir / f"{n}.log", "w"), stderr=subprocess.STDOUT,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
            failed = []
            while procs:
                for n, p in list(procs.items()):
                    if p.poll() is not None:
                        log(f"{n} finished rc={p.returncode}")
                        failed += [n] if p.returncode else []
                        del procs[n]
                time.sleep(5)
            if failed:
                raise SystemExit(f"training failed: {failed} (see {wdir}/<name>.log)")
        else:
            for n, cmd in cmds.items():
                log("run", " ".join(cmd))
                subprocess.run(cmd, check=True)

    if args.stage in ("all", "export"):
        for n in names:
            subprocess.run([py, str(RECIPES_DIR / MODELS[n]), "export", "--weights", str(wdir / f"{n}.npz")],
                           check=True)
            if n == "bpe-gpt":
                # the same weights with a key/value cache (models/bpe-gpt-with-past)
                subprocess.run([py, str(RECIPES_DIR / MODELS[n]), "export-with-past", "--weights",
                                str(wdir / f"{n}.npz")], check=True)


if __name__ == "__main__":
    main()
