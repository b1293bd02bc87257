"""The recommendation plugin: data mapping, positive rule, temporal split, metrics, signals,
and train -> evaluate -> run -> HTTP on the invented sample bookshop with the tiny model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from core import Suite
from core.cli.app import build_app
from core.errors import DataError, UsageError
from core.plugins import make_plugin_manager
from core.settings import Settings
from core.testing import check_explanation
from plugins.recommendation.data import Interaction, PositiveRule, load_interactions, load_items, temporal_split
from plugins.recommendation.metrics import rank_metrics
from plugins.recommendation.signals import Signals

SAMPLES = Path(__file__).parents[1] / "plugins" / "recommendation" / "samples"
METHODS = {"popularity", "item-knn", "tf-idf", "zero-shot embedding", "interest model (text only)",
           "ranker (interest + behaviour)"}


def invoke(*args: str, home: Path | None = None):
    settings = Settings(home=home) if home else Settings()
    return CliRunner().invoke(build_app(make_plugin_manager(settings), settings), list(args))


def suite_of(home: Path | None = None) -> Suite:
    settings = Settings(home=home) if home else Settings()
    return Suite(settings, make_plugin_manager(settings))


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def test_positive_rule_counts_purchases_and_high_ratings_by_default() -> None:
    rule = PositiveRule()
    assert rule(Interaction("u", "i", 0, "purchase", 1)) and rule(Interaction("u", "i", 0, "rating", 4))
    assert not rule(Interaction("u", "i", 0, "rating", 3.5)) and not rule(Interaction("u", "i", 0, "click", 1))
    clicks = PositiveRule.parse("click, rating>=4.5")
    assert clicks(Interaction("u", "i", 0, "click", 1)) and not clicks(Interaction("u", "i", 0, "rating", 4))
    assert clicks.spec() == "click,rating>=4.5"
    for bad in ("view", "rating>=high", ""):
        with pytest.raises(UsageError, match="--positive"):
            PositiveRule.parse(bad)


def test_movielens_layout_reads_through_the_documented_mapping(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    write_csv(folder / "movies.csv", ["movieId", "title", "genres"],
              [[1, "The Paper Lighthouse (2001)", "Drama|Mystery"], [2, "Copper Kettles (1999)", "Comedy"]])
    write_csv(folder / "tags.csv", ["userId", "movieId", "tag", "timestamp"], [[7, 1, "Foggy", 5], [8, 1, "foggy", 6]])
    ratings = write_csv(folder / "ratings.csv", ["userId", "movieId", "rating", "timestamp"],
                        [[7, 1, 4.5, 1000], [7, 2, 2.0, 900], [8, 2, 5.0, 1100]])
    suite = suite_of()
    items = load_items(suite, str(folder))
    assert items["1"].tags == ("Drama", "Mystery", "foggy") and items["1"].title == "The Paper Lighthouse (2001)"
    assert load_items(suite, str(folder / "movies.csv")) == items  # the file as users have it (#14 item 13)
    rows = load_interactions(suite, str(ratings), items=items)
    assert [(r.user, r.item, r.signal, r.value, r.time) for r in rows] == [
        ("7", "2", "rating", 2.0, 900.0), ("7", "1", "rating", 4.5, 1000.0), ("8", "2", "rating", 5.0, 1100.0)]


def test_a_bad_interaction_names_file_line_and_field(tmp_path: Path) -> None:
    items = write_csv(tmp_path / "items.csv", ["id", "title", "text", "tags"], [["A", "Alpha", "first", "x|y"]])
    rows = write_csv(tmp_path / "events.csv", ["user", "item", "time", "signal", "value"],
                     [["u1", "A", "2026-01-02T10:00:00Z", "click", 1], ["u1", "A", "yesterday", "click", 1]])
    suite = suite_of()
    with pytest.raises(DataError) as error:
        load_interactions(suite, str(rows), items=load_items(suite, str(items)))
    assert str(error.value).startswith(f"{rows}:3: field 'time'")
    missing = write_csv(tmp_path / "missing.csv", ["user", "item", "time", "signal", "value"],
                        [["u1", "Z", "2026-01-02T10:00:00Z", "purchase", 1]])
    with pytest.raises(DataError, match="field 'item': item 'Z' is not in the catalogue"):
        load_interactions(suite, str(missing), items=load_items(suite, str(items)))
    result = invoke("train", "recommendation", "--items", str(items), "--interactions", str(rows))
    assert result.exit_code == 2 and f"{rows}:3: field 'time'" in result.output and "Traceback" not in result.output


def test_temporal_split_holds_out_each_users_latest_interactions() -> None:
    rows = [Interaction(u, f"{u}{n}", float(n + (100 if u == "b" else 0)), "purchase") for u in "ab" for n in range(10)]
    rows.append(Interaction("c", "c0", 5.0, "purchase"))  # a single interaction always trains
    split = temporal_split(rows, 0.2)
    held = {(r.user, r.item) for r in split.test}
    assert held == {("a", "a8"), ("a", "a9"), ("b", "b8"), ("b", "b9")}
    for user in "ab":
        assert max(r.time for r in split.train if r.user == user) < min(r.time for r in split.test if r.user == user)
    with pytest.raises(UsageError, match="--holdout"):
        temporal_split(rows, 1.0)


# --------------------------------------------------------------------------------------
# Metrics and signals
# --------------------------------------------------------------------------------------


def test_rank_metrics_on_a_hand_computed_ranking() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.5]], dtype=np.float32)
    # item 0 was seen in training (excluded); relevant: item 2 (rank 2 of 4 remaining), item 3 (rank 4)
    result = rank_metrics(scores, [[2, 3]], [[0]], k=10)
    ideal = 1 + 1 / np.log2(3)
    assert result["mrr"] == pytest.approx(0.5)
    assert result["ndcg@10"] == pytest.approx(round((1 / np.log2(3) + 1 / np.log2(5)) / ideal, 4))
    assert result["auc"] == pytest.approx(round(1 - (1 + 2) / 2 / 2, 4))  # 1 and 2 negatives above them, 2 negatives
    assert result["recall@10"] == 1.0 and result["hitrate@10"] == 1.0 and result["users"] == 1
    assert result["coverage"] == pytest.approx(4 / 5)


def test_ties_rank_as_chance_would() -> None:
    scores = np.zeros((200, 50), dtype=np.float32)
    result = rank_metrics(scores, [[0]] * 200, [[]] * 200, k=10)
    assert 0.1 < result["hitrate@10"] < 0.3  # about 10 / 50


def test_item_knn_scores_what_the_same_people_liked() -> None:
    histories = {"a": ["x", "y"], "b": ["x", "y"], "c": ["z"], "d": ["x"]}
    signals = Signals.fit(["x", "y", "z"], histories, {"x": 10.0, "y": 5.0}, cutoff=10.0)
    assert signals.popularity.tolist() == [3, 2, 1]
    scores = signals.co_liked([[0]])[0]
    assert scores[1] > 0 and scores[2] == 0 and scores[0] == 0  # y co-liked with x; z never; no self-similarity
    recency = signals.recency()
    assert recency[0] == pytest.approx(1.0) and recency[1] < 1.0 and recency[2] == 0.0


# --------------------------------------------------------------------------------------
# Train -> evaluate -> run -> HTTP on the sample bookshop
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("rec-home")
    result = invoke("train", "recommendation", "--items", str(SAMPLES / "items.csv"),
                    "--interactions", str(SAMPLES / "interactions.csv"), "--users", str(SAMPLES / "users.csv"),
                    "--model", str(tiny_model), "--epochs", "2", "--lr", "1e-3", "--targets-per-user", "4", "--json",
                    home=home)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["items"] == 90 and out["train_groups"] > 50
    assert set(out["ranker"]) == {"interest", "content", "popularity", "co_liked", "recency"}
    assert out["validation"].startswith("each user's latest like") and "before" not in out  # not "--eval" (#14 item 6)
    folder = Path(out["path"])
    for name in ("catalogue.jsonl", "item_vectors.npy", "behaviour.json", "similarity.npz", "recommendation.json"):
        assert (folder / name).is_file(), name
    return home


def test_evaluate_reports_every_method_on_the_same_split(trained: Path) -> None:
    result = invoke("evaluate", "recommendation", "--items", str(SAMPLES / "items.csv"),
                    "--interactions", str(SAMPLES / "interactions.csv"), "--users", str(SAMPLES / "users.csv"),
                    "--json", home=trained)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["methods"]) == METHODS and report["users"] >= 15
    for metrics in report["methods"].values():
        assert {"auc", "mrr", "ndcg@5", "ndcg@10", "recall@10", "hitrate@10", "coverage"} <= set(metrics)
        assert 0 <= metrics["ndcg@10"] <= 1
    # The sample bookshop has too few cold items for HitRate@10 among them to mean anything
    # (it would be 1.0 for any ranking, popularity included): not reported, and the report says why.
    assert report["cold_items"] < 20 and "cold_hitrate@10 not reported" in report["cold_start_note"]
    assert not any("cold_hitrate@10" in metrics for metrics in report["methods"].values())
    text = invoke("evaluate", "recommendation", "--items", str(SAMPLES / "items.csv"),
                  "--interactions", str(SAMPLES / "interactions.csv"), home=trained)
    assert text.exit_code == 0 and "ndcg@10" in text.output and "item-knn" in text.output


def test_run_for_a_user_explains_and_skips_what_they_already_touched(trained: Path) -> None:
    result = invoke("run", "recommendation", "--user", "u03", "-k", "5", "--json", home=trained)
    assert result.exit_code == 0, result.output
    recs = json.loads(result.stdout)["recommendations"]
    assert len(recs) == 5 and all(r["because"].startswith("because you liked ") for r in recs)
    with (SAMPLES / "interactions.csv").open(encoding="utf-8") as handle:
        touched = {row["item"] for row in csv.DictReader(handle) if row["user"] == "u03"}
    assert not touched & {r["item"] for r in recs}
    newcomers = {}
    for user in ("u25", "u26"):  # a profile and no history: ranked by the text model, not by popularity
        cold_user = invoke("run", "recommendation", "--user", user, "-k", "3", "--json", home=trained)
        assert cold_user.exit_code == 0, cold_user.output
        newcomers[user] = json.loads(cold_user.stdout)["recommendations"]
        assert [r["because"] for r in newcomers[user]] == ["matches your profile"] * 3
        assert [r["score"] for r in newcomers[user]] == [r["interest"] for r in newcomers[user]]
    assert [r["score"] for r in newcomers["u25"]] != [r["score"] for r in newcomers["u26"]]
    explained = invoke("run", "recommendation", "--user", "u26", "-k", "2", "--explain", "--json", home=trained)
    assert explained.exit_code == 0, explained.output
    for rec in json.loads(explained.stdout)["recommendations"]:
        check_explanation(item_texts()[rec["item"]], rec["explanation"])  # spans of the item's text
    boosted = invoke("run", "recommendation", "--user", "u03", "-k", "3", "--boost", "crime=50", "--json", home=trained)
    assert boosted.exit_code == 0, boosted.output
    assert all(r["item"] >= "B081" for r in json.loads(boosted.stdout)["recommendations"])  # the crime shelf
    bad_rule = invoke("run", "recommendation", "--user", "u03", "--boost", "crime", home=trained)
    assert bad_rule.exit_code == 2 and "--boost: expected TAG=WEIGHT" in bad_rule.output
    unknown = invoke("run", "recommendation", "--user", "nobody", home=trained)
    assert unknown.exit_code != 0 and "unknown user 'nobody'" in unknown.output and "Traceback" not in unknown.output


def test_all_users_batch_writes_one_line_per_user(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.jsonl"
    result = invoke("run", "recommendation", "--all-users", "--out", str(out), "-k", "3", home=trained)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 26 and {line["user"] for line in lines} >= {"u01", "u25", "u26"}
    assert all(len(line["recommendations"]) == 3 for line in lines)

    # Two processes: the same lines in the same order; a crash after 10 users is resumed.
    two = tmp_path / "two.jsonl"
    result = invoke("run", "recommendation", "--all-users", "--out", str(two), "-k", "3", "--workers", "2", home=trained)
    assert result.exit_code == 0, result.output
    items = [[(r["item"]) for r in line["recommendations"]] for line in lines]
    assert [[r["item"] for r in json.loads(line)["recommendations"]] for line in two.read_text().splitlines()] == items
    crashed = tmp_path / "three.jsonl"
    kept = out.read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "three.jsonl.partial").write_text("".join(kept[:10]) + kept[10][:7], encoding="utf-8")
    result = invoke("run", "recommendation", "--all-users", "--out", str(crashed), "-k", "3", "--workers", "2",
                    "--resume", "--json", home=trained)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resumed_from"] == 10
    assert [json.loads(line)["user"] for line in crashed.read_text().splitlines()] == [line["user"] for line in lines]


def test_a_new_item_is_embedded_and_ranked_without_retraining(trained: Path, tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text((SAMPLES / "items.csv").read_text(encoding="utf-8")
                         + "".join((SAMPLES / "new_items.csv").read_text(encoding="utf-8").splitlines(True)[1:]),
                         encoding="utf-8")
    result = invoke("run", "recommendation", "--user", "u03", "--items", str(catalogue), "-k", "10", "--json", home=trained)
    assert result.exit_code == 0, result.output
    recs = [r["item"] for r in json.loads(result.stdout)["recommendations"]]
    assert "B101" in recs, recs  # the new gardening book, for the gardener


def item_texts() -> dict[str, str]:
    with (SAMPLES / "items.csv").open(encoding="utf-8") as handle:
        return {row["id"]: row["text"] for row in csv.DictReader(handle)}


def test_http_routes_answer_known_users_histories_and_404s(trained: Path) -> None:
    from fastapi.testclient import TestClient

    from core.serving import create_app

    with TestClient(create_app(suite_of(trained), auth=False, poll_interval_s=0)) as client:
        known = client.get("/v1/recommendation/users/u01", params={"k": 4})
        assert known.status_code == 200, known.text
        body = known.json()
        assert body["user"] == "u01" and len(body["recommendations"]) == 4 and body["model_version"] == 1
        missing = client.get("/v1/recommendation/users/nobody")
        assert missing.status_code == 404 and "unknown user 'nobody'" in missing.json()["error"]
        adhoc = client.post("/v1/recommendation", json={"liked": ["B061", "B062"], "k": 3})
        assert adhoc.status_code == 200 and len(adhoc.json()["recommendations"]) == 3
        profile = client.post("/v1/recommendation", json={"profile": "I love detective stories", "k": 2})
        assert profile.status_code == 200 and profile.json()["recommendations"][0]["because"] == "matches your profile"
        explained = client.post("/v1/recommendation", json={"profile": "I love detective stories", "k": 2, "explain": True})
        for rec in explained.json()["recommendations"]:
            check_explanation(item_texts()[rec["item"]], rec["explanation"])  # the CLI's shape
        unknown_item = client.post("/v1/recommendation", json={"liked": ["B999"]})
        assert unknown_item.status_code == 404 and "unknown item 'B999'" in unknown_item.json()["error"]
        assert client.post("/v1/recommendation", json={}).status_code == 422
        assert client.post("/v1/recommendation", json={"liked": "B001"}).status_code == 422
        assert client.get("/v1/recommendation/users/u01", params={"k": 0}).status_code == 422


def test_the_plugin_passes_the_kits_conformance_check(tiny_model: Path) -> None:
    import plugins.recommendation
    from core.testing import RoundTrip, check_plugin

    data = ["--items", str(SAMPLES / "items.csv"), "--interactions", str(SAMPLES / "interactions.csv"),
            "--users", str(SAMPLES / "users.csv"), "--targets-per-user", "2"]
    report = check_plugin(plugins.recommendation, model=tiny_model, name="recommendation",
                          round_trips={"recommendation": RoundTrip(train=data, predict=["--user", "u03", "-k", "3"], verb="run")})
    assert "train -> run recommendation" in report.checked


def test_tfidf_reads_chinese_item_texts_by_characters() -> None:
    """A reader of two gardening books: TF-IDF ranks the third gardening book above the crime
    novel (a whitespace tokeniser sees each Chinese text as one unmatched word)."""
    from plugins.recommendation.data import Interaction, Item, PositiveRule
    from plugins.recommendation.evaluation import Setup, tfidf

    items = {"g1": Item("g1", "阳台种菜", "在阳台上种蔬菜和香草的入门指南"),
             "g2": Item("g2", "小菜园", "一年四季的蔬菜种植日历"),
             "g3": Item("g3", "种菜新手", "新手也能种好蔬菜：土壤、浇水和施肥"),
             "c1": Item("c1", "雾中的侦探", "一位老侦探追查小镇上的失踪案")}
    rows = [Interaction("u1", "g1", 1.0, "purchase"), Interaction("u1", "g2", 2.0, "purchase"),
            Interaction("u1", "g3", 3.0, "purchase"), Interaction("u2", "c1", 1.0, "purchase")]
    setup = Setup.of(items, rows, PositiveRule(), 0.34, {})
    scores = tfidf(setup)[setup.users.index("u1")]
    assert scores[setup.item_ids.index("g3")] > scores[setup.item_ids.index("c1")] > -1
