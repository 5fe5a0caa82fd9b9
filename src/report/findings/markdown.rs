//! [`Findings`] as Markdown: per family, a heading and one table per comparison, each
//! followed by its one-line summary.

use std::fmt::Write as _;

use super::{FamilyFindings, Findings, Reading};

/// A loss to 4 decimals.
fn l(x: f64) -> String {
    format!("{x:.4}")
}

impl Findings {
    /// The findings as Markdown.
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        for f in &self.families {
            family(&mut o, f, &self.sources.join(", "));
        }
        o
    }
}

impl FamilyFindings {
    /// This family's section as Markdown, its heading naming `sources`.
    pub fn markdown(&self, sources: &str) -> String {
        let mut o = String::new();
        family(&mut o, self, sources);
        o
    }
}

fn family(o: &mut String, f: &FamilyFindings, sources: &str) {
    let _ = writeln!(
        o,
        "# {}: {} records from {sources}; training {:.0} s in all (wall_seconds)",
        f.family, f.records, f.wall_seconds
    );
    let t = &f.loss_table;
    let _ = writeln!(o, "\n## final validation loss");
    let cols: Vec<String> = t.columns.iter().map(|c| format!("S = {:?} {}", c.sparsity, c.method)).collect();
    let _ = writeln!(o, "| width, steps | {} |", cols.join(" | "));
    let _ = writeln!(o, "{}|", "|---".repeat(cols.len() + 1));
    for r in &t.rows {
        let vals: Vec<String> = r.losses.iter().map(|v| v.map_or("–".to_string(), l)).collect();
        let _ = writeln!(o, "| {}, {} | {} |", r.width, r.steps, vals.join(" | "));
    }

    let _ = writeln!(
        o,
        "\n## equal N, equal D (each record against the least sparse record of its N and length; < 0: sparser better)"
    );
    let _ = writeln!(o, "| N | width, S, method | width, S, method | steps | loss | loss | diff |");
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for p in &f.equal_n.pairs {
        let (b, r) = (&p.base, &p.other);
        let _ = writeln!(
            o,
            "| {} | {}, {:?}, {} | {}, {:?}, {} | {} | {} | {} | {:+.4} |",
            b.n,
            b.width,
            b.sparsity,
            b.method,
            r.width,
            r.sparsity,
            r.method,
            r.steps,
            l(b.loss),
            l(r.loss),
            p.diff
        );
    }
    for t in &f.equal_n.tallies {
        let _ = writeln!(
            o,
            "S = {:?} {} against S = {:?} {}: sparser better in {} of {} equal-N, equal-D pairs",
            t.sparsity, t.method, t.base_sparsity, t.base_method, t.sparser_better, t.pairs
        );
    }

    let _ =
        writeln!(o, "\n## equal N, equal C = 6·N/(1-S)·D (the less sparse model trained (1-S_b)/(1-S) times longer)");
    let _ = writeln!(o, "| N | width, S, method, steps | width, S, method, steps | loss | loss | diff |");
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for p in &f.equal_c.pairs {
        let (b, r) = (&p.base, &p.other);
        let _ = writeln!(
            o,
            "| {} | {}, {:?}, {}, {} | {}, {:?}, {}, {} | {} | {} | {:+.4} |",
            r.n,
            b.width,
            b.sparsity,
            b.method,
            b.steps,
            r.width,
            r.sparsity,
            r.method,
            r.steps,
            l(b.loss),
            l(r.loss),
            p.diff
        );
    }
    let _ = writeln!(
        o,
        "sparser better in {} of {} equal-N, equal-C pairs",
        f.equal_c.sparser_better,
        f.equal_c.pairs.len()
    );

    let _ = writeln!(
        o,
        "\n## dense-equivalent multiplier m = N*/N from the records (N*: dense size of equal loss, same length)"
    );
    let _ = writeln!(o, "| S | method | width | steps | N | loss | N* | m |");
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
    for m in &f.multiplier.rows {
        let r = &m.run;
        let (n_star, mult) = match &m.reading {
            Reading::Equivalent { n_star, m } => (format!("{n_star:.0}"), format!("{m:.2}")),
            Reading::RisingPart => ("only on a part of the dense curve where loss rises with N".into(), "–".into()),
            Reading::BetterThanEveryDense => ("better than every dense".into(), "–".into()),
            Reading::WorseThanEveryDense => ("worse than every dense".into(), "–".into()),
        };
        let _ = writeln!(
            o,
            "| {:?} | {} | {} | {} | {} | {} | {n_star} | {mult} |",
            r.sparsity,
            r.method,
            r.width,
            r.steps,
            r.n,
            l(r.loss)
        );
    }
    for s in &f.multiplier.summaries {
        let _ = writeln!(
            o,
            "m({:?}) {}: median {:.2}, range {:.2}–{:.2} over {} records",
            s.sparsity, s.method, s.median, s.min, s.max, s.records
        );
    }

    if let Some(rows) = &f.n_m {
        let _ = writeln!(o, "\n## n:m against unstructured GMP at the same width, length and sparsity");
        let _ = writeln!(
            o,
            "| width | steps | S | n:m | dense loss | GMP loss | n:m loss | n:m − GMP | share of the dense→GMP gap |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
        for r in rows {
            let share = r.share_of_gap.map_or("–".to_string(), |s| format!("{s:+.2}"));
            let _ = writeln!(
                o,
                "| {} | {} | {:?} | {} | {} | {} | {} | {:+.4} | {share} |",
                r.width,
                r.steps,
                r.sparsity,
                r.method,
                l(r.dense_loss),
                l(r.gmp_loss),
                l(r.loss),
                r.minus_gmp
            );
        }
    }

    if let Some(s) = &f.shapes {
        let _ = writeln!(
            o,
            "\n## schedule shapes at equal final S and N (same width and length): does a larger N̄ mean a lower loss?"
        );
        let _ =
            writeln!(o, "| width | steps | S | shape: N̄/N, loss (by N̄, largest first) | best | loss falls with N̄ |");
        let _ = writeln!(o, "|---|---|---|---|---|---|");
        for c in &s.cells {
            let desc: Vec<String> =
                c.shapes.iter().map(|e| format!("{}: {:.2}, {}", e.method, e.nbar_over_n, l(e.loss))).collect();
            let _ = writeln!(
                o,
                "| {} | {} | {:?} | {} | {} | {} |",
                c.width,
                c.steps,
                c.sparsity,
                desc.join("; "),
                c.best,
                if c.loss_falls { "yes" } else { "no" }
            );
        }
        let best: Vec<String> = s.best.iter().map(|(m, n)| format!("{m} {n}")).collect();
        let _ = writeln!(
            o,
            "loss falls monotonically with N̄ in {} of {} cells; best shape: {}",
            s.monotone,
            s.cells.len(),
            best.join(", ")
        );
    }

    if let Some(s) = &f.seeds {
        let _ = writeln!(o, "\n## seed-to-seed spread (the same point trained with different seeds)");
        let _ = writeln!(o, "| width | S | method | steps | losses (seed: loss) | max − min |");
        let _ = writeln!(o, "|---|---|---|---|---|---|");
        for g in &s.groups {
            let losses: Vec<String> = g.losses.iter().map(|x| format!("{}: {}", x.seed, l(x.loss))).collect();
            let _ = writeln!(
                o,
                "| {} | {:?} | {} | {} | {} | {:.4} |",
                g.width,
                g.sparsity,
                g.method,
                g.steps,
                losses.join(", "),
                g.spread
            );
        }
        let _ = writeln!(o, "spread max − min: median {:.4}, largest {:.4}", s.median_spread, s.largest_spread);
    }
}
