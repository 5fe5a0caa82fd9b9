//! Loading and validating observations: the T5 table, column mapping, and bad input.

use sparse_scaling_law::data::CsvMapping;
use sparse_scaling_law::{fit, DataError, FitError, FitOptions, Law, LawError, Observations};

const T5: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/t5-data.csv");

fn load(text: &str) -> Result<Observations, DataError> {
    Observations::from_csv_str(text, "test.csv", &CsvMapping::t5_paper())
}

#[test]
fn t5_table_maps_to_normalised_units() {
    let obs = Observations::from_csv_path(T5, &CsvMapping::t5_paper()).unwrap();
    assert_eq!(obs.len(), 48);
    // Row 1: S = 0, scale = 1/128, steps = 250k, val-loss = 3.1256...
    let n0 = 24.0 * 12.0 * 768f64.powi(2) * 0.0078125 / 1e6;
    assert!((obs.column("N").unwrap()[0] - n0).abs() < 1e-12);
    assert_eq!(obs.column("D").unwrap()[0], 2.5);
    assert_eq!(obs.column("S").unwrap()[3], 0.875);
    assert!((obs.loss[0] - 3.1256396912691886).abs() < 1e-15);
    // Within a group N is constant (docs/THEORY.md §2).
    let n = obs.column("N").unwrap();
    assert!((n[0] - n[3]).abs() < 1e-9 && (n[12] - n[15]).abs() < 1e-9);
}

#[test]
fn column_names_by_alias_backticks_and_rename() {
    let csv = "sparsity,scale,val-loss,steps,note\n0.5,1,2.0,250000,x\n";
    let mut m = CsvMapping::t5_paper();
    m.loss = "val_loss".into();
    assert_eq!(load_with(csv, &m).unwrap().loss, [2.0]);
    m.loss = "2 * `val-loss`".into();
    assert_eq!(load_with(csv, &m).unwrap().loss, [4.0]);
    m.rename.insert("L".into(), "val-loss".into());
    m.loss = "L".into();
    assert_eq!(load_with(csv, &m).unwrap().loss, [2.0]);
    // A text column nobody uses is fine; using it is an error naming row and column.
    m.loss = "note".into();
    let err = load_with(csv, &m).unwrap_err();
    assert!(matches!(&err, DataError::NotANumber { row: 1, column, .. } if column == "note"), "{err}");
}

fn load_with(text: &str, m: &CsvMapping) -> Result<Observations, DataError> {
    Observations::from_csv_str(text, "test.csv", m)
}

#[test]
fn bad_input_gives_structured_errors() {
    let head = "sparsity,scale,val-loss,steps\n";
    assert!(matches!(load(head), Err(DataError::Empty { .. })));
    assert!(load("").is_err());
    let err = load(&format!("{head}0.5,1,2.0,250000\n0.5,1,2.0\n")).unwrap_err();
    assert!(matches!(err, DataError::Ragged { row: 2, expected: 4, found: 3, .. }), "{err}");
    let err = load(&format!("{head}0.5,1,2.0,250000\n0.5,1,NaN,250000\n")).unwrap_err();
    assert!(matches!(err, DataError::NotFinite { row: 2, .. }), "{err}");
    let err = load(&format!("{head}0.5,1,-2.0,250000\n")).unwrap_err();
    assert!(matches!(err, DataError::NonPositiveLoss { row: 1, .. }), "{err}");
    let err = load(&format!("{head}0.5,1,0,250000\n")).unwrap_err();
    assert!(matches!(err, DataError::NonPositiveLoss { row: 1, .. }), "{err}");
    let err = load(&format!("{head}0.5,1,2,250000\n1.0,1,2,250000\n")).unwrap_err();
    assert!(matches!(err, DataError::SparsityOutOfRange { row: 2, .. }), "{err}");
    assert!(err.to_string().contains("test.csv"));
    let err = load(&format!("{head}-0.1,1,2,250000\n")).unwrap_err();
    assert!(matches!(err, DataError::SparsityOutOfRange { row: 1, .. }), "{err}");
    let err = load(&format!("{head}0.5,x,2,250000\n")).unwrap_err();
    assert!(matches!(err, DataError::NotANumber { row: 1, .. }), "{err}");

    let mut m = CsvMapping::t5_paper();
    m.vars[2].1 = "stepz/1e5".into();
    let err = load_with(&format!("{head}0.5,1,2,250000\n"), &m).unwrap_err();
    assert!(matches!(&err, DataError::UnknownColumn { column, .. } if column == "stepz"), "{err}");
    assert!(err.to_string().contains("steps"));
    m.vars[2].1 = "steps/(1e5".into();
    let err = load_with(&format!("{head}0.5,1,2,250000\n"), &m).unwrap_err();
    assert!(matches!(&err, DataError::BadExpression { error, .. } if error.column == 11), "{err}");

    // Direct construction.
    let s = |v: Vec<f64>| vec![v];
    assert!(matches!(Observations::new(vec!["S".into()], s(vec![0.1]), vec![], None), Err(DataError::Empty { .. })));
    assert!(matches!(
        Observations::new(vec!["S".into()], s(vec![0.1, 0.2]), vec![1.0], None),
        Err(DataError::LengthMismatch { .. })
    ));
    assert!(matches!(
        Observations::new(vec!["N".into()], s(vec![f64::NAN]), vec![1.0], None),
        Err(DataError::NotFinite { row: 1, .. })
    ));
    assert!(matches!(
        Observations::new(vec!["N".into()], s(vec![1.0, 2.0]), vec![1.0, 1.0], Some(vec![1.0, -1.0])),
        Err(DataError::BadWeight { row: 2, .. })
    ));
    assert!(matches!(
        Observations::new(vec!["N".into(), "N".into()], vec![vec![1.0], vec![1.0]], vec![1.0], None),
        Err(DataError::BadVariables { .. })
    ));
    assert!(CsvMapping::from_assignments(&["D"], "loss").is_err());
}

#[test]
fn fitting_a_law_whose_variable_is_missing_is_an_error() {
    let obs = Observations::new(vec!["N".into()], vec![vec![1.0, 2.0, 3.0]], vec![3.0, 2.0, 1.5], None).unwrap();
    let law = Law::builtin("paper-normalised").unwrap();
    let err = fit(&law, &obs, &FitOptions::default()).unwrap_err();
    assert!(matches!(&err, FitError::Law(LawError::UnknownVariable { name, .. }) if name == "S"), "{err}");
    let err =
        fit(&Law::builtin("chinchilla").unwrap(), &obs, &FitOptions { huber_delta: -1.0, ..FitOptions::default() });
    assert!(matches!(err, Err(FitError::Options { .. })));
    // Log residuals of a law that predicts negative losses from every start: an error.
    let err = fit(&Law::parse("a - N^(1 + b)", &[]).unwrap(), &obs, &FitOptions { starts: 3, ..FitOptions::default() });
    assert!(matches!(err, Err(FitError::NoValidStart { starts: 3 })), "{err:?}");
    let mut opts = FitOptions::default();
    opts.fixed.insert("zeta".into(), 1.0);
    assert!(matches!(
        fit(&Law::parse("E + A/N^alpha", &[]).unwrap(), &obs, &opts),
        Err(FitError::UnknownParameter { .. })
    ));
}

#[test]
fn fit_options_reject_unknown_fields() {
    let ok: FitOptions = serde_json::from_str(r#"{"huber_delta": 0.01, "residual": "raw", "starts": 3}"#).unwrap();
    assert_eq!(ok.starts, 3);
    assert_eq!(ok.seed, FitOptions::default().seed);
    assert!(serde_json::from_str::<FitOptions>(r#"{"huber_detla": 0.01}"#).is_err());
}
