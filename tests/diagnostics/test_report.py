"""The run report: one self-contained, escaped HTML page for a run of every task."""

import base64
import json
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.diagnostics.report import write_report
from tests.cli.test_grammar import write_conllu, write_names, write_series, write_text

TASKS = ("charlm", "classify", "tag", "forecast")
TINY = {
    "charlm": (write_text, ["--max-steps", "6", "--eval-every", "3", "--sample-every", "0", "--hidden-size", "8",
                            "--num-layers", "1", "--seq-len", "16", "--batch-size", "4"]),
    "classify": (write_names, ["--epochs", "2", "--hidden-size", "4", "--embedding-dim", "4", "--no-nn"]),
    "tag": (write_conllu, ["--epochs", "1", "--hidden-size", "4", "--word-dim", "4", "--char-dim", "4",
                           "--char-hidden", "4", "--minutes", "none"]),
    "forecast": (write_series, ["--lookback", "12", "--horizon", "6", "--hidden-size", "4", "--max-steps", "10",
                                "--eval-every", "5"]),
}
TASK_FILES = {"classify": ("confusion.png",), "forecast": ("loss.png", "eval.png", "forecast.png")}
SCRIPT = "<script>alert('run')</script>"


def train_tiny_run(task: str, folder: Path) -> Path:
    """A run of `task` at a budget of a second or two, trained through the command line."""
    write, settings = TINY[task]
    folder.mkdir(parents=True, exist_ok=True)
    run = folder / f"{task}-run"
    assert main([task, "train", "--data", str(write(folder)), "--out", str(run), *settings, "--quiet"]) == 0
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {task: train_tiny_run(task, root / task) for task in TASKS}


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Tags:
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_page(path: Path) -> Tags:
    """The page parses, every image is an embedded PNG of non-zero size, and nothing points at the network."""
    page = parse(path)
    source = path.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert images
    for attrs in images:
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix)
        width, height = png_size(base64.b64decode(attrs["src"][len(prefix):], validate=True))
        assert width > 0 and height > 0
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe")]
    return page


@pytest.mark.parametrize("task", TASKS)
def test_every_task_gets_a_self_contained_page_with_its_config_and_figures(task, runs, tmp_path):
    run = runs[task]
    path = write_report(run, tmp_path / "report.html")
    page = check_page(path)
    text = "".join(page.text)
    config = json.loads((run / "best.json").read_text())["config"]
    for name, value in config.items():
        assert name in text
        if isinstance(value, int | str) and not isinstance(value, bool):
            assert str(value) in text
    assert f"{task} run {run.name}" in text  # the title
    alts = [attrs["alt"] for tag, attrs in page.tags if tag == "img"]
    assert "training curves" in alts
    assert set(TASK_FILES.get(task, ())) <= set(alts)
    assert "numpy" in text and "rnnlab" in text


def test_the_default_page_is_written_in_the_run_folder(runs):
    assert write_report(runs["tag"]) == runs["tag"] / "report.html"
    check_page(runs["tag"] / "report.html")


def test_the_figures_json_shows_the_model_beside_its_baselines(runs, tmp_path):
    text = "".join(parse(write_report(runs["forecast"], tmp_path / "f.html")).text)
    for key in ("eval.json", "mae", "rmse", "mase", "naive", "seasonal_naive", "drift", "per_horizon"):
        assert key in text
    text = "".join(parse(write_report(runs["classify"], tmp_path / "c.html")).text)
    for key in ("metrics.json", "accuracy", "macro_f1", "majority_class", "vowels", "consonants"):
        assert key in text


def test_text_from_the_run_folder_is_escaped_never_run(runs, tmp_path):
    run = Path(shutil.copytree(runs["classify"], tmp_path / "copied"))
    meta = json.loads((run / "best.json").read_text())
    meta["config"]["cell"] = SCRIPT
    (run / "best.json").write_text(json.dumps(meta))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["classes"][0] = SCRIPT
    metrics["baselines"][SCRIPT] = {"accuracy": 0.5, "macro_f1": 0.5}
    (run / "metrics.json").write_text(json.dumps(metrics))
    with (run / "log.jsonl").open("a") as log:
        log.write(json.dumps({"step": 99, "train_loss": 0.1, "note": SCRIPT}) + "\n")
    path = write_report(run, tmp_path / "page.html", sample=f"ROMEO: {SCRIPT} & more")
    source = path.read_text(encoding="utf-8")
    assert "<script" not in source
    assert source.count("&lt;script&gt;") >= 5  # config, class, baseline, log row and sample
    check_page(path)
    assert SCRIPT in "".join(parse(path).text)  # shown to the reader as written
