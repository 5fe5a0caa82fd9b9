//! The sparsity module's [`Pruner`] (docs/THEORY.md §4) as the loop's [`Sparsifier`].

use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::Cpu;

use super::{BoxError, LayerSparsity, Sparsifier, SparsityStats};
use crate::params::ParamRole;
use crate::sparsity::Pruner;

impl<M: TensorCollection<f32, Cpu>> Sparsifier<M> for Pruner {
    fn apply(&mut self, model: &mut M) -> Result<(), BoxError> {
        Pruner::apply(self, model);
        Ok(())
    }

    fn on_step(&mut self, model: &mut M, step: u64) -> Result<(), BoxError> {
        Pruner::on_step(self, model, step)?;
        Ok(())
    }

    fn zero_pruned(&self, path: &str, values: &mut [f32]) -> Result<(), BoxError> {
        Pruner::zero_pruned(self, path, values)?;
        Ok(())
    }

    fn kept(&self, path: &str) -> Option<usize> {
        let p = self.masks().get(path)?;
        p.mask.as_ref().map(|m| m.count_ones())
    }

    fn stats(&self, model: &M) -> SparsityStats {
        let s = Pruner::stats(self, model);
        SparsityStats {
            layers: s
                .layers
                .iter()
                .map(|l| LayerSparsity {
                    path: l.path.clone(),
                    size: l.size as u64,
                    nonzeros: l.kept as u64,
                    counted_in_n: l.role == ParamRole::Prunable,
                    sparsity: l.sparsity,
                })
                .collect(),
            sparsity: s.sparsity,
            nonzeros: s.n_nonzero as u64,
            total_params: s.total_params as u64,
            avg_nonzeros: self.avg_nonzero(),
        }
    }

    fn state(&self) -> Result<serde_json::Value, BoxError> {
        Ok(serde_json::to_value(self)?)
    }

    fn restore(&mut self, model: &M, state: serde_json::Value) -> Result<(), BoxError> {
        let saved: Pruner = serde_json::from_value(state)?;
        Pruner::resume(self, model, saved)?;
        Ok(())
    }
}
