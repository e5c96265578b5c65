#!/bin/sh
# latent against PyTorch in the judge's scores (README, "latent against PyTorch, in these
# scores"): one model trained on each side with seeds 1, 2, 3 on one thread, 10,000 samples of
# each run scored by `latent score` in the features of the data set's own classifier.
#
#   docs/experiments/judge-vs-torch.sh DATA_DIR MODEL EPOCHS PYTHON > MODEL.jsonl
#
# MODEL is a `latent train` family with a script reference/torch_MODEL.py, dashes as
# underscores (vae, conv-vae, gan, dcgan, cgan; the β-VAE and CVAE rows used vae --preset beta4
# against torch_beta_vae.py and cvae against torch_cvae.py). DATA_DIR holds MNIST-format IDX
# files (MNIST, Fashion-MNIST). Each output line is one JSON object: side, seed, the
# `latent score --json` report, and the test loss (latent eval's test_loss; the script's final
# test loss). SEEDS="1 2 3" by default; give a subset to split the runs over several processes
# (e.g. SEEDS="1 2" and SEEDS=3 at once on two cores). SIDES="latent torch" by default; name one
# side to split a seed's two runs the same way.
set -eu
LATENT=${LATENT:-latent}
DIR=$1
MODEL=$2
EPOCHS=$3
PYTHON=$4
OUT=${OUT:-runs/judge}
HERE=$(dirname "$0")
SCRIPT="$HERE/../../reference/torch_$(echo "$MODEL" | tr - _).py"
mkdir -p "$OUT"

SIDES=${SIDES:-latent torch}
case " $SIDES " in *" latent "* | *" torch "*) ;; *) echo "SIDES must name latent and/or torch, got '$SIDES'" >&2; exit 2 ;; esac

for seed in ${SEEDS:-1 2 3}; do
  case " $SIDES " in *" latent "*)
    run="$OUT/$MODEL-latent-$seed"
    $LATENT train "$MODEL" --data-dir "$DIR" --epochs "$EPOCHS" --seed "$seed" --threads 1 --out "$run" --force --quiet >&2
    $LATENT sample "$run" --n 10000 --seed 7 --out "$run/samples.npy" >&2
    score=$($LATENT score "$run/samples.npy" --data "$DIR" --json --threads 1)
    loss=$($LATENT eval "$run" --json --threads 1 | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("test_loss"))')
    echo "{\"side\": \"latent\", \"seed\": $seed, \"test_loss\": $loss, \"score\": $score}"
  ;; esac
  case " $SIDES " in *" torch "*)
    samples="$OUT/$MODEL-torch-$seed.npy"
    last=$("$PYTHON" "$SCRIPT" --data-dir "$DIR" --epochs "$EPOCHS" --seed "$seed" \
        --threads 1 --save-samples "$samples" | tail -n 1)
    loss=$(echo "$last" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("test_loss"))')
    score=$($LATENT score "$samples" --data "$DIR" --json --threads 1)
    echo "{\"side\": \"torch\", \"seed\": $seed, \"test_loss\": $loss, \"score\": $score}"
  ;; esac
done
