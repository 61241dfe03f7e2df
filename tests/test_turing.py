"""Visual Turing test kit: blinded sheets, answer keys, scoring, the CLI and the page itself."""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import re
import shutil
import subprocess
import urllib.parse

import numpy as np
import pytest

from imusynth.data import ImageSet, write_windows
from imusynth.data.phantoms import make_liver_phantoms
from imusynth.errors import DataError
from imusynth.evaluation.turing import make_sheet, read_key, score_answers, turing_table


def _phantoms(seed: int, synthetic: bool) -> ImageSet:
    d = make_liver_phantoms((5, 6, 7), n_patients=5, rng=np.random.default_rng(seed))
    return ImageSet(
        X=d["X"],
        y=d["y"],
        groups=d["groups"],
        classes=d["classes"],
        channels=("intensity",),
        units=("scaled",),
        sampling_rate_hz=0.0,
        is_synthetic=np.full(len(d["y"]), synthetic),
    )


@pytest.fixture(scope="module")
def sets():
    return _phantoms(0, False), _phantoms(1, True)


def _items(page: str) -> list[tuple[int, str]]:
    """(item number, base64 PNG) in page order."""
    found = re.findall(r'id="item-(\d+)".*?src="data:image/png;base64,([^"]+)"', page, re.S)
    return [(int(k), png) for k, png in found]


def _write_answers(path, rows, reader="Dr A"):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["reader", "item", "origin", "class"])
        for item, origin, cls in rows:
            writer.writerow([reader, item, origin, cls])
    return path


def test_sheet_is_blinded_balanced_and_keyed(sets, tmp_path):
    from PIL import Image

    real, fake = sets
    page = make_sheet(real, fake, 12, tmp_path / "s", seed=3).read_text()
    key = read_key(tmp_path / "s")
    assert [int(r["item"]) for r in key] == list(range(1, 13))
    for origin in ("real", "synthetic"):
        rows = [r for r in key if r["origin"] == origin]
        assert len(rows) == 6  # half and half, each class twice
        assert sorted(r["class"] for r in rows) == sorted(real.classes * 2)
    items = _items(page)
    assert [k for k, _ in items] == list(range(1, 13))
    # nothing on the page tells the origin: every item offers both answers, no metadata
    assert page.count('value="real"') == 12 and page.count('value="synthetic"') == 12
    assert "source_index" not in page and "is_synthetic" not in page
    # the key points at the very image shown, drawn on one scale shared by all items
    shown = {k: np.asarray(Image.open(io.BytesIO(base64.b64decode(png)))) for k, png in items}
    picked = [(real if r["origin"] == "real" else fake, int(r["source_index"])) for r in key]
    lo = min(ws.X[i].min() for ws, i in picked)
    hi = max(ws.X[i].max() for ws, i in picked)
    for r, (ws, i) in zip(key, picked, strict=True):
        assert ws.classes[ws.y[i]] == r["class"]
        expected = np.round(255 * (ws.X[i, 0] - lo) / (hi - lo))
        assert np.abs(shown[int(r["item"])].astype(float) - expected).max() <= 1
    # the same seed draws the same sheet, another seed another one
    make_sheet(real, fake, 12, tmp_path / "again", seed=3)
    make_sheet(real, fake, 12, tmp_path / "other", seed=4)
    assert read_key(tmp_path / "again") == key and read_key(tmp_path / "other") != key


def test_scores_of_known_answers(sets, tmp_path):
    real, fake = sets
    make_sheet(real, fake, 10, tmp_path / "s", seed=0)
    key = read_key(tmp_path / "s")
    other = {c: real.classes[(real.classes.index(c) + 1) % 3] for c in real.classes}
    # origins all right; classes right on real items only; the last item unanswered
    rows = [
        (r["item"], r["origin"], r["class"] if r["origin"] == "real" else other[r["class"]])
        for r in key[:-1]
    ]
    s = score_answers(tmp_path / "s", _write_answers(tmp_path / "a.csv", rows))
    last_real = key[-1]["origin"] == "real"
    assert s.reader == "Dr A" and (s.n_items, s.n_real, s.n_synthetic) == (10, 5, 5)
    assert s.n_answered == 9
    assert s.real_vs_synthetic == pytest.approx(9 / 10)  # unanswered counts as wrong
    assert s.real_called_real == pytest.approx(4 / 5 if last_real else 1.0)
    assert s.class_real == pytest.approx(4 / 5 if last_real else 1.0)
    assert s.class_synthetic == 0.0 and s.class_all == pytest.approx(s.class_real / 2)
    # a reader who calls everything real
    flipped = [(r["item"], "real", r["class"]) for r in key]
    t = score_answers(tmp_path / "s", _write_answers(tmp_path / "b.csv", flipped, "Dr B"))
    assert (t.real_vs_synthetic, t.real_called_real, t.synthetic_called_synthetic) == (
        0.5,
        1.0,
        0.0,
    )
    table = turing_table([s, t]).splitlines()
    assert len(table) == 4 and table[2].startswith("| Dr A |") and "| 9/10 |" in table[2]
    assert "| 50.0% | 100.0% | 0.0% |" in table[3]


def test_imu_windows_sheet(tiny_windows, tmp_path):
    fake = dataclasses.replace(
        tiny_windows, X=tiny_windows.X[::-1].copy(), is_synthetic=np.ones(24, bool)
    )
    page = make_sheet(tiny_windows, fake, 6, tmp_path / "imu", seed=0).read_text()
    assert len(_items(page)) == 6 and page.count('class="plot"') == 6
    assert {r["class"] for r in read_key(tmp_path / "imu")} == {"ABD", "FEL"}


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r, f: (r, dataclasses.replace(f, classes=("a", "b", "c"))), "classes"),
        (lambda r, f: (r, dataclasses.replace(f, X=f.X[..., :32, :32])), "X"),
        (lambda r, f: (r.subset(slice(0, 4)), f), "--n"),
    ],
)
def test_sheets_refuse_mismatched_or_small_sets(sets, tmp_path, edit, field):
    real, fake = edit(*sets)
    with pytest.raises(DataError) as info:
        make_sheet(real, fake, 12, tmp_path / "s")
    assert info.value.field == field
    assert not (tmp_path / "s" / "answer_key.csv").exists()


def test_existing_key_is_never_overwritten(sets, tmp_path):
    make_sheet(*sets, 4, tmp_path / "s")
    before = (tmp_path / "s" / "answer_key.csv").read_text()
    with pytest.raises(DataError, match="already exists"):
        make_sheet(*sets, 4, tmp_path / "s", seed=9)
    assert (tmp_path / "s" / "answer_key.csv").read_text() == before


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ([("99", "real", "cyst")], "item", "not on the sheet"),
        ([("1", "maybe", "cyst")], "origin", "real or synthetic"),
        ([("1", "real", "tumour")], "class", "unknown class"),
        ([("1", "real", "cyst"), ("1", "synthetic", "cyst")], "item", "twice"),
    ],
)
def test_bad_answers_name_the_field(sets, tmp_path, rows, field, message):
    make_sheet(*sets, 4, tmp_path / "s")
    with pytest.raises(DataError) as info:
        score_answers(tmp_path / "s", _write_answers(tmp_path / "a.csv", rows))
    assert info.value.field == field and message in info.value.message
    (tmp_path / "b.csv").write_text("item,verdict\n1,real\n")
    with pytest.raises(DataError) as info:
        score_answers(tmp_path / "s", tmp_path / "b.csv")
    assert info.value.field == "origin"


def test_cli_make_and_score(sets, run_cli, tmp_path):
    real, fake = (write_windows(tmp_path / f"{n}.h5", ws) for n, ws in zip("rs", sets, strict=True))
    code, out, err = run_cli(
        "turing", "make", "--real", real, "--synthetic", fake, "--n", "8", "--out", tmp_path / "s"
    )
    assert code == 0, err
    assert "answer_key.csv" in out and (tmp_path / "s" / "sheet.html").exists()
    rows = [(r["item"], r["origin"], r["class"]) for r in read_key(tmp_path / "s")]
    answers = _write_answers(tmp_path / "a.csv", rows)
    code, out, err = run_cli("turing", "score", tmp_path / "s", answers, answers)
    assert code == 0, err
    assert out.count("| Dr A | 100.0% | 100.0% | 100.0% | 100.0% |") == 2
    code, out, err = run_cli("turing", "score", tmp_path / "s", tmp_path / "missing.csv")
    assert code == 2 and "missing.csv" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli(
        "turing", "make", "--real", real, "--synthetic", fake, "--n", "500", "--out", tmp_path / "t"
    )
    assert code == 2 and "--n" in err and not (tmp_path / "t" / "answer_key.csv").exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_browser_shows_every_item_and_exports_answers(sets, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    real, fake = sets
    n = 10
    page = make_sheet(real, fake, n, tmp_path / "s", seed=1)
    key = read_key(tmp_path / "s")
    other = {c: real.classes[(real.classes.index(c) + 1) % 3] for c in real.classes}
    flip = {"real": "synthetic", "synthetic": "real"}
    # A reader: right origin on odd items, right class on items 1-5, nothing on the last.
    entries = []
    for r in key[:-1]:
        k = int(r["item"])
        origin = r["origin"] if k % 2 else flip[r["origin"]]
        entries.append(f"{k}:{origin}:{r['class'] if k <= 5 else other[r['class']]}")
    fragment = urllib.parse.quote(f"reader=Dr, Z&answers={','.join(entries)}&export=1", "=&:,")
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        f"{page.resolve().as_uri()}#{fragment}",
    ]
    # Files, not pipes: Chromium's helper processes can outlive it holding a pipe open.
    out, err = tmp_path / "dom.html", tmp_path / "chromium.log"
    for attempt in range(2):  # headless Chromium now and then never exits on a loaded machine
        with out.open("w") as fh_out, err.open("w") as fh_err:
            profile = f"--user-data-dir={tmp_path / f'profile{attempt}'}"  # a fresh one each time
            try:
                subprocess.run(
                    [profile if a.startswith("--user-data-dir") else a for a in cmd],
                    stdout=fh_out,
                    stderr=fh_err,
                    timeout=90,
                    check=False,
                )
                break
            except subprocess.TimeoutExpired:
                if attempt:
                    raise
    dom = out.read_text()
    assert 'data-exported="true"' in dom, err.read_text()[-2000:]
    assert f'data-shown="{n}"' in dom  # every item's image decoded and displayed
    found = re.search(r'<textarea id="csv-output"[^>]*>(.*?)</textarea>', dom, re.S)
    exported = html.unescape(found.group(1))
    (tmp_path / "answers.csv").write_text(exported)
    lines = exported.strip().splitlines()
    assert len(lines) == n + 1 and lines[0] == "reader,item,origin,class"
    s = score_answers(tmp_path / "s", tmp_path / "answers.csv")
    assert s.reader == "Dr, Z" and s.n_answered == n - 1
    assert s.real_vs_synthetic == pytest.approx(5 / n)  # items 1, 3, 5, 7, 9
    assert s.class_all == pytest.approx(5 / n)  # items 1-5
