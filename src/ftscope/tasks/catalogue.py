"""The dataset catalogue: every evaluation set of the paper's Table 1, its task, and where it loads from.

Each entry first looks for the paper's pre-sampled file in the data folder
(`{task}/{name}_test_500.json`, `{name}_train_{n}.json`, `few_shot/{name}_few_shot.json`); where the
folder lacks it, it falls back to the HF hub by id with the paper's conversion to its own fields.
Hub fallbacks only run when the user allows the hub (HF_HUB_OFFLINE unset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

Row = Mapping[str, Any]


@dataclass(frozen=True)
class HubSource:
    """A dataset on the HF hub and the conversion of one of its rows to the paper's fields."""

    path: str
    split: str
    convert: Callable[[Row], dict]
    config: str | None = None


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    task: str
    display: str
    hub: HubSource | None = None
    # A user dataset names its files directly instead of the paper's folder layout.
    test_file: str | None = None
    train_file: str | None = None
    fewshot_file: str | None = None
    field_map: Mapping[str, str] = field(default_factory=dict)
    label_map: Mapping[str, str] = field(default_factory=dict)


def _nli(label: int) -> str:
    # GLUE/SNLI encode entailment, neutral, contradiction as 0, 1, 2 and unlabelled items as -1;
    # "-" is what the paper's files carry for those, so both sources look alike downstream.
    return {0: "entailment", 1: "neutral", 2: "contradiction"}.get(label, "-")


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _pos_neg(flag: bool) -> str:
    return "positive" if flag else "negative"


_PAPER: tuple[DatasetEntry, ...] = (
    # summary
    DatasetEntry("xsum", "summary", "XSum", HubSource(
        "EdinburghNLP/xsum", "test", lambda r: {"input": r["document"], "output": r["summary"]})),
    DatasetEntry("xlsum", "summary", "XLSum", HubSource(
        "csebuetnlp/xlsum", "test", lambda r: {"input": r["text"], "output": r["summary"]}, "english")),
    DatasetEntry("pdfs", "summary", "PeerRead"),  # the paper's own abstract→title sample; no hub copy
    DatasetEntry("cnn", "summary", "CNN/DM", HubSource(
        "abisee/cnn_dailymail", "test", lambda r: {"input": r["article"], "output": r["highlights"]}, "3.0.0")),
    # question generation
    DatasetEntry("socialqa", "question", "SocialIQA", HubSource(
        "allenai/social_i_qa", "validation",
        lambda r: {"input": r["context"], "answer": r["answer" + "ABC"[int(r["label"]) - 1]],
                   "output": r["question"]})),
    DatasetEntry("sciqa", "question", "SciQ", HubSource(
        "allenai/sciq", "test",
        lambda r: {"input": r["support"], "answer": r["correct_answer"], "output": r["question"]})),
    DatasetEntry("tweetqa", "question", "TweetQA", HubSource(
        "ucsbnlp/tweet_qa", "validation",
        lambda r: {"input": r["Tweet"], "answer": (r["Answer"] or [""])[0], "output": r["Question"]})),
    # sentiment
    DatasetEntry("amazon", "sentiment", "Amazon", HubSource(
        "mteb/amazon_polarity", "test", lambda r: {"input": r["text"], "output": _pos_neg(r["label"] == 1)})),
    DatasetEntry("amazonfood", "sentiment", "AmazonFood"),
    DatasetEntry("sst2", "sentiment", "SST-2", HubSource(
        "stanfordnlp/sst2", "validation",  # the test split carries no labels
        lambda r: {"input": r["sentence"], "output": _pos_neg(r["label"] == 1)})),
    DatasetEntry("yelp", "sentiment", "Yelp", HubSource(
        "Yelp/yelp_review_full", "test",
        # stars = label + 1; the paper maps a rating above 3.5 to positive
        lambda r: {"input": r["text"], "output": _pos_neg(r["label"] + 1 > 3.5)})),
    # paraphrase detection
    DatasetEntry("paws", "detection", "PAWS", HubSource(
        "google-research-datasets/paws", "test",
        lambda r: {"input_1": r["sentence1"], "input_2": r["sentence2"], "output": _yes_no(r["label"] == 1)},
        "labeled_final")),
    DatasetEntry("qqp", "detection", "QQP", HubSource(
        "nyu-mll/glue", "validation",
        lambda r: {"input_1": r["question1"], "input_2": r["question2"], "output": _yes_no(r["label"] == 1)},
        "qqp")),
    DatasetEntry("stsb", "detection", "STS-B", HubSource(
        "sentence-transformers/stsb", "test",
        # scores are normalised to 0–1 in this copy; the paper's cut is 3.5 on the 0–5 scale
        lambda r: {"input_1": r["sentence1"], "input_2": r["sentence2"], "output": _yes_no(r["score"] * 5 > 3.5)})),
    # natural language inference
    DatasetEntry("multinli", "inference", "MNLI-m", HubSource(
        "nyu-mll/multi_nli", "validation_matched",
        lambda r: {"input_1": r["premise"], "input_2": r["hypothesis"], "output": _nli(r["label"])})),
    DatasetEntry("multinli2", "inference", "MNLI-mm", HubSource(
        "nyu-mll/multi_nli", "validation_mismatched",
        lambda r: {"input_1": r["premise"], "input_2": r["hypothesis"], "output": _nli(r["label"])})),
    DatasetEntry("rte", "inference", "RTE", HubSource(
        "nyu-mll/glue", "validation",
        # RTE is binary; the paper names its not_entailment class "neutral"
        lambda r: {"input_1": r["sentence1"], "input_2": r["sentence2"],
                   "output": "entailment" if r["label"] == 0 else "neutral"},
        "rte")),
    DatasetEntry("snli", "inference", "SNLI", HubSource(
        "stanfordnlp/snli", "test",
        lambda r: {"input_1": r["premise"], "input_2": r["hypothesis"], "output": _nli(r["label"])})),
    DatasetEntry("gptnli", "inference", "GPTNLI"),  # generated by the paper's authors; no hub copy
)

PAPER_DATASETS: dict[str, DatasetEntry] = {d.name: d for d in _PAPER}

# SQuAD-format shifts (Miller et al. 2020), as shipped in ../shared/data/squad_shifts: `squad` (the
# Wikipedia dev set) is the training source of the RAG study; the others are its test domains.
_SQUAD_DIR = "squad_shifts"
SQUAD_DATASETS: dict[str, DatasetEntry] = {
    name: DatasetEntry(name, "qa", display, test_file=f"@data/{_SQUAD_DIR}/{file}",
                       train_file=f"@data/{_SQUAD_DIR}/{file}" if name == "squad" else None)
    for name, display, file in (("squad", "SQuAD (Wikipedia)", "squaddev_v1.1.json"),
                                ("squad_newwiki", "SQuAD new Wikipedia", "new_wiki_v1.0.json"),
                                ("squad_nyt", "SQuAD NYT", "nyt_v1.0.json"))
}
