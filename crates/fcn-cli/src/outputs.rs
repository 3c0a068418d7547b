//! Where `fcn segment` writes each image's results: one base path per input, below
//! `--out`, that no two inputs share and that never names an input file.
//!
//! An input's results are named by its stem (`x.jpg` → `OUT/x.png`). Inputs whose
//! stems clash keep their folder relative to the deepest folder holding every
//! input (`a/x.jpg`, `b/x.jpg` → `OUT/a/x.png`, `OUT/b/x.png`), and inputs of one
//! folder with the same stem keep their extension too (`x.jpg`, `x.png` →
//! `OUT/x.jpg.png`, `OUT/x.png.png`). Names are handled as the OS gives them,
//! whatever their encoding.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

/// For each file, the path its mask is written to (`BASE.png`); its overlay goes to
/// `BASE_overlay.png`. Fails, naming the files, if an output would replace an input.
pub fn plan(files: &[PathBuf], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let absolute: Vec<PathBuf> = files
        .iter()
        .map(|f| std::path::absolute(f).with_context(|| format!("{}", f.display())))
        .collect::<anyhow::Result<_>>()?;
    let root = common_folder(&absolute);
    let folders: Vec<PathBuf> = absolute.iter().map(|f| relative_folder(f, &root)).collect();
    let mut stems: HashMap<OsString, usize> = HashMap::new();
    let mut in_folder: HashMap<(PathBuf, OsString), usize> = HashMap::new();
    for (f, dir) in absolute.iter().zip(&folders) {
        *stems.entry(stem(f)).or_default() += 1;
        *in_folder.entry((dir.clone(), stem(f))).or_default() += 1;
    }
    let masks: Vec<PathBuf> = absolute
        .iter()
        .zip(&folders)
        .map(|(f, dir)| {
            let (dir, mut name) = match (stems[&stem(f)], in_folder[&(dir.clone(), stem(f))]) {
                (1, _) => (PathBuf::new(), stem(f)),
                (_, 1) => (dir.clone(), stem(f)),
                _ => (dir.clone(), file_name(f)),
            };
            name.push(".png");
            out.join(dir).join(name)
        })
        .collect();
    let mut seen = HashSet::new();
    let clashes: Vec<String> = masks
        .iter()
        .filter(|m| !seen.insert(*m))
        .map(|m| m.display().to_string())
        .collect();
    if !clashes.is_empty() {
        bail!(
            "two inputs would share an output ({}); rename one",
            clashes.join(", ")
        );
    }
    refuse_overwrites(files, &masks)?;
    Ok(masks)
}

/// The overlay written beside `mask`.
pub fn overlay_path(mask: &Path) -> PathBuf {
    let mut name = mask.file_stem().unwrap_or_default().to_owned();
    name.push("_overlay.png");
    mask.with_file_name(name)
}

/// Where `fcn segment --probs` writes the probabilities of the image whose mask is `mask`.
pub fn probs_path(mask: &Path) -> PathBuf {
    let mut name = mask.file_stem().unwrap_or_default().to_owned();
    name.push(".probs.npy");
    mask.with_file_name(name)
}

fn stem(f: &Path) -> OsString {
    f.file_stem().unwrap_or(f.as_os_str()).to_owned()
}

fn file_name(f: &Path) -> OsString {
    f.file_name().unwrap_or(f.as_os_str()).to_owned()
}

/// The deepest folder that holds every file.
fn common_folder(files: &[PathBuf]) -> PathBuf {
    let mut root: Option<PathBuf> = None;
    for f in files {
        let parent = f.parent().unwrap_or(Path::new("/"));
        root = Some(match root {
            None => parent.to_path_buf(),
            Some(r) => r
                .components()
                .zip(parent.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    root.unwrap_or_default()
}

/// `file`'s folder relative to `root`, keeping only ordinary names.
fn relative_folder(file: &Path, root: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new(""));
    parent
        .strip_prefix(root)
        .unwrap_or(Path::new(""))
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// Fails if a mask or overlay path is one of the inputs (`--out` being the input
/// folder, say), comparing the files themselves rather than their spellings.
fn refuse_overwrites(files: &[PathBuf], masks: &[PathBuf]) -> anyhow::Result<()> {
    let inputs: HashSet<PathBuf> = files.iter().filter_map(|f| f.canonicalize().ok()).collect();
    let mut clashes = Vec::new();
    for mask in masks {
        for out in [mask.clone(), overlay_path(mask), probs_path(mask)] {
            if out.canonicalize().is_ok_and(|c| inputs.contains(&c)) {
                clashes.push(out.display().to_string());
            }
        }
    }
    if !clashes.is_empty() {
        bail!(
            "--out would overwrite input images ({}); choose another output folder",
            clashes.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(files: &[&str]) -> Vec<String> {
        let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        plan(&files, Path::new("/out"))
            .unwrap()
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    #[test]
    fn flat_inputs_keep_their_stems() {
        assert_eq!(
            names(&["/d/a.jpg", "/d/b.png"]),
            ["/out/a.png", "/out/b.png"]
        );
    }

    #[test]
    fn same_stem_in_one_folder_keeps_the_extension() {
        assert_eq!(
            names(&["/d/x.jpg", "/d/x.png", "/d/y.jpg"]),
            ["/out/x.jpg.png", "/out/x.png.png", "/out/y.png"]
        );
    }

    #[test]
    fn same_name_in_two_folders_keeps_the_folders() {
        assert_eq!(
            names(&["/d/a/x.jpg", "/d/b/x.jpg", "/d/b/y.jpg"]),
            ["/out/a/x.png", "/out/b/x.png", "/out/y.png"]
        );
    }

    #[test]
    fn every_clash_resolved_at_once() {
        assert_eq!(
            names(&["/d/a/x.jpg", "/d/a/x.png", "/d/b/x.jpg"]),
            ["/out/a/x.jpg.png", "/out/a/x.png.png", "/out/b/x.png"]
        );
    }

    #[test]
    fn overlay_sits_beside_the_mask() {
        assert_eq!(
            overlay_path(Path::new("/out/x.jpg.png")),
            Path::new("/out/x.jpg_overlay.png")
        );
    }
}
