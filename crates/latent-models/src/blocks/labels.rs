//! Conditioning on labels: the one-hot rows a conditional model reads beside its inputs.

use latent_tensor::Tensor;

use crate::error::{ModelError, Result};

/// The one-hot rows `[labels.len(), classes]` of `labels`.
///
/// ```
/// let t = latent_models::blocks::labels::one_hot(&[2, 0], 3).unwrap();
/// assert_eq!(t.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
/// ```
///
/// # Errors
/// If a label is not below `classes`.
pub fn one_hot(labels: &[u8], classes: usize) -> Result<Tensor> {
    let mut data = vec![0.0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        let l = usize::from(label);
        if l >= classes {
            return Err(ModelError::config(
                "label",
                format!("label {label} is out of range: this model knows labels 0 to {}", classes.saturating_sub(1)),
            ));
        }
        data[row * classes + l] = 1.0;
    }
    Ok(Tensor::from_vec(&[labels.len(), classes], data)?)
}

/// `[t, onehot(labels)]` along the columns when `labels` are given, else `t` itself.
///
/// # Errors
/// If the number of labels differs from the rows of `t`, or a label is out of range.
pub fn with_labels(t: &Tensor, labels: Option<&[u8]>, classes: usize) -> Result<Tensor> {
    let Some(labels) = labels else { return Ok(t.clone()) };
    let rows = t.shape().first().copied().unwrap_or(0);
    if labels.len() != rows {
        return Err(ModelError::input(
            "labels",
            format!("expected one label per row ({rows}), found {} labels", labels.len()),
        ));
    }
    Ok(Tensor::concat(&[t.clone(), one_hot(labels, classes)?], 1)?)
}
