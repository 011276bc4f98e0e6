"""Comparing generated music with real music (`tsm evaluate`, `tsm evaluate-ae`)."""

# the classifiers' accuracies are means over this many draws of the balancing subsample and the folds: one draw
# moves them by ±0.02 on the same files (classifier_tests._repeated); here, apart from the heavy modules, for the CLI's help
CLASSIFIER_REPEATS = 5
# below this many excerpts per class a classifier's accuracy says little (4 pieces score 0.5, p = 0.64): tsm evaluate
# and tsm evaluate-ae warn
MIN_EXCERPTS = 50
