#!/bin/sh
# Anomaly detection on the Wisconsin breast-cancer table: train on the benign rows of a seeded
# half of the table (--classes benign --test-fraction 0.5), score the other half's benign rows
# and every malignant row (--eval unseen: the held-out half, plus the malignant rows of the
# training half, which no model saw), against PCA with as many components as the code.
#
#   docs/experiments/breast-cancer.sh breast-cancer-wisconsin.csv > breast-cancer.jsonl
#
# Each output line is the JSON report of one `latent anomaly` call ("run" names model and seed,
# "score" the score: the reconstruction error with the PCA baseline, then the ELBO (VAE) and the
# Mahalanobis distance of the code).
set -eu
LATENT=${LATENT:-latent}
CSV=$1
OUT=${OUT:-runs/breast-cancer}
for model in ae vae; do
    for seed in 1 2 3; do
        run="$OUT/$model-s$seed"
        $LATENT train "$model" --data "$CSV" --label-column diagnosis --classes benign --test-fraction 0.5 \
            --hidden 16 --latent-dim 4 --epochs 100 --batch-size 32 --seed "$seed" --out "$run" --force --quiet \
            --threads 1 >&2
        $LATENT anomaly "$run" --eval unseen --baseline pca --threshold quantile:0.95 --json --threads 1
        scores="latent"
        if [ "$model" = vae ]; then scores="elbo latent"; fi
        for s in $scores; do
            $LATENT anomaly "$run" --eval unseen --score "$s" --threshold quantile:0.95 --json --threads 1
        done
    done
done
