//! Validation of an experiment and its expansion into points.
//!
//! Validation collects every problem (not only the first), each with the field path and the
//! fix. Expansion then resolves each combination of the axes into a [`Point`].

use crate::error::Issue;
use crate::point::{prunable_params, Dims, Point, PointLr, PointSpec};
use crate::schema::{At, Axes, Experiment, Family, Pruning, Sizes, TEXT_VOCAB};

fn issue(field: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Issue {
    Issue { field: field.into(), line: 0, column: 0, problem: problem.into(), fix: fix.into() }
}

/// One combination of the depth, size, sparsity and steps axes, before pruning and seeds.
#[derive(Debug, Clone, Copy)]
struct Combo {
    depth: usize,
    size: usize,
    sparsity: f64,
    steps: u64,
}

impl Experiment {
    fn combos(&self) -> Vec<Combo> {
        let nsizes = match &self.model.sizes {
            Sizes::Widths(w) => w.len(),
            Sizes::NonZero(n) => n.len(),
        };
        let depths = self.model.depths();
        let mut out = Vec::new();
        match self.axes {
            Axes::Product | Axes::Derived => {
                for &depth in &depths {
                    for size in 0..nsizes {
                        for &sparsity in &self.sparsity {
                            for &steps in &self.steps {
                                out.push(Combo { depth, size, sparsity, steps });
                            }
                        }
                    }
                }
            }
            Axes::Zip => {
                let len = nsizes.max(self.sparsity.len()).max(self.steps.len()).max(depths.len());
                let pick = |l: usize, i: usize| if l == 1 { 0 } else { i };
                for i in 0..len {
                    if pick(nsizes, i) >= nsizes
                        || pick(self.sparsity.len(), i) >= self.sparsity.len()
                        || pick(self.steps.len(), i) >= self.steps.len()
                        || pick(depths.len(), i) >= depths.len()
                    {
                        continue;
                    }
                    out.push(Combo {
                        depth: depths[pick(depths.len(), i)],
                        size: pick(nsizes, i),
                        sparsity: self.sparsity[pick(self.sparsity.len(), i)],
                        steps: self.steps[pick(self.steps.len(), i)],
                    });
                }
            }
        }
        out
    }

    fn dims_for_width(&self, width: usize, depth: usize) -> Dims {
        Dims {
            width,
            mlp_width: (width as f64 * self.model.mlp_ratio()).round() as usize,
            depth,
            heads: self.model.heads(),
        }
    }

    /// Width of size entry `size` at sparsity `s` and depth `depth`, and the non-zero target it
    /// came from.
    fn resolve_width(&self, size: usize, s: f64, depth: usize) -> (usize, Option<f64>) {
        let mult = self.model.width_multiple().max(1);
        match &self.model.sizes {
            Sizes::Widths(w) => {
                let w0 = w[size];
                if self.axes == Axes::Derived {
                    let exact = w0 as f64 / (1.0 - s).sqrt();
                    let k = (exact / mult as f64).round().max(1.0) as usize;
                    (k * mult, None)
                } else {
                    (w0, None)
                }
            }
            Sizes::NonZero(ns) => {
                let target_total = ns[size] / (1.0 - s);
                let mut best = (f64::INFINITY, mult);
                for k in 1..=4096usize {
                    let w = k * mult;
                    let count = prunable_params(self.model.family, &self.dims_for_width(w, depth)) as f64;
                    let err = (count.ln() - target_total.ln()).abs();
                    if err < best.0 {
                        best = (err, w);
                    }
                    if count > target_total * 4.0 {
                        break;
                    }
                }
                (best.1, Some(ns[size]))
            }
        }
    }

    /// Every problem of the experiment, with field paths (positions are filled in by
    /// [`crate::ExperimentFile`]). Empty when the experiment is valid.
    pub fn issues(&self) -> Vec<Issue> {
        let mut out = Vec::new();
        let e = self;
        if e.name.trim().is_empty() {
            out.push(issue("name", "the name is empty", "give the experiment a name, e.g. `name: \"vit-sweep\"`"));
        }
        // --- axes must be non-empty
        let sizes_len = match &e.model.sizes {
            Sizes::Widths(w) => w.len(),
            Sizes::NonZero(n) => n.len(),
        };
        if sizes_len == 0 {
            out.push(issue(
                "model.sizes",
                "the size axis is empty",
                "list at least one size, e.g. `sizes: Widths([32, 64])`",
            ));
        }
        if e.sparsity.is_empty() {
            out.push(issue(
                "sparsity",
                "the sparsity axis is empty",
                "list at least one level, e.g. `sparsity: [0.0, 0.5]`",
            ));
        }
        if e.steps.is_empty() {
            out.push(issue(
                "steps",
                "the steps axis is empty",
                "list at least one training length, e.g. `steps: [200]`",
            ));
        }
        if e.pruning.is_empty() {
            out.push(issue(
                "pruning",
                "the pruning axis is empty",
                "list at least one method, e.g. `pruning: [Gmp()]`, or remove the field",
            ));
        }
        if e.seeds.is_empty() {
            out.push(issue(
                "seeds",
                "the seed axis is empty",
                "list at least one seed, e.g. `seeds: [0]`, or remove the field",
            ));
        }
        for (i, &s) in e.sparsity.iter().enumerate() {
            if !(s.is_finite() && (0.0..1.0).contains(&s)) {
                out.push(issue(
                    format!("sparsity[{i}]"),
                    format!("sparsity {s} is outside [0, 1)"),
                    "use a fraction of zeros below 1, e.g. 0.5 or 0.875 (S = 1 would remove every weight)",
                ));
            }
        }
        for (i, &t) in e.steps.iter().enumerate() {
            if t == 0 {
                out.push(issue(format!("steps[{i}]"), "a run of 0 steps", "use a positive number of steps"));
            }
        }
        // --- sizes
        match &e.model.sizes {
            Sizes::Widths(ws) => {
                for (i, &w) in ws.iter().enumerate() {
                    if w == 0 {
                        out.push(issue(format!("model.sizes[{i}]"), "width 0", "use a positive width such as 64"));
                    }
                }
            }
            Sizes::NonZero(ns) => {
                for (i, &n) in ns.iter().enumerate() {
                    if !(n.is_finite() && n >= 1.0) {
                        out.push(issue(
                            format!("model.sizes[{i}]"),
                            format!("non-zero target {n} is not a positive count"),
                            "give the number of non-zero weights, e.g. `NonZero([1e5, 2e5])`",
                        ));
                    }
                }
                if e.axes == Axes::Derived {
                    out.push(issue(
                        "axes",
                        "`Derived` ties widths to sparsity, but the sizes are already non-zero targets",
                        "use `axes: Product` with `NonZero` sizes (they already keep N constant), or give `Widths`",
                    ));
                }
            }
        }
        if let Sizes::Widths(ws) = &e.model.sizes {
            if e.axes == Axes::Derived && !ws.is_empty() {
                // fine; checked per combination below
            }
        }
        let depths = e.model.depths();
        if e.axes == Axes::Zip {
            let lens = [
                ("model.sizes", sizes_len),
                ("sparsity", e.sparsity.len()),
                ("steps", e.steps.len()),
                ("model.depth", depths.len()),
            ];
            let max = lens.iter().map(|l| l.1).max().unwrap_or(0);
            for (f, l) in lens {
                if l != 1 && l != max && l != 0 {
                    out.push(issue(f, format!("`axes: Zip` pairs lists element by element, but this list has {l} entries and another has {max}"), format!("give it {max} entries (or 1, to repeat it)")));
                }
            }
        }
        // --- model shape
        let m = &e.model;
        match &m.depth {
            Some(crate::schema::Depth::Axis(ds)) if ds.is_empty() => out.push(issue(
                "model.depth",
                "the depth axis is empty",
                "list at least one depth, e.g. `depth: [2, 4]`, or give one number, e.g. `depth: 2`",
            )),
            Some(crate::schema::Depth::Axis(ds)) => {
                for (i, _) in ds.iter().enumerate().filter(|(_, &d)| d == 0) {
                    out.push(issue(format!("model.depth[{i}]"), "depth 0", "use at least 1 block"));
                }
            }
            _ if depths.contains(&0) => out.push(issue("model.depth", "depth 0", "use at least 1 block")),
            _ => {}
        }
        if m.heads() == 0 {
            out.push(issue("model.heads", "0 heads", "use at least 1 head"));
        }
        let ratio = m.mlp_ratio();
        if !(ratio.is_finite() && ratio > 0.0) {
            out.push(issue("model.mlp_ratio", format!("MLP ratio {ratio} is not positive"), "use e.g. 4.0"));
        }
        if m.width_multiple() == 0 {
            out.push(issue("model.width_multiple", "width multiple 0", "use a positive multiple, e.g. 16"));
        }
        match m.family {
            Family::Vit => {
                if m.t5.is_some() {
                    out.push(issue(
                        "model.t5",
                        "a T5 shape is given for a ViT model",
                        "remove `t5: …` or set `family: T5`",
                    ));
                }
                if m.decoder.is_some() {
                    out.push(issue(
                        "model.decoder",
                        "a decoder shape is given for a ViT model",
                        "remove `decoder: …` or set `family: Decoder`",
                    ));
                }
                let v = m.vit.clone().unwrap_or_default();
                for (f, x) in [
                    ("image_size", v.image_size),
                    ("patch_size", v.patch_size),
                    ("channels", v.channels),
                    ("classes", v.classes),
                ] {
                    if x == 0 {
                        out.push(issue(format!("model.vit.{f}"), format!("`{f}` is 0"), "use a positive value"));
                    }
                }
                if v.patch_size > 0 && v.image_size % v.patch_size != 0 {
                    out.push(issue(
                        "model.vit.patch_size",
                        format!("patch size {} does not divide image size {}", v.patch_size, v.image_size),
                        "choose a patch size that divides the image size, e.g. 4 for 16×16 images",
                    ));
                }
            }
            Family::T5 => {
                if m.vit.is_some() {
                    out.push(issue(
                        "model.vit",
                        "a ViT shape is given for a T5 model",
                        "remove `vit: …` or set `family: Vit`",
                    ));
                }
                if m.decoder.is_some() {
                    out.push(issue(
                        "model.decoder",
                        "a decoder shape is given for a T5 model",
                        "remove `decoder: …` or set `family: Decoder`",
                    ));
                }
                let t = m.t5.clone().unwrap_or_default();
                for (f, x) in [("vocab", t.vocab), ("input_len", t.input_len), ("target_len", t.target_len)] {
                    if x == 0 {
                        out.push(issue(format!("model.t5.{f}"), format!("`{f}` is 0"), "use a positive value"));
                    }
                }
                if t.vocab > 0 && t.vocab < TEXT_VOCAB {
                    out.push(issue(
                        "model.t5.vocab",
                        format!("vocabulary {} is smaller than the {TEXT_VOCAB} token ids the text data uses (PAD, EOS, UNK, 256 bytes, span sentinels)", t.vocab),
                        format!("use `vocab: {TEXT_VOCAB}` or more"),
                    ));
                }
            }
            Family::Decoder => {
                for (given, name, label) in [(m.vit.is_some(), "vit", "ViT"), (m.t5.is_some(), "t5", "T5")] {
                    if given {
                        out.push(issue(
                            format!("model.{name}"),
                            format!("a {label} shape is given for a decoder model"),
                            format!("remove `{name}: …` (a decoder's shape is `decoder: (vocab: …, seq_len: …)`)"),
                        ));
                    }
                }
                let t = m.decoder.clone().unwrap_or_default();
                for (f, x) in [("vocab", t.vocab), ("seq_len", t.seq_len)] {
                    if x == 0 {
                        out.push(issue(format!("model.decoder.{f}"), format!("`{f}` is 0"), "use a positive value"));
                    }
                }
                if t.vocab > 0 && t.vocab < TEXT_VOCAB {
                    out.push(issue(
                        "model.decoder.vocab",
                        format!("vocabulary {} is smaller than the {TEXT_VOCAB} token ids the text data uses (PAD, EOS, UNK, 256 bytes, span sentinels)", t.vocab),
                        format!("use `vocab: {TEXT_VOCAB}` or more"),
                    ));
                }
            }
        }
        // --- per-combination checks: divisibility of resolved widths, schedules
        let size_ok = sizes_len > 0
            && !depths.is_empty()
            && out.iter().all(|i| {
                !i.field.starts_with("model.sizes") && !i.field.starts_with("model.depth") && i.field != "axes"
            });
        let sparsity_ok = e.sparsity.iter().all(|s| s.is_finite() && (0.0..1.0).contains(s));
        if size_ok && sparsity_ok && m.heads() > 0 && m.width_multiple() > 0 && ratio.is_finite() && ratio > 0.0 {
            let mut seen = std::collections::BTreeSet::new();
            for c in self.combos() {
                let (w, _) = self.resolve_width(c.size, c.sparsity, c.depth);
                if !seen.insert((c.size, w)) {
                    continue;
                }
                let field = format!("model.sizes[{}]", c.size);
                if w % m.heads() != 0 {
                    out.push(issue(
                        &field,
                        format!("{} heads do not divide width {w}", m.heads()),
                        format!("use a width that is a multiple of {} (or change `model.heads`)", m.heads()),
                    ));
                }
                let exact = w as f64 * ratio;
                if (exact - exact.round()).abs() > 1e-9 {
                    out.push(issue(
                        &field,
                        format!("width {w} × mlp_ratio {ratio} = {exact} is not a whole MLP width"),
                        "choose a width or `model.mlp_ratio` whose product is an integer",
                    ));
                }
                let mlp = exact.round() as usize;
                for (pi, p) in e.pruning.iter().enumerate() {
                    if let Pruning::NM { m: gm, .. } = *p {
                        if gm > 0 && (w % gm != 0 || mlp % gm != 0) {
                            out.push(issue(format!("pruning[{pi}].m"), format!("n:m groups of m = {gm} do not divide the input widths of every pruned layer (width {w}, MLP width {mlp}, from `{field}`)"), format!("use an m that divides both {w} and {mlp} (e.g. 4 or 8), or widths that are multiples of {gm}")));
                        }
                    }
                }
            }
        }
        // --- pruning
        for (pi, p) in e.pruning.iter().enumerate() {
            let base = format!("pruning[{pi}]");
            let (shape, start, end, every) = match *p {
                Pruning::Gmp { shape, start, end, update_every } => (shape, start, end, update_every),
                Pruning::NM { n, m: gm, shape, start, end, update_every, .. } => {
                    if n == 0 || n >= gm {
                        out.push(issue(
                            format!("{base}.n"),
                            format!("n:m needs 0 < n < m, got {n}:{gm}"),
                            "keep fewer weights than the group size, e.g. `NM(n: 2, m: 4)`",
                        ));
                    } else if !e.sparsity.is_empty()
                        && !e.sparsity.iter().any(|&s| (s - (1.0 - n as f64 / gm as f64)).abs() <= 1e-9)
                    {
                        out.push(issue(&base, format!("{n}:{gm} pruning has sparsity {} but that level is not in `sparsity`, so it yields no point", 1.0 - n as f64 / gm as f64), format!("add {} to `sparsity`", 1.0 - n as f64 / gm as f64)));
                    }
                    (shape, start, end, update_every)
                }
                Pruning::FromDense { dense_steps, shape, start, end, update_every } => {
                    if dense_steps == 0 {
                        out.push(issue(
                            format!("{base}.dense_steps"),
                            "the dense run has 0 steps",
                            "give the length of the dense run to prune, e.g. `dense_steps: 400`",
                        ));
                    }
                    (shape, start, end, update_every)
                }
            };
            if !shape.is_valid() {
                out.push(issue(
                    format!("{base}.shape"),
                    format!("the schedule shape {shape:?} has no valid power"),
                    "give a polynomial a finite power above 0, e.g. `Polynomial(3.0)` (cubic) or `Linear`",
                ));
            }
            if every == 0 {
                out.push(issue(
                    format!("{base}.update_every"),
                    "masks updated every 0 steps",
                    "use a positive interval, e.g. 10",
                ));
            }
            for (f, at) in [("start", start), ("end", end)] {
                if let At::Fraction(x) = at {
                    if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
                        out.push(issue(
                            format!("{base}.{f}"),
                            format!("fraction {x} is outside [0, 1]"),
                            "give a fraction of training such as 0.25, or `Step(n)`",
                        ));
                    }
                }
            }
            for &steps in &e.steps {
                if steps == 0 {
                    continue;
                }
                let one_shot = shape.canonical() == crate::pruning::ScheduleShape::OneShot;
                let (s0, s1) =
                    (start.resolve(steps), if one_shot { start.resolve(steps) + 1 } else { end.resolve(steps) });
                if !(s0 < s1 && s1 <= steps) {
                    out.push(issue(
                        format!("{base}.start"),
                        format!("for a run of {steps} steps the schedule is start = {s0}, end = {s1}, but it needs start < end ≤ steps"),
                        "make `start` smaller than `end` and `end` at most the number of steps (fractions such as 0.25 and 0.75 adapt to every length)",
                    ));
                    break;
                }
            }
        }
        // --- optimizer, schedule, lengths and the analysis's numbers: finite and in range
        crate::bounds::optimizer_issues(e, &mut out);
        crate::bounds::step_issues(e, &mut out);
        crate::bounds::analysis_issues(e, &mut out);
        if e.batch_size == 0 {
            out.push(issue("batch_size", "batch size 0", "use e.g. 32"));
        }
        if e.validation.examples == 0 {
            out.push(issue("validation.examples", "no validation examples", "use e.g. 256"));
        }
        if e.validation.every == Some(0) {
            out.push(issue(
                "validation.every",
                "evaluation every 0 steps",
                "use a positive interval, or remove it (default: a tenth of the run)",
            ));
        }
        if e.checkpoint_every == Some(0) {
            out.push(issue(
                "checkpoint_every",
                "checkpoint every 0 steps",
                "use a positive interval, or remove it (default: a tenth of the run)",
            ));
        }
        // --- data matches the family
        match (&e.data, m.family) {
            (crate::schema::Data::JsonLines { .. }, Family::Vit) => {
                out.push(issue(
                    "data",
                    "JSON-lines text is data for T5 and decoder models, this is a ViT",
                    "use `Synthetic`, `ImageFolder(path: …)` or `CifarBinary(path: …)`, or set `family: T5`",
                ));
            }
            (crate::schema::Data::ImageFolder { .. } | crate::schema::Data::CifarBinary { .. }, Family::Decoder) => {
                out.push(issue(
                    "data",
                    "image data is for ViT models, this is a decoder",
                    "use `Synthetic` or `JsonLines(path: …)`, or set `family: Vit`",
                ));
            }
            (crate::schema::Data::ImageFolder { .. } | crate::schema::Data::CifarBinary { .. }, Family::T5) => {
                out.push(issue(
                    "data",
                    "image data is for ViT models, this is a T5",
                    "use `Synthetic` or `JsonLines(path: …)`, or set `family: Vit`",
                ));
            }
            _ => {}
        }
        // --- analysis
        if let Some(a) = &e.analysis {
            if !(a.huber_delta > 0.0) {
                out.push(issue(
                    "analysis.huber_delta",
                    "Huber δ must be positive",
                    "use 0.01 (raw residuals) or 0.001 (log residuals)",
                ));
            }
            if a.starts == 0 {
                out.push(issue("analysis.starts", "0 starts", "use e.g. 25"));
            }
            if !(a.n_unit > 0.0) {
                out.push(issue("analysis.n_unit", "the unit of N must be positive", "use e.g. 1e6"));
            }
            if let Some(d) = a.d_unit {
                if !(d > 0.0) {
                    out.push(issue("analysis.d_unit", "the unit of D must be positive", "use e.g. 1e5"));
                }
            }
        }
        // the law and cost model, over the sweep's points once the rest is valid
        let points_valid = out.is_empty();
        out.extend(crate::formula::analysis_issues(e, points_valid));
        // --- what each point needs, once the rest is valid (expansion assumes it)
        if points_valid {
            crate::bounds::memory_issues(&self.expand_unchecked(), &mut out);
        }
        out
    }

    /// The points of the experiment, in a fixed order (depths, sizes, then sparsity, pruning
    /// methods, steps, seeds). Points that resolve to the same run (e.g. S = 0 under
    /// several pruning methods) appear once. Call [`Experiment::issues`] (or use
    /// [`Experiment::expand`]) first: this does not validate.
    pub fn expand_unchecked(&self) -> Vec<Point> {
        let mut out: Vec<Point> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in self.combos() {
            let (width, target) = self.resolve_width(c.size, c.sparsity, c.depth);
            let dims = self.dims_for_width(width, c.depth);
            for p in &self.pruning {
                let Some(pruning) = p.resolve(c.sparsity, c.steps) else { continue };
                for &seed in &self.seeds {
                    let spec = PointSpec {
                        family: self.model.family,
                        dims: dims.clone(),
                        vit: (self.model.family == Family::Vit).then(|| self.model.vit.clone().unwrap_or_default()),
                        t5: (self.model.family == Family::T5).then(|| self.model.t5.clone().unwrap_or_default()),
                        decoder: (self.model.family == Family::Decoder)
                            .then(|| self.model.decoder.clone().unwrap_or_default()),
                        sparsity: c.sparsity,
                        pruning: pruning.clone(),
                        steps: c.steps,
                        batch_size: self.batch_size,
                        optimizer: self.optimizer.clone(),
                        lr: PointLr {
                            warmup_steps: self.lr_schedule.warmup.resolve(c.steps),
                            min_lr_ratio: self.lr_schedule.min_lr_ratio,
                            grad_clip: self.lr_schedule.grad_clip,
                        },
                        data: self.data.clone(),
                        val_examples: self.validation.examples,
                        val_every: self.validation.every.unwrap_or((c.steps / 10).max(1)),
                        seed,
                    };
                    let hash = spec.hash();
                    if !seen.insert(hash.clone()) {
                        continue;
                    }
                    out.push(Point {
                        index: out.len(),
                        hash,
                        spec,
                        checkpoint_every: self.checkpoint_every.unwrap_or((c.steps / 10).max(1)),
                        target_nonzero: target,
                    });
                }
            }
        }
        out
    }
}
