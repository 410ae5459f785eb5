//! The three PP-OCR models (detection, direction, recognition) loaded into
//! tract, checked against the digests committed in `idcard/models.sha256`.
//!
//! The ONNX files name some dimensions `?`, which tract's parser refuses, so
//! every symbolic dimension in the graph's inputs, outputs and value infos is
//! made unknown before tract reads the graph; each model then gets the input
//! shape the reader feeds it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tract_onnx::pb::tensor_shape_proto::dimension;
use tract_onnx::pb::type_proto;
use tract_onnx::pb::{ModelProto, ValueInfoProto};
use tract_onnx::prelude::*;

use crate::error::IdCardError;

/// `sha256sum` lines for the three files, as `scripts/ocr-models.sh` checks them.
const DIGESTS: &str = include_str!("../models.sha256");

/// File names in the wheel (and in the models directory).
pub const DET_FILE: &str = "ch_PP-OCRv4_det_infer.onnx";
/// The text-line recognition model's file name.
pub const REC_FILE: &str = "ch_PP-OCRv4_rec_infer.onnx";
/// The text-line direction model's file name.
pub const CLS_FILE: &str = "ch_ppocr_mobile_v2.0_cls_infer.onnx";

/// A model ready to run on inputs of one fixed shape.
pub(crate) type Plan = TypedRunnableModel<TypedModel>;

/// Widths (pixels at [`REC_HEIGHT`]) the recognizer is prepared for: a line
/// is padded to the next one. tract cannot leave the width open in this
/// model (a reshape's shape would depend on it), so each is a plan of its
/// own, prepared on first use.
pub(crate) const REC_WIDTHS: [usize; 10] = [128, 256, 384, 512, 640, 768, 896, 1024, 1152, 1280];

/// The recognizer: the parsed model, and a plan per width used so far.
pub(crate) struct Recognition {
    model: InferenceModel,
    plans: Mutex<BTreeMap<usize, Arc<Plan>>>,
}

impl Recognition {
    /// The plan for lines up to `width` pixels, and the width it takes.
    pub fn plan(&self, width: usize) -> Result<(Arc<Plan>, usize), IdCardError> {
        let bucket = REC_WIDTHS
            .iter()
            .copied()
            .find(|&w| w >= width)
            .unwrap_or(REC_WIDTHS[REC_WIDTHS.len() - 1]);
        // A poisoned lock only means another reading panicked; the plans are intact.
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = plans.get(&bucket) {
            return Ok((plan.clone(), bucket));
        }
        let plan = Arc::new(
            self.model
                .clone()
                .with_input_fact(0, f32::fact([1, 3, REC_HEIGHT, bucket]).into())
                .and_then(|m| m.into_optimized())
                .and_then(|m| m.into_runnable())
                .map_err(|e| IdCardError::model(REC_FILE, e))?,
        );
        plans.insert(bucket, plan.clone());
        Ok((plan, bucket))
    }
}

/// The three models, plus the recognizer's character list.
pub(crate) struct Models {
    pub det: Plan,
    /// Detection input size (width, height), multiples of 32.
    pub det_size: (usize, usize),
    pub rec: Recognition,
    pub cls: Plan,
    /// Index 0 is the CTC blank; the model's characters follow, then a space.
    pub charset: Vec<String>,
}

/// The raw bytes of the three ONNX files.
pub struct ModelBytes<'a> {
    /// `ch_PP-OCRv4_det_infer.onnx`.
    pub det: &'a [u8],
    /// `ch_PP-OCRv4_rec_infer.onnx`.
    pub rec: &'a [u8],
    /// `ch_ppocr_mobile_v2.0_cls_infer.onnx`.
    pub cls: &'a [u8],
}

/// Height of a text line fed to the recognizer (PP-OCRv4: 3×48×W).
pub(crate) const REC_HEIGHT: usize = 48;
/// The direction model's input: 3×48×192.
pub(crate) const CLS_SIZE: (usize, usize) = (192, 48);

impl Models {
    pub fn from_dir(dir: &Path, det_size: (usize, usize)) -> Result<Self, IdCardError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| IdCardError::ModelFile {
                path: path.display().to_string(),
                source,
            })
        };
        let (det, rec, cls) = (read(DET_FILE)?, read(REC_FILE)?, read(CLS_FILE)?);
        Self::from_bytes(
            ModelBytes {
                det: &det,
                rec: &rec,
                cls: &cls,
            },
            det_size,
        )
    }

    pub fn from_bytes(
        bytes: ModelBytes<'_>,
        det_size: (usize, usize),
    ) -> Result<Self, IdCardError> {
        verify(DET_FILE, bytes.det)?;
        verify(REC_FILE, bytes.rec)?;
        verify(CLS_FILE, bytes.cls)?;

        let det = fixed(DET_FILE, bytes.det, [1, 3, det_size.1, det_size.0])?;
        let cls = fixed(CLS_FILE, bytes.cls, [1, 3, CLS_SIZE.1, CLS_SIZE.0])?;
        let (rec, charset) = recognition(bytes.rec)?;
        Ok(Self {
            det,
            det_size,
            rec,
            cls,
            charset,
        })
    }
}

/// Checks `bytes` against the committed digest of `name`.
fn verify(name: &str, bytes: &[u8]) -> Result<(), IdCardError> {
    let expected = DIGESTS
        .lines()
        .find_map(|line| {
            let (digest, file) = line.split_once("  ")?;
            (file.trim() == name).then_some(digest)
        })
        .unwrap_or_default();
    let actual = hex::encode(Sha256::digest(bytes));
    if actual == expected {
        Ok(())
    } else {
        Err(IdCardError::ModelDigest {
            file: name.to_owned(),
            actual,
        })
    }
}

fn parse(name: &str, bytes: &[u8]) -> Result<ModelProto, IdCardError> {
    let mut proto = tract_onnx::onnx()
        .proto_model_for_read(&mut &*bytes)
        .map_err(|e| IdCardError::model(name, e))?;
    if let Some(graph) = proto.graph.as_mut() {
        for info in graph
            .input
            .iter_mut()
            .chain(graph.output.iter_mut())
            .chain(graph.value_info.iter_mut())
        {
            forget_symbolic_dims(info);
        }
    }
    Ok(proto)
}

/// Makes every named (symbolic) dimension of `info` unknown.
fn forget_symbolic_dims(info: &mut ValueInfoProto) {
    let Some(type_proto::Value::TensorType(tensor)) =
        info.r#type.as_mut().and_then(|t| t.value.as_mut())
    else {
        return;
    };
    for dim in tensor.shape.iter_mut().flat_map(|s| s.dim.iter_mut()) {
        if matches!(dim.value, Some(dimension::Value::DimParam(_))) {
            dim.value = None;
        }
    }
}

fn fixed(name: &str, bytes: &[u8], shape: [usize; 4]) -> Result<Plan, IdCardError> {
    let proto = parse(name, bytes)?;
    let build = || -> TractResult<Plan> {
        tract_onnx::onnx()
            .model_for_proto_model(&proto)?
            .with_input_fact(0, f32::fact(shape).into())?
            .into_optimized()?
            .into_runnable()
    };
    build().map_err(|e| IdCardError::model(name, e))
}

fn recognition(bytes: &[u8]) -> Result<(Recognition, Vec<String>), IdCardError> {
    let proto = parse(REC_FILE, bytes)?;
    let characters = proto
        .metadata_props
        .iter()
        .find(|entry| entry.key == "character")
        .map(|entry| entry.value.clone())
        .ok_or_else(|| IdCardError::Model {
            file: REC_FILE.to_owned(),
            detail: "the model's metadata has no `character` list".to_owned(),
        })?;
    let mut charset = vec![String::new()];
    charset.extend(characters.lines().map(str::to_owned));
    charset.push(" ".to_owned());

    let model = tract_onnx::onnx()
        .model_for_proto_model(&proto)
        .map_err(|e| IdCardError::model(REC_FILE, e))?;
    let recognition = Recognition {
        model,
        plans: Mutex::new(BTreeMap::new()),
    };
    Ok((recognition, charset))
}

/// Where `scripts/ocr-models.sh` puts the models: `$BEATBOOK_OCR_MODELS`,
/// else `$CARGO_TARGET_DIR/ocr-models` (at run time, then as built), else the
/// workspace's `target/ocr-models`.
pub fn default_models_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("BEATBOOK_OCR_MODELS") {
        return dir.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Path::new(&target).join("ocr-models");
    }
    if let Some(target) = option_env!("CARGO_TARGET_DIR") {
        return Path::new(target).join("ocr-models");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ocr-models")
}
