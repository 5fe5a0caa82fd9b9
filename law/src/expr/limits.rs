//! The one bound on a formula's size and depth (issue 12, part 1), measured without recursion.
//!
//! Printing, differentiating, simplifying, compiling and evaluating a tree recurse once per
//! level, and a derivative can be a few levels deeper than the tree it comes from; so every
//! tree that enters the crate from outside (parsed text, [`crate::Law::from_expr`]) must have
//! at most [`MAX_NODES`] nodes and at most [`MAX_DEPTH`] levels ([`crate::compile::Tape`]
//! compiles without recursion, so the deeper derivatives compile too). [`Expr::shape`] measures both with an explicit stack, so that the
//! check itself cannot exhaust the stack, and dropping a tree never recurses either (see
//! `drop.rs`).
//!
//! Why a limit rather than balanced trees or iterative algorithms: `a + b + c + d` as
//! `(a + b) + (c + d)` would change the printed text and the floating-point order of
//! evaluation, and rewriting every walk without recursion would make the symbolic code much
//! harder to read, for formulas no scaling law needs: the paper's law (docs/THEORY.md §1,
//! Eq. 1) has 24 nodes and 6 levels.

use super::Expr;

/// Most nodes (numbers, names, operators, function calls) a formula may have.
pub const MAX_NODES: usize = 10_000;

/// Most levels a formula may nest: each operator, unary minus and function call on the way
/// from the top to a number or name counts one, and while parsing each pair of parentheses
/// counts one as well. A chain such as `a + b + c` nests one level per operator (it is
/// `(a + b) + c`).
pub const MAX_DEPTH: usize = 256;

/// Size and depth of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Number of nodes.
    pub nodes: usize,
    /// Operator levels on the longest path from the root to a leaf (a lone number or name: 0).
    pub depth: usize,
}

/// A formula over [`MAX_NODES`] or [`MAX_DEPTH`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// More nodes than [`MAX_NODES`].
    #[error("the formula has {nodes} nodes (numbers, names and operations), more than the limit of {limit}; write a shorter formula")]
    TooManyNodes {
        /// Nodes of the formula.
        nodes: usize,
        /// [`MAX_NODES`].
        limit: usize,
    },
    /// Deeper than [`MAX_DEPTH`].
    #[error("the formula nests {depth} levels deep, more than the limit of {limit} (each operator, unary minus and function call counts one level, so a chain such as `a + b + c` nests one level per operator); write a shorter formula")]
    TooDeep {
        /// Depth of the formula.
        depth: usize,
        /// [`MAX_DEPTH`].
        limit: usize,
    },
}

impl Expr {
    /// Number of nodes and depth, measured with an explicit stack (no recursion).
    ///
    /// ```
    /// let e = sparse_scaling_law::parse("a * N^(-b) + c").unwrap();
    /// let s = e.shape();
    /// assert_eq!((s.nodes, s.depth), (8, 4));
    /// ```
    pub fn shape(&self) -> Shape {
        let mut nodes = 0;
        let mut depth = 0;
        let mut stack: Vec<(&Expr, usize)> = vec![(self, 0)];
        while let Some((e, d)) = stack.pop() {
            nodes += 1;
            depth = depth.max(d);
            match e {
                Expr::Num(_) | Expr::Sym(_) => {}
                Expr::Neg(a) => stack.push((a, d + 1)),
                Expr::Bin(_, a, b) => {
                    stack.push((a, d + 1));
                    stack.push((b, d + 1));
                }
                Expr::Call(_, args) => stack.extend(args.iter().map(|a| (a, d + 1))),
            }
        }
        Shape { nodes, depth }
    }

    /// Checks the tree against [`MAX_NODES`] and [`MAX_DEPTH`] without recursion; every
    /// tree that comes from outside the crate passes this before any recursive walk.
    pub fn check_limits(&self) -> Result<Shape, LimitError> {
        let s = self.shape();
        if s.nodes > MAX_NODES {
            return Err(LimitError::TooManyNodes { nodes: s.nodes, limit: MAX_NODES });
        }
        if s.depth > MAX_DEPTH {
            return Err(LimitError::TooDeep { depth: s.depth, limit: MAX_DEPTH });
        }
        Ok(s)
    }
}
