//! Compiling a law into a flat tape that evaluates values and exact gradients over all points
//! at once (issue 2, part 1: "compile the tree once; do not walk it per point").
//!
//! A [`Tape`] is a list of nodes in evaluation order (common subexpressions shared). Each node
//! holds one value per point, stored contiguously, so every operation is one tight loop over
//! points. Gradients come from a reverse sweep over the same tape, seeded per point; the
//! adjoint of an input is its derivative per point, summed over points for scalar inputs
//! (the parameters, when fitting — the gradient of the fitting objective, docs/THEORY.md §2).
//!
//! Binding ([`Tape::bind`]) fixes some inputs to data columns once: every node that depends only
//! on them is computed at bind time, and `x^p` with a fixed base `x` becomes `exp(p · ln x)`
//! with `ln x` cached, so a fit of the paper's law costs one `exp` per power per point — or per
//! distinct value of the base, where the exponent depends on no data and the base repeats
//! (sizes and lengths shared by many points; every bootstrap resample of a table).

use std::collections::HashMap;

use crate::expr::{BinOp, Expr, Func};
use crate::law::{Law, LawError};

/// One operation of the tape. Operands are node indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// The input with this index.
    Input(usize),
    /// A constant.
    Const(f64),
    /// `-a`
    Neg(usize),
    /// A binary operation.
    Bin(BinOp, usize, usize),
    /// A function of one argument.
    Call1(Func, usize),
    /// A function of two arguments (`min`, `max`).
    Call2(Func, usize, usize),
}

/// A compiled expression. Inputs are named; their order is fixed at compile time.
#[derive(Debug, Clone, PartialEq)]
pub struct Tape {
    inputs: Vec<String>,
    ops: Vec<Op>,
    out: usize,
}

/// A value for one input of a tape: one number per point, or the same number for all points.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// One value per point.
    Column(&'a [f64]),
    /// The same value at every point.
    Scalar(f64),
}

/// Values of the free inputs for one forward sweep.
#[derive(Clone, Copy)]
enum Free<'a> {
    Scalars(&'a [f64]),
    Inputs(&'a [Input<'a>]),
}

/// Error of the tape's evaluation API: wrong numbers of inputs or points.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapeError {
    /// Wrong number of inputs.
    #[error("the tape has {expected} inputs ({names}) but {found} values were given")]
    InputCount {
        /// Inputs the tape has.
        expected: usize,
        /// Values given.
        found: usize,
        /// Comma-separated input names.
        names: String,
    },
    /// A column has the wrong length.
    #[error("input `{name}` has {found} values but there are {expected} points")]
    ColumnLength {
        /// Input name.
        name: String,
        /// Number of points.
        expected: usize,
        /// Values given.
        found: usize,
    },
}

impl Tape {
    /// Compiles `expr`; every symbol in it must be one of `inputs`
    /// (else [`LawError::UnknownVariable`]). Compiling walks the tree with an explicit stack,
    /// so any depth compiles (derivatives of a law may nest deeper than the law).
    pub fn compile(expr: &Expr, inputs: &[String]) -> Result<Tape, LawError> {
        let mut b = Builder { ops: Vec::new(), memo: HashMap::new(), inputs };
        let out = b.node(expr)?;
        Ok(Tape { inputs: inputs.to_vec(), ops: b.ops, out })
    }

    /// Compiles a law with inputs = its variables, then its parameters.
    pub fn for_law(law: &Law) -> Tape {
        Self::for_expr_of_law(law.expr(), law).expect("a law's expression only uses its own variables and parameters")
    }

    /// Compiles another expression over a law's inputs (variables then parameters), e.g.
    /// one of its partial derivatives.
    pub fn for_expr_of_law(expr: &Expr, law: &Law) -> Result<Tape, LawError> {
        let inputs: Vec<String> = law.var_names().iter().chain(law.param_names()).cloned().collect();
        Tape::compile(expr, &inputs)
    }

    /// Input names, in order.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// Number of inputs.
    pub fn n_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// The operations, in evaluation order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Fixes the inputs at positions `fixed` to the given columns (each of length `n`) and
    /// precomputes everything that depends only on them. The remaining inputs are given to
    /// [`Bound::forward`] in their tape order.
    pub fn bind(&self, fixed: &[(usize, &[f64])], n: usize) -> Result<Bound, TapeError> {
        for (k, col) in fixed {
            if col.len() != n {
                return Err(TapeError::ColumnLength { name: self.inputs[*k].clone(), expected: n, found: col.len() });
            }
        }
        let is_fixed_input = |k: usize| fixed.iter().any(|(j, _)| *j == k);
        let free: Vec<usize> = (0..self.inputs.len()).filter(|k| !is_fixed_input(*k)).collect();
        let m = self.ops.len();
        let mut live = vec![false; m];
        for (i, op) in self.ops.iter().enumerate() {
            live[i] = match *op {
                Op::Input(k) => !is_fixed_input(k),
                Op::Const(_) => false,
                Op::Neg(a) | Op::Call1(_, a) => live[a],
                Op::Bin(_, a, b) | Op::Call2(_, a, b) => live[a] || live[b],
            };
        }
        // Values of the fixed nodes, computed once.
        let mut fixed_vals: Vec<Option<Vec<f64>>> = vec![None; m];
        let mut scratch = vec![0.0; n];
        for i in 0..m {
            if live[i] {
                continue;
            }
            match self.ops[i] {
                Op::Input(k) => {
                    let col = fixed.iter().find(|(j, _)| *j == k).map(|(_, c)| *c).unwrap_or(&[]);
                    scratch.copy_from_slice(col);
                }
                Op::Const(c) => scratch.iter_mut().for_each(|v| *v = c),
                op => {
                    let get = |j: usize| fixed_vals[j].as_deref().unwrap_or(&[]);
                    forward_op(op, &get, &mut scratch);
                }
            }
            fixed_vals[i] = Some(scratch.clone());
        }
        // Nodes that depend on no fixed input: with scalar free inputs, one value at every point.
        let mut data_free = vec![false; m];
        for (i, op) in self.ops.iter().enumerate() {
            data_free[i] = match *op {
                Op::Input(k) => !is_fixed_input(k),
                Op::Const(_) => true,
                Op::Neg(a) | Op::Call1(_, a) => data_free[a],
                Op::Bin(_, a, b) | Op::Call2(_, a, b) => data_free[a] && data_free[b],
            };
        }
        // ln of fixed bases of live powers, and their distinct values where the exponent is
        // data-free and the base repeats enough to pay for the gather.
        let mut ln_base: Vec<Option<Vec<f64>>> = vec![None; m];
        let mut shared_base: Vec<Option<SharedBase>> = vec![None; m];
        for i in 0..m {
            if let Op::Bin(BinOp::Pow, a, b) = self.ops[i] {
                if live[i] && !live[a] && live[b] {
                    let base = fixed_vals[a].as_deref().unwrap_or(&[]);
                    ln_base[i] = Some(base.iter().map(|x| x.ln()).collect());
                    if data_free[b] {
                        shared_base[i] = SharedBase::of(base).filter(|s| 2 * s.base.len() <= n);
                    }
                }
            }
        }
        Ok(Bound { tape: self.clone(), n, free, live, fixed_vals, ln_base, shared_base })
    }

    /// Values at every point. `inputs` are in tape order.
    pub fn eval(&self, inputs: &[Input<'_>], n: usize) -> Result<Vec<f64>, TapeError> {
        let bound = self.bind(&[], n)?;
        let mut ws = bound.workspace();
        bound.forward(inputs, &mut ws)?;
        Ok(bound.value(&ws).to_vec())
    }

    /// Values and per-point derivatives with respect to every input:
    /// `grad[k][i] = ∂f/∂input_k at point i` (for a scalar input, summing over `i` gives
    /// the derivative of the sum).
    pub fn eval_grad(&self, inputs: &[Input<'_>], n: usize) -> Result<(Vec<f64>, Vec<Vec<f64>>), TapeError> {
        let bound = self.bind(&[], n)?;
        let mut ws = bound.workspace();
        bound.forward(inputs, &mut ws)?;
        let seed = vec![1.0; n];
        bound.backward(&mut ws, &seed);
        let grads = (0..bound.free.len()).map(|k| bound.input_adjoint(&ws, k).to_vec()).collect();
        Ok((bound.value(&ws).to_vec(), grads))
    }
}

struct Builder<'a> {
    ops: Vec<Op>,
    memo: HashMap<String, usize>,
    inputs: &'a [String],
}

impl Builder<'_> {
    fn push(&mut self, op: Op) -> usize {
        // Share identical operations (common subexpressions), keyed by their debug text.
        let key = format!("{op:?}");
        if let Some(&i) = self.memo.get(&key) {
            return i;
        }
        self.ops.push(op);
        self.memo.insert(key, self.ops.len() - 1);
        self.ops.len() - 1
    }

    /// Pushes the operations of `root` in post-order (operands first) and returns the index of
    /// its value. Iterative: `todo` holds nodes still to visit (`false`) or to emit once their
    /// operands are on `done` (`true`).
    fn node(&mut self, root: &Expr) -> Result<usize, LawError> {
        let mut todo: Vec<(&Expr, bool)> = vec![(root, false)];
        let mut done: Vec<usize> = Vec::new();
        while let Some((e, ready)) = todo.pop() {
            if !ready {
                todo.push((e, true));
                match e {
                    Expr::Num(_) | Expr::Sym(_) => {}
                    Expr::Neg(a) => todo.push((a, false)),
                    // Operands are pushed last-first so that they are compiled left to right.
                    Expr::Bin(_, a, b) => todo.extend([(&**b, false), (&**a, false)]),
                    Expr::Call(_, args) => todo.extend(args.iter().rev().map(|a| (a, false))),
                }
                continue;
            }
            let mut operand = || done.pop().unwrap_or(0);
            let i = match e {
                Expr::Num(v) => self.push(Op::Const(*v)),
                Expr::Sym(s) => {
                    let k = self.inputs.iter().position(|i| i == s).ok_or_else(|| LawError::UnknownVariable {
                        name: s.clone(),
                        available: self.inputs.join(", "),
                    })?;
                    self.push(Op::Input(k))
                }
                Expr::Neg(_) => {
                    let a = operand();
                    self.push(Op::Neg(a))
                }
                Expr::Bin(op, ..) => {
                    let b = operand();
                    let a = operand();
                    self.push(Op::Bin(*op, a, b))
                }
                Expr::Call(f, args) => {
                    if args.len() == 2 {
                        let b = operand();
                        let a = operand();
                        self.push(Op::Call2(*f, a, b))
                    } else {
                        let a = operand();
                        self.push(Op::Call1(*f, a))
                    }
                }
            };
            done.push(i);
        }
        Ok(done.pop().unwrap_or(0))
    }
}

/// Computes one operation over all points into `out`, reading operands through `get`.
fn forward_op<'a>(op: Op, get: &dyn Fn(usize) -> &'a [f64], out: &mut [f64]) {
    match op {
        Op::Input(_) | Op::Const(_) => {}
        Op::Neg(a) => out.iter_mut().zip(get(a)).for_each(|(o, x)| *o = -x),
        Op::Bin(op, a, b) => {
            let (x, y) = (get(a), get(b));
            match op {
                BinOp::Add => out.iter_mut().zip(x.iter().zip(y)).for_each(|(o, (x, y))| *o = x + y),
                BinOp::Sub => out.iter_mut().zip(x.iter().zip(y)).for_each(|(o, (x, y))| *o = x - y),
                BinOp::Mul => out.iter_mut().zip(x.iter().zip(y)).for_each(|(o, (x, y))| *o = x * y),
                BinOp::Div => out.iter_mut().zip(x.iter().zip(y)).for_each(|(o, (x, y))| *o = x / y),
                BinOp::Pow => out.iter_mut().zip(x.iter().zip(y)).for_each(|(o, (x, y))| *o = pow(*x, *y)),
            }
        }
        Op::Call1(f, a) => out.iter_mut().zip(get(a)).for_each(|(o, x)| *o = f.apply(*x, 0.0)),
        Op::Call2(f, a, b) => {
            out.iter_mut().zip(get(a).iter().zip(get(b))).for_each(|(o, (x, y))| *o = f.apply(*x, *y))
        }
    }
}

#[inline]
fn pow(x: f64, y: f64) -> f64 {
    if y == 2.0 {
        x * x
    } else if y == 1.0 {
        x
    } else {
        x.powf(y)
    }
}

/// A tape with some inputs bound to data (see [`Tape::bind`]).
#[derive(Debug, Clone)]
pub struct Bound {
    tape: Tape,
    n: usize,
    free: Vec<usize>,
    live: Vec<bool>,
    fixed_vals: Vec<Option<Vec<f64>>>,
    ln_base: Vec<Option<Vec<f64>>>,
    shared_base: Vec<Option<SharedBase>>,
}

/// The distinct values of a fixed base of a power whose exponent depends on no data: with
/// scalar free inputs the power takes one value per distinct base, computed once and gathered.
#[derive(Debug, Clone)]
struct SharedBase {
    /// The distinct bases (bit-exact), in order of first appearance.
    base: Vec<f64>,
    /// Their logarithms.
    ln: Vec<f64>,
    /// Index into `base` of each point's base.
    of_point: Vec<usize>,
}

impl SharedBase {
    /// The distinct values of `base` (`None` for no points).
    fn of(base: &[f64]) -> Option<SharedBase> {
        let mut index: HashMap<u64, usize> = HashMap::new();
        let mut distinct = Vec::new();
        let of_point = base
            .iter()
            .map(|x| {
                *index.entry(x.to_bits()).or_insert_with(|| {
                    distinct.push(*x);
                    distinct.len() - 1
                })
            })
            .collect();
        let ln = distinct.iter().map(|x| x.ln()).collect();
        (!base.is_empty()).then_some(SharedBase { base: distinct, ln, of_point })
    }
}

/// Scratch memory for [`Bound::forward`] / [`Bound::backward`]; one per thread.
#[derive(Debug, Clone)]
pub struct Workspace {
    vals: Vec<f64>,
    adj: Vec<f64>,
    free_adj: Vec<f64>,
    /// One power's value per distinct base (see `SharedBase`).
    shared: Vec<f64>,
}

impl Bound {
    /// Number of points.
    pub fn n_points(&self) -> usize {
        self.n
    }

    /// Names of the free (not bound) inputs, in the order [`Bound::forward`] takes them.
    pub fn free_names(&self) -> Vec<&str> {
        self.free.iter().map(|k| self.tape.inputs[*k].as_str()).collect()
    }

    /// Fresh scratch memory.
    pub fn workspace(&self) -> Workspace {
        let m = self.tape.ops.len();
        Workspace {
            vals: vec![0.0; m * self.n],
            adj: vec![0.0; m * self.n],
            free_adj: vec![0.0; self.free.len() * self.n],
            shared: vec![0.0; self.shared_base.iter().flatten().map(|s| s.base.len()).max().unwrap_or(0)],
        }
    }

    /// Evaluates with the free inputs given in tape order.
    pub fn forward(&self, free: &[Input<'_>], ws: &mut Workspace) -> Result<(), TapeError> {
        if free.len() != self.free.len() {
            return Err(TapeError::InputCount {
                expected: self.free.len(),
                found: free.len(),
                names: self.free_names().join(", "),
            });
        }
        for (j, inp) in free.iter().enumerate() {
            if let Input::Column(c) = inp {
                if c.len() != self.n {
                    return Err(TapeError::ColumnLength {
                        name: self.tape.inputs[self.free[j]].clone(),
                        expected: self.n,
                        found: c.len(),
                    });
                }
            }
        }
        self.forward_unchecked(Free::Inputs(free), ws);
        Ok(())
    }

    /// Evaluates with all free inputs scalars (the parameters, when fitting).
    pub fn forward_scalars(&self, free: &[f64], ws: &mut Workspace) {
        assert_eq!(free.len(), self.free.len(), "forward_scalars: one value per free input");
        self.forward_unchecked(Free::Scalars(free), ws);
    }

    fn forward_unchecked(&self, free: Free<'_>, ws: &mut Workspace) {
        let n = self.n;
        let (vals, shared) = (&mut ws.vals, &mut ws.shared);
        for i in 0..self.tape.ops.len() {
            if !self.live[i] {
                continue;
            }
            let (before, rest) = vals.split_at_mut(i * n);
            let out = &mut rest[..n];
            let get = |j: usize| -> &[f64] {
                if self.live[j] {
                    &before[j * n..(j + 1) * n]
                } else {
                    self.fixed_vals[j].as_deref().unwrap_or(&[])
                }
            };
            match self.tape.ops[i] {
                Op::Input(k) => {
                    let j = self.free.iter().position(|f| *f == k).unwrap_or(0);
                    match free {
                        Free::Scalars(v) => out.fill(v[j]),
                        Free::Inputs(inputs) => match inputs[j] {
                            Input::Scalar(v) => out.fill(v),
                            Input::Column(c) => out.copy_from_slice(c),
                        },
                    }
                }
                Op::Bin(BinOp::Pow, a, b) if self.ln_base[i].is_some() => {
                    let ln = self.ln_base[i].as_deref().unwrap_or(&[]);
                    let (base, e) = (get(a), get(b));
                    match (&self.shared_base[i], free) {
                        // The exponent is the same at every point: one power per distinct base,
                        // the same numbers as the loop below.
                        (Some(sb), Free::Scalars(_)) => {
                            let e = e[0];
                            for ((v, x), l) in shared.iter_mut().zip(&sb.base).zip(&sb.ln) {
                                *v = if *x > 0.0 { (e * l).exp() } else { x.powf(e) };
                            }
                            out.iter_mut().zip(&sb.of_point).for_each(|(o, k)| *o = shared[*k]);
                        }
                        _ => {
                            for (p, o) in out.iter_mut().enumerate() {
                                *o = if base[p] > 0.0 { (e[p] * ln[p]).exp() } else { base[p].powf(e[p]) };
                            }
                        }
                    }
                }
                op => forward_op(op, &get, out),
            }
        }
    }

    /// The values computed by the last forward sweep.
    pub fn value<'w>(&'w self, ws: &'w Workspace) -> &'w [f64] {
        let o = self.tape.out;
        if self.live[o] {
            &ws.vals[o * self.n..(o + 1) * self.n]
        } else {
            self.fixed_vals[o].as_deref().unwrap_or(&[])
        }
    }

    /// Reverse sweep after [`Bound::forward`], with `seed[i]` the adjoint of the output at
    /// point i. Afterwards [`Bound::input_adjoint`] gives per-point adjoints of free inputs.
    #[allow(clippy::neg_multiply)]
    pub fn backward(&self, ws: &mut Workspace, seed: &[f64]) {
        let n = self.n;
        let m = self.tape.ops.len();
        ws.adj.iter_mut().for_each(|a| *a = 0.0);
        ws.free_adj.iter_mut().for_each(|a| *a = 0.0);
        let o = self.tape.out;
        if !self.live[o] {
            return;
        }
        ws.adj[o * n..(o + 1) * n].copy_from_slice(&seed[..n]);
        let vals = &ws.vals;
        let val = |j: usize| -> &[f64] {
            if self.live[j] {
                &vals[j * n..(j + 1) * n]
            } else {
                self.fixed_vals[j].as_deref().unwrap_or(&[])
            }
        };
        for i in (0..m).rev() {
            if !self.live[i] {
                continue;
            }
            let (adj_before, adj_rest) = ws.adj.split_at_mut(i * n);
            let g = &adj_rest[..n];
            let v = val(i);
            // Accumulates into the adjoint of live node j.
            macro_rules! acc {
                ($j:expr, |$p:ident| $d:expr) => {{
                    let j = $j;
                    if self.live[j] {
                        let aj = &mut adj_before[j * n..(j + 1) * n];
                        for $p in 0..n {
                            aj[$p] += g[$p] * $d;
                        }
                    }
                }};
            }
            match self.tape.ops[i] {
                Op::Input(k) => {
                    if let Some(j) = self.free.iter().position(|f| *f == k) {
                        ws.free_adj[j * n..(j + 1) * n].iter_mut().zip(g).for_each(|(a, g)| *a += g);
                    }
                }
                Op::Const(_) => {}
                Op::Neg(a) => acc!(a, |_p| -1.0),
                Op::Bin(op, a, b) => {
                    let (x, y) = (val(a), val(b));
                    match op {
                        BinOp::Add => {
                            acc!(a, |_p| 1.0);
                            acc!(b, |_p| 1.0);
                        }
                        BinOp::Sub => {
                            acc!(a, |_p| 1.0);
                            acc!(b, |_p| -1.0);
                        }
                        BinOp::Mul => {
                            if a == b {
                                acc!(a, |p| 2.0 * x[p]);
                            } else {
                                acc!(a, |p| y[p]);
                                acc!(b, |p| x[p]);
                            }
                        }
                        BinOp::Div => {
                            acc!(a, |p| 1.0 / y[p]);
                            acc!(b, |p| -v[p] / y[p]);
                        }
                        BinOp::Pow => {
                            // d/dx x^y = y x^(y-1); d/dy x^y = x^y ln x
                            acc!(a, |p| if x[p] != 0.0 { y[p] * v[p] / x[p] } else { y[p] * x[p].powf(y[p] - 1.0) });
                            if let Some(ln) = self.ln_base[i].as_deref() {
                                acc!(b, |p| if x[p] > 0.0 { v[p] * ln[p] } else { 0.0 });
                            } else {
                                acc!(b, |p| if v[p] != 0.0 { v[p] * x[p].ln() } else { 0.0 });
                            }
                        }
                    }
                }
                Op::Call1(f, a) => {
                    let x = val(a);
                    match f {
                        Func::Log => acc!(a, |p| 1.0 / x[p]),
                        Func::Exp => acc!(a, |p| v[p]),
                        Func::Sqrt => acc!(a, |p| 0.5 / v[p]),
                        Func::Abs => acc!(a, |p| Func::Sign.apply(x[p], 0.0)),
                        _ => {}
                    }
                }
                Op::Call2(f, a, b) => {
                    let (x, y) = (val(a), val(b));
                    let pick_a = |p: usize| -> f64 {
                        let s = Func::Sign.apply(x[p] - y[p], 0.0);
                        let s = if f == Func::Min { -s } else { s };
                        0.5 * (1.0 + s)
                    };
                    acc!(a, |p| pick_a(p));
                    acc!(b, |p| 1.0 - pick_a(p));
                }
            }
        }
    }

    /// Per-point adjoint of the `j`-th free input after [`Bound::backward`].
    pub fn input_adjoint<'w>(&self, ws: &'w Workspace, j: usize) -> &'w [f64] {
        &ws.free_adj[j * self.n..(j + 1) * self.n]
    }

    /// Sum over points of the adjoint of each free input (the gradient with respect to
    /// scalar inputs), written into `grad`.
    pub fn input_adjoint_sums(&self, ws: &Workspace, grad: &mut [f64]) {
        for (j, g) in grad.iter_mut().enumerate().take(self.free.len()) {
            *g = self.input_adjoint(ws, j).iter().sum();
        }
    }
}
