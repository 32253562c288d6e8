//! Stage history for telling `broken` and `fixed` apart, kept by the plugin itself.
//!
//! Definitions, per pipeline stage (pipeline and stage names compared without regard to case,
//! as GoCD does):
//!
//! - Only completed runs that `Passed` or `Failed` are remembered. A cancelled run neither
//!   breaks nor fixes anything and is not remembered, so the run after it compares with the run
//!   before it.
//! - The previous run of a completed run is the remembered run that comes last before it in
//!   (pipeline counter, stage counter) order. So a re-run (stage counter 2 or more) compares
//!   with the earlier run of the same stage in the same pipeline run. The first run of a stage
//!   in a pipeline run compares with the latest run of an earlier pipeline run. Both hold even
//!   when notifications arrive out of order.
//! - `broken`: the run failed and its previous run passed. `fixed`: the run passed and its
//!   previous run failed. A stage with no previous run is neither.
//!
//! Each pipeline stage has one file `history/<pipeline>~<stage>.json`, replaced atomically,
//! holding up to [`RUNS_KEPT`] runs.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::write_atomically;

/// Runs remembered per pipeline stage. Only the run just before a new one matters, but a few
/// more keep late notifications of older pipeline runs comparable.
pub const RUNS_KEPT: usize = 20;

/// Completed run of a stage, as history remembers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub pipeline_counter: u64,
    pub stage_counter: u64,
    pub passed: bool,
}

/// Meaning of a completed run compared with the previous run of its stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Broken,
    Fixed,
    None,
}

#[derive(Default, Serialize, Deserialize)]
struct StageRecord {
    pipeline: String,
    stage: String,
    /// Sorted by (pipeline counter, stage counter).
    runs: Vec<RunOutcome>,
}

/// The remembered runs of every pipeline stage, loaded from and saved to disk.
pub struct History {
    dir: PathBuf,
    stages: HashMap<String, StageRecord>,
}

impl History {
    /// Loads every history file under `dir`. A file that cannot be read is logged and left out,
    /// so its stage starts without history.
    pub fn open(dir: &Path) -> io::Result<History> {
        fs::create_dir_all(dir)?;
        let mut stages = HashMap::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with(".tmp-") {
                fs::remove_file(&path)?;
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let parsed = fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<StageRecord>(&bytes).map_err(|e| e.to_string())
                });
            match parsed {
                Ok(record) => {
                    stages.insert(stage_key(&record.pipeline, &record.stage), record);
                }
                Err(error) => log::warn!(
                    "Ignoring unreadable stage history file {}: {error}. Broken/fixed for that stage restarts from its next completed run.",
                    path.display()
                ),
            }
        }
        Ok(History {
            dir: dir.to_path_buf(),
            stages,
        })
    }

    /// Returns what a completed run means, without remembering it.
    pub fn classify(&self, pipeline: &str, stage: &str, run: RunOutcome) -> Transition {
        let Some(record) = self.stages.get(&stage_key(pipeline, stage)) else {
            return Transition::None;
        };
        let order = (run.pipeline_counter, run.stage_counter);
        let previous = record
            .runs
            .iter()
            .rev()
            .find(|r| (r.pipeline_counter, r.stage_counter) < order);
        match previous {
            Some(previous) if previous.passed && !run.passed => Transition::Broken,
            Some(previous) if !previous.passed && run.passed => Transition::Fixed,
            _ => Transition::None,
        }
    }

    /// Remembers a completed run and saves its stage's file durably. Remembering the same run
    /// twice keeps the later outcome.
    pub fn record(&mut self, pipeline: &str, stage: &str, run: RunOutcome) -> io::Result<()> {
        let key = stage_key(pipeline, stage);
        let record = self
            .stages
            .entry(key.clone())
            .or_insert_with(|| StageRecord {
                pipeline: pipeline.to_string(),
                stage: stage.to_string(),
                runs: Vec::new(),
            });

        let order = (run.pipeline_counter, run.stage_counter);
        record
            .runs
            .retain(|r| (r.pipeline_counter, r.stage_counter) != order);
        let position = record
            .runs
            .partition_point(|r| (r.pipeline_counter, r.stage_counter) < order);
        record.runs.insert(position, run);
        if record.runs.len() > RUNS_KEPT {
            let excess = record.runs.len() - RUNS_KEPT;
            record.runs.drain(..excess);
        }

        let bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
        write_atomically(&self.dir, &file_name(&key), &bytes)
    }
}

fn stage_key(pipeline: &str, stage: &str) -> String {
    format!("{}~{}", pipeline.to_lowercase(), stage.to_lowercase())
}

/// GoCD names use letters, digits, `-`, `_` and `.`; anything else is percent-encoded so a
/// name can never leave the history folder.
fn file_name(key: &str) -> String {
    let mut name = String::new();
    for byte in key.bytes() {
        match byte {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => name.push(byte as char),
            b'.' if !name.is_empty() => name.push('.'),
            _ => name.push_str(&format!("%{byte:02X}")),
        }
    }
    name.push_str(".json");
    name
}
