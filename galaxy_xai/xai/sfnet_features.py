"""What an SFNet's sparse features mean, and how they compare with a dense CNN's (SPEC §4).

Pure NumPy / scikit-learn functions on activation matrices `[n_galaxies, 512]` (non-negative,
at most k non-zero per row) and target arrays `[n_galaxies, n_outputs]`; galaxy_xai.studies.sfnet
feeds them. Scores (RMSE, Pearson r) come from galaxy_xai.stats; the BPT diagnostics from
galaxy_xai.data.lines.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.metrics import r2_score
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


def pca_topk(train_feats, y_train, val_feats, ks, at_least: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    """Linear regression on the top k principal components, for each k: validation predictions.

    The components are fitted on the training features only (as the paper's CNN + PCA); a k
    beyond the number of components the training set allows gets None. Returns
    ({k: predictions [n_val, n_out] or None}, the validation galaxies' components, explained variance
    ratios), with at least `at_least` components when the features allow.
    """
    n_components = min(max(*ks, at_least), *np.shape(train_feats))
    pca = PCA(n_components=n_components, svd_solver="full").fit(train_feats)
    pcs_train, pcs_val = pca.transform(train_feats), pca.transform(val_feats)
    y_train = np.asarray(y_train, float)
    out = {}
    for k in ks:
        if k > n_components:
            out[k] = None
            continue
        out[k] = LinearRegression().fit(pcs_train[:, :k], y_train).predict(pcs_val[:, :k]).reshape(len(pcs_val), -1)
    return out, pcs_val, pca.explained_variance_ratio_


def pca_topk_rmse(train_feats, y_train, val_feats, y_val, ks) -> dict:
    """Validation RMSE of linear regression on the top k principal components, for each k (see pca_topk)."""
    preds, _, _ = pca_topk(train_feats, y_train, val_feats, ks)
    y_val = np.asarray(y_val, float).reshape(len(y_val), -1)
    return {k: None if p is None else rmse(y_val, p) for k, p in preds.items()}


def fit_and_memorise(make_model, x_train, y_train, x_val, y_val) -> dict:
    """Validation RMSE of a regressor fitted on the training set, and when fitted on the validation set itself.

    The second number is the paper's memorisation check: it bounds what the features could
    express at all, generalisation aside. For a linear model it is only meaningful with many
    more galaxies than features (see `memorise`, which says how many it had).
    """
    y_train, y_val = np.asarray(y_train, float), np.asarray(y_val, float)
    fitted = make_model().fit(x_train, y_train)
    memorised = make_model().fit(x_val, y_val)
    return {"fit_on_train": rmse(y_val, fitted.predict(x_val).reshape(y_val.shape)),
            "fit_on_validation": rmse(y_val, memorised.predict(x_val).reshape(y_val.shape))}


def memorise(x, y, alphas=None) -> tuple[dict, np.ndarray]:
    """The memorisation fit: a linear model fitted on (x, y) and scored on the same galaxies.

    `alphas` None: ordinary least squares, which interpolates (RMSE 0) once there are as many
    parameters as galaxies. Otherwise ridge with its alpha chosen among `alphas` by leave-one-out
    CV on these galaxies (RidgeCV), reported with its effective number of parameters
    (trace of the hat matrix, + 1 for the intercept). Returns (record, in-sample predictions);
    the record states galaxies per feature and per effective parameter, the numbers that say
    whether the fit could have failed at all.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float).reshape(len(x), -1)
    n, p = x.shape
    if alphas is None:
        fit, alpha = LinearRegression().fit(x, y), None
        parameters = float(min(n, p + 1))  # the fit's rank bound: with n <= p + 1 it interpolates
    else:
        fit = RidgeCV(alphas=np.asarray(alphas, float)).fit(x, y)
        alpha = float(fit.alpha_)
        s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
        parameters = float(np.sum(s**2 / (s**2 + alpha)) + 1)
    pred = fit.predict(x).reshape(y.shape)
    edge = None if alphas is None else alpha in (min(alphas), max(alphas))  # then widen sfnet.memorise_alphas
    return {"method": "linear" if alphas is None else "ridge_cv", "alpha": alpha, "alpha_at_grid_edge": edge,
            "rmse": rmse(y, pred),
            "n_galaxies": int(n), "n_features": int(p), "galaxies_per_feature": n / p if p else None,
            "effective_parameters": parameters, "galaxies_per_parameter": n / parameters}, pred


def ridge_predict(x_train, y_train, x_val, alpha) -> np.ndarray:
    """Validation predictions [n_val, n_out] of a ridge regression fitted on the training set."""
    y_train = np.asarray(y_train, float).reshape(len(y_train), -1)
    return Ridge(alpha=alpha).fit(x_train, y_train).predict(x_val).reshape(len(x_val), -1)


def ridge_r2(x_train, y_train, x_val, y_val, alpha) -> np.ndarray:
    """Validation R² per output of a ridge regression fitted on the training set."""
    y_val = np.asarray(y_val, float).reshape(len(y_val), -1)
    return np.atleast_1d(r2_score(y_val, ridge_predict(x_train, y_train, x_val, alpha), multioutput="raw_values"))


def r2(y, pred) -> float | None:
    """R² of one output (None when y is constant: undefined)."""
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - pred) ** 2) / total) if total > 0 else None


def accuracy(truth, guess) -> float:
    return float(np.mean(np.asarray(truth, bool) == np.asarray(guess, bool)))


def f1(truth, guess) -> float:
    """F1 of the positive class (0 when there is no true or guessed positive, as zero_division=0)."""
    truth, guess = np.asarray(truth, bool), np.asarray(guess, bool)
    tp, both = np.sum(truth & guess), truth.sum() + guess.sum()
    return float(2 * tp / both) if both else 0.0


def svm_agn_predict(x_train, agn_train, x_val, c=1.0, seed=0):
    """Validation AGN guesses of a linear SVM fitted on the training galaxies (None with a single class)."""
    agn_train = np.asarray(agn_train, bool)
    if agn_train.all() or not agn_train.any():
        return None
    return LinearSVC(C=c, random_state=seed, max_iter=20000).fit(x_train, agn_train).predict(x_val).astype(bool)


def svm_agn_scores(x_train, agn_train, x_val, agn_val, c=1.0, seed=0) -> dict:
    """Linear SVM AGN classifier fitted on the training galaxies: validation accuracy and F1.

    Also the accuracy of always answering the majority training class, the bar to beat.
    With a single class among the training galaxies there is nothing to fit: scores are None.
    """
    agn_train, agn_val = np.asarray(agn_train, bool), np.asarray(agn_val, bool)
    guess = svm_agn_predict(x_train, agn_train, x_val, c, seed)
    if guess is None:
        return {"accuracy": None, "f1": None, "majority_accuracy": None, "n_features": int(np.shape(x_train)[1])}
    majority = agn_train.mean() > 0.5
    return {"accuracy": accuracy(agn_val, guess), "f1": f1(agn_val, guess),
            "majority_accuracy": accuracy(agn_val, np.full(len(agn_val), majority)),
            "n_features": int(np.asarray(x_train).shape[1])}
