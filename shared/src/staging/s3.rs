//! S3 (or an S3-compatible server) as object storage.

use std::io::{Seek, Write};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::Utc;

use super::{ObjectInfo, PresignedPut, StagedFile, Staging, StagingError};

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

fn s3_error(error: impl std::error::Error) -> StagingError {
    // The SDK's Display is terse; the source chain says what happened.
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    StagingError::S3(message)
}

impl S3Store {
    /// A client from the standard AWS configuration (region, credentials), pointed at
    /// `endpoint` with path-style addressing when one is given.
    pub async fn from_env(bucket: String, endpoint: Option<String>) -> Self {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        Self { client: aws_sdk_s3::Client::from_conf(config.build()), bucket }
    }

    /// A store over a client built elsewhere (tests, other configurations).
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl Staging for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<ObjectInfo, StagingError> {
        let size = bytes.len() as u64;
        let output = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(s3_error)?;
        Ok(ObjectInfo { etag: output.e_tag, version_id: output.version_id, size })
    }

    async fn put_file(&self, key: &str, path: &std::path::Path) -> Result<ObjectInfo, StagingError> {
        let body = ByteStream::from_path(path).await.map_err(s3_error)?;
        let size = std::fs::metadata(path)?.len();
        let output = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv")
            .body(body)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(ObjectInfo { etag: output.e_tag, version_id: output.version_id, size })
    }

    async fn fetch(&self, key: &str, declared_size: Option<u64>) -> Result<StagedFile, StagingError> {
        let output = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|error| {
            if error.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                StagingError::NotFound { key: key.to_owned() }
            } else {
                s3_error(error)
            }
        })?;
        let info = ObjectInfo {
            etag: output.e_tag.clone(),
            version_id: output.version_id.clone(),
            size: output.content_length.unwrap_or_default().max(0) as u64,
        };
        super::check_size(key, declared_size, info.size)?;
        let (mut file, temporary) = tempfile::NamedTempFile::new()?.into_parts();
        let mut body = output.body;
        let (mut pieces, mut received) = (0, 0);
        while let Some(piece) = body.try_next().await.map_err(s3_error)? {
            received += piece.len() as u64;
            // A body longer than its announced length is refused as it grows.
            if let Some(declared) = declared_size
                && received > declared
            {
                return Err(StagingError::SizeMismatch { key: key.to_owned(), declared, actual: received });
            }
            file.write_all(&piece)?;
            pieces += 1;
        }
        super::check_size(key, declared_size, received)?;
        file.rewind()?;
        Ok(StagedFile { file, info, pieces, _temporary: Some(temporary) })
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, StagingError> {
        let presigning = PresigningConfig::expires_in(expires_in).map_err(s3_error)?;
        let length = i64::try_from(size).map_err(|_| StagingError::Unsupported("the declared size is too large"))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(presigning)
            .await
            .map_err(s3_error)?;
        let headers = request.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
        let expires_at = Utc::now() + chrono::Duration::from_std(expires_in).unwrap_or_default();
        Ok(PresignedPut { url: request.uri().to_owned(), method: "PUT", expires_at, headers })
    }
}
