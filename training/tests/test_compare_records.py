import gzip
import json

import pytest

from dreamcache.eval import compare_records as cr
from dreamcache.eval.bench import METRICS


def rec(config, subject, prompt, seed, dino, clip_t=0.3):
    """A record as the benchmark writes it: every judge's score, the ones not under test at 0."""
    r = {m: 0.0 for m in METRICS}
    r.update(config=config, subject=subject, prompt=prompt, seed=seed, modifier=-1, dino=dino, clip_t=clip_t)
    return r


def run(dream):
    """text-only 0.2 and ground truth 0.6 everywhere; DreamCache from `dream[(subject, prompt)]`."""
    out = []
    for (s, p), d in dream.items():
        out += [rec("text-only", s, p, 0, 0.2), rec("ground truth", s, p, 0, 0.6), rec("DreamCache", s, p, 0, d, 0.27)]
    return out


def test_summary_is_the_benchmark_headline():
    s = cr.summary(run({("a", "x"): 0.5, ("b", "x"): 0.4}))
    assert s["gap"] == pytest.approx((0.45 - 0.2) / 0.4)
    assert s["clip_t_ratio"] == pytest.approx(0.9)
    assert s["images"] == 2


def test_summary_names_missing_rows():
    with pytest.raises(ValueError, match="ground truth"):
        cr.summary([rec("DreamCache", "a", "x", 0, 0.5), rec("text-only", "a", "x", 0, 0.2)])


def test_differences_pair_images_and_rank_groups():
    a = run({("a", "x"): 0.5, ("a", "y"): 0.5, ("b", "x"): 0.4, ("c", "x"): 0.3})
    b = run({("a", "x"): 0.6, ("a", "y"): 0.4, ("b", "x"): 0.5})  # c missing: B was cut short
    pairs = cr.paired(a, b)
    assert len(pairs) == 3
    by_subject = cr.differences(pairs, "subject")
    assert [k for k, _, _ in by_subject] == ["b", "a"]
    assert by_subject[0][1] == pytest.approx(0.1) and by_subject[1][1] == pytest.approx(0.0)
    assert by_subject[1][2] == 2
    assert cr.share_improved(by_subject) == pytest.approx(0.5)


def test_cli_reads_gzip_and_compares_an_ablation_row(tmp_path, capsys):
    a = run({("a", "x"): 0.5, ("b", "x"): 0.4})
    a += [dict(r, config="rescale 0.7", dino=r["dino"] + 0.04) for r in a if r["config"] == "DreamCache"]
    p = tmp_path / "records.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write("\n".join(json.dumps(r) for r in a) + "\n\n")
    cr.main([str(p), str(p), "--config-b", "rescale 0.7"])
    out = capsys.readouterr().out
    assert "DINO-like B - A +0.0400" in out and "B ahead in 100 %" in out


def test_cli_refuses_runs_without_common_images(tmp_path):
    pa, pb = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    pa.write_text("\n".join(json.dumps(r) for r in run({("a", "x"): 0.5})))
    pb.write_text("\n".join(json.dumps(r) for r in run({("b", "x"): 0.5})))
    with pytest.raises(SystemExit):
        cr.main([str(pa), str(pb)])
