"""Datasets load from the paper's folder, user files in three formats, and fail with one clear line."""

from __future__ import annotations

import json

import pytest

from ftscope.errors import ConfigError, DataError
from ftscope.tasks import PAPER_TASKS, Catalogue
from ftscope.tasks.records import read_records, to_examples
from ftscope.tasks.user import load_user_datasets

SENTIMENT = PAPER_TASKS["sentiment"]


def test_reads_json_jsonl_and_csv(tmp_path):
    rows = [{"input": "good", "output": "positive"}, {"input": "bad", "output": "negative"}]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "a.csv").write_text("input,output\ngood,positive\nbad,negative\n")
    for name in ("a.json", "a.jsonl", "a.csv"):
        examples = to_examples(read_records(tmp_path / name), SENTIMENT, name)
        assert [(e.fields["input"], e.target) for e in examples] == [("good", "positive"), ("bad", "negative")]


def test_field_and_label_maps(tmp_path):
    (tmp_path / "t.csv").write_text("text,stars\nlovely,1\nawful,0\n")
    examples = to_examples(read_records(tmp_path / "t.csv"), SENTIMENT, "t.csv",
                           {"input": "text", "output": "stars"}, {"1": "positive", "0": "negative"})
    assert [e.target for e in examples] == ["positive", "negative"]


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("[{\"input\": 1", "invalid JSON"),
    ("{\"input\": \"x\"}", "expected a JSON list"),
])
def test_bad_files_get_one_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        read_records(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_field_names_file_item_field_and_fix(tmp_path):
    with pytest.raises(DataError) as err:
        to_examples([{"text": "x", "output": "positive"}], SENTIMENT, "my.json")
    assert "my.json: item 0 has no field 'input'" in str(err.value) and "--map input=COLUMN" in str(err.value)


def test_an_input_may_be_empty_text_but_a_label_may_not():
    kept = to_examples([{"input": "", "output": "positive"}], SENTIMENT, "my.json")
    assert kept[0].fields == {"input": ""} and kept[0].target == "positive"
    for blank in ({"input": None, "output": "positive"}, {"input": "good", "output": ""}):
        with pytest.raises(DataError, match="row 1 has no value for"):
            to_examples([blank], SENTIMENT, "my.json")


def test_the_paper_xsum_training_set_loads_with_its_empty_article(paper_data):
    """One of its 2,000 articles is an empty string (a photo gallery); refusing it refused the paper's grid."""
    examples = Catalogue(paper_data).train("xsum", 2000).examples
    assert len(examples) == 2000 and sum(e.fields["input"] == "" for e in examples) == 1


def test_missing_file_is_reported():
    with pytest.raises(DataError, match="file not found"):
        read_records("/nonexistent/x.json")


def test_paper_folder_loads_with_fewshot(paper_data):
    cat = Catalogue(paper_data)
    sst2 = cat.test("sst2")
    assert len(sst2.examples) == 500 and len(sst2.fewshot) == 8
    assert set(sst2.examples[0].fields) == {"input"}


def test_snli_borrows_the_in_domain_demonstrations(paper_data):
    snli = Catalogue(paper_data).test("snli")
    assert snli.fewshot and snli.fewshot_source.endswith("multinli_few_shot.json")


def test_train_sample_is_deterministic_and_n_is_checked(paper_data):
    cat = Catalogue(paper_data)
    a, b = cat.train("amazon", 100, seed=3), cat.train("amazon", 100, seed=3)
    assert [e.id for e in a.examples] == [e.id for e in b.examples]
    assert [e.id for e in cat.train("amazon", 100, seed=4).examples] != [e.id for e in a.examples]
    with pytest.raises(DataError, match="largest file holds 5999"):
        cat.train("amazon", 10_000)
    assert len(cat.train("amazon", 10_000, allow_fewer=True).examples) == 5999


def test_unknown_dataset_is_one_line_listing_the_catalogue(paper_data):
    with pytest.raises(ConfigError, match="'nope' is not in the catalogue"):
        Catalogue(paper_data).test("nope")


def test_dataset_found_nowhere_says_so(tmp_path):
    with pytest.raises(DataError, match="gptnli"):
        Catalogue(tmp_path).test("gptnli")


def test_user_yaml_with_a_new_task(tmp_path):
    (tmp_path / "mail.jsonl").write_text('{"body": "win money", "y": "spam"}\n{"body": "lunch?", "y": "ham"}\n')
    (tmp_path / "spec.yaml").write_text(
        "datasets:\n  - name: mail\n    task: {name: spam, kind: classification, labels: [spam, ham],\n"
        "           template: \"### Input:\\n{body}\\n### Label:\"}\n"
        "    test_file: mail.jsonl\n    fields: {output: y}\n")
    entries, tasks = load_user_datasets(tmp_path / "spec.yaml")
    cat = Catalogue(tmp_path, entries, tasks)
    data = cat.test("mail")
    assert data.task.labels == ("spam", "ham") and data.examples[0].fields == {"body": "win money"}


def test_user_yaml_typo_names_file_and_field(tmp_path):
    (tmp_path / "spec.yaml").write_text("datasets:\n  - name: x\n    task: sentiment\n    test_fiel: a.json\n")
    with pytest.raises(ConfigError, match=r"spec.yaml: datasets\[0\].test_fiel"):
        load_user_datasets(tmp_path / "spec.yaml")


def test_resolve_gives_names_one_meaning_and_reports_what_cannot_load(paper_data, tmp_path):
    found = Catalogue(paper_data).resolve(["sentiment", "sst2", "paper"])
    assert found.names[:3] == ("amazon", "amazonfood", "sst2") and "sst2" not in found.names[3:]
    assert set(found.unavailable) == {"yelp", "cnn", "tweetqa", "stsb", "gptnli"}  # not in the shared folder
    assert all("no file" in why for why in found.unavailable.values())
    with pytest.raises(ConfigError, match="'nope' is not in the catalogue"):
        Catalogue(paper_data).resolve(["sst2", "nope"])
    (tmp_path / "t.csv").write_text("text,label\nfine,positive\n")
    with_file = Catalogue(paper_data).resolve([str(tmp_path / "t.csv")], "sentiment", {"input": "text",
                                                                                      "output": "label"})
    assert with_file.names == ("t",) and with_file.catalogue.test("t").examples[0].target == "positive"
    with pytest.raises(ConfigError, match="needs --task"):
        Catalogue(paper_data).resolve([str(tmp_path / "t.csv")])
