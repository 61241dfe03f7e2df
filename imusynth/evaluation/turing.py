"""Visual Turing test kit: a blinded sheet of real and synthetic samples, and its scoring.

Frid-Adar et al. 2018 showed two radiologists a shuffled mix of real and DCGAN-made liver
lesion ROIs; for each they asked whether it was real or synthetic, and which lesion class
it showed (their Table III: the experts told real from synthetic at 62.5% and 58.6%). The
same test, for images or IMU windows:

* :func:`make_sheet` writes ``SHEET_DIR/sheet.html``, a self-contained page (images as
  base64 PNGs; an IMU window as a plot of its channels, grouped by unit) with, per item,
  the answer fields real / synthetic and class, and a button exporting the answers as CSV
  (``reader,item,origin,class``); and, separately, ``SHEET_DIR/answer_key.csv``. Hand out
  the page only. Real and synthetic items are drawn half and half, balanced over classes,
  shuffled, and shown on one shared intensity (or axis) scale so that brightness or range
  gives nothing away.
* :func:`score_answers` compares an exported CSV with the key: real-vs-synthetic accuracy
  and class accuracy on the real and on the synthetic items; :func:`turing_table` lays
  several readers out like the paper's Table III.

The page also reads answers from its URL, ``sheet.html#answers=3:real:cyst,7:synthetic:``
(``&export=1`` then presses the export button): a reader can bookmark a half-done sheet,
and the browser test drives the page this way.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imusynth.data import WindowSet
from imusynth.data.store import atomic_path
from imusynth.errors import DataError

__all__ = [
    "KEY_NAME",
    "ORIGINS",
    "SHEET_NAME",
    "TuringScore",
    "csv_cell",
    "make_sheet",
    "read_key",
    "score_answers",
    "turing_table",
]

SHEET_NAME = "sheet.html"
KEY_NAME = "answer_key.csv"
ORIGINS = ("real", "synthetic")
ANSWER_COLUMNS = ("reader", "item", "origin", "class")
KEY_COLUMNS = ("item", "origin", "class", "source_index")
# A cell starting with one of these is a formula to a spreadsheet (OWASP, CSV injection):
# such a cell is written with a leading apostrophe, which the reading side removes.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """``text`` safe to open in a spreadsheet: prefixed with ``'`` if it starts a formula.

    Examples
    --------
    >>> csv_cell("=HYPERLINK(1)"), csv_cell("cyst")
    ("'=HYPERLINK(1)", 'cyst')
    """
    return "'" + text if text.startswith(FORMULA_START) else text


def _plain_cell(text: str) -> str:
    """Undo :func:`csv_cell`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


# ----------------------------------------------------------------------------- making


def make_sheet(
    real: WindowSet,
    synthetic: WindowSet,
    n: int,
    out_dir: str | Path,
    *,
    seed: int = 0,
    title: str = "Visual Turing test",
) -> Path:
    """Write a blinded sheet of ``n`` items (half real, half synthetic) and its answer key.

    Parameters
    ----------
    real, synthetic : WindowSet
        Images ``(N, 1, H, W)`` or windows ``(N, C, T)`` of the same shape, classes and
        channels. Rows of ``real`` flagged ``is_synthetic`` are not used.
    n : int
        Items on the sheet: ``n // 2`` real and the rest synthetic, each spread evenly over
        the classes.
    out_dir : str or Path
        Created if needed; must not already hold an answer key.
    seed : int
        Which items are drawn and their order.
    title : str
        The page's heading.

    Returns
    -------
    Path
        The page, ``out_dir / "sheet.html"``; the key is ``out_dir / "answer_key.csv"``.

    Raises
    ------
    DataError
        Sets that do not match, too few samples for ``n``, or an existing key in
        ``out_dir``.

    Examples
    --------
    >>> import tempfile
    >>> from imusynth.data import ImageSet
    >>> def images(flag):
    ...     X = np.random.default_rng(int(flag)).uniform(-1, 1, (6, 1, 16, 16))
    ...     return ImageSet(X=X, y=[0, 1] * 3, groups=["p"] * 6, classes=("cyst", "met"),
    ...                     channels=("intensity",), units=("scaled",), sampling_rate_hz=0.0,
    ...                     is_synthetic=[flag] * 6)
    >>> out = Path(tempfile.mkdtemp())
    >>> page = make_sheet(images(False), images(True), 4, out)
    >>> page.name, [r["origin"] for r in read_key(out)].count("real")
    ('sheet.html', 2)
    """
    out = Path(out_dir)
    _check_sets(real, synthetic)
    if int(n) != n or n < 2:
        raise DataError(f"need at least 2 items (one real, one synthetic), got {n}", field="n")
    rng = np.random.default_rng(seed)
    real_rows = np.flatnonzero(~real.is_synthetic)
    picks = [
        ("real", real, _balanced(real.y[real_rows], n // 2, rng, "real"), real_rows),
        (
            "synthetic",
            synthetic,
            _balanced(synthetic.y, n - n // 2, rng, "synthetic"),
            np.arange(len(synthetic)),
        ),
    ]
    items = [(origin, ws, int(rows[i])) for origin, ws, chosen, rows in picks for i in chosen]
    order = rng.permutation(len(items))
    items = [items[i] for i in order]
    key_path = out / KEY_NAME
    if key_path.exists():
        raise DataError(
            "an answer key already exists here; choose another folder", path=key_path, field="--out"
        )
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        X = np.stack([ws.X[i] for _, ws, i in items])  # (n, C, T) or (n, 1, H, W)
        pictures = _render(X, real)
        page = _page(title, pictures, real.classes, "roi" if X.ndim == 4 else "plot")
        with atomic_path(out / SHEET_NAME) as tmp:
            tmp.write_text(page, encoding="utf-8")
        with atomic_path(key_path) as tmp, tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(KEY_COLUMNS)
            for k, (origin, ws, i) in enumerate(items, start=1):
                writer.writerow([k, origin, csv_cell(ws.classes[int(ws.y[i])]), i])
    except BaseException:
        if created:  # no half-written sheet folder is left behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    return out / SHEET_NAME


def _check_sets(real: WindowSet, synthetic: WindowSet) -> None:
    real.check_compatible(
        synthetic, check=("classes", "channels", "shape"), name="synthetic", like="real"
    )
    if real.X.ndim == 4 and real.X.shape[1] != 1:
        raise DataError(f"expected (N, 1, H, W) images, got {real.X.shape}", field="X")


def _balanced(y: np.ndarray, count: int, rng: np.random.Generator, origin: str) -> np.ndarray:
    """``count`` row numbers of ``y``, dealt round-robin over the classes in random order."""
    if count > len(y):
        raise DataError(
            f"{count} {origin} items asked, the file has {len(y)} {origin} samples",
            field="--n",
        )
    pools = [list(rng.permutation(np.flatnonzero(y == c))) for c in rng.permutation(np.unique(y))]
    chosen: list[int] = []
    while len(chosen) < count:
        for pool in pools:
            if pool and len(chosen) < count:
                chosen.append(int(pool.pop()))
    return np.array(chosen, dtype=np.int64)


def _render(X: np.ndarray, like: WindowSet) -> list[str]:
    """Base64 PNGs of every item on one shared scale."""
    if X.ndim == 4:
        return [_png_image(x[0], float(X.min()), float(X.max())) for x in X]
    return _window_plots(X, like)


def _png_image(img: np.ndarray, lo: float, hi: float) -> str:
    from PIL import Image

    scaled = np.clip((img - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    buf = io.BytesIO()
    Image.fromarray(np.round(255 * scaled).astype(np.uint8), mode="L").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _window_plots(X: np.ndarray, like: WindowSet) -> list[str]:
    from matplotlib.figure import Figure

    from imusynth.plots._text import escape

    units = list(dict.fromkeys(like.units))
    groups = [[c for c, u in enumerate(like.units) if u == unit] for unit in units]
    limits = []
    for chans in groups:
        lo, hi = float(X[:, chans].min()), float(X[:, chans].max())
        pad = 0.05 * (hi - lo or 1.0)
        limits.append((lo - pad, hi + pad))
    rate = like.sampling_rate_hz or 1.0
    t = np.arange(X.shape[-1]) / rate
    out = []
    for x in X:
        fig = Figure(figsize=(4.2, 1.2 * len(groups) + 0.4), layout="constrained")
        axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
        for ax, chans, unit, lim in zip(axes, groups, units, limits, strict=True):
            for c in chans:
                ax.plot(t, x[c], lw=0.8, label=escape(like.channels[c]))
            ax.set_ylim(*lim)
            ax.set_ylabel(escape(unit) if unit else "value", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.legend(fontsize=5, ncol=len(chans), loc="upper right", frameon=False)
        axes[-1].set_xlabel("time [s]" if like.sampling_rate_hz else "sample", fontsize=7)
        buf = io.BytesIO()
        # No metadata: nothing in the file may differ between real and synthetic items.
        fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
        out.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


_CSS = """
body { font-family: sans-serif; margin: 1.5em; }
#items { display: flex; flex-wrap: wrap; gap: 1em; }
.item { border: 1px solid #bbb; border-radius: 6px; padding: 0.6em; }
.item h2 { font-size: 1em; margin: 0 0 0.4em 0; }
.item img.roi { width: 256px; height: 256px; image-rendering: pixelated; display: block; }
.item img.plot { max-width: 380px; display: block; }
.answer { margin-top: 0.4em; }
.done { background: #eef7ee; }
#csv-output { width: 100%; height: 10em; font-family: monospace; }
"""

_JS = r"""
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".item"));
  function answerOf(item) {
    var k = item.getAttribute("data-item");
    var origin = item.querySelector("input[name='origin-" + k + "']:checked");
    var cls = item.querySelector("select[name='class-" + k + "']");
    return { item: k, origin: origin ? origin.value : "", cls: cls ? cls.value : "" };
  }
  function quote(text) {
    // A leading = + - @ tab or CR would make a spreadsheet run the cell as a formula (OWASP
    // CSV injection): such a cell gets a leading apostrophe, removed again when scoring.
    if (/^[=+\-@\t\r]/.test(text)) { text = "'" + text; }
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function update() {
    var answered = 0;
    items.forEach(function (item) {
      var a = answerOf(item);
      var complete = a.origin !== "" && a.cls !== "";
      item.classList.toggle("done", complete);
      if (complete) { answered += 1; }
    });
    document.getElementById("progress").textContent =
      answered + " of " + items.length + " items answered";
  }
  function toCSV() {
    var reader = document.getElementById("reader").value.trim();
    var lines = ["reader,item,origin,class"];
    items.forEach(function (item) {
      var a = answerOf(item);
      lines.push([quote(reader), a.item, a.origin, quote(a.cls)].join(","));
    });
    return lines.join("\n") + "\n";
  }
  function exportCSV() {
    var text = toCSV();
    var box = document.getElementById("csv-output");
    box.value = text;
    box.textContent = text;
    document.body.setAttribute("data-exported", "true");
    try {
      var blob = new Blob([text], { type: "text/csv" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      var reader = document.getElementById("reader").value.trim() || "answers";
      link.download = "turing-" + reader.replace(/[^A-Za-z0-9_-]/g, "_") + ".csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (err) { /* the text box still holds the CSV */ }
  }
  function enter(item, origin, cls) {
    // What a reader's clicks do: tick the radio button, pick the class, fire change events.
    var k = item.getAttribute("data-item");
    var radio = item.querySelector("input[name='origin-" + k + "'][value='" + origin + "']");
    if (radio) { radio.click(); }
    var select = item.querySelector("select[name='class-" + k + "']");
    if (select && cls !== undefined) {
      select.value = cls;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
  function fromHash() {
    var params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) { params[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1)); }
    });
    if (params.reader) { document.getElementById("reader").value = params.reader; }
    (params.answers || "").split(",").forEach(function (entry) {
      var f = entry.split(":");
      var item = document.getElementById("item-" + f[0]);
      if (item && f.length >= 2) { enter(item, f[1], f.length > 2 ? f[2] : undefined); }
    });
    return params.export === "1";
  }
  document.getElementById("items").addEventListener("change", update);
  document.getElementById("export").addEventListener("click", exportCSV);
  window.addEventListener("load", function () {
    var shown = items.filter(function (item) {
      var img = item.querySelector("img");
      return img && img.complete && img.naturalWidth > 0;
    }).length;
    document.body.setAttribute("data-shown", String(shown));
    var exportNow = fromHash();
    update();
    if (exportNow) { document.getElementById("export").click(); }
  });
})();
"""


def _page(title: str, pictures: Sequence[str], classes: Sequence[str], kind: str) -> str:
    options = "".join(
        f'<option value="{html.escape(c)}">{html.escape(c)}</option>' for c in classes
    )
    parts = []
    for k, png in enumerate(pictures, start=1):
        radios = "".join(
            f'<label><input type="radio" name="origin-{k}" value="{o}"> {o}</label> '
            for o in ORIGINS
        )
        parts.append(
            f'<section class="item" id="item-{k}" data-item="{k}">'
            f"<h2>Item {k}</h2>"
            f'<img class="{kind}" alt="item {k}" src="data:image/png;base64,{png}">'
            f'<div class="answer">{radios}</div>'
            f'<div class="answer"><label>class <select name="class-{k}">'
            f'<option value="">(choose)</option>{options}</select></label></div>'
            "</section>"
        )
    body = "\n".join(parts)
    classes_json = html.escape(json.dumps(list(classes)))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body data-shown="0" data-classes="{classes_json}">
<h1>{html.escape(title)}</h1>
<p>Each item below is either a real sample or one made by a generative model. For every item,
mark whether you think it is <b>real</b> or <b>synthetic</b>, and which class it shows. When
you are done, enter your name and press <b>Export answers</b>: a CSV file is downloaded (and
shown in the box below, to copy if the download is blocked). Send that file back.</p>
<p><label>Reader <input id="reader" type="text" size="20"></label>
<span id="progress"></span></p>
<div id="items">
{body}
</div>
<p><button id="export" type="button">Export answers (CSV)</button></p>
<textarea id="csv-output" readonly></textarea>
<script>{_JS}</script>
</body>
</html>
"""


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class TuringScore:
    """One reader's results (accuracies over all items of the sheet; unanswered is wrong).

    Attributes
    ----------
    reader : str
    n_items, n_real, n_synthetic, n_answered : int
    real_vs_synthetic : float
        Share of items whose origin was named correctly ("Is it real?" accuracy).
    real_called_real, synthetic_called_synthetic : float
        The same on the real items and on the synthetic items.
    class_real, class_synthetic, class_all : float
        Class accuracy on the real items, the synthetic items, and all items.
    """

    reader: str
    n_items: int
    n_real: int
    n_synthetic: int
    n_answered: int
    real_vs_synthetic: float
    real_called_real: float
    synthetic_called_synthetic: float
    class_real: float
    class_synthetic: float
    class_all: float


def read_key(sheet_dir: str | Path) -> list[dict[str, str]]:
    """The answer key rows (``item``, ``origin``, ``class``, ``source_index``)."""
    path = Path(sheet_dir) / KEY_NAME
    rows = _read_csv(path, KEY_COLUMNS)
    for row in rows:
        row["class"] = _plain_cell(row["class"])
    for i, row in enumerate(rows, start=2):
        if row["origin"] not in ORIGINS:
            raise DataError(f"bad origin {row['origin']!r} in line {i}", path=path, field="origin")
    return rows


def score_answers(sheet_dir: str | Path, answers: str | Path) -> TuringScore:
    """Score an exported answers CSV against the sheet's key.

    Raises
    ------
    DataError
        Missing or malformed files, an item not on the sheet, an item answered twice, an
        origin other than real/synthetic, or a class the sheet does not offer.

    Examples
    --------
    >>> s = score_answers("sheet", "answers.csv")  # doctest: +SKIP
    >>> s.real_vs_synthetic, s.class_real  # doctest: +SKIP
    (0.625, 0.78)
    """
    key = {row["item"]: row for row in read_key(sheet_dir)}
    classes = {row["class"] for row in key.values()} | set(_offered(sheet_dir))
    path = Path(answers)
    rows = _read_csv(path, ANSWER_COLUMNS[1:])
    given: dict[str, dict[str, str]] = {}
    readers = {_plain_cell(row.get("reader", "").strip()) for row in rows} - {""}
    for line, row in enumerate(rows, start=2):
        item = row["item"].strip()
        if item not in key:
            raise DataError(
                f"item {item!r} in line {line} is not on the sheet", path=path, field="item"
            )
        if item in given:
            raise DataError(f"item {item} is answered twice (line {line})", path=path, field="item")
        origin, cls = row["origin"].strip().lower(), _plain_cell(row["class"].strip())
        if origin not in ("", *ORIGINS):
            raise DataError(
                f"origin must be real or synthetic, got {row['origin']!r} in line {line}",
                path=path,
                field="origin",
            )
        if cls and cls not in classes:
            raise DataError(f"unknown class {cls!r} in line {line}", path=path, field="class")
        given[item] = {"origin": origin, "class": cls}

    def share(items: list[str], test) -> float:
        return float(np.mean([test(i) for i in items])) if items else float("nan")

    real = [i for i, r in key.items() if r["origin"] == "real"]
    fake = [i for i, r in key.items() if r["origin"] == "synthetic"]
    everything = list(key)

    def origin_ok(i: str) -> bool:
        return given.get(i, {}).get("origin") == key[i]["origin"]

    def class_ok(i: str) -> bool:
        return given.get(i, {}).get("class") == key[i]["class"]

    answered = sum(1 for a in given.values() if a["origin"] and a["class"])
    return TuringScore(
        reader=", ".join(sorted(readers)) or path.stem,
        n_items=len(key),
        n_real=len(real),
        n_synthetic=len(fake),
        n_answered=answered,
        real_vs_synthetic=share(everything, origin_ok),
        real_called_real=share(real, origin_ok),
        synthetic_called_synthetic=share(fake, origin_ok),
        class_real=share(real, class_ok),
        class_synthetic=share(fake, class_ok),
        class_all=share(everything, class_ok),
    )


def _offered(sheet_dir: str | Path) -> list[str]:
    """The class names the sheet offers (also those no item on it has)."""
    page = Path(sheet_dir) / SHEET_NAME
    try:
        text = page.read_text(encoding="utf-8")
    except OSError:
        return []
    start = text.find('data-classes="')
    if start < 0:
        return []
    end = text.find('"', start + len('data-classes="'))
    try:
        classes = json.loads(html.unescape(text[start + len('data-classes="') : end]))
    except ValueError:
        raise DataError("corrupt class list", path=page, field="data-classes") from None
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise DataError("class list is not a list of names", path=page, field="data-classes")
    return classes


def turing_table(scores: Sequence[TuringScore]) -> str:
    """Markdown in the layout of Frid-Adar et al. 2018, Table III: per reader, class
    accuracy on real and synthetic items, and real-vs-synthetic ("Is it real?") accuracy.

    Examples
    --------
    >>> s = TuringScore("A", 4, 2, 2, 4, 0.5, 0.5, 0.5, 1.0, 0.5, 0.75)
    >>> print(turing_table([s]).splitlines()[2])
    | A | 100.0% | 50.0% | 75.0% | 50.0% | 50.0% | 50.0% | 4/4 |
    """
    lines = [
        "| reader | class accuracy, real | class accuracy, synthetic | class accuracy, all | "
        "real vs synthetic accuracy | real called real | synthetic called synthetic | "
        "answered |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        cells = [
            s.class_real,
            s.class_synthetic,
            s.class_all,
            s.real_vs_synthetic,
            s.real_called_real,
            s.synthetic_called_synthetic,
        ]
        lines.append(
            f"| {s.reader} | "
            + " | ".join(f"{v:.1%}" for v in cells)
            + f" | {s.n_answered}/{s.n_items} |"
        )
    return "\n".join(lines)


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError("file not found", path=path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip() for f in (reader.fieldnames or [])]
            rows = [
                {k.strip(): (v or "") for k, v in row.items() if k is not None} for row in reader
            ]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"not a readable CSV ({exc})", path=path) from None
    for column in required:
        if column not in fields:
            raise DataError(f"missing column (need {', '.join(required)})", path=path, field=column)
    return rows
