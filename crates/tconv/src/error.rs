//! The one error type of the crate.

/// Why a convolution cannot run. Every message names the parameter or array at fault
/// and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvError {
    /// A parameter value breaks a rule, e.g. a zero stride.
    #[error("invalid {parameter}: {rule}")]
    InvalidParameter {
        parameter: &'static str,
        rule: String,
    },
    /// Two arrays (or an array and the parameters) disagree about a size.
    #[error("shape mismatch in {array}: {rule}")]
    ShapeMismatch { array: &'static str, rule: String },
    /// The parameters leave no output element.
    #[error("empty output: {rule}")]
    EmptyOutput { rule: String },
    /// The result would not fit in a sane amount of memory.
    #[error("{array} would have {elements} elements, more than the limit of {limit}")]
    TooLarge {
        array: &'static str,
        elements: u128,
        limit: u128,
    },
}

impl ConvError {
    pub(crate) fn param(parameter: &'static str, rule: impl Into<String>) -> Self {
        Self::InvalidParameter {
            parameter,
            rule: rule.into(),
        }
    }

    pub(crate) fn shape(array: &'static str, rule: impl Into<String>) -> Self {
        Self::ShapeMismatch {
            array,
            rule: rule.into(),
        }
    }
}
