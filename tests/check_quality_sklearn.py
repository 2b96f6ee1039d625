"""Model-quality metrics of `driftwatch baseline --problem-type` against scikit-learn's on the
same rows (binary, multiclass, regression; 1,000 seeded random rows each). Run by
./scripts/test with the debug binary: check_quality_sklearn.py path/to/driftwatch

Model Monitor's r2 is scikit-learn's r2_score with the arguments swapped (prediction first):
the SDK's model-quality fixture shows it (crates/core/src/quality/metrics.rs)."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn import metrics as M

TOLERANCE = 1e-12  # relative; the sums run in a different order


def baseline(binary, tmp, name, problem, rows, extra):
    csv = tmp / f"{name}.csv"
    csv.write_text("y,p\n" + "".join(f"{a},{b}\n" for a, b in rows))
    subprocess.run(
        [binary, "baseline", "--problem-type", problem, "--input", str(csv), "--ground-truth-attribute", "y",
         *extra, "--output", str(tmp / name)],
        check=True, stdout=subprocess.DEVNULL)
    doc = json.loads((tmp / name / "statistics.json").read_text())
    return doc


def compare(section, ours, want):
    for k, v in want.items():
        got = ours[k]["value"]
        rel = abs(got - v) / max(1.0, abs(v))
        assert rel <= TOLERANCE, f"{section}.{k}: driftwatch {got!r}, scikit-learn {v!r}"
        print(f"{section:10s} {k:20s} {got:.15f} (scikit-learn {v:.15f})")


def main():
    binary = sys.argv[1]
    rng = np.random.default_rng(5)
    n = 1000
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        y = (rng.random(n) < 0.35).astype(int)
        p = np.clip(np.where(y == 1, 0.62, 0.38) + 0.22 * rng.standard_normal(n), 0, 1).round(3)
        doc = baseline(binary, tmp, "b", "BinaryClassification", zip(y, p), ["--probability-attribute", "p"])
        s = doc["binary_classification_metrics"]
        assert doc["dataset"]["item_count"] == n
        pred = (p >= 0.5).astype(int)
        tn, fp, fn, tp = M.confusion_matrix(y, pred).ravel()
        m = s["confusion_matrix"]
        assert (m["0"]["0"], m["0"]["1"], m["1"]["0"], m["1"]["1"]) == (tn, fp, fn, tp), m
        compare("binary", s, {
            "accuracy": M.accuracy_score(y, pred), "precision": M.precision_score(y, pred),
            "recall": M.recall_score(y, pred), "f1": M.f1_score(y, pred),
            "f0_5": M.fbeta_score(y, pred, beta=0.5), "f2": M.fbeta_score(y, pred, beta=2),
            "auc": M.roc_auc_score(y, p), "false_positive_rate": fp / (fp + tn),
            "true_negative_rate": tn / (tn + fp), "false_negative_rate": fn / (fn + tp),
        })

        labels = np.array(["a", "b", "c", "d"])
        yt = labels[rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])]
        yp = np.where(rng.random(n) < 0.7, yt, labels[rng.choice(4, n)])
        s = baseline(binary, tmp, "m", "MulticlassClassification", zip(yt, yp),
                     ["--inference-attribute", "p"])["multiclass_classification_metrics"]
        compare("multiclass", s, {
            "accuracy": M.accuracy_score(yt, yp),
            "weighted_recall": M.recall_score(yt, yp, average="weighted"),
            "weighted_precision": M.precision_score(yt, yp, average="weighted"),
            "weighted_f1": M.f1_score(yt, yp, average="weighted"),
            "weighted_f0_5": M.fbeta_score(yt, yp, beta=0.5, average="weighted"),
            "weighted_f2": M.fbeta_score(yt, yp, beta=2, average="weighted"),
        })

        yr = rng.normal(50, 10, n).round(2)
        pr = (yr + rng.normal(0, 4, n)).round(2)
        s = baseline(binary, tmp, "r", "Regression", zip(yr, pr), ["--inference-attribute", "p"])["regression_metrics"]
        compare("regression", s, {
            "mae": M.mean_absolute_error(yr, pr), "mse": M.mean_squared_error(yr, pr),
            "rmse": M.mean_squared_error(yr, pr) ** 0.5, "r2": M.r2_score(pr, yr),
        })
    print("model-quality metrics equal scikit-learn's")


if __name__ == "__main__":
    main()
