//! The files of `fit` and `analyse`: measured points from a CSV file or a results directory
//! written by `sparse-scaling run`, fit records written by `sparse-scaling fit --json`, and
//! JSON output.

use std::path::Path;

use super::CliError;
use crate::experiment::Family;
use crate::results::{d_unit_name, observations, select_family, skipped_note, ResultsDir, CATEGORICAL_COLUMNS};
use sparse_scaling_law::analysis::FitRecord;
use sparse_scaling_law::{CsvMapping, Observations};

/// The header row of a CSV file (empty if unreadable; reading errors are reported later by the
/// loader with the file name).
pub fn csv_headers(path: &Path) -> Vec<String> {
    csv::Reader::from_path(path)
        .ok()
        .and_then(|mut r| r.headers().ok().map(|h| h.iter().map(|s| s.trim().to_string()).collect()))
        .unwrap_or_default()
}

/// Reads the points of a CSV file with `mapping`.
pub fn load_observations(path: &Path, mapping: &CsvMapping) -> Result<Observations, CliError> {
    if path.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is a directory; expected a CSV file (one row per run)",
            path.display()
        )));
    }
    Observations::from_csv_path(path, mapping).map_err(CliError::Data)
}

/// Writes a note for the user on stderr (what a command skipped or assumed); a note that cannot
/// be written is dropped.
pub fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "note: {text}");
}

/// Reads the finished points of a results directory (written by `sparse-scaling run`) as
/// observations S, N / `n_unit`, D / `d_unit` (and `Nbar`, N̄ / `n_unit`, when every record
/// has it), loss = final validation loss, the text columns `pruning`, `family` and `depth` (to
/// group parameters by, `a[pruning]`), and a mapping that records these units. With
/// `family`, only that family's records; without, the records must be of one family (else the
/// error names the families and the `--family` flags). Damaged records stop it, each named
/// with what is wrong, unless `skip_damaged` (then a note on stderr says how many were skipped
/// and which). It creates nothing: a directory without `points/` is not a results directory.
pub fn load_results_dir(
    dir: &Path,
    n_unit: Option<f64>,
    d_unit: Option<f64>,
    family: Option<Family>,
    skip_damaged: bool,
) -> Result<(Observations, CsvMapping), CliError> {
    for (flag, v) in [("--n-unit", n_unit), ("--d-unit", d_unit)] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                return Err(CliError::Usage(format!("{flag} {v} must be a positive number, e.g. 1e6")));
            }
        }
    }
    let store = ResultsDir::open_existing(dir).map_err(CliError::Results)?;
    let scan = store.scan().map_err(CliError::Results)?;
    if skip_damaged && !scan.damaged.is_empty() {
        note(&skipped_note(&scan.damaged));
    }
    let records = scan.intact(dir, skip_damaged).map_err(CliError::Results)?;
    let records = select_family(records, family, dir).map_err(CliError::Results)?;
    let family = records[0].family();
    let d_name = d_unit_name(family);
    let n_unit = n_unit.unwrap_or(crate::experiment::N_UNIT);
    let d_unit = d_unit.unwrap_or(family.d_unit());
    let obs = observations(&records, n_unit, d_unit).map_err(CliError::Results)?;
    let mut vars = vec![
        ("S".into(), "sparsity".into()),
        ("N".into(), format!("nonzero_params/{n_unit:e}")),
        ("D".into(), format!("{d_name}/{d_unit:e}")),
    ];
    if obs.column("Nbar").is_some() {
        vars.push(("Nbar".into(), format!("avg_nonzero_params/{n_unit:e}")));
    }
    let mapping = CsvMapping {
        vars,
        loss: "final_val_loss".into(),
        weight: None,
        rename: Default::default(),
        categorical: CATEGORICAL_COLUMNS.iter().map(|c| c.to_string()).collect(),
    };
    Ok((obs, mapping))
}

/// Reads a fit record written by `sparse-scaling fit --json`.
pub fn read_record(path: &Path) -> Result<FitRecord, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Io { path: path.to_path_buf(), message: format!("cannot read: {e}") })?;
    let r: FitRecord = serde_json::from_str(&text).map_err(|e| CliError::Io {
        path: path.to_path_buf(),
        message: format!("not a fit written by `sparse-scaling fit --json`: {e}"),
    })?;
    if r.format != FitRecord::FORMAT {
        return Err(CliError::Io {
            path: path.to_path_buf(),
            message: format!(
                "fit format {} is not supported (expected {}); refit with this version",
                r.format,
                FitRecord::FORMAT
            ),
        });
    }
    let points = r.observations.loss.len();
    let lengths = [
        ("observations.columns", r.observations.columns.iter().map(Vec::len).find(|&l| l != points)),
        ("observations.weights", r.observations.weights.as_ref().map(Vec::len).filter(|&l| l != points)),
        ("fit.predictions", Some(r.fit.predictions.len()).filter(|&l| l != points)),
        ("fit.residuals", Some(r.fit.residuals.len()).filter(|&l| l != points)),
    ];
    if let Some((field, Some(len))) = lengths.into_iter().find(|(_, l)| l.is_some()) {
        return Err(CliError::Io {
            path: path.to_path_buf(),
            message: format!(
                "field `{field}` has {len} values for the {points} points of `observations.loss`; the file is \
                 damaged, refit with `sparse-scaling fit --json`"
            ),
        });
    }
    // A grouped law (`a[method]`) has one fitted value per group of each indexed parameter.
    let expected = if r.fit.groups.is_empty() { r.law.params.len() } else { r.fit.param_names.len() };
    if r.fit.params.len() != expected {
        return Err(CliError::Io {
            path: path.to_path_buf(),
            message: format!("{} values for {} parameters; the file is damaged, refit", r.fit.params.len(), expected),
        });
    }
    Ok(r)
}

/// Writes JSON to a file.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Io { path: path.to_path_buf(), message: format!("cannot encode JSON: {e}") })?;
    std::fs::write(path, text + "\n").map_err(|e| CliError::Io {
        path: path.to_path_buf(),
        message: format!("cannot write: {e}; check that the directory exists and is writable"),
    })
}
