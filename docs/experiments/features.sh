#!/bin/sh
# Dimensionality reduction and features on a full data set (MNIST or Fashion-MNIST):
#   - compare-pca: the deep autoencoder (784-512-128-k) trained by binary cross-entropy (the
#     preset) and by squared error, and the same network with identity activations (a linear
#     autoencoder), against PCA with k components, for k = 2, 8, 32 (MNIST only);
#   - probe: a logistic-regression probe on 10, 100 and all labels per class, on the codes of
#     the squared-error autoencoder (32-d) and of the VAE of pytorch/examples (20-d).
#
#   docs/experiments/features.sh DATA_DIR NAME > NAME-features.jsonl
#
# Each output line is the JSON report of one `compare-pca` or `probe` call. Runs are trained for
# 10 epochs on one thread, under $OUT (default runs/features).
set -eu
LATENT=${LATENT:-latent}
DIR=$1
NAME=$2
OUT=${OUT:-runs/features}

train() { # TAG FLAGS...
    tag=$1
    shift
    $LATENT train "$@" --data-dir "$DIR" --epochs 10 --out "$OUT/$NAME-$tag" --force --quiet --threads 1 >&2
}

if [ "$NAME" = mnist ]; then
    for k in 2 8 32; do
        train "ae-bce-$k" ae --latent-dim "$k"
        train "ae-mse-$k" ae --loss mse --latent-dim "$k"
        train "linear-$k" ae --activation identity --loss mse --latent-dim "$k"
        for tag in ae-bce ae-mse linear; do
            $LATENT compare-pca "$OUT/$NAME-$tag-$k" --json --threads 1
        done
    done
else
    train ae-mse-32 ae --loss mse
fi
train vae vae
for tag in ae-mse-32 vae; do
    $LATENT probe "$OUT/$NAME-$tag" --labels-per-class 10,100,all --repeats 5 --json --threads 1
done
