//! The JSON API under `/api/`: one handler per endpoint, each checking its request, computing on
//! a worker ([`super::workers`]) and answering in the data's own units. `docs/serve.md`
//! documents every endpoint with curl examples.
//!
//! Requests are JSON objects whose unknown fields are refused (a misspelt field is an error, not
//! silently ignored). Every failure is a 4xx with `{"error": ...}` ([`ApiError`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use latent_data::{NoiseSpec, Scale};
use latent_tensor::{Tensor, TensorRng};
use ndarray::Array2;
use rand::SeedableRng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::runs::ServedRun;
use super::{AppState, MAX_BODY_BYTES, MAX_K, MAX_ROWS, MAX_STEPS};
use crate::commands::to_matrix;

/// A JSON request body, or axum's refusal of it.
type Body<T> = Result<Json<T>, JsonRejection>;
/// An answer.
type Answer = Result<Json<Value>, ApiError>;

/// A served run by name.
fn find(state: &AppState, name: &str) -> Result<(usize, Arc<ServedRun>), ApiError> {
    state.runs.iter().position(|r| r.name == name).map(|i| (i, Arc::clone(&state.runs[i]))).ok_or_else(|| {
        let names: Vec<&str> = state.runs.iter().map(|r| r.name.as_str()).collect();
        ApiError::not_found(format!("no run named `{name}` is served; the runs are: {}", names.join(", ")))
    })
}

/// What the page and scripts need to know of a run before using it.
fn summary(run: &ServedRun) -> Value {
    let spec = &run.spec;
    json!({
        "name": run.name,
        "preset": run.config.preset,
        "kind": run.description.kind,
        "latent_dim": run.description.latent_dim,
        "capabilities": run.can,
        "data": {
            "name": run.config.data.name,
            "shape": spec.shape,
            "dims": spec.shape.dims(),
            "values": spec.values.as_str(),
            "class_names": spec.class_names,
            "feature_names": spec.feature_names,
            "standardization": spec.standardization,
            "train_examples": run.data.train.len(),
            "test_examples": run.data.test.len(),
        },
    })
}

/// The limits every request is held to.
fn limits() -> Value {
    json!({ "max_rows": MAX_ROWS, "max_steps": MAX_STEPS, "max_k": MAX_K, "max_body_bytes": MAX_BODY_BYTES })
}

/// `GET /api/runs`: every served run, summarised.
pub async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    let runs: Vec<Value> = state.runs.iter().map(|r| summary(r)).collect();
    Json(json!({ "runs": runs, "limits": limits(), "workers": state.workers.threads() }))
}

/// `GET /api/runs/{run}`: the summary, what `latent info --json` says, and the limits.
pub async fn info(State(state): State<Arc<AppState>>, name: Result<Path<String>, PathRejection>) -> Answer {
    let (_, run) = find(&state, &name?.0)?;
    let mut value = summary(&run);
    value["info"] = run.info.clone();
    value["limits"] = limits();
    Ok(Json(value))
}

/// `GET /api/runs/{run}/map`: the test codes on the map's plane, their labels, and the plane.
pub async fn map(State(state): State<Arc<AppState>>, name: Result<Path<String>, PathRejection>) -> Answer {
    let (_, run) = find(&state, &name?.0)?;
    Ok(Json(json!({
        "projection": run.map.projection,
        "points": run.map.points,
        "labels": run.map.labels,
        "ranges": run.map.ranges,
        "test_examples": run.data.test.len(),
    })))
}

/// `GET /api/runs/{run}/test/{index}`: one test example, in the data's units, with its label.
pub async fn test_example(
    State(state): State<Arc<AppState>>,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((name, index)) = params?;
    let (_, run) = find(&state, &name)?;
    let index: usize = index
        .parse()
        .map_err(|_| ApiError::bad_request(format!("test index `{index}`: expected a whole number from 0")))?;
    let row = run.test_rows(&[index], "test index")?;
    let label = run.data.test.labels()[index];
    Ok(Json(json!({
        "index": index,
        "label": label,
        "class": run.spec.class_name(label),
        "input": run.data_out(row).remove(0),
    })))
}

/// The body of `encode`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodeRequest {
    inputs: Vec<Vec<f32>>,
    #[serde(default)]
    label: Option<u8>,
    #[serde(default)]
    labels: Option<Vec<u8>>,
}

/// Refuse an empty request or one of more than [`MAX_ROWS`] examples.
fn check_count(count: usize, field: &str, most: usize) -> Result<(), ApiError> {
    if count == 0 || count > most {
        return Err(ApiError::unprocessable(format!("`{field}`: send 1 to {most}, found {count}")));
    }
    Ok(())
}

/// Refuse an operation the run's model lacks.
fn require(run: &ServedRun, has: bool, what: &str) -> Result<(), ApiError> {
    if !has {
        return Err(ApiError::unprocessable(format!(
            "run `{}` is a {} ({}), which cannot {what}",
            run.name, run.description.kind, run.config.preset
        )));
    }
    Ok(())
}

/// `POST /api/runs/{run}/encode`: the codes of examples, and their points on the map.
pub async fn encode(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    body: Body<EncodeRequest>,
) -> Answer {
    let (index, run) = find(&state, &name?.0)?;
    let Json(req) = body?;
    require(&run, run.can.encode, "encode: it has no encoder")?;
    check_count(req.inputs.len(), "inputs", MAX_ROWS)?;
    let x = run.rows_in(&req.inputs, "inputs")?;
    let labels = run.labels(x.nrows(), req.label, req.labels.as_deref(), None)?;
    run.check_rows(x.nrows())?;
    let codes = state
        .workers
        .run(move |models| {
            let encoder = models[index].encoder().expect("checked: the model encodes");
            Ok(to_matrix(&encoder.encode(&Tensor::new(x), labels.as_deref())?))
        })
        .await?;
    Ok(Json(json!({ "codes": rows(&codes), "points": points(&run, &codes) })))
}

/// The rows of a matrix as lists.
fn rows(a: &Array2<f32>) -> Vec<Vec<f32>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Where codes land on the run's map.
fn points(run: &ServedRun, codes: &Array2<f32>) -> Vec<[f32; 2]> {
    codes.rows().into_iter().map(|c| run.map.projection.project(&c.to_vec())).collect()
}

/// Codes sent by a client, checked: each of the run's code size, every value finite.
fn codes_in(run: &ServedRun, codes: &[Vec<f32>], field: &str) -> Result<Array2<f32>, ApiError> {
    let dim = run.description.latent_dim;
    let mut flat = Vec::with_capacity(codes.len() * dim);
    for (i, c) in codes.iter().enumerate() {
        if c.len() != dim {
            return Err(ApiError::unprocessable(format!(
                "{field}[{i}] has {} values; this run's codes have {dim}",
                c.len()
            )));
        }
        if let Some(j) = c.iter().position(|v| !v.is_finite()) {
            return Err(ApiError::unprocessable(format!("{field}[{i}][{j}] is not a finite number")));
        }
        flat.extend_from_slice(c);
    }
    Ok(Array2::from_shape_vec((codes.len(), dim), flat).expect("every code was checked"))
}

/// The body of `decode`: codes, or points of the map.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeRequest {
    #[serde(default)]
    codes: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    points: Option<Vec<[f32; 2]>>,
    #[serde(default)]
    label: Option<u8>,
    #[serde(default)]
    labels: Option<Vec<u8>>,
}

/// `POST /api/runs/{run}/decode`: what the decoder makes of codes (or of points of the map).
pub async fn decode(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    body: Body<DecodeRequest>,
) -> Answer {
    let (index, run) = find(&state, &name?.0)?;
    let Json(req) = body?;
    require(&run, run.can.decode, "decode: it has no decoder")?;
    let z = match (&req.codes, &req.points) {
        (Some(codes), None) => {
            check_count(codes.len(), "codes", MAX_ROWS)?;
            codes_in(&run, codes, "codes")?
        }
        (None, Some(points)) => {
            check_count(points.len(), "points", MAX_ROWS)?;
            if points.iter().flatten().any(|v| !v.is_finite()) {
                return Err(ApiError::unprocessable("`points`: every coordinate must be a finite number"));
            }
            let codes: Vec<Vec<f32>> = points.iter().map(|&p| run.map.projection.unproject(p)).collect();
            codes_in(&run, &codes, "points")?
        }
        _ => return Err(ApiError::bad_request("send either `codes` or `points` (of the map), not both")),
    };
    let labels = run.labels(z.nrows(), req.label, req.labels.as_deref(), None)?;
    run.check_rows(z.nrows())?;
    let codes = z.clone();
    let out = state
        .workers
        .run(move |models| {
            let decoder = models[index].decoder().expect("checked: the model decodes");
            Ok(to_matrix(&decoder.decode(&Tensor::new(z), labels.as_deref())?))
        })
        .await?;
    Ok(Json(json!({ "codes": rows(&codes), "outputs": run.rows_out(out) })))
}

/// The body of `sample`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleRequest {
    #[serde(default = "default_samples")]
    n: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    label: Option<u8>,
    #[serde(default)]
    labels: Option<Vec<u8>>,
}

fn default_samples() -> usize {
    16
}

/// `POST /api/runs/{run}/sample`: codes drawn from the prior (seeded: the draws of `latent
/// sample --seed`) and their decoding; a conditional model draws `label`, or cycles through its
/// classes.
pub async fn sample(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    body: Body<SampleRequest>,
) -> Answer {
    let (index, run) = find(&state, &name?.0)?;
    let Json(req) = body?;
    require(&run, run.can.sample, "sample: it has no prior (train a vae or a gan)")?;
    check_count(req.n, "n", MAX_ROWS)?;
    let cycle = run.can.classes.map(|c| (0..req.n).map(|i| (i % c) as u8).collect::<Vec<u8>>());
    let labels = run.labels(req.n, req.label, req.labels.as_deref(), cycle.as_deref())?;
    run.check_rows(req.n)?;
    let (n, dim, seed) = (req.n, run.description.latent_dim, req.seed);
    let given = labels.clone();
    let (codes, out) = state
        .workers
        .run(move |models| {
            // As the model's own sampler draws them, so the same seed gives `latent sample`'s.
            let z = TensorRng::seed_from_u64(seed).randn(&[n, dim]);
            let decoder = models[index].decoder().expect("checked: the model decodes");
            let out = to_matrix(&decoder.decode(&z, given.as_deref())?);
            Ok((to_matrix(&z), out))
        })
        .await?;
    Ok(Json(
        json!({ "codes": rows(&codes), "points": points(&run, &codes), "outputs": run.rows_out(out), "labels": labels }),
    ))
}

/// The body of `reconstruct`: examples sent, or test examples by index.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconstructRequest {
    #[serde(default)]
    inputs: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    test_indices: Option<Vec<usize>>,
    #[serde(default)]
    noise: Option<String>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    label: Option<u8>,
    #[serde(default)]
    labels: Option<Vec<u8>>,
}

/// Examples sent (`inputs`) or test examples by index (`test_indices`), in model space, with the
/// test examples' labels.
fn examples_in(
    run: &ServedRun,
    inputs: Option<&[Vec<f32>]>,
    test_indices: Option<&[usize]>,
) -> Result<(Array2<f32>, Option<Vec<u8>>), ApiError> {
    match (inputs, test_indices) {
        (Some(inputs), None) => {
            check_count(inputs.len(), "inputs", MAX_ROWS)?;
            Ok((run.rows_in(inputs, "inputs")?, None))
        }
        (None, Some(indices)) => {
            check_count(indices.len(), "test_indices", MAX_ROWS)?;
            let rows = run.test_rows(indices, "test_indices:")?;
            Ok((rows, Some(indices.iter().map(|&i| run.data.test.labels()[i]).collect())))
        }
        _ => Err(ApiError::bad_request("send either `inputs` or `test_indices`, not both")),
    }
}

/// Per row, the mean squared difference of `a` and `b`.
fn row_mse(a: &Array2<f32>, b: &Array2<f32>) -> Vec<f64> {
    a.rows()
        .into_iter()
        .zip(b.rows())
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| f64::from(p - q).powi(2)).sum::<f64>() / x.len().max(1) as f64)
        .collect()
}

/// `POST /api/runs/{run}/reconstruct`: examples corrupted by `noise` (the spec of `latent
/// reconstruct --noise`, seeded), their codes and the model's reconstructions, with each
/// reconstruction's mean squared difference from the clean example.
pub async fn reconstruct(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    body: Body<ReconstructRequest>,
) -> Answer {
    let (index, run) = find(&state, &name?.0)?;
    let Json(req) = body?;
    require(&run, run.can.encode && run.can.decode, "reconstruct: it has no encoder")?;
    let noise: NoiseSpec =
        req.noise.as_deref().unwrap_or("none").parse().map_err(|e| ApiError::unprocessable(format!("`noise`: {e}")))?;
    let (clean, test_labels) = examples_in(&run, req.inputs.as_deref(), req.test_indices.as_deref())?;
    let labels = run.labels(clean.nrows(), req.label, req.labels.as_deref(), test_labels.as_deref())?;
    run.check_rows(clean.nrows())?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(req.seed);
    let input = if run.pixels() {
        noise.corrupt(&clean, Scale::ZeroOne, &mut rng)
    } else {
        // Standardised real values: noise in standard deviations, unclipped.
        let mut copy = clean.clone();
        let n = copy.nrows();
        noise
            .corrupt_standardized(copy.as_slice_mut().expect("a fresh array"), n, &mut rng)
            .map_err(|e| ApiError::unprocessable(format!("`noise`: {e}")))?;
        copy
    };
    let corrupted = input.clone();
    let (codes, out) = state
        .workers
        .run(move |models| {
            let model = &mut models[index];
            let z = model.encoder().expect("checked").encode(&Tensor::new(input), labels.as_deref())?;
            let out = model.decoder().expect("checked").decode(&z, labels.as_deref())?;
            Ok((to_matrix(&z), to_matrix(&out)))
        })
        .await?;
    let mse = row_mse(&out, &clean);
    Ok(Json(json!({
        "inputs": run.data_out(clean),
        "corrupted": run.data_out(corrupted),
        "codes": rows(&codes),
        "points": points(&run, &codes),
        "outputs": run.rows_out(out),
        "mse": mse,
        "noise": noise.to_string(),
    })))
}

/// One end of an interpolation: a test example, an example sent, or a code.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct End {
    #[serde(default)]
    test_index: Option<usize>,
    #[serde(default)]
    input: Option<Vec<f32>>,
    #[serde(default)]
    code: Option<Vec<f32>>,
}

/// The body of `interpolate`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterpolateRequest {
    from: End,
    to: End,
    #[serde(default = "default_steps")]
    steps: usize,
    #[serde(default)]
    label: Option<u8>,
}

fn default_steps() -> usize {
    10
}

/// What an end of an interpolation is, checked: a code already, or an example to encode (in
/// model space, with the label a conditional model encodes it with).
enum Point {
    Code(Vec<f32>),
    Example(Array2<f32>, Option<u8>),
}

fn end(run: &ServedRun, e: &End, field: &str, label: Option<u8>) -> Result<Point, ApiError> {
    let needs_encoder = || require(run, run.can.encode, &format!("encode `{field}`: it has no encoder; send a `code`"));
    match (e.test_index, &e.input, &e.code) {
        (Some(i), None, None) => {
            needs_encoder()?;
            let row = run.test_rows(&[i], &format!("`{field}.test_index`"))?;
            Ok(Point::Example(row, run.can.classes.map(|_| run.data.test.labels()[i])))
        }
        (None, Some(input), None) => {
            needs_encoder()?;
            let row = run.rows_in(std::slice::from_ref(input), &format!("{field}.input"))?;
            if run.can.classes.is_some() && label.is_none() {
                return Err(ApiError::unprocessable(format!(
                    "run `{}` is conditional: send `label` to encode `{field}.input` with",
                    run.name
                )));
            }
            Ok(Point::Example(row, label))
        }
        (None, None, Some(code)) => Ok(Point::Code(codes_in(run, std::slice::from_ref(code), field)?.row(0).to_vec())),
        _ => Err(ApiError::bad_request(format!("`{field}`: send one of `test_index`, `input` or `code`"))),
    }
}

/// `POST /api/runs/{run}/interpolate`: the codes on the straight line between two ends (`steps`
/// points, ends included) and their decoding. A conditional model decodes the whole line with
/// `label`.
pub async fn interpolate(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    body: Body<InterpolateRequest>,
) -> Answer {
    let (index, run) = find(&state, &name?.0)?;
    let Json(req) = body?;
    require(&run, run.can.decode, "decode: it has no decoder")?;
    if req.steps < 2 || req.steps > MAX_STEPS {
        return Err(ApiError::unprocessable(format!(
            "`steps`: send 2 to {MAX_STEPS} (the ends included), found {}",
            req.steps
        )));
    }
    let from = end(&run, &req.from, "from", req.label)?;
    let to = end(&run, &req.to, "to", req.label)?;
    let line_labels = run.labels(req.steps, req.label, None, None)?;
    run.check_rows(req.steps)?;
    let (steps, dim) = (req.steps, run.description.latent_dim);
    let (codes, out) = state
        .workers
        .run(move |models| {
            let model = &mut models[index];
            let mut code_of = |p: Point| -> Result<Vec<f32>, ApiError> {
                match p {
                    Point::Code(c) => Ok(c),
                    Point::Example(x, label) => {
                        let labels = label.map(|k| vec![k]);
                        let z = model.encoder().expect("checked").encode(&Tensor::new(x), labels.as_deref())?;
                        Ok(z.to_vec())
                    }
                }
            };
            let (a, b) = (code_of(from)?, code_of(to)?);
            let line = Array2::from_shape_fn((steps, dim), |(s, j)| {
                let t = s as f32 / (steps - 1) as f32;
                (1.0 - t) * a[j] + t * b[j]
            });
            let out = model.decoder().expect("checked").decode(&Tensor::new(line.clone()), line_labels.as_deref())?;
            Ok((line, to_matrix(&out)))
        })
        .await?;
    Ok(Json(json!({ "codes": rows(&codes), "points": points(&run, &codes), "outputs": run.rows_out(out) })))
}

/// The body of `nearest`: an example, or a code to decode first.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearestRequest {
    #[serde(default)]
    input: Option<Vec<f32>>,
    #[serde(default)]
    code: Option<Vec<f32>>,
    #[serde(default)]
    label: Option<u8>,
    #[serde(default = "default_k")]
    k: usize,
}

fn default_k() -> usize {
    8
}

/// `POST /api/runs/{run}/nearest`: the `k` training examples nearest to an example (or to a
/// code's decoding), by mean squared difference per value.
pub async fn nearest(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    body: Body<NearestRequest>,
) -> Answer {
    let (index, run) = find(&state, &name?.0)?;
    let Json(req) = body?;
    check_count(req.k, "k", MAX_K)?;
    enum Query {
        Example(Array2<f32>),
        Code(Array2<f32>, Option<Vec<u8>>),
    }
    let query = match (&req.input, &req.code) {
        (Some(input), None) => {
            if req.label.is_some() {
                return Err(ApiError::bad_request("`label` goes with `code` (to decode it); an `input` needs none"));
            }
            Query::Example(run.rows_in(std::slice::from_ref(input), "input")?)
        }
        (None, Some(code)) => {
            require(&run, run.can.decode, "decode: it has no decoder")?;
            let z = codes_in(&run, std::slice::from_ref(code), "code")?;
            Query::Code(z, run.labels(1, req.label, None, None)?)
        }
        _ => return Err(ApiError::bad_request("send either `input` or `code`, not both")),
    };
    let k = req.k;
    let searched = Arc::clone(&run);
    let (query, found) = state
        .workers
        .run(move |models| {
            let x = match query {
                Query::Example(x) => x,
                Query::Code(z, labels) => {
                    to_matrix(&models[index].decoder().expect("checked").decode(&Tensor::new(z), labels.as_deref())?)
                }
            };
            let found = super::nearest::nearest(
                &searched.data.train,
                searched.train_reals.as_ref(),
                x.row(0).as_slice().expect("a standard-layout row"),
                k,
            );
            Ok((x, found))
        })
        .await?;
    let indices: Vec<usize> = found.iter().map(|f| f.0).collect();
    let examples = run.data_out(run.data.train.gather(&indices, Scale::ZeroOne).expect("indices from the search"));
    let neighbours: Vec<Value> = found
        .iter()
        .zip(examples)
        .map(|(&(i, mse), input)| {
            let label = run.data.train.labels()[i];
            json!({ "index": i, "label": label, "class": run.spec.class_name(label), "mse": mse, "input": input })
        })
        .collect();
    Ok(Json(json!({ "query": run.rows_out(query).remove(0), "neighbours": neighbours })))
}

/// The body of `anomaly`: examples sent, or test examples by index.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyRequest {
    #[serde(default)]
    inputs: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    test_indices: Option<Vec<usize>>,
    #[serde(default)]
    label: Option<u8>,
    #[serde(default)]
    labels: Option<Vec<u8>>,
}

/// `POST /api/runs/{run}/anomaly`: how anomalous examples are, by the score and threshold
/// `latent anomaly RUN` uses: those of the run's `anomaly.json` when it was written for these
/// weights, else the reconstruction error with the 0.95-quantile of the training split's scores,
/// fitted on the first request (and kept, not written to the run).
pub async fn anomaly(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    body: Body<AnomalyRequest>,
) -> Answer {
    let (index, run) = find(&state, &name?.0)?;
    let Json(req) = body?;
    require(
        &run,
        run.can.anomaly,
        "score anomalies: it does not reconstruct its input (an autoencoder or a VAE does)",
    )?;
    let (x, test_labels) = examples_in(&run, req.inputs.as_deref(), req.test_indices.as_deref())?;
    let labels = run.labels(x.nrows(), req.label, req.labels.as_deref(), test_labels.as_deref())?;
    run.check_rows(x.nrows())?;
    let fitting = Arc::clone(&run);
    let fit = run
        .anomaly_fit
        .get_or_try_init(|| {
            state.workers.run(move |models| {
                let run = &fitting;
                crate::commands::anomaly::default_fit(&run.dir, &mut *models[index], &run.config, &run.data)
                    .map(Arc::new)
                    .map_err(|e| ApiError::internal(format!("fitting the anomaly threshold of `{}`: {e:#}", run.name)))
            })
        })
        .await?
        .clone();
    let used = Arc::clone(&fit);
    let scores = state
        .workers
        .run(move |models| {
            let latent = used.fit.latent.as_ref();
            crate::commands::anomaly::score_rows(
                &mut *models[index],
                used.score,
                &x,
                labels.as_deref(),
                latent,
                used.fit.seed,
            )
            .map_err(|e| ApiError::unprocessable(format!("{e:#}")))
        })
        .await?;
    let threshold = fit.fit.threshold;
    let flagged: Vec<bool> = scores.iter().map(|&s| s > threshold).collect();
    Ok(Json(json!({
        "score": fit.score.to_string(),
        "meaning": fit.meaning,
        "scores": scores,
        "flagged": flagged,
        "threshold": threshold,
        "rule": fit.fit.rule,
        "fitted_on": fit.fit.fitted_on,
        "fit_examples": fit.fit.examples,
        "from_run_file": fit.stored,
        "normal_scores": fit.fit.summary,
    })))
}
