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

from inference_estimation.lib.features import CATEGORICAL_FEATURES  # noqa: E402


@dataclass
class ShapReport:
    """Paths and summary of one SHAP report."""

    beeswarm_png: Path
    bar_png: Path
    markdown: str
    mean_abs_shap: dict[str, float]


def shap_values(model: CatBoostRegressor, X: pd.DataFrame) -> shap.Explanation:
    """Exact TreeSHAP values of ``model`` on ``X`` (in the model's log-target space)."""
    raw = model.get_feature_importance(Pool(X, cat_features=CATEGORICAL_FEATURES), type="ShapValues")
    display = X.copy()
    for col in CATEGORICAL_FEATURES:  # colour categoricals by code in the beeswarm
        display[col] = display[col].astype("category").cat.codes
    return shap.Explanation(values=raw[:, :-1], base_values=raw[:, -1], data=display.to_numpy(dtype=float),
                            feature_names=list(X.columns))


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
    mean_abs = dict(sorted(zip(X.columns, np.abs(explanation.values).mean(axis=0).astype(float)),
                           key=lambda kv: -kv[1]))
    table = "\n".join(f"| {name} | {value:.4f} |" for name, value in list(mean_abs.items())[:max_display])
    markdown = (
        f"## SHAP report: {target}\n\nRows explained: {len(X)}. Values are in log({target}) space: "
        f"a SHAP value of 0.1 multiplies the prediction by about 1.105.\n\n"
        f"| feature | mean abs SHAP |\n|---|---|\n{table}\n\n"
        f"### Beeswarm\n{_png_markdown(paths['beeswarm'], 'beeswarm')}\n\n"
        f"### Mean absolute SHAP\n{_png_markdown(paths['bar'], 'bar')}\n"
    )
    (folder / "report.md").write_text(markdown.split("### Beeswarm")[0]
                                      + "![beeswarm](beeswarm.png)\n\n![bar](bar.png)\n")
    return ShapReport(beeswarm_png=paths["beeswarm"], bar_png=paths["bar"], markdown=markdown,
                      mean_abs_shap=mean_abs)
