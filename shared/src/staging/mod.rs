//! staging: object storage for large files behind one small trait, [`Staging`]: S3
//! through `aws-sdk-s3`, or a local folder (the default when no bucket is configured,
//! so the CLI and the demo need no S3). Depends on nothing else in the crate.

mod local;
mod s3;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use local::LocalFolder;

/// Refuses an object whose size is not the one its upload declared.
fn check_size(key: &str, declared: Option<u64>, actual: u64) -> Result<(), StagingError> {
    match declared {
        Some(declared) if declared != actual => {
            Err(StagingError::SizeMismatch { key: key.to_owned(), declared, actual })
        }
        _ => Ok(()),
    }
}
pub use s3::S3Store;

/// What the store says about an object: enough to tell one version of it from another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub size: u64,
}

/// An object made readable as a local file: the folder's own file, or a temporary copy
/// of an S3 object streamed to disk piece by piece (never whole in memory), removed
/// when this is dropped.
pub struct StagedFile {
    pub file: std::fs::File,
    pub info: ObjectInfo,
    /// How many pieces the object arrived in.
    pub pieces: u64,
    _temporary: Option<tempfile::TempPath>,
}

/// A URL the client PUTs the file to, and until when it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresignedPut {
    pub url: String,
    pub method: &'static str,
    pub expires_at: DateTime<Utc>,
    /// Headers the PUT must carry for the signature to hold.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("no staged object {key}")]
    NotFound { key: String },
    #[error("the staged object {key} is {actual} bytes, not the {declared} its upload declared")]
    SizeMismatch { key: String, declared: u64, actual: u64 },
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("staging storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("S3: {0}")]
    S3(String),
}

/// Object storage as the upload path uses it. Keys are `/`-separated.
pub trait Staging: Send + Sync {
    /// Stores `bytes` under `key`.
    fn put(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<ObjectInfo, StagingError>> + Send;
    /// Stores the file at `path` under `key`, streaming it.
    fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
    ) -> impl Future<Output = Result<ObjectInfo, StagingError>> + Send;
    /// Makes the object under `key` readable as a local file. With `declared_size`, an
    /// object of any other size is refused (`SizeMismatch`) before any of it is read.
    fn fetch(
        &self,
        key: &str,
        declared_size: Option<u64>,
    ) -> impl Future<Output = Result<StagedFile, StagingError>> + Send;
    /// A URL to PUT exactly `size` bytes under `key` with, valid for `expires_in`: the
    /// length is signed, so S3 refuses a PUT of any other size.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> impl Future<Output = Result<PresignedPut, StagingError>> + Send;
}

/// Where staged files are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagingConfig {
    /// An S3 bucket; `endpoint` names an S3-compatible server instead of AWS.
    S3 { bucket: String, endpoint: Option<String> },
    /// A local folder: development only.
    Local { dir: PathBuf },
}

/// The configured store: an S3 bucket, or a local folder.
pub enum Store {
    Local(LocalFolder),
    S3(S3Store),
}

impl Store {
    pub async fn from_config(config: &StagingConfig) -> Self {
        match config {
            StagingConfig::S3 { bucket, endpoint } => {
                Store::S3(S3Store::from_env(bucket.clone(), endpoint.clone()).await)
            }
            StagingConfig::Local { dir } => Store::Local(LocalFolder::new(dir.clone())),
        }
    }
}

impl Staging for Store {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<ObjectInfo, StagingError> {
        match self {
            Store::Local(store) => store.put(key, bytes).await,
            Store::S3(store) => store.put(key, bytes).await,
        }
    }

    async fn put_file(&self, key: &str, path: &std::path::Path) -> Result<ObjectInfo, StagingError> {
        match self {
            Store::Local(store) => store.put_file(key, path).await,
            Store::S3(store) => store.put_file(key, path).await,
        }
    }

    async fn fetch(&self, key: &str, declared_size: Option<u64>) -> Result<StagedFile, StagingError> {
        match self {
            Store::Local(store) => store.fetch(key, declared_size).await,
            Store::S3(store) => store.fetch(key, declared_size).await,
        }
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, StagingError> {
        match self {
            Store::Local(store) => store.presign_put(key, content_type, size, expires_in).await,
            Store::S3(store) => store.presign_put(key, content_type, size, expires_in).await,
        }
    }
}
