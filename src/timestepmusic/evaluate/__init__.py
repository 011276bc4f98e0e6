"""Comparing generated music with real music (`tsm evaluate`, `tsm evaluate-ae`)."""

# the classifiers' accuracies are means over this many draws of the balancing subsample and the folds: one draw
# moves them by ±0.02 on the same files (classifier_tests._repeated); here, apart from the heavy modules, for the CLI's help
CLASSIFIER_REPEATS = 5
# below this many excerpts per class a classifier's accuracy says little (4 pieces score 0.5, p = 0.64): tsm evaluate
# and tsm evaluate-ae warn
MIN_EXCERPTS = 50
# what the classifiers' folds and the real halves keep whole on the real side (tsm evaluate --folds-by; the first, the
# default): each piece, all its performances (ASAP's test split holds 90 performances of 17 pieces, and a fold that
# trains on one performance of the notes it tests learns the piece, up to 0.14 above the figures with pieces whole:
# bench/outside_view.py), or each performance
FOLDS_BY = ("piece", "performance")
