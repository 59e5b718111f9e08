"""What an SFNet's sparse features mean, and how they compare with a dense CNN's (SPEC §4).

Pure NumPy / scikit-learn functions on activation matrices `[n_galaxies, 512]` (non-negative,
at most k non-zero per row) and target arrays `[n_galaxies, n_outputs]`; galaxy_xai.studies.sfnet
feeds them. Scores (RMSE, Pearson r) come from galaxy_xai.stats; the BPT diagnostics from
galaxy_xai.data.lines.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, r2_score
from sklearn.svm import LinearSVC

from galaxy_xai.stats import rmse

# Feature names as in the paper: SL17 = feature 17 of the line-flux SFNet, Z61 = of the metallicity one.
PREFIX = {"metallicity": "Z", "lines": "SL"}


def feature_name(target: str, feature: int) -> str:
    return f"{PREFIX[target]}{feature}"


def activation_frequency(acts) -> np.ndarray:
    """Fraction of galaxies in which each feature is active (non-zero)."""
    return (np.asarray(acts) != 0).mean(axis=0)


def activation_scale(acts) -> np.ndarray:
    """Per-feature maximum activation (1 for features never active, so scaling is safe)."""
    peak = np.asarray(acts, float).max(axis=0)
    return np.where(peak > 0, peak, 1.0)


def scale_activations(acts, scale=None) -> np.ndarray:
    """Activations divided by each feature's maximum: the paper's A in [0, 1]."""
    return np.asarray(acts, float) / (activation_scale(acts) if scale is None else scale)


def top_features(acts, n=None) -> np.ndarray:
    """Indices of the features active at least once, most frequent first (ties: larger mean first)."""
    acts = np.asarray(acts, float)
    freq = activation_frequency(acts)
    order = np.lexsort((-acts.mean(axis=0), -freq))  # the last key sorts first
    order = order[freq[order] > 0]
    return order if n is None else order[:n]


def variance_explained(x, y) -> float:
    """R² of an ordinary least-squares fit of y on x (with intercept), pooled over outputs."""
    y = np.asarray(y, float).reshape(len(y), -1)
    x = np.asarray(x, float).reshape(len(x), -1)
    fit = LinearRegression().fit(x, y)
    return float(r2_score(y, fit.predict(x), multioutput="variance_weighted"))


def variance_explained_by_top(acts, y, order, m) -> float:
    """Variance of y explained by a linear fit on the top m features of `order`."""
    return variance_explained(np.asarray(acts)[:, order[:m]], y)


def linear_equation(kernel, bias, features, scale, mean, std) -> dict:
    """The head written in physical units: y = intercept + sum_j coef_j * A_j over `features`.

    A_j is the scaled activation (activation / scale_j) and the model predicts standardised
    targets z = W·a + b, so coef_j = W_j · scale_j · std and intercept = b · std + mean.
    Returns {"intercept": [n_out], "coef": [len(features), n_out]}; the terms of features left
    out of the list are dropped, as in the paper's equations.
    """
    kernel, features = np.asarray(kernel, float), np.asarray(features, int)
    std, mean = np.asarray(std, float), np.asarray(mean, float)
    coef = kernel[features] * np.asarray(scale, float)[features, None] * std
    return {"intercept": np.asarray(bias, float) * std + mean, "coef": coef}


def top_activating(acts, feature, n) -> np.ndarray:
    """Row indices of the (at most) n galaxies where `feature` is most active, strongest first."""
    column = np.asarray(acts, float)[:, feature]
    order = np.argsort(-column, kind="stable")
    return order[column[order] > 0][:n]


def pca_topk_rmse(train_feats, y_train, val_feats, y_val, ks) -> dict:
    """Validation RMSE of linear regression on the top k principal components, for each k.

    The components are fitted on the training features only (as the paper's CNN + PCA);
    a k beyond the number of components the training set allows gets None.
    """
    n_components = min(max(ks), *np.shape(train_feats))
    pca = PCA(n_components=n_components, svd_solver="full").fit(train_feats)
    pcs_train, pcs_val = pca.transform(train_feats), pca.transform(val_feats)
    out = {}
    for k in ks:
        if k > n_components:
            out[k] = None
            continue
        fit = LinearRegression().fit(pcs_train[:, :k], y_train)
        out[k] = rmse(y_val, fit.predict(pcs_val[:, :k]))
    return out


def fit_and_memorise(make_model, x_train, y_train, x_val, y_val) -> dict:
    """Validation RMSE of a regressor fitted on the training set, and when fitted on the validation set itself.

    The second number is the paper's memorisation check: it bounds what the features could
    express at all, generalisation aside.
    """
    y_train, y_val = np.asarray(y_train, float), np.asarray(y_val, float)
    fitted = make_model().fit(x_train, y_train)
    memorised = make_model().fit(x_val, y_val)
    return {"fit_on_train": rmse(y_val, fitted.predict(x_val).reshape(y_val.shape)),
            "fit_on_validation": rmse(y_val, memorised.predict(x_val).reshape(y_val.shape))}


def ridge_r2(x_train, y_train, x_val, y_val, alpha) -> np.ndarray:
    """Validation R² per output of a ridge regression fitted on the training set."""
    y_train = np.asarray(y_train, float).reshape(len(y_train), -1)
    y_val = np.asarray(y_val, float).reshape(len(y_val), -1)
    fit = Ridge(alpha=alpha).fit(x_train, y_train)
    return np.atleast_1d(r2_score(y_val, fit.predict(x_val), multioutput="raw_values"))


def svm_agn_scores(x_train, agn_train, x_val, agn_val, c=1.0, seed=0) -> dict:
    """Linear SVM AGN classifier fitted on the training galaxies: validation accuracy and F1.

    Also the accuracy of always answering the majority training class, the bar to beat.
    With a single class among the training galaxies there is nothing to fit: scores are None.
    """
    agn_train, agn_val = np.asarray(agn_train, bool), np.asarray(agn_val, bool)
    if agn_train.all() or not agn_train.any():
        return {"accuracy": None, "f1": None, "majority_accuracy": None, "n_features": int(np.shape(x_train)[1])}
    svm = LinearSVC(C=c, random_state=seed, max_iter=20000).fit(x_train, agn_train)
    guess = svm.predict(x_val)
    majority = agn_train.mean() > 0.5
    return {"accuracy": float(accuracy_score(agn_val, guess)),
            "f1": float(f1_score(agn_val, guess, zero_division=0)),
            "majority_accuracy": float(np.mean(agn_val == majority)),
            "n_features": int(np.asarray(x_train).shape[1])}

