//! Dropping a tree without recursion: the compiler's drop glue would free a tree one level per
//! stack frame, so a tree built deeper than [`super::MAX_DEPTH`] in code (or a long chain
//! refused by the parser after it was built) could exhaust the stack while being freed.

use super::Expr;

/// Moves the children of `e` that have children of their own onto `stack`, leaving `e` with
/// leaves only (whose drop does not recurse).
fn detach_children(e: &mut Expr, stack: &mut Vec<Expr>) {
    let has_children = |e: &Expr| matches!(e, Expr::Neg(_) | Expr::Bin(..) | Expr::Call(..));
    let mut take = |slot: &mut Expr| {
        if has_children(slot) {
            stack.push(std::mem::replace(slot, Expr::Num(0.0)));
        }
    };
    match e {
        Expr::Num(_) | Expr::Sym(_) => {}
        Expr::Neg(a) => take(a),
        Expr::Bin(_, a, b) => {
            take(a);
            take(b);
        }
        Expr::Call(_, args) => args.iter_mut().for_each(take),
    }
}

impl Drop for Expr {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        detach_children(self, &mut stack);
        while let Some(mut e) = stack.pop() {
            detach_children(&mut e, &mut stack);
            // `e` now holds leaves only; dropping it here does not recurse further.
        }
    }
}
