//! A local folder as object storage, for the CLI and the demo.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::{ObjectInfo, PresignedPut, StagedFile, Staging, StagingError};

pub struct LocalFolder {
    root: PathBuf,
}

impl LocalFolder {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file for `key`, refusing keys that would leave the folder.
    fn path(&self, key: &str) -> Result<PathBuf, StagingError> {
        let relative = Path::new(key);
        if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(StagingError::NotFound { key: key.to_owned() });
        }
        Ok(self.root.join(relative))
    }
}

impl Staging for LocalFolder {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<ObjectInfo, StagingError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &bytes)?;
        Ok(ObjectInfo { etag: None, version_id: None, size: bytes.len() as u64 })
    }

    async fn put_file(&self, key: &str, source: &Path) -> Result<ObjectInfo, StagingError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let size = std::fs::copy(source, &path)?;
        Ok(ObjectInfo { etag: None, version_id: None, size })
    }

    async fn fetch(&self, key: &str, declared_size: Option<u64>) -> Result<StagedFile, StagingError> {
        let path = self.path(key)?;
        let file = std::fs::File::open(&path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => StagingError::NotFound { key: key.to_owned() },
            _ => StagingError::Io(error),
        })?;
        let size = file.metadata()?.len();
        super::check_size(key, declared_size, size)?;
        Ok(StagedFile { file, info: ObjectInfo { etag: None, version_id: None, size }, pieces: 1, _temporary: None })
    }

    async fn presign_put(
        &self,
        _key: &str,
        _content_type: &str,
        _size: u64,
        _expires_in: Duration,
    ) -> Result<PresignedPut, StagingError> {
        Err(StagingError::Unsupported(
            "presigned uploads need a bucket: set COGS_BUCKET (and COGS_S3_ENDPOINT for a local S3 server)",
        ))
    }
}
