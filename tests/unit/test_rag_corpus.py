"""Corpus loading and chunking on tiny hand-written corpora."""

import json

import pytest

from ftscope.errors import ConfigError, DataError
from ftscope.rag import Chunking, load_corpus, load_questions
from ftscope.rag.documents import split_paragraphs, split_windows

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "Rivers",
            "paragraphs": [
                {
                    "context": "The Nile is the longest river in Africa.",
                    "qas": [
                        {"id": "q1", "question": "Which river is longest?", "answers": [{"text": "The Nile", "answer_start": 0}]},
                        {"id": "q2", "question": "Unanswerable?", "answers": []},
                    ],
                },
                {"context": "The Amazon carries the most water.", "qas": []},
            ],
        },
        {"title": "Cities", "paragraphs": [{"context": "Paris is in France.", "qas": [
            {"id": "q3", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}, {"text": " "}]},
        ]}]},
    ],
}  # fmt: skip


def write_json(path, obj):
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_squad_gives_one_passage_per_paragraph_and_links_questions(tmp_path):
    corpus = load_corpus(write_json(tmp_path / "tiny.json", SQUAD))
    assert corpus.name == "tiny"
    assert [p.id for p in corpus.passages] == ["0.0", "0.1", "1.0"]
    assert corpus.passages[2].title == "Cities"
    assert [(q.id, q.answers, q.gold_passage_id) for q in corpus.questions] == [
        ("q1", ("The Nile",), "0.0"),
        ("q3", ("France",), "1.0"),  # the blank gold answer is dropped, the real one kept
    ]
    assert corpus.skipped_no_answer == 1


def test_content_hash_follows_text_and_order(tmp_path):
    a = load_corpus(write_json(tmp_path / "a.json", SQUAD))
    b = load_corpus(write_json(tmp_path / "b.json", SQUAD))
    assert a.content_hash == b.content_hash
    swapped = json.loads(json.dumps(SQUAD))
    swapped["data"].reverse()
    assert load_corpus(write_json(tmp_path / "c.json", swapped)).content_hash != a.content_hash


def test_missing_field_names_file_and_place(tmp_path):
    bad = {"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}
    with pytest.raises(DataError, match=r"bad\.json: data\[0\]\.paragraphs\[0\]: missing field 'context'"):
        load_corpus(write_json(tmp_path / "bad.json", bad))
    with pytest.raises(DataError, match="top level: missing field 'data'"):
        load_corpus(write_json(tmp_path / "flat.json", [1, 2]))


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.json", None, "not found"),
        ("broken.json", "{not json", "not valid JSON"),
        ("empty.json", {"data": []}, "no passages"),
        ("table.csv", "a,b", "unknown corpus format '.csv'"),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(DataError, match=message) as err:
        load_corpus(path)
    assert "\n" not in str(err.value) and name in str(err.value)


def test_folder_of_documents_is_split_by_paragraph(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("First paragraph.\n\n  \nSecond one.\n")
    (tmp_path / "docs" / "b.md").write_text("# Only one")
    (tmp_path / "docs" / "skip.bin").write_bytes(b"\x00")
    corpus = load_corpus(tmp_path / "docs")
    assert [(p.id, p.title, p.text) for p in corpus.passages] == [
        ("a.txt#0", "a", "First paragraph."),
        ("a.txt#1", "a", "Second one."),
        ("b.md", "b", "# Only one"),
    ]
    assert corpus.questions == ()


def test_jsonl_documents_keep_their_ids_and_window_chunking(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [{"id": "d1", "title": "One", "text": "w1 w2 w3"}, {"text": " ".join(f"x{i}" for i in range(10))}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    corpus = load_corpus(path, Chunking("window", size=4, overlap=2))
    assert [p.id for p in corpus.passages] == ["d1", "docs:2#0", "docs:2#1", "docs:2#2", "docs:2#3"]
    assert corpus.passages[-1].text == "x6 x7 x8 x9"


@pytest.mark.parametrize(
    "second_line, message",
    [('{"body": "no"}', "missing field 'text'"), ("[1, 2]", "expected a JSON object"), ("{oops", "not valid JSON")],
)
def test_bad_jsonl_line_is_named(tmp_path, second_line, message):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "ok"}\n' + second_line + "\n")
    with pytest.raises(DataError, match=rf"docs\.jsonl:2: {message}"):
        load_corpus(path)


def test_split_helpers():
    assert split_paragraphs("a\n\nb\n \n\nc") == ["a", "b", "c"]
    assert split_windows("1 2 3 4 5", 4, 2) == ["1 2 3 4", "3 4 5"]
    assert split_windows("1 2", 4, 2) == ["1 2"]
    assert split_windows("", 4, 2) == []


def test_bad_chunking_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="overlap 5 must be"):
        Chunking("window", size=5, overlap=5)
    with pytest.raises(ConfigError, match="'sentences' is not one of"):
        Chunking("sentences")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SQuAD files keep their own paragraphs"):
        load_corpus(write_json(tmp_path / "s.json", SQUAD), Chunking("window"))


def test_questions_file_counts_unanswerable(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "1", "question": "Q?", "answers": ["A", {"text": "B"}], "gold_passage_id": "a.txt#0"},
        {"id": "2", "question": "No gold?", "answers": []},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    questions, skipped = load_questions(path)
    assert [(q.id, q.answers, q.gold_passage_id) for q in questions] == [("1", ("A", "B"), "a.txt#0")]
    assert skipped == 1
