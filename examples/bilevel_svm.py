"""SVM hyperparameter selection with per-sample weights as a bilevel program (the SVM application
of the LV-HBA paper), on scikit-learn's bundled breast-cancer data, 20 % of the training labels
flipped by default.

    upper:  min_c  mean squared hinge loss on the validation set of the SVM selected by c
    lower:  the linear soft-margin SVM with per-sample penalties c_i (dual form: the weights are
            the coupled constraints 0 <= alpha_i <= c_i), see solverhub/plugins/bilevel/svm.py

    python examples/bilevel_svm.py                 # one seed (about 15 s)
    python examples/bilevel_svm.py 3 0.0           # seed 3, clean labels
    solverhub solve "py:examples.bilevel_svm:make_problem?seed=0&flip=0.2" --solver lv-hba \\
        --set alpha=0.5 --set eta=1.0 --set max_iterations=3000

Prints the test accuracy of the SVM with uniform weights (C = 1, and C chosen by 5-fold
cross-validation: the start of the bilevel runs) and with the per-sample weights chosen by
lv-hba (coupled form) and bilevel-penalty (the scaled form alpha = c o s, whose lower-level set
does not depend on c), each SVM retrained exactly for its weights.
"""

from __future__ import annotations

import sys

from solverhub.plugins.bilevel.svm import make_problem, svm_comparison

__all__ = ["main", "make_problem"]


def main(seed: int = 0, flip: float = 0.2) -> int:
    rows = svm_comparison(seed=seed, flip=flip)
    print(f"breast_cancer, seed {seed}, {flip:.0%} of the 200 training labels flipped, "
          f"100 validation, 269 test samples")
    print("| weights | test accuracy | validation accuracy | validation loss | weight < 1/2: "
          "flipped / clean | time (s) | status |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.method} | {r.test_accuracy:.3f} | {r.val_accuracy:.3f} | {r.val_loss:.3f} | "
              f"{r.flipped_dropped} / {r.clean_dropped} | {r.seconds:.1f} | {r.status} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0,
                  float(sys.argv[2]) if len(sys.argv) > 2 else 0.2))
