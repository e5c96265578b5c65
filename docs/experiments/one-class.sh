#!/bin/sh
# One-class anomaly detection in the protocol of Ruff et al., "Deep One-Class Classification"
# (ICML 2018): for each class K, train on the training images of K only, score the whole test
# set (the other nine classes are the anomalies), report the ROC-AUC.
#
#   docs/experiments/one-class.sh DATA_DIR NAME > NAME.jsonl
#
# DATA_DIR holds the four MNIST-format files (MNIST or Fashion-MNIST); NAME prefixes the run
# directories (under $OUT, default runs/one-class). Each line of the output is the JSON report
# of one `latent anomaly` call; its "run" field is OUT/NAME-MODEL-K-sSEED and its "score" the
# score used. $LATENT is the command (default: latent), $CLASSES the classes (default 0 to 9).
# Every run trains 10 epochs on one thread; the whole script takes about an hour per data set
# on a 2-core machine.
set -eu
LATENT=${LATENT:-latent}
DIR=$1
NAME=$2
OUT=${OUT:-runs/one-class}

train() { # MODEL-TAG CLASS SEED FLAGS...
    tag=$1 k=$2 seed=$3
    shift 3
    $LATENT train "$@" --data-dir "$DIR" --classes "$k" --epochs 10 --seed "$seed" \
        --out "$OUT/$NAME-$tag-$k-s$seed" --force --quiet --threads 1 >&2
}

score() { # MODEL-TAG CLASS SEED SCORE [FLAGS...]
    tag=$1 k=$2 seed=$3 s=$4
    shift 4
    $LATENT anomaly "$OUT/$NAME-$tag-$k-s$seed" --score "$s" --threshold quantile:0.95 --json --threads 1 "$@"
}

for k in ${CLASSES:-0 1 2 3 4 5 6 7 8 9}; do
    # The autoencoder trained and scored by squared error, three seeds; PCA (32 components)
    # beside the first.
    for seed in 1 2 3; do
        train ae-mse "$k" "$seed" ae --loss mse
        if [ "$seed" = 1 ]; then score ae-mse "$k" 1 recon --baseline pca; else score ae-mse "$k" "$seed" recon; fi
    done
    # The deep autoencoder preset as it is (binary cross-entropy).
    train ae-bce "$k" 1 ae
    score ae-bce "$k" 1 recon
    # A denoising autoencoder (Gaussian noise 0.3), squared error.
    train dae-mse "$k" 1 dae --loss mse --noise gaussian:0.3
    score dae-mse "$k" 1 recon
    # The VAE of pytorch/examples, by its reconstruction error and by its ELBO.
    train vae "$k" 1 vae
    score vae "$k" 1 recon
    score vae "$k" 1 elbo
done
