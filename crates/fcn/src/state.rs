//! A state dict: named float tensors, as PyTorch's `state_dict()` holds them.
//!
//! Every weight format is read into one and written from one, so key names, shape
//! checks and "missing / unexpected key" errors live in one place.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::error::FcnError;

/// One tensor: its shape and its values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl NamedTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }
}

/// Named tensors in key order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    pub tensors: BTreeMap<String, NamedTensor>,
}

impl StateDict {
    pub fn insert(&mut self, key: impl Into<String>, tensor: NamedTensor) {
        self.tensors.insert(key.into(), tensor);
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }
}

/// Hands out the tensors of a state dict by name while a model is built from it,
/// checking each shape and remembering which keys were used.
pub struct StateReader<'a> {
    source: &'a str,
    dict: &'a StateDict,
    used: BTreeSet<String>,
    /// Keys whose tensors stay as the network initialised them (counted as used).
    fresh: BTreeSet<String>,
    missing: Vec<String>,
    errors: Vec<String>,
}

impl<'a> StateReader<'a> {
    /// `source` names the file in error messages.
    pub fn new(source: &'a str, dict: &'a StateDict) -> Self {
        Self {
            source,
            dict,
            used: BTreeSet::new(),
            fresh: BTreeSet::new(),
            missing: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Leaves the tensors of `keys` as the network initialised them: `take` gives
    /// `None` for them without a complaint, and the file's tensors under those keys
    /// count as used (fine-tuning to another class count replaces them).
    pub fn leaving_fresh(mut self, keys: impl IntoIterator<Item = String>) -> Self {
        self.fresh.extend(keys);
        self.used.extend(self.fresh.iter().cloned());
        self
    }

    /// The tensor called `key`, which must have `shape`. Problems are collected and
    /// reported together by [`finish`](Self::finish); meanwhile nothing is allocated
    /// for the expected shape, which comes from the file and may be absurd.
    pub fn take(&mut self, key: &str, shape: &[usize]) -> Option<Vec<f32>> {
        if self.fresh.contains(key) {
            return None;
        }
        let Some(t) = self.dict.tensors.get(key) else {
            self.missing.push(key.to_string());
            return None;
        };
        self.used.insert(key.to_string());
        if t.shape != shape {
            self.errors
                .push(format!("{key}: shape {:?}, expected {shape:?}", t.shape));
            return None;
        }
        Some(t.data.clone())
    }

    /// Fails, listing every problem, if a tensor was missing or misshapen, or if a key
    /// was neither used nor accepted by `ignorable`.
    pub fn finish(self, ignorable: impl Fn(&str) -> bool) -> Result<Vec<String>, FcnError> {
        let mut ignored = Vec::new();
        let mut unexpected = Vec::new();
        for key in self.dict.keys() {
            if self.used.contains(key) {
                continue;
            }
            if ignorable(key) {
                ignored.push(key.to_string());
            } else {
                unexpected.push(key.to_string());
            }
        }
        let mut problems = self.errors;
        if !self.missing.is_empty() {
            problems.push(format!("missing keys: {}", self.missing.join(", ")));
        }
        if !unexpected.is_empty() {
            problems.push(format!("unexpected keys: {}", unexpected.join(", ")));
        }
        if problems.is_empty() {
            Ok(ignored)
        } else {
            Err(FcnError::Weights {
                path: self.source.to_string(),
                message: problems.join("; "),
            })
        }
    }
}
