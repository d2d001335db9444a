"""SHAP explanations of a predictor: beeswarm and bar plots plus a markdown summary.

SHAP values come from CatBoost's exact TreeSHAP (``get_feature_importance(type="ShapValues")``,
which handles native categorical features), and are drawn with the ``shap`` plotting API.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shap  # noqa: E402
from catboost import CatBoostRegressor, Pool  # noqa: E402

from inference_estimation.lib.physics.features import CATEGORICAL_FEATURES  # noqa: E402


@dataclass
class ShapReport:
    """Paths and summary of one SHAP report."""

    beeswarm_png: Path
    bar_png: Path
    markdown: str
    mean_abs_shap: dict[str, float]


def shap_values(model: CatBoostRegressor, X: pd.DataFrame) -> shap.Explanation:
    """Exact TreeSHAP values of ``model`` on ``X`` (in the model's log-target space)."""
    cats = [c for c in CATEGORICAL_FEATURES if c in X.columns]
    raw = model.get_feature_importance(Pool(X, cat_features=cats), type="ShapValues")
    display = X.copy()
    for col in cats:  # colour categoricals by code in the beeswarm
        display[col] = display[col].astype("category").cat.codes
    return shap.Explanation(values=raw[:, :-1], base_values=raw[:, -1], data=display.to_numpy(dtype=float),
                            feature_names=list(X.columns))


def written_summary(explanation: shap.Explanation, X: pd.DataFrame, target: str, mean_abs: dict[str, float]) -> str:
    """A few sentences on what drives the target: the top features and the direction of their effect."""
    sentences = []
    for name in list(mean_abs)[:3]:
        i = list(X.columns).index(name)
        values, data = explanation.values[:, i], explanation.data[:, i]
        finite = np.isfinite(data)
        direction = ""
        if finite.sum() > 3 and np.std(data[finite]) > 0:
            corr = float(np.corrcoef(data[finite], values[finite])[0, 1])
            if abs(corr) > 0.3:
                direction = " (higher values push it up)" if corr > 0 else " (higher values pull it down)"
        spread = float(np.exp(np.percentile(values, 95) - np.percentile(values, 5)))
        sentences.append(f"**{name}** moves the prediction by up to x{spread:.2f} between its 5th and 95th "
                         f"percentile effect{direction}.")
    return (f"What drives {target} beyond physics: " + " ".join(sentences)) if sentences else ""


def _png_markdown(path: Path, title: str) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode()
    return f"![{title}](data:image/png;base64,{encoded})"


def write_shap_report(model: CatBoostRegressor, X: pd.DataFrame, target: str, folder: Path,
                      max_display: int = 15) -> ShapReport:
    """Computes SHAP values and writes ``beeswarm.png``, ``bar.png`` and ``report.md``.

    Args:
        model: the trained predictor.
        X: feature rows to explain (a sample of the training frame).
        target: target name (titles).
        folder: output folder.
        max_display: features shown per plot.
    """
    folder.mkdir(parents=True, exist_ok=True)
    explanation = shap_values(model, X)
    paths = {}
    for kind in ("beeswarm", "bar"):
        plt.figure()
        getattr(shap.plots, kind)(explanation, max_display=max_display, show=False)
        plt.title(f"SHAP ({kind}) - log({target})")
        plt.tight_layout()
        paths[kind] = folder / f"{kind}.png"
        plt.savefig(paths[kind], dpi=90)
        plt.close("all")
    mean_abs = dict(sorted(zip(X.columns, np.abs(explanation.values).mean(axis=0).astype(float), strict=False),
                           key=lambda kv: -kv[1]))
    top = [name for name in mean_abs if name in X.columns][:3]
    dependence = []
    for name in top:
        i = list(X.columns).index(name)
        plt.figure(figsize=(5, 3.5))
        shap.plots.scatter(explanation[:, i], show=False)
        plt.title(f"SHAP dependence - {name}")
        plt.tight_layout()
        path = folder / f"dependence_{name}.png"
        plt.savefig(path, dpi=80)
        plt.close("all")
        dependence.append(path)
    table = "\n".join(f"| {name} | {value:.4f} |" for name, value in list(mean_abs.items())[:max_display])
    summary = written_summary(explanation, X, target, mean_abs)
    markdown = (
        f"## SHAP report: {target}\n\nRows explained: {len(X)}. Values explain the correction to the "
        f"physics baseline in log({target}) space: a SHAP value of 0.1 multiplies the prediction by "
        f"about 1.105.\n\n{summary}\n\n"
        f"| feature | mean abs SHAP |\n|---|---|\n{table}\n\n"
        f"### Beeswarm\n{_png_markdown(paths['beeswarm'], 'beeswarm')}\n\n"
        f"### Mean absolute SHAP\n{_png_markdown(paths['bar'], 'bar')}\n\n"
        + "".join(f"### Dependence: {p.stem[len('dependence_'):]}\n{_png_markdown(p, p.stem)}\n\n" for p in dependence)
    )
    (folder / "report.md").write_text(markdown.split("### Beeswarm")[0]
                                      + "![beeswarm](beeswarm.png)\n\n![bar](bar.png)\n\n"
                                      + "".join(f"![{p.stem}]({p.name})\n\n" for p in dependence))
    return ShapReport(beeswarm_png=paths["beeswarm"], bar_png=paths["bar"], markdown=markdown,
                      mean_abs_shap=mean_abs)
