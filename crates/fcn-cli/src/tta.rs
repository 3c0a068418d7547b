//! `--tta flip` and `--tta-scales S,S,…`: test-time augmentation for `eval` and `segment`.

use fcn::tta::Tta;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    None,
    Flip,
}

#[derive(clap::Args, Debug, Clone)]
pub struct TtaArg {
    /// Test-time augmentation: flip averages the softmax over the image and its mirror.
    #[arg(long, value_enum, default_value_t = Mode::None)]
    tta: Mode,
    /// Also average over these scales of the image (bilinear, as PyTorch's
    /// F.interpolate), e.g. 0.5,0.75,1,1.25,1.5.
    #[arg(long, value_delimiter = ',')]
    tta_scales: Option<Vec<f32>>,
}

impl TtaArg {
    pub fn get(&self) -> anyhow::Result<Tta> {
        let tta = Tta {
            flip: self.tta == Mode::Flip,
            scales: self.tta_scales.clone().unwrap_or_else(|| vec![1.0]),
        };
        tta.validate()?;
        Ok(tta)
    }
}
