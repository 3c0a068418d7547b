use super::*;
use crate::{Conv2dParams, reference};
use ndarray::Array4;
use proptest::prelude::*;

fn ramp(dim: (usize, usize, usize, usize), k: f32) -> Array4<f32> {
    let mut i = 0.0f32;
    Array4::from_shape_fn(dim, |_| {
        i += 1.0;
        (i * k).sin()
    })
}

fn params(pad: usize, dilation: usize) -> Conv2dParams {
    Conv2dParams {
        padding: [pad, pad],
        dilation: [dilation, dilation],
        ..Conv2dParams::default()
    }
}

fn geometry(x: (usize, usize, usize, usize), m: usize, p: &Conv2dParams) -> Geometry {
    Geometry::conv2d(x, (m, x.1, 3, 3), None, p).unwrap()
}

/// Winograd's output by `tile` and the reference's.
fn forward_both(
    x: &Array4<f32>,
    w: &Array4<f32>,
    pad: usize,
    tile: Tile,
) -> (Array4<f32>, Array4<f32>) {
    forward_dilated(x, w, &params(pad, 1), tile)
}

fn forward_dilated(
    x: &Array4<f32>,
    w: &Array4<f32>,
    p: &Conv2dParams,
    tile: Tile,
) -> (Array4<f32>, Array4<f32>) {
    let want = reference::conv2d(x.view(), w.view(), None, p).unwrap();
    let geo = geometry(x.dim(), w.dim().0, p);
    let conv = Conv3x3 {
        tile,
        ..Conv3x3::forward(&geo).unwrap()
    };
    let mut got = vec![0.0; want.len()];
    super::conv(
        &conv,
        x.as_slice().unwrap(),
        w.as_slice().unwrap(),
        Filters::AsIs,
        &mut got,
    );
    (Array4::from_shape_vec(want.dim(), got).unwrap(), want)
}

fn assert_close(got: &Array4<f32>, want: &Array4<f32>, what: &str) {
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale * 10.0,
            "{what}: element {i}: {a} vs {b} (scale {scale})"
        );
    }
}

/// Edges that cut tiles (sizes not multiples of 4), every padding it takes, one
/// image and several, more tiles than one piece holds, pieces spanning two images,
/// and so few tiles that the output channels are split into blocks.
#[test]
fn forward_matches_reference() {
    let cases = [
        ((1, 1, 3, 3), 1, 0),
        ((1, 2, 6, 6), 3, 1),
        ((2, 3, 7, 10), 4, 1),
        ((1, 5, 9, 5), 2, 2),
        ((3, 8, 17, 23), 6, 1),
        ((1, 16, 40, 44), 16, 1),
        ((1, 4, 6, 6), 40, 1),
    ];
    for ((x, m, pad), tile) in cases
        .into_iter()
        .flat_map(|c| [(c, Tile::F4), (c, Tile::F2)])
    {
        let input = ramp(x, 0.37);
        let weight = ramp((m, x.1, 3, 3), 0.61);
        let (got, want) = forward_both(&input, &weight, pad, tile);
        let what = format!("{tile:?}: input {x:?}, {m} filters, pad {pad}");
        assert_close(&got, &want, &what);
    }
}

/// The input gradient as a Winograd convolution of the output gradient equals the
/// reference's backward pass, dilated or not.
#[test]
fn input_grad_matches_reference() {
    let cases = [
        ((2, 3, 9, 11), 5, 1, 1),
        ((1, 4, 8, 6), 2, 0, 1),
        ((1, 2, 5, 7), 3, 2, 1),
        ((2, 3, 13, 11), 4, 2, 2),
        ((1, 2, 14, 17), 3, 5, 3),
    ];
    for ((x, m, pad, dilation), tile) in cases
        .into_iter()
        .flat_map(|c| [(c, Tile::F4), (c, Tile::F2)])
    {
        let input = ramp(x, 0.29);
        let weight = ramp((m, x.1, 3, 3), 0.53);
        let (got, want) = input_grad_both(&input, &weight, &params(pad, dilation), tile, 0.71);
        let what = format!("{tile:?} input gradient, {x:?}, pad {pad}, dilation {dilation}");
        assert_close(&got, &want, &what);
    }
}

/// Winograd's input gradient (for an output gradient ramped by `k`) and the
/// reference backward pass's.
fn input_grad_both(
    input: &Array4<f32>,
    weight: &Array4<f32>,
    p: &Conv2dParams,
    tile: Tile,
    k: f32,
) -> (Array4<f32>, Array4<f32>) {
    let geo = geometry(input.dim(), weight.dim().0, p);
    let gy = ramp((input.dim().0, weight.dim().0, geo.col[1], geo.col[2]), k);
    let want = reference::conv2d_backward(input.view(), weight.view(), gy.view(), false, p)
        .unwrap()
        .input;
    let conv = Conv3x3 {
        tile,
        ..Conv3x3::input_grad(&geo).unwrap()
    };
    let mut got = vec![0.0; want.len()];
    let w = weight.as_slice().unwrap();
    super::conv(&conv, gy.as_slice().unwrap(), w, Filters::Flipped, &mut got);
    (Array4::from_shape_vec(want.dim(), got).unwrap(), want)
}

#[test]
fn only_stride_one_ungrouped_3x3() {
    let make = |stride: usize, dilation: usize, groups: usize, k: usize| {
        let p = Conv2dParams {
            stride: [stride, stride],
            padding: [1, 1],
            dilation: [dilation, dilation],
            groups,
        };
        Geometry::conv2d((1, 4, 12, 12), (4, 4 / groups, k, k), None, &p).unwrap()
    };
    assert!(Conv3x3::forward(&make(1, 1, 1, 3)).is_some());
    assert!(Conv3x3::forward(&make(2, 1, 1, 3)).is_none());
    assert!(Conv3x3::forward(&make(1, 2, 1, 3)).is_some());
    assert!(Conv3x3::forward(&make(1, 1, 2, 3)).is_none());
    assert!(Conv3x3::forward(&make(1, 1, 1, 5)).is_none());
}

/// Dilated convolutions, split into phases: every dilation and padding up to twice
/// the dilation, sizes that leave phases of unequal length.
#[test]
fn dilated_forward_matches_reference() {
    let cases = [
        ((1, 3, 13, 11), 4, 2, 2),
        ((2, 2, 9, 16), 3, 0, 2),
        ((1, 3, 20, 19), 5, 4, 4),
        ((1, 2, 17, 12), 2, 3, 3),
        ((1, 16, 33, 30), 16, 2, 2),
        ((1, 1, 24, 19), 1, 6, 3),
    ];
    for ((x, m, pad, dilation), tile) in cases
        .into_iter()
        .flat_map(|c| [(c, Tile::F4), (c, Tile::F2)])
    {
        let input = ramp(x, 0.41);
        let weight = ramp((m, x.1, 3, 3), 0.67);
        let (got, want) = forward_dilated(&input, &weight, &params(pad, dilation), tile);
        let what = format!("{tile:?}: {x:?}, {m} filters, pad {pad}, dilation {dilation}");
        assert_close(&got, &want, &what);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random shapes, paddings, dilations and values, forward and input gradient,
    /// against the direct-loop reference.
    #[test]
    fn forward_matches_reference_on_random_shapes(
        n in 1usize..3, c in 1usize..7, m in 1usize..7, d in 1usize..4,
        h in 0usize..19, w in 0usize..19, pad in 0usize..7, seed in 0.1f32..1.0,
    ) {
        let (pad, h, w) = (pad.min(2 * d), h + 2 * d + 1, w + 2 * d + 1);
        let input = ramp((n, c, h, w), seed);
        let weight = ramp((m, c, 3, 3), seed * 1.7 + 0.05);
        for tile in [Tile::F4, Tile::F2] {
            let (got, want) = forward_dilated(&input, &weight, &params(pad, d), tile);
            assert_close(&got, &want, &format!("{tile:?}, random shape"));
            let (got, want) = input_grad_both(&input, &weight, &params(pad, d), tile, seed + 0.3);
            assert_close(&got, &want, &format!("{tile:?} input gradient, random shape"));
        }
    }
}

/// Many channels (long sums, several pieces and output blocks): the error stays
/// within a small multiple of the im2col path's.
#[test]
fn many_channels_stay_accurate() {
    let cases = [
        ((2, 64, 20, 30), 64),
        ((1, 128, 10, 15), 96),
        ((3, 72, 9, 13), 80),
        // Enough tiles and channels that a piece's lanes follow gemm's widest
        // microkernel (64 on the AVX-512 path) rather than the 2 MiB rule (48).
        ((1, 128, 96, 96), 128),
    ];
    for ((x, m), tile) in cases
        .into_iter()
        .flat_map(|c| [(c, Tile::F4), (c, Tile::F2)])
    {
        let input = ramp(x, 0.113);
        let weight = ramp((m, x.1, 3, 3), 0.071).mapv(|v| v * 0.05);
        let (got, want) = forward_both(&input, &weight, 1, tile);
        let scale = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
        eprintln!("{tile:?} {x:?}→{m}: max err {err:e}, max |want| {scale}");
        assert!(
            err <= 1e-5 * scale.max(1.0),
            "{tile:?} {x:?}→{m}: {err} (scale {scale})"
        );
    }
}

/// Filters kept for a weight owner are reused only for that owner's weight: a
/// second weight with its own owner gets its own, both outputs match the reference,
/// and an owner nobody else holds loses its entry. The shape is ResNet-18's layer4
/// of one 320×480 image at a quarter of the channels, for which keeping the filters
/// makes F(2×2, 3×3) the automatic choice.
#[test]
fn kept_filters_follow_their_owner() {
    use crate::WeightOwner;
    use std::sync::Arc;
    let p = params(1, 1);
    let x = ramp((1, 256, 10, 15), 0.37);
    let geo = geometry(x.dim(), 256, &p);
    let before = kept::entries();
    let first = Arc::new(ramp((256, 256, 3, 3), 0.61));
    let second = Arc::new(ramp((256, 256, 3, 3), 0.23));
    if conv3x3_path() == Conv3x3Path::Auto {
        let fwd = Conv3x3::forward(&geo).unwrap();
        assert_eq!(
            plan(fwd, None),
            None,
            "too few tiles to transform on every call"
        );
        let owner: WeightOwner = first.clone();
        let kept = Some((&owner, first.as_slice().unwrap()));
        assert_eq!(plan(fwd, kept).map(|w| w.tile), Some(Tile::F2));
        // Twice the side: 40 tiles of F(4×4, 3×3), which pays once kept.
        let wide = Conv3x3::forward(&geometry((1, 256, 20, 30), 256, &p)).unwrap();
        assert_eq!(plan(wide, None).map(|w| w.tile), Some(Tile::F2));
        assert_eq!(plan(wide, kept).map(|w| w.tile), Some(Tile::F4));
    }
    let run = |w: &Arc<Array4<f32>>| {
        let owner: WeightOwner = w.clone();
        let got = crate::conv2d_kept(x.view(), w.view(), None, &p, &owner).unwrap();
        let want = reference::conv2d(x.view(), w.view(), None, &p).unwrap();
        assert_close(&got, &want, "kept filters");
        got
    };
    let once = run(&first);
    assert_eq!(kept::entries(), before + 1);
    assert_eq!(run(&first), once, "the kept filters give the same output");
    assert_eq!(kept::entries(), before + 1);
    run(&second);
    assert_eq!(kept::entries(), before + 2);
    drop((first, second));
    assert_eq!(kept::entries(), before);
}

/// The ×2 decoder layer (kernel 4, stride 2, padding 1) through the 3×3
/// convolution of its four phases, by either tile, adds the reference transposed
/// convolution to what the output held: odd and even sizes, tiles cut at the edges,
/// one image and several.
#[test]
fn upsample2_matches_reference() {
    use crate::ConvTranspose2dParams;
    let p = ConvTranspose2dParams {
        stride: [2, 2],
        padding: [1, 1],
        ..ConvTranspose2dParams::default()
    };
    let cases = [
        ((1, 1, 1, 1), 1),
        ((1, 3, 5, 7), 2),
        ((2, 4, 9, 6), 3),
        ((1, 16, 12, 20), 8),
    ];
    for (x, m) in cases {
        let input = ramp(x, 0.43);
        let weight = ramp((x.1, m, 4, 4), 0.59);
        let want = reference::conv_transpose2d(input.view(), weight.view(), None, &p).unwrap();
        let geo = Geometry::conv_transpose2d(x, weight.dim(), None, &p).unwrap();
        for tile in [Tile::F4, Tile::F2] {
            let conv = Conv3x3 {
                tile,
                ..upsample2::as_conv3x3(&geo).unwrap()
            };
            let mut got = vec![1.0; want.len()];
            let w = weight.as_slice().unwrap();
            upsample2::scatter(&conv, input.as_slice().unwrap(), w, &mut got);
            let got = Array4::from_shape_vec(want.dim(), got).unwrap() - 1.0;
            assert_close(
                &got,
                &want,
                &format!("{tile:?} ×2 decoder, input {x:?}, {m} out"),
            );
        }
    }
}

/// Only kernel 4, stride 2, padding 1 without output padding, groups or dilation
/// is a ×2 decoder layer.
#[test]
fn upsample2_only_its_geometry() {
    use crate::ConvTranspose2dParams;
    let make = |k: usize, stride: usize, pad: usize, out_pad: usize, groups: usize| {
        let p = ConvTranspose2dParams {
            stride: [stride, stride],
            padding: [pad, pad],
            output_padding: [out_pad, out_pad],
            groups,
            ..ConvTranspose2dParams::default()
        };
        let geo = Geometry::conv_transpose2d((1, 4, 6, 6), (4, 4 / groups, k, k), None, &p);
        upsample2::as_conv3x3(&geo.unwrap()).is_some()
    };
    assert!(make(4, 2, 1, 0, 1));
    assert!(!make(4, 2, 0, 0, 1));
    assert!(!make(4, 2, 1, 1, 1));
    assert!(!make(4, 2, 1, 0, 2));
    assert!(!make(3, 2, 1, 0, 1));
    assert!(!make(4, 1, 1, 0, 1));
}

/// Filters larger than the whole store are never said to fit, so the automatic
/// choice does not take F(4×4, 3×3) for them on the promise of keeping them; small
/// ones fit.
#[test]
fn kept_store_admits_only_what_fits() {
    use crate::WeightOwner;
    use std::sync::Arc;
    let w = Arc::new(vec![0.5f32; 9]);
    let owner: WeightOwner = w.clone();
    let at = |c: usize| Conv3x3 {
        batch: 1,
        channels: c,
        height: 20,
        width: 30,
        out_channels: c,
        pad: [1, 1],
        dilation: 1,
        tile: Tile::F4,
        interleaved: false,
    };
    // 8192² filters of 36 planes: 9.7 GB.
    assert!(!kept::holds_or_fits(&owner, &w, &at(8192)));
    assert!(kept::holds_or_fits(&owner, &w, &at(1)));
}
